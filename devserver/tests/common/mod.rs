//! Shared helpers for the devserver integration tests: start a server, install the test CRD,
//! and send raw requests through the kube-rs HTTP stack.
//!
//! [`start`] gives the devserver, or the real kube-apiserver named by `KUBE_TEST_KUBECONFIG`
//! (see the `testenv` crate): the conformance cases run unchanged against both, and
//! `cargo xtask conformance` compares the two runs. On a shared real server each test is a
//! [`Tenant`]: what the cases call namespace `default` and group `example.com` become a
//! namespace and a group of the test's own, in every request, and are mapped back in every
//! reply, so cases running in parallel never see each other's objects or CRDs.
//!
//! With `CONFORMANCE_TRANSCRIPTS=<dir>`, every exchange is appended to `<dir>/<test>.jsonl`
//! (method, path, status, reason, kind and the reply's top-level fields) for that comparison.
#![allow(dead_code)]

use devserver::{DevServer, DevServerHandle};
use http::{Method, Request};
use kube::client::Body;
use serde_json::{Value, json};

/// A started server and its client.
pub struct Env {
    server: Option<DevServerHandle>,
    pub client: kube::Client,
    tenant: Option<Tenant>,
    /// `(server name, case name)` of [`Env::unique`] names, undone in the transcript.
    aliases: std::cell::RefCell<Vec<(String, String)>>,
    /// Keeps the real server's namespace for the test's lifetime.
    _real: Option<testenv::TestEnv>,
}

/// The names a test owns on a shared real server.
pub struct Tenant {
    /// Stands for namespace `default`.
    pub namespace: String,
    /// Stands for group `example.com`.
    pub group: String,
}

impl Tenant {
    /// Request side: the case's names to the tenant's.
    /// The namespace object itself (`/api/v1/namespaces/default`) keeps its name: cases about
    /// the `default` namespace mean the real one.
    fn to_server(&self, text: &str) -> String {
        text.replace("/namespaces/default/", &format!("/namespaces/{}/", self.namespace))
            .replace("/namespaces/default?", &format!("/namespaces/{}?", self.namespace))
            .replace("\"namespace\":\"default\"", &format!("\"namespace\":\"{}\"", self.namespace))
            .replace("example.com", &self.group)
    }

    /// Reply side: the tenant's names back to the case's.
    fn to_case(&self, text: &str) -> String {
        text.replace(&self.group, "example.com").replace(&self.namespace, "default")
    }
}

/// Starts a server with defaults: the devserver, or the real server of `KUBE_TEST_KUBECONFIG`.
pub async fn start() -> Env {
    match testenv::target() {
        testenv::Target::Devserver => Env::new(DevServer::builder().start().await.expect("server starts")),
        testenv::Target::Real(_) => {
            let real = testenv::TestEnv::start().await;
            let namespace = real.namespace().to_string();
            let tenant = Tenant { group: format!("{namespace}.example.com"), namespace };
            Env {
                server: None,
                client: real.client(),
                tenant: Some(tenant),
                aliases: Default::default(),
                _real: Some(real),
            }
        }
    }
}

/// A reply: status, parsed JSON body (or the text as a string), and headers.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: http::HeaderMap,
    /// The body as sent (protobuf replies are binary; names are not mapped back here).
    pub bytes: Vec<u8>,
}

impl Env {
    /// An environment over a started devserver.
    pub fn new(server: DevServerHandle) -> Env {
        let client = server.client().expect("client");
        Env { server: Some(server), client, tenant: None, aliases: Default::default(), _real: None }
    }

    /// The devserver; a test that calls this is devserver-only (name it `devserver_only_*`).
    pub fn dev(&self) -> &DevServerHandle {
        self.server
            .as_ref()
            .expect("this test needs the devserver; name it devserver_only_* so real-server runs skip it")
    }

    /// Stops the devserver (a real server's test namespace is deleted).
    pub async fn shutdown(self) {
        match (self.server, self._real) {
            (Some(s), _) => s.shutdown().await,
            (None, Some(r)) => r.shutdown().await,
            (None, None) => {}
        }
    }

    /// A cluster-scoped name for the case: `base` on its own devserver; on a shared real server
    /// (where earlier runs leave Terminating namespaces behind) `base` with a random suffix.
    pub fn unique(&self, base: &str) -> String {
        if !self.is_real() {
            return base.to_string();
        }
        let name = format!("{base}-{}", &uuid_hex()[..8]);
        self.aliases.borrow_mut().push((name.clone(), base.to_string()));
        name
    }

    /// Whether this is the real kube-apiserver.
    pub fn is_real(&self) -> bool {
        self.server.is_none()
    }

    /// Sends a request with an optional JSON body and content type.
    pub async fn req(&self, method: Method, path: &str, body: Option<Value>, ct: &str) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(method, path, bytes, ct, None).await
    }

    /// Sends raw bytes.
    pub async fn raw(&self, method: Method, path: &str, bytes: Vec<u8>, ct: &str, accept: Option<&str>) -> Reply {
        let reply = self.send(method.clone(), path, bytes, ct, accept).await;
        let case_path = self.aliases.borrow().iter().fold(path.to_string(), |p, (name, base)| p.replace(name, base));
        transcript(&method, &case_path, &reply);
        let write = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        if self.is_real() && write && path.starts_with(CRDS) && (200..300).contains(&reply.status) {
            self.settle_crd(&method, &reply.body).await;
        }
        reply
    }

    /// One exchange, names mapped for the tenant; nothing recorded.
    async fn send(&self, method: Method, path: &str, bytes: Vec<u8>, ct: &str, accept: Option<&str>) -> Reply {
        let (sent_path, bytes) = match &self.tenant {
            Some(t) => (t.to_server(path), t.to_server(&String::from_utf8_lossy(&bytes)).into_bytes()),
            None => (path.to_string(), bytes),
        };
        let mut b = Request::builder().method(method.clone()).uri(sent_path).header("content-type", ct);
        if let Some(a) = accept {
            b = b.header("accept", a);
        }
        let req = b.body(Body::from(bytes)).expect("request");
        let resp = self.client.send(req).await.expect("transport");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.expect("body").to_bytes();
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(t) = &self.tenant {
            text = t.to_case(&text);
        }
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Reply { status, body, text, headers, bytes: bytes.to_vec() }
    }

    /// kube-apiserver establishes a new CRD, and installs its handlers and schema, a moment
    /// after answering; the devserver does it before answering. On the real server a case waits
    /// for that, so its next request sees what the devserver's would.
    async fn settle_crd(&self, method: &Method, crd: &Value) {
        if *method == Method::PUT || *method == Method::PATCH {
            // An update (new schema, new version) has no condition to wait for.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        let Some(name) = crd["metadata"]["name"].as_str() else { return };
        let crd_path = format!("{CRDS}/{name}");
        let group = crd["spec"]["group"].as_str().unwrap_or_default().to_string();
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default().to_string();
        let versions: Vec<String> = crd["spec"]["versions"]
            .as_array()
            .map(|vs| {
                vs.iter().filter(|v| v["served"] == true).filter_map(|v| v["name"].as_str().map(String::from)).collect()
            })
            .unwrap_or_default();
        eventually(30, "CRD established and served", || async {
            if !self.get_quiet(&crd_path).await.text.contains("\"Established\"") {
                return None;
            }
            for v in &versions {
                if self.get_quiet(&format!("/apis/{group}/{v}/{plural}?limit=1")).await.status != 200 {
                    return None;
                }
                // Discovery is refreshed by its own controller, after the resource is served.
                let doc = self.get_quiet(&format!("/apis/{group}/{v}")).await;
                let listed = doc.body["resources"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|r| r["name"].as_str() == Some(plural.as_str())));
                if !listed {
                    return None;
                }
            }
            Some(())
        })
        .await;
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.req(Method::GET, path, None, "application/json").await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.req(Method::POST, path, Some(body), "application/json").await
    }
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.req(Method::PUT, path, Some(body), "application/json").await
    }
    pub async fn patch(&self, path: &str, body: Value, ct: &str) -> Reply {
        self.req(Method::PATCH, path, Some(body), ct).await
    }
    pub async fn delete(&self, path: &str, body: Option<Value>) -> Reply {
        self.req(Method::DELETE, path, body, "application/json").await
    }

    /// Installs the test CRD (foos.example.com) and checks it is established.
    pub async fn install_crd(&self) {
        self.install(foo_crd()).await;
    }

    /// Creates a CRD (201) and checks it is Established (on a real server, served too).
    pub async fn install(&self, crd: Value) {
        let r = self.post(CRDS, crd.clone()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        let r = self.get_quiet(&format!("{CRDS}/{name}")).await;
        assert!(r.text.contains("\"Established\""), "{}", r.text);
    }

    /// A GET with an Accept header that is not written to the transcript.
    pub async fn raw_quiet(&self, method: Method, path: &str, accept: &str) -> Reply {
        self.send(method, path, Vec::new(), "application/json", Some(accept)).await
    }

    /// A POST that is not written to the transcript (its reply holds a secret or a random value).
    pub async fn post_quiet(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, body.to_string().into_bytes(), "application/json", None).await
    }

    /// A GET that is not written to the transcript (polling differs between servers in count).
    pub async fn get_quiet(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Vec::new(), "application/json", None).await
    }

    /// Creates a Foo in `default`.
    pub async fn create_foo(&self, name: &str, replicas: i64) -> Reply {
        self.post(FOOS, foo(name, replicas)).await
    }
}

/// The CRD collection.
pub const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/// Collection path of the test kind in `default`.
pub const FOOS: &str = "/apis/example.com/v1/namespaces/default/foos";

/// A Foo object.
pub fn foo(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": name}, "spec": {"replicas": replicas, "image": "nginx"}})
}

/// The test CRD: namespaced Foo with status and scale subresources, printer columns and a schema with
/// limits, an enum with a default, and a required field.
pub fn foo_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "foos", "singular": "foo", "kind": "Foo", "listKind": "FooList", "shortNames": ["fo"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.observed", "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": [
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["replicas"],
                            "properties": {
                                "replicas": {"type": "integer", "minimum": 0, "maximum": 10},
                                "image": {"type": "string", "maxLength": 20},
                                "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                                "tags": {"type": "array", "items": {"type": "string"}},
                                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                            }
                        },
                        "status": {"type": "object", "properties": {
                            "ready": {"type": "boolean"},
                            "observed": {"type": "integer"},
                            "selector": {"type": "string"},
                            "conditions": {
                                "type": "array",
                                "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["type"],
                                "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}, "status": {"type": "string"}}}
                            }
                        }}
                    }
                }}
            }]
        }
    })
}

/// A GET over a bare TCP connection, bypassing kube-rs (whose client retries 5xx replies).
pub async fn tcp_get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Polls `check` every 20 ms until it returns `Some`, failing the test after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Appends one exchange to `$CONFORMANCE_TRANSCRIPTS/<test>.jsonl` when that is set.
fn transcript(method: &Method, path: &str, reply: &Reply) {
    let Some(dir) = std::env::var_os("CONFORMANCE_TRANSCRIPTS") else { return };
    let test = std::thread::current().name().unwrap_or("unnamed").replace("::", "__");
    let keys: Vec<&String> = reply.body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    let line = json!({
        "method": method.as_str(),
        "path": path,
        "status": reply.status,
        "reason": reply.body.get("reason").and_then(Value::as_str),
        "kind": reply.body.get("kind").and_then(Value::as_str),
        "keys": keys,
    });
    let file = std::path::Path::new(&dir).join(format!("{test}.jsonl"));
    let write = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()));
    if let Err(e) = write {
        panic!("writing the conformance transcript {}: {e}", file.display());
    }
}

/// Random hex from the kernel (no dependency for a test suffix).
fn uuid_hex() -> String {
    let mut buf = [0u8; 8];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf));
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
