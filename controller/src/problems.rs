//! Problems a user can fix, each as the Ready condition shows it: a stable reason (alerts and
//! `kubectl get btcnet`'s REASON column match on it) and a message that says what is wrong and
//! what to do. One place for every such rule: names that cannot work, objects in the way, API
//! refusals, pods that report an image or crash problem, and RPC refusals.

use k8s_openapi::api::core::v1::Pod;

use crate::mesh::MeshReport;
use crate::reconcile::{Error, api_message, reasons};
use crate::rpc::RpcError;
use crate::status::{Problem, pod_ready};

/// The longest network name that can work: the StatefulSet `<name>-sts` labels its pods with
/// `controller-revision-hash: <name>-sts-<hash>` (hash up to 10 characters), and a label value
/// has at most 63 characters. The CRD refuses longer names; this catches objects created before.
pub const MAX_NAME_LEN: usize = 48;

/// Why the network's name cannot work, if it cannot (too long, or not a DNS label that
/// starts with a letter, which the Service `<name>-svc` needs).
pub fn name_problem(name: &str) -> Option<Problem> {
    if name.len() > MAX_NAME_LEN {
        return Some((
            reasons::NAME_TOO_LONG.into(),
            format!(
                "metadata.name has {} characters; at most {MAX_NAME_LEN} work (the pods' controller-revision-hash label <name>-sts-<hash> is limited to 63): recreate the network under a shorter name",
                name.len()
            ),
        ));
    }
    let label = name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !label {
        return Some((
            reasons::INVALID_NAME.into(),
            format!(
                "metadata.name {name:?} cannot name the Service {name}-svc, which must be a DNS label (lowercase letters, digits and '-', starting with a letter): recreate the network under such a name"
            ),
        ));
    }
    None
}

/// The problem behind a failed step, when the user can fix it: an object of the needed name
/// that the network does not own, or the API server refusing a write as invalid (422) or
/// forbidden (403). Other errors (conflicts, timeouts) are retried without a condition.
pub fn from_error(e: &Error) -> Option<Problem> {
    match e {
        Error::ResourceExists { kind, name, .. } => Some((
            reasons::ERR_RESOURCE_EXISTS.into(),
            format!(
                "{kind} {name} already exists and is not owned by this BitcoinNetwork: delete or rename that {kind}, or recreate the network under another name"
            ),
        )),
        Error::Api { verb, kind, name, source: kube::Error::Api(s) } if s.code == 422 => Some((
            reasons::OBJECT_REJECTED.into(),
            format!("the API server refused to {verb} {kind} {name}: {}", s.message),
        )),
        Error::Api { verb, kind, name, source: source @ kube::Error::Api(s) } if s.code == 403 => Some((
            reasons::FORBIDDEN.into(),
            format!(
                "the controller may not {verb} {kind} {name} ({}): grant it in the controller's RBAC (deploy/rbac.yaml)",
                api_message(source)
            ),
        )),
        _ => None,
    }
}

/// Why the mesh is incomplete, from the RPC failures of a pass: credentials refused (401),
/// the controller's address refused by bitcoind's `-rpcallowip` (403), or nodes not answering.
pub fn mesh_problem(report: &MeshReport, secret: &str, rpc_allow_ip: &str, peers: usize) -> Option<Problem> {
    let find = |want: fn(&RpcError) -> bool| report.errors.iter().find(|(_, e)| want(e)).map(|(n, _)| n);
    if let Some(node) = find(|e| matches!(e, RpcError::Unauthorized { .. })) {
        return Some((
            reasons::RPC_UNAUTHORIZED.into(),
            format!(
                "bitcoind on {node} rejected the RPC credentials of Secret {secret} (HTTP 401): its pod started with other credentials; the StatefulSet replaces the pods when the Secret changes, or delete the pod to restart it with the Secret's"
            ),
        ));
    }
    if let Some(node) = find(|e| matches!(e, RpcError::Forbidden { .. })) {
        return Some((
            reasons::RPC_FORBIDDEN.into(),
            format!(
                "bitcoind on {node} refused RPC from the controller's address (HTTP 403): its -rpcallowip ({rpc_allow_ip}) does not include the controller; run the controller with --rpc-allow-ip set to a range that contains its pod IP"
            ),
        ));
    }
    let (node, e) = report.errors.first()?;
    Some((
        reasons::MESH_INCOMPLETE.into(),
        format!("{} of {peers} nodes did not answer RPC (first: {node}: {e}); retrying", report.errors.len()),
    ))
}

/// Waiting reasons of a container whose image cannot be pulled.
const IMAGE_REASONS: [&str; 4] = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"];
/// Waiting reasons of a container that cannot start or keeps exiting.
const START_REASONS: [&str; 4] =
    ["CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"];

/// The first problem a not-ready pod reports, in ordinal order: a container that cannot pull its
/// image or keeps crashing (the kubelet's waiting reason, with its message and the fix), or a pod
/// the scheduler cannot place.
pub fn pod_problem<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<Problem> {
    let mut pods: Vec<&Pod> = pods.into_iter().filter(|p| !pod_ready(p)).collect();
    pods.sort_by_key(|p| p.metadata.name.clone());
    pods.into_iter().find_map(one_pod_problem)
}

fn one_pod_problem(pod: &Pod) -> Option<Problem> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let status = pod.status.as_ref()?;
    let containers = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    for c in containers {
        let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) else { continue };
        let reason = waiting.reason.as_deref().unwrap_or_default();
        let said = waiting.message.as_deref().filter(|m| !m.is_empty()).map(|m| format!(": {m}")).unwrap_or_default();
        if IMAGE_REASONS.contains(&reason) {
            let message = format!(
                "pod {name} cannot pull image {}{said}; set spec.image (or the controller's --bitcoind-image) to an image the nodes can pull",
                c.image
            );
            return Some((reason.to_string(), message));
        }
        if START_REASONS.contains(&reason) {
            let exit = c
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .map(|t| format!(", last exit code {}", t.exit_code))
                .unwrap_or_default();
            let message = format!(
                "container {} of pod {name} is in {reason}{said} (restarted {} times{exit}); see kubectl logs {name} -c {} --previous",
                c.name, c.restart_count, c.name
            );
            return Some((reason.to_string(), message));
        }
    }
    let unschedulable =
        status.conditions.iter().flatten().find(|c| {
            c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")
        })?;
    let said = unschedulable.message.as_deref().unwrap_or("no node fits");
    Some(("Unschedulable".into(), format!("pod {name} cannot be scheduled: {said}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, PodCondition, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::net::SocketAddr;

    fn waiting_pod(name: &str, reason: &str, message: &str) -> Pod {
        Pod {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: "bitcoind".into(),
                    image: "bitcoin/bitcoin:nope".into(),
                    restart_count: 4,
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some(reason.into()),
                            message: Some(message.into()),
                        }),
                        ..Default::default()
                    }),
                    last_state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated { exit_code: 1, ..Default::default() }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn names_that_cannot_work() {
        assert_eq!(name_problem("my-network"), None);
        assert_eq!(name_problem(&"a".repeat(48)), None);
        let (reason, message) = name_problem(&"a".repeat(64)).unwrap();
        assert_eq!(reason, "NameTooLong");
        assert!(message.contains("64 characters; at most 48") && message.contains("shorter name"), "{message}");
        for bad in ["1net", "my.net", "net-", "Net"] {
            assert_eq!(name_problem(bad).unwrap().0, "InvalidName", "{bad}");
        }
    }

    #[test]
    fn pods_report_image_crash_and_scheduling_problems_with_the_fix() {
        let pull = waiting_pod("n-sts-1", "ImagePullBackOff", "Back-off pulling image");
        let crash = waiting_pod("n-sts-0", "CrashLoopBackOff", "back-off 40s restarting failed container");
        let (reason, message) = pod_problem([&pull, &crash]).unwrap();
        assert_eq!(reason, "CrashLoopBackOff", "the lowest ordinal first");
        assert!(message.contains("restarted 4 times, last exit code 1"), "{message}");
        assert!(message.contains("kubectl logs n-sts-0 -c bitcoind --previous"), "{message}");
        let (reason, message) = pod_problem([&pull]).unwrap();
        assert_eq!(reason, "ImagePullBackOff");
        assert!(message.contains("bitcoin/bitcoin:nope") && message.contains("set spec.image"), "{message}");

        let mut pending =
            Pod { metadata: ObjectMeta { name: Some("n-sts-0".into()), ..Default::default() }, ..Default::default() };
        assert_eq!(pod_problem([&pending]), None, "a pod that is just starting is no problem");
        pending.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("Unschedulable".into()),
                message: Some("0/3 nodes are available: 3 Insufficient cpu.".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let (reason, message) = pod_problem([&pending]).unwrap();
        assert_eq!(reason, "Unschedulable");
        assert!(message.contains("Insufficient cpu"), "{message}");
    }

    #[test]
    fn rpc_refusals_are_told_apart() {
        let addr: SocketAddr = "127.0.0.2:18443".parse().unwrap();
        let mut report = MeshReport::default();
        assert_eq!(mesh_problem(&report, "n-rpc", "10.0.0.0/8", 3), None);
        report.errors.push(("n-sts-2".into(), RpcError::Timeout { addr, timeout: std::time::Duration::from_secs(5) }));
        let (reason, message) = mesh_problem(&report, "n-rpc", "10.0.0.0/8", 3).unwrap();
        assert_eq!(reason, "MeshIncomplete");
        assert!(message.starts_with("1 of 3 nodes did not answer RPC"), "{message}");
        assert!(message.contains("within 5s"), "no Rust debug formatting: {message}");
        report.errors.push(("n-sts-1".into(), RpcError::Forbidden { addr }));
        let (reason, message) = mesh_problem(&report, "n-rpc", "10.0.0.0/8", 3).unwrap();
        assert_eq!(reason, "RPCForbidden");
        assert!(
            message.contains("rpcallowip (10.0.0.0/8)") || message.contains("-rpcallowip (10.0.0.0/8)"),
            "{message}"
        );
        assert!(message.contains("--rpc-allow-ip"), "{message}");
        report.errors.push(("n-sts-0".into(), RpcError::Unauthorized { addr }));
        let (reason, message) = mesh_problem(&report, "n-rpc", "10.0.0.0/8", 3).unwrap();
        assert_eq!(reason, "RPCUnauthorized", "a 401 is not hidden behind MeshIncomplete");
        assert!(message.contains("Secret n-rpc"), "{message}");
    }

    #[test]
    fn api_refusals_become_conditions_and_conflicts_do_not() {
        let status = |code: u16, reason: &str| {
            kube::Error::Api(
                kube::core::Status::failure(&format!("the {reason} message"), reason).with_code(code).boxed(),
            )
        };
        let err = |source| Error::Api { verb: "create", kind: "Service", name: "n-svc".into(), source };
        let (reason, message) = from_error(&err(status(422, "Invalid"))).unwrap();
        assert_eq!(reason, "ObjectRejected");
        assert_eq!(message, "the API server refused to create Service n-svc: the Invalid message");
        assert_eq!(from_error(&err(status(403, "Forbidden"))).unwrap().0, "Forbidden");
        assert_eq!(from_error(&err(status(409, "AlreadyExists"))), None);
        assert_eq!(from_error(&err(status(500, "InternalError"))), None);
        let clash = Error::ResourceExists { kind: "Service", name: "n-svc".into(), network: "default/n".into() };
        let (reason, message) = from_error(&clash).unwrap();
        assert_eq!(reason, "ErrResourceExists");
        assert!(message.contains("delete or rename that Service"), "{message}");
        let shown = err(status(409, "AlreadyExists")).to_string();
        assert_eq!(shown, "create Service n-svc: the AlreadyExists message");
        assert!(!shown.contains("Status {"), "no Rust debug formatting: {shown}");
    }
}
