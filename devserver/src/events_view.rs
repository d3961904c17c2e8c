//! core/v1 and events.k8s.io/v1 Events are one resource in Kubernetes: stored once (in core/v1's
//! form here), served through both APIs, each write visible through both with the same uid and
//! resourceVersion. `kubectl get events` and `kubectl describe` read core/v1; client-go's and
//! kube-rs's recorders write events.k8s.io/v1. This module is the conversion between the two
//! forms, as kube-apiserver's: renamed fields, the rest the same.

use serde_json::{Map, Value};

/// core/v1 field → events.k8s.io/v1 field.
const RENAMED: [(&str, &str); 7] = [
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// events.k8s.io/v1 fields with `omitempty` that core/v1 always writes.
const OMITTED_WHEN_EMPTY: [&str; 7] =
    ["reportingController", "reportingInstance", "action", "reason", "note", "type", "deprecatedCount"];

/// True for the events.k8s.io/v1 view of the core/v1 Event store.
pub fn is_view(group: &str, plural: &str) -> bool {
    group == "events.k8s.io" && plural == "events"
}

/// The storage key of events: core/v1's.
pub const STORAGE_KEY: &str = "/events";

/// A stored (core/v1) Event as events.k8s.io/v1 shows it. An object already in that form is
/// returned as it is.
pub fn to_events_v1(core: &Value) -> Value {
    let Some(o) = core.as_object() else { return core.clone() };
    if o.get("apiVersion").and_then(Value::as_str) == Some("events.k8s.io/v1") {
        return core.clone();
    }
    let mut out = rename(o, false);
    out.insert("apiVersion".into(), Value::String("events.k8s.io/v1".into()));
    out.insert("kind".into(), Value::String("Event".into()));
    for k in OMITTED_WHEN_EMPTY {
        if out.get(k).is_some_and(|v| v.as_str() == Some("") || v.as_i64() == Some(0)) {
            out.remove(k);
        }
    }
    Value::Object(out)
}

/// An events.k8s.io/v1 Event in core/v1's form, for storing.
pub fn to_core(view: &Value) -> Value {
    let Some(o) = view.as_object() else { return view.clone() };
    let mut out = rename(o, true);
    out.insert("apiVersion".into(), Value::String("v1".into()));
    out.insert("kind".into(), Value::String("Event".into()));
    let mut v = Value::Object(out);
    crate::defaults::apply("", "events", &mut v, false);
    v
}

fn rename(o: &Map<String, Value>, to_core: bool) -> Map<String, Value> {
    o.iter()
        .map(|(k, v)| {
            let renamed = RENAMED.iter().find_map(|(core, v1)| match to_core {
                false if k == core => Some(*v1),
                true if k == v1 => Some(*core),
                _ => None,
            });
            (renamed.map_or_else(|| k.clone(), str::to_string), v.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_two_forms_convert_both_ways() {
        let v1 = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e", "namespace": "ns"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "pulled", "reason": "Pulled", "type": "Normal",
            "reportingController": "kubelet", "reportingInstance": "node-1", "action": "Pull",
            "eventTime": "2026-12-03T06:00:00.000000Z",
        });
        let core = to_core(&v1);
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!((&core["involvedObject"]["name"], &core["message"]), (&json!("p"), &json!("pulled")));
        assert_eq!((&core["reportingComponent"], &core["source"]), (&json!("kubelet"), &json!({})));
        let back = to_events_v1(&core);
        assert_eq!(back["regarding"], v1["regarding"]);
        assert_eq!(back["deprecatedSource"], json!({}));
        assert_eq!(back["deprecatedFirstTimestamp"], Value::Null);
        assert_eq!(to_events_v1(&back), back, "a view stays a view");
    }

    #[test]
    fn empty_omitempty_fields_are_left_out_of_the_view() {
        let core =
            json!({"apiVersion": "v1", "kind": "Event", "reportingComponent": "", "reportingInstance": "", "count": 0});
        let v = to_events_v1(&core);
        assert!(v.get("reportingController").is_none() && v.get("reportingInstance").is_none());
        assert!(v.get("deprecatedCount").is_none());
    }
}
