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

/// The structural-schema rules apiextensions applies to list and map markers, checked on a
/// field's finished schema: `x-kubernetes-list-type` only on arrays, `map` lists of objects whose
/// key fields exist and are required or defaulted (a key must always have a value), and
/// `x-kubernetes-map-type` only on objects.
pub fn check_structural(s: &serde_json::Map<String, Value>, loc: &Loc, diags: &mut Diagnostics) {
    let ty = s.get("type").and_then(Value::as_str);
    if let Some(list_type) = s.get("x-kubernetes-list-type").and_then(Value::as_str) {
        if ty != Some("array") {
            diags.error_hint(
                loc.clone(),
                format!("`+listType={list_type}` on a field that is not a list"),
                "list types apply to Vec fields",
            );
        } else if list_type == "map" {
            check_list_map_keys(s, loc, diags);
        }
    }
    if s.contains_key("x-kubernetes-list-map-keys")
        && s.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("map")
    {
        diags.error_hint(loc.clone(), "`+listMapKey` without `+listType=map`", "add `+listType=map`");
    }
    if let Some(map_type) = s.get("x-kubernetes-map-type").and_then(Value::as_str)
        && ty != Some("object")
    {
        diags.error_hint(
            loc.clone(),
            format!("`+mapType`/`+structType={map_type}` on a field that is not a map or struct"),
            "map types apply to BTreeMap fields and structs",
        );
    }
}

fn check_list_map_keys(s: &serde_json::Map<String, Value>, loc: &Loc, diags: &mut Diagnostics) {
    let items = s.get("items").and_then(Value::as_object);
    if items.and_then(|i| i.get("type")).and_then(Value::as_str) != Some("object") {
        diags.error_hint(loc.clone(), "`+listType=map` needs a list of structs", "use `+listType=set` for scalars");
        return;
    }
    let props = items.and_then(|i| i.get("properties")).and_then(Value::as_object);
    let required: Vec<&str> = items
        .and_then(|i| i.get("required"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for key in
        s.get("x-kubernetes-list-map-keys").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    {
        match props.and_then(|p| p.get(key)) {
            None => diags.error_hint(
                loc.clone(),
                format!("`+listMapKey={key}` names no field of the list's items"),
                "name a field of the item struct by its JSON name",
            ),
            Some(p) if !required.contains(&key) && p.get("default").is_none() => diags.error_hint(
                loc.clone(),
                format!("list map key `{key}` must be required or have a default"),
                "make the key field non-optional, or give it `+kubebuilder:default`",
            ),
            Some(_) => {}
        }
    }
}
