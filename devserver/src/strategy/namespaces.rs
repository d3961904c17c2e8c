//! Namespaces: names are DNS labels; a new namespace gets its name label, the `kubernetes`
//! finalizer and phase `Active`; the bootstrap namespaces may not be deleted; a deleted
//! namespace turns `Terminating` and stays until its `spec.finalizers` are gone (the namespace
//! controller's job, through `/finalize`, the only way to change them).

use super::Strategy;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceType;
use serde_json::{Value, json};

/// Namespaces that may never be deleted.
const UNDELETABLE: [&str; 3] = ["default", "kube-system", "kube-public"];

pub(super) struct Namespaces;

impl Strategy for Namespaces {
    fn prepare_for_create(&self, _app: &App, _rt: &ResourceType, obj: &mut Value) {
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let labels = meta.entry("labels").or_insert_with(|| Value::Object(Default::default()));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), Value::String(name));
            }
        }
        // The `kubernetes` finalizer is required on create (kept after the client's own).
        if !obj.get("spec").is_some_and(Value::is_object) {
            obj["spec"] = json!({});
        }
        let finalizers = obj["spec"].as_object_mut().map(|s| s.entry("finalizers").or_insert_with(|| json!([])));
        if let Some(f) = finalizers {
            if !f.is_array() {
                *f = json!([]);
            }
            if let Some(list) = f.as_array_mut()
                && !list.iter().any(|x| x == "kubernetes")
            {
                list.push(json!("kubernetes"));
            }
        }
        obj["status"] = json!({"phase": "Active"});
    }

    fn prepare_for_update(&self, _rt: &ResourceType, old: &Value, new: &mut Value, sub: Option<&str>) {
        // `spec.finalizers` changes only through `/finalize` (the namespace controller's way).
        if sub != Some("finalize") && new.is_object() {
            match old.pointer("/spec/finalizers") {
                Some(f) => {
                    if !new.get("spec").is_some_and(Value::is_object) {
                        new["spec"] = json!({});
                    }
                    new["spec"]["finalizers"] = f.clone();
                }
                None => {
                    if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                        spec.remove("finalizers");
                    }
                }
            }
        }
    }

    fn name_is_label(&self) -> bool {
        true
    }

    fn check_delete(&self, name: &str) -> ApiResult<()> {
        if !UNDELETABLE.contains(&name) {
            return Ok(());
        }
        let mut e = ApiError::new(
            403,
            "Forbidden",
            format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
        );
        e.details = Some(json!({"name": name, "kind": "namespaces"}));
        Err(e)
    }

    fn begin_delete(&self, obj: &mut Value, _now: &str) {
        obj["status"] = json!({"phase": "Terminating"});
    }

    fn awaits_finalization(&self, obj: &Value) -> bool {
        obj.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
    }
}
