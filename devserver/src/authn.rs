//! Authentication in https mode: who is making a request.
//!
//! The real API server runs a chain of authenticators; the devserver has two kinds of bearer
//! token, both opaque random strings:
//!
//! - the **admin token** written into the server's kubeconfig ([`crate::tls`]): user
//!   [`ADMIN_USER`] in group `system:masters`, which every authorizer allows (as on a kubeadm
//!   cluster's `kubernetes-admin`);
//! - **ServiceAccount tokens** minted by
//!   [`DevServerHandle::service_account_token`](crate::DevServerHandle::service_account_token):
//!   user `system:serviceaccount:<ns>:<name>` in groups `system:serviceaccounts`,
//!   `system:serviceaccounts:<ns>` and `system:authenticated`, exactly the identity the
//!   ServiceAccount token authenticator gives a pod. Like a real token it stops working (401)
//!   when its ServiceAccount does not exist.
//!
//! Plain http has no authentication at all (anonymous admin), because client-go never sends
//! credentials over http. A missing or unknown token over https is 401 `Unauthorized`, except
//! on the health endpoints, which stay open for probes.

use crate::error::ApiError;
use crate::store::Store;
use axum::http::{HeaderMap, header};
use std::collections::HashMap;
use std::sync::Mutex;

/// The user name of the admin token.
pub const ADMIN_USER: &str = "devserver-admin";

/// The group every authorizer allows everything (`system:masters`).
pub const MASTERS_GROUP: &str = "system:masters";

/// The group of every authenticated user.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";

/// An authenticated identity: what the authorizer decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name, e.g. `system:serviceaccount:ns:sa`.
    pub name: String,
    /// The groups the user is a member of.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The identity of the admin token (member of `system:masters`).
    pub fn admin() -> Self {
        UserInfo { name: ADMIN_USER.into(), groups: vec![MASTERS_GROUP.into(), AUTHENTICATED_GROUP.into()] }
    }

    /// The identity a token of ServiceAccount `namespace/name` authenticates as.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        UserInfo {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED_GROUP.into(),
            ],
        }
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// Authentication and authorization state of one server: whether RBAC is enforced and the
/// ServiceAccount tokens minted so far.
#[derive(Debug, Default)]
pub struct Auth {
    /// Authorize requests against the stored RBAC objects (https mode only; see
    /// [`crate::authz`]). Off means every authenticated request is allowed.
    pub rbac: bool,
    /// Run the `OwnerReferencesPermissionEnforcement` admission plugin (with RBAC only; see
    /// [`crate::admission`]).
    pub owner_references_enforcement: bool,
    /// token → (namespace, ServiceAccount name).
    tokens: Mutex<HashMap<String, (String, String)>>,
}

impl Auth {
    /// State with RBAC enforcement on or off and no ServiceAccount tokens.
    pub fn new(rbac: bool) -> Self {
        Auth { rbac, owner_references_enforcement: false, tokens: Mutex::default() }
    }

    /// Also run the `OwnerReferencesPermissionEnforcement` admission plugin when `enabled`.
    pub fn with_owner_references_enforcement(mut self, enabled: bool) -> Self {
        self.owner_references_enforcement = enabled;
        self
    }

    /// Mints a new random bearer token for ServiceAccount `namespace/name`. The account need not
    /// exist yet, but requests with the token are 401 while it does not.
    pub fn mint_service_account_token(&self, namespace: &str, name: &str) -> String {
        let token = format!("sa-{}", uuid::Uuid::new_v4().simple());
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), (namespace.to_string(), name.to_string()));
        token
    }

    fn service_account_of(&self, token: &str) -> Option<(String, String)> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(token).cloned()
    }
}

/// Who is making this request.
///
/// - `Ok(None)`: no authentication applies (plain http, or a health probe without a valid
///   token): the request is served without authorization;
/// - `Ok(Some(user))`: a valid admin or ServiceAccount token;
/// - `Err(401 Unauthorized)`: https and a missing or unknown token, or a token of a
///   ServiceAccount that no longer exists.
pub fn authenticate(
    auth: &Auth,
    admin_token: Option<&str>,
    store: &Store,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<UserInfo>, ApiError> {
    let Some(admin_token) = admin_token else {
        return Ok(None);
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let user = match bearer {
        Some(t) if t == admin_token => Some(UserInfo::admin()),
        Some(t) => auth
            .service_account_of(t)
            .filter(|(ns, name)| store.get("/serviceaccounts", &format!("{ns}/{name}")).is_some())
            .map(|(ns, name)| UserInfo::service_account(&ns, &name)),
        None => None,
    };
    match user {
        Some(u) => Ok(Some(u)),
        None if matches!(path, "/healthz" | "/livez" | "/readyz") => Ok(None),
        None => Err(ApiError::new(401, "Unauthorized", "Unauthorized")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_identity_has_the_real_groups() {
        let u = UserInfo::service_account("ns", "sa");
        assert_eq!(u.name, "system:serviceaccount:ns:sa");
        assert_eq!(u.groups, ["system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"]);
        assert!(UserInfo::admin().in_group(MASTERS_GROUP));
        assert!(!u.in_group(MASTERS_GROUP));
    }

    #[test]
    fn minted_tokens_are_distinct_and_resolve() {
        let auth = Auth::new(true);
        let a = auth.mint_service_account_token("ns", "sa");
        let b = auth.mint_service_account_token("ns", "sa");
        assert_ne!(a, b);
        assert_eq!(auth.service_account_of(&a), Some(("ns".into(), "sa".into())));
        assert_eq!(auth.service_account_of("nope"), None);
    }
}
