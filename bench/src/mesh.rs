//! The mesh's cost as a function of the network's size: one network of n nodes on the devserver
//! with the simulation (simulated bitcoind per pod), the controller alone on a thread of its own
//! (a current-thread runtime: its informers, reconciles and RPC client all run there), so that
//! thread's CPU time is the controller's and nothing else's. Measured: time until Ready, then,
//! idle, the reconciles, RPC calls and controller CPU over several resync periods.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec};
use kube::api::{ObjectMeta, PostParams};
use tokio_util::sync::CancellationToken;

/// What one network size cost.
#[derive(Debug, Clone)]
pub struct MeshCost {
    /// Seconds from creation until Ready.
    pub seconds_to_ready: f64,
    /// Reconciles of the network in the idle window, per resync period.
    pub reconciles_per_resync: f64,
    /// RPC calls per idle reconcile.
    pub rpc_per_reconcile: f64,
    /// RPC calls per idle resync period.
    pub rpc_per_resync: f64,
    /// Controller CPU seconds per idle reconcile.
    pub cpu_per_reconcile: f64,
    /// Controller CPU per resync period (at least one reconcile each), as a share of one core at
    /// the default 30 s resync.
    pub idle_core_share_at_default_resync: f64,
    /// Controller CPU seconds until Ready (creation, scale-up and meshing).
    pub cpu_to_ready: f64,
}

/// Reads the controller thread's CPU time: a task on that thread's runtime answers requests
/// with the thread's own clock (`cpu-time` reads only the calling thread's).
#[derive(Clone)]
struct ThreadClock(tokio::sync::mpsc::UnboundedSender<tokio::sync::oneshot::Sender<f64>>);

impl ThreadClock {
    /// Starts the answering task on the current (controller) runtime.
    fn serve() -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<f64>>();
        tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(cpu_time::ThreadTime::now().as_duration().as_secs_f64());
            }
        });
        Self(tx)
    }

    /// CPU seconds the controller thread has used.
    async fn seconds(&self) -> anyhow::Result<f64> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.0.send(tx).map_err(|_| anyhow::anyhow!("controller thread gone"))?;
        Ok(rx.await?)
    }
}

fn ready(n: &BitcoinNetwork) -> bool {
    n.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Runs one network of `nodes` nodes: until Ready, then idle for `resyncs` periods of `resync`.
pub async fn run(nodes: usize, resync: Duration, resyncs: u32) -> anyhow::Result<MeshCost> {
    let server = devserver::DevServer::builder().start().await?;
    let client = server.client()?;
    let options = devserver::sim::SimOptions { ready_delay: Duration::from_millis(50), ..Default::default() };
    let sim = devserver::sim::start(client.clone(), options).await?;
    controller::crd::install_crd(&client).await?;

    // The controller on its own thread and runtime.
    let metrics = controller::metrics::Metrics::new();
    let cancel = CancellationToken::new();
    let synced = Arc::new(AtomicBool::new(false));
    let (clock_tx, clock_rx) = std::sync::mpsc::channel();
    let thread = {
        let (client, metrics, cancel, synced) = (client.clone(), metrics.clone(), cancel.clone(), synced.clone());
        std::thread::Builder::new().name("controller".into()).spawn(move || -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async move {
                let _ = clock_tx.send(ThreadClock::serve());
                let config = controller::controller::Config {
                    resync,
                    not_ready_requeue: Duration::from_millis(500),
                    rpc_timeout: Duration::from_secs(10),
                    ..Default::default()
                };
                let ctl = controller::controller::Controller::new(generated::Clientset::new(client), config, metrics)?;
                let ready = ctl.ready_flag();
                let run = tokio::spawn(ctl.run(cancel));
                while !ready.load(Ordering::Acquire) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                synced.store(true, Ordering::Release);
                run.await?
            })
        })?
    };
    let clock = clock_rx.recv()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !synced.load(Ordering::Acquire) {
        anyhow::ensure!(Instant::now() < deadline, "controller caches did not sync");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let api = generated::Clientset::new(client.clone()).bitcoincontroller_v1().bitcoin_networks("default");
    let (cpu0, start) = (clock.seconds().await?, Instant::now());
    let net = BitcoinNetwork {
        metadata: ObjectMeta { name: Some("mesh".into()), ..Default::default() },
        spec: BitcoinNetworkSpec { nodes: nodes as i32, ..Default::default() },
        status: None,
    };
    api.create(&net, &PostParams::default()).await?;
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut shown = Instant::now();
    loop {
        let now = api.get("mesh", &Default::default()).await;
        if now.as_ref().is_ok_and(ready) {
            break;
        }
        if shown.elapsed() > Duration::from_secs(10) {
            shown = Instant::now();
            let cond = now.ok().and_then(|n| controller::status::ready_condition(n.status.as_ref()).cloned());
            eprintln!(
                "mesh {nodes}: {:.0} s, {}",
                start.elapsed().as_secs_f64(),
                cond.map(|c| format!("{}: {}", c.reason, c.message)).unwrap_or_default()
            );
        }
        anyhow::ensure!(Instant::now() < deadline, "{nodes}-node network not Ready within 900 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seconds_to_ready = start.elapsed().as_secs_f64();
    let cpu_to_ready = clock.seconds().await? - cpu0;
    // Settle: the reconciles that follow Ready (status echo, last events).
    tokio::time::sleep(resync).await;

    let reconciles =
        || metrics.reconciles.get_or_create(&controller::metrics::ResultLabels { result: "success".into() }).get();
    let (r0, c0, cpu1) = (reconciles(), metrics.rpc_calls.get(), clock.seconds().await?);
    tokio::time::sleep(resync * resyncs).await;
    let (r1, c1, cpu2) = (reconciles(), metrics.rpc_calls.get(), clock.seconds().await?);
    anyhow::ensure!(
        api.get("mesh", &Default::default()).await.is_ok_and(|n| ready(&n)),
        "the network left Ready while idle"
    );

    cancel.cancel();
    let joined = tokio::task::spawn_blocking(move || thread.join()).await?;
    joined.map_err(|_| anyhow::anyhow!("controller thread panicked"))??;
    sim.shutdown().await;
    server.shutdown().await;

    let reconciled = (r1 - r0).max(1) as f64;
    let cpu = cpu2 - cpu1;
    let cpu_per_reconcile = cpu / reconciled;
    // Each resync reconciles the network at least once, however long a reconcile takes.
    let reconciles_per_resync = (r1 - r0) as f64 / f64::from(resyncs);
    Ok(MeshCost {
        seconds_to_ready,
        reconciles_per_resync,
        rpc_per_reconcile: (c1 - c0) as f64 / reconciled,
        rpc_per_resync: (c1 - c0) as f64 / f64::from(resyncs),
        cpu_per_reconcile,
        idle_core_share_at_default_resync: cpu_per_reconcile * reconciles_per_resync.max(1.0) / 30.0,
        cpu_to_ready,
    })
}
