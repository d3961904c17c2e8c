//! The controller: one shared informer factory (BitcoinNetworks, StatefulSets, Services, Pods)
//! and one for its own, labelled Secrets → handlers → one rate-limited queue → N workers → [`Context::reconcile`].
//!
//! Invariants (client-go's): workers start only after every cache synced; a key is never handed
//! to two workers at once (the queue guarantees it); success `forget`s the key's backoff, an
//! error requeues it rate-limited; `done` always follows `get`, even when a reconcile panics.

// RBAC (deploy/rbac.yaml is generated from these markers by `cargo xtask codegen`):
// the informers list + watch every kind the controller caches; it reads everything else from
// those caches, so it needs no `get`. `list` is what an informer falls back to (list + watch)
// on an API server that refuses streaming initial lists.
// +kubebuilder:rbac:groups=bitcoincontroller.christianb93.github.com,resources=bitcoinnetworks,verbs=list;watch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=services;pods,verbs=list;watch
// Secrets: the controller caches only the Secrets it created (a label-selected informer), so no
// other Secret is ever in its memory; a Secret a network names in spec.secret is read with get
// when the network is reconciled. RBAC cannot select by label, so list + watch still cover the
// kind (run the controller with --namespace and a Role to narrow that to one namespace).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// Events through events.k8s.io: create, and patch for a repeated event (its series).
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Leader election: one Lease in the controller's own namespace.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=bitcoin-controller

use futures::FutureExt;
use generated::{Clientset, SharedInformerFactory};
use runtime::events::{Recorder, Reporter};
use runtime::workqueue::{RateLimitingQueue, default_controller_rate_limiter};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::handlers::{self, Mapper};
use crate::metrics::Metrics;
use crate::reconcile::{Context, Error, Outcome};
use crate::resources::{self, PodSettings};
use crate::rpc::RpcClient;

/// The name the controller reports events and metrics under.
pub const CONTROLLER_NAME: &str = "bitcoin-controller";

/// How the controller runs (from flags, or set by tests).
#[derive(Clone, Debug)]
pub struct Config {
    /// Concurrent reconciles.
    pub workers: usize,
    /// Informer resync period (the periodic mesh check of Ready networks).
    pub resync: Duration,
    /// Watch only this namespace (`None`: all).
    pub namespace: Option<String>,
    /// Pod settings (image, RPC port).
    pub settings: PodSettings,
    /// Per-call bitcoind RPC timeout.
    pub rpc_timeout: Duration,
    /// Requeue delay while a network is not Ready.
    pub not_ready_requeue: Duration,
    /// How long to wait for the caches before giving up.
    pub cache_sync_timeout: Duration,
    /// This instance's name in events (pod name).
    pub instance: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            workers: 2,
            resync: Duration::from_secs(30),
            namespace: None,
            settings: PodSettings::default(),
            rpc_timeout: Duration::from_secs(5),
            not_ready_requeue: Duration::from_secs(5),
            cache_sync_timeout: Duration::from_secs(120),
            instance: None,
        }
    }
}

/// A wired controller, ready to [`Controller::run`].
pub struct Controller {
    ctx: Context,
    queue: RateLimitingQueue<String>,
    factory: SharedInformerFactory,
    /// The controller's own Secrets only (label-selected): apart from `factory`, because a
    /// factory's list options apply to every informer it makes.
    secret_factory: SharedInformerFactory,
    workers: usize,
    cache_sync_timeout: Duration,
    ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").field("workers", &self.workers).finish_non_exhaustive()
    }
}

impl Controller {
    /// Builds the factory, registers handlers and the secret index. Must run inside Tokio.
    pub fn new(clientset: Clientset, config: Config, metrics: Metrics) -> anyhow::Result<Self> {
        // Only networks resync: a network's periodic reconcile reads every related cache, so a
        // resync of its 1,000 pods would only queue the same key 1,000 more times.
        let mut builder = SharedInformerFactory::builder(&clientset)
            .default_resync(None)
            .resync_for::<apis::bitcoincontroller::v1::BitcoinNetwork>(config.resync);
        if let Some(ns) = &config.namespace {
            builder = builder.namespace(ns.clone());
        }
        let factory = SharedInformerFactory::from_runtime(builder.build());
        let mut own_secrets = SharedInformerFactory::builder(&clientset)
            .default_resync(None)
            .tweak_list_options(|c| c.labels(&resources::managed_by_selector()));
        if let Some(ns) = &config.namespace {
            own_secrets = own_secrets.namespace(ns.clone());
        }
        let secret_factory = SharedInformerFactory::from_runtime(own_secrets.build());
        let queue: RateLimitingQueue<String> =
            RateLimitingQueue::with_metrics("bitcoinnetworks", &metrics.queue, default_controller_rate_limiter());

        let networks = factory.bitcoincontroller().v1().bitcoin_networks();
        let stateful_sets = factory.apps().v1().stateful_sets();
        let services = factory.core().v1().services();
        let pods = factory.core().v1().pods();
        let secrets = secret_factory.core().v1().secrets();

        let mapper = Mapper { network_lister: networks.lister(), stateful_sets: stateful_sets.lister() };

        networks.informer().add_event_handler(handlers::network_handler(queue.clone()));
        stateful_sets.informer().add_event_handler(handlers::mapped_handler(queue.clone(), |s: &_| {
            handlers::owner_key(kube::Resource::meta(s)).into_iter().collect()
        }));
        services.informer().add_event_handler(handlers::mapped_handler(queue.clone(), |s: &_| {
            handlers::owner_key(kube::Resource::meta(s)).into_iter().collect()
        }));
        let m = mapper;
        pods.informer()
            .add_event_handler(handlers::mapped_handler(queue.clone(), move |p| m.pod_key(p).into_iter().collect()));
        secrets.informer().add_event_handler(handlers::mapped_handler(queue.clone(), |s: &_| {
            handlers::owner_key(kube::Resource::meta(s)).into_iter().collect()
        }));

        let reporter = Reporter { controller: CONTROLLER_NAME.into(), instance: config.instance.clone() };
        let ctx = Context {
            recorder: Recorder::new(clientset.client().clone(), reporter),
            networks: networks.lister(),
            stateful_sets: stateful_sets.lister(),
            services: services.lister(),
            pods: pods.lister(),
            secrets: secrets.lister(),
            clientset,
            rpc: RpcClient::new(config.rpc_timeout).counting(metrics.rpc_calls.clone()),
            settings: config.settings,
            metrics,
            not_ready_requeue: config.not_ready_requeue,
            status_writes: Default::default(),
        };
        Ok(Self {
            ctx,
            queue,
            factory,
            secret_factory,
            workers: config.workers.max(1),
            cache_sync_timeout: config.cache_sync_timeout,
            ready: Arc::new(AtomicBool::new(false)),
        })
    }

    /// True once every cache synced (what `/readyz` reports), on the leader and on a standby.
    pub fn ready_flag(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    /// The reconcile context (listers, clientset), e.g. for tests and the embedded printer.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Starts the informers and waits until every cache has synced (or the timeout passes).
    pub async fn sync_caches(&self) -> anyhow::Result<()> {
        self.factory.start();
        self.secret_factory.start();
        let mut synced = self.factory.wait_for_cache_sync(self.cache_sync_timeout).await;
        synced.extend(self.secret_factory.wait_for_cache_sync(self.cache_sync_timeout).await);
        match synced.iter().find(|(_, ok)| !**ok) {
            Some((kind, _)) => anyhow::bail!("cache of {kind} did not sync within {:?}", self.cache_sync_timeout),
            None => Ok(()),
        }
    }

    /// Stops the informers (for callers of [`Controller::sync_caches`] that do not `run`).
    pub async fn shutdown(&self) {
        self.queue.shut_down();
        self.stop_informers().await;
    }

    async fn stop_informers(&self) {
        self.factory.shutdown().await;
        self.secret_factory.shutdown().await;
    }

    /// Starts the informers and waits for the caches; `Ok(false)` when `cancel` fired first (the
    /// informers are then already stopped). Ready from here on: a synced replica can serve.
    async fn start_caches(&self, cancel: &CancellationToken) -> anyhow::Result<bool> {
        let synced = tokio::select! {
            s = self.sync_caches() => s,
            _ = cancel.cancelled() => Ok(()),
        };
        if synced.is_err() || cancel.is_cancelled() {
            self.shutdown().await;
            return synced.map(|()| false);
        }
        self.ready.store(true, Ordering::Release);
        Ok(true)
    }

    /// Starts the informers, waits for the caches, runs the workers until `cancel`, then stops
    /// taking new work, lets in-flight reconciles finish and stops the informers.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        if !self.start_caches(&cancel).await? {
            return Ok(());
        }
        run_workers(self.ctx.clone(), self.queue.clone(), self.workers, cancel).await;
        self.ready.store(false, Ordering::Release);
        self.stop_informers().await;
        tracing::info!("controller stopped");
        Ok(())
    }
}

impl Controller {
    /// Runs only while holding the Lease of `election` (client-go's leader election, with
    /// controller-runtime's split of duties): every replica starts its informers at once and is
    /// ready (`/readyz`) once they synced, so a standby passes its readiness probe and takes over
    /// with warm caches; only workers wait for the lease. Leadership is reported apart from
    /// readiness: the `leader_election_master_status` gauge and a log line when the replica
    /// starts waiting, when the leader changes and when it acquires or loses the lease. On
    /// `cancel` the leader drains and releases the lease. Losing the lease without `cancel` is an
    /// error (the process should restart, as client-go's controllers do).
    pub async fn run_leader_elected(
        self,
        client: kube::Client,
        election: runtime::leader_election::LeaderElectionConfig,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let lease = format!("{}/{}", election.namespace, election.lease_name);
        let identity = election.identity.clone();
        let gauge = self.ctx.metrics.leader(&election.lease_name);
        gauge.set(0);
        let elector = runtime::leader_election::LeaderElector::new(client, election)
            .map_err(|e| anyhow::anyhow!("leader election: {e}"))?;
        let me = identity.clone();
        let elector = Arc::new(elector.on_new_leader(move |holder| {
            if holder != me {
                tracing::info!(leader = holder, "another replica holds the leader lease; standing by");
            }
        }));
        if !self.start_caches(&cancel).await? {
            return Ok(());
        }
        tracing::info!(lease, identity, "caches synced (ready); waiting to acquire the leader lease");
        let (ctx, queue, workers) = (self.ctx.clone(), self.queue.clone(), self.workers);
        let leading_gauge = gauge.clone();
        let led = elector
            .run(
                cancel.clone(),
                move |token| async move {
                    leading_gauge.set(1);
                    tracing::info!("acquired the leader lease; starting workers");
                    run_workers(ctx, queue, workers, token).await;
                },
                || tracing::info!("stopped leading"),
            )
            .await;
        gauge.set(0);
        self.ready.store(false, Ordering::Release);
        if !led {
            self.queue.shut_down();
        }
        self.stop_informers().await;
        if !cancel.is_cancelled() {
            anyhow::bail!("lost the leader election lease {lease}");
        }
        tracing::info!("controller stopped");
        Ok(())
    }
}

/// Runs `workers` workers on `queue` until `cancel`, then drains: no new work is taken and
/// in-flight reconciles finish.
async fn run_workers(ctx: Context, queue: RateLimitingQueue<String>, workers: usize, cancel: CancellationToken) {
    tracing::info!(workers, "starting workers");
    let mut tasks = Vec::new();
    for id in 0..workers {
        tasks.push(tokio::spawn(worker(id, ctx.clone(), queue.clone())));
    }
    cancel.cancelled().await;
    tracing::info!("shutting down: draining in-flight reconciles");
    queue.shut_down_with_drain().await;
    for t in tasks {
        let _ = t.await;
    }
}

async fn worker(id: usize, ctx: Context, queue: RateLimitingQueue<String>) {
    while let Some(key) = queue.get().await {
        let result = AssertUnwindSafe(ctx.reconcile(&key)).catch_unwind().await;
        match result {
            Ok(Ok(Outcome::Done)) => queue.forget(&key),
            Ok(Ok(Outcome::RequeueAfter(after))) => {
                queue.forget(&key);
                queue.add_after(key.clone(), after);
            }
            Ok(Err(Error::Api { source: kube::Error::Api(ref s), .. })) if s.code == 409 => {
                tracing::info!(worker = id, key, "conflict (stale cache); requeueing");
                queue.add_rate_limited(key.clone());
            }
            Ok(Err(e)) => {
                tracing::warn!(worker = id, key, requeues = queue.num_requeues(&key), error = %e, "reconcile failed; requeueing with backoff");
                queue.add_rate_limited(key.clone());
            }
            Err(_) => {
                tracing::error!(worker = id, key, "reconcile panicked; requeueing with backoff");
                queue.add_rate_limited(key.clone());
            }
        }
        queue.done(&key);
    }
}
