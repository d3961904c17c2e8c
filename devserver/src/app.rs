//! Shared server state handed to every request: the store, the registry of served types, the
//! request log and a few settings.

use crate::registry::Registry;
use crate::request_log::RequestLog;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The state of one running server.
pub struct App {
    /// All objects.
    pub store: Store,
    /// Served resource types.
    pub registry: Registry,
    /// Every answered request.
    pub log: Arc<RequestLog>,
    /// `host:port` clients reach the server at (for `/api`'s serverAddressByClientCIDRs).
    pub server_address: String,
    /// The bearer token every request must carry (https mode); `None` means anonymous admin.
    pub token: Option<String>,
    /// How often an idle watch with `allowWatchBookmarks` gets a BOOKMARK.
    pub bookmark_interval: Duration,
    /// ServiceAccount tokens and whether RBAC is enforced (see [`crate::authz`]).
    pub auth: crate::authn::Auth,
    /// Faults injected on demand by tests (see [`crate::faults`]); all off by default.
    pub faults: crate::faults::FaultSettings,
    /// In-flight, body and connection limits (see [`crate::limits`]).
    pub limits: crate::limits::Limits,
    /// The cluster IPs and node ports Services hold (see [`crate::allocator`]).
    pub allocations: crate::allocator::Allocations,
}

/// The current time as RFC 3339 with whole seconds, like `metav1.Time`.
pub fn now() -> String {
    let secs = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(secs).map(|t| t.to_string()).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// The storage key of an object: `namespace/name`, or `name` for cluster-scoped objects.
pub fn object_key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}
