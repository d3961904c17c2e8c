//! Controller API load: the bitcoin controller on a devserver with simulated workloads. How many
//! API writes one network creation costs the controller, how many requests it makes while idle
//! over five resync periods (goal: none beyond its watches), and how long until all are Ready.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec};
use kube::api::{ObjectMeta, PostParams};
use tokio_util::sync::CancellationToken;

/// What the controller cost.
#[derive(Debug, Default)]
pub struct Load {
    /// Controller writes per network, by `verb resource`.
    pub writes_by_verb: BTreeMap<String, usize>,
    /// All controller writes divided by the number of networks.
    pub writes_per_network: f64,
    /// The same without Events (which record what happened rather than change the cluster).
    pub object_writes_per_network: f64,
    /// Requests other than watches during five idle resync periods.
    pub idle_requests: usize,
    /// Seconds from the first create until every network is Ready.
    pub seconds_to_ready: f64,
    /// The simulated kubelet's readiness delay (no network can be Ready sooner).
    pub ready_delay: f64,
}

fn is_write(verb: &str) -> bool {
    matches!(verb, "create" | "update" | "patch" | "delete" | "deletecollection")
}

fn ready(n: &BitcoinNetwork) -> bool {
    n.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Runs `n` one-node networks through the controller.
pub async fn run(n: usize) -> anyhow::Result<Load> {
    let ready_delay = Duration::from_millis(100);
    let resync = Duration::from_secs(1);
    let server = devserver::DevServer::builder().start().await?;
    let client = server.client()?;
    let sim =
        devserver::sim::start(client.clone(), devserver::sim::SimOptions { ready_delay, ..Default::default() }).await?;
    controller::crd::install_crd(&client).await?;
    let cs = generated::Clientset::new(client.clone());
    // The controller gets its own client, wrapped in a recorder: its requests are counted apart
    // from the simulation's and the benchmark's, which share the server.
    let recorder = runtime::testing::Recorder::new();
    let controller_cs = generated::Clientset::new(recorder.wrap(client.clone()));
    let config =
        controller::controller::Config { resync, not_ready_requeue: Duration::from_millis(500), ..Default::default() };
    let ctl = controller::controller::Controller::new(controller_cs, config, controller::metrics::Metrics::new())?;
    let ready_flag = ctl.ready_flag();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(ctl.run(cancel.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready_flag.load(std::sync::atomic::Ordering::Relaxed) {
        anyhow::ensure!(Instant::now() < deadline, "controller caches did not sync");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Our own view of progress is an informer, so polling adds no requests to the log.
    let factory = generated::SharedInformerFactory::new(&cs, None);
    let nets = factory.bitcoincontroller().v1().bitcoin_networks();
    factory.start();
    factory.wait_for_cache_sync(Duration::from_secs(30)).await;
    let lister = nets.lister();

    recorder.clear_actions();
    let start = Instant::now();
    let api = cs.bitcoincontroller_v1().bitcoin_networks("default");
    for i in 0..n {
        let net = BitcoinNetwork {
            metadata: ObjectMeta { name: Some(format!("load-{i:04}")), ..Default::default() },
            spec: BitcoinNetworkSpec { nodes: 1, ..Default::default() },
            status: None,
        };
        api.create(&net, &PostParams::default()).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let all = lister.list(&Default::default());
        if all.len() == n && all.iter().all(|n| ready(n)) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "networks did not become Ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds_to_ready = start.elapsed().as_secs_f64();
    // Let the last status writes and events land before counting.
    tokio::time::sleep(resync).await;
    let mut writes_by_verb = BTreeMap::new();
    let mut total = 0;
    let mut events = 0;
    for a in recorder.actions().into_iter().filter(|a| is_write(&a.verb)) {
        if a.resource == "events" {
            events += 1;
        }
        let resource = match &a.subresource {
            Some(sub) => format!("{}/{sub}", a.resource),
            None => a.resource.clone(),
        };
        *writes_by_verb.entry(format!("{} {resource}", a.verb)).or_insert(0) += 1;
        total += 1;
    }

    recorder.clear_actions();
    tokio::time::sleep(resync * 5).await;
    let idle: Vec<_> = recorder.actions().into_iter().filter(|a| a.verb != "watch").collect();
    if !idle.is_empty() {
        eprintln!(
            "controller requests while idle: {:?}",
            idle.iter().take(10).map(ToString::to_string).collect::<Vec<_>>()
        );
    }

    cancel.cancel();
    let _ = task.await;
    factory.shutdown().await;
    sim.shutdown().await;
    server.shutdown().await;
    Ok(Load {
        writes_per_network: total as f64 / n as f64,
        object_writes_per_network: (total - events) as f64 / n as f64,
        writes_by_verb,
        idle_requests: idle.len(),
        seconds_to_ready,
        ready_delay: ready_delay.as_secs_f64(),
    })
}
