//! The `codegen` command: runs the generator on any apis crate, from any workspace.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Generate a typed clientset, listers, informers and CRD manifests from a crate of tagged Kubernetes API types.
#[derive(Parser, Debug)]
#[command(name = "codegen", version)]
struct Args {
    /// The apis crate (the folder with its Cargo.toml and src/).
    #[arg(long)]
    input: PathBuf,
    /// The generated crate (clientset, listers, informers); a Cargo.toml is created if missing.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Where to write CRD manifests.
    #[arg(long)]
    crd_dir: Option<PathBuf>,
    /// Also generate the built-in crate (typed clients, listers and informers for every
    /// k8s-openapi kind the input's workspace locks) into this folder.
    #[arg(long)]
    kubernetes: Option<PathBuf>,
    /// The discovery recording for the built-in crate's verbs (default: the one codegen carries,
    /// kube-apiserver v1.37; `cargo xtask discovery` records another).
    #[arg(long, requires = "kubernetes")]
    discovery: Option<PathBuf>,
    /// Write nothing; exit 1 with a diff if any generated file is stale.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut regenerate = format!("codegen --input {}", args.input.display());
    if let Some(d) = &args.output {
        regenerate.push_str(&format!(" --output {}", d.display()));
    }
    if let Some(d) = &args.crd_dir {
        regenerate.push_str(&format!(" --crd-dir {}", d.display()));
    }
    if let Some(d) = &args.kubernetes {
        regenerate.push_str(&format!(" --kubernetes {}", d.display()));
    }
    if let Some(d) = &args.discovery {
        regenerate.push_str(&format!(" --discovery {}", d.display()));
    }
    let mut config = codegen::Config::new().input(&args.input).check(args.check).regenerate_command(regenerate);
    if let Some(d) = &args.crd_dir {
        config = config.crd_dir(d);
    }
    if let Some(d) = &args.output {
        config = config.output(d);
    }
    if let Some(d) = &args.kubernetes {
        config = config.kubernetes(d);
    }
    if let Some(f) = &args.discovery {
        config = config.discovery(f);
    }
    match config.run() {
        Ok(report) => {
            println!("{}", report.summary());
            if args.check && !report.is_fresh() {
                eprint!("{}", report.check_failure());
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
