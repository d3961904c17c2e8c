//! `--data-dir` persistence, so a user can stop and start the devserver (or the controller's
//! embedded mode) without losing their objects.
//!
//! The whole store is written as one JSON file, [`STATE_FILE`], in the data directory: after
//! changes (debounced, see [`spawn_saver`]) and once more when the server stops. Each write goes
//! to a temporary file that is then renamed over the old one, so a crash leaves either the old
//! or the new state, never a torn file. On start the file is loaded back: objects keep their
//! uids and resourceVersions, the global revision continues after the highest one, CRDs serve
//! their custom resources again, and the watch history starts empty (a client resuming from an
//! earlier revision gets 410 and relists, as after an etcd compaction).

use crate::app::App;
use crate::crd;
use anyhow::Context;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The file name of the persisted state inside the data directory.
pub const STATE_FILE: &str = "state.json";

/// The format version written to the file; a file with another version is refused rather than
/// misread.
const FORMAT: u64 = 1;

/// How long the saver waits after a change before writing, so a burst of writes is saved once.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Writes the current state to `dir/state.json` (atomically, via a temporary file and rename).
pub fn save(app: &App, dir: &Path) -> anyhow::Result<()> {
    let (rv, tables) = app.store.dump();
    let resources: serde_json::Map<String, Value> = tables
        .into_iter()
        .map(|(resource, objects)| {
            let items: Vec<Value> =
                objects.into_iter().map(|(key, obj)| json!({"key": key, "object": obj.as_ref()})).collect();
            (resource, Value::Array(items))
        })
        .collect();
    let doc = json!({"format": FORMAT, "resourceVersion": rv.to_string(), "resources": resources});
    std::fs::create_dir_all(dir).with_context(|| format!("creating data directory {}", dir.display()))?;
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(&doc)?).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Loads `dir/state.json` into the store and re-registers the stored CRDs. Returns `false` when
/// there is no state file yet (a fresh data directory); a malformed file is an error that names
/// the file and the problem, so the server refuses to start instead of losing data.
pub fn load(app: &App, dir: &Path) -> anyhow::Result<bool> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let bad = |what: &str| anyhow::anyhow!("{}: {what}", path.display());
    let doc: Value = serde_json::from_slice(&text).map_err(|e| bad(&format!("not JSON: {e}")))?;
    if doc.get("format").and_then(Value::as_u64) != Some(FORMAT) {
        return Err(bad(&format!("unsupported format (expected \"format\": {FORMAT})")));
    }
    let rv = doc
        .get("resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| bad("missing or malformed resourceVersion"))?;
    let resources = doc.get("resources").and_then(Value::as_object).ok_or_else(|| bad("missing resources"))?;
    let mut tables = Vec::with_capacity(resources.len());
    for (resource, items) in resources {
        let items = items.as_array().ok_or_else(|| bad(&format!("resources.{resource} is not a list")))?;
        let mut objects = Vec::with_capacity(items.len());
        for item in items {
            let key = item.get("key").and_then(Value::as_str);
            let object = item.get("object").filter(|o| o.is_object());
            let (Some(key), Some(object)) = (key, object) else {
                return Err(bad(&format!("resources.{resource}: an item without key or object")));
            };
            objects.push((key.to_string(), object.clone()));
        }
        tables.push((resource.clone(), objects));
    }
    app.store.restore(rv, tables);
    let (_, crds) = app.store.list("apiextensions.k8s.io/customresourcedefinitions", "");
    for o in crds {
        let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        match serde_json::from_value(o.as_ref().clone()) {
            Ok(c) => {
                let terminating = o.pointer("/metadata/deletionTimestamp").is_some();
                app.registry.set_crd(&name, crd::resource_types(&c, terminating), crd::is_established(&o));
            }
            Err(e) => {
                tracing::warn!(crd = %name, error = %e, "persisted CRD does not decode; its resources are not served")
            }
        }
    }
    Ok(true)
}

/// Saves the state after every burst of changes until aborted; the owner aborts it and calls
/// [`save`] once more on shutdown. Save errors are logged (the server keeps serving).
pub fn spawn_saver(app: Arc<App>, dir: PathBuf) -> tokio::task::JoinHandle<()> {
    let mut changes = app.store.subscribe();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            tokio::time::sleep(DEBOUNCE).await;
            changes.mark_unchanged();
            if let Err(e) = save(&app, &dir) {
                tracing::warn!(error = %format!("{e:#}"), "saving state failed");
            }
        }
    })
}
