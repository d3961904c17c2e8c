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
    /// token → the ServiceAccount it was minted for.
    tokens: Mutex<HashMap<String, TokenOwner>>,
    /// With `--data-dir`: where minted tokens are saved, so a restarted server accepts them.
    tokens_file: std::sync::OnceLock<std::path::PathBuf>,
}

/// The ServiceAccount a token belongs to. Like a bound token's `kubernetes.io/serviceaccount`
/// claims, it names the account's UID: a deleted and re-created account (a new UID) does not
/// revive old tokens. A token minted before its account exists binds to the first UID it is
/// used with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenOwner {
    /// The account's namespace.
    pub namespace: String,
    /// The account's name.
    pub name: String,
    /// The account's UID, once known.
    pub uid: Option<String>,
    /// When the token stops authenticating (Unix seconds); `None` for the tokens minted at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

impl Auth {
    /// State with RBAC enforcement on or off and no ServiceAccount tokens.
    pub fn new(rbac: bool) -> Self {
        Auth { rbac, owner_references_enforcement: false, tokens: Mutex::default(), tokens_file: Default::default() }
    }

    /// Also run the `OwnerReferencesPermissionEnforcement` admission plugin when `enabled`.
    pub fn with_owner_references_enforcement(mut self, enabled: bool) -> Self {
        self.owner_references_enforcement = enabled;
        self
    }

    /// Mints a new random bearer token for ServiceAccount `namespace/name`, bound to its current
    /// UID; when it does not exist yet, requests with the token are 401 until it does, and the
    /// token binds to the first UID it is used with.
    pub fn mint_service_account_token(&self, namespace: &str, name: &str, store: &Store) -> String {
        self.mint(namespace, name, store, None)
    }

    /// A token for an existing ServiceAccount (a TokenRequest), bound to its UID, that stops
    /// authenticating after `seconds`. Expired tokens are dropped when the next one is minted.
    pub fn mint_expiring_token(&self, namespace: &str, name: &str, store: &Store, seconds: i64) -> String {
        self.mint(namespace, name, store, Some(seconds))
    }

    /// Records a new random token for `namespace/name` (expiring after `seconds`, if given),
    /// dropping expired ones, and saves the tokens.
    fn mint(&self, namespace: &str, name: &str, store: &Store, seconds: Option<i64>) -> String {
        let token = format!("sa-{}", uuid::Uuid::new_v4().simple());
        let now = jiff::Timestamp::now().as_second();
        let owner = TokenOwner {
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: account_uid(store, namespace, name),
            expires: seconds.map(|s| now.saturating_add(s)),
        };
        {
            let mut tokens = self.lock_tokens();
            tokens.retain(|_, o| o.expires.is_none_or(|e| e > now));
            tokens.insert(token.clone(), owner);
        }
        self.save_tokens();
        token
    }

    fn lock_tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, TokenOwner>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account a token belongs to, if the token is known and the account with that UID
    /// exists now (binding an unbound token to the account's current UID).
    fn service_account_of(&self, token: &str, store: &Store) -> Option<(String, String)> {
        let mut tokens = self.lock_tokens();
        let owner = tokens.get_mut(token)?;
        if owner.expires.is_some_and(|e| e <= jiff::Timestamp::now().as_second()) {
            return None;
        }
        let uid = account_uid(store, &owner.namespace, &owner.name)?;
        match &owner.uid {
            Some(bound) if *bound != uid => return None,
            Some(_) => {}
            None => {
                owner.uid = Some(uid);
                let found = (owner.namespace.clone(), owner.name.clone());
                drop(tokens);
                self.save_tokens();
                return Some(found);
            }
        }
        Some((owner.namespace.clone(), owner.name.clone()))
    }

    /// Keeps minted tokens in `path` (created 0600), loading the ones already there.
    pub fn persist_tokens(&self, path: std::path::PathBuf) -> anyhow::Result<()> {
        use anyhow::Context as _;
        match std::fs::read(&path) {
            Ok(bytes) => {
                let saved: HashMap<String, TokenOwner> =
                    serde_json::from_slice(&bytes).with_context(|| format!("{}: not a token file", path.display()))?;
                self.lock_tokens().extend(saved);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        let _ = self.tokens_file.set(path);
        Ok(())
    }

    fn save_tokens(&self) {
        let Some(path) = self.tokens_file.get() else { return };
        let text = serde_json::to_string(&*self.lock_tokens()).unwrap_or_default();
        if let Err(e) = crate::kubeconfig::write_private(path, &text) {
            tracing::warn!(file = %path.display(), error = %e, "saving ServiceAccount tokens failed");
        }
    }
}

/// The UID of ServiceAccount `namespace/name`, if it exists.
fn account_uid(store: &Store, namespace: &str, name: &str) -> Option<String> {
    let sa = store.get("/serviceaccounts", &format!("{namespace}/{name}"))?;
    sa.pointer("/metadata/uid").and_then(serde_json::Value::as_str).map(str::to_string)
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
        Some(t) => auth.service_account_of(t, store).map(|(ns, name)| UserInfo::service_account(&ns, &name)),
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
    fn tokens_are_bound_to_the_account_uid() {
        let auth = Auth::new(true);
        let store = Store::new(10);
        let put = |uid: &str| {
            let sa = serde_json::json!({"metadata": {"name": "sa", "namespace": "ns", "uid": uid}});
            let _ = store.transact::<()>("/serviceaccounts", "ns/sa", |_, _| Ok(crate::store::Write::Put(sa)));
        };
        let early = auth.mint_service_account_token("ns", "sa", &store);
        assert_eq!(auth.service_account_of(&early, &store), None, "no account yet");
        put("uid-1");
        let bound = auth.mint_service_account_token("ns", "sa", &store);
        assert_ne!(early, bound);
        assert_eq!(auth.service_account_of(&early, &store), Some(("ns".into(), "sa".into())));
        assert_eq!(auth.service_account_of(&bound, &store), Some(("ns".into(), "sa".into())));
        assert_eq!(auth.service_account_of("nope", &store), None);
        put("uid-2"); // deleted and re-created
        assert_eq!(auth.service_account_of(&early, &store), None, "old tokens stay dead");
        assert_eq!(auth.service_account_of(&bound, &store), None);
    }
}
