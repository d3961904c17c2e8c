//! The thread-safe store behind every informer: objects by `namespace/name`
//! key, plus named indexes (client-go `thread_safe_store.go` + `index.go`).

use super::index::{IndexError, IndexFunc, Indexers, NAMESPACE_INDEX, namespace_index_func};
use kube::Resource;
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

/// The cache key of an object: `namespace/name`, or `name` when cluster-scoped
/// (client-go `MetaNamespaceKeyFunc`).
pub fn meta_namespace_key<K: Resource>(obj: &K) -> String {
    let meta = obj.meta();
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// Splits a key made by [`meta_namespace_key`] into `(namespace, name)`.
pub fn split_meta_namespace_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, key),
    }
}

type Index = HashMap<String, HashSet<String>>;

struct State<K> {
    items: HashMap<String, Arc<K>>,
    indexers: Indexers<K>,
    /// index name -> indexed value -> keys. Invariant: no empty key sets are kept
    /// (client-go k8s#84959), so the map never grows with churn.
    indices: HashMap<String, Index>,
    /// The namespace index is the built-in one ([`Indexer::new`]): its value is part of the
    /// key, so replacing the object under the same key never changes it.
    namespace_index_by_key: bool,
}

/// A thread-safe map from key to `Arc<K>` with named secondary indexes
/// (client-go `cache.Indexer`).
///
/// Objects are stored as `Arc<K>` and never mutated in place: an update replaces
/// the `Arc`, so anything a reader holds stays valid and unchanged. Reads take a
/// shared lock only for as long as it takes to clone the `Arc`s they return; any
/// filtering (label selectors) happens after the lock is released.
///
/// Cloning an `Indexer` gives another handle to the same store.
pub struct Indexer<K> {
    state: Arc<RwLock<State<K>>>,
}

impl<K> Clone for Indexer<K> {
    fn clone(&self) -> Self {
        Self { state: self.state.clone() }
    }
}

impl<K> fmt::Debug for Indexer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.read();
        f.debug_struct("Indexer")
            .field("items", &s.items.len())
            .field("indexers", &s.indexers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<K: Resource + Send + Sync + 'static> Default for Indexer<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Resource + Send + Sync + 'static> Indexer<K> {
    /// An indexer with the namespace index ([`NAMESPACE_INDEX`]) that listers use.
    pub fn new() -> Self {
        let mut indexers: Indexers<K> = HashMap::new();
        indexers.insert(NAMESPACE_INDEX.to_string(), namespace_index_func());
        let indexer = Self::with_indexers(indexers);
        indexer.state.write().namespace_index_by_key = true;
        indexer
    }

    /// An indexer with exactly the given index functions.
    pub fn with_indexers(indexers: Indexers<K>) -> Self {
        let indices = indexers.keys().map(|n| (n.clone(), Index::new())).collect();
        Self {
            state: Arc::new(RwLock::new(State {
                items: HashMap::new(),
                indexers,
                indices,
                namespace_index_by_key: false,
            })),
        }
    }

    /// Inserts or replaces the object under its key, keeping every index
    /// consistent. Returns the previous object, if any.
    pub fn insert(&self, obj: Arc<K>) -> Option<Arc<K>> {
        let key = meta_namespace_key(obj.as_ref());
        self.insert_with_key(&key, obj)
    }

    pub(crate) fn insert_with_key(&self, key: &str, obj: Arc<K>) -> Option<Arc<K>> {
        let mut s = self.state.write();
        // An update (the common case) swaps the value in place and keeps the stored key.
        let old = match s.items.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, obj.clone())),
            None => {
                s.items.insert(key.to_string(), obj.clone());
                None
            }
        };
        s.update_indices(old.as_deref(), Some(&obj), key);
        old
    }

    /// Removes the object with `key`; returns it if it was present.
    pub fn delete(&self, key: &str) -> Option<Arc<K>> {
        let mut s = self.state.write();
        let old = s.items.remove(key)?;
        s.update_indices(Some(&old), None, key);
        Some(old)
    }

    /// Replaces the whole content (used on relist) and rebuilds the indexes.
    pub fn replace(&self, items: impl IntoIterator<Item = Arc<K>>) {
        let mut s = self.state.write();
        s.items = items.into_iter().map(|o| (meta_namespace_key(o.as_ref()), o)).collect();
        s.rebuild_indices();
    }

    /// The object with `key` (`namespace/name` or `name`).
    pub fn get_by_key(&self, key: &str) -> Option<Arc<K>> {
        self.state.read().items.get(key).cloned()
    }

    /// Whether an object with `key` is stored.
    pub fn contains_key(&self, key: &str) -> bool {
        self.state.read().items.contains_key(key)
    }

    /// Every stored object (cheap `Arc` clones).
    pub fn list(&self) -> Vec<Arc<K>> {
        self.state.read().items.values().cloned().collect()
    }

    /// Every stored key.
    pub fn list_keys(&self) -> Vec<String> {
        self.state.read().items.keys().cloned().collect()
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.state.read().items.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Objects whose `index_name` index function returned `value`
    /// (client-go `ByIndex`).
    pub fn by_index(&self, index_name: &str, value: &str) -> Result<Vec<Arc<K>>, IndexError> {
        let s = self.state.read();
        let index = s.indices.get(index_name).ok_or_else(|| IndexError::NoSuchIndex(index_name.to_string()))?;
        Ok(index
            .get(value)
            .map(|keys| keys.iter().filter_map(|k| s.items.get(k).cloned()).collect())
            .unwrap_or_default())
    }

    /// Keys whose `index_name` index function returned `value` (client-go `IndexKeys`).
    pub fn index_keys(&self, index_name: &str, value: &str) -> Result<Vec<String>, IndexError> {
        let s = self.state.read();
        let index = s.indices.get(index_name).ok_or_else(|| IndexError::NoSuchIndex(index_name.to_string()))?;
        Ok(index.get(value).map(|keys| keys.iter().cloned().collect()).unwrap_or_default())
    }

    /// Objects sharing at least one `index_name` value with `obj` (client-go `Index`).
    pub fn index(&self, index_name: &str, obj: &K) -> Result<Vec<Arc<K>>, IndexError> {
        let s = self.state.read();
        let f = s.indexers.get(index_name).ok_or_else(|| IndexError::NoSuchIndex(index_name.to_string()))?;
        let index = s.indices.get(index_name);
        let mut keys: HashSet<&String> = HashSet::new();
        for v in f(obj) {
            if let Some(set) = index.and_then(|i| i.get(&v)) {
                keys.extend(set.iter());
            }
        }
        Ok(keys.into_iter().filter_map(|k| s.items.get(k).cloned()).collect())
    }

    /// Every value the `index_name` index currently holds (client-go `ListIndexFuncValues`).
    pub fn list_index_func_values(&self, index_name: &str) -> Vec<String> {
        self.state.read().indices.get(index_name).map(|i| i.keys().cloned().collect()).unwrap_or_default()
    }

    /// Names of the registered index functions.
    pub fn indexer_names(&self) -> Vec<String> {
        self.state.read().indexers.keys().cloned().collect()
    }

    /// Adds index functions, indexing every object already stored (backfill).
    ///
    /// Fails without changing anything if a name is already registered
    /// (client-go `AddIndexers`).
    pub fn add_indexers(&self, new: Indexers<K>) -> Result<(), IndexError> {
        let mut s = self.state.write();
        if let Some(name) = new.keys().find(|n| s.indexers.contains_key(*n)) {
            return Err(IndexError::Conflict(name.clone()));
        }
        for (name, f) in new {
            let mut index = Index::new();
            for (key, obj) in &s.items {
                for v in f(obj) {
                    index.entry(v).or_default().insert(key.clone());
                }
            }
            s.indices.insert(name.clone(), index);
            s.indexers.insert(name, f);
        }
        Ok(())
    }
}

impl<K> State<K> {
    fn update_indices(&mut self, old: Option<&K>, new: Option<&K>, key: &str) {
        let State { indexers, indices, namespace_index_by_key, .. } = self;
        let replacing = old.is_some() && new.is_some();
        for (name, f) in indexers.iter() {
            if replacing && *namespace_index_by_key && name == NAMESPACE_INDEX {
                continue;
            }
            let index = match indices.get_mut(name) {
                Some(index) => index,
                None => indices.entry(name.clone()).or_default(),
            };
            update_single_index(index, f, old, new, key);
        }
    }

    fn rebuild_indices(&mut self) {
        let State { items, indexers, indices, .. } = self;
        indices.clear();
        for (name, f) in indexers.iter() {
            let mut index = Index::new();
            for (key, obj) in items.iter() {
                for v in f(obj) {
                    index.entry(v).or_default().insert(key.clone());
                }
            }
            indices.insert(name.clone(), index);
        }
    }
}

fn update_single_index<K>(index: &mut Index, f: &IndexFunc<K>, old: Option<&K>, new: Option<&K>, key: &str) {
    let old_values = old.map(|o| f(o)).unwrap_or_default();
    let new_values = new.map(|n| f(n)).unwrap_or_default();
    // Short-circuit the common case of an unchanged value (client-go does the
    // same for single-valued indexes, e.g. the namespace index).
    if old.is_some() && new.is_some() && old_values == new_values {
        return;
    }
    for v in &old_values {
        if new_values.contains(v) {
            continue;
        }
        if let Some(set) = index.get_mut(v) {
            set.remove(key);
            if set.is_empty() {
                index.remove(v);
            }
        }
    }
    for v in new_values {
        index.entry(v).or_default().insert(key.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn cm(ns: &str, name: &str, app: &str) -> Arc<ConfigMap> {
        Arc::new(ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                labels: Some([("app".to_string(), app.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn by_app() -> IndexFunc<ConfigMap> {
        Arc::new(|o: &ConfigMap| o.metadata.labels.as_ref().and_then(|l| l.get("app").cloned()).into_iter().collect())
    }

    #[test]
    fn keys_and_namespace_index() {
        let s = Indexer::new();
        s.insert(cm("a", "x", "1"));
        s.insert(cm("b", "x", "1"));
        s.insert(cm("a", "y", "2"));
        assert_eq!(s.len(), 3);
        assert!(s.get_by_key("a/x").is_some());
        let mut keys = s.index_keys(NAMESPACE_INDEX, "a").unwrap();
        keys.sort();
        assert_eq!(keys, vec!["a/x", "a/y"]);
        assert_eq!(split_meta_namespace_key("a/x"), (Some("a"), "x"));
        assert_eq!(split_meta_namespace_key("node1"), (None, "node1"));
    }

    #[test]
    fn index_follows_updates_and_deletes_and_drops_empty_sets() {
        let s = Indexer::new();
        s.add_indexers([("app".to_string(), by_app())].into()).unwrap();
        s.insert(cm("a", "x", "1"));
        assert_eq!(s.by_index("app", "1").unwrap().len(), 1);
        s.insert(cm("a", "x", "2"));
        assert!(s.by_index("app", "1").unwrap().is_empty());
        assert_eq!(s.by_index("app", "2").unwrap().len(), 1);
        assert_eq!(s.list_index_func_values("app"), vec!["2"]);
        s.delete("a/x");
        assert!(s.list_index_func_values("app").is_empty());
        assert!(s.list_index_func_values(NAMESPACE_INDEX).is_empty());
        assert!(matches!(s.by_index("nope", "1"), Err(IndexError::NoSuchIndex(_))));
    }

    #[test]
    fn add_indexers_backfills_and_rejects_conflicts() {
        let s = Indexer::new();
        s.insert(cm("a", "x", "1"));
        s.insert(cm("a", "y", "1"));
        s.add_indexers([("app".to_string(), by_app())].into()).unwrap();
        assert_eq!(s.by_index("app", "1").unwrap().len(), 2);
        assert_eq!(s.index("app", &cm("z", "z", "1")).unwrap().len(), 2);
        let err = s.add_indexers([("app".to_string(), by_app())].into());
        assert!(matches!(err, Err(IndexError::Conflict(n)) if n == "app"));
    }

    #[test]
    fn replace_rebuilds_indexes() {
        let s = Indexer::new();
        s.insert(cm("a", "x", "1"));
        s.replace(vec![cm("b", "y", "1")]);
        assert!(s.get_by_key("a/x").is_none());
        assert!(s.by_index(NAMESPACE_INDEX, "a").unwrap().is_empty());
        assert_eq!(s.by_index(NAMESPACE_INDEX, "b").unwrap().len(), 1);
    }

    #[test]
    fn held_arcs_are_not_mutated_by_updates() {
        let s = Indexer::new();
        s.insert(cm("a", "x", "1"));
        let held = s.get_by_key("a/x").unwrap();
        s.insert(cm("a", "x", "2"));
        assert_eq!(held.metadata.labels.as_ref().unwrap()["app"], "1");
    }
}
