//! The verbs and subresources of every built-in resource, as a real kube-apiserver reports them
//! in discovery (`/api/v1`, `/apis/<group>/<version>`), recorded by `cargo xtask discovery` from
//! the server built from source and checked in beside this module. The k8s-openapi crate knows
//! kinds, plurals and scopes but not verbs: that `componentstatuses` cannot be created, or that
//! `deployments` have a `scale` subresource, only the server says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The recording of the Kubernetes version the checked-in k8s-openapi selects.
pub const RECORDED: &str = include_str!("discovery-v1.37.json");

/// A discovery recording: every resource of every served group version.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Recording {
    /// What was recorded, from which server, with which flags.
    pub recorded_from: String,
    /// Every top-level resource, sorted by group, version and resource.
    pub resources: Vec<Resource>,
}

/// One top-level resource.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// API group (empty for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// REST resource name (`nodes`).
    pub resource: String,
    /// Kind (`Node`).
    pub kind: String,
    /// True when namespaced.
    pub namespaced: bool,
    /// Verbs as discovery names them (`create`, `deletecollection`, ...).
    pub verbs: Vec<String>,
    /// Short names (`no`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    /// Subresources (`status`, `scale`, `log`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subresources: Vec<Subresource>,
}

/// One subresource of a resource.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subresource {
    /// Name (`status`).
    pub name: String,
    /// The kind it reads and writes (`Scale` for `scale`; empty when not an object, as for `log`).
    #[serde(default)]
    pub kind: String,
    /// Verbs.
    pub verbs: Vec<String>,
    /// The Rust path of `kind` when it differs from the parent's (`Scale`), filled in by the join.
    #[serde(skip)]
    pub kind_path: Option<String>,
}

impl Resource {
    /// True when discovery lists `verb`.
    pub fn has(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// The subresource called `name`.
    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

impl Subresource {
    /// True when discovery lists `verb`.
    pub fn has(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

impl Recording {
    /// Parses a recording.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("not a discovery recording: {e}"))
    }

    /// The recording as checked in: sorted, one resource per line, so a new Kubernetes version
    /// shows as a readable diff.
    pub fn to_text(&self) -> String {
        let mut resources = self.resources.clone();
        resources.sort_by(|a, b| (&a.group, &a.version, &a.resource).cmp(&(&b.group, &b.version, &b.resource)));
        let mut out = String::from("{\n");
        out.push_str(&format!("  \"recordedFrom\": {},\n", serde_json::Value::from(self.recorded_from.as_str())));
        out.push_str("  \"resources\": [\n");
        let lines: Vec<String> =
            resources.iter().map(|r| format!("    {}", serde_json::to_string(r).unwrap_or_default())).collect();
        out.push_str(&lines.join(",\n"));
        out.push_str("\n  ]\n}\n");
        out
    }

    /// Builds a recording from legacy discovery documents (`APIResourceList`s), one per group
    /// version, as (group, version, document). Subresources arrive as `pods/status` entries.
    pub fn from_resource_lists(recorded_from: &str, lists: &[(String, String, serde_json::Value)]) -> Self {
        let mut top: BTreeMap<(String, String, String), Resource> = BTreeMap::new();
        let mut subs = vec![];
        for (group, version, doc) in lists {
            for r in doc.get("resources").and_then(|r| r.as_array()).into_iter().flatten() {
                let name = r.get("name").and_then(|n| n.as_str()).unwrap_or_default();
                let kind = r.get("kind").and_then(|n| n.as_str()).unwrap_or_default().to_string();
                let strings = |key: &str| -> Vec<String> {
                    r.get(key)
                        .and_then(|v| v.as_array())
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                };
                let mut verbs = strings("verbs");
                verbs.sort();
                match name.split_once('/') {
                    Some((parent, sub)) => subs.push((
                        (group.clone(), version.clone(), parent.to_string()),
                        Subresource { name: sub.to_string(), kind, verbs, kind_path: None },
                    )),
                    None => {
                        let resource = Resource {
                            group: group.clone(),
                            version: version.clone(),
                            resource: name.to_string(),
                            kind,
                            namespaced: r.get("namespaced").and_then(|v| v.as_bool()).unwrap_or(false),
                            verbs,
                            short_names: strings("shortNames"),
                            subresources: vec![],
                        };
                        top.insert((group.clone(), version.clone(), name.to_string()), resource);
                    }
                }
            }
        }
        for (key, sub) in subs {
            if let Some(r) = top.get_mut(&key) {
                r.subresources.push(sub);
            }
        }
        for r in top.values_mut() {
            r.subresources.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Recording { recorded_from: recorded_from.to_string(), resources: top.into_values().collect() }
    }
}
