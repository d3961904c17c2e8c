//! Schema markers (`+kubebuilder:validation:*`, `+optional`, `+listType`, ...) read from a doc
//! comment into [`Markers`], with the apiextensions rules checked where they are written.

use crate::diag::Diagnostics;
use crate::model::{CelRule, Markers};
use crate::tags::{Doc, Tag, unquote};

pub(super) fn number(tag: &Tag, diags: &mut Diagnostics) -> Option<serde_json::Value> {
    let v = tag.value.as_deref().unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(v) {
        Ok(n @ serde_json::Value::Number(_)) => Some(n),
        _ => {
            diags.error(tag.value_loc.clone(), format!("`+{}` needs a number, got `{v}`", tag.name));
            None
        }
    }
}

pub(super) fn count(tag: &Tag, diags: &mut Diagnostics) -> Option<serde_json::Value> {
    let v = tag.value.as_deref().unwrap_or_default();
    match v.parse::<u64>() {
        Ok(n) => Some(n.into()),
        Err(_) => {
            diags.error(tag.value_loc.clone(), format!("`+{}` needs a non-negative integer, got `{v}`", tag.name));
            None
        }
    }
}

pub(super) fn boolean(tag: &Tag, diags: &mut Diagnostics) -> Option<bool> {
    match tag.value.as_deref() {
        None | Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            diags.error(tag.value_loc.clone(), format!("`+{}` needs `true` or `false`, got `{v}`", tag.name));
            None
        }
    }
}

/// A JSON value as controller-gen reads marker values: JSON if it parses, a string otherwise.
pub(super) fn loose_json(v: &str) -> serde_json::Value {
    serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(unquote(v)))
}

pub(super) fn one_of(tag: &Tag, allowed: &[&str], diags: &mut Diagnostics) -> Option<String> {
    let v = unquote(tag.value.as_deref().unwrap_or_default());
    if allowed.contains(&v.as_str()) {
        Some(v)
    } else {
        diags.error_hint(
            tag.value_loc.clone(),
            format!("invalid value `{v}` for `+{}`", tag.name),
            format!("use one of: {}", allowed.join(", ")),
        );
        None
    }
}

/// Reads the schema markers of a field or type.
pub(super) fn markers(doc: &Doc, diags: &mut Diagnostics) -> Markers {
    let mut m = Markers::default();
    let mut checked = vec![];
    for tag in &doc.tags {
        let name = tag.name.as_str();
        if let Some(v) = name.strip_prefix("kubebuilder:validation:") {
            let (items, v) = match v.strip_prefix("items:") {
                Some(rest) => (true, rest),
                None => (false, v),
            };
            // The value, parsed and checked by the marker's type; which OpenAPI keyword it sets
            // is the schema generator's business (`schema::keyword`).
            let value = match v {
                "Maximum" | "Minimum" | "MultipleOf" => number(tag, diags),
                "ExclusiveMaximum"
                | "ExclusiveMinimum"
                | "UniqueItems"
                | "XPreserveUnknownFields"
                | "XEmbeddedResource"
                | "XIntOrString" => boolean(tag, diags).map(Into::into),
                "MaxLength" | "MinLength" | "MaxItems" | "MinItems" | "MaxProperties" | "MinProperties" => {
                    count(tag, diags)
                }
                "Pattern" | "Format" => Some(unquote(tag.value.as_deref().unwrap_or_default()).into()),
                "Type" => {
                    one_of(tag, &["string", "integer", "number", "boolean", "object", "array"], diags).map(Into::into)
                }
                "Enum" => Some(serde_json::Value::Array(
                    tag.value.as_deref().unwrap_or_default().split(';').map(|s| loose_json(s.trim())).collect(),
                )),
                "Optional" => {
                    m.required = Some(false);
                    None
                }
                "Required" => {
                    m.required = Some(true);
                    None
                }
                "XValidation" => {
                    if let Some(rule) = cel_rule(tag, diags) {
                        m.cel.push(rule);
                    }
                    None
                }
                _ => None,
            };
            if let Some(val) = value {
                checked.push((items, v.to_string(), val.clone(), tag.value_loc.clone()));
                match v {
                    "XPreserveUnknownFields" if !items => m.preserve_unknown = val == true,
                    "XEmbeddedResource" if !items => m.embedded_resource = val == true,
                    "XIntOrString" if !items => m.int_or_string = val == true,
                    _ if items => m.item_validations.push((v.to_string(), val)),
                    _ => m.validations.push((v.to_string(), val)),
                }
            }
            continue;
        }
        match name {
            "optional" | "k8s:optional" => m.required = Some(false),
            "required" | "k8s:required" => m.required = Some(true),
            "nullable" => m.nullable = true,
            "default" | "kubebuilder:default" => m.default = Some(loose_json(tag.value.as_deref().unwrap_or_default())),
            "kubebuilder:example" => m.example = Some(loose_json(tag.value.as_deref().unwrap_or_default())),
            "kubebuilder:pruning:PreserveUnknownFields" => m.preserve_unknown = true,
            "listType" => m.list_type = one_of(tag, &["atomic", "set", "map"], diags),
            "listMapKey" => m.list_map_keys.push(unquote(tag.value.as_deref().unwrap_or_default())),
            "mapType" => m.map_type = one_of(tag, &["atomic", "granular"], diags),
            "structType" => m.struct_type = one_of(tag, &["atomic", "granular"], diags),
            _ => {}
        }
    }
    crate::crd_rules::check_validations(&checked, diags);
    if m.list_type.as_deref() == Some("map")
        && m.list_map_keys.is_empty()
        && let Some(t) = doc.get("listType")
    {
        {
            diags.error_hint(
                t.loc.clone(),
                "`+listType=map` needs at least one `+listMapKey`",
                "add `+listMapKey=<field>`",
            );
        }
    }
    m
}

pub(super) fn cel_rule(tag: &Tag, diags: &mut Diagnostics) -> Option<CelRule> {
    let mut rule = None;
    let mut extra = vec![];
    for a in &tag.args {
        match a.key.as_str() {
            "rule" => rule = Some(a.value.clone()),
            "message" | "messageExpression" | "fieldPath" => extra.push((a.key.clone(), a.value.clone().into())),
            "reason" => {
                let allowed = ["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"];
                if !allowed.contains(&a.value.as_str()) {
                    diags.error_hint(
                        a.loc.clone(),
                        format!("invalid XValidation reason `{}`", a.value),
                        format!("use one of: {}", allowed.join(", ")),
                    );
                }
                extra.push((a.key.clone(), a.value.clone().into()));
            }
            "optionalOldSelf" => extra.push((a.key.clone(), (a.value == "true").into())),
            other => diags.error_hint(
                a.loc.clone(),
                format!("unknown XValidation argument `{other}`"),
                "use rule, message, messageExpression, reason, fieldPath or optionalOldSelf",
            ),
        }
    }
    match rule {
        Some(rule) => Some(CelRule { rule, extra }),
        None => {
            diags.error_hint(
                tag.loc.clone(),
                "`+kubebuilder:validation:XValidation` needs `rule=`",
                "write `+kubebuilder:validation:XValidation:rule=\"self.x > 0\",message=\"...\"`",
            );
            None
        }
    }
}
