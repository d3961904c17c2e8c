//! Command-line flags (clap), with the seeds' config rules: `--kubeconfig`/`--context`/`--master`
//! select a kubeconfig; with neither kubeconfig nor master the in-cluster config is used.

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Parses durations like `30s`, `500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}: expected e.g. 30s, 500ms, 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The bitcoin controller's flags.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "bitcoin-controller",
    version,
    about = "Reconciles BitcoinNetworks into connected bitcoind StatefulSets"
)]
pub struct Flags {
    /// Path to a kubeconfig. Only required if out-of-cluster.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// The address of the Kubernetes API server. Overrides any value in kubeconfig.
    #[arg(long)]
    pub master: Option<String>,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Number of concurrent reconciles.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Informer resync period (also the period of the mesh check of Ready networks).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub resync: Duration,
    /// Run for leadership on a Lease; only the leader reconciles.
    #[arg(long)]
    pub leader_elect: bool,
    /// Name of the leader election Lease.
    #[arg(long, default_value = "bitcoin-controller")]
    pub leader_elect_lease_name: String,
    /// Namespace of the leader election Lease (default: the pod's namespace, else `default`).
    #[arg(long)]
    pub leader_elect_namespace: Option<String>,
    /// Address of the /metrics endpoint [default: 0.0.0.0:8080; with --embedded 127.0.0.1:0, a
    /// free loopback port, printed at start].
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// Address of the /healthz and /readyz endpoints [default: 0.0.0.0:8081; with --embedded
    /// 127.0.0.1:0].
    #[arg(long)]
    pub health_addr: Option<SocketAddr>,
    /// bitcoind RPC port (regtest: 18443).
    #[arg(long, default_value_t = 18443)]
    pub rpc_port: u16,
    /// Timeout of each bitcoind RPC call.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub rpc_timeout: Duration,
    /// CIDR from which bitcoind accepts RPC (the pod network).
    #[arg(long, default_value = "10.0.0.0/8")]
    pub rpc_allow_ip: String,
    /// bitcoind image for networks without spec.image.
    #[arg(long, default_value = "bitcoin/bitcoin:28.1")]
    pub bitcoind_image: String,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Run against an in-process devserver with simulated pods and bitcoind, with the example
    /// network from deploy/examples.
    #[arg(long)]
    pub embedded: bool,
    /// With --embedded: exit 0 once every network is Ready.
    #[arg(long, requires = "embedded")]
    pub exit_when_ready: bool,
    /// With --embedded: show the simulator's and devserver's logs here instead of in a file.
    #[arg(short, long)]
    pub verbose: bool,
    /// With --embedded: seconds a simulated pod takes to become ready.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub sim_ready_delay: Duration,
}

impl Flags {
    /// `--metrics-addr`, or its default: all interfaces in a cluster (Prometheus scrapes the pod
    /// IP), loopback and a free port in embedded mode (a demo opens nothing to the network).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr.unwrap_or_else(|| default_addr(self.embedded, 8080))
    }

    /// `--health-addr`, or its default (see [`Flags::metrics_addr`]).
    pub fn health_addr(&self) -> SocketAddr {
        self.health_addr.unwrap_or_else(|| default_addr(self.embedded, 8081))
    }
}

fn default_addr(embedded: bool, port: u16) -> SocketAddr {
    if embedded { SocketAddr::from(([127, 0, 0, 1], 0)) } else { SocketAddr::from(([0, 0, 0, 0], port)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_issue() {
        let f = Flags::try_parse_from(["bitcoin-controller"]).unwrap();
        assert_eq!(f.workers, 2);
        assert_eq!(f.resync, Duration::from_secs(30));
        assert_eq!(f.rpc_port, 18443);
        assert!(!f.leader_elect && !f.embedded);
        assert_eq!(f.log_format, LogFormat::Text);
        assert_eq!(f.metrics_addr().to_string(), "0.0.0.0:8080");
        assert_eq!(f.health_addr().to_string(), "0.0.0.0:8081");
        let e = Flags::try_parse_from(["bitcoin-controller", "--embedded"]).unwrap();
        assert_eq!(e.metrics_addr().to_string(), "127.0.0.1:0", "embedded stays on loopback");
        assert_eq!(e.health_addr().to_string(), "127.0.0.1:0");
        let set = Flags::try_parse_from(["x", "--embedded", "--health-addr", "127.0.0.1:9"]).unwrap();
        assert_eq!(set.health_addr().to_string(), "127.0.0.1:9");
    }

    #[test]
    fn bad_flags_are_errors_not_panics() {
        assert!(Flags::try_parse_from(["x", "--workers", "0"]).is_err());
        assert!(Flags::try_parse_from(["x", "--resync", "soon"]).is_err());
        assert!(Flags::try_parse_from(["x", "--exit-when-ready"]).is_err());
        assert!(Flags::try_parse_from(["x", "--metrics-addr", "nowhere"]).is_err());
        let f = Flags::try_parse_from(["x", "--resync", "500ms", "--log-format", "json"]).unwrap();
        assert_eq!(f.resync, Duration::from_millis(500));
        assert_eq!(f.log_format, LogFormat::Json);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("").is_err());
    }
}
