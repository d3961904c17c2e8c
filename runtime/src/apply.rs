//! Server-side apply support for generated apply configurations: [`extract`] keeps the parts of
//! an object that one field manager owns, as its `managedFields` entry (`fieldsV1`) records them.
//! The generated `extract_<kind>` functions (client-go's `Extract<Kind>`) build on it.
//!
//! `fieldsV1` is a tree of keys: `f:<name>` is an object field, `k:<json>` the element of a map
//! list whose key fields equal the JSON object, `v:<json>` the element of a set equal to the
//! value, `i:<n>` the element at an index, and `.` the element itself. An empty subtree owns the
//! whole value below it.

use serde_json::{Map, Value};

/// The `fieldsV1` entry of `manager` for an `Apply` on `subresource` ("" for the main
/// resource), from an object's `metadata.managedFields` (as JSON).
pub fn owned_fields<'a>(managed_fields: &'a [Value], manager: &str, subresource: &str) -> Option<&'a Value> {
    managed_fields.iter().find_map(|e| {
        let matches = e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
            && e.get("subresource").and_then(Value::as_str).unwrap_or("") == subresource;
        matches.then(|| e.get("fieldsV1")).flatten()
    })
}

/// The parts of `value` that `fields` (a `fieldsV1` tree) names.
pub fn extract(value: &Value, fields: &Value) -> Value {
    let Some(fields) = fields.as_object().filter(|f| f.keys().any(|k| k != ".")) else {
        return value.clone(); // a leaf: the whole value is owned
    };
    match value {
        Value::Object(obj) => {
            let mut out = Map::new();
            for (key, sub) in fields {
                if let Some(name) = key.strip_prefix("f:")
                    && let Some(v) = obj.get(name)
                {
                    out.insert(name.to_string(), extract(v, sub));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut out = vec![];
            for (key, sub) in fields {
                let found = if let Some(k) = key.strip_prefix("k:") {
                    serde_json::from_str::<Map<String, Value>>(k).ok().and_then(|keys| {
                        items.iter().find(|i| keys.iter().all(|(kk, kv)| i.get(kk) == Some(kv))).map(|i| {
                            // The key fields identify the element, so they are always sent.
                            let mut e = extract(i, sub);
                            if let Value::Object(m) = &mut e {
                                m.extend(keys.clone());
                            }
                            e
                        })
                    })
                } else if let Some(v) = key.strip_prefix("v:") {
                    serde_json::from_str::<Value>(v).ok().filter(|v| items.contains(v))
                } else if let Some(i) = key.strip_prefix("i:") {
                    i.parse::<usize>().ok().and_then(|i| items.get(i)).map(|e| extract(e, sub))
                } else {
                    None
                };
                out.extend(found);
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_the_owned_fields() {
        let obj = json!({
            "spec": {"nodes": 2, "image": "b:27", "secret": "s"},
            "status": {"nodes": [{"ordinal": 0, "ready": true, "ip": "1"}, {"ordinal": 1, "ready": false}]},
            "tags": ["a", "b"]
        });
        let fields = json!({
            "f:spec": {"f:image": {}, "f:missing": {}},
            "f:status": {"f:nodes": {"k:{\"ordinal\":1}": {".": {}, "f:ready": {}}}},
            "f:tags": {"v:\"b\"": {}}
        });
        assert_eq!(
            extract(&obj, &fields),
            json!({"spec": {"image": "b:27"}, "status": {"nodes": [{"ordinal": 1, "ready": false}]}, "tags": ["b"]})
        );
    }

    #[test]
    fn finds_the_managers_apply_entry() {
        let mf = vec![
            json!({"manager": "m", "operation": "Update", "fieldsV1": {"f:a": {}}}),
            json!({"manager": "m", "operation": "Apply", "subresource": "status", "fieldsV1": {"f:b": {}}}),
            json!({"manager": "m", "operation": "Apply", "fieldsV1": {"f:c": {}}}),
        ];
        assert_eq!(owned_fields(&mf, "m", ""), Some(&json!({"f:c": {}})));
        assert_eq!(owned_fields(&mf, "m", "status"), Some(&json!({"f:b": {}})));
        assert_eq!(owned_fields(&mf, "other", ""), None);
    }
}
