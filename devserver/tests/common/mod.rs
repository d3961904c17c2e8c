//! Shared helpers for the devserver integration tests: start a server, install the test CRD,
//! and send raw requests through the kube-rs HTTP stack.
#![allow(dead_code)]

use devserver::{DevServer, DevServerHandle};
use http::{Method, Request};
use kube::client::Body;
use serde_json::{Value, json};

/// A started server and its client.
pub struct Env {
    pub server: DevServerHandle,
    pub client: kube::Client,
}

/// Starts a server with defaults.
pub async fn start() -> Env {
    let server = DevServer::builder().start().await.expect("server starts");
    let client = server.client().expect("client");
    Env { server, client }
}

/// A reply: status, parsed JSON body (or the text as a string), and headers.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: http::HeaderMap,
}

impl Env {
    /// Sends a request with an optional JSON body and content type.
    pub async fn req(&self, method: Method, path: &str, body: Option<Value>, ct: &str) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(method, path, bytes, ct, None).await
    }

    /// Sends raw bytes.
    pub async fn raw(&self, method: Method, path: &str, bytes: Vec<u8>, ct: &str, accept: Option<&str>) -> Reply {
        let mut b = Request::builder().method(method).uri(path).header("content-type", ct);
        if let Some(a) = accept {
            b = b.header("accept", a);
        }
        let req = b.body(Body::from(bytes)).expect("request");
        let resp = self.client.send(req).await.expect("transport");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Reply { status, body, text, headers }
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
        let r = self.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", foo_crd()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = self.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com").await;
        assert!(r.text.contains("\"Established\""), "{}", r.text);
    }

    /// Creates a Foo in `default`.
    pub async fn create_foo(&self, name: &str, replicas: i64) -> Reply {
        self.post(FOOS, foo(name, replicas)).await
    }
}

/// Collection path of the test kind in `default`.
pub const FOOS: &str = "/apis/example.com/v1/namespaces/default/foos";

/// A Foo object.
pub fn foo(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": name}, "spec": {"replicas": replicas, "image": "nginx"}})
}

/// The test CRD: namespaced Foo with a status subresource, printer columns and a schema with
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
                "subresources": {"status": {}},
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
