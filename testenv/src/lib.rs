//! A server for each integration test: the in-process devserver by default, or a real
//! kube-apiserver when [`KUBECONFIG_VAR`] (`KUBE_TEST_KUBECONFIG`) names a kubeconfig, as
//! `cargo xtask cluster env` prints it.
//!
//! Tests see the same thing either way: a [`kube::Client`] and a namespace of their own,
//! created for the test (so tests in parallel, and test binaries one after another, never see
//! each other's objects on a shared real server). A test that needs what only the devserver
//! has (its request log, fault injection, restarts) asks for it with [`TestEnv::devserver`]
//! and carries `devserver_only` in its name, so a real-server run can `--skip devserver_only`.
//! Nothing falls back silently: with the variable set, a kubeconfig that cannot be read or a
//! server that cannot be reached fails the test.
//!
//! ```no_run
//! # async fn demo() {
//! let env = testenv::TestEnv::start().await;
//! let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = env.api();
//! # }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use devserver::{DevServer, DevServerBuilder, DevServerHandle};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};

/// The variable naming the kubeconfig of a real server to test against.
pub const KUBECONFIG_VAR: &str = "KUBE_TEST_KUBECONFIG";

/// Which server the tests of this process run against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The in-process devserver (the default).
    Devserver,
    /// A real API server, through this kubeconfig.
    Real(PathBuf),
}

/// The target named by the environment.
pub fn target() -> Target {
    match std::env::var_os(KUBECONFIG_VAR) {
        Some(p) if !p.is_empty() => Target::Real(PathBuf::from(p)),
        _ => Target::Devserver,
    }
}

/// One test's server, client and namespace.
pub struct TestEnv {
    client: kube::Client,
    namespace: String,
    devserver: Option<DevServerHandle>,
    kubeconfig: Option<PathBuf>,
}

impl TestEnv {
    /// The target's server with a fresh namespace.
    pub async fn start() -> TestEnv {
        Self::start_with(|b| b).await
    }

    /// Like [`TestEnv::start`]; `configure` adjusts the devserver when that is the target (a real
    /// server is used as it is: https with a token, RBAC on).
    pub async fn start_with(configure: impl FnOnce(DevServerBuilder) -> DevServerBuilder) -> TestEnv {
        match target() {
            Target::Devserver => Self::devserver_with(configure).await,
            Target::Real(path) => Self::real(path).await,
        }
    }

    /// Always the in-process devserver, whatever the target: for tests of devserver-only
    /// features (name them `devserver_only_*`).
    pub async fn devserver() -> TestEnv {
        Self::devserver_with(|b| b).await
    }

    /// [`TestEnv::devserver`] with a configured builder.
    pub async fn devserver_with(configure: impl FnOnce(DevServerBuilder) -> DevServerBuilder) -> TestEnv {
        let server = configure(DevServer::builder()).start().await.expect("devserver starts");
        let client = server.client().expect("devserver client");
        let mut env = TestEnv { client, namespace: String::new(), devserver: Some(server), kubeconfig: None };
        env.namespace = env.create_namespace().await;
        env
    }

    async fn real(path: PathBuf) -> TestEnv {
        let kubeconfig = kube::config::Kubeconfig::read_from(&path)
            .unwrap_or_else(|e| panic!("{KUBECONFIG_VAR}={}: cannot read the kubeconfig: {e}", path.display()));
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap_or_else(|e| panic!("{KUBECONFIG_VAR}={}: unusable kubeconfig: {e}", path.display()));
        let client = kube::Client::try_from(config).expect("client for the real server");
        let mut env = TestEnv { client, namespace: String::new(), devserver: None, kubeconfig: Some(path) };
        env.namespace = env.create_namespace().await;
        env
    }

    async fn create_namespace(&self) -> String {
        let name = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let ns =
            Namespace { metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() }, ..Default::default() };
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("creating test namespace {name} on {}: {e}", self.describe()));
        name
    }

    /// The client (admin on either server).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The test's own namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// An `Api` for a namespaced kind in the test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Whether this is a real API server.
    pub fn is_real(&self) -> bool {
        self.devserver.is_none()
    }

    /// The devserver, when that is the server (for devserver-only checks).
    pub fn devserver_handle(&self) -> Option<&DevServerHandle> {
        self.devserver.as_ref()
    }

    /// The devserver; panics on a real server (a test that calls it must be devserver-only).
    pub fn server(&self) -> &DevServerHandle {
        self.devserver.as_ref().expect("this test needs the devserver: start it with TestEnv::devserver()")
    }

    /// The kubeconfig file of the server (for kubectl or a child process).
    pub fn kubeconfig_path(&self) -> PathBuf {
        match (&self.devserver, &self.kubeconfig) {
            (Some(d), _) => d.kubeconfig_path().to_path_buf(),
            (None, Some(p)) => p.clone(),
            (None, None) => unreachable!("a real server always has its kubeconfig"),
        }
    }

    fn describe(&self) -> String {
        match &self.kubeconfig {
            Some(p) => format!("the real server of {}", p.display()),
            None => "the devserver".into(),
        }
    }

    /// Installs a CRD (see [`install_crd`]; CRDs are cluster-wide, so tests on a real server
    /// share them) and waits until its resources are served.
    pub async fn install_crd(&self, crd: &CustomResourceDefinition) {
        install_crd(&self.client, crd)
            .await
            .unwrap_or_else(|e| panic!("installing a CRD on {}: {e:#}", self.describe()));
    }

    /// Ends the test: stops the devserver, or deletes the namespace on a real server.
    pub async fn shutdown(self) {
        match self.devserver {
            Some(d) => d.shutdown().await,
            None => {
                let _ = Api::<Namespace>::all(self.client.clone())
                    .delete(&self.namespace, &DeleteParams::background())
                    .await;
            }
        }
    }
}

/// Applies `crd` (server-side apply, forced: idempotent, and safe when several tests install the
/// same CRD at once) and waits until it is Established and served.
pub async fn install_crd(client: &kube::Client, crd: &CustomResourceDefinition) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap_or_default();
    let mut body = crd.clone();
    body.metadata.resource_version = None;
    body.metadata.managed_fields = None;
    api.patch(&name, &PatchParams::apply("testenv").force(), &Patch::Apply(&body))
        .await
        .map_err(|e| anyhow::anyhow!("applying CRD {name}: {e}"))?;
    let established =
        kube::runtime::wait::await_condition(api, &name, kube::runtime::wait::conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .map_err(|_| anyhow::anyhow!("CRD {name} not established within 30s"))??;
    // Established is set before every apiserver handler serves the new resource; wait until a
    // list of it answers, so the first request of a test never races the handler install.
    let Some(version) = crd.spec.versions.iter().find(|v| v.served) else {
        return Err(anyhow::anyhow!("CRD {name} serves no version"));
    };
    let (group, version, plural) = (&crd.spec.group, &version.name, &crd.spec.names.plural);
    let url = format!("/apis/{group}/{version}/{plural}?limit=1");
    for _ in 0..100 {
        let req = http::Request::get(&url).body(Vec::new())?;
        if client.request_text(req).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow::anyhow!("CRD {name} is Established but {url} is not served after 10s"))
}

/// A position in the server's request log (see [`TestEnv::requests_since`]).
#[derive(Clone, Copy, Debug)]
pub struct RequestMark(usize);

impl TestEnv {
    /// The current end of the request log: the devserver's, or the real server's audit log
    /// (`audit.log` beside its kubeconfig, as `cargo xtask cluster up` writes it).
    pub fn request_mark(&self) -> RequestMark {
        match &self.devserver {
            Some(d) => RequestMark(d.request_log().entries().len()),
            None => RequestMark(std::fs::metadata(self.audit_log()).map(|m| m.len() as usize).unwrap_or(0)),
        }
    }

    /// Every request answered since `mark`, in the devserver's record form (on a real server,
    /// from its audit log: one record per completed request).
    pub fn requests_since(&self, mark: RequestMark) -> Vec<devserver::RequestRecord> {
        match &self.devserver {
            Some(d) => d.request_log().entries().into_iter().skip(mark.0).collect(),
            None => {
                let path = self.audit_log();
                let bytes = std::fs::read(&path).unwrap_or_else(|e| {
                    panic!(
                        "the real server's audit log {}: {e} (start the server with `cargo xtask cluster up`)",
                        path.display()
                    )
                });
                audit_records(&bytes[mark.0.min(bytes.len())..])
            }
        }
    }

    fn audit_log(&self) -> PathBuf {
        let kc = self.kubeconfig.clone().unwrap_or_default();
        kc.parent().map(|d| d.join("audit.log")).unwrap_or_else(|| PathBuf::from("audit.log"))
    }

    /// A client authenticated as a ServiceAccount: a devserver-minted token, or on a real server
    /// one from the TokenRequest API (`serviceaccounts/<name>/token`).
    pub async fn service_account_client(&self, namespace: &str, name: &str) -> kube::Client {
        use k8s_openapi::api::authentication::v1::TokenRequest;
        use k8s_openapi::api::core::v1::ServiceAccount;
        if let Some(d) = &self.devserver {
            let token = d.service_account_token(namespace, name);
            return d.client_for_token(&token).await.expect("client for the ServiceAccount token");
        }
        let request: TokenRequest =
            serde_json::from_value(serde_json::json!({"spec": {"audiences": []}})).expect("a TokenRequest");
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let granted = api
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("TokenRequest for {namespace}/{name}: {e}"));
        let token = granted.status.and_then(|s| s.token).expect("a token in the TokenRequest status");
        let path = self.kubeconfig.clone().expect("the real server's kubeconfig");
        let mut kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig");
        for user in &mut kubeconfig.auth_infos {
            if let Some(auth) = user.auth_info.as_mut() {
                auth.token = Some(token.clone().into());
            }
        }
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("config");
        kube::Client::try_from(config).expect("client for the ServiceAccount token")
    }
}

/// Audit events (JSON lines) to request records: the last stage of each request, which is
/// `ResponseComplete`, or `ResponseStarted` for a watch still open.
fn audit_records(bytes: &[u8]) -> Vec<devserver::RequestRecord> {
    let mut order = Vec::new();
    let mut by_id: std::collections::HashMap<String, serde_json::Value> = Default::default();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(line) else { continue };
        let id = event["auditID"].as_str().unwrap_or_default().to_string();
        if !by_id.contains_key(&id) {
            order.push(id.clone());
        }
        by_id.insert(id, event);
    }
    order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .map(|e| {
            let obj = &e["objectRef"];
            let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
            let resource = match (s(&obj["resource"]), s(&obj["subresource"])) {
                (Some(r), Some(sub)) => format!("{r}/{sub}"),
                (Some(r), None) => r,
                _ => String::new(),
            };
            devserver::RequestRecord {
                verb: s(&e["verb"]).unwrap_or_default(),
                group: s(&obj["apiGroup"]).unwrap_or_default(),
                resource,
                namespace: s(&obj["namespace"]),
                name: s(&obj["name"]),
                status: e["responseStatus"]["code"].as_u64().unwrap_or(0) as u16,
                path: s(&e["requestURI"]).unwrap_or_default(),
                user: s(&e["user"]["username"]),
            }
        })
        .collect()
}
