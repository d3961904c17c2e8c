//! RPC credentials: read from the network's Secret, or generated for the `<name>-rpc` Secret.
//!
//! The password never reaches logs, events or status: [`Credentials`] prints it redacted, and
//! the only way to read it is [`Credentials::password`], used by the RPC client.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rand::Rng;
use rand::distr::Alphanumeric;
use std::fmt;

/// The Secret key holding the RPC user (the Go reference's contract).
pub const USER_KEY: &str = "BC_RPC_USER";
/// The Secret key holding the RPC password (the Go reference's contract).
pub const PASSWORD_KEY: &str = "BC_RPC_PASSWORD";

/// bitcoind RPC credentials. `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The RPC user name (not secret).
    pub user: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

/// Why a Secret cannot be used for RPC credentials (never includes the values).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// A required key is absent or empty.
    #[error("secret {secret} has no non-empty key {key}")]
    MissingKey {
        /// The Secret's name.
        secret: String,
        /// The missing key.
        key: &'static str,
    },
    /// A value is not UTF-8.
    #[error("secret {secret}: key {key} is not UTF-8")]
    NotUtf8 {
        /// The Secret's name.
        secret: String,
        /// The bad key.
        key: &'static str,
    },
}

impl Credentials {
    /// Credentials from known values.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self { user: user.into(), password: password.into() }
    }

    /// Fresh random credentials (user `bitcoin-<8>`, 32-character alphanumeric password).
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut word = |n: usize| -> String { (&mut rng).sample_iter(Alphanumeric).take(n).map(char::from).collect() };
        let user = format!("bitcoin-{}", word(8).to_lowercase());
        let password = word(32);
        Self { user, password }
    }

    /// The password, for the RPC client's Authorization header only.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Reads [`USER_KEY`] and [`PASSWORD_KEY`] from `data` (or `stringData`, for objects that
    /// have not been through a server).
    pub fn from_secret(secret: &Secret) -> Result<Self, SecretError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let read =
            |key: &'static str| -> Result<String, SecretError> {
                let raw =
                    secret.data.as_ref().and_then(|d| d.get(key)).map(|b| b.0.clone()).or_else(|| {
                        secret.string_data.as_ref().and_then(|d| d.get(key)).map(|s| s.clone().into_bytes())
                    });
                let raw = raw.filter(|b| !b.is_empty()).ok_or(SecretError::MissingKey { secret: name.clone(), key })?;
                String::from_utf8(raw).map_err(|_| SecretError::NotUtf8 { secret: name.clone(), key })
            };
        Ok(Self { user: read(USER_KEY)?, password: read(PASSWORD_KEY)? })
    }

    /// The Secret `data` holding these credentials.
    pub fn to_data(&self) -> std::collections::BTreeMap<String, ByteString> {
        [
            (USER_KEY.to_string(), ByteString(self.user.clone().into_bytes())),
            (PASSWORD_KEY.to_string(), ByteString(self.password.clone().into_bytes())),
        ]
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn generated_credentials_are_random_and_round_trip() {
        let a = Credentials::generate();
        let b = Credentials::generate();
        assert_ne!(a.password(), b.password());
        assert_eq!(a.password().len(), 32);
        let secret = Secret {
            metadata: ObjectMeta { name: Some("n-rpc".into()), ..Default::default() },
            data: Some(a.to_data()),
            ..Default::default()
        };
        assert_eq!(Credentials::from_secret(&secret).unwrap(), a);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credentials::new("u", "hunter2-very-secret");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn missing_or_empty_keys_are_named_errors() {
        let secret = Secret {
            metadata: ObjectMeta { name: Some("s".into()), ..Default::default() },
            string_data: Some(
                [(USER_KEY.to_string(), "u".to_string()), (PASSWORD_KEY.to_string(), String::new())].into(),
            ),
            ..Default::default()
        };
        assert_eq!(
            Credentials::from_secret(&secret),
            Err(SecretError::MissingKey { secret: "s".into(), key: PASSWORD_KEY })
        );
        let empty = Secret::default();
        assert!(matches!(Credentials::from_secret(&empty), Err(SecretError::MissingKey { key: USER_KEY, .. })));
    }
}
