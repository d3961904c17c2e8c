//! Services, as kube-apiserver's Service registry treats them: DNS-label names; a cluster IP
//! (or `None` for headless), its IP families, node ports and the health-check node port
//! allocated on create and kept across updates that leave them out; what a type change makes
//! meaningless dropped; a cluster IP never changed once set; the deleted object in a delete's
//! reply. The values come from [`crate::allocator`].

use super::Strategy;
use crate::allocator::{self, Refused, Resource};
use crate::app::{App, object_key};
use crate::error::Cause;
use crate::resource::ResourceType;
use crate::store::Outcome;
use serde_json::{Map, Value, json};
use std::net::Ipv4Addr;

pub(super) struct Services;

impl Strategy for Services {
    fn prepare_for_create(&self, _app: &App, rt: &ResourceType, obj: &mut Value) {
        crate::defaults::apply(&rt.group, &rt.plural, obj, true);
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), json!({"loadBalancer": {}}));
        }
    }

    fn prepare_for_update(&self, rt: &ResourceType, old: &Value, new: &mut Value, _sub: Option<&str>) {
        crate::defaults::apply(&rt.group, &rt.plural, new, false);
        let (Some(old), Some(spec)) =
            (old.get("spec").and_then(Value::as_object), new.get_mut("spec").and_then(Value::as_object_mut))
        else {
            return;
        };
        keep_allocated(old, spec);
        drop_type_dependent(old, spec);
    }

    fn validate(&self, _rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
        let mut out = crate::validation::service_name(obj);
        let Some(spec) = obj.get("spec").and_then(Value::as_object) else { return out };
        let ty = kind_of(spec);
        let ip = cluster_ip(spec);
        let ports = spec.get("ports").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        if ports.is_empty() && ty != "ExternalName" && ip != Some("None") {
            out.push(Cause::new("FieldValueRequired", "spec.ports", "Required value"));
        }
        if ports.len() > 1 {
            // Several ports must be told apart by name.
            for (i, p) in ports.iter().enumerate() {
                if p.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
                    out.push(Cause::new("FieldValueRequired", format!("spec.ports[{i}].name"), "Required value"));
                }
            }
        }
        if ty == "ClusterIP" {
            for (i, p) in ports.iter().enumerate() {
                if p.get("nodePort").and_then(Value::as_i64).is_some_and(|n| n != 0) {
                    out.push(Cause::new(
                        "FieldValueForbidden",
                        format!("spec.ports[{i}].nodePort"),
                        "Forbidden: may not be used when `type` is 'ClusterIP'",
                    ));
                }
            }
        }
        if let Some(ip) = ip.filter(|ip| !ip.is_empty() && *ip != "None")
            && ty != "ExternalName"
        {
            if ip.parse::<Ipv4Addr>().is_err() {
                out.push(Cause::new(
                    "FieldValueInvalid",
                    "spec.clusterIPs[0]",
                    format!(
                        "Invalid value: {}: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                        Value::String(ip.to_string())
                    ),
                ));
            } else if let Some(was) = old.and_then(|o| o.get("spec")).and_then(Value::as_object).and_then(cluster_ip)
                && !was.is_empty()
                && was != ip
            {
                out.push(Cause::new(
                    "FieldValueInvalid",
                    "spec.clusterIPs[0]",
                    format!("Invalid value: {}: may not change once set", json!([ip])),
                ));
            }
        }
        out
    }

    fn allocate(&self, app: &App, obj: &mut Value, _old: Option<&Value>) -> Vec<Cause> {
        let owner = owner_of(obj);
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return Vec::new() };
        let mut out = Vec::new();
        if kind_of(spec) == "ExternalName" {
            return out;
        }
        allocate_ip(app, &owner, spec, &mut out);
        let ty = kind_of(spec).to_string();
        let node_ports = ty == "NodePort"
            || (ty == "LoadBalancer" && spec.get("allocateLoadBalancerNodePorts") != Some(&Value::Bool(false)));
        if node_ports {
            let count = spec.get("ports").and_then(Value::as_array).map_or(0, Vec::len);
            for i in 0..count {
                let Some(port) = spec.get_mut("ports").and_then(|p| p.get_mut(i)).and_then(Value::as_object_mut) else {
                    continue;
                };
                allocate_port(app, &owner, port, "nodePort", &format!("spec.ports[{i}].nodePort"), &mut out);
            }
        }
        let local = spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
        if ty == "LoadBalancer" && local {
            allocate_port(app, &owner, spec, "healthCheckNodePort", "spec.healthCheckNodePort", &mut out);
        }
        out
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn after_write(&self, app: &App, _rt: &ResourceType, outcome: &Outcome) {
        let held = match outcome {
            Outcome::Created(o) | Outcome::Updated(o) => allocator::held_by(o),
            Outcome::Deleted(_) => Vec::new(),
            Outcome::Unchanged(_) => return,
        };
        app.allocations.set(&owner_of(outcome.object()), held);
    }
}

/// `namespace/name`, who holds a Service's allocations.
fn owner_of(obj: &Value) -> String {
    let meta = |f: &str| obj.pointer(&format!("/metadata/{f}")).and_then(Value::as_str);
    object_key(meta("namespace"), meta("name").unwrap_or(""))
}

/// The Service type (`ClusterIP` unless set).
fn kind_of(spec: &Map<String, Value>) -> &str {
    spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP")
}

/// The requested cluster IP: `clusterIP`, else the first of `clusterIPs`.
fn cluster_ip(spec: &Map<String, Value>) -> Option<&str> {
    spec.get("clusterIP")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| spec.get("clusterIPs").and_then(|v| v.get(0)).and_then(Value::as_str))
}

/// The cluster IP of a new Service (or one that now needs one): allocated when none is asked
/// for, claimed when one is; `None` makes it headless. The IP families follow.
fn allocate_ip(app: &App, owner: &str, spec: &mut Map<String, Value>, out: &mut Vec<Cause>) {
    let requested = cluster_ip(spec).unwrap_or("").to_string();
    let ip = if requested == "None" {
        // Headless: single-stack with a selector; without one the endpoints may be of any family.
        let selectorless = spec.get("selector").and_then(Value::as_object).is_none_or(Map::is_empty);
        let (families, policy) =
            if selectorless { (json!(["IPv4", "IPv6"]), "RequireDualStack") } else { (json!(["IPv4"]), "SingleStack") };
        spec.entry("ipFamilies").or_insert(families);
        spec.entry("ipFamilyPolicy").or_insert(json!(policy));
        requested
    } else if requested.is_empty() {
        match app.allocations.allocate_ip(owner) {
            Some(ip) => ip.to_string(),
            None => {
                out.push(Cause::new(
                    "FieldValueInvalid",
                    "spec.clusterIPs",
                    "Invalid value: []: failed to allocate IP: range is full",
                ));
                return;
            }
        }
    } else {
        let Ok(ip) = requested.parse::<Ipv4Addr>() else { return }; // validation reported it
        let why = match app.allocations.claim(owner, Resource::Ip(ip)) {
            Ok(()) => None,
            Err(Refused::OutOfRange) => Some("the provided network does not match the current range"),
            Err(Refused::Taken) => Some("provided IP is already allocated"),
        };
        if let Some(why) = why {
            out.push(Cause::new(
                "FieldValueInvalid",
                "spec.clusterIPs",
                format!("Invalid value: {}: failed to allocate IP {ip}: {why}", json!([requested])),
            ));
            return;
        }
        requested
    };
    spec.insert("clusterIP".into(), json!(ip));
    spec.insert("clusterIPs".into(), json!([ip]));
    spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
    spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
}

/// The node port in `m[field]` (a port's `nodePort`, the spec's `healthCheckNodePort`):
/// allocated when absent or zero, claimed when given.
fn allocate_port(app: &App, owner: &str, m: &mut Map<String, Value>, field: &str, path: &str, out: &mut Vec<Cause>) {
    let asked = m.get(field).and_then(Value::as_i64).filter(|p| *p != 0);
    let Some(asked) = asked else {
        match app.allocations.allocate_port(owner) {
            Some(p) => {
                m.insert(field.into(), json!(p));
            }
            None => out.push(Cause::new(
                "FieldValueInvalid",
                path,
                "Invalid value: 0: failed to allocate a nodePort: range is full",
            )),
        }
        return;
    };
    let claimed = u32::try_from(asked)
        .map_err(|_| Refused::OutOfRange)
        .and_then(|p| app.allocations.claim(owner, Resource::Port(p)));
    let why = match claimed {
        Ok(()) => return,
        Err(Refused::OutOfRange) => format!(
            "provided port is not in the valid range. The range of valid ports is {}-{}",
            allocator::NODE_PORTS.start(),
            allocator::NODE_PORTS.end()
        ),
        Err(Refused::Taken) => "provided port is already allocated".to_string(),
    };
    out.push(Cause::new("FieldValueInvalid", path, format!("Invalid value: {asked}: {why}")));
}

/// What an update that leaves allocated values out keeps of them (kube-apiserver's
/// `patchAllocatedValues`): the cluster IPs and families, node ports (by port and protocol) and
/// the health-check node port, while the new type still uses them.
fn keep_allocated(old: &Map<String, Value>, spec: &mut Map<String, Value>) {
    let ty = kind_of(spec).to_string();
    if ty != "ExternalName" && kind_of(old) != "ExternalName" && cluster_ip(spec).is_none() {
        for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if let Some(v) = old.get(f) {
                spec.entry(f).or_insert(v.clone());
            }
        }
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        let old_ports = old.get("ports").and_then(Value::as_array).cloned().unwrap_or_default();
        for p in spec.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(p) = p.as_object_mut() else { continue };
            if p.get("nodePort").and_then(Value::as_i64).is_some_and(|n| n != 0) {
                continue;
            }
            let same =
                old_ports.iter().find(|o| o.get("port") == p.get("port") && o.get("protocol") == p.get("protocol"));
            if let Some(n) = same.and_then(|o| o.get("nodePort")) {
                p.insert("nodePort".into(), n.clone());
            }
        }
        if let Some(h) = old.get("healthCheckNodePort") {
            spec.entry("healthCheckNodePort").or_insert(h.clone());
        }
    }
}

/// What the new type makes meaningless, when the request carried it over unchanged (kube-
/// apiserver's `dropTypeDependentFields`); a value the client changed stays, for validation to
/// judge.
fn drop_type_dependent(old: &Map<String, Value>, spec: &mut Map<String, Value>) {
    let ty = kind_of(spec).to_string();
    let drop_unchanged = |spec: &mut Map<String, Value>, f: &str| {
        if spec.get(f) == old.get(f) {
            spec.remove(f);
        }
    };
    if ty == "ExternalName" {
        for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"] {
            drop_unchanged(spec, f);
        }
    }
    if !matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        let old_ports = old.get("ports").and_then(Value::as_array).cloned().unwrap_or_default();
        for p in spec.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(p) = p.as_object_mut() else { continue };
            let carried =
                old_ports.iter().any(|o| o.get("port") == p.get("port") && o.get("nodePort") == p.get("nodePort"));
            if carried {
                p.remove("nodePort");
            }
        }
        drop_unchanged(spec, "externalTrafficPolicy");
    }
    let local = spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
    if !(ty == "LoadBalancer" && local) {
        drop_unchanged(spec, "healthCheckNodePort");
    }
    if ty != "LoadBalancer" {
        drop_unchanged(spec, "allocateLoadBalancerNodePorts");
    }
}
