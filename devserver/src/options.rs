//! The options of a write (`CreateOptions`, `UpdateOptions`, `PatchOptions`, `DeleteOptions`)
//! checked as kube-apiserver validates them before the handler runs: an unsupported `dryRun`,
//! `fieldValidation` or `propagationPolicy` is 422 Invalid naming the options kind, never ignored
//! (a request with `dryRun=Bogus` must not be stored as if it were a real write).

use crate::error::{ApiError, ApiResult, Cause};
use crate::request_info::Query;

/// The options kind kube-apiserver decodes for `verb`, if the verb takes write options.
fn options_kind(verb: &str) -> Option<&'static str> {
    Some(match verb {
        "create" => "CreateOptions",
        "update" => "UpdateOptions",
        "patch" => "PatchOptions",
        "delete" | "deletecollection" => "DeleteOptions",
        _ => return None,
    })
}

fn unsupported(field: &str, shown: String, supported: &str) -> Cause {
    Cause {
        reason: "FieldValueNotSupported".into(),
        message: format!("Unsupported value: {shown}: supported values: {supported}"),
        field: field.into(),
    }
}

/// Checks the query's write options for `verb`; `propagation` is the policy of a delete, from the
/// query or the body's DeleteOptions.
pub fn validate(verb: &str, query: &Query, propagation: Option<&str>) -> ApiResult<()> {
    let Some(kind) = options_kind(verb) else { return Ok(()) };
    let mut causes = Vec::new();
    if let Some(d) = query.get("dryRun").filter(|d| d.as_str() != "All") {
        causes.push(unsupported("dryRun", format!("[{}]", quoted(d)), "\"All\""));
    }
    if kind != "DeleteOptions"
        && let Some(v) =
            query.get("fieldValidation").filter(|v| !matches!(v.as_str(), "" | "Ignore" | "Strict" | "Warn"))
    {
        causes.push(unsupported("fieldValidation", quoted(v), "\"\", \"Ignore\", \"Strict\", \"Warn\""));
    }
    if let Some(p) = propagation.filter(|p| !matches!(*p, "Foreground" | "Background" | "Orphan")) {
        causes.push(unsupported("propagationPolicy", quoted(p), "\"Foreground\", \"Background\", \"Orphan\", \"nil\""));
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid_options(kind, causes)) }
}

/// A value as Go's `%q` shows it.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn unsupported_values_are_invalid_with_kube_apiserver_messages() {
        let e = validate("create", &q(&[("dryRun", "Bogus")]), None).unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: [\"Bogus\"]: supported values: \"All\""
        );
        let e = validate("patch", &q(&[("fieldValidation", "Bogus")]), None).unwrap_err();
        assert!(
            e.message
                .starts_with("PatchOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Bogus\"")
        );
        let e = validate("delete", &q(&[]), Some("Bogus")).unwrap_err();
        assert!(e.message.contains("propagationPolicy: Unsupported value: \"Bogus\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""), "{}", e.message);
    }

    #[test]
    fn supported_values_and_reads_pass() {
        assert!(validate("create", &q(&[("dryRun", "All"), ("fieldValidation", "Strict")]), None).is_ok());
        assert!(validate("update", &q(&[("fieldValidation", "")]), None).is_ok());
        assert!(validate("deletecollection", &q(&[]), Some("Orphan")).is_ok());
        assert!(validate("list", &q(&[("dryRun", "Bogus")]), None).is_ok(), "reads take no write options");
    }
}
