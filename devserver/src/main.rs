//! The `devserver` binary: serve the API on `--addr` (default 127.0.0.1 with an ephemeral port)
//! and write a kubeconfig to `--kubeconfig-out` so kubectl and controllers can use it.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(name = "devserver", about = "A local Kubernetes-API-compatible server")]
struct Args {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Where to write the kubeconfig that points at this server.
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Serve https with a generated CA and bearer token (written into the kubeconfig).
    #[arg(long)]
    tls: bool,
    /// Authorize requests with RBAC against the stored Roles and bindings (needs --tls; the
    /// kubeconfig's admin token stays all-powerful).
    #[arg(long, requires = "tls")]
    rbac: bool,
    /// Mint a token for ServiceAccount NAMESPACE/NAME and write a kubeconfig using it next to the
    /// admin one (`<kubeconfig>-<namespace>-<name>`); repeatable. Needs --tls.
    #[arg(long, value_name = "NAMESPACE/NAME", requires = "tls")]
    service_account: Vec<String>,
    /// Run kube-controller-manager's garbage collector for ownerReferences and its namespace
    /// controller (deleted namespaces lose their content, then go); off by default, like envtest.
    #[arg(long)]
    gc: bool,
    /// Keep the state in this directory: loaded on start, every write logged durably (fsync)
    /// before it is answered; the directory is locked while the server runs.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Events of history kept per resource for watch resumption.
    #[arg(long, default_value_t = 10_000)]
    history: usize,
    /// Bytes of history kept per resource at most (the newest event is always kept).
    #[arg(long, default_value_t = devserver::store::DEFAULT_HISTORY_BYTES)]
    history_bytes: usize,
    /// Non-mutating requests in flight before answering 429 (watches are not counted).
    #[arg(long, default_value_t = 400)]
    max_requests_inflight: usize,
    /// Mutating requests in flight before answering 429.
    #[arg(long, default_value_t = 200)]
    max_mutating_requests_inflight: usize,
    /// The largest request body accepted (413 above it).
    #[arg(long, default_value_t = 3 * 1024 * 1024)]
    max_request_body_bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut builder = devserver::DevServer::builder()
        .addr(args.addr)
        .history_limit(args.history)
        .history_bytes_limit(args.history_bytes)
        .limits(devserver::limits::LimitSettings {
            max_requests_inflight: args.max_requests_inflight,
            max_mutating_requests_inflight: args.max_mutating_requests_inflight,
            max_request_body_bytes: args.max_request_body_bytes,
            ..Default::default()
        })
        .tls(args.tls)
        .rbac(args.rbac)
        .garbage_collection(args.gc);
    if let Some(d) = &args.data_dir {
        builder = builder.data_dir(d);
    }
    if let Some(p) = &args.kubeconfig_out {
        builder = builder.kubeconfig_path(p);
    }
    let server = builder.start().await?;
    println!("devserver listening on {}", server.url());
    println!("kubeconfig: {}", server.kubeconfig_path().display());
    for sa in &args.service_account {
        let Some((namespace, name)) = sa.split_once('/').filter(|(n, s)| !n.is_empty() && !s.is_empty()) else {
            anyhow::bail!("--service-account {sa:?}: expected NAMESPACE/NAME");
        };
        let token = server.service_account_token(namespace, name);
        let path = PathBuf::from(format!("{}-{namespace}-{name}", server.kubeconfig_path().display()));
        devserver::kubeconfig::write_private(&path, &server.kubeconfig_for_token(&token))?;
        println!("kubeconfig for ServiceAccount {namespace}/{name}: {}", path.display());
    }
    shutdown_signal().await?;
    server.shutdown().await;
    Ok(())
}

/// Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and Kubernetes send): both end in a clean
/// shutdown that writes the final snapshot.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    Ok(())
}
