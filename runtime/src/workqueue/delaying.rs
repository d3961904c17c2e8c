//! A queue that can add an item after a delay (client-go `DelayingQueue`).

use super::metrics::QueueMetrics;
use super::queue::Queue;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::ops::Deref;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A [`Queue`] with [`DelayingQueue::add_after`].
///
/// A background task (client-go's `waitingLoop`) holds a min-heap of ready
/// times. Invariant: an item waiting twice keeps the **earlier** ready time, so a
/// later `add_after` can never postpone work that is already scheduled.
///
/// Must be created inside a Tokio runtime. Dereferences to [`Queue`] for
/// `add`, `get`, `done` and friends; cloning gives another handle.
pub struct DelayingQueue<T> {
    queue: Queue<T>,
    tx: mpsc::UnboundedSender<(T, Instant)>,
    stop: CancellationToken,
}

impl<T> Clone for DelayingQueue<T> {
    fn clone(&self) -> Self {
        Self { queue: self.queue.clone(), tx: self.tx.clone(), stop: self.stop.clone() }
    }
}

impl<T> fmt::Debug for DelayingQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayingQueue").field("queue", &self.queue).finish()
    }
}

impl<T> Deref for DelayingQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> DelayingQueue<T>
where
    T: Hash + Eq + Clone + Send + 'static,
{
    /// A delaying queue without metrics. Panics outside a Tokio runtime.
    pub fn new() -> Self {
        Self::over(Queue::new())
    }

    /// A delaying queue reporting metrics under `name`.
    pub fn with_metrics(name: &str, metrics: &QueueMetrics) -> Self {
        Self::over(Queue::with_metrics(name, metrics))
    }

    /// Wraps an existing queue and starts the waiting loop.
    pub fn over(queue: Queue<T>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        tokio::spawn(waiting_loop(queue.clone(), rx, stop.clone()));
        Self { queue, tx, stop }
    }

    /// Adds `item` once `delay` has passed; a zero delay adds it now.
    ///
    /// Ignored after shutdown. Counts as a retry in the metrics, as in client-go.
    pub fn add_after(&self, item: T, delay: Duration) {
        if self.queue.shutting_down() {
            return;
        }
        self.queue.record_retry();
        if delay.is_zero() {
            self.queue.add(item);
            return;
        }
        // The receiver only goes away after `stop`, i.e. after shutdown.
        let _ = self.tx.send((item, Instant::now() + delay));
    }

    /// Shuts the queue down and stops the waiting loop; items still waiting
    /// for their delay are dropped (client-go behaves the same).
    pub fn shut_down(&self) {
        self.stop.cancel();
        self.queue.shut_down();
    }

    /// Like [`DelayingQueue::shut_down`], then waits for in-flight items.
    pub async fn shut_down_with_drain(&self) {
        self.stop.cancel();
        self.queue.shut_down_with_drain().await;
    }
}

impl<T> Default for DelayingQueue<T>
where
    T: Hash + Eq + Clone + Send + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

async fn waiting_loop<T>(queue: Queue<T>, mut rx: mpsc::UnboundedReceiver<(T, Instant)>, stop: CancellationToken)
where
    T: Hash + Eq + Clone + Send + 'static,
{
    // Lazy-deletion min-heap: an entry whose sequence number is no longer in
    // `by_seq` was superseded by an earlier ready time and is skipped.
    let mut heap: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut by_seq: HashMap<u64, T> = HashMap::new();
    let mut waiting: HashMap<T, (Instant, u64)> = HashMap::new();
    let mut next_seq = 0u64;
    loop {
        let now = Instant::now();
        while let Some(Reverse((at, seq))) = heap.peek().copied() {
            if at > now {
                break;
            }
            heap.pop();
            if let Some(item) = by_seq.remove(&seq) {
                waiting.remove(&item);
                queue.add(item);
            }
        }
        let next = heap.peek().map(|r| r.0.0);
        tokio::select! {
            _ = stop.cancelled() => return,
            msg = rx.recv() => {
                let Some((item, at)) = msg else { return };
                match waiting.get(&item) {
                    // Earlier ready time wins.
                    Some((existing, _)) if *existing <= at => {}
                    other => {
                        if let Some((_, old_seq)) = other {
                            by_seq.remove(old_seq);
                        }
                        let seq = next_seq;
                        next_seq += 1;
                        heap.push(Reverse((at, seq)));
                        by_seq.insert(seq, item.clone());
                        waiting.insert(item, (at, seq));
                    }
                }
            }
            _ = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn add_after_delays() {
        let q = DelayingQueue::new();
        q.add_after("a", Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(q.len(), 0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await, Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn earlier_time_wins() {
        let q = DelayingQueue::new();
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(1));
        q.add_after("a", Duration::from_secs(20));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(q.get().await, Some("a"));
        q.done(&"a");
        // The superseded 10 s and 20 s entries do not add it again.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(q.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_delay_adds_now_and_order_by_time() {
        let q = DelayingQueue::new();
        q.add_after("late", Duration::from_secs(3));
        q.add_after("soon", Duration::from_secs(1));
        q.add_after("now", Duration::ZERO);
        assert_eq!(q.len(), 1);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(q.get().await, Some("now"));
        assert_eq!(q.get().await, Some("soon"));
        assert_eq!(q.get().await, Some("late"));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_drops_waiting() {
        let q = DelayingQueue::new();
        q.add_after(1, Duration::from_secs(1));
        q.shut_down();
        q.add_after(2, Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(q.get().await, None);
    }
}
