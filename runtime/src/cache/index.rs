//! Index functions (client-go `IndexFunc`, `Indexers`).

use kube::Resource;
use std::collections::HashMap;
use std::sync::Arc;

/// Computes the index values of an object (e.g. its namespace, a label value,
/// an owner UID). Infallible by design: client-go panics when an index function
/// errors; here a function that cannot index an object returns no values.
pub type IndexFunc<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// Named index functions.
pub type Indexers<K> = HashMap<String, IndexFunc<K>>;

/// The name of the namespace index every informer cache has (client-go
/// `cache.NamespaceIndex`); listers use it to list one namespace without a scan.
pub const NAMESPACE_INDEX: &str = "namespace";

/// Indexes an object by its namespace (cluster-scoped objects: no value).
pub fn namespace_index_func<K: Resource>() -> IndexFunc<K> {
    Arc::new(|o: &K| o.meta().namespace.iter().cloned().collect())
}

/// Errors from index queries.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IndexError {
    /// The named index is not registered.
    #[error("index {0:?} does not exist")]
    NoSuchIndex(String),
    /// `add_indexers` was given a name that is already registered.
    #[error("indexer {0:?} already exists")]
    Conflict(String),
}
