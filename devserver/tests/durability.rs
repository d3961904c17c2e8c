//! `--data-dir` durability: acknowledged writes survive `kill -9` while writers run, a
//! resourceVersion is never handed out twice across restarts, SIGTERM shuts down cleanly, a
//! second server on the same directory is refused, and a torn or corrupt log is handled as
//! etcd handles it (torn tail cut off, corruption refused with the file and offset).
//!
//! The kill rounds run the real `devserver` binary on loopback; `CHAOS_ROUNDS` sets how many
//! (default 3; `cargo xtask chaos --rounds N` runs more). Each round is bounded in time.

use devserver::DevServer;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writers running at once in each kill round.
const WRITERS: usize = 3;

fn cm(name: &str, value: u64) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.to_string());
    c.data = Some(BTreeMap::from([("v".to_string(), value.to_string())]));
    c
}

fn value(c: &ConfigMap) -> u64 {
    c.data.as_ref().and_then(|d| d.get("v")).and_then(|v| v.parse().ok()).expect("numeric v")
}

fn rv(c: &ConfigMap) -> u64 {
    c.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).expect("numeric resourceVersion")
}

/// The devserver binary serving `dir`, with its kubeconfig written into the directory's parent.
struct Process {
    child: Child,
    kubeconfig: PathBuf,
}

impl Process {
    fn start(dir: &Path) -> Process {
        let kubeconfig = dir.with_extension("kubeconfig");
        let _ = std::fs::remove_file(&kubeconfig);
        let mut child = Command::new(env!("CARGO_BIN_EXE_devserver"))
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the devserver binary");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "the devserver did not start within 60 s");
            match lines.next() {
                Some(Ok(line)) if line.starts_with("kubeconfig:") => break,
                Some(Ok(_)) => {}
                _ => panic!("the devserver exited before listening: {:?}", child.wait()),
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Process { child, kubeconfig }
    }

    async fn client(&self) -> kube::Client {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig");
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig parses");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("config");
        kube::Client::try_from(config).expect("client")
    }

    fn kill_9(self) {} // Drop sends SIGKILL
}

/// A failing test must not leave a server running (it would also hold the test's pipes open).
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one writer had acknowledged when the server died.
#[derive(Default, Debug)]
struct Acked {
    /// Names of acknowledged creates.
    created: Vec<String>,
    /// The last acknowledged value of the writer's counter object, and the last one attempted.
    counter_acked: Option<u64>,
    counter_attempted: u64,
    /// The highest resourceVersion any answer carried.
    max_rv: u64,
}

/// Creates ConfigMaps and bumps a counter ConfigMap until the server stops answering.
async fn writer(api: Api<ConfigMap>, round: usize, w: usize, acked: Arc<Mutex<Acked>>) {
    let counter = format!("counter-{w}");
    for i in 0u64.. {
        let name = format!("w{w}-r{round}-{i}");
        match api.create(&PostParams::default(), &cm(&name, i)).await {
            Ok(c) => {
                let mut a = acked.lock().expect("lock");
                a.created.push(name);
                a.max_rv = a.max_rv.max(rv(&c));
            }
            Err(_) => return,
        }
        let next = round as u64 * 1_000_000 + i;
        acked.lock().expect("lock").counter_attempted = next;
        let patch = Patch::Apply(cm(&counter, next));
        match api.patch(&counter, &PatchParams::apply("chaos").force(), &patch).await {
            Ok(c) => {
                let mut a = acked.lock().expect("lock");
                a.counter_acked = Some(value(&c));
                a.max_rv = a.max_rv.max(rv(&c));
            }
            Err(_) => return,
        }
    }
}

fn rounds() -> usize {
    std::env::var("CHAOS_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_writers_running_loses_no_acknowledged_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let (mut total_acked, mut last_max_rv) = (0usize, 0u64);
    let started = Instant::now();
    for round in 0..rounds() {
        let server = Process::start(&dir);
        let client = server.client().await;
        let api: Api<ConfigMap> = Api::namespaced(client, "default");

        // Everything acknowledged in earlier rounds is here, with no newer revision reused.
        let list = api.list(&ListParams::default()).await.expect("list after restart");
        let list_rv: u64 = list.metadata.resource_version.as_deref().unwrap_or("0").parse().expect("rv");
        assert!(list_rv >= last_max_rv, "round {round}: list revision {list_rv} < {last_max_rv} seen before the kill");
        let first = api.create(&PostParams::default(), &cm(&format!("probe-{round}"), 0)).await.expect("probe");
        assert!(rv(&first) > last_max_rv, "round {round}: resourceVersion {} reused (seen {last_max_rv})", rv(&first));

        let acked: Vec<_> = (0..WRITERS).map(|_| Arc::new(Mutex::new(Acked::default()))).collect();
        let tasks: Vec<_> =
            (0..WRITERS).map(|w| tokio::spawn(writer(api.clone(), round, w, acked[w].clone()))).collect();
        // Kill at a different point of the write stream each round.
        tokio::time::sleep(Duration::from_millis(300 + (round as u64 * 137) % 500)).await;
        server.kill_9();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t).await.expect("writers stop").expect("writer");
        }

        let server = Process::start(&dir);
        let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
        let stored: BTreeMap<String, ConfigMap> = api
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|c| (c.metadata.name.clone().expect("name"), c))
            .collect();
        let mut lost = Vec::new();
        for (w, a) in acked.iter().enumerate() {
            let a = a.lock().expect("lock");
            total_acked += a.created.len() + usize::from(a.counter_acked.is_some());
            last_max_rv = last_max_rv.max(a.max_rv);
            lost.extend(a.created.iter().filter(|n| !stored.contains_key(*n)).cloned());
            if let Some(want) = a.counter_acked {
                let got = stored.get(&format!("counter-{w}")).map(value);
                // The counter holds the last acknowledged value, or the one in flight at the kill.
                if !got.is_some_and(|v| v >= want && v <= a.counter_attempted) {
                    lost.push(format!("counter-{w}: acknowledged {want}, stored {got:?}"));
                }
            }
        }
        assert!(lost.is_empty(), "round {round}: acknowledged but lost after kill -9: {lost:?}");
        let top = stored.values().map(rv).max().unwrap_or(0);
        assert!(top >= last_max_rv, "round {round}: stored revisions end at {top}, clients saw {last_max_rv}");
        server.kill_9();
    }
    println!(
        "chaos: {} kill -9 rounds, {total_acked} acknowledged writes, 0 lost, {:.1} s",
        rounds(),
        started.elapsed().as_secs_f64()
    );
    assert!(total_acked > 0, "the writers got no write acknowledged at all");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_everything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let mut server = Process::start(&dir);
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    for i in 0..50 {
        api.create(&PostParams::default(), &cm(&format!("t{i}"), i)).await.expect("create");
    }
    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let exit = server.child.wait().expect("wait");
    assert!(exit.success(), "SIGTERM ends the server cleanly, got {exit}");
    let log = std::fs::metadata(dir.join(devserver::journal::JOURNAL_FILE)).expect("journal").len();
    assert_eq!(log, 0, "a clean shutdown folds the log into the snapshot");

    let server = Process::start(&dir);
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let names = api.list(&ListParams::default()).await.expect("list").items.len();
    assert!(names >= 50, "{names} ConfigMaps after SIGTERM and restart");
    server.kill_9();
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = DevServer::builder().data_dir(dir.path()).start().await.expect("first server");
    let err = DevServer::builder().data_dir(dir.path()).start().await.err().expect("second server refused");
    let msg = format!("{err:#}");
    assert!(msg.contains("in use by process") && msg.contains(&std::process::id().to_string()), "{msg}");
    first.shutdown().await;
    let again = DevServer::builder().data_dir(dir.path()).start().await.expect("free again after shutdown");
    again.shutdown().await;
}

/// A log that ends in a half-written record, as `kill -9` during a write leaves it.
#[tokio::test]
async fn a_torn_log_tail_is_cut_off_and_the_whole_records_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Vec::new();
    let object = |name: &str, rv: u64| {
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}"),
                "resourceVersion": rv.to_string(), "creationTimestamp": "2026-01-01T00:00:00Z"},
            "data": {"v": "1"}})
    };
    devserver::journal::encode(&mut log, 5, "/configmaps", "default/whole", Some(&object("whole", 5)));
    let whole = log.len();
    devserver::journal::encode(&mut log, 6, "/configmaps", "default/torn", Some(&object("torn", 6)));
    log.truncate(whole + 20);
    std::fs::write(dir.path().join(devserver::journal::JOURNAL_FILE), &log).expect("write log");

    let server = DevServer::builder().data_dir(dir.path()).start().await.expect("starts past a torn tail");
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    let kept = api.get("whole").await.expect("the whole record is replayed");
    assert_eq!(rv(&kept), 5);
    assert!(api.get_opt("torn").await.expect("get").is_none(), "the torn record is not half-loaded");
    let next = api.create(&PostParams::default(), &cm("next", 1)).await.expect("create");
    assert!(rv(&next) > 5, "revisions continue after the replayed log");
    server.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_log_record_refuses_the_start_naming_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = Vec::new();
    for rv in 1..=3 {
        devserver::journal::encode(&mut log, rv, "/configmaps", &format!("default/c{rv}"), None);
    }
    let second = log.len() / 3;
    log[second + 12] ^= 0x01;
    let path = dir.path().join(devserver::journal::JOURNAL_FILE);
    std::fs::write(&path, &log).expect("write log");
    let err = DevServer::builder().data_dir(dir.path()).start().await.err().expect("refuses to start");
    let msg = format!("{err:#}");
    assert!(msg.contains(&path.display().to_string()) && msg.contains("offset"), "{msg}");
    assert_eq!(std::fs::read(&path).expect("log"), log, "a refused start leaves the log untouched");
}

#[cfg(unix)]
#[tokio::test]
async fn data_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = DevServer::builder().data_dir(&data).start().await.expect("server");
    server.shutdown().await;
    for path in [data.clone(), data.join(devserver::persist::STATE_FILE), data.join(devserver::journal::JOURNAL_FILE)] {
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}: it holds Secrets", path.display());
    }
}

/// Without group commit every write gets its own fsync, in order; nothing else changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_group_commit_every_write_is_still_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = DevServer::builder().data_dir(dir.path()).group_commit(false).start().await.expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    let writes: Vec<_> = (0..20)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move { api.create(&PostParams::default(), &cm(&format!("g{i}"), i)).await })
        })
        .collect();
    for w in writes {
        w.await.expect("task").expect("create");
    }
    server.shutdown().await;
    let server = DevServer::builder().data_dir(dir.path()).start().await.expect("restarted");
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    assert_eq!(api.list(&ListParams::default()).await.expect("list").items.len(), 20);
    server.shutdown().await;
}
