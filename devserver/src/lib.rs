//! A local Kubernetes-API-compatible server for tests, the controller's embedded mode and kubectl.
//!
//! No real kube-apiserver can run on our machines, so this crate serves the parts of the API our
//! clients and kubectl touch, with the real server's codes, reasons and messages: discovery,
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

pub mod admission;
pub mod app;
pub mod authn;
pub mod authz;
pub mod builtin;
pub mod crd;
pub mod defaults;
pub mod discovery;
pub mod error;
pub mod escalation;
pub mod events_view;
pub mod faults;
pub mod filters;
pub mod gc;
pub mod handlers;
pub mod journal;
pub mod kubeconfig;
pub mod limits;
pub mod negotiation;
pub mod openapi;
pub mod options;
pub mod patch;
pub mod persist;
pub mod protobuf;
pub mod registry;
pub mod request_info;
pub mod request_log;
pub mod resource;
pub mod reviews;
pub mod schema;
pub mod selector;
pub mod server;
pub mod sim;
pub mod store;
pub mod table;
pub mod tls;
pub mod validation;
pub mod watch;

pub use error::{ApiError, Cause};
pub use request_log::{RequestLog, RequestRecord};
pub use server::{DevServer, DevServerBuilder, DevServerHandle, InProcessServer};
