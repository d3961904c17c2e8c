//! Legacy (unaggregated) discovery documents: `/api`, `/apis`, `/apis/{group}`, `/api/v1` and
//! `/apis/{group}/{version}`. kubectl and client-go fall back to these when the reply is plain JSON.

use crate::resource::ResourceType;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// Kubernetes-aware version ordering key: GA before beta before alpha, higher numbers first.
pub fn version_priority(v: &str) -> (u8, i64, i64, String) {
    let rest = v.strip_prefix('v');
    if let Some(rest) = rest {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(major) = digits.parse::<i64>() {
            let tail = &rest[digits.len()..];
            if tail.is_empty() {
                return (0, -major, 0, String::new());
            }
            for (rank, pre) in [(1u8, "beta"), (2u8, "alpha")] {
                if let Some(n) = tail.strip_prefix(pre)
                    && let Ok(minor) = n.parse::<i64>()
                {
                    return (rank, -major, -minor, String::new());
                }
            }
        }
    }
    (3, 0, 0, v.to_string())
}

fn storage_version_hash(r: &ResourceType) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&r.group, &r.version, &r.kind).hash(&mut h);
    base64::engine::general_purpose::STANDARD.encode(h.finish().to_be_bytes())
}

/// `GET /api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

/// Groups (other than core) with their versions in preference order.
fn groups(types: &[ResourceType]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        let vs = groups.entry(t.group.clone()).or_default();
        if !vs.contains(&t.version) {
            vs.push(t.version.clone());
        }
    }
    for vs in groups.values_mut() {
        vs.sort_by_key(|v| version_priority(v));
    }
    groups
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

/// `GET /apis`.
pub fn api_group_list(types: &[ResourceType]) -> Value {
    let items: Vec<Value> = groups(types)
        .iter()
        .map(|(g, vs)| {
            let mut d = group_doc(g, vs);
            if let Some(o) = d.as_object_mut() {
                o.remove("kind");
                o.remove("apiVersion");
            }
            d
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})
}

/// `GET /apis/{group}`, or `None` when the group is not served.
pub fn api_group(types: &[ResourceType], group: &str) -> Option<Value> {
    groups(types).get(group).map(|vs| group_doc(group, vs))
}

/// `GET /api/v1` or `GET /apis/{group}/{version}`, or `None` when not served.
pub fn api_resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let selected: Vec<&ResourceType> = types.iter().filter(|t| t.group == group && t.version == version).collect();
    if selected.is_empty() && !(group.is_empty() && version == "v1") {
        return None;
    }
    let mut resources = Vec::new();
    for t in selected {
        if t.review {
            // Not stored: no storage version, short names or categories.
            resources.push(json!({
                "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind, "verbs": t.verbs(),
            }));
            continue;
        }
        resources.push(json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs(),
            "shortNames": t.short_names,
            "categories": t.categories,
            "storageVersionHash": storage_version_hash(t),
        }));
        for sub in subresources(t) {
            let mut r = json!({
                "name": format!("{}/{}", t.plural, sub.name),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": sub.kind,
                "verbs": sub.verbs,
            });
            if let Some((group, version)) = sub.group_version {
                r["group"] = json!(group);
                r["version"] = json!(version);
            }
            resources.push(r);
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let mut list = json!({
        "kind": "APIResourceList",
        "groupVersion": gv,
        "resources": resources,
    });
    // kube-apiserver's /api/v1 carries no apiVersion; every group's list does.
    if !group.is_empty() {
        list["apiVersion"] = json!("v1");
    }
    Some(list)
}

/// A subresource as discovery lists it.
struct Subresource<'a> {
    name: &'static str,
    /// The response kind's group and version when it is not the resource's own.
    group_version: Option<(&'static str, &'static str)>,
    kind: &'a str,
    verbs: &'static [&'static str],
}

/// The subresources `t` serves, in discovery's order: finalize, status, scale, token.
fn subresources(t: &ResourceType) -> Vec<Subresource<'_>> {
    let mut out = vec![];
    if t.has_finalize_subresource() {
        out.push(Subresource { name: "finalize", group_version: None, kind: &t.kind, verbs: &["update"] });
    }
    if t.status_subresource {
        out.push(Subresource {
            name: "status",
            group_version: None,
            kind: &t.kind,
            verbs: &["get", "patch", "update"],
        });
    }
    if t.scale.is_some() {
        let gv = Some(("autoscaling", "v1"));
        out.push(Subresource { name: "scale", group_version: gv, kind: "Scale", verbs: &["get", "patch", "update"] });
    }
    if t.has_token_subresource() {
        let gv = Some(("authentication.k8s.io", "v1"));
        out.push(Subresource { name: "token", group_version: gv, kind: "TokenRequest", verbs: &["create"] });
    }
    out
}

/// The Content-Type of an aggregated discovery reply.
pub const AGGREGATED_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// True when the Accept header asks for aggregated discovery (apidiscovery.k8s.io/v2).
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        params.contains(&"as=APIGroupDiscoveryList")
            && params.contains(&"v=v2")
            && params.contains(&"g=apidiscovery.k8s.io")
    })
}

/// The aggregated discovery document: `core` selects `/api` (the legacy group) or `/apis`.
pub fn aggregated(types: &[ResourceType], core: bool) -> Value {
    let mut by_group: BTreeMap<String, BTreeMap<String, Vec<&ResourceType>>> = BTreeMap::new();
    for t in types.iter().filter(|t| t.group.is_empty() == core) {
        by_group.entry(t.group.clone()).or_default().entry(t.version.clone()).or_default().push(t);
    }
    let items: Vec<Value> = by_group
        .iter()
        .map(|(g, versions)| {
            let mut vs: Vec<(&String, &Vec<&ResourceType>)> = versions.iter().collect();
            vs.sort_by_key(|(v, _)| version_priority(v));
            let versions: Vec<Value> = vs
                .iter()
                .map(|(v, ts)| {
                    let resources: Vec<Value> = ts
                        .iter()
                        .map(|t| {
                            let kind = json!({"group": t.group, "version": t.version, "kind": t.kind});
                            let mut r = json!({
                                "resource": t.plural,
                                "singularResource": t.singular,
                                "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                                "responseKind": kind,
                                "verbs": t.verbs(),
                            });
                            if !t.short_names.is_empty() {
                                r["shortNames"] = json!(t.short_names);
                            }
                            if !t.categories.is_empty() {
                                r["categories"] = json!(t.categories);
                            }
                            let subresources: Vec<Value> = subresources(t)
                                .into_iter()
                                .map(|sub| {
                                    let (group, version) =
                                        sub.group_version.unwrap_or((t.group.as_str(), t.version.as_str()));
                                    json!({
                                        "subresource": sub.name,
                                        "responseKind": {"group": group, "version": version, "kind": sub.kind},
                                        "verbs": sub.verbs,
                                    })
                                })
                                .collect();
                            if !subresources.is_empty() {
                                r["subresources"] = json!(subresources);
                            }
                            r
                        })
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let mut meta = json!({});
            if !g.is_empty() {
                meta["name"] = json!(g);
            }
            json!({"metadata": meta, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// A strong ETag for a discovery body.
pub fn etag(body: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:016X}\"", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_order() {
        let mut vs = vec!["v1alpha1", "v2beta1", "v1", "v2", "foo", "v1beta2"];
        vs.sort_by_key(|v| version_priority(v));
        assert_eq!(vs, vec!["v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]);
    }
}
