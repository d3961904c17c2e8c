//! Turns `kube::runtime::watcher` events into Delta FIFO operations
//! (the part of client-go's `Reflector` that kube's watcher does not do).

use super::delta_fifo::DeltaFifo;
use super::store::{Indexer, meta_namespace_key};
use kube::Resource;
use kube::runtime::watcher;
use parking_lot::RwLock;
use std::sync::Arc;

/// Rewrites an object before it is cached (client-go `TransformFunc`), e.g. to
/// drop fields the controller never reads and save memory.
pub type Transform<K> = Arc<dyn Fn(K) -> K + Send + Sync>;

/// A transform that drops `metadata.managedFields`. Informers skip them while decoding
/// ([`WithoutManagedFields`](super::WithoutManagedFields)), which is cheaper; this is for objects
/// decoded elsewhere, or for an informer that keeps them for some kinds and not others.
pub fn strip_managed_fields<K: Resource>() -> Transform<K> {
    Arc::new(|mut o: K| {
        o.meta_mut().managed_fields = None;
        o
    })
}

/// Feeds watcher events into a [`DeltaFifo`].
///
/// * `Init` starts buffering a relist; `InitApply` objects are buffered;
///   `InitDone` hands the complete list to [`DeltaFifo::replace`], which emits
///   `Replaced` deltas and `DeletedFinalStateUnknown` tombstones for objects the
///   cache knows but the list no longer has. kube's own reflector drops such
///   objects silently; client-go (and this) tells the handlers.
/// * `Apply` becomes `Added` or `Updated`, `Delete` becomes `Deleted`.
/// * The transform runs once per object, before it becomes an `Arc`, so cached
///   objects are never mutated afterwards.
pub struct Reflector<K> {
    fifo: Arc<DeltaFifo<K>>,
    known: Indexer<K>,
    transform: Option<Transform<K>>,
    buffer: Option<Vec<Arc<K>>>,
    last_sync_rv: Arc<RwLock<Option<String>>>,
}

impl<K> std::fmt::Debug for Reflector<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reflector").field("relisting", &self.buffer.is_some()).finish()
    }
}

impl<K: Resource + Send + Sync + 'static> Reflector<K> {
    /// A reflector writing to `fifo`, whose known objects live in `known`.
    pub fn new(
        fifo: Arc<DeltaFifo<K>>,
        known: Indexer<K>,
        transform: Option<Transform<K>>,
        last_sync_rv: Arc<RwLock<Option<String>>>,
    ) -> Self {
        Self { fifo, known, transform, buffer: None, last_sync_rv }
    }

    fn prepare(&self, obj: K) -> Arc<K> {
        let obj = match &self.transform {
            Some(t) => t(obj),
            None => obj,
        };
        if let Some(rv) = obj.meta().resource_version.as_deref() {
            let mut last = self.last_sync_rv.write();
            if newer(rv, last.as_deref()) {
                // Reuse the buffer: this runs once per event.
                let buf = last.get_or_insert_with(String::new);
                buf.clear();
                buf.push_str(rv);
            }
        }
        Arc::new(obj)
    }

    /// Applies one watcher event.
    pub fn apply(&mut self, event: watcher::Event<K>) {
        match event {
            watcher::Event::Init => self.buffer = Some(Vec::new()),
            watcher::Event::InitApply(o) => {
                let o = self.prepare(o);
                self.buffer.get_or_insert_with(Vec::new).push(o);
            }
            watcher::Event::InitDone => {
                let list = self.buffer.take().unwrap_or_default();
                self.fifo.replace(list);
            }
            watcher::Event::Apply(o) => {
                let o = self.prepare(o);
                let key = meta_namespace_key(o.as_ref());
                if self.known.contains_key(&key) {
                    self.fifo.update_keyed(key, o);
                } else {
                    self.fifo.add_keyed(key, o);
                }
            }
            watcher::Event::Delete(o) => {
                let o = self.prepare(o);
                self.fifo.delete(o);
            }
        }
    }
}

/// Whether `rv` is newer than `last`. Resource versions are opaque, but every
/// API server uses integers; a non-numeric one is taken as newer.
fn newer(rv: &str, last: Option<&str>) -> bool {
    match (rv.parse::<u64>(), last.map(str::parse::<u64>)) {
        (Ok(a), Some(Ok(b))) => a >= b,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::delta_fifo::{DeletedObject, Delta};
    use futures::FutureExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use kube::api::ObjectMeta;

    fn cm(name: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                managed_fields: Some(vec![ManagedFieldsEntry::default()]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn relist_missing_object_becomes_tombstone_and_transform_runs() {
        let known = Indexer::new();
        let fifo = Arc::new(DeltaFifo::new(known.clone()));
        let rv = Arc::new(RwLock::new(None));
        let mut r = Reflector::new(fifo.clone(), known.clone(), Some(strip_managed_fields()), rv.clone());
        known.insert(Arc::new(cm("old", "1")));
        r.apply(watcher::Event::Init);
        r.apply(watcher::Event::InitApply(cm("new", "5")));
        assert!(fifo.is_empty(), "nothing is queued before InitDone");
        r.apply(watcher::Event::InitDone);
        let mut out = Vec::new();
        while let Some(x) = fifo.pop(|k, d, _| (k, d)).now_or_never().flatten() {
            out.push(x);
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[0].1[0], Delta::Replaced(o) if o.metadata.managed_fields.is_none()));
        assert!(matches!(&out[1].1[0], Delta::Deleted(DeletedObject::Tombstone(t)) if t.key == "ns/old"));
        assert_eq!(rv.read().as_deref(), Some("5"));
    }

    #[test]
    fn apply_is_add_or_update() {
        let known = Indexer::new();
        let fifo = Arc::new(DeltaFifo::new(known.clone()));
        let mut r = Reflector::new(fifo.clone(), known.clone(), None, Arc::default());
        known.insert(Arc::new(cm("a", "1")));
        r.apply(watcher::Event::Apply(cm("a", "2")));
        r.apply(watcher::Event::Apply(cm("b", "3")));
        let d1 = fifo.pop(|_, d, _| d).now_or_never().flatten().unwrap();
        let d2 = fifo.pop(|_, d, _| d).now_or_never().flatten().unwrap();
        assert!(matches!(d1[0], Delta::Updated(_)));
        assert!(matches!(d2[0], Delta::Added(_)));
    }

    #[test]
    fn resource_version_ordering() {
        assert!(newer("10", Some("9")));
        assert!(!newer("9", Some("10")));
        assert!(newer("x", Some("10")));
        assert!(newer("1", None));
    }
}
