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
        let ns = Namespace { metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() }, ..Default::default() };
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
        install_crd(&self.client, crd).await.unwrap_or_else(|e| panic!("installing a CRD on {}: {e:#}", self.describe()));
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
