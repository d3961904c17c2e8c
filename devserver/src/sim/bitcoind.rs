//! SIMULATION: bitcoind "running" in pods.
//!
//! For each pod that is Running (per the simulated kubelet), has a podIP, is not being deleted,
//! and runs bitcoind, an in-process JSON-RPC server ([`super::rpc`]) listens on `podIP:port`. It
//! stops when the pod goes away, stops being Running, or gets a new uid or address.
//!
//! **Which pods run bitcoind**: a container whose image, command or args mention `bitcoind`
//! (e.g. `christianb93/bitcoind:v1.0`), or any pod with the label or annotation
//! [`BITCOIND_MARKER`]`: "true"` (then its first container is used).
//!
//! **Port**: that container's port named `rpc`, else its first containerPort, else
//! [`super::SimOptions::rpc_port`] (18443).
//!
//! **Credentials**: `BC_RPC_USER` / `BC_RPC_PASSWORD` from the container's environment as a
//! kubelet would build it: `envFrom` (secretRef / configMapRef, with `prefix`) first, then `env`
//! (`value`, `valueFrom.secretKeyRef`, `valueFrom.configMapKeyRef`), later entries winning. They
//! are read once when the node starts, like a real process's environment. When a variable is
//! absent the image's defaults apply (`user` / `password`, as in the reference image's
//! bitcoin.conf). A required (non-optional) reference to a missing Secret, ConfigMap or key
//! keeps the node from starting (a real kubelet reports CreateContainerConfigError); it is
//! retried every second.
//!
//! **Peers**: an address given to `addnode` (add or onetry) that resolves to another running
//! simulated node of the same simulation is a connected peer: an IP with or without port, or a
//! pod DNS name (`<pod>`, `<hostname>.<subdomain>[.<ns>[.svc[.cluster.local]]]`). The node it
//! points at sees the connection as inbound.

use super::lock;
use super::rpc::{self, Credentials, NetworkView, NodeState, Peer, host_part, with_port};
use super::{PodKey, Shared};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::Api;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Label or annotation (value `"true"`) that marks a pod as running bitcoind even when no
/// container mentions it (for tests and custom images).
pub const BITCOIND_MARKER: &str = "devserver.sim/bitcoind";

/// The image's default RPC user when the environment sets none.
pub const DEFAULT_RPC_USER: &str = "user";
/// The image's default RPC password when the environment sets none.
pub const DEFAULT_RPC_PASSWORD: &str = "password";

/// The container that runs bitcoind, if any.
pub fn bitcoind_container(pod: &Pod) -> Option<&Container> {
    let spec = pod.spec.as_ref()?;
    let mentions = |c: &Container| {
        c.image.as_deref().is_some_and(|i| i.contains("bitcoind"))
            || c.command.iter().flatten().chain(c.args.iter().flatten()).any(|a| a.contains("bitcoind"))
    };
    if let Some(c) = spec.containers.iter().find(|c| mentions(c)) {
        return Some(c);
    }
    let marked = |m: &Option<BTreeMap<String, String>>| {
        m.as_ref().and_then(|m| m.get(BITCOIND_MARKER)).is_some_and(|v| v == "true")
    };
    if marked(&pod.metadata.labels) || marked(&pod.metadata.annotations) {
        return spec.containers.first();
    }
    None
}

/// Whether the pod runs bitcoind (see the module docs).
pub fn is_bitcoind(pod: &Pod) -> bool {
    bitcoind_container(pod).is_some()
}

/// The RPC port of a bitcoind pod (see the module docs).
pub fn rpc_port(pod: &Pod, default: u16) -> u16 {
    let Some(c) = bitcoind_container(pod) else { return default };
    let ports = c.ports.as_deref().unwrap_or_default();
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some("rpc"))
        .or_else(|| ports.first())
        .and_then(|p| u16::try_from(p.container_port).ok())
        .filter(|p| *p != 0)
        .unwrap_or(default)
}

/// One simulated node: a pod's bitcoind.
pub(crate) struct Node {
    pub uid: String,
    pub addr: SocketAddr,
    pub hostname: String,
    pub subdomain: Option<String>,
    pub creds: Credentials,
    pub state: Arc<Mutex<NodeState>>,
    /// The RPC server task; `None` while down (killed, or its port could not be bound).
    pub server: Option<JoinHandle<()>>,
    /// Set by `kill_node`: stays down until `restart_node`.
    pub killed: bool,
}

/// Every simulated node of one simulation (the "network" peers are resolved in).
#[derive(Default)]
pub struct Network {
    nodes: Mutex<HashMap<PodKey, Node>>,
}

impl Network {
    /// The RPC address of a node whose server is up.
    pub fn running_addr(&self, key: &PodKey) -> Option<SocketAddr> {
        lock(&self.nodes).get(key).filter(|n| n.server.is_some() && !n.killed).map(|n| n.addr)
    }

    /// Resolves an address given to addnode to a running node (not `from` itself).
    fn resolve(nodes: &HashMap<PodKey, Node>, from: &PodKey, addr: &str) -> Option<PodKey> {
        let host = host_part(addr);
        let ip: Option<IpAddr> = host.parse().ok();
        nodes
            .iter()
            .filter(|(k, n)| *k != from && n.server.is_some() && !n.killed)
            .find(|(k, n)| match ip {
                Some(ip) => n.addr.ip() == ip,
                None => dns_names(k, n).iter().any(|name| name.eq_ignore_ascii_case(host)),
            })
            .map(|(k, _)| k.clone())
    }

    /// For each address (as given to addnode by `from`), whether it reaches a running node: one
    /// pass over the nodes for all of them (`getaddednodeinfo` on a 1,000-node mesh asks 999).
    pub fn reachable(&self, from: &PodKey, addrs: &[String]) -> Vec<bool> {
        let nodes = lock(&self.nodes);
        let running: HashSet<IpAddr> = nodes
            .iter()
            .filter(|(k, n)| *k != from && n.server.is_some() && !n.killed)
            .map(|(_, n)| n.addr.ip())
            .collect();
        addrs
            .iter()
            .map(|a| match host_part(a).parse::<IpAddr>() {
                Ok(ip) => running.contains(&ip),
                Err(_) => Self::resolve(&nodes, from, a).is_some(),
            })
            .collect()
    }

    /// The peers of a node: its added/onetry addresses that reach a running node (outbound),
    /// and the running nodes whose added/onetry addresses reach it (inbound).
    pub fn peers(&self, key: &PodKey) -> Vec<Peer> {
        let nodes = lock(&self.nodes);
        let Some(me) = nodes.get(key) else { return Vec::new() };
        let mut out = Vec::new();
        let targets = |n: &Node| {
            let s = lock(&n.state);
            s.added
                .iter()
                .map(|a| (a.clone(), "manual"))
                .chain(s.onetry.iter().map(|a| (a.clone(), "manual")))
                .collect::<Vec<_>>()
        };
        let mut seen = HashSet::new();
        for (addr, kind) in targets(me) {
            if Self::resolve(&nodes, key, &addr).is_some() && seen.insert(addr.clone()) {
                out.push(Peer { addr: with_port(&addr), inbound: false, connection_type: kind });
            }
        }
        let mut others: Vec<(&PodKey, &Node)> =
            nodes.iter().filter(|(k, n)| *k != key && n.server.is_some() && !n.killed).collect();
        others.sort_by(|a, b| a.0.cmp(b.0));
        for (other_key, other) in others {
            if targets(other).iter().any(|(a, _)| Self::resolve(&nodes, other_key, a).as_ref() == Some(key)) {
                // An inbound connection comes from the peer's address and an ephemeral port.
                let port = 49152
                    + (u32::from_be_bytes(match other.addr.ip() {
                        IpAddr::V4(v4) => v4.octets(),
                        IpAddr::V6(_) => [0, 0, 0, 0],
                    }) % 16000) as u16;
                out.push(Peer {
                    addr: format!("{}:{port}", other.addr.ip()),
                    inbound: true,
                    connection_type: "inbound",
                });
            }
        }
        out
    }

    /// Stops a node's server and clears its state (a crash); it stays down until restarted.
    pub async fn kill(&self, key: &PodKey) {
        let task = {
            let mut nodes = lock(&self.nodes);
            let Some(node) = nodes.get_mut(key) else {
                tracing::warn!(pod = %key, "simulated bitcoind: kill_node on a pod with no simulated bitcoind");
                return;
            };
            node.killed = true;
            *lock(&node.state) = NodeState::default();
            node.server.take()
        };
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        tracing::info!(pod = %key, "simulated bitcoind: killed (crash simulated)");
    }

    /// Starts a node again with empty state. Returns whether the node exists.
    pub async fn restart(self: &Arc<Self>, key: &PodKey) -> bool {
        let task = {
            let mut nodes = lock(&self.nodes);
            let Some(node) = nodes.get_mut(key) else {
                tracing::warn!(pod = %key, "simulated bitcoind: restart_node on a pod with no simulated bitcoind");
                return false;
            };
            node.killed = false;
            *lock(&node.state) = NodeState::default();
            node.server.take()
        };
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        self.start_server(key, None).await;
        tracing::info!(pod = %key, "simulated bitcoind: restarted with empty state");
        true
    }

    /// Serves a node's RPC port (if it exists, is not killed and is not serving), on the socket
    /// the kubelet reserved for it when there is one, else on a fresh bind.
    /// Returns whether a server was started.
    async fn start_server(self: &Arc<Self>, key: &PodKey, reserved: Option<std::net::TcpListener>) -> bool {
        let (addr, creds, state) = {
            let nodes = lock(&self.nodes);
            let Some(node) = nodes.get(key) else { return false };
            if node.killed || node.server.is_some() {
                return false;
            }
            (node.addr, node.creds.clone(), node.state.clone())
        };
        let from_reserved = reserved.and_then(|l| {
            l.set_nonblocking(true).ok()?;
            tokio::net::TcpListener::from_std(l).ok()
        });
        let bound = match from_reserved {
            Some(l) => Ok(l),
            None => tokio::net::TcpListener::bind(addr).await,
        };
        let listener = match bound {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(pod = %key, %addr, error = %e, "simulated bitcoind: cannot bind RPC port; will retry");
                return false;
            }
        };
        let network: Arc<dyn NetworkView> = self.clone();
        let ctx = rpc::NodeContext { key: key.clone(), network: Arc::downgrade(&network), creds, state };
        let task = tokio::spawn(rpc::serve(listener, ctx));
        let mut nodes = lock(&self.nodes);
        match nodes.get_mut(key) {
            Some(node) if !node.killed && node.server.is_none() && node.addr == addr => {
                node.server = Some(task);
                tracing::info!(pod = %key, %addr, "simulated bitcoind: RPC server listening");
                true
            }
            _ => {
                task.abort();
                false
            }
        }
    }

    /// Stops and forgets a node.
    async fn remove(&self, key: &PodKey, why: &str) {
        let node = lock(&self.nodes).remove(key);
        if let Some(Node { server: Some(task), .. }) = node {
            task.abort();
            let _ = task.await;
        }
        tracing::info!(pod = %key, why, "simulated bitcoind: stopped");
    }

    /// Stops every node and waits for the servers to end.
    pub async fn stop_all(&self) {
        let tasks: Vec<JoinHandle<()>> = lock(&self.nodes).drain().filter_map(|(_, mut n)| n.server.take()).collect();
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Aborts every server without waiting (Drop).
    pub fn abort_all(&self) {
        for (_, n) in lock(&self.nodes).drain() {
            if let Some(t) = n.server {
                t.abort();
            }
        }
    }
}

fn dns_names(key: &PodKey, node: &Node) -> Vec<String> {
    let mut names = vec![key.name.clone(), node.hostname.clone()];
    if let Some(sub) = &node.subdomain {
        let base = format!("{}.{sub}", node.hostname);
        names.push(format!("{base}.{}", key.namespace));
        names.push(format!("{base}.{}.svc", key.namespace));
        names.push(format!("{base}.{}.svc.cluster.local", key.namespace));
        names.push(base);
    }
    names
}

/// What a running bitcoind pod should have.
struct Wanted {
    uid: String,
    addr: SocketAddr,
    hostname: String,
    subdomain: Option<String>,
}

fn wanted(pod: &Pod, default_port: u16) -> Option<Wanted> {
    if pod.metadata.deletion_timestamp.is_some() || !is_bitcoind(pod) {
        return None;
    }
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") {
        return None;
    }
    let ip: IpAddr = status.pod_ip.as_deref()?.parse().ok()?;
    let spec = pod.spec.as_ref()?;
    Some(Wanted {
        uid: pod.metadata.uid.clone()?,
        addr: SocketAddr::new(ip, rpc_port(pod, default_port)),
        hostname: spec.hostname.clone().or_else(|| pod.metadata.name.clone())?,
        subdomain: spec.subdomain.clone(),
    })
}

/// Runs the bitcoind lifecycle loop until its task is aborted.
pub(crate) async fn run(shared: Arc<Shared>) {
    loop {
        pass(&shared).await;
        super::wait(&shared.wake.bitcoind, Duration::from_secs(1)).await;
    }
}

async fn pass(shared: &Shared) {
    let network = &shared.network;
    let mut desired: HashMap<PodKey, (Arc<Pod>, Wanted)> = HashMap::new();
    for pod in shared.pods.state() {
        if let (Some(key), Some(w)) = (PodKey::of(&pod), wanted(&pod, shared.options.rpc_port)) {
            desired.insert(key, (pod, w));
        }
    }
    // Stop nodes whose pod went away, stopped running, or changed identity.
    let stale: Vec<(PodKey, &'static str)> = lock(&network.nodes)
        .iter()
        .filter_map(|(k, n)| match desired.get(k) {
            None => Some((k.clone(), "pod gone or not Running")),
            Some((_, w)) if w.uid != n.uid || w.addr != n.addr => Some((k.clone(), "pod replaced")),
            _ => None,
        })
        .collect();
    for (key, why) in stale {
        network.remove(&key, why).await;
    }
    for (key, (pod, w)) in desired {
        let known = lock(&network.nodes).contains_key(&key);
        if !known {
            let creds = match credentials(&shared.client, &pod).await {
                Ok(c) => c,
                Err(why) => {
                    tracing::warn!(pod = %key, reason = %why, "simulated bitcoind: cannot start (container config error); will retry");
                    continue;
                }
            };
            lock(&network.nodes).entry(key.clone()).or_insert(Node {
                uid: w.uid,
                addr: w.addr,
                hostname: w.hostname,
                subdomain: w.subdomain,
                creds,
                state: Arc::default(),
                server: None,
                killed: false,
            });
        }
        let reserved = match lock(&network.nodes).get(&key) {
            Some(node) if node.server.is_none() && !node.killed => shared.ipam.take_listener(&key, node.addr),
            _ => None,
        };
        if network.start_server(&key, reserved).await {
            // Its readiness probe can pass now.
            shared.wake.kubelet.notify_one();
        }
    }
}

/// The RPC credentials from the bitcoind container's environment (see the module docs).
pub async fn credentials(client: &kube::Client, pod: &Pod) -> Result<Credentials, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let Some(container) = bitcoind_container(pod) else { return Err("no bitcoind container".into()) };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let mut env: HashMap<String, String> = HashMap::new();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.secret_ref {
            match secret_data(&secrets, &r.name).await? {
                Some(data) => env.extend(data.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v))),
                None if r.optional == Some(true) => {}
                None => return Err(format!("secret \"{}\" not found", r.name)),
            }
        }
        if let Some(r) = &from.config_map_ref {
            match configmap_data(&configmaps, &r.name).await? {
                Some(data) => env.extend(data.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v))),
                None if r.optional == Some(true) => {}
                None => return Err(format!("configmap \"{}\" not found", r.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        if let Some(v) = &var.value {
            env.insert(var.name.clone(), v.clone());
            continue;
        }
        let Some(from) = &var.value_from else {
            env.insert(var.name.clone(), String::new());
            continue;
        };
        let (data, optional, what, name, key) = if let Some(r) = &from.secret_key_ref {
            (secret_data(&secrets, &r.name).await?, r.optional == Some(true), "secret", &r.name, &r.key)
        } else if let Some(r) = &from.config_map_key_ref {
            (configmap_data(&configmaps, &r.name).await?, r.optional == Some(true), "configmap", &r.name, &r.key)
        } else {
            continue; // fieldRef / resourceFieldRef: not credentials
        };
        match data.as_ref().and_then(|d| d.get(key)) {
            Some(v) => {
                env.insert(var.name.clone(), v.clone());
            }
            None if optional => {}
            None if data.is_none() => return Err(format!("{what} \"{name}\" not found")),
            None => return Err(format!("couldn't find key {key} in {what} {ns}/{name}")),
        }
    }
    Ok(Credentials {
        user: env.get("BC_RPC_USER").cloned().unwrap_or_else(|| DEFAULT_RPC_USER.into()),
        password: env.get("BC_RPC_PASSWORD").cloned().unwrap_or_else(|| DEFAULT_RPC_PASSWORD.into()),
    })
}

async fn secret_data(api: &Api<Secret>, name: &str) -> Result<Option<HashMap<String, String>>, String> {
    match api.get_opt(name).await {
        Ok(Some(s)) => {
            let mut out: HashMap<String, String> = s
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect();
            out.extend(s.string_data.unwrap_or_default());
            Ok(Some(out))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(format!("reading secret {name}: {e}")),
    }
}

async fn configmap_data(api: &Api<ConfigMap>, name: &str) -> Result<Option<HashMap<String, String>>, String> {
    match api.get_opt(name).await {
        Ok(Some(c)) => Ok(Some(c.data.unwrap_or_default().into_iter().collect())),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("reading configmap {name}: {e}")),
    }
}

impl NetworkView for Network {
    fn reachable(&self, from: &PodKey, addrs: &[String]) -> Vec<bool> {
        Network::reachable(self, from, addrs)
    }

    fn peers(&self, key: &PodKey) -> Vec<Peer> {
        Network::peers(self, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(host_part("127.0.0.3"), "127.0.0.3");
        assert_eq!(host_part("127.0.0.3:18444"), "127.0.0.3");
        assert_eq!(host_part("[::1]:18444"), "::1");
        assert_eq!(host_part("::1"), "::1");
        assert_eq!(host_part("node-0.svc:1"), "node-0.svc");
        assert_eq!(with_port("127.0.0.3"), "127.0.0.3:18444");
        assert_eq!(with_port("127.0.0.3:9"), "127.0.0.3:9");
        assert_eq!(with_port("::1"), "[::1]:18444");
    }

    #[test]
    fn recognises_bitcoind_and_its_port() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"containers": [
                {"name": "side", "image": "busybox", "ports": [{"containerPort": 80}]},
                {"name": "btc", "image": "christianb93/bitcoind:v1.0", "ports": [{"containerPort": 1}, {"name": "rpc", "containerPort": 18332}]}
            ]}
        }))
        .expect("pod");
        assert!(is_bitcoind(&pod));
        assert_eq!(rpc_port(&pod, 18443), 18332);
        let plain: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .expect("pod");
        assert!(!is_bitcoind(&plain));
        let marked: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "annotations": {BITCOIND_MARKER: "true"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}
        }))
        .expect("pod");
        assert!(is_bitcoind(&marked));
        assert_eq!(rpc_port(&marked, 18443), 18443);
    }
}
