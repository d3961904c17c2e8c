//! Rate limiters deciding how long an item waits before it is retried
//! (client-go `default_rate_limiters.go`).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;
use tokio::time::Instant;

/// Decides the delay before an item is retried.
///
/// `when` records a failure and returns the delay; `forget` clears the item's
/// history (call it once the item succeeded); `num_requeues` reports how many
/// failures are on record.
pub trait RateLimiter<T>: Send + Sync {
    /// Records one more failure of `item` and returns how long to wait.
    fn when(&self, item: &T) -> Duration;
    /// Forgets `item`'s failures, resetting its backoff.
    fn forget(&self, item: &T);
    /// How many failures of `item` are on record.
    fn num_requeues(&self, item: &T) -> u32;
}

impl<T, R: RateLimiter<T> + ?Sized> RateLimiter<T> for Box<R> {
    fn when(&self, item: &T) -> Duration {
        (**self).when(item)
    }
    fn forget(&self, item: &T) {
        (**self).forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        (**self).num_requeues(item)
    }
}

/// Per-item exponential backoff: `base * 2^failures`, capped at `max`.
///
/// Invariant (client-go): the exponent is the failure count *before* this
/// failure, so the first retry waits exactly `base`, and the delay never exceeds
/// `max` (overflow also yields `max`).
#[derive(Debug)]
pub struct ItemExponentialFailureRateLimiter<T> {
    failures: Mutex<HashMap<T, u32>>,
    base: Duration,
    max: Duration,
}

impl<T: Hash + Eq + Clone> ItemExponentialFailureRateLimiter<T> {
    /// A limiter starting at `base` and capped at `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { failures: Mutex::new(HashMap::new()), base, max }
    }
}

impl<T: Hash + Eq + Clone + Send> RateLimiter<T> for ItemExponentialFailureRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        let mut f = self.failures.lock();
        let exp = match f.get_mut(item) {
            Some(n) => {
                let e = *n;
                *n = n.saturating_add(1);
                e
            }
            None => {
                f.insert(item.clone(), 1);
                0
            }
        };
        let secs = self.base.as_secs_f64() * 2f64.powi(exp.min(1024) as i32);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            return self.max;
        }
        Duration::from_secs_f64(secs)
    }
    fn forget(&self, item: &T) {
        self.failures.lock().remove(item);
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.lock().get(item).copied().unwrap_or(0)
    }
}

/// `fast` delay for the first `max_fast_attempts` failures, `slow` after.
#[derive(Debug)]
pub struct ItemFastSlowRateLimiter<T> {
    failures: Mutex<HashMap<T, u32>>,
    fast: Duration,
    slow: Duration,
    max_fast_attempts: u32,
}

impl<T: Hash + Eq + Clone> ItemFastSlowRateLimiter<T> {
    /// A limiter returning `fast` for `max_fast_attempts` failures, then `slow`.
    pub fn new(fast: Duration, slow: Duration, max_fast_attempts: u32) -> Self {
        Self { failures: Mutex::new(HashMap::new()), fast, slow, max_fast_attempts }
    }
}

impl<T: Hash + Eq + Clone + Send> RateLimiter<T> for ItemFastSlowRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        let mut f = self.failures.lock();
        let n = f.entry(item.clone()).or_insert(0);
        *n = n.saturating_add(1);
        if *n <= self.max_fast_attempts { self.fast } else { self.slow }
    }
    fn forget(&self, item: &T) {
        self.failures.lock().remove(item);
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.lock().get(item).copied().unwrap_or(0)
    }
}

/// An overall token bucket (client-go `BucketRateLimiter` over `rate.Limiter`).
///
/// Invariant: every `when` *reserves* a token (`Reserve().Delay()`), possibly
/// one that will only exist in the future, so a burst of failures is spread out
/// at `qps` once the `burst` tokens are gone. The `governor` crate was weighed
/// and not used: it refuses a request it cannot serve now instead of reserving a
/// future token, which is a different contract.
#[derive(Debug)]
pub struct BucketRateLimiter {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl BucketRateLimiter {
    /// A bucket refilled at `qps` tokens per second holding at most `burst`.
    /// A non-positive or non-finite `qps` means "no limit".
    pub fn new(qps: f64, burst: u32) -> Self {
        Self { qps, burst: f64::from(burst), state: Mutex::new((f64::from(burst), Instant::now())) }
    }

    fn reserve(&self) -> Duration {
        if !self.qps.is_finite() || self.qps <= 0.0 {
            return Duration::ZERO;
        }
        let mut s = self.state.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(s.1).as_secs_f64();
        s.0 = (s.0 + elapsed * self.qps).min(self.burst);
        s.1 = now;
        s.0 -= 1.0;
        if s.0 >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-s.0 / self.qps) }
    }
}

impl<T> RateLimiter<T> for BucketRateLimiter {
    fn when(&self, _item: &T) -> Duration {
        self.reserve()
    }
    fn forget(&self, _item: &T) {}
    fn num_requeues(&self, _item: &T) -> u32 {
        0
    }
}

/// The worst (longest) answer of several limiters; `forget` reaches all of them.
pub struct MaxOfRateLimiter<T> {
    limiters: Vec<Box<dyn RateLimiter<T>>>,
}

impl<T> std::fmt::Debug for MaxOfRateLimiter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaxOfRateLimiter").field("limiters", &self.limiters.len()).finish()
    }
}

impl<T> MaxOfRateLimiter<T> {
    /// Combines `limiters`; every one of them sees every `when` call.
    pub fn new(limiters: Vec<Box<dyn RateLimiter<T>>>) -> Self {
        Self { limiters }
    }
}

impl<T> RateLimiter<T> for MaxOfRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        // Call every limiter (each records the failure / takes a token).
        self.limiters.iter().map(|l| l.when(item)).max().unwrap_or_default()
    }
    fn forget(&self, item: &T) {
        for l in &self.limiters {
            l.forget(item);
        }
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.limiters.iter().map(|l| l.num_requeues(item)).max().unwrap_or(0)
    }
}

/// Caps another limiter's delay at `max_delay` (client-go `WithMaxWaitRateLimiter`).
pub struct WithMaxWaitRateLimiter<T> {
    limiter: Box<dyn RateLimiter<T>>,
    max_delay: Duration,
}

impl<T> std::fmt::Debug for WithMaxWaitRateLimiter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithMaxWaitRateLimiter").field("max_delay", &self.max_delay).finish()
    }
}

impl<T> WithMaxWaitRateLimiter<T> {
    /// Wraps `limiter`, never returning more than `max_delay`.
    pub fn new(limiter: impl RateLimiter<T> + 'static, max_delay: Duration) -> Self {
        Self { limiter: Box::new(limiter), max_delay }
    }
}

impl<T> RateLimiter<T> for WithMaxWaitRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        self.limiter.when(item).min(self.max_delay)
    }
    fn forget(&self, item: &T) {
        self.limiter.forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.limiter.num_requeues(item)
    }
}

/// client-go's `DefaultTypedControllerRateLimiter`: per-item exponential
/// backoff from 5 ms to 1000 s, and an overall bucket of 10 qps with burst 100.
pub fn default_controller_rate_limiter<T>() -> MaxOfRateLimiter<T>
where
    T: Hash + Eq + Clone + Send + 'static,
{
    MaxOfRateLimiter::new(vec![
        Box::new(ItemExponentialFailureRateLimiter::new(Duration::from_millis(5), Duration::from_secs(1000))),
        Box::new(BucketRateLimiter::new(10.0, 100)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_caps_and_forgets() {
        let r = ItemExponentialFailureRateLimiter::new(Duration::from_millis(1), Duration::from_secs(1));
        assert_eq!(r.when(&"a"), Duration::from_millis(1));
        assert_eq!(r.when(&"a"), Duration::from_millis(2));
        assert_eq!(r.when(&"a"), Duration::from_millis(4));
        assert_eq!(r.when(&"b"), Duration::from_millis(1));
        assert_eq!(r.num_requeues(&"a"), 3);
        for _ in 0..20 {
            r.when(&"a");
        }
        assert_eq!(r.when(&"a"), Duration::from_secs(1));
        r.forget(&"a");
        assert_eq!(r.num_requeues(&"a"), 0);
        assert_eq!(r.when(&"a"), Duration::from_millis(1));
    }

    #[test]
    fn exponential_never_overflows() {
        let r = ItemExponentialFailureRateLimiter::new(Duration::from_secs(1), Duration::MAX);
        for _ in 0..2000 {
            let _ = r.when(&1);
        }
        assert_eq!(r.when(&1), Duration::MAX);
    }

    #[test]
    fn max_wait_caps() {
        let r = WithMaxWaitRateLimiter::new(
            ItemExponentialFailureRateLimiter::new(Duration::from_secs(1), Duration::from_secs(100)),
            Duration::from_secs(3),
        );
        let d: Vec<_> = (0..4).map(|_| r.when(&1)).collect();
        assert_eq!(d, [1, 2, 3, 3].map(Duration::from_secs));
        assert_eq!(r.num_requeues(&1), 4);
        r.forget(&1);
        assert_eq!(r.when(&1), Duration::from_secs(1));
    }

    #[test]
    fn fast_slow() {
        let r = ItemFastSlowRateLimiter::new(Duration::from_millis(5), Duration::from_secs(10), 2);
        assert_eq!(r.when(&1), Duration::from_millis(5));
        assert_eq!(r.when(&1), Duration::from_millis(5));
        assert_eq!(r.when(&1), Duration::from_secs(10));
        r.forget(&1);
        assert_eq!(r.when(&1), Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_reserves_future_tokens() {
        let b = BucketRateLimiter::new(10.0, 2);
        assert_eq!(RateLimiter::<u8>::when(&b, &0), Duration::ZERO);
        assert_eq!(RateLimiter::<u8>::when(&b, &0), Duration::ZERO);
        let d3 = RateLimiter::<u8>::when(&b, &0);
        let d4 = RateLimiter::<u8>::when(&b, &0);
        assert!((d3.as_secs_f64() - 0.1).abs() < 1e-6, "{d3:?}");
        assert!((d4.as_secs_f64() - 0.2).abs() < 1e-6, "{d4:?}");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(RateLimiter::<u8>::when(&b, &0), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn default_limiter_is_max_of_both() {
        let r = default_controller_rate_limiter::<&str>();
        assert_eq!(r.when(&"a"), Duration::from_millis(5));
        assert_eq!(r.when(&"a"), Duration::from_millis(10));
        assert_eq!(r.num_requeues(&"a"), 2);
        // Exhaust the bucket: the bucket delay now dominates for a fresh item.
        for i in 0..200 {
            let _ = r.when(&if i % 2 == 0 { "x" } else { "y" });
        }
        assert!(r.when(&"fresh") > Duration::from_secs(1));
        r.forget(&"a");
        assert_eq!(r.num_requeues(&"a"), 0);
    }
}
