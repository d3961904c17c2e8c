//! The server is never the bottleneck: a 10,000-object list and a 10,000-event watch each
//! complete well under a second (asserted with headroom for debug builds on shared machines;
//! the measured times are printed, run with `--nocapture` to see them).

mod common;
use common::*;
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use std::time::{Duration, Instant};

const N: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_objects_list_and_watch() {
    let server = devserver::DevServer::builder().history_limit(2 * N).start().await.unwrap();
    let e = Env::new(server);
    e.install_crd().await;
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Foo"), "foos");
    let api: Api<DynamicObject> = Api::namespaced_with(e.client.clone(), "default", &ar);
    let start_rv = e.dev().current_resource_version().to_string();
    let created = Instant::now();
    futures::stream::iter(0..N)
        .map(|i| {
            let api = api.clone();
            async move {
                let obj: DynamicObject = serde_json::from_value(foo(&format!("f{i:05}"), (i % 10) as i64)).unwrap();
                api.create(&PostParams::default(), &obj).await.map(|_| ())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    println!("created {N} objects in {:?}", created.elapsed());

    let t = Instant::now();
    let list = api.list(&ListParams::default()).await.unwrap();
    let list_time = t.elapsed();
    assert_eq!(list.items.len(), N);
    println!("list of {N} objects (request + decode): {list_time:?}");

    let t = Instant::now();
    let mut s = api.watch(&WatchParams::default().timeout(30), &start_rv).await.unwrap().boxed();
    let mut seen = 0;
    while seen < N {
        match s.try_next().await.unwrap() {
            Some(WatchEvent::Added(_)) => seen += 1,
            Some(other) => panic!("unexpected {other:?}"),
            None => break,
        }
    }
    let watch_time = t.elapsed();
    assert_eq!(seen, N);
    println!("watch of {N} events (request + decode): {watch_time:?}");
    let limit = if cfg!(debug_assertions) { Duration::from_secs(3) } else { Duration::from_millis(900) };
    assert!(list_time < limit, "list took {list_time:?}");
    assert!(watch_time < limit, "watch took {watch_time:?}");
    e.shutdown().await;
}
