//! What `--data-dir` durability costs: ConfigMap creates per second against an in-memory
//! devserver and one that fsyncs every write before answering (group commit), with many writers
//! (the fsync is shared; and, to see what that gains, with group commit off) and with one (every
//! create waits for its own fsync). The devserver runs
//! on a runtime of its own, as in the other devserver sections.

use std::path::Path;
use std::time::Instant;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

/// Creates per second with `writers` concurrent writers, `total` creates in all, on a fresh
/// devserver (with `data_dir`: durable, sharing fsyncs when `group_commit`).
pub async fn creates_per_second(
    data_dir: Option<&Path>,
    group_commit: bool,
    writers: usize,
    total: usize,
) -> anyhow::Result<f64> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("devserver").enable_all().build()?;
    let mut builder = devserver::DevServer::builder().group_commit(group_commit);
    if let Some(dir) = data_dir {
        builder = builder.data_dir(dir);
    }
    let handle = runtime.spawn(async move { builder.start().await }).await??;
    let client = handle.client()?;
    let per_writer = total / writers;
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let mut cm = ConfigMap::default();
                    cm.metadata.name = Some(format!("w{w}-{i}"));
                    cm.data = Some([("k".to_string(), "v".repeat(200))].into());
                    api.create(&PostParams::default(), &cm).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let rate = (per_writer * writers) as f64 / started.elapsed().as_secs_f64();
    runtime.spawn(async move { handle.shutdown().await }).await?;
    runtime.shutdown_background();
    Ok(rate)
}
