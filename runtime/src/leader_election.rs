//! Leader election over a `coordination.k8s.io/v1` Lease, with client-go's
//! `tools/leaderelection` semantics.
//!
//! `kube-lease-manager` 0.13 (on kube 5) was weighed first. It is not used
//! because its contract differs from client-go's in ways controllers notice:
//! whole-second durations with a single "grace" instead of lease duration,
//! renew deadline and retry period; leadership reported as a `watch<bool>`
//! without started/stopped callbacks; and strategic-merge patches instead of
//! the optimistic-concurrency update (get, then replace with the read
//! `resourceVersion`) that makes client-go's election safe. The algorithm here
//! is small and follows client-go's `tryAcquireOrRenew` step by step.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use parking_lot::Mutex;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// client-go's `JitterFactor`: retries wait `retry_period * (1 + rand * 1.2)`.
pub const JITTER_FACTOR: f64 = 1.2;

/// Timing and identity of a candidate (client-go `LeaderElectionConfig`).
#[derive(Clone, Debug)]
pub struct LeaderElectionConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease all candidates share.
    pub lease_name: String,
    /// This candidate's unique identity (e.g. pod name).
    pub identity: String,
    /// How long non-leaders wait, after last seeing the lease change, before
    /// they may take it over (client-go default 15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failed renewal before it gives up
    /// leadership (default 10 s). Must be less than `lease_duration`, so the
    /// old leader stops before anyone else may start.
    pub renew_deadline: Duration,
    /// Wait between attempts to acquire or renew (default 2 s), jittered.
    pub retry_period: Duration,
    /// Give the lease up when cancelled, so another candidate takes over at
    /// once instead of after `lease_duration` (client-go `ReleaseOnCancel`).
    pub release_on_cancel: bool,
}

impl LeaderElectionConfig {
    /// A configuration with client-go's defaults (15 s / 10 s / 2 s, release on cancel).
    pub fn new(namespace: impl Into<String>, lease_name: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            release_on_cancel: true,
        }
    }

    /// Checks client-go's constraints: `lease_duration > renew_deadline >
    /// JITTER_FACTOR * retry_period`, everything positive, identity set.
    pub fn validate(&self) -> Result<(), LeaderElectionError> {
        let bad = |m: &str| Err(LeaderElectionError::InvalidConfig(m.to_string()));
        if self.identity.is_empty() {
            return bad("identity must not be empty");
        }
        if self.retry_period.is_zero() {
            return bad("retry_period must be positive");
        }
        if self.lease_duration <= self.renew_deadline {
            return bad("lease_duration must be greater than renew_deadline");
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return bad("renew_deadline must be greater than retry_period * 1.2");
        }
        if self.lease_duration.as_secs() < 1 {
            return bad("lease_duration must be at least one second (Leases store whole seconds)");
        }
        Ok(())
    }
}

/// Errors of leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderElectionError {
    /// The configuration breaks one of client-go's constraints.
    #[error("invalid leader election config: {0}")]
    InvalidConfig(String),
}

type NewLeaderFn = Box<dyn Fn(&str) + Send + Sync>;

/// One candidate in an election (client-go `LeaderElector`).
///
/// Invariants:
/// * A lease held by someone else is respected until `lease_duration` after
///   this candidate *observed* it change (local clock only, so clock skew
///   between nodes does not matter).
/// * Every write is a replace with the `resourceVersion` just read, so of two
///   candidates racing for an expired lease exactly one wins (the other gets
///   409 Conflict).
/// * The leader stops leading (cancels the leading task) when it cannot renew
///   within `renew_deadline`, which is shorter than `lease_duration`: it stops
///   before any other candidate may start.
pub struct LeaderElector {
    config: LeaderElectionConfig,
    api: Api<Lease>,
    /// The last lease spec seen and when (local time) it was first seen.
    observed: Mutex<Option<(LeaseSpec, Instant)>>,
    leading: AtomicBool,
    on_new_leader: Option<NewLeaderFn>,
    jitter_seq: AtomicU64,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector").field("config", &self.config).field("leading", &self.is_leader()).finish()
    }
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl LeaderElector {
    /// A candidate using `client` (the Lease lives in `config.namespace`).
    pub fn new(client: kube::Client, config: LeaderElectionConfig) -> Result<Self, LeaderElectionError> {
        config.validate()?;
        Ok(Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: Mutex::new(None),
            leading: AtomicBool::new(false),
            on_new_leader: None,
            jitter_seq: AtomicU64::new(0),
        })
    }

    /// Calls `f` with the holder's identity whenever a different leader is
    /// observed (client-go `OnNewLeader`).
    pub fn on_new_leader(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_new_leader = Some(Box::new(f));
        self
    }

    /// Whether this candidate currently holds the lease.
    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// The holder of the lease as last observed.
    pub fn leader(&self) -> Option<String> {
        self.observed.lock().as_ref().and_then(|(s, _)| s.holder_identity.clone()).filter(|h| !h.is_empty())
    }

    fn jittered(&self, d: Duration) -> Duration {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(self.jitter_seq.fetch_add(1, Ordering::Relaxed));
        let r = (h.finish() % 10_000) as f64 / 10_000.0;
        d.mul_f64(1.0 + r * JITTER_FACTOR)
    }

    fn observe(&self, spec: &LeaseSpec) {
        let mut obs = self.observed.lock();
        let changed = obs.as_ref().is_none_or(|(s, _)| s != spec);
        if changed {
            let old_holder = obs.as_ref().and_then(|(s, _)| s.holder_identity.clone());
            *obs = Some((spec.clone(), Instant::now()));
            drop(obs);
            if old_holder != spec.holder_identity
                && let (Some(f), Some(h)) = (&self.on_new_leader, spec.holder_identity.as_deref())
                && !h.is_empty()
            {
                f(h);
            }
        }
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }

    /// One attempt to acquire or renew the lease (client-go `tryAcquireOrRenew`).
    pub async fn try_acquire_or_renew(&self) -> bool {
        let name = &self.config.lease_name;
        let me = &self.config.identity;
        let current = match self.api.get_opt(name).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(lease = %name, error = %e, "reading lease failed");
                return false;
            }
        };
        let Some(lease) = current else {
            let spec = LeaseSpec {
                holder_identity: Some(me.clone()),
                lease_duration_seconds: Some(self.lease_seconds()),
                acquire_time: Some(now_micro()),
                renew_time: Some(now_micro()),
                lease_transitions: Some(0),
                ..Default::default()
            };
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(spec.clone()),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.observe(&spec);
                    true
                }
                Err(e) => {
                    tracing::debug!(lease = %name, error = %e, "creating lease failed");
                    false
                }
            };
        };
        let old = lease.spec.clone().unwrap_or_default();
        self.observe(&old);
        let holder = old.holder_identity.as_deref().unwrap_or("");
        if !holder.is_empty() && holder != me {
            let seen_at = self.observed.lock().as_ref().map(|(_, t)| *t);
            let duration = Duration::from_secs(old.lease_duration_seconds.unwrap_or(0).max(0) as u64);
            if seen_at.is_some_and(|t| t + duration > Instant::now()) {
                return false;
            }
        }
        let mut spec = old.clone();
        if holder != me {
            spec.acquire_time = Some(now_micro());
            spec.lease_transitions = Some(old.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        spec.holder_identity = Some(me.clone());
        spec.lease_duration_seconds = Some(self.lease_seconds());
        spec.renew_time = Some(now_micro());
        let updated = Lease { metadata: lease.metadata.clone(), spec: Some(spec.clone()) };
        match self.api.replace(name, &PostParams::default(), &updated).await {
            Ok(_) => {
                self.observe(&spec);
                true
            }
            Err(e) => {
                tracing::debug!(lease = %name, error = %e, "updating lease failed");
                false
            }
        }
    }

    /// Gives the lease up if this candidate holds it (client-go `release`):
    /// empty holder and a one-second duration, so others acquire at once.
    pub async fn release(&self) -> bool {
        let name = &self.config.lease_name;
        let Ok(Some(lease)) = self.api.get_opt(name).await else {
            return false;
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return false;
        }
        spec.holder_identity = Some(String::new());
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now_micro());
        spec.acquire_time = Some(now_micro());
        let updated = Lease { metadata: lease.metadata, spec: Some(spec.clone()) };
        let ok = self.api.replace(name, &PostParams::default(), &updated).await.is_ok();
        if ok {
            self.observe(&spec);
        }
        ok
    }

    /// Campaigns until `cancel` fires or leadership is lost.
    ///
    /// Once the lease is acquired, `on_started_leading` is spawned with a token
    /// that is cancelled when leadership ends; the lease is renewed every
    /// `retry_period`. When a renewal has not succeeded for `renew_deadline`,
    /// or `cancel` fires, the token is cancelled, the leading task is awaited,
    /// the lease is released (if `release_on_cancel` and cancelled), and
    /// `on_stopped_leading` runs. Returns whether this candidate ever led.
    /// Unlike client-go, `on_stopped_leading` only runs if it did lead.
    pub async fn run<F, Fut>(
        self: Arc<Self>,
        cancel: CancellationToken,
        on_started_leading: F,
        on_stopped_leading: impl FnOnce() + Send,
    ) -> bool
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // Acquire.
        loop {
            if cancel.is_cancelled() {
                return false;
            }
            if self.try_acquire_or_renew().await {
                break;
            }
            let wait = self.jittered(self.config.retry_period);
            tokio::select! {
                _ = cancel.cancelled() => return false,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.leading.store(true, Ordering::Release);
        tracing::info!(identity = %self.config.identity, lease = %self.config.lease_name, "became leader");
        let leading = cancel.child_token();
        let task = tokio::spawn(on_started_leading(leading.clone()));
        // Renew.
        let mut last_renew = Instant::now();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(self.config.retry_period) => {}
            }
            // An attempt may not outlive the renew deadline (a hung request
            // must not keep us "leading" past it).
            let left = self.config.renew_deadline.saturating_sub(last_renew.elapsed()).max(Duration::from_millis(1));
            let renewed = tokio::time::timeout(left, self.try_acquire_or_renew()).await.unwrap_or(false);
            if renewed {
                last_renew = Instant::now();
            } else if last_renew.elapsed() >= self.config.renew_deadline {
                tracing::warn!(identity = %self.config.identity, "failed to renew lease; stopping leading");
                break;
            }
        }
        self.leading.store(false, Ordering::Release);
        leading.cancel();
        let _ = task.await;
        if cancel.is_cancelled() && self.config.release_on_cancel {
            self.release().await;
        }
        on_stopped_leading();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_follows_client_go() {
        let ok = LeaderElectionConfig::new("ns", "l", "me");
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.renew_deadline = c.lease_duration;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.retry_period = Duration::from_secs(9);
        assert!(c.validate().is_err());
        let mut c = ok;
        c.identity.clear();
        assert!(c.validate().is_err());
    }
}
