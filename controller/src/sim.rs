//! The workload simulation used by `--embedded` and the end-to-end tests: a thin seam over
//! `devserver::sim`, so the controller depends on one function.

use std::time::Duration;

/// The running simulation (StatefulSet controller, kubelet, simulated bitcoind, GC).
pub type SimHandle = devserver::sim::SimHandle;

/// Starts the simulation against `client`, with pods Ready after `ready_delay` and simulated
/// bitcoind on `rpc_port` when a pod names no port.
pub async fn start(client: kube::Client, ready_delay: Duration, rpc_port: u16) -> anyhow::Result<SimHandle> {
    start_in(client, ready_delay, rpc_port, None).await
}

/// Like [`start`], acting on one namespace only (`None`: all), so that simulations of
/// parallel tests can share one real API server.
pub async fn start_in(
    client: kube::Client,
    ready_delay: Duration,
    rpc_port: u16,
    namespace: Option<String>,
) -> anyhow::Result<SimHandle> {
    let options = devserver::sim::SimOptions { ready_delay, rpc_port, garbage_collection: true, namespace };
    devserver::sim::start(client, options).await
}
