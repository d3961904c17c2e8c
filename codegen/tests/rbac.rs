//! RBAC from `+kubebuilder:rbac` markers: the manifest is valid RBAC, merged and sorted, `--check`
//! fails when a marker changes, and a bad marker is an error at its argument with nothing written.

mod common;

use std::fs;
use std::path::Path;

use codegen::generators::rbac::RbacConfig;
use common::{Fixture, foo};
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};

const SOURCES: &str = "//! A controller.\n\
    // +kubebuilder:rbac:groups=example.com,resources=foos,verbs=list;watch\n\
    fn reconcile() {\n    \
        // +kubebuilder:rbac:groups=example.com,resources=foos/status,verbs=update\n    \
        // +kubebuilder:rbac:groups=\"\",resources=configmaps,verbs=get;list;watch\n    \
        let s = \"+kubebuilder:rbac:groups=not,resources=a,verbs=comment\";\n\
    }\n";
const LEASES: &str = "/// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=ops\n\
    pub fn elect() {}\n";

fn config(dir: &Path, check: bool, f: &Fixture) -> codegen::Config {
    codegen::Config::new()
        .input(f.root())
        .rbac(RbacConfig {
            sources: dir.join("src"),
            output: dir.join("deploy/rbac.yaml"),
            name: "foo-controller".into(),
            namespace: "ops".into(),
        })
        .check(check)
}

fn setup() -> (Fixture, tempfile::TempDir) {
    let f = Fixture::new(&foo(""));
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("src/leader")).unwrap();
    fs::write(dir.path().join("src/lib.rs"), SOURCES).unwrap();
    fs::write(dir.path().join("src/leader/mod.rs"), LEASES).unwrap();
    (f, dir)
}

fn docs(text: &str) -> Vec<serde_json::Value> {
    serde_yaml::Deserializer::from_str(text).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect()
}

#[test]
fn markers_become_a_cluster_role_and_namespaced_roles() {
    let (f, dir) = setup();
    config(dir.path(), false, &f).run().unwrap_or_else(|e| panic!("{e}"));
    let text = fs::read_to_string(dir.path().join("deploy/rbac.yaml")).unwrap();
    assert!(text.starts_with(&format!("# {}\n", codegen::render::MARKER)), "{text}");
    let docs = docs(&text);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);
    let cr: ClusterRole = serde_json::from_value(docs[2].clone()).unwrap();
    let rules: Vec<(Vec<String>, Vec<String>, Vec<String>)> =
        cr.rules.unwrap().into_iter().map(|r| (r.api_groups.unwrap(), r.resources.unwrap(), r.verbs)).collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        rules,
        [
            (s(&[""]), s(&["configmaps"]), s(&["get", "list", "watch"])),
            (s(&["example.com"]), s(&["foos"]), s(&["list", "watch"])),
            (s(&["example.com"]), s(&["foos/status"]), s(&["update"])),
        ],
        "the string literal mentioning the marker is not a marker"
    );
    let role: Role = serde_json::from_value(docs[4].clone()).unwrap();
    assert_eq!(role.metadata.namespace.as_deref(), Some("ops"));
    assert_eq!(role.rules.unwrap()[0].verbs, s(&["create", "get", "update"]));
    assert_eq!(docs[5]["subjects"][0]["name"], "foo-controller");
}

#[test]
fn check_fails_when_a_marker_changes() {
    let (f, dir) = setup();
    config(dir.path(), false, &f).run().unwrap();
    assert!(config(dir.path(), true, &f).run().unwrap().is_fresh());
    let lib = dir.path().join("src/lib.rs");
    fs::write(&lib, SOURCES.replace("verbs=update", "verbs=update;patch")).unwrap();
    let report = config(dir.path(), true, &f).run().unwrap();
    assert!(!report.is_fresh());
    let failure = report.check_failure();
    assert!(failure.contains("rbac.yaml") && failure.contains("+  - patch"), "{failure}");
}

#[test]
fn a_bad_marker_is_an_error_at_its_argument_and_nothing_is_written() {
    let (f, dir) = setup();
    config(dir.path(), false, &f).run().unwrap();
    let before = fs::read_to_string(dir.path().join("deploy/rbac.yaml")).unwrap();
    let lib = dir.path().join("src/lib.rs");
    fs::write(&lib, SOURCES.replace("verbs=get;list;watch", "verbs=get;lsit;watch")).unwrap();
    let err = config(dir.path(), false, &f).run().unwrap_err();
    let codegen::Error::Diagnostics(d) = &err else { panic!("{err}") };
    assert_eq!(d.len(), 1, "{err}");
    assert_eq!(d[0].message, "unknown verb `lsit`");
    assert_eq!(d[0].hint.as_deref(), Some("did you mean `list`?"));
    let line = SOURCES.lines().position(|l| l.contains("configmaps")).unwrap() + 1;
    let col = SOURCES.lines().nth(line - 1).unwrap().find("verbs=").unwrap() + 1;
    assert_eq!((d[0].loc.file.as_ref(), d[0].loc.line, d[0].loc.col), (lib.as_path(), line, col));
    assert_eq!(fs::read_to_string(dir.path().join("deploy/rbac.yaml")).unwrap(), before);
}

#[test]
fn no_markers_is_an_error() {
    let (f, dir) = setup();
    fs::write(dir.path().join("src/lib.rs"), "fn main() {}\n").unwrap();
    fs::write(dir.path().join("src/leader/mod.rs"), "\n").unwrap();
    let err = config(dir.path(), false, &f).run().unwrap_err().to_string();
    assert!(err.contains("no `+kubebuilder:rbac:` markers found"), "{err}");
    assert!(!dir.path().join("deploy").exists());
}
