//! `meta.k8s.io/v1` Table rendering for `kubectl get` (Accept `as=Table`): Name, then the CRD's
//! additionalPrinterColumns (or Age when there are none).

use crate::resource::ResourceType;
use serde_json::{Value, json};
use std::borrow::Borrow;

/// True when the Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| first.contains("as=Table"))
}

/// Renders a duration the way `kubectl` prints ages ("45s", "5m", "3h", "2d").
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let m = s / 60;
    let h = m / 60;
    let d = h / 24;
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 { format!("{m}m") } else { format!("{m}m{}s", s % 60) }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 { format!("{h}h") } else { format!("{h}h{}m", m % 60) }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 { format!("{d}d") } else { format!("{d}d{}h", h % 24) }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn age(ts: Option<&str>) -> Value {
    let Some(ts) = ts else {
        return Value::String("<unknown>".into());
    };
    match ts.parse::<jiff::Timestamp>() {
        Ok(t) => {
            let secs = jiff::Timestamp::now().as_second() - t.as_second();
            Value::String(human_duration(secs))
        }
        Err(_) => Value::String("<invalid>".into()),
    }
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
        (Some(Value::String(s)), "date") => age(Some(s)),
        (Some(v), _) => v.clone(),
    }
}

/// The columns kube-apiserver's printer gives Events (both APIs; server tables are "wide").
const EVENT_COLUMNS: [(&str, &str, i32); 10] = [
    ("Last Seen", "The time at which the most recent occurrence of this event was recorded.", 0),
    ("Type", "Type of this event (Normal, Warning), new types could be added in the future", 0),
    (
        "Reason",
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        0,
    ),
    ("Object", "The object that this event is about.", 0),
    (
        "Subobject",
        "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.",
        1,
    ),
    ("Source", "The component reporting this event. Should be a short machine understandable string.", 1),
    ("Message", "A human-readable description of the status of this operation.", 0),
    ("First Seen", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1),
    ("Count", "The number of times this event has occurred.", 1),
    ("Name", "Name must be unique within a namespace.", 1),
];

/// One Event's cells (a stored core/v1 Event), as kube-apiserver's printer fills them.
fn event_cells(o: &Value) -> Vec<Value> {
    let s = |p: &str| o.pointer(p).and_then(Value::as_str).filter(|v| !v.is_empty());
    let first = s("/firstTimestamp").or(s("/eventTime"));
    let mut last = s("/lastTimestamp").or(first);
    let mut count = o.get("count").and_then(Value::as_i64).unwrap_or(0);
    if o.get("series").is_some_and(Value::is_object) {
        last = s("/series/lastObservedTime");
        count = o.pointer("/series/count").and_then(Value::as_i64).unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = s("/involvedObject/kind").unwrap_or("").to_lowercase();
    let target = match s("/involvedObject/name") {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let component = s("/source/component").or(s("/reportingComponent")).unwrap_or("");
    let source = match s("/source/host").or(s("/reportingInstance")) {
        Some(instance) => format!("{component}, {instance}"),
        None => component.to_string(),
    };
    vec![
        age(last),
        json!(s("/type").unwrap_or("")),
        json!(s("/reason").unwrap_or("")),
        json!(target),
        json!(s("/involvedObject/fieldPath").unwrap_or("")),
        json!(source),
        json!(s("/message").unwrap_or("").trim()),
        age(first),
        json!(count),
        o.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
    ]
}

/// Builds the Table for `items`.
pub fn render<B: Borrow<Value>>(rt: &ResourceType, items: &[B], list_meta: Value, include: &str) -> Value {
    if !rt.custom && rt.plural == "events" {
        let columns: Vec<Value> = EVENT_COLUMNS
            .iter()
            .map(|(name, description, priority)| {
                let format = if *name == "Name" { "name" } else { "" };
                json!({"name": name, "type": "string", "format": format, "description": description, "priority": priority})
            })
            .collect();
        let rows = items.iter().map(|o| row(event_cells(o.borrow()), o.borrow(), include)).collect();
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

    #[test]
    fn ages() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(300), "5m");
        assert_eq!(human_duration(3600 * 30), "30h");
    }
}
