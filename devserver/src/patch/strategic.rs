//! Strategic merge patch, typed as kube-apiserver applies it: each field's patch strategy and
//! merge key come from the built-in types' metadata, recorded from kube-apiserver's OpenAPI
//! (`strategies-v1.37.json`, by `scripts/record-apiserver-facts.py`). Maps merge recursively and
//! `null` deletes; a list with the `merge` strategy merges element-wise by its merge key (or, a
//! list of scalars, as a union), others are replaced. The directives: `$patch: delete|replace`
//! (on a map, a merge list or its elements), `$deleteFromPrimitiveList/<field>`,
//! `$setElementOrder/<field>` and `$retainKeys`. A merged list is ordered as kube-apiserver
//! orders it: the patch's elements in the patch's (or `$setElementOrder`'s) order, the server's
//! other elements kept where they were relative to them.

use super::metadata::{Field, METADATA};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The fields of a type, if known.
type Fields = Option<&'static HashMap<String, Field>>;

fn fields_of(ty: Option<&str>) -> Fields {
    METADATA.types.get(ty?)
}

/// The recorded patch metadata of type `ty`'s fields, as `(field, x-kubernetes-patch-strategy,
/// x-kubernetes-patch-merge-key)` with empty strings for what a field lacks, for the OpenAPI
/// documents to advertise what this module applies.
pub fn annotations(ty: &str) -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    METADATA
        .types
        .get(ty)
        .into_iter()
        .flatten()
        .filter(|(_, f)| !f.strategy.is_empty() || !f.key.is_empty())
        .map(|(name, f)| (name.as_str(), f.strategy.as_str(), f.key.as_str()))
}

/// Applies the strategic merge patch `patch` to `doc` (an object of a built-in kind, whose
/// `apiVersion` and `kind` name its type).
pub fn strategic_merge(doc: &mut Value, patch: &Value) {
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let ty = METADATA.kind_type(api_version, kind);
    merge_map(doc, patch, fields_of(ty));
}

fn merge_map(doc: &mut Value, patch: &Value, fields: Fields) {
    let Some(pmap) = patch.as_object() else {
        *doc = patch.clone();
        return;
    };
    match pmap.get("$patch").and_then(Value::as_str) {
        Some("delete") => {
            *doc = Value::Object(Map::new());
            return;
        }
        Some("replace") => {
            let mut p = pmap.clone();
            p.remove("$patch");
            *doc = Value::Object(Map::new());
            merge_map(doc, &Value::Object(p), fields);
            return;
        }
        _ => {}
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Some(dmap) = doc.as_object_mut() else { return };
    // `$retainKeys`: the map keeps only these keys (and what the patch sets).
    if let Some(keep) = pmap.get("$retainKeys").and_then(Value::as_array) {
        dmap.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    let field = |k: &str| fields.and_then(|f| f.get(k));
    for (k, pv) in pmap {
        if let Some(name) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Some(del)) = (dmap.get_mut(name), pv.as_array()) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if pv.is_null() || pv.get("$patch").and_then(Value::as_str) == Some("delete") {
            dmap.remove(k);
            continue;
        }
        let info = field(k);
        let child = fields_of(info.and_then(|f| f.ty.as_deref()));
        let order = pmap.get(&format!("$setElementOrder/{k}")).and_then(Value::as_array).map(Vec::as_slice);
        match (dmap.get_mut(k), pv) {
            (Some(dv @ Value::Object(_)), Value::Object(_)) => merge_map(dv, pv, child),
            (Some(Value::Array(cur)), Value::Array(items)) => {
                match info.filter(|f| f.list && f.strategy.contains("merge")) {
                    Some(f) => merge_list(cur, items, &f.key, child, order),
                    // A list the patch replaces is taken as sent, directives and nulls as data.
                    None => *cur = items.clone(),
                }
            }
            // A new value, or one of another type: as sent, without directives or nulls.
            (_, Value::Array(_) | Value::Object(_)) => match without_directives(pv) {
                Some(v) => {
                    dmap.insert(k.clone(), v);
                }
                None => {
                    dmap.remove(k);
                }
            },
            _ => {
                dmap.insert(k.clone(), pv.clone());
            }
        }
    }
    // `$setElementOrder` for a list the patch leaves alone: only the order changes.
    for (k, order) in pmap.iter().filter_map(|(k, v)| Some((k.strip_prefix("$setElementOrder/")?, v.as_array()?))) {
        if pmap.contains_key(k) {
            continue;
        }
        let key = field(k).map_or("", |f| f.key.as_str());
        if let Some(Value::Array(cur)) = dmap.get_mut(k) {
            let server: Vec<Value> = cur.iter().map(|v| identity(v, key)).collect();
            let order: Vec<Value> = order.iter().map(|v| identity(v, key)).collect();
            let ordered = normalize(std::mem::take(cur), &order, &server, key);
            *cur = ordered;
        }
    }
}

/// A value the patch brings where the object had none (or one of another type), as
/// kube-apiserver takes it: null map entries dropped, and every map carrying a `$patch`
/// directive dropped with it (`None` when `v` itself carries one). Other `$` keys stay, as data.
fn without_directives(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) if m.contains_key("$patch") => None,
        Value::Object(m) => Some(Value::Object(
            m.iter()
                .filter(|(_, c)| !c.is_null())
                .filter_map(|(k, c)| Some((k.clone(), without_directives(c)?)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(items.iter().filter_map(without_directives).collect())),
        other => Some(other.clone()),
    }
}

/// A list as the patch gives it (directives dropped, nested directives applied to nothing).
fn fresh_items(items: &[Value], child: Fields) -> Vec<Value> {
    items
        .iter()
        .filter(|i| i.get("$patch").is_none())
        .map(|i| {
            if i.is_object() {
                let mut fresh = Value::Object(Map::new());
                merge_map(&mut fresh, i, child);
                fresh
            } else {
                i.clone()
            }
        })
        .collect()
}

/// What identifies a list element: its merge key's value, or the scalar itself.
fn identity(v: &Value, key: &str) -> Value {
    if key.is_empty() { v.clone() } else { v.get(key).cloned().unwrap_or(Value::Null) }
}

/// Merges the patch's `items` into `cur` by `key` (scalars by value when there is none).
fn merge_list(cur: &mut Vec<Value>, items: &[Value], key: &str, child: Fields, order: Option<&[Value]>) {
    let server: Vec<Value> = cur.iter().map(|v| identity(v, key)).collect();
    // `{"$patch": "replace"}` among the elements: the list becomes the other elements.
    let is_replace = |i: &Value| i.get("$patch").and_then(Value::as_str) == Some("replace") && i.get(key).is_none();
    if !key.is_empty() && items.iter().any(is_replace) {
        *cur = fresh_items(items, child);
        return;
    }
    let mut patched = Vec::new();
    for it in items {
        if key.is_empty() {
            // A union of scalars.
            if !cur.contains(it) {
                cur.push(it.clone());
            }
            patched.push(it.clone());
            continue;
        }
        if it.get(key).is_none() && it.get("$patch").is_some() {
            continue;
        }
        let Some(kv) = it.get(key) else {
            cur.push(it.clone());
            continue;
        };
        let pos = cur.iter().position(|c| c.get(key) == Some(kv));
        if it.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = pos {
                cur.remove(i);
            }
            continue;
        }
        patched.push(kv.clone());
        match pos {
            Some(i) => merge_map(&mut cur[i], it, child),
            None => {
                let mut fresh = Value::Object(Map::new());
                merge_map(&mut fresh, it, child);
                cur.push(fresh);
            }
        }
    }
    let order: Vec<Value> = match order {
        Some(o) => o.iter().map(|v| identity(v, key)).collect(),
        None => patched,
    };
    let merged = std::mem::take(cur);
    *cur = normalize(merged, &order, &server, key);
}

/// Orders a merged list as kube-apiserver does: the elements named by `order` in that order,
/// the others in the server's order, interleaved so that each of those stays before the
/// ordered elements it preceded on the server.
fn normalize(list: Vec<Value>, order: &[Value], server: &[Value], key: &str) -> Vec<Value> {
    let pos = |v: &Value, within: &[Value]| within.iter().position(|x| *x == identity(v, key));
    let (mut ordered, mut rest): (Vec<Value>, Vec<Value>) = list.into_iter().partition(|v| pos(v, order).is_some());
    ordered.sort_by_key(|v| pos(v, order));
    rest.sort_by_key(|v| pos(v, server).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(ordered.len() + rest.len());
    let (mut left, mut right) = (rest.into_iter().peekable(), ordered.into_iter().peekable());
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => matches!((pos(l, server), pos(r, server)), (Some(li), Some(ri)) if li < ri),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": containers}}}})
    }

    fn names(d: &Value) -> Vec<&str> {
        d.pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn merge_lists_order_like_kube_apiserver() {
        // Checked against kube-apiserver v1.37.2.
        let mut d = deployment(json!([{"name": "nginx"}]));
        strategic_merge(&mut d, &deployment(json!([{"name": "b"}, {"name": "a"}])));
        assert_eq!(names(&d), ["b", "a", "nginx"]);
        strategic_merge(&mut d, &deployment(json!([{"name": "c"}, {"name": "nginx", "image": "x"}])));
        assert_eq!(names(&d), ["c", "b", "a", "nginx"]);
        assert_eq!(d.pointer("/spec/template/spec/containers/3/image"), Some(&json!("x")));
    }

    #[test]
    fn scalar_merge_lists_are_unions() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"finalizers": ["a", "c"]}});
        strategic_merge(&mut cm, &json!({"metadata": {"finalizers": ["d", "a", "b"]}}));
        assert_eq!(cm["metadata"]["finalizers"], json!(["d", "a", "b", "c"]));
    }

    #[test]
    fn lists_without_a_merge_strategy_are_replaced() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"tolerations": [{"key": "a"}]}}}});
        strategic_merge(&mut d, &json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b"}]}}}}));
        assert_eq!(d.pointer("/spec/template/spec/tolerations"), Some(&json!([{"key": "b"}])));
    }

    #[test]
    fn retain_keys_and_element_order() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}});
        strategic_merge(&mut d, &patch);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(names(&d), ["b", "a"]);
    }
}
