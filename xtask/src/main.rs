//! Developer tasks for this workspace, run as `cargo xtask <task>`.
//!
//! - `cargo xtask codegen`: regenerate everything derived from the tagged types in `apis/`
//!   (the `generated` crate's clientset, listers and informers, and the CRD manifests in
//!   `deploy/crd/`, and `deploy/rbac.yaml` from the `+kubebuilder:rbac` markers in
//!   `controller/src/`; the in-package code is rebuilt by `apis/build.rs`).
//! - `cargo xtask codegen --check`: write nothing; fail with a diff when anything is stale.
//! - `cargo xtask bench [--quick]`: the side-by-side benchmarks (release build), a table on
//!   stdout and `target/bench/report.json`.

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
    /// Run the benchmarks (release build) and write target/bench/report.json.
    Bench {
        /// Small sizes: checks that the harness works (CI), not the ratios.
        #[arg(long)]
        quick: bool,
        /// Repetitions of each timed measurement; the best is kept.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Codegen { check } => codegen(check),
        Task::Bench { quick, runs } => bench(quick, runs),
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

fn bench(quick: bool, runs: usize) -> ExitCode {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let report = root.join("target/bench/report.json");
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(&root).args(["run", "--release", "--quiet", "-p", "bench", "--"]);
    cmd.arg("--out").arg(&report).arg("--runs").arg(runs.to_string());
    if quick {
        cmd.arg("--quick");
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
