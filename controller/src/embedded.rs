//! `--embedded`: the whole system in one process, no cluster needed. Starts the devserver (on
//! 127.0.0.1 with a kubeconfig file for `kubectl get btcnet -w`), the workload simulation
//! (StatefulSet controller, kubelet, simulated bitcoind, GC), installs the generated CRD,
//! applies the example network, runs the controller and prints a status table as it converges.

use apis::bitcoincontroller::v1::BitcoinNetwork;
use kube::api::{Api, ListParams};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::controller::{Config, Controller};
use crate::crd::{EXAMPLE_YAML, apply_networks, install_crd};
use crate::flags::Flags;
use crate::metrics::Metrics;
use crate::status;

/// The width of the NETWORK column; longer `namespace/name`s end in an ellipsis.
const NAME_WIDTH: usize = 28;
/// Nodes listed per row; a larger network shows the first ones and a count.
const NODES_SHOWN: usize = 8;

/// What the columns of [`row`] mean, printed once at start.
pub const LEGEND: &str = "legend: [seconds since start] NETWORK  READY/DESIRED  Ready condition (reason)  [ordinal:pod-ip per node; + ready, ~ not ready]; one line per change";

/// `text` cut to `width` characters, ending in `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The `namespace/name` key of a network.
pub fn key_of(n: &BitcoinNetwork) -> String {
    format!(
        "{}/{}",
        n.metadata.namespace.as_deref().unwrap_or_default(),
        n.metadata.name.as_deref().unwrap_or_default()
    )
}

/// One compact line for a network: name, ready/desired, the Ready condition and its nodes.
pub fn row(n: &BitcoinNetwork) -> String {
    let st = n.status.clone().unwrap_or_default();
    let cond = status::ready_condition(Some(&st))
        .map(|c| format!("Ready={} ({})", c.status, c.reason))
        .unwrap_or_else(|| "Ready=Unknown".into());
    let mut nodes: Vec<String> = st
        .nodes
        .iter()
        .take(NODES_SHOWN)
        .map(|x| format!("{}:{}{}", x.ordinal, x.ip.as_deref().unwrap_or("-"), if x.ready { "+" } else { "~" }))
        .collect();
    if st.nodes.len() > NODES_SHOWN {
        nodes.push(format!("… +{} more", st.nodes.len() - NODES_SHOWN));
    }
    let name = fit(&key_of(n), NAME_WIDTH);
    format!("{name:<NAME_WIDTH$} {}/{} ready  {cond:<32} [{}]", st.ready_nodes, n.spec.nodes, nodes.join(" "))
}

/// The rows that changed since `last` (which is updated), and the networks that are gone.
pub fn changed_rows(last: &mut BTreeMap<String, String>, nets: &[BitcoinNetwork]) -> Vec<String> {
    let mut out = vec![];
    let mut seen = BTreeSet::new();
    for n in nets {
        let (key, line) = (key_of(n), row(n));
        seen.insert(key.clone());
        if last.get(&key) != Some(&line) {
            out.push(line.clone());
            last.insert(key, line);
        }
    }
    let gone: Vec<String> = last.keys().filter(|k| !seen.contains(*k)).cloned().collect();
    for key in gone {
        last.remove(&key);
        out.push(format!("{:<NAME_WIDTH$} deleted", fit(&key, NAME_WIDTH)));
    }
    out
}

/// Where `--embedded` writes the simulator's logs unless `-v` (one file per process).
pub fn sim_log_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("bitcoin-controller-embedded-{}.log", std::process::id()))
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
    if !flags.verbose {
        println!("simulator log: {} (-v shows it here)", sim_log_path().display());
    }

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
    println!("{LEGEND}");
    let stop = cancel.child_token();
    let task = tokio::spawn(ctl.run(stop.clone()));
    let api: Api<BitcoinNetwork> = Api::all(client.clone());
    let mut last = BTreeMap::new();
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
        for line in changed_rows(&mut last, &nets) {
            println!("[{:>7.2}s] {line}", started.elapsed().as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::*;
    use apis::bitcoincontroller::v1::{BitcoinNetworkNode, BitcoinNetworkSpec, BitcoinNetworkStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn net(name: &str, nodes: i32, ready: i32) -> BitcoinNetwork {
        let status = BitcoinNetworkStatus {
            nodes: (0..nodes)
                .map(|o| BitcoinNetworkNode {
                    ordinal: o,
                    ready: o < ready,
                    ip: Some(format!("127.0.0.{}", o + 2)),
                    ..Default::default()
                })
                .collect(),
            ready_nodes: ready,
            ..Default::default()
        };
        BitcoinNetwork {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some("default".into()), ..Default::default() },
            spec: BitcoinNetworkSpec { nodes, ..Default::default() },
            status: Some(status),
        }
    }

    #[test]
    fn one_line_per_change_and_a_line_for_a_deleted_network() {
        let mut last = BTreeMap::new();
        let (a, b) = (net("a", 2, 1), net("b", 1, 0));
        assert_eq!(changed_rows(&mut last, &[a.clone(), b.clone()]).len(), 2, "first sight: every row");
        assert!(changed_rows(&mut last, &[a.clone(), b.clone()]).is_empty(), "nothing changed: nothing printed");
        let a2 = net("a", 2, 2);
        let lines = changed_rows(&mut last, &[a2.clone(), b]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("default/a ") && lines[0].contains("2/2 ready"), "{lines:?}");
        assert!(lines[0].contains("[0:127.0.0.2+ 1:127.0.0.3+]"), "{lines:?}");
        let lines = changed_rows(&mut last, &[a2]);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("default/b") && lines[0].ends_with("deleted"), "{lines:?}");
    }

    #[test]
    fn long_names_are_cut_with_an_ellipsis_and_big_networks_summarised() {
        let long = net(&"n".repeat(48), 20, 20);
        let line = row(&long);
        let name = line.split_whitespace().next().unwrap();
        assert_eq!(name.chars().count(), NAME_WIDTH, "{line}");
        assert!(name.ends_with('…'), "{line}");
        assert!(line.contains("… +12 more"), "{line}");
        let short = row(&net("a", 1, 1));
        assert_eq!(short.find(" 1/1 ready"), Some(NAME_WIDTH), "columns line up: {short}");
        let cut = line.char_indices().nth(NAME_WIDTH).map(|(i, _)| &line[i..]).unwrap_or_default();
        assert!(cut.starts_with(" 20/20 ready"), "after a cut name too: {line}");
    }
}
