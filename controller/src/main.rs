//! `bitcoin-controller`: flags → client config → (leader election) → controller, with health
//! and metrics endpoints and graceful shutdown on SIGINT/SIGTERM (a second signal exits at once).

use clap::Parser;
use controller::controller::{Config, Controller};
use controller::flags::{Flags, LogFormat};
use controller::health;
use controller::metrics::Metrics;
use controller::resources::PodSettings;
use runtime::leader_election::LeaderElectionConfig;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Logs to stderr; in embedded mode without `-v`, the devserver's and the simulator's logs go to
/// a file instead (`embedded::sim_log_path`, printed at start), so the status table stays
/// readable. `RUST_LOG` overrides the stderr filter.
fn init_tracing(flags: &Flags) {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{Layer, fmt};
    let quiet_sim = flags.embedded && !flags.verbose;
    let default = match (flags.embedded, quiet_sim) {
        (true, true) => "info,devserver=off",
        (true, false) => "info,devserver=warn,devserver::sim=info",
        _ => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only on a terminal: piped or collected logs stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr = fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    let stderr = match flags.log_format {
        LogFormat::Text => stderr.boxed(),
        LogFormat::Json => stderr.json().boxed(),
    };
    let file = if quiet_sim { sim_log_file() } else { None };
    let file = file.map(|f| {
        fmt::layer()
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .with_filter(EnvFilter::new("devserver=warn,devserver::sim=info"))
    });
    tracing_subscriber::registry().with(stderr.with_filter(filter)).with(file).init();
}

#[cfg(feature = "embedded")]
fn sim_log_file() -> Option<std::fs::File> {
    let path = controller::embedded::sim_log_path();
    std::fs::File::create(&path).map_err(|e| eprintln!("cannot write the simulator log {}: {e}", path.display())).ok()
}

#[cfg(not(feature = "embedded"))]
fn sim_log_file() -> Option<std::fs::File> {
    None
}

/// Cancels `cancel` on the first SIGINT/SIGTERM; exits the process on the second.
fn handle_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                None
            }
        };
        for n in 0..2 {
            #[cfg(unix)]
            let got = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let got = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = got => {}
            }
            if n == 0 {
                tracing::info!("signal received: shutting down (send it again to exit at once)");
                cancel.cancel();
            } else {
                tracing::warn!("second signal: exiting now");
                std::process::exit(1);
            }
        }
    });
}

async fn clientset(flags: &Flags) -> anyhow::Result<generated::Clientset> {
    if flags.kubeconfig.is_none() && flags.master.is_none() {
        tracing::info!("neither --kubeconfig nor --master given: using the in-cluster config");
        return generated::Clientset::in_cluster().map_err(|e| anyhow::anyhow!("in-cluster config: {e}"));
    }
    let options = kube::config::KubeConfigOptions { context: flags.context.clone(), ..Default::default() };
    let from_file = match &flags.kubeconfig {
        Some(p) => match kube::config::Kubeconfig::read_from(p) {
            Ok(kc) => kube::Config::from_custom_kubeconfig(kc, &options).await.map_err(anyhow::Error::from),
            Err(e) => Err(anyhow::anyhow!("reading kubeconfig {}: {e}", p.display())),
        },
        None => kube::Config::from_kubeconfig(&options).await.map_err(anyhow::Error::from),
    };
    let mut config = match (from_file, &flags.master) {
        (Ok(c), _) => c,
        (Err(e), Some(master)) => {
            tracing::warn!(error = %e, "no usable kubeconfig; using --master alone");
            kube::Config::new(master.parse().map_err(|e| anyhow::anyhow!("--master {master:?}: {e}"))?)
        }
        (Err(e), None) => return Err(e),
    };
    if let Some(master) = &flags.master {
        config.cluster_url = master.parse().map_err(|e| anyhow::anyhow!("--master {master:?}: {e}"))?;
    }
    Ok(generated::Clientset::new(kube::Client::try_from(config)?))
}

fn controller_config(flags: &Flags) -> Config {
    Config {
        workers: usize::from(flags.workers),
        resync: flags.resync,
        namespace: flags.namespace.clone(),
        settings: PodSettings {
            default_image: flags.bitcoind_image.clone(),
            rpc_port: flags.rpc_port,
            rpc_allow_ip: flags.rpc_allow_ip.clone(),
        },
        rpc_timeout: flags.rpc_timeout,
        instance: std::env::var("POD_NAME").or_else(|_| std::env::var("HOSTNAME")).ok(),
        ..Config::default()
    }
}

async fn run(flags: Flags, cancel: CancellationToken) -> anyhow::Result<()> {
    if flags.embedded {
        #[cfg(feature = "embedded")]
        return controller::embedded::run(&flags, controller_config(&flags), cancel).await;
        #[cfg(not(feature = "embedded"))]
        anyhow::bail!(
            "--embedded is not in this binary: it was built without the `embedded` cargo feature (build with `cargo build -p controller --features embedded`)"
        );
    }
    let cs = clientset(&flags).await?;
    let metrics = Metrics::new();
    let ctl = Controller::new(cs.clone(), controller_config(&flags), metrics.clone())?;
    let bound =
        health::serve(flags.metrics_addr(), flags.health_addr(), ctl.ready_flag(), metrics, cancel.clone()).await;
    let metrics_at = bound.metrics.map_err(|e| anyhow::anyhow!("{e} (choose another with --metrics-addr)"))?;
    let health_at = bound.health.map_err(|e| anyhow::anyhow!("{e} (choose another with --health-addr)"))?;
    tracing::info!(metrics = %metrics_at, health = %health_at, "serving /metrics and /healthz, /readyz");
    if !flags.leader_elect {
        return ctl.run(cancel).await;
    }
    let namespace = flags
        .leader_elect_namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "default".into());
    let host = std::env::var("POD_NAME").or_else(|_| std::env::var("HOSTNAME")).unwrap_or_else(|_| "local".into());
    let identity = format!("{host}_{}", rand::random::<u32>());
    let election = LeaderElectionConfig::new(namespace, flags.leader_elect_lease_name.clone(), identity);
    ctl.run_leader_elected(cs.client().clone(), election, cancel).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = Flags::parse();
    init_tracing(&flags);
    let cancel = CancellationToken::new();
    handle_signals(cancel.clone());
    match run(flags, cancel).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
