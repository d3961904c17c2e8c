//! The registry of served resource types: fixed built-ins plus the types of CRDs that have had
//! their names accepted. Discovery lists only established CRDs.

use crate::builtin::builtin_types;
use crate::resource::ResourceType;
use std::collections::BTreeMap;
use std::sync::RwLock;

#[derive(Clone)]
struct CrdEntry {
    types: Vec<ResourceType>,
    established: bool,
}

/// Lookup of resource types by group, version and plural.
pub struct Registry {
    builtins: Vec<ResourceType>,
    crds: RwLock<BTreeMap<String, CrdEntry>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry with only the built-in kinds.
    pub fn new() -> Self {
        Registry { builtins: builtin_types(), crds: RwLock::new(BTreeMap::new()) }
    }

    /// The type served at `group/version/plural`, if any.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        if let Some(b) = self.builtins.iter().find(|r| r.group == group && r.version == version && r.plural == plural) {
            return Some(b.clone());
        }
        let crds = self.crds.read().unwrap_or_else(|e| e.into_inner());
        crds.values()
            .flat_map(|e| e.types.iter())
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    /// Registers (or replaces) the types of the CRD `name`.
    pub fn set_crd(&self, name: &str, types: Vec<ResourceType>, established: bool) {
        let mut crds = self.crds.write().unwrap_or_else(|e| e.into_inner());
        crds.insert(name.to_string(), CrdEntry { types, established });
    }

    /// Stops serving the CRD `name`.
    pub fn remove_crd(&self, name: &str) {
        let mut crds = self.crds.write().unwrap_or_else(|e| e.into_inner());
        crds.remove(name);
    }

    /// Every type to list in discovery: built-ins plus established CRDs.
    pub fn discoverable(&self) -> Vec<ResourceType> {
        let mut all = self.builtins.clone();
        let crds = self.crds.read().unwrap_or_else(|e| e.into_inner());
        for e in crds.values().filter(|e| e.established) {
            all.extend(e.types.iter().cloned());
        }
        all
    }
}
