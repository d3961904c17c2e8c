//! Issue 6 acceptance (garbage collection): the simulated, client-side garbage collector
//! cascades deletions by ownerReferences — background, foreground with blockOwnerDeletion, and
//! orphan — for built-in kinds and for a custom resource installed after the simulation started.

mod common;

use common::eventually;
use devserver::DevServer;
use devserver::sim::{self, SimOptions};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Everything one test needs: server, simulation, and dynamic APIs for the kinds used.
struct Env {
    server: devserver::DevServerHandle,
    sim: sim::SimHandle,
    client: kube::Client,
}

impl Env {
    async fn start(gc: bool) -> Env {
        let server = DevServer::builder().start().await.expect("server");
        let client = server.client().expect("client");
        let sim = sim::start(client.clone(), SimOptions { garbage_collection: gc, ..SimOptions::default() })
            .await
            .expect("sim");
        Env { server, sim, client }
    }

    fn api(&self, kind: &str) -> Api<DynamicObject> {
        let r = match kind {
            "ConfigMap" => ar("", "v1", "ConfigMap", "configmaps"),
            "Secret" => ar("", "v1", "Secret", "secrets"),
            "Service" => ar("", "v1", "Service", "services"),
            "Pod" => ar("", "v1", "Pod", "pods"),
            "StatefulSet" => ar("apps", "v1", "StatefulSet", "statefulsets"),
            "Widget" => ar("sim.example.com", "v1", "Widget", "widgets"),
            other => panic!("test uses unknown kind {other}"),
        };
        Api::namespaced_with(self.client.clone(), "default", &r)
    }

    /// Creates an object of `kind` from a JSON body (apiVersion/kind filled in) and returns its uid.
    async fn create(&self, kind: &str, mut body: Value) -> String {
        let api_version = match kind {
            "StatefulSet" => "apps/v1",
            "Widget" => "sim.example.com/v1",
            _ => "v1",
        };
        body["apiVersion"] = json!(api_version);
        body["kind"] = json!(kind);
        let obj: DynamicObject = serde_json::from_value(body).expect("object");
        let created = self.api(kind).create(&PostParams::default(), &obj).await.expect("create");
        created.metadata.uid.expect("uid")
    }

    async fn exists(&self, kind: &str, name: &str) -> bool {
        self.api(kind).get_opt(name).await.expect("get").is_some()
    }

    async fn stop(self) {
        self.sim.shutdown().await;
        self.server.shutdown().await;
    }
}

fn owned_by(name: &str, owner_kind: &str, owner_name: &str, owner_uid: &str, block: bool) -> Value {
    let api_version = if owner_kind == "Widget" { "sim.example.com/v1" } else { "v1" };
    json!({"metadata": {"name": name, "ownerReferences": [
        {"apiVersion": api_version, "kind": owner_kind, "name": owner_name, "uid": owner_uid, "blockOwnerDeletion": block}
    ]}})
}

#[tokio::test]
async fn background_deletion_cascades_to_every_kind_and_keeps_objects_with_a_live_owner() {
    let env = Env::start(true).await;
    let owner = env.create("ConfigMap", json!({"metadata": {"name": "owner"}})).await;
    let other = env.create("ConfigMap", json!({"metadata": {"name": "other-owner"}})).await;
    env.create("Secret", owned_by("dep-secret", "ConfigMap", "owner", &owner, false)).await;
    env.create("ConfigMap", owned_by("dep-cm", "ConfigMap", "owner", &owner, false)).await;
    let mut svc = owned_by("dep-svc", "ConfigMap", "owner", &owner, false);
    svc["spec"] = json!({"ports": [{"port": 80}]});
    env.create("Service", svc).await;
    let mut pod = owned_by("dep-pod", "ConfigMap", "owner", &owner, false);
    pod["spec"] = json!({"containers": [{"name": "c", "image": "x"}]});
    env.create("Pod", pod).await;
    // Two owners, one of which stays: only the dangling reference goes.
    let mut two = owned_by("two-owners", "ConfigMap", "owner", &owner, false);
    two["metadata"]["ownerReferences"].as_array_mut().expect("refs").push(json!(
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "other-owner", "uid": other}));
    env.create("Secret", two).await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(env.exists("Secret", "dep-secret").await, "nothing is collected while the owner lives");

    env.api("ConfigMap").delete("owner", &DeleteParams::background()).await.expect("delete owner");
    eventually(5, "dependents collected", || async {
        let mut left = Vec::new();
        for (kind, name) in
            [("Secret", "dep-secret"), ("ConfigMap", "dep-cm"), ("Service", "dep-svc"), ("Pod", "dep-pod")]
        {
            if env.exists(kind, name).await {
                left.push(name);
            }
        }
        left.is_empty().then_some(())
    })
    .await;
    let refs = eventually(5, "dangling reference removed", || async {
        let o = env.api("Secret").get("two-owners").await.ok()?;
        let refs = o.metadata.owner_references.unwrap_or_default();
        (refs.len() == 1).then_some(refs)
    })
    .await;
    assert_eq!(refs[0].uid, other);
    env.stop().await;
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let env = Env::start(true).await;
    let owner = env.create("ConfigMap", json!({"metadata": {"name": "fg-owner"}})).await;
    // A blocking dependent that cannot go away yet (a finalizer holds it).
    let mut held = owned_by("held", "ConfigMap", "fg-owner", &owner, true);
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    env.create("Secret", held).await;
    env.create("ConfigMap", owned_by("free", "ConfigMap", "fg-owner", &owner, false)).await;
    // A dependent that also has a live owner keeps existing, without this owner's reference.
    let other = env.create("ConfigMap", json!({"metadata": {"name": "fg-other"}})).await;
    let mut shared = owned_by("shared", "ConfigMap", "fg-owner", &owner, true);
    shared["metadata"]["ownerReferences"]
        .as_array_mut()
        .expect("refs")
        .push(json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "fg-other", "uid": other}));
    env.create("Secret", shared).await;

    env.api("ConfigMap").delete("fg-owner", &DeleteParams::foreground()).await.expect("delete");
    eventually(5, "non-blocked dependent deleted, blocked one terminating", || async {
        let held = env.api("Secret").get("held").await.ok()?;
        (!env.exists("ConfigMap", "free").await && held.metadata.deletion_timestamp.is_some()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = env.api("ConfigMap").get("fg-owner").await.expect("owner still there");
    assert!(o.metadata.deletion_timestamp.is_some());
    assert_eq!(o.metadata.finalizers.as_deref(), Some(&["foregroundDeletion".to_string()][..]));

    // Release the dependent: it goes, then the owner.
    env.api("Secret")
        .patch("held", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .expect("release");
    eventually(5, "owner deleted", || async { (!env.exists("ConfigMap", "fg-owner").await).then_some(()) }).await;
    assert!(!env.exists("Secret", "held").await);
    let kept = env.api("Secret").get("shared").await.expect("dependent with a live owner kept");
    let refs = kept.metadata.owner_references.unwrap_or_default();
    assert_eq!(refs.iter().map(|r| r.uid.as_str()).collect::<Vec<_>>(), [other.as_str()]);
    env.stop().await;
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let env = Env::start(true).await;
    let owner = env.create("ConfigMap", json!({"metadata": {"name": "orphaner"}})).await;
    env.create("Secret", owned_by("kept", "ConfigMap", "orphaner", &owner, true)).await;
    let dp = DeleteParams { propagation_policy: Some(kube::api::PropagationPolicy::Orphan), ..DeleteParams::default() };
    env.api("ConfigMap").delete("orphaner", &dp).await.expect("delete");
    eventually(5, "owner gone", || async { (!env.exists("ConfigMap", "orphaner").await).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kept = env.api("Secret").get("kept").await.expect("dependent kept");
    assert!(kept.metadata.owner_references.unwrap_or_default().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn with_gc_off_nothing_is_collected() {
    let env = Env::start(false).await;
    let owner = env.create("ConfigMap", json!({"metadata": {"name": "o"}})).await;
    env.create("Secret", owned_by("d", "ConfigMap", "o", &owner, false)).await;
    env.api("ConfigMap").delete("o", &DeleteParams::background()).await.expect("delete");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(env.exists("Secret", "d").await);
    env.stop().await;
}

#[tokio::test]
async fn a_custom_resource_installed_later_cascades_to_its_statefulset_and_pods() {
    let env = Env::start(true).await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.sim.example.com"},
        "spec": {"group": "sim.example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let crds: Api<DynamicObject> = Api::all_with(
        env.client.clone(),
        &ar("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions"),
    );
    crds.create(&PostParams::default(), &serde_json::from_value(crd).expect("crd")).await.expect("crd");
    let widget = eventually(5, "CRD served", || async {
        let w: DynamicObject = serde_json::from_value(
            json!({"apiVersion": "sim.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
        )
        .ok()?;
        env.api("Widget").create(&PostParams::default(), &w).await.ok()?.metadata.uid
    })
    .await;
    let mut sts = json!({"metadata": {"name": "w-sts", "ownerReferences": [
        {"apiVersion": "sim.example.com/v1", "kind": "Widget", "name": "w", "uid": widget, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "w"}},
                 "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    sts["spec"]["serviceName"] = json!("w");
    env.create("StatefulSet", sts).await;
    eventually(5, "two pods", || async {
        let pods = env.api("Pod").list(&Default::default()).await.ok()?;
        (pods.items.len() == 2).then_some(())
    })
    .await;
    env.api("Widget").delete("w", &DeleteParams::foreground()).await.expect("delete widget");
    eventually(8, "widget, statefulset and pods gone", || async {
        let pods = env.api("Pod").list(&Default::default()).await.ok()?;
        (pods.items.is_empty() && !env.exists("StatefulSet", "w-sts").await && !env.exists("Widget", "w").await)
            .then_some(())
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn an_idle_simulation_does_not_poll_the_server() {
    let env = Env::start(true).await;
    // Let the collector discover and start its watches.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let watched = env.server.request_log().entries().iter().filter(|r| r.verb == "watch").count();
    assert!(watched >= 5, "the collector watches pods, services, secrets, configmaps, statefulsets, ...: {watched}");
    env.server.request_log().clear();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let entries = env.server.request_log().entries();
    let lists_or_gets: Vec<_> =
        entries.iter().filter(|r| r.verb == "list" || (r.verb == "get" && !r.resource.is_empty())).collect();
    assert!(lists_or_gets.is_empty(), "idle simulation polled: {lists_or_gets:?}");
    // Only periodic discovery (a handful of requests per few seconds) may happen.
    assert!(entries.len() <= 10, "{} requests while idle: {entries:?}", entries.len());
    env.stop().await;
}

#[tokio::test]
async fn deleting_a_crd_collects_what_its_custom_resources_owned() {
    let env = Env::start(true).await;
    let crds: Api<DynamicObject> = Api::all_with(
        env.client.clone(),
        &ar("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions"),
    );
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.sim.example.com"},
        "spec": {"group": "sim.example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    crds.create(&PostParams::default(), &serde_json::from_value(crd).expect("crd")).await.expect("crd");
    let widget = eventually(5, "CRD served", || async {
        let w: DynamicObject = serde_json::from_value(
            json!({"apiVersion": "sim.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
        )
        .ok()?;
        env.api("Widget").create(&PostParams::default(), &w).await.ok()?.metadata.uid
    })
    .await;
    env.create("ConfigMap", owned_by("widget-config", "Widget", "w", &widget, false)).await;
    // Give the collector a moment to discover the new kind (it rediscovers when a CRD changes).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(env.exists("ConfigMap", "widget-config").await, "owner alive: kept");
    crds.delete("widgets.sim.example.com", &DeleteParams::default()).await.expect("delete crd");
    eventually(8, "dependent of a removed custom resource collected", || async {
        (!env.exists("ConfigMap", "widget-config").await).then_some(())
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn a_deleted_namespace_loses_its_content_then_goes() {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    let env = Env::start(true).await;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap();
    namespaces.create(&PostParams::default(), &ns).await.expect("namespace");
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "doomed");
    for name in ["a", "b"] {
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.expect("configmap");
    }
    let kept: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "kept", "finalizers": ["example.com/hold"]}})).unwrap();
    cms.create(&PostParams::default(), &kept).await.expect("configmap with a finalizer");
    namespaces.delete("doomed", &DeleteParams::default()).await.expect("delete");
    eventually(10, "the plain configmaps deleted", || {
        let cms = cms.clone();
        async move { cms.list(&Default::default()).await.ok().filter(|l| l.items.len() == 1).map(drop) }
    })
    .await;
    // The finalizer of what is left holds the namespace.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = namespaces.get("doomed").await.expect("still there");
    assert_eq!(held.status.and_then(|s| s.phase).as_deref(), Some("Terminating"));
    cms.patch("kept", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": null}})))
        .await
        .expect("release");
    eventually(10, "the namespace gone", || {
        let namespaces = namespaces.clone();
        async move { namespaces.get_opt("doomed").await.ok().filter(Option::is_none).map(drop) }
    })
    .await;
    env.stop().await;
}
