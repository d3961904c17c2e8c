//! The bitcoin controller: reconciles `BitcoinNetwork`s into running, connected bitcoind
//! networks, on the generated clientset, listers and informers and the runtime's work queue.
//!
//! The binary (`src/main.rs`) wires [`flags`], [`health`], leader election and signals around
//! [`controller::Controller`]; `--embedded` (`embedded`, behind the default cargo feature of the
//! same name) runs everything against an in-process devserver with simulated workloads. Without
//! the feature (`--no-default-features`, the container image's build) no devserver code is linked.

pub mod controller;
pub mod crd;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod flags;
pub mod handlers;
pub mod health;
pub mod mesh;
pub mod metrics;
pub mod problems;
pub mod reconcile;
pub mod resources;
pub mod rpc;
pub mod secret;
#[cfg(feature = "embedded")]
pub mod sim;
pub mod status;
