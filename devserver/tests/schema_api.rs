//! The public validator other crates use (`devserver::schema`): the same causes the server
//! answers with, without starting a server.

mod common;
use common::foo_crd;
use devserver::schema::{apply_defaults, prune, validate, validate_crd_version};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::json;

fn crd() -> CustomResourceDefinition {
    serde_json::from_value(foo_crd()).unwrap()
}

#[test]
fn valid_object_has_no_causes() {
    let obj =
        json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a"}, "spec": {"replicas": 3}});
    assert_eq!(validate_crd_version(&crd(), "v1", &obj), vec![]);
}

#[test]
fn causes_use_the_api_server_wording() {
    let obj = json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a"}, "spec": {"replicas": -1, "mode": "x"}});
    let causes = validate_crd_version(&crd(), "v1", &obj);
    let summary: Vec<(String, String, String)> = causes.into_iter().map(|c| (c.field, c.reason, c.message)).collect();
    assert_eq!(
        summary,
        vec![
            (
                "spec.mode".into(),
                "FieldValueNotSupported".into(),
                "Unsupported value: \"x\": supported values: \"fast\", \"slow\"".into()
            ),
            (
                "spec.replicas".into(),
                "FieldValueInvalid".into(),
                "Invalid value: -1: spec.replicas in body should be greater than or equal to 0".into()
            ),
        ]
    );
}

#[test]
fn wrong_kind_and_unknown_version_are_reported() {
    let obj =
        json!({"apiVersion": "example.com/v1", "kind": "Bar", "metadata": {"name": "a"}, "spec": {"replicas": 1}});
    let causes = validate_crd_version(&crd(), "v1", &obj);
    assert_eq!(causes[0].field, "kind");
    assert_eq!(causes[0].message, "Invalid value: \"Bar\": must be Foo");
    assert_eq!(validate_crd_version(&crd(), "v9", &obj)[0].field, "apiVersion");
}

#[test]
fn prune_and_defaults_on_a_bare_schema() {
    let c = crd();
    let schema = c.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
    let mut obj = json!({"spec": {"replicas": 1, "nope": true, "extra": {"free": 1}}});
    assert_eq!(prune(&mut obj, schema), vec!["spec.nope".to_string()]);
    apply_defaults(&mut obj, schema);
    assert_eq!(obj, json!({"spec": {"replicas": 1, "mode": "fast", "extra": {"free": 1}}}));
    assert!(validate(&obj, schema).is_empty());
}

#[test]
fn cel_rules_are_evaluated() {
    let schema: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps =
        serde_json::from_value(json!({
            "type": "object",
            "properties": {"spec": {
                "type": "object",
                "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
                "x-kubernetes-validations": [
                    {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                    {"rule": "self.max < 100"},
                    {"rule": "self.min == oldSelf.min"}
                ]
            }}
        }))
        .unwrap();
    assert!(validate(&json!({"spec": {"min": 1, "max": 2}}), &schema).is_empty());
    let causes = validate(&json!({"spec": {"min": 300, "max": 200}}), &schema);
    let got: Vec<(String, String)> = causes.into_iter().map(|c| (c.field, c.message)).collect();
    assert_eq!(
        got,
        vec![
            ("spec".to_string(), "Invalid value: min must not exceed max".to_string()),
            ("spec".to_string(), "Invalid value: failed rule: self.max < 100".to_string()),
        ]
    );
}

#[test]
fn cel_transition_rules_use_old_self_on_update() {
    let schema: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps = serde_json::from_value(json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "properties": {"image": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "image is immutable"}]}}
        }}
    }))
    .unwrap();
    let old = json!({"spec": {"image": "a"}});
    assert!(devserver::schema::validate_update(&json!({"spec": {"image": "a"}}), &old, &schema).is_empty());
    let causes = devserver::schema::validate_update(&json!({"spec": {"image": "b"}}), &old, &schema);
    assert_eq!(
        (causes[0].field.as_str(), causes[0].message.as_str()),
        ("spec.image", "Invalid value: \"b\": image is immutable")
    );
    // On create (no old object) transition rules do not apply.
    assert!(validate(&json!({"spec": {"image": "b"}}), &schema).is_empty());
}

#[test]
fn cel_message_expression_is_evaluated() {
    let schema: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps = serde_json::from_value(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"n": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.n < 3", "messageExpression": "'n is ' + string(self.n) + ', must be below 3'"}]}}
    }))
    .unwrap();
    let causes = validate(&json!({"spec": {"n": 5}}), &schema);
    assert_eq!(causes[0].message, "Invalid value: n is 5, must be below 3");
}
