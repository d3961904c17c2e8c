//! `meta.k8s.io/v1` Table rendering for `kubectl get` (Accept `as=Table`): a built-in kind's
//! printer columns ([`crate::printers`]); for custom resources Name, then the CRD's
//! additionalPrinterColumns (or Age when there are none).

use crate::resource::ResourceType;
use serde_json::{Value, json};
use std::borrow::Borrow;

/// True when the Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| first.contains("as=Table"))
}

/// Evaluates the small JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a[?(@.k=="v")].b`.
pub fn eval_jsonpath<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let p = p.strip_prefix('$').unwrap_or(p);
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if !key.is_empty() {
                cur = cur.get(key)?;
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if let Ok(i) = inner.parse::<usize>() {
                cur = cur.get(i)?;
            } else if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (k, v) = filter.split_once("==")?;
                let v = v.trim().trim_matches('"').trim_matches('\'');
                cur = cur.as_array()?.iter().find(|it| it.get(k.trim()).and_then(Value::as_str) == Some(v))?;
            } else {
                return None;
            }
        } else {
            return None;
        }
    }
    Some(cur)
}

fn cell(v: Option<&Value>, ty: &str) -> Value {
    match (v, ty) {
        (None, _) => Value::Null,
        (Some(Value::String(s)), "date") => crate::printers::age(Some(s)),
        (Some(v), _) => v.clone(),
    }
}

/// Builds the Table for `items`.
pub fn render<B: Borrow<Value>>(rt: &ResourceType, items: &[B], list_meta: Value, include: &str) -> Value {
    if !rt.custom {
        // Built-in kinds: their printer's columns, or kube-apiserver's default.
        let (columns, cells): (Vec<Value>, crate::printers::Cells) = match crate::printers::printer(&rt.plural) {
            Some((columns, cells)) => (columns.to_vec(), cells),
            None => (crate::printers::default_columns(), crate::printers::default_cells),
        };
        let rows = items.iter().map(|o| row(cells(o.borrow()), o.borrow(), include)).collect();
        return table(list_meta, columns, rows);
    }
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    let custom: Vec<(String, String, String, i32)> = rt
        .printer_columns
        .iter()
        .map(|c| (c.name.clone(), c.type_.clone(), c.json_path.clone(), c.priority.unwrap_or(0)))
        .collect();
    let cols: Vec<(String, String, String, i32)> = if custom.is_empty() {
        vec![("Age".into(), "date".into(), ".metadata.creationTimestamp".into(), 0)]
    } else {
        custom
    };
    for (name, ty, _, prio) in &cols {
        columns.push(json!({"name": name, "type": ty, "format": "", "description": "", "priority": prio}));
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let o: &Value = o.borrow();
            let mut cells = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            for (_, ty, path, _) in &cols {
                cells.push(cell(eval_jsonpath(o, path), ty));
            }
            row(cells, o, include)
        })
        .collect();
    table(list_meta, columns, rows)
}

/// A row: its cells and the object as `includeObject` asks.
fn row(cells: Vec<Value>, o: &Value, include: &str) -> Value {
    let object = match include {
        "None" => Value::Null,
        "Object" => o.clone(),
        _ => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": o.get("metadata").cloned().unwrap_or(json!({})),
        }),
    };
    json!({"cells": cells, "object": object})
}

fn table(list_meta: Value, columns: Vec<Value>, rows: Vec<Value>) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_subset() {
        let o = json!({"spec": {"n": 3}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(eval_jsonpath(&o, ".spec.n"), Some(&json!(3)));
        assert_eq!(eval_jsonpath(&o, ".status.conditions[?(@.type==\"Ready\")].status"), Some(&json!("True")));
        assert_eq!(eval_jsonpath(&o, ".status.conditions[0].type"), Some(&json!("Ready")));
        assert_eq!(eval_jsonpath(&o, ".spec.missing"), None);
    }
}
