//! Issue 6 acceptance (simulated bitcoind): a plain HTTP JSON-RPC client (raw bytes over TCP,
//! the request shape Bitcoin Core documents for curl) drives the simulated nodes that run in
//! StatefulSet pods, with credentials from a Secret.

mod common;

use common::eventually;
use devserver::DevServer;
use devserver::sim::{self, SimOptions};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one HTTP/1.1 request with raw bytes and returns (status, body text); Err when the
/// connection is refused (no server).
async fn http(
    addr: SocketAddr,
    method: &str,
    auth: Option<(&str, &str)>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    use base64::Engine;
    let mut tcp = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await??;
    let mut req = format!(
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some((u, p)) = auth {
        req.push_str(&format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    tcp.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut raw)).await??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-from-the-secret";

/// A JSON-RPC call with the right credentials; returns (HTTP status, parsed reply).
async fn rpc(addr: SocketAddr, method: &str, params: Value) -> (u16, Value) {
    let body = json!({"jsonrpc": "1.0", "id": "t", "method": method, "params": params}).to_string();
    let (status, text) = http(addr, "POST", Some((USER, PASSWORD)), &body).await.expect("rpc reachable");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("reply is JSON ({e}): {text:?}")))
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

struct Env {
    server: devserver::DevServerHandle,
    sim: sim::SimHandle,
    client: kube::Client,
}

impl Env {
    async fn start() -> Env {
        let server = DevServer::builder().start().await.expect("server");
        let client = server.client().expect("client");
        let sim =
            sim::start(client.clone(), SimOptions { ready_delay: Duration::from_millis(50), ..SimOptions::default() })
                .await
                .expect("sim");
        Env { server, sim, client }
    }

    /// The bitcoin-controller's shape: a Secret and a StatefulSet of bitcoind pods with envFrom.
    async fn bitcoin_network(&self, name: &str, replicas: i32) -> Vec<SocketAddr> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), "default");
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("{name}-secret")},
            "data": {"BC_RPC_USER": b64(USER), "BC_RPC_PASSWORD": b64(PASSWORD)}
        }))
        .expect("secret");
        secrets.create(&PostParams::default(), &secret).await.expect("secret");
        let sts: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": format!("{name}-svc"),
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{
                    "name": format!("{name}-ctr"), "image": "christianb93/bitcoind:v1.0",
                    "envFrom": [{"secretRef": {"name": format!("{name}-secret"), "optional": true}}]}]}}}
        }))
        .expect("sts");
        Api::<StatefulSet>::namespaced(self.client.clone(), "default")
            .create(&PostParams::default(), &sts)
            .await
            .expect("sts");
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        eventually(10, "all bitcoind pods Ready with RPC servers", || {
            let pods = pods.clone();
            async move {
                let list = pods.list(&ListParams::default().labels(&format!("app={name}"))).await.ok()?;
                if list.items.len() != replicas as usize || !list.items.iter().all(is_ready) {
                    return None;
                }
                (0..replicas).map(|i| self.sim.rpc_addr("default", &format!("{name}-{i}"))).collect::<Option<Vec<_>>>()
            }
        })
        .await
    }

    async fn stop(self) {
        self.sim.shutdown().await;
        self.server.shutdown().await;
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn addnode_shows_the_peer_and_errors_match_bitcoin_core() {
    let env = Env::start().await;
    let addrs = env.bitcoin_network("btc", 3).await;
    // Each node on its pod's IP and the default regtest RPC port.
    for (i, a) in addrs.iter().enumerate() {
        assert_eq!(Some(a.ip()), env.sim.pod_ip("default", &format!("btc-{i}")));
        assert_eq!(a.port(), 18443);
    }
    let (n0, n1) = (addrs[0], addrs[1]);
    let ip1 = n1.ip().to_string();

    // The exact bytes of Bitcoin Core's curl example.
    let body = format!(r#"{{"jsonrpc":"1.0","id":"t","method":"addnode","params":["{ip1}","add"]}}"#);
    let (status, text) = http(n0, "POST", Some((USER, PASSWORD)), &body).await.expect("rpc");
    assert_eq!(status, 200);
    let reply: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(reply, json!({"result": null, "error": null, "id": "t"}));

    let (status, info) = rpc(n0, "getaddednodeinfo", json!([])).await;
    assert_eq!(status, 200);
    assert_eq!(
        info["result"],
        json!([{"addednode": ip1, "connected": true, "addresses": [{"address": format!("{ip1}:18444"), "connected": "outbound"}]}])
    );
    let (_, peers) = rpc(n0, "getpeerinfo", json!([])).await;
    let peers = peers["result"].as_array().expect("array").clone();
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(
        (peers[0]["addr"].as_str(), peers[0]["inbound"].as_bool()),
        (Some(format!("{ip1}:18444").as_str()), Some(false))
    );
    // The other side sees an inbound connection from node 0; node 2 sees nobody.
    let (_, peers1) = rpc(n1, "getpeerinfo", json!([])).await;
    assert_eq!(peers1["result"].as_array().map(Vec::len), Some(1));
    assert_eq!(peers1["result"][0]["inbound"], true);
    assert!(peers1["result"][0]["addr"].as_str().expect("addr").starts_with(&format!("{}:", n0.ip())));
    let (_, peers2) = rpc(addrs[2], "getpeerinfo", json!([])).await;
    assert_eq!(peers2["result"], json!([]));
    let (_, net) = rpc(n0, "getnetworkinfo", json!([])).await;
    assert_eq!((net["result"]["connections"].as_u64(), net["result"]["connections_out"].as_u64()), (Some(1), Some(1)));

    // Second add: -23, HTTP 500 as Bitcoin Core.
    let (status, again) = rpc(n0, "addnode", json!([ip1, "add"])).await;
    assert_eq!(status, 500);
    assert_eq!(again["error"], json!({"code": -23, "message": "Error: Node already added"}));
    // Removing a node never added: -24.
    let (status, unknown) = rpc(n0, "addnode", json!(["10.9.8.7", "remove"])).await;
    assert_eq!(status, 500);
    assert_eq!(
        unknown["error"],
        json!({"code": -24, "message": "Error: Node could not be removed. It has not been added previously."})
    );
    assert_eq!(unknown["result"], Value::Null);
    // An added address that resolves to no simulated node is listed but not connected.
    rpc(n0, "addnode", json!(["10.9.8.7:18444", "add"])).await;
    let (_, info) = rpc(n0, "getaddednodeinfo", json!([])).await;
    assert_eq!(info["result"][1], json!({"addednode": "10.9.8.7:18444", "connected": false, "addresses": []}));
    // remove works and the peer goes away.
    let (status, removed) = rpc(n0, "addnode", json!([ip1, "remove"])).await;
    assert_eq!((status, &removed["error"]), (200, &Value::Null));
    let (_, peers) = rpc(n0, "getpeerinfo", json!([])).await;
    assert_eq!(peers["result"], json!([]));
    // A pod DNS name resolves too (hostname.subdomain.namespace.svc.cluster.local).
    rpc(n0, "addnode", json!(["btc-2.btc-svc.default.svc.cluster.local", "add"])).await;
    let (_, info) = rpc(n0, "getaddednodeinfo", json!(["btc-2.btc-svc.default.svc.cluster.local"])).await;
    assert_eq!(info["result"][0]["connected"], true);

    // Other methods and protocol errors.
    let (_, chain) = rpc(n0, "getblockchaininfo", json!([])).await;
    assert_eq!(chain["result"]["chain"], "regtest");
    let (status, missing) = rpc(n0, "getbalance", json!([])).await;
    assert_eq!((status, &missing["error"]), (404, &json!({"code": -32601, "message": "Method not found"})));
    let (status, text) = http(n0, "POST", Some((USER, PASSWORD)), "{\"jsonrpc\":\"1.0\",").await.expect("rpc");
    assert_eq!(status, 500);
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json")["error"]["code"], -32700);

    // Bad credentials: 401 with an empty body, like Bitcoin Core.
    let (status, text) = http(n0, "POST", Some((USER, "wrong")), &body).await.expect("rpc");
    assert_eq!((status, text.as_str()), (401, ""));
    let (status, _) = http(n0, "POST", None, &body).await.expect("rpc");
    assert_eq!(status, 401);
    let (status, _) = http(n0, "POST", Some(("user", "password")), &body).await.expect("rpc");
    assert_eq!(status, 401, "the image defaults do not apply when the Secret sets credentials");
    let (status, _) = http(n0, "GET", Some((USER, PASSWORD)), "").await.expect("rpc");
    assert_eq!(status, 405);
    env.stop().await;
}

#[tokio::test]
async fn kill_and_restart_node() {
    let env = Env::start().await;
    let addrs = env.bitcoin_network("crash", 2).await;
    let (n0, n1) = (addrs[0], addrs[1]);
    rpc(n0, "addnode", json!([n1.ip().to_string(), "add"])).await;
    rpc(n1, "addnode", json!([n0.ip().to_string(), "add"])).await;
    let (_, peers) = rpc(n0, "getpeerinfo", json!([])).await;
    assert_eq!(peers["result"].as_array().map(Vec::len), Some(2), "outbound and inbound: {peers}");

    env.sim.kill_node("default", "crash-1").await;
    assert_eq!(env.sim.rpc_addr("default", "crash-1"), None);
    assert!(http(n1, "POST", Some((USER, PASSWORD)), "{}").await.is_err(), "port closed after kill");
    let (_, info) = rpc(n0, "getaddednodeinfo", json!([])).await;
    assert_eq!(info["result"][0]["connected"], false);
    let (_, peers) = rpc(n0, "getpeerinfo", json!([])).await;
    assert_eq!(peers["result"], json!([]));
    // The readiness probe fails while it is down.
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    eventually(5, "crash-1 not Ready", || {
        let pods = pods.clone();
        async move { pods.get("crash-1").await.ok().filter(|p| !is_ready(p)).map(|_| ()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.sim.rpc_addr("default", "crash-1"), None, "the simulation does not restart it by itself");

    env.sim.restart_node("default", "crash-1").await;
    assert_eq!(env.sim.rpc_addr("default", "crash-1"), Some(n1), "same address after restart");
    let (_, info) = rpc(n1, "getaddednodeinfo", json!([])).await;
    assert_eq!(info["result"], json!([]), "restarted with empty state");
    let (_, info) = rpc(n0, "getaddednodeinfo", json!([])).await;
    assert_eq!(info["result"][0]["connected"], true, "node 0 reaches it again");
    let pod = eventually(5, "crash-1 Ready again", || {
        let pods = pods.clone();
        async move { pods.get("crash-1").await.ok().filter(is_ready) }
    })
    .await;
    let restarts = pod.status.and_then(|s| s.container_statuses).map(|cs| cs[0].restart_count);
    assert_eq!(restarts, Some(1));

    // The RPC server stops when its pod goes away; the StatefulSet's replacement pod runs a new
    // bitcoind, which starts without the old one's added node.
    let (_, before) = rpc(n0, "getaddednodeinfo", json!([])).await;
    assert_eq!(before["result"].as_array().map(Vec::len), Some(1));
    let old_uid = pods.get("crash-0").await.expect("pod").metadata.uid;
    pods.delete("crash-0", &DeleteParams::default()).await.expect("delete");
    eventually(5, "a new bitcoind for crash-0", || async {
        let pod = pods.get_opt("crash-0").await.ok()??;
        let addr = env.sim.rpc_addr("default", "crash-0")?;
        let body = r#"{"jsonrpc":"1.0","id":"t","method":"getaddednodeinfo","params":[]}"#;
        let (_, text) = http(addr, "POST", Some((USER, PASSWORD)), body).await.ok()?;
        let reply: Value = serde_json::from_str(&text).ok()?;
        (pod.metadata.uid != old_uid && reply["result"] == json!([])).then_some(())
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn credentials_ports_and_markers_come_from_the_pod_spec() {
    let env = Env::start().await;
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let pod = |name: &str, container: Value, annotations: Value| -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": name, "annotations": annotations}, "spec": {"containers": [container]}}),
        )
        .expect("pod")
    };
    // secretKeyRef to a Secret that does not exist yet: the node cannot start.
    let keyref = |key: &str| json!({"valueFrom": {"secretKeyRef": {"name": "late", "key": key}}});
    let mut env_vars = vec![keyref("u"), keyref("p")];
    env_vars[0]["name"] = json!("BC_RPC_USER");
    env_vars[1]["name"] = json!("BC_RPC_PASSWORD");
    pods.create(
        &PostParams::default(),
        &pod(
            "keyref",
            json!({"name": "b", "image": "example/node", "command": ["bitcoind", "-regtest"], "env": env_vars,
            "ports": [{"name": "p2p", "containerPort": 18444}, {"name": "rpc", "containerPort": 18332}]}),
            json!({}),
        ),
    )
    .await
    .expect("pod");
    // Literal env values, a marker annotation, and the first containerPort.
    pods.create(
        &PostParams::default(),
        &pod(
            "literal",
            json!({"name": "c", "image": "example/custom", "ports": [{"containerPort": 8332}],
            "env": [{"name": "BC_RPC_USER", "value": "lit"}, {"name": "BC_RPC_PASSWORD", "value": "eral"}]}),
            json!({"devserver.sim/bitcoind": "true"}),
        ),
    )
    .await
    .expect("pod");
    // No credentials at all: the image defaults.
    pods.create(&PostParams::default(), &pod("defaults", json!({"name": "d", "image": "bitcoind"}), json!({})))
        .await
        .expect("pod");
    // Not bitcoind: no RPC server.
    pods.create(&PostParams::default(), &pod("web", json!({"name": "w", "image": "nginx"}), json!({})))
        .await
        .expect("pod");

    let literal = eventually(5, "literal node up", || async { env.sim.rpc_addr("default", "literal") }).await;
    assert_eq!(literal.port(), 8332);
    let body = r#"{"jsonrpc":"1.0","id":1,"method":"getnetworkinfo","params":[]}"#;
    assert_eq!(http(literal, "POST", Some(("lit", "eral")), body).await.expect("rpc").0, 200);
    assert_eq!(http(literal, "POST", Some((USER, PASSWORD)), body).await.expect("rpc").0, 401);
    let defaults = eventually(5, "defaults node up", || async { env.sim.rpc_addr("default", "defaults") }).await;
    assert_eq!(defaults.port(), 18443);
    assert_eq!(http(defaults, "POST", Some(("user", "password")), body).await.expect("rpc").0, 200);
    eventually(5, "web pod Ready", || async { pods.get("web").await.ok().filter(is_ready).map(|_| ()) }).await;
    assert_eq!(env.sim.rpc_addr("default", "web"), None);
    assert!(env.sim.pod_ip("default", "web").is_some());

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.sim.rpc_addr("default", "keyref"), None, "a missing Secret keeps the container from starting");
    let waiting = pods.get("keyref").await.expect("pod");
    assert_eq!(waiting.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"));
    assert!(!is_ready(&waiting), "its readiness probe (an RPC call) cannot pass");
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "late"}, "stringData": {"u": "late-user", "p": "late-pw"}}))
            .expect("secret");
    Api::<Secret>::namespaced(env.client.clone(), "default")
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret");
    let keyref =
        eventually(5, "keyref node up once the Secret exists", || async { env.sim.rpc_addr("default", "keyref") })
            .await;
    assert_eq!(keyref.port(), 18332, "the port named rpc");
    assert_eq!(http(keyref, "POST", Some(("late-user", "late-pw")), body).await.expect("rpc").0, 200);
    eventually(5, "keyref Ready once bitcoind serves", || async { pods.get("keyref").await.ok().filter(is_ready) })
        .await;
    env.stop().await;
}

#[tokio::test]
async fn garbage_requests_get_errors_and_the_node_keeps_serving() {
    let env = Env::start().await;
    let addrs = env.bitcoin_network("junk", 1).await;
    let n = addrs[0];
    let bodies: &[(&str, u16, Option<i64>)] = &[
        ("", 500, Some(-32700)),
        ("null", 500, Some(-32700)),
        ("42", 500, Some(-32700)),
        ("\"getnetworkinfo\"", 500, Some(-32700)),
        ("{}", 400, Some(-32600)),
        (r#"{"method":null}"#, 400, Some(-32600)),
        (r#"{"method":"addnode","params":"x"}"#, 400, Some(-32600)),
        (r#"{"method":"addnode","params":[]}"#, 500, Some(-1)),
        (r#"{"method":"addnode","params":["a","add","extra"]}"#, 500, Some(-1)),
        (r#"{"method":"addnode","params":{"bogus":1}}"#, 500, Some(-8)),
        (r#"{"method":"getnetworkinfo","params":[1]}"#, 500, Some(-1)),
        (r#"{"method":"getaddednodeinfo","params":["never-added"]}"#, 500, Some(-24)),
        (r#"{"method":"getaddednodeinfo","params":[[]]}"#, 500, Some(-3)),
        ("[]", 200, None),
        ("[1,2]", 200, None),
    ];
    for (body, status, code) in bodies {
        let (got, text) = http(n, "POST", Some((USER, PASSWORD)), body).await.expect("rpc");
        assert_eq!(got, *status, "{body}: {text}");
        if let Some(code) = code {
            let reply: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{body}: {e}: {text}"));
            assert_eq!(reply["error"]["code"].as_i64(), Some(*code), "{body}: {text}");
        }
    }
    // Invalid UTF-8 and raw non-HTTP bytes on the socket.
    let mut bytes = vec![0xff, 0xfe, 0x00];
    bytes.extend_from_slice(b"{]");
    let (got, _) = http(n, "POST", Some((USER, PASSWORD)), &String::from_utf8_lossy(&bytes)).await.expect("rpc");
    assert_eq!(got, 500);
    {
        use tokio::io::AsyncWriteExt;
        let mut tcp = tokio::net::TcpStream::connect(n).await.expect("connect");
        tcp.write_all(b"\x16\x03\x01 not http at all\r\n\r\n").await.expect("write");
    }
    let (status, ok) = rpc(n, "getnetworkinfo", json!([])).await;
    assert_eq!(status, 200);
    assert!(ok["result"]["subversion"].as_str().is_some_and(|s| s.contains("devserver-sim")));
    env.stop().await;
}
