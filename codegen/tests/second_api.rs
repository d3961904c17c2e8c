//! The generator on an API crate other than this workspace's: a temporary crate with two groups,
//! two versions of one kind, a cluster-scoped readonly kind and a namespaced `noStatus` kind.
//! It is generated through the `codegen` binary, then built and tested with cargo, so the
//! in-package code is proven to compile and work, not just to look right.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

const META: &str = "use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};\nuse serde::{Deserialize, Serialize};\n";

fn widget(version_doc: &str, storage: bool) -> String {
    format!(
        "{META}\n/// A widget ({version_doc}).\n///\n/// +genclient\n/// +genclient:noStatus\n/// +genclient:skipVerbs=deleteCollection\n{}\
         #[derive(Debug, Default, PartialEq)]\npub struct Widget {{\n    pub metadata: ObjectMeta,\n    pub spec: WidgetSpec,\n}}\n\n\
         /// What a widget should be.\n#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]\n#[serde(rename_all = \"camelCase\")]\n\
         pub struct WidgetSpec {{\n    /// Its colour.\n    /// +kubebuilder:validation:Enum=red;green\n    pub colour: String,\n    /// How many.\n    /// +optional\n    #[serde(default)]\n    pub size_hint: u32,\n}}\n\n\
         /// Widgets.\n#[derive(Debug, Default)]\npub struct WidgetList {{\n    pub metadata: ListMeta,\n    pub items: Vec<Widget>,\n}}\n",
        if storage {
            "/// +kubebuilder:storageversion\n/// +genclient:method=GetScale,verb=get,subresource=scale,result=k8s_openapi::api::autoscaling::v1::Scale\n"
        } else {
            ""
        }
    )
}

const REGION: &str = "\n/// A region of the world; read-only for clients.\n///\n/// +genclient\n/// +genclient:nonNamespaced\n/// +genclient:readonly\n\
    #[derive(Debug, Default, PartialEq)]\npub struct Region {\n    pub metadata: ObjectMeta,\n    pub spec: RegionSpec,\n    pub status: Option<RegionStatus>,\n}\n\n\
    /// Region settings.\n#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]\npub struct RegionSpec {\n    /// Zones in it.\n    pub zones: Vec<String>,\n}\n\n\
    /// Region status.\n#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]\npub struct RegionStatus {\n    /// Healthy or not.\n    pub healthy: bool,\n}\n\n\
    /// Regions.\n#[derive(Debug, Default)]\npub struct RegionList {\n    pub metadata: ListMeta,\n    pub items: Vec<Region>,\n}\n";

/// A kind with a status subresource, for server-side apply of spec and status by separate
/// field managers.
const GADGET: &str = "\n/// A gadget; its status is written through the status subresource.\n///\n/// +genclient\n/// +kubebuilder:subresource:status\n\
    #[derive(Debug, Default, PartialEq)]\npub struct Gadget {\n    pub metadata: ObjectMeta,\n    pub spec: GadgetSpec,\n    pub status: Option<GadgetStatus>,\n}\n\n\
    /// What a gadget should be.\n#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]\n#[serde(rename_all = \"camelCase\")]\n\
    pub struct GadgetSpec {\n    /// Its model.\n    /// +optional\n    #[serde(default)]\n    pub model: String,\n    /// How many.\n    /// +optional\n    #[serde(default)]\n    pub count: u32,\n    /// Free-form tags.\n    /// +optional\n    #[serde(default)]\n    pub tags: Vec<String>,\n}\n\n\
    /// What a gadget is.\n#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]\n#[serde(rename_all = \"camelCase\")]\n\
    pub struct GadgetStatus {\n    /// Its phase.\n    /// +optional\n    #[serde(default)]\n    pub phase: String,\n    /// How many are seen.\n    /// +optional\n    #[serde(default)]\n    pub observed: u32,\n}\n\n\
    /// Gadgets.\n#[derive(Debug, Default)]\npub struct GadgetList {\n    pub metadata: ListMeta,\n    pub items: Vec<Gadget>,\n}\n";

fn version_mod(group: &str, v: &str) -> String {
    format!(
        "//! {v}.\n//!\n//! +k8s:deepcopy-gen=package\n\nmod types;\npub use types::*;\ninclude!(concat!(env!(\"OUT_DIR\"), \"/codegen/{group}/{v}.rs\"));\n"
    )
}

const CHECKS: &str = r#"
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};
use otherapis::{batch, stable};

fn cluster<K: Resource<Scope = ClusterResourceScope>>() {}
fn namespaced<K: Resource<Scope = NamespaceResourceScope>>() {}

#[test]
fn resources() {
    cluster::<stable::v1::Region>();
    namespaced::<stable::v1::Widget>();
    namespaced::<stable::v1beta1::Widget>();
    namespaced::<batch::v1alpha1::Widget>();
    assert_eq!(stable::v1::Region::URL_PATH_SEGMENT, "regions");
    assert_eq!(stable::v1beta1::Widget::API_VERSION, "stable.example.org/v1beta1");
    assert_eq!(<stable::v1::Widget as k8s_openapi::ListableResource>::LIST_KIND, "WidgetList");
    assert_eq!(batch::v1alpha1::API_VERSION, "batch.example.net/v1alpha1");
}

#[test]
fn serde_and_deep_copy() {
    let mut w = stable::v1::Widget::default();
    w.metadata.name = Some("w".into());
    w.spec.colour = "red".into();
    let json = serde_json::to_value(&w).unwrap();
    assert_eq!(json["apiVersion"], "stable.example.org/v1");
    assert_eq!(json["kind"], "Widget");
    assert_eq!(json["spec"]["sizeHint"], 0);
    let back: stable::v1::Widget = serde_json::from_value(json).unwrap();
    assert_eq!(back, w);
    let mut copy = stable::v1::Widget::default();
    copy.clone_from(&w);
    assert_eq!(copy, w.clone());
    let wrong = serde_json::json!({"apiVersion": "stable.example.org/v1", "kind": "Region", "metadata": {}, "spec": {"colour": "red"}});
    assert!(serde_json::from_value::<stable::v1::Widget>(wrong).is_err());
    let r = stable::v1::Region::default();
    let json = serde_json::to_value(&r).unwrap();
    assert!(json.get("status").is_none(), "an absent Option is left out: {json}");
}
"#;

/// Writes the crate; returns its root.
fn make_crate(root: &Path) {
    let codegen = workspace().join("codegen");
    write(
        root,
        "Cargo.toml",
        &format!(
            "[package]\nname = \"otherapis\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\nk8s-openapi = {{ version = \"0.29.0\", default-features = false, features = [\"latest\"] }}\n\
             serde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n\n\
             [build-dependencies]\ncodegen = {{ path = {:?} }}\n",
            codegen.display().to_string()
        ),
    );
    let top = root.parent().unwrap();
    fs::copy(workspace().join("Cargo.lock"), top.join("Cargo.lock")).unwrap();
    write(top, "Cargo.toml", "[workspace]\nresolver = \"3\"\nmembers = [\"otherapis\"]\n");
    write(root, "build.rs", "fn main() {\n    codegen::build_script();\n}\n");
    write(root, "src/lib.rs", "//! Another API crate.\npub mod batch;\npub mod stable;\n");
    write(root, "src/stable/mod.rs", "//! +groupName=stable.example.org\npub mod v1;\npub mod v1beta1;\n");
    write(root, "src/stable/v1/mod.rs", &version_mod("stable", "v1"));
    write(root, "src/stable/v1/types.rs", &(widget("v1", true) + REGION));
    write(root, "src/stable/v1beta1/mod.rs", &version_mod("stable", "v1beta1"));
    write(root, "src/stable/v1beta1/types.rs", &widget("v1beta1", false));
    write(
        root,
        "src/batch/mod.rs",
        "//! +groupName=batch.example.net\n//! +groupGoName=ExampleBatch\npub mod v1alpha1;\n",
    );
    write(root, "src/batch/v1alpha1/mod.rs", &version_mod("batch", "v1alpha1"));
    write(root, "src/batch/v1alpha1/types.rs", &(widget("batch", false) + GADGET));
    write(root, "tests/checks.rs", CHECKS);
}

fn codegen_cmd(input: &Path, crd: &Path, check: bool) -> std::process::Output {
    codegen_full(input, crd, None, check)
}

fn codegen_full(input: &Path, crd: &Path, output: Option<&Path>, check: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codegen"));
    cmd.arg("--input").arg(input).arg("--crd-dir").arg(crd);
    if let Some(o) = output {
        cmd.arg("--output").arg(o);
    }
    if check {
        cmd.arg("--check");
    }
    cmd.output().unwrap()
}

fn crd(path: &Path) -> CustomResourceDefinition {
    serde_yaml::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn second_api_crate_generates_builds_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("otherapis");
    make_crate(&root);
    let crds = root.join("crds");

    let out = codegen_cmd(&root, &crds, false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "codegen failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("2 group(s)"), "{stdout}");
    assert!(stdout.contains("5 kind(s)"), "{stdout}");
    // Four CRDs and the folder's manifest.
    assert!(stdout.contains("files: 5 written, 0 unchanged, 0 removed"), "{stdout}");

    let regions = crd(&crds.join("stable.example.org_regions.yaml"));
    assert_eq!(regions.spec.scope, "Cluster");
    assert_eq!(regions.spec.versions.len(), 1);
    assert!(regions.spec.versions[0].subresources.is_none());
    let widgets = crd(&crds.join("stable.example.org_widgets.yaml"));
    assert_eq!(widgets.spec.scope, "Namespaced");
    let versions: Vec<(&str, bool)> = widgets.spec.versions.iter().map(|v| (v.name.as_str(), v.storage)).collect();
    assert_eq!(versions, [("v1", true), ("v1beta1", false)]);
    let spec = &widgets.spec.versions[0]
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap()
        .properties
        .as_ref()
        .unwrap()["spec"];
    let props = spec.properties.as_ref().unwrap();
    assert_eq!(props["colour"].enum_.as_ref().unwrap().len(), 2);
    assert_eq!(props["sizeHint"].minimum, Some(0.0));
    assert_eq!(spec.required.as_deref(), Some(&["colour".to_string()][..]));
    let batch = crd(&crds.join("batch.example.net_widgets.yaml"));
    assert_eq!(batch.spec.group, "batch.example.net");
    let gadgets = crd(&crds.join("batch.example.net_gadgets.yaml"));
    let sub = gadgets.spec.versions[0].subresources.as_ref().expect("subresources");
    assert!(sub.status.is_some() && sub.scale.is_none());

    // Fresh output passes --check; a doc-comment edit makes it fail, naming the stale file.
    let out = codegen_cmd(&root, &crds, true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let types = root.join("src/stable/v1/types.rs");
    let text = fs::read_to_string(&types).unwrap().replace("/// Its colour.", "/// Its colour, as a word.");
    fs::write(&types, text).unwrap();
    let out = codegen_cmd(&root, &crds, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("stable.example.org_widgets.yaml"), "{stderr}");
    assert!(stderr.contains("+                description: Its colour, as a word."), "{stderr}");
    assert!(stderr.contains("run `codegen --input"), "{stderr}");
    let named = stderr.lines().find(|l| l.starts_with("generated files are out of date:")).unwrap();
    assert!(!named.contains("regions.yaml"), "only the stale files are named: {named}");
    assert!(named.contains(codegen::manifest::FILE), "the manifest records the new content: {named}");
    // A generated file that no kind produces any more (Region renamed to `zones`) is reported by
    // --check and removed on write; files the generator did not write stay, marker or not.
    fs::write(crds.join("stable.example.org_gadgets.yaml"), format!("# {}\n", codegen::render::MARKER)).unwrap();
    fs::write(crds.join("hand-written.yaml"), "kind: ConfigMap\n").unwrap();
    let region = root.join("src/stable/v1/types.rs");
    let original = fs::read_to_string(&region).unwrap();
    fs::write(
        &region,
        original.replace("/// +genclient:nonNamespaced\n", "/// +genclient:nonNamespaced\n/// +resourceName=zones\n"),
    )
    .unwrap();
    let out = codegen_cmd(&root, &crds, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("-kind: CustomResourceDefinition"), "{stderr}");
    let out = codegen_cmd(&root, &crds, false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Written: the zones CRD, the widgets CRD (doc edit above) and the manifest; unchanged: the
    // batch widgets and gadgets CRDs; removed: regions.
    assert!(stdout.contains("files: 3 written, 2 unchanged, 1 removed"), "{stdout}");
    assert!(!crds.join("stable.example.org_regions.yaml").exists());
    fs::write(&region, original).unwrap();
    let out = codegen_cmd(&root, &crds, false);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 removed"));
    assert!(!crds.join("stable.example.org_zones.yaml").exists());
    assert!(
        crds.join("stable.example.org_gadgets.yaml").exists(),
        "a file with the marker that we did not write stays"
    );
    fs::remove_file(crds.join("stable.example.org_gadgets.yaml")).unwrap(); // not a CRD: the devserver test installs them all
    assert!(crds.join("hand-written.yaml").exists(), "files the generator did not write are never removed");

    // The apis crate builds (its build script runs the same generator) and its own tests pass.
    let all = cargo(dir.path(), &["test", "--offline", "--quiet", "-p", "otherapis"])
        .expect("the apis crate builds and its tests pass");
    assert!(all.contains("2 passed"), "{all}");

    // The generated crate: created from scratch (Cargo.toml included), built, and used against
    // the devserver through its clientset, listers and informers.
    let gen_dir = dir.path().join("othergen");
    // A hand-written expansion file (client-gen's `<kind>_expansion.go`) is kept and compiled in.
    write(
        &gen_dir,
        "src/clientset/stable/v1/widget_expansion.rs",
        "impl super::WidgetClient {\n    /// A hand-written method.\n    pub fn greeting(&self) -> &'static str {\n        \"hello\"\n    }\n}\n",
    );
    let out = codegen_full(&root, &crds, Some(&gen_dir), false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest = fs::read_to_string(gen_dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("otherapis = { path = \"../otherapis\" }"), "{manifest}");
    let groups: Vec<String> = fs::read_dir(gen_dir.join("src/clientset"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(groups.contains(&"stable".to_string()) && groups.contains(&"example_batch".to_string()), "{groups:?}");
    write(dir.path(), "Cargo.toml", "[workspace]\nresolver = \"3\"\nmembers = [\"otherapis\", \"othergen\"]\n");
    let testenv = workspace().join("testenv");
    fs::write(
        gen_dir.join("Cargo.toml"),
        format!("{manifest}\n[dev-dependencies]\ntestenv = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"full\"] }}\nserde_yaml = \"0.9\"\nk8s-openapi = {{ version = \"0.29.0\", default-features = false, features = [\"latest\"] }}\n", testenv.display().to_string()),
    )
    .unwrap();

    // Verbs the tags remove do not exist: each of these is a compile error.
    for (call, method) in [
        ("cs.stable_v1().regions().create(&Default::default(), &Default::default())", "create"),
        (
            "cs.stable_v1().widgets(\"default\").update_status(&Default::default(), &Default::default())",
            "update_status",
        ),
        (
            "cs.stable_v1().widgets(\"default\").delete_collection(&Default::default(), &Default::default())",
            "delete_collection",
        ),
        ("cs.stable_v1().widgets(\"default\").apply_status(&Default::default(), \"m\", false)", "apply_status"),
    ] {
        write(
            &gen_dir,
            "tests/removed.rs",
            &format!("#[allow(unused)]\nasync fn f(cs: othergen::Clientset) {{ let _ = {call}.await; }}\n"),
        );
        let err = cargo(dir.path(), &["test", "--offline", "--no-run", "-p", "othergen", "--test", "removed"])
            .expect_err("a removed verb compiled");
        assert!(err.contains(&format!("no method named `{method}`")), "{err}");
    }
    fs::remove_file(gen_dir.join("tests/removed.rs")).unwrap();
    write(&gen_dir, "tests/use.rs", USE_GENERATED);
    let all = cargo(dir.path(), &["test", "--offline", "--quiet", "-p", "othergen"])
        .expect("the generated crate builds and works");
    assert!(all.contains("2 passed"), "{all}");
}

/// Runs cargo in `dir` with a target directory shared across runs; Ok(output) on success.
fn cargo(dir: &Path, args: &[&str]) -> Result<String, String> {
    let target = workspace().join("target/second-api");
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(all) } else { Err(all) }
}

const USE_GENERATED: &str = r#"
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{GetParams, ListParams, PostParams};
use otherapis::stable::v1::{Region, Widget};
use othergen::applyconfigurations::example_batch::v1alpha1::{
    GadgetSpecApplyConfiguration as Spec, GadgetStatusApplyConfiguration as Status, extract_gadget,
    extract_gadget_status, gadget,
};
use othergen::{Clientset, SharedInformerFactory};
use testenv::TestEnv;

/// The devserver, or the real server of `$KUBE_TEST_KUBECONFIG`, with this API's CRDs.
async fn env() -> TestEnv {
    let env = TestEnv::start().await;
    for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../otherapis/crds")).unwrap() {
        let path = e.unwrap().path();
        if !path.to_string_lossy().contains(".example.") {
            continue; // the hand-written file the stale-file check left behind
        }
        let crd: CustomResourceDefinition = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        env.install_crd(&crd).await;
    }
    env
}

#[tokio::test]
async fn clientset_listers_and_informers() {
    let env = env().await;
    let ns = env.namespace().to_string();
    let cs = Clientset::new(env.client());
    let mut w = Widget::default();
    w.metadata.name = Some("w".into());
    w.spec.colour = "red".into();
    cs.stable_v1().widgets(&ns).create(&w, &PostParams::default()).await.unwrap();
    assert_eq!(cs.stable_v1().widgets(&ns).greeting(), "hello");
    // The CRD has no scale subresource, so the +genclient:method extension gets the server's 404.
    let err = cs.stable_v1().widgets(&ns).get_scale("w").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 404), "{err}");
    let mut b = otherapis::batch::v1alpha1::Widget::default();
    b.metadata.name = Some("b".into());
    b.spec.colour = "green".into();
    let b = cs.example_batch_v1alpha1().widgets(&ns).create(&b, &PostParams::default()).await.unwrap();
    assert_eq!(b.metadata.generation, Some(1));
    // Regions are read-only for the clientset; create one with kube directly. Cluster-scoped
    // names outlive a test on a real server: this one carries the test's namespace.
    let eu = format!("eu-{ns}");
    let mut r = Region::default();
    r.metadata.name = Some(eu.clone());
    kube::Api::<Region>::all(env.client()).create(&PostParams::default(), &r).await.unwrap();
    let regions_now = cs.stable_v1().regions().list(&ListParams::default()).await.unwrap().items;
    assert!(regions_now.iter().any(|r| r.metadata.name.as_deref() == Some(eu.as_str())));

    let factory = SharedInformerFactory::new(&cs, None);
    let widgets = factory.stable().v1().widgets();
    let regions = factory.stable().v1().regions();
    factory.start();
    let synced = factory.wait_for_cache_sync(Duration::from_secs(10)).await;
    assert!(synced.values().all(|s| *s), "{synced:?}");
    assert_eq!(widgets.lister().widgets(&ns).get("w").unwrap().spec.colour, "red");
    assert!(regions.lister().get(&eu).is_ok());
    assert!(regions.lister().get(&format!("us-{ns}")).is_err());
    factory.shutdown().await;
    kube::Api::<Region>::all(env.client()).delete(&eu, &Default::default()).await.unwrap();
    env.shutdown().await;
}

#[tokio::test]
async fn apply_configurations_with_two_field_managers() {
    let env = env().await;
    let ns = env.namespace().to_string();
    let cs = Clientset::new(env.client());
    let gadgets = cs.example_batch_v1alpha1().gadgets(&ns);

    // Two managers, two fields: each owns only what it sent.
    let modeller = gadget("g", &ns).with_spec(Spec::default().with_model("m1".into()));
    gadgets.apply(&modeller, "modeller", false).await.expect("the modeller applies model");
    let counter = gadget("g", &ns).with_spec(Spec::default().with_count(3));
    let g = gadgets.apply(&counter, "counter", false).await.expect("the counter applies count");
    assert_eq!((g.spec.model.as_str(), g.spec.count), ("m1", 3), "both fields kept");
    assert_eq!(extract_gadget(&g, "modeller").expect("extract"), modeller);
    assert_eq!(extract_gadget(&g, "counter").expect("extract"), counter);
    assert_eq!(extract_gadget(&g, "nobody").expect("extract"), gadget("g", &ns));

    // Status: the subresource's managers are separate from the main resource's.
    let phase = gadget("g", &ns).with_status(Status::default().with_phase("Running".into()));
    gadgets.apply_status(&phase, "phaser", false).await.expect("status apply");
    let seen = gadget("g", &ns).with_status(Status::default().with_observed(2));
    let g = gadgets.apply_status(&seen, "observer", false).await.expect("status apply");
    let status = g.status.as_ref().expect("status");
    assert_eq!((status.phase.as_str(), status.observed), ("Running", 2));
    assert_eq!(extract_gadget_status(&g, "phaser").expect("extract"), phase);
    assert_eq!(extract_gadget_status(&g, "observer").expect("extract"), seen);
    assert_eq!(extract_gadget(&g, "phaser").expect("extract"), gadget("g", &ns), "no main-resource fields");
    assert_eq!(extract_gadget_status(&g, "modeller").expect("extract"), gadget("g", &ns));

    // Changing the other manager's field: a 409 that names the conflict, nothing written; then
    // forced, the field changes hands.
    let grab = gadget("g", &ns).with_spec(Spec::default().with_model("m1".into()).with_count(9));
    let err = gadgets.apply(&grab, "modeller", false).await.expect_err("a conflict");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict" && s.message.contains(".spec.count")),
        "{err}"
    );
    assert_eq!(gadgets.get("g", &GetParams::default()).await.unwrap().spec.count, 3, "nothing changed");
    let g = gadgets.apply(&grab, "modeller", true).await.expect("forced");
    assert_eq!(g.spec.count, 9);
    assert_eq!(extract_gadget(&g, "modeller").expect("extract"), grab);
    assert_eq!(extract_gadget(&g, "counter").expect("extract"), gadget("g", &ns), "the counter lost count");

    // Extract, change, apply again: the manager's other fields stay its own, untouched.
    let again = extract_gadget(&g, "modeller").expect("extract").with_spec(Spec::default().with_model("m2".into()).with_count(9));
    let g = gadgets.apply(&again, "modeller", false).await.expect("re-apply");
    assert_eq!((g.spec.model.as_str(), g.spec.count), ("m2", 9));
    // Dropping a field from a manager's configuration removes it from the object.
    let fewer = gadget("g", &ns).with_spec(Spec::default().with_model("m2".into()));
    let g = gadgets.apply(&fewer, "modeller", false).await.expect("apply fewer fields");
    assert_eq!(g.spec.count, 0, "count is no longer owned by anyone, so it is removed");
    env.shutdown().await;
}
"#;

#[test]
fn workspace_check_detects_a_doc_edit() {
    // A copy of this workspace's apis crate and CRDs: --check passes, and fails after a doc edit.
    let dir = tempfile::tempdir().unwrap();
    let apis = dir.path().join("apis");
    let crds = dir.path().join("crd");
    copy_dir(&workspace().join("apis"), &apis);
    copy_dir(&workspace().join("deploy/crd"), &crds);
    let out = codegen_cmd(&apis, &crds, true);
    assert!(
        out.status.success(),
        "deploy/crd is stale; run `cargo xtask codegen`:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let types = apis.join("src/bitcoincontroller/v1/types.rs");
    let text = fs::read_to_string(&types).unwrap();
    let edited = text.replacen("/// The desired state of the network.", "/// What the network should look like.", 1);
    assert_ne!(text, edited, "the fixture's doc comment moved");
    fs::write(&types, edited).unwrap();
    let out = codegen_cmd(&apis, &crds, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("bitcoincontroller.christianb93.github.com_bitcoinnetworks.yaml"), "{stderr}");
    assert!(stderr.contains("generated files are out of date"), "{stderr}");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
