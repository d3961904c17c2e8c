//! What one client may take from the server, with kube-apiserver's defaults: a cap on requests
//! in flight (`--max-requests-inflight` 400 and `--max-mutating-requests-inflight` 200; watches
//! are long-running and not counted), answered 429 with `Retry-After`; a request body limit of
//! 3 MiB (413), checked against `Content-Length` before a byte is read; a deadline for the body
//! to arrive; and connection timeouts (header read, TLS handshake, idle keep-alive) so slow or
//! silent connections are closed instead of held forever.

use crate::error::ApiError;
use crate::request_info::RequestInfo;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The settings (see [`crate::DevServerBuilder::limits`]); `Default` is kube-apiserver's.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Non-mutating requests in flight (get, list, discovery, ...); watches are not counted.
    pub max_requests_inflight: usize,
    /// Mutating requests in flight (create, update, patch, delete, deletecollection).
    pub max_mutating_requests_inflight: usize,
    /// The largest request body accepted (kube-apiserver: 3 MiB).
    pub max_request_body_bytes: usize,
    /// The largest object stored (etcd's request limit, 1.5 MiB; a larger one is a 500 as
    /// kube-apiserver passes etcd's refusal on).
    pub max_object_bytes: usize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// How long a client may take to send a request's headers, and to start its next request on
    /// a kept-alive connection (kube-apiserver's `ReadHeaderTimeout` is 32 s).
    pub header_read_timeout: Duration,
    /// How long a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_requests_inflight: 400,
            max_mutating_requests_inflight: 200,
            max_request_body_bytes: 3 * 1024 * 1024,
            max_object_bytes: crate::store::DEFAULT_MAX_OBJECT_BYTES,
            body_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(32),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// The limits of one running server.
pub struct Limits {
    /// The settings they were made from.
    pub settings: LimitSettings,
    readonly: Arc<Semaphore>,
    mutating: Arc<Semaphore>,
    /// Requests with big bodies processed at once: one core fewer than the machine has, so the
    /// async workers always keep a core for everything else.
    heavy: Arc<Semaphore>,
}

/// Verbs counted against the mutating limit.
const MUTATING: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

impl Limits {
    /// Limits with these settings.
    pub fn new(settings: LimitSettings) -> Self {
        Limits {
            readonly: Arc::new(Semaphore::new(settings.max_requests_inflight.max(1))),
            mutating: Arc::new(Semaphore::new(settings.max_mutating_requests_inflight.max(1))),
            heavy: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
            )),
            settings,
        }
    }

    /// A slot for this request, held until it is answered; `Err` is the 429 to send. Watches
    /// need none (they are long-running, as in kube-apiserver's max-in-flight filter).
    pub fn admit(&self, info: &RequestInfo) -> Result<Option<OwnedSemaphorePermit>, TooManyRequests> {
        if info.verb == "watch" {
            return Ok(None);
        }
        let pool = if MUTATING.contains(&info.verb.as_str()) { &self.mutating } else { &self.readonly };
        match pool.clone().try_acquire_owned() {
            Ok(permit) => Ok(Some(permit)),
            Err(_) => Err(TooManyRequests),
        }
    }

    /// Waits for a turn to process a big request: at most one fewer than the machine has cores
    /// at once, so the async workers always keep a core for everything else.
    pub async fn heavy_turn(&self) -> Option<OwnedSemaphorePermit> {
        self.heavy.clone().acquire_owned().await.ok()
    }

    /// Reads the request body: 413 before reading when `Content-Length` is over the limit, or
    /// as soon as a chunked body passes it; 504 when it does not arrive within the deadline.
    pub async fn read_body(&self, headers: &HeaderMap, body: axum::body::Body) -> Result<axum::body::Bytes, ApiError> {
        let max = self.settings.max_request_body_bytes;
        let declared =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large(max));
        }
        match tokio::time::timeout(self.settings.body_timeout, axum::body::to_bytes(body, max)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) if is_length_limit(&e) => Err(too_large(max)),
            Ok(Err(e)) => Err(ApiError::bad_request(format!("reading the request body: {e}"))),
            Err(_) => Err(ApiError::new(
                504,
                "Timeout",
                format!(
                    "Timeout: the request body did not arrive within {}s",
                    self.settings.body_timeout.as_secs_f64()
                ),
            )),
        }
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// kube-apiserver's answer to a body over the limit.
fn too_large(max: usize) -> ApiError {
    ApiError::new(413, "RequestEntityTooLarge", format!("Request entity too large: limit is {max}"))
}

/// The in-flight limit is reached.
#[derive(Debug)]
pub struct TooManyRequests;

/// kube-apiserver's answer when the in-flight limit is reached: 429 TooManyRequests with a
/// `Retry-After` of one second, which client-go and kube-rs honour.
impl IntoResponse for TooManyRequests {
    fn into_response(self) -> Response {
        let mut e = ApiError::new(429, "TooManyRequests", "Too many requests, please try again later.");
        e.details = Some(json!({"retryAfterSeconds": 1}));
        let mut r = e.into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    }
}
