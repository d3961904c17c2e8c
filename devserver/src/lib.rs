//! A local Kubernetes-API-compatible server for tests, the controller's embedded mode and kubectl.
//!
//! It serves the parts of the API our clients, client-go and kubectl touch, with the real
//! server's codes, reasons and messages (compared with kube-apiserver, built from source, by
//! `cargo xtask conformance`): discovery,
//! `/version`, health, OpenAPI v3, built-in kinds, CRDs with structural-schema validation, CRUD,
//! patch (JSON, merge, strategic, server-side apply), list with selectors and pagination, and
//! watch with resume, bookmarks and 410 Expired.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let server = devserver::DevServer::builder().start().await?;
//! let client = server.client()?;
//! let _ = client.apiserver_version().await?;
//! assert!(server.request_log().count("get", "") <= 1);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod admission;
mod allocator;
mod app;
mod authn;
mod authz;
mod builtin;
mod crd;
mod defaults;
mod discovery;
mod error;
mod escalation;
mod events_view;
pub mod faults;
mod filters;
mod gc;
mod handlers;
pub mod journal;
pub mod kubeconfig;
pub mod limits;
mod negotiation;
mod openapi;
mod options;
mod patch;
pub mod persist;
mod printers;
mod protobuf;
mod registry;
mod request_info;
mod request_log;
mod resource;
mod reviews;
pub mod schema;
mod selector;
mod server;
pub mod sim;
pub mod store;
mod strategy;
mod table;
mod tls;
mod validation;
mod watch;

pub use error::{ApiError, Cause};
pub use handlers::encode_continue;
pub use request_log::{RequestLog, RequestRecord};
pub use server::{DevServer, DevServerBuilder, DevServerHandle, InProcessServer};
