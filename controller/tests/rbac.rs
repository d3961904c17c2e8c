//! RBAC proof without an authorizing server: record every request the controller makes (its
//! client wrapped by the runtime's action recorder) through a scenario that exercises every code
//! path that writes, then check against `deploy/rbac.yaml` that each request is allowed by a rule
//! and each rule verb is used at least once.

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec};
use controller::controller::{Config, Controller};
use controller::metrics::Metrics;
use controller::resources::PodSettings;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use runtime::leader_election::LeaderElectionConfig;
use runtime::testing::Recorder;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// (apiGroup, resource, verb) triples granted by deploy/rbac.yaml (ClusterRole and Role).
fn granted() -> BTreeSet<(String, String, String)> {
    let text = include_str!("../../deploy/rbac.yaml");
    let mut out = BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let v: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
        let kind = v["kind"].as_str().unwrap_or_default();
        if kind != "ClusterRole" && kind != "Role" {
            continue;
        }
        for rule in v["rules"].as_sequence().unwrap() {
            let list = |k: &str| -> Vec<String> {
                rule[k].as_sequence().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
            };
            for g in list("apiGroups") {
                for r in list("resources") {
                    for verb in list("verbs") {
                        out.insert((g.clone(), r.clone(), verb));
                    }
                }
            }
        }
    }
    out
}

async fn wait(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_ready(n: &BitcoinNetwork) -> bool {
    controller::status::is_ready(n.status.as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_allowed_and_every_rule_is_used() {
    let server = devserver::DevServer::builder().start().await.unwrap();
    let raw = server.client().unwrap();
    let sim = controller::sim::start(raw.clone(), Duration::from_millis(200), 28543).await.unwrap();
    controller::embedded::install_crd(&raw).await.unwrap();

    let recorder = Recorder::new();
    let client = recorder.wrap(raw.clone());
    let config = Config {
        resync: Duration::from_secs(1),
        not_ready_requeue: Duration::from_millis(300),
        settings: PodSettings { rpc_port: 28543, ..PodSettings::default() },
        ..Config::default()
    };
    let ctl = Controller::new(generated::Clientset::new(client.clone()), config, Metrics::new()).unwrap();
    let election = LeaderElectionConfig {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(400),
        ..LeaderElectionConfig::new("default", "bitcoin-controller", "rbac-test")
    };
    let cancel = CancellationToken::new();
    let task = tokio::spawn(ctl.run_leader_elected(client.clone(), election, cancel.clone()));

    let nets: Api<BitcoinNetwork> = Api::namespaced(raw.clone(), "default");
    // A network naming a Secret that does not exist yet: repeated SecretNotFound events (patch).
    let mut user = BitcoinNetwork {
        metadata: ObjectMeta { name: Some("user".into()), ..Default::default() },
        spec: BitcoinNetworkSpec { nodes: 1, secret: Some("creds".into()), image: None },
        status: None,
    };
    nets.create(&PostParams::default(), &user).await.unwrap();
    // A network with generated credentials (create secrets).
    user.metadata.name = Some("gen".into());
    user.spec.secret = None;
    user.spec.nodes = 2;
    nets.create(&PostParams::default(), &user).await.unwrap();
    wait("gen Ready", async || nets.get("gen").await.is_ok_and(|n| is_ready(&n))).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // repeated SecretNotFound → event patch
    let secret = Secret {
        metadata: ObjectMeta { name: Some("creds".into()), ..Default::default() },
        string_data: Some([("BC_RPC_USER".into(), "u".into()), ("BC_RPC_PASSWORD".into(), "p".into())].into()),
        ..Default::default()
    };
    Api::<Secret>::namespaced(raw.clone(), "default").create(&PostParams::default(), &secret).await.unwrap();
    wait("user Ready", async || nets.get("user").await.is_ok_and(|n| is_ready(&n))).await;
    // Scale (statefulsets update) and Service drift (services update).
    nets.patch("gen", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"nodes": 3}}))).await.unwrap();
    let svcs: Api<Service> = Api::namespaced(raw.clone(), "default");
    svcs.patch(
        "gen-svc",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"selector": {"app": "x"}}})),
    )
    .await
    .unwrap();
    wait("gen Ready with 3", async || {
        nets.get("gen").await.is_ok_and(|n| is_ready(&n) && n.status.as_ref().is_some_and(|s| s.ready_nodes == 3))
    })
    .await;
    wait("service corrected", async || {
        svcs.get("gen-svc").await.is_ok_and(|s| {
            s.spec.and_then(|s| s.selector).is_some_and(|sel| sel.get("app").map(String::as_str) == Some("gen"))
        })
    })
    .await;
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), task).await.expect("stops").expect("joins");
    assert!(result.is_ok(), "{result:?}");

    let rules = granted();
    let mut used = BTreeSet::new();
    for a in recorder.actions() {
        let resource = match &a.subresource {
            Some(s) => format!("{}/{s}", a.resource),
            None => a.resource.clone(),
        };
        let key = (a.group.clone(), resource, a.verb.clone());
        assert!(rules.contains(&key), "request not allowed by deploy/rbac.yaml: {key:?} ({a})");
        used.insert(key);
    }
    // Admission-only permission: needed to set blockOwnerDeletion, never a request.
    let admission_only = (
        "bitcoincontroller.christianb93.github.com".to_string(),
        "bitcoinnetworks/finalizers".to_string(),
        "update".to_string(),
    );
    let unused: Vec<_> = rules.iter().filter(|r| !used.contains(*r) && **r != admission_only).collect();
    assert!(unused.is_empty(), "rules never used: {unused:?}");
    sim.shutdown().await;
    server.shutdown().await;
}
