//! The network's status, computed from the pods that exist (not from `spec.nodes`), with
//! `readyNodes`, `observedGeneration` and the `Ready`/`Progressing` conditions.
//!
//! Condition transition times are carried over from the previous status whenever a condition's
//! status is unchanged, so an unchanged world yields an equal status and no write.

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkNode, BitcoinNetworkStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::resources::{name_of, service_name, stateful_set_name};

/// The condition type that is True when every desired node is ready and meshed.
pub const READY: &str = "Ready";
/// The condition type that is True while the network is converging.
pub const PROGRESSING: &str = "Progressing";

/// A state the user can fix, shown as the Ready condition's reason and message: the reason is
/// stable (alerts match on it), the message says what is wrong and what to do.
pub type Problem = (String, String);

/// What the reconcile learned besides the pods, for the conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observations {
    /// Every ready node lists every other ready node in `getaddednodeinfo`.
    pub mesh_complete: bool,
    /// Why the mesh is incomplete, when the RPC failures say (e.g. `RPCUnauthorized`).
    pub mesh_problem: Option<Problem>,
    /// Why the network cannot progress at all (e.g. `SecretNotFound`), if anything stops it.
    pub blocked: Option<Problem>,
    /// What a pod that is not ready reports (image pull, crash loop, unschedulable), if anything.
    pub pod_problem: Option<Problem>,
}

/// The ordinal of a pod named `<sts>-<n>`, if it belongs to that StatefulSet.
pub fn ordinal_of(sts: &str, pod_name: &str) -> Option<i32> {
    pod_name.strip_prefix(sts)?.strip_prefix('-')?.parse().ok().filter(|n: &i32| *n >= 0)
}

/// Whether the pod's `Ready` condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The pod IP, when assigned.
pub fn pod_ip(pod: &Pod) -> Option<String> {
    pod.status.as_ref().and_then(|s| s.pod_ip.clone()).filter(|ip| !ip.is_empty())
}

/// One status entry per pod of the network's StatefulSet, sorted by ordinal.
pub fn nodes_from_pods<'a>(net: &BitcoinNetwork, pods: impl IntoIterator<Item = &'a Pod>) -> Vec<BitcoinNetworkNode> {
    let name = name_of(net);
    let (sts, svc) = (stateful_set_name(&name), service_name(&name));
    let mut nodes: Vec<BitcoinNetworkNode> = pods
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| {
            let pod_name = p.metadata.name.clone()?;
            let ordinal = ordinal_of(&sts, &pod_name)?;
            Some(BitcoinNetworkNode {
                ordinal,
                ready: pod_ready(p),
                ip: pod_ip(p),
                dns_name: format!("{pod_name}.{svc}"),
                node_name: pod_name,
            })
        })
        .collect();
    nodes.sort_by_key(|n| n.ordinal);
    nodes.dedup_by_key(|n| n.ordinal);
    nodes
}

fn condition(
    previous: Option<&BitcoinNetworkStatus>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let last = previous.and_then(|p| p.conditions.iter().find(|c| c.type_ == type_));
    let last_transition_time = match last {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
    };
    Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// The status the network should have now.
pub fn compute(net: &BitcoinNetwork, nodes: Vec<BitcoinNetworkNode>, obs: &Observations) -> BitcoinNetworkStatus {
    let desired = net.spec.nodes.max(0);
    let ready = nodes.iter().filter(|n| n.ready).count() as i32;
    let generation = net.metadata.generation;
    let previous = net.status.as_ref();
    let existing = nodes.len() as i32;
    fn problem(p: &Option<Problem>) -> Option<(bool, &str, String)> {
        p.as_ref().map(|(r, m)| (false, r.as_str(), m.clone()))
    }
    let (is_ready, reason, message) = if let Some(blocked) = problem(&obs.blocked) {
        blocked
    } else if let Some(pods) = problem(&obs.pod_problem).filter(|_| ready != desired) {
        pods
    } else if existing != desired {
        (false, "Scaling", format!("{existing} of {desired} nodes exist"))
    } else if ready != desired {
        (false, "NodesNotReady", format!("{ready} of {desired} nodes are ready"))
    } else if !obs.mesh_complete {
        problem(&obs.mesh_problem).unwrap_or_else(|| {
            (false, "MeshIncomplete", format!("{ready} nodes are ready; connecting them to each other"))
        })
    } else {
        (true, "NetworkReady", format!("{ready} of {desired} nodes are ready and connected"))
    };
    let progressing_reason = if is_ready { "Stable" } else { reason };
    let conditions = vec![
        condition(previous, READY, is_ready, reason, message.clone(), generation),
        condition(previous, PROGRESSING, !is_ready && obs.blocked.is_none(), progressing_reason, message, generation),
    ];
    BitcoinNetworkStatus {
        nodes,
        ready_nodes: ready,
        replicas: existing,
        selector: selector_of(&name_of(net)),
        observed_generation: generation,
        conditions,
    }
}

/// The nodes' label selector as a string (what the scale subresource shows an autoscaler).
pub fn selector_of(network: &str) -> String {
    crate::resources::labels(network).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The Ready condition of `status`, if any.
pub fn ready_condition(status: Option<&BitcoinNetworkStatus>) -> Option<&Condition> {
    status?.conditions.iter().find(|c| c.type_ == READY)
}

/// Whether `status` says the network is Ready.
pub fn is_ready(status: Option<&BitcoinNetworkStatus>) -> bool {
    status.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == READY && c.status == "True"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apis::bitcoincontroller::v1::BitcoinNetworkSpec;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, ready: bool, ip: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            status: Some(PodStatus {
                pod_ip: ip.map(Into::into),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn net(nodes: i32) -> BitcoinNetwork {
        BitcoinNetwork {
            metadata: ObjectMeta { name: Some("n".into()), generation: Some(2), ..Default::default() },
            spec: BitcoinNetworkSpec { nodes, ..Default::default() },
            status: None,
        }
    }

    #[test]
    fn nodes_come_from_existing_pods() {
        let pods = [
            pod("n-sts-2", false, None),
            pod("n-sts-0", true, Some("10.0.0.1")),
            pod("other-0", true, None),
            pod("n-sts-x", true, None),
        ];
        let nodes = nodes_from_pods(&net(5), pods.iter());
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].ordinal, 0);
        assert_eq!(nodes[0].dns_name, "n-sts-0.n-svc");
        assert_eq!(nodes[0].ip.as_deref(), Some("10.0.0.1"));
        assert!(!nodes[1].ready);
    }

    #[test]
    fn conditions_follow_the_state_and_keep_transition_times() {
        let n = net(2);
        let pods = [pod("n-sts-0", true, Some("a")), pod("n-sts-1", false, Some("b"))];
        let s = compute(&n, nodes_from_pods(&n, pods.iter()), &Observations::default());
        assert_eq!(s.ready_nodes, 1);
        assert_eq!(s.observed_generation, Some(2));
        assert!(!is_ready(Some(&s)));
        assert_eq!(s.conditions[0].reason, "NodesNotReady");
        assert_eq!(s.conditions[1].status, "True");

        // Same inputs, previous status present: identical result (no write needed).
        let mut n2 = n.clone();
        n2.status = Some(s.clone());
        let again = compute(&n2, nodes_from_pods(&n2, pods.iter()), &Observations::default());
        assert_eq!(again, s);

        let pods = [pod("n-sts-0", true, Some("a")), pod("n-sts-1", true, Some("b"))];
        let obs = Observations { mesh_complete: true, ..Default::default() };
        let ready = compute(&n2, nodes_from_pods(&n2, pods.iter()), &obs);
        assert!(is_ready(Some(&ready)));
        assert_eq!(ready.conditions[1].reason, "Stable");
        assert_eq!(ready.conditions[1].status, "False");
        let incomplete = compute(&n2, nodes_from_pods(&n2, pods.iter()), &Observations::default());
        assert_eq!(incomplete.conditions[0].reason, "MeshIncomplete");
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal_of("a-sts", "a-sts-12"), Some(12));
        assert_eq!(ordinal_of("a-sts", "a-sts-"), None);
        assert_eq!(ordinal_of("a-sts", "a-stsx-1"), None);
        assert_eq!(ordinal_of("a-sts", "a-sts--1"), None);
    }
}
