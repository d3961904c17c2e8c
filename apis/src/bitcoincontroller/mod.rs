//! The bitcoin controller's API group: networks of bitcoind nodes.
//!
//! +groupName=bitcoincontroller.christianb93.github.com

pub mod v1;

pub use v1::GROUP_NAME;
