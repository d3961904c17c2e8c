//! `--embedded`: the whole system in one process, no cluster needed. Starts the devserver (on
//! 127.0.0.1 with a kubeconfig file for `kubectl get btcnet -w`), the workload simulation
//! (StatefulSet controller, kubelet, simulated bitcoind, GC), installs the generated CRD,
//! applies the example network, runs the controller and prints a status table as it converges.

use apis::bitcoincontroller::v1::BitcoinNetwork;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::controller::{Config, Controller};
use crate::flags::Flags;
use crate::metrics::Metrics;
use crate::status;

/// The generated CRD, compiled in so the binary works from anywhere.
pub const CRD_YAML: &str =
    include_str!("../../deploy/crd/bitcoincontroller.christianb93.github.com_bitcoinnetworks.yaml");
/// The example network (3 nodes).
pub const EXAMPLE_YAML: &str = include_str!("../../deploy/examples/bitcoinnetwork.yaml");

/// Creates the CRD (if absent) and waits until it is Established.
pub async fn install_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd: CustomResourceDefinition = serde_yaml::from_str(CRD_YAML)?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(anyhow::anyhow!("creating CRD {name}: {e}")),
    }
    let established =
        kube::runtime::wait::await_condition(api, &name, kube::runtime::wait::conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .map_err(|_| anyhow::anyhow!("CRD {name} not established within 30s"))??;
    Ok(())
}

/// Creates every BitcoinNetwork in `yaml` (multi-document); existing ones are left alone.
pub async fn apply_networks(client: &kube::Client, yaml: &str) -> anyhow::Result<Vec<String>> {
    let mut names = vec![];
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        let net: BitcoinNetwork = serde_yaml::from_value(value)?;
        let ns = net.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<BitcoinNetwork> = Api::namespaced(client.clone(), &ns);
        match api.create(&PostParams::default(), &net).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(anyhow::anyhow!("creating the example network: {e}")),
        }
        names.push(format!("{ns}/{}", net.metadata.name.unwrap_or_default()));
    }
    Ok(names)
}

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
