//! A small in-process Kubernetes API server for tests: enough of list, watch
//! (with 410 Expired and dropped watches), get, create, replace and delete for
//! any resource, served to a real `kube::Client` through a tower service.
//!
//! Used until the workspace's `devserver` crate is available to these tests.
#![allow(dead_code)]

use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::{Bytes, Frame};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

type Body = BoxBody<Bytes, Infallible>;
type Key = (String, String); // (namespace or "", name)

struct Watcher {
    plural: String,
    namespace: Option<String>,
    tx: mpsc::UnboundedSender<Bytes>,
}

#[derive(Default)]
struct State {
    rv: u64,
    objects: BTreeMap<String, BTreeMap<Key, Value>>,
    /// (rv, plural, namespace, event type, object)
    history: Vec<(u64, String, String, &'static str, Value)>,
    /// Watches from a resourceVersion below this get 410 Expired.
    compacted: u64,
    watchers: Vec<Watcher>,
    log: Vec<String>,
}

/// The fake server. Cloning shares it.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
           "message": message, "reason": reason, "code": code})
}

fn full(code: StatusCode, v: &Value) -> Response<Body> {
    let bytes = Bytes::from(serde_json::to_vec(v).unwrap_or_default());
    let stream = futures::stream::once(async move { Ok::<_, Infallible>(Frame::data(bytes)) });
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(h, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn labels_match(obj: &Value, selector: Option<&String>) -> bool {
    let Some(sel) = selector.filter(|s| !s.is_empty()) else {
        return true;
    };
    sel.split(',').all(|term| match term.split_once('=') {
        Some((k, v)) => obj["metadata"]["labels"][k].as_str() == Some(v),
        None => true,
    })
}

impl FakeApi {
    /// A new, empty server.
    pub fn new() -> Self {
        Self::default()
    }

    /// A `kube::Client` talking to this server.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.clone(), "default")
    }

    /// The request log: `METHOD path?query` per request.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().log.clone()
    }

    /// Current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state.lock().rv
    }

    fn record(s: &mut State, plural: &str, ns: &str, ty: &'static str, obj: &Value) {
        let rv = s.rv;
        s.history.push((rv, plural.to_string(), ns.to_string(), ty, obj.clone()));
        let line = Bytes::from(format!("{}\n", json!({"type": ty, "object": obj})));
        s.watchers.retain(|w| {
            if w.plural != plural || w.namespace.as_deref().is_some_and(|n| n != ns) {
                return !w.tx.is_closed();
            }
            w.tx.send(line.clone()).is_ok()
        });
    }

    /// Creates or replaces an object directly (no HTTP); returns its new RV.
    pub fn upsert(&self, plural: &str, mut obj: Value) -> u64 {
        let mut s = self.state.lock();
        s.rv += 1;
        let rv = s.rv;
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let existed =
            s.objects.entry(plural.to_string()).or_default().insert((ns.clone(), name), obj.clone()).is_some();
        Self::record(&mut s, plural, &ns, if existed { "MODIFIED" } else { "ADDED" }, &obj);
        rv
    }

    /// Deletes an object directly; returns whether it existed.
    pub fn remove(&self, plural: &str, ns: &str, name: &str) -> bool {
        let mut s = self.state.lock();
        let Some(mut obj) = s.objects.get_mut(plural).and_then(|m| m.remove(&(ns.to_string(), name.to_string())))
        else {
            return false;
        };
        s.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        Self::record(&mut s, plural, ns, "DELETED", &obj);
        true
    }

    /// Deletes an object without telling anyone (as if the delete happened
    /// while the client was not watching and history is compacted since).
    pub fn remove_silently(&self, plural: &str, ns: &str, name: &str) -> bool {
        let mut s = self.state.lock();
        let gone = s.objects.get_mut(plural).and_then(|m| m.remove(&(ns.to_string(), name.to_string()))).is_some();
        s.rv += 1;
        s.compacted = s.rv + 1;
        s.history.clear();
        s.watchers.clear();
        gone
    }

    /// Ends every open watch (the client re-watches from its last RV).
    pub fn drop_watches(&self) {
        self.state.lock().watchers.clear();
    }

    /// Compacts history: every watch from an older RV now gets 410 Expired,
    /// forcing a relist. Also ends open watches.
    pub fn expire(&self) {
        let mut s = self.state.lock();
        s.compacted = s.rv + 1;
        s.history.clear();
        s.watchers.clear();
    }

    /// `(namespace/name, resourceVersion)` of every stored object of `plural`.
    pub fn state_of(&self, plural: &str) -> BTreeMap<String, String> {
        let s = self.state.lock();
        s.objects
            .get(plural)
            .map(|m| {
                m.iter()
                    .map(|((ns, n), o)| {
                        let key = if ns.is_empty() { n.clone() } else { format!("{ns}/{n}") };
                        (key, o["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of watch requests made for `plural` so far.
    pub fn watch_requests(&self, plural: &str) -> usize {
        self.log().iter().filter(|l| l.contains("watch=true") && l.contains(&format!("/{plural}?"))).count()
    }

    async fn handle(self, req: Request<kube::client::Body>) -> Response<Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query: BTreeMap<String, String> = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), percent_decode(v)))
            .collect();
        self.state.lock().log.push(format!("{method} {path}?{}", req.uri().query().unwrap_or("")));
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let rest = match segs.as_slice() {
            ["api", _v, rest @ ..] => rest,
            ["apis", _g, _v, rest @ ..] => rest,
            _ => return full(StatusCode::NOT_FOUND, &status(404, "NotFound", "bad path")),
        };
        let (ns, plural, name) = match rest {
            ["namespaces", ns, plural] => (Some(ns.to_string()), plural.to_string(), None),
            ["namespaces", ns, plural, name] => (Some(ns.to_string()), plural.to_string(), Some(name.to_string())),
            [plural] => (None, plural.to_string(), None),
            [plural, name] => (None, plural.to_string(), Some(name.to_string())),
            _ => return full(StatusCode::NOT_FOUND, &status(404, "NotFound", "bad path")),
        };
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        match (method, name) {
            (Method::GET, None) if query.get("watch").map(String::as_str) == Some("true") => {
                self.watch(&plural, ns, &query)
            }
            (Method::GET, None) => self.list(&plural, ns.as_deref(), &query),
            (Method::GET, Some(name)) => {
                let s = self.state.lock();
                let key = (ns.unwrap_or_default(), name.clone());
                match s.objects.get(&plural).and_then(|m| m.get(&key)) {
                    Some(o) => full(StatusCode::OK, o),
                    None => {
                        full(StatusCode::NOT_FOUND, &status(404, "NotFound", &format!("{plural} \"{name}\" not found")))
                    }
                }
            }
            (Method::POST, None) => {
                let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else {
                    return full(StatusCode::BAD_REQUEST, &status(400, "BadRequest", "bad json"));
                };
                let ns = ns.unwrap_or_default();
                obj["metadata"]["namespace"] = if ns.is_empty() { Value::Null } else { json!(ns) };
                let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
                let exists =
                    self.state.lock().objects.get(&plural).is_some_and(|m| m.contains_key(&(ns.clone(), name.clone())));
                if exists {
                    return full(
                        StatusCode::CONFLICT,
                        &status(409, "AlreadyExists", &format!("{plural} \"{name}\" already exists")),
                    );
                }
                self.upsert(&plural, obj.clone());
                self.get_json(&plural, &ns, &name, StatusCode::CREATED)
            }
            (Method::PUT, Some(name)) => {
                let Ok(obj) = serde_json::from_slice::<Value>(&body) else {
                    return full(StatusCode::BAD_REQUEST, &status(400, "BadRequest", "bad json"));
                };
                let ns = ns.unwrap_or_default();
                let current = self
                    .state
                    .lock()
                    .objects
                    .get(&plural)
                    .and_then(|m| m.get(&(ns.clone(), name.clone())))
                    .map(|o| o["metadata"]["resourceVersion"].clone());
                match current {
                    None => {
                        full(StatusCode::NOT_FOUND, &status(404, "NotFound", &format!("{plural} \"{name}\" not found")))
                    }
                    Some(rv) if obj["metadata"]["resourceVersion"] != rv => full(
                        StatusCode::CONFLICT,
                        &status(
                            409,
                            "Conflict",
                            "the object has been modified; please apply your changes to the latest version and try again",
                        ),
                    ),
                    Some(_) => {
                        self.upsert(&plural, obj);
                        self.get_json(&plural, &ns, &name, StatusCode::OK)
                    }
                }
            }
            (Method::DELETE, Some(name)) => {
                let ns = ns.unwrap_or_default();
                if self.remove(&plural, &ns, &name) {
                    full(StatusCode::OK, &json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}))
                } else {
                    full(StatusCode::NOT_FOUND, &status(404, "NotFound", "not found"))
                }
            }
            _ => full(StatusCode::METHOD_NOT_ALLOWED, &status(405, "MethodNotAllowed", "not supported by the fake")),
        }
    }

    fn get_json(&self, plural: &str, ns: &str, name: &str, code: StatusCode) -> Response<Body> {
        let s = self.state.lock();
        match s.objects.get(plural).and_then(|m| m.get(&(ns.to_string(), name.to_string()))) {
            Some(o) => full(code, o),
            None => full(StatusCode::NOT_FOUND, &status(404, "NotFound", "not found")),
        }
    }

    fn list(&self, plural: &str, ns: Option<&str>, q: &BTreeMap<String, String>) -> Response<Body> {
        let s = self.state.lock();
        let items: Vec<Value> = s
            .objects
            .get(plural)
            .map(|m| {
                m.iter()
                    .filter(|((ons, _), _)| ns.is_none_or(|n| n == ons))
                    .filter(|(_, o)| labels_match(o, q.get("labelSelector")))
                    .map(|(_, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default();
        full(
            StatusCode::OK,
            &json!({"apiVersion": "v1", "kind": "List",
                    "metadata": {"resourceVersion": s.rv.to_string()}, "items": items}),
        )
    }

    fn watch(&self, plural: &str, ns: Option<String>, q: &BTreeMap<String, String>) -> Response<Body> {
        // Like an API server without the WatchList feature: streaming lists are refused.
        if q.contains_key("sendInitialEvents") {
            let message = "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled";
            return full(StatusCode::UNPROCESSABLE_ENTITY, &status(422, "Invalid", message));
        }
        let from: u64 = q.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
        let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
        {
            let mut s = self.state.lock();
            if from < s.compacted {
                let ev = json!({"type": "ERROR", "object": status(410, "Expired", "too old resource version")});
                let _ = tx.send(Bytes::from(format!("{ev}\n")));
                drop(tx);
            } else {
                let selector = q.get("labelSelector").cloned();
                for (rv, p, ons, ty, obj) in &s.history {
                    if *rv > from
                        && p == plural
                        && ns.as_deref().is_none_or(|n| n == ons)
                        && labels_match(obj, selector.as_ref())
                    {
                        let _ = tx.send(Bytes::from(format!("{}\n", json!({"type": ty, "object": obj}))));
                    }
                }
                s.watchers.push(Watcher { plural: plural.to_string(), namespace: ns, tx });
            }
        }
        let stream = tokio_stream_from(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .unwrap()
    }
}

fn tokio_stream_from(mut rx: mpsc::UnboundedReceiver<Bytes>) -> impl futures::Stream<Item = Bytes> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

impl tower::Service<Request<kube::client::Body>> for FakeApi {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<kube::client::Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}

/// A ConfigMap as JSON.
pub fn configmap(ns: &str, name: &str, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"namespace": ns, "name": name, "labels": {"app": "demo"},
                        "managedFields": [{"manager": "test", "operation": "Update"}]},
           "data": {"v": data}})
}
