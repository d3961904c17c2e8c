//! Object storage with one global, monotonically increasing resourceVersion (like etcd's
//! revision) and a bounded per-resource event history that watches resume from.
//!
//! Invariants kept here:
//! - every write takes the next global revision and stamps it into `metadata.resourceVersion`;
//! - a write and its history event happen under one lock, so a watch that starts from a list's
//!   revision sees exactly the changes after that list;
//! - history is bounded; a watch from a revision older than the retained history must get 410;
//! - with a [`WriteLog`] (`--data-dir`), a change becomes *visible* (to watches, and to answers
//!   through [`Store::wait_visible`]) only once the log has made it durable, so no client ever
//!   sees a change a crash could take back.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The type of a change, as sent on a watch stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was changed.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventType {
    /// The wire name (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change recorded in the history.
#[derive(Debug, Clone)]
pub struct Event {
    /// Revision of the change.
    pub rv: u64,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (for DELETED: the last state, with the deletion revision).
    pub object: Arc<Value>,
    /// The object before the change (MODIFIED and DELETED), used to detect selector transitions.
    pub prev: Option<Arc<Value>>,
    /// About how many bytes the event keeps alive (see [`approx_size`]).
    pub size: usize,
}

#[derive(Default)]
struct Table {
    objects: BTreeMap<String, Arc<Value>>,
    history: VecDeque<Event>,
    /// The sum of the retained events' sizes.
    history_bytes: usize,
    /// Highest revision whose event was dropped from `history` (0: nothing dropped).
    dropped_rv: u64,
}

struct Snapshot {
    rv: u64,
    resource: String,
    items: Arc<Vec<Arc<Value>>>,
}

struct Inner {
    rv: u64,
    tables: HashMap<String, Table>,
    snapshots: VecDeque<Snapshot>,
}

/// What a transaction decided to do with the object.
pub enum Write {
    /// Store this object (create or replace).
    Put(Value),
    /// Remove the object.
    Delete,
    /// Change nothing and answer with this object.
    Keep(Arc<Value>),
}

/// The result of a committed transaction.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The object was created.
    Created(Arc<Value>),
    /// The object was replaced.
    Updated(Arc<Value>),
    /// Nothing changed (byte-identical update or explicit keep).
    Unchanged(Arc<Value>),
    /// The object was removed; this is its last state.
    Deleted(Arc<Value>),
}

impl Outcome {
    /// The object the outcome carries.
    pub fn object(&self) -> &Arc<Value> {
        match self {
            Outcome::Created(o) | Outcome::Updated(o) | Outcome::Unchanged(o) | Outcome::Deleted(o) => o,
        }
    }
}

/// One resource's objects as `(key, object)` pairs, as [`Store::dump`] copies them.
pub type TableDump = (String, Vec<(String, Arc<Value>)>);

/// Where committed changes go before they count as durable (see [`crate::journal`]).
pub trait WriteLog: Send + Sync {
    /// Called under the store lock with every committed change, in revision order; `object` is
    /// `None` for a deletion. The log later calls [`Store::publish`] (or [`Store::fail`]).
    fn append(&self, rv: u64, resource: &str, key: &str, object: Option<&Arc<Value>>);
}

/// The shared store. Cheap to clone via `Arc`.
pub struct Store {
    inner: Mutex<Inner>,
    /// The visible revision: every change up to it may be shown to clients.
    notify: tokio::sync::watch::Sender<u64>,
    history_limit: usize,
    history_bytes_limit: usize,
    max_object_bytes: usize,
    log: OnceLock<Arc<dyn WriteLog>>,
    /// Set when the log can no longer make changes durable: nothing is acknowledged after it.
    failure: Mutex<Option<String>>,
}

/// How many continue snapshots are kept before the oldest token expires.
const SNAPSHOT_LIMIT: usize = 64;

impl Store {
    /// A store whose per-resource history keeps `history_limit` events and at most
    /// [`DEFAULT_HISTORY_BYTES`] of them.
    pub fn new(history_limit: usize) -> Self {
        Store::with_history_bytes(history_limit, DEFAULT_HISTORY_BYTES)
    }

    /// A store whose per-resource history keeps at most `history_limit` events and
    /// `history_bytes` bytes of them (the newest event is always kept), so a few changes to huge
    /// objects cannot pin gigabytes the way a count alone would allow.
    pub fn with_history_bytes(history_limit: usize, history_bytes: usize) -> Self {
        let (notify, _) = tokio::sync::watch::channel(1);
        Store {
            inner: Mutex::new(Inner { rv: 1, tables: HashMap::new(), snapshots: VecDeque::new() }),
            notify,
            history_limit: history_limit.max(1),
            history_bytes_limit: history_bytes,
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            log: OnceLock::new(),
            failure: Mutex::new(None),
        }
    }

    /// Refuses to store objects larger than `bytes` (default [`DEFAULT_MAX_OBJECT_BYTES`],
    /// etcd's request limit): such a write fails with [`TooLarge`].
    pub fn with_max_object_bytes(mut self, bytes: usize) -> Self {
        self.max_object_bytes = bytes;
        self
    }

    /// Sends every later change through `log`; from then on changes become visible only when
    /// the log publishes them. Set once, before serving (a second call is ignored).
    pub fn set_write_log(&self, log: Arc<dyn WriteLog>) {
        let _ = self.log.set(log);
    }

    /// Called by the write log: every change up to `rv` is durable and may be shown.
    pub fn publish(&self, rv: u64) {
        self.notify.send_if_modified(|v| {
            let newer = rv > *v;
            if newer {
                *v = rv;
            }
            newer
        });
    }

    /// Called by the write log when it cannot make changes durable any more (disk full, I/O
    /// error): every waiter and every later answer gets `message` instead of an acknowledgement.
    pub fn fail(&self, message: String) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
        self.notify.send_modify(|_| {});
    }

    /// The revision up to which changes are visible.
    pub fn visible_rv(&self) -> u64 {
        *self.notify.borrow()
    }

    /// Waits until every change up to `rv` is visible (immediately without a write log); an
    /// error when the write log failed, so the caller answers 500 instead of acknowledging.
    pub async fn wait_visible(&self, rv: u64) -> Result<(), String> {
        if self.log.get().is_none() {
            // Every write publishes itself before its transaction returns: nothing to wait for.
            return Ok(());
        }
        let mut rx = self.notify.subscribe();
        loop {
            if let Some(message) = self.failure.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return Err(message);
            }
            if *rx.borrow_and_update() >= rv {
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return Err("the store is shutting down".into());
            }
        }
    }

    /// Announces a change: directly without a write log, or through the log, which publishes it
    /// once durable. Called under the store lock so the log sees changes in revision order.
    fn commit(&self, rv: u64, resource: &str, key: &str, object: Option<&Arc<Value>>) -> bool {
        match self.log.get() {
            Some(log) => {
                log.append(rv, resource, key, object);
                false
            }
            None => true,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another request panicked mid-write; the data is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current global revision.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// A receiver woken on every write (its value is the new revision).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// The object stored under `key` in `resource`.
    pub fn get(&self, resource: &str, key: &str) -> Option<Arc<Value>> {
        self.lock().tables.get(resource)?.objects.get(key).cloned()
    }

    /// All objects of `resource` whose key starts with `prefix`, with the revision of the snapshot.
    pub fn list(&self, resource: &str, prefix: &str) -> (u64, Vec<Arc<Value>>) {
        let inner = self.lock();
        let items = match inner.tables.get(resource) {
            Some(t) => t
                .objects
                .range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| v.clone())
                .collect(),
            None => Vec::new(),
        };
        (inner.rv, items)
    }

    /// Every stored object of every resource, as (resource, key, object), for cluster-wide
    /// controllers such as the optional garbage collector.
    pub fn all_objects(&self) -> Vec<(String, String, Arc<Value>)> {
        let inner = self.lock();
        inner
            .tables
            .iter()
            .flat_map(|(r, t)| t.objects.iter().map(move |(k, o)| (r.clone(), k.clone(), o.clone())))
            .collect()
    }

    /// Keeps a list snapshot so that continue tokens read the same state.
    pub fn save_snapshot(&self, rv: u64, resource: &str, items: Arc<Vec<Arc<Value>>>) {
        let mut inner = self.lock();
        if inner.snapshots.iter().any(|s| s.rv == rv && s.resource == resource) {
            return;
        }
        inner.snapshots.push_back(Snapshot { rv, resource: resource.to_string(), items });
        while inner.snapshots.len() > SNAPSHOT_LIMIT {
            inner.snapshots.pop_front();
        }
    }

    /// A snapshot saved by [`Store::save_snapshot`], if it has not expired.
    pub fn snapshot(&self, rv: u64, resource: &str) -> Option<Arc<Vec<Arc<Value>>>> {
        self.lock().snapshots.iter().find(|s| s.rv == rv && s.resource == resource).map(|s| s.items.clone())
    }

    /// Runs `f` on the current object under the store lock and commits its decision.
    /// `f` receives the current object (if any) and the revision the write will get.
    /// A `Put` of an object over the size limit fails with [`TooLarge`] and changes nothing.
    pub fn transact<E: From<TooLarge>>(
        &self,
        resource: &str,
        key: &str,
        f: impl FnOnce(Option<&Arc<Value>>, u64) -> Result<Write, E>,
    ) -> Result<Outcome, E> {
        let mut inner = self.lock();
        let next_rv = inner.rv + 1;
        let current = inner.tables.get(resource).and_then(|t| t.objects.get(key)).cloned();
        let decision = f(current.as_ref(), next_rv)?;
        let publish_now;
        let outcome = match decision {
            Write::Keep(o) => return Ok(Outcome::Unchanged(o)),
            Write::Put(mut obj) => {
                if let Some(cur) = &current {
                    let mut probe = obj.clone();
                    set_rv(&mut probe, rv_of(cur));
                    if probe == **cur {
                        return Ok(Outcome::Unchanged(cur.clone()));
                    }
                }
                let size = approx_size(&obj);
                if size > self.max_object_bytes {
                    return Err(TooLarge { size, limit: self.max_object_bytes }.into());
                }
                set_rv(&mut obj, next_rv);
                let obj = Arc::new(obj);
                inner.rv = next_rv;
                let kind = if current.is_some() { EventType::Modified } else { EventType::Added };
                publish_now = self.commit(next_rv, resource, key, Some(&obj));
                self.record(&mut inner, resource, key, Some(obj.clone()), kind, current, obj.clone(), size);
                if kind == EventType::Added { Outcome::Created(obj) } else { Outcome::Updated(obj) }
            }
            Write::Delete => {
                let Some(cur) = current else {
                    return Ok(Outcome::Unchanged(Arc::new(Value::Null)));
                };
                inner.rv = next_rv;
                publish_now = self.commit(next_rv, resource, key, None);
                let mut last = (*cur).clone();
                set_rv(&mut last, next_rv);
                let last = Arc::new(last);
                let size = approx_size(&last);
                self.record(&mut inner, resource, key, None, EventType::Deleted, Some(cur), last.clone(), size);
                Outcome::Deleted(last)
            }
        };
        let rv = inner.rv;
        drop(inner);
        if publish_now {
            self.publish(rv);
        }
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        inner: &mut Inner,
        resource: &str,
        key: &str,
        stored: Option<Arc<Value>>,
        kind: EventType,
        prev: Option<Arc<Value>>,
        event_obj: Arc<Value>,
        size: usize,
    ) {
        let rv = inner.rv;
        let table = inner.tables.entry(resource.to_string()).or_default();
        match stored {
            Some(o) => {
                table.objects.insert(key.to_string(), o);
            }
            None => {
                table.objects.remove(key);
            }
        }
        // `size` is the event object's (see `approx_size`); the object before the change was
        // counted by its own event.
        table.history_bytes += size;
        table.history.push_back(Event { rv, kind, object: event_obj, prev, size });
        while table.history.len() > self.history_limit
            || (table.history_bytes > self.history_bytes_limit && table.history.len() > 1)
        {
            if let Some(e) = table.history.pop_front() {
                table.dropped_rv = e.rv;
                table.history_bytes -= e.size;
            }
        }
    }

    /// Events of `resource` after revision `after`, at most `max` of them, with the global
    /// revision at the time of reading (a watch that got no events has seen everything up to it).
    /// `Err(oldest)` when events after `after` have already been dropped from the history.
    /// Only visible events are returned (see [`Store::publish`]).
    pub fn events_after(&self, resource: &str, after: u64, max: usize) -> Result<(Vec<Event>, u64), u64> {
        let inner = self.lock();
        let visible = self.visible_rv().min(inner.rv);
        let Some(t) = inner.tables.get(resource) else {
            return Ok((Vec::new(), visible));
        };
        if after < t.dropped_rv {
            return Err(t.dropped_rv + 1);
        }
        let start = t.history.partition_point(|e| e.rv <= after);
        let events = t.history.iter().skip(start).take_while(|e| e.rv <= visible).take(max).cloned().collect();
        Ok((events, visible))
    }

    /// Drops every retained event, like an etcd compaction at the current revision: watches
    /// resuming from an earlier revision get 410 Expired and clients must relist.
    pub fn compact(&self) {
        let mut inner = self.lock();
        let rv = inner.rv;
        for t in inner.tables.values_mut() {
            t.history.clear();
            t.history_bytes = 0;
            t.dropped_rv = rv;
        }
        drop(inner);
        self.notify.send_modify(|_| {});
    }

    /// Every table with its objects (`key → object`) and the global revision, read under one
    /// lock so the copy is consistent (for `--data-dir` persistence, see [`crate::persist`]).
    /// Tables whose objects were all deleted are included, so a restore still knows them.
    pub fn dump(&self) -> (u64, Vec<TableDump>) {
        let inner = self.lock();
        let tables = inner
            .tables
            .iter()
            .map(|(r, t)| (r.clone(), t.objects.iter().map(|(k, o)| (k.clone(), o.clone())).collect()))
            .collect();
        (inner.rv, tables)
    }

    /// Loads persisted state (see [`Store::dump`]): objects keep their resourceVersions, the
    /// global revision continues from the highest of `rv` and theirs, and the history starts
    /// empty, so a watch resuming from an earlier revision gets 410 and its client relists
    /// (the events in between were not persisted).
    pub fn restore(&self, rv: u64, tables: Vec<(String, Vec<(String, Value)>)>) {
        let mut inner = self.lock();
        let mut top = rv.max(inner.rv);
        for (resource, objects) in tables {
            let table = inner.tables.entry(resource).or_default();
            for (key, object) in objects {
                top = top.max(rv_of(&object));
                table.objects.insert(key, Arc::new(object));
            }
        }
        inner.rv = top;
        for t in inner.tables.values_mut() {
            t.history.clear();
            t.history_bytes = 0;
            t.dropped_rv = top;
        }
        drop(inner);
        self.notify.send_replace(top);
    }

    /// How many events of `resource` are retained, and about how many bytes they hold.
    pub fn history_size(&self, resource: &str) -> (usize, usize) {
        self.lock().tables.get(resource).map(|t| (t.history.len(), t.history_bytes)).unwrap_or((0, 0))
    }

    /// The oldest revision a watch of `resource` can still resume from.
    pub fn oldest_resumable(&self, resource: &str) -> u64 {
        self.lock().tables.get(resource).map(|t| t.dropped_rv).unwrap_or(0)
    }
}

/// A write refused because the object is over the store's size limit.
#[derive(Debug, Clone, Copy)]
pub struct TooLarge {
    /// The object's size (see [`approx_size`]).
    pub size: usize,
    /// The limit.
    pub limit: usize,
}

/// Internal writes (seeding, the garbage collector) that ignore failures.
impl From<TooLarge> for () {
    fn from(_: TooLarge) {}
}

/// etcd's default request limit (`--max-request-bytes`, 1.5 MiB), which bounds an object.
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 1536 * 1024;

/// The default bound on one resource's history: 256 MiB.
pub const DEFAULT_HISTORY_BYTES: usize = 256 * 1024 * 1024;

/// About how many bytes `v` takes as JSON (strings and keys by length, a few bytes for every
/// other node): cheap enough to run on every write, close enough to bound memory.
pub fn approx_size(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(approx_size).sum::<usize>(),
        Value::Object(m) => 2 + m.iter().map(|(k, v)| k.len() + 4 + approx_size(v)).sum::<usize>(),
    }
}

/// Reads `metadata.resourceVersion` as a number (0 when absent or malformed).
pub fn rv_of(obj: &Value) -> u64 {
    obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Writes `metadata.resourceVersion`.
pub fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}
