//! The workload simulation used by `--embedded` and the end-to-end tests: a thin seam over
//! `devserver::sim`, so the controller depends on one function.

use std::time::Duration;

/// The running simulation (StatefulSet controller, kubelet, simulated bitcoind, GC).
pub type SimHandle = devserver::sim::SimHandle;

/// Starts the simulation against `client`, with pods Ready after `ready_delay` and simulated
/// bitcoind on `rpc_port` when a pod names no port.
pub async fn start(client: kube::Client, ready_delay: Duration, rpc_port: u16) -> anyhow::Result<SimHandle> {
    devserver::sim::start(client, devserver::sim::SimOptions { ready_delay, rpc_port, garbage_collection: true }).await
}
