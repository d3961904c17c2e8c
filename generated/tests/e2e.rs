//! End-to-end: the generated clientset, listers and informers against the devserver, or a real
//! kube-apiserver when `KUBE_TEST_KUBECONFIG` is set (the `testenv` crate), using only generated
//! APIs once the CRD is installed. Each test works in a namespace of its own.

use std::time::Duration;

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec, BitcoinNetworkStatus};
use futures::StreamExt;
use generated::applyconfigurations::bitcoincontroller::v1::{
    BitcoinNetworkSpecApplyConfiguration, bitcoin_network, extract_bitcoin_network,
};
use generated::{Clientset, SharedInformerFactory};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, GetParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::Selector;
use runtime::testing::Recorder;
use serde_json::json;
use testenv::TestEnv;

const CRD: &str = include_str!("../../deploy/crd/bitcoincontroller.christianb93.github.com_bitcoinnetworks.yaml");

async fn setup() -> (TestEnv, Clientset) {
    setup_recorded(&Recorder::new()).await
}

/// Like [`setup`], with every request of the clientset recorded (client side, so the counts
/// hold on either server).
async fn setup_recorded(requests: &Recorder) -> (TestEnv, Clientset) {
    let env = TestEnv::start().await;
    let crd: CustomResourceDefinition = serde_yaml::from_str(CRD).expect("CRD parses");
    env.install_crd(&crd).await;
    let cs = Clientset::new(requests.wrap(env.client()));
    (env, cs)
}

fn network(name: &str, nodes: i32) -> BitcoinNetwork {
    BitcoinNetwork {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: BitcoinNetworkSpec { nodes, ..Default::default() },
        status: None,
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

#[tokio::test]
async fn every_verb_of_bitcoin_network() {
    let (env, cs) = setup().await;
    let nets = cs.bitcoincontroller_v1().bitcoin_networks(env.namespace());
    let pp = PostParams::default();

    let created = nets.create(&network("a", 3), &pp).await.expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some());
    let got = nets.get("a", &GetParams::default()).await.expect("get");
    assert_eq!(got.spec.nodes, 3);
    assert!(is_status(&nets.get("missing", &GetParams::default()).await.unwrap_err(), 404));
    assert!(is_status(&nets.create(&network("a", 1), &pp).await.unwrap_err(), 409));

    // update bumps generation; a stale resourceVersion conflicts.
    let mut changed = got.clone();
    changed.spec.nodes = 5;
    let updated = nets.update(&changed, &pp).await.expect("update");
    assert_eq!(updated.spec.nodes, 5);
    assert_eq!(updated.metadata.generation, Some(2));
    let mut stale = got.clone();
    stale.spec.nodes = 7;
    let err = nets.update(&stale, &pp).await.unwrap_err();
    assert!(is_status(&err, 409), "{err}");

    // update_status writes status and leaves spec alone, even when the body changes spec.
    let mut with_status = updated.clone();
    with_status.spec.nodes = 99;
    with_status.status =
        Some(BitcoinNetworkStatus { ready_nodes: 2, observed_generation: Some(2), ..Default::default() });
    let after = nets.update_status(&with_status, &pp).await.expect("update_status");
    assert_eq!(after.spec.nodes, 5, "status update must not touch spec");
    assert_eq!(after.status.as_ref().map(|s| s.ready_nodes), Some(2));
    assert_eq!(after.metadata.generation, Some(2), "a status write does not bump generation");

    // patch, patch_status, apply.
    let patched =
        nets.patch("a", &PatchParams::default(), &Patch::Merge(json!({"spec": {"nodes": 4}}))).await.expect("patch");
    assert_eq!(patched.spec.nodes, 4);
    let patched = nets
        .patch_status("a", &PatchParams::default(), &Patch::Merge(json!({"status": {"readyNodes": 4}})))
        .await
        .expect("patch_status");
    assert_eq!(patched.status.map(|s| s.ready_nodes), Some(4));
    let config =
        bitcoin_network("b", env.namespace()).with_spec(BitcoinNetworkSpecApplyConfiguration::default().with_nodes(2));
    let applied = nets.apply(&config, "e2e-test", true).await.expect("apply creates");
    assert_eq!(applied.spec.nodes, 2);

    // list (typed) across namespaces and with a selector.
    let list = nets.list(&ListParams::default()).await.expect("list");
    let mut names: Vec<_> = list.items.iter().filter_map(|n| n.metadata.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert!(list.metadata.resource_version.is_some());
    let all = cs.bitcoincontroller_v1().bitcoin_networks("").list(&ListParams::default()).await.expect("list all");
    let ours = all.items.iter().filter(|n| n.metadata.namespace.as_deref() == Some(env.namespace())).count();
    assert_eq!(ours, 2, "the all-namespaces list has this test's two networks");

    // delete and delete_collection.
    nets.delete("a", &DeleteParams::default()).await.expect("delete");
    assert!(is_status(&nets.get("a", &GetParams::default()).await.unwrap_err(), 404));
    nets.delete_collection(&DeleteParams::default(), &ListParams::default()).await.expect("delete_collection");
    assert!(nets.list(&ListParams::default()).await.expect("list").items.is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn typed_watch() {
    let (env, cs) = setup().await;
    let nets = cs.bitcoincontroller_v1().bitcoin_networks(env.namespace());
    nets.create(&network("w", 1), &PostParams::default()).await.expect("create");
    let stream = nets.watch(&WatchParams::default().timeout(10), "0").await.expect("watch");
    // A server may send a bookmark at any time (kube-apiserver does soon after a watch starts).
    let mut stream = Box::pin(stream.filter(|e| std::future::ready(!matches!(e, Ok(WatchEvent::Bookmark(_))))));
    let first = stream.next().await.expect("event").expect("ok");
    assert!(matches!(&first, WatchEvent::Added(n) if n.metadata.name.as_deref() == Some("w")), "{first:?}");
    nets.patch("w", &PatchParams::default(), &Patch::Merge(json!({"spec": {"nodes": 2}}))).await.expect("patch");
    let next = stream.next().await.expect("event").expect("ok");
    assert!(matches!(&next, WatchEvent::Modified(n) if n.spec.nodes == 2), "{next:?}");
    nets.delete("w", &DeleteParams::default()).await.expect("delete");
    let last = stream.next().await.expect("event").expect("ok");
    assert!(matches!(&last, WatchEvent::Deleted(n) if n.metadata.name.as_deref() == Some("w")), "{last:?}");
    env.shutdown().await;
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn informers_and_listers_share_one_watch() {
    let requests = Recorder::new();
    let (env, cs) = setup_recorded(&requests).await;
    let ns = env.namespace().to_string();
    let nets = cs.bitcoincontroller_v1().bitcoin_networks(&ns);
    nets.create(&network("x", 1), &PostParams::default()).await.expect("create");
    let factory =
        SharedInformerFactory::from_runtime(SharedInformerFactory::builder(&cs).namespace(ns.clone()).build());
    let first = factory.bitcoincontroller().v1().bitcoin_networks();
    let second = factory.bitcoincontroller().v1().bitcoin_networks();
    let pods = factory.core().v1().pods();
    factory.start();
    let synced = factory.wait_for_cache_sync(Duration::from_secs(10)).await;
    assert!(synced.values().all(|s| *s), "{synced:?}");
    assert_eq!(synced.len(), 2, "one informer per kind: {synced:?}");
    assert!(first.informer().has_synced() && second.informer().has_synced() && pods.informer().has_synced());

    let lister = first.lister();
    assert_eq!(lister.bitcoin_networks(&ns).get("x").expect("cached").spec.nodes, 1);
    assert!(lister.bitcoin_networks("other").get("x").is_err());
    assert_eq!(second.lister().list(&Selector::default()).len(), 1);

    nets.create(&network("y", 2), &PostParams::default()).await.expect("create");
    nets.patch("x", &PatchParams::default(), &Patch::Merge(json!({"spec": {"nodes": 9}}))).await.expect("patch");
    eventually("the lister sees the new object and the change", || {
        lister.list(&Selector::default()).len() == 2
            && lister.bitcoin_networks(&ns).get("x").is_ok_and(|n| n.spec.nodes == 9)
    })
    .await;

    let gvr =
        kube::api::GroupVersionResource::gvr("bitcoincontroller.christianb93.github.com", "v1", "bitcoinnetworks");
    let generic = factory.for_resource(&gvr).expect("known resource");
    assert!(generic.has_synced());
    assert!(generic.last_sync_resource_version().is_some());
    assert!(factory.for_resource(&kube::api::GroupVersionResource::gvr("x.io", "v1", "nothings")).is_none());

    let watches = requests.actions().iter().filter(|a| a.matches("watch", "bitcoinnetworks")).count();
    assert_eq!(watches, 1, "two informers of one kind share one watch: {:?}", requests.actions());
    factory.shutdown().await;
    env.shutdown().await;
}

/// Server-side apply with typed apply configurations: two field managers own different fields,
/// a change to the other's field without `force` is a conflict, and only the fields set are sent.
#[tokio::test]
async fn apply_configurations_own_only_the_fields_they_set() {
    let (env, cs) = setup().await;
    let ns = env.namespace().to_string();
    let nets = cs.bitcoincontroller_v1().bitcoin_networks(&ns);
    let spec = BitcoinNetworkSpecApplyConfiguration::default;

    let scaler = bitcoin_network("n", &ns).with_spec(spec().with_nodes(2));
    assert_eq!(
        serde_json::to_value(&scaler).unwrap(),
        json!({"apiVersion": "bitcoincontroller.christianb93.github.com/v1", "kind": "BitcoinNetwork",
               "metadata": {"name": "n", "namespace": ns}, "spec": {"nodes": 2}}),
        "only what was set is sent"
    );
    nets.apply(&scaler, "scaler", false).await.expect("the scaler applies nodes");
    let imager = bitcoin_network("n", &ns).with_spec(spec().with_image("bitcoind:27".into()));
    let n = nets.apply(&imager, "imager", false).await.expect("the imager applies image");
    assert_eq!((n.spec.nodes, n.spec.image.as_deref()), (2, Some("bitcoind:27")), "both fields kept");
    let owners: Vec<(String, String)> = n
        .metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.manager.unwrap_or_default(), m.fields_v1.map(|f| f.0.to_string()).unwrap_or_default()))
        .collect();
    let fields_of = |who: &str| owners.iter().find(|(m, _)| m == who).map(|(_, f)| f.clone()).unwrap_or_default();
    assert!(fields_of("scaler").contains("f:nodes") && !fields_of("scaler").contains("f:image"), "{owners:?}");
    assert!(fields_of("imager").contains("f:image") && !fields_of("imager").contains("f:nodes"), "{owners:?}");

    // Each manager's extract holds only its own fields (and the object's identity).
    let mine = extract_bitcoin_network(&n, "imager").expect("extract");
    assert_eq!(mine, bitcoin_network("n", &ns).with_spec(spec().with_image("bitcoind:27".into())));
    let theirs = extract_bitcoin_network(&n, "scaler").expect("extract");
    assert_eq!(theirs.spec, Some(spec().with_nodes(2)));
    assert_eq!(extract_bitcoin_network(&n, "nobody").expect("extract"), bitcoin_network("n", &ns));

    // The imager changing the scaler's field: a 409 naming the conflict, unless forced.
    let grab = bitcoin_network("n", &ns).with_spec(spec().with_image("bitcoind:27".into()).with_nodes(5));
    let err = nets.apply(&grab, "imager", false).await.expect_err("a conflict");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409 && s.message.contains("conflict")), "{err}");
    assert_eq!(nets.get("n", &GetParams::default()).await.expect("get").spec.nodes, 2, "nothing changed");
    let n = nets.apply(&grab, "imager", true).await.expect("forced");
    assert_eq!(n.spec.nodes, 5);
    env.shutdown().await;
}
