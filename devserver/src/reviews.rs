//! `authorization.k8s.io/v1` SelfSubjectAccessReview and SelfSubjectRulesReview: what
//! `kubectl auth can-i` asks. Both are create-only and never stored; the answer comes from the
//! same authorizer that guards every request ([`crate::authz`]). Without `--rbac` every request
//! is allowed, so every review says so (kube-apiserver's AlwaysAllow).

use crate::app::App;
use crate::authn::UserInfo;
use crate::authz;
use crate::error::{ApiError, ApiResult, Cause, Target};
use crate::request_info::RequestInfo;
use crate::resource::ResourceType;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Value, json};

/// Answers a review `body` created by `user` (None: the server authenticates no one).
pub fn create(app: &App, rt: &ResourceType, user: Option<&UserInfo>, body: &Value) -> ApiResult<Value> {
    let status = match rt.plural.as_str() {
        "selfsubjectaccessreviews" => access(app, rt, user, body)?,
        _ => rules(app, user, body),
    };
    let spec = if rt.plural == "selfsubjectaccessreviews" { body.get("spec").cloned() } else { Some(json!({})) };
    Ok(json!({
        "kind": rt.kind,
        "apiVersion": rt.api_version(),
        "metadata": {},
        "spec": spec.unwrap_or_else(|| json!({})),
        "status": status,
    }))
}

/// Who is asking, when authorization applies at all.
fn subject<'a>(app: &App, user: Option<&'a UserInfo>) -> Option<&'a UserInfo> {
    user.filter(|_| app.auth.rbac)
}

fn access(app: &App, rt: &ResourceType, user: Option<&UserInfo>, body: &Value) -> ApiResult<Value> {
    let spec = body.get("spec").cloned().unwrap_or_default();
    let attrs = match (spec.get("resourceAttributes"), spec.get("nonResourceAttributes")) {
        (Some(r), None) => {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            RequestInfo {
                verb: s("verb"),
                resource_request: true,
                group: s("group"),
                version: s("version"),
                resource: s("resource"),
                subresource: s("subresource"),
                namespace: s("namespace"),
                name: s("name"),
                ..Default::default()
            }
        }
        (None, Some(n)) => {
            let s = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            RequestInfo { verb: s("verb"), path: s("path"), ..Default::default() }
        }
        _ => {
            // As kube-apiserver words it, with an empty kind: `.authorization.k8s.io "" is invalid`.
            let t = Target { group: rt.group.clone(), ..Default::default() };
            return Err(ApiError::invalid(
                &t,
                vec![Cause {
                    reason: "FieldValueInvalid".into(),
                    message: "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
                    field: "spec".into(),
                }],
            ));
        }
    };
    let allowed = subject(app, user).is_none_or(|u| authz::authorize_reason(app, u, &attrs).is_ok());
    Ok(json!({"allowed": allowed}))
}

fn rules(app: &App, user: Option<&UserInfo>, body: &Value) -> Value {
    let namespace = body.pointer("/spec/namespace").and_then(Value::as_str).unwrap_or_default();
    let (rules, errors) = match subject(app, user) {
        Some(u) => authz::rules_for(app, u, namespace),
        None => (authz::cluster_admin_rules(), Vec::new()),
    };
    let (mut resource_rules, mut non_resource_rules) = (Vec::new(), Vec::new());
    for r in &rules {
        push_rule(r, &mut resource_rules, &mut non_resource_rules);
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": !errors.is_empty(),
    });
    if !errors.is_empty() {
        status["evaluationError"] = json!(errors.join(", "));
    }
    status
}

/// A PolicyRule as a review's `ResourceRule` or `NonResourceRule`.
fn push_rule(r: &PolicyRule, resource: &mut Vec<Value>, non_resource: &mut Vec<Value>) {
    if let Some(urls) = r.non_resource_urls.as_ref().filter(|u| !u.is_empty()) {
        non_resource.push(json!({"verbs": r.verbs, "nonResourceURLs": urls}));
    }
    if r.resources.as_ref().is_some_and(|x| !x.is_empty()) {
        let mut rule = json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
        if let Some(names) = r.resource_names.as_ref().filter(|n| !n.is_empty()) {
            rule["resourceNames"] = json!(names);
        }
        resource.push(rule);
    }
}
