//! CustomResourceDefinition handling: validating a CRD, deriving the served resource types from it,
//! and the condition lifecycle (NamesAccepted, then Established; Terminating on delete).

use crate::error::Cause;
use crate::resource::{ResourceType, ScalePaths};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use std::sync::Arc;

/// Validates a CRD the way the apiextensions-apiserver does on create and update.
pub fn validate(crd: &CustomResourceDefinition) -> Vec<Cause> {
    let mut out = Vec::new();
    let name = crd.metadata.name.clone().unwrap_or_default();
    let spec = &crd.spec;
    let expected = format!("{}.{}", spec.names.plural, spec.group);
    if name != expected {
        out.push(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    if !spec.group.contains('.') {
        out.push(Cause::new(
            "FieldValueInvalid",
            "spec.group",
            format!("Invalid value: \"{}\": should be a domain with at least one dot", spec.group),
        ));
    }
    if spec.scope != "Namespaced" && spec.scope != "Cluster" {
        out.push(Cause::new(
            "FieldValueNotSupported",
            "spec.scope",
            format!("Unsupported value: \"{}\": supported values: \"Cluster\", \"Namespaced\"", spec.scope),
        ));
    }
    if spec.names.plural.is_empty() {
        out.push(Cause::new("FieldValueRequired", "spec.names.plural", "Required value"));
    }
    if spec.names.kind.is_empty() {
        out.push(Cause::new("FieldValueRequired", "spec.names.kind", "Required value"));
    }
    if spec.versions.is_empty() {
        out.push(Cause::new(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: null: must have exactly one version marked as storage version",
        ));
    } else if spec.versions.iter().filter(|v| v.storage).count() != 1 {
        out.push(Cause::new(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: must have exactly one version marked as storage version",
        ));
    }
    let names = &spec.names;
    let labels = [("spec.names.plural".to_string(), Some(&names.plural))]
        .into_iter()
        .chain([("spec.names.singular".to_string(), names.singular.as_ref())])
        .chain(
            names
                .short_names
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, n)| (format!("spec.names.shortNames[{i}]"), Some(n))),
        )
        .chain(
            names
                .categories
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, n)| (format!("spec.names.categories[{i}]"), Some(n))),
        );
    for (field, value) in labels {
        if let Some(v) = value.filter(|v| !v.is_empty() && !crate::validation::is_dns1035_label(v)) {
            out.push(Cause::new("FieldValueInvalid", field, crate::validation::dns1035_message(v)));
        }
    }
    // Patterns must compile. kube-apiserver names a schema shared by every version
    // `spec.validation`, as its internal API stores it once.
    let schemas: Vec<Option<Value>> = spec
        .versions
        .iter()
        .map(|v| {
            v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()).and_then(|s| serde_json::to_value(s).ok())
        })
        .collect();
    let shared = schemas.windows(2).all(|w| w[0] == w[1]);
    for (i, schema) in schemas.iter().enumerate() {
        let Some(schema) = schema else { continue };
        if shared && i > 0 {
            break;
        }
        let path = if shared {
            "spec.validation.openAPIV3Schema".to_string()
        } else {
            format!("spec.versions[{i}].schema.openAPIV3Schema")
        };
        bad_patterns(schema, &path, &mut out);
    }
    for (i, v) in spec.versions.iter().enumerate() {
        match v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()) {
            None => out.push(Cause::new(
                "FieldValueRequired",
                format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "Required value: schemas are required",
            )),
            Some(schema) => {
                let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
                out.extend(crate::schema::check_structural(schema, &path));
                if schema.type_.as_deref() != Some("object") {
                    out.push(Cause::new(
                        "FieldValueInvalid",
                        format!("{path}.type"),
                        "Invalid value: \"\": must be object at the root",
                    ));
                }
            }
        }
    }
    out
}

/// Every `pattern` in `schema` that does not compile, as a cause at its path.
fn bad_patterns(schema: &Value, path: &str, out: &mut Vec<Cause>) {
    let Some(o) = schema.as_object() else { return };
    if let Some(p) = o.get("pattern").and_then(Value::as_str)
        && let Err(e) = regex::Regex::new(p)
    {
        let why = e.to_string().lines().last().unwrap_or_default().trim().to_string();
        out.push(Cause::new(
            "FieldValueInvalid",
            format!("{path}.pattern"),
            format!("Invalid value: {}: must be a valid regular expression, but isn't: {why}", Value::String(p.into())),
        ));
    }
    for key in ["properties", "patternProperties"] {
        for (name, sub) in o.get(key).and_then(Value::as_object).into_iter().flatten() {
            bad_patterns(sub, &format!("{path}.{key}[{name}]"), out);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = o.get(key) {
            bad_patterns(sub, &format!("{path}.{key}"), out);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for (i, sub) in o.get(key).and_then(Value::as_array).into_iter().flatten().enumerate() {
            bad_patterns(sub, &format!("{path}.{key}[{i}]"), out);
        }
    }
}

/// The resource types a CRD serves (one per served version).
pub fn resource_types(crd: &CustomResourceDefinition, terminating: bool) -> Vec<ResourceType> {
    let spec = &crd.spec;
    spec.versions
        .iter()
        .filter(|v| v.served)
        .map(|v| ResourceType {
            group: spec.group.clone(),
            version: v.name.clone(),
            kind: spec.names.kind.clone(),
            plural: spec.names.plural.clone(),
            singular: spec.names.singular.clone().unwrap_or_else(|| spec.names.kind.to_lowercase()),
            namespaced: spec.scope == "Namespaced",
            short_names: spec.names.short_names.clone().unwrap_or_default(),
            categories: spec.names.categories.clone().unwrap_or_default(),
            status_subresource: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
            scale: v.subresources.as_ref().and_then(|s| s.scale.as_ref()).map(|s| {
                ScalePaths::new(&s.spec_replicas_path, &s.status_replicas_path, s.label_selector_path.as_deref())
            }),
            schema: v.schema.as_ref().and_then(|s| s.open_api_v3_schema.clone()).map(Arc::new),
            printer_columns: v.additional_printer_columns.clone().unwrap_or_default(),
            decode: None,
            openapi: None,
            selectable_fields: v
                .selectable_fields
                .iter()
                .flatten()
                .map(|f| f.json_path.trim_start_matches('.').to_string())
                .collect(),
            custom: true,
            terminating,
            review: false,
        })
        .collect()
}

fn condition(ty: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": ty, "status": status, "lastTransitionTime": now, "reason": reason, "message": message})
}

/// The status after names were accepted (CR endpoints work from here on).
pub fn names_accepted_status(crd: &Value, now: &str) -> Value {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let mut accepted = names;
    if let Some(a) = accepted.as_object_mut() {
        if !a.contains_key("singular") {
            let kind = a.get("kind").and_then(Value::as_str).unwrap_or("").to_lowercase();
            a.insert("singular".into(), Value::String(kind));
        }
        if !a.contains_key("listKind") {
            let kind = a.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
            a.insert("listKind".into(), Value::String(format!("{kind}List")));
        }
    }
    json!({
        "acceptedNames": accepted,
        "storedVersions": stored,
        "conditions": [
            condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", now),
            condition("Established", "False", "Installing", "the initial names have been accepted", now),
        ]
    })
}

/// The status once the CRD is established (discovery lists it).
pub fn established_status(status: &Value, now: &str) -> Value {
    let mut s = status.clone();
    s["conditions"] = json!([
        condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", now),
        condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted", now),
    ]);
    s
}

/// True when the stored CRD object has `Established=True`.
pub fn is_established(crd: &Value) -> bool {
    crd.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|cs| {
        cs.iter().any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Established")
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
    })
}

/// The finalizer the server puts on a CRD being deleted until its CRs are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";
