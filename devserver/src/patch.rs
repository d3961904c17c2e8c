//! PATCH bodies: JSON patch (RFC 6902) and JSON merge patch (RFC 7386) through the `json-patch`
//! crate, strategic merge patch for built-ins ([`strategic`]: typed by kube-apiserver's patch
//! metadata), and
//! server-side apply with managed-field ownership and conflicts.

pub mod apply_schema;
mod metadata;
mod strategic;

use crate::error::{ApiError, ApiResult, Cause};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
pub use strategic::{annotations as strategic_annotations, strategic_merge};

/// The patch flavours a client can send, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

/// The accepted-types message of the 415 reply.
pub const CR_ACCEPTED: &str = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";
/// The accepted-types message of the 415 reply for built-ins.
pub const BUILTIN_ACCEPTED: &str = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json";

impl PatchKind {
    /// Maps a Content-Type to a patch kind (415 when unknown or not allowed for the resource).
    pub fn from_content_type(ct: &str, custom: bool) -> ApiResult<PatchKind> {
        let base = ct.split(';').next().unwrap_or("").trim();
        let kind = match base {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" if !custom => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(PatchKind::Apply),
            _ => None,
        };
        kind.ok_or_else(|| {
            ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: {}",
                    if custom { CR_ACCEPTED } else { BUILTIN_ACCEPTED }
                ),
            )
        })
    }
}

/// Applies a JSON patch or merge patch body to `doc`.
pub fn apply_json_or_merge(kind: PatchKind, doc: &mut Value, body: &[u8]) -> ApiResult<()> {
    match kind {
        PatchKind::Json => {
            // kube-apiserver answers an undecodable JSON patch and a failing operation alike: 422
            // with a fixed message and empty details (the cause goes to its log only).
            let rejected = |e: &dyn std::fmt::Display| {
                tracing::debug!(error = %e, "JSON patch rejected");
                let mut err =
                    ApiError::new(422, "Invalid", "the server rejected our request due to an error in our request");
                err.details = Some(serde_json::json!({}));
                err
            };
            let p: json_patch::Patch = serde_json::from_slice(body).map_err(|e| rejected(&e))?;
            json_patch::patch(doc, &p).map_err(|e| rejected(&e))
        }
        PatchKind::Merge => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("merge patch must be a JSON object"));
            }
            json_patch::merge(doc, &p);
            Ok(())
        }
        PatchKind::Strategic => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("strategic merge patch must be a JSON object"));
            }
            strategic_merge(doc, &p);
            Ok(())
        }
        PatchKind::Apply => Err(ApiError::internal("apply is not a JSON patch")),
    }
}

/// A field path in a managed-fields set, e.g. `["spec", "replicas"]`. Elements of
/// `x-kubernetes-list-type: map` lists are segments `k:{"type":"Ready"}` (the key fields), and of
/// `set` lists `v:<value>`, as in `fieldsV1`; other lists are atomic leaves.
pub type FieldPath = Vec<String>;

fn child_schema<'a>(schema: Option<&'a JSONSchemaProps>, key: &str) -> Option<&'a JSONSchemaProps> {
    let s = schema?;
    if let Some(p) = s.properties.as_ref().and_then(|p| p.get(key)) {
        return Some(p);
    }
    match &s.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(ap)) => Some(ap),
        _ => None,
    }
}

fn item_schema(schema: Option<&JSONSchemaProps>) -> Option<&JSONSchemaProps> {
    match &schema?.items {
        Some(JSONSchemaPropsOrArray::Schema(i)) => Some(i),
        _ => None,
    }
}

/// The `k:` segment of a list-map element, or `None` when it lacks a key field that has no
/// default in the element's schema (a missing key counts as its default, as in kube-apiserver:
/// a Service port without a protocol is `{"port":80,"protocol":"TCP"}`).
fn map_key_segment(item: &Value, keys: &[String], item_schema: Option<&JSONSchemaProps>) -> Option<String> {
    let mut m = Map::new();
    for k in keys {
        let value = match item.get(k) {
            Some(v) => v.clone(),
            None => child_schema(item_schema, k)?.default.as_ref()?.0.clone(),
        };
        m.insert(k.clone(), value);
    }
    Some(format!("k:{}", Value::Object(m)))
}

/// Owned paths of `v` under `schema`: leaves, and list-map elements themselves (lists are atomic
/// unless the schema gives a list type; maps and structs marked atomic are one leaf).
pub fn leaf_paths(v: &Value, schema: Option<&JSONSchemaProps>, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match v {
        // An atomic map or struct (`x-kubernetes-map-type: atomic`) is owned as one value.
        Value::Object(m)
            if !m.is_empty() && schema.and_then(|s| s.x_kubernetes_map_type.as_deref()) != Some("atomic") =>
        {
            for (k, c) in m {
                prefix.push(k.clone());
                leaf_paths(c, child_schema(schema, k), prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items)
            if !items.is_empty()
                || matches!(schema.and_then(|s| s.x_kubernetes_list_type.as_deref()), Some("map" | "set")) =>
        {
            let list_type = schema.and_then(|s| s.x_kubernetes_list_type.as_deref());
            let keys = schema.and_then(|s| s.x_kubernetes_list_map_keys.clone()).unwrap_or_default();
            let item = item_schema(schema);
            match list_type {
                Some("map") if !keys.is_empty() && items.iter().all(|i| map_key_segment(i, &keys, item).is_some()) => {
                    for it in items {
                        let Some(seg) = map_key_segment(it, &keys, item) else { continue };
                        prefix.push(seg);
                        // The element itself is owned too (`.` in fieldsV1), beside its fields.
                        out.insert(prefix.clone());
                        leaf_paths(it, item, prefix, out);
                        prefix.pop();
                    }
                }
                Some("set") => {
                    for it in items {
                        prefix.push(format!("v:{it}"));
                        out.insert(prefix.clone());
                        prefix.pop();
                    }
                }
                _ => {
                    out.insert(prefix.clone());
                }
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
        }
    }
}

/// The paths a manager owns for an object body, skipping server-owned metadata.
pub fn owned_paths(obj: &Value, include_status: bool, schema: Option<&JSONSchemaProps>) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    leaf_paths(obj, schema, &mut Vec::new(), &mut out);
    out.retain(|p| {
        let top = p[0].as_str();
        if top == "apiVersion" || top == "kind" {
            return false;
        }
        if top == "status" && !include_status {
            return false;
        }
        if top == "metadata" {
            return matches!(
                p.get(1).map(String::as_str),
                Some("labels" | "annotations" | "finalizers" | "ownerReferences")
            );
        }
        true
    });
    out
}

fn is_element(seg: &str) -> bool {
    seg.starts_with("k:") || seg.starts_with("v:")
}

/// Encodes a path set as `fieldsV1` (`{"f:spec":{"f:replicas":{}}}`).
pub fn to_fields_v1(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for p in paths {
        let mut cur = &mut root;
        for seg in p {
            let key = if is_element(seg) { seg.clone() } else { format!("f:{seg}") };
            let entry = cur.entry(key).or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(m) => cur = m,
                _ => break,
            }
        }
    }
    // A path that is owned itself and has owned fields below (a list-map element) is marked `.`.
    for p in paths.iter().filter(|p| is_owned_element(p)) {
        let node = p.iter().try_fold(&mut root, |cur, seg| {
            let key = if is_element(seg) { seg.clone() } else { format!("f:{seg}") };
            cur.get_mut(&key).and_then(Value::as_object_mut)
        });
        if let Some(node) = node.filter(|n| !n.is_empty()) {
            node.insert(".".into(), Value::Object(Map::new()));
        }
    }
    Value::Object(root)
}

/// Whether `p` names a list-map element (owned as a whole beside its fields).
fn is_owned_element(p: &FieldPath) -> bool {
    p.last().is_some_and(|s| s.starts_with("k:"))
}

/// Whether the value at `p` differs between `a` and `b`; a list-map element differs only by
/// being in one of them (its fields are compared on their own).
fn differs(a: &Value, b: &Value, p: &FieldPath) -> bool {
    if is_owned_element(p) {
        get_path(a, p).is_some() != get_path(b, p).is_some()
    } else {
        get_path(a, p) != get_path(b, p)
    }
}

/// Decodes `fieldsV1` back to a path set (leaves, and list-map elements marked `.`).
pub fn from_fields_v1(v: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        let Some(m) = v.as_object() else { return };
        let children: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| k.starts_with("f:") || is_element(k)).collect();
        if children.is_empty() || (m.contains_key(".") && is_owned_element(prefix)) {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
            if children.is_empty() {
                return;
            }
        }
        for (k, c) in children {
            prefix.push(if is_element(k) { k.clone() } else { k[2..].to_string() });
            walk(c, prefix, out);
            prefix.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// Finds the list element a `k:`/`v:` segment names: the element with those key values, else
/// one whose missing key fields the segment filled in with their defaults (see
/// [`map_key_segment`]).
fn element_index(items: &[Value], seg: &str) -> Option<usize> {
    if let Some(k) = seg.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(k).ok()?;
        items
            .iter()
            .position(|it| keys.iter().all(|(kk, kv)| it.get(kk) == Some(kv)))
            .or_else(|| items.iter().position(|it| keys.iter().all(|(kk, kv)| it.get(kk).is_none_or(|v| v == kv))))
    } else if let Some(v) = seg.strip_prefix("v:") {
        let val: Value = serde_json::from_str(v).ok()?;
        items.iter().position(|it| *it == val)
    } else {
        None
    }
}

fn step<'a>(cur: &'a Value, seg: &str) -> Option<&'a Value> {
    if is_element(seg) {
        let items = cur.as_array()?;
        items.get(element_index(items, seg)?)
    } else {
        cur.get(seg)
    }
}

fn get_path<'a>(v: &'a Value, p: &FieldPath) -> Option<&'a Value> {
    p.iter().try_fold(v, |cur, seg| step(cur, seg))
}

fn set_path(v: &mut Value, p: &FieldPath, val: Value) {
    let mut cur = v;
    for (i, seg) in p.iter().enumerate() {
        let last = i + 1 == p.len();
        if is_element(seg) {
            if !cur.is_array() {
                *cur = Value::Array(Vec::new());
            }
            let Some(items) = cur.as_array_mut() else { return };
            let idx = match element_index(items, seg) {
                Some(idx) => idx,
                None => {
                    let fresh = if let Some(k) = seg.strip_prefix("k:") {
                        serde_json::from_str::<Value>(k).unwrap_or_else(|_| Value::Object(Map::new()))
                    } else {
                        val.clone()
                    };
                    items.push(fresh);
                    items.len() - 1
                }
            };
            if last {
                items[idx] = val;
                return;
            }
            cur = &mut items[idx];
            continue;
        }
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(m) = cur.as_object_mut() else { return };
        if last {
            m.insert(seg.clone(), val);
            return;
        }
        let next_is_element = p.get(i + 1).is_some_and(|n| is_element(n));
        cur = m
            .entry(seg.clone())
            .or_insert_with(|| if next_is_element { Value::Array(Vec::new()) } else { Value::Object(Map::new()) });
    }
}

/// Removes a path. Removing a key field of a list-map element removes the whole element.
fn remove_path(v: &mut Value, p: &FieldPath) {
    let Some((last, parents)) = p.split_last() else { return };
    // A key field (the parent segment is the element's own `k:` segment): drop the element.
    if let Some(parent_seg) = parents.last().filter(|s| s.starts_with("k:")) {
        let keys: Map<String, Value> = serde_json::from_str(&parent_seg[2..]).unwrap_or_default();
        if keys.contains_key(last) {
            remove_path(v, &parents.to_vec());
            return;
        }
    }
    let mut cur = v;
    for seg in parents {
        let next = if is_element(seg) {
            let Some(items) = cur.as_array_mut() else { return };
            let Some(idx) = element_index(items, seg) else { return };
            &mut items[idx]
        } else {
            match cur.get_mut(seg.as_str()) {
                Some(c) => c,
                None => return,
            }
        };
        cur = next;
    }
    if is_element(last) {
        if let Some(items) = cur.as_array_mut()
            && let Some(idx) = element_index(items, last)
        {
            items.remove(idx);
        }
    } else if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

fn overlaps(a: &FieldPath, b: &FieldPath) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn path_string(p: &FieldPath) -> String {
    p.iter()
        .map(|s| {
            if let Some(k) = s.strip_prefix("k:") {
                let keys: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", parts.join(","))
            } else if let Some(v) = s.strip_prefix("v:") {
                format!("[={v}]")
            } else {
                format!(".{s}")
            }
        })
        .collect()
}

fn print_manager(entry: &Value) -> String {
    let name = entry.get("manager").and_then(Value::as_str).unwrap_or("");
    let mut s = Value::String(name.to_string()).to_string();
    if let Some(sub) = entry.get("subresource").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        s = format!("{s} with subresource {}", Value::String(sub.to_string()));
    }
    if entry.get("operation").and_then(Value::as_str) == Some("Update") {
        let av = entry.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        match entry.get("time").and_then(Value::as_str) {
            Some(t) => s = format!("{s} using {av} at {t}"),
            None => s = format!("{s} using {av}"),
        }
    }
    s
}

/// Who applies, and how (the parameters of one server-side apply).
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions<'a> {
    /// The field manager (`?fieldManager`).
    pub manager: &'a str,
    /// `?force=true`: take ownership instead of reporting conflicts.
    pub force: bool,
    /// The apiVersion recorded in managedFields.
    pub api_version: &'a str,
    /// `Some("status")` for the status subresource.
    pub subresource: Option<&'a str>,
    /// The time recorded in managedFields.
    pub now: &'a str,
    /// The schema whose list and map types set how finely fields are owned (`ResourceType::apply_schema`).
    pub schema: Option<&'a JSONSchemaProps>,
}

/// Server-side apply of `applied` (the manager's full intent) onto `current` (None: create).
/// Returns the new object with updated `managedFields`, or a 409 listing the conflicts.
pub fn server_side_apply(current: Option<&Value>, applied: &Value, opts: &ApplyOptions<'_>) -> ApiResult<Value> {
    let ApplyOptions { manager, force, api_version, subresource, now, schema } = *opts;
    let status_only = subresource == Some("status");
    let mut applied_paths = owned_paths(applied, true, schema);
    if status_only {
        applied_paths.retain(|p| p[0] == "status");
    }
    let mut result = current.cloned().unwrap_or_else(|| {
        let mut base = applied.clone();
        if let Some(m) = base.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        base
    });
    let mut entries: Vec<Value> =
        result.pointer("/metadata/managedFields").and_then(Value::as_array).cloned().unwrap_or_default();
    let is_me = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
            && e.get("subresource").and_then(Value::as_str).unwrap_or("") == subresource.unwrap_or("")
    };
    let previously: BTreeSet<FieldPath> =
        entries.iter().find(|e| is_me(e)).and_then(|e| e.get("fieldsV1")).map(from_fields_v1).unwrap_or_default();
    // Conflicts: another manager owns a path this apply changes to a different value.
    if let Some(cur) = current {
        let mut conflicts: Vec<(String, String)> = Vec::new();
        for p in &applied_paths {
            if !differs(cur, applied, p) {
                continue;
            }
            for e in entries.iter().filter(|e| !is_me(e)) {
                let owned = e.get("fieldsV1").map(from_fields_v1).unwrap_or_default();
                if owned.iter().any(|o| overlaps(o, p)) {
                    conflicts.push((print_manager(e), path_string(p)));
                }
            }
        }
        if !conflicts.is_empty() && !force {
            let causes: Vec<Cause> = conflicts
                .iter()
                .map(|(m, f)| Cause::new("FieldManagerConflict", f.clone(), format!("conflict with {m}")))
                .collect();
            let msg = if conflicts.len() == 1 {
                format!("Apply failed with 1 conflict: conflict with {}: {}", conflicts[0].0, conflicts[0].1)
            } else {
                let mut s = format!("Apply failed with {} conflicts: ", conflicts.len());
                let mut managers: Vec<&String> = conflicts.iter().map(|c| &c.0).collect();
                managers.dedup();
                let parts: Vec<String> = managers
                    .iter()
                    .map(|m| {
                        let fields: Vec<String> =
                            conflicts.iter().filter(|c| &c.0 == *m).map(|c| format!("- {}", c.1)).collect();
                        format!("conflicts with {m}:\n{}", fields.join("\n"))
                    })
                    .collect();
                s.push_str(&parts.join("\n"));
                s
            };
            let mut err = ApiError::new(409, "Conflict", msg);
            err.details = Some(
                json!({"causes": causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect::<Vec<_>>()}),
            );
            return Err(err);
        }
    }
    // Take ownership away from others where this apply changed the value (force or no conflict).
    let changed: Vec<FieldPath> =
        applied_paths.iter().filter(|p| current.is_none_or(|c| differs(c, applied, p))).cloned().collect();
    let mut others_own: BTreeSet<FieldPath> = BTreeSet::new();
    for e in entries.iter_mut().filter(|e| !is_me(e)) {
        let mut owned = e.get("fieldsV1").map(from_fields_v1).unwrap_or_default();
        owned.retain(|o| !changed.iter().any(|p| overlaps(o, p)));
        others_own.extend(owned.iter().cloned());
        e["fieldsV1"] = to_fields_v1(&owned);
    }
    // Write the applied values (a list-map element as a whole only where it is new: the fields
    // of one that exists are written one by one, leaving the others' fields alone).
    for p in &applied_paths {
        if is_owned_element(p) && get_path(&result, p).is_some() {
            continue;
        }
        if let Some(v) = get_path(applied, p) {
            set_path(&mut result, p, v.clone());
        }
    }
    // Remove fields this manager stopped applying and nobody else owns.
    for p in previously.difference(&applied_paths) {
        if !others_own.iter().any(|o| overlaps(o, p)) {
            remove_path(&mut result, p);
        }
    }
    entries.retain(|e| !is_me(e));
    entries.retain(|e| e.get("fieldsV1").and_then(Value::as_object).is_some_and(|m| !m.is_empty()));
    let mut mine = json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(&applied_paths),
    });
    if let Some(sub) = subresource {
        mine["subresource"] = Value::String(sub.to_string());
    }
    entries.push(mine);
    if let Some(m) = result.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("managedFields".into(), Value::Array(entries));
    }
    Ok(result)
}

/// Records an `Update` operation by `manager` in `managedFields` of `new`: it owns the paths that
/// differ from `old` (all paths on create), and other managers lose them.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    now: &str,
    schema: Option<&JSONSchemaProps>,
) {
    let new_paths = owned_paths(new, subresource == Some("status") || old.is_none(), schema);
    let changed: BTreeSet<FieldPath> = match old {
        None => new_paths,
        Some(o) => new_paths.into_iter().filter(|p| differs(o, new, p)).collect(),
    };
    let mut entries: Vec<Value> =
        new.pointer("/metadata/managedFields").and_then(Value::as_array).cloned().unwrap_or_default();
    // Fields the update removed are nobody's any more.
    let mut pruned = false;
    for e in entries.iter_mut() {
        let mut owned = e.get("fieldsV1").map(from_fields_v1).unwrap_or_default();
        let before = owned.len();
        owned.retain(|o| get_path(new, o).is_some());
        if owned.len() != before {
            e["fieldsV1"] = to_fields_v1(&owned);
            pruned = true;
        }
    }
    if changed.is_empty() && old.is_some() {
        if pruned {
            entries.retain(|e| e.get("fieldsV1").and_then(Value::as_object).is_some_and(|m| !m.is_empty()));
            if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("managedFields".into(), Value::Array(entries));
            }
        }
        return;
    }
    let is_me = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Update")
            && e.get("subresource").and_then(Value::as_str).unwrap_or("") == subresource.unwrap_or("")
    };
    let mut mine: BTreeSet<FieldPath> =
        entries.iter().find(|e| is_me(e)).and_then(|e| e.get("fieldsV1")).map(from_fields_v1).unwrap_or_default();
    for e in entries.iter_mut().filter(|e| !is_me(e)) {
        let mut owned = e.get("fieldsV1").map(from_fields_v1).unwrap_or_default();
        owned.retain(|o| !changed.iter().any(|p| overlaps(o, p)));
        e["fieldsV1"] = to_fields_v1(&owned);
    }
    mine.extend(changed);
    entries.retain(|e| !is_me(e));
    entries.retain(|e| e.get("fieldsV1").and_then(Value::as_object).is_some_and(|m| !m.is_empty()));
    let mut entry = json!({
        "manager": manager,
        "operation": "Update",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(&mine),
    });
    if let Some(sub) = subresource {
        entry["subresource"] = Value::String(sub.to_string());
    }
    entries.push(entry);
    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("managedFields".into(), Value::Array(entries));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_map_elements_are_marked_and_read_back() {
        let path = |segs: &[&str]| segs.iter().map(|s| s.to_string()).collect::<FieldPath>();
        let element = "k:{\"port\":80,\"protocol\":\"TCP\"}";
        let paths: BTreeSet<FieldPath> =
            [path(&["spec", "ports", element]), path(&["spec", "ports", element, "port"]), path(&["spec", "selector"])]
                .into_iter()
                .collect();
        let fields = to_fields_v1(&paths);
        assert_eq!(fields, json!({"f:spec": {"f:ports": {element: {".": {}, "f:port": {}}}, "f:selector": {}}}));
        assert_eq!(from_fields_v1(&fields), paths);
        // An element is compared by presence; its fields by value.
        let a = json!({"spec": {"ports": [{"port": 80, "targetPort": 1}]}});
        let b = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 2}]}});
        assert!(!differs(&a, &b, &path(&["spec", "ports", element])));
        assert!(differs(&a, &b, &path(&["spec", "ports", element, "targetPort"])));
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut doc = json!({"apiVersion": "v1", "kind": "Pod",
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "a", "$patch": "delete"}]}}),
        );
        assert_eq!(doc["spec"], json!({"containers": [{"name": "b", "image": "z"}]}));
    }

    #[test]
    fn fields_v1_round_trip() {
        let paths =
            owned_paths(&json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"n": 1}}), false, None);
        let f = to_fields_v1(&paths);
        assert_eq!(f, json!({"f:metadata": {"f:labels": {"f:x": {}}}, "f:spec": {"f:n": {}}}));
        assert_eq!(from_fields_v1(&f), paths);
    }
}
