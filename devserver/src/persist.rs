//! `--data-dir` persistence, so a user can stop, kill or restart the devserver (or the
//! controller's embedded mode) without losing an acknowledged write.
//!
//! The directory holds a snapshot, [`STATE_FILE`] (the whole store as one JSON document), and
//! the write-ahead log [`crate::journal::JOURNAL_FILE`] of every change since it. A write is
//! answered only after its log record is fsynced (group commit, see [`crate::journal`]); the
//! log is folded into a new snapshot when it grows and on shutdown. A snapshot is written to a
//! temporary file, fsynced and renamed, so a crash leaves the old or the new one, never a torn
//! file. On start the snapshot is loaded and the log replayed on top: objects keep their uids
//! and resourceVersions, the global revision continues after the highest one ever logged (so a
//! resourceVersion is never handed out twice), CRDs serve their custom resources again, and the
//! watch history starts empty (a client resuming from an earlier revision gets 410 and relists,
//! as after an etcd compaction).
//!
//! A [`LOCK_FILE`] holds an exclusive lock while a server uses the directory: a second server
//! refuses to start and names the process that holds it.

use crate::app::App;
use crate::crd;
use crate::journal::{self, Journal};
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file name of the persisted state inside the data directory.
pub const STATE_FILE: &str = "state.json";

/// The format version written to the file; a file with another version is refused rather than
/// misread.
const FORMAT: u64 = 1;

/// The lock file's name inside the data directory (it holds the owner's process id).
pub const LOCK_FILE: &str = "lock";

/// Writes the current state to `dir/state.json` durably (temporary file, fsync, rename, fsync
/// of the directory) and returns the revision it covers.
pub fn save(app: &App, dir: &Path) -> anyhow::Result<u64> {
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
    let mut f = crate::kubeconfig::create_private(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec(&doc)?).with_context(|| format!("writing {}", tmp.display()))?;
    f.sync_all().with_context(|| format!("syncing {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
    journal::sync_dir(dir)?;
    Ok(rv)
}

/// Loads `dir/state.json` and replays the log on top of it into the store, and re-registers
/// the stored CRDs. Returns `false` for a fresh data directory (neither file exists); a
/// malformed snapshot or a corrupt log record is an error that names the file and the problem
/// (and the offset), so the server refuses to start instead of losing data.
pub fn load(app: &App, dir: &Path) -> anyhow::Result<bool> {
    let snapshot = read_snapshot(dir)?;
    let records = journal::replay(dir)?;
    if snapshot.is_none() && records.is_empty() {
        return Ok(false);
    }
    let (mut rv, tables) = snapshot.unwrap_or_default();
    let mut merged: HashMap<String, BTreeMap<String, Value>> =
        tables.into_iter().map(|(resource, objects)| (resource, objects.into_iter().collect())).collect();
    let base = rv;
    for r in records.into_iter().filter(|r| r.rv > base) {
        rv = rv.max(r.rv);
        let table = merged.entry(r.resource).or_default();
        match r.object {
            Some(o) => table.insert(r.key, o),
            None => table.remove(&r.key),
        };
    }
    let tables = merged.into_iter().map(|(resource, objects)| (resource, objects.into_iter().collect())).collect();
    app.store.restore(rv, tables);
    register_crds(app);
    Ok(true)
}

/// A snapshot's revision and tables.
type Snapshot = (u64, Vec<(String, Vec<(String, Value)>)>);

/// Reads `dir/state.json`; `None` when there is none.
fn read_snapshot(dir: &Path) -> anyhow::Result<Option<Snapshot>> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
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
    Ok(Some((rv, tables)))
}

/// Serves the custom resources of every stored CRD again.
fn register_crds(app: &App) {
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
}

/// The file with the https server's CA, certificate, key and admin token.
pub const TLS_FILE: &str = "tls.json";

/// The file with the minted ServiceAccount tokens.
pub const TOKENS_FILE: &str = "tokens.json";

/// A data directory locked for this process (see [`LOCK_FILE`]); [`DataDir::open`] uses it.
pub struct Locked {
    dir: PathBuf,
    file: File,
}

impl Locked {
    /// Creates `dir` (0700) if needed and takes its lock.
    pub fn acquire(dir: &Path) -> anyhow::Result<Locked> {
        create_private_dir(dir)?;
        Ok(Locked { dir: dir.to_path_buf(), file: lock(dir)? })
    }

    /// The https material kept in the directory, made and saved on first use: a restarted
    /// server keeps its CA and admin token, so kubeconfigs written before stay valid.
    pub fn tls_material(&self) -> anyhow::Result<crate::tls::TlsMaterial> {
        let path = self.dir.join(TLS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let v: Value =
                    serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))?;
                let field = |name: &str| {
                    v.get(name)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| anyhow::anyhow!("{}: no {name:?}", path.display()))
                };
                crate::tls::from_pem(field("ca")?, field("cert")?, field("key")?, field("token")?)
                    .with_context(|| format!("{}: unusable TLS material", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let m = crate::tls::generate()?;
                let doc = json!({"ca": m.ca_pem, "cert": m.cert_pem, "key": m.key_pem, "token": m.token});
                crate::kubeconfig::write_private(&path, &doc.to_string())
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(m)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// A data directory in use: its lock and its log. [`DataDir::close`] on shutdown.
pub struct DataDir {
    journal: Arc<Journal>,
    _lock: File,
}

impl DataDir {
    /// Loads the locked directory's state into `app`'s store and its ServiceAccount tokens, and
    /// sends every later change through the log (which starts by compacting itself).
    pub fn open(app: &Arc<App>, locked: Locked, group_commit: bool) -> anyhow::Result<DataDir> {
        let Locked { dir, file: lock } = locked;
        let dir = dir.as_path();
        app.auth.persist_tokens(dir.join(TOKENS_FILE))?;
        load(app, dir)?;
        let (snap, publish, fail) = (Arc::downgrade(app), Arc::downgrade(app), Arc::downgrade(app));
        let snapshot_dir = dir.to_path_buf();
        let hooks = journal::Hooks {
            snapshot: Box::new(move || match snap.upgrade() {
                Some(app) => save(&app, &snapshot_dir),
                None => anyhow::bail!("the server is gone"),
            }),
            publish: Box::new(move |rv| {
                if let Some(app) = publish.upgrade() {
                    app.store.publish(rv);
                }
            }),
            fail: Box::new(move |message| {
                if let Some(app) = fail.upgrade() {
                    app.store.fail(message);
                }
            }),
            group_commit,
        };
        let journal = Journal::open(dir, hooks)?;
        app.store.set_write_log(journal.clone());
        Ok(DataDir { journal, _lock: lock })
    }

    /// Writes what is pending and folds the log into a final snapshot; the lock is released
    /// when the `DataDir` is dropped.
    pub fn close(&self) {
        self.journal.close();
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("creating data directory {}", dir.display()))
}

/// Takes the directory's exclusive lock and writes our process id into the lock file; when
/// another process holds it, the error names that process.
fn lock(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
            anyhow::bail!(
                "data directory {} is in use by {who} (it holds the lock on {}); stop that server or use another --data-dir",
                dir.display(),
                path.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0).with_context(|| format!("writing {}", path.display()))?;
    write!(file, "{}", std::process::id()).with_context(|| format!("writing {}", path.display()))?;
    Ok(file)
}
