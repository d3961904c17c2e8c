//! `bench`: measures our informers, caches, queue and generator side by side with kube-rs and
//! with the floors, in one process run, and reports ratios (absolute times are noise on shared
//! 2-core machines). Run it as `cargo xtask bench` (release) or `cargo xtask bench --quick`.
//!
//! Output: a table on stdout and `target/bench/report.json`.

mod codegen_time;
mod controller_load;
mod fixtures;
mod informers;
mod mem;
mod queue;
mod report;
mod watch;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use report::Row;

/// Side-by-side benchmarks; every figure is a ratio against a reference measured in the same run.
#[derive(Parser, Debug)]
#[command(name = "bench")]
struct Args {
    /// Small sizes, for CI: checks that the harness works, not the ratios.
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/bench/report.json")]
    out: PathBuf,
    /// Repetitions of each timed measurement (the best is kept).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Override the number of objects of the informer section (initial sync, memory, relist).
    #[arg(long)]
    objects: Option<usize>,
    /// Run only these sections (default: all): informers, watch, queue, controller, codegen.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Args {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

struct Sizes {
    sync: usize,
    memory_large: usize,
    watch: usize,
    queue: usize,
    groups: usize,
    kinds_per_group: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(rows) => {
            print!("{}", report::table(&rows));
            let json = serde_json::json!({"quick": args.quick, "rows": rows});
            let written = args
                .out
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|_| std::fs::write(&args.out, serde_json::to_vec_pretty(&json).unwrap_or_default()));
            match written {
                Ok(()) => {
                    println!("report: {}", args.out.display());
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot write {}: {e}", args.out.display());
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("benchmark failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let s = if args.quick {
        Sizes { sync: 200, memory_large: 1_000, watch: 2_000, queue: 2_000, groups: 2, kinds_per_group: 10 }
    } else {
        Sizes { sync: 10_000, memory_large: 100_000, watch: 100_000, queue: 10_000, groups: 10, kinds_per_group: 20 }
    };
    let runs = if args.quick { 1 } else { args.runs };
    let s = match args.objects {
        Some(n) => Sizes { sync: n, memory_large: s.memory_large.max(n), ..s },
        None => s,
    };
    let mut rows = vec![];

    if args.wants("informers") {
        informer_rows(args, &s, runs, &mut rows).await?;
    }
    if args.wants("watch") {
        watch_rows(&s, runs, &mut rows).await?;
    }
    if args.wants("queue") {
        queue_rows(&s, runs, &mut rows).await?;
    }
    if args.wants("controller") {
        controller_rows(args, &mut rows).await?;
    }
    if args.wants("codegen") {
        codegen_rows(&s, &mut rows)?;
    }
    anyhow::ensure!(!rows.is_empty(), "no section selected; sections are informers, watch, queue, controller, codegen");
    Ok(rows)
}

fn keep_fastest(best: &mut Option<informers::Sync>, run: informers::Sync) {
    if best.is_none_or(|b| run.seconds < b.seconds) {
        *best = Some(run);
    }
}

/// 1, 3, 4: initial sync, retained memory and relist peak, on a devserver holding realistic objects.
async fn informer_rows(args: &Args, s: &Sizes, runs: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let _ = args;
    let server = devserver::DevServer::builder().history_limit(1_000_000).start().await?;
    let client = server.client()?;
    fixtures::install(&client).await?;
    let cs = generated::Clientset::new(client.clone());
    let t = Instant::now();
    fixtures::populate(&cs, s.sync).await?;
    eprintln!("populated {} objects in {:.1}s", s.sync, t.elapsed().as_secs_f64());
    let n = s.sync;
    // Runs are interleaved (ours, kube-rs, floors, ours, ...) so that a noisy stretch on the
    // shared machine hits every consumer alike; the fastest run of each is kept.
    let (mut ours, mut kube, mut kube_streaming, mut floor, mut lean) = (None, None, None, None, None);
    for _ in 0..runs.max(1) {
        keep_fastest(&mut ours, informers::ours(&cs, n).await?);
        keep_fastest(&mut kube, informers::kube_rs(&client, n).await?);
        keep_fastest(&mut kube_streaming, informers::kube_rs_streaming(&client, n).await?);
        keep_fastest(&mut floor, informers::floor(&client, n).await?);
        keep_fastest(&mut lean, informers::floor_without_managed_fields(&client, n).await?);
    }
    let (ours, kube, floor, lean) =
        (ours.unwrap_or_default(), kube.unwrap_or_default(), floor.unwrap_or_default(), lean.unwrap_or_default());
    rows.push(Row::new("initial sync", n, ours.seconds, "list+decode", floor.seconds, "s").at_most(1.2));
    rows.push(Row::new("initial sync", n, ours.seconds, "list+decode w/o managedFields", lean.seconds, "s"));
    rows.push(Row::new("initial sync", n, ours.seconds, "kube-rs reflector", kube.seconds, "s").at_most(0.8));
    let kube_streaming = kube_streaming.unwrap_or_default();
    rows.push(Row::new(
        "initial sync",
        n,
        ours.seconds,
        "kube-rs reflector, streaming list",
        kube_streaming.seconds,
        "s",
    ));
    let json = informers::json_bytes_per_object(&client, n).await?;
    rows.push(
        Row::new(
            "retained bytes/object",
            n,
            ours.retained as f64 / n as f64,
            "kube-rs Store",
            kube.retained as f64 / n as f64,
            "B",
        )
        .at_most(0.8),
    );
    rows.push(Row::new("retained bytes/object", n, ours.retained as f64 / n as f64, "JSON size", json, "B"));
    let ours_relist = informers::relist_ours(&server, &client).await?;
    let kube_relist = informers::relist_kube(&server, &client).await?;
    rows.push(Row::new(
        "relist peak extra / cache",
        n,
        ours_relist.extra as f64 / ours_relist.retained.max(1) as f64,
        "kube-rs",
        kube_relist.extra as f64 / kube_relist.retained.max(1) as f64,
        "x",
    ));
    rows.push(Row::new(
        "relist peak extra",
        n,
        ours_relist.extra as f64 / MIB,
        "kube-rs",
        kube_relist.extra as f64 / MIB,
        "MiB",
    ));

    // 3 at the larger size.
    let t = Instant::now();
    let more = s.memory_large - s.sync;
    populate_more(&cs, s.sync, more).await?;
    eprintln!("populated {} more objects in {:.1}s", more, t.elapsed().as_secs_f64());
    let big = s.memory_large;
    let ours_big = informers::ours(&cs, big).await?;
    let kube_big = informers::kube_rs(&client, big).await?;
    rows.push(
        Row::new(
            "retained bytes/object",
            big,
            ours_big.retained as f64 / big as f64,
            "kube-rs Store",
            kube_big.retained as f64 / big as f64,
            "B",
        )
        .at_most(0.8),
    );
    rows.push(Row::new("initial sync", big, ours_big.seconds, "kube-rs reflector", kube_big.seconds, "s"));
    let kube_big_streaming = informers::kube_rs_streaming(&client, big).await?;
    rows.push(Row::new(
        "initial sync",
        big,
        ours_big.seconds,
        "kube-rs reflector, streaming list",
        kube_big_streaming.seconds,
        "s",
    ));
    server.shutdown().await;
    Ok(())
}

/// 2: watch throughput on a recorded stream.
async fn watch_rows(s: &Sizes, runs: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let events = watch::record(s.watch);
    let w = s.watch;
    // Interleaved runs, the fastest of each kept (see informer_rows).
    let (mut ours_w, mut kube_w, mut floor_w, mut lean_w) = (0f64, 0f64, 0f64, 0f64);
    for _ in 0..runs.max(1) {
        ours_w = ours_w.max(watch::ours(&events, w).await?);
        kube_w = kube_w.max(watch::kube_rs(&events, w).await?);
        floor_w = floor_w.max(watch::floor::<apis::bitcoincontroller::v1::BitcoinNetwork>(&events, w)?);
        lean_w = lean_w.max(watch::floor::<
            runtime::cache::WithoutManagedFields<apis::bitcoincontroller::v1::BitcoinNetwork>,
        >(&events, w)?);
    }
    rows.push(Row::new("watch events/s", w, ours_w, "kube-rs watcher+reflector", kube_w, "ev/s").at_least(1.25));
    rows.push(Row::new("watch events/s", w, ours_w, "decode only", floor_w, "ev/s"));
    rows.push(Row::new("watch events/s", w, ours_w, "decode only, w/o managedFields", lean_w, "ev/s"));
    drop(events);
    Ok(())
}

/// 5: the work queue.
async fn queue_rows(s: &Sizes, runs: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    // One pass takes milliseconds, so a single preemption on a shared machine can halve it:
    // many interleaved passes, the fastest of each kept.
    let passes = runs.max(1) * 10;
    for workers in [1, 4] {
        let q = s.queue;
        let (mut ours_q, mut mpsc_q) = (0f64, 0f64);
        for _ in 0..passes {
            ours_q = ours_q.max(queue::ours(q, workers).await);
            mpsc_q = mpsc_q.max(queue::mpsc(q, workers).await);
        }
        let row = Row::new(&format!("queue items/s, {workers} worker(s)"), q, ours_q, "tokio mpsc", mpsc_q, "items/s");
        rows.push(if workers == 4 { row.at_least(0.5) } else { row });
    }
    Ok(())
}

/// 6: the controller's API load.
async fn controller_rows(args: &Args, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let networks = if args.quick { 5 } else { 1_000 };
    let load = controller_load::run(networks).await?;
    for (verb, count) in &load.writes_by_verb {
        rows.push(Row::new(
            &format!("controller writes/network: {verb}"),
            networks,
            *count as f64 / networks as f64,
            "-",
            0.0,
            "req",
        ));
    }
    rows.push(
        Row::new("controller writes/network", networks, load.writes_per_network, "goal", 5.0, "req").at_most(1.0),
    );
    rows.push(Row::new(
        "controller writes/network without events",
        networks,
        load.object_writes_per_network,
        "goal",
        5.0,
        "req",
    ));
    rows.push(
        Row::new("controller idle requests (5 resyncs)", networks, load.idle_requests as f64, "goal", 0.0, "req")
            .exactly_zero(),
    );
    rows.push(Row::new(
        "time until all Ready",
        networks,
        load.seconds_to_ready,
        "sim ready delay",
        load.ready_delay,
        "s",
    ));
    Ok(())
}

/// 7: the generator.
fn codegen_rows(s: &Sizes, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    codegen_time::synthetic(&dir.path().join("apis"), s.groups, s.kinds_per_group)?;
    let (secs, kinds) = codegen_time::run(&dir.path().join("apis"), dir.path())?;
    anyhow::ensure!(kinds == s.groups * s.kinds_per_group, "generated {kinds} kinds");
    rows.push(Row::new("codegen wall time", kinds, secs, "goal", 1.0, "s").at_most(1.0));
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir()?;
    let (secs, kinds) = codegen_time::run(&ws.join("apis"), out.path())?;
    rows.push(Row::new("codegen wall time (this workspace)", kinds, secs, "goal", 1.0, "s").at_most(1.0));
    Ok(())
}

async fn populate_more(cs: &generated::Clientset, from: usize, count: usize) -> anyhow::Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let nets = cs.bitcoincontroller_v1().bitcoin_networks(fixtures::NAMESPACE);
    futures::stream::iter(from..from + count)
        .map(|i| {
            let nets = nets.clone();
            async move {
                let mut created = nets.create(&fixtures::network(i), &Default::default()).await?;
                created.status = Some(fixtures::status(&created));
                nets.update_status(&created, &Default::default()).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<()>()
        .await
}
