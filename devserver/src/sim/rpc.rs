//! SIMULATION: the JSON-RPC server of a simulated bitcoind, speaking the subset of Bitcoin Core's
//! RPC a network operator uses.
//!
//! Transport as Bitcoin Core's `httprpc`: HTTP POST on any path, HTTP Basic auth; other methods
//! get 405 "JSONRPC server handles only POST requests"; missing or wrong credentials get 401 with
//! `WWW-Authenticate: Basic realm="jsonrpc"` and an empty body. Requests are JSON-RPC 1.0 objects
//! (`{"jsonrpc":"1.0","id":..,"method":..,"params":[..]}`; params may also be an object of named
//! parameters) or a batch (array). Replies are `{"result":..,"error":null|{"code","message"},"id":..}`
//! with the HTTP status Bitcoin Core uses for a single request: 200, 404 for -32601 (method not
//! found), 400 for -32600 (invalid request), 500 for any other error (parse error -32700,
//! addnode's -23 / -24, ...). A batch is always 200. Requests marked `"jsonrpc":"2.0"` get
//! Bitcoin Core 28's JSON-RPC 2.0 behaviour: one of result/error, always
//! HTTP 200, and no reply to a notification (no `id`: HTTP 204).
//!
//! Methods: `getnetworkinfo`, `getblockchaininfo` (chain `regtest`, the genesis block only),
//! `getpeerinfo`, `getaddednodeinfo ["node"]`, `addnode "node" "add|remove|onetry"`. Every reply
//! that carries a version string says `devserver-sim`.

use super::PodKey;
use super::lock;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, Weak};

/// RPC credentials (Basic auth).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// rpcuser
    pub user: String,
    /// rpcpassword
    pub password: String,
}

/// The mutable state of one simulated bitcoind process; lost when it crashes or restarts.
#[derive(Default, Debug)]
pub struct NodeState {
    /// `addnode add` list, in insertion order (a set: a 1,000-node mesh adds 999 peers per node,
    /// each checked against the list).
    pub added: indexmap::IndexSet<String>,
    /// `addnode onetry` targets (connections without an addnode entry).
    pub onetry: Vec<String>,
}

/// A peer connection as seen from one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The address as the node knows it (`ip:port`).
    pub addr: String,
    /// Whether the other side opened it.
    pub inbound: bool,
    /// `manual` (addnode add), `addr-fetch`-like one-shot (`onetry` shows as manual too), or
    /// `inbound`.
    pub connection_type: &'static str,
}

/// The regtest P2P port, used when an added address names no port.
pub const P2P_PORT: u16 = 18444;

/// The host of `host`, `host:port`, `ip:port` or `[v6]:port`.
pub(crate) fn host_part(addr: &str) -> &str {
    let addr = addr.trim();
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => addr,
    }
}

/// `addr` with the regtest P2P port when it names none.
pub(crate) fn with_port(addr: &str) -> String {
    let host = host_part(addr);
    if host.len() != addr.trim().len() {
        return addr.trim().to_string();
    }
    if host.contains(':') { format!("[{host}]:{P2P_PORT}") } else { format!("{host}:{P2P_PORT}") }
}

/// What the RPC methods ask of the simulated network (implemented by
/// [`super::bitcoind::Network`]): kept as a trait so the RPC server does not depend on the
/// simulation that runs it.
pub(crate) trait NetworkView: Send + Sync {
    /// For each address, whether it resolves, from `from`, to a node that is up.
    fn reachable(&self, from: &PodKey, addrs: &[String]) -> Vec<bool>;
    /// The connections of node `key`.
    fn peers(&self, key: &PodKey) -> Vec<Peer>;
}

/// What a node's RPC handler needs.
#[derive(Clone)]
pub(crate) struct NodeContext {
    pub key: PodKey,
    pub network: Weak<dyn NetworkView>,
    pub creds: Credentials,
    pub state: Arc<Mutex<NodeState>>,
}

/// Bitcoin Core's RPC error codes used here.
pub mod codes {
    /// Invalid request object (HTTP 400).
    pub const INVALID_REQUEST: i64 = -32600;
    /// Method not found (HTTP 404).
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Parse error (HTTP 500).
    pub const PARSE_ERROR: i64 = -32700;
    /// Misc error, also used for usage (help text) errors.
    pub const MISC_ERROR: i64 = -1;
    /// Unexpected type passed as parameter.
    pub const TYPE_ERROR: i64 = -3;
    /// Invalid, missing or duplicate parameter.
    pub const INVALID_PARAMETER: i64 = -8;
    /// Node is already added.
    pub const CLIENT_NODE_ALREADY_ADDED: i64 = -23;
    /// Node has not been added before.
    pub const CLIENT_NODE_NOT_ADDED: i64 = -24;
}

/// Protocol version reported by the simulated node (Bitcoin Core 27).
const PROTOCOL_VERSION: i64 = 70016;
const VERSION: i64 = 270000;
const SUBVERSION: &str = "/Satoshi:27.0.0(devserver-sim)/";
const REGTEST_GENESIS: &str = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";

type RpcResult = Result<Value, (i64, String)>;

/// Serves one node's RPC port until the task is aborted; aborting also drops every open
/// connection (the JoinSet), as a crashed process would.
pub(crate) async fn serve(listener: tokio::net::TcpListener, ctx: NodeContext) {
    let router = axum::Router::new().fallback(handle).with_state(ctx);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let router = router.clone();
                connections.spawn(async move {
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(
    axum::extract::State(ctx): axum::extract::State<NodeContext>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "JSONRPC server handles only POST requests").into_response();
    }
    if !authorized(&headers, &ctx.creds) {
        tracing::info!(pod = %ctx.key, "simulated bitcoind: RPC with wrong or missing credentials (401)");
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"jsonrpc\"")]).into_response();
    }
    match dispatch(&ctx, &body) {
        (status, Some(reply)) => {
            let mut text = reply.to_string();
            text.push('\n');
            (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
        }
        (status, None) => status.into_response(),
    }
}

fn authorized(headers: &HeaderMap, creds: &Credentials) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some(encoded) = value.strip_prefix("Basic ") else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
    let Ok(pair) = String::from_utf8(decoded) else { return false };
    pair.split_once(':').is_some_and(|(u, p)| u == creds.user && p == creds.password)
}

/// Parses a body and runs the request(s); returns the HTTP status and the reply (`None`: no
/// body, for a JSON-RPC 2.0 notification).
pub(crate) fn dispatch(ctx: &NodeContext, body: &[u8]) -> (StatusCode, Option<Value>) {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(reply(Value::Null, Err((codes::PARSE_ERROR, "Parse error".into())))),
            );
        }
    };
    match request {
        Value::Array(items) => {
            let replies: Vec<Value> = items.iter().filter_map(|item| single(ctx, item).1).collect();
            (StatusCode::OK, Some(Value::Array(replies)))
        }
        Value::Object(_) => single(ctx, &request),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(reply(Value::Null, Err((codes::PARSE_ERROR, "Top-level object parse error".into())))),
        ),
    }
}

fn reply(id: Value, result: RpcResult) -> Value {
    match result {
        Ok(v) => json!({"result": v, "error": null, "id": id}),
        Err((code, message)) => json!({"result": null, "error": {"code": code, "message": message}, "id": id}),
    }
}

/// One request object. JSON-RPC 1.0 (anything but `"jsonrpc":"2.0"`) replies with both result
/// and error and maps errors to HTTP statuses; 2.0 (Bitcoin Core 28+) replies with one of them,
/// always HTTP 200, and not at all to a notification (no `id`: HTTP 204, empty body).
fn single(ctx: &NodeContext, request: &Value) -> (StatusCode, Option<Value>) {
    let Some(obj) = request.as_object() else {
        return (
            StatusCode::BAD_REQUEST,
            Some(reply(Value::Null, Err((codes::INVALID_REQUEST, "Invalid Request object".into())))),
        );
    };
    let v2 = obj.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let result = match obj.get("method") {
        None => Err((codes::INVALID_REQUEST, "Missing method".into())),
        Some(Value::String(method)) => {
            let params = obj.get("params").cloned().unwrap_or(Value::Null);
            call(ctx, method, &params)
        }
        Some(_) => Err((codes::INVALID_REQUEST, "Method must be a string".into())),
    };
    if v2 {
        if !obj.contains_key("id") {
            return (StatusCode::NO_CONTENT, None);
        }
        let body = match result {
            Ok(v) => json!({"jsonrpc": "2.0", "result": v, "id": id}),
            Err((code, message)) => json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id}),
        };
        return (StatusCode::OK, Some(body));
    }
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err((codes::INVALID_REQUEST, _)) => StatusCode::BAD_REQUEST,
        Err((codes::METHOD_NOT_FOUND, _)) => StatusCode::NOT_FOUND,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Some(reply(id, result)))
}

/// Positional parameters, from an array or from named parameters in the method's order.
fn positional(params: &Value, names: &[&str]) -> Result<Vec<Value>, (i64, String)> {
    match params {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => Ok(a.clone()),
        Value::Object(o) => {
            if let Some(unknown) = o.keys().find(|k| !names.contains(&k.as_str())) {
                return Err((codes::INVALID_PARAMETER, format!("Unknown named parameter {unknown}")));
            }
            let mut out: Vec<Value> = names.iter().map(|n| o.get(*n).cloned().unwrap_or(Value::Null)).collect();
            while out.last().is_some_and(Value::is_null) {
                out.pop();
            }
            Ok(out)
        }
        _ => Err((codes::INVALID_REQUEST, "Params must be an array or object".into())),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn string_param(v: &Value) -> Result<String, (i64, String)> {
    v.as_str().map(str::to_string).ok_or_else(|| {
        (codes::TYPE_ERROR, format!("JSON value of type {} is not of expected type string", type_name(v)))
    })
}

fn usage(text: &str) -> (i64, String) {
    (codes::MISC_ERROR, text.to_string())
}

const ADDNODE_HELP: &str = "addnode \"node\" \"command\"\n\nAttempts to add or remove a node from the addnode list.\nOr try a connection to a node once.\n\nArguments:\n1. node       (string, required) The address of the peer to connect to\n2. command    (string, required) 'add' to add a node to the list, 'remove' to remove a node from the list, 'onetry' to try a connection to the node once\n";

fn call(ctx: &NodeContext, method: &str, params: &Value) -> RpcResult {
    let Some(network) = ctx.network.upgrade() else { return Err((codes::MISC_ERROR, "simulation stopped".into())) };
    match method {
        "getnetworkinfo" => {
            no_params(
                params,
                "getnetworkinfo\n\nReturns an object containing various state info regarding P2P networking.\n",
            )?;
            Ok(network_info(network.as_ref(), ctx))
        }
        "getblockchaininfo" => {
            no_params(
                params,
                "getblockchaininfo\n\nReturns an object containing various state info regarding blockchain processing.\n",
            )?;
            Ok(blockchain_info())
        }
        "getpeerinfo" => {
            no_params(
                params,
                "getpeerinfo\n\nReturns data about each connected network peer as a json array of objects.\n",
            )?;
            Ok(peer_info(network.as_ref(), ctx))
        }
        "getaddednodeinfo" => {
            let p = positional(params, &["node"])?;
            if p.len() > 1 {
                return Err(usage(
                    "getaddednodeinfo ( \"node\" )\n\nReturns information about the given added node, or all added nodes\n",
                ));
            }
            let only = match p.first() {
                None | Some(Value::Null) => None,
                Some(v) => Some(string_param(v)?),
            };
            added_node_info(network.as_ref(), ctx, only.as_deref())
        }
        "addnode" => {
            let p = positional(params, &["node", "command"])?;
            if p.len() != 2 {
                return Err(usage(ADDNODE_HELP));
            }
            let node = string_param(&p[0])?;
            let command = string_param(&p[1])?;
            addnode(ctx, &node, &command)
        }
        _ => Err((codes::METHOD_NOT_FOUND, "Method not found".into())),
    }
}

fn no_params(params: &Value, help: &str) -> Result<(), (i64, String)> {
    if positional(params, &[])?.is_empty() { Ok(()) } else { Err(usage(help)) }
}

fn addnode(ctx: &NodeContext, node: &str, command: &str) -> RpcResult {
    let mut state = lock(&ctx.state);
    match command {
        "add" => {
            if !state.added.insert(node.to_string()) {
                return Err((codes::CLIENT_NODE_ALREADY_ADDED, "Error: Node already added".into()));
            }
            tracing::info!(pod = %ctx.key, node, "simulated bitcoind: addnode add");
        }
        "remove" => {
            if !state.added.shift_remove(node) {
                return Err((
                    codes::CLIENT_NODE_NOT_ADDED,
                    "Error: Node could not be removed. It has not been added previously.".into(),
                ));
            }
            state.onetry.retain(|a| a != node);
            tracing::info!(pod = %ctx.key, node, "simulated bitcoind: addnode remove");
        }
        "onetry" => {
            if !state.onetry.iter().any(|a| a == node) {
                state.onetry.push(node.to_string());
            }
        }
        _ => return Err(usage(ADDNODE_HELP)),
    }
    Ok(Value::Null)
}

fn added_node_info(network: &dyn NetworkView, ctx: &NodeContext, only: Option<&str>) -> RpcResult {
    let added: Vec<String> = lock(&ctx.state).added.iter().cloned().collect();
    if let Some(node) = only
        && !added.iter().any(|a| a == node)
    {
        return Err((codes::CLIENT_NODE_NOT_ADDED, "Error: Node has not been added.".into()));
    }
    let shown: Vec<String> = added.into_iter().filter(|a| only.is_none_or(|o| o == a.as_str())).collect();
    let reachable = network.reachable(&ctx.key, &shown);
    let infos: Vec<Value> = shown
        .iter()
        .zip(reachable)
        .map(|(a, connected)| {
            let addresses: Vec<Value> =
                if connected { vec![json!({"address": with_port(a), "connected": "outbound"})] } else { Vec::new() };
            json!({"addednode": a, "connected": connected, "addresses": addresses})
        })
        .collect();
    Ok(Value::Array(infos))
}

fn peer_info(network: &dyn NetworkView, ctx: &NodeContext) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let peers: Vec<Value> = network
        .peers(&ctx.key)
        .into_iter()
        .enumerate()
        .map(|(id, p)| {
            json!({
                "id": id,
                "addr": p.addr,
                "network": if p.addr.starts_with('[') { "ipv6" } else { "ipv4" },
                "services": "0000000000000409",
                "servicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
                "relaytxes": true,
                "lastsend": now,
                "lastrecv": now,
                "bytessent": 0,
                "bytesrecv": 0,
                "conntime": now,
                "timeoffset": 0,
                "pingtime": 0.0001,
                "version": PROTOCOL_VERSION,
                "subver": SUBVERSION,
                "inbound": p.inbound,
                "connection_type": p.connection_type,
                "startingheight": 0,
                "synced_headers": 0,
                "synced_blocks": 0,
            })
        })
        .collect();
    Value::Array(peers)
}

fn network_info(network: &dyn NetworkView, ctx: &NodeContext) -> Value {
    let peers = network.peers(&ctx.key);
    let inbound = peers.iter().filter(|p| p.inbound).count();
    json!({
        "version": VERSION,
        "subversion": SUBVERSION,
        "protocolversion": PROTOCOL_VERSION,
        "localservices": "0000000000000409",
        "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
        "localrelay": true,
        "timeoffset": 0,
        "networkactive": true,
        "connections": peers.len(),
        "connections_in": inbound,
        "connections_out": peers.len() - inbound,
        "networks": [
            {"name": "ipv4", "limited": false, "reachable": true, "proxy": "", "proxy_randomize_credentials": false},
            {"name": "ipv6", "limited": false, "reachable": true, "proxy": "", "proxy_randomize_credentials": false},
        ],
        "relayfee": 0.00001,
        "incrementalfee": 0.00001,
        "localaddresses": [],
        "warnings": "This is a simulated node (devserver::sim), not Bitcoin Core",
    })
}

fn blockchain_info() -> Value {
    json!({
        "chain": "regtest",
        "blocks": 0,
        "headers": 0,
        "bestblockhash": REGTEST_GENESIS,
        "difficulty": 4.656542373906925e-10,
        "time": 1296688602,
        "mediantime": 1296688602,
        "verificationprogress": 1,
        "initialblockdownload": true,
        "chainwork": "0000000000000000000000000000000000000000000000000000000000000002",
        "size_on_disk": 293,
        "pruned": false,
        "warnings": "This is a simulated node (devserver::sim), not Bitcoin Core",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::bitcoind::Network;

    fn ctx() -> (Arc<dyn NetworkView>, NodeContext) {
        let network: Arc<dyn NetworkView> = Arc::new(Network::default());
        let ctx = NodeContext {
            key: PodKey::new("ns", "p"),
            network: Arc::downgrade(&network),
            creds: Credentials { user: "u".into(), password: "p".into() },
            state: Arc::default(),
        };
        (network, ctx)
    }

    fn run(ctx: &NodeContext, body: &str) -> (u16, Value) {
        let (s, v) = dispatch(ctx, body.as_bytes());
        (s.as_u16(), v.unwrap_or(Value::Null))
    }

    #[test]
    fn protocol_errors_and_addnode_rules() {
        let (_net, ctx) = ctx();
        let (s, v) = run(&ctx, "{not json");
        assert_eq!((s, v["error"]["code"].as_i64()), (500, Some(-32700)));
        assert_eq!(v["id"], Value::Null);
        let (s, v) = run(&ctx, r#"{"jsonrpc":"1.0","id":7,"method":"nope","params":[]}"#);
        assert_eq!((s, v["error"]["message"].as_str(), v["id"].as_i64()), (404, Some("Method not found"), Some(7)));
        let add = r#"{"jsonrpc":"1.0","id":"t","method":"addnode","params":["127.0.0.3","add"]}"#;
        let (s, v) = run(&ctx, add);
        assert_eq!((s, &v["result"], &v["error"]), (200, &Value::Null, &Value::Null));
        let (s, v) = run(&ctx, add);
        assert_eq!((s, v["error"]["code"].as_i64()), (500, Some(-23)));
        let (_, v) = run(&ctx, r#"{"id":1,"method":"addnode","params":{"node":"10.0.0.1","command":"remove"}}"#);
        assert_eq!(v["error"]["code"].as_i64(), Some(-24));
        let (_, v) = run(&ctx, r#"{"id":1,"method":"addnode","params":["x","frobnicate"]}"#);
        assert_eq!(v["error"]["code"].as_i64(), Some(-1));
        let (_, v) = run(&ctx, r#"{"id":1,"method":"addnode","params":[1,"add"]}"#);
        assert_eq!(v["error"]["code"].as_i64(), Some(-3));
        let (s, v) = run(&ctx, r#"[{"id":1,"method":"getaddednodeinfo"},{"id":2,"method":"nope"}]"#);
        assert_eq!(s, 200);
        assert_eq!(v[0]["result"][0]["addednode"], "127.0.0.3");
        assert_eq!(v[0]["result"][0]["connected"], false, "no simulated node at 127.0.0.3 in this network");
        assert_eq!(v[1]["error"]["code"].as_i64(), Some(-32601));
        let (s, v) = run(&ctx, r#"{"id":1,"method":7}"#);
        assert_eq!((s, v["error"]["code"].as_i64()), (400, Some(-32600)));
        // JSON-RPC 2.0: one of result/error, HTTP 200, notifications get no reply.
        let (s, v) = run(&ctx, r#"{"jsonrpc":"2.0","id":3,"method":"addnode","params":["127.0.0.3","add"]}"#);
        assert_eq!(
            (s, v),
            (200, json!({"jsonrpc": "2.0", "error": {"code": -23, "message": "Error: Node already added"}, "id": 3}))
        );
        let (s, v) = run(&ctx, r#"{"jsonrpc":"2.0","id":4,"method":"getblockchaininfo"}"#);
        assert_eq!((s, v["result"]["chain"].as_str(), v.get("error")), (200, Some("regtest"), None));
        let (s, v) = run(&ctx, r#"{"jsonrpc":"2.0","method":"addnode","params":["10.1.1.1","add"]}"#);
        assert_eq!((s, v), (204, Value::Null));
        let (_, v) = run(&ctx, r#"{"id":5,"method":"getaddednodeinfo","params":["10.1.1.1"]}"#);
        assert_eq!(v["result"][0]["addednode"], "10.1.1.1", "the notification was executed");
    }
}
