//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded with the
//! prost-generated types of k8s-pb. kubectl and client-go send protobuf for built-in kinds
//! whenever the server's discovery allows it; replies stay JSON, which clients accept alongside.
//!
//! The wire format is Kubernetes' envelope: the four bytes `k8s\0`, then a `runtime.Unknown`
//! message whose `raw` field holds the object's own message. Kinds are added here one by one,
//! each as a conversion into the JSON the handlers work on; any other kind is 415, as before.

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceType;
use k8s_pb::api::authorization::v1 as authz;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value, json};

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

/// Whether `rt`'s kind can be sent as protobuf.
pub fn decodes(rt: &ResourceType) -> bool {
    matches!(
        (rt.group.as_str(), rt.kind.as_str()),
        ("authorization.k8s.io", "SelfSubjectAccessReview" | "SelfSubjectRulesReview")
            | ("", "Namespace" | "ConfigMap" | "Secret" | "ServiceAccount")
    )
}

/// The JSON object of a protobuf body of kind `rt` (400 for a malformed envelope or message).
pub fn decode(rt: &ResourceType, body: &[u8]) -> ApiResult<Value> {
    let bad = |why: String| ApiError::bad_request(format!("error decoding {} from protobuf: {why}", rt.kind));
    let envelope =
        body.strip_prefix(MAGIC).ok_or_else(|| bad("the body does not start with the k8s protobuf prefix".into()))?;
    let unknown = Unknown::decode(envelope).map_err(|e| bad(e.to_string()))?;
    let raw = unknown.raw.unwrap_or_default();
    let mut obj = match rt.kind.as_str() {
        "Namespace" => {
            let ns = core::Namespace::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            json!({"metadata": meta(ns.metadata.unwrap_or_default())})
        }
        "ConfigMap" => {
            let cm = core::ConfigMap::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            let mut o = json!({"metadata": meta(cm.metadata.unwrap_or_default())});
            if !cm.data.is_empty() {
                o["data"] = json!(cm.data);
            }
            if !cm.binary_data.is_empty() {
                o["binaryData"] = base64_map(cm.binary_data);
            }
            if let Some(i) = cm.immutable {
                o["immutable"] = json!(i);
            }
            o
        }
        "Secret" => {
            let secret = core::Secret::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            let mut o = json!({"metadata": meta(secret.metadata.unwrap_or_default())});
            if !secret.data.is_empty() {
                o["data"] = base64_map(secret.data);
            }
            if !secret.string_data.is_empty() {
                o["stringData"] = json!(secret.string_data);
            }
            if let Some(t) = secret.r#type.filter(|t| !t.is_empty()) {
                o["type"] = json!(t);
            }
            if let Some(i) = secret.immutable {
                o["immutable"] = json!(i);
            }
            o
        }
        "ServiceAccount" => {
            let sa = core::ServiceAccount::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            let mut o = json!({"metadata": meta(sa.metadata.unwrap_or_default())});
            if let Some(a) = sa.automount_service_account_token {
                o["automountServiceAccountToken"] = json!(a);
            }
            let names: Vec<Value> = sa.image_pull_secrets.into_iter().map(|r| strings(&[("name", r.name)])).collect();
            if !names.is_empty() {
                o["imagePullSecrets"] = json!(names);
            }
            o
        }
        _ => Value::Null,
    };
    if !obj.is_null() {
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        return Ok(obj);
    }
    let spec = match rt.kind.as_str() {
        "SelfSubjectAccessReview" => {
            let review = authz::SelfSubjectAccessReview::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            access_spec(review.spec.unwrap_or_default())
        }
        "SelfSubjectRulesReview" => {
            let review = authz::SelfSubjectRulesReview::decode(raw.as_slice()).map_err(|e| bad(e.to_string()))?;
            strings(&[("namespace", review.spec.and_then(|s| s.namespace))])
        }
        _ => return Err(unsupported(&format!("{MEDIA_TYPE} for {}", rt.kind))),
    };
    Ok(json!({"apiVersion": rt.api_version(), "kind": rt.kind, "metadata": {}, "spec": spec}))
}

/// 415 for a body the server cannot read.
pub fn unsupported(got: &str) -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: application/json (got {got})"
        ),
    )
}

fn access_spec(spec: authz::SelfSubjectAccessReviewSpec) -> Value {
    let mut out = Map::new();
    if let Some(r) = spec.resource_attributes {
        out.insert(
            "resourceAttributes".into(),
            strings(&[
                ("namespace", r.namespace),
                ("verb", r.verb),
                ("group", r.group),
                ("version", r.version),
                ("resource", r.resource),
                ("subresource", r.subresource),
                ("name", r.name),
            ]),
        );
    }
    if let Some(n) = spec.non_resource_attributes {
        out.insert("nonResourceAttributes".into(), strings(&[("path", n.path), ("verb", n.verb)]));
    }
    Value::Object(out)
}

/// The metadata a client may set on create, as JSON; server-set fields are ignored, as
/// kube-apiserver ignores or overwrites them.
fn meta(m: meta_v1::ObjectMeta) -> Value {
    let mut out = strings(&[("name", m.name), ("generateName", m.generate_name), ("namespace", m.namespace)]);
    if !m.labels.is_empty() {
        out["labels"] = json!(m.labels);
    }
    if !m.annotations.is_empty() {
        out["annotations"] = json!(m.annotations);
    }
    if !m.finalizers.is_empty() {
        out["finalizers"] = json!(m.finalizers);
    }
    let owners: Vec<Value> = m
        .owner_references
        .into_iter()
        .map(|o| {
            let mut r = strings(&[("apiVersion", o.api_version), ("kind", o.kind), ("name", o.name), ("uid", o.uid)]);
            if let Some(c) = o.controller {
                r["controller"] = json!(c);
            }
            if let Some(b) = o.block_owner_deletion {
                r["blockOwnerDeletion"] = json!(b);
            }
            r
        })
        .collect();
    if !owners.is_empty() {
        out["ownerReferences"] = json!(owners);
    }
    out
}

/// A map of bytes as JSON's base64 strings.
fn base64_map(m: std::collections::BTreeMap<String, Vec<u8>>) -> Value {
    use base64::Engine;
    let encoded: Map<String, Value> =
        m.into_iter().map(|(k, v)| (k, Value::String(base64::engine::general_purpose::STANDARD.encode(v)))).collect();
    Value::Object(encoded)
}

/// An object of the string fields that are set and not empty (Go's omitempty).
fn strings(fields: &[(&str, Option<String>)]) -> Value {
    let mut out = Map::new();
    for (k, v) in fields {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            out.insert(k.to_string(), Value::String(v.clone()));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(raw: Vec<u8>) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(Unknown { raw: Some(raw), ..Default::default() }.encode_to_vec());
        out
    }

    #[test]
    fn a_self_subject_access_review_decodes_to_its_json() {
        let review = authz::SelfSubjectAccessReview {
            spec: Some(authz::SelfSubjectAccessReviewSpec {
                resource_attributes: Some(authz::ResourceAttributes {
                    namespace: Some("team".into()),
                    verb: Some("list".into()),
                    resource: Some("configmaps".into()),
                    group: Some(String::new()),
                    ..Default::default()
                }),
                non_resource_attributes: None,
            }),
            ..Default::default()
        };
        let rt = crate::builtin::builtin_types().into_iter().find(|t| t.kind == "SelfSubjectAccessReview").unwrap();
        let v = decode(&rt, &envelope(review.encode_to_vec())).unwrap();
        assert_eq!(
            v["spec"],
            json!({"resourceAttributes": {"namespace": "team", "verb": "list", "resource": "configmaps"}})
        );
        assert_eq!(v["apiVersion"], "authorization.k8s.io/v1");
    }

    #[test]
    fn garbage_is_a_400_never_a_panic() {
        let rt = crate::builtin::builtin_types().into_iter().find(|t| t.kind == "SelfSubjectRulesReview").unwrap();
        for body in [&b""[..], b"k8s", b"k8s\0\xff\xff\xff", b"{\"json\": true}", b"k8s\0\x0a\x05abc"] {
            let e = decode(&rt, body).unwrap_err();
            assert_eq!(e.code, 400, "{body:?}");
        }
        let pod = crate::builtin::builtin_types().into_iter().find(|t| t.kind == "Pod").unwrap();
        assert_eq!(decode(&pod, &envelope(vec![])).unwrap_err().code, 415, "a kind not decoded yet");
        let cm = crate::builtin::builtin_types().into_iter().find(|t| t.kind == "ConfigMap").unwrap();
        assert_eq!(decode(&cm, b"k8s\0\x1a\x03\xff\xff\xff").unwrap_err().code, 400);
    }
}
