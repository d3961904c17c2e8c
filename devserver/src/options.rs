//! The options of a write (`CreateOptions`, `UpdateOptions`, `PatchOptions`, `DeleteOptions`)
//! checked as kube-apiserver validates them before the handler runs: an unsupported `dryRun`,
//! `fieldValidation` or `propagationPolicy` is 422 Invalid naming the options kind, never ignored
//! (a request with `dryRun=Bogus` must not be stored as if it were a real write).

use crate::error::{ApiError, ApiResult, Cause};
use crate::request_info::Query;
use serde_json::Value;

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

/// Checks the write options of a `verb` request: the query's, or for a delete its
/// DeleteOptions (its body's, or the query's when it has no body).
pub fn validate(verb: &str, query: &Query, delete_options: Option<&Value>) -> ApiResult<()> {
    let Some(kind) = options_kind(verb) else { return Ok(()) };
    let mut causes = Vec::new();
    let dry_run = match delete_options {
        Some(opts) => dry_run_of(opts),
        None => query.get("dryRun").into_iter().cloned().collect(),
    };
    if dry_run.iter().any(|d| d != "All") {
        let shown: Vec<String> = dry_run.iter().map(|d| quoted(d)).collect();
        causes.push(unsupported("dryRun", format!("[{}]", shown.join(", ")), "\"All\""));
    }
    if kind != "DeleteOptions"
        && let Some(v) =
            query.get("fieldValidation").filter(|v| !matches!(v.as_str(), "" | "Ignore" | "Strict" | "Warn"))
    {
        causes.push(unsupported("fieldValidation", quoted(v), "\"\", \"Ignore\", \"Strict\", \"Warn\""));
    }
    let propagation = delete_options.and_then(|o| o.get("propagationPolicy")).and_then(Value::as_str);
    if let Some(p) = propagation.filter(|p| !matches!(*p, "Foreground" | "Background" | "Orphan")) {
        causes.push(unsupported("propagationPolicy", quoted(p), "\"Foreground\", \"Background\", \"Orphan\", \"nil\""));
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid_options(kind, causes)) }
}

/// The `dryRun` values of DeleteOptions.
fn dry_run_of(opts: &Value) -> Vec<String> {
    let values = opts.get("dryRun").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    values.iter().filter_map(Value::as_str).map(String::from).collect()
}

/// Whether DeleteOptions ask for a dry run (validated: every value is `All`).
pub fn delete_is_dry_run(opts: &Value) -> bool {
    !dry_run_of(opts).is_empty()
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
        let e = validate("delete", &q(&[]), Some(&serde_json::json!({"propagationPolicy": "Bogus"}))).unwrap_err();
        assert!(e.message.contains("propagationPolicy: Unsupported value: \"Bogus\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""), "{}", e.message);
    }

    #[test]
    fn supported_values_and_reads_pass() {
        assert!(validate("create", &q(&[("dryRun", "All"), ("fieldValidation", "Strict")]), None).is_ok());
        assert!(validate("update", &q(&[("fieldValidation", "")]), None).is_ok());
        assert!(
            validate("deletecollection", &q(&[]), Some(&serde_json::json!({"propagationPolicy": "Orphan"}))).is_ok()
        );
        let e = validate("delete", &q(&[]), Some(&serde_json::json!({"dryRun": ["All", "Bogus"]}))).unwrap_err();
        assert!(e.message.contains("dryRun: Unsupported value: [\"All\", \"Bogus\"]"), "{}", e.message);
        assert!(delete_is_dry_run(&serde_json::json!({"dryRun": ["All"]})));
        assert!(!delete_is_dry_run(&serde_json::json!({})));
        assert!(validate("list", &q(&[("dryRun", "Bogus")]), None).is_ok(), "reads take no write options");
    }
}
