//! Seed 002's node informer, in Rust on the generated built-in crate: one shared informer on
//! Nodes (list once, then watch), a resync period as a safety net for a dropped update, and
//! handlers that report nodes appearing and leaving and the storage their container images
//! occupy changing. Runs outside the cluster with a kubeconfig, or inside it as a pod with its
//! service account.
//!
//! ```text
//! node-informer [--kubeconfig PATH] [--context NAME] [--in-cluster] [--selector k=v]
//!               [--resync-secs 30] [--exit-after-events N]
//! ```
//!
//! One line per event on stdout: `added node NAME images=N bytes=B`,
//! `images changed on node NAME: OLD -> NEW bytes`, `deleted node NAME`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use k8s_openapi::api::core::v1::Node;
use kubernetes::{Clientset, SharedInformerFactory};
use runtime::cache::ResourceEventHandlerFuncs;
use tokio::sync::Notify;

/// Watch Nodes and report changes to the storage their images occupy.
#[derive(Parser, Debug)]
#[command(name = "node-informer", version)]
struct Args {
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config, then the in-cluster account).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Context of the kubeconfig.
    #[arg(long)]
    context: Option<String>,
    /// Use the pod's service account, not a kubeconfig.
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    in_cluster: bool,
    /// Only nodes matching this label selector.
    #[arg(long)]
    selector: Option<String>,
    /// Resync period in seconds (0: none): every node is re-delivered as an update this often.
    #[arg(long, default_value_t = 30)]
    resync_secs: u64,
    /// Exit after this many reported events (for tests and demos); run until Ctrl-C otherwise.
    #[arg(long)]
    exit_after_events: Option<usize>,
}

/// The bytes the node's images occupy, and how many images there are.
fn image_storage(node: &Node) -> (usize, i64) {
    let images = node.status.as_ref().and_then(|s| s.images.as_deref()).unwrap_or_default();
    (images.len(), images.iter().filter_map(|i| i.size_bytes).sum())
}

fn name(node: &Node) -> &str {
    node.metadata.name.as_deref().unwrap_or_default()
}

async fn clientset(args: &Args) -> Result<Clientset> {
    if args.in_cluster {
        return Clientset::in_cluster().map_err(|e| anyhow::anyhow!("in-cluster configuration: {e}"));
    }
    if args.kubeconfig.is_none() && args.context.is_none() {
        return Clientset::try_default().await.context("no kubeconfig and not in a cluster");
    }
    Clientset::from_kubeconfig(args.kubeconfig.as_deref(), args.context.as_deref())
        .await
        .context("reading the kubeconfig")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let clientset = clientset(&args).await?;
    let resync = (args.resync_secs > 0).then(|| Duration::from_secs(args.resync_secs));
    let mut builder = SharedInformerFactory::builder(&clientset).default_resync(resync);
    if let Some(selector) = args.selector.clone() {
        builder = builder.tweak_list_options(move |c| c.labels(&selector));
    }
    let factory = SharedInformerFactory::from_runtime(builder.build());
    let nodes = factory.core().v1().nodes();

    let reported = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let limit = args.exit_after_events;
    let report = {
        let (reported, done) = (reported.clone(), done.clone());
        move |line: String| {
            println!("{line}");
            let n = reported.fetch_add(1, Ordering::SeqCst) + 1;
            if limit.is_some_and(|l| n >= l) {
                done.notify_one();
            }
        }
    };
    let (on_add, on_update, on_delete) = (report.clone(), report.clone(), report);
    nodes.informer().add_event_handler(
        ResourceEventHandlerFuncs::new()
            .on_add(move |node: Arc<Node>, _| {
                let (count, bytes) = image_storage(&node);
                on_add(format!("added node {} images={count} bytes={bytes}", name(&node)));
            })
            .on_update(move |old: Arc<Node>, new: Arc<Node>| {
                let (before, after) = (image_storage(&old).1, image_storage(&new).1);
                // A resync re-delivers the same object: nothing changed, nothing to say.
                if before != after {
                    on_update(format!("images changed on node {}: {before} -> {after} bytes", name(&new)));
                }
            })
            .on_delete(move |node| on_delete(format!("deleted node {}", name(node.object())))),
    );
    factory.start();
    let synced = factory.wait_for_cache_sync(Duration::from_secs(60)).await;
    anyhow::ensure!(synced.values().all(|s| *s), "the node cache did not sync within 60 s");
    // The lister reads the cache, not the server.
    eprintln!("node-informer: watching {} node(s)", nodes.lister().list(&Default::default()).len());
    tokio::select! {
        _ = done.notified() => {}
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
    }
    factory.shutdown().await;
    Ok(())
}
