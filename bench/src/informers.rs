//! Initial sync, retained memory and relist peak: our typed informer against kube-rs's
//! `reflector(watcher)` and against the floor (one list request decoded into a Vec), all over
//! real HTTP to the same devserver in the same run.

use std::time::{Duration, Instant};

use apis::bitcoincontroller::v1::BitcoinNetwork;
use futures::StreamExt;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use runtime::cache::{InformerOptions, SharedIndexInformer, WithoutManagedFields};
use tokio_util::sync::CancellationToken;

use crate::fixtures::namespace;
use crate::mem;

/// What one consumer cost: time to a synced cache and the bytes it kept.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sync {
    /// Seconds from start to a complete cache.
    pub seconds: f64,
    /// Heap bytes retained once synced (cache plus the consumer's machinery).
    pub retained: usize,
}

fn api(client: &kube::Client) -> Api<BitcoinNetwork> {
    Api::namespaced(client.clone(), namespace())
}

/// Our informer through the generated factory (scoped to the run's namespace, as client-go's
/// and kube-rs's are), until `has_synced`.
pub async fn ours(cs: &generated::Clientset, n: usize) -> anyhow::Result<Sync> {
    ours_with(cs, n, |b| b).await
}

/// Ours with a transform that shrinks each cached object's vectors to their length (serde grows
/// a 3-item vector to a capacity of 4): what a transform can save of the retained bytes.
pub async fn ours_shrunk(cs: &generated::Clientset, n: usize) -> anyhow::Result<Sync> {
    ours_with(cs, n, |b| b.transform_for(shrink)).await
}

/// Shrinks the vectors and strings a decoded BitcoinNetwork owns to fit.
pub fn shrink(mut net: BitcoinNetwork) -> BitcoinNetwork {
    if let Some(s) = &mut net.status {
        s.nodes.shrink_to_fit();
        s.conditions.shrink_to_fit();
    }
    if let Some(o) = &mut net.metadata.owner_references {
        o.shrink_to_fit();
    }
    if let Some(f) = &mut net.metadata.finalizers {
        f.shrink_to_fit();
    }
    net
}

async fn ours_with(
    cs: &generated::Clientset,
    n: usize,
    options: impl FnOnce(runtime::cache::SharedInformerFactoryBuilder) -> runtime::cache::SharedInformerFactoryBuilder,
) -> anyhow::Result<Sync> {
    let start = Instant::now();
    let builder = generated::SharedInformerFactory::builder(cs).namespace(namespace());
    let factory = generated::SharedInformerFactory::from_runtime(options(builder).build());
    let informer = factory.bitcoincontroller().v1().bitcoin_networks();
    factory.start();
    let synced = factory.wait_for_cache_sync(Duration::from_secs(300)).await;
    anyhow::ensure!(synced.values().all(|s| *s), "our informer did not sync: {synced:?}");
    let seconds = start.elapsed().as_secs_f64();
    let len = informer.lister().list(&Default::default()).len();
    anyhow::ensure!(len == n, "our cache holds {len} objects, expected {n}");
    drop(informer);
    let retained = release(mem::live(), async move {
        factory.shutdown().await;
        drop(factory);
    })
    .await;
    Ok(Sync { seconds, retained })
}

/// kube-rs: `reflector(watcher)` with kube's default configuration until `wait_until_ready`.
pub async fn kube_rs(client: &kube::Client, n: usize) -> anyhow::Result<Sync> {
    kube_rs_with(client, n, watcher::Config::default()).await
}

/// kube-rs with streaming lists (`watcher::Config::streaming_lists`), the list strategy our
/// informers default to: the like-for-like comparison.
pub async fn kube_rs_streaming(client: &kube::Client, n: usize) -> anyhow::Result<Sync> {
    kube_rs_with(client, n, watcher::Config::default().streaming_lists()).await
}

async fn kube_rs_with(client: &kube::Client, n: usize, config: watcher::Config) -> anyhow::Result<Sync> {
    let start = Instant::now();
    let (reader, writer) = reflector::store::<BitcoinNetwork>();
    let stream = reflector(writer, watcher(api(client), config)).applied_objects();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while stream.next().await.is_some() {}
    });
    tokio::time::timeout(Duration::from_secs(300), reader.wait_until_ready()).await??;
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(reader.len() == n, "kube-rs store holds {}, expected {n}", reader.len());
    let retained = release(mem::live(), async move {
        task.abort();
        let _ = task.await;
        drop(reader);
    })
    .await;
    Ok(Sync { seconds, retained })
}

/// What a consumer held, measured as what its teardown frees: robust against the unrelated
/// allocations of the in-process server while the consumer was syncing.
async fn release(held: usize, teardown: impl std::future::Future<Output = ()>) -> usize {
    teardown.await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    held.saturating_sub(mem::live())
}

/// The floor: one list request, decoded into a Vec.
pub async fn floor(client: &kube::Client, n: usize) -> anyhow::Result<Sync> {
    list_decode(api(client), n).await
}

/// The floor of what our informers decode: one list request decoded into a Vec while skipping
/// managedFields, as our informers do. Ours minus this is the informer machinery's own cost.
pub async fn floor_without_managed_fields(client: &kube::Client, n: usize) -> anyhow::Result<Sync> {
    list_decode(Api::<WithoutManagedFields<BitcoinNetwork>>::namespaced_with(client.clone(), namespace(), &()), n).await
}

async fn list_decode<K>(api: Api<K>, n: usize) -> anyhow::Result<Sync>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let before = mem::live();
    let start = Instant::now();
    let list = api.list(&ListParams::default()).await?;
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(list.items.len() == n, "the list held {}, expected {n}", list.items.len());
    let retained = mem::live().saturating_sub(before);
    drop(list);
    Ok(Sync { seconds, retained })
}

/// The size of one object's JSON as the server sends it.
pub async fn json_bytes_per_object(client: &kube::Client, n: usize) -> anyhow::Result<f64> {
    let req = http::Request::get(format!(
        "/apis/bitcoincontroller.christianb93.github.com/v1/namespaces/{}/bitcoinnetworks",
        namespace()
    ))
    .body(Vec::new())?;
    let text = client.request_text(req).await?;
    Ok(text.len() as f64 / n.max(1) as f64)
}

/// Extra heap during a forced relist, as a multiple of the synced cache's size.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relist {
    /// Peak heap above the synced level during the relist.
    pub extra: usize,
    /// Heap retained by the synced consumer.
    pub retained: usize,
}

/// Moves the store past every consumer's resourceVersion (a write elsewhere) and compacts at
/// that revision, so each consumer's next watch ends with 410 Expired and it relists. The
/// request log is cleared first: it is bounded, so counts over a long run are not comparable.
pub async fn force_relist(server: &devserver::DevServerHandle, client: &kube::Client) -> anyhow::Result<()> {
    server.request_log().clear();
    let cm = k8s_openapi::api::core::v1::ConfigMap {
        metadata: kube::api::ObjectMeta { generate_name: Some("relist-".into()), ..Default::default() },
        ..Default::default()
    };
    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), namespace())
        .create(&Default::default(), &cm)
        .await?;
    server.compact();
    Ok(())
}

/// Forces a relist ([`force_relist`]) and waits until it is over: once its (paged) list requests
/// stop for a second.
async fn wait_relist(server: &devserver::DevServerHandle, client: &kube::Client) -> anyhow::Result<()> {
    force_relist(server, client).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let lists = || server.request_log().count("list", "bitcoinnetworks");
    while lists() == 0 {
        anyhow::ensure!(Instant::now() < deadline, "no relist happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seen = lists();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = lists();
        if now == seen {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the relist did not finish");
        seen = now;
    }
    // Let the last page be processed and its buffers go.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

/// Our informer through a relist.
pub async fn relist_ours(server: &devserver::DevServerHandle, client: &kube::Client) -> anyhow::Result<Relist> {
    // The server runs in this process: drop its watch history now, so the compaction that forces
    // the relist frees nothing that would hide the consumer's peak.
    server.compact();
    let informer =
        SharedIndexInformer::new(api(client), watcher::Config::default().timeout(1), InformerOptions::default());
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (i, c) = (informer.clone(), cancel.clone());
        async move { i.run(c).await }
    });
    tokio::time::timeout(Duration::from_secs(300), informer.wait_for_sync()).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let synced = mem::live();
    let before_obj = informer.indexer().get_by_key(&format!("{}/net-000001", namespace()));
    let sampler = mem::PeakSampler::start();
    wait_relist(server, client).await?;
    let peak = sampler.finish();
    let after_obj = informer.indexer().get_by_key(&format!("{}/net-000001", namespace()));
    let replaced = matches!((&before_obj, &after_obj), (Some(a), Some(b)) if !std::sync::Arc::ptr_eq(a, b));
    anyhow::ensure!(replaced, "our informer did not relist");
    let retained = release(mem::live(), async move {
        cancel.cancel();
        let _ = run.await;
        drop(informer);
    })
    .await;
    Ok(Relist { extra: peak.saturating_sub(synced), retained })
}

/// kube-rs's reflector through a relist.
pub async fn relist_kube(server: &devserver::DevServerHandle, client: &kube::Client) -> anyhow::Result<Relist> {
    server.compact();
    let (reader, writer) = reflector::store::<BitcoinNetwork>();
    let stream = reflector(writer, watcher(api(client), watcher::Config::default().timeout(1))).applied_objects();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while stream.next().await.is_some() {}
    });
    tokio::time::timeout(Duration::from_secs(300), reader.wait_until_ready()).await??;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let synced = mem::live();
    let sampler = mem::PeakSampler::start();
    wait_relist(server, client).await?;
    let peak = sampler.finish();
    let retained = release(mem::live(), async move {
        task.abort();
        let _ = task.await;
        drop(reader);
    })
    .await;
    Ok(Relist { extra: peak.saturating_sub(synced), retained })
}
