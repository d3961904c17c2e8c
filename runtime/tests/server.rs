//! The informer, factory, lister and leader election over real HTTP (`kube::Client` to
//! 127.0.0.1): against the devserver, or a real kube-apiserver when `KUBE_TEST_KUBECONFIG` is
//! set (see the `testenv` crate). API load is counted on the client side
//! (`runtime::testing::Recorder`), so the counts hold on either server. Each test works in its
//! own namespace.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::core::Selector;
use kube::runtime::watcher;
use parking_lot::Mutex;
use runtime::cache::{DeletedObject, ResourceEventHandler, SharedInformerFactory};
use runtime::leader_election::{LeaderElectionConfig, LeaderElector};
use runtime::testing::Recorder as Requests;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>, Arc<AtomicUsize>);

/// `name`: every object of a test lives in the test's namespace.
fn key(o: &ConfigMap) -> String {
    o.metadata.name.clone().unwrap_or_default()
}
fn data(o: &ConfigMap) -> String {
    o.data.as_ref().and_then(|d| d.get("v").cloned()).unwrap_or_default()
}

impl ResourceEventHandler<ConfigMap> for Recorder {
    fn on_add(&self, o: Arc<ConfigMap>, initial: bool) {
        self.0.lock().push(format!("add {} {} {initial}", key(&o), data(&o)));
    }
    fn on_update(&self, old: Arc<ConfigMap>, new: Arc<ConfigMap>) {
        if old.metadata.resource_version == new.metadata.resource_version {
            self.1.fetch_add(1, Ordering::SeqCst);
        } else {
            self.0.lock().push(format!("update {} {}->{}", key(&new), data(&old), data(&new)));
        }
    }
    fn on_delete(&self, o: DeletedObject<ConfigMap>) {
        self.0.lock().push(format!("delete {} {}", key(o.object()), o.is_tombstone()));
    }
}

impl Recorder {
    fn events(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn cm(name: &str, v: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        data: Some([("v".to_string(), v.to_string())].into()),
        ..Default::default()
    }
}

async fn put(api: &Api<ConfigMap>, name: &str, v: &str) {
    match api.get_opt(name).await.unwrap() {
        Some(mut cur) => {
            cur.data = Some([("v".to_string(), v.to_string())].into());
            api.replace(name, &PostParams::default(), &cur).await.unwrap();
        }
        None => {
            api.create(&PostParams::default(), &cm(name, v)).await.unwrap();
        }
    }
}

/// Counts `verb` requests for configmaps among the recorded ones.
fn count(requests: &Requests, verb: &str) -> usize {
    requests.actions().iter().filter(|a| a.matches(verb, "configmaps")).count()
}

#[tokio::test]
async fn informer_pipeline() {
    let env = testenv::TestEnv::start().await;
    let ns = env.namespace().to_string();
    let api: Api<ConfigMap> = env.api();
    put(&api, "a", "1").await;
    put(&api, "b", "1").await;

    let requests = Requests::new();
    let factory = SharedInformerFactory::builder(requests.wrap(env.client())).namespace(ns.clone()).build();
    let informer = factory.informer_for::<ConfigMap>();
    let (h1, h2) = (Recorder::default(), Recorder::default());
    informer.add_event_handler(h1.clone());
    informer.add_event_handler(h2.clone());
    factory.start();
    let synced = factory.wait_for_cache_sync(WAIT).await;
    assert_eq!(synced, BTreeMap::from([("v1/ConfigMap".to_string(), true)]));

    put(&api, "a", "2").await;
    api.delete("b", &DeleteParams::default()).await.unwrap();
    put(&api, "c", "1").await;
    eventually("5 events each", || h1.events().len() == 5 && h2.events().len() == 5).await;
    assert_eq!(h1.events(), h2.events());
    let after = h1.events()[2..].to_vec();
    assert!(after.contains(&"update a 1->2".to_string()), "{after:?}");
    assert!(after.contains(&"delete b false".to_string()), "{after:?}");
    assert!(after.contains(&"add c 1 false".to_string()), "{after:?}");
    // Two handlers, one informer: one WATCH, which streamed the initial list
    // (sendInitialEvents, served by both servers), and no LIST.
    assert_eq!(count(&requests, "list"), 0, "{:#?}", requests.actions());
    assert_eq!(count(&requests, "watch"), 1, "{:#?}", requests.actions());

    // A late handler gets the cache replayed.
    let late = Recorder::default();
    informer.add_event_handler_with_resync(late.clone(), Some(Duration::from_secs(1)));
    eventually("replay", || late.events().len() == 2).await;
    assert!(late.events().iter().all(|e| e.ends_with(" true")), "{:?}", late.events());
    // Resync fires for it (old == new).
    eventually("resync", || late.1.load(Ordering::SeqCst) >= 2).await;

    let lister = factory.lister_for::<ConfigMap>();
    assert_eq!(lister.namespaced(&ns).list(&Selector::default()).len(), 2);
    assert_eq!(data(&lister.namespaced(&ns).get("a").unwrap()), "2");
    assert!(lister.namespaced(&ns).get("b").is_err());
    tokio::time::timeout(WAIT, factory.shutdown()).await.unwrap();
    env.shutdown().await;
}

/// Devserver only: it compacts its history on request, which etcd does on its own schedule.
#[tokio::test]
async fn devserver_only_cache_equals_server_after_compactions_and_watch_restarts() {
    converges_after_compactions(watcher::InitialListStrategy::StreamingList).await;
    converges_after_compactions(watcher::InitialListStrategy::ListWatch).await;
}

async fn converges_after_compactions(strategy: watcher::InitialListStrategy) {
    let streaming = strategy == watcher::InitialListStrategy::StreamingList;
    let env = testenv::TestEnv::devserver().await;
    let (server, ns) = (env.server(), env.namespace().to_string());
    let api: Api<ConfigMap> = env.api();
    for i in 0..5 {
        put(&api, &format!("o{i}"), "0").await;
    }
    // Watches end after 1 s, so each round the client resumes; after a
    // compaction the resume gets 410 Expired and the informer relists.
    let factory = SharedInformerFactory::builder(env.client())
        .namespace(ns)
        .tweak_list_options(move |c: watcher::Config| watcher::Config {
            initial_list_strategy: strategy.clone(),
            ..c.timeout(1)
        })
        .build();
    let informer = factory.informer_for::<ConfigMap>();
    let h = Recorder::default();
    informer.add_event_handler(h.clone());
    factory.start();
    assert!(factory.wait_for_cache_sync(WAIT).await.values().all(|s| *s));
    for round in 0..4u32 {
        for i in 0..6u32 {
            let name = format!("o{}", (i * 3 + round) % 7);
            if (i + round) % 3 == 0 {
                let _ = api.delete(&name, &DeleteParams::default()).await;
            } else {
                put(&api, &name, &round.to_string()).await;
            }
        }
        server.compact();
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    let server_state = || async {
        api.list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|o| (key(o), o.metadata.resource_version.clone().unwrap_or_default()))
            .collect::<BTreeMap<_, _>>()
    };
    let want = server_state().await;
    eventually("cache equals server", || {
        informer
            .indexer()
            .list()
            .iter()
            .map(|o| (key(o), o.metadata.resource_version.clone().unwrap_or_default()))
            .collect::<BTreeMap<_, _>>()
            == want
    })
    .await;
    let log = server.request_log();
    if !streaming {
        assert!(log.count("list", "configmaps") >= 2, "at least one relist after 410");
    } else {
        // Every (re)list was streamed over a watch: the one LIST is this test's own.
        assert_eq!(log.count("list", "configmaps"), 1, "{:#?}", log.entries());
        assert!(log.count("watch", "configmaps") >= 4, "{:#?}", log.entries());
    }
    tokio::time::timeout(WAIT, factory.shutdown()).await.unwrap();
    env.shutdown().await;
}

#[tokio::test]
async fn leader_election() {
    let env = testenv::TestEnv::start().await;
    let (client, ns) = (env.client(), env.namespace().to_string());
    let config = |id: &str| LeaderElectionConfig {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
        release_on_cancel: false,
        ..LeaderElectionConfig::new(ns.clone(), "ctrl", id)
    };
    let current = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let start = |id: &str| {
        let e = Arc::new(LeaderElector::new(client.clone(), config(id)).unwrap());
        let cancel = CancellationToken::new();
        let (c, m) = (current.clone(), max.clone());
        let task = tokio::spawn(e.clone().run(
            cancel.clone(),
            move |leading| async move {
                m.fetch_max(c.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                leading.cancelled().await;
                c.fetch_sub(1, Ordering::SeqCst);
            },
            || {},
        ));
        (e, cancel, task)
    };
    let (a, a_cancel, a_task) = start("a");
    eventually("a leads", || a.is_leader()).await;
    let (b, b_cancel, b_task) = start("b");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(a.is_leader() && !b.is_leader());
    a_cancel.cancel();
    a_task.await.unwrap();
    let t = tokio::time::Instant::now();
    eventually("b takes over", || b.is_leader()).await;
    assert!(t.elapsed() < Duration::from_millis(3300), "{:?}", t.elapsed());
    assert_eq!(max.load(Ordering::SeqCst), 1);
    b_cancel.cancel();
    b_task.await.unwrap();
    env.shutdown().await;
}

/// The event recorder on a server: an identical event becomes a series of the first one, a new
/// note a new event, and the notes on the server are the ones published.
#[tokio::test]
async fn events_are_correlated_like_client_go() {
    use k8s_openapi::api::events::v1::Event as K8sEvent;
    use runtime::events::{Event, EventType, Recorder as Events, Reporter};
    let env = testenv::TestEnv::start().await;
    let (client, ns) = (env.client(), env.namespace().to_string());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    put(&api, "subject", "1").await;
    let subject = api.get("subject").await.unwrap();
    let regarding = kube::Resource::object_ref(&subject, &());
    let recorder = Events::new(client.clone(), Reporter { controller: "test-controller".into(), instance: None });
    let scaled = |note: &str| Event {
        type_: EventType::Normal,
        reason: "Scaled".into(),
        note: Some(note.into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    for note in ["from 3 to 5", "from 3 to 5", "from 5 to 2", "from 3 to 5"] {
        recorder.publish(&scaled(note), &regarding).await.unwrap();
    }
    let events: Api<K8sEvent> = Api::namespaced(client.clone(), &ns);
    let mut got: Vec<(String, i32)> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.note.unwrap_or_default(), e.series.map_or(1, |s| s.count)))
        .collect();
    got.sort();
    assert_eq!(got, [("from 3 to 5".to_string(), 3), ("from 5 to 2".to_string(), 1)]);
    env.shutdown().await;
}
