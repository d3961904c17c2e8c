//! The built-in kinds: read from the k8s-openapi crate's source and joined with discovery.
pub mod discovery;
