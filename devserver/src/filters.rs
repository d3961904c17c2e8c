//! The chain in front of every request, in kube-apiserver's order: authentication, then
//! authorization (a decision only), then admission (which may ask the authorizer again, as
//! OwnerReferencesPermissionEnforcement does). Each step lives in its own module; this one only
//! orders them, so none of them needs to know about the others.

use crate::app::App;
use crate::authn::{self, UserInfo};
use crate::error::ApiError;
use crate::request_info::RequestInfo;
use crate::request_log::RequestRecord;
use crate::{admission, authz};
use axum::http::HeaderMap;

/// The authentication and authorization step in front of every request: 401 for a bad token,
/// 403 when RBAC is on and denies; otherwise the authenticated user (None when the server
/// authenticates no one). On success or denial the record learns the user; on denial
/// also what was denied (the router fills these fields for requests it serves).
pub fn admit(
    app: &App,
    attrs: &RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
    record: &mut RequestRecord,
) -> Result<Option<UserInfo>, ApiError> {
    let Some(user) = authn::authenticate(&app.auth, app.token.as_deref(), &app.store, &attrs.path, headers)? else {
        return Ok(None);
    };
    record.user = Some(user.name.clone());
    if !app.auth.rbac {
        return Ok(Some(user));
    }
    authz::authorize(app, &user, attrs)
        .and_then(|()| {
            if app.auth.owner_references_enforcement { admission::validate(app, &user, attrs, body) } else { Ok(()) }
        })
        .inspect_err(|_| {
            if attrs.resource_request {
                record.verb = attrs.verb.clone();
                record.group = attrs.group.clone();
                record.resource = attrs.combined_resource();
                record.namespace = (!attrs.namespace.is_empty()).then(|| attrs.namespace.clone());
                record.name = (!attrs.name.is_empty()).then(|| attrs.name.clone());
            }
        })?;
    Ok(Some(user))
}
