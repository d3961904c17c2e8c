//! `bench`: measures our informers, caches, queue, typed client and generator side by side with
//! kube-rs, with client-go and code-generator (the Go twin in `bench/go`, run as a child process
//! against the same server), and with the floors, in one run, and reports ratios (absolute
//! times are noise on shared 2-core machines). Run it as `cargo xtask bench` (release) or
//! `cargo xtask bench --quick`. Go is required: without it the benchmark fails.
//!
//! The client-based rows (informers, latency) run against the devserver (on its own runtime and
//! threads, see [`server`]) or, with `--server real`, against the kube-apiserver of a running
//! `cargo xtask cluster up`; rows that need the devserver are then skipped with the reason.
//!
//! Output: a table on stdout and `target/bench/report.json` (which records the server).

mod client_go;
mod codegen_time;
mod controller_load;
mod durability;
mod fixtures;
mod go_codegen;
mod informers;
mod latency;
mod mem;
mod mesh;
mod queue;
mod report;
mod server;
mod watch;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use report::Row;
use server::{Kind, Server};

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
    /// Network sizes of the mesh section (default: 10,100,1000; with --quick: 3,10).
    #[arg(long, value_delimiter = ',')]
    mesh_sizes: Vec<usize>,
    /// Run only these sections (default: all): informers, watch, queue, latency, controller,
    /// mesh, durability, codegen.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The server of the client-based rows: the devserver, or the kube-apiserver of a running
    /// `cargo xtask cluster up` (smaller sizes: see README).
    #[arg(long, value_enum, default_value_t = Kind::Devserver)]
    server: Kind,
    /// The real server's kubeconfig (default: the one `cargo xtask cluster up` writes).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Run the devserver on the bench's own two worker threads, beside our informer, as before
    /// it got a runtime of its own: only to measure what that change does (unfair to ours).
    #[arg(long, hide = true)]
    shared_runtime: bool,
}

impl Args {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }

    fn kubeconfig(&self) -> PathBuf {
        self.kubeconfig
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/controlplane/run/kubeconfig"))
    }

    /// A server for one section: a fresh devserver (keeping `history` watch events), or the
    /// real one.
    async fn server(&self, history: usize) -> anyhow::Result<Server> {
        match self.server {
            Kind::Devserver if self.shared_runtime => Server::devserver_on_this_runtime(history).await,
            Kind::Devserver => Server::devserver(history).await,
            Kind::Real => Server::real(&self.kubeconfig()).await,
        }
    }
}

/// What a run measured, and what it left out and why.
struct Outcome {
    rows: Vec<Row>,
    skipped: Vec<String>,
}

impl Outcome {
    fn skip(&mut self, why: String) {
        eprintln!("skipped: {why}");
        self.skipped.push(why);
    }
}

struct Sizes {
    sync: usize,
    memory_large: usize,
    watch: usize,
    queue: usize,
    groups: usize,
    kinds_per_group: usize,
    /// Groups of the larger codegen comparison (same kinds per group).
    groups_large: usize,
    /// Requests per verb of the latency section.
    latency: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let started = Instant::now();
    match run(&args).await {
        Ok(Outcome { rows, skipped }) => {
            print!("{}", report::table(&rows));
            for why in &skipped {
                println!("skipped: {why}");
            }
            let seconds = started.elapsed().as_secs_f64();
            println!("server: {:?}, namespace {}, {seconds:.0} s", args.server, fixtures::namespace());
            let json = serde_json::json!({
                "quick": args.quick,
                "server": args.server,
                "devserver_runtime": if args.shared_runtime { "shared with the clients" } else { "its own" },
                "namespace": fixtures::namespace(),
                "seconds": seconds,
                "skipped": skipped,
                "rows": rows,
            });
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

async fn run(args: &Args) -> anyhow::Result<Outcome> {
    if args.server == Kind::Real {
        // Fail before any build when no cluster runs; each run gets its own namespace, as the
        // real server keeps what earlier runs created.
        Server::real(&args.kubeconfig()).await?;
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
        fixtures::set_namespace(format!("bench-{secs}"));
    }
    let s = if args.quick {
        Sizes {
            sync: 200,
            memory_large: 1_000,
            watch: 2_000,
            queue: 2_000,
            groups: 2,
            kinds_per_group: 10,
            groups_large: 3,
            latency: 20,
        }
    } else if args.server == Kind::Real {
        // kube-apiserver + etcd write a few hundred objects a second on a 2-core machine:
        // 100k objects would take most of an hour to create, so the larger size is 30k.
        Sizes {
            sync: 10_000,
            memory_large: 30_000,
            watch: 100_000,
            queue: 10_000,
            groups: 10,
            kinds_per_group: 20,
            groups_large: 50,
            latency: 500,
        }
    } else {
        Sizes {
            sync: 10_000,
            memory_large: 100_000,
            watch: 100_000,
            queue: 10_000,
            groups: 10,
            kinds_per_group: 20,
            groups_large: 50,
            latency: 1_000,
        }
    };
    let runs = if args.quick { 1 } else { args.runs };
    let s = match args.objects {
        Some(n) => Sizes { sync: n, memory_large: s.memory_large.max(n), ..s },
        None => s,
    };
    let mut out = Outcome { rows: vec![], skipped: vec![] };
    let go_sections = ["informers", "watch", "queue", "latency", "codegen"];
    let go = if go_sections.iter().any(|s| args.wants(s)) { Some(client_go::GoBench::build()?) } else { None };
    let go = go.as_ref();

    let timed = |section: &str, t: Instant| eprintln!("section {section}: {:.0} s", t.elapsed().as_secs_f64());
    if let Some(go) = go.filter(|_| args.wants("informers")) {
        let t = Instant::now();
        let server = args.server(1_000_000).await?;
        let result = informer_rows(go, &server, &s, runs, &mut out).await;
        server.shutdown().await;
        result?;
        timed("informers", t);
    }
    if args.server == Kind::Real && go.is_some() && (args.wants("watch") || args.wants("queue")) {
        eprintln!("the watch and queue sections use no server (a recorded stream, an in-memory queue)");
    }
    if let Some(go) = go.filter(|_| args.wants("watch")) {
        let t = Instant::now();
        watch_rows(go, &s, runs, &mut out.rows).await?;
        timed("watch", t);
    }
    if let Some(go) = go.filter(|_| args.wants("queue")) {
        let t = Instant::now();
        queue_rows(go, &s, runs, &mut out.rows).await?;
        timed("queue", t);
    }
    if let Some(go) = go.filter(|_| args.wants("latency")) {
        let t = Instant::now();
        let server = args.server(10_000).await?;
        let result = latency_rows(go, &server, &s, runs, &mut out.rows).await;
        server.shutdown().await;
        result?;
        timed("latency", t);
    }
    if args.wants("mesh") {
        if args.server == Kind::Real {
            out.skip("mesh rows: they measure the controller against the devserver's simulated bitcoind".into());
        } else {
            let t = Instant::now();
            mesh_rows(args, &mut out.rows).await?;
            timed("mesh", t);
        }
    }
    if args.wants("controller") {
        if args.server == Kind::Real {
            out.skip(
                "controller rows: they measure our controller's own API load with the devserver's \
                 simulated StatefulSets and kubelet, not a client against client-go"
                    .into(),
            );
        } else {
            let t = Instant::now();
            controller_rows(args, &mut out.rows).await?;
            timed("controller", t);
        }
    }
    if args.wants("durability") {
        if args.server == Kind::Real {
            out.skip("durability rows: they measure the devserver's --data-dir, not a client".into());
        } else {
            let t = Instant::now();
            durability_rows(&s, runs, &mut out.rows).await?;
            timed("durability", t);
        }
    }
    if args.wants("codegen") {
        let t = Instant::now();
        codegen_rows(&s, runs, &mut out.rows)?;
        timed("codegen", t);
    }
    anyhow::ensure!(
        !out.rows.is_empty(),
        "no section selected; sections are informers, watch, queue, latency, controller, durability, codegen"
    );
    Ok(out)
}

fn keep_fastest(best: &mut Option<informers::Sync>, run: informers::Sync) {
    if best.is_none_or(|b| run.seconds < b.seconds) {
        *best = Some(run);
    }
}

/// The fastest of client-go's runs.
fn keep_fastest_go(best: &mut Option<client_go::Sync>, run: client_go::Sync) {
    if best.is_none_or(|b| run.seconds < b.seconds) {
        *best = Some(run);
    }
}

/// One client-go initial sync, checked against the server's request count (the devserver's
/// request log, kube-apiserver's `apiserver_request_total`): with the WatchList gate on,
/// client-go must stream (no list request), with it off it must list; a silent fallback would
/// otherwise be measured as the wrong thing.
async fn go_sync(
    go: &client_go::GoBench,
    server: &Server,
    n: usize,
    watch_list: bool,
    transform: bool,
) -> anyhow::Result<client_go::Sync> {
    let mark = server.mark_lists().await?;
    let sync = go.sync(server.kubeconfig(), n, watch_list, transform).await?;
    let lists = server.lists_since(mark).await?;
    anyhow::ensure!(
        (lists == 0) == watch_list,
        "client-go made {lists} list requests with WatchListClient={watch_list}"
    );
    Ok(sync)
}

/// Bytes per object of a client-go sync.
fn per_object(sync: Option<client_go::Sync>, n: usize) -> f64 {
    sync.unwrap_or_default().retained as f64 / n as f64
}

/// 1, 3, 4: initial sync, retained memory and relist peak, on a server holding realistic objects.
async fn informer_rows(
    go: &client_go::GoBench,
    server: &Server,
    s: &Sizes,
    runs: usize,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let client = server.client().clone();
    fixtures::install(&client).await?;
    let rows = &mut out.rows;
    let cs = generated::Clientset::new(client.clone());
    let t = Instant::now();
    fixtures::populate(&cs, s.sync).await?;
    eprintln!("populated {} objects in {:.1}s", s.sync, t.elapsed().as_secs_f64());
    let n = s.sync;
    // Runs are interleaved (ours, kube-rs, client-go, floors, ours, ...) so that a noisy stretch
    // on the shared machine hits every consumer alike; the fastest run of each is kept.
    let (mut ours, mut kube, mut kube_streaming, mut floor, mut lean) = (None, None, None, None, None);
    let (mut go_stream, mut go_list, mut go_lean) = (None, None, None);
    for _ in 0..runs.max(1) {
        keep_fastest(&mut ours, informers::ours(&cs, n).await?);
        keep_fastest(&mut kube, informers::kube_rs(&client, n).await?);
        keep_fastest_go(&mut go_stream, go_sync(go, server, n, true, false).await?);
        keep_fastest(&mut kube_streaming, informers::kube_rs_streaming(&client, n).await?);
        keep_fastest_go(&mut go_list, go_sync(go, server, n, false, false).await?);
        keep_fastest(&mut floor, informers::floor(&client, n).await?);
        keep_fastest_go(&mut go_lean, go_sync(go, server, n, true, true).await?);
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
    go_sync_rows(rows, n, ours.seconds, go_stream, go_list);
    let json = informers::json_bytes_per_object(&client, n).await?;
    let ours_per_object = ours.retained as f64 / n as f64;
    rows.push(
        Row::new("retained bytes/object", n, ours_per_object, "kube-rs Store", kube.retained as f64 / n as f64, "B")
            .at_most(0.8),
    );
    go_memory_rows(rows, n, ours_per_object, go_lean, go_stream);
    rows.push(Row::new("retained bytes/object", n, ours_per_object, "JSON size", json, "B"));
    let shrunk = informers::ours_shrunk(&cs, n).await?;
    rows.push(Row::new(
        "retained bytes/object, ours with a shrink-to-fit transform",
        n,
        shrunk.retained as f64 / n as f64,
        "client-go informer, managedFields transform",
        per_object(go_lean, n),
        "B",
    ));
    match server.dev() {
        Some(dev) => relist_rows(go, dev, &client, n, rows).await?,
        None => out.skip(
            "relist rows: forcing a relist needs the devserver's on-demand compaction (kube-apiserver \
             compacts etcd on its own 5-minute schedule)"
                .into(),
        ),
    }
    let rows = &mut out.rows;

    // 3 at the larger size.
    let t = Instant::now();
    let more = s.memory_large - s.sync;
    populate_more(&cs, s.sync, more).await?;
    eprintln!("populated {} more objects in {:.1}s", more, t.elapsed().as_secs_f64());
    let big = s.memory_large;
    let ours_big = informers::ours(&cs, big).await?;
    let kube_big = informers::kube_rs(&client, big).await?;
    let go_big_stream = go_sync(go, server, big, true, false).await?;
    let kube_big_streaming = informers::kube_rs_streaming(&client, big).await?;
    let go_big_list = go_sync(go, server, big, false, false).await?;
    let go_big_lean = go_sync(go, server, big, true, true).await?;
    let ours_big_per_object = ours_big.retained as f64 / big as f64;
    rows.push(
        Row::new(
            "retained bytes/object",
            big,
            ours_big_per_object,
            "kube-rs Store",
            kube_big.retained as f64 / big as f64,
            "B",
        )
        .at_most(0.8),
    );
    go_memory_rows(rows, big, ours_big_per_object, Some(go_big_lean), Some(go_big_stream));
    rows.push(Row::new("initial sync", big, ours_big.seconds, "kube-rs reflector", kube_big.seconds, "s"));
    rows.push(Row::new(
        "initial sync",
        big,
        ours_big.seconds,
        "kube-rs reflector, streaming list",
        kube_big_streaming.seconds,
        "s",
    ));
    go_sync_rows(rows, big, ours_big.seconds, Some(go_big_stream), Some(go_big_list));
    Ok(())
}

/// 4: the relist peak, ours, kube-rs's and client-go's (devserver only).
async fn relist_rows(
    go: &client_go::GoBench,
    server: &devserver::DevServerHandle,
    client: &kube::Client,
    n: usize,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let ours_relist = informers::relist_ours(server, client).await?;
    let kube_relist = informers::relist_kube(server, client).await?;
    server.compact();
    let go_relist = go.relist(server.kubeconfig_path(), n, informers::force_relist(server, client)).await?;
    let share = |extra: usize, retained: usize| extra as f64 / retained.max(1) as f64;
    let ours_share = share(ours_relist.extra, ours_relist.retained);
    rows.push(Row::new(
        "relist peak extra / cache",
        n,
        ours_share,
        "kube-rs",
        share(kube_relist.extra, kube_relist.retained),
        "x",
    ));
    rows.push(Row::new(
        "relist peak extra / cache",
        n,
        ours_share,
        "client-go informer",
        share(go_relist.extra as usize, go_relist.retained as usize),
        "x",
    ));
    let ours_mib = ours_relist.extra as f64 / MIB;
    rows.push(Row::new("relist peak extra", n, ours_mib, "kube-rs", kube_relist.extra as f64 / MIB, "MiB"));
    rows.push(Row::new("relist peak extra", n, ours_mib, "client-go informer", go_relist.extra as f64 / MIB, "MiB"));
    Ok(())
}

/// Initial sync against client-go's generated informer, WatchList on (its default) and off.
fn go_sync_rows(
    rows: &mut Vec<Row>,
    n: usize,
    ours: f64,
    stream: Option<client_go::Sync>,
    list: Option<client_go::Sync>,
) {
    let secs = |s: Option<client_go::Sync>| s.unwrap_or_default().seconds;
    rows.push(Row::new("initial sync", n, ours, "client-go informer (WatchList)", secs(stream), "s").at_most(0.5));
    rows.push(Row::new("initial sync", n, ours, "client-go informer (list+watch)", secs(list), "s").at_most(0.5));
}

/// Retained bytes against client-go's informer with the managedFields-dropping transform (the
/// like-for-like cache, since ours skips them) and without it. Go's figure is HeapInuse (whole
/// spans), ours the bytes our allocator handed out: see README.
fn go_memory_rows(
    rows: &mut Vec<Row>,
    n: usize,
    ours: f64,
    lean: Option<client_go::Sync>,
    full: Option<client_go::Sync>,
) {
    let lean = per_object(lean, n);
    let full = per_object(full, n);
    rows.push(
        Row::new("retained bytes/object", n, ours, "client-go informer, managedFields transform", lean, "B")
            .at_most(0.35),
    );
    rows.push(Row::new("retained bytes/object", n, ours, "client-go informer", full, "B"));
}

/// 2: watch throughput on a recorded stream.
async fn watch_rows(go: &client_go::GoBench, s: &Sizes, runs: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let events = watch::record(s.watch);
    let w = s.watch;
    // gobench replays the same bytes from memory; it reads them from a file.
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), &events)?;
    // Interleaved runs, the fastest of each kept (see informer_rows).
    let (mut ours_w, mut kube_w, mut go_w, mut floor_w, mut lean_w) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for _ in 0..runs.max(1) {
        ours_w = ours_w.max(watch::ours(&events, w).await?);
        kube_w = kube_w.max(watch::kube_rs(&events, w).await?);
        go_w = go_w.max(go.watch(file.path(), w).await?);
        floor_w = floor_w.max(watch::floor::<apis::bitcoincontroller::v1::BitcoinNetwork>(&events, w)?);
        lean_w = lean_w.max(watch::floor::<
            runtime::cache::WithoutManagedFields<apis::bitcoincontroller::v1::BitcoinNetwork>,
        >(&events, w)?);
    }
    rows.push(Row::new("watch events/s", w, ours_w, "kube-rs watcher+reflector", kube_w, "ev/s").at_least(1.25));
    rows.push(Row::new("watch events/s", w, ours_w, "client-go informer to handler", go_w, "ev/s").at_least(2.0));
    rows.push(Row::new("watch events/s", w, ours_w, "decode only", floor_w, "ev/s"));
    rows.push(Row::new("watch events/s", w, ours_w, "decode only, w/o managedFields", lean_w, "ev/s"));
    drop(events);
    Ok(())
}

/// 5: the work queue.
async fn queue_rows(go: &client_go::GoBench, s: &Sizes, runs: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    // One pass takes milliseconds, so a single preemption on a shared machine can halve it:
    // many interleaved passes, the fastest of each kept. gobench does its passes in one process.
    let passes_per_run = 10;
    for workers in [1, 4] {
        let q = s.queue;
        let (mut ours_q, mut mpsc_q, mut ours_rl, mut go_rl) = (0f64, 0f64, 0f64, 0f64);
        for _ in 0..runs.max(1) {
            for _ in 0..passes_per_run {
                ours_q = ours_q.max(queue::ours(q, workers).await);
                mpsc_q = mpsc_q.max(queue::mpsc(q, workers).await);
                ours_rl = ours_rl.max(queue::ours_rate_limiting(q, workers).await);
            }
            go_rl = go_rl.max(go.queue(q, workers, passes_per_run).await?);
        }
        let row = Row::new(&format!("queue items/s, {workers} worker(s)"), q, ours_q, "tokio mpsc", mpsc_q, "items/s");
        rows.push(if workers == 4 { row.at_least(0.5) } else { row });
        let row = Row::new(
            &format!("rate-limiting queue items/s, {workers} worker(s)"),
            q,
            ours_rl,
            "client-go TypedRateLimitingQueue",
            go_rl,
            "items/s",
        );
        rows.push(if workers == 4 { row.at_least(1.0) } else { row });
    }
    Ok(())
}

/// Typed client latency (p50 per verb) on a fresh devserver: ours, kube-rs, client-go,
/// interleaved, each run in fresh namespaces, the lowest p50 and p99 of each kept.
async fn latency_rows(
    go: &client_go::GoBench,
    server: &Server,
    s: &Sizes,
    runs: usize,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let client = server.client().clone();
    fixtures::install(&client).await?;
    let base = fixtures::namespace();
    let n = s.latency;
    let (mut ours, mut kube, mut gol): (
        Option<client_go::Latency>,
        Option<client_go::Latency>,
        Option<client_go::Latency>,
    ) = (None, None, None);
    let keep = |best: &mut Option<client_go::Latency>, run: client_go::Latency| {
        let b = best.get_or_insert(run);
        b.create.p50 = b.create.p50.min(run.create.p50);
        b.get.p50 = b.get.p50.min(run.get.p50);
        b.update.p50 = b.update.p50.min(run.update.p50);
        b.create.p99 = b.create.p99.min(run.create.p99);
        b.get.p99 = b.get.p99.min(run.get.p99);
        b.update.p99 = b.update.p99.min(run.update.p99);
    };
    for r in 0..runs.max(1) {
        let ns = format!("{base}-lat-ours-{r}");
        latency::namespace(&client, &ns).await?;
        keep(&mut ours, latency::ours(&client, &ns, n).await?);
        let ns = format!("{base}-lat-kube-{r}");
        latency::namespace(&client, &ns).await?;
        keep(&mut kube, latency::kube_rs(&client, &ns, n).await?);
        let ns = format!("{base}-lat-go-{r}");
        latency::namespace(&client, &ns).await?;
        keep(&mut gol, go.latency(server.kubeconfig(), &ns, n).await?);
    }
    let (ours, kube, gol) = (ours.unwrap_or_default(), kube.unwrap_or_default(), gol.unwrap_or_default());
    for (verb, o, k, g) in [
        ("create", ours.create, kube.create, gol.create),
        ("get", ours.get, kube.get, gol.get),
        ("update", ours.update, kube.update, gol.update),
    ] {
        let metric = format!("typed {verb} latency p50");
        rows.push(Row::new(&metric, n, o.p50, "kube-rs Api", k.p50, "s"));
        rows.push(Row::new(&metric, n, o.p50, "client-go typed client", g.p50, "s"));
        let metric = format!("typed {verb} latency p99");
        rows.push(Row::new(&metric, n, o.p99, "client-go typed client", g.p99, "s"));
    }
    Ok(())
}

/// 6: the controller's API load.
/// Durable creates (`--data-dir`: answered after fsync) against in-memory ones: 16 writers with
/// group commit (goal: at least half the in-memory rate) and without it, and one writer.
async fn durability_rows(s: &Sizes, runs: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let total = s.latency * 4;
    for (writers, group_commit) in [(16, true), (16, false), (1, true)] {
        let (mut memory, mut durable) = (0f64, 0f64);
        for _ in 0..runs {
            memory = memory.max(durability::creates_per_second(None, true, writers, total).await?);
            let dir = tempfile::tempdir()?;
            durable =
                durable.max(durability::creates_per_second(Some(dir.path()), group_commit, writers, total).await?);
        }
        let how = if group_commit { "group commit" } else { "an fsync per create" };
        eprintln!("creates/s with {writers} writers: in memory {memory:.0}, --data-dir ({how}) {durable:.0}");
        let row = Row::new(
            &format!("creates/s, {writers} writer(s), --data-dir, {how}"),
            total,
            durable,
            "in memory",
            memory,
            "creates/s",
        );
        rows.push(if writers > 1 && group_commit { row.at_least(0.5) } else { row });
    }
    Ok(())
}

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

/// The mesh at 10, 100 and 1,000 nodes: RPC calls per idle resync (goal: O(n), a constant
/// ratio to n), controller CPU per idle reconcile, and the idle CPU at 1,000 nodes at the
/// default 30 s resync (goal: under 10 % of a core).
async fn mesh_rows(args: &Args, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let sizes: &[usize] = match (&args.mesh_sizes[..], args.quick) {
        ([], true) => &[3, 10],
        ([], false) => &[10, 100, 1_000],
        (chosen, _) => chosen,
    };
    let (resync, resyncs) =
        if args.quick { (std::time::Duration::from_secs(1), 2) } else { (std::time::Duration::from_secs(3), 4) };
    for &n in sizes {
        let m = mesh::run(n, resync, resyncs).await?;
        eprintln!("mesh {n}: {m:?}");
        rows.push(Row::new("mesh: RPC calls per idle resync", n, m.rpc_per_resync, "nodes", n as f64, "calls"));
        rows.push(Row::new("mesh: reconciles per idle resync", n, m.reconciles_per_resync, "-", 0.0, "reconciles"));
        rows.push(Row::new("mesh: RPC calls per idle reconcile", n, m.rpc_per_reconcile, "nodes", n as f64, "calls"));
        rows.push(Row::new("mesh: controller CPU per idle reconcile", n, m.cpu_per_reconcile, "-", 0.0, "s"));
        rows.push(Row::new("mesh: controller CPU until Ready", n, m.cpu_to_ready, "-", 0.0, "s"));
        rows.push(Row::new("mesh: time until Ready", n, m.seconds_to_ready, "-", 0.0, "s"));
        let share = Row::new(
            "mesh: idle controller CPU (share of a core, 30 s resync)",
            n,
            m.idle_core_share_at_default_resync,
            "goal",
            0.10,
            "core",
        );
        rows.push(if n >= 1_000 { share.at_most(1.0) } else { share });
    }
    Ok(())
}

/// 7: the generator, alone and against code-generator's four generators on the same synthetic
/// API (as Go types), at two sizes, interleaved, the fastest of each kept.
fn codegen_rows(s: &Sizes, runs: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let bin = go_codegen::build_generators()?;
    for (groups, goal) in [(s.groups, Some(0.1)), (s.groups_large, None)] {
        let kinds = groups * s.kinds_per_group;
        let dir = tempfile::tempdir()?;
        codegen_time::synthetic(&dir.path().join("apis"), groups, s.kinds_per_group)?;
        let go_root = dir.path().join("go");
        let pkgs = go_codegen::synthetic(&go_root, groups, s.kinds_per_group)?;
        let (mut ours, mut theirs) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..runs.max(1) {
            let out = tempfile::tempdir()?;
            let (secs, generated) = codegen_time::run(&dir.path().join("apis"), out.path())?;
            anyhow::ensure!(generated == kinds, "generated {generated} kinds, expected {kinds}");
            ours = ours.min(secs);
            theirs = theirs.min(go_codegen::run(&bin, &go_root, &pkgs, kinds)?);
        }
        if groups == s.groups {
            rows.push(Row::new("codegen wall time", kinds, ours, "goal", 1.0, "s").at_most(1.0));
        }
        let row = Row::new("codegen wall time", kinds, ours, "code-generator (4 generators)", theirs, "s");
        rows.push(match goal {
            Some(g) => row.at_most(g),
            None => row,
        });
    }
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir()?;
    let (secs, kinds) = codegen_time::run(&ws.join("apis"), out.path())?;
    rows.push(Row::new("codegen wall time (this workspace)", kinds, secs, "goal", 1.0, "s").at_most(1.0));
    Ok(())
}

async fn populate_more(cs: &generated::Clientset, from: usize, count: usize) -> anyhow::Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let nets = cs.bitcoincontroller_v1().bitcoin_networks(fixtures::namespace());
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
