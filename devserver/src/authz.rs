//! RBAC authorization: the `rbac.authorization.k8s.io` authorizer of the real API server, over
//! the Roles, ClusterRoles, RoleBindings and ClusterRoleBindings in the store.
//!
//! Only on when the server runs with [`DevServerBuilder::rbac`](crate::DevServerBuilder::rbac)
//! (which needs https, since client-go sends no credentials over http). The steps follow
//! kube-apiserver:
//!
//! 1. [`Attributes::from_request`] is `RequestInfoFactory.NewRequestInfo`: the verb (`get`,
//!    `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`; the lower-case
//!    HTTP method for non-resource paths), API group, resource, subresource, namespace and name
//!    (a `metadata.name=` field selector names the object of a list or watch);
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
use crate::handlers::Query;
use crate::request_log::RequestRecord;
use axum::http::{HeaderMap, Method};
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};
use serde_json::{Map, Value};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// What a request asks to do, as the authorizer sees it (`authorizer.Attributes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`; for
    /// non-resource requests the lower-case HTTP method.
    pub verb: String,
    /// True for `/api/<v>/...` and `/apis/<g>/<v>/...` paths with a resource.
    pub resource_request: bool,
    /// The request path (matched against `nonResourceURLs`).
    pub path: String,
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Resource plural.
    pub resource: String,
    /// Subresource ("" if none).
    pub subresource: String,
    /// Namespace ("" for cluster scope).
    pub namespace: String,
    /// Object name ("" if none).
    pub name: String,
}

impl Attributes {
    /// The attributes of a request, exactly as kube-apiserver's `RequestInfoFactory` derives them.
    pub fn from_request(method: &Method, path: &str, query: &Query) -> Attributes {
        let mut a = Attributes { verb: method.as_str().to_lowercase(), path: path.to_string(), ..Default::default() };
        let mut parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        if parts.len() < 3 || !matches!(parts[0], "api" | "apis") {
            return a;
        }
        let grouped = parts[0] == "apis";
        parts.remove(0);
        if grouped {
            if parts.len() < 3 {
                return a;
            }
            a.group = parts.remove(0).to_string();
        }
        a.resource_request = true;
        a.version = parts.remove(0).to_string();
        let mut special = false;
        if matches!(parts[0], "watch" | "proxy") && parts.len() >= 2 {
            a.verb = parts.remove(0).to_string();
            special = true;
        } else {
            a.verb = match *method {
                Method::POST => "create",
                Method::GET | Method::HEAD => "get",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE => "delete",
                _ => "",
            }
            .to_string();
        }
        if parts.first() == Some(&"namespaces") && parts.len() > 1 {
            a.namespace = parts[1].to_string();
            if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
                parts.drain(0..2);
            }
        }
        if parts.len() >= 3 && !(special && a.verb == "proxy") {
            a.subresource = parts[2].to_string();
        }
        if parts.len() >= 2 {
            a.name = parts[1].to_string();
        }
        if let Some(r) = parts.first() {
            a.resource = r.to_string();
        }
        if a.name.is_empty() && a.verb == "get" {
            let watch = query.get("watch").is_some_and(|w| !matches!(w.to_lowercase().as_str(), "false" | "0" | "f"));
            a.verb = if watch { "watch" } else { "list" }.into();
            if let Some(name) = query.get("fieldSelector").and_then(|fs| exact_name(fs)) {
                a.name = name;
            }
        }
        if a.name.is_empty() && a.verb == "delete" {
            a.verb = "deletecollection".into();
        }
        a
    }

    /// `resource/subresource`, or the resource alone.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// The name a field selector requires exactly (`metadata.name=x` or `metadata.name==x`).
fn exact_name(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let (k, v) = term.split_once("==").or_else(|| term.split_once('='))?;
        if k.trim() != "metadata.name" {
            return None;
        }
        let v = v.trim();
        (!v.is_empty() && v != "." && v != ".." && !v.contains('/') && !v.contains('%')).then(|| v.to_string())
    })
}

/// The authentication and authorization step in front of every request: 401 for a bad token,
/// 403 when RBAC is on and denies. On success or denial the record learns the user; on denial
/// also what was denied (the router fills these fields for requests it serves).
pub fn admit(
    app: &App,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
    record: &mut RequestRecord,
) -> Result<(), ApiError> {
    let Some(user) = crate::authn::authenticate(app, path, headers)? else {
        return Ok(());
    };
    record.user = Some(user.name.clone());
    if !app.auth.rbac {
        return Ok(());
    }
    let attrs = Attributes::from_request(method, path, query);
    authorize(app, &user, &attrs)
        .and_then(|()| {
            if app.auth.owner_references_enforcement {
                crate::admission::validate(app, &user, &attrs, body)
            } else {
                Ok(())
            }
        })
        .inspect_err(|_| {
            if attrs.resource_request {
                record.verb = attrs.verb.clone();
                record.group = attrs.group.clone();
                record.resource = attrs.combined_resource();
                record.namespace = (!attrs.namespace.is_empty()).then(|| attrs.namespace.clone());
                record.name = (!attrs.name.is_empty()).then(|| attrs.name.clone());
            }
        })
}

/// Decides one request: `Ok` if allowed, else 403 Forbidden with kube-apiserver's message.
pub fn authorize(app: &App, user: &UserInfo, attrs: &Attributes) -> Result<(), ApiError> {
    authorize_reason(app, user, attrs).map_err(|reason| forbidden(user, attrs, &reason))
}

/// The RBAC decision alone: `Err(reason)` on denial, where the reason is "" or, when bindings
/// that apply to the user reference missing roles, `RBAC: <errors>` (the authorizer's reason).
pub fn authorize_reason(app: &App, user: &UserInfo, attrs: &Attributes) -> Result<(), String> {
    if user.in_group(MASTERS_GROUP) || bootstrap_rules(user).iter().any(|r| rule_allows(attrs, r)) {
        return Ok(());
    }
    let mut errors = Vec::new();
    let store = &app.store;
    let (_, cluster_bindings) = store.list(&format!("{RBAC_GROUP}/clusterrolebindings"), "");
    for b in &cluster_bindings {
        if !binding_applies(b, user, "") {
            continue;
        }
        match role_rules(app, b, "") {
            Ok(rules) if rules.iter().any(|r| rule_allows(attrs, r)) => return Ok(()),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if !attrs.namespace.is_empty() {
        let (_, bindings) = store.list(&format!("{RBAC_GROUP}/rolebindings"), &format!("{}/", attrs.namespace));
        for b in &bindings {
            if !binding_applies(b, user, &attrs.namespace) {
                continue;
            }
            match role_rules(app, b, &attrs.namespace) {
                Ok(rules) if rules.iter().any(|r| rule_allows(attrs, r)) => return Ok(()),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
    }
    Err(match errors.as_slice() {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.join(", ")),
    })
}

/// The rules of the bootstrap ClusterRoles bound to groups every user of this server is in:
/// `system:discovery`, `system:public-info-viewer` and `system:basic-user` (all bound to
/// `system:authenticated` on a real cluster).
fn bootstrap_rules(user: &UserInfo) -> Vec<PolicyRule> {
    if !user.in_group(AUTHENTICATED_GROUP) {
        return Vec::new();
    }
    let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
    vec![
        PolicyRule {
            non_resource_urls: s(&[
                "/livez",
                "/readyz",
                "/healthz",
                "/version",
                "/version/",
                "/openapi",
                "/openapi/*",
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
            ]),
            verbs: vec!["get".into()],
            ..Default::default()
        },
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
    ]
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
fn role_rules(app: &App, binding: &Value, namespace: &str) -> Result<Vec<PolicyRule>, String> {
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

fn rules_of(role: &Value) -> Vec<PolicyRule> {
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
pub fn rule_allows(attrs: &Attributes, rule: &PolicyRule) -> bool {
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
fn forbidden(user: &UserInfo, attrs: &Attributes, reason: &str) -> ApiError {
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
pub fn forbidden_status(attrs: &Attributes, name: &str, msg: String) -> ApiError {
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

    fn attrs(method: Method, path: &str, query: &[(&str, &str)]) -> Attributes {
        let q: Query = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Attributes::from_request(&method, path, &q)
    }

    #[test]
    fn request_info_like_kube_apiserver() {
        let a = attrs(Method::GET, "/apis/apps/v1/namespaces/ns/statefulsets", &[]);
        assert_eq!(
            (a.verb.as_str(), a.group.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("list", "apps", "statefulsets", "ns")
        );
        let a = attrs(Method::GET, "/api/v1/pods", &[("watch", "true")]);
        assert_eq!((a.verb.as_str(), a.namespace.as_str(), a.resource_request), ("watch", "", true));
        let a = attrs(Method::GET, "/api/v1/namespaces/ns/pods", &[("fieldSelector", "metadata.name=p1")]);
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("list", "p1"));
        let a = attrs(Method::PUT, "/apis/g.io/v1/namespaces/ns/foos/x/status", &[]);
        assert_eq!((a.verb.as_str(), a.combined_resource().as_str(), a.name.as_str()), ("update", "foos/status", "x"));
        let a = attrs(Method::GET, "/api/v1/namespaces/ns", &[]);
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
            ("get", "namespaces", "ns", "ns")
        );
        let a = attrs(Method::PUT, "/api/v1/namespaces/ns/finalize", &[]);
        assert_eq!((a.resource.as_str(), a.name.as_str(), a.subresource.as_str()), ("namespaces", "ns", "finalize"));
        let a = attrs(Method::DELETE, "/api/v1/namespaces/ns/pods", &[]);
        assert_eq!(a.verb, "deletecollection");
        let a = attrs(Method::GET, "/api/v1/watch/namespaces/ns/pods/p", &[]);
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "p"));
        for p in ["/api", "/api/v1", "/apis/apps/v1", "/version", "/openapi/v3"] {
            let a = attrs(Method::GET, p, &[]);
            assert!(!a.resource_request, "{p}");
            assert_eq!(a.verb, "get");
        }
    }

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
