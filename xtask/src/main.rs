//! Developer tasks for this workspace, run as `cargo xtask <task>`.
//!
//! - `cargo xtask codegen`: regenerate everything derived from the tagged types in `apis/`
//!   (the `generated` crate's clientset, listers and informers, and the CRD manifests in
//!   `deploy/crd/`, and `deploy/rbac.yaml` from the `+kubebuilder:rbac` markers in
//!   `controller/src/`; the in-package code is rebuilt by `apis/build.rs`).
//! - `cargo xtask codegen --check`: write nothing; fail with a diff when anything is stale.
//! - `cargo xtask bench [--quick] [--server real]`: the side-by-side benchmarks (release build;
//!   ours, kube-rs and client-go, so Go is required), a table on stdout and
//!   `target/bench/report.json`; `--server real` runs the client-based rows against the
//!   kube-apiserver of a running `cargo xtask cluster up`.
//! - `cargo xtask cluster up|down|env`: a real kube-apiserver and etcd, built from source, on
//!   loopback (see [`cluster`]).
//! - `cargo xtask discovery [--check]`: record the built-in resources' verbs and subresources
//!   from a running `cargo xtask cluster up --all-apis` (see [`discovery`]).
//! - `cargo xtask conformance`: the devserver's conformance cases against the devserver and
//!   that real server, compared case by case (see [`conformance`]).
//! - `cargo xtask chaos --rounds N`: the devserver's `kill -9` rounds with writers running
//!   (`devserver/tests/durability.rs`; CI runs 3), printing rounds, acknowledged writes and
//!   lost writes (which must be 0).

mod cluster;
mod conformance;
mod discovery;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::workspace_root;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Developer tasks for this workspace")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the code generator over apis/ and write its output into the workspace.
    Codegen {
        /// Write nothing; exit non-zero with a unified diff when a generated file is stale.
        #[arg(long)]
        check: bool,
    },
    /// Record the built-in resources' verbs and subresources from a running
    /// `cargo xtask cluster up --all-apis` into codegen's checked-in discovery file.
    Discovery {
        /// Write nothing; fail when the checked-in recording differs from the server.
        #[arg(long)]
        check: bool,
    },
    /// Run the benchmarks (release build) and write target/bench/report.json.
    Bench {
        /// Small sizes: checks that the harness works (CI), not the ratios.
        #[arg(long)]
        quick: bool,
        /// Repetitions of each timed measurement; the best is kept.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The server of the client-based rows: `devserver`, or `real` (the kube-apiserver of a
        /// running `cargo xtask cluster up`).
        #[arg(long, value_enum, default_value_t = BenchServer::Devserver)]
        server: BenchServer,
        /// Run only these sections (informers, watch, queue, latency, controller, durability, codegen).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Run the conformance cases against the devserver and the real server; compare; report.
    Conformance,
    /// kill -9 the devserver (--data-dir) N times with writers running; no acknowledged write
    /// may be lost, no resourceVersion reused.
    Chaos {
        /// How many kill rounds.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// A real control plane (kube-apiserver + etcd built from source with Go) on 127.0.0.1.
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
}

/// Where `cargo xtask bench` runs its client-based rows.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchServer {
    /// The devserver, in the benchmark process on its own runtime.
    Devserver,
    /// kube-apiserver + etcd from `cargo xtask cluster up`.
    Real,
}

#[derive(Subcommand)]
enum ClusterAction {
    /// Build (once; cached under target/controlplane), start and wait for the control plane.
    Up {
        /// Also write the admin kubeconfig here (0600).
        #[arg(long)]
        kubeconfig_out: Option<PathBuf>,
        /// Serve every API group and version, alpha and beta included (for recording discovery).
        #[arg(long)]
        all_apis: bool,
    },
    /// Stop the running control plane (its logs are kept).
    Down,
    /// Print `export KUBECONFIG=...` and `export KUBE_TEST_KUBECONFIG=...` for the running one.
    Env,
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Codegen { check } => codegen(check),
        Task::Discovery { check } => report(discovery::run(&workspace_root(), check)),
        Task::Bench { quick, runs, server, only } => bench(quick, runs, server, &only),
        Task::Conformance => report(conformance::run(&workspace_root())),
        Task::Chaos { rounds } => chaos(rounds),
        Task::Cluster { action } => report(match action {
            ClusterAction::Up { kubeconfig_out, all_apis } => {
                cluster::up(&workspace_root(), kubeconfig_out.as_deref(), all_apis)
            }
            ClusterAction::Down => cluster::down(&workspace_root()),
            ClusterAction::Env => cluster::env(&workspace_root()),
        }),
    }
}

/// Prints an error chain (each cause on its own line) and turns it into the exit code.
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn codegen(check: bool) -> ExitCode {
    let root = workspace_root();
    let config = xtask::codegen_config(&root, check);
    match config.run() {
        Ok(report) => {
            println!("{}", report.summary());
            if check {
                if !report.is_fresh() {
                    eprint!("{}", report.check_failure());
                    return ExitCode::FAILURE;
                }
                println!("generated files are up to date");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(quick: bool, runs: usize, server: BenchServer, only: &[String]) -> ExitCode {
    let root = workspace_root();
    let kubeconfig = cluster::Paths::new(&root).kubeconfig();
    if server == BenchServer::Real && !cluster::is_running(&root) {
        eprintln!("error: --server real needs a running cluster: start one with `cargo xtask cluster up`");
        return ExitCode::FAILURE;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let report = root.join("target/bench/report.json");
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(&root).args(["run", "--release", "--quiet", "-p", "bench", "--"]);
    cmd.arg("--out").arg(&report).arg("--runs").arg(runs.to_string());
    if quick {
        cmd.arg("--quick");
    }
    if server == BenchServer::Real {
        cmd.args(["--server", "real", "--kubeconfig"]).arg(&kubeconfig);
    }
    if !only.is_empty() {
        cmd.arg("--only").arg(only.join(","));
    }
    match cmd.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("bench failed: {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the durability test's kill rounds with `CHAOS_ROUNDS=rounds`, its figures on stdout.
fn chaos(rounds: usize) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args(["test", "-p", "devserver", "--test", "durability", "kill_9", "--", "--nocapture"])
        .env("CHAOS_ROUNDS", rounds.to_string())
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("chaos failed: {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}
