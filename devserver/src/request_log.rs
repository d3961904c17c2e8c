//! A queryable log of every request the server answered, so tests can count API load
//! ("how many LISTs did the informer make?") without scraping tracing output.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Records kept before the oldest are dropped, so a long-running embedded server does not grow
/// without bound.
pub const DEFAULT_LIMIT: usize = 200_000;

/// One answered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection, or the
    /// HTTP method in lower case for non-resource paths (discovery, version, health).
    pub verb: String,
    /// API group of the resource ("" for core and non-resource requests).
    pub group: String,
    /// Resource plural, with `/status` for the subresource; empty for non-resource requests.
    pub resource: String,
    /// Namespace, if the request was namespaced.
    pub namespace: Option<String>,
    /// Object name, if the request named one.
    pub name: Option<String>,
    /// The HTTP status code answered.
    pub status: u16,
    /// The request path.
    pub path: String,
    /// The authenticated user (https mode), e.g. `system:serviceaccount:ns:sa`; `None` over
    /// http and for health probes without a token.
    pub user: Option<String>,
}

/// The log, shared by all connections of one server (bounded: the oldest records are dropped
/// past `DEFAULT_LIMIT`).
#[derive(Debug, Default)]
pub struct RequestLog {
    records: Mutex<VecDeque<RequestRecord>>,
}

impl RequestLog {
    /// Appends a record.
    pub fn push(&self, r: RequestRecord) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.push_back(r);
        while records.len() > DEFAULT_LIMIT {
            records.pop_front();
        }
    }

    /// A copy of every record so far, oldest first.
    pub fn entries(&self) -> Vec<RequestRecord> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }

    /// How many records match `verb` and `resource` (e.g. `count("list", "foos")`).
    pub fn count(&self, verb: &str, resource: &str) -> usize {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.verb == verb && r.resource == resource)
            .count()
    }

    /// Forgets every record (to measure one phase of a test).
    pub fn clear(&self) {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
