//! One module per generator. Each reads the [`crate::model::Model`] and returns rendered files.

pub mod crd;
pub mod in_package;
pub mod schema;
