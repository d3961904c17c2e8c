//! API errors rendered as `meta/v1` `Status` objects, the way the API server reports every failure.
//!
//! Every handler returns [`ApiError`] on failure so that no bad request can ever panic the server:
//! the error turns into a JSON `Status` with the exact code, reason and message clients test for.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One entry of `details.causes` (for example a schema validation failure).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueRequired`.
    pub reason: String,
    /// Human-readable message, e.g. `Required value`.
    pub message: String,
    /// The field path, e.g. `spec.replicas`.
    pub field: String,
}

/// An error answered to a client as a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason` (e.g. `NotFound`).
    pub reason: String,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, if any.
    pub details: Option<Value>,
    /// Extra fields merged into `Status.metadata` (e.g. a fresh `continue` token on 410).
    pub metadata: Option<Value>,
}

/// Result type of every request handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// Identifies the resource an error is about, for `details`.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// API group ("" for core).
    pub group: String,
    /// Resource plural (e.g. `foos`).
    pub plural: String,
    /// Kind (e.g. `Foo`).
    pub kind: String,
    /// Object name.
    pub name: String,
}

impl Target {
    /// `foos.example.com` or `pods` for the core group: the qualified resource in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }
    /// `Foo.example.com` or `Pod`: the qualified kind used in Invalid messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() { self.kind.clone() } else { format!("{}.{}", self.kind, self.group) }
    }
}

impl ApiError {
    /// A bare error with code, reason and message.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError { code, reason: reason.to_string(), message: message.into(), details: None, metadata: None }
    }

    /// The plain-text `404 page not found` of a path no handler serves (no Status body), as
    /// kube-apiserver's mux answers; marked by an empty reason.
    pub fn page_not_found() -> Self {
        Self::new(404, "", "404 page not found\n")
    }

    /// 404 NotFound for a path under a built-in API group that names no resource (an unknown
    /// version, resource or subresource): a Status, where an unknown group gets the plain page.
    pub fn resource_not_found() -> Self {
        let mut e = Self::new(404, "NotFound", "the server could not find the requested resource");
        e.details = Some(json!({}));
        e
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 NotFound for an object.
    pub fn not_found(t: &Target) -> Self {
        let mut e = Self::new(404, "NotFound", format!("{} \"{}\" not found", t.qualified(), t.name));
        e.details = Some(json!({"name": t.name, "group": t.group, "kind": t.plural}));
        e
    }

    /// 409 AlreadyExists.
    pub fn already_exists(t: &Target) -> Self {
        let mut e = Self::new(409, "AlreadyExists", format!("{} \"{}\" already exists", t.qualified(), t.name));
        e.details = Some(json!({"name": t.name, "group": t.group, "kind": t.plural}));
        e
    }

    /// 409 Conflict with a specific explanation.
    pub fn conflict(t: &Target, why: &str) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{}\": {}", t.qualified(), t.name, why),
        );
        e.details = Some(json!({"name": t.name, "group": t.group, "kind": t.plural}));
        e
    }

    /// 409 Conflict for a stale resourceVersion.
    pub fn modified(t: &Target) -> Self {
        Self::conflict(t, "the object has been modified; please apply your changes to the latest version and try again")
    }

    /// 422 Invalid with causes; the message lists every cause like the Go aggregate error.
    pub fn invalid(t: &Target, causes: Vec<Cause>) -> Self {
        let parts: Vec<String> = causes
            .iter()
            .map(|c| if c.field.is_empty() { c.message.clone() } else { format!("{}: {}", c.field, c.message) })
            .collect();
        let joined = if parts.len() == 1 { parts[0].clone() } else { format!("[{}]", parts.join(", ")) };
        let mut e = Self::new(422, "Invalid", format!("{} \"{}\" is invalid: {}", t.qualified_kind(), t.name, joined));
        let mut details = json!({
            "name": t.name, "group": t.group, "kind": t.kind,
            "causes": causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect::<Vec<_>>()
        });
        if let Some(d) = details.as_object_mut() {
            d.retain(|_, v| v.as_str() != Some("")); // omitempty, as in Go
        }
        e.details = Some(details);
        e
    }

    /// The causes of a 422 Invalid, read back from its details.
    pub fn causes(&self) -> Vec<Cause> {
        let list = self.details.as_ref().and_then(|d| d.get("causes")).and_then(Value::as_array);
        list.into_iter()
            .flatten()
            .map(|c| {
                let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                Cause { reason: s("reason"), message: s("message"), field: s("field") }
            })
            .collect()
    }

    /// 422 Invalid for an options object (ListOptions, PatchOptions...).
    pub fn invalid_options(kind: &str, causes: Vec<Cause>) -> Self {
        let t = Target { group: "meta.k8s.io".into(), plural: String::new(), kind: kind.into(), name: String::new() };
        Self::invalid(&t, causes)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(msg: impl Into<String>) -> Self {
        let mut e = Self::new(405, "MethodNotAllowed", msg);
        e.details = Some(json!({}));
        e
    }

    /// 500 InternalError (should not happen; used instead of panicking).
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(500, "InternalError", msg)
    }

    /// 504 for a list or watch from a resourceVersion `n` newer than the store's `current`
    /// (the client may retry after a second, as kube-apiserver tells it).
    pub fn too_large_resource_version(n: u64, current: u64) -> Self {
        let mut e = Self::new(504, "Timeout", format!("Too large resource version: {n}, current: {current}"));
        e.details = Some(
            json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
        );
        e
    }

    /// 410 Expired.
    pub fn expired(msg: impl Into<String>) -> Self {
        Self::new(410, "Expired", msg)
    }

    /// The `Status` object as JSON.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.metadata.clone().unwrap_or_else(|| json!({})),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.reason.is_empty()
            && let Some(m) = s.as_object_mut()
        {
            m.remove("reason"); // metav1.Status omits an empty reason
        }
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

impl Cause {
    /// Builds a cause.
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause { reason: reason.to_string(), message: message.into(), field: field.into() }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code == 404 && self.reason.is_empty() {
            let mut r = (StatusCode::NOT_FOUND, self.message).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            return r;
        }
        let body = self.to_status().to_string();
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (code, body).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    }
}

/// kube-apiserver passes etcd's refusal through as a 500 without a reason.
impl From<crate::store::TooLarge> for ApiError {
    fn from(_: crate::store::TooLarge) -> Self {
        ApiError::new(500, "", "etcdserver: request is too large")
    }
}
