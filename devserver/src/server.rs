//! Starting and stopping a server: [`DevServer::builder`] → [`DevServerBuilder::start`] →
//! [`DevServerHandle`] with the URL, a kubeconfig (text and file), a ready `kube::Client`, the
//! request log, and `shutdown()`.

use crate::app::{App, now, object_key};
use crate::registry::Registry;
use crate::request_log::RequestLog;
use crate::store::{Store, Write};
use crate::{builtin, kubeconfig};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Entry point: `DevServer::builder().start().await`.
pub struct DevServer;

impl DevServer {
    /// A builder with defaults: 127.0.0.1 on an ephemeral port, 10,000 events of history per
    /// resource, bookmarks every 60 s, kubeconfig written to a temporary file.
    pub fn builder() -> DevServerBuilder {
        DevServerBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            history: 10_000,
            history_bytes: crate::store::DEFAULT_HISTORY_BYTES,
            bookmark_interval: Duration::from_secs(60),
            kubeconfig_path: None,
            tls: false,
            garbage_collection: false,
            rbac: false,
            owner_references_permission_enforcement: false,
            fault_seed: 0,
            data_dir: None,
            limits: crate::limits::LimitSettings::default(),
            group_commit: true,
        }
    }
}

/// Settings for one server.
#[derive(Debug, Clone)]
pub struct DevServerBuilder {
    addr: SocketAddr,
    history: usize,
    history_bytes: usize,
    bookmark_interval: Duration,
    kubeconfig_path: Option<PathBuf>,
    tls: bool,
    garbage_collection: bool,
    rbac: bool,
    owner_references_permission_enforcement: bool,
    fault_seed: u64,
    data_dir: Option<PathBuf>,
    limits: crate::limits::LimitSettings,
    group_commit: bool,
}

impl DevServerBuilder {
    /// The address to bind (default `127.0.0.1:0`, loopback with an ephemeral port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// How many events per resource a watch can resume from before getting 410 Expired.
    pub fn history_limit(mut self, events: usize) -> Self {
        self.history = events;
        self
    }

    /// How many bytes of events per resource are kept at most (default 256 MiB; the newest event
    /// is always kept), so a few changes to big objects cannot pin unbounded memory.
    pub fn history_bytes_limit(mut self, bytes: usize) -> Self {
        self.history_bytes = bytes;
        self
    }

    /// How often idle watches that allow bookmarks get one (tests shorten it).
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }

    /// Serve https with a generated CA and require a bearer token (both in the kubeconfig).
    /// Plain http (the default) means anonymous admin, as client-go sends no credentials there.
    pub fn tls(mut self, enabled: bool) -> Self {
        self.tls = enabled;
        self
    }

    /// Run the optional garbage collector for ownerReferences (off by default, like envtest,
    /// which has no kube-controller-manager). See the crate's `gc` module.
    pub fn garbage_collection(mut self, enabled: bool) -> Self {
        self.garbage_collection = enabled;
        self
    }

    /// The seed of the injected faults (default 0), so a failing test replays the same
    /// failing requests. See [`crate::faults`].
    pub fn fault_seed(mut self, seed: u64) -> Self {
        self.fault_seed = seed;
        self
    }

    /// Authorize requests with RBAC against the stored Roles, ClusterRoles and bindings (see
    /// the crate's `authz` module), so a test can prove a controller's RBAC manifest is enough. Needs
    /// [`DevServerBuilder::tls`]: plain http carries no credentials. The admin token stays
    /// all-powerful (`system:masters`); [`DevServerHandle::service_account_token`] mints tokens
    /// for ServiceAccounts.
    pub fn rbac(mut self, enabled: bool) -> Self {
        self.rbac = enabled;
        self
    }

    /// Keep the state in `dir` (see [`crate::persist`]): loaded on start if present, every write
    /// logged durably before it is answered, so objects and resourceVersions survive a restart,
    /// a `kill -9` or a power cut. The directory is locked while the server runs.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// With [`DevServerBuilder::data_dir`]: share one fsync among all writes waiting (the
    /// default). Off, every write gets its own write and fsync, in order: only to measure what
    /// group commit gains (`cargo xtask bench --only durability`).
    pub fn group_commit(mut self, enabled: bool) -> Self {
        self.group_commit = enabled;
        self
    }

    /// With [`DevServerBuilder::rbac`], also run the `OwnerReferencesPermissionEnforcement`
    /// admission plugin (off by default, as in kube-apiserver; on in e.g. OpenShift): setting
    /// `blockOwnerDeletion` needs `update` on the owner's `finalizers`. See the crate's `admission` module.
    pub fn owner_references_permission_enforcement(mut self, enabled: bool) -> Self {
        self.owner_references_permission_enforcement = enabled;
        self
    }

    /// In-flight, body and connection limits (default: kube-apiserver's, see [`crate::limits`]).
    pub fn limits(mut self, limits: crate::limits::LimitSettings) -> Self {
        self.limits = limits;
        self
    }

    /// Where to write the kubeconfig (default: a file in a temporary directory).
    pub fn kubeconfig_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig_path = Some(path.into());
        self
    }

    /// Builds the server without a socket: its `kube::Client` calls the router directly as a
    /// tower service (for unit tests and fake clientsets; kubectl cannot reach it).
    pub fn in_process(self) -> InProcessServer {
        let log = Arc::new(RequestLog::default());
        let app = Arc::new(App {
            store: Store::with_history_bytes(self.history, self.history_bytes)
                .with_max_object_bytes(self.limits.max_object_bytes),
            registry: Registry::new(),
            log: log.clone(),
            server_address: "in-process".into(),
            bookmark_interval: self.bookmark_interval,
            token: None,
            auth: crate::authn::Auth::new(false),
            faults: crate::faults::FaultSettings::with_seed(self.fault_seed),
            limits: crate::limits::Limits::new(self.limits.clone()),
            allocations: Default::default(),
        });
        bootstrap(&app, 443);
        let mut server = InProcessServer { app, log, gc: None };
        if self.garbage_collection {
            if tokio::runtime::Handle::try_current().is_ok() {
                server.gc = Some(tokio::spawn(crate::gc::run(server.client(), None)));
            } else {
                tracing::warn!("garbage collection needs a Tokio runtime; not started");
            }
        }
        server
    }

    /// Binds, seeds the bootstrap namespaces, writes the kubeconfig and starts serving.
    pub async fn start(self) -> anyhow::Result<DevServerHandle> {
        if self.rbac && !self.tls {
            anyhow::bail!("RBAC needs https (.tls(true)): clients send no credentials over plain http");
        }
        if !self.addr.ip().is_loopback() && !self.rbac {
            anyhow::bail!(
                "refusing to serve on {}, which is not a loopback address, without --tls --rbac: anyone who can \
                 reach it would be cluster admin (plain http is anonymous admin, and without RBAC every token is)",
                self.addr
            );
        }
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let local = listener.local_addr()?;
        let url = format!("http://{local}");
        // With a data directory: locked first, and the https material kept in it.
        let locked = match &self.data_dir {
            Some(dir) => Some(crate::persist::Locked::acquire(dir)?),
            None => None,
        };
        let tls = match (self.tls, &locked) {
            (false, _) => None,
            (true, Some(locked)) => Some(locked.tls_material()?),
            (true, None) => Some(crate::tls::generate()?),
        };
        let url = if tls.is_some() { format!("https://{local}") } else { url };
        let log = Arc::new(RequestLog::default());
        let app = Arc::new(App {
            store: Store::with_history_bytes(self.history, self.history_bytes)
                .with_max_object_bytes(self.limits.max_object_bytes),
            registry: Registry::new(),
            log: log.clone(),
            server_address: local.to_string(),
            bookmark_interval: self.bookmark_interval,
            token: tls.as_ref().map(|t| t.token.clone()),
            auth: crate::authn::Auth::new(self.rbac)
                .with_owner_references_enforcement(self.owner_references_permission_enforcement),
            faults: crate::faults::FaultSettings::with_seed(self.fault_seed),
            limits: crate::limits::Limits::new(self.limits.clone()),
            allocations: Default::default(),
        });
        let persist = match locked {
            Some(locked) => Some(crate::persist::DataDir::open(&app, locked, self.group_commit)?),
            None => None,
        };
        bootstrap(&app, local.port());
        let text = match &tls {
            Some(t) => kubeconfig::render_tls(&url, &t.ca_pem, &t.token),
            None => kubeconfig::render(&url),
        };
        let (tempdir, path) = match self.kubeconfig_path {
            Some(p) => (None, p),
            None => {
                let dir = tempfile::tempdir()?;
                let p = dir.path().join("kubeconfig");
                (Some(dir), p)
            }
        };
        kubeconfig::write_private(&path, &text)?;
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text)?;
        let client_config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
        // The collector talks to the server as kube-controller-manager would: through its API.
        let gc = match self.garbage_collection {
            true => Some(tokio::spawn(crate::gc::run(kube::Client::try_from(client_config.clone())?, None))),
            false => None,
        };
        let router = axum::Router::new().fallback(crate::handlers::handle).with_state(app.clone());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let acceptor = tls.as_ref().map(|t| tokio_rustls::TlsAcceptor::from(t.server_config.clone()));
        let task = tokio::spawn(serve_connections(
            listener,
            router.clone(),
            acceptor.clone(),
            app.limits.settings.clone(),
            stop_rx,
        ));
        tracing::info!(%url, kubeconfig = %path.display(), "devserver listening");
        Ok(DevServerHandle {
            url,
            addr: local,
            kubeconfig: text,
            kubeconfig_path: path,
            client_config,
            ca_pem: tls.as_ref().map(|t| t.ca_pem.clone()),
            _tempdir: tempdir,
            log,
            app,
            stop: Some(stop_tx),
            task: Some(task),
            router,
            acceptor,
            persist,
            gc,
        })
    }
}

/// The accept loop: (with an acceptor) a TLS handshake, then HTTP/1.1 per connection. Every
/// connection lives in the loop's JoinSet, so ending the loop (stop, or aborting its task on
/// [`DevServerHandle::restart`]) aborts every open connection and so every open watch.
///
/// Slow and silent clients are cut off (see [`crate::limits`]): a TLS handshake has a deadline,
/// and so do request headers, including the wait for the next request on a kept-alive
/// connection (hyper's header read timeout runs from the end of the previous response). When
/// accepting fails (out of file descriptors), the loop backs off instead of spinning.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    limits: crate::limits::LimitSettings,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let mut backoff = Duration::ZERO;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => {
                        backoff = Duration::ZERO;
                        tcp
                    }
                    Err(e) => {
                        // EMFILE/ENFILE/ENOBUFS: nothing can be accepted until a connection
                        // closes; retrying at once would spin a core.
                        backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                        tracing::warn!(error = %e, retry_in = ?backoff, "accepting a connection failed");
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let router = router.clone();
                let limits = limits.clone();
                connections.spawn(async move {
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let mut http = hyper::server::conn::http1::Builder::new();
                    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
                    match acceptor {
                        Some(acceptor) => {
                            let handshake = tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp));
                            let Ok(Ok(tls)) = handshake.await else { return };
                            let _ = http.serve_connection(hyper_util::rt::TokioIo::new(tls), service).await;
                        }
                        None => {
                            let _ = http.serve_connection(hyper_util::rt::TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A server without a socket (see [`DevServerBuilder::in_process`]). Needs a Tokio runtime
/// when clients are used (watch streams run on spawned tasks).
pub struct InProcessServer {
    app: Arc<App>,
    log: Arc<RequestLog>,
    /// The garbage collector's task, with `garbage_collection`.
    gc: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(gc) = self.gc.take() {
            gc.abort();
        }
    }
}

impl InProcessServer {
    /// A `kube::Client` whose requests go straight into the router (namespace `default`).
    pub fn client(&self) -> kube::Client {
        let router = axum::Router::new().fallback(crate::handlers::handle).with_state(self.app.clone());
        kube::Client::new(router, "default")
    }

    /// The log of every request answered so far.
    pub fn request_log(&self) -> &RequestLog {
        &self.log
    }

    /// The current global resourceVersion.
    pub fn current_resource_version(&self) -> u64 {
        self.app.store.current_rv()
    }

    /// Compacts the event history (see [`DevServerHandle::compact`]).
    pub fn compact(&self) {
        self.app.store.compact();
    }

    /// Faults on demand (see [`crate::faults`]); restarts need a socket, so only latency,
    /// write failures, watch endings and compaction apply here.
    pub fn faults(&self) -> crate::faults::FaultControl<'_> {
        crate::faults::FaultControl::new(&self.app.faults, &self.app.store)
    }
}

/// What every cluster starts with (what kube-apiserver's bootstrap controllers create): the
/// bootstrap namespaces, `cluster-admin`, and the `kubernetes` Service in front of the server
/// (listening on `port`); then the Services' allocations are read from the store.
fn bootstrap(app: &App, port: u16) {
    let now = now();
    seed_namespaces(app, &now);
    seed_cluster_admin(app, &now);
    seed_kubernetes_service(app, &now, port);
    let (_, services) = app.store.list("/services", "");
    app.allocations.rebuild(services.iter().map(|s| {
        let meta = |f: &str| s.pointer(&format!("/metadata/{f}")).and_then(Value::as_str);
        (object_key(meta("namespace"), meta("name").unwrap_or("")), crate::allocator::held_by(s))
    }));
}

/// The `default/kubernetes` Service, as kube-apiserver keeps it: the first IP of the service
/// range, port 443 to the server's own port.
fn seed_kubernetes_service(app: &App, now: &str, port: u16) {
    if app.store.get("/services", "default/kubernetes").is_some() {
        return; // restored from a data directory
    }
    let obj = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": now,
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "clusterIP": "10.0.0.1",
            "clusterIPs": ["10.0.0.1"],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    });
    let _ = app.store.transact::<()>("/services", "default/kubernetes", |_, _| Ok(Write::Put(obj)));
}

fn seed_namespaces(app: &App, now: &str) {
    for ns in builtin::BOOTSTRAP_NAMESPACES {
        if app.store.get("/namespaces", ns).is_some() {
            continue; // restored from a data directory
        }
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": ns,
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": now,
                "labels": {"kubernetes.io/metadata.name": ns},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        let _ = app.store.transact::<()>("/namespaces", ns, |_, _| Ok(Write::Put(obj)));
    }
}

/// The `cluster-admin` ClusterRole and its binding to `system:masters`, which every cluster's
/// RBAC bootstrap policy creates: users bind to it, and `can-i --list` shows it for the admin.
fn seed_cluster_admin(app: &App, now: &str) {
    let meta = |name: &str| {
        json!({
            "name": name,
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": now,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        })
    };
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta("cluster-admin"),
        "rules": crate::authz::cluster_admin_rules(),
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta("cluster-admin"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": crate::authn::MASTERS_GROUP}],
    });
    for (table, obj) in [("clusterroles", role), ("clusterrolebindings", binding)] {
        let table = format!("{}/{table}", crate::authz::RBAC_GROUP);
        if app.store.get(&table, "cluster-admin").is_none() {
            let _ = app.store.transact::<()>(&table, "cluster-admin", |_, _| Ok(Write::Put(obj)));
        }
    }
}

/// A running server. Dropping it stops the server too; call [`DevServerHandle::shutdown`] to
/// wait until it has stopped.
pub struct DevServerHandle {
    url: String,
    addr: SocketAddr,
    kubeconfig: String,
    kubeconfig_path: PathBuf,
    client_config: kube::Config,
    ca_pem: Option<String>,
    _tempdir: Option<tempfile::TempDir>,
    log: Arc<RequestLog>,
    app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    router: axum::Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// The data directory in use (`--data-dir`).
    persist: Option<crate::persist::DataDir>,
    /// The garbage collector's task, with `garbage_collection`.
    gc: Option<tokio::task::JoinHandle<()>>,
}

impl DevServerHandle {
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kubeconfig text pointing at this server.
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// Where the kubeconfig was written (for `KUBECONFIG=... kubectl`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// A `kube::Client` for this server, configured from the written kubeconfig (namespace
    /// `default`; in https mode with the CA and the bearer token).
    pub fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(kube::Client::try_from(self.client_config.clone())?)
    }

    /// The `kube::Config` behind [`DevServerHandle::client`], to build a client on another runtime.
    pub fn client_config(&self) -> kube::Config {
        self.client_config.clone()
    }

    /// The CA certificate (PEM) in https mode.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The bearer token in https mode.
    pub fn token(&self) -> Option<&str> {
        self.app.token.as_deref()
    }

    /// Mints a bearer token for ServiceAccount `namespace/name`: user
    /// `system:serviceaccount:<namespace>:<name>` in groups `system:serviceaccounts`,
    /// `system:serviceaccounts:<namespace>` and `system:authenticated`, so a test can run a
    /// controller as the identity its manifests bind (with [`DevServerBuilder::rbac`], authorized
    /// by those bindings). Requests with it are 401 while the ServiceAccount does not exist.
    /// Meaningful in https mode only (http carries no credentials).
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        self.app.auth.mint_service_account_token(namespace, name, &self.app.store)
    }

    /// A kubeconfig like [`DevServerHandle::kubeconfig`] that authenticates with `token` (over
    /// http it is the anonymous kubeconfig, as http carries no credentials).
    pub fn kubeconfig_for_token(&self, token: &str) -> String {
        match &self.ca_pem {
            Some(ca) => kubeconfig::render_tls(&self.url, ca, token),
            None => kubeconfig::render(&self.url),
        }
    }

    /// A `kube::Client` that authenticates with `token` (namespace `default`), e.g. one from
    /// [`DevServerHandle::service_account_token`].
    pub async fn client_for_token(&self, token: &str) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_for_token(token))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// The log of every request answered so far.
    pub fn request_log(&self) -> &RequestLog {
        &self.log
    }

    /// The current global resourceVersion.
    pub fn current_resource_version(&self) -> u64 {
        self.app.store.current_rv()
    }

    /// How many events of `resource` (`<group>/<plural>`, e.g. `/configmaps`) the history
    /// keeps, and about how many bytes they hold.
    pub fn history_size(&self, resource: &str) -> (usize, usize) {
        self.app.store.history_size(resource)
    }

    /// Compacts the event history (like etcd compaction): watches resuming from an older
    /// revision get 410 Expired. Tests use it to exercise the client's relist path.
    pub fn compact(&self) {
        self.app.store.compact();
    }

    /// Faults on demand: watch endings, compaction, failing writes, latency (see
    /// [`crate::faults`]; the listener restart is [`DevServerHandle::restart`]).
    pub fn faults(&self) -> crate::faults::FaultControl<'_> {
        crate::faults::FaultControl::new(&self.app.faults, &self.app.store)
    }

    /// Restarts the HTTP listener on the same port with the state kept: every open connection
    /// and watch drops (clients see a broken stream and reconnect), objects and
    /// resourceVersions stay. Fails if the port cannot be bound again within a few seconds
    /// (another process took it); the server then stays stopped.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop_now();
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let mut attempt = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if attempt >= 50 => {
                    return Err(anyhow::anyhow!("restart: cannot bind {} again: {e}", self.addr));
                }
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(stop_tx);
        self.task = Some(tokio::spawn(serve_connections(
            listener,
            self.router.clone(),
            self.acceptor.clone(),
            self.app.limits.settings.clone(),
            stop_rx,
        )));
        tracing::info!(url = %self.url, "devserver listener restarted");
        Ok(())
    }

    /// Stops accepting requests, ends open watches and waits for the server task.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(mut task) = self.task.take() {
            // Graceful shutdown waits for open connections; a client that keeps a watch open
            // must not keep the server alive, so abort after a short grace period.
            if tokio::time::timeout(Duration::from_secs(2), &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
        self.persist_now();
    }

    /// With a data directory: writes what is pending, folds the log into a final snapshot and
    /// releases the directory's lock.
    fn persist_now(&mut self) {
        if let Some(data_dir) = self.persist.take() {
            data_dir.close();
        }
    }

    fn stop_now(&mut self) {
        if let Some(gc) = self.gc.take() {
            gc.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for DevServerHandle {
    fn drop(&mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.persist_now();
    }
}
