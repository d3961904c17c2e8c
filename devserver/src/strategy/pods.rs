//! Pods: defaulting with the Priority and DefaultTolerationSeconds admission on create, the
//! initial `Pending` status with its QoS class, and the updates a pod refuses.

use super::Strategy;
use crate::app::App;
use crate::error::Cause;
use crate::resource::ResourceType;
use serde_json::{Value, json};

pub(super) struct Pods;

impl Strategy for Pods {
    fn prepare_for_create(&self, _app: &App, rt: &ResourceType, obj: &mut Value) {
        crate::defaults::apply(&rt.group, &rt.plural, obj, true);
        let qos = qos_class(obj);
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), json!({"phase": "Pending", "qosClass": qos}));
        }
    }

    fn prepare_for_update(&self, rt: &ResourceType, _old: &Value, new: &mut Value, _sub: Option<&str>) {
        crate::defaults::apply(&rt.group, &rt.plural, new, false);
    }

    fn validate(&self, _rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
        old.map(|old| crate::validation::pod_update(old, obj)).unwrap_or_default()
    }

    fn has_generation(&self) -> bool {
        true
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}

/// The pod's QoS class from its containers' resources: BestEffort without any request or
/// limit, Guaranteed when every container limits cpu and memory with requests equal to limits
/// (or unset), Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let res = |c: &Value, kind: &str, r: &str| c.pointer(&format!("/resources/{kind}/{r}")).cloned();
    let any = containers.iter().any(|c| {
        ["requests", "limits"]
            .iter()
            .any(|k| c.pointer(&format!("/resources/{k}")).and_then(Value::as_object).is_some_and(|m| !m.is_empty()))
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| match (res(c, "limits", r), res(c, "requests", r)) {
            (Some(l), Some(q)) => l == q,
            (Some(_), None) => true,
            _ => false,
        })
    });
    if guaranteed { "Guaranteed" } else { "Burstable" }
}
