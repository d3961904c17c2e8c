//! What kube-apiserver's OpenAPI says about the built-in types' fields, recorded from a running
//! kube-apiserver by `scripts/record-apiserver-facts.py` (`strategies-v1.37.json`): patch
//! strategies and merge keys for strategic merge ([`super::strategic`]), list types, list-map
//! keys and their defaults, and atomic maps and structs for server-side apply
//! ([`super::apply_schema`]).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// A field's recorded metadata.
#[derive(serde::Deserialize, Default)]
pub(super) struct Field {
    /// The type of the field (of its elements, for a list), when it has fields of its own or
    /// is atomic.
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// Whether the field is a list.
    #[serde(default)]
    pub list: bool,
    /// `x-kubernetes-patch-strategy`: `merge`, `retainKeys`, `merge,retainKeys`, or empty.
    #[serde(default)]
    pub strategy: String,
    /// `x-kubernetes-patch-merge-key`.
    #[serde(default)]
    pub key: String,
    /// `x-kubernetes-list-type`: `atomic`, `set`, `map`, or empty.
    #[serde(default, rename = "listType")]
    pub list_type: String,
    /// `x-kubernetes-list-map-keys`.
    #[serde(default, rename = "mapKeys")]
    pub map_keys: Vec<String>,
    /// `x-kubernetes-map-type` of the field itself: `atomic`, `granular`, or empty.
    #[serde(default, rename = "mapType")]
    pub map_type: String,
    /// The default of a field that keys a list-map.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
}

#[derive(serde::Deserialize, Default)]
pub(super) struct Metadata {
    /// `group/version/Kind` -> its type.
    pub kinds: HashMap<String, String>,
    /// The types whose values are atomic (`x-kubernetes-map-type: atomic` on the type).
    #[serde(default)]
    pub atomic: HashSet<String>,
    /// Type -> its fields with recorded metadata or a type of their own.
    pub types: HashMap<String, HashMap<String, Field>>,
}

impl Metadata {
    /// The type of the object of `api_version` and `kind`, if recorded.
    pub fn kind_type(&self, api_version: &str, kind: &str) -> Option<&str> {
        let key =
            if api_version.contains('/') { format!("{api_version}/{kind}") } else { format!("/{api_version}/{kind}") };
        self.kinds.get(&key).map(String::as_str)
    }
}

pub(super) static METADATA: LazyLock<Metadata> =
    LazyLock::new(|| serde_json::from_str(include_str!("strategies-v1.37.json")).unwrap_or_default());
