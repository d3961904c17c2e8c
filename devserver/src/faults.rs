//! Faults on demand, so tests can prove that clients (kube-rs's watcher and reflector, our
//! informers, the controller) recover from what a real cluster and network do to them.
//!
//! The settings live in [`FaultSettings`] inside the server state (`App`); the
//! request path and the watch loop consult them through small hooks. Tests change them at any
//! time through [`crate::DevServerHandle::faults`] (a [`FaultControl`]):
//!
//! - [`FaultControl::end_watches_after`]: every watch stream ends after N change events (the
//!   client must re-watch from its last resourceVersion);
//! - [`FaultControl::compact`]: drop the event history, so resuming watches get 410 Expired (the
//!   client must relist);
//! - [`FaultControl::fail_writes`]: a seeded fraction of writes (create, update, patch, delete,
//!   deletecollection) is answered 409 Conflict or 500 InternalError without touching the store;
//! - [`FaultControl::latency`]: every request waits this long before it is served;
//! - [`crate::DevServerHandle::restart`]: the HTTP listener restarts on the same port with the
//!   state kept (open connections and watches drop).
//!
//! Reproducibility: which writes fail depends only on the seed and on the write's ordinal (the
//! how-many-th write since [`FaultControl::fail_writes`] was called), through a fixed
//! SplitMix64 hash, so it does not change with a `rand` upgrade. The same seed and the same
//! sequence of writes give the same failing requests; [`FaultControl::injected`] lists them.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mut server = devserver::DevServer::builder().fault_seed(7).start().await?;
//! server.faults().end_watches_after(Some(3));
//! server.faults().fail_writes(0.25, 409);
//! server.faults().latency(std::time::Duration::from_millis(20));
//! server.restart().await?;
//! server.faults().clear();
//! # Ok(()) }
//! ```

use crate::error::{ApiError, Target};
use crate::store::Store;
use std::sync::Mutex;
use std::time::Duration;

/// One write that was failed on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFault {
    /// The write's ordinal (0-based) since write failures were configured.
    pub ordinal: u64,
    /// The verb (create, update, patch, delete, deletecollection).
    pub verb: String,
    /// Resource plural (with `/status` for the subresource).
    pub resource: String,
    /// Namespace from the URL, if any.
    pub namespace: Option<String>,
    /// Object name from the URL (`None` for create and deletecollection).
    pub name: Option<String>,
    /// The HTTP status answered (409 or 500, or whatever code was configured).
    pub code: u16,
}

/// What a write is about, as parsed from its URL (for [`FaultSettings::write_failure`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteTarget<'a> {
    /// API group ("" for core).
    pub group: &'a str,
    /// Resource plural, with `/status` for the subresource.
    pub resource: &'a str,
    /// Namespace from the URL.
    pub namespace: Option<&'a str>,
    /// Object name from the URL.
    pub name: Option<&'a str>,
}

#[derive(Debug, Default)]
struct State {
    seed: u64,
    end_watches_after: Option<usize>,
    fail_fraction: f64,
    fail_code: u16,
    writes_seen: u64,
    latency: Duration,
    injected: Vec<InjectedFault>,
}

/// The fault settings of one server (all off by default). Kept behind the server state so every
/// request and every watch sees changes at once.
#[derive(Debug, Default)]
pub struct FaultSettings {
    state: Mutex<State>,
}

impl FaultSettings {
    /// Settings with every fault off and the given seed.
    pub fn with_seed(seed: u64) -> Self {
        FaultSettings { state: Mutex::new(State { seed, ..State::default() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the settings are still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Request-path hook: waits for the configured latency (no-op when zero).
    pub async fn delay(&self) {
        let latency = self.lock().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }

    /// Request-path hook, called with the Kubernetes verb and the request's target before a
    /// resource request is dispatched: `Some(error)` when this write is to fail (nothing is
    /// written then).
    pub fn write_failure(&self, verb: &str, target: &WriteTarget<'_>) -> Option<ApiError> {
        if !matches!(verb, "create" | "update" | "patch" | "delete" | "deletecollection") {
            return None;
        }
        let mut s = self.lock();
        if s.fail_fraction <= 0.0 {
            return None;
        }
        let ordinal = s.writes_seen;
        s.writes_seen += 1;
        if unit_interval(s.seed, ordinal) >= s.fail_fraction {
            return None;
        }
        let code = s.fail_code;
        s.injected.push(InjectedFault {
            ordinal,
            verb: verb.to_string(),
            resource: target.resource.to_string(),
            namespace: target.namespace.map(str::to_string),
            name: target.name.map(str::to_string),
            code,
        });
        let target = Target {
            group: target.group.to_string(),
            plural: target.resource.split('/').next().unwrap_or_default().to_string(),
            kind: String::new(),
            name: target.name.unwrap_or_default().to_string(),
        };
        Some(match code {
            409 => ApiError::modified(&target),
            500 => ApiError::internal(format!(
                "Internal error occurred: injected fault (devserver faults, seed {}, write {ordinal})",
                s.seed
            )),
            other => ApiError::new(
                other,
                axum::http::StatusCode::from_u16(other)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .map(|r| r.replace(' ', ""))
                    .as_deref()
                    .unwrap_or("InternalError"),
                format!("injected fault (devserver faults, seed {}, write {ordinal})", s.seed),
            ),
        })
    }

    /// Watch-loop hook: after how many change events every watch stream ends (`None`: never).
    pub fn watch_event_limit(&self) -> Option<usize> {
        self.lock().end_watches_after
    }
}

/// SplitMix64 of (seed, ordinal) mapped to [0, 1): a fixed, seedable generator whose k-th draw
/// does not depend on any other draw, so the outcome of write k is reproducible on its own.
fn unit_interval(seed: u64, ordinal: u64) -> f64 {
    let mut z = seed ^ ordinal.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Changes the faults of a running server; returned by [`crate::DevServerHandle::faults`] and
/// [`crate::InProcessServer::faults`]. Every setting takes effect for the next request.
pub struct FaultControl<'a> {
    settings: &'a FaultSettings,
    store: &'a Store,
}

impl<'a> FaultControl<'a> {
    pub(crate) fn new(settings: &'a FaultSettings, store: &'a Store) -> Self {
        FaultControl { settings, store }
    }

    /// Ends every watch stream (open ones included) once it has sent `n` change events
    /// (ADDED/MODIFIED/DELETED after the start; the initial ADDED events of a watch without a
    /// resourceVersion and bookmarks are not counted). `None` turns it off.
    pub fn end_watches_after(&self, n: Option<usize>) -> &Self {
        self.settings.lock().end_watches_after = n;
        self
    }

    /// Fails `fraction` (clamped to 0..=1; NaN means 0) of the following writes with `code`:
    /// 409 answers the real "the object has been modified" Conflict, 500 an InternalError, any
    /// other code in 400..=599 a Status with that code (codes outside it mean 500). Restarts the
    /// write ordinal at 0 and forgets the injected list, so the same seed gives the same failures
    /// again. `fraction` 0 turns it off.
    pub fn fail_writes(&self, fraction: f64, code: u16) -> &Self {
        let mut s = self.settings.lock();
        s.fail_fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
        s.fail_code = if (400..=599).contains(&code) { code } else { 500 };
        s.writes_seen = 0;
        s.injected.clear();
        self
    }

    /// Delays every request (watch starts included) by `latency`; zero turns it off.
    pub fn latency(&self, latency: Duration) -> &Self {
        self.settings.lock().latency = latency;
        self
    }

    /// Sets the seed for write failures and restarts the write ordinal at 0.
    pub fn seed(&self, seed: u64) -> &Self {
        let mut s = self.settings.lock();
        s.seed = seed;
        s.writes_seen = 0;
        s.injected.clear();
        self
    }

    /// Compacts the event history (like etcd compaction): watches resuming from an older
    /// revision get 410 Expired and clients relist. Same as [`crate::DevServerHandle::compact`].
    pub fn compact(&self) -> &Self {
        self.store.compact();
        self
    }

    /// The writes failed on purpose since [`FaultControl::fail_writes`] or
    /// [`FaultControl::seed`] was last called, oldest first.
    pub fn injected(&self) -> Vec<InjectedFault> {
        self.settings.lock().injected.clone()
    }

    /// Turns every fault off (the seed is kept).
    pub fn clear(&self) -> &Self {
        let mut s = self.settings.lock();
        let seed = s.seed;
        *s = State { seed, ..State::default() };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CM: WriteTarget<'static> =
        WriteTarget { group: "", resource: "configmaps", namespace: Some("default"), name: Some("a") };

    fn failing(seed: u64, fraction: f64, writes: u64) -> Vec<u64> {
        let f = FaultSettings::with_seed(seed);
        {
            let mut s = f.lock();
            s.fail_fraction = fraction;
            s.fail_code = 500;
        }
        let failed: Vec<u64> = (0..writes).filter(|_| f.write_failure("update", &CM).is_some()).collect();
        let recorded: Vec<u64> = f.lock().injected.iter().map(|i| i.ordinal).collect();
        assert_eq!(failed, recorded);
        recorded
    }

    #[test]
    fn same_seed_same_failures_and_fraction_is_respected() {
        let a = failing(42, 0.3, 1000);
        assert_eq!(a, failing(42, 0.3, 1000));
        assert_ne!(a, failing(43, 0.3, 1000));
        assert!((250..350).contains(&a.len()), "{} of 1000 failed", a.len());
        assert!(failing(1, 0.0, 100).is_empty());
        assert_eq!(failing(1, 1.0, 100).len(), 100);
    }

    #[test]
    fn reads_never_fail_and_codes_map_to_status() {
        let f = FaultSettings::with_seed(1);
        {
            let mut s = f.lock();
            s.fail_fraction = 1.0;
            s.fail_code = 409;
        }
        assert!(f.write_failure("get", &CM).is_none());
        assert!(f.write_failure("watch", &CM).is_none());
        let e = f.write_failure("patch", &CM).expect("fails");
        assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
        assert!(e.message.contains("configmaps \"a\""), "{}", e.message);
        f.lock().fail_code = 500;
        let e = f.write_failure("delete", &CM).expect("fails");
        assert_eq!((e.code, e.reason.as_str()), (500, "InternalError"));
        f.lock().fail_code = 503;
        let e = f.write_failure("create", &CM).expect("fails");
        assert_eq!((e.code, e.reason.as_str()), (503, "ServiceUnavailable"));
    }
}
