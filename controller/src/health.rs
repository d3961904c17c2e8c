//! `/healthz`, `/readyz` (ready once the caches synced, on a leader and a standby alike) and
//! `/metrics`, on axum, each on its own address.

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

/// Which endpoints a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoints {
    /// `/metrics` only.
    Metrics,
    /// `/healthz` and `/readyz`.
    Health,
    /// All three (when both flags name the same address).
    All,
}

/// The router for `which` endpoints.
pub fn router(which: Endpoints, ready: Arc<AtomicBool>, m: Metrics) -> Router {
    let mut r = Router::new();
    if which != Endpoints::Metrics {
        r = r.route("/healthz", get(healthz)).route("/readyz", get(readyz));
    }
    if which != Endpoints::Health {
        r = r.route("/metrics", get(metrics));
    }
    r.with_state(AppState { ready, metrics: m })
}

/// The addresses the endpoints listen on, once bound (useful with port 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// Where `/metrics` is served, or why it is not.
    pub metrics: Result<SocketAddr, String>,
    /// Where `/healthz` and `/readyz` are served, or why they are not.
    pub health: Result<SocketAddr, String>,
}

async fn listen(
    addr: SocketAddr,
    which: Endpoints,
    ready: &Arc<AtomicBool>,
    m: &Metrics,
    cancel: &CancellationToken,
) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| format!("{addr}: {e}"))?;
    let app = router(which, ready.clone(), m.clone());
    let cancel = cancel.clone();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await {
            tracing::error!(error = %e, "health/metrics server failed");
        }
    });
    Ok(local)
}

/// Serves `/metrics` on `metrics_addr` and `/healthz` + `/readyz` on `health_addr` until
/// `cancel`. Each is bound on its own, so one address in use does not take the other endpoint
/// down; the same non-zero address for both serves all three on one listener. Bind errors are
/// returned per endpoint, never panicked; the caller decides whether they are fatal.
pub async fn serve(
    metrics_addr: SocketAddr,
    health_addr: SocketAddr,
    ready: Arc<AtomicBool>,
    m: Metrics,
    cancel: CancellationToken,
) -> Bound {
    if metrics_addr == health_addr && metrics_addr.port() != 0 {
        let both = listen(metrics_addr, Endpoints::All, &ready, &m, &cancel).await;
        return Bound { metrics: both.clone(), health: both };
    }
    let metrics = listen(metrics_addr, Endpoints::Metrics, &ready, &m, &cancel).await;
    let health = listen(health_addr, Endpoints::Health, &ready, &m, &cancel).await;
    Bound { metrics, health }
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
        let bound = serve(addr, addr, ready.clone(), Metrics::new(), cancel.clone()).await;
        let (health, metrics) = (bound.health.unwrap(), bound.metrics.unwrap());
        assert_ne!(health, metrics, "port 0 twice: two listeners");
        assert!(get_path(health, "/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get_path(health, "/readyz").await.starts_with("HTTP/1.1 503"));
        ready.store(true, Ordering::Release);
        assert!(get_path(health, "/readyz").await.starts_with("HTTP/1.1 200"));
        assert!(get_path(health, "/metrics").await.starts_with("HTTP/1.1 404"), "metrics live on their own address");
        let m = get_path(metrics, "/metrics").await;
        assert!(m.contains("bitcoin_controller_reconcile_duration_seconds_count 0"), "{m}");
        assert!(get_path(metrics, "/readyz").await.starts_with("HTTP/1.1 404"));
        cancel.cancel();
    }

    #[tokio::test]
    async fn an_address_in_use_takes_down_only_its_own_endpoint() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let taken_addr = taken.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let free: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let bound = serve(taken_addr, free, Arc::new(AtomicBool::new(true)), Metrics::new(), cancel.clone()).await;
        let err = bound.metrics.unwrap_err();
        assert!(err.contains(&format!("cannot listen on {taken_addr}")), "{err}");
        let health = bound.health.unwrap();
        assert!(get_path(health, "/readyz").await.starts_with("HTTP/1.1 200"));

        let one = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let both = serve(one, one, Arc::new(AtomicBool::new(true)), Metrics::new(), cancel.clone()).await;
        assert_eq!(both.metrics, Ok(one));
        assert!(get_path(one, "/metrics").await.starts_with("HTTP/1.1 200"), "same address: all three");
        assert!(get_path(one, "/healthz").await.starts_with("HTTP/1.1 200"));
        cancel.cancel();
    }
}
