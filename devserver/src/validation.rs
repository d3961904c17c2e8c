//! Object metadata validation (names, labels, annotations, ownerReferences, finalizers), with the
//! messages of `k8s.io/apimachinery/pkg/api/validation`.

use crate::error::Cause;
use serde_json::Value;

fn is_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A DNS-1123 label: at most 63 `[a-z0-9-]`, starting and ending alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| is_alnum(c) || c == '-')
        && s.starts_with(is_alnum)
        && s.ends_with(is_alnum)
}

/// A DNS-1035 label: a DNS-1123 label that starts with a letter.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// kube-apiserver's message for a value that is not a DNS-1035 label.
pub fn dns1035_message(s: &str) -> String {
    format!(
        "Invalid value: {}: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        Value::String(s.to_string())
    )
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated labels.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(|c| is_alnum(c) || c == '-' || c == '.')
        && s.starts_with(is_alnum)
        && s.ends_with(is_alnum)
}

fn is_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A qualified name (label key, finalizer): optional DNS prefix and `/`, then a name part.
pub fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_name_part(name),
        None => is_name_part(s),
    }
}

/// A label value: empty, or a name part of at most 63 characters.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_name_part(s)
}

/// Validates `metadata` of an object being stored; `namespace_name` selects label rules for names.
pub fn validate_meta(obj: &Value, name_is_label: bool) -> Vec<Cause> {
    let mut out = Vec::new();
    let meta = obj.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        out.push(Cause::new("FieldValueRequired", "metadata.name", "Required value: name or generateName is required"));
    } else if name_is_label && !is_dns1123_label(name) {
        out.push(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
        ));
    } else if !name_is_label && !is_dns1123_subdomain(name) {
        out.push(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
        ));
    }
    if let Some(labels) = meta.and_then(|m| m.get("labels")).and_then(Value::as_object) {
        for (k, v) in labels {
            if !is_qualified_name(k) {
                out.push(Cause::new(
                    "FieldValueInvalid",
                    "metadata.labels",
                    format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
                ));
            }
            let val = v.as_str().unwrap_or("");
            if !is_label_value(val) {
                out.push(Cause::new(
                    "FieldValueInvalid",
                    "metadata.labels".to_string(),
                    format!("Invalid value: \"{val}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
                ));
            }
        }
    }
    if let Some(ann) = meta.and_then(|m| m.get("annotations")).and_then(Value::as_object) {
        let total: usize = ann.iter().map(|(k, v)| k.len() + v.as_str().map(str::len).unwrap_or(0)).sum();
        if total > 256 * 1024 {
            out.push(Cause::new(
                "FieldValueTooLong",
                "metadata.annotations",
                "Too long: must have at most 262144 bytes",
            ));
        }
    }
    if let Some(refs) = meta.and_then(|m| m.get("ownerReferences")).and_then(Value::as_array) {
        let mut controllers = 0;
        for (i, r) in refs.iter().enumerate() {
            for f in ["apiVersion", "kind", "name", "uid"] {
                if r.get(f).and_then(Value::as_str).unwrap_or("").is_empty() {
                    out.push(Cause::new(
                        "FieldValueRequired",
                        format!("metadata.ownerReferences[{i}].{f}"),
                        "Required value",
                    ));
                }
            }
            if r.get("controller").and_then(Value::as_bool) == Some(true) {
                controllers += 1;
            }
        }
        if controllers > 1 {
            out.push(Cause::new(
                "FieldValueInvalid",
                "metadata.ownerReferences",
                "Invalid value: []v1.OwnerReference{...}: Only one reference can have Controller set to true. Found \"true\" in references",
            ));
        }
    }
    if let Some(fins) = meta.and_then(|m| m.get("finalizers")).and_then(Value::as_array) {
        for (i, f) in fins.iter().enumerate() {
            let s = f.as_str().unwrap_or("");
            if !is_qualified_name(s) {
                out.push(Cause::new(
                    "FieldValueInvalid",
                    format!("metadata.finalizers[{i}]"),
                    format!("Invalid value: \"{s}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_dns1123_subdomain("a.b-c"));
        assert!(!is_dns1123_subdomain("A"));
        assert!(!is_dns1123_label("a.b"));
        assert!(is_qualified_name("example.com/x_y"));
        assert!(!is_qualified_name("-x"));
        assert!(is_label_value(""));
    }
}

/// A Service's name is a DNS label (since 1.37 it may start with a digit).
pub fn service_name(obj: &Value) -> Vec<Cause> {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let shown = Value::String(name.to_string());
    let why = if name.contains('.') {
        "must not contain dots"
    } else if name.len() > 63 {
        "must be no more than 63 characters"
    } else {
        return Vec::new();
    };
    vec![Cause::new("FieldValueInvalid", "metadata.name", format!("Invalid value: {shown}: {why}"))]
}

/// A ConfigMap's or Secret's (`kind`) keys and size.
pub fn config_data(kind: &str, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    for field in ["data", "binaryData"] {
        for key in obj.get(field).and_then(Value::as_object).into_iter().flat_map(|m| m.keys()) {
            if let Some(why) = config_key_error(key) {
                let shown = Value::String(key.clone());
                out.push(Cause::new(
                    "FieldValueInvalid",
                    format!("{field}[{key}]"),
                    format!("Invalid value: {shown}: {why}"),
                ));
            }
        }
    }
    out.extend(config_size_error(kind, obj));
    out
}

/// What kube-apiserver checks of a new Event (`ValidateEventCreate`, on its internal form, so
/// the paths are core/v1's). An Event without `eventTime` (the old way, core/v1 only) must be
/// about an object in its own namespace, or in `default` when it names none. One with
/// `eventTime` must say who reported what: controller, instance, action and reason. Through
/// events.k8s.io (`strict`) `eventTime` is required and `type` is Normal or Warning.
pub fn event(obj: &Value, strict: bool) -> Vec<Cause> {
    let mut out = vec![];
    let s = |path: &str| obj.pointer(path).and_then(Value::as_str).unwrap_or("");
    let ns = s("/metadata/namespace");
    let (involved, controller_field) = if strict {
        (s("/regarding/namespace"), "reportingController")
    } else {
        (s("/involvedObject/namespace"), "reportingComponent")
    };
    let not_matching = || {
        Cause::new(
            "FieldValueInvalid",
            "involvedObject.namespace",
            format!("Invalid value: {}: does not match event.namespace", Value::String(involved.into())),
        )
    };
    let event_time = obj.get("eventTime").is_some_and(|t| !t.is_null());
    if !event_time {
        let matches = if involved.is_empty() { ns.is_empty() || ns == "default" } else { involved == ns };
        if !matches {
            out.push(not_matching());
        }
    } else {
        if involved.is_empty() && ns != "default" && ns != "kube-system" {
            out.push(not_matching());
        }
        let controller = s(if strict { "/reportingController" } else { "/reportingComponent" });
        if controller.is_empty() {
            out.push(Cause::new("FieldValueRequired", controller_field, "Required value"));
            out.push(Cause::new(
                "FieldValueInvalid",
                controller_field,
                "Invalid value: \"\": name part must be non-empty",
            ));
        }
        if !is_qualified_name(controller) {
            out.push(Cause::new(
                "FieldValueInvalid",
                controller_field,
                format!("Invalid value: {}: {QUALIFIED_NAME_PART}", Value::String(controller.into())),
            ));
        }
        for field in ["reportingInstance", "action", "reason"] {
            let v = s(&format!("/{field}"));
            if v.is_empty() {
                out.push(Cause::new("FieldValueRequired", field, "Required value"));
            } else if v.len() > 128 {
                out.push(Cause::new(
                    "FieldValueInvalid",
                    field,
                    "Invalid value: \"\": can have at most 128 characters",
                ));
            }
        }
    }
    if strict {
        if !event_time {
            out.push(Cause::new("FieldValueRequired", "eventTime", "Required value"));
        }
        let kind = s("/type");
        if kind != "Normal" && kind != "Warning" {
            out.push(Cause::new(
                "FieldValueInvalid",
                "type",
                format!("Invalid value: \"\": has invalid value: {kind}"),
            ));
        }
    }
    out
}

/// Why a qualified name's name part is invalid, in apimachinery's words.
const QUALIFIED_NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// What a Pod update may not change beyond the pod's own validation: its containers.
pub fn pod_update(old: &Value, new: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    for list in ["containers", "initContainers"] {
        let len = |v: &Value| v.pointer(&format!("/spec/{list}")).and_then(Value::as_array).map_or(0, Vec::len);
        if len(old) != len(new) {
            out.push(Cause::new(
                "FieldValueForbidden",
                format!("spec.{list}"),
                "Forbidden: pod updates may not add or remove containers",
            ));
        }
    }
    out
}

/// ConfigMaps and Secrets hold at most 1 MiB of values (`MaxSecretSize`, which ConfigMaps
/// share); Secret and binaryData values count decoded, as they are stored.
fn config_size_error(kind: &str, obj: &Value) -> Option<Cause> {
    const MAX: usize = 1024 * 1024;
    let values = |field: &str| obj.get(field).and_then(Value::as_object).into_iter().flat_map(|m| m.values());
    let decoded = |v: &Value| v.as_str().map_or(0, |s| s.len() / 4 * 3);
    let (total, field) = if kind == "Secret" {
        (values("data").map(decoded).sum::<usize>(), "data")
    } else {
        let text = values("data").map(|v| v.as_str().map_or(0, str::len)).sum::<usize>();
        (text + values("binaryData").map(decoded).sum::<usize>(), "[]")
    };
    (total > MAX).then(|| Cause::new("FieldValueTooLong", field, format!("Too long: may not be more than {MAX} bytes")))
}

/// Why `key` is not a ConfigMap or Secret key (`IsConfigMapKey`), or None.
fn config_key_error(key: &str) -> Option<&'static str> {
    if key.len() > 253 {
        return Some("must be no more than 253 characters");
    }
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Some(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        );
    }
    match key {
        "." => Some("must not be '.'"),
        ".." => Some("must not be '..'"),
        _ if key.starts_with("..") => Some("must not start with '..'"),
        _ => None,
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_names_and_config_keys() {
        let svc = |n: &str| service_name(&json!({"metadata": {"name": n}}));
        assert!(svc("1abc").is_empty());
        assert_eq!(svc("a.b")[0].message, "Invalid value: \"a.b\": must not contain dots");
        assert!(svc(&"a".repeat(64))[0].message.ends_with("must be no more than 63 characters"));
        let cm = |k: &str| config_data("ConfigMap", &json!({"data": {k: "v"}}));
        assert!(cm("key.name").is_empty() && cm("KEY_NAME").is_empty());
        assert_eq!(cm("a b/c")[0].field, "data[a b/c]");
        assert!(!cm("..x").is_empty() && !cm(".").is_empty());
        assert!(!config_data("Secret", &json!({"binaryData": {"a/b": ""}})).is_empty());
    }
}
