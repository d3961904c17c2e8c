//! One shared informer per type for a whole process
//! (client-go `informers.SharedInformerFactory`).

use super::lister::Lister;
use super::processor::InformerMetrics;
use super::reflector::Transform;
use super::shared_informer::{InformerOptions, SharedIndexInformer};
use futures::future::{BoxFuture, join_all};
use kube::core::{ClusterResourceScope, NamespaceResourceScope};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Debug};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Builds the [`Api`] an informer watches, by the resource's scope: a
/// namespaced kind honours the factory's namespace, a cluster-scoped kind
/// ignores it (as client-go's generated informers do).
pub trait InformerScope {
    /// The `Api` for `K` in `namespace` (`None`: all namespaces).
    fn api<K>(client: Client, namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>;
}

impl InformerScope for NamespaceResourceScope {
    fn api<K>(client: Client, namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>,
    {
        match namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        }
    }
}

impl InformerScope for ClusterResourceScope {
    fn api<K>(client: Client, _namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>,
    {
        Api::all(client)
    }
}

/// The list/watch configuration every factory informer starts from: kube's defaults, except
/// that the initial list is streamed over the watch (`sendInitialEvents`, client-go's
/// WatchListClient, on by default since 1.35) and, where the server refuses that, is one list
/// request instead of one per 500 objects.
///
/// A streamed list is decoded object by object as the server sends it, so decoding overlaps the
/// server's work instead of waiting for the whole body, and no list-sized buffer is ever held.
/// An API server without WatchList answers 400/422; the informer then falls back to list and
/// watch, as client-go does. That list is unpaged: client-go's first list is
/// `resourceVersion=0`, answered whole from the watch cache (which ignores `limit`), and kube's
/// watcher keeps every page in memory until the list is complete anyway, so pages only add
/// round trips. Use [`SharedInformerFactoryBuilder::tweak_list_options`] to change either
/// (`page_size(n)`, `initial_list_strategy`).
pub fn default_watcher_config() -> watcher::Config {
    watcher::Config { page_size: None, ..Default::default() }.streaming_lists()
}

/// Adjusts the list/watch options of every informer of a factory
/// (client-go `TweakListOptionsFunc`): label and field selectors, page size...
pub type TweakListOptions = Arc<dyn Fn(watcher::Config) -> watcher::Config + Send + Sync>;

/// The type-erased view of an informer the factory needs to start and wait.
trait ErasedInformer: Send + Sync {
    fn has_synced(&self) -> bool;
    fn wait_for_sync(&self) -> BoxFuture<'static, ()>;
    fn run(&self, cancel: CancellationToken) -> BoxFuture<'static, ()>;
}

impl<K> ErasedInformer for SharedIndexInformer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    fn has_synced(&self) -> bool {
        SharedIndexInformer::has_synced(self)
    }
    fn wait_for_sync(&self) -> BoxFuture<'static, ()> {
        let i = self.clone();
        Box::pin(async move { i.wait_for_sync().await })
    }
    fn run(&self, cancel: CancellationToken) -> BoxFuture<'static, ()> {
        let i = self.clone();
        Box::pin(async move { i.run(cancel).await })
    }
}

struct Entry {
    name: String,
    typed: Box<dyn Any + Send + Sync>,
    erased: Arc<dyn ErasedInformer>,
    started: bool,
}

#[derive(Default)]
struct State {
    informers: HashMap<TypeId, Entry>,
    tasks: Vec<JoinHandle<()>>,
    shut_down: bool,
}

struct Inner {
    client: Client,
    namespace: Option<String>,
    tweak: Option<TweakListOptions>,
    default_resync: Option<Duration>,
    custom_resync: HashMap<TypeId, Duration>,
    transforms: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    keep_managed_fields: HashSet<TypeId>,
    metrics: Option<InformerMetrics>,
    in_order: bool,
    state: Mutex<State>,
    cancel: CancellationToken,
}

/// Hands out one [`SharedIndexInformer`] per resource type, so every part of
/// a controller manager asking for `K` shares one watch and one cache.
///
/// A factory is fixed to one namespace and one set of list options; a second
/// factory with other options gives other informers. Typical use:
///
/// 1. ask for informers / listers (`informer_for::<K>()`), add handlers;
/// 2. [`SharedInformerFactory::start`];
/// 3. [`SharedInformerFactory::wait_for_cache_sync`] before starting workers;
/// 4. [`SharedInformerFactory::shutdown`] on exit.
///
/// Cloning gives another handle to the same factory.
#[derive(Clone)]
pub struct SharedInformerFactory {
    inner: Arc<Inner>,
}

impl fmt::Debug for SharedInformerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.state.lock();
        f.debug_struct("SharedInformerFactory")
            .field("namespace", &self.inner.namespace)
            .field("informers", &s.informers.values().map(|e| &e.name).collect::<Vec<_>>())
            .finish()
    }
}

/// Options of a [`SharedInformerFactory`] (client-go's `SharedInformerOption`s).
pub struct SharedInformerFactoryBuilder {
    client: Client,
    namespace: Option<String>,
    tweak: Option<TweakListOptions>,
    default_resync: Option<Duration>,
    custom_resync: HashMap<TypeId, Duration>,
    transforms: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    keep_managed_fields: HashSet<TypeId>,
    metrics: Option<InformerMetrics>,
    in_order: bool,
}

impl fmt::Debug for SharedInformerFactoryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedInformerFactoryBuilder")
            .field("namespace", &self.namespace)
            .field("default_resync", &self.default_resync)
            .finish()
    }
}

impl SharedInformerFactoryBuilder {
    /// Watch only `namespace` (namespaced kinds; cluster-scoped kinds ignore it).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Adjust every informer's list/watch options (selectors, page size...).
    pub fn tweak_list_options(
        mut self,
        f: impl Fn(watcher::Config) -> watcher::Config + Send + Sync + 'static,
    ) -> Self {
        self.tweak = Some(Arc::new(f));
        self
    }

    /// Resync period of handlers added without one (`None`: no resync).
    pub fn default_resync(mut self, period: Option<Duration>) -> Self {
        self.default_resync = period;
        self
    }

    /// Resync period for the informer of `K`, overriding the default.
    pub fn resync_for<K: 'static>(mut self, period: Duration) -> Self {
        self.custom_resync.insert(TypeId::of::<K>(), period);
        self
    }

    /// Transform for the informer of `K` (client-go `SetTransform`): runs once per object
    /// before it is cached.
    pub fn transform_for<K: Send + Sync + 'static>(mut self, f: impl Fn(K) -> K + Send + Sync + 'static) -> Self {
        let t: Transform<K> = Arc::new(f);
        self.transforms.insert(TypeId::of::<K>(), Box::new(t));
        self
    }

    /// Decode and cache `metadata.managedFields` of `K`, which informers skip by default (see
    /// [`InformerOptions::keep_managed_fields`]).
    pub fn keep_managed_fields_for<K: 'static>(mut self) -> Self {
        self.keep_managed_fields.insert(TypeId::of::<K>());
        self
    }

    /// Report handler buffer lengths through these metrics.
    pub fn metrics(mut self, metrics: InformerMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Deliver events in observed order (client-go `RealFIFO`) rather than
    /// coalescing per key; see [`InformerOptions::in_order`].
    pub fn in_order(mut self, in_order: bool) -> Self {
        self.in_order = in_order;
        self
    }

    /// Builds the factory.
    pub fn build(self) -> SharedInformerFactory {
        SharedInformerFactory {
            inner: Arc::new(Inner {
                client: self.client,
                namespace: self.namespace,
                tweak: self.tweak,
                default_resync: self.default_resync,
                custom_resync: self.custom_resync,
                transforms: self.transforms,
                keep_managed_fields: self.keep_managed_fields,
                metrics: self.metrics,
                in_order: self.in_order,
                state: Mutex::new(State::default()),
                cancel: CancellationToken::new(),
            }),
        }
    }
}

impl SharedInformerFactory {
    /// A factory over all namespaces with the given default resync.
    pub fn new(client: Client, default_resync: Option<Duration>) -> Self {
        Self::builder(client).default_resync(default_resync).build()
    }

    /// A builder for a factory with options.
    pub fn builder(client: Client) -> SharedInformerFactoryBuilder {
        SharedInformerFactoryBuilder {
            client,
            namespace: None,
            tweak: None,
            default_resync: None,
            custom_resync: HashMap::new(),
            transforms: HashMap::new(),
            keep_managed_fields: HashSet::new(),
            metrics: None,
            in_order: false,
        }
    }

    /// The client informers use.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The shared informer of `K`, created on first request.
    ///
    /// Every call returns a handle to the same informer (one watch, one cache).
    /// An informer requested after [`Self::start`] runs on the next `start`.
    pub fn informer_for<K>(&self) -> SharedIndexInformer<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::Scope: InformerScope,
    {
        let id = TypeId::of::<K>();
        let mut s = self.inner.state.lock();
        if let Some(e) = s.informers.get(&id)
            && let Some(i) = e.typed.downcast_ref::<SharedIndexInformer<K>>()
        {
            return i.clone();
        }
        let api = <K::Scope as InformerScope>::api::<K>(self.inner.client.clone(), self.inner.namespace.as_deref());
        let mut config = default_watcher_config();
        if let Some(t) = &self.inner.tweak {
            config = t(config);
        }
        let mut options = InformerOptions::<K> {
            default_resync: self.inner.custom_resync.get(&id).copied().or(self.inner.default_resync),
            metrics: self.inner.metrics.clone(),
            in_order: self.inner.in_order,
            keep_managed_fields: self.inner.keep_managed_fields.contains(&id),
            ..Default::default()
        };
        if let Some(t) = self.inner.transforms.get(&id).and_then(|t| t.downcast_ref::<Transform<K>>()) {
            options.transform = Some(t.clone());
        }
        let informer = SharedIndexInformer::new(api, config, options);
        s.informers.insert(
            id,
            Entry {
                name: type_name::<K>(),
                typed: Box::new(informer.clone()),
                erased: Arc::new(informer.clone()),
                started: false,
            },
        );
        informer
    }

    /// A lister over the shared cache of `K`.
    pub fn lister_for<K>(&self) -> Lister<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::Scope: InformerScope,
    {
        self.informer_for::<K>().lister()
    }

    /// Starts every informer requested so far that is not running yet.
    /// Idempotent; does nothing after [`Self::shutdown`]. Needs a Tokio runtime.
    pub fn start(&self) {
        let mut s = self.inner.state.lock();
        if s.shut_down {
            return;
        }
        let mut tasks = Vec::new();
        for e in s.informers.values_mut().filter(|e| !e.started) {
            e.started = true;
            tasks.push(tokio::spawn(e.erased.run(self.inner.cancel.child_token())));
        }
        s.tasks.extend(tasks);
    }

    /// Waits up to `timeout` for every started informer's first list, and
    /// reports per type (`apiVersion/Kind`) whether it synced.
    pub async fn wait_for_cache_sync(&self, timeout: Duration) -> BTreeMap<String, bool> {
        let started: Vec<(String, Arc<dyn ErasedInformer>)> = {
            let s = self.inner.state.lock();
            s.informers.values().filter(|e| e.started).map(|e| (e.name.clone(), e.erased.clone())).collect()
        };
        let waits = join_all(started.iter().map(|(_, i)| i.wait_for_sync()));
        let _ = tokio::time::timeout(timeout, waits).await;
        started.into_iter().map(|(name, i)| (name, i.has_synced())).collect()
    }

    /// Stops every informer and waits for all their tasks (watches, handler
    /// tasks) to finish. Later calls to `start` do nothing.
    pub async fn shutdown(&self) {
        let tasks = {
            let mut s = self.inner.state.lock();
            s.shut_down = true;
            std::mem::take(&mut s.tasks)
        };
        self.inner.cancel.cancel();
        for t in tasks {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "informer task failed");
            }
        }
    }
}

fn type_name<K: Resource<DynamicType = ()>>() -> String {
    format!("{}/{}", K::api_version(&()), K::kind(&()))
}
