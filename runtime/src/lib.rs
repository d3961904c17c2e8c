//! placeholder
pub mod workqueue;
