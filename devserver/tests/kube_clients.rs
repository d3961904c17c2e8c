//! kube-rs clients work unchanged: `Api::<DynamicObject>` CRUD, raw watches (initial events,
//! resume, bookmarks, initial-events-end, 410, timeouts, selector transitions), and
//! `kube::runtime::watcher` + reflector: sync, resume after the server ends the stream, the
//! relist after 410, and streaming lists.

mod common;
use common::*;
use futures::{StreamExt, TryStreamExt};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;
use std::time::Duration;

fn foos(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Foo"), "foos");
    Api::namespaced_with(client.clone(), "default", &ar)
}

fn dynamic_foo(name: &str, replicas: i64) -> DynamicObject {
    serde_json::from_value(foo(name, replicas)).unwrap()
}

async fn env_with(builder: devserver::DevServerBuilder) -> Env {
    let server = builder.start().await.unwrap();
    let e = Env::new(server);
    e.install_crd().await;
    e
}

#[tokio::test]
async fn dynamic_object_crud() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    let created = api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let got = api.get("a").await.unwrap();
    assert_eq!(got.data["spec"]["replicas"], 1);
    let mut upd = got.clone();
    upd.data["spec"]["replicas"] = json!(2);
    let replaced = api.replace("a", &PostParams::default(), &upd).await.unwrap();
    assert_eq!(replaced.metadata.generation, Some(2));
    // A stale replace is a 409 the client surfaces as an API error.
    let err = api.replace("a", &PostParams::default(), &upd).await.unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
        other => panic!("unexpected {other:?}"),
    }
    let patched = api
        .patch("a", &PatchParams::apply("test").force(), &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a"}, "spec": {"replicas": 3, "image": "x"}})))
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["replicas"], 3);
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(api.get_opt("a").await.unwrap().is_none());
}

#[tokio::test]
async fn watch_initial_added_then_live_changes() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    let mut s = api.watch(&WatchParams::default().timeout(10), "0").await.unwrap().boxed();
    let first = s.try_next().await.unwrap().unwrap();
    assert!(matches!(first, WatchEvent::Added(ref o) if o.metadata.name.as_deref() == Some("a")));
    api.create(&PostParams::default(), &dynamic_foo("b", 1)).await.unwrap();
    api.patch("b", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}}))).await.unwrap();
    api.delete("b", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    for _ in 0..3 {
        kinds.push(match s.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        });
    }
    assert_eq!(kinds, vec!["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn watch_resumes_from_resource_version() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    let a = api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    api.create(&PostParams::default(), &dynamic_foo("b", 1)).await.unwrap();
    let rv = a.metadata.resource_version.unwrap();
    let mut s = api.watch(&WatchParams::default().timeout(10), &rv).await.unwrap().boxed();
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("b")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_compacted_rv_gets_410_error_event() {
    let e = env_with(devserver::DevServer::builder().history_limit(2)).await;
    let api = foos(&e.client);
    let a = api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    for i in 0..4 {
        api.create(&PostParams::default(), &dynamic_foo(&format!("x{i}"), 1)).await.unwrap();
    }
    let rv = a.metadata.resource_version.unwrap();
    let mut s = api.watch(&WatchParams::default().timeout(10), &rv).await.unwrap().boxed();
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(err) => {
            assert_eq!((err.code, err.reason.as_str()), (410, "Expired"));
            assert!(err.message.starts_with("too old resource version: "), "{}", err.message);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn idle_watch_gets_bookmarks() {
    let e = env_with(devserver::DevServer::builder().bookmark_interval(Duration::from_millis(100))).await;
    let api = foos(&e.client);
    let rv = e.dev().current_resource_version().to_string();
    let mut s =
        api.watch(&WatchParams { bookmarks: true, ..WatchParams::default().timeout(10) }, &rv).await.unwrap().boxed();
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => assert!(!b.metadata.resource_version.is_empty()),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn send_initial_events_ends_with_annotated_bookmark() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    let mut s = api.watch(&WatchParams::streaming_lists().timeout(10), "").await.unwrap().boxed();
    assert!(matches!(s.try_next().await.unwrap().unwrap(), WatchEvent::Added(_)));
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Bookmark(b) => {
            assert_eq!(b.metadata.annotations.get("k8s.io/initial-events-end").map(String::as_str), Some("true"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Without resourceVersionMatch=NotOlderThan it is a 422.
    let r = e.get(&format!("{FOOS}?watch=true&sendInitialEvents=true")).await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn watch_timeout_ends_the_stream() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    let rv = e.dev().current_resource_version().to_string();
    let started = std::time::Instant::now();
    let s = api.watch(&WatchParams::default().timeout(1), &rv).await.unwrap();
    let events: Vec<_> = s.collect().await;
    assert!(events.is_empty());
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn object_leaving_selector_is_deleted_event() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    let mut f = foo("a", 1);
    f["metadata"]["labels"] = json!({"app": "web"});
    api.create(&PostParams::default(), &serde_json::from_value(f).unwrap()).await.unwrap();
    let mut s = api.watch(&WatchParams::default().labels("app=web").timeout(10), "0").await.unwrap().boxed();
    assert!(matches!(s.try_next().await.unwrap().unwrap(), WatchEvent::Added(_)));
    api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})))
        .await
        .unwrap();
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Deleted(o) => assert_eq!(o.metadata.labels.unwrap()["app"], "db"),
        other => panic!("unexpected {other:?}"),
    }
    api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})))
        .await
        .unwrap();
    assert!(matches!(s.try_next().await.unwrap().unwrap(), WatchEvent::Added(_)));
}

async fn wait_for(mut cond: impl FnMut() -> bool) {
    for _ in 0..800 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached in 20s");
}

#[tokio::test]
async fn reflector_syncs_and_resumes_after_stream_ends() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Foo"), "foos");
    let writer = reflector::store::Writer::<DynamicObject>::new(ar.clone());
    let reader = writer.as_reader();
    // The server ends each watch after 1 s; the watcher must resume without relisting.
    let stream = watcher(api.clone(), watcher::Config::default().timeout(1));
    let task = tokio::spawn(reflector(writer, stream).applied_objects().for_each(|_| async {}));
    wait_for(|| reader.state().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    api.create(&PostParams::default(), &dynamic_foo("b", 1)).await.unwrap();
    wait_for(|| reader.state().len() == 2).await;
    let log = e.dev().request_log();
    assert_eq!(log.count("list", "foos"), 1, "resumed without relisting");
    assert!(log.count("watch", "foos") >= 2, "watch was re-established");
    task.abort();
}

#[tokio::test]
async fn watcher_relists_after_410() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Foo"), "foos");
    let writer = reflector::store::Writer::<DynamicObject>::new(ar);
    let reader = writer.as_reader();
    let stream = watcher(api.clone(), watcher::Config::default().timeout(1));
    let task = tokio::spawn(reflector(writer, stream).applied_objects().for_each(|_| async {}));
    wait_for(|| reader.state().len() == 1).await;
    // Compact the history past everything the watcher has seen, then change something.
    api.create(&PostParams::default(), &dynamic_foo("b", 1)).await.unwrap();
    wait_for(|| reader.state().len() == 2).await;
    // Another resource moves the global revision past the watcher's last seen one; compacting
    // there makes the watcher's next resume (the server ends streams after 1 s) a 410.
    let cm = e.post("/api/v1/namespaces/default/configmaps", json!({"metadata": {"name": "bump"}})).await;
    assert_eq!(cm.status, 201);
    e.dev().compact();
    let log = e.dev().request_log();
    wait_for(|| log.count("list", "foos") >= 2).await;
    api.create(&PostParams::default(), &dynamic_foo("c", 1)).await.unwrap();
    wait_for(|| reader.state().len() == 3).await;
    task.abort();
}

#[tokio::test]
async fn streaming_list_watcher_syncs_without_list_calls() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    api.create(&PostParams::default(), &dynamic_foo("b", 1)).await.unwrap();
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Foo"), "foos");
    let writer = reflector::store::Writer::<DynamicObject>::new(ar);
    let reader = writer.as_reader();
    let stream = watcher(api.clone(), watcher::Config::default().streaming_lists());
    let task = tokio::spawn(reflector(writer, stream).applied_objects().for_each(|_| async {}));
    tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready()).await.unwrap().unwrap();
    assert_eq!(reader.state().len(), 2);
    assert_eq!(e.dev().request_log().count("list", "foos"), 0);
    task.abort();
}

#[tokio::test]
async fn in_process_server_serves_kube_clients_without_a_socket() {
    let server = devserver::DevServer::builder().in_process();
    let client = server.client();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    crds.create(&PostParams::default(), &serde_json::from_value(foo_crd()).unwrap()).await.unwrap();
    let api = foos(&client);
    api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    let mut s = api.watch(&WatchParams::default().timeout(5), "0").await.unwrap().boxed();
    assert!(matches!(s.try_next().await.unwrap().unwrap(), WatchEvent::Added(_)));
    assert_eq!(server.request_log().count("create", "foos"), 1);
}

#[tokio::test]
async fn kube_discovery_plain_and_aggregated() {
    let e = env_with(devserver::DevServer::builder()).await;
    for aggregated in [false, true] {
        let d = kube::discovery::Discovery::new(e.client.clone());
        let d = if aggregated { d.run_aggregated().await.unwrap() } else { d.run().await.unwrap() };
        let (ar, caps) = d
            .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Foo"))
            .unwrap_or_else(|| panic!("Foo discovered (aggregated={aggregated})"));
        assert_eq!(ar.plural, "foos");
        assert!(caps.supports_operation(kube::discovery::verbs::WATCH));
        assert!(d.has_group("apps"));
    }
}

#[tokio::test]
async fn https_mode_with_token_works_and_rejects_anonymous() {
    let server = devserver::DevServer::builder().tls(true).start().await.unwrap();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    assert!(server.kubeconfig().contains("certificate-authority-data") && server.kubeconfig().contains("token:"));
    let client = server.client().unwrap();
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    assert!(ns.get("default").await.is_ok());
    // The same CA without the token: 401.
    let mut config = kube::Config::new(server.url().parse().unwrap());
    let ca = server.ca_pem().unwrap();
    let der = base64_der(ca);
    config.root_cert = Some(vec![der]);
    let anonymous = kube::Client::try_from(config).unwrap();
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(anonymous);
    match ns.get("default").await.unwrap_err() {
        kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (401, "Unauthorized")),
        other => panic!("unexpected {other:?}"),
    }
    server.shutdown().await;
}

fn base64_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

#[tokio::test]
async fn status_subresource_patches_via_kube() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    let merged = api
        .patch_status(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}, "spec": {"replicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data["status"]["ready"], true);
    assert_eq!(merged.data["spec"]["replicas"], 1, "spec changes through /status are ignored");
    let applied = api
        .patch_status(
            "a",
            &PatchParams::apply("ctrl").force(),
            &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a"}, "status": {"observed": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.data["status"]["observed"], 1);
    assert_eq!(applied.metadata.generation, Some(1));
    let entries = applied.metadata.managed_fields.unwrap();
    assert!(entries.iter().any(|m| m.manager.as_deref() == Some("ctrl") && m.subresource.as_deref() == Some("status")));
}

#[tokio::test]
async fn metadata_only_list_watch_and_metadata_watcher() {
    let e = env_with(devserver::DevServer::builder()).await;
    let api = foos(&e.client);
    api.create(&PostParams::default(), &dynamic_foo("a", 1)).await.unwrap();
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("a"));
    let raw = e
        .raw(
            http::Method::GET,
            FOOS,
            vec![],
            "application/json",
            Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"),
        )
        .await;
    assert_eq!(raw.body["kind"], "PartialObjectMetadataList");
    assert!(raw.body["items"][0].get("spec").is_none());
    let one = api.get_metadata("a").await.unwrap();
    assert_eq!(one.metadata.name.as_deref(), Some("a"));
    let mut s = api.watch_metadata(&WatchParams::default().timeout(5), "0").await.unwrap().boxed();
    match s.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("a")),
        other => panic!("unexpected {other:?}"),
    }
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Foo"), "foos");
    let meta_api: Api<kube::core::PartialObjectMeta<DynamicObject>> =
        Api::namespaced_with(e.client.clone(), "default", &ar);
    let events: Vec<_> =
        watcher(meta_api, watcher::Config::default()).applied_objects().take(1).try_collect().await.unwrap();
    assert_eq!(events[0].metadata.name.as_deref(), Some("a"));
}
