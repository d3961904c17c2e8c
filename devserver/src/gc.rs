//! An optional garbage collector (off by default, like envtest, where kube-controller-manager is
//! absent). When enabled it does what the real one does for ownerReferences:
//! - background: an object whose owners are all gone is deleted;
//! - foreground: dependents of an owner deleting with the `foregroundDeletion` finalizer are
//!   deleted, and the finalizer is removed once no dependent is left;
//! - orphan: an owner deleting with the `orphan` finalizer is removed from its dependents'
//!   ownerReferences, then the finalizer is removed.
//!
//! It runs as one task that re-scans the store after writes (debounced), so it converges like a
//! controller rather than inside any request.

use crate::app::{App, now};
use crate::store::{Store, Write};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Starts the collector; it stops when the server's state is dropped.
pub fn spawn(app: &Arc<App>) {
    if tokio::runtime::Handle::try_current().is_err() {
        tracing::warn!("garbage collection needs a Tokio runtime; not started");
        return;
    }
    let weak: Weak<App> = Arc::downgrade(app);
    let mut notify = app.store.subscribe();
    tokio::spawn(async move {
        loop {
            if notify.changed().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let Some(app) = weak.upgrade() else { return };
            collect(&app.store);
        }
    });
}

fn uid(o: &Value) -> Option<&str> {
    o.pointer("/metadata/uid").and_then(Value::as_str)
}

fn owner_uids(o: &Value) -> Vec<String> {
    o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|rs| rs.iter().filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string)).collect())
        .unwrap_or_default()
}

fn has_finalizer(o: &Value, f: &str) -> bool {
    o.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|fs| fs.iter().any(|x| x.as_str() == Some(f)))
}

fn deleting(o: &Value) -> bool {
    o.pointer("/metadata/deletionTimestamp").is_some()
}

/// One pass over the store.
pub fn collect(store: &Store) {
    let all = store.all_objects();
    let by_uid: HashMap<&str, &Value> = all.iter().filter_map(|(_, _, o)| uid(o).map(|u| (u, o.as_ref()))).collect();
    let mut has_dependents: HashSet<String> = HashSet::new();
    for (res, key, o) in &all {
        let owners = owner_uids(o);
        if owners.is_empty() {
            continue;
        }
        has_dependents.extend(owners.iter().cloned());
        let all_gone = owners.iter().all(|u| !by_uid.contains_key(u.as_str()));
        let foreground_owner = owners
            .iter()
            .any(|u| by_uid.get(u.as_str()).is_some_and(|ow| deleting(ow) && has_finalizer(ow, "foregroundDeletion")));
        let orphaning: Vec<&String> = owners
            .iter()
            .filter(|u| by_uid.get(u.as_str()).is_some_and(|ow| deleting(ow) && has_finalizer(ow, "orphan")))
            .collect();
        if !orphaning.is_empty() {
            let drop: HashSet<String> = orphaning.into_iter().cloned().collect();
            let _ = store.transact::<()>(res, key, |cur, _| {
                let Some(cur) = cur else { return Ok(Write::Keep(Arc::new(Value::Null))) };
                let mut o = (**cur).clone();
                if let Some(refs) = o.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                    refs.retain(|r| !r.get("uid").and_then(Value::as_str).is_some_and(|u| drop.contains(u)));
                }
                Ok(Write::Put(o))
            });
        } else if (all_gone || foreground_owner) && !deleting(o) {
            delete_dependent(store, res, key);
        }
    }
    // Owners whose foreground/orphan work is done lose the finalizer (and go when it was the last).
    for (res, key, o) in &all {
        if !deleting(o) {
            continue;
        }
        let Some(u) = uid(o) else { continue };
        let done_foreground = has_finalizer(o, "foregroundDeletion") && !has_dependents.contains(u);
        let done_orphan = has_finalizer(o, "orphan") && !has_dependents.contains(u);
        if done_foreground || done_orphan {
            let _ = store.transact::<()>(res, key, |cur, _| {
                let Some(cur) = cur else { return Ok(Write::Keep(Arc::new(Value::Null))) };
                let mut o = (**cur).clone();
                let mut left = Vec::new();
                if let Some(fs) = o.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
                    fs.retain(|f| {
                        !((done_foreground && f.as_str() == Some("foregroundDeletion"))
                            || (done_orphan && f.as_str() == Some("orphan")))
                    });
                    left = fs.clone();
                }
                if left.is_empty() { Ok(Write::Delete) } else { Ok(Write::Put(o)) }
            });
        }
    }
}

/// Deletes a dependent like a background-propagation DELETE: objects with finalizers get a
/// deletionTimestamp, others are removed.
fn delete_dependent(store: &Store, res: &str, key: &str) {
    let ts = now();
    let _ = store.transact::<()>(res, key, |cur, _| {
        let Some(cur) = cur else { return Ok(Write::Keep(Arc::new(Value::Null))) };
        let has_finalizers =
            cur.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        if !has_finalizers {
            return Ok(Write::Delete);
        }
        let mut o = (**cur).clone();
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("deletionTimestamp".into(), Value::String(ts.clone()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        Ok(Write::Put(o))
    });
}
