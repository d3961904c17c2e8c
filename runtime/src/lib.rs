//! placeholder
pub mod cache;
pub mod leader_election;
pub mod workqueue;
