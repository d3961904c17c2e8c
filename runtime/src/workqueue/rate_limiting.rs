//! A delaying queue whose retries are paced by a [`RateLimiter`]
//! (client-go `RateLimitingQueue`).

use super::delaying::DelayingQueue;
use super::metrics::QueueMetrics;
use super::queue::Queue;
use super::rate_limiter::{RateLimiter, default_controller_rate_limiter};
use std::fmt;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::Arc;

/// A [`DelayingQueue`] with `add_rate_limited`, `forget` and `num_requeues`.
///
/// The usual worker loop: `get`, reconcile, then on error
/// `add_rate_limited(key)`, on success `forget(key)`; always `done(key)`.
/// `forget` only clears the limiter's history; it does not remove the item
/// from the queue (client-go semantics).
pub struct RateLimitingQueue<T> {
    queue: DelayingQueue<T>,
    limiter: Arc<dyn RateLimiter<T>>,
}

impl<T> Clone for RateLimitingQueue<T> {
    fn clone(&self) -> Self {
        Self { queue: self.queue.clone(), limiter: self.limiter.clone() }
    }
}

impl<T> fmt::Debug for RateLimitingQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitingQueue").field("queue", &self.queue).finish()
    }
}

impl<T> Deref for RateLimitingQueue<T> {
    type Target = DelayingQueue<T>;
    fn deref(&self) -> &DelayingQueue<T> {
        &self.queue
    }
}

impl<T> RateLimitingQueue<T>
where
    T: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// A queue using `limiter`. Must be created inside a Tokio runtime.
    pub fn new(limiter: impl RateLimiter<T> + 'static) -> Self {
        Self::over(DelayingQueue::new(), limiter)
    }

    /// A queue with [`default_controller_rate_limiter`], as controllers use.
    pub fn with_default_limiter() -> Self {
        Self::new(default_controller_rate_limiter())
    }

    /// A queue with metrics under `name` and the given limiter.
    pub fn with_metrics(name: &str, metrics: &QueueMetrics, limiter: impl RateLimiter<T> + 'static) -> Self {
        Self::over(DelayingQueue::over(Queue::with_metrics(name, metrics)), limiter)
    }

    /// Wraps an existing delaying queue.
    pub fn over(queue: DelayingQueue<T>, limiter: impl RateLimiter<T> + 'static) -> Self {
        Self { queue, limiter: Arc::new(limiter) }
    }

    /// Adds `item` after the delay the limiter chooses (recording a failure).
    pub fn add_rate_limited(&self, item: T) {
        let delay = self.limiter.when(&item);
        self.queue.add_after(item, delay);
    }

    /// Clears `item`'s failure history so its next failure starts from the
    /// base delay. Does not remove it from the queue; still call `done`.
    pub fn forget(&self, item: &T) {
        self.limiter.forget(item);
    }

    /// How many times `item` has been rate-limited since it was last forgotten.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.limiter.num_requeues(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workqueue::ItemExponentialFailureRateLimiter;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn rate_limited_add_and_forget() {
        let q = RateLimitingQueue::new(ItemExponentialFailureRateLimiter::new(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ));
        q.add_rate_limited("k");
        assert_eq!(q.len(), 0);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(q.get().await, Some("k"));
        q.add_rate_limited("k");
        assert_eq!(q.num_requeues(&"k"), 2);
        q.done(&"k");
        // Second failure waits 2 s.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(q.len(), 0);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(q.len(), 1);
        q.forget(&"k");
        assert_eq!(q.num_requeues(&"k"), 0);
    }
}
