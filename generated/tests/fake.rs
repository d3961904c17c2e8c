//! The fake clientset, used as sample-controller's tests use client-go's: seed objects, run code,
//! assert the recorded actions, and inject errors through reactors.

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec, BitcoinNetworkStatus};
use futures::StreamExt;
use generated::clientset::fake::{self, Reaction};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{GetParams, PostParams, WatchEvent, WatchParams};

fn network(name: &str, nodes: i32) -> BitcoinNetwork {
    BitcoinNetwork {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some("default".into()), ..Default::default() },
        spec: BitcoinNetworkSpec { nodes, ..Default::default() },
        status: None,
    }
}

/// The code under test: a tiny sync handler that records the desired node count in status.
async fn sync(cs: &generated::Clientset, name: &str) -> kube::Result<()> {
    let nets = cs.bitcoincontroller_v1().bitcoin_networks("default");
    let mut net = nets.get(name, &GetParams::default()).await?;
    let want = BitcoinNetworkStatus { ready_nodes: net.spec.nodes, ..Default::default() };
    if net.status.as_ref() == Some(&want) {
        return Ok(());
    }
    net.status = Some(want);
    nets.update_status(&net, &PostParams::default()).await?;
    Ok(())
}

#[tokio::test]
async fn records_actions_of_the_code_under_test() {
    let cs = fake::Clientset::new(vec![fake::object(&network("a", 3))]).await.expect("fake clientset");
    assert!(cs.actions().is_empty(), "seeding is not recorded");
    sync(&cs, "a").await.expect("sync");
    let actions: Vec<String> = cs.actions().iter().map(ToString::to_string).collect();
    assert_eq!(actions, ["get bitcoinnetworks -n default a", "update bitcoinnetworks/status -n default a"]);
    let update = &cs.writes()[0];
    assert_eq!(update.object.as_ref().unwrap()["status"]["readyNodes"], 3);

    // Level-based: running again changes nothing.
    cs.clear_actions();
    sync(&cs, "a").await.expect("sync");
    assert!(cs.writes().is_empty(), "{:?}", cs.actions());
}

#[tokio::test]
async fn reactor_injects_a_conflict() {
    let cs = fake::Clientset::new(vec![fake::object(&network("a", 2))]).await.expect("fake clientset");
    cs.prepend_reactor("update", "bitcoinnetworks/status", |_| Some(Reaction::conflict("injected conflict")));
    let err = sync(&cs, "a").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409 && s.message == "injected conflict"), "{err}");
    // The server never saw the write.
    let stored = cs.bitcoincontroller_v1().bitcoin_networks("default").get("a", &GetParams::default()).await.unwrap();
    assert!(stored.status.is_none());
    // A reactor that passes lets the real server answer.
    cs.prepend_reactor("*", "*", |_| None);
    cs.prepend_reactor("get", "secrets", |_| Some(Reaction::internal_error("boom")));
    let err = kube::Api::<Secret>::namespaced(cs.client().clone(), "default").get("x").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 500), "{err}");
}

#[tokio::test]
async fn server_semantics_and_built_ins() {
    let secret = Secret {
        metadata: ObjectMeta { name: Some("rpc".into()), namespace: Some("default".into()), ..Default::default() },
        ..Default::default()
    };
    let cs = fake::Clientset::new(vec![fake::object(&network("a", 1)), fake::object(&secret)]).await.expect("fake");
    let nets = cs.bitcoincontroller_v1().bitcoin_networks("default");
    let got = nets.get("a", &GetParams::default()).await.unwrap();
    // A stale update conflicts, as on a real server.
    let mut first = got.clone();
    first.spec.nodes = 2;
    nets.update(&first, &PostParams::default()).await.expect("update");
    let mut stale = got;
    stale.spec.nodes = 3;
    let err = nets.update(&stale, &PostParams::default()).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err}");
    // The CRD schema is enforced.
    let bad = network("bad", -1);
    let err = nets.create(&bad, &PostParams::default()).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 422), "{err}");
    // Built-in kinds work through the same client.
    let s = kube::Api::<Secret>::namespaced(cs.client().clone(), "default").get("rpc").await.expect("seeded secret");
    assert_eq!(s.metadata.name.as_deref(), Some("rpc"));
}

#[tokio::test]
async fn watch_replays_existing_objects() {
    let cs =
        fake::Clientset::new(vec![fake::object(&network("a", 1)), fake::object(&network("b", 2))]).await.expect("fake");
    let nets = cs.bitcoincontroller_v1().bitcoin_networks("default");
    let mut stream = nets.watch(&WatchParams::default().timeout(5), "0").await.expect("watch");
    let mut names = vec![];
    for _ in 0..2 {
        match stream.next().await.expect("event").expect("ok") {
            WatchEvent::Added(n) => names.push(n.metadata.name.unwrap_or_default()),
            other => panic!("expected ADDED, got {other:?}"),
        }
    }
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert!(cs.actions().iter().any(|a| a.verb == "watch" && a.resource == "bitcoinnetworks"));
}

#[tokio::test]
async fn bad_seed_objects_are_errors_not_panics() {
    let err = fake::Clientset::new(vec![serde_json::json!({"kind": "Nothing"})]).await.err().expect("error");
    assert!(!err.to_string().is_empty());
    let err = fake::Clientset::new(vec![
        serde_json::json!({"apiVersion": "x.io/v1", "kind": "Nothing", "metadata": {"name": "a"}}),
    ])
    .await
    .err()
    .expect("error for an unknown kind");
    assert!(!err.to_string().is_empty());
}

#[tokio::test]
async fn server_side_apply_through_the_fake() {
    use generated::applyconfigurations::bitcoincontroller::v1::{
        BitcoinNetworkSpecApplyConfiguration as Spec, BitcoinNetworkStatusApplyConfiguration as Status,
        bitcoin_network, extract_bitcoin_network, extract_bitcoin_network_status,
    };
    let cs = fake::Clientset::new(vec![]).await.expect("fake clientset");
    let nets = cs.bitcoincontroller_v1().bitcoin_networks("default");
    let scaler = bitcoin_network("a", "default").with_spec(Spec::default().with_nodes(3));
    let n = nets.apply(&scaler, "scaler", false).await.expect("apply creates the object");
    assert_eq!(n.spec.nodes, 3);
    let report = bitcoin_network("a", "default").with_status(Status::default().with_ready_nodes(2));
    let n = nets.apply_status(&report, "reporter", false).await.expect("apply to status");
    assert_eq!(n.status.as_ref().map(|s| s.ready_nodes), Some(2));
    assert_eq!(n.spec.nodes, 3, "a status apply leaves spec alone");

    // The main resource and the status subresource are owned separately, per manager.
    assert_eq!(extract_bitcoin_network_status(&n, "reporter").expect("extract"), report);
    assert_eq!(extract_bitcoin_network(&n, "reporter").expect("extract"), bitcoin_network("a", "default"));
    assert_eq!(extract_bitcoin_network(&n, "scaler").expect("extract"), scaler);
    assert_eq!(extract_bitcoin_network_status(&n, "scaler").expect("extract"), bitcoin_network("a", "default"));

    // Both applies are recorded as patches of the apply type, carrying only what was set.
    let writes = cs.writes();
    let seen: Vec<String> = writes.iter().map(ToString::to_string).collect();
    assert_eq!(seen, ["patch bitcoinnetworks -n default a", "patch bitcoinnetworks/status -n default a"]);
    for (w, sent) in writes.iter().zip([&scaler, &report]) {
        assert_eq!(w.patch_type.as_deref(), Some("application/apply-patch+yaml"));
        assert_eq!(w.object.as_ref(), Some(&serde_json::to_value(sent).unwrap()));
    }

    // Another manager taking the scaler's field: a conflict, unless forced.
    let grab = bitcoin_network("a", "default").with_spec(Spec::default().with_nodes(5));
    let err = nets.apply(&grab, "other", false).await.expect_err("a conflict");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err}");
    assert_eq!(nets.apply(&grab, "other", true).await.expect("forced").spec.nodes, 5);
    // A reactor answers an apply like any other patch.
    cs.prepend_reactor("patch", "bitcoinnetworks/status", |_| Some(Reaction::conflict("injected")));
    let err = nets.apply_status(&report, "reporter", false).await.expect_err("the reactor's conflict");
    assert!(matches!(&err, kube::Error::Api(s) if s.message == "injected"), "{err}");
}
