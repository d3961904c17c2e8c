//! Structural-schema validation, pruning and defaulting of custom resources.
//!
//! This is the part of the apiextensions-apiserver that decides whether a custom resource is valid.
//! It is public so that other crates (for example the code generator's tests) can check that an
//! example object validates against a generated CRD with the API server's own wording, without
//! starting a server:
//!
//! ```
//! use devserver::schema::validate;
//! use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
//! let schema: JSONSchemaProps = serde_json::from_value(serde_json::json!({
//!     "type": "object",
//!     "properties": {"spec": {"type": "object", "required": ["replicas"],
//!         "properties": {"replicas": {"type": "integer", "maximum": 10}}}}
//! })).unwrap();
//! let causes = validate(&serde_json::json!({"spec": {"replicas": 11}}), &schema);
//! assert_eq!(causes[0].field, "spec.replicas");
//! assert_eq!(causes[0].message, "Invalid value: 11: spec.replicas in body should be less than or equal to 10");
//! ```

pub use crate::error::Cause;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::{Map, Value};

/// Validates `value` (a whole object, or any value when `schema` describes a sub-tree) against a
/// structural schema and returns every failure as a cause, in the API server's wording.
///
/// At the root, `apiVersion`, `kind` and `metadata` are skipped: the server checks them itself.
pub fn validate(value: &Value, schema: &JSONSchemaProps) -> Vec<Cause> {
    let mut out = Vec::new();
    validate_at(value, None, schema, "", true, &mut out);
    out
}

/// Validates an update: like [`validate`], and CEL transition rules (`oldSelf`) are evaluated
/// wherever the old object has a value at the same place (list-map elements are matched by key).
pub fn validate_update(value: &Value, old: &Value, schema: &JSONSchemaProps) -> Vec<Cause> {
    let mut out = Vec::new();
    validate_at(value, Some(old), schema, "", true, &mut out);
    out
}

/// The element of `old` (a list) that corresponds to `item` under list-type map keys.
fn correlate<'a>(old: Option<&'a Value>, item: &Value, s: &JSONSchemaProps) -> Option<&'a Value> {
    if s.x_kubernetes_list_type.as_deref() != Some("map") {
        return None;
    }
    let keys = s.x_kubernetes_list_map_keys.as_ref()?;
    old?.as_array()?.iter().find(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
}

/// Validates a whole custom resource against the schema of `version` in `crd`, including the
/// `apiVersion` and `kind` checks; an unknown version is reported as a cause too.
pub fn validate_crd_version(crd: &CustomResourceDefinition, version: &str, value: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let Some(v) = crd.spec.versions.iter().find(|v| v.name == version) else {
        out.push(Cause::new(
            "FieldValueNotSupported",
            "apiVersion",
            format!(
                "Unsupported value: {}: version {version} is not served by this CRD",
                fmt_value(&Value::String(format!("{}/{}", crd.spec.group, version)))
            ),
        ));
        return out;
    };
    let api_version = format!("{}/{}", crd.spec.group, version);
    if value.get("apiVersion").and_then(Value::as_str) != Some(api_version.as_str()) {
        let got = value.get("apiVersion").cloned().unwrap_or(Value::Null);
        out.push(Cause::new(
            "FieldValueInvalid",
            "apiVersion",
            format!("Invalid value: {}: must be {api_version}", fmt_value(&got)),
        ));
    }
    let kind = &crd.spec.names.kind;
    if value.get("kind").and_then(Value::as_str) != Some(kind.as_str()) {
        let got = value.get("kind").cloned().unwrap_or(Value::Null);
        out.push(Cause::new(
            "FieldValueInvalid",
            "kind",
            format!("Invalid value: {}: must be {kind}", fmt_value(&got)),
        ));
    }
    if let Some(schema) = v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()) {
        let mut copy = value.clone();
        apply_defaults(&mut copy, schema);
        out.extend(validate(&copy, schema));
    }
    out
}

/// The value at a cause's field path (`spec.items[0].name`, `spec.labels[key]`), if present.
pub fn value_at<'a>(obj: &'a Value, field: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let key = &r[..end];
            cur = match cur {
                Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
                Value::Object(m) => m.get(key)?,
                _ => return None,
            };
            rest = &r[end + 1..];
        }
    }
    Some(cur)
}

/// Formats a value the way Go's field errors print a bad value (`%q` for strings).
pub fn fmt_value(v: &Value) -> String {
    match v {
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn body_path(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { f.to_string() }
}

fn type_ok(v: &Value, ty: &str) -> bool {
    match ty {
        "integer" => json_type(v) == "integer",
        "number" => v.is_number(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => true,
    }
}

fn validate_at(v: &Value, old: Option<&Value>, s: &JSONSchemaProps, path: &str, root: bool, out: &mut Vec<Cause>) {
    if v.is_null() && (s.nullable == Some(true) || s.type_.is_none()) {
        return;
    }
    if s.x_kubernetes_int_or_string == Some(true) {
        if !(json_type(v) == "integer" || v.is_string()) {
            out.push(Cause::new(
                "FieldValueTypeInvalid",
                path,
                format!(
                    "Invalid value: {}: {} in body must be of type integer,string: \"{}\"",
                    fmt_value(v),
                    body_path(path),
                    json_type(v)
                ),
            ));
            return;
        }
    } else if let Some(ty) = s.type_.as_deref()
        && !type_ok(v, ty)
    {
        out.push(Cause::new(
            "FieldValueTypeInvalid",
            path,
            format!(
                "Invalid value: {}: {} in body must be of type {ty}: \"{}\"",
                fmt_value(v),
                body_path(path),
                json_type(v)
            ),
        ));
        return;
    }
    if let Some(en) = &s.enum_
        && !en.iter().any(|e| &e.0 == v)
    {
        let allowed: Vec<String> = en.iter().map(|e| fmt_value(&e.0)).collect();
        out.push(Cause::new(
            "FieldValueNotSupported",
            path,
            format!("Unsupported value: {}: supported values: {}", fmt_value(v), allowed.join(", ")),
        ));
    }
    match v {
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if let Some(max) = s.maximum {
                let excl = s.exclusive_maximum == Some(true);
                if (excl && f >= max) || (!excl && f > max) {
                    let rel = if excl { "less than" } else { "less than or equal to" };
                    out.push(invalid(v, path, format!("{} in body should be {rel} {}", body_path(path), fmt_num(max))));
                }
            }
            if let Some(min) = s.minimum {
                let excl = s.exclusive_minimum == Some(true);
                if (excl && f <= min) || (!excl && f < min) {
                    let rel = if excl { "greater than" } else { "greater than or equal to" };
                    out.push(invalid(v, path, format!("{} in body should be {rel} {}", body_path(path), fmt_num(min))));
                }
            }
            if let Some(m) = s.multiple_of
                && m != 0.0
                && (f / m).fract() != 0.0
            {
                out.push(invalid(
                    v,
                    path,
                    format!("{} in body should be a multiple of {}", body_path(path), fmt_num(m)),
                ));
            }
        }
        Value::String(st) => {
            let len = st.chars().count() as i64;
            if let Some(max) = s.max_length
                && len > max
            {
                let unit = if max == 1 { "byte" } else { "bytes" };
                out.push(Cause::new("FieldValueTooLong", path, format!("Too long: may not be more than {max} {unit}")));
            }
            if let Some(min) = s.min_length
                && len < min
            {
                out.push(invalid(v, path, format!("{} in body should be at least {min} chars long", body_path(path))));
            }
            if let Some(p) = &s.pattern {
                match regex_lite_match(p, st) {
                    Some(true) => {}
                    Some(false) => {
                        out.push(invalid(v, path, format!("{} in body should match '{p}'", body_path(path))))
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = s.max_items
                && items.len() as i64 > max
            {
                out.push(Cause::new(
                    "FieldValueTooMany",
                    path,
                    format!("Too many: {}: must have at most {max} items", items.len()),
                ));
            }
            if let Some(min) = s.min_items
                && (items.len() as i64) < min
            {
                out.push(invalid(v, path, format!("{} in body should have at least {min} items", body_path(path))));
            }
            if let Some(JSONSchemaPropsOrArray::Schema(item)) = &s.items {
                for (i, it) in items.iter().enumerate() {
                    validate_at(it, correlate(old, it, s), item, &format!("{path}[{i}]"), false, out);
                }
            }
            check_list_type(items, s, path, out);
        }
        Value::Object(map) => {
            if let Some(max) = s.max_properties
                && map.len() as i64 > max
            {
                out.push(Cause::new(
                    "FieldValueTooMany",
                    path,
                    format!("Too many: {}: must have at most {max} items", map.len()),
                ));
            }
            if let Some(min) = s.min_properties
                && (map.len() as i64) < min
            {
                out.push(invalid(
                    v,
                    path,
                    format!("{} in body should have at least {min} properties", body_path(path)),
                ));
            }
            for req in s.required.iter().flatten() {
                if root && (req == "metadata" || req == "apiVersion" || req == "kind") {
                    continue;
                }
                if !map.contains_key(req) {
                    out.push(Cause::new("FieldValueRequired", child(path, req), "Required value"));
                }
            }
            for (k, val) in map {
                if root && (k == "metadata" || k == "apiVersion" || k == "kind") {
                    continue;
                }
                if let Some(ps) = s.properties.as_ref().and_then(|p| p.get(k)) {
                    validate_at(val, old.and_then(|o| o.get(k)), ps, &child(path, k), false, out);
                } else if let Some(JSONSchemaPropsOrBool::Schema(ap)) = &s.additional_properties {
                    validate_at(val, old.and_then(|o| o.get(k)), ap, &format!("{path}[{k}]"), false, out);
                }
            }
        }
        _ => {}
    }
    check_cel(v, old, s, path, out);
    for sub in s.all_of.iter().flatten() {
        validate_at(v, old, sub, path, root, out);
    }
    if let Some(any) = &s.any_of
        && !any.is_empty()
        && !any.iter().any(|sub| passes(v, sub, path, root))
    {
        out.push(invalid(v, path, format!("{} in body must validate at least one schema (anyOf)", body_path(path))));
    }
    if let Some(one) = &s.one_of {
        let n = one.iter().filter(|sub| passes(v, sub, path, root)).count();
        if !one.is_empty() && n != 1 {
            out.push(invalid(
                v,
                path,
                format!("{} in body must validate one and only one schema (oneOf)", body_path(path)),
            ));
        }
    }
    if let Some(not) = &s.not
        && passes(v, not, path, root)
    {
        out.push(invalid(v, path, format!("{} in body must not validate the schema (not)", body_path(path))));
    }
}

/// Evaluates `x-kubernetes-validations` rules with `self` bound to the value. Transition rules
/// (those using `oldSelf`) run only when there is an old value (updates), with `oldSelf` bound
/// to it. A rule that fails to compile or evaluate is reported as a failure.
fn check_cel(v: &Value, old: Option<&Value>, s: &JSONSchemaProps, path: &str, out: &mut Vec<Cause>) {
    let Some(rules) = &s.x_kubernetes_validations else {
        return;
    };
    for rule in rules {
        let transition = rule.rule.contains("oldSelf");
        if transition && old.is_none() {
            continue;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let program = cel::Program::compile(&rule.rule).map_err(|e| e.to_string())?;
            let mut ctx = cel::Context::default();
            let value = cel::to_value(v).map_err(|e| e.to_string())?;
            ctx.add_variable_from_value("self", value);
            if let (true, Some(o)) = (transition, old) {
                ctx.add_variable_from_value("oldSelf", cel::to_value(o).map_err(|e| e.to_string())?);
            }
            match program.execute(&ctx) {
                Ok(cel::Value::Bool(b)) => Ok(b),
                Ok(other) => Err(format!("rule did not evaluate to a bool: {other:?}")),
                Err(e) => Err(e.to_string()),
            }
        }))
        .unwrap_or_else(|_| Err("rule evaluation failed".to_string()));
        let field = match rule.field_path.as_deref() {
            Some(fp) if !fp.is_empty() => format!("{path}{fp}"),
            _ => path.to_string(),
        };
        let message = match &outcome {
            Ok(true) => continue,
            Ok(false) => rule
                .message_expression
                .as_deref()
                .and_then(|expr| eval_message(expr, v))
                .or_else(|| rule.message.clone().filter(|m| !m.is_empty()))
                .unwrap_or_else(|| format!("failed rule: {}", rule.rule)),
            Err(e) => format!("rule compile or evaluation error: {e}"),
        };
        out.push(Cause::new(
            rule.reason.as_deref().unwrap_or("FieldValueInvalid"),
            field,
            // As kube-apiserver 1.37: a scalar's value is shown, an object's or a list's omitted.
            match v {
                Value::String(text) => format!("Invalid value: {}: {message}", Value::String(text.clone())),
                Value::Number(_) | Value::Bool(_) => format!("Invalid value: {v}: {message}"),
                _ => format!("Invalid value: {message}"),
            },
        ));
    }
}

/// Evaluates a `messageExpression` to a string (`None` if it fails or is not a string).
fn eval_message(expr: &str, v: &Value) -> Option<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let program = cel::Program::compile(expr).ok()?;
        let mut ctx = cel::Context::default();
        ctx.add_variable_from_value("self", cel::to_value(v).ok()?);
        match program.execute(&ctx) {
            Ok(cel::Value::String(s)) => Some(s.to_string()),
            _ => None,
        }
    }))
    .ok()
    .flatten()
}

fn passes(v: &Value, s: &JSONSchemaProps, path: &str, root: bool) -> bool {
    let mut tmp = Vec::new();
    validate_at(v, None, s, path, root, &mut tmp);
    tmp.is_empty()
}

fn invalid(v: &Value, path: &str, detail: String) -> Cause {
    Cause::new("FieldValueInvalid", path, format!("Invalid value: {}: {detail}", fmt_value(v)))
}

fn check_list_type(items: &[Value], s: &JSONSchemaProps, path: &str, out: &mut Vec<Cause>) {
    match s.x_kubernetes_list_type.as_deref() {
        Some("set") => {
            for i in 0..items.len() {
                if items[..i].contains(&items[i]) {
                    out.push(Cause::new(
                        "FieldValueDuplicate",
                        format!("{path}[{i}]"),
                        format!("Duplicate value: {}", fmt_value(&items[i])),
                    ));
                }
            }
        }
        Some("map") => {
            let keys = s.x_kubernetes_list_map_keys.clone().unwrap_or_default();
            let key_of = |it: &Value| -> Value {
                Value::Object(keys.iter().filter_map(|k| it.get(k).map(|x| (k.clone(), x.clone()))).collect())
            };
            for i in 0..items.len() {
                let ki = key_of(&items[i]);
                if items[..i].iter().any(|p| key_of(p) == ki) {
                    out.push(Cause::new(
                        "FieldValueDuplicate",
                        format!("{path}[{i}]"),
                        format!("Duplicate value: {ki}"),
                    ));
                }
            }
        }
        _ => {}
    }
}

/// Matches a schema `pattern`. Returns `None` when the pattern cannot be compiled (the CRD
/// validation rejects such patterns; here they are ignored rather than failing every object).
fn regex_lite_match(pattern: &str, s: &str) -> Option<bool> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = cache.lock().unwrap_or_else(|e| e.into_inner());
    let re = guard.entry(pattern.to_string()).or_insert_with(|| regex::Regex::new(pattern).ok());
    re.as_ref().map(|r| r.is_match(s))
}

/// Removes fields the schema does not know (unless `x-kubernetes-preserve-unknown-fields` covers
/// them) and returns the paths removed, e.g. `spec.foo`, for strict decoding and warnings.
pub fn prune(value: &mut Value, schema: &JSONSchemaProps) -> Vec<String> {
    let mut removed = Vec::new();
    prune_at(value, schema, "", true, &mut removed);
    removed
}

fn prune_at(v: &mut Value, s: &JSONSchemaProps, path: &str, root: bool, removed: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            let preserve = s.x_kubernetes_preserve_unknown_fields == Some(true);
            let embedded = s.x_kubernetes_embedded_resource == Some(true);
            let props = s.properties.as_ref();
            let additional = match &s.additional_properties {
                Some(JSONSchemaPropsOrBool::Schema(ap)) => Some(ap.as_ref()),
                _ => None,
            };
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if (root || embedded) && (k == "apiVersion" || k == "kind" || k == "metadata") {
                    continue;
                }
                if let Some(ps) = props.and_then(|p| p.get(&k)) {
                    if let Some(child_v) = map.get_mut(&k) {
                        prune_at(child_v, ps, &child(path, &k), false, removed);
                    }
                } else if let Some(ap) = additional {
                    if let Some(child_v) = map.get_mut(&k) {
                        prune_at(child_v, ap, &format!("{path}[{k}]"), false, removed);
                    }
                } else if !preserve && !matches!(s.additional_properties, Some(JSONSchemaPropsOrBool::Bool(true))) {
                    map.remove(&k);
                    removed.push(child(path, &k));
                }
            }
        }
        Value::Array(items) => {
            if let Some(JSONSchemaPropsOrArray::Schema(item)) = &s.items {
                for (i, it) in items.iter_mut().enumerate() {
                    prune_at(it, item, &format!("{path}[{i}]"), false, removed);
                }
            }
        }
        _ => {}
    }
}

/// Applies schema `default`s to missing properties, recursively, like the API server's
/// structural defaulting on decode.
pub fn apply_defaults(value: &mut Value, schema: &JSONSchemaProps) {
    match value {
        Value::Object(map) => {
            if let Some(props) = &schema.properties {
                for (k, ps) in props {
                    if !map.contains_key(k)
                        && let Some(d) = &ps.default
                    {
                        map.insert(k.clone(), d.0.clone());
                    }
                    if let Some(cv) = map.get_mut(k) {
                        apply_defaults(cv, ps);
                    }
                }
            }
            if let Some(JSONSchemaPropsOrBool::Schema(ap)) = &schema.additional_properties {
                for cv in map.values_mut() {
                    apply_defaults(cv, ap);
                }
            }
        }
        Value::Array(items) => {
            if let Some(JSONSchemaPropsOrArray::Schema(item)) = &schema.items {
                for it in items.iter_mut() {
                    apply_defaults(it, item);
                }
            }
        }
        _ => {}
    }
}

/// Checks that a schema is structural enough to serve: every node with properties, items or
/// additionalProperties has a type, and the root is an object. Returns causes for the CRD.
pub fn check_structural(schema: &JSONSchemaProps, path: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    structural_at(schema, path, &mut out);
    out
}

fn structural_at(s: &JSONSchemaProps, path: &str, out: &mut Vec<Cause>) {
    let preserve = s.x_kubernetes_preserve_unknown_fields == Some(true);
    let ios = s.x_kubernetes_int_or_string == Some(true);
    if s.type_.is_none() && !preserve && !ios {
        out.push(Cause::new(
            "FieldValueRequired",
            format!("{path}.type"),
            "Required value: must not be empty for specified object fields",
        ));
    }
    if let Some(props) = &s.properties {
        for (k, ps) in props {
            structural_at(ps, &format!("{path}.properties[{k}]"), out);
        }
    }
    if let Some(JSONSchemaPropsOrArray::Schema(item)) = &s.items {
        structural_at(item, &format!("{path}.items"), out);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(ap)) = &s.additional_properties {
        structural_at(ap, &format!("{path}.additionalProperties"), out);
    }
}

/// Returns an empty map, handy when a schema node is absent.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}
