//! `--embedded`: the whole system in one process, no cluster needed. Starts the devserver (on
//! 127.0.0.1 with a kubeconfig file for `kubectl get btcnet -w`), the workload simulation
//! (StatefulSet controller, kubelet, simulated bitcoind, GC), installs the generated CRD,
//! applies the example network, runs the controller and prints a status table as it converges.

use apis::bitcoincontroller::v1::BitcoinNetwork;
use kube::api::{Api, ListParams};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::controller::{Config, Controller};
use crate::crd::{EXAMPLE_YAML, apply_networks, install_crd};
use crate::flags::Flags;
use crate::metrics::Metrics;
use crate::status;

/// One compact line per network: name, ready/desired, the Ready condition and each node.
pub fn table(nets: &[BitcoinNetwork]) -> String {
    let mut out = String::new();
    for n in nets {
        let name = format!(
            "{}/{}",
            n.metadata.namespace.as_deref().unwrap_or_default(),
            n.metadata.name.as_deref().unwrap_or_default()
        );
        let st = n.status.clone().unwrap_or_default();
        let cond = st
            .conditions
            .iter()
            .find(|c| c.type_ == status::READY)
            .map(|c| format!("Ready={} ({})", c.status, c.reason))
            .unwrap_or_else(|| "Ready=Unknown".into());
        let nodes: Vec<String> = st
            .nodes
            .iter()
            .map(|x| format!("{}:{}{}", x.ordinal, x.ip.as_deref().unwrap_or("-"), if x.ready { "+" } else { "~" }))
            .collect();
        out.push_str(&format!(
            "{name:<28} {}/{} ready  {cond:<32} [{}]\n",
            st.ready_nodes,
            n.spec.nodes,
            nodes.join(" ")
        ));
    }
    out
}

/// Runs the embedded system until `cancel` (or until Ready with `--exit-when-ready`).
pub async fn run(flags: &Flags, config: Config, cancel: CancellationToken) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let server = devserver::DevServer::builder().start().await?;
    let client = server.client()?;
    let sim = crate::sim::start(client.clone(), flags.sim_ready_delay, config.settings.rpc_port).await?;
    install_crd(&client).await?;
    let names = apply_networks(&client, EXAMPLE_YAML).await?;
    println!("devserver at {}; kubeconfig: {}", server.url(), server.kubeconfig_path().display());
    println!(
        "  watch it from another terminal: KUBECONFIG={} kubectl get btcnet -w",
        server.kubeconfig_path().display()
    );
    println!("applied {}; Ctrl-C to stop", names.join(", "));

    let cs = generated::Clientset::new(client.clone());
    let metrics = Metrics::new();
    let ctl = Controller::new(cs, config, metrics.clone())?;
    let bound =
        crate::health::serve(flags.metrics_addr(), flags.health_addr(), ctl.ready_flag(), metrics, cancel.clone())
            .await;
    // A demo keeps going without its endpoints: say which one is missing and why.
    match &bound.metrics {
        Ok(a) => println!("metrics: http://{a}/metrics"),
        Err(e) => println!("metrics endpoint disabled: {e}"),
    }
    match &bound.health {
        Ok(a) => println!("health: http://{a}/healthz, http://{a}/readyz"),
        Err(e) => println!("health endpoints disabled: {e}"),
    }
    let stop = cancel.child_token();
    let task = tokio::spawn(ctl.run(stop.clone()));
    let api: Api<BitcoinNetwork> = Api::all(client.clone());
    let mut last = String::new();
    let mut ready_at = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        if task.is_finished() {
            // The controller gave up (e.g. caches never synced): report its error below.
            break;
        }
        let nets = match api.list(&ListParams::default()).await {
            Ok(l) => l.items,
            Err(e) => {
                tracing::warn!(error = %e, "listing networks");
                continue;
            }
        };
        let t = table(&nets);
        if t != last {
            print!("[{:>6.2}s]\n{t}", started.elapsed().as_secs_f64());
            last = t;
        }
        let all_ready = !nets.is_empty() && nets.iter().all(|n| status::is_ready(n.status.as_ref()));
        if all_ready && ready_at.is_none() {
            ready_at = Some(started.elapsed());
            println!("all networks Ready after {:.2}s", started.elapsed().as_secs_f64());
            if flags.exit_when_ready {
                stop.cancel();
            }
        }
    }
    let result = task.await.map_err(|e| anyhow::anyhow!("controller task: {e}"))?;
    sim.shutdown().await;
    server.shutdown().await;
    result?;
    if flags.exit_when_ready && ready_at.is_none() {
        anyhow::bail!("stopped before the network was Ready");
    }
    Ok(())
}
