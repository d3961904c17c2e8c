//! placeholder
pub mod cache;
pub mod workqueue;
