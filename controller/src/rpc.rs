//! A small bitcoind JSON-RPC 1.0 client (HTTP POST + Basic auth).
//!
//! It fixes the Go reference's client: every call has a timeout, the reply body is always
//! consumed (and bounded), and the HTTP status is checked before the body is decoded, so a
//! wrong password is reported as [`RpcError::Unauthorized`] instead of a JSON decode error.

use crate::secret::Credentials;
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// bitcoind's `RPC_CLIENT_NODE_ALREADY_ADDED`: `addnode add` for a peer already in the list.
pub const ERR_NODE_ALREADY_ADDED: i64 = -23;
/// bitcoind's `RPC_CLIENT_NODE_NOT_ADDED`: `addnode remove` for a peer not in the list.
pub const ERR_NODE_NOT_ADDED: i64 = -24;

/// Largest reply accepted, so a misbehaving endpoint cannot exhaust memory.
const MAX_REPLY_BYTES: usize = 4 << 20;

/// Why an RPC call failed; each variant is a message an operator can act on.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum RpcError {
    /// No reply within the client's timeout.
    #[error("no reply from {addr} within {}s", timeout.as_secs_f64())]
    Timeout {
        /// The node called.
        addr: SocketAddr,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The connection failed (refused, reset, ...).
    #[error("cannot reach {addr}: {message}")]
    Transport {
        /// The node called.
        addr: SocketAddr,
        /// What the HTTP stack said.
        message: String,
    },
    /// HTTP 401: the credentials from the Secret do not match the node's.
    #[error("{addr} rejected the RPC credentials (HTTP 401); check the network's Secret")]
    Unauthorized {
        /// The node called.
        addr: SocketAddr,
    },
    /// HTTP 403: bitcoind refuses RPC from the caller's address (its `-rpcallowip`), whatever the
    /// credentials.
    #[error("{addr} refused RPC from this controller's address (HTTP 403, bitcoind's rpcallowip)")]
    Forbidden {
        /// The node called.
        addr: SocketAddr,
    },
    /// A non-success HTTP status without a JSON-RPC error in the body.
    #[error("{addr} answered HTTP {status}: {body}")]
    Http {
        /// The node called.
        addr: SocketAddr,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The reply was not a JSON-RPC reply of the expected shape.
    #[error("bad reply from {addr}: {message}")]
    Decode {
        /// The node called.
        addr: SocketAddr,
        /// What was wrong.
        message: String,
    },
    /// bitcoind answered with a JSON-RPC error.
    #[error("RPC error {code} from {addr}: {message}")]
    Rpc {
        /// The node called.
        addr: SocketAddr,
        /// bitcoind's error code (e.g. [`ERR_NODE_ALREADY_ADDED`]).
        code: i64,
        /// bitcoind's message.
        message: String,
    },
}

impl RpcError {
    /// The JSON-RPC error code, when bitcoind sent one.
    pub fn code(&self) -> Option<i64> {
        match self {
            RpcError::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A short label for metrics (`timeout`, `transport`, `unauthorized`, `forbidden`, `http`,
    /// `decode`, `rpc`).
    pub fn kind(&self) -> &'static str {
        match self {
            RpcError::Timeout { .. } => "timeout",
            RpcError::Transport { .. } => "transport",
            RpcError::Unauthorized { .. } => "unauthorized",
            RpcError::Forbidden { .. } => "forbidden",
            RpcError::Http { .. } => "http",
            RpcError::Decode { .. } => "decode",
            RpcError::Rpc { .. } => "rpc",
        }
    }
}

/// `addnode`'s command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeCommand {
    /// `addnode <peer> add`.
    Add,
    /// `addnode <peer> remove`.
    Remove,
}

/// One entry of `getaddednodeinfo`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AddedNode {
    /// The address given to `addnode`.
    pub addednode: String,
    /// Whether a connection to it is open.
    #[serde(default)]
    pub connected: bool,
}

/// A reply whose `result` is decoded as `T` (its other fields, such as each added node's
/// `addresses`, are skipped without being built).
#[derive(Deserialize)]
struct TypedReply<T> {
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    error: Option<RpcErrorBody>,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<RpcErrorBody>,
}

#[derive(Deserialize)]
struct RpcErrorBody {
    code: i64,
    #[serde(default)]
    message: String,
}

/// A pooled HTTP client for bitcoind JSON-RPC; cheap to clone.
#[derive(Clone, Debug)]
pub struct RpcClient {
    http: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    calls: Counter,
}

impl RpcClient {
    /// A client whose calls (connect + request + reply) give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
        Self { http, timeout, calls: Counter::default() }
    }

    /// Counts every call in `calls` (the `bitcoin_controller_rpc_calls_total` metric).
    pub fn counting(mut self, calls: Counter) -> Self {
        self.calls = calls;
        self
    }

    /// Calls `method` with `params` on the node at `addr` and returns the `result`.
    pub async fn call(
        &self,
        addr: SocketAddr,
        creds: &Credentials,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Value, RpcError> {
        self.call_typed(addr, creds, method, params).await
    }

    /// [`RpcClient::call`], decoding the `result` straight into `T` (no intermediate `Value`:
    /// a 1,000-node `getaddednodeinfo` is about 100 KB, read on every mesh check).
    async fn call_typed<T: serde::de::DeserializeOwned + Default>(
        &self,
        addr: SocketAddr,
        creds: &Credentials,
        method: &str,
        params: Vec<Value>,
    ) -> Result<T, RpcError> {
        let body = json!({"jsonrpc": "1.0", "id": "bitcoin-controller", "method": method, "params": params});
        let (status, bytes) = self.post(addr, creds, &body).await?;
        // bitcoind sends JSON-RPC errors with HTTP 404/500 and a JSON body: prefer that.
        let parsed = serde_json::from_slice::<TypedReply<T>>(&bytes);
        if let Ok(TypedReply { error: Some(e), .. }) = parsed {
            return Err(RpcError::Rpc { addr, code: e.code, message: e.message });
        }
        if !status.is_success() {
            return Err(RpcError::Http {
                addr,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            });
        }
        match parsed {
            Ok(TypedReply { result: Some(r), .. }) => Ok(r),
            Ok(TypedReply { result: None, .. }) => Ok(T::default()),
            Err(e) => Err(RpcError::Decode { addr, message: format!("{method}: {e}") }),
        }
    }

    /// Calls every `(method, params)` in one HTTP request (a JSON-RPC batch, which bitcoind
    /// answers with one reply per call, matched here by id): one round trip instead of one per
    /// call. The outer error is the request's; the inner ones are each call's.
    pub async fn batch(
        &self,
        addr: SocketAddr,
        creds: &Credentials,
        calls: &[(&str, Vec<Value>)],
    ) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
        if calls.is_empty() {
            return Ok(vec![]);
        }
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, (method, params))| json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params}))
            .collect();
        let (status, bytes) = self.post(addr, creds, &Value::Array(body)).await?;
        let replies: Vec<Reply> = serde_json::from_slice(&bytes).map_err(|e| {
            let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            if status.is_success() {
                RpcError::Decode { addr, message: format!("batch reply: {e}") }
            } else {
                RpcError::Http { addr, status: status.as_u16(), body: shown }
            }
        })?;
        let mut out: Vec<Option<Result<Value, RpcError>>> = vec![None; calls.len()];
        for r in replies {
            let Some(slot) = r.id.as_u64().and_then(|i| out.get_mut(usize::try_from(i).ok()?)) else { continue };
            *slot = Some(match r.error {
                Some(e) => Err(RpcError::Rpc { addr, code: e.code, message: e.message }),
                None => Ok(r.result),
            });
        }
        Ok(out
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(RpcError::Decode { addr, message: "no reply for a call of the batch".into() }))
            })
            .collect())
    }

    /// One POST with the client's timeout; 401 and 403 are errors of their own, the body is read
    /// (bounded) whatever the status.
    async fn post(
        &self,
        addr: SocketAddr,
        creds: &Credentials,
        body: &Value,
    ) -> Result<(http::StatusCode, Bytes), RpcError> {
        self.calls.inc();
        match tokio::time::timeout(self.timeout, self.post_inner(addr, creds, body)).await {
            Ok(r) => r,
            Err(_) => Err(RpcError::Timeout { addr, timeout: self.timeout }),
        }
    }

    async fn post_inner(
        &self,
        addr: SocketAddr,
        creds: &Credentials,
        body: &Value,
    ) -> Result<(http::StatusCode, Bytes), RpcError> {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", creds.user, creds.password()));
        let request = http::Request::post(format!("http://{addr}/"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::AUTHORIZATION, format!("Basic {auth}"))
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| RpcError::Transport { addr, message: e.to_string() })?;
        let response =
            self.http.request(request).await.map_err(|e| RpcError::Transport { addr, message: error_chain(&e) })?;
        let status = response.status();
        // Always read (and so release) the body, bounded.
        let bytes = Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|e| RpcError::Transport { addr, message: format!("reading the reply: {e}") })?
            .to_bytes();
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(RpcError::Unauthorized { addr });
        }
        if status == http::StatusCode::FORBIDDEN {
            return Err(RpcError::Forbidden { addr });
        }
        Ok((status, bytes))
    }

    /// `getaddednodeinfo`: the peers this node was told to connect to.
    pub async fn get_added_nodes(&self, addr: SocketAddr, creds: &Credentials) -> Result<Vec<AddedNode>, RpcError> {
        self.call_typed(addr, creds, "getaddednodeinfo", vec![]).await
    }

    /// `addnode <peer> add|remove` for every peer, in one batch; per peer, a peer already added
    /// (when adding) or not added (when removing) is not an error.
    pub async fn add_or_remove_nodes(
        &self,
        addr: SocketAddr,
        creds: &Credentials,
        peers: &[String],
        command: NodeCommand,
    ) -> Result<Vec<(String, Result<(), RpcError>)>, RpcError> {
        let (word, benign) = match command {
            NodeCommand::Add => ("add", ERR_NODE_ALREADY_ADDED),
            NodeCommand::Remove => ("remove", ERR_NODE_NOT_ADDED),
        };
        let calls: Vec<(&str, Vec<Value>)> = peers.iter().map(|p| ("addnode", vec![json!(p), json!(word)])).collect();
        let results = self.batch(addr, creds, &calls).await?;
        Ok(peers
            .iter()
            .cloned()
            .zip(results)
            .map(|(p, r)| match r {
                Err(e) if e.code() == Some(benign) => (p, Ok(())),
                other => (p, other.map(drop)),
            })
            .collect())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A tiny HTTP server answering each request with `reply(request_text)` -> (status, body).
    async fn server(
        reply: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
    ) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let reply = Arc::new(reply);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let reply = reply.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(head_end) = text.find("\r\n\r\n") {
                            let len = text[..head_end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                                })
                                .and_then(|v| v.parse::<usize>().ok())
                                .unwrap_or(0);
                            if buf.len() >= head_end + 4 + len {
                                seen.lock().unwrap().push(text.clone());
                                let (status, body) = reply(&text);
                                if status == 0 {
                                    return; // hang up without answering
                                }
                                let resp = format!(
                                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                                    body.len()
                                );
                                let _ = sock.write_all(resp.as_bytes()).await;
                                buf.clear();
                            }
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    fn creds() -> Credentials {
        Credentials::new("alice", "s3cret")
    }

    #[tokio::test]
    async fn sends_basic_auth_and_json_rpc_body() {
        let (addr, seen) =
            server(|_| (200, r#"{"result":[{"addednode":"10.0.0.2","connected":true}],"error":null,"id":"x"}"#.into()))
                .await;
        let c = RpcClient::new(Duration::from_secs(2));
        let nodes = c.get_added_nodes(addr, &creds()).await.unwrap();
        assert_eq!(nodes, vec![AddedNode { addednode: "10.0.0.2".into(), connected: true }]);
        let req = seen.lock().unwrap()[0].clone();
        assert!(req.starts_with("POST / HTTP/1.1"), "{req}");
        // base64("alice:s3cret")
        assert!(req.contains("authorization: Basic YWxpY2U6czNjcmV0"), "{req}");
        assert!(req.contains(r#""method":"getaddednodeinfo""#), "{req}");
    }

    #[tokio::test]
    async fn tolerates_already_added_and_not_added() {
        let (addr, _) = server(|req| {
            let (code, message) =
                if req.contains(r#""add""#) { (-23, "Node already added") } else { (-24, "Node has not been added.") };
            (200, format!(r#"[{{"result":null,"error":{{"code":{code},"message":"Error: {message}"}},"id":0}}]"#))
        })
        .await;
        let c = RpcClient::new(Duration::from_secs(2));
        let peers = ["10.0.0.3".to_string()];
        for command in [NodeCommand::Add, NodeCommand::Remove] {
            let results = c.add_or_remove_nodes(addr, &creds(), &peers, command).await.unwrap();
            assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
        }
    }

    #[tokio::test]
    async fn other_rpc_errors_carry_code_and_message() {
        let (addr, _) = server(|_| {
            (404, r#"{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":"x"}"#.into())
        })
        .await;
        let c = RpcClient::new(Duration::from_secs(2));
        let err = c.call(addr, &creds(), "addnode", vec![json!("10.0.0.3"), json!("add")]).await.unwrap_err();
        assert_eq!(err.code(), Some(-32601));
        assert!(err.to_string().contains("Method not found"), "{err}");
    }

    #[tokio::test]
    async fn unauthorized_is_a_clear_error_not_a_decode_error() {
        let (addr, _) = server(|_| (401, String::new())).await;
        let c = RpcClient::new(Duration::from_secs(2));
        let err = c.get_added_nodes(addr, &creds()).await.unwrap_err();
        assert!(matches!(err, RpcError::Unauthorized { .. }), "{err:?}");
        assert!(err.to_string().contains("credentials"));
        assert!(!err.to_string().contains("s3cret"));
    }

    #[tokio::test]
    async fn a_batch_is_one_request_and_replies_are_matched_by_id() {
        // Replies out of order, one call failing with -23 (benign for add), one with -1, and one
        // missing.
        let (addr, seen) = server(|_| {
            let body = r#"[{"id":2,"result":null,"error":{"code":-1,"message":"boom"}},
                           {"id":0,"result":null,"error":null},
                           {"id":1,"result":null,"error":{"code":-23,"message":"Node already added"}}]"#;
            (200, body.to_string())
        })
        .await;
        let counter = Counter::default();
        let c = RpcClient::new(Duration::from_secs(2)).counting(counter.clone());
        let peers: Vec<String> = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map(String::from).to_vec();
        let results = c.add_or_remove_nodes(addr, &creds(), &peers, NodeCommand::Add).await.unwrap();
        assert_eq!(counter.get(), 1, "one HTTP request for four calls");
        assert_eq!(seen.lock().unwrap().len(), 1);
        let request = seen.lock().unwrap()[0].clone();
        assert!(request.contains(r#""method":"addnode""#) && request.contains(r#""params":["10.0.0.4","add"]"#));
        assert_eq!(results[0], ("10.0.0.1".to_string(), Ok(())));
        assert_eq!(results[1], ("10.0.0.2".to_string(), Ok(())), "already added is fine");
        assert!(matches!(&results[2].1, Err(RpcError::Rpc { code: -1, .. })), "{results:?}");
        assert!(matches!(&results[3].1, Err(RpcError::Decode { .. })), "no reply: {results:?}");
    }

    #[tokio::test]
    async fn forbidden_is_told_apart_from_unauthorized() {
        let (addr, _) = server(|_| (403, String::new())).await;
        let c = RpcClient::new(Duration::from_secs(2));
        let err = c.get_added_nodes(addr, &creds()).await.unwrap_err();
        assert!(matches!(err, RpcError::Forbidden { .. }), "{err:?}");
        assert_eq!(err.kind(), "forbidden");
        assert!(err.to_string().contains("rpcallowip"), "{err}");
        assert!(!err.to_string().contains("credentials"), "{err}");
    }

    #[tokio::test]
    async fn http_errors_and_garbage_are_errors() {
        let (addr, _) = server(|_| (503, "busy".into())).await;
        let c = RpcClient::new(Duration::from_secs(2));
        let err = c.get_added_nodes(addr, &creds()).await.unwrap_err();
        assert!(matches!(err, RpcError::Http { status: 503, ref body, .. } if body == "busy"), "{err:?}");

        let (addr, _) = server(|_| (200, "not json".into())).await;
        let err = c.get_added_nodes(addr, &creds()).await.unwrap_err();
        assert!(matches!(err, RpcError::Decode { .. }), "{err:?}");

        let (addr, _) = server(|_| (200, r#"{"result":{"not":"a list"},"error":null}"#.into())).await;
        let err = c.get_added_nodes(addr, &creds()).await.unwrap_err();
        assert!(matches!(err, RpcError::Decode { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn times_out_and_reports_unreachable_nodes() {
        // Accepts but never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let mut socks = vec![];
            while let Ok((s, _)) = listener.accept().await {
                socks.push(s);
            }
        });
        let c = RpcClient::new(Duration::from_millis(200));
        let start = std::time::Instant::now();
        let err = c.get_added_nodes(addr, &creds()).await.unwrap_err();
        assert!(matches!(err, RpcError::Timeout { .. }), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(2));

        // Nothing listens here any more.
        let free = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let err = c.get_added_nodes(free, &creds()).await.unwrap_err();
        assert!(matches!(err, RpcError::Transport { .. }), "{err:?}");
    }
}
