//! Two candidates on one Lease: exactly one leads at a time, and the other
//! takes over when the leader stops.

mod common;

use common::FakeApi;
use runtime::leader_election::{LeaderElectionConfig, LeaderElector};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const LEASE: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(200);

fn config(id: &str, release: bool) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_duration: LEASE,
        renew_deadline: Duration::from_millis(1500),
        retry_period: RETRY,
        release_on_cancel: release,
        ..LeaderElectionConfig::new("ns", "ctrl", id)
    }
}

struct Candidate {
    elector: Arc<LeaderElector>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<bool>,
    stopped: Arc<AtomicUsize>,
}

/// Starts a candidate whose leading task records that it leads in `current`
/// (asserting nobody else does) until its token is cancelled.
fn candidate(api: &FakeApi, id: &str, release: bool, current: Arc<AtomicUsize>, max: Arc<AtomicUsize>) -> Candidate {
    let elector = Arc::new(LeaderElector::new(api.client(), config(id, release)).unwrap());
    let cancel = CancellationToken::new();
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let task = tokio::spawn(elector.clone().run(
        cancel.clone(),
        move |leading| async move {
            let n = current.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(n, Ordering::SeqCst);
            leading.cancelled().await;
            current.fetch_sub(1, Ordering::SeqCst);
        },
        move || {
            s.fetch_add(1, Ordering::SeqCst);
        },
    ));
    Candidate { elector, cancel, task, stopped }
}

async fn wait_leader(c: &Candidate, timeout: Duration) -> Duration {
    let start = Instant::now();
    while !c.elector.is_leader() {
        assert!(start.elapsed() < timeout, "no takeover within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn one_leader_and_takeover_after_crash_within_lease_duration() {
    let api = FakeApi::new();
    let current = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let a = candidate(&api, "a", false, current.clone(), max.clone());
    wait_leader(&a, Duration::from_secs(5)).await;
    let b = candidate(&api, "b", false, current.clone(), max.clone());
    // While a renews, b never leads.
    tokio::time::sleep(LEASE + Duration::from_millis(500)).await;
    assert!(a.elector.is_leader());
    assert!(!b.elector.is_leader());
    assert_eq!(b.elector.leader().as_deref(), Some("a"));
    // a stops without releasing (like a crash): b takes over once the lease
    // it last saw renewed has expired: one lease duration after b *observed*
    // the last renewal (up to one jittered retry after it happened), plus up
    // to one more jittered retry to notice, plus request latency.
    a.cancel.cancel();
    assert!(a.task.await.unwrap(), "a led");
    assert_eq!(a.stopped.load(Ordering::SeqCst), 1, "on_stopped_leading ran");
    let bound = LEASE + RETRY.mul_f64(2.0 * 2.2) + Duration::from_millis(300);
    let took = wait_leader(&b, bound).await;
    assert!(took >= LEASE - RETRY.mul_f64(2.2), "b must respect the lease: {took:?}");
    assert_eq!(max.load(Ordering::SeqCst), 1, "never two leaders at once");
    b.cancel.cancel();
    b.task.await.unwrap();
}

#[tokio::test]
async fn release_on_cancel_hands_over_quickly() {
    let api = FakeApi::new();
    let current = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let a = candidate(&api, "a", true, current.clone(), max.clone());
    wait_leader(&a, Duration::from_secs(5)).await;
    let b = candidate(&api, "b", true, current.clone(), max.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!b.elector.is_leader());
    a.cancel.cancel();
    a.task.await.unwrap();
    // Released: b acquires on its next retry, far sooner than the lease duration.
    let took = wait_leader(&b, LEASE).await;
    assert!(took < LEASE, "{took:?}");
    assert_eq!(max.load(Ordering::SeqCst), 1);
    b.cancel.cancel();
    assert!(b.task.await.unwrap());
}
