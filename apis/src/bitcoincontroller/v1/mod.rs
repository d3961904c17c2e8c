//! Version v1 of the bitcoincontroller API.
//!
//! +k8s:deepcopy-gen=package

mod types;

pub use types::*;

include!(concat!(env!("OUT_DIR"), "/codegen/bitcoincontroller/v1.rs"));
