//! Watch throughput: the same recorded stream of watch events, replayed from memory to each
//! consumer, so the number measured is the client's cost per event, not the server's.
//!
//! The stream updates 1,000 objects round-robin and ends with an object named `last`; a
//! consumer is done when its handler (or stream) sees `last`. Ours coalesces per key (Delta
//! FIFO semantics), so its handler may see fewer intermediate updates than kube-rs's stream:
//! that saving is the point of the design, and it is counted as throughput of the same stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apis::bitcoincontroller::v1::BitcoinNetwork;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use kube::api::{Api, WatchEvent};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use runtime::cache::{InformerOptions, ResourceEventHandlerFuncs, SharedIndexInformer};
use tokio_util::sync::CancellationToken;

use crate::fixtures::{namespace, network, status};

/// `n` MODIFIED events over 1,000 objects, then `last` ADDED, as newline-delimited JSON.
pub fn record(n: usize) -> Bytes {
    let keys = 1000.min(n.max(1));
    let mut objects: Vec<serde_json::Value> = (0..keys)
        .map(|i| {
            let mut net = network(i);
            net.status = Some(status(&net));
            let mut v = serde_json::to_value(&net).unwrap_or_default();
            v["metadata"]["uid"] = format!("00000000-0000-0000-0000-{i:012}").into();
            v["metadata"]["managedFields"] = serde_json::json!([
                {"manager": "kubectl", "operation": "Update", "apiVersion": "bitcoincontroller.christianb93.github.com/v1",
                 "time": "2026-11-21T00:00:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:team": {}}}, "f:spec": {".": {}, "f:nodes": {}}}},
                {"manager": "bitcoin-controller", "operation": "Update", "apiVersion": "bitcoincontroller.christianb93.github.com/v1",
                 "time": "2026-11-21T00:00:00Z", "fieldsType": "FieldsV1", "subresource": "status",
                 "fieldsV1": {"f:status": {".": {}, "f:nodes": {}, "f:readyNodes": {}, "f:conditions": {}}}}
            ]);
            v
        })
        .collect();
    let mut out = Vec::with_capacity(n * 3000);
    for i in 0..n {
        let obj = &mut objects[i % keys];
        obj["metadata"]["resourceVersion"] = (i + 2).to_string().into();
        obj["spec"]["nodes"] = ((i / keys) % 1000).into();
        event_line(&mut out, "MODIFIED", obj);
    }
    let mut last = serde_json::to_value(network(0)).unwrap_or_default();
    last["metadata"]["name"] = "last".into();
    last["metadata"]["resourceVersion"] = (n + 2).to_string().into();
    event_line(&mut out, "ADDED", &last);
    Bytes::from(out)
}

/// One watch event as the API server writes it: `type` first, then `object` (Go's field order).
/// The order matters to every decoder: with `object` first (what a sorted JSON map would give),
/// serde must buffer the whole object before it knows the event type.
fn event_line(out: &mut Vec<u8>, ty: &str, obj: &serde_json::Value) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(ty.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    serde_json::to_writer(&mut *out, obj).unwrap_or_default();
    out.extend_from_slice(b"}\n");
}

type Body = BoxBody<Bytes, Infallible>;

/// A client whose server answers the list with nothing and the first watch with `events`;
/// later watches stay open and silent, so no consumer relists or replays.
fn replay_client(events: Bytes) -> kube::Client {
    let served = Arc::new(AtomicBool::new(false));
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let served = served.clone();
        let events = events.clone();
        async move {
            let watch = req.uri().query().is_some_and(|q| q.contains("watch=true") || q.contains("watch=1"));
            let body: Body = if !watch {
                let list = serde_json::json!({"apiVersion": "bitcoincontroller.christianb93.github.com/v1", "kind": "BitcoinNetworkList", "metadata": {"resourceVersion": "1"}, "items": []});
                Full::new(Bytes::from(list.to_string())).boxed()
            } else if !served.swap(true, Ordering::SeqCst) {
                Full::new(events).boxed()
            } else {
                BodyExt::boxed(StreamBody::new(
                    futures::stream::pending::<Result<http_body::Frame<Bytes>, Infallible>>(),
                ))
            };
            Ok::<_, Infallible>(
                http::Response::builder().header("content-type", "application/json").body(body).unwrap_or_default(),
            )
        }
    });
    kube::Client::new(service, namespace())
}

fn api(client: kube::Client) -> Api<BitcoinNetwork> {
    Api::namespaced(client, namespace())
}

/// Events per second through our informer to one handler.
pub async fn ours(events: &Bytes, n: usize) -> anyhow::Result<f64> {
    let informer = SharedIndexInformer::new(
        api(replay_client(events.clone())),
        watcher::Config::default(),
        InformerOptions::default(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let seen = Arc::new(AtomicUsize::new(0));
    let seen2 = seen.clone();
    informer.add_event_handler(
        ResourceEventHandlerFuncs::<BitcoinNetwork>::new()
            .on_update(move |_, _| {
                seen2.fetch_add(1, Ordering::Relaxed);
            })
            .on_add(move |o, _| {
                if o.metadata.name.as_deref() == Some("last")
                    && let Some(tx) = tx.lock().ok().and_then(|mut t| t.take())
                {
                    let _ = tx.send(());
                }
            }),
    );
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let run = tokio::spawn({
        let (i, c) = (informer.clone(), cancel.clone());
        async move { i.run(c).await }
    });
    tokio::time::timeout(Duration::from_secs(600), rx).await??;
    let secs = start.elapsed().as_secs_f64();
    cancel.cancel();
    let _ = run.await;
    anyhow::ensure!(informer.lister().list(&Default::default()).len() == 1000.min(n) + 1, "our cache missed objects");
    Ok(n as f64 / secs)
}

/// Events per second through kube-rs's watcher and reflector.
pub async fn kube_rs(events: &Bytes, n: usize) -> anyhow::Result<f64> {
    let (reader, writer) = reflector::store::<BitcoinNetwork>();
    let stream =
        reflector(writer, watcher(api(replay_client(events.clone())), watcher::Config::default())).applied_objects();
    let start = Instant::now();
    let mut stream = std::pin::pin!(stream);
    let mut count = 0usize;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(600), stream.next()).await?;
        match next {
            Some(Ok(o)) => {
                count += 1;
                if o.metadata.name.as_deref() == Some("last") {
                    break;
                }
            }
            Some(Err(e)) => anyhow::bail!("kube-rs watcher failed: {e}"),
            None => anyhow::bail!("kube-rs stream ended early"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(count == n + 1, "kube-rs saw {count} events, expected {}", n + 1);
    anyhow::ensure!(reader.len() == 1000.min(n) + 1, "kube-rs store missed objects");
    Ok(n as f64 / secs)
}

/// The floor: decoding the same bytes into watch events of `K`, line by line.
pub fn floor<K: serde::de::DeserializeOwned>(events: &Bytes, n: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut count = 0usize;
    for line in events.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let _event: WatchEvent<K> = serde_json::from_slice(line)?;
        count += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(count == n + 1, "decoded {count} events");
    Ok(n as f64 / secs)
}
