//! One module per generator. Each reads the [`crate::model::Model`] and returns rendered files.

pub mod api;
pub mod client;
pub mod crd;
pub mod fake;
pub mod in_package;
pub mod informer;
pub mod krate;
pub mod lister;
pub mod schema;
