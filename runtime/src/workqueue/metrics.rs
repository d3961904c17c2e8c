//! Prometheus metrics for work queues, named as client-go's `workqueue_*` series.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // client-go: prometheus.ExponentialBuckets(10e-9, 10, 10), i.e. 10ns .. 100s.
    Histogram::new(exponential_buckets(1e-8, 10.0, 10))
}

/// The metric families shared by every queue registered with one registry.
///
/// Each queue gets its own label set `name="<queue name>"`, as client-go's
/// `MetricsProvider` does. Cloning is cheap (the families are reference counted),
/// so one `QueueMetrics` can serve every queue of a process.
#[derive(Clone, Debug)]
pub struct QueueMetrics {
    depth: Family<Labels, Gauge>,
    adds: Family<Labels, Counter>,
    latency: HistogramFamily,
    work_duration: HistogramFamily,
    unfinished_work: Family<Labels, Gauge<f64, AtomicU64>>,
    longest_running: Family<Labels, Gauge<f64, AtomicU64>>,
    retries: Family<Labels, Counter>,
}

impl QueueMetrics {
    /// Creates the families and registers them under the `workqueue` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            depth: Family::default(),
            adds: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            work_duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            unfinished_work: Family::default(),
            longest_running: Family::default(),
            retries: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("workqueue");
        r.register("depth", "Current depth of the work queue", m.depth.clone());
        r.register("adds", "Total number of adds handled by the work queue", m.adds.clone());
        r.register(
            "queue_duration_seconds",
            "How long in seconds an item stays in the work queue before being requested",
            m.latency.clone(),
        );
        r.register(
            "work_duration_seconds",
            "How long in seconds processing an item from the work queue takes",
            m.work_duration.clone(),
        );
        r.register(
            "unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by work_duration",
            m.unfinished_work.clone(),
        );
        r.register(
            "longest_running_processor_seconds",
            "How many seconds has the longest running processor for the work queue been running",
            m.longest_running.clone(),
        );
        r.register("retries", "Total number of retries handled by the work queue", m.retries.clone());
        m
    }

    /// The per-queue handles for the queue called `name`.
    pub(crate) fn for_queue(&self, name: &str) -> QueueRecorder {
        let l = vec![("name".to_string(), name.to_string())];
        QueueRecorder {
            depth: self.depth.get_or_create(&l).clone(),
            adds: self.adds.get_or_create(&l).clone(),
            latency: self.latency.get_or_create(&l).clone(),
            work_duration: self.work_duration.get_or_create(&l).clone(),
            unfinished_work: self.unfinished_work.get_or_create(&l).clone(),
            longest_running: self.longest_running.get_or_create(&l).clone(),
            retries: self.retries.get_or_create(&l).clone(),
        }
    }
}

/// Metric handles of one queue (all cheap clones of shared atomics).
#[derive(Clone, Debug)]
pub(crate) struct QueueRecorder {
    pub(crate) depth: Gauge,
    pub(crate) adds: Counter,
    pub(crate) latency: Histogram,
    pub(crate) work_duration: Histogram,
    pub(crate) unfinished_work: Gauge<f64, AtomicU64>,
    pub(crate) longest_running: Gauge<f64, AtomicU64>,
    pub(crate) retries: Counter,
}
