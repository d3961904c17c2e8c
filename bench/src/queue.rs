//! Work queue throughput: add → get → done for 10,000 distinct keys added twice each (50 %
//! duplicates), with 1 and 4 workers, against a tokio mpsc channel (the floor: no dedup, no
//! processing set, no fairness).

use std::sync::Arc;
use std::time::Instant;

use runtime::workqueue::{Queue, RateLimitingQueue};

/// Items per second through our queue with `workers` workers.
pub async fn ours(keys: usize, workers: usize) -> f64 {
    drive(Queue::new(), keys, workers).await
}

/// Items per second through our `RateLimitingQueue` (default controller rate limiter): the
/// like-for-like of client-go's `TypedRateLimitingInterface` (`gobench queue`). Add, get and
/// done are its underlying queue's, as in client-go, where the rate-limiting and delaying
/// layers only add `add_rate_limited`/`add_after`; the layers are built and alive throughout.
pub async fn ours_rate_limiting(keys: usize, workers: usize) -> f64 {
    let q: RateLimitingQueue<u64> = RateLimitingQueue::with_default_limiter();
    let items = drive((**q).clone(), keys, workers).await;
    // Stops the delaying layer's waiting loop (the underlying queue is already drained).
    q.shut_down();
    items
}

/// add → get → done of `keys` keys added twice, `workers` workers, until drained.
async fn drive(q: Queue<u64>, keys: usize, workers: usize) -> f64 {
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (q, done) = (q.clone(), done.clone());
            tokio::spawn(async move {
                while let Some(k) = q.get().await {
                    q.done(&k);
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for round in 0..2 {
        for k in 0..keys as u64 {
            q.add(k);
        }
        if round == 0 {
            tokio::task::yield_now().await;
        }
    }
    q.shut_down_with_drain().await;
    for h in handles {
        let _ = h.await;
    }
    (2 * keys) as f64 / start.elapsed().as_secs_f64()
}

/// Items per second through an unbounded mpsc channel shared by `workers` receivers.
pub async fn mpsc(keys: usize, workers: usize) -> f64 {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                loop {
                    let item = rx.lock().await.recv().await;
                    if item.is_none() {
                        break;
                    }
                }
            })
        })
        .collect();
    for _ in 0..2 {
        for k in 0..keys as u64 {
            let _ = tx.send(k);
        }
    }
    drop(tx);
    for h in handles {
        let _ = h.await;
    }
    (2 * keys) as f64 / start.elapsed().as_secs_f64()
}
