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

/// Authentication, from the headers alone (so it runs before the body is read): 401 for a bad
/// token; otherwise the authenticated user (None when the server authenticates no one), which
/// the record learns.
pub fn authenticate(
    app: &App,
    attrs: &RequestInfo,
    headers: &HeaderMap,
    record: &mut RequestRecord,
) -> Result<Option<UserInfo>, ApiError> {
    let user = authn::authenticate(&app.auth, app.token.as_deref(), &app.store, &attrs.path, headers)?;
    record.user = user.as_ref().map(|u| u.name.clone());
    Ok(user)
}

/// Authorization, then admission (which reads the body): 403 when RBAC is on and denies. On
/// denial the record also learns what was denied (the router fills these fields for requests
/// it serves).
pub fn authorize(
    app: &App,
    user: Option<&UserInfo>,
    attrs: &RequestInfo,
    body: &[u8],
    record: &mut RequestRecord,
) -> Result<(), ApiError> {
    let Some(user) = user else { return Ok(()) };
    if !app.auth.rbac {
        return Ok(());
    }
    authz::authorize(app, user, attrs)
        .and_then(|()| {
            if app.auth.owner_references_enforcement { admission::validate(app, user, attrs, body) } else { Ok(()) }
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
