//! Typed read access to an informer's cache (client-go `listers.ResourceIndexer`).

use super::index::NAMESPACE_INDEX;
use super::store::Indexer;
use kube::Resource;
use kube::core::{Selector, SelectorExt};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The object is not in the cache (the lister's form of a 404).
///
/// Displayed like the API server's message, e.g. `configmaps "x" not found`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{resource}{} \"{name}\" not found", if group.is_empty() { String::new() } else { format!(".{group}") })]
pub struct NotFound {
    /// API group of the resource (empty for the core group).
    pub group: String,
    /// Plural resource name, e.g. `configmaps`.
    pub resource: String,
    /// Namespace that was searched (`None` for cluster-scoped lookups).
    pub namespace: Option<String>,
    /// The name that was not found.
    pub name: String,
}

fn not_found<K: Resource>(namespace: Option<&str>, name: &str) -> NotFound
where
    K::DynamicType: Default,
{
    let dt = K::DynamicType::default();
    NotFound {
        group: K::group(&dt).into_owned(),
        resource: K::plural(&dt).into_owned(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

fn matches<K: Resource>(selector: &Selector, obj: &K) -> bool {
    if selector.selects_all() {
        return true;
    }
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    selector.matches(obj.meta().labels.as_ref().unwrap_or(&EMPTY))
}

/// Lists and gets objects of one type from a shared cache.
///
/// Reads hold the cache's shared lock only while cloning `Arc`s; selector
/// matching runs after it is released, so a long list never stalls the
/// informer writing to the cache. Returned objects are shared: never mutate them.
pub struct Lister<K> {
    indexer: Indexer<K>,
}

impl<K> Clone for Lister<K> {
    fn clone(&self) -> Self {
        Self { indexer: self.indexer.clone() }
    }
}

impl<K> fmt::Debug for Lister<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lister").field("indexer", &self.indexer).finish()
    }
}

impl<K> Lister<K>
where
    K: Resource + Send + Sync + 'static,
    K::DynamicType: Default,
{
    /// A lister over `indexer`.
    pub fn new(indexer: Indexer<K>) -> Self {
        Self { indexer }
    }

    /// Every cached object (in all namespaces) matching `selector`.
    pub fn list(&self, selector: &Selector) -> Vec<Arc<K>> {
        let mut all = self.indexer.list();
        all.retain(|o| matches(selector, o.as_ref()));
        all
    }

    /// A cluster-scoped object by name.
    pub fn get(&self, name: &str) -> Result<Arc<K>, NotFound> {
        self.indexer.get_by_key(name).ok_or_else(|| not_found::<K>(None, name))
    }

    /// A lister restricted to `namespace` (client-go `Lister.<Kind>s(namespace)`).
    pub fn namespaced(&self, namespace: &str) -> NamespaceLister<K> {
        NamespaceLister { indexer: self.indexer.clone(), namespace: namespace.to_string() }
    }

    /// The underlying cache, for index queries.
    pub fn indexer(&self) -> &Indexer<K> {
        &self.indexer
    }
}

/// Lists and gets objects of one namespace (client-go `<Kind>NamespaceLister`).
pub struct NamespaceLister<K> {
    indexer: Indexer<K>,
    namespace: String,
}

impl<K> Clone for NamespaceLister<K> {
    fn clone(&self) -> Self {
        Self { indexer: self.indexer.clone(), namespace: self.namespace.clone() }
    }
}

impl<K> fmt::Debug for NamespaceLister<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceLister").field("namespace", &self.namespace).finish()
    }
}

impl<K> NamespaceLister<K>
where
    K: Resource + Send + Sync + 'static,
    K::DynamicType: Default,
{
    /// Objects of this namespace matching `selector`, found through the
    /// namespace index (no scan of other namespaces).
    pub fn list(&self, selector: &Selector) -> Vec<Arc<K>> {
        let mut objs = self.indexer.by_index(NAMESPACE_INDEX, &self.namespace).unwrap_or_else(|_| {
            // Without a namespace index (a hand-built indexer) fall back to a scan.
            self.indexer.list().into_iter().filter(|o| o.meta().namespace.as_deref() == Some(&self.namespace)).collect()
        });
        objs.retain(|o| matches(selector, o.as_ref()));
        objs
    }

    /// The object `namespace/name`.
    pub fn get(&self, name: &str) -> Result<Arc<K>, NotFound> {
        self.indexer
            .get_by_key(&format!("{}/{}", self.namespace, name))
            .ok_or_else(|| not_found::<K>(Some(&self.namespace), name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
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

    #[test]
    fn list_and_get() {
        let idx = Indexer::new();
        idx.insert(cm("a", "x", "web"));
        idx.insert(cm("a", "y", "db"));
        idx.insert(cm("b", "x", "web"));
        let l = Lister::new(idx);
        assert_eq!(l.list(&Selector::default()).len(), 3);
        let web: Selector = [("app", "web")].into_iter().collect();
        assert_eq!(l.list(&web).len(), 2);
        let a = l.namespaced("a");
        assert_eq!(a.list(&Selector::default()).len(), 2);
        assert_eq!(a.list(&web).len(), 1);
        assert_eq!(a.get("y").unwrap().metadata.name.as_deref(), Some("y"));
        let err = a.get("zzz").unwrap_err();
        assert_eq!(err.to_string(), "configmaps \"zzz\" not found");
        assert_eq!(err.namespace.as_deref(), Some("a"));
    }

    #[test]
    fn cluster_scoped_get() {
        let idx = Indexer::new();
        idx.insert(Arc::new(Namespace {
            metadata: ObjectMeta { name: Some("kube-system".into()), ..Default::default() },
            ..Default::default()
        }));
        let l = Lister::<Namespace>::new(idx);
        assert!(l.get("kube-system").is_ok());
        assert!(l.get("other").is_err());
    }
}
