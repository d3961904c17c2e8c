//! Side-by-side ratios (not absolute times: the machines are shared and noisy).
//!
//! * work queue vs a plain tokio channel (add/get/done per item);
//! * informer initial sync vs kube's reflector vs a raw `Api::list`, all over
//!   real HTTP to the same devserver.
//!
//! `cargo bench -p runtime --bench ratios` runs full sizes; without `--bench`
//! (e.g. `cargo test --all-targets`) it runs a tiny smoke size.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ListParams;
use kube::runtime::{reflector, watcher};
use runtime::cache::{InformerOptions, SharedIndexInformer};
use runtime::workqueue::Queue;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

async fn best_of<F: AsyncFnMut() -> Duration>(runs: usize, mut f: F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        best = best.min(f().await);
    }
    best
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (items, objects, runs) = if full { (200_000, 5_000, 5) } else { (1_000, 50, 1) };

    let queue = best_of(runs, async || {
        let q: Queue<u64> = Queue::new();
        let t = Instant::now();
        for i in 0..items {
            q.add(i);
            let k = q.get().await.unwrap_or_default();
            q.done(&k);
        }
        t.elapsed()
    })
    .await;
    let channel = best_of(runs, async || {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let t = Instant::now();
        for i in 0..items {
            let _ = tx.send(i);
            let _ = rx.recv().await;
        }
        t.elapsed()
    })
    .await;
    println!(
        "queue add/get/done vs mpsc send/recv ({items} items): {:.2}x",
        queue.as_secs_f64() / channel.as_secs_f64()
    );

    let server = devserver::DevServer::builder().start().await.expect("devserver starts");
    let client = server.client().expect("client");
    let seed: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    futures::stream::iter(0..objects)
        .for_each_concurrent(16, |i| {
            let seed = seed.clone();
            async move {
                let cm = ConfigMap {
                    metadata: kube::api::ObjectMeta { name: Some(format!("cm{i}")), ..Default::default() },
                    data: Some([("payload".to_string(), "x".repeat(512))].into()),
                    ..Default::default()
                };
                seed.create(&Default::default(), &cm).await.expect("create");
            }
        })
        .await;
    let raw = best_of(runs, async || {
        let a: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let t = Instant::now();
        let list = a.list(&ListParams::default()).await.map(|l| l.items.len());
        assert_eq!(list.ok(), Some(objects));
        t.elapsed()
    })
    .await;
    let kube_reflector = best_of(runs, async || {
        let a: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let (store, writer) = reflector::store();
        let t = Instant::now();
        let stream = reflector(writer, watcher(a, watcher::Config::default()));
        let task = tokio::spawn(stream.for_each(|_| async {}));
        let _ = store.wait_until_ready().await;
        let d = t.elapsed();
        assert_eq!(store.len(), objects);
        task.abort();
        d
    })
    .await;
    let informer = best_of(runs, async || {
        let inf = SharedIndexInformer::<ConfigMap>::new(
            Api::namespaced(client.clone(), "default"),
            watcher::Config::default(),
            InformerOptions::default(),
        );
        let cancel = CancellationToken::new();
        let t = Instant::now();
        let run = tokio::spawn({
            let inf = inf.clone();
            let c = cancel.clone();
            async move { inf.run(c).await }
        });
        inf.wait_for_sync().await;
        let d = t.elapsed();
        assert_eq!(inf.indexer().len(), objects);
        cancel.cancel();
        let _ = run.await;
        d
    })
    .await;
    println!(
        "initial sync of {objects} ConfigMaps: informer/kube-reflector {:.2}x, informer/raw-list {:.2}x, kube-reflector/raw-list {:.2}x",
        informer.as_secs_f64() / kube_reflector.as_secs_f64(),
        informer.as_secs_f64() / raw.as_secs_f64(),
        kube_reflector.as_secs_f64() / raw.as_secs_f64(),
    );
    server.shutdown().await;
}
