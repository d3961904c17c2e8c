//! RBAC escalation prevention, as kube-apiserver's RBAC storage enforces it on every create and
//! update of a Role, ClusterRole, RoleBinding or ClusterRoleBinding: a user can only grant
//! permissions it already holds.
//!
//! - A role's rules must all be covered by the writer's own rules in that namespace (cluster
//!   rules only, for a ClusterRole), unless the writer may `escalate` roles (or clusterroles).
//! - A binding's referenced role must be covered the same way, unless the writer may `bind` that
//!   role.
//! - `system:masters` skip both; a server without `--rbac` checks nothing.
//!
//! A refusal is 403 Forbidden naming every missing permission, one per line, as kube-apiserver
//! prints them (`{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`).

use crate::app::App;
use crate::authn::{MASTERS_GROUP, UserInfo};
use crate::authz::{self, RBAC_GROUP};
use crate::error::{ApiError, ApiResult};
use crate::request_info::RequestInfo;
use crate::resource::ResourceType;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::Value;

/// Checks a write of `obj` (the object as it would be stored) to `rt` in namespace `ns`.
pub fn check(app: &App, user: Option<&UserInfo>, rt: &ResourceType, ns: &str, obj: &Value) -> ApiResult<()> {
    let Some(user) = user.filter(|u| app.auth.rbac && !u.in_group(MASTERS_GROUP)) else { return Ok(()) };
    if rt.group != RBAC_GROUP {
        return Ok(());
    }
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let scope = if rt.namespaced { ns } else { "" };
    let forbidden = |msg: String| authz::forbidden_status(&target(rt, scope), name, msg);
    match rt.plural.as_str() {
        "roles" | "clusterroles" => {
            if may(app, user, "escalate", &rt.plural, scope, name) {
                return Ok(());
            }
            if obj.get("aggregationRule").is_some_and(|a| !a.is_null()) {
                return Err(forbidden("must have cluster-admin privileges to use the aggregationRule".into()));
            }
            confirm_no_escalation(app, user, scope, &authz::rules_of(obj)).map_err(forbidden)
        }
        "rolebindings" | "clusterrolebindings" => {
            let kind = obj.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or_default();
            let role = obj.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or_default();
            let plural = if kind == "Role" { "roles" } else { "clusterroles" };
            if may(app, user, "bind", plural, scope, role) {
                return Ok(());
            }
            let rules = authz::role_rules(app, obj, scope).map_err(|e| ApiError::new(404, "NotFound", e))?;
            confirm_no_escalation(app, user, scope, &rules).map_err(forbidden)
        }
        _ => Ok(()),
    }
}

fn target(rt: &ResourceType, ns: &str) -> RequestInfo {
    RequestInfo {
        resource_request: true,
        group: rt.group.clone(),
        resource: rt.plural.clone(),
        namespace: ns.to_string(),
        ..Default::default()
    }
}

/// Whether RBAC lets `user` do `verb` (escalate, bind) on the role `name`.
fn may(app: &App, user: &UserInfo, verb: &str, plural: &str, ns: &str, name: &str) -> bool {
    let attrs = RequestInfo {
        verb: verb.into(),
        resource_request: true,
        group: RBAC_GROUP.into(),
        resource: plural.into(),
        namespace: ns.into(),
        name: name.into(),
        ..Default::default()
    };
    authz::authorize_reason(app, user, &attrs).is_ok()
}

/// `Err(message)` naming what `rules` grant beyond the rules `user` holds in `ns`.
fn confirm_no_escalation(app: &App, user: &UserInfo, ns: &str, rules: &[PolicyRule]) -> Result<(), String> {
    let (held, _) = authz::rules_for(app, user, ns);
    let missing: Vec<PolicyRule> =
        rules.iter().flat_map(breakdown).filter(|atom| !held.iter().any(|h| covers(h, atom))).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut lines: Vec<String> = compact(missing).iter().map(compact_string).collect();
    lines.sort();
    Err(format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        go_quote(&user.name),
        go_quote_list(&user.groups),
        lines.join("\n")
    ))
}

/// A rule split into rules of one group, resource, name and verb (or one URL and verb).
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &str| Some(vec![s.to_string()]);
    let mut out = Vec::new();
    for group in rule.api_groups.iter().flatten() {
        for resource in rule.resources.iter().flatten() {
            let names: Vec<Option<Vec<String>>> = match &rule.resource_names {
                Some(n) if !n.is_empty() => n.iter().map(|x| one(x)).collect(),
                _ => vec![None],
            };
            for names in names {
                for verb in &rule.verbs {
                    out.push(PolicyRule {
                        api_groups: one(group),
                        resources: one(resource),
                        resource_names: names.clone(),
                        verbs: vec![verb.clone()],
                        ..Default::default()
                    });
                }
            }
        }
    }
    for url in rule.non_resource_urls.iter().flatten() {
        for verb in &rule.verbs {
            out.push(PolicyRule { non_resource_urls: one(url), verbs: vec![verb.clone()], ..Default::default() });
        }
    }
    out
}

/// Whether the held rule `h` covers the single-permission rule `atom`: the authorizer's own
/// matching, asked about the atom as a request.
fn covers(h: &PolicyRule, atom: &PolicyRule) -> bool {
    let first = |v: &Option<Vec<String>>| v.as_ref().and_then(|v| v.first().cloned()).unwrap_or_default();
    let attrs = match &atom.non_resource_urls {
        Some(urls) => RequestInfo { verb: atom.verbs[0].clone(), path: urls[0].clone(), ..Default::default() },
        None => {
            let resource = first(&atom.resources);
            let (resource, subresource) = match resource.split_once('/') {
                Some((r, s)) => (r.to_string(), s.to_string()),
                None => (resource, String::new()),
            };
            RequestInfo {
                verb: atom.verbs[0].clone(),
                resource_request: true,
                group: first(&atom.api_groups),
                resource,
                subresource,
                name: first(&atom.resource_names),
                ..Default::default()
            }
        }
    };
    authz::rule_allows(&attrs, h)
}

/// Merges the verbs of rules that name the same single group and resource and no names, in
/// order, as kube-apiserver compacts the missing rules before printing them.
fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    for r in rules {
        let simple = r.non_resource_urls.is_none() && r.resource_names.is_none();
        let same = out.iter_mut().find(|o| {
            simple
                && o.non_resource_urls.is_none()
                && o.resource_names.is_none()
                && o.api_groups == r.api_groups
                && o.resources == r.resources
        });
        match same {
            Some(o) => {
                for v in r.verbs {
                    if !o.verbs.contains(&v) {
                        o.verbs.push(v);
                    }
                }
            }
            None => out.push(r),
        }
    }
    out
}

/// `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}`: the fields that are
/// set, in this order, each as Go's `%q` of a string slice.
fn compact_string(r: &PolicyRule) -> String {
    let mut parts = Vec::new();
    for (label, v) in [
        ("APIGroups", &r.api_groups),
        ("Resources", &r.resources),
        ("ResourceNames", &r.resource_names),
        ("NonResourceURLs", &r.non_resource_urls),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            parts.push(format!("{label}:{}", go_quote_list(v)));
        }
    }
    if !r.verbs.is_empty() {
        parts.push(format!("Verbs:{}", go_quote_list(&r.verbs)));
    }
    format!("{{{}}}", parts.join(", "))
}

fn go_quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn go_quote_list(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| go_quote(s)).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        PolicyRule {
            api_groups: Some(v(groups)),
            resources: Some(v(resources)),
            resource_names: (!names.is_empty()).then(|| v(names)),
            verbs: v(verbs),
            ..Default::default()
        }
    }

    #[test]
    fn missing_rights_print_as_kube_apiserver_prints_them() {
        let held = [rule(&[""], &["configmaps"], &[], &["get", "list"])];
        let wanted = [
            rule(&[""], &["configmaps", "secrets"], &[], &["get", "list", "delete"]),
            rule(&["apps"], &["deployments"], &["x"], &["get"]),
        ];
        let missing: Vec<PolicyRule> =
            wanted.iter().flat_map(breakdown).filter(|a| !held.iter().any(|h| covers(h, a))).collect();
        let mut lines: Vec<String> = compact(missing).iter().map(compact_string).collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                r#"{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "delete"]}"#,
                r#"{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["x"], Verbs:["get"]}"#,
            ]
        );
    }

    #[test]
    fn wildcards_and_subresources_cover_like_the_authorizer() {
        let all = rule(&["*"], &["*"], &[], &["*"]);
        assert!(breakdown(&rule(&["apps"], &["deployments/scale"], &[], &["update"])).iter().all(|a| covers(&all, a)));
        let status = rule(&[""], &["*/status"], &[], &["get"]);
        assert!(covers(&status, &breakdown(&rule(&[""], &["pods/status"], &[], &["get"]))[0]));
        assert!(!covers(&status, &breakdown(&rule(&[""], &["pods"], &[], &["get"]))[0]));
        let named = rule(&[""], &["configmaps"], &["a"], &["get"]);
        assert!(!covers(&named, &breakdown(&rule(&[""], &["configmaps"], &[], &["get"]))[0]), "names never cover all");
        assert!(!covers(&rule(&[""], &["configmaps"], &[], &["get"]), &breakdown(&all)[0]), "a wildcard needs one");
    }
}
