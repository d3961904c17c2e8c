//! The objects a BitcoinNetwork owns, built from its spec, and the drift checks that decide when
//! an existing object must be corrected.
//!
//! Names and labels keep the Go reference's contract: `<name>-svc` (headless), `<name>-sts`,
//! label `app=<name>`, and a controller owner reference to the network.

use apis::bitcoincontroller::v1::BitcoinNetwork;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, PodSpec, PodTemplateSpec, Probe, Secret, SecretKeySelector,
    Service, ServicePort, ServiceSpec, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;
use std::collections::BTreeMap;

use crate::secret::{Credentials, PASSWORD_KEY, USER_KEY};

/// The label every object and pod of a network carries: `app=<network name>`.
pub const APP_LABEL: &str = "app";
/// The name of the bitcoind container in the pod template.
pub const CONTAINER_NAME: &str = "bitcoind";
/// The name of the RPC container port (the simulation and Services look it up by name).
pub const RPC_PORT_NAME: &str = "rpc";
/// The label on the credentials Secrets the controller creates (the recommended
/// `app.kubernetes.io/managed-by`): its Secret informer selects on it, so the controller caches
/// its own Secrets and no one else's.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// [`MANAGED_BY_LABEL`]'s value.
pub const MANAGED_BY: &str = "bitcoin-controller";
/// The label selector of the Secret informer.
pub fn managed_by_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY}")
}
/// Pod-template annotation holding the credentials Secret's resourceVersion: a rotated Secret
/// changes it, which rolls the pods so bitcoind starts with the new credentials.
pub const SECRET_VERSION_ANNOTATION: &str = "bitcoincontroller.christianb93.github.com/secret-version";
/// The regtest P2P port bitcoind listens on.
pub const P2P_PORT: i32 = 18444;

/// Settings that come from the controller's flags rather than from the network.
#[derive(Clone, Debug, PartialEq)]
pub struct PodSettings {
    /// Image used when `spec.image` is empty (`--bitcoind-image`).
    pub default_image: String,
    /// The RPC port (`--rpc-port`, regtest 18443).
    pub rpc_port: u16,
    /// The CIDR bitcoind accepts RPC from (`--rpc-allow-ip`).
    pub rpc_allow_ip: String,
}

impl Default for PodSettings {
    fn default() -> Self {
        Self { default_image: "bitcoin/bitcoin:28.1".into(), rpc_port: 18443, rpc_allow_ip: "10.0.0.0/8".into() }
    }
}

/// `<name>-svc`: the headless Service giving pods stable DNS names.
pub fn service_name(network: &str) -> String {
    format!("{network}-svc")
}
/// `<name>-sts`: the StatefulSet running the nodes.
pub fn stateful_set_name(network: &str) -> String {
    format!("{network}-sts")
}
/// `<name>-rpc`: the Secret the controller creates when `spec.secret` is empty.
pub fn rpc_secret_name(network: &str) -> String {
    format!("{network}-rpc")
}
/// The Secret the network's credentials come from: `spec.secret`, or `<name>-rpc`.
pub fn secret_name_of(net: &BitcoinNetwork) -> String {
    match net.spec.secret.as_deref() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => rpc_secret_name(&name_of(net)),
    }
}
/// Whether the controller owns (creates) the credentials Secret of `net`.
pub fn generates_secret(net: &BitcoinNetwork) -> bool {
    net.spec.secret.as_deref().is_none_or(str::is_empty)
}

/// The network's name (empty for a malformed object, which then matches nothing).
pub fn name_of(net: &BitcoinNetwork) -> String {
    net.metadata.name.clone().unwrap_or_default()
}

/// `app=<name>`.
pub fn labels(network: &str) -> BTreeMap<String, String> {
    [(APP_LABEL.to_string(), network.to_string())].into()
}

/// The controller owner reference to `net` (controller=true, blockOwnerDeletion=true, so
/// foreground deletion waits for the owned objects).
pub fn owner_reference(net: &BitcoinNetwork) -> OwnerReference {
    OwnerReference {
        api_version: BitcoinNetwork::api_version(&()).into_owned(),
        kind: BitcoinNetwork::kind(&()).into_owned(),
        name: name_of(net),
        uid: net.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `meta` has a controller owner reference to `net` (same UID): sample-controller's
/// `IsControlledBy`. Objects that fail this are never written to.
pub fn is_controlled_by(meta: &ObjectMeta, net: &BitcoinNetwork) -> bool {
    let uid = net.metadata.uid.as_deref().unwrap_or_default();
    !uid.is_empty() && meta.owner_references.iter().flatten().any(|r| r.controller == Some(true) && r.uid == uid)
}

/// The controller owner reference of `meta`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

fn owned_meta(net: &BitcoinNetwork, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: net.metadata.namespace.clone(),
        labels: Some(labels(&name_of(net))),
        owner_references: Some(vec![owner_reference(net)]),
        ..Default::default()
    }
}

/// The headless Service `<name>-svc` selecting the network's pods.
pub fn service(net: &BitcoinNetwork, settings: &PodSettings) -> Service {
    let name = name_of(net);
    Service {
        metadata: owned_meta(net, service_name(&name)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(labels(&name)),
            ports: Some(service_ports(settings)),
            publish_not_ready_addresses: Some(true),
            ..Default::default()
        }),
        status: None,
    }
}

fn service_ports(settings: &PodSettings) -> Vec<ServicePort> {
    vec![
        ServicePort {
            name: Some(RPC_PORT_NAME.into()),
            port: i32::from(settings.rpc_port),
            target_port: Some(IntOrString::String(RPC_PORT_NAME.into())),
            protocol: Some("TCP".into()),
            ..Default::default()
        },
        ServicePort {
            name: Some("p2p".into()),
            port: P2P_PORT,
            target_port: Some(IntOrString::String("p2p".into())),
            protocol: Some("TCP".into()),
            ..Default::default()
        },
    ]
}

/// The image for `net`: `spec.image`, else the controller's default.
pub fn image_of(net: &BitcoinNetwork, settings: &PodSettings) -> String {
    match net.spec.image.as_deref() {
        Some(i) if !i.is_empty() => i.to_string(),
        _ => settings.default_image.clone(),
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector { name: secret.into(), key: key.into(), optional: Some(false) }),
            ..Default::default()
        }),
    }
}

/// The bitcoind container: `bitcoind` in regtest, RPC settings as flags (the credentials are expanded by the
/// kubelet from the env, so they never appear in the manifest), a TCP readiness probe on the RPC
/// port, and the container port named `rpc`.
pub fn container(net: &BitcoinNetwork, settings: &PodSettings) -> Container {
    let secret = secret_name_of(net);
    Container {
        name: CONTAINER_NAME.into(),
        image: Some(image_of(net, settings)),
        command: Some(vec!["bitcoind".into()]),
        args: Some(vec![
            "-regtest=1".into(),
            "-server=1".into(),
            "-printtoconsole=1".into(),
            "-rpcbind=0.0.0.0".into(),
            format!("-rpcport={}", settings.rpc_port),
            format!("-rpcallowip={}", settings.rpc_allow_ip),
            format!("-rpcuser=$({USER_KEY})"),
            format!("-rpcpassword=$({PASSWORD_KEY})"),
        ]),
        env: Some(vec![secret_env(USER_KEY, &secret, USER_KEY), secret_env(PASSWORD_KEY, &secret, PASSWORD_KEY)]),
        ports: Some(vec![
            ContainerPort {
                name: Some(RPC_PORT_NAME.into()),
                container_port: i32::from(settings.rpc_port),
                protocol: Some("TCP".into()),
                ..Default::default()
            },
            ContainerPort {
                name: Some("p2p".into()),
                container_port: P2P_PORT,
                protocol: Some("TCP".into()),
                ..Default::default()
            },
        ]),
        readiness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction { port: IntOrString::String(RPC_PORT_NAME.into()), host: None }),
            initial_delay_seconds: Some(5),
            period_seconds: Some(5),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The StatefulSet `<name>-sts` with `spec.nodes` replicas.
pub fn stateful_set(net: &BitcoinNetwork, settings: &PodSettings) -> StatefulSet {
    let name = name_of(net);
    StatefulSet {
        metadata: owned_meta(net, stateful_set_name(&name)),
        spec: StatefulSetSpec {
            replicas: Some(net.spec.nodes.max(0)),
            // bitcoind nodes do not depend on each other's start order (the controller meshes
            // them once ready), so all pods start at once: a 1,000-node network does not wait
            // for 1,000 readiness delays in sequence. (Immutable: older StatefulSets keep theirs.)
            pod_management_policy: Some("Parallel".into()),
            service_name: Some(service_name(&name)),
            selector: LabelSelector { match_labels: Some(labels(&name)), match_expressions: None },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(&name)), ..Default::default() }),
                spec: Some(PodSpec { containers: vec![container(net, settings)], ..Default::default() }),
            },
            ..Default::default()
        },
        status: None,
    }
}

/// The `<name>-rpc` Secret holding generated credentials, owned by the network.
pub fn rpc_secret(net: &BitcoinNetwork, creds: &Credentials) -> Secret {
    let mut metadata = owned_meta(net, rpc_secret_name(&name_of(net)));
    metadata.labels.get_or_insert_default().insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    Secret { metadata, data: Some(creds.to_data()), type_: Some("Opaque".into()), ..Default::default() }
}

/// Records the credentials Secret's resourceVersion in the pod template (see
/// [`SECRET_VERSION_ANNOTATION`]).
pub fn stamp_secret_version(sts: &mut StatefulSet, version: &str) {
    let meta = sts.spec.template.metadata.get_or_insert_with(Default::default);
    meta.annotations.get_or_insert_with(Default::default).insert(SECRET_VERSION_ANNOTATION.into(), version.into());
}

fn secret_version(sts: &StatefulSet) -> Option<&String> {
    sts.spec.template.metadata.as_ref()?.annotations.as_ref()?.get(SECRET_VERSION_ANNOTATION)
}

/// What differs between an existing StatefulSet and the desired one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drift {
    /// `(from, to)` when the replica count differs.
    pub replicas: Option<(i32, i32)>,
    /// The container fields that differ (`image`, `env`, `args`, `ports`, `readinessProbe`).
    pub container: Vec<&'static str>,
    /// The credentials Secret changed since the pods were created (rotation).
    pub secret_version: bool,
}

impl Drift {
    /// Nothing to correct.
    pub fn is_empty(&self) -> bool {
        self.replicas.is_none() && self.container.is_empty() && !self.secret_version
    }
}

/// Compares the fields the controller owns. Fields the API server defaults (and those we do not
/// set) are ignored, so a defaulted object does not look drifted.
pub fn stateful_set_drift(existing: &StatefulSet, desired: &StatefulSet) -> Drift {
    let mut drift = Drift::default();
    let (have, want) = (&existing.spec, &desired.spec);
    let (hr, wr) = (have.replicas.unwrap_or(1), want.replicas.unwrap_or(1));
    if hr != wr {
        drift.replicas = Some((hr, wr));
    }
    // Only a known version is compared: while the Secret is missing, the pods are left alone.
    drift.secret_version = secret_version(desired).is_some_and(|v| secret_version(existing) != Some(v));
    let first = |s: &StatefulSetSpec| s.template.spec.as_ref().and_then(|p| p.containers.first().cloned());
    match (first(have), first(want)) {
        (Some(h), Some(w)) => {
            if h.name != w.name {
                drift.container.push("name");
            }
            if h.image != w.image {
                drift.container.push("image");
            }
            if h.env != w.env {
                drift.container.push("env");
            }
            if h.args != w.args || h.command != w.command {
                drift.container.push("args");
            }
            let ports = |c: &Container| {
                c.ports.iter().flatten().map(|p| (p.name.clone(), p.container_port)).collect::<Vec<_>>()
            };
            if ports(&h) != ports(&w) {
                drift.container.push("ports");
            }
            let probe = |c: &Container| c.readiness_probe.as_ref().map(|p| p.tcp_socket.clone());
            if probe(&h) != probe(&w) {
                drift.container.push("readinessProbe");
            }
        }
        (None, Some(_)) => drift.container.push("containers"),
        _ => {}
    }
    drift
}

/// `existing` with the controller-owned fields of `desired` applied (a copy: the cached object
/// is never changed). Other fields, and the resourceVersion, are kept so the update is guarded.
pub fn corrected_stateful_set(existing: &StatefulSet, desired: &StatefulSet) -> StatefulSet {
    let mut out = existing.clone();
    if let Some(v) = secret_version(desired) {
        stamp_secret_version(&mut out, v);
    }
    let want = desired.spec.clone();
    let spec = &mut out.spec;
    spec.replicas = want.replicas;
    let want_container = want.template.spec.as_ref().and_then(|p| p.containers.first().cloned());
    if let Some(w) = want_container {
        let pod = spec.template.spec.get_or_insert_with(Default::default);
        match pod.containers.first_mut() {
            Some(h) => {
                h.name = w.name;
                h.image = w.image;
                h.env = w.env;
                h.args = w.args;
                h.command = w.command;
                h.ports = w.ports;
                h.readiness_probe = w.readiness_probe;
            }
            None => pod.containers.push(w),
        }
    }
    out
}

/// Whether an existing Service needs correcting (selector or ports changed).
pub fn service_drift(existing: &Service, desired: &Service) -> bool {
    let sel = |s: &Service| s.spec.as_ref().and_then(|s| s.selector.clone());
    let ports = |s: &Service| {
        s.spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.name, p.port))
            .collect::<Vec<_>>()
    };
    sel(existing) != sel(desired) || ports(existing) != ports(desired)
}

/// `existing` with the desired selector and ports (clusterIP is immutable and left alone).
pub fn corrected_service(existing: &Service, desired: &Service) -> Service {
    let mut out = existing.clone();
    let want = desired.spec.clone().unwrap_or_default();
    let spec = out.spec.get_or_insert_with(Default::default);
    spec.selector = want.selector;
    spec.ports = want.ports;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use apis::bitcoincontroller::v1::BitcoinNetworkSpec;

    fn net(nodes: i32) -> BitcoinNetwork {
        BitcoinNetwork {
            metadata: ObjectMeta {
                name: Some("n".into()),
                namespace: Some("ns".into()),
                uid: Some("uid-1".into()),
                ..Default::default()
            },
            spec: BitcoinNetworkSpec { nodes, ..Default::default() },
            status: None,
        }
    }

    #[test]
    fn stateful_set_follows_the_contract() {
        let s = PodSettings::default();
        let sts = stateful_set(&net(4), &s);
        assert_eq!(sts.metadata.name.as_deref(), Some("n-sts"));
        let spec = &sts.spec;
        assert_eq!(spec.replicas, Some(4));
        assert_eq!(spec.service_name.as_deref(), Some("n-svc"));
        assert_eq!(spec.selector.match_labels, Some(labels("n")));
        let c = &spec.template.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.image.as_deref(), Some("bitcoin/bitcoin:28.1"));
        let env = c.env.as_ref().unwrap();
        assert_eq!(env[0].value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap().name, "n-rpc");
        assert!(env.iter().all(|e| e.value.is_none()), "credentials only by reference");
        assert!(c.readiness_probe.is_some());
        assert_eq!(c.ports.as_ref().unwrap()[0].name.as_deref(), Some(RPC_PORT_NAME));
        let owner = &sts.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("BitcoinNetwork", "uid-1", Some(true))
        );
        assert!(is_controlled_by(&sts.metadata, &net(1)));
    }

    #[test]
    fn spec_secret_and_image_win() {
        let mut n = net(1);
        n.spec.secret = Some("mine".into());
        n.spec.image = Some("img:2".into());
        assert!(!generates_secret(&n));
        let sts = stateful_set(&n, &PodSettings::default());
        let c = &sts.spec.template.spec.unwrap().containers[0];
        assert_eq!(c.image.as_deref(), Some("img:2"));
        assert_eq!(
            c.env.as_ref().unwrap()[1].value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap().name,
            "mine"
        );
    }

    #[test]
    fn drift_is_detected_and_corrected() {
        let s = PodSettings::default();
        let want = stateful_set(&net(3), &s);
        assert!(stateful_set_drift(&want, &want).is_empty());
        let mut have = want.clone();
        have.metadata.resource_version = Some("7".into());
        let spec = &mut have.spec;
        spec.replicas = Some(100);
        spec.template.spec.as_mut().unwrap().containers[0].image = Some("evil".into());
        spec.template.spec.as_mut().unwrap().containers[0].env = None;
        let d = stateful_set_drift(&have, &want);
        assert_eq!(d.replicas, Some((100, 3)));
        assert_eq!(d.container, vec!["image", "env"]);
        let fixed = corrected_stateful_set(&have, &want);
        assert!(stateful_set_drift(&fixed, &want).is_empty());
        // A rotated Secret is drift; an unknown version (Secret missing) is not.
        let mut rotated = want.clone();
        stamp_secret_version(&mut rotated, "42");
        assert!(stateful_set_drift(&fixed, &rotated).secret_version);
        assert!(!stateful_set_drift(&rotated, &want).secret_version);
        let fixed = corrected_stateful_set(&fixed, &rotated);
        assert!(stateful_set_drift(&fixed, &rotated).is_empty());
        assert_eq!(fixed.metadata.resource_version.as_deref(), Some("7"));
    }

    #[test]
    fn not_controlled_without_matching_uid() {
        let mut other = stateful_set(&net(1), &PodSettings::default());
        other.metadata.owner_references.as_mut().unwrap()[0].uid = "someone-else".into();
        assert!(!is_controlled_by(&other.metadata, &net(1)));
        other.metadata.owner_references = None;
        assert!(!is_controlled_by(&other.metadata, &net(1)));
    }
}
