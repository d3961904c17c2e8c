//! The client-go side of the benchmarks: builds `bench/go` (the Go twin of this workspace: our
//! BitcoinNetwork as Go types, code-generator's clientset/listers/informers, and the `gobench`
//! binary) and runs one `gobench` measurement per call, so the harness can interleave client-go
//! with ours and kube-rs's run by run against the same devserver.
//!
//! Go is required: when it is missing, [`GoBench::build`] fails with a message that says so,
//! and the whole benchmark fails. The client-go rows are part of the report, not optional.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Bounds every `gobench` run (its own waits are bounded too).
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// The built `gobench` binary and the module it came from.
pub struct GoBench {
    bin: PathBuf,
}

/// One client-go initial sync (`gobench sync`).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Sync {
    /// Seconds from factory creation to a synced cache.
    pub seconds: f64,
    /// HeapInuse after GC with the synced informer, minus before it.
    pub retained: u64,
}

/// One client-go relist (`gobench relist`).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Relist {
    /// Peak HeapInuse during the relist above the synced level.
    pub extra: u64,
    /// The synced cache's HeapInuse.
    pub retained: u64,
}

#[derive(Deserialize)]
struct Watch {
    events_per_second: f64,
}

#[derive(Deserialize)]
struct Queue {
    items_per_second: f64,
}

/// Seconds per request of one verb.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Latencies {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// create, get and update through a typed client.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Latency {
    /// `create` requests.
    pub create: Latencies,
    /// `get` requests.
    pub get: Latencies,
    /// `update` requests.
    pub update: Latencies,
}

/// `bench/go` in this workspace.
pub fn module_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("go")
}

/// Where Go build products go: `target/bench/go`.
pub fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/go")
}

/// `go` with the module's pinned dependencies only (`-mod=readonly`: go.mod and go.sum are
/// checked in and never rewritten by a benchmark run).
pub fn go(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("go");
    cmd.current_dir(dir).env("GOFLAGS", "-mod=readonly -buildvcs=false");
    cmd
}

/// Fails with a clear message when `go` cannot be run.
pub fn require_go() -> anyhow::Result<String> {
    let out = go(&module_dir()).arg("version").output().context(
        "the client-go rows need Go (1.26, with the module proxy or a warm module cache) on PATH; \
         `go` could not be run",
    )?;
    anyhow::ensure!(out.status.success(), "`go version` failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl GoBench {
    /// Builds `gobench` into `target/bench/go` (incremental: Go's build cache makes a warm build
    /// take about a second).
    pub fn build() -> anyhow::Result<Self> {
        let version = require_go()?;
        let module = module_dir();
        let bin = out_dir().join("gobench");
        let start = Instant::now();
        let out = go(&module).args(["build", "-o"]).arg(&bin).arg("./cmd/gobench").output()?;
        anyhow::ensure!(out.status.success(), "building bench/go failed:\n{}", String::from_utf8_lossy(&out.stderr));
        eprintln!("built bench/go/cmd/gobench with {version} in {:.1}s", start.elapsed().as_secs_f64());
        Ok(Self { bin })
    }

    async fn run<T: serde::de::DeserializeOwned>(&self, args: &[String]) -> anyhow::Result<T> {
        let child = Command::new(&self.bin).args(args).stdin(Stdio::null()).kill_on_drop(true).output();
        let out = tokio::time::timeout(RUN_TIMEOUT, child).await.context("gobench timed out")??;
        anyhow::ensure!(
            out.status.success(),
            "gobench {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("gobench {} printed {}", args.join(" "), String::from_utf8_lossy(&out.stdout)))
    }

    /// Initial sync of `n` objects with the generated informer factory.
    pub async fn sync(&self, kubeconfig: &Path, n: usize, watch_list: bool, transform: bool) -> anyhow::Result<Sync> {
        self.run(&[
            "sync".into(),
            format!("-kubeconfig={}", kubeconfig.display()),
            format!("-n={n}"),
            format!("-namespace={}", crate::fixtures::namespace()),
            format!("-watchlist={watch_list}"),
            format!("-transform={transform}"),
        ])
        .await
    }

    /// A relist: `gobench` syncs and reports, `force` makes the server expire its watch, and
    /// `gobench` reports the peak once the relist has replaced its cache.
    pub async fn relist(
        &self,
        kubeconfig: &Path,
        n: usize,
        force: impl std::future::Future<Output = anyhow::Result<()>>,
    ) -> anyhow::Result<Relist> {
        let mut child = Command::new(&self.bin)
            .args([
                "relist".into(),
                format!("-kubeconfig={}", kubeconfig.display()),
                format!("-n={n}"),
                format!("-namespace={}", crate::fixtures::namespace()),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().context("gobench stdin")?;
        let mut lines = BufReader::new(child.stdout.take().context("gobench stdout")?).lines();
        let next = async |lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>| {
            tokio::time::timeout(RUN_TIMEOUT, lines.next_line())
                .await
                .context("gobench relist timed out")??
                .context("gobench relist ended early (its stderr says why)")
        };
        next(&mut lines).await?;
        force.await?;
        stdin.write_all(b"forced\n").await?;
        let result: Relist = serde_json::from_str(&next(&mut lines).await?)?;
        let status = child.wait().await?;
        anyhow::ensure!(status.success(), "gobench relist failed: {status}");
        Ok(result)
    }

    /// Events per second of a recorded stream (a file) through the informer to a handler.
    pub async fn watch(&self, events: &Path, n: usize) -> anyhow::Result<f64> {
        let w: Watch = self
            .run(&[
                "watch".into(),
                format!("-events={}", events.display()),
                format!("-n={n}"),
                format!("-namespace={}", crate::fixtures::namespace()),
            ])
            .await?;
        Ok(w.events_per_second)
    }

    /// Items per second through `TypedRateLimitingInterface`, the best of `passes`.
    pub async fn queue(&self, keys: usize, workers: usize, passes: usize) -> anyhow::Result<f64> {
        let q: Queue = self
            .run(&["queue".into(), format!("-keys={keys}"), format!("-workers={workers}"), format!("-passes={passes}")])
            .await?;
        Ok(q.items_per_second)
    }

    /// Built-in kinds through client-go's typed clientset with protobuf bodies (create, get,
    /// scale, an informer's list and watch), and the media types of the replies: what
    /// `gobench protobuf` prints. (A check, not a measurement: only the tests run it.)
    #[cfg(test)]
    pub async fn protobuf(&self, kubeconfig: &Path, namespace: &str) -> anyhow::Result<serde_json::Value> {
        self.run(&[
            "protobuf".into(),
            format!("-kubeconfig={}", kubeconfig.display()),
            format!("-namespace={namespace}"),
        ])
        .await
    }

    /// create, get and update latency of `n` objects each in `namespace`.
    pub async fn latency(&self, kubeconfig: &Path, namespace: &str, n: usize) -> anyhow::Result<Latency> {
        self.run(&[
            "latency".into(),
            format!("-kubeconfig={}", kubeconfig.display()),
            format!("-namespace={namespace}"),
            format!("-n={n}"),
        ])
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::GoBench;

    /// client-go, configured for protobuf as kube-controller-manager is, works against the
    /// devserver: its typed clientset creates, reads and scales built-in objects and its
    /// informer lists and watches them, and every reply it gets is protobuf. The same run
    /// against kube-apiserver (`gobench protobuf`) printed the same result. Go is required
    /// (`needs_go_*`: `scripts/e2e.sh` runs it; it fails, never skips, without Go).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn needs_go_client_go_speaks_protobuf_with_the_devserver() {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        let server = devserver::DevServer::builder().kubeconfig_path(&kc).start().await.unwrap();
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(server.client().unwrap());
        let ns = serde_json::from_value(serde_json::json!({"metadata": {"name": "pb"}})).unwrap();
        namespaces.create(&Default::default(), &ns).await.unwrap();
        let gobench = tokio::task::spawn_blocking(GoBench::build).await.unwrap().expect("Go builds gobench");
        let got = gobench.protobuf(&kc, "pb").await.unwrap();
        assert_eq!(
            got,
            serde_json::json!({
                "configMapData": "fast", "deploymentReplicas": 3, "scaleSelector": "app=pb", "listed": 1,
                "informerSaw": true, "protobufReplies": 7, "protobufWatchStreams": 1, "otherReplies": 0,
            })
        );
        server.shutdown().await;
    }
}
