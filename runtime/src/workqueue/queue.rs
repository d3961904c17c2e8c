//! The base work queue: FIFO order, a dirty set and a processing set.

use super::metrics::{QueueMetrics, QueueRecorder};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A fair, stingy work queue with client-go's `workqueue.Typed[T]` semantics.
///
/// Invariants (client-go `util/workqueue/doc.go`), each kept by the method named:
/// * **Stingy**: an item is in `queue` at most once: [`Queue::add`] ignores an item
///   that is already *dirty* (waiting to be processed).
/// * **No concurrent processing**: an item handed out by [`Queue::get`] moves to
///   `processing`; while it is there, [`Queue::add`] only marks it dirty and
///   never pushes it, so no second worker can get it.
/// * **No lost adds**: [`Queue::done`] pushes an item that was re-added while it
///   was processing, so the latest add is always processed after the last `done`.
/// * **Fair**: items are handed out in the order they became dirty.
///
/// Cloning a `Queue` gives another handle to the same queue.
pub struct Queue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.state.lock();
        f.debug_struct("Queue")
            .field("len", &s.queue.len())
            .field("processing", &s.processing.len())
            .field("shutting_down", &s.shutting_down)
            .finish()
    }
}

struct Inner<T> {
    state: Mutex<State<T>>,
    /// Wakes workers blocked in `get`.
    item_ready: Notify,
    /// Wakes `shut_down_with_drain` when `processing` becomes empty.
    drained: Notify,
    metrics: Option<QueueRecorder>,
}

struct State<T> {
    queue: VecDeque<T>,
    /// Items that need processing (in `queue`, or processing and re-added).
    dirty: HashSet<T>,
    /// Items handed out by `get` and not yet `done`.
    processing: HashSet<T>,
    /// When each queued item was added (only with metrics).
    add_times: HashMap<T, Instant>,
    /// When each processing item was handed out (only with metrics).
    process_start: HashMap<T, Instant>,
    shutting_down: bool,
}

impl<T> Default for Queue<T>
where
    T: Hash + Eq + Clone + Send + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Queue<T>
where
    T: Hash + Eq + Clone + Send + 'static,
{
    /// A queue without metrics.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// A queue that reports its metrics under the label `name`.
    ///
    /// Inside a Tokio runtime this also starts a task that refreshes the
    /// unfinished-work and longest-running gauges every 500 ms (client-go's
    /// `updateUnfinishedWorkLoop`); it ends when the queue is shut down or dropped.
    pub fn with_metrics(name: &str, metrics: &QueueMetrics) -> Self {
        let q = Self::build(Some(metrics.for_queue(name)));
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let weak: Weak<Inner<T>> = Arc::downgrade(&q.inner);
            handle.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    let done = {
                        let s = inner.state.lock();
                        inner.update_unfinished(&s);
                        s.shutting_down && s.processing.is_empty()
                    };
                    if done {
                        return;
                    }
                }
            });
        }
        q
    }

    fn build(metrics: Option<QueueRecorder>) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    add_times: HashMap::new(),
                    process_start: HashMap::new(),
                    shutting_down: false,
                }),
                item_ready: Notify::new(),
                drained: Notify::new(),
                metrics,
            }),
        }
    }

    /// Marks `item` as needing processing.
    ///
    /// Ignored after shutdown. An item already waiting is not added twice
    /// (stingy); an item being processed is only marked dirty and is queued again
    /// by [`Queue::done`] (no concurrent processing, no lost add).
    pub fn add(&self, item: T) {
        let mut s = self.inner.state.lock();
        if s.shutting_down || s.dirty.contains(&item) {
            return;
        }
        if let Some(m) = &self.inner.metrics {
            m.adds.inc();
        }
        s.dirty.insert(item.clone());
        if s.processing.contains(&item) {
            return;
        }
        self.push(&mut s, item);
    }

    fn push(&self, s: &mut State<T>, item: T) {
        if let Some(m) = &self.inner.metrics {
            m.depth.inc();
            s.add_times.entry(item.clone()).or_insert_with(Instant::now);
        }
        s.queue.push_back(item);
        self.inner.item_ready.notify_one();
    }

    /// Waits for the next item and marks it as processing.
    ///
    /// Returns `None` once the queue is shut down *and* empty: items queued before
    /// the shutdown are still handed out, as in client-go. The caller must call
    /// [`Queue::done`] with the item when it has finished with it.
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.inner.item_ready.notified();
            tokio::pin!(notified);
            // Register before looking at the state so an add between the check and
            // the await still wakes us.
            notified.as_mut().enable();
            {
                let mut s = self.inner.state.lock();
                if let Some(item) = s.queue.pop_front() {
                    if let Some(m) = &self.inner.metrics {
                        m.depth.dec();
                        let now = Instant::now();
                        if let Some(t) = s.add_times.remove(&item) {
                            m.latency.observe(now.duration_since(t).as_secs_f64());
                        }
                        s.process_start.insert(item.clone(), now);
                    }
                    s.processing.insert(item.clone());
                    s.dirty.remove(&item);
                    // More work may be waiting: pass the wake-up on.
                    if !s.queue.is_empty() {
                        self.inner.item_ready.notify_one();
                    }
                    return Some(item);
                }
                if s.shutting_down {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Marks `item` as finished. If it was added again while being processed it
    /// is queued again now (client-go `Done`).
    pub fn done(&self, item: &T) {
        let mut s = self.inner.state.lock();
        if !s.processing.remove(item) {
            return;
        }
        if let Some(m) = &self.inner.metrics
            && let Some(t) = s.process_start.remove(item)
        {
            m.work_duration.observe(Instant::now().duration_since(t).as_secs_f64());
        }
        if s.dirty.contains(item) {
            let item = item.clone();
            self.push(&mut s, item);
        }
        if s.processing.is_empty() {
            self.inner.drained.notify_waiters();
        }
    }

    /// Number of items waiting to be handed out (not counting those processing).
    pub fn len(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// Whether no item is waiting to be handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of items currently handed out and not yet done.
    pub fn processing_len(&self) -> usize {
        self.inner.state.lock().processing.len()
    }

    /// Stops accepting adds and wakes every worker blocked in [`Queue::get`];
    /// workers drain the items already queued, then `get` returns `None`.
    pub fn shut_down(&self) {
        self.inner.state.lock().shutting_down = true;
        self.inner.item_ready.notify_waiters();
    }

    /// Like [`Queue::shut_down`], then waits until every item that is being
    /// processed has been marked [`Queue::done`] (client-go `ShutDownWithDrain`).
    pub async fn shut_down_with_drain(&self) {
        self.shut_down();
        loop {
            let notified = self.inner.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.state.lock().processing.is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Whether [`Queue::shut_down`] has been called.
    pub fn shutting_down(&self) -> bool {
        self.inner.state.lock().shutting_down
    }

    /// Records a retry in the `retries` metric (used by the delaying queue).
    pub(crate) fn record_retry(&self) {
        if let Some(m) = &self.inner.metrics {
            m.retries.inc();
        }
    }

    /// Refreshes the unfinished-work and longest-running gauges now.
    pub fn update_unfinished_work(&self) {
        let s = self.inner.state.lock();
        self.inner.update_unfinished(&s);
    }
}

impl<T> Inner<T> {
    fn update_unfinished(&self, s: &State<T>) {
        if let Some(m) = &self.metrics {
            let now = Instant::now();
            let mut total = 0.0;
            let mut longest = 0.0f64;
            for t in s.process_start.values() {
                let d = now.duration_since(*t).as_secs_f64();
                total += d;
                longest = longest.max(d);
            }
            m.unfinished_work.set(total);
            m.longest_running.set(longest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fifo_and_dedup() {
        let q = Queue::new();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, Some("b"));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn readd_while_processing_requeues_on_done() {
        let q = Queue::new();
        q.add(1);
        let item = q.get().await.unwrap();
        q.add(1);
        // Not handed out while processing.
        assert_eq!(q.len(), 0);
        assert!(tokio::time::timeout(Duration::from_millis(20), q.get()).await.is_err());
        q.done(&item);
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await, Some(1));
    }

    #[tokio::test]
    async fn shutdown_wakes_waiters_and_ignores_adds() {
        let q: Queue<u32> = Queue::new();
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.get().await });
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(waiter.await.unwrap(), None);
        q.add(3);
        assert_eq!(q.len(), 0);
        assert!(q.shutting_down());
    }

    #[tokio::test]
    async fn shutdown_still_hands_out_queued_items() {
        let q = Queue::new();
        q.add(1);
        q.shut_down();
        assert_eq!(q.get().await, Some(1));
        assert_eq!(q.get().await, None);
    }

    #[tokio::test]
    async fn drain_waits_for_processing() {
        let q = Queue::new();
        q.add(7);
        let item = q.get().await.unwrap();
        let q2 = q.clone();
        let drain = tokio::spawn(async move { q2.shut_down_with_drain().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!drain.is_finished());
        q.done(&item);
        tokio::time::timeout(Duration::from_secs(1), drain).await.expect("drain should finish after done").unwrap();
    }

    #[tokio::test]
    async fn drain_finishes_when_last_done_requeues_a_dirty_item() {
        let q = Queue::new();
        q.add(1);
        let item = q.get().await.unwrap();
        q.add(1); // dirty while processing
        let q2 = q.clone();
        let drain = tokio::spawn(async move { q2.shut_down_with_drain().await });
        tokio::task::yield_now().await;
        q.done(&item);
        tokio::time::timeout(Duration::from_secs(1), drain)
            .await
            .expect("drain must wake when processing empties")
            .unwrap();
        // The re-queued item is still handed out after shutdown.
        assert_eq!(q.get().await, Some(1));
    }

    #[tokio::test]
    async fn metrics_are_recorded() {
        let mut reg = prometheus_client::registry::Registry::default();
        let m = QueueMetrics::register(&mut reg);
        let q = Queue::with_metrics("test", &m);
        q.add("x");
        q.add("y");
        let x = q.get().await.unwrap();
        q.update_unfinished_work();
        q.done(&x);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        assert!(out.contains("workqueue_adds_total{name=\"test\"} 2"), "{out}");
        assert!(out.contains("workqueue_depth{name=\"test\"} 1"), "{out}");
        assert!(out.contains("workqueue_queue_duration_seconds_count{name=\"test\"} 1"), "{out}");
        assert!(out.contains("workqueue_work_duration_seconds_count{name=\"test\"} 1"), "{out}");
    }
}
