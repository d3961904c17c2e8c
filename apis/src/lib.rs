//! Hand-written Kubernetes API types, tagged for the code generator.
//!
//! These types are the only input of `codegen`. Each group is a folder whose module carries
//! `//! +groupName=...`; each version is a sub-folder (`v1`, `v1beta1`, ...). The build script
//! adds deep-copy (`Clone`) and the `k8s_openapi::Resource` family to them, so
//! `kube::Api::<BitcoinNetwork>` works with no hand-written impl; `cargo xtask codegen` writes the
//! CRDs to `deploy/crd/` and the typed clients to `generated/`.
//!
//! ```
//! use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec};
//! use k8s_openapi::Resource;
//!
//! let net = BitcoinNetwork {
//!     metadata: Default::default(),
//!     spec: BitcoinNetworkSpec { nodes: 3, ..Default::default() },
//!     status: None,
//! };
//! assert_eq!(BitcoinNetwork::API_VERSION, "bitcoincontroller.christianb93.github.com/v1");
//! let json = serde_json::to_value(&net).unwrap();
//! assert_eq!(json["kind"], "BitcoinNetwork");
//! assert_eq!(json["spec"]["nodes"], 3);
//! ```

pub mod bitcoincontroller;
