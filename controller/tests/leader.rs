//! Leader election: two controllers share a Lease; only the leader writes, and when it stops
//! (releasing the lease) the other takes over and reconciles. On the devserver, or on
//! kube-apiserver with `KUBE_TEST_KUBECONFIG` (each test in its own namespace, which also holds
//! the Lease and is the controllers' watch scope).

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec};
use controller::controller::{Config, Controller};
use controller::metrics::Metrics;
use controller::resources::PodSettings;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use runtime::leader_election::LeaderElectionConfig;
use runtime::testing::Recorder;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn candidate(
    raw: &kube::Client,
    ns: &str,
    identity: &str,
    rpc_port: u16,
) -> (Recorder, CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let recorder = Recorder::new();
    let client = recorder.wrap(raw.clone());
    let config = Config {
        resync: Duration::from_secs(1),
        not_ready_requeue: Duration::from_millis(300),
        settings: PodSettings { rpc_port, ..PodSettings::default() },
        namespace: Some(ns.to_string()),
        ..Config::default()
    };
    let ctl = Controller::new(generated::Clientset::new(client.clone()), config, Metrics::new()).unwrap();
    let election = LeaderElectionConfig {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(300),
        ..LeaderElectionConfig::new(ns, "bitcoin-controller", identity)
    };
    let cancel = CancellationToken::new();
    let task = tokio::spawn(ctl.run_leader_elected(client, election, cancel.clone()));
    (recorder, cancel, task)
}

fn network_writes(r: &Recorder) -> usize {
    r.writes().iter().filter(|a| a.resource != "leases").count()
}

async fn create_and_wait_ready(raw: &kube::Client, ns: &str, name: &str) {
    let nets: Api<BitcoinNetwork> = Api::namespaced(raw.clone(), ns);
    let net = BitcoinNetwork {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: BitcoinNetworkSpec { nodes: 2, ..Default::default() },
        status: None,
    };
    nets.create(&PostParams::default(), &net).await.unwrap();
    let start = Instant::now();
    while !nets.get(name).await.is_ok_and(|n| controller::status::is_ready(n.status.as_ref())) {
        assert!(start.elapsed() < Duration::from_secs(30), "{name} not Ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_the_standby_takes_over() {
    let env = testenv::TestEnv::start().await;
    let (raw, ns) = (env.client(), env.namespace().to_string());
    let sim =
        controller::sim::start_in(raw.clone(), Duration::from_millis(200), 28801, Some(ns.clone())).await.unwrap();
    env.install_crd(&serde_yaml::from_str(controller::crd::CRD_YAML).unwrap()).await;

    let (rec_a, cancel_a, task_a) = candidate(&raw, &ns, "a", 28801);
    // Let "a" win the lease before "b" starts campaigning.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rec_b, cancel_b, task_b) = candidate(&raw, &ns, "b", 28801);

    create_and_wait_ready(&raw, &ns, "one").await;
    assert!(network_writes(&rec_a) > 0, "the leader reconciled");
    assert_eq!(network_writes(&rec_b), 0, "the standby wrote: {:?}", rec_b.writes());

    // The leader stops (releasing the lease): the standby takes over well within lease_duration.
    cancel_a.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_a).await.unwrap().unwrap().unwrap();
    let start = Instant::now();
    create_and_wait_ready(&raw, &ns, "two").await;
    eprintln!("standby took over and made 'two' Ready in {:?}", start.elapsed());
    assert!(network_writes(&rec_b) > 0, "the new leader reconciled");

    cancel_b.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_b).await.unwrap().unwrap().unwrap();
    sim.shutdown().await;
    env.shutdown().await;
}

async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes()).await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    let code = out.get(9..12)?.parse().ok()?;
    Some((code, out))
}

/// One `bitcoin-controller --leader-elect` process; its stderr is collected for the log checks.
/// Its endpoints listen on port 0 (no port picked here can be taken by someone else before the
/// child binds it); the ports come from the child's own "serving /metrics" log line.
struct Replica {
    child: std::process::Child,
    health: u16,
    metrics: u16,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

/// The port after `key=127.0.0.1:` in the endpoints' log line.
fn logged_port(log: &str, key: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.contains("serving /metrics"))?;
    let at = line.find(&format!("{key}=127.0.0.1:"))? + key.len() + "=127.0.0.1:".len();
    line[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

impl Replica {
    async fn start(kubeconfig: &std::path::Path, ns: &str, name: &str) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bitcoin-controller"))
            .args(["--kubeconfig".as_ref(), kubeconfig.as_os_str()])
            .args(["--leader-elect", "--leader-elect-namespace", ns, "--namespace", ns, "--rpc-port", "28802"])
            .args(["--health-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"])
            .env("POD_NAME", name)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn bitcoin-controller");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let start = Instant::now();
        loop {
            let text = log.lock().unwrap().clone();
            if let (Some(health), Some(metrics)) = (logged_port(&text, "health"), logged_port(&text, "metrics")) {
                return Self { child, health, metrics, log };
            }
            if start.elapsed() > Duration::from_secs(30) || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                panic!("{name} never said where it serves /metrics and /readyz:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ready(&self) -> bool {
        http_get(self.health, "/readyz").await.is_some_and(|(code, _)| code == 200)
    }

    /// The `leader_election_master_status` gauge, when the metrics endpoint answers.
    async fn leading(&self) -> Option<bool> {
        let (_, body) = http_get(self.metrics, "/metrics").await?;
        let line = body.lines().find(|l| l.starts_with("leader_election_master_status{"))?;
        Some(line.ends_with(" 1"))
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(15) {
                let _ = self.child.kill();
                panic!("replica did not exit within 15s of SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two replicas as deploy/deployment.yaml runs them: both pass their readiness probe (the
/// standby too, or a rolling update could never finish), exactly one leads, and the standby
/// says in its log that it waits and for whom. When the leader stops, the standby leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_replicas_are_ready_and_exactly_one_leads() {
    let env = testenv::TestEnv::start().await;
    let ns = env.namespace().to_string();
    env.install_crd(&serde_yaml::from_str(controller::crd::CRD_YAML).unwrap()).await;
    let kubeconfig = env.kubeconfig_path();
    let a = Replica::start(&kubeconfig, &ns, "replica-a").await;
    let b = Replica::start(&kubeconfig, &ns, "replica-b").await;

    let start = Instant::now();
    loop {
        let ready = (a.ready().await, b.ready().await);
        let leading = (a.leading().await, b.leading().await);
        if ready == (true, true) && matches!(leading, (Some(x), Some(y)) if x != y) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "ready {ready:?}, leading {leading:?}\nA:\n{}\nB:\n{}",
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a_leads = a.leading().await == Some(true);
    let (mut leader, standby) = if a_leads { (a, b) } else { (b, a) };
    // The standby logs the leader when it first reads the lease (its retry period, jittered).
    let start = Instant::now();
    while !standby.log().contains("standing by") && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = standby.log();
    assert!(log.contains("waiting to acquire the leader lease"), "{log}");
    assert!(log.contains("standing by"), "the standby names the leader: {log}");
    assert!(leader.log().contains("acquired the leader lease"), "{}", leader.log());

    // The leader stops and releases the lease: the standby takes over.
    assert!(leader.terminate().success(), "{}", leader.log());
    let start = Instant::now();
    while standby.leading().await != Some(true) {
        assert!(start.elapsed() < Duration::from_secs(20), "standby did not take over:\n{}", standby.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(standby.ready().await);
    drop(standby);
    env.shutdown().await;
}
