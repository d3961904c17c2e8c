//! One module per generator. Each reads the [`crate::model::Model`] and returns rendered files;
//! [`rbac`] reads the controller's sources instead.

pub mod api;
pub mod applyconfiguration;
pub mod client;
pub mod crd;
pub mod fake;
pub mod in_package;
pub mod informer;
pub mod krate;
pub mod lister;
pub mod rbac;
pub mod schema;

/// Where a generator hands each file it renders, as (path relative to the crate, tokens): the
/// caller formats it at once, so one file's tokens are alive at a time, not every file's.
pub type Emit<'a> = &'a mut dyn FnMut(String, proc_macro2::TokenStream);
