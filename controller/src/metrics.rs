//! Prometheus metrics: the work queue's (from the runtime) plus reconcile and RPC counters.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use runtime::workqueue::QueueMetrics;
use std::sync::Arc;

/// Labels of `bitcoin_controller_reconcile_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success`, `requeue` or `error`.
    pub result: String,
}

/// Labels of `bitcoin_controller_rpc_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcErrorLabels {
    /// The [`crate::rpc::RpcError::kind`].
    pub kind: String,
}

/// Labels of `leader_election_master_status` (client-go's name for the gauge).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LeaseLabels {
    /// The Lease's name.
    pub name: String,
}

/// Every metric the controller exports, registered in one registry served at `/metrics`.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` encodes.
    pub registry: Arc<Registry>,
    /// Work queue metrics (`workqueue_*{name="bitcoinnetworks"}`).
    pub queue: QueueMetrics,
    /// Reconciles by result.
    pub reconciles: Family<ResultLabels, Counter>,
    /// Reconcile duration in seconds.
    pub reconcile_duration: Histogram,
    /// RPC failures by kind.
    pub rpc_errors: Family<RpcErrorLabels, Counter>,
    /// bitcoind JSON-RPC calls made (the mesh's cost: one `getaddednodeinfo` per ready node per
    /// reconcile, plus one call per peer added or removed).
    pub rpc_calls: Counter,
    /// Writes to the API server (create/update/delete/status), to see steady state is write-free.
    pub writes: Counter,
    /// 1 while this replica holds the leader lease, 0 while it stands by (only with leader election).
    pub leader_status: Family<LeaseLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let queue = QueueMetrics::register(&mut registry);
        let reconciles = Family::<ResultLabels, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let rpc_errors = Family::<RpcErrorLabels, Counter>::default();
        let rpc_calls = Counter::default();
        let writes = Counter::default();
        let leader_status = Family::<LeaseLabels, Gauge>::default();
        registry.register(
            "leader_election_master_status",
            "1 while this replica leads (holds the named Lease), 0 while it stands by",
            leader_status.clone(),
        );
        let sub = registry.sub_registry_with_prefix("bitcoin_controller");
        sub.register("reconcile", "Reconciles by result", reconciles.clone());
        sub.register("reconcile_duration_seconds", "Time spent in one reconcile", reconcile_duration.clone());
        sub.register("rpc_errors", "bitcoind JSON-RPC failures by kind", rpc_errors.clone());
        sub.register("rpc_calls", "bitcoind JSON-RPC calls made", rpc_calls.clone());
        sub.register("api_writes", "Writes sent to the API server", writes.clone());
        Self {
            registry: Arc::new(registry),
            queue,
            reconciles,
            reconcile_duration,
            rpc_errors,
            rpc_calls,
            writes,
            leader_status,
        }
    }

    /// Counts one reconcile.
    pub fn reconciled(&self, result: &str, seconds: f64) {
        self.reconciles.get_or_create(&ResultLabels { result: result.into() }).inc();
        self.reconcile_duration.observe(seconds);
    }

    /// The leader gauge of the lease `name`.
    pub fn leader(&self, name: &str) -> Gauge {
        self.leader_status.get_or_create(&LeaseLabels { name: name.into() }).clone()
    }

    /// The text exposition format of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exports_reconcile_and_queue_metrics() {
        let m = Metrics::new();
        let q: runtime::workqueue::RateLimitingQueue<String> = runtime::workqueue::RateLimitingQueue::with_metrics(
            "bitcoinnetworks",
            &m.queue,
            runtime::workqueue::default_controller_rate_limiter(),
        );
        q.add("ns/a".to_string());
        m.reconciled("success", 0.01);
        m.rpc_errors.get_or_create(&RpcErrorLabels { kind: "timeout".into() }).inc();
        let text = m.encode();
        assert!(text.contains(r#"bitcoin_controller_reconcile_total{result="success"} 1"#), "{text}");
        assert!(text.contains(r#"bitcoin_controller_rpc_errors_total{kind="timeout"} 1"#), "{text}");
        assert!(text.contains(r#"workqueue_adds_total{name="bitcoinnetworks"} 1"#), "{text}");
    }
}
