//! Work queues with client-go's `util/workqueue` semantics, async.
//!
//! Three layers, each wrapping the one below (a Go reader finds the same names):
//!
//! * [`Queue`]: a FIFO with a *dirty* set and a *processing* set. It is
//!   **fair** (items are handed out in the order they were added), **stingy**
//!   (an item added many times before it is processed is processed once, and an
//!   item is never handed to two workers at once) and lets an item be re-added
//!   while it is being processed (it is handed out again after [`Queue::done`]).
//! * [`DelayingQueue`]: adds [`DelayingQueue::add_after`]; when an item is
//!   waiting twice, the earlier ready time wins.
//! * [`RateLimitingQueue`]: adds [`RateLimitingQueue::add_rate_limited`],
//!   [`RateLimitingQueue::forget`] and [`RateLimitingQueue::num_requeues`], with a
//!   pluggable [`RateLimiter`] (see [`default_controller_rate_limiter`]).
//!
//! Metrics (depth, adds, queue latency, work duration, unfinished work, longest
//! running processor, retries) are exported through `prometheus-client` by
//! [`QueueMetrics`].

mod delaying;
mod metrics;
mod queue;
mod rate_limiter;
mod rate_limiting;

pub use delaying::DelayingQueue;
pub use metrics::QueueMetrics;
pub use queue::Queue;
pub use rate_limiter::{
    BucketRateLimiter, ItemExponentialFailureRateLimiter, ItemFastSlowRateLimiter, MaxOfRateLimiter, RateLimiter,
    WithMaxWaitRateLimiter, default_controller_rate_limiter,
};
pub use rate_limiting::RateLimitingQueue;
