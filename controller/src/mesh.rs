//! The peer mesh: every ready node has every other ready node in its added-node list, and no
//! node that is gone. Checked on every reconcile (the Go reference only did it when the status
//! changed, so a restarted bitcoind was never re-joined).

use crate::rpc::{RpcClient, RpcError};
use crate::secret::Credentials;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

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
pub async fn sync(rpc: &RpcClient, creds: &Credentials, port: u16, peers: &[Peer]) -> MeshReport {
    let wanted: BTreeSet<String> = peers.iter().map(|p| p.ip.to_string()).collect();
    let tasks = peers.iter().map(|node| {
        let wanted = &wanted;
        async move {
            let addr = SocketAddr::new(node.ip, port);
            let me = node.ip.to_string();
            let mut added = vec![];
            let mut removed = vec![];
            let current = match rpc.get_added_nodes(addr, creds).await {
                Ok(c) => c,
                Err(e) => return (node.name.clone(), added, removed, Some(e)),
            };
            let have: BTreeSet<String> = current.into_iter().map(|n| n.addednode).collect();
            for peer in wanted.iter().filter(|p| **p != me && !have.contains(*p)) {
                if let Err(e) = rpc.add_node(addr, creds, peer).await {
                    return (node.name.clone(), added, removed, Some(e));
                }
                added.push((node.name.clone(), peer.clone()));
            }
            for gone in have.iter().filter(|p| !wanted.contains(*p) || **p == me) {
                if let Err(e) = rpc.remove_node(addr, creds, gone).await {
                    return (node.name.clone(), added, removed, Some(e));
                }
                removed.push((node.name.clone(), gone.clone()));
            }
            (node.name.clone(), added, removed, None)
        }
    });
    let mut report = MeshReport::default();
    for (name, added, removed, err) in futures::future::join_all(tasks).await {
        report.added.extend(added);
        report.removed.extend(removed);
        if let Some(e) = err {
            report.errors.push((name, e));
        }
    }
    report
}
