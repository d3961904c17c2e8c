//! Rules the API server enforces on a CRD schema (apiextensions' validation), checked where the
//! marker is written so the error points at it instead of surfacing at `kubectl apply` time, or
//! worse, being accepted and enforced differently than meant.

use serde_json::Value;

use crate::diag::{Diagnostics, Loc};

/// One validation marker: `(on list items, marker name such as Minimum, value, where the value
/// is written)`.
pub type Keyword = (bool, String, Value, Loc);

/// Lower and upper bounds that must not cross.
const BOUNDS: [(&str, &str); 4] =
    [("Minimum", "Maximum"), ("MinLength", "MaxLength"), ("MinItems", "MaxItems"), ("MinProperties", "MaxProperties")];

/// Checks the validation markers of one field or type: patterns compile, bounds do not cross, and
/// `uniqueItems: true` (refused by structural schemas: its cost is quadratic) is not used.
pub fn check_validations(keywords: &[Keyword], diags: &mut Diagnostics) {
    for (_, k, v, loc) in keywords {
        match (k.as_str(), v) {
            ("Pattern", Value::String(p)) => check_pattern(p, loc, diags),
            ("UniqueItems", Value::Bool(true)) => diags.error_hint(
                loc.clone(),
                "`uniqueItems: true` is not allowed in a CRD schema (structural schemas refuse it)",
                "use `+listType=set` for a list of unique scalars, or `+listType=map` with `+listMapKey`",
            ),
            _ => {}
        }
    }
    for items in [false, true] {
        let get = |name: &str| keywords.iter().find(|(i, k, _, _)| *i == items && k == name);
        for (lo, hi) in BOUNDS {
            let (Some((_, _, lv, lloc)), Some((_, _, hv, _))) = (get(lo), get(hi)) else { continue };
            if let (Some(l), Some(h)) = (lv.as_f64(), hv.as_f64())
                && l > h
            {
                diags.error_hint(
                    lloc.clone(),
                    format!("`{lo}` ({lv}) is greater than `{hi}` ({hv}): no value would be valid"),
                    format!("make `{lo}` at most `{hi}`"),
                );
            }
        }
    }
}

/// The API server compiles `pattern` as an RE2 regular expression; the `regex` crate accepts the
/// same syntax (both refuse look-around and back-references), so a pattern that fails here would
/// make the CRD fail to install.
fn check_pattern(pattern: &str, loc: &Loc, diags: &mut Diagnostics) {
    if let Err(e) = regex::Regex::new(pattern) {
        let first = e.to_string().lines().last().unwrap_or_default().trim().to_string();
        diags.error_hint(
            loc.clone(),
            format!("`Pattern` `{pattern}` is not a valid regular expression: {first}"),
            "the API server uses RE2 syntax (no look-around, no back-references); quote the value with backticks to avoid escaping",
        );
    }
}
