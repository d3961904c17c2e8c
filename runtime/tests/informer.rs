//! Informer, factory and lister over kube's watcher, against an in-process
//! API server (tests/common) through a real `kube::Client`.

mod common;

use common::{FakeApi, configmap};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::core::Selector;
use kube::runtime::watcher;
use parking_lot::Mutex;
use runtime::cache::{
    DeletedObject, InformerOptions, ResourceEventHandler, ResourceEventHandlerFuncs, SharedIndexInformer,
    SharedInformerFactory,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Records every notification as a line of text.
#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<String>>>,
    tombstones: Arc<Mutex<Vec<String>>>,
    syncs: Arc<Mutex<usize>>,
    managed_fields_seen: Arc<Mutex<bool>>,
}

fn key(o: &ConfigMap) -> String {
    format!("{}/{}", o.metadata.namespace.as_deref().unwrap_or(""), o.metadata.name.as_deref().unwrap_or(""))
}
fn data(o: &ConfigMap) -> String {
    o.data.as_ref().and_then(|d| d.get("v").cloned()).unwrap_or_default()
}

impl ResourceEventHandler<ConfigMap> for Recorder {
    fn on_add(&self, obj: Arc<ConfigMap>, initial: bool) {
        // Asserting here would be swallowed (handler panics are caught and
        // logged), so record it and assert in the test body.
        if obj.metadata.managed_fields.is_some() {
            *self.managed_fields_seen.lock() = true;
        }
        self.events.lock().push(format!("add {} {} initial={initial}", key(&obj), data(&obj)));
    }
    fn on_update(&self, old: Arc<ConfigMap>, new: Arc<ConfigMap>) {
        if Arc::ptr_eq(&old, &new) || old.metadata.resource_version == new.metadata.resource_version {
            *self.syncs.lock() += 1;
            return;
        }
        self.events.lock().push(format!("update {} {}->{}", key(&new), data(&old), data(&new)));
    }
    fn on_delete(&self, obj: DeletedObject<ConfigMap>) {
        if let DeletedObject::Tombstone(t) = &obj {
            self.tombstones.lock().push(t.key.clone());
        }
        self.events.lock().push(format!("delete {} tombstone={}", key(obj.object()), obj.is_tombstone()));
    }
}

impl Recorder {
    fn events(&self) -> Vec<String> {
        self.events.lock().clone()
    }
}

async fn eventually(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn informer(api: &FakeApi) -> SharedIndexInformer<ConfigMap> {
    SharedIndexInformer::new(
        Api::namespaced(api.client(), "ns"),
        watcher::Config::default(),
        InformerOptions::default(),
    )
}

const WAIT: Duration = Duration::from_secs(15);

/// Runs the informer on its own task; cancel the token to stop it.
fn spawn_run<K>(inf: &SharedIndexInformer<K>) -> (CancellationToken, tokio::task::JoinHandle<()>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let inf = inf.clone();
        let c = cancel.clone();
        async move { inf.run(c).await }
    });
    (cancel, run)
}

#[tokio::test]
async fn two_handlers_see_same_events_in_order_over_one_watch() {
    let api = FakeApi::new();
    api.upsert("configmaps", configmap("ns", "a", "1"));
    api.upsert("configmaps", configmap("ns", "b", "1"));
    let inf = informer(&api);
    let (h1, h2) = (Recorder::default(), Recorder::default());
    let r1 = inf.add_event_handler(h1.clone());
    let r2 = inf.add_event_handler(h2.clone());
    let (cancel, run) = spawn_run(&inf);
    tokio::time::timeout(WAIT, inf.wait_for_sync()).await.unwrap();
    eventually("handlers synced", WAIT, || r1.has_synced() && r2.has_synced()).await;
    let mut initial = h1.events();
    initial.sort();
    assert_eq!(initial, vec!["add ns/a 1 initial=true", "add ns/b 1 initial=true"]);

    api.upsert("configmaps", configmap("ns", "a", "2"));
    api.remove("configmaps", "ns", "b");
    api.upsert("configmaps", configmap("ns", "c", "1"));
    api.upsert("configmaps", configmap("ns", "a", "3"));
    eventually("6 events", WAIT, || h1.events().len() == 6 && h2.events().len() == 6).await;
    assert_eq!(h1.events(), h2.events(), "both handlers see the same sequence");
    assert!(!*h1.managed_fields_seen.lock(), "managedFields are skipped by default");
    // The Delta FIFO keeps per-key order (it may coalesce a key's pending
    // deltas into one pop, so keys can interleave differently than on the wire).
    let after: Vec<String> = h1.events()[2..].to_vec();
    let of = |k: &str| -> Vec<String> { after.iter().filter(|e| e.contains(k)).cloned().collect() };
    assert_eq!(of("ns/a"), ["update ns/a 1->2", "update ns/a 2->3"]);
    assert_eq!(of("ns/b"), ["delete ns/b tombstone=false"]);
    assert_eq!(of("ns/c"), ["add ns/c 1 initial=false"]);
    // One list and one watch served both handlers.
    assert_eq!(api.watch_requests("configmaps"), 1, "{:#?}", api.log());
    let lists = api.log().iter().filter(|l| l.starts_with("GET") && !l.contains("watch=true")).count();
    assert_eq!(lists, 1, "{:#?}", api.log());
    assert_eq!(inf.last_sync_resource_version(), Some(api.resource_version().to_string()));
    // The lister reads the same cache.
    let lister = inf.lister();
    assert_eq!(lister.namespaced("ns").get("a").map(|o| data(&o)).unwrap(), "3");
    assert!(lister.namespaced("ns").get("b").is_err());
    assert_eq!(r1.pending_notifications(), 0);

    cancel.cancel();
    tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
}

#[tokio::test]
async fn managed_fields_are_skipped_unless_kept() {
    let api = FakeApi::new();
    api.upsert("configmaps", configmap("ns", "a", "1"));
    for keep in [false, true] {
        let inf = SharedIndexInformer::new(
            Api::<ConfigMap>::namespaced(api.client(), "ns"),
            watcher::Config::default(),
            InformerOptions { keep_managed_fields: keep, ..Default::default() },
        );
        let h = Recorder::default();
        inf.add_event_handler(h.clone());
        let (cancel, run) = spawn_run(&inf);
        tokio::time::timeout(WAIT, inf.wait_for_sync()).await.unwrap();
        // A watch event is decoded the same way as the list.
        api.upsert("configmaps", configmap("ns", "b", "1"));
        eventually("two adds", WAIT, || h.events().len() == 2).await;
        let cached = inf.lister().namespaced("ns").list(&Default::default());
        assert_eq!(cached.len(), 2);
        for o in &cached {
            assert_eq!(o.metadata.managed_fields.is_some(), keep, "keep_managed_fields={keep}: {o:?}");
            assert_eq!(o.metadata.labels.as_ref().and_then(|l| l.get("app")).map(String::as_str), Some("demo"));
        }
        assert_eq!(*h.managed_fields_seen.lock(), keep);
        cancel.cancel();
        tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn in_order_informer_keeps_global_event_order() {
    let api = FakeApi::new();
    api.upsert("configmaps", configmap("ns", "a", "1"));
    let inf = SharedIndexInformer::new(
        Api::namespaced(api.client(), "ns"),
        watcher::Config::default(),
        InformerOptions { in_order: true, ..Default::default() },
    );
    let (h1, h2) = (Recorder::default(), Recorder::default());
    inf.add_event_handler(h1.clone());
    inf.add_event_handler(h2.clone());
    let (cancel, run) = spawn_run(&inf);
    tokio::time::timeout(WAIT, inf.wait_for_sync()).await.unwrap();
    api.upsert("configmaps", configmap("ns", "a", "2"));
    api.upsert("configmaps", configmap("ns", "b", "1"));
    api.upsert("configmaps", configmap("ns", "a", "3"));
    api.remove("configmaps", "ns", "b");
    eventually("5 events", WAIT, || h1.events().len() == 5 && h2.events().len() == 5).await;
    assert_eq!(h1.events(), h2.events());
    assert_eq!(
        h1.events(),
        [
            "add ns/a 1 initial=true",
            "update ns/a 1->2",
            "add ns/b 1 initial=false",
            "update ns/a 2->3",
            "delete ns/b tombstone=false",
        ]
    );
    cancel.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn relist_after_410_yields_tombstones() {
    let api = FakeApi::new();
    api.upsert("configmaps", configmap("ns", "keep", "1"));
    api.upsert("configmaps", configmap("ns", "gone", "1"));
    let inf = informer(&api);
    let h = Recorder::default();
    inf.add_event_handler(h.clone());
    let (cancel, run) = spawn_run(&inf);
    tokio::time::timeout(WAIT, inf.wait_for_sync()).await.unwrap();
    // Deleted while the watch was down; history compacted, so the re-watch
    // gets 410 Expired and the watcher relists.
    api.remove_silently("configmaps", "ns", "gone");
    eventually("tombstone", WAIT, || !h.tombstones.lock().is_empty()).await;
    assert_eq!(*h.tombstones.lock(), vec!["ns/gone".to_string()]);
    assert!(inf.indexer().get_by_key("ns/gone").is_none());
    // The unchanged object was not re-announced to a handler without resync.
    assert_eq!(h.events().iter().filter(|e| e.contains("ns/keep")).count(), 1, "{:?}", h.events());
    cancel.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn late_handler_gets_replay_and_resync_fires() {
    let api = FakeApi::new();
    for n in ["a", "b", "c"] {
        api.upsert("configmaps", configmap("ns", n, "1"));
    }
    let inf = informer(&api);
    let (cancel, run) = spawn_run(&inf);
    tokio::time::timeout(WAIT, inf.wait_for_sync()).await.unwrap();
    let late = Recorder::default();
    let reg = inf.add_event_handler_with_resync(late.clone(), Some(Duration::from_secs(1)));
    eventually("replay", WAIT, || late.events().len() == 3).await;
    let mut ev = late.events();
    ev.sort();
    assert_eq!(ev, ["add ns/a 1 initial=true", "add ns/b 1 initial=true", "add ns/c 1 initial=true"]);
    eventually("late handler synced", WAIT, || reg.has_synced()).await;
    // Resync: every cached object re-delivered as update(old == new).
    eventually("resync", WAIT, || *late.syncs.lock() >= 3).await;
    // Removing the handler stops delivery.
    assert!(inf.remove_event_handler(&reg));
    let before = late.events().len();
    api.upsert("configmaps", configmap("ns", "d", "1"));
    eventually("cache has d", WAIT, || inf.indexer().get_by_key("ns/d").is_some()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(late.events().len(), before);
    cancel.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn cache_converges_after_repeated_watch_drops_and_410s() {
    let api = FakeApi::new();
    for i in 0..10 {
        api.upsert("configmaps", configmap("ns", &format!("o{i}"), "0"));
    }
    let inf = informer(&api);
    let h = Recorder::default();
    inf.add_event_handler(h.clone());
    let (cancel, run) = spawn_run(&inf);
    tokio::time::timeout(WAIT, inf.wait_for_sync()).await.unwrap();
    let cache_state = || -> BTreeMap<String, String> {
        inf.indexer().list().iter().map(|o| (key(o), o.metadata.resource_version.clone().unwrap_or_default())).collect()
    };
    for round in 0..6u32 {
        // Mutate, then break the watch in a different way each round.
        for i in 0..10u32 {
            let name = format!("o{}", (i * 7 + round) % 13);
            match (i + round) % 3 {
                0 => {
                    api.remove("configmaps", "ns", &name);
                }
                _ => {
                    api.upsert("configmaps", configmap("ns", &name, &format!("{round}")));
                }
            }
        }
        let watches = api.watch_requests("configmaps");
        match round % 3 {
            0 => api.drop_watches(),
            1 => api.expire(),
            _ => {
                api.remove_silently("configmaps", "ns", &format!("o{round}"));
            }
        }
        eventually("watch re-established", WAIT, || api.watch_requests("configmaps") > watches).await;
        api.upsert("configmaps", configmap("ns", &format!("late{round}"), "x"));
    }
    eventually("cache equals server state", Duration::from_secs(30), || cache_state() == api.state_of("configmaps"))
        .await;
    assert!(api.watch_requests("configmaps") >= 7, "watches were re-established");
    cancel.cancel();
    run.await.unwrap();
}

#[tokio::test]
async fn factory_shares_one_informer_per_type_and_syncs() {
    let api = FakeApi::new();
    api.upsert("configmaps", configmap("ns", "a", "1"));
    api.upsert("configmaps", configmap("other", "b", "1"));
    let factory = SharedInformerFactory::builder(api.client())
        .namespace("ns")
        .tweak_list_options(|c| c.labels("app=demo"))
        .default_resync(None)
        .build();
    let i1 = factory.informer_for::<ConfigMap>();
    let i2 = factory.informer_for::<ConfigMap>();
    let seen = Arc::new(Mutex::new(0));
    let s1 = seen.clone();
    i1.add_event_handler(ResourceEventHandlerFuncs::new().on_add(move |_, _| *s1.lock() += 1));
    let s2 = seen.clone();
    i2.add_event_handler(ResourceEventHandlerFuncs::new().on_add(move |_, _| *s2.lock() += 1));
    factory.start();
    factory.start();
    let synced = factory.wait_for_cache_sync(WAIT).await;
    assert_eq!(synced, BTreeMap::from([("v1/ConfigMap".to_string(), true)]));
    eventually("both handlers got the add", WAIT, || *seen.lock() == 2).await;
    // The fake server refuses streaming lists (no WatchList), so the one informer fell back:
    // its refused streaming watch, then one list and one watch.
    let log = api.log();
    assert_eq!(api.watch_requests("configmaps"), 2, "{log:#?}");
    assert!(log[0].contains("sendInitialEvents=true") && log[0].contains("watch=true"), "{log:#?}");
    let lists = log.iter().filter(|l| !l.contains("watch=true")).count();
    assert_eq!(lists, 1, "{log:#?}");
    assert!(!log[1..].iter().any(|l| l.contains("sendInitialEvents")), "{log:#?}");
    let lister = factory.lister_for::<ConfigMap>();
    // Only namespace "ns" is watched.
    assert_eq!(lister.list(&Selector::default()).len(), 1);
    assert!(
        api.log().iter().any(|l| l.contains("labelSelector=app%3Ddemo") || l.contains("labelSelector=app=demo")),
        "{:#?}",
        api.log()
    );
    tokio::time::timeout(WAIT, factory.shutdown()).await.unwrap();
    assert!(i1.is_started());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn slow_handler_blocks_neither_other_handlers_nor_the_cache() {
    let api = FakeApi::new();
    let inf = informer(&api);
    let fast = Recorder::default();
    inf.add_event_handler(fast.clone());
    let slow_seen = Arc::new(Mutex::new(0usize));
    let s = slow_seen.clone();
    let slow = inf.add_event_handler(ResourceEventHandlerFuncs::<ConfigMap>::new().on_add(move |_, _| {
        std::thread::sleep(Duration::from_millis(300));
        *s.lock() += 1;
    }));
    let (cancel, run) = spawn_run(&inf);
    tokio::time::timeout(WAIT, inf.wait_for_sync()).await.unwrap();
    for i in 0..10 {
        api.upsert("configmaps", configmap("ns", &format!("o{i}"), "1"));
    }
    eventually("fast handler saw all", WAIT, || fast.events().len() == 10).await;
    eventually("cache has all", WAIT, || inf.indexer().len() == 10).await;
    // The slow handler is still working through its own buffer.
    assert!(*slow_seen.lock() < 10);
    assert!(slow.pending_notifications() > 0, "its backlog is visible");
    cancel.cancel();
    tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
}

/// A kind whose default dynamic type names no resource: the informer cannot rebuild its `Api`
/// for decoding without managedFields, so it decodes in full from the given `Api` and strips.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
struct Dynamic(ConfigMap);

impl kube::Resource for Dynamic {
    type DynamicType = String;
    type Scope = kube::core::DynamicResourceScope;
    fn kind(_: &String) -> std::borrow::Cow<'_, str> {
        "ConfigMap".into()
    }
    fn group(_: &String) -> std::borrow::Cow<'_, str> {
        "".into()
    }
    fn version(_: &String) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural(plural: &String) -> std::borrow::Cow<'_, str> {
        if plural.is_empty() { "unknown".into() } else { plural.as_str().into() }
    }
    fn meta(&self) -> &kube::api::ObjectMeta {
        &self.0.metadata
    }
    fn meta_mut(&mut self) -> &mut kube::api::ObjectMeta {
        &mut self.0.metadata
    }
}

#[tokio::test]
async fn an_api_the_informer_cannot_rebuild_is_used_as_given() {
    let api = FakeApi::new();
    api.upsert("configmaps", configmap("ns", "a", "1"));
    let inf = SharedIndexInformer::new(
        Api::<Dynamic>::namespaced_with(api.client(), "ns", &"configmaps".to_string()),
        watcher::Config::default(),
        InformerOptions::default(),
    );
    let (cancel, run) = spawn_run(&inf);
    tokio::time::timeout(WAIT, inf.wait_for_sync()).await.unwrap();
    let cached = inf.indexer().list();
    assert_eq!(cached.len(), 1, "{:#?}", api.log());
    assert!(cached[0].0.metadata.managed_fields.is_none());
    assert!(api.log().iter().all(|l| l.contains("/configmaps")), "{:#?}", api.log());
    cancel.cancel();
    tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
}
