//! Content negotiation beyond plain JSON: `as=PartialObjectMetadata` / `as=PartialObjectMetadataList`
//! (kube-rs `list_metadata`, `watch_metadata` and `metadata_watcher`, client-go metadata
//! informers), answered with only the objects' metadata. Tables live in [`crate::table`].

use serde_json::{Value, json};

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
