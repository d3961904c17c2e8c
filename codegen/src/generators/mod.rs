//! One module per generator. Each reads the [`crate::model::Model`] and returns rendered files;
//! [`rbac`] reads the controller's sources instead.

pub mod api;
pub mod client;
pub mod crd;
pub mod fake;
pub mod in_package;
pub mod informer;
pub mod krate;
pub mod lister;
pub mod rbac;
pub mod schema;
