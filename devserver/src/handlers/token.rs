//! The `token` subresource of ServiceAccounts (`kubectl create token`, client-go's
//! `CreateToken`): a TokenRequest in, the same TokenRequest with `status.token` and
//! `status.expirationTimestamp` out (201). The token authenticates as the account (bound to its
//! UID, see [`crate::authn`]) until it expires. Like kube-apiserver, the request's expiry defaults
//! to an hour and may not be under ten minutes; audiences default to the server's.

use super::*;

/// kube-apiserver's default `--service-account-issuer` audience.
const DEFAULT_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
const MIN_EXPIRATION_SECONDS: i64 = 600;
/// kube-apiserver's bound: 2^32 seconds.
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

impl Ctx<'_> {
    pub(super) fn create_token(&self, ns: Option<&str>, name: &str, body: &[u8]) -> ApiResult<Response> {
        let namespace = ns.unwrap_or("default");
        let mut request = super::request_object_of(self.headers, body, "authentication.k8s.io/v1", "TokenRequest")?;
        match request.get("spec") {
            None | Some(Value::Null) => request["spec"] = json!({}),
            Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: json: cannot unmarshal {} into Go struct field TokenRequest.spec of type v1.TokenRequestSpec",
                    json_kind(other)
                )));
            }
        }
        if self.stored(&self.key(ns, name)).is_none() {
            return Err(ApiError::not_found(&self.rt.target(name)));
        }
        let seconds = match request.pointer("/spec/expirationSeconds") {
            None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
            Some(v) => v.as_i64().ok_or_else(|| {
                ApiError::bad_request(format!(
                    "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: json: cannot unmarshal {v} into Go struct field TokenRequestSpec.spec.expirationSeconds of type int64"
                ))
            })?,
        };
        if seconds < MIN_EXPIRATION_SECONDS {
            return Err(invalid_expiration(seconds, "may not specify a duration less than 10 minutes"));
        }
        if seconds > MAX_EXPIRATION_SECONDS {
            return Err(invalid_expiration(seconds, "may not specify a duration larger than 2^32 seconds"));
        }
        let audiences = match request.pointer("/spec/audiences").and_then(Value::as_array) {
            Some(a) if !a.is_empty() => Value::Array(a.clone()),
            _ => json!([DEFAULT_AUDIENCE]),
        };
        if self.dry_run() {
            request["status"] = json!({"token": "", "expirationTimestamp": expiry(seconds)});
        } else {
            let token = self.app.auth.mint_expiring_token(namespace, name, &self.app.store, seconds);
            request["status"] = json!({"token": token, "expirationTimestamp": expiry(seconds)});
        }
        request["apiVersion"] = json!("authentication.k8s.io/v1");
        request["kind"] = json!("TokenRequest");
        request["metadata"] = json!({"name": name, "namespace": namespace, "creationTimestamp": crate::app::now()});
        request["spec"]["audiences"] = audiences;
        request["spec"]["expirationSeconds"] = json!(seconds);
        if request["spec"].get("boundObjectRef").is_none() {
            request["spec"]["boundObjectRef"] = Value::Null;
        }
        Ok(json_reply(201, &request, &[]))
    }
}

fn invalid_expiration(seconds: i64, why: &str) -> ApiError {
    let cause = Cause::new("FieldValueInvalid", "spec.expirationSeconds", format!("Invalid value: {seconds}: {why}"));
    let target = crate::error::Target {
        group: "authentication.k8s.io".into(),
        plural: String::new(),
        kind: "TokenRequest".into(),
        name: String::new(),
    };
    ApiError::invalid(&target, vec![cause])
}

fn expiry(seconds: i64) -> String {
    let at = jiff::Timestamp::now().as_second().saturating_add(seconds);
    jiff::Timestamp::from_second(at).map(|t| t.to_string()).unwrap_or_default()
}
