//! Leader election: two controllers share a Lease; only the leader writes, and when it stops
//! (releasing the lease) the other takes over and reconciles.

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
    identity: &str,
    rpc_port: u16,
) -> (Recorder, CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let recorder = Recorder::new();
    let client = recorder.wrap(raw.clone());
    let config = Config {
        resync: Duration::from_secs(1),
        not_ready_requeue: Duration::from_millis(300),
        settings: PodSettings { rpc_port, ..PodSettings::default() },
        ..Config::default()
    };
    let ctl = Controller::new(generated::Clientset::new(client.clone()), config, Metrics::new()).unwrap();
    let election = LeaderElectionConfig {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(300),
        ..LeaderElectionConfig::new("default", "bitcoin-controller", identity)
    };
    let cancel = CancellationToken::new();
    let task = tokio::spawn(ctl.run_leader_elected(client, election, cancel.clone()));
    (recorder, cancel, task)
}

fn network_writes(r: &Recorder) -> usize {
    r.writes().iter().filter(|a| a.resource != "leases").count()
}

async fn create_and_wait_ready(raw: &kube::Client, name: &str) {
    let nets: Api<BitcoinNetwork> = Api::namespaced(raw.clone(), "default");
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
    let server = devserver::DevServer::builder().start().await.unwrap();
    let raw = server.client().unwrap();
    let sim = controller::sim::start(raw.clone(), Duration::from_millis(200), 28801).await.unwrap();
    controller::embedded::install_crd(&raw).await.unwrap();

    let (rec_a, cancel_a, task_a) = candidate(&raw, "a", 28801);
    // Let "a" win the lease before "b" starts campaigning.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rec_b, cancel_b, task_b) = candidate(&raw, "b", 28801);

    create_and_wait_ready(&raw, "one").await;
    assert!(network_writes(&rec_a) > 0, "the leader reconciled");
    assert_eq!(network_writes(&rec_b), 0, "the standby wrote: {:?}", rec_b.writes());

    // The leader stops (releasing the lease): the standby takes over well within lease_duration.
    cancel_a.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_a).await.unwrap().unwrap().unwrap();
    let start = Instant::now();
    create_and_wait_ready(&raw, "two").await;
    eprintln!("standby took over and made 'two' Ready in {:?}", start.elapsed());
    assert!(network_writes(&rec_b) > 0, "the new leader reconciled");

    cancel_b.cancel();
    tokio::time::timeout(Duration::from_secs(10), task_b).await.unwrap().unwrap().unwrap();
    sim.shutdown().await;
    server.shutdown().await;
}
