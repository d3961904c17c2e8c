//! The API server every client-based row measures against: the devserver, or the real
//! kube-apiserver of a running `cargo xtask cluster up` (`--server real`).
//!
//! Fairness: the devserver runs on a Tokio runtime of its own (two worker threads named
//! `devserver`), not on the bench's runtime. Our informer, kube-rs's reflector and client-go's
//! (a child process) then all talk over loopback HTTP to a server whose work is scheduled
//! apart from theirs; before, the server's JSON encoding ran on the same two worker threads as
//! our informer, and only our side paid for it. The server still shares the process's
//! allocator and its two cores with whatever client is measured, as kube-apiserver would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use devserver::DevServerHandle;

/// Which server the client-based rows run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The in-process devserver (on its own runtime and threads).
    Devserver,
    /// kube-apiserver + etcd from `cargo xtask cluster up`.
    Real,
}

/// A server for one section: its client and its kubeconfig (for gobench).
pub struct Server {
    client: kube::Client,
    kubeconfig: PathBuf,
    dev: Option<Dev>,
}

struct Dev {
    handle: Option<DevServerHandle>,
    /// `None` when the devserver shares the bench's runtime (`--shared-runtime`).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    /// A fresh devserver on its own runtime, keeping `history` watch events.
    pub async fn devserver(history: usize) -> anyhow::Result<Self> {
        Self::devserver_with(history, true).await
    }

    /// A fresh devserver on the caller's runtime, as before the fairness change: only for
    /// measuring what that change does (`bench --shared-runtime`).
    pub async fn devserver_on_this_runtime(history: usize) -> anyhow::Result<Self> {
        Self::devserver_with(history, false).await
    }

    async fn devserver_with(history: usize, own_runtime: bool) -> anyhow::Result<Self> {
        if !own_runtime {
            let handle = devserver::DevServer::builder().history_limit(history).start().await?;
            let (client, kubeconfig) = (handle.client()?, handle.kubeconfig_path().to_path_buf());
            return Ok(Self { client, kubeconfig, dev: Some(Dev { handle: Some(handle), runtime: None }) });
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("devserver")
            .enable_all()
            .build()?;
        let handle = runtime
            .spawn(async move { devserver::DevServer::builder().history_limit(history).start().await })
            .await??;
        let client = handle.client()?;
        let kubeconfig = handle.kubeconfig_path().to_path_buf();
        Ok(Self { client, kubeconfig, dev: Some(Dev { handle: Some(handle), runtime: Some(runtime) }) })
    }

    /// The running real cluster whose admin kubeconfig is `kubeconfig`.
    pub async fn real(kubeconfig: &Path) -> anyhow::Result<Self> {
        let no_cluster =
            || format!("no running cluster at {}: start one with `cargo xtask cluster up`", kubeconfig.display());
        let text = kube::config::Kubeconfig::read_from(kubeconfig).with_context(no_cluster)?;
        let config = kube::Config::from_custom_kubeconfig(text, &Default::default()).await?;
        let client = kube::Client::try_from(config)?;
        tokio::time::timeout(Duration::from_secs(10), client.apiserver_version())
            .await
            .with_context(no_cluster)?
            .with_context(no_cluster)?;
        Ok(Self { client, kubeconfig: kubeconfig.to_path_buf(), dev: None })
    }

    /// A client (default namespace `default`).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The kubeconfig file, for gobench.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The devserver's handle (relist and request-log based rows), `None` on the real server.
    pub fn dev(&self) -> Option<&DevServerHandle> {
        self.dev.as_ref().and_then(|d| d.handle.as_ref())
    }

    /// Starts counting list requests for `bitcoinnetworks`: the devserver's request log is
    /// cleared (it is bounded), the real server's `apiserver_request_total` is read.
    pub async fn mark_lists(&self) -> anyhow::Result<u64> {
        match self.dev() {
            Some(d) => {
                d.request_log().clear();
                Ok(0)
            }
            None => self.real_list_count().await,
        }
    }

    /// List requests for `bitcoinnetworks` since `mark` ([`Server::mark_lists`]).
    pub async fn lists_since(&self, mark: u64) -> anyhow::Result<u64> {
        match self.dev() {
            Some(d) => Ok(d.request_log().count("list", "bitcoinnetworks") as u64),
            None => Ok(self.real_list_count().await?.saturating_sub(mark)),
        }
    }

    /// The sum of kube-apiserver's `apiserver_request_total` counters for LIST requests of
    /// bitcoinnetworks (every code and scope).
    async fn real_list_count(&self) -> anyhow::Result<u64> {
        let req = http::Request::get("/metrics").body(Vec::new())?;
        let text = self.client.request_text(req).await.context("reading kube-apiserver's /metrics")?;
        Ok(list_count(&text))
    }

    /// Stops the devserver and its runtime; on the real server, leaves its objects (they are in
    /// this run's namespace; the next `cargo xtask cluster up` starts from an empty etcd).
    pub async fn shutdown(mut self) {
        if let Some(mut dev) = self.dev.take()
            && let Some(handle) = dev.handle.take()
        {
            match dev.runtime.take() {
                Some(runtime) => {
                    let _ = runtime.spawn(handle.shutdown()).await;
                    runtime.shutdown_background();
                }
                None => handle.shutdown().await,
            }
        }
    }
}

/// `apiserver_request_total{...resource="bitcoinnetworks"...verb="LIST"...}` summed.
fn list_count(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("apiserver_request_total{")
                && l.contains("resource=\"bitcoinnetworks\"")
                && l.contains("verb=\"LIST\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_only_list_requests_of_bitcoinnetworks() {
        let text = r#"# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="bitcoincontroller.christianb93.github.com",resource="bitcoinnetworks",scope="namespace",subresource="",verb="LIST",version="v1"} 3
apiserver_request_total{code="410",component="apiserver",dry_run="",group="bitcoincontroller.christianb93.github.com",resource="bitcoinnetworks",scope="namespace",subresource="",verb="LIST",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="bitcoincontroller.christianb93.github.com",resource="bitcoinnetworks",scope="namespace",subresource="",verb="WATCH",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 11
"#;
        assert_eq!(super::list_count(text), 5);
    }
}
