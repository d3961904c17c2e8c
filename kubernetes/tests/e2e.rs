//! End-to-end: the built-in crate's typed clients, listers and informers against the devserver,
//! or a real kube-apiserver when `KUBE_TEST_KUBECONFIG` is set (the `testenv` crate).
//! Cluster-scoped objects carry the test namespace's name, so runs on a shared server never
//! meet, and are deleted at the end.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Node, NodeCondition, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, GetParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kubernetes::{Clientset, SharedInformerFactory};
use runtime::testing::Recorder;
use serde_json::json;
use testenv::TestEnv;

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), ..Default::default() }
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Seed 002's informer, typed: `factory.core().v1().nodes().lister().list(...)` sees nodes
/// created, their status updates and their deletion.
#[tokio::test]
async fn node_informer_and_lister_follow_nodes() {
    let env = TestEnv::start().await;
    let requests = Recorder::new();
    let cs = Clientset::new(requests.wrap(env.client()));
    let prefix = env.namespace().to_string();
    let nodes = cs.core_v1().nodes();
    let names: Vec<String> = (0..3).map(|i| format!("{prefix}-node-{i}")).collect();
    for n in &names {
        let node = Node {
            metadata: ObjectMeta { labels: Some([("test".to_string(), prefix.clone())].into()), ..meta(n) },
            ..Default::default()
        };
        nodes.create(&node, &PostParams::default()).await.expect("create node");
    }

    let factory = SharedInformerFactory::new(&cs, None);
    let informer = factory.core().v1().nodes();
    factory.start();
    let synced = factory.wait_for_cache_sync(Duration::from_secs(10)).await;
    assert!(synced.values().all(|s| *s) && synced.len() == 1, "{synced:?}");
    let lister = informer.lister();
    let ours = |l: &kubernetes::listers::core::v1::NodeLister| {
        let selector: Selector = [("test".to_string(), prefix.clone())].into_iter().collect();
        let mut names: Vec<String> = l.list(&selector).iter().filter_map(|n| n.metadata.name.clone()).collect();
        names.sort();
        names
    };
    assert_eq!(ours(&lister), names);
    assert!(lister.get(&names[0]).is_ok(), "cluster-scoped get by name");

    // The status subresource: a Ready condition set through update_status reaches the cache.
    let mut node = nodes.get(&names[1], &GetParams::default()).await.expect("get");
    node.status = Some(NodeStatus {
        conditions: Some(vec![NodeCondition { type_: "Ready".into(), status: "True".into(), ..Default::default() }]),
        ..Default::default()
    });
    nodes.update_status(&node, &PostParams::default()).await.expect("update_status");
    eventually("the lister sees the Ready condition", || {
        lister.get(&names[1]).is_ok_and(|n| {
            n.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready"))
        })
    })
    .await;

    nodes.delete(&names[2], &DeleteParams::default()).await.expect("delete");
    eventually("the lister drops the deleted node", || ours(&lister).len() == 2).await;
    let watches = requests.actions().iter().filter(|a| a.matches("watch", "nodes")).count();
    assert_eq!(watches, 1, "one watch: {:?}", requests.actions());

    let gvr = kube::api::GroupVersionResource::gvr("", "v1", "nodes");
    assert!(factory.for_resource(&gvr).is_some_and(|g| g.has_synced()));
    factory.shutdown().await;
    for n in &names[..2] {
        nodes.delete(n, &DeleteParams::default()).await.expect("cleanup");
    }
    env.shutdown().await;
}

/// Typed clients of several groups: namespaced CRUD, server-side apply with the k8s-openapi
/// type as the apply configuration, and a create-only review kind.
#[tokio::test]
async fn typed_clients_across_groups() {
    let env = TestEnv::start().await;
    let cs = Clientset::new(env.client());
    let ns = env.namespace().to_string();

    let cms = cs.core_v1().config_maps(&ns);
    let cm = ConfigMap {
        metadata: meta("settings"),
        data: Some([("a".to_string(), "1".to_string())].into()),
        ..Default::default()
    };
    cms.create(&cm, &PostParams::default()).await.expect("create");
    let got = cms
        .patch("settings", &PatchParams::default(), &Patch::Merge(json!({"data": {"b": "2"}})))
        .await
        .expect("patch");
    assert_eq!(got.data.as_ref().map(|d| d.len()), Some(2));
    assert_eq!(cms.list(&ListParams::default()).await.expect("list").items.len(), 1);

    let leases = cs.coordination_v1().leases(&ns);
    let lease = Lease {
        metadata: meta("leader"),
        spec: Some(LeaseSpec { holder_identity: Some("me".into()), ..Default::default() }),
    };
    let applied = leases.apply(&lease, "e2e", false).await.expect("apply");
    assert_eq!(applied.spec.and_then(|s| s.holder_identity).as_deref(), Some("me"));
    let managers: Vec<String> =
        applied.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert_eq!(managers, ["e2e"]);

    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.clone()),
                verb: Some("get".into()),
                resource: Some("configmaps".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = cs
        .authorization_v1()
        .self_subject_access_reviews()
        .create(&review, &PostParams::default())
        .await
        .expect("review");
    assert!(answer.status.is_some_and(|s| s.allowed), "the admin may get configmaps");

    cms.delete("settings", &DeleteParams::default()).await.expect("delete");
    assert!(cms.get("settings", &GetParams::default()).await.is_err());
    env.shutdown().await;
}
