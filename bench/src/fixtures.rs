//! Realistic BitcoinNetworks in a devserver: labels, annotations, a status with nodes and
//! conditions, and the managedFields the server records for a create and a status update.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkNode, BitcoinNetworkSpec, BitcoinNetworkStatus};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use kube::api::{Api, PostParams};

/// The namespace every benchmark object of this run lives in ([`set_namespace`]; `bench` by
/// default, on the devserver; one per run on the real server, which outlives runs).
static NAMESPACE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets this run's namespace, once, before any fixture is made.
pub fn set_namespace(ns: String) {
    let _ = NAMESPACE.set(ns);
}

/// This run's namespace.
pub fn namespace() -> &'static str {
    NAMESPACE.get().map_or("bench", String::as_str)
}

const CRD: &str = include_str!("../../deploy/crd/bitcoincontroller.christianb93.github.com_bitcoinnetworks.yaml");

/// Installs the CRD (kept when a real server already has it) and this run's namespace, and
/// waits until the CRD is served.
pub async fn install(client: &kube::Client) -> anyhow::Result<()> {
    let crd: CustomResourceDefinition = serde_yaml::from_str(CRD)?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap_or_default();
    match crds.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    let established =
        kube::runtime::wait::await_condition(crds, &name, kube::runtime::wait::conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established).await.context("CRD not established")??;
    // The informer and latency sections both install: on the real server the second finds both.
    let ns = Namespace {
        metadata: ObjectMeta { name: Some(namespace().into()), ..Default::default() },
        ..Default::default()
    };
    match Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    // kube-apiserver serves a new CRD's resource a moment after it is Established.
    let nets: Api<BitcoinNetwork> = Api::namespaced(client.clone(), namespace());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while let Err(e) = nets.list(&kube::api::ListParams::default().limit(1)).await {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the CRD's resource is not served: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Creates namespace `name`.
pub async fn create_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let ns = Namespace { metadata: ObjectMeta { name: Some(name.into()), ..Default::default() }, ..Default::default() };
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
    Ok(())
}

/// The i-th benchmark object, as a controller would have left it.
pub fn network(i: usize) -> BitcoinNetwork {
    let name = format!("net-{i:06}");
    let ns = namespace();
    let labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "bitcoin".to_string()),
        ("app.kubernetes.io/instance".to_string(), name.clone()),
        ("team".to_string(), format!("team-{}", i % 17)),
    ]);
    let annotations = BTreeMap::from([(
        "kubectl.kubernetes.io/last-applied-configuration".to_string(),
        format!(
            "{{\"apiVersion\":\"bitcoincontroller.christianb93.github.com/v1\",\"kind\":\"BitcoinNetwork\",\"metadata\":{{\"name\":\"{name}\",\"namespace\":\"{ns}\"}},\"spec\":{{\"nodes\":3}}}}"
        ),
    )]);
    BitcoinNetwork {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(ns.into()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: BitcoinNetworkSpec { nodes: 3, secret: Some(format!("net-{i:06}-rpc")), image: None },
        status: None,
    }
}

/// A status with three nodes and two conditions.
pub fn status(net: &BitcoinNetwork) -> BitcoinNetworkStatus {
    let name = net.metadata.name.clone().unwrap_or_default();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    BitcoinNetworkStatus {
        nodes: (0..3)
            .map(|o| BitcoinNetworkNode {
                ordinal: o,
                ready: true,
                ip: Some(format!("127.0.{}.{}", o + 1, 2 + o)),
                node_name: format!("{name}-sts-{o}"),
                dns_name: format!("{name}-sts-{o}.{name}-svc"),
            })
            .collect(),
        ready_nodes: 3,
        replicas: 3,
        selector: format!("app={name}"),
        observed_generation: Some(1),
        conditions: ["Ready", "Progressing"]
            .iter()
            .map(|t| Condition {
                type_: t.to_string(),
                status: "True".into(),
                reason: "AllNodesReady".into(),
                message: "3 of 3 nodes are ready and fully meshed".into(),
                last_transition_time: now.clone(),
                observed_generation: Some(1),
            })
            .collect(),
    }
}

/// Creates `n` networks and writes their status (so each carries two managedFields entries).
pub async fn populate(cs: &generated::Clientset, n: usize) -> anyhow::Result<()> {
    let nets = cs.bitcoincontroller_v1().bitcoin_networks(namespace());
    futures::stream::iter(0..n)
        .map(|i| {
            let nets = nets.clone();
            async move {
                let mut created = nets.create(&network(i), &PostParams::default()).await?;
                created.status = Some(status(&created));
                nets.update_status(&created, &PostParams::default()).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<()>()
        .await
}
