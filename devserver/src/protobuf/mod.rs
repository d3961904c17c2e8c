//! Protobuf bodies (`application/vnd.kubernetes.protobuf`) for built-in kinds, as
//! kube-apiserver takes and gives them; custom resources stay JSON only, as in Kubernetes.
//!
//! The wire format is Kubernetes' envelope: the four bytes `k8s\0`, then a `runtime.Unknown`
//! message whose `raw` field holds the object's own message, encoded by prost with k8s-pb's
//! types. The objects themselves are converted to and from the JSON the handlers work on through
//! k8s-openapi's types, by conversions generated from both crates (`generated.rs`, made by
//! `cargo xtask codegen`; `convert.rs` holds what they stand on).

mod convert;
// Written by the generator as prettyplease formats it; `cargo xtask codegen --check` compares it.
#[rustfmt::skip]
mod generated;

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceType;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message;
use serde::Deserialize;
use serde_json::{Value, json};

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

/// Whether a built-in `kind` can be sent as protobuf.
pub fn decodes(api_version: &str, kind: &str) -> bool {
    generated::KINDS.contains(&(api_version, kind))
}

/// The JSON object of a protobuf body of a built-in kind (400 for a malformed envelope or message).
pub fn decode(api_version: &str, kind: &str, body: &[u8]) -> ApiResult<Value> {
    let bad = |why: String| ApiError::bad_request(format!("error decoding {kind} from protobuf: {why}"));
    let envelope =
        body.strip_prefix(MAGIC).ok_or_else(|| bad("the body does not start with the k8s protobuf prefix".into()))?;
    let unknown = Unknown::decode(envelope).map_err(|e| bad(e.to_string()))?;
    let raw = unknown.raw.unwrap_or_default();
    let mut obj = match generated::decode(api_version, kind, &raw) {
        Some(decoded) => decoded.map_err(bad)?,
        None => return Err(unsupported(&format!("{MEDIA_TYPE} for {kind}"))),
    };
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), json!(api_version));
        o.insert("kind".into(), json!(kind));
    }
    Ok(obj)
}

/// The envelope around an encoded message of `kind`.
fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

/// The protobuf body of a JSON object whose kind has a protobuf form (by its own `apiVersion`
/// and `kind`), or `None`.
pub fn encode(obj: &Value) -> Option<Vec<u8>> {
    let api_version = obj.get("apiVersion")?.as_str()?;
    let kind = obj.get("kind")?.as_str()?;
    let raw = generated::encode(api_version, kind, obj)?.ok()?;
    Some(envelope(api_version, kind, raw))
}

/// The protobuf body of a list of `rt`'s objects, or `None` when the kind has no protobuf form.
pub fn encode_list(rt: &ResourceType, list_meta: &Value, items: &[&Value]) -> Option<Vec<u8>> {
    if rt.custom {
        return None;
    }
    let api_version = rt.api_version();
    let raw = generated::encode_list(&api_version, &rt.kind, list_meta, items)?.ok()?;
    Some(envelope(&api_version, &format!("{}List", rt.kind), raw))
}

/// The Content-Type of a protobuf watch stream.
pub const WATCH_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// A message holding only `metadata`, field 1 of every Kubernetes object's message: what a
/// bookmark carries, whatever its kind.
#[derive(Clone, PartialEq, prost::Message)]
struct MetadataOnly {
    #[prost(message, optional, tag = "1")]
    metadata: Option<k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
}

/// Appends one watch event to a protobuf watch stream: a 4-byte big-endian length, then a
/// `WatchEvent` (no envelope of its own) whose object is the enveloped object, as kube-apiserver
/// frames them. An object that does not convert whole (a bookmark: only its kind and
/// resourceVersion) is sent with its metadata alone.
pub fn watch_frame(out: &mut Vec<u8>, event_type: &str, obj: &Value) {
    use convert::Pb;
    let object = encode(obj).unwrap_or_else(|| {
        let meta = obj
            .get("metadata")
            .and_then(|m| k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta::deserialize(m).ok())
            .unwrap_or_default();
        let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        envelope(&s("apiVersion"), &s("kind"), MetadataOnly { metadata: Some(meta.pb()) }.encode_to_vec())
    });
    let event = k8s_pb::apimachinery::pkg::apis::meta::v1::WatchEvent {
        r#type: Some(event_type.to_string()),
        object: Some(k8s_pb::apimachinery::pkg::runtime::RawExtension { raw: Some(object) }),
    };
    let bytes = event.encode_to_vec();
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&bytes);
}

/// True when the client's first choice is protobuf (client-go's protobuf clients ask for
/// `application/vnd.kubernetes.protobuf, application/json`).
pub fn preferred(headers: &axum::http::HeaderMap) -> bool {
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.split(',').next().is_some_and(|first| {
        let mut params = first.split(';').map(str::trim);
        params.next() == Some(MEDIA_TYPE) && params.all(|p| !p.starts_with("as="))
    })
}

/// A JSON reply of a built-in resource as protobuf: the object, its list or a Status (what
/// kube-apiserver sends a client that prefers protobuf). Replies without a protobuf form (a
/// Table, metadata-only objects) stay JSON, which such clients accept too.
pub async fn reencode(rt: &ResourceType, response: axum::response::Response) -> axum::response::Response {
    crate::negotiation::transcode(response, |v| {
        let kind = v.get("kind").and_then(Value::as_str)?;
        let encoded = if kind == format!("{}List", rt.kind) {
            let items: Vec<&Value> = v.get("items").and_then(Value::as_array)?.iter().collect();
            encode_list(rt, v.get("metadata").unwrap_or(&Value::Null), &items)
        } else {
            encode(&v)
        };
        encoded.map(|pb| (pb, MEDIA_TYPE))
    })
    .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::api::authorization::v1 as authz;
    use k8s_pb::api::core::v1 as core;

    fn rt(kind: &str) -> ResourceType {
        crate::builtin::builtin_types().into_iter().find(|t| t.kind == kind).unwrap()
    }

    fn decode_rt(t: &ResourceType, body: &[u8]) -> ApiResult<Value> {
        decode(&t.api_version(), &t.kind, body)
    }

    fn wrap(raw: Vec<u8>) -> Vec<u8> {
        envelope("v1", "X", raw)
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
        let v = decode_rt(&rt("SelfSubjectAccessReview"), &wrap(review.encode_to_vec())).unwrap();
        assert_eq!(
            v["spec"],
            json!({"resourceAttributes": {"namespace": "team", "verb": "list", "resource": "configmaps"}})
        );
        assert_eq!(v["apiVersion"], "authorization.k8s.io/v1");
    }

    #[test]
    fn a_pod_round_trips_through_protobuf_with_json_names_and_special_types() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "team", "labels": {"app": "web"},
                         "creationTimestamp": "2026-12-03T06:00:00Z"},
            "spec": {
                "containers": [{
                    "name": "c", "image": "nginx",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                    "envFrom": [{"configMapRef": {"name": "settings"}}],
                }],
                "hostIPC": true,
            },
        });
        let body = encode(&pod).unwrap();
        let back = decode_rt(&rt("Pod"), &body).unwrap();
        let c = &back["spec"]["containers"][0];
        assert_eq!(c["ports"][0]["containerPort"], 80);
        assert_eq!(c["resources"]["limits"]["cpu"], "500m");
        assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http", "IntOrString and the embedded handler");
        assert_eq!(c["envFrom"][0]["configMapRef"]["name"], "settings", "the embedded LocalObjectReference");
        assert_eq!(back["spec"]["hostIPC"], true);
        assert_eq!(back["metadata"]["creationTimestamp"], "2026-12-03T06:00:00Z");
        assert_eq!(back["metadata"]["labels"], json!({"app": "web"}));
        assert!(back["spec"].get("volumes").is_none(), "an empty repeated field is absent");
    }

    #[test]
    fn empty_strings_and_zero_times_are_absent_as_in_go_json() {
        let cm = core::ConfigMap {
            metadata: Some(k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("a".into()),
                namespace: Some(String::new()),
                resource_version: Some(String::new()),
                creation_timestamp: Some(Default::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = decode_rt(&rt("ConfigMap"), &wrap(cm.encode_to_vec())).unwrap();
        assert_eq!(v["metadata"], json!({"name": "a"}));
    }

    #[test]
    fn lists_encode_with_the_list_kind() {
        // List items carry no apiVersion and kind.
        let item = json!({"metadata": {"name": "a"}, "data": {"k": "v"}});
        let body = encode_list(&rt("ConfigMap"), &json!({"resourceVersion": "7"}), &[&item]).unwrap();
        let unknown = Unknown::decode(&body[MAGIC.len()..]).unwrap();
        assert_eq!(unknown.type_meta.unwrap().kind.as_deref(), Some("ConfigMapList"));
        let list = core::ConfigMapList::decode(unknown.raw.unwrap().as_slice()).unwrap();
        assert_eq!(list.metadata.unwrap().resource_version.as_deref(), Some("7"));
        assert_eq!(list.items[0].data.get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn garbage_is_a_400_never_a_panic() {
        for kind in ["SelfSubjectRulesReview", "Pod", "ConfigMap", "Deployment"] {
            let Some(t) = crate::builtin::builtin_types().into_iter().find(|t| t.kind == kind) else { continue };
            for body in [&b""[..], b"k8s", b"k8s\0\xff\xff\xff", b"{\"json\": true}", b"k8s\0\x1a\x03\xff\xff\xff"] {
                let e = decode_rt(&t, body).unwrap_err();
                assert_eq!(e.code, 400, "{kind} {body:?}");
            }
        }
    }
}
