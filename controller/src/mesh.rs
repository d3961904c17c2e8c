//! The peer mesh: every ready node has every other ready node in its added-node list, and no
//! node that is gone. Checked on every reconcile (the Go reference only did it when the status
//! changed, so a restarted bitcoind was never re-joined).

use crate::rpc::{NodeCommand, RpcClient, RpcError};
use crate::secret::Credentials;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// Nodes checked at once by one mesh pass.
pub const MESH_CONCURRENCY: usize = 64;

/// A ready node the mesh includes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The pod name (for messages).
    pub name: String,
    /// The pod IP (the address given to `addnode`).
    pub ip: IpAddr,
}

/// What a mesh pass did.
#[derive(Debug, Default)]
pub struct MeshReport {
    /// `(node, peer)` pairs added.
    pub added: Vec<(String, String)>,
    /// `(node, peer)` pairs removed.
    pub removed: Vec<(String, String)>,
    /// Nodes whose RPC failed, with the error.
    pub errors: Vec<(String, RpcError)>,
}

impl MeshReport {
    /// True when every node answered and no change was needed or every change succeeded.
    pub fn complete(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Brings every peer's added-node list to "all other peers", concurrently per node.
///
/// Only addresses in `members` (every address the network's nodes had: the previous status and
/// the current pods) are removed when they are no longer ready peers; other entries (peers an
/// operator added by hand) are left alone.
pub async fn sync(
    rpc: &RpcClient,
    creds: &Credentials,
    port: u16,
    peers: &[Peer],
    members: &BTreeSet<String>,
) -> MeshReport {
    let wanted: BTreeSet<String> = peers.iter().map(|p| p.ip.to_string()).collect();
    let target = Target { rpc, creds, port, wanted: &wanted, members };
    let checks: Vec<_> =
        peers.iter().enumerate().map(|(i, node)| async move { (i, target.check(node).await) }).collect();
    // Bounded concurrency: a 1,000-node network is checked 64 nodes at a time, not with 1,000
    // sockets at once; results go back into node order, so notes stay stable.
    let mut results: Vec<_> = futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
        futures::stream::iter(checks),
        MESH_CONCURRENCY,
    ))
    .await;
    results.sort_by_key(|(i, _)| *i);
    let results = results.into_iter().map(|(_, r)| r);
    let mut report = MeshReport::default();
    for (name, added, removed, err) in results {
        report.added.extend(added);
        report.removed.extend(removed);
        if let Some(e) = err {
            report.errors.push((name, e));
        }
    }
    report
}

/// What every node of one pass is brought to.
#[derive(Clone, Copy)]
struct Target<'a> {
    rpc: &'a RpcClient,
    creds: &'a Credentials,
    port: u16,
    wanted: &'a BTreeSet<String>,
    members: &'a BTreeSet<String>,
}

impl Target<'_> {
    /// One node: read its added nodes, then add what is missing and remove what is gone (one
    /// batch each, so a new node joins a 1,000-node network in three round trips, not 1,000).
    async fn check(self, node: &Peer) -> (String, Vec<(String, String)>, Vec<(String, String)>, Option<RpcError>) {
        let Target { rpc, creds, port, wanted, members } = self;
        let addr = SocketAddr::new(node.ip, port);
        let me = node.ip.to_string();
        let current = match rpc.get_added_nodes(addr, creds).await {
            Ok(c) => c,
            Err(e) => return (node.name.clone(), vec![], vec![], Some(e)),
        };
        let have: BTreeSet<String> = current.into_iter().map(|n| n.addednode).collect();
        let to_add: Vec<String> = wanted.iter().filter(|p| **p != me && !have.contains(*p)).cloned().collect();
        let gone = |p: &&String| (members.contains(*p) && !wanted.contains(*p)) || **p == me;
        let to_remove: Vec<String> = have.iter().filter(gone).cloned().collect();
        let (added, err) = apply(rpc, addr, creds, &node.name, &to_add, NodeCommand::Add).await;
        if err.is_some() {
            return (node.name.clone(), added, vec![], err);
        }
        let (removed, err) = apply(rpc, addr, creds, &node.name, &to_remove, NodeCommand::Remove).await;
        (node.name.clone(), added, removed, err)
    }
}

/// `addnode add|remove` of `peers` on one node in one batch: the `(node, peer)` pairs done, and
/// the first failure (of the request, or of a call).
async fn apply(
    rpc: &RpcClient,
    addr: SocketAddr,
    creds: &Credentials,
    node: &str,
    peers: &[String],
    command: NodeCommand,
) -> (Vec<(String, String)>, Option<RpcError>) {
    if peers.is_empty() {
        return (vec![], None);
    }
    let results = match rpc.add_or_remove_nodes(addr, creds, peers, command).await {
        Ok(r) => r,
        Err(e) => return (vec![], Some(e)),
    };
    let mut done = vec![];
    let mut first_error = None;
    for (peer, r) in results {
        match r {
            Ok(()) => done.push((node.to_string(), peer)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    (done, first_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::State;
    use axum::routing::post;
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    type Added = Arc<Mutex<Vec<String>>>;

    /// One call's reply, with the call's id.
    fn answer(list: &mut Vec<String>, req: &Value) -> Value {
        let mut reply = match req["method"].as_str() {
            Some("getaddednodeinfo") => {
                json!({"result": list.iter().map(|a| json!({"addednode": a, "connected": true})).collect::<Vec<_>>(), "error": null})
            }
            Some("addnode") => {
                let peer = req["params"][0].as_str().unwrap_or_default().to_string();
                match (req["params"][1].as_str(), list.contains(&peer)) {
                    (Some("add"), true) => json!({"result": null, "error": {"code": -23, "message": "already added"}}),
                    (Some("add"), false) => {
                        list.push(peer);
                        json!({"result": null, "error": null})
                    }
                    (Some("remove"), false) => json!({"result": null, "error": {"code": -24, "message": "not added"}}),
                    _ => {
                        list.retain(|p| *p != peer);
                        json!({"result": null, "error": null})
                    }
                }
            }
            _ => json!({"result": null, "error": {"code": -32601, "message": "Method not found"}}),
        };
        reply["id"] = req["id"].clone();
        reply
    }

    /// A minimal bitcoind: getaddednodeinfo and addnode add|remove with -23/-24.
    async fn fake_node(ip: &str, port: u16, initial: &[&str]) -> Added {
        let added: Added = Arc::new(Mutex::new(initial.iter().map(|s| s.to_string()).collect()));
        let app = axum::Router::new()
            .route(
                "/",
                post(|State(added): State<Added>, body: String| async move {
                    let req: Value = serde_json::from_str(&body).unwrap_or_default();
                    let mut list = added.lock().unwrap();
                    // A batch (what the mesh sends for addnode) or a single call.
                    match req {
                        Value::Array(calls) => {
                            Value::Array(calls.iter().map(|c| answer(&mut list, c)).collect()).to_string()
                        }
                        single => answer(&mut list, &single).to_string(),
                    }
                }),
            )
            .with_state(added.clone());
        let listener = tokio::net::TcpListener::bind((ip, port)).await.expect("bind loopback alias");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        added
    }

    fn sorted(a: &Added) -> Vec<String> {
        let mut v = a.lock().unwrap().clone();
        v.sort();
        v
    }

    #[tokio::test]
    async fn converges_keeps_manual_peers_and_is_idempotent() {
        let port = tokio::net::TcpListener::bind("127.0.0.11:0").await.unwrap().local_addr().unwrap().port();
        let n1 = fake_node("127.0.0.11", port, &["127.0.0.99", "127.0.0.14"]).await;
        let n2 = fake_node("127.0.0.12", port, &["127.0.0.11"]).await;
        let n3 = fake_node("127.0.0.13", port, &[]).await;
        let peers: Vec<Peer> =
            (11..=13).map(|i| Peer { name: format!("p{i}"), ip: format!("127.0.0.{i}").parse().unwrap() }).collect();
        let members: BTreeSet<String> = (11..=14).map(|i| format!("127.0.0.{i}")).collect();
        let rpc = RpcClient::new(Duration::from_secs(2));
        let creds = Credentials::new("u", "p");
        let report = sync(&rpc, &creds, port, &peers, &members).await;
        assert!(report.complete(), "{:?}", report.errors);
        assert_eq!(sorted(&n1), ["127.0.0.12", "127.0.0.13", "127.0.0.99"], "manual peer kept, gone member removed");
        assert_eq!(sorted(&n2), ["127.0.0.11", "127.0.0.13"]);
        assert_eq!(sorted(&n3), ["127.0.0.11", "127.0.0.12"]);
        assert_eq!(report.added.len(), 5);
        assert_eq!(report.removed, [("p11".to_string(), "127.0.0.14".to_string())]);

        let again = sync(&rpc, &creds, port, &peers, &members).await;
        assert!(again.complete() && again.added.is_empty() && again.removed.is_empty(), "{again:?}");

        // A node that does not answer is reported; the others are still served.
        let mut with_dead = peers.clone();
        with_dead.push(Peer { name: "dead".into(), ip: "127.0.0.15".parse().unwrap() });
        let report = sync(&rpc, &creds, port, &with_dead, &members).await;
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].0, "dead");
        assert!(sorted(&n1).contains(&"127.0.0.15".to_string()));
    }
}
