//! The whole pipeline, runnable without a cluster:
//! reflector -> FIFO -> indexer + processor -> handlers -> queue -> workers,
//! against the workspace's devserver (a local Kubernetes-API-compatible server).
//!
//! `cargo run -p runtime --example pipeline`

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use runtime::cache::{ResourceEventHandlerFuncs, SharedInformerFactory, meta_namespace_key, split_meta_namespace_key};
use runtime::workqueue::{QueueMetrics, RateLimitingQueue, default_controller_rate_limiter};
use std::time::Duration;

fn configmap(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        data: Some([("v".to_string(), "1".to_string())].into()),
        ..Default::default()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = devserver::DevServer::builder().start().await?;
    let client = server.client()?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for name in ["alpha", "beta"] {
        api.create(&PostParams::default(), &configmap(name)).await?;
    }

    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = QueueMetrics::register(&mut registry);
    let factory = SharedInformerFactory::builder(client).namespace("default").build();
    let informer = factory.informer_for::<ConfigMap>();
    let lister = factory.lister_for::<ConfigMap>();
    let queue = RateLimitingQueue::with_metrics("configmaps", &metrics, default_controller_rate_limiter());

    // Handlers only enqueue keys; workers read the current state from the lister.
    let (q1, q2, q3) = (queue.clone(), queue.clone(), queue.clone());
    informer.add_event_handler(
        ResourceEventHandlerFuncs::<ConfigMap>::new()
            .on_add(move |o, _| q1.add(meta_namespace_key(o.as_ref())))
            .on_update(move |_, n| q2.add(meta_namespace_key(n.as_ref())))
            .on_delete(move |d| q3.add(meta_namespace_key(d.object().as_ref()))),
    );
    factory.start();
    let synced = factory.wait_for_cache_sync(Duration::from_secs(10)).await;
    anyhow::ensure!(synced.values().all(|s| *s), "not synced: {synced:?}");
    println!("synced: {synced:?}");

    let mut workers = Vec::new();
    for id in 0..2 {
        let queue = queue.clone();
        let lister = lister.clone();
        workers.push(tokio::spawn(async move {
            while let Some(key) = queue.get().await {
                let (ns, name) = split_meta_namespace_key(&key);
                match lister.namespaced(ns.unwrap_or_default()).get(name) {
                    Ok(cm) => println!(
                        "worker {id}: reconcile {key} at resourceVersion {}",
                        cm.metadata.resource_version.as_deref().unwrap_or("?")
                    ),
                    Err(e) => println!("worker {id}: {key} is gone ({e})"),
                }
                queue.forget(&key);
                queue.done(&key);
            }
        }));
    }

    let patch = serde_json::json!({"data": {"v": "2"}});
    api.patch("alpha", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    api.delete("beta", &DeleteParams::default()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    queue.shut_down_with_drain().await;
    for w in workers {
        w.await?;
    }
    factory.shutdown().await;
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    println!("{}", out.lines().filter(|l| l.starts_with("workqueue_adds")).collect::<Vec<_>>().join("\n"));
    println!(
        "requests: {} list, {} watch of configmaps",
        server.request_log().count("list", "configmaps"),
        server.request_log().count("watch", "configmaps")
    );
    server.shutdown().await;
    Ok(())
}
