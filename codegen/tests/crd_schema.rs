//! CRD schemas from Rust types: every supported field type, serde attribute and marker, checked
//! on the generated YAML after it round-trips through k8s-openapi's CRD type.

mod common;

use std::fs;

use common::{Fixture, foo};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{CustomResourceDefinition, JSONSchemaProps};
use serde_json::{Value, json};

const SPEC: &str = r#"
/// Everything a spec can hold.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FooSpec {
    /// Replicas.
    /// +kubebuilder:validation:Minimum=1
    /// +kubebuilder:default=1
    pub replicas: i32,
    /// Big number.
    pub big_count: i64,
    /// Unsigned.
    pub port: u16,
    /// Ratio.
    pub ratio: f64,
    /// Flag.
    pub enabled: bool,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Anything.
    /// +optional
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
    /// Mode.
    pub mode: Mode,
    /// Renamed.
    #[serde(rename = "x-name")]
    pub renamed: String,
    /// Not in JSON.
    #[serde(skip)]
    pub internal: String,
    /// Flattened.
    #[serde(flatten)]
    pub common: Common,
    /// CPU.
    pub cpu: Option<Quantity>,
    /// Port or name.
    pub target: IntOrString,
    /// When.
    pub since: Option<Time>,
    /// Items.
    /// +kubebuilder:validation:MinItems=1
    /// +kubebuilder:validation:items:MaxLength=5
    pub items: Vec<String>,
    /// Raw bytes.
    #[serde(default)]
    pub blob: Vec<u8>,
    /// Nested list of objects.
    /// +listType=map
    /// +listMapKey=name
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Maybe null.
    /// +nullable
    /// +optional
    pub note: Option<String>,
    /// Must be positive and even.
    /// +kubebuilder:validation:XValidation:rule="self % 2 == 0",message="must be even"
    #[serde(default)]
    pub even: i32,
    /// Required despite the default.
    /// +required
    #[serde(default)]
    pub must: String,
}

/// How it runs.
#[derive(Debug, Default, Serialize, Deserialize)]
pub enum Mode {
    /// Fast.
    #[default]
    Fast,
    /// Slow.
    #[serde(rename = "slow")]
    Slow,
}

/// Shared fields.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Common {
    /// Owner.
    pub owner_name: String,
}

/// A port.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Port {
    /// Its name.
    pub name: String,
    /// Its number.
    /// +kubebuilder:validation:Maximum=65535
    pub number: i32,
}
"#;

fn crd(f: &Fixture) -> (CustomResourceDefinition, Value) {
    let out = tempfile::tempdir().unwrap();
    codegen::Config::new().input(f.root()).crd_dir(out.path()).run().unwrap_or_else(|e| panic!("{e}"));
    let text = fs::read_to_string(out.path().join("example.com_foos.yaml")).unwrap();
    let crd: CustomResourceDefinition = serde_yaml::from_str(&text).unwrap();
    let value: Value = serde_yaml::from_str(&text).unwrap();
    (crd, value)
}

fn spec_of(v: &Value) -> &Value {
    &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
}

#[test]
fn every_supported_type_and_attribute() {
    let src = foo("")
        .replace(
            "/// Spec.\n#[derive(Debug, Default, Serialize, Deserialize)]\npub struct FooSpec {\n    /// Replicas.\n    pub replicas: i32,\n}\n",
            SPEC,
        )
        .replace(
            "use serde::{Deserialize, Serialize};",
            "use serde::{Deserialize, Serialize};\nuse std::collections::BTreeMap;\nuse k8s_openapi::apimachinery::pkg::api::resource::Quantity;\nuse k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;\nuse k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;",
        );
    assert!(src.contains("big_count"), "fixture replacement failed");
    let f = Fixture::new(&src);
    let (typed, v) = crd(&f);
    let spec = spec_of(&v);
    let p = &spec["properties"];
    assert_eq!(
        p["replicas"],
        json!({"type": "integer", "format": "int32", "minimum": 1, "default": 1, "description": "Replicas."})
    );
    assert_eq!(p["bigCount"]["format"], "int64");
    assert_eq!((p["port"]["format"].as_str(), p["port"]["minimum"].as_i64()), (Some("int32"), Some(0)));
    assert_eq!(p["ratio"]["type"], "number");
    assert_eq!(p["enabled"]["type"], "boolean");
    assert_eq!(p["labels"]["additionalProperties"]["type"], "string");
    assert_eq!(p["extra"]["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(p["mode"]["enum"], json!(["Fast", "slow"]));
    assert_eq!(p["mode"]["description"], "Mode.");
    assert!(p.get("renamed").is_none() && p["x-name"]["type"] == "string");
    assert!(p.get("internal").is_none(), "skipped fields are not in the schema");
    assert_eq!(p["ownerName"]["type"], "string", "flattened fields are inlined");
    assert_eq!(p["cpu"]["x-kubernetes-int-or-string"], true);
    assert!(p["cpu"]["pattern"].is_string());
    assert_eq!(p["target"]["anyOf"], json!([{"type": "integer"}, {"type": "string"}]));
    assert_eq!(p["since"]["format"], "date-time");
    assert_eq!(p["items"]["minItems"], 1);
    assert_eq!(p["items"]["items"]["maxLength"], 5);
    assert_eq!(p["blob"]["format"], "byte");
    assert_eq!(p["ports"]["x-kubernetes-list-type"], "map");
    assert_eq!(p["ports"]["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(p["ports"]["items"]["properties"]["number"]["maximum"], 65535);
    assert_eq!(p["ports"]["items"]["required"], json!(["name", "number"]));
    assert_eq!(p["note"]["nullable"], true);
    assert_eq!(p["even"]["x-kubernetes-validations"], json!([{"rule": "self % 2 == 0", "message": "must be even"}]));
    let mut required: Vec<&str> = spec["required"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    required.sort();
    assert_eq!(
        required,
        ["bigCount", "enabled", "items", "mode", "must", "ownerName", "port", "ratio", "replicas", "target", "x-name"]
    );
    // The typed CRD carries the same schema.
    let schema: &JSONSchemaProps = typed.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
    assert_eq!(schema.properties.as_ref().unwrap()["spec"].properties.as_ref().unwrap()["replicas"].minimum, Some(1.0));
}

#[test]
fn package_optional_flips_the_default() {
    let f = Fixture::with_files(&[
        ("src/example/v1/mod.rs", &format!("//! +kubebuilder:validation:Optional\n{}", common::VERSION_MOD)),
        ("src/example/v1/types.rs", &foo("")),
    ]);
    let (_, v) = crd(&f);
    assert!(spec_of(&v).get("required").is_none(), "{}", spec_of(&v));
}

#[test]
fn unsupported_and_recursive_types_are_errors() {
    let src = foo("").replace(
        "    pub replicas: i32,\n",
        "    pub replicas: i32,\n    /// Tree.\n    pub child: $Option<Box<FooSpec>>,\n",
    );
    let f = Fixture::new(&src);
    f.assert_error_at_marker("type `FooSpec` contains itself");
    let src = foo("")
        .replace("    pub replicas: i32,\n", "    pub replicas: i32,\n    /// Data enum.\n    pub shape: $Shape,\n")
        .replace("/// List.", "/// A shape.\n#[derive(Debug, Serialize, Deserialize)]\npub enum Shape {\n    /// Circle.\n    Circle(f64),\n}\n\n/// List.");
    let f = Fixture::new(&src);
    f.assert_error_at_marker("type `Shape` cannot be described by a structural schema");
}

/// `Foo` with `status.selector` for the scale subresource's label selector path.
fn scalable(marker: &str) -> Fixture {
    let src = foo(&format!("/// +kubebuilder:subresource:status\n{marker}")).replace(
        "    pub ready: i32,\n",
        "    pub ready: i32,\n    /// The pods' selector, as a string.\n    pub selector: Option<String>,\n",
    );
    Fixture::new(&src)
}

#[test]
fn scale_subresource() {
    let f = scalable(
        "/// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.ready,selectorpath=.status.selector\n",
    );
    let (crd, _) = crd(&f);
    let sub = crd.spec.versions[0].subresources.as_ref().expect("subresources");
    assert!(sub.status.is_some());
    let scale = sub.scale.as_ref().expect("scale");
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.status_replicas_path, ".status.ready");
    assert_eq!(scale.label_selector_path.as_deref(), Some(".status.selector"));
    let scale = f.kind("Foo").scale.unwrap();
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
}

#[test]
fn scale_paths_must_exist_and_have_the_right_type() {
    scalable("/// +kubebuilder:subresource:scale:$specpath=.spec.replica,statuspath=.status.ready\n")
        .assert_error_at_marker("`specpath=.spec.replica`: there is no field `replica` at `.spec`");
    scalable("/// +kubebuilder:subresource:scale:specpath=.spec.replicas,$statuspath=.spec.replicas\n")
        .assert_error_at_marker("the path must lie under .status");
    scalable("/// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.ready,$selectorpath=.status.ready\n")
        .assert_error_at_marker("`selectorpath=.status.ready` names a field that is not a string");
    scalable("/// +kubebuilder:subresource:scale:specpath=.spec.replicas,$statuspath=.status.selector\n")
        .assert_error_at_marker("`statuspath=.status.selector` names a field that is not an integer");
    scalable("/// $+kubebuilder:subresource:scale:specpath=.spec.replicas\n")
        .assert_error_at_marker("needs `specpath=` and `statuspath=`");
}
