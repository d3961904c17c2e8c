//! Faults on demand (`devserver::faults`): for each fault kind, kube-rs's `watcher` +
//! `reflector` (and, for the stream-breaking faults, our own `runtime::cache::SharedIndexInformer`)
//! recovers, and its final state equals the server's (names and resourceVersions). Write
//! failures are reproducible: the same seed fails the same requests.

use devserver::{DevServer, DevServerHandle};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use runtime::cache::{InformerOptions, SharedIndexInformer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a client may take to converge; the tests normally finish in well under a second.
const CONVERGE: Duration = Duration::from_secs(15);

fn cm(name: &str, value: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.to_string());
    c.data = Some(BTreeMap::from([("v".to_string(), value.to_string())]));
    c
}

type State = Vec<(String, String)>;

fn names_and_rvs<'a>(objs: impl Iterator<Item = &'a ConfigMap>) -> State {
    let mut v: State = objs
        .map(|o| (o.metadata.name.clone().unwrap_or_default(), o.metadata.resource_version.clone().unwrap_or_default()))
        .collect();
    v.sort();
    v
}

/// The server's ConfigMaps in `default`, read with a fresh client (retrying transport errors,
/// e.g. right after a restart). It lists cluster-wide so that [`client_lists`] does not count it.
async fn server_state(server: &DevServerHandle) -> State {
    let api: Api<ConfigMap> = Api::all(server.client().expect("client"));
    let lp = ListParams::default().fields("metadata.namespace=default");
    for _ in 0..50 {
        if let Ok(list) = api.list(&lp).await {
            return names_and_rvs(list.items.iter());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server list keeps failing");
}

/// LIST requests the clients under test made (namespaced; [`server_state`] lists cluster-wide).
fn client_lists(server: &DevServerHandle) -> usize {
    let log = server.request_log().entries();
    log.iter().filter(|r| r.verb == "list" && r.resource == "configmaps" && r.namespace.is_some()).count()
}

/// A kube-rs watcher + reflector over ConfigMaps in `default`, driven on a task.
struct Reflector {
    reader: reflector::Store<ConfigMap>,
    task: tokio::task::JoinHandle<()>,
}

impl Reflector {
    async fn start(server: &DevServerHandle) -> Self {
        let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
        let (reader, writer) = reflector::store();
        let stream = watcher(api, watcher::Config::default()).default_backoff().reflect(writer).touched_objects();
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while stream.next().await.is_some() {}
        });
        tokio::time::timeout(CONVERGE, reader.wait_until_ready()).await.expect("reflector syncs").expect("ready");
        Reflector { reader, task }
    }

    fn state(&self) -> State {
        let objs = self.reader.state();
        names_and_rvs(objs.iter().map(|o| o.as_ref()))
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Our SharedIndexInformer over ConfigMaps in `default`, run on a task until dropped.
struct Informer {
    informer: SharedIndexInformer<ConfigMap>,
    cancel: CancellationToken,
}

impl Informer {
    async fn start(server: &DevServerHandle) -> Self {
        let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
        let informer = SharedIndexInformer::new(api, watcher::Config::default(), InformerOptions::default());
        let cancel = CancellationToken::new();
        tokio::spawn({
            let (inf, c) = (informer.clone(), cancel.clone());
            async move { inf.run(c).await }
        });
        tokio::time::timeout(CONVERGE, informer.wait_for_sync()).await.expect("informer syncs");
        Informer { informer, cancel }
    }

    fn state(&self) -> State {
        let objs = self.informer.lister().list(&kube::core::Selector::default());
        names_and_rvs(objs.iter().map(|o| o.as_ref()))
    }
}

impl Drop for Informer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Waits until `client_state` equals the server's state; fails the test with both on timeout.
async fn converges(what: &str, server: &DevServerHandle, client_state: impl Fn() -> State) -> State {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let want = server_state(server).await;
        let got = client_state();
        if got == want {
            return got;
        }
        assert!(Instant::now() < deadline, "{what} did not converge:\nclient {got:?}\nserver {want:?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Retries `op` until it succeeds (injected failures and dropped connections are transient).
async fn retry<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut last = None;
    for _ in 0..200 {
        match op().await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{what} kept failing: {last:?}");
}

/// Creates `n` ConfigMaps `prefix-i`, replaces every other one, deletes every third one, all
/// sequentially and with retries.
async fn churn(server: &DevServerHandle, prefix: &str, n: usize) {
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    let (pp, dp) = (PostParams::default(), DeleteParams::default());
    for i in 0..n {
        let obj = cm(&format!("{prefix}-{i}"), "0");
        retry("create", || api.create(&pp, &obj)).await;
    }
    for i in (0..n).step_by(2) {
        let name = format!("{prefix}-{i}");
        retry("replace", || async {
            let mut cur = api.get(&name).await?;
            cur.data = Some(BTreeMap::from([("v".to_string(), "1".to_string())]));
            api.replace(&name, &PostParams::default(), &cur).await
        })
        .await;
    }
    for i in (0..n).step_by(3) {
        let name = format!("{prefix}-{i}");
        retry("delete", || api.delete(&name, &dp)).await;
    }
}

#[tokio::test]
async fn end_watches_after_n_events_watcher_rewatches_without_relisting() {
    let server = DevServer::builder().start().await.expect("server");
    // Raw: a watch from the current revision gets exactly 2 of 5 changes, then the stream ends.
    server.faults().end_watches_after(Some(2));
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    let rv = server.current_resource_version().to_string();
    let stream = api.watch(&WatchParams::default(), &rv).await.expect("watch");
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("raw-{i}"), "0")).await.expect("create");
    }
    let events: Vec<_> = tokio::time::timeout(CONVERGE, stream.collect::<Vec<_>>()).await.expect("stream ends");
    let names: Vec<String> = events
        .iter()
        .map(|e| match e {
            Ok(WatchEvent::Added(o)) => o.metadata.name.clone().unwrap_or_default(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(names, ["raw-0", "raw-1"]);

    // Clients: every stream ends after 3 events; both resume from their last resourceVersion.
    server.faults().end_watches_after(Some(3));
    let reflector = Reflector::start(&server).await;
    let informer = Informer::start(&server).await;
    server.request_log().clear();
    churn(&server, "a", 24).await;
    let state = converges("kube-rs reflector", &server, || reflector.state()).await;
    converges("SharedIndexInformer", &server, || informer.state()).await;
    assert_eq!(state.len(), 5 + 24 - 8, "{state:?}");
    // 24 creates + 12 updates + 8 deletes = 44 events; each stream carries at most 3, per client.
    let watches = server.request_log().count("watch", "configmaps");
    assert!(watches >= 2 * 44 / 3, "only {watches} watches for 44 events in streams of 3");
    assert_eq!(client_lists(&server), 0, "a stream end must not cause a relist");
    server.shutdown().await;
}

#[tokio::test]
async fn compaction_makes_resumes_expire_and_clients_relist() {
    let server = DevServer::builder().start().await.expect("server");
    churn(&server, "before", 6).await;
    let reflector = Reflector::start(&server).await;
    let informer = Informer::start(&server).await;
    server.request_log().clear();
    // Streams end at the first change without delivering it, so both clients keep resuming from
    // their old revision until the compaction turns that into 410 Expired and they relist.
    server.faults().end_watches_after(Some(0));
    churn(&server, "during", 6).await;
    server.faults().compact();
    let expired_deadline = Instant::now() + CONVERGE;
    while client_lists(&server) < 2 {
        assert!(Instant::now() < expired_deadline, "no relist after compaction");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.faults().clear();
    churn(&server, "after", 6).await;
    converges("kube-rs reflector", &server, || reflector.state()).await;
    converges("SharedIndexInformer", &server, || informer.state()).await;
    assert!(client_lists(&server) >= 2, "both clients relisted");
    server.shutdown().await;
}

#[tokio::test]
async fn failing_writes_with_409_and_500_clients_converge() {
    let server = DevServer::builder().fault_seed(11).start().await.expect("server");
    let reflector = Reflector::start(&server).await;
    for code in [500u16, 409] {
        server.faults().fail_writes(0.3, code);
        server.request_log().clear();
        churn(&server, &format!("c{code}"), 20).await;
        let injected = server.faults().injected();
        assert!(!injected.is_empty(), "30% of the writes must fail");
        assert!(injected.iter().all(|f| f.code == code));
        let failed = server.request_log().entries().iter().filter(|r| r.status == code).count();
        assert_eq!(failed, injected.len(), "every injected fault is answered with {code}");
        // 20 creates + 10 updates + 7 deletes succeeded, plus the injected failures.
        let writes = server
            .request_log()
            .entries()
            .iter()
            .filter(|r| matches!(r.verb.as_str(), "create" | "update" | "delete"))
            .count();
        assert_eq!(writes, 37 + injected.len());
    }
    let state = converges("kube-rs reflector", &server, || reflector.state()).await;
    assert_eq!(state.len(), 2 * (20 - 7));
    // Reads never fail.
    server.faults().fail_writes(1.0, 500);
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    assert!(api.list(&ListParams::default()).await.is_ok());
    let err = api.create(&PostParams::default(), &cm("x", "0")).await.expect_err("every write fails");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 500 && s.reason == "InternalError"), "{err:?}");
    server.shutdown().await;
}

/// The failing requests (ordinal, verb, name) of one run of `churn` under `seed`.
async fn failures_with_seed(seed: u64) -> Vec<(u64, String, Option<String>)> {
    let server = DevServer::builder().fault_seed(seed).start().await.expect("server");
    server.faults().fail_writes(0.4, 409);
    churn(&server, "r", 12).await;
    let out = server.faults().injected().into_iter().map(|f| (f.ordinal, f.verb, f.name)).collect();
    server.shutdown().await;
    out
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests() {
    let a = failures_with_seed(3).await;
    assert!(a.len() >= 3, "{a:?}");
    assert_eq!(a, failures_with_seed(3).await);
    assert_ne!(a, failures_with_seed(4).await);
}

#[tokio::test]
async fn latency_delays_every_request_and_clients_still_converge() {
    let server = DevServer::builder().start().await.expect("server");
    let reflector = Reflector::start(&server).await;
    server.faults().latency(Duration::from_millis(150));
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    let t = Instant::now();
    api.list(&ListParams::default()).await.expect("list");
    assert!(t.elapsed() >= Duration::from_millis(150), "list took {:?}", t.elapsed());
    let t = Instant::now();
    churn(&server, "slow", 3).await;
    // 3 creates + 2 gets + 2 replaces + 1 delete, each delayed.
    assert!(t.elapsed() >= Duration::from_millis(8 * 150), "churn took {:?}", t.elapsed());
    converges("kube-rs reflector", &server, || reflector.state()).await;
    server.faults().latency(Duration::ZERO);
    churn(&server, "fast", 3).await;
    converges("kube-rs reflector", &server, || reflector.state()).await;
    server.shutdown().await;
}

async fn restart_keeps_state_and_clients_reconnect(tls: bool) {
    let mut server = DevServer::builder().tls(tls).start().await.expect("server");
    churn(&server, "before", 6).await;
    let reflector = Reflector::start(&server).await;
    let informer = Informer::start(&server).await;
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    let open = api.watch(&WatchParams::default(), &server.current_resource_version().to_string()).await.expect("watch");
    let (url, rv, state) = (server.url().to_string(), server.current_resource_version(), server_state(&server).await);
    let watches = server.request_log().count("watch", "configmaps");

    server.restart().await.expect("restart");
    assert_eq!(server.url(), url, "same port");
    assert_eq!(server.current_resource_version(), rv, "resourceVersion kept");
    assert_eq!(server_state(&server).await, state, "objects and resourceVersions kept");
    // The watch that was open before the restart has ended (dropped connection).
    let rest: Vec<_> = tokio::time::timeout(CONVERGE, open.collect::<Vec<_>>()).await.expect("old watch ends");
    assert!(rest.iter().all(|e| !matches!(e, Ok(WatchEvent::Added(_)))), "{rest:?}");

    churn(&server, "after", 6).await;
    converges("kube-rs reflector", &server, || reflector.state()).await;
    converges("SharedIndexInformer", &server, || informer.state()).await;
    assert!(server.request_log().count("watch", "configmaps") >= watches + 2, "both clients re-watched");
    server.shutdown().await;
}

#[tokio::test]
async fn restart_on_the_same_port_keeps_state_and_clients_reconnect() {
    restart_keeps_state_and_clients_reconnect(false).await;
}

#[tokio::test]
async fn restart_over_https_keeps_state_and_clients_reconnect() {
    restart_keeps_state_and_clients_reconnect(true).await;
}

#[tokio::test]
async fn in_process_server_applies_write_failures_too() {
    let s = DevServer::builder().fault_seed(5).in_process();
    s.faults().fail_writes(1.0, 409);
    let api: Api<ConfigMap> = Api::namespaced(s.client(), "default");
    let err = api.create(&PostParams::default(), &cm("a", "0")).await.expect_err("fails");
    assert!(matches!(err, kube::Error::Api(ref st) if st.code == 409 && st.reason == "Conflict"), "{err:?}");
    assert_eq!(s.faults().injected().len(), 1);
    s.faults().clear();
    api.create(&PostParams::default(), &cm("a", "0")).await.expect("create after clear");
}

fn foo_crd() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "foos", "singular": "foo", "kind": "Foo", "listKind": "FooList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    }))
    .expect("CRD")
}

fn foo_api(client: kube::Client) -> Api<kube::api::DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk("example.com", "v1", "Foo");
    Api::namespaced_with(client, "default", &kube::api::ApiResource::from_gvk_with_plural(&gvk, "foos"))
}

#[tokio::test]
async fn data_dir_state_survives_a_devserver_restart_and_clients_reconnect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = DevServer::builder().data_dir(dir.path()).start().await.expect("server");
    let addr = server.addr();
    churn(&server, "p", 9).await;
    let client = server.client().expect("client");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    crds.create(&PostParams::default(), &foo_crd()).await.expect("crd");
    let mut foo = kube::api::DynamicObject::new(
        "f1",
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("example.com", "v1", "Foo"),
            "foos",
        ),
    );
    foo.data = serde_json::json!({"spec": {"size": 3}});
    let foo = foo_api(client.clone()).create(&PostParams::default(), &foo).await.expect("foo");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let default_ns = namespaces.get("default").await.expect("namespace");
    let reflector = Reflector::start(&server).await;
    let (before, rv) = (server_state(&server).await, server.current_resource_version());
    server.shutdown().await;
    assert!(dir.path().join(devserver::persist::STATE_FILE).exists());

    // A new server process on the same port and data directory.
    let server = DevServer::builder().addr(addr).data_dir(dir.path()).start().await.expect("restarted server");
    assert_eq!(server_state(&server).await, before, "names and resourceVersions kept");
    assert_eq!(server.current_resource_version(), rv, "the revision continues where it stopped");
    let client = server.client().expect("client");
    let again = foo_api(client.clone()).get("f1").await.expect("the CRD serves its resource again");
    assert_eq!(again.metadata.resource_version, foo.metadata.resource_version);
    assert_eq!(again.data["spec"]["size"], 3);
    let ns = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone()).get("default").await.expect("ns");
    assert_eq!(ns.metadata.uid, default_ns.metadata.uid, "bootstrap namespaces are not re-created");
    assert_eq!(ns.metadata.resource_version, default_ns.metadata.resource_version);

    // The reflector from before the restart reconnects and follows new writes; they get newer
    // resourceVersions than anything persisted.
    churn(&server, "q", 3).await;
    converges("kube-rs reflector", &server, || reflector.state()).await;
    let q0 = Api::<ConfigMap>::namespaced(client, "default").get("q-1").await.expect("q-1");
    let q0_rv: u64 = q0.metadata.resource_version.as_deref().unwrap_or("0").parse().expect("numeric rv");
    assert!(q0_rv > rv, "{q0_rv} must be newer than {rv}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_malformed_state_file_is_a_clear_start_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(devserver::persist::STATE_FILE), b"{\"format\": 1, \"resources\": ").expect("write");
    let err = DevServer::builder().data_dir(dir.path()).start().await.err().expect("refuses to start");
    let msg = format!("{err:#}");
    assert!(msg.contains("state.json") && msg.contains("not JSON"), "{msg}");
    std::fs::write(dir.path().join(devserver::persist::STATE_FILE), b"{\"format\": 99}").expect("write");
    let err = DevServer::builder().data_dir(dir.path()).start().await.err().expect("refuses to start");
    assert!(format!("{err:#}").contains("unsupported format"), "{err:#}");
}
