//! `cargo xtask cluster up|down|env`: a real Kubernetes control plane (kube-apiserver and etcd,
//! built from source by the Go module in `e2e/controlplane/`) on loopback, for the test suites
//! that run against the real thing and for `cargo xtask conformance`.
//!
//! Layout under `target/controlplane/`:
//! - `bin/`: `kube-apiserver`, `etcd` and a stamp of the inputs they were built from (rebuilt
//!   only when `go.mod`, `go.sum` or the etcd main change);
//! - `run/`: one running cluster: certificates, the admin token file, etcd's data, the logs,
//!   `state.json` (pids, ports) and `kubeconfig`.
//!
//! Everything listens on 127.0.0.1 only. The cluster has no kubelet, scheduler or controller
//! manager: tests that need workloads run `devserver::sim`, which plays those parts through the
//! API, against it.

mod build;
mod certs;
mod process;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub use build::build;

/// Where the built binaries and the running cluster live.
pub struct Paths {
    /// `e2e/controlplane`: the Go module.
    pub module: PathBuf,
    /// `target/controlplane/bin`.
    pub bin: PathBuf,
    /// `target/controlplane/run`.
    pub run: PathBuf,
}

impl Paths {
    /// Paths for the workspace at `root`.
    pub fn new(root: &Path) -> Self {
        let base = root.join("target/controlplane");
        Paths { module: root.join("e2e/controlplane"), bin: base.join("bin"), run: base.join("run") }
    }

    /// The admin kubeconfig of the running cluster.
    pub fn kubeconfig(&self) -> PathBuf {
        self.run.join("kubeconfig")
    }

    fn state(&self) -> PathBuf {
        self.run.join("state.json")
    }
}

/// What `up` records for `down` and for a second `up`.
#[derive(Serialize, Deserialize)]
struct State {
    etcd_pid: u32,
    apiserver_pid: u32,
    apiserver_port: u16,
    etcd_port: u16,
    version: String,
    /// Started with `--all-apis`.
    #[serde(default)]
    all_apis: bool,
}

/// Builds (when stale), starts and waits for the control plane; writes the admin kubeconfig
/// to `run/kubeconfig` and, when given, to `kubeconfig_out`. With `all_apis` every API group
/// and version the server knows is served (`--runtime-config=api/all=true`, alpha and beta
/// feature gates on), for recording discovery (`cargo xtask discovery`).
pub fn up(root: &Path, kubeconfig_out: Option<&Path>, all_apis: bool) -> Result<()> {
    let paths = Paths::new(root);
    let version = build(&paths)?;
    if let Some(state) = running(&paths) {
        if state.all_apis == all_apis && process::ready(&paths.kubeconfig(), Duration::from_secs(5)).is_ok() {
            println!(
                "cluster: already running (kube-apiserver {} on 127.0.0.1:{}, pid {})",
                state.version, state.apiserver_port, state.apiserver_pid
            );
            return finish(&paths, kubeconfig_out);
        }
        println!("cluster: a previous cluster is not ready or serves other APIs; stopping it first");
        down(root)?;
    }
    reset_run_dir(&paths.run)?;
    let material = certs::generate(&paths.run)?;
    let etcd_port = process::free_port()?;
    let peer_port = process::free_port()?;
    let apiserver_port = process::free_port()?;

    let started = Instant::now();
    let etcd = process::start_etcd(&paths, etcd_port, peer_port)?;
    let apiserver = match process::start_apiserver(&paths, &material, apiserver_port, etcd_port, all_apis) {
        Ok(p) => p,
        Err(e) => {
            process::stop(etcd.pid, &paths.bin.join("etcd"));
            return Err(e);
        }
    };
    let state = State {
        etcd_pid: etcd.pid,
        apiserver_pid: apiserver.pid,
        apiserver_port,
        etcd_port,
        version: version.clone(),
        all_apis,
    };
    std::fs::write(paths.state(), serde_json::to_vec_pretty(&state)?)?;
    certs::write_kubeconfig(&paths.kubeconfig(), apiserver_port, &material)?;

    if let Err(e) = process::wait_ready(&paths, &[&etcd, &apiserver], Duration::from_secs(120)) {
        let _ = down(root);
        return Err(e);
    }
    println!(
        "cluster: kube-apiserver {version} ready on https://127.0.0.1:{apiserver_port} in {:.1} s (etcd on 127.0.0.1:{etcd_port}; logs in {})",
        started.elapsed().as_secs_f64(),
        paths.run.display()
    );
    finish(&paths, kubeconfig_out)
}

fn finish(paths: &Paths, kubeconfig_out: Option<&Path>) -> Result<()> {
    if let Some(out) = kubeconfig_out {
        let text = std::fs::read(paths.kubeconfig())?;
        certs::write_private(out, &text).with_context(|| format!("writing {}", out.display()))?;
        println!("cluster: kubeconfig also written to {}", out.display());
    }
    println!("cluster: kubeconfig {}", paths.kubeconfig().display());
    println!("cluster: `eval \"$(cargo xtask cluster env)\"` points kubectl and the test suites at it");
    Ok(())
}

/// Stops a running cluster (SIGTERM, then SIGKILL after 10 s). Stopping nothing is not an error.
pub fn down(root: &Path) -> Result<()> {
    let paths = Paths::new(root);
    let Some(state) = read_state(&paths) else {
        println!("cluster: nothing running ({} has no state.json)", paths.run.display());
        return Ok(());
    };
    process::stop(state.apiserver_pid, &paths.bin.join("kube-apiserver"));
    process::stop(state.etcd_pid, &paths.bin.join("etcd"));
    std::fs::remove_file(paths.state())?;
    println!("cluster: stopped (logs kept in {})", paths.run.display());
    Ok(())
}

/// Prints the shell lines that point kubectl and the real-server test suites at the cluster.
pub fn env(root: &Path) -> Result<()> {
    let paths = Paths::new(root);
    if running(&paths).is_none() {
        bail!("no cluster is running: start one with `cargo xtask cluster up`");
    }
    let kc = paths.kubeconfig();
    println!("export KUBECONFIG={}", kc.display());
    println!("export KUBE_TEST_KUBECONFIG={}", kc.display());
    Ok(())
}

/// Whether a cluster started by `up` is running.
pub fn is_running(root: &Path) -> bool {
    running(&Paths::new(root)).is_some()
}

fn read_state(paths: &Paths) -> Option<State> {
    let bytes = std::fs::read(paths.state()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The recorded cluster, when both of its processes are still alive.
/// The running cluster's kubeconfig, its kube-apiserver version, and whether it serves every API
/// (`--all-apis`).
pub fn running_with_all_apis(root: &Path) -> Option<(PathBuf, String, bool)> {
    let paths = Paths::new(root);
    running(&paths).map(|s| (paths.kubeconfig(), s.version, s.all_apis))
}

fn running(paths: &Paths) -> Option<State> {
    let state = read_state(paths)?;
    let alive = process::is_ours(state.apiserver_pid, &paths.bin.join("kube-apiserver"))
        && process::is_ours(state.etcd_pid, &paths.bin.join("etcd"));
    alive.then_some(state)
}

/// Empties `run/` for a new cluster. Only this tool writes there (it is under `target/`), so
/// the whole folder is ours to remove; logs of the previous cluster go with it.
fn reset_run_dir(run: &Path) -> Result<()> {
    if run.exists() {
        std::fs::remove_dir_all(run).with_context(|| format!("removing the previous cluster's {}", run.display()))?;
    }
    std::fs::create_dir_all(run).with_context(|| format!("creating {}", run.display()))?;
    Ok(())
}
