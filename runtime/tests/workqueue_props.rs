//! Property tests: the work queues against a simple sequential model.

use futures::FutureExt;
use parking_lot::Mutex;
use proptest::prelude::*;
use runtime::workqueue::{ItemExponentialFailureRateLimiter, Queue, RateLimiter, RateLimitingQueue};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Add(u8),
    Get,
    Done(usize),
    ShutDown,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6).prop_map(Op::Add),
        3 => Just(Op::Get),
        3 => (0usize..8).prop_map(Op::Done),
        1 => Just(Op::ShutDown),
    ]
}

/// The reference model: client-go's queue written as plainly as possible.
#[derive(Default)]
struct Model {
    queue: VecDeque<u8>,
    dirty: HashSet<u8>,
    processing: HashSet<u8>,
    shut: bool,
}

impl Model {
    fn add(&mut self, k: u8) {
        if self.shut || !self.dirty.insert(k) {
            return;
        }
        if !self.processing.contains(&k) {
            self.queue.push_back(k);
        }
    }
    fn get(&mut self) -> Option<u8> {
        let k = self.queue.pop_front()?;
        self.dirty.remove(&k);
        self.processing.insert(k);
        Some(k)
    }
    fn done(&mut self, k: u8) {
        self.processing.remove(&k);
        if self.dirty.contains(&k) {
            self.queue.push_back(k);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The queue hands out exactly what the model does, never hands a key to
    /// two workers at once, and loses no add made after a key's last `done`.
    #[test]
    fn queue_matches_model(ops in prop::collection::vec(op(), 0..80)) {
        let q: Queue<u8> = Queue::new();
        let mut m = Model::default();
        let mut in_flight: Vec<u8> = Vec::new();
        // Keys added (while open) and not yet handed out since.
        let mut pending: HashSet<u8> = HashSet::new();
        for op in ops {
            match op {
                Op::Add(k) => {
                    if !m.shut { pending.insert(k); }
                    q.add(k);
                    m.add(k);
                }
                Op::Get => {
                    let got = q.get().now_or_never();
                    let want = m.get();
                    match (got, want) {
                        (Some(Some(g)), Some(w)) => {
                            prop_assert_eq!(g, w);
                            prop_assert!(!in_flight.contains(&g), "{} handed out twice", g);
                            in_flight.push(g);
                            pending.remove(&g);
                        }
                        (Some(None), None) => prop_assert!(m.shut),
                        (None, None) => prop_assert!(!m.shut),
                        (g, w) => prop_assert!(false, "queue gave {:?}, model {:?}", g, w),
                    }
                }
                Op::Done(i) => {
                    if !in_flight.is_empty() {
                        let k = in_flight.remove(i % in_flight.len());
                        q.done(&k);
                        m.done(k);
                    }
                }
                Op::ShutDown => {
                    q.shut_down();
                    m.shut = true;
                }
            }
            prop_assert_eq!(q.len(), m.queue.len());
            prop_assert_eq!(q.processing_len(), m.processing.len());
        }
        // Finish everything: every pending add must still be processed.
        for k in in_flight.drain(..) {
            q.done(&k);
        }
        while let Some(Some(k)) = q.get().now_or_never() {
            pending.remove(&k);
            q.done(&k);
        }
        prop_assert!(pending.is_empty(), "lost adds: {:?}", pending);
    }

    /// Backoff stays within [base, max], doubles per failure, and `forget`
    /// resets it.
    #[test]
    fn exponential_backoff_bounds_and_forget(
        ops in prop::collection::vec((any::<bool>(), 0u8..3), 0..100),
        base_ms in 1u64..50,
        max_ms in 50u64..5000,
    ) {
        let base = Duration::from_millis(base_ms);
        let max = Duration::from_millis(max_ms);
        let r = ItemExponentialFailureRateLimiter::new(base, max);
        let mut failures = [0u32; 3];
        for (forget, k) in ops {
            if forget {
                r.forget(&k);
                failures[k as usize] = 0;
            } else {
                let d = r.when(&k);
                prop_assert!(d >= base.min(max) && d <= max, "{:?} out of bounds", d);
                let expect = base.as_secs_f64() * 2f64.powi(failures[k as usize] as i32);
                let expect = if expect >= max.as_secs_f64() { max } else { Duration::from_secs_f64(expect) };
                prop_assert_eq!(d, expect);
                failures[k as usize] += 1;
            }
            prop_assert_eq!(r.num_requeues(&k), failures[k as usize]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Concurrent workers: no key is ever processed by two workers at once,
    /// every add is processed after it was made, and a drain finishes every
    /// in-flight item before returning.
    #[test]
    fn concurrent_workers_and_drain(
        keys in prop::collection::vec(0u8..5, 1..60),
        workers in 1usize..5,
        work_ms in prop::collection::vec(0u64..3, 1..8),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async move {
            let q: RateLimitingQueue<u8> = RateLimitingQueue::with_default_limiter();
            let in_flight = Arc::new(Mutex::new(HashSet::new()));
            let started = Arc::new(Mutex::new(0usize));
            let finished = Arc::new(Mutex::new(0usize));
            // last add index per key and last processed start index per key.
            let log = Arc::new(Mutex::new(Vec::<(bool, u8)>::new()));
            let mut handles = Vec::new();
            for w in 0..workers {
                let q = q.clone();
                let in_flight = in_flight.clone();
                let started = started.clone();
                let finished = finished.clone();
                let log = log.clone();
                let work_ms = work_ms.clone();
                handles.push(tokio::spawn(async move {
                    let mut n = w;
                    while let Some(k) = q.get().await {
                        assert!(in_flight.lock().insert(k), "key {k} processed concurrently");
                        *started.lock() += 1;
                        log.lock().push((false, k));
                        tokio::time::sleep(Duration::from_millis(work_ms[n % work_ms.len()])).await;
                        n += 1;
                        in_flight.lock().remove(&k);
                        *finished.lock() += 1;
                        q.forget(&k);
                        q.done(&k);
                    }
                }));
            }
            for (i, k) in keys.iter().enumerate() {
                log.lock().push((true, *k));
                q.add(*k);
                if i % 3 == 0 { tokio::time::sleep(Duration::from_millis(1)).await; }
            }
            // Let the workers catch up, then drain.
            tokio::time::sleep(Duration::from_millis(500)).await;
            q.shut_down_with_drain().await;
            assert_eq!(*started.lock(), *finished.lock(), "drain returned with work in flight");
            for h in handles { h.await.unwrap(); }
            // No lost add: after each key's last add there is a later processing start.
            let log = log.lock();
            for k in 0u8..5 {
                if let Some(last_add) = log.iter().rposition(|e| *e == (true, k)) {
                    assert!(log[last_add..].contains(&(false, k)), "add of {k} lost");
                }
            }
        });
    }
}
