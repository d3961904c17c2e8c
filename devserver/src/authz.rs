//! RBAC authorization: the `rbac.authorization.k8s.io` authorizer of the real API server, over
//! the Roles, ClusterRoles, RoleBindings and ClusterRoleBindings in the store.
//!
//! Only on when the server runs with [`DevServerBuilder::rbac`](crate::DevServerBuilder::rbac)
//! (which needs https, since client-go sends no credentials over http). The steps follow
//! kube-apiserver:
//!
//! 1. the request's [`RequestInfo`] (kube-apiserver's
//!    `RequestInfoFactory.NewRequestInfo`), parsed once for routing and authorization alike;
//! 2. [`authorize`]: members of `system:masters` may do anything; the bootstrap policy lets every
//!    authenticated user read discovery, `/version`, `/openapi` and health (`system:discovery`,
//!    `system:public-info-viewer`) and create self-reviews (`system:basic-user`); otherwise a
//!    ClusterRoleBinding, or a RoleBinding in the request's namespace, whose subjects include
//!    the user must reference a role with a rule that allows the request;
//! 3. a denial is 403 `Forbidden` with the real message, e.g.
//!    `pods is forbidden: User "system:serviceaccount:ns:sa" cannot list resource "pods" in API
//!    group "" in the namespace "default"`, followed by `: RBAC: ...` when a binding that applies
//!    to the user references a missing role.
//!
//! A ClusterRole with an `aggregationRule` has the rules of every other ClusterRole its
//! selectors match, as kube-controller-manager's aggregation controller would write them.
//!
//! Not modelled: impersonation, escalation checks when writing RBAC objects.

use crate::app::App;
use crate::authn::{AUTHENTICATED_GROUP, MASTERS_GROUP, UserInfo};
use crate::error::ApiError;
use crate::request_info::RequestInfo;
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};
use serde_json::{Map, Value};

/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Decides one request: `Ok` if allowed, else 403 Forbidden with kube-apiserver's message.
pub fn authorize(app: &App, user: &UserInfo, attrs: &RequestInfo) -> Result<(), ApiError> {
    authorize_reason(app, user, attrs).map_err(|reason| forbidden(user, attrs, &reason))
}

/// The RBAC decision alone: `Err(reason)` on denial, where the reason is "" or, when bindings
/// that apply to the user reference missing roles, `RBAC: <errors>` (the authorizer's reason).
pub fn authorize_reason(app: &App, user: &UserInfo, attrs: &RequestInfo) -> Result<(), String> {
    // Like kube-apiserver's privileged-group authorizer: masters need no binding.
    if user.in_group(MASTERS_GROUP) {
        return Ok(());
    }
    let (allowed, errors) =
        visit_rules(app, user, &attrs.namespace, |rules| rules.iter().any(|r| rule_allows(attrs, r)));
    if allowed {
        return Ok(());
    }
    Err(match errors.as_slice() {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.join(", ")),
    })
}

/// The rules of the bootstrap ClusterRoles bound to `system:authenticated` on a real cluster, in
/// the order kube-apiserver reports them: `system:basic-user` (self-reviews),
/// `system:discovery` and `system:public-info-viewer`.
fn bootstrap_rules(user: &UserInfo) -> Vec<PolicyRule> {
    if !user.in_group(AUTHENTICATED_GROUP) {
        return Vec::new();
    }
    let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
    let get = || vec!["get".to_string()];
    vec![
        PolicyRule {
            api_groups: s(&["authorization.k8s.io"]),
            resources: s(&["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            verbs: vec!["create".into()],
            ..Default::default()
        },
        PolicyRule {
            api_groups: s(&["authentication.k8s.io"]),
            resources: s(&["selfsubjectreviews"]),
            verbs: vec!["create".into()],
            ..Default::default()
        },
        PolicyRule {
            non_resource_urls: s(&[
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/healthz",
                "/livez",
                "/openapi",
                "/openapi/*",
                "/readyz",
                "/version",
                "/version/",
            ]),
            verbs: get(),
            ..Default::default()
        },
        PolicyRule {
            non_resource_urls: s(&["/healthz", "/livez", "/readyz", "/version", "/version/"]),
            verbs: get(),
            ..Default::default()
        },
    ]
}

/// The rules of `cluster-admin`, which a real cluster binds to `system:masters`.
pub fn cluster_admin_rules() -> Vec<PolicyRule> {
    let all = || Some(vec!["*".to_string()]);
    vec![
        PolicyRule { api_groups: all(), resources: all(), verbs: vec!["*".into()], ..Default::default() },
        PolicyRule { non_resource_urls: all(), verbs: vec!["*".into()], ..Default::default() },
    ]
}

/// Every rule that applies to `user` in `namespace` ("" for cluster scope only), and the errors
/// of bindings whose role is missing (the rule resolver's; a review reports them as incomplete).
pub fn rules_for(app: &App, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
    let mut rules = Vec::new();
    let (_, errors) = visit_rules(app, user, namespace, |r| {
        rules.extend_from_slice(r);
        false
    });
    (rules, errors)
}

/// Hands the rules that apply to `user` in `namespace` to `found`, the bootstrap roles' first and
/// then binding by binding, until it returns true. Returns whether it did, and the errors of the
/// bindings seen whose role is missing. The authorizer stops at the first rule that allows.
fn visit_rules(
    app: &App,
    user: &UserInfo,
    namespace: &str,
    mut found: impl FnMut(&[PolicyRule]) -> bool,
) -> (bool, Vec<String>) {
    let mut errors = Vec::new();
    if found(&bootstrap_rules(user)) {
        return (true, errors);
    }
    let (_, cluster_bindings) = app.store.list(&format!("{RBAC_GROUP}/clusterrolebindings"), "");
    let (_, bindings) = if namespace.is_empty() {
        (0, Vec::new())
    } else {
        app.store.list(&format!("{RBAC_GROUP}/rolebindings"), &format!("{namespace}/"))
    };
    let scoped = cluster_bindings.iter().map(|b| (b, "")).chain(bindings.iter().map(|b| (b, namespace)));
    for (b, ns) in scoped {
        if binding_applies(b, user, ns) {
            match role_rules(app, b, ns) {
                Ok(r) if found(&r) => return (true, errors),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
    }
    (false, errors)
}

/// Whether a binding (RoleBinding in `namespace`, or ClusterRoleBinding with `namespace` "")
/// names the user, a group of the user, or the user's ServiceAccount among its subjects.
fn binding_applies(binding: &Value, user: &UserInfo, namespace: &str) -> bool {
    let subjects: Vec<Subject> =
        binding.get("subjects").and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default();
    subjects.iter().any(|s| match s.kind.as_str() {
        "User" => s.name == user.name,
        "Group" => user.in_group(&s.name),
        "ServiceAccount" => {
            let ns = s.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(namespace);
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{}", s.name)
        }
        _ => false,
    })
}

/// The rules of the role a binding references, or the error kube-apiserver reports for it
/// (`clusterrole.rbac.authorization.k8s.io "x" not found`).
pub fn role_rules(app: &App, binding: &Value, namespace: &str) -> Result<Vec<PolicyRule>, String> {
    let role_ref: RoleRef = binding
        .get("roleRef")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
        .ok_or_else(|| "binding without a valid roleRef".to_string())?;
    let (table, key, what) = match role_ref.kind.as_str() {
        "ClusterRole" => ("clusterroles", role_ref.name.clone(), "clusterrole"),
        "Role" if !namespace.is_empty() => ("roles", format!("{namespace}/{}", role_ref.name), "role"),
        other => return Err(format!("unsupported role reference kind: {other:?}")),
    };
    let role = app
        .store
        .get(&format!("{RBAC_GROUP}/{table}"), &key)
        .ok_or_else(|| format!("{what}.{RBAC_GROUP} \"{}\" not found", role_ref.name))?;
    if table == "clusterroles"
        && let Some(selectors) = role.pointer("/aggregationRule/clusterRoleSelectors").and_then(Value::as_array)
    {
        return Ok(aggregated_rules(app, &role_ref.name, selectors));
    }
    Ok(rules_of(&role))
}

/// The `rules` of a Role or ClusterRole object.
pub fn rules_of(role: &Value) -> Vec<PolicyRule> {
    role.get("rules").and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default()
}

/// The rules of every other ClusterRole whose labels match one of `selectors` (metav1
/// LabelSelectors), de-duplicated, in name order.
fn aggregated_rules(app: &App, name: &str, selectors: &[Value]) -> Vec<PolicyRule> {
    use crate::selector::{LabelSelector, Requirement};
    let selectors: Vec<LabelSelector> = selectors
        .iter()
        .map(|sel| {
            let mut reqs: Vec<Requirement> = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| Requirement::In(k.clone(), vec![v.as_str().unwrap_or_default().to_string()]))
                .collect();
            for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
                let key = e.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                reqs.push(match e.get("operator").and_then(Value::as_str) {
                    Some("In") => Requirement::In(key, values),
                    Some("NotIn") => Requirement::NotIn(key, values),
                    Some("Exists") => Requirement::Exists(key),
                    Some("DoesNotExist") => Requirement::DoesNotExist(key),
                    // An invalid selector matches nothing (the controller would reject it).
                    _ => Requirement::In(key, Vec::new()),
                });
            }
            LabelSelector(reqs)
        })
        .collect();
    let (_, roles) = app.store.list(&format!("{RBAC_GROUP}/clusterroles"), "");
    let mut rules: Vec<PolicyRule> = Vec::new();
    for r in roles.iter().filter(|r| r.pointer("/metadata/name").and_then(Value::as_str) != Some(name)) {
        if selectors.iter().any(|s| s.matches(r)) {
            for rule in rules_of(r) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
    }
    rules
}

/// `RuleAllows` of the RBAC authorizer.
pub fn rule_allows(attrs: &RequestInfo, rule: &PolicyRule) -> bool {
    let has = |list: &Option<Vec<String>>, want: &str| list.iter().flatten().any(|x| x == "*" || x == want);
    let verb_ok = rule.verbs.iter().any(|v| v == "*" || *v == attrs.verb);
    if !verb_ok {
        return false;
    }
    if !attrs.resource_request {
        return rule.non_resource_urls.iter().flatten().any(|u| {
            u == "*" || *u == attrs.path || (u.ends_with('*') && attrs.path.starts_with(u.trim_end_matches('*')))
        });
    }
    let combined = attrs.combined_resource();
    let resource_ok = rule.resources.iter().flatten().any(|r| {
        r == "*"
            || *r == combined
            || (!attrs.subresource.is_empty()
                && r.len() == attrs.subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(attrs.subresource.as_str()))
    });
    let name_ok = match &rule.resource_names {
        Some(names) if !names.is_empty() => names.contains(&attrs.name),
        _ => true,
    };
    has(&rule.api_groups, &attrs.group) && resource_ok && name_ok
}

/// 403 Forbidden as `responsewriters.Forbidden` writes it (`reason` from [`authorize_reason`]).
fn forbidden(user: &UserInfo, attrs: &RequestInfo, reason: &str) -> ApiError {
    let mut msg = if !attrs.resource_request {
        format!("User {:?} cannot {} path {:?}", user.name, attrs.verb, attrs.path)
    } else if !attrs.namespace.is_empty() {
        format!(
            "User {:?} cannot {} resource {:?} in API group {:?} in the namespace {:?}",
            user.name,
            attrs.verb,
            attrs.combined_resource(),
            attrs.group,
            attrs.namespace
        )
    } else {
        format!(
            "User {:?} cannot {} resource {:?} in API group {:?} at the cluster scope",
            user.name,
            attrs.verb,
            attrs.combined_resource(),
            attrs.group
        )
    };
    if !reason.is_empty() {
        msg = format!("{msg}: {reason}");
    }
    forbidden_status(attrs, &attrs.name, msg)
}

/// `apierrors.NewForbidden` for the request's resource (without subresource) and object `name`:
/// `<resource>.<group> "<name>" is forbidden: <msg>`, or `forbidden: <msg>` for non-resource paths.
pub fn forbidden_status(attrs: &RequestInfo, name: &str, msg: String) -> ApiError {
    let qualified =
        if attrs.group.is_empty() { attrs.resource.clone() } else { format!("{}.{}", attrs.resource, attrs.group) };
    let message = if qualified.is_empty() {
        format!("forbidden: {msg}")
    } else if name.is_empty() {
        format!("{qualified} is forbidden: {msg}")
    } else {
        format!("{qualified} {name:?} is forbidden: {msg}")
    };
    let mut details = Map::new();
    for (k, v) in [("name", name), ("group", attrs.group.as_str()), ("kind", attrs.resource.as_str())] {
        if !v.is_empty() {
            details.insert(k.into(), Value::String(v.to_string()));
        }
    }
    let mut e = ApiError::new(403, "Forbidden", message);
    e.details = Some(Value::Object(details));
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_info::test_support::attrs;
    use axum::http::Method;

    #[test]
    fn rules_match_like_rbac() {
        let rule = |groups: &[&str], resources: &[&str], names: &[&str], verbs: &[&str]| PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            resource_names: Some(names.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let get_status = attrs(Method::GET, "/apis/g/v1/namespaces/n/foos/a/status", &[]);
        assert!(rule_allows(&get_status, &rule(&["g"], &["foos/status"], &[], &["get"])));
        assert!(rule_allows(&get_status, &rule(&["g"], &["*/status"], &[], &["*"])));
        assert!(!rule_allows(&get_status, &rule(&["g"], &["foos"], &[], &["get"])));
        assert!(rule_allows(&get_status, &rule(&["*"], &["*"], &["a"], &["get"])));
        assert!(!rule_allows(&get_status, &rule(&["g"], &["*"], &["b"], &["get"])));
        assert!(!rule_allows(&get_status, &rule(&[""], &["*"], &[], &["get"])));
        let list = attrs(Method::GET, "/apis/g/v1/namespaces/n/foos", &[]);
        assert!(
            !rule_allows(&list, &rule(&["g"], &["foos"], &["a"], &["list"])),
            "resourceNames never match an unnamed list"
        );
        let path = attrs(Method::GET, "/apis/g/v1", &[]);
        let nr = PolicyRule {
            non_resource_urls: Some(vec!["/apis/*".into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        };
        assert!(rule_allows(&path, &nr));
        assert!(!rule_allows(&attrs(Method::GET, "/version", &[]), &nr));
    }

    #[test]
    fn forbidden_messages_are_the_real_ones() {
        let u = UserInfo::service_account("ns", "sa");
        let e = forbidden(&u, &attrs(Method::POST, "/api/v1/namespaces/default/pods", &[]), "");
        assert_eq!(
            e.message,
            r#"pods is forbidden: User "system:serviceaccount:ns:sa" cannot create resource "pods" in API group "" in the namespace "default""#
        );
        let e = forbidden(
            &u,
            &attrs(Method::GET, "/apis/g.io/v1/foos/x", &[]),
            "RBAC: clusterrole.rbac.authorization.k8s.io \"r\" not found",
        );
        assert_eq!(
            e.message,
            r#"foos.g.io "x" is forbidden: User "system:serviceaccount:ns:sa" cannot get resource "foos" in API group "g.io" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "r" not found"#
        );
        assert_eq!(e.details, Some(serde_json::json!({"name": "x", "group": "g.io", "kind": "foos"})));
        let e = forbidden(&u, &attrs(Method::GET, "/logs", &[]), "");
        assert_eq!(e.message, r#"forbidden: User "system:serviceaccount:ns:sa" cannot get path "/logs""#);
        assert_eq!(e.details, Some(serde_json::json!({})));
    }
}
