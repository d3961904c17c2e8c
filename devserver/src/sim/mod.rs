//! SIMULATION: the parts of a cluster that are not the API server, played client-side.
//!
//! A real cluster does more than store objects: kube-controller-manager runs the StatefulSet
//! controller and the garbage collector, kubelets run pods, and the pods run programs (here
//! bitcoind). None of that exists on our machines, so this module simulates it, in the spirit of
//! [kwok](https://kwok.sigs.k8s.io/): every piece talks to the API server only through a
//! [`kube::Client`] (watches, the status subresource, ordinary creates and deletes), exactly like
//! the real components do. That keeps the simulation honest: it works against any API server,
//! not only the devserver, and the controller under test never has to special-case it.
//!
//! What runs after [`start`]:
//! - [`statefulset`]: a StatefulSet controller (pods `<sts>-<ordinal>`, OrderedReady or Parallel,
//!   ownerReferences, scale down from the highest ordinal, status through `/status`);
//! - [`kubelet`]: a kubelet for every pod (phase Running, a distinct loopback podIP from
//!   127.0.0.2 up, Ready after [`SimOptions::ready_delay`]), written through `pods/status`;
//! - [`bitcoind`]: an in-process Bitcoin Core JSON-RPC server ([`rpc`]) on `podIP:port` for every
//!   running pod that runs bitcoind (see [`bitcoind`] for how a pod is recognised and which port
//!   and credentials it uses);
//! - the crate's `gc` module: the garbage collector (background and foreground cascading deletion,
//!   orphaning), the same one `--gc` runs, switchable with [`SimOptions::garbage_collection`].
//!
//! Everything it logs says "simulated"; pods it runs get container ids `sim://...`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let server = devserver::DevServer::builder().start().await?;
//! let sim = devserver::sim::start(server.client()?, devserver::sim::SimOptions::default()).await?;
//! // ... create a StatefulSet whose pods run bitcoind, then:
//! if let Some(addr) = sim.rpc_addr("default", "bitcoin-0") {
//!     println!("simulated bitcoind RPC at http://{addr}/");
//! }
//! sim.shutdown().await;
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod bitcoind;
pub mod ipam;
pub mod kubelet;
pub mod rpc;
pub mod statefulset;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Locks a mutex, taking the data of a poisoned one (a panicked holder) as it is: the
/// simulation's state stays usable for the tests that watch it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How the simulation behaves. Every field has a default that suits tests (see [`Default`]).
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// How long a pod stays Running but not Ready (the simulated readiness probe's first success).
    /// Short by default so tests are fast; long enough that "Running before Ready" is observable.
    pub ready_delay: Duration,
    /// The RPC port of a simulated bitcoind whose pod spec names no container port. Defaults to
    /// 18443, Bitcoin Core's regtest RPC port since 0.16.
    pub rpc_port: u16,
    /// Whether the simulated garbage collector runs (ownerReference cascading deletion). On by
    /// default here, because a simulated cluster without kube-controller-manager's GC surprises
    /// controller authors who rely on ownerReferences for cleanup.
    pub garbage_collection: bool,
    /// Simulate only this namespace (`None`: all). Lets several simulations share one real API
    /// server, each acting on its own test's namespace and never on another's pods.
    pub namespace: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            ready_delay: Duration::from_millis(200),
            rpc_port: 18443,
            garbage_collection: true,
            namespace: None,
        }
    }
}

impl SimOptions {
    /// An `Api` for a namespaced kind in the simulated scope.
    pub(crate) fn api<K>(&self, client: &kube::Client) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
}

/// A pod's identity inside the simulation: namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodKey {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
}

impl PodKey {
    /// Builds a key from a namespace and a name.
    pub fn new(namespace: &str, name: &str) -> Self {
        PodKey { namespace: namespace.to_string(), name: name.to_string() }
    }

    /// The key of a pod object, or `None` when it has no name or namespace (bad input).
    pub fn of(pod: &Pod) -> Option<Self> {
        Some(PodKey { namespace: pod.metadata.namespace.clone()?, name: pod.metadata.name.clone()? })
    }
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Wake-up signals for the simulated controllers. Each loop owns one [`Notify`] (so a signal sent
/// while it is busy is kept as a permit and not lost) and re-reads the whole state when woken:
/// level-based, like the real controllers.
#[derive(Default)]
pub(crate) struct Wakers {
    pub kubelet: Notify,
    pub statefulset: Notify,
    pub bitcoind: Notify,
}

impl Wakers {
    /// Wakes every loop that reads pods or StatefulSets.
    pub fn all(&self) {
        self.kubelet.notify_one();
        self.statefulset.notify_one();
        self.bitcoind.notify_one();
    }
}

/// State shared by the simulated components of one [`start`] call.
pub(crate) struct Shared {
    pub options: SimOptions,
    pub client: kube::Client,
    pub pods: Store<Pod>,
    pub statefulsets: Store<StatefulSet>,
    pub wake: Wakers,
    pub ipam: ipam::Ipam,
    pub network: Arc<bitcoind::Network>,
}

/// A running simulation. Dropping it stops every task (use [`SimHandle::shutdown`] to also wait
/// until the RPC ports are closed).
pub struct SimHandle {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the simulation against the API server behind `client`: waits until its pod and
/// StatefulSet caches are synced, then runs the StatefulSet controller, the kubelet, the
/// bitcoind simulator and (if enabled) the garbage collector as background tasks.
///
/// Errors only when the caches cannot sync within 10 seconds (the server is unreachable or
/// refuses to list pods or StatefulSets), because a simulation that cannot see the cluster would
/// silently do nothing.
pub async fn start(client: kube::Client, options: SimOptions) -> anyhow::Result<SimHandle> {
    let (pods, pod_writer) = reflector::store::<Pod>();
    let (statefulsets, sts_writer) = reflector::store::<StatefulSet>();
    let (pod_api, sts_api) = (options.api::<Pod>(&client), options.api::<StatefulSet>(&client));
    let shared = Arc::new(Shared {
        options,
        client: client.clone(),
        pods,
        statefulsets,
        wake: Wakers::default(),
        ipam: ipam::Ipam::default(),
        network: Arc::new(bitcoind::Network::default()),
    });
    let tasks = vec![
        spawn_reflector(pod_api, pod_writer, Arc::downgrade(&shared)),
        spawn_reflector(sts_api, sts_writer, Arc::downgrade(&shared)),
    ];
    let mut handle = SimHandle { shared: shared.clone(), tasks };
    let synced = async {
        shared.pods.wait_until_ready().await?;
        shared.statefulsets.wait_until_ready().await
    };
    match tokio::time::timeout(Duration::from_secs(10), synced).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => anyhow::bail!("simulation: pod/StatefulSet cache writer dropped: {e}"),
        Err(_) => anyhow::bail!("simulation: pod and StatefulSet caches did not sync within 10s"),
    }
    handle.tasks.push(tokio::spawn(kubelet::run(shared.clone())));
    handle.tasks.push(tokio::spawn(statefulset::run(shared.clone())));
    handle.tasks.push(tokio::spawn(bitcoind::run(shared.clone())));
    if shared.options.garbage_collection {
        handle.tasks.push(tokio::spawn(crate::gc::run(client, shared.options.namespace.clone())));
    }
    tracing::info!(options = ?shared.options, "simulation started (statefulset controller, kubelet, bitcoind, gc)");
    Ok(handle)
}

/// Keeps a reflector store in sync with a watch and wakes the simulated controllers on every
/// event. Holds only a weak reference so a dropped simulation does not stay alive.
fn spawn_reflector<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    shared: std::sync::Weak<Shared>,
) -> JoinHandle<()>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Err(e) = event {
                tracing::warn!(error = %e, "simulation: watch failed; retrying with backoff");
                continue;
            }
            match shared.upgrade() {
                Some(shared) => shared.wake.all(),
                None => return,
            }
        }
    })
}

impl SimHandle {
    /// The podIP the simulated kubelet gave a pod, if it runs one. Same value as the pod's
    /// `status.podIP` once the status write has landed.
    pub fn pod_ip(&self, namespace: &str, pod: &str) -> Option<IpAddr> {
        self.shared.ipam.ip_of(&PodKey::new(namespace, pod))
    }

    /// The address of the pod's simulated bitcoind RPC server while it is running (not killed,
    /// pod Running), so tests can talk to it with any HTTP client.
    pub fn rpc_addr(&self, namespace: &str, pod: &str) -> Option<SocketAddr> {
        self.shared.network.running_addr(&PodKey::new(namespace, pod))
    }

    /// Simulates a bitcoind crash: stops the pod's RPC server and forgets its added nodes. The
    /// simulated readiness probe then fails, so the pod turns not Ready, and the node stays down
    /// until [`SimHandle::restart_node`] (the simulation never restarts it by itself).
    pub async fn kill_node(&self, namespace: &str, pod: &str) {
        let key = PodKey::new(namespace, pod);
        self.shared.network.kill(&key).await;
        self.shared.wake.all();
    }

    /// Starts the pod's simulated bitcoind again with empty state (no added nodes), as a container
    /// restart would; the pod's restartCount goes up and it turns Ready again.
    pub async fn restart_node(&self, namespace: &str, pod: &str) {
        let key = PodKey::new(namespace, pod);
        if self.shared.network.restart(&key).await {
            self.shared.ipam.count_restart(&key);
        }
        self.shared.wake.all();
    }

    /// Stops every simulated component and RPC server and waits until they are gone, so the
    /// ports are free when it returns. Objects in the API server are left as they are.
    pub async fn shutdown(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.shared.network.stop_all().await;
        self.shared.ipam.release_all();
        tracing::info!("simulation stopped");
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.shared.network.abort_all();
        self.shared.ipam.release_all();
    }
}

/// The current time as a Kubernetes timestamp (RFC 3339, whole seconds).
pub(crate) fn now() -> String {
    let secs = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(secs).map(|t| t.to_string()).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Waits until `notify` fires or `timeout` passes, then a short debounce so a burst of watch
/// events becomes one pass.
pub(crate) async fn wait(notify: &Notify, timeout: Duration) {
    tokio::select! {
        _ = notify.notified() => {}
        _ = tokio::time::sleep(timeout) => {}
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
}
