//! RBAC from markers (what controller-gen's `rbac` generator does): the controller's sources
//! say which permissions the code next to them needs, and the manifest is derived from them, so
//! a permission is added or dropped in the same change as the call that needs it.
//!
//! A marker is a comment line anywhere in a `.rs` file of the sources folder (plain `//` or doc
//! comments; the scan reads text, so markers can sit next to any statement):
//!
//! ```text
//! // +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=list;watch;create;update
//! // +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=ops
//! ```
//!
//! Arguments: `groups`, `resources`, `verbs` (lists separated by `;`; `""` or `core` is the core
//! group), optional `resourceNames`, `urls` (non-resource URLs, cluster-wide only) and
//! `namespace` (a Role in that namespace instead of the ClusterRole). Rules are merged and sorted
//! as controller-gen does: markers with the same groups, resources, names and URLs share their
//! verbs; then rules that differ only in resources, or only in groups, become one rule.
//!
//! The output is one file: the service account's Namespace and ServiceAccount, a ClusterRole
//! and its binding, and a Role and binding per namespace that markers name.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::diag::{Diagnostics, Loc};
use crate::naming;
use crate::render::MARKER;
use crate::tags::split_args;

/// The marker's prefix.
pub const PREFIX: &str = "+kubebuilder:rbac:";

/// The verbs the Kubernetes authorizers know (resource verbs, the special ones, and `*`).
pub const VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "bind",
    "escalate",
    "use",
    "approve",
    "sign",
    "attest",
    "*",
];

/// What to generate: the sources to scan, the file to write, and who the roles are bound to.
#[derive(Clone, Debug)]
pub struct RbacConfig {
    /// The folder of `.rs` files holding markers (searched recursively).
    pub sources: PathBuf,
    /// The manifest file to write.
    pub output: PathBuf,
    /// Name of the ServiceAccount, and of the roles and bindings.
    pub name: String,
    /// The ServiceAccount's namespace.
    pub namespace: String,
}

/// One policy rule, each list sorted and without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    /// API groups (`""` is the core group).
    pub groups: BTreeSet<String>,
    /// Resources, `resource/subresource` for a subresource.
    pub resources: BTreeSet<String>,
    /// Object names the rule is limited to.
    pub resource_names: BTreeSet<String>,
    /// Non-resource URLs.
    pub urls: BTreeSet<String>,
    /// Verbs.
    pub verbs: BTreeSet<String>,
}

/// The rules of one marker and where it stands; `namespace` is `None` for the ClusterRole.
#[derive(Clone, Debug)]
pub struct Marker {
    /// Role namespace, or `None` for the ClusterRole.
    pub namespace: Option<String>,
    /// The rule.
    pub rule: Rule,
    /// Where the marker is.
    pub loc: Loc,
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads every marker under `dir`; problems go to `diags`.
pub fn scan(dir: &Path, diags: &mut Diagnostics) -> Vec<Marker> {
    let mut files = vec![];
    if let Err(e) = rs_files(dir, &mut files) {
        diags.error(Loc::whole(dir), format!("cannot read the RBAC marker sources: {e}"));
        return vec![];
    }
    let mut out = vec![];
    let mut found = false;
    for path in files {
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.error(Loc::whole(&path), format!("cannot read file: {e}"));
                continue;
            }
        };
        let file: Arc<Path> = Arc::from(path.as_path());
        for (i, line) in text.lines().enumerate() {
            let Some(at) = line.find(PREFIX) else { continue };
            if !line.trim_start().starts_with("//") {
                continue; // a string or code mentioning the marker, not a comment
            }
            found = true;
            let col = line[..at].chars().count() + 1;
            if let Some(m) = parse_marker(&line[at + PREFIX.len()..], Loc::new(&file, i + 1, col), diags) {
                out.push(m);
            }
        }
    }
    if !found {
        diags.error_hint(
            Loc::whole(dir),
            format!("no `{PREFIX}` markers found"),
            format!("write `// {PREFIX}groups=apps,resources=deployments,verbs=get;list;watch` next to the code that needs it"),
        );
    }
    out
}

fn list(value: &str) -> BTreeSet<String> {
    value.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Parses the arguments after `+kubebuilder:rbac:`; `loc` is where the marker's `+` is.
pub fn parse_marker(args: &str, loc: Loc, diags: &mut Diagnostics) -> Option<Marker> {
    let base = loc.col + PREFIX.chars().count();
    let at = |offset: usize| Loc::new(&loc.file, loc.line, base + offset);
    let parts = match split_args(args.trim_end()) {
        Ok(p) => p,
        Err((offset, msg)) => {
            diags.error(at(offset), format!("malformed `{PREFIX}` marker: {msg}"));
            return None;
        }
    };
    let mut rule = Rule::default();
    let mut namespace = None;
    let mut seen = BTreeSet::new();
    let before = diags.len();
    for (key, value, offset) in &parts {
        if !seen.insert(key.as_str()) {
            diags.error(at(*offset), format!("`{key}` is given twice"));
        }
        match key.as_str() {
            "groups" => {
                rule.groups =
                    value.split(';').map(|g| if g.trim() == "core" { "" } else { g.trim() }.to_string()).collect();
                for g in &rule.groups {
                    if !(g.is_empty() || g == "*" || naming::is_dns_subdomain(g)) {
                        diags.error(at(*offset), format!("invalid API group `{g}`"));
                    }
                }
            }
            "resources" => {
                rule.resources = list(value);
                for r in &rule.resources {
                    let ok = r == "*"
                        || r.split('/').count() <= 2
                            && r.split('/').all(|p| p == "*" || naming::is_dns_label(p) || naming::is_dns_subdomain(p));
                    if !ok {
                        diags.error_hint(
                            at(*offset),
                            format!("invalid resource `{r}`"),
                            "a resource is a lowercase plural, optionally with a subresource: `deployments/status`",
                        );
                    }
                }
            }
            "verbs" => {
                rule.verbs = list(value);
                for v in &rule.verbs {
                    if !VERBS.contains(&v.as_str()) {
                        let hint = naming::suggest(v, VERBS.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"))
                            .unwrap_or_else(|| format!("verbs are: {}", VERBS.join(", ")));
                        diags.error_hint(at(*offset), format!("unknown verb `{v}`"), hint);
                    }
                }
            }
            "resourceNames" => rule.resource_names = list(value),
            "urls" => rule.urls = list(value),
            "namespace" => {
                if !naming::is_dns_label(value) {
                    diags.error(at(*offset), format!("invalid namespace `{value}`"));
                }
                namespace = Some(value.clone());
            }
            other => diags.error_hint(
                at(*offset),
                format!("unknown `{PREFIX}` argument `{other}`"),
                "use groups, resources, verbs, resourceNames, urls or namespace",
            ),
        }
    }
    if rule.verbs.is_empty() {
        diags.error_hint(
            loc.clone(),
            "the RBAC marker has no `verbs=`",
            "add `verbs=get;list;watch` (separated by `;`)",
        );
    }
    if rule.urls.is_empty() && (rule.resources.is_empty() || !seen.contains("groups")) {
        diags.error_hint(
            loc.clone(),
            "the RBAC marker needs `groups=` and `resources=` (or `urls=`)",
            "write `groups=\"\"` for the core group",
        );
    }
    if !rule.urls.is_empty() && (namespace.is_some() || !rule.resources.is_empty()) {
        diags.error(loc.clone(), "`urls=` stands alone: non-resource URLs are cluster-wide and name no resources");
    }
    if rule.verbs.contains("*") {
        rule.verbs = BTreeSet::from(["*".to_string()]);
    }
    (diags.len() == before).then_some(Marker { namespace, rule, loc })
}

/// Merges rules as controller-gen does, and sorts them by groups, resources, names and URLs.
pub fn normalize(rules: impl IntoIterator<Item = Rule>) -> Vec<Rule> {
    type Set = BTreeSet<String>;
    // 1. The same target (groups, resources, names, URLs): one rule with all the verbs.
    let mut by_target: BTreeMap<(Set, Set, Set, Set), Set> = BTreeMap::new();
    for r in rules {
        by_target.entry((r.groups, r.resources, r.resource_names, r.urls)).or_default().extend(r.verbs);
    }
    // 2. Rules that differ only in resources share one rule.
    let mut by_resources: BTreeMap<(Set, Set, Set, Set), Set> = BTreeMap::new();
    for ((groups, resources, names, urls), verbs) in by_target {
        let verbs = if verbs.contains("*") { Set::from(["*".to_string()]) } else { verbs };
        by_resources.entry((groups, names, urls, verbs)).or_default().extend(resources);
    }
    // 3. Then rules that differ only in groups.
    let mut by_groups: BTreeMap<(Set, Set, Set, Set), Set> = BTreeMap::new();
    for ((groups, names, urls, verbs), resources) in by_resources {
        by_groups.entry((resources, names, urls, verbs)).or_default().extend(groups);
    }
    let mut out: Vec<Rule> = by_groups
        .into_iter()
        .map(|((resources, resource_names, urls, verbs), groups)| Rule {
            groups,
            resources,
            resource_names,
            urls,
            verbs,
        })
        .collect();
    let key = |r: &Rule| {
        let j = |s: &Set| s.iter().cloned().collect::<Vec<_>>().join("&");
        (j(&r.groups), j(&r.resources), j(&r.resource_names), j(&r.urls))
    };
    out.sort_by_key(key);
    out
}

fn rule_json(r: &Rule) -> Value {
    let mut m = serde_json::Map::new();
    let v = |s: &BTreeSet<String>| Value::from(s.iter().cloned().collect::<Vec<_>>());
    if !r.urls.is_empty() {
        m.insert("nonResourceURLs".into(), v(&r.urls));
    } else {
        m.insert("apiGroups".into(), v(&r.groups));
        if !r.resource_names.is_empty() {
            m.insert("resourceNames".into(), v(&r.resource_names));
        }
        m.insert("resources".into(), v(&r.resources));
    }
    m.insert("verbs".into(), v(&r.verbs));
    Value::Object(m)
}

/// The manifest: Namespace, ServiceAccount, ClusterRole + binding, Role + binding per namespace.
pub fn render(config: &RbacConfig, markers: Vec<Marker>, diags: &mut Diagnostics) -> Option<String> {
    let mut by_ns: BTreeMap<Option<String>, Vec<Rule>> = BTreeMap::new();
    for m in markers {
        by_ns.entry(m.namespace).or_default().push(m.rule);
    }
    let (name, sa_ns) = (config.name.as_str(), config.namespace.as_str());
    let subject = json!([{"kind": "ServiceAccount", "name": name, "namespace": sa_ns}]);
    let mut docs = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": sa_ns}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": sa_ns}}),
    ];
    for (ns, rules) in by_ns {
        let rules: Vec<Value> = normalize(rules).iter().map(rule_json).collect();
        let (role, binding, meta) = match &ns {
            None => ("ClusterRole", "ClusterRoleBinding", json!({"name": name})),
            Some(ns) => ("Role", "RoleBinding", json!({"name": name, "namespace": ns})),
        };
        docs.push(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role, "metadata": meta, "rules": rules}),
        );
        docs.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": binding,
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role, "name": name},
            "subjects": subject,
        }));
    }
    let mut text = format!(
        "# {MARKER}\n# Edit the `{PREFIX}` markers in the controller's sources and run the generator again instead.\n"
    );
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        match serde_yaml::to_string(d) {
            Ok(y) => text.push_str(&y),
            Err(e) => {
                diags.error(Loc::whole(&config.output), format!("internal error: cannot write YAML: {e}"));
                return None;
            }
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &str, resources: &str, verbs: &str) -> Rule {
        let groups = groups.split(';').map(str::to_string).collect();
        Rule { groups, resources: list(resources), verbs: list(verbs), ..Default::default() }
    }

    #[test]
    fn merged_and_sorted_like_controller_gen() {
        let rules = normalize([
            rule("apps", "statefulsets", "list;watch"),
            rule("apps", "statefulsets", "create;update;watch"),
            rule("", "services", "create;list;update;watch"),
            rule("", "pods", "list;watch"),
            rule("", "secrets", "list;watch"),
            rule("batch", "jobs", "*;get"),
        ]);
        fn v(s: &BTreeSet<String>) -> Vec<&str> {
            s.iter().map(String::as_str).collect()
        }
        let got: Vec<(Vec<&str>, Vec<&str>, Vec<&str>)> =
            rules.iter().map(|r| (v(&r.groups), v(&r.resources), v(&r.verbs))).collect();
        assert_eq!(
            got,
            [
                // Same group and verbs: one rule for both resources.
                (vec![""], vec!["pods", "secrets"], vec!["list", "watch"]),
                // Same verbs but different groups and resources: never crossed (that would grant
                // apps/services).
                (vec![""], vec!["services"], vec!["create", "list", "update", "watch"]),
                (vec!["apps"], vec!["statefulsets"], vec!["create", "list", "update", "watch"]),
                (vec!["batch"], vec!["jobs"], vec!["*"]),
            ]
        );
    }

    #[test]
    fn marker_errors_point_at_the_argument() {
        let file: Arc<Path> = Arc::from(Path::new("c.rs"));
        let mut d = Diagnostics::default();
        assert!(
            parse_marker("groups=apps,resources=deployments,verbs=get;lsit", Loc::new(&file, 3, 4), &mut d).is_none()
        );
        let d = d.into_sorted();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].message, "unknown verb `lsit`");
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `list`?"));
        // `+kubebuilder:rbac:` is 18 characters from col 4; `verbs` starts 34 characters later.
        assert_eq!((d[0].loc.line, d[0].loc.col), (3, 4 + 18 + 34));
        let mut d = Diagnostics::default();
        assert!(
            parse_marker("groups=apps,resources=Deployments,verbs=get,color=red", Loc::new(&file, 1, 1), &mut d)
                .is_none()
        );
        let msgs: Vec<String> = d.into_sorted().into_iter().map(|d| d.message).collect();
        assert_eq!(msgs, ["invalid resource `Deployments`", "unknown `+kubebuilder:rbac:` argument `color`"]);
        let mut d = Diagnostics::default();
        let m =
            parse_marker("groups=core,resources=pods,verbs=get,namespace=ops", Loc::new(&file, 1, 1), &mut d).unwrap();
        assert!(d.is_empty());
        assert_eq!((m.namespace.as_deref(), m.rule.groups.iter().next().map(String::as_str)), (Some("ops"), Some("")));
    }
}
