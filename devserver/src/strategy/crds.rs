//! CustomResourceDefinitions (apiextensions-apiserver's strategy and its controllers, run in
//! line): a new CRD starts with no accepted names; once stored its names are accepted and it is
//! established (its custom resources are served); a delete marks it `Terminating` with the
//! cleanup finalizer, removes its custom resources, then the finalizer.

use super::Strategy;
use crate::app::{App, now, object_key};
use crate::crd;
use crate::error::{ApiError, Cause};
use crate::resource::ResourceType;
use crate::store::{Outcome, Write};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) struct Crds;

impl Strategy for Crds {
    fn prepare_for_create(&self, _app: &App, _rt: &ResourceType, obj: &mut Value) {
        let stored: Vec<Value> = obj
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .map(|vs| vs.iter().filter(|v| v["storage"] == true).filter_map(|v| v.get("name").cloned()).collect())
            .unwrap_or_default();
        if let Some(o) = obj.as_object_mut() {
            // Names not yet accepted; the storage version recorded.
            o.insert(
                "status".into(),
                json!({"conditions": null, "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": stored}),
            );
        }
    }

    fn validate(&self, _rt: &ResourceType, obj: &Value, _old: Option<&Value>) -> Vec<Cause> {
        // A body that does not decode has already been refused by the kind's decode check.
        serde_json::from_value::<CustomResourceDefinition>(obj.clone()).map(|c| crd::validate(&c)).unwrap_or_default()
    }

    fn has_generation(&self) -> bool {
        true
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn deletion_finalizer(&self) -> Option<&'static str> {
        Some(crd::CLEANUP_FINALIZER)
    }

    fn begin_delete(&self, obj: &mut Value, now: &str) {
        set_terminating(
            obj,
            "InstanceDeletionPending",
            "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
            now,
        );
    }

    fn after_write(&self, app: &App, rt: &ResourceType, outcome: &Outcome) {
        let obj = outcome.object();
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        match outcome {
            Outcome::Created(_) => establish(app, rt, &name),
            Outcome::Deleted(_) => app.registry.remove_crd(&name),
            Outcome::Updated(o) => {
                serve(app, &name, o);
                let cleanup = Value::String(crd::CLEANUP_FINALIZER.into());
                let finalizers = o.pointer("/metadata/finalizers").and_then(Value::as_array);
                if o.pointer("/metadata/deletionTimestamp").is_some()
                    && finalizers.is_some_and(|f| f.contains(&cleanup))
                {
                    clean_up(app, rt, &name, o);
                }
            }
            Outcome::Unchanged(_) => {}
        }
    }
}

/// Serves (or, terminating, only reads and deletes) what the stored CRD `o` defines.
fn serve(app: &App, name: &str, o: &Value) {
    if let Ok(c) = serde_json::from_value(o.clone()) {
        let terminating = o.pointer("/metadata/deletionTimestamp").is_some();
        app.registry.set_crd(name, crd::resource_types(&c, terminating), crd::is_established(o));
    }
}

/// Rewrites the stored CRD `name` with `f` (nothing when it is gone).
fn rewrite(app: &App, rt: &ResourceType, name: &str, f: impl FnOnce(&mut Value) -> bool) -> Option<Outcome> {
    app.store
        .transact::<ApiError>(&rt.key(), name, |cur, _| {
            let Some(cur) = cur else { return Ok(Write::Keep(Arc::new(Value::Null))) };
            let mut o = (**cur).clone();
            Ok(if f(&mut o) { Write::Put(o) } else { Write::Delete })
        })
        .ok()
}

/// After a CRD is stored: accept its names (its custom resources are served), then establish it.
fn establish(app: &App, rt: &ResourceType, name: &str) {
    let Some(stored) = app.store.get(&rt.key(), name) else { return };
    let Ok(c) = serde_json::from_value(stored.as_ref().clone()) else { return };
    let types = crd::resource_types(&c, false);
    let now = now();
    app.registry.set_crd(name, types.clone(), false);
    rewrite(app, rt, name, |o| {
        o["status"] = crd::names_accepted_status(o, &now);
        true
    });
    app.registry.set_crd(name, types, true);
    rewrite(app, rt, name, |o| {
        let st = o.get("status").cloned().unwrap_or(json!({}));
        o["status"] = crd::established_status(&st, &now);
        true
    });
}

/// The finalizer's work: every custom resource of the CRD is removed, then the cleanup
/// finalizer; the CRD goes when no other finalizer is left.
fn clean_up(app: &App, rt: &ResourceType, name: &str, crd_obj: &Value) {
    if let Ok(c) = serde_json::from_value::<CustomResourceDefinition>(crd_obj.clone()) {
        let res_key = format!("{}/{}", c.spec.group, c.spec.names.plural);
        let (_, items) = app.store.list(&res_key, "");
        for it in items {
            let meta = |f: &str| it.pointer(&format!("/metadata/{f}")).and_then(Value::as_str).map(str::to_string);
            let key = object_key(meta("namespace").as_deref(), &meta("name").unwrap_or_default());
            let _ = app.store.transact::<ApiError>(&res_key, &key, |_, _| Ok(Write::Delete));
        }
    }
    let now = now();
    let outcome = rewrite(app, rt, name, |o| {
        if let Some(f) = o.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
            f.retain(|x| x.as_str() != Some(crd::CLEANUP_FINALIZER));
            if !f.is_empty() {
                set_terminating(o, "InstanceDeletionCompleted", "removed all instances", &now);
                return true;
            }
        }
        false
    });
    match outcome {
        Some(Outcome::Deleted(_)) => app.registry.remove_crd(name),
        Some(Outcome::Updated(o)) => serve(app, name, &o),
        _ => {}
    }
}

/// Sets the CRD's `Terminating` condition.
fn set_terminating(obj: &mut Value, reason: &str, message: &str, now: &str) {
    let condition = json!({"type": "Terminating", "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) else { return };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    if let Some(cs) = conditions.as_array_mut() {
        match cs.iter_mut().find(|c| c["type"] == "Terminating") {
            Some(c) => *c = condition,
            None => cs.push(condition),
        }
    }
}
