//! The built-in kinds the controller and kubectl need, each decoded into its k8s-openapi type so a
//! malformed object gets a 400 instead of being stored (or crashing anything).

use crate::resource::ResourceType;
use k8s_openapi::api::{apps, authorization, batch, coordination, core, events, networking, policy, rbac, scheduling};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How a built-in type is decoded and described.
struct Typed {
    decode: crate::resource::DecodeCheck,
    schema: crate::resource::OpenApiSchema,
}

fn typed<T: DeserializeOwned + serde::Serialize + schemars::JsonSchema>() -> Typed {
    Typed { decode: check::<T>, schema: subschema::<T> }
}

/// The OpenAPI schema of `T` (a reference, its definitions registered in `g`).
fn subschema<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

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
    typed: Typed,
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
        decode: Some(typed.decode),
        openapi: Some(typed.schema),
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
fn review(kind: &str, plural: &str, typed: Typed) -> ResourceType {
    let mut t = rt("authorization.k8s.io", kind, plural, false, &[], false, false, typed);
    t.review = true;
    t
}

/// Every built-in resource served, in discovery order.
pub fn builtin_types() -> Vec<ResourceType> {
    vec![
        rt("", "Namespace", "namespaces", false, &["ns"], false, true, typed::<core::v1::Namespace>()),
        rt("", "Node", "nodes", false, &["no"], false, true, typed::<core::v1::Node>()),
        rt("", "Pod", "pods", true, &["po"], true, true, typed::<core::v1::Pod>()),
        rt("", "Service", "services", true, &["svc"], true, true, typed::<core::v1::Service>()),
        rt("", "Secret", "secrets", true, &[], false, false, typed::<core::v1::Secret>()),
        rt("", "ConfigMap", "configmaps", true, &["cm"], false, false, typed::<core::v1::ConfigMap>()),
        rt("", "ServiceAccount", "serviceaccounts", true, &["sa"], false, false, typed::<core::v1::ServiceAccount>()),
        rt("", "Event", "events", true, &["ev"], false, false, typed::<core::v1::Event>()),
        rt("", "ResourceQuota", "resourcequotas", true, &["quota"], false, true, typed::<core::v1::ResourceQuota>()),
        scaled(rt("apps", "StatefulSet", "statefulsets", true, &["sts"], true, true, typed::<apps::v1::StatefulSet>())),
        scaled(rt("apps", "Deployment", "deployments", true, &["deploy"], true, true, typed::<apps::v1::Deployment>())),
        scaled(rt("apps", "ReplicaSet", "replicasets", true, &["rs"], true, true, typed::<apps::v1::ReplicaSet>())),
        rt(
            "apps",
            "ControllerRevision",
            "controllerrevisions",
            true,
            &[],
            false,
            false,
            typed::<apps::v1::ControllerRevision>(),
        ),
        rt("events.k8s.io", "Event", "events", true, &["ev"], false, false, typed::<events::v1::Event>()),
        rt("coordination.k8s.io", "Lease", "leases", true, &[], false, false, typed::<coordination::v1::Lease>()),
        rt("rbac.authorization.k8s.io", "Role", "roles", true, &[], false, false, typed::<rbac::v1::Role>()),
        rt(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            "clusterroles",
            false,
            &[],
            false,
            false,
            typed::<rbac::v1::ClusterRole>(),
        ),
        rt(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            "rolebindings",
            true,
            &[],
            false,
            false,
            typed::<rbac::v1::RoleBinding>(),
        ),
        rt(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
            &[],
            false,
            false,
            typed::<rbac::v1::ClusterRoleBinding>(),
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
                typed::<CustomResourceDefinition>(),
            );
            crd.singular = "customresourcedefinition".into();
            crd
        },
        review(
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            typed::<authorization::v1::SelfSubjectAccessReview>(),
        ),
        review(
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            typed::<authorization::v1::SelfSubjectRulesReview>(),
        ),
        rt("batch", "Job", "jobs", true, &[], true, true, typed::<batch::v1::Job>()),
        rt("batch", "CronJob", "cronjobs", true, &["cj"], true, true, typed::<batch::v1::CronJob>()),
        rt(
            "networking.k8s.io",
            "Ingress",
            "ingresses",
            true,
            &["ing"],
            false,
            true,
            typed::<networking::v1::Ingress>(),
        ),
        rt(
            "policy",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
            &["pdb"],
            false,
            true,
            typed::<policy::v1::PodDisruptionBudget>(),
        ),
        rt(
            "scheduling.k8s.io",
            "PriorityClass",
            "priorityclasses",
            false,
            &["pc"],
            false,
            false,
            typed::<scheduling::v1::PriorityClass>(),
        ),
    ]
}

/// The bootstrap namespaces every cluster has.
pub const BOOTSTRAP_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];
