//! The level-based, idempotent reconcile of one BitcoinNetwork.
//!
//! Reads come from the listers (the informer caches); writes go through the clientset and only
//! happen when the cache differs from the desired state, so a converged network costs no writes.
//! (The one read that is not cached: a Secret named in `spec.secret`, fetched with get, since the
//! controller caches only the Secrets it created; see controller.rs.)
//! Order: credentials Secret → headless Service → StatefulSet → pods → peer mesh → status.
//! A reconcile that creates owned objects publishes one `Created` event listing all of them.

// RBAC for the writes of a reconcile (see controller.rs for the reads): it creates and updates
// the StatefulSet and headless Service it owns, creates the `<name>-rpc` Secret, and writes the
// status subresource. It never deletes: owner references and the garbage collector do.
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=create;update
// +kubebuilder:rbac:groups="",resources=services,verbs=create;update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create
// +kubebuilder:rbac:groups=bitcoincontroller.christianb93.github.com,resources=bitcoinnetworks/status,verbs=update
// Setting blockOwnerDeletion=true on owned objects needs update on the owner's finalizers when
// the OwnerReferencesPermissionEnforcement admission plugin is on.
// +kubebuilder:rbac:groups=bitcoincontroller.christianb93.github.com,resources=bitcoinnetworks/finalizers,verbs=update

use apis::bitcoincontroller::v1::BitcoinNetwork;
use generated::Clientset;
use generated::listers::bitcoincontroller::v1::BitcoinNetworkLister;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::Resource;
use kube::api::{Api, PostParams};
use kube::core::Selector;
use kubernetes::listers::apps::v1::StatefulSetLister;
use kubernetes::listers::core::v1::{PodLister, SecretLister, ServiceLister};
use runtime::events::{Event, EventType, Recorder};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::mesh::{self, Peer};
use crate::metrics::{Metrics, RpcErrorLabels};
use crate::problems;
use crate::resources::{self, PodSettings};
use crate::rpc::RpcClient;
use crate::secret::Credentials;
use crate::status::{self, Observations};

/// Stable event reasons (what `kubectl describe` shows and alerts match on).
pub mod reasons {
    /// Owned objects were created: one event per reconcile, listing every object it created.
    pub const CREATED: &str = "Created";
    /// Creating an owned object failed.
    pub const CREATION_ERROR: &str = "CreationError";
    /// The StatefulSet's replicas were changed to `spec.nodes`.
    pub const SCALED: &str = "Scaled";
    /// An owned object had drifted and was corrected.
    pub const UPDATED: &str = "Updated";
    /// Updating an owned object failed.
    pub const UPDATE_ERROR: &str = "UpdateError";
    /// An object with the name the network needs exists and is not controlled by it.
    pub const ERR_RESOURCE_EXISTS: &str = "ErrResourceExists";
    /// `spec.secret` names a Secret that does not exist.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// The Secret lacks a credentials key.
    pub const SECRET_INVALID: &str = "SecretInvalid";
    /// Peers were added to nodes' added-node lists.
    pub const PEERS_ADDED: &str = "PeersAdded";
    /// Gone peers were removed from nodes' added-node lists.
    pub const PEERS_REMOVED: &str = "PeersRemoved";
    /// A bitcoind JSON-RPC call failed.
    pub const RPC_ERROR: &str = "RPCError";
    /// The network's name is longer than a name that can work.
    pub const NAME_TOO_LONG: &str = "NameTooLong";
    /// The network's name cannot name its Service.
    pub const INVALID_NAME: &str = "InvalidName";
    /// The API server refused an owned object as invalid.
    pub const OBJECT_REJECTED: &str = "ObjectRejected";
    /// The controller's RBAC does not allow a write it needs.
    pub const FORBIDDEN: &str = "Forbidden";
    /// bitcoind rejected the credentials (HTTP 401).
    pub const RPC_UNAUTHORIZED: &str = "RPCUnauthorized";
    /// bitcoind refused the controller's address (HTTP 403, `-rpcallowip`).
    pub const RPC_FORBIDDEN: &str = "RPCForbidden";
    /// Ready nodes are not all connected yet (or some did not answer RPC).
    pub const MESH_INCOMPLETE: &str = "MeshIncomplete";
}

/// What a client error says, for users: the API server's own message for an API error (kube's
/// `Display` appends a debug dump of the Status), the error's text otherwise.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        kube::Error::Api(s) => format!("HTTP {} {}", s.code, s.reason),
        other => other.to_string(),
    }
}

/// Why a reconcile failed; the worker requeues the key with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{verb} {kind} {name}: {}", api_message(source))]
    Api {
        /// The verb.
        verb: &'static str,
        /// The kind.
        kind: &'static str,
        /// The object name.
        name: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// An object of the needed name exists and is not controlled by the network.
    #[error("{kind} {name} already exists and is not managed by BitcoinNetwork {network}")]
    ResourceExists {
        /// The kind.
        kind: &'static str,
        /// The object name.
        name: String,
        /// The network.
        network: String,
    },
    /// Some nodes did not answer the mesh check.
    #[error("peer mesh incomplete: {0}")]
    Mesh(String),
    /// The network is waiting on something the user must fix (e.g. a missing Secret).
    #[error("{0}")]
    Blocked(String),
}

/// What the worker does after a successful reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Converged; the next event or resync triggers the next check.
    Done,
    /// Not Ready yet: look again after this delay (in addition to events).
    RequeueAfter(Duration),
}

/// Everything a reconcile needs: the caches, the clientset, the RPC client and the settings.
#[derive(Clone)]
pub struct Context {
    /// Writes go here.
    pub clientset: Clientset,
    /// Cached BitcoinNetworks.
    pub networks: BitcoinNetworkLister,
    /// Cached StatefulSets.
    pub stateful_sets: StatefulSetLister,
    /// Cached Secrets: only the controller's own (labelled `app.kubernetes.io/managed-by`).
    pub secrets: SecretLister,
    /// Cached Services.
    pub services: ServiceLister,
    /// Cached Pods.
    pub pods: PodLister,
    /// Publishes Kubernetes events.
    pub recorder: Recorder,
    /// bitcoind JSON-RPC.
    pub rpc: RpcClient,
    /// Flag-derived pod settings.
    pub settings: PodSettings,
    /// Metrics.
    pub metrics: Metrics,
    /// How soon a network that is not Ready is looked at again.
    pub not_ready_requeue: Duration,
    /// This controller's own status writes the network cache has not shown yet.
    pub status_writes: StatusWrites,
}

/// For each network (by key), the resourceVersion it had when this controller last wrote its
/// status. While the cache still shows that version, the cache has not seen the write: a status
/// computed from it is stale, and an update based on it is certain to fail with 409 Conflict
/// (the write moved the server past that version). Such a write is skipped; the watch event of
/// the earlier write enqueues the network again once the cache has it.
#[derive(Clone, Debug, Default)]
pub struct StatusWrites(Arc<Mutex<HashMap<String, String>>>);

impl StatusWrites {
    /// Whether the cached network (at `cached_version`) predates this controller's last status
    /// write of `key`. Forgets the write once the cache has moved on.
    pub fn cache_is_behind(&self, key: &str, cached_version: Option<&str>) -> bool {
        let mut writes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match (writes.get(key), cached_version) {
            (Some(based_on), Some(cached)) if based_on == cached => true,
            _ => {
                writes.remove(key);
                false
            }
        }
    }

    /// Records a successful status write of `key` based on the network at `based_on`.
    pub fn wrote(&self, key: &str, based_on: Option<&str>) {
        let mut writes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match based_on {
            Some(v) => writes.insert(key.to_string(), v.to_string()),
            None => writes.remove(key),
        };
    }

    /// Forgets `key` (the network is gone).
    pub fn forget(&self, key: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The owned objects one reconcile created, reported as one aggregated `Created` event (kube's
/// `Recorder` would turn one event per object into a create and a series patch per object, and
/// keep only the first note).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Creations {
    /// `Kind name (detail)` per created object, in creation order.
    objects: Vec<String>,
}

impl Creations {
    /// Records that `kind` `name` was created; `detail` must never contain a secret value.
    pub fn record(&mut self, kind: &str, name: &str, detail: Option<&str>) {
        self.objects.push(match detail {
            Some(d) => format!("{kind} {name} ({d})"),
            None => format!("{kind} {name}"),
        });
    }

    /// The note of the `Created` event, e.g. `Created Secret n-rpc (generated RPC credentials),
    /// Service n-svc (headless), StatefulSet n-sts (3 nodes)`; `None` when nothing was created.
    pub fn note(&self) -> Option<String> {
        (!self.objects.is_empty()).then(|| format!("Created {}", self.objects.join(", ")))
    }
}

fn plural(n: i32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn api_err<'a>(verb: &'static str, kind: &'static str, name: &'a str) -> impl FnOnce(kube::Error) -> Error + 'a {
    move |source| Error::Api { verb, kind, name: name.to_string(), source }
}

impl Context {
    async fn event(&self, net: &BitcoinNetwork, type_: EventType, reason: &str, note: String) {
        let ev = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
        self.metrics.writes.inc();
        if let Err(e) = self.recorder.publish(&ev, &net.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "could not publish event");
        }
    }

    /// Reconciles the network with key `namespace/name`.
    pub async fn reconcile(&self, key: &str) -> Result<Outcome, Error> {
        let start = Instant::now();
        let result = self.reconcile_inner(key).await;
        let label = match &result {
            Ok(Outcome::Done) => "success",
            Ok(Outcome::RequeueAfter(_)) => "requeue",
            Err(_) => "error",
        };
        self.metrics.reconciled(label, start.elapsed().as_secs_f64());
        result
    }

    async fn reconcile_inner(&self, key: &str) -> Result<Outcome, Error> {
        let (ns, name) = runtime::cache::split_meta_namespace_key(key);
        let ns = ns.unwrap_or("default");
        let Ok(net) = self.networks.bitcoin_networks(ns).get(name) else {
            tracing::debug!(key, "network is gone; owned objects are garbage-collected");
            self.status_writes.forget(key);
            return Ok(Outcome::Done);
        };
        let cache_is_behind = self.status_writes.cache_is_behind(key, net.metadata.resource_version.as_deref());
        if net.metadata.deletion_timestamp.is_some() {
            return Ok(Outcome::Done);
        }
        let mut obs = Observations::default();
        // A failure the user can fix is shown in status first, then returned (for the backoff).
        let mut failure = None;
        let creds = match problems::name_problem(name) {
            Some(problem) => {
                obs.blocked = Some(problem);
                None
            }
            None => {
                // One `Created` event per reconcile, published even when a later step fails:
                // what was created must be reported before the error is returned.
                let mut created = Creations::default();
                let owned = self.ensure_owned(&net, ns, &mut obs, &mut created).await;
                if let Some(note) = created.note() {
                    self.event(&net, EventType::Normal, reasons::CREATED, note).await;
                }
                match owned {
                    Ok(creds) => creds,
                    Err(e) => match problems::from_error(&e) {
                        Some(problem) => {
                            obs.blocked = Some(problem);
                            failure = Some(e);
                            None
                        }
                        None => return Err(e),
                    },
                }
            }
        };

        let selector: Selector = resources::labels(name).into_iter().collect();
        let pods = self.pods.pods(ns).list(&selector);
        obs.pod_problem = problems::pod_problem(pods.iter().map(AsRef::as_ref));
        let nodes = status::nodes_from_pods(&net, pods.iter().map(AsRef::as_ref));
        let peers: Vec<Peer> = nodes
            .iter()
            .filter(|n| n.ready)
            .filter_map(|n| Some(Peer { name: n.node_name.clone(), ip: n.ip.as_deref()?.parse::<IpAddr>().ok()? }))
            .collect();

        let mut mesh_error = None;
        match &creds {
            Some(creds) if !peers.is_empty() => {
                let members: std::collections::BTreeSet<String> = net
                    .status
                    .iter()
                    .flat_map(|s| s.nodes.iter())
                    .chain(nodes.iter())
                    .filter_map(|n| n.ip.clone())
                    .collect();
                let report = mesh::sync(&self.rpc, creds, self.settings.rpc_port, &peers, &members).await;
                obs.mesh_complete = report.complete();
                let secret = resources::secret_name_of(&net);
                obs.mesh_problem = problems::mesh_problem(&report, &secret, &self.settings.rpc_allow_ip, peers.len());
                self.report_mesh(&net, &report).await;
                if !report.errors.is_empty() {
                    let text: Vec<String> = report.errors.iter().map(|(n, e)| format!("{n}: {e}")).collect();
                    mesh_error = Some(text.join("; "));
                }
            }
            Some(_) => obs.mesh_complete = true,
            None => {}
        }

        let new_status = status::compute(&net, nodes, &obs);
        let ready = status::is_ready(Some(&new_status));
        if let Some((reason, message)) = &obs.blocked
            && status::ready_condition(net.status.as_ref()).is_none_or(|c| (&c.reason, &c.message) != (reason, message))
        {
            // Once per new problem, not per retry: the condition keeps showing it.
            tracing::warn!(network = %resources::name_of(&net), reason, message, "blocked");
            self.event(&net, EventType::Warning, reason, message.clone()).await;
        }
        if net.status.as_ref() != Some(&new_status) {
            if cache_is_behind {
                // Computed from a status older than our own last write, and certain to conflict.
                tracing::debug!(key, "cache has not seen the last status write yet; not writing a stale status");
            } else {
                let mut copy = (*net).clone();
                copy.status = Some(new_status);
                self.metrics.writes.inc();
                let written = self
                    .clientset
                    .bitcoincontroller_v1()
                    .bitcoin_networks(ns)
                    .update_status(&copy, &PostParams::default())
                    .await
                    .map_err(api_err("update status of", "BitcoinNetwork", name))?;
                // A write the server took as a no-op keeps the resourceVersion, and no watch event
                // would ever clear the mark: only a write that moved the object is remembered.
                if written.metadata.resource_version != net.metadata.resource_version {
                    self.status_writes.wrote(key, net.metadata.resource_version.as_deref());
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if let Some(e) = mesh_error {
            return Err(Error::Mesh(e));
        }
        if let Some((_, message)) = obs.blocked {
            return Err(Error::Blocked(message));
        }
        Ok(if ready { Outcome::Done } else { Outcome::RequeueAfter(self.not_ready_requeue) })
    }

    /// Secret, Service and StatefulSet, in this order; records what it creates in `created`.
    /// The credentials, when available.
    async fn ensure_owned(
        &self,
        net: &BitcoinNetwork,
        ns: &str,
        obs: &mut Observations,
        created: &mut Creations,
    ) -> Result<Option<Credentials>, Error> {
        let (creds, secret_version) = match self.ensure_secret(net, ns, obs, created).await? {
            Some((c, v)) => (Some(c), v),
            None => (None, None),
        };
        self.ensure_service(net, ns, created).await?;
        self.ensure_stateful_set(net, ns, secret_version.as_deref(), created).await?;
        Ok(creds)
    }

    async fn report_mesh(&self, net: &BitcoinNetwork, report: &mesh::MeshReport) {
        let pairs = |v: &[(String, String)]| v.iter().map(|(n, p)| format!("{n}+{p}")).collect::<Vec<_>>().join(", ");
        if !report.added.is_empty() {
            tracing::info!(network = %resources::name_of(net), added = %pairs(&report.added), "peers added");
            self.event(net, EventType::Normal, reasons::PEERS_ADDED, format!("Added peers: {}", pairs(&report.added)))
                .await;
        }
        if !report.removed.is_empty() {
            let text = report.removed.iter().map(|(n, p)| format!("{n}-{p}")).collect::<Vec<_>>().join(", ");
            tracing::info!(network = %resources::name_of(net), removed = %text, "peers removed");
            self.event(net, EventType::Normal, reasons::PEERS_REMOVED, format!("Removed peers: {text}")).await;
        }
        for (node, e) in &report.errors {
            self.metrics.rpc_errors.get_or_create(&RpcErrorLabels { kind: e.kind().into() }).inc();
            tracing::warn!(network = %resources::name_of(net), node, error = %e, "RPC failed");
        }
        if !report.errors.is_empty() {
            let text: Vec<String> = report.errors.iter().map(|(n, e)| format!("{n}: {e}")).collect();
            self.event(net, EventType::Warning, reasons::RPC_ERROR, text.join("; ")).await;
        }
    }

    /// The credentials for RPC and the Secret's resourceVersion: from `spec.secret`, or from the
    /// `<name>-rpc` Secret the controller creates. `None` (with `obs.blocked` set) when they are
    /// not available yet.
    async fn ensure_secret(
        &self,
        net: &BitcoinNetwork,
        ns: &str,
        obs: &mut Observations,
        created: &mut Creations,
    ) -> Result<Option<(Credentials, Option<String>)>, Error> {
        let name = resources::secret_name_of(net);
        let secret: std::sync::Arc<Secret> = match self.find_secret(net, ns, &name).await? {
            Some(s) => s,
            None if resources::generates_secret(net) => {
                let creds = Credentials::generate();
                let secret = resources::rpc_secret(net, &creds);
                let stored = self.create_owned(net, ns, &secret, &name, "generated RPC credentials", created).await?;
                return Ok(Some((creds, stored.metadata.resource_version)));
            }
            None => {
                let message = format!(
                    "Secret {name} named by spec.secret does not exist: create it with the keys {} and {}, or clear spec.secret to have one generated",
                    crate::secret::USER_KEY,
                    crate::secret::PASSWORD_KEY
                );
                obs.blocked = Some((reasons::SECRET_NOT_FOUND.into(), message));
                return Ok(None);
            }
        };
        if resources::generates_secret(net) && !resources::is_controlled_by(&secret.metadata, net) {
            return Err(self.resource_exists(net, "Secret", &name));
        }
        match Credentials::from_secret(&secret) {
            Ok(c) => Ok(Some((c, secret.metadata.resource_version.clone()))),
            Err(e) => {
                let message = format!("{e}: the Secret needs non-empty UTF-8 values under both keys");
                obs.blocked = Some((reasons::SECRET_INVALID.into(), message));
                Ok(None)
            }
        }
    }

    /// The network's credentials Secret: its own from the cache of labelled Secrets, a Secret
    /// the user named (or one created before the label existed) read from the API server.
    /// `None` when it does not exist.
    async fn find_secret(
        &self,
        net: &BitcoinNetwork,
        ns: &str,
        name: &str,
    ) -> Result<Option<std::sync::Arc<Secret>>, Error> {
        if resources::generates_secret(net)
            && let Ok(cached) = self.secrets.secrets(ns).get(name)
        {
            return Ok(Some(cached));
        }
        let api = Api::<Secret>::namespaced(self.clientset.client().clone(), ns);
        let found = api.get_opt(name).await.map_err(api_err("get", "Secret", name))?;
        Ok(found.map(std::sync::Arc::new))
    }

    /// Creates an owned object, records it for the reconcile's `Created` event, and on failure
    /// publishes a `CreationError` warning. `detail` goes into the event; never a secret value.
    async fn create_owned<T>(
        &self,
        net: &BitcoinNetwork,
        ns: &str,
        obj: &T,
        name: &str,
        detail: &str,
        created: &mut Creations,
    ) -> Result<T, Error>
    where
        T: k8s_openapi::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + k8s_openapi::Metadata<Ty = kube::api::ObjectMeta>
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let kind = T::KIND;
        self.metrics.writes.inc();
        match Api::<T>::namespaced(self.clientset.client().clone(), ns).create(&PostParams::default(), obj).await {
            Ok(stored) => {
                tracing::info!(network = %resources::name_of(net), kind, name, "created");
                created.record(kind, name, Some(detail));
                Ok(stored)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // AlreadyExists: the cache has not shown an object (most likely the one this
                // controller just created) yet. Not a user problem: retried quietly, and the next
                // reconcile sees whether the object is ours.
                tracing::debug!(network = %resources::name_of(net), kind, name, "already exists; cache behind");
                Err(api_err("create", kind, name)(kube::Error::Api(s)))
            }
            Err(e) => {
                let note = format!("Could not create {kind} {name}: {}", api_message(&e));
                self.event(net, EventType::Warning, reasons::CREATION_ERROR, note).await;
                Err(api_err("create", kind, name)(e))
            }
        }
    }

    /// The error for an object in the way; its condition and event come from
    /// [`problems::from_error`], once per new problem.
    fn resource_exists(&self, net: &BitcoinNetwork, kind: &'static str, name: &str) -> Error {
        Error::ResourceExists { kind, name: name.into(), network: resources::name_of(net) }
    }

    async fn ensure_service(&self, net: &BitcoinNetwork, ns: &str, created: &mut Creations) -> Result<(), Error> {
        let desired = resources::service(net, &self.settings);
        let name = resources::service_name(&resources::name_of(net));
        let api = Api::<Service>::namespaced(self.clientset.client().clone(), ns);
        match self.services.services(ns).get(&name) {
            Err(_) => self.create_owned(net, ns, &desired, &name, "headless", created).await.map(drop),
            Ok(existing) if !resources::is_controlled_by(&existing.metadata, net) => {
                Err(self.resource_exists(net, "Service", &name))
            }
            Ok(existing) if resources::service_drift(&existing, &desired) => {
                let fixed = resources::corrected_service(&existing, &desired);
                self.metrics.writes.inc();
                api.replace(&name, &PostParams::default(), &fixed)
                    .await
                    .map_err(api_err("update", "Service", &name))?;
                self.event(net, EventType::Normal, reasons::UPDATED, format!("Corrected Service {name}")).await;
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }

    async fn ensure_stateful_set(
        &self,
        net: &BitcoinNetwork,
        ns: &str,
        secret_version: Option<&str>,
        created: &mut Creations,
    ) -> Result<(), Error> {
        let mut desired = resources::stateful_set(net, &self.settings);
        if let Some(v) = secret_version {
            resources::stamp_secret_version(&mut desired, v);
        }
        let name = resources::stateful_set_name(&resources::name_of(net));
        let api = Api::<StatefulSet>::namespaced(self.clientset.client().clone(), ns);
        let existing = match self.stateful_sets.stateful_sets(ns).get(&name) {
            Err(_) => {
                let nodes = net.spec.nodes.max(0);
                let detail = format!("{nodes} node{}", plural(nodes));
                return self.create_owned(net, ns, &desired, &name, &detail, created).await.map(drop);
            }
            Ok(existing) => existing,
        };
        if !resources::is_controlled_by(&existing.metadata, net) {
            return Err(self.resource_exists(net, "StatefulSet", &name));
        }
        let drift = resources::stateful_set_drift(&existing, &desired);
        if drift.is_empty() {
            return Ok(());
        }
        let fixed = resources::corrected_stateful_set(&existing, &desired);
        self.metrics.writes.inc();
        if let Err(e) = api.replace(&name, &PostParams::default(), &fixed).await {
            self.event(
                net,
                EventType::Warning,
                reasons::UPDATE_ERROR,
                format!("Could not update StatefulSet {name}: {}", api_message(&e)),
            )
            .await;
            return Err(api_err("update", "StatefulSet", &name)(e));
        }
        if let Some((from, to)) = drift.replicas {
            tracing::info!(statefulset = %name, from, to, "scaled");
            self.event(
                net,
                EventType::Normal,
                reasons::SCALED,
                format!("Adjusted replicas of {name} from {from} to {to}"),
            )
            .await;
        }
        if drift.secret_version {
            tracing::info!(statefulset = %name, "credentials secret changed; rolling the pods");
            self.event(
                net,
                EventType::Normal,
                reasons::UPDATED,
                format!("Credentials Secret changed; rolling the pods of {name}"),
            )
            .await;
        }
        if !drift.container.is_empty() {
            let fields = drift.container.join(", ");
            tracing::info!(statefulset = %name, fields = %fields, "corrected drift");
            self.event(net, EventType::Normal, reasons::UPDATED, format!("Corrected {fields} of StatefulSet {name}"))
                .await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_make_one_note_in_creation_order() {
        let mut c = Creations::default();
        assert_eq!(c.note(), None, "nothing created: no event");
        c.record("Secret", "n-rpc", Some("generated RPC credentials"));
        c.record("Service", "n-svc", Some("headless"));
        c.record("StatefulSet", "n-sts", None);
        assert_eq!(
            c.note().as_deref(),
            Some("Created Secret n-rpc (generated RPC credentials), Service n-svc (headless), StatefulSet n-sts")
        );
    }

    #[test]
    fn status_writes_track_the_version_a_write_was_based_on() {
        let w = StatusWrites::default();
        assert!(!w.cache_is_behind("ns/n", Some("5")), "no write yet");
        w.wrote("ns/n", Some("5"));
        assert!(w.cache_is_behind("ns/n", Some("5")), "cache still at the version the write replaced");
        assert!(w.cache_is_behind("ns/n", Some("5")), "until it moves on");
        assert!(!w.cache_is_behind("ns/n", Some("6")), "cache caught up");
        assert!(!w.cache_is_behind("ns/n", Some("5")), "forgotten once caught up");
        w.wrote("ns/n", Some("7"));
        w.forget("ns/n");
        assert!(!w.cache_is_behind("ns/n", Some("7")), "network gone");
    }
}
