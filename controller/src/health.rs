//! `/healthz`, `/readyz` (ready once caches synced and workers run) and `/metrics`, on axum.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

#[derive(Clone)]
struct AppState {
    ready: Arc<AtomicBool>,
    metrics: Metrics,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
    }
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.encode())
}

/// The router with all three endpoints.
pub fn router(ready: Arc<AtomicBool>, m: Metrics) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AppState { ready, metrics: m })
}

/// Binds `addrs` (deduplicated) and serves [`router`] on each until `cancel`. Returns the bound
/// addresses (useful with port 0) once listening; bind errors are returned, not panicked.
pub async fn serve(
    addrs: &[SocketAddr],
    ready: Arc<AtomicBool>,
    m: Metrics,
    cancel: CancellationToken,
) -> anyhow::Result<Vec<SocketAddr>> {
    let mut unique: Vec<SocketAddr> = addrs.to_vec();
    unique.sort();
    unique.dedup();
    let mut bound = vec![];
    for addr in unique {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        bound.push(listener.local_addr()?);
        let app = router(ready.clone(), m.clone());
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await {
                tracing::error!(error = %e, "health server failed");
            }
        });
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get_path(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn readyz_follows_the_flag_and_metrics_are_served() {
        let ready = Arc::new(AtomicBool::new(false));
        let cancel = CancellationToken::new();
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let bound = serve(&[addr], ready.clone(), Metrics::new(), cancel.clone()).await.unwrap();
        assert!(get_path(bound[0], "/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get_path(bound[0], "/readyz").await.starts_with("HTTP/1.1 503"));
        ready.store(true, Ordering::Release);
        assert!(get_path(bound[0], "/readyz").await.starts_with("HTTP/1.1 200"));
        let m = get_path(bound[0], "/metrics").await;
        assert!(m.contains("bitcoin_controller_reconcile_duration_seconds_count 0"), "{m}");
        cancel.cancel();
    }
}
