//! End-to-end: the controller against the devserver (HTTP on 127.0.0.1), or a real kube-apiserver
//! when `KUBE_TEST_KUBECONFIG` is set (the `testenv` crate), with the workload simulation
//! (StatefulSet controller, kubelet, simulated bitcoind, GC) playing the rest of the cluster.
//! Every test has its own namespace (controller and simulation watch only it) and its own RPC
//! port, so tests run in parallel without sharing anything.

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec};
use controller::controller::{Config, Controller};
use controller::metrics::Metrics;
use controller::resources::{self, PodSettings};
use controller::rpc::RpcClient;
use controller::secret::Credentials;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Every log line of this test process (all tests), to prove no password is ever logged.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,tower=info,rustls=info")
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);
impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map(|mut v| v.extend_from_slice(b)).ok();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Env {
    env: testenv::TestEnv,
    ns: String,
    sim: Option<controller::sim::SimHandle>,
    client: kube::Client,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    rpc_port: u16,
}

impl Env {
    async fn start(rpc_port: u16) -> Env {
        Self::start_with(rpc_port, false, |c| c).await
    }

    /// Like [`Env::start`], with the controller's client wrapped by `wrap` (fault injection).
    /// `tls`: the devserver serves https with a bearer token (the client comes from its kubeconfig).
    async fn start_with(rpc_port: u16, tls: bool, wrap: impl FnOnce(kube::Client) -> kube::Client) -> Env {
        Self::start_on(testenv::TestEnv::start_with(|b| b.tls(tls)).await, rpc_port, wrap).await
    }

    /// Starts the simulation and the controller, both scoped to the test's namespace, on `env`.
    async fn start_on(env: testenv::TestEnv, rpc_port: u16, wrap: impl FnOnce(kube::Client) -> kube::Client) -> Env {
        logs();
        let (client, ns) = (env.client(), env.namespace().to_string());
        let sim = controller::sim::start_in(client.clone(), Duration::from_millis(300), rpc_port, Some(ns.clone()))
            .await
            .expect("sim");
        let crd = serde_yaml::from_str(controller::crd::CRD_YAML).expect("CRD parses");
        env.install_crd(&crd).await;
        let config = Config {
            namespace: Some(ns.clone()),
            resync: Duration::from_secs(1),
            not_ready_requeue: Duration::from_millis(300),
            rpc_timeout: Duration::from_secs(2),
            settings: PodSettings { rpc_port, ..PodSettings::default() },
            ..Config::default()
        };
        let ctl = Controller::new(generated::Clientset::new(wrap(client.clone())), config, Metrics::new())
            .expect("controller");
        let cancel = CancellationToken::new();
        let task = tokio::spawn(ctl.run(cancel.clone()));
        Env { env, ns, sim: Some(sim), client, cancel, task, rpc_port }
    }

    fn sim(&self) -> &controller::sim::SimHandle {
        self.sim.as_ref().expect("sim running")
    }

    fn nets(&self) -> Api<BitcoinNetwork> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn create(&self, name: &str, nodes: i32) {
        let net = BitcoinNetwork {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: BitcoinNetworkSpec { nodes, ..Default::default() },
            status: None,
        };
        self.nets().create(&PostParams::default(), &net).await.expect("create network");
    }

    async fn set_nodes(&self, name: &str, nodes: i32) {
        self.nets()
            .patch(name, &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"nodes": nodes}})))
            .await
            .expect("scale");
    }

    async fn creds(&self, name: &str) -> Credentials {
        let s = Api::<Secret>::namespaced(self.client.clone(), &self.ns).get(&format!("{name}-rpc")).await.unwrap();
        Credentials::from_secret(&s).unwrap()
    }

    /// Waits until the network is Ready with `nodes` nodes at the current generation.
    async fn wait_ready(&self, name: &str, nodes: i32, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if let Ok(n) = self.nets().get(name).await {
                let st = n.status.clone().unwrap_or_default();
                if controller::status::is_ready(n.status.as_ref())
                    && st.nodes.len() == nodes as usize
                    && st.ready_nodes == nodes
                    && st.observed_generation == n.metadata.generation
                {
                    return start.elapsed();
                }
                if start.elapsed() > timeout {
                    panic!("{name} not Ready with {nodes} nodes within {timeout:?}: {st:?}");
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// For every node: `getaddednodeinfo` lists exactly the other nodes' IPs.
    async fn assert_full_mesh(&self, name: &str, nodes: i32) {
        let creds = self.creds(name).await;
        let rpc = RpcClient::new(Duration::from_secs(2));
        let pods: Vec<String> = (0..nodes).map(|i| format!("{name}-sts-{i}")).collect();
        let ips: Vec<String> =
            pods.iter().map(|p| self.sim().pod_ip(&self.ns, p).expect("pod ip").to_string()).collect();
        for (i, pod) in pods.iter().enumerate() {
            let addr = self.sim().rpc_addr(&self.ns, pod).expect("rpc addr");
            assert_eq!(addr.port(), self.rpc_port);
            let added: BTreeSet<String> = rpc
                .get_added_nodes(addr, &creds)
                .await
                .expect("getaddednodeinfo")
                .into_iter()
                .map(|n| n.addednode)
                .collect();
            let want: BTreeSet<String> =
                ips.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, ip)| ip.clone()).collect();
            assert_eq!(added, want, "added nodes of {pod}");
        }
    }

    /// Waits (after a Ready status) until the mesh check passes: Ready is written in the same
    /// reconcile that completed the mesh, so this normally passes at once.
    async fn wait_full_mesh(&self, name: &str, nodes: i32) {
        self.assert_full_mesh(name, nodes).await;
    }

    async fn stop(mut self) {
        self.cancel.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "controller stops cleanly: {result:?}");
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
        self.env.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_network_becomes_ready_with_a_full_mesh() {
    let env = Env::start(28443).await;
    env.create("alpha", 3).await;
    let took = env.wait_ready("alpha", 3, Duration::from_secs(30)).await;
    eprintln!("3-node network Ready after {took:?}");
    env.wait_full_mesh("alpha", 3).await;
    let st = env.nets().get("alpha").await.unwrap().status.unwrap();
    assert_eq!(
        st.nodes.iter().map(|n| n.dns_name.clone()).collect::<Vec<_>>(),
        ["alpha-sts-0.alpha-svc", "alpha-sts-1.alpha-svc", "alpha-sts-2.alpha-svc"]
    );
    assert!(st.nodes.iter().all(|n| n.ip.is_some()));

    // The password is nowhere: not in status, not in events, not in logs.
    let password = env.creds("alpha").await.password().to_string();
    let status_json = serde_json::to_string(&env.nets().get("alpha").await.unwrap()).unwrap();
    assert!(!status_json.contains(&password));
    let events = Api::<Event>::namespaced(env.client.clone(), &env.ns).list(&ListParams::default()).await.unwrap();
    assert!(events.items.iter().any(|e| e.reason.as_deref() == Some("PeersAdded")), "mesh events recorded");
    // Creating the network's objects is one event (no series): the three objects in one note.
    let created: Vec<&Event> = events.items.iter().filter(|e| e.reason.as_deref() == Some("Created")).collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].regarding.as_ref().and_then(|r| r.name.as_deref()), Some("alpha"));
    assert_eq!(
        created[0].note.as_deref(),
        Some(
            "Created Secret alpha-rpc (generated RPC credentials), Service alpha-svc (headless), StatefulSet alpha-sts (3 nodes)"
        )
    );
    assert!(created[0].series.is_none(), "{:?}", created[0].series);
    let events_json = serde_json::to_string(&events.items).unwrap();
    assert!(!events_json.contains(&password));
    // kubectl reads core/v1 Events: the controller's events.k8s.io ones show there too.
    let kubeconfig = env.env.kubeconfig_path();
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()))
            .env("KUBECONFIG", &kubeconfig)
            .args(args)
            .args(["-n", &env.ns])
            .output()
            .expect("kubectl must be installed (set KUBECTL)");
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let describe = tokio::task::block_in_place(|| kubectl(&["describe", "bitcoinnetwork", "alpha"]));
    let shown = describe.split("Events:").nth(1).unwrap_or_default();
    assert!(
        shown.contains("Created") && shown.contains("PeersAdded") && shown.contains("bitcoin-controller"),
        "{describe}"
    );
    let table = tokio::task::block_in_place(|| kubectl(&["get", "events"]));
    assert!(table.lines().any(|l| l.contains("Created") && l.contains("bitcoinnetwork/alpha")), "{table}");
    let log = String::from_utf8_lossy(&logs().lock().unwrap()).to_string();
    assert!(log.contains("peers added"), "logs are captured");
    assert!(!log.contains(&password), "password in logs");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_3_5_2_keeps_the_mesh() {
    let env = Env::start(28444).await;
    env.create("beta", 3).await;
    env.wait_ready("beta", 3, Duration::from_secs(30)).await;
    env.wait_full_mesh("beta", 3).await;
    // Up through the scale subresource, as a HorizontalPodAutoscaler does it (read the Scale,
    // set its replicas, write it back), with the generated client's typed scale methods.
    let nets = generated::Clientset::new(env.client.clone()).bitcoincontroller_v1().bitcoin_networks(&env.ns);
    let mut scale = nets.get_scale("beta").await.unwrap();
    let status = scale.status.clone().unwrap();
    assert_eq!((status.replicas, status.selector.as_deref()), (3, Some("app=beta")), "{scale:?}");
    scale.spec.get_or_insert_default().replicas = Some(5);
    nets.update_scale("beta", &scale, &Default::default()).await.unwrap();
    let up = env.wait_ready("beta", 5, Duration::from_secs(30)).await;
    env.wait_full_mesh("beta", 5).await;
    assert_eq!(nets.get_scale("beta").await.unwrap().status.unwrap().replicas, 5);
    env.set_nodes("beta", 2).await;
    let down = env.wait_ready("beta", 2, Duration::from_secs(30)).await;
    env.wait_full_mesh("beta", 2).await;
    eprintln!("scale 3->5 Ready after {up:?}, 5->2 after {down:?}");
    let sts = Api::<StatefulSet>::namespaced(env.client.clone(), &env.ns).get("beta-sts").await.unwrap();
    assert_eq!(sts.spec.replicas, Some(2));
    // Each scale is its own event, whose note is true (not one series still saying "3 to 5").
    let events = Api::<Event>::namespaced(env.client.clone(), &env.ns).list(&ListParams::default()).await.unwrap();
    let mut scaled: Vec<_> = events.items.iter().filter(|e| e.reason.as_deref() == Some("Scaled")).collect();
    scaled.sort_by_key(|e| e.event_time.clone().map(|t| t.0));
    let notes: Vec<&str> = scaled.iter().filter_map(|e| e.note.as_deref()).collect();
    assert_eq!(notes, ["Adjusted replicas of beta-sts from 3 to 5", "Adjusted replicas of beta-sts from 5 to 2"]);
    env.stop().await;
}

/// Rotating the credentials Secret: the controller stamps the new version into the pod
/// template, the StatefulSet (here the simulation's, like kube-controller-manager's
/// RollingUpdate) replaces the pods one by one, each new bitcoind starts with the new
/// credentials, and the network is Ready again with a full mesh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_secret_rolls_the_pods_and_the_network_heals() {
    let env = Env::start(28449).await;
    env.create("rot", 2).await;
    env.wait_ready("rot", 2, Duration::from_secs(30)).await;
    env.wait_full_mesh("rot", 2).await;
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), &env.ns);
    let uids = |list: &[Pod]| list.iter().filter_map(|p| p.metadata.uid.clone()).collect::<Vec<_>>();
    let before = uids(&pods.list(&ListParams::default().labels("app=rot")).await.unwrap().items);

    let rotated = Api::<Secret>::namespaced(env.client.clone(), &env.ns)
        .patch(
            "rot-rpc",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"stringData": {"BC_RPC_PASSWORD": "rotated-0123456789"}})),
        )
        .await
        .unwrap();
    let version = rotated.metadata.resource_version.clone().unwrap();
    let start = Instant::now();
    loop {
        let list = pods.list(&ListParams::default().labels("app=rot")).await.unwrap().items;
        let stamped = |p: &Pod| {
            p.metadata.annotations.as_ref().and_then(|a| a.get(resources::SECRET_VERSION_ANNOTATION)) == Some(&version)
        };
        let replaced = list.len() == 2 && list.iter().all(stamped) && uids(&list).iter().all(|u| !before.contains(u));
        if replaced && env.nets().get("rot").await.is_ok_and(|n| controller::status::is_ready(n.status.as_ref())) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not healed: {:?}",
            env.nets().get("rot").await.unwrap().status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("rotation healed in {:?}", start.elapsed());
    env.wait_full_mesh("rot", 2).await;
    assert_eq!(env.creds("rot").await.password(), "rotated-0123456789");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_node_is_re_added_after_it_returns() {
    let env = Env::start(28445).await;
    env.create("gamma", 3).await;
    env.wait_ready("gamma", 3, Duration::from_secs(30)).await;
    env.sim().kill_node(&env.ns, "gamma-sts-1").await;
    // The network notices (pod not Ready) ...
    let start = Instant::now();
    loop {
        let st = env.nets().get("gamma").await.unwrap().status.unwrap_or_default();
        if st.ready_nodes == 2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "kill not observed: {st:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.sim().restart_node(&env.ns, "gamma-sts-1").await;
    let back = env.wait_ready("gamma", 3, Duration::from_secs(30)).await;
    eprintln!("restarted node re-meshed after {back:?}");
    env.wait_full_mesh("gamma", 3).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_network_deletes_what_it_owns_over_https() {
    let env = Env::start_with(28446, true, |c| c).await;
    // The devserver is asked for https; the real cluster (`cargo xtask cluster`) serves only https.
    if let Some(d) = env.env.devserver_handle() {
        assert!(d.url().starts_with("https://"), "{}", d.url());
    }
    env.create("delta", 2).await;
    env.wait_ready("delta", 2, Duration::from_secs(30)).await;
    env.nets().delete("delta", &DeleteParams::default()).await.unwrap();
    let start = Instant::now();
    loop {
        let sts = Api::<StatefulSet>::namespaced(env.client.clone(), &env.ns).get_opt("delta-sts").await.unwrap();
        let svc = Api::<Service>::namespaced(env.client.clone(), &env.ns).get_opt("delta-svc").await.unwrap();
        let sec = Api::<Secret>::namespaced(env.client.clone(), &env.ns).get_opt("delta-rpc").await.unwrap();
        let pods = Api::<Pod>::namespaced(env.client.clone(), &env.ns)
            .list(&ListParams::default().labels("app=delta"))
            .await
            .unwrap();
        if sts.is_none() && svc.is_none() && sec.is_none() && pods.items.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "owned objects not collected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_from_a_competing_writer_is_reverted() {
    let env = Env::start(28447).await;
    env.create("eps", 2).await;
    env.wait_ready("eps", 2, Duration::from_secs(30)).await;
    let sts_api = Api::<StatefulSet>::namespaced(env.client.clone(), &env.ns);
    sts_api
        .patch("eps-sts", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"replicas": 4}})))
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let sts = sts_api.get("eps-sts").await.unwrap();
        if sts.spec.replicas == Some(2) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "drift not reverted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.wait_ready("eps", 2, Duration::from_secs(30)).await;
    env.wait_full_mesh("eps", 2).await;
    env.stop().await;
}

/// Devserver only: the server ends watch streams on request and its request log counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devserver_only_networks_converge_with_ten_percent_of_writes_failing() {
    use runtime::testing::{Reaction, Recorder};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let recorder = Recorder::new();
    let writes = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let (w, f) = (writes.clone(), failed.clone());
    // Every 10th write of the controller fails, alternating 409 Conflict and 500; every 3rd
    // watch request of its informers fails with 500 (the reflector must relist and resume).
    let watches = Arc::new(AtomicUsize::new(0));
    let (wa, wf) = (watches.clone(), failed.clone());
    recorder.prepend_reactor("*", "*", move |a| {
        if a.verb == "watch" {
            let n = wa.fetch_add(1, Ordering::SeqCst) + 1;
            if n % 3 == 0 {
                wf.fetch_add(1, Ordering::SeqCst);
                return Some(Reaction::internal_error("injected watch failure"));
            }
            return None;
        }
        if matches!(a.verb.as_str(), "get" | "list") {
            return None;
        }
        let n = w.fetch_add(1, Ordering::SeqCst) + 1;
        if n % 10 != 0 {
            return None;
        }
        f.fetch_add(1, Ordering::SeqCst);
        Some(if n % 20 == 0 { Reaction::conflict("injected conflict") } else { Reaction::internal_error("injected") })
    });
    let rec = recorder.clone();
    let env = Env::start_on(testenv::TestEnv::devserver().await, 28448, move |c| rec.wrap(c)).await;
    let server = env.env.server();
    // And the server ends every watch stream after 5 events: the informers resume mid-run.
    server.faults().end_watches_after(Some(5));
    let watches_before = server.request_log().count("watch", "bitcoinnetworks");
    for (name, nodes) in [("z1", 3), ("z2", 2), ("z3", 4)] {
        env.create(name, nodes).await;
    }
    for (name, nodes) in [("z1", 3), ("z2", 2), ("z3", 4)] {
        env.wait_ready(name, nodes, Duration::from_secs(60)).await;
        env.wait_full_mesh(name, nodes).await;
    }
    let (w, f, n) = (writes.load(Ordering::SeqCst), failed.load(Ordering::SeqCst), watches.load(Ordering::SeqCst));
    eprintln!("fault injection: {w} writes, {n} watch requests, {f} injected failures");
    assert!(f >= 2 && w >= 10, "faults were injected ({w} writes, {n} watches, {f} failures)");
    let rewatches = server.request_log().count("watch", "bitcoinnetworks") - watches_before;
    assert!(rewatches >= 2, "dropped watch streams were resumed ({rewatches} new watches of bitcoinnetworks)");
    server.faults().end_watches_after(None);
    env.stop().await;
}
