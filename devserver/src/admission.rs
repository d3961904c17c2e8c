//! The `OwnerReferencesPermissionEnforcement` admission plugin (off by default, as in
//! kube-apiserver; on with
//! [`DevServerBuilder::owner_references_permission_enforcement`](crate::DevServerBuilder::owner_references_permission_enforcement)
//! together with RBAC). It is why controllers' RBAC manifests carry `<owner>/finalizers update`:
//!
//! - changing `metadata.ownerReferences` of an existing object needs `delete` on that object
//!   (403 `cannot set an ownerRef on a resource you can't delete: <reason>, <nil>`);
//! - setting `blockOwnerDeletion: true` on a reference (new, or newly true) needs `update` on the
//!   owner's `finalizers` subresource (403 `cannot set blockOwnerDeletion if an ownerReference
//!   refers to a resource you can't set finalizers on: <reason>, <nil>`).
//!
//! Creates and updates see the whole object. For patches the plugin looks at the references
//! the patch itself carries (`metadata.ownerReferences` of a merge, strategic or apply patch, or
//! the values of JSON-patch operations under `/metadata/ownerReferences`) instead of the patched
//! object, which is enough for every client we know of.

use crate::app::App;
use crate::authn::UserInfo;
use crate::authz::authorize_reason;
use crate::error::ApiError;
use crate::request_info::RequestInfo;
use serde_json::Value;

/// Runs the plugin for one already authorized request with its body.
pub fn validate(app: &App, user: &UserInfo, attrs: &RequestInfo, body: &[u8]) -> Result<(), ApiError> {
    if !attrs.resource_request || !matches!(attrs.verb.as_str(), "create" | "update" | "patch") {
        return Ok(());
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Ok(()); // the handler answers malformed bodies
    };
    let new_refs = if attrs.verb == "patch" { patch_refs(&body) } else { Some(refs_of(&body)) };
    let Some(new_refs) = new_refs else {
        return Ok(());
    };
    let name = if attrs.name.is_empty() {
        body.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string()
    } else {
        attrs.name.clone()
    };
    let old = if attrs.verb == "create" {
        None
    } else {
        let key = if attrs.namespace.is_empty() { name.clone() } else { format!("{}/{name}", attrs.namespace) };
        app.store.get(&format!("{}/{}", attrs.group, attrs.resource), &key)
    };
    let old_refs = old.as_deref().map(refs_of).unwrap_or_default();
    if new_refs == old_refs {
        return Ok(());
    }
    let deny = |why: String| crate::authz::forbidden_status(attrs, &name, why);
    if attrs.verb != "create" {
        let delete =
            RequestInfo { verb: "delete".into(), subresource: String::new(), name: name.clone(), ..attrs.clone() };
        if let Err(reason) = authorize_reason(app, user, &delete) {
            return Err(deny(format!("cannot set an ownerRef on a resource you can't delete: {reason}, <nil>")));
        }
    }
    for r in new_refs.iter().filter(|r| r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)) {
        let uid = r.get("uid").and_then(Value::as_str).unwrap_or("");
        let was_blocking = old_refs.iter().any(|o| {
            o.get("uid").and_then(Value::as_str) == Some(uid)
                && o.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
        });
        if was_blocking {
            continue;
        }
        let api_version = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let Some(owner) = app
            .registry
            .discoverable()
            .into_iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
        else {
            return Err(deny(format!(
                "cannot set blockOwnerDeletion in this case because cannot find RESTMapping for APIVersion {api_version} Kind {kind}: no matches for kind \"{kind}\" in version \"{api_version}\""
            )));
        };
        let finalizers = RequestInfo {
            method: axum::http::Method::PUT,
            verb: "update".into(),
            resource_request: true,
            path: String::new(),
            group: owner.group.clone(),
            version: owner.version.clone(),
            resource: owner.plural.clone(),
            subresource: "finalizers".into(),
            namespace: attrs.namespace.clone(),
            name: r.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
            route: None,
        };
        if let Err(reason) = authorize_reason(app, user, &finalizers) {
            return Err(deny(format!(
                "cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: {reason}, <nil>"
            )));
        }
    }
    Ok(())
}

fn refs_of(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The owner references a patch sets, if it touches them at all.
fn patch_refs(patch: &Value) -> Option<Vec<Value>> {
    if let Some(ops) = patch.as_array() {
        let mut refs = Vec::new();
        let mut touched = false;
        for op in ops {
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            if !(path.starts_with("/metadata/ownerReferences") || path == "/metadata" || path.is_empty()) {
                continue;
            }
            let value = op.get("value").cloned().unwrap_or(Value::Null);
            let found = match path {
                "" => refs_of(&value),
                "/metadata" => value.get("ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default(),
                "/metadata/ownerReferences" => value.as_array().cloned().unwrap_or_default(),
                _ if value.is_object() => vec![value],
                _ => Vec::new(),
            };
            touched |= path.starts_with("/metadata/ownerReferences") || !found.is_empty();
            refs.extend(found);
        }
        return touched.then_some(refs);
    }
    patch.pointer("/metadata/ownerReferences").map(|v| v.as_array().cloned().unwrap_or_default())
}
