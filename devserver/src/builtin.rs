//! The built-in kinds the controller and kubectl need, each decoded into its k8s-openapi type so a
//! malformed object gets a 400 instead of being stored (or crashing anything).

use crate::resource::ResourceType;
use k8s_openapi::api::{apps, authorization, batch, coordination, core, events, networking, policy, rbac, scheduling};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn check<T: DeserializeOwned + serde::Serialize>(v: &Value) -> Result<Value, String> {
    let typed = T::deserialize(v).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Paths of fields present (and not null) in `input` but dropped by the typed round trip
/// `typed`: the fields the built-in type does not know, for strict decoding.
pub fn unknown_fields(input: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match b.get(k) {
                    None if !v.is_null() => out.push(p),
                    Some(bv) => unknown_fields(v, bv, &p, out),
                    None => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                unknown_fields(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
fn rt(
    group: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
    all: bool,
    status: bool,
    decode: fn(&Value) -> Result<Value, String>,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: if all { vec!["all".into()] } else { vec![] },
        status_subresource: status,
        scale: None,
        schema: None,
        printer_columns: vec![],
        decode: Some(decode),
        selectable_fields: vec![],
        custom: false,
        terminating: false,
        review: false,
    }
}

/// A workload with the `/scale` subresource (`kubectl scale`, HorizontalPodAutoscalers).
fn scaled(mut t: ResourceType) -> ResourceType {
    t.scale = Some(crate::resource::ScalePaths::workload());
    t
}

/// A review kind of `authorization.k8s.io`: cluster-scoped, create-only, not stored.
fn review(kind: &str, plural: &str, decode: fn(&Value) -> Result<Value, String>) -> ResourceType {
    let mut t = rt("authorization.k8s.io", kind, plural, false, &[], false, false, decode);
    t.review = true;
    t
}

/// Every built-in resource served, in discovery order.
pub fn builtin_types() -> Vec<ResourceType> {
    vec![
        rt("", "Namespace", "namespaces", false, &["ns"], false, true, check::<core::v1::Namespace>),
        rt("", "Node", "nodes", false, &["no"], false, true, check::<core::v1::Node>),
        rt("", "Pod", "pods", true, &["po"], true, true, check::<core::v1::Pod>),
        rt("", "Service", "services", true, &["svc"], true, true, check::<core::v1::Service>),
        rt("", "Secret", "secrets", true, &[], false, false, check::<core::v1::Secret>),
        rt("", "ConfigMap", "configmaps", true, &["cm"], false, false, check::<core::v1::ConfigMap>),
        rt("", "ServiceAccount", "serviceaccounts", true, &["sa"], false, false, check::<core::v1::ServiceAccount>),
        rt("", "Event", "events", true, &["ev"], false, false, check::<core::v1::Event>),
        rt("", "ResourceQuota", "resourcequotas", true, &["quota"], false, true, check::<core::v1::ResourceQuota>),
        scaled(rt("apps", "StatefulSet", "statefulsets", true, &["sts"], true, true, check::<apps::v1::StatefulSet>)),
        scaled(rt("apps", "Deployment", "deployments", true, &["deploy"], true, true, check::<apps::v1::Deployment>)),
        scaled(rt("apps", "ReplicaSet", "replicasets", true, &["rs"], true, true, check::<apps::v1::ReplicaSet>)),
        rt(
            "apps",
            "ControllerRevision",
            "controllerrevisions",
            true,
            &[],
            false,
            false,
            check::<apps::v1::ControllerRevision>,
        ),
        rt("events.k8s.io", "Event", "events", true, &["ev"], false, false, check::<events::v1::Event>),
        rt("coordination.k8s.io", "Lease", "leases", true, &[], false, false, check::<coordination::v1::Lease>),
        rt("rbac.authorization.k8s.io", "Role", "roles", true, &[], false, false, check::<rbac::v1::Role>),
        rt(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            "clusterroles",
            false,
            &[],
            false,
            false,
            check::<rbac::v1::ClusterRole>,
        ),
        rt(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            "rolebindings",
            true,
            &[],
            false,
            false,
            check::<rbac::v1::RoleBinding>,
        ),
        rt(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
            &[],
            false,
            false,
            check::<rbac::v1::ClusterRoleBinding>,
        ),
        {
            let mut crd = rt(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
                &["crd", "crds"],
                false,
                true,
                check::<CustomResourceDefinition>,
            );
            crd.singular = "customresourcedefinition".into();
            crd
        },
        review(
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            check::<authorization::v1::SelfSubjectAccessReview>,
        ),
        review("SelfSubjectRulesReview", "selfsubjectrulesreviews", check::<authorization::v1::SelfSubjectRulesReview>),
        rt("batch", "Job", "jobs", true, &[], true, true, check::<batch::v1::Job>),
        rt("batch", "CronJob", "cronjobs", true, &["cj"], true, true, check::<batch::v1::CronJob>),
        rt("networking.k8s.io", "Ingress", "ingresses", true, &["ing"], false, true, check::<networking::v1::Ingress>),
        rt(
            "policy",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
            &["pdb"],
            false,
            true,
            check::<policy::v1::PodDisruptionBudget>,
        ),
        rt(
            "scheduling.k8s.io",
            "PriorityClass",
            "priorityclasses",
            false,
            &["pc"],
            false,
            false,
            check::<scheduling::v1::PriorityClass>,
        ),
    ]
}

/// The bootstrap namespaces every cluster has.
pub const BOOTSTRAP_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Namespaces that may never be deleted.
pub const UNDELETABLE_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// Server-side defaults of built-in kinds applied on create (what the real defaulting and
/// registry strategies add and what clients rely on).
pub fn default_on_create(rt: &ResourceType, obj: &mut Value) {
    normalize_secret(rt, obj);
    crate::defaults::apply(&rt.group, &rt.plural, obj, true);
    if (rt.group.as_str(), rt.plural.as_str()) == ("batch", "jobs") {
        let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_string();
        crate::defaults::job_selector(obj, &uid);
    }
    // The initial status kube-apiserver 1.37's strategies set (checked kind by kind).
    let initial_status = match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "services") => Some(serde_json::json!({"loadBalancer": {}})),
        ("apps", "statefulsets") => Some(serde_json::json!({"replicas": 0, "availableReplicas": 0})),
        ("apps", "deployments") | ("batch", "jobs" | "cronjobs") | ("", "resourcequotas") => {
            Some(serde_json::json!({}))
        }
        ("apps", "replicasets") => Some(serde_json::json!({"replicas": 0})),
        ("networking.k8s.io", "ingresses") => Some(serde_json::json!({"loadBalancer": {}})),
        ("policy", "poddisruptionbudgets") => Some(
            serde_json::json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}),
        ),
        _ => None,
    };
    if let (Some(status), Some(o)) = (initial_status, obj.as_object_mut()) {
        o.insert("status".into(), status);
    }
    if rt.group.is_empty() && rt.plural == "pods" {
        let qos = pod_qos_class(obj);
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), serde_json::json!({"phase": "Pending", "qosClass": qos}));
        }
    }
    if rt.group.is_empty() && rt.plural == "namespaces" {
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let labels = meta.entry("labels").or_insert_with(|| Value::Object(Default::default()));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), Value::String(name));
            }
        }
        if let Some(o) = obj.as_object_mut() {
            o.insert("spec".into(), serde_json::json!({"finalizers": ["kubernetes"]}));
            o.insert("status".into(), serde_json::json!({"phase": "Active"}));
        }
    }
}

/// A Secret's `stringData` is write-only: merged into `data` (base64) and dropped, and `type`
/// defaults to `Opaque`, on every create and update, as kube-apiserver's Secret strategy does.
pub fn normalize_secret(rt: &ResourceType, obj: &mut Value) {
    use base64::Engine;
    if !(rt.group.is_empty() && rt.plural == "secrets") {
        return;
    }
    let Some(o) = obj.as_object_mut() else { return };
    if let Some(Value::Object(strings)) = o.remove("stringData") {
        let data = o.entry("data").or_insert_with(|| Value::Object(Default::default()));
        if !data.is_object() {
            *data = Value::Object(Default::default());
        }
        if let Some(d) = data.as_object_mut() {
            for (k, v) in strings {
                let text = v.as_str().unwrap_or_default();
                d.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
            }
        }
    }
    o.entry("type").or_insert_with(|| Value::String("Opaque".into()));
}

/// The pod's QoS class from its containers' resources: BestEffort without any request or
/// limit, Guaranteed when every container limits cpu and memory with requests equal to limits
/// (or unset), Burstable otherwise.
fn pod_qos_class(pod: &Value) -> &'static str {
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
