//! client-go's `testing` package for kube clients: record every API call as an [`Action`] and
//! let tests inject results with reactors, in front of any `kube::Client`.
//!
//! [`Recorder::wrap`] puts a tower layer in front of a client. A fake clientset wraps the
//! devserver's in-process client with it, so the semantics (resourceVersions, conflicts,
//! status subresources, watch replay) are the real server's, not a weaker object tracker's.
//!
//! ```
//! # async fn demo(inner: kube::Client) {
//! use runtime::testing::{Reaction, Recorder};
//! let recorder = Recorder::new();
//! let client = recorder.wrap(inner);
//! // Fail the next update of a BitcoinNetwork with a conflict:
//! recorder.prepend_reactor("update", "bitcoinnetworks", |_action| Some(Reaction::conflict("injected")));
//! // ... run the code under test with `client`, then:
//! for a in recorder.actions() {
//!     println!("{} {} {:?}", a.verb, a.resource, a.name);
//! }
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// One API call, as client-go's fake clientset records it.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` or `deletecollection`.
    pub verb: String,
    /// API group (empty for the core group).
    pub group: String,
    /// API version.
    pub version: String,
    /// Resource plural, e.g. `bitcoinnetworks`.
    pub resource: String,
    /// Subresource, e.g. `status`.
    pub subresource: Option<String>,
    /// Namespace of the request, if any.
    pub namespace: Option<String>,
    /// Object name, if the request names one.
    pub name: Option<String>,
    /// The request body as JSON (create, update, patch).
    pub object: Option<Value>,
    /// The patch content type, for patches.
    pub patch_type: Option<String>,
}

impl Action {
    /// True when this action is `verb` on `resource` (`*` matches anything; `resource` may
    /// name a subresource as `resource/sub`).
    pub fn matches(&self, verb: &str, resource: &str) -> bool {
        let full = match &self.subresource {
            Some(s) => format!("{}/{s}", self.resource),
            None => self.resource.clone(),
        };
        (verb == "*" || verb == self.verb) && (resource == "*" || resource == self.resource || resource == full)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(s) = &self.subresource {
            write!(f, "/{s}")?;
        }
        if let Some(ns) = &self.namespace {
            write!(f, " -n {ns}")?;
        }
        if let Some(n) = &self.name {
            write!(f, " {n}")?;
        }
        Ok(())
    }
}

/// What a reactor answers instead of the server.
#[derive(Clone, Debug, PartialEq)]
pub enum Reaction {
    /// An object, returned with 200.
    Object(Value),
    /// An API error, returned as a Status with this code and reason.
    Error {
        /// HTTP status code.
        code: u16,
        /// Status reason, e.g. `Conflict`.
        reason: String,
        /// Message.
        message: String,
    },
}

impl Reaction {
    /// A 409 Conflict, as for a stale resourceVersion.
    pub fn conflict(message: impl Into<String>) -> Self {
        Reaction::Error { code: 409, reason: "Conflict".into(), message: message.into() }
    }

    /// A 500 InternalError.
    pub fn internal_error(message: impl Into<String>) -> Self {
        Reaction::Error { code: 500, reason: "InternalError".into(), message: message.into() }
    }

    fn response(&self) -> Response<Body> {
        let (code, body) = match self {
            Reaction::Object(v) => (200, v.clone()),
            Reaction::Error { code, reason, message } => (
                *code,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}),
            ),
        };
        let mut resp = Response::new(Body::from(body.to_string().into_bytes()));
        *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        resp
    }
}

type ReactionFn = dyn Fn(&Action) -> Option<Reaction> + Send + Sync;

struct Reactor {
    verb: String,
    resource: String,
    react: Box<ReactionFn>,
}

#[derive(Default)]
struct Inner {
    actions: Mutex<Vec<Action>>,
    reactors: Mutex<Vec<Arc<Reactor>>>,
}

/// Records actions and runs reactors; cloning shares the record.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder").field("actions", &self.inner.actions.lock().len()).finish()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A client that records every resource request and consults the reactors before passing
    /// the request to `inner`. Discovery and other non-resource requests pass unrecorded.
    pub fn wrap(&self, inner: kube::Client) -> kube::Client {
        let me = self.clone();
        let service = tower::service_fn(move |req: Request<Body>| {
            let me = me.clone();
            let inner = inner.clone();
            async move { me.handle(inner, req).await }
        });
        kube::Client::new(service, "default")
    }

    async fn handle(&self, inner: kube::Client, req: Request<Body>) -> Result<Response<Body>, kube::Error> {
        let (parts, body) = req.into_parts();
        let bytes = body.collect().await.map_err(|e| kube::Error::Service(e.into()))?.to_bytes();
        if let Some(mut action) = parse(&parts.method, &parts.uri) {
            action.object = serde_json::from_slice(&bytes).ok();
            if action.verb == "patch" {
                action.patch_type =
                    parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
            }
            self.inner.actions.lock().push(action.clone());
            // Reactors run newest first, without the lock held while they run.
            let reactors: Vec<Arc<Reactor>> = self.inner.reactors.lock().clone();
            for r in &reactors {
                if action.matches(&r.verb, &r.resource)
                    && let Some(reaction) = (r.react)(&action)
                {
                    return Ok(reaction.response());
                }
            }
        }
        inner.send(Request::from_parts(parts, Body::from(bytes))).await
    }

    /// Adds a reactor that runs before the existing ones (client-go's `PrependReactor`). It
    /// answers when it returns `Some`; `None` passes the request on.
    pub fn prepend_reactor(
        &self,
        verb: impl Into<String>,
        resource: impl Into<String>,
        react: impl Fn(&Action) -> Option<Reaction> + Send + Sync + 'static,
    ) {
        let r = Arc::new(Reactor { verb: verb.into(), resource: resource.into(), react: Box::new(react) });
        self.inner.reactors.lock().insert(0, r);
    }

    /// Every action so far, oldest first.
    pub fn actions(&self) -> Vec<Action> {
        self.inner.actions.lock().clone()
    }

    /// The actions other than reads (`get`, `list`, `watch`), as controllers usually assert.
    pub fn writes(&self) -> Vec<Action> {
        self.actions().into_iter().filter(|a| !matches!(a.verb.as_str(), "get" | "list" | "watch")).collect()
    }

    /// Forgets the actions recorded so far.
    pub fn clear_actions(&self) {
        self.inner.actions.lock().clear();
    }
}

/// Turns a request line into an action; `None` for non-resource paths.
fn parse(method: &Method, uri: &http::Uri) -> Option<Action> {
    let segs: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, r, tail @ ..] => (Some(ns.to_string()), {
            let mut v = vec![*r];
            v.extend_from_slice(tail);
            v
        }),
        other => (None, other.to_vec()),
    };
    let (resource, name, sub) = match rest.as_slice() {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(n.to_string()), None),
        [r, n, s, ..] => (*r, Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    let watch = uri.query().is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match (method.as_str(), name.is_some()) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return None,
    };
    Some(Action {
        verb: verb.into(),
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        subresource: sub,
        namespace,
        name,
        object: None,
        patch_type: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(m: Method, u: &str) -> Action {
        parse(&m, &u.parse().unwrap()).unwrap()
    }

    #[test]
    fn parses_request_lines() {
        let a = p(Method::PUT, "/apis/example.com/v1/namespaces/ns/foos/a/status");
        assert_eq!((a.verb.as_str(), a.group.as_str(), a.resource.as_str()), ("update", "example.com", "foos"));
        assert_eq!(
            (a.namespace.as_deref(), a.name.as_deref(), a.subresource.as_deref()),
            (Some("ns"), Some("a"), Some("status"))
        );
        assert!(a.matches("update", "foos/status") && a.matches("*", "foos") && !a.matches("update", "bars"));
        assert_eq!(p(Method::GET, "/api/v1/namespaces/ns/pods?watch=true&resourceVersion=0").verb, "watch");
        assert_eq!(p(Method::GET, "/api/v1/pods").verb, "list");
        assert_eq!(p(Method::GET, "/api/v1/namespaces/default").resource, "namespaces");
        assert_eq!(p(Method::GET, "/api/v1/namespaces/default").name.as_deref(), Some("default"));
        assert_eq!(p(Method::DELETE, "/apis/apps/v1/namespaces/x/statefulsets").verb, "deletecollection");
        assert!(parse(&Method::GET, &"/version".parse().unwrap()).is_none());
        assert!(parse(&Method::GET, &"/apis".parse().unwrap()).is_none());
    }
}
