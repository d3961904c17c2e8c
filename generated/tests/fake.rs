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
