//! Delta FIFO: per-key lists of changes between the reflector and the
//! indexer (client-go `delta_fifo.go`).

use super::store::{Indexer, meta_namespace_key};
use kube::Resource;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use tokio::sync::Notify;

/// The last known state of an object that was deleted while the informer was
/// not watching: a relist found it gone, so the final state is unknown
/// (client-go `DeletedFinalStateUnknown`).
#[derive(Debug)]
pub struct DeletedFinalStateUnknown<K> {
    /// The cache key of the deleted object.
    pub key: String,
    /// The last state the cache had; it may be stale.
    pub obj: Arc<K>,
}

impl<K> Clone for DeletedFinalStateUnknown<K> {
    fn clone(&self) -> Self {
        Self { key: self.key.clone(), obj: self.obj.clone() }
    }
}

/// What a delete handler receives: the deleted object, or a tombstone.
#[derive(Debug)]
pub enum DeletedObject<K> {
    /// The watch delivered the delete, with the object's final state.
    Object(Arc<K>),
    /// A relist found the object gone (the delete itself was missed).
    Tombstone(DeletedFinalStateUnknown<K>),
}

impl<K> Clone for DeletedObject<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Object(o) => Self::Object(o.clone()),
            Self::Tombstone(t) => Self::Tombstone(t.clone()),
        }
    }
}

impl<K> DeletedObject<K> {
    /// The (last known) object, whichever variant this is.
    pub fn object(&self) -> &Arc<K> {
        match self {
            Self::Object(o) => o,
            Self::Tombstone(t) => &t.obj,
        }
    }

    /// Whether this is a [`DeletedFinalStateUnknown`] tombstone.
    pub fn is_tombstone(&self) -> bool {
        matches!(self, Self::Tombstone(_))
    }
}

/// One change to one object (client-go `Delta` with its `DeltaType`).
#[derive(Debug)]
pub enum Delta<K> {
    /// The object appeared in a watch.
    Added(Arc<K>),
    /// The object changed in a watch.
    Updated(Arc<K>),
    /// The object was deleted (or found missing by a relist: a tombstone).
    Deleted(DeletedObject<K>),
    /// The object was (re)listed.
    Replaced(Arc<K>),
    /// A periodic resync re-delivers the cached object.
    Sync(Arc<K>),
}

impl<K> Clone for Delta<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Added(o) => Self::Added(o.clone()),
            Self::Updated(o) => Self::Updated(o.clone()),
            Self::Deleted(d) => Self::Deleted(d.clone()),
            Self::Replaced(o) => Self::Replaced(o.clone()),
            Self::Sync(o) => Self::Sync(o.clone()),
        }
    }
}

impl<K> Delta<K> {
    /// The object carried by the delta.
    pub fn object(&self) -> &Arc<K> {
        match self {
            Self::Added(o) | Self::Updated(o) | Self::Replaced(o) | Self::Sync(o) => o,
            Self::Deleted(d) => d.object(),
        }
    }
}

struct State<K> {
    /// Pending deltas per key; a key is in `items` iff it is in `queue`.
    items: HashMap<String, Vec<Delta<K>>>,
    queue: VecDeque<String>,
    /// Whether the first `replace` (or any add) has happened.
    populated: bool,
    /// Items of the first `replace` not yet popped; synced when it reaches 0.
    initial_population_count: usize,
    closed: bool,
}

/// A queue of per-key delta lists.
///
/// Two modes: [`DeltaFifo::new`] coalesces per key (client-go `DeltaFIFO`);
/// [`DeltaFifo::in_order`] keeps every delta as its own entry (client-go
/// `RealFIFO`). Invariants (client-go `DeltaFIFO`; `RealFIFO` keeps all but
/// coalescing and dedup):
/// * **Coalescing**: all pending changes of one key are popped together, in
///   order, so a consumer that falls behind processes a key once per pop.
/// * **Dedup**: only two consecutive `Deleted` deltas collapse (keeping the
///   non-tombstone), so no real change is ever lost.
/// * **Replace** queues `Replaced` for every listed object and a `Deleted`
///   tombstone for every key that is known (in the indexer) or queued but
///   missing from the list.
/// * **Resync** queues `Sync` only for known keys with nothing queued.
/// * `pop` runs its callback with the FIFO locked, so the indexer and the queue
///   never disagree while `replace` or `resync` look at both.
pub struct DeltaFifo<K> {
    state: Mutex<State<K>>,
    ready: Notify,
    known: Indexer<K>,
    /// false: one queue entry per delta, popped one at a time (client-go's
    /// `RealFIFO`, global event order); true: per-key coalescing (`DeltaFIFO`).
    coalesce: bool,
}

impl<K> fmt::Debug for DeltaFifo<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("DeltaFifo").field("queued", &s.queue.len()).field("populated", &s.populated).finish()
    }
}

impl<K: Resource + Send + Sync + 'static> DeltaFifo<K> {
    /// A coalescing FIFO (client-go `DeltaFIFO`) whose known objects (for
    /// deletions and resync) are in `known`.
    pub fn new(known: Indexer<K>) -> Self {
        Self::with_coalescing(known, true)
    }

    /// A FIFO that keeps global event order (client-go `RealFIFO`, what
    /// informers use since `InOrderInformers`): every delta is its own entry,
    /// popped alone, so keys are never reordered against each other. Replace
    /// and resync behave as in the coalescing FIFO.
    pub fn in_order(known: Indexer<K>) -> Self {
        Self::with_coalescing(known, false)
    }

    fn with_coalescing(known: Indexer<K>, coalesce: bool) -> Self {
        Self {
            coalesce,
            state: Mutex::new(State {
                items: HashMap::new(),
                queue: VecDeque::new(),
                populated: false,
                initial_population_count: 0,
                closed: false,
            }),
            ready: Notify::new(),
            known,
        }
    }

    /// Queues an `Added` delta.
    pub fn add(&self, obj: Arc<K>) {
        self.add_keyed(meta_namespace_key(obj.as_ref()), obj);
    }

    /// [`DeltaFifo::add`] with the object's key already computed (the reflector has it).
    pub fn add_keyed(&self, key: String, obj: Arc<K>) {
        let mut s = self.state.lock();
        s.populated = true;
        self.queue_action(&mut s, key, Delta::Added(obj));
    }

    /// Queues an `Updated` delta.
    pub fn update(&self, obj: Arc<K>) {
        self.update_keyed(meta_namespace_key(obj.as_ref()), obj);
    }

    /// [`DeltaFifo::update`] with the object's key already computed.
    pub fn update_keyed(&self, key: String, obj: Arc<K>) {
        let mut s = self.state.lock();
        s.populated = true;
        self.queue_action(&mut s, key, Delta::Updated(obj));
    }

    /// Queues a `Deleted` delta, unless the object is neither known nor queued
    /// (it is already gone, client-go does the same).
    pub fn delete(&self, obj: Arc<K>) {
        let mut s = self.state.lock();
        s.populated = true;
        let key = meta_namespace_key(obj.as_ref());
        if !s.items.contains_key(&key) && !self.known.contains_key(&key) {
            return;
        }
        self.queue_action(&mut s, key, Delta::Deleted(DeletedObject::Object(obj)));
    }

    /// Replaces the content with a full list (a relist).
    pub fn replace(&self, list: Vec<Arc<K>>) {
        let keyed: Vec<(String, Arc<K>)> = list.into_iter().map(|o| (meta_namespace_key(o.as_ref()), o)).collect();
        let mut s = self.state.lock();
        // Tombstones for keys that are queued or known but missing from the list. On the first
        // list nothing is either, so the (large) key set is not even built.
        let mut missing: Vec<(String, Arc<K>)> = Vec::new();
        if !s.items.is_empty() || !self.known.is_empty() {
            let listed: HashSet<&str> = keyed.iter().map(|(k, _)| k.as_str()).collect();
            missing.extend(
                s.items
                    .iter()
                    .filter(|(k, _)| !listed.contains(k.as_str()))
                    .filter_map(|(k, d)| d.last().map(|d| (k.clone(), d.object().clone()))),
            );
            for key in self.known.list_keys() {
                if listed.contains(key.as_str()) || s.items.contains_key(&key) {
                    continue;
                }
                if let Some(obj) = self.known.get_by_key(&key) {
                    missing.push((key, obj));
                }
            }
        }
        let queued_before = s.queue.len();
        for (key, obj) in keyed {
            self.queue_action(&mut s, key, Delta::Replaced(obj));
        }
        for (key, obj) in missing {
            let t = DeletedFinalStateUnknown { key: key.clone(), obj };
            self.queue_action(&mut s, key, Delta::Deleted(DeletedObject::Tombstone(t)));
        }
        if !s.populated {
            // Nothing was queued before the first list (any add sets `populated`), so the
            // entries queued here are exactly the initial population.
            s.populated = true;
            s.initial_population_count = s.queue.len() - queued_before;
        }
    }

    /// Queues `Sync` for every known key that has nothing queued.
    pub fn resync(&self) {
        let mut s = self.state.lock();
        for key in self.known.list_keys() {
            if s.items.contains_key(&key) {
                continue;
            }
            if let Some(obj) = self.known.get_by_key(&key) {
                self.queue_action(&mut s, key, Delta::Sync(obj));
            }
        }
    }

    fn queue_action(&self, s: &mut State<K>, key: String, delta: Delta<K>) {
        if !self.coalesce {
            s.items.entry(key.clone()).or_default().push(delta);
            s.queue.push_back(key);
            self.ready.notify_one();
            return;
        }
        // A key already queued only gains a delta (no allocation); a new one is queued once.
        if let Some(deltas) = s.items.get_mut(&key) {
            deltas.push(delta);
            dedup_deltas(deltas);
            return;
        }
        s.items.insert(key.clone(), vec![delta]);
        s.queue.push_back(key);
        self.ready.notify_one();
    }

    /// Whether the first full list has been popped completely (client-go `HasSynced`).
    pub fn has_synced(&self) -> bool {
        let s = self.state.lock();
        s.populated && s.initial_population_count == 0
    }

    /// Number of keys with queued deltas.
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes the FIFO: `pop` returns `None` once it is empty.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_waiters();
    }

    /// Runs `f` with the FIFO locked, so no delta is processed meanwhile
    /// (client-go's `blockDeltas`, used to replay the cache to a late handler).
    pub(crate) fn with_lock<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.state.lock();
        f()
    }

    /// Waits for a key, then calls `process(key, deltas, is_in_initial_list)`
    /// with the FIFO locked. Returns `None` when closed and empty.
    pub async fn pop<R>(&self, process: impl FnOnce(String, Vec<Delta<K>>, bool) -> R) -> Option<R> {
        let mut process = Some(process);
        let mut out = None;
        self.pop_batch(1, |key, deltas, initial| {
            out = process.take().map(|p| p(key, deltas, initial));
        })
        .await?;
        out
    }

    /// Waits for a key, then calls `process` for it and for up to `max - 1` more queued keys,
    /// in order, all under one lock (a large list is drained without taking the lock and
    /// waking the consumer once per key). Returns how many keys were processed, or `None` when
    /// closed and empty.
    pub async fn pop_batch(&self, max: usize, mut process: impl FnMut(String, Vec<Delta<K>>, bool)) -> Option<usize> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.state.lock();
                let mut popped = 0;
                while popped < max.max(1) {
                    let Some((key, deltas, initial)) = self.take_front(&mut s) else {
                        break;
                    };
                    process(key, deltas, initial);
                    popped += 1;
                }
                if popped > 0 {
                    if !s.queue.is_empty() {
                        self.ready.notify_one();
                    }
                    return Some(popped);
                }
                if s.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Takes the oldest queued key with its deltas and whether it belongs to the initial list.
    fn take_front(&self, s: &mut State<K>) -> Option<(String, Vec<Delta<K>>, bool)> {
        let key = s.queue.pop_front()?;
        let is_in_initial_list = !(s.populated && s.initial_population_count == 0);
        if s.initial_population_count > 0 {
            s.initial_population_count -= 1;
        }
        let deltas = if self.coalesce {
            s.items.remove(&key).unwrap_or_default()
        } else {
            // One entry per delta: take the oldest of this key.
            let (first, now_empty) = match s.items.get_mut(&key) {
                Some(d) if !d.is_empty() => (Some(d.remove(0)), d.is_empty()),
                _ => (None, true),
            };
            if now_empty {
                s.items.remove(&key);
            }
            first.into_iter().collect()
        };
        Some((key, deltas, is_in_initial_list))
    }
}

/// Collapses the last two deltas when both are deletions, keeping the one with
/// more information (the non-tombstone).
fn dedup_deltas<K>(deltas: &mut Vec<Delta<K>>) {
    let n = deltas.len();
    if n < 2 {
        return;
    }
    if let (Delta::Deleted(a), Delta::Deleted(b)) = (&deltas[n - 2], &deltas[n - 1]) {
        let keep_older = b.is_tombstone() && !a.is_tombstone();
        let last = deltas.pop();
        if !keep_older && let Some(last) = last {
            deltas[n - 2] = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn cm(name: &str, rv: &str) -> Arc<ConfigMap> {
        Arc::new(ConfigMap {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn pop_now(f: &DeltaFifo<ConfigMap>) -> Option<(String, Vec<Delta<ConfigMap>>, bool)> {
        f.pop(|k, d, i| (k, d, i)).now_or_never().flatten()
    }

    #[test]
    fn coalesces_per_key_in_order() {
        let f = DeltaFifo::new(Indexer::new());
        f.add(cm("a", "1"));
        f.add(cm("b", "1"));
        f.update(cm("a", "2"));
        assert_eq!(f.len(), 2);
        let (k, d, _) = pop_now(&f).unwrap();
        assert_eq!(k, "ns/a");
        assert!(
            matches!(&d[..], [Delta::Added(_), Delta::Updated(o)] if o.metadata.resource_version.as_deref() == Some("2"))
        );
        assert_eq!(pop_now(&f).unwrap().0, "ns/b");
        assert!(pop_now(&f).is_none());
    }

    #[test]
    fn pop_batch_keeps_order_respects_max_and_counts_the_initial_list() {
        let f = DeltaFifo::new(Indexer::new());
        f.replace((0..5).map(|i| cm(&format!("k{i}"), "1")).collect());
        assert!(!f.has_synced());
        let mut seen = Vec::new();
        let n = f.pop_batch(3, |k, d, initial| seen.push((k, d.len(), initial))).now_or_never().flatten();
        assert_eq!(n, Some(3));
        assert!(!f.has_synced());
        let n = f.pop_batch(10, |k, d, initial| seen.push((k, d.len(), initial))).now_or_never().flatten();
        assert_eq!(n, Some(2));
        assert!(f.has_synced());
        let keys: Vec<_> = seen.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["ns/k0", "ns/k1", "ns/k2", "ns/k3", "ns/k4"]);
        assert!(seen.iter().all(|(_, len, initial)| *len == 1 && *initial));
        // Later keys are not part of the initial list; nothing queued means the pop waits.
        f.add(cm("late", "2"));
        let late = f.pop_batch(10, |k, _, initial| assert!(!initial, "{k}")).now_or_never().flatten();
        assert_eq!(late, Some(1));
        assert!(f.pop_batch(10, |_, _, _| {}).now_or_never().is_none());
        f.close();
        assert_eq!(f.pop_batch(10, |_, _, _| {}).now_or_never(), Some(None));
    }

    #[test]
    fn replace_emits_tombstones_for_known_and_queued_missing() {
        let known = Indexer::new();
        known.insert(cm("gone", "1"));
        known.insert(cm("kept", "1"));
        let f = DeltaFifo::new(known);
        f.add(cm("queued-gone", "2"));
        f.replace(vec![cm("kept", "3")]);
        let mut tombstones = Vec::new();
        while let Some((k, d, _)) = pop_now(&f) {
            if let Some(Delta::Deleted(DeletedObject::Tombstone(t))) = d.last() {
                assert_eq!(t.key, k);
                tombstones.push(k);
            }
        }
        tombstones.sort();
        assert_eq!(tombstones, vec!["ns/gone", "ns/queued-gone"]);
    }

    #[test]
    fn initial_population_and_has_synced() {
        let f = DeltaFifo::new(Indexer::new());
        assert!(!f.has_synced());
        f.replace(vec![cm("a", "1"), cm("b", "1")]);
        assert!(!f.has_synced());
        assert!(pop_now(&f).unwrap().2, "first item is in the initial list");
        assert!(!f.has_synced());
        pop_now(&f);
        assert!(f.has_synced());
        f.add(cm("c", "1"));
        assert!(!pop_now(&f).unwrap().2);
    }

    #[test]
    fn empty_initial_list_is_synced() {
        let f: DeltaFifo<ConfigMap> = DeltaFifo::new(Indexer::new());
        f.replace(vec![]);
        assert!(f.has_synced());
    }

    #[test]
    fn resync_skips_queued_keys() {
        let known = Indexer::new();
        known.insert(cm("a", "1"));
        known.insert(cm("b", "1"));
        let f = DeltaFifo::new(known);
        f.update(cm("a", "2"));
        f.resync();
        let mut seen = Vec::new();
        while let Some((k, d, _)) = pop_now(&f) {
            seen.push((k, d.len(), matches!(d[0], Delta::Sync(_))));
        }
        seen.sort();
        assert_eq!(seen, vec![("ns/a".into(), 1, false), ("ns/b".into(), 1, true)]);
    }

    #[test]
    fn double_delete_dedups_keeping_object_over_tombstone() {
        let known = Indexer::new();
        known.insert(cm("a", "1"));
        let f = DeltaFifo::new(known);
        f.delete(cm("a", "2"));
        f.replace(vec![]);
        let (_, d, _) = pop_now(&f).unwrap();
        assert_eq!(d.len(), 1);
        assert!(matches!(&d[0], Delta::Deleted(DeletedObject::Object(_))));
        // Deleting something unknown and unqueued is a no-op.
        f.delete(cm("zzz", "1"));
        assert!(f.is_empty());
    }

    #[test]
    fn in_order_mode_keeps_global_order() {
        let f = DeltaFifo::in_order(Indexer::new());
        f.add(cm("a", "1"));
        f.add(cm("b", "1"));
        f.update(cm("a", "2"));
        assert_eq!(f.len(), 3);
        let order: Vec<(String, usize)> = std::iter::from_fn(|| pop_now(&f)).map(|(k, d, _)| (k, d.len())).collect();
        assert_eq!(order, [("ns/a".into(), 1), ("ns/b".into(), 1), ("ns/a".into(), 1)]);
        // Replace still emits tombstones, counting queued keys.
        let known = Indexer::new();
        known.insert(cm("k", "1"));
        let f = DeltaFifo::in_order(known);
        f.add(cm("q", "1"));
        f.replace(vec![]);
        let mut tomb: Vec<String> = std::iter::from_fn(|| pop_now(&f))
            .filter(|(_, d, _)| matches!(d[0], Delta::Deleted(DeletedObject::Tombstone(_))))
            .map(|(k, _, _)| k)
            .collect();
        tomb.sort();
        assert_eq!(tomb, ["ns/k", "ns/q"]);
    }

    #[tokio::test]
    async fn close_ends_pop() {
        let f: DeltaFifo<ConfigMap> = DeltaFifo::new(Indexer::new());
        f.close();
        assert!(f.pop(|_, _, _| ()).await.is_none());
    }
}
