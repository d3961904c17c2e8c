//! Typed client latency: create, then get, then update (spec.nodes 3 → 4) of `n` networks one
//! request at a time, through our generated typed client and through kube-rs's `Api`; the Go
//! side does the same with code-generator's typed client (`gobench latency`). Each consumer uses
//! its own fresh namespace, so every create is a real create.

use std::time::{Duration, Instant};

use apis::bitcoincontroller::v1::BitcoinNetwork;
use kube::api::{Api, PostParams};

use crate::client_go::{Latencies, Latency};
use crate::fixtures::network;

/// Creates namespace `name` for one consumer's run.
pub async fn namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    crate::fixtures::create_namespace(client, name).await
}

fn summarize(mut d: Vec<Duration>) -> Latencies {
    d.sort();
    let at =
        |q: f64| d.get(((q * d.len() as f64) as usize).min(d.len().saturating_sub(1))).map_or(0.0, |x| x.as_secs_f64());
    Latencies { p50: at(0.5), p99: at(0.99) }
}

fn object(i: usize, ns: &str) -> BitcoinNetwork {
    let mut net = network(i);
    net.metadata.namespace = Some(ns.into());
    net
}

/// The three phases over any typed client.
async fn measure(
    n: usize,
    ns: &str,
    create: impl AsyncFn(&BitcoinNetwork) -> kube::Result<BitcoinNetwork>,
    get: impl AsyncFn(&str) -> kube::Result<BitcoinNetwork>,
    update: impl AsyncFn(&BitcoinNetwork) -> kube::Result<BitcoinNetwork>,
) -> anyhow::Result<Latency> {
    let (mut c, mut g, mut u) = (vec![], vec![], vec![]);
    for i in 0..n {
        let obj = object(i, ns);
        let t = Instant::now();
        create(&obj).await?;
        c.push(t.elapsed());
    }
    let mut got = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("net-{i:06}");
        let t = Instant::now();
        got.push(get(&name).await?);
        g.push(t.elapsed());
    }
    for mut obj in got {
        obj.spec.nodes = 4;
        let t = Instant::now();
        update(&obj).await?;
        u.push(t.elapsed());
    }
    Ok(Latency { create: summarize(c), get: summarize(g), update: summarize(u) })
}

/// Our generated typed client.
pub async fn ours(client: &kube::Client, ns: &str, n: usize) -> anyhow::Result<Latency> {
    let cs = generated::Clientset::new(client.clone());
    let nets = cs.bitcoincontroller_v1().bitcoin_networks(ns);
    let pp = PostParams::default();
    measure(
        n,
        ns,
        async |o| nets.create(o, &pp).await,
        async |name| nets.get(name, &Default::default()).await,
        async |o| nets.update(o, &pp).await,
    )
    .await
}

/// kube-rs's `Api<K>`.
pub async fn kube_rs(client: &kube::Client, ns: &str, n: usize) -> anyhow::Result<Latency> {
    let api: Api<BitcoinNetwork> = Api::namespaced(client.clone(), ns);
    let pp = PostParams::default();
    measure(
        n,
        ns,
        async |o| api.create(&pp, o).await,
        async |name| api.get(name).await,
        async |o| api.replace(o.metadata.name.as_deref().unwrap_or_default(), &pp, o).await,
    )
    .await
}
