//! Content negotiation beyond plain JSON: `as=PartialObjectMetadata` / `as=PartialObjectMetadataList`
//! (kube-rs `list_metadata`, `watch_metadata` and `metadata_watcher`, client-go metadata
//! informers), answered with only the objects' metadata. Tables live in [`crate::table`].

use serde_json::{Value, json};

/// The YAML media type kube-apiserver also serves.
pub const YAML: &str = "application/yaml";

/// True when the client's first choice is YAML (`kubectl get --raw` with `-H Accept:`, curl).
pub fn wants_yaml(headers: &axum::http::HeaderMap) -> bool {
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.split(',').next().is_some_and(|first| first.split(';').next().map(str::trim) == Some(YAML))
}

/// A JSON reply as YAML (keys sorted, as Go's JSON-to-YAML conversion writes them).
pub async fn to_yaml(response: axum::response::Response) -> axum::response::Response {
    transcode(response, |v| serde_yaml::to_string(&v).ok().map(|t| (t.into_bytes(), YAML))).await
}

/// A JSON reply in another representation: `convert` gives the new body and its media type, or
/// `None` to keep the JSON (a reply with no such form). Other replies pass unchanged.
pub async fn transcode(
    response: axum::response::Response,
    convert: impl FnOnce(Value) -> Option<(Vec<u8>, &'static str)>,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    match serde_json::from_slice::<Value>(&bytes).ok().and_then(convert) {
        Some((converted, media_type)) => {
            parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
            parts.headers.remove(header::CONTENT_LENGTH);
            axum::response::Response::from_parts(parts, axum::body::Body::from(converted))
        }
        None => axum::response::Response::from_parts(parts, axum::body::Body::from(bytes)),
    }
}

/// True when the first Accept entry asks for metadata-only objects.
pub fn wants_partial(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        first.split(';').map(str::trim).any(|p| p == "as=PartialObjectMetadata" || p == "as=PartialObjectMetadataList")
    })
}

/// The `PartialObjectMetadata` form of an object.
pub fn partial(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The `PartialObjectMetadataList` form of a list.
pub fn partial_list(items: &[std::sync::Arc<Value>], list_meta: Value) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "items": items.iter().map(|o| partial(o)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert!(wants_partial("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"));
        assert!(!wants_partial("application/json"));
        assert_eq!(partial(&json!({"metadata": {"name": "a"}, "spec": 1}))["metadata"]["name"], "a");
    }
}
