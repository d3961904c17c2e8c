//! The strategies of the built-in kinds without hooks of their own beyond defaulting, an
//! initial status and a few registry facts (checked kind by kind against kube-apiserver 1.37),
//! plus Jobs (a generated selector, orphaning by default) and ConfigMaps and Secrets (key rules,
//! `stringData`).

use super::Strategy;
use crate::app::App;
use crate::error::Cause;
use crate::resource::ResourceType;
use serde_json::{Value, json};

/// A built-in kind whose strategy is defaulting, an initial status and registry facts.
pub(super) struct Builtin {
    /// Whether `metadata.generation` is kept.
    generation: bool,
    /// Whether a completed delete answers with the object.
    returns_deleted_object: bool,
    /// The status a new object starts with, as JSON (whatever the request said).
    initial_status: Option<&'static str>,
    /// Whether a change of the annotations moves the generation on too (Deployments: their
    /// annotations are copied to their ReplicaSets).
    annotations_in_generation: bool,
}

impl Builtin {
    const fn new(generation: bool, returns_deleted_object: bool, initial_status: Option<&'static str>) -> Self {
        Self { generation, returns_deleted_object, initial_status, annotations_in_generation: false }
    }

    const fn with_annotations_in_generation(self) -> Self {
        Self { annotations_in_generation: true, ..self }
    }
}

/// Kinds without a spec/status split (or whose strategy keeps no generation).
const PLAIN: Builtin = Builtin::new(false, false, None);

/// The strategy of the built-in `group`/`plural` without a module of its own.
pub(super) fn of(group: &str, plural: &str) -> &'static dyn Strategy {
    const DEPLOYMENTS: Builtin = Builtin::new(true, false, Some("{}")).with_annotations_in_generation();
    const REPLICA_SETS: Builtin = Builtin::new(true, false, Some(r#"{"replicas": 0}"#));
    const STATEFUL_SETS: Builtin = Builtin::new(true, false, Some(r#"{"replicas": 0, "availableReplicas": 0}"#));
    const CRON_JOBS: Builtin = Builtin::new(true, false, Some("{}"));
    const INGRESSES: Builtin = Builtin::new(true, false, Some(r#"{"loadBalancer": {}}"#));
    const DISRUPTION_BUDGETS: Builtin = Builtin::new(
        true,
        false,
        Some(r#"{"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}"#),
    );
    const PRIORITY_CLASSES: Builtin = Builtin::new(true, false, None);
    const RESOURCE_QUOTAS: Builtin = Builtin::new(false, true, Some("{}"));
    const SERVICE_ACCOUNTS: Builtin = Builtin::new(false, true, None);
    match (group, plural) {
        ("apps", "deployments") => &DEPLOYMENTS,
        ("apps", "replicasets") => &REPLICA_SETS,
        ("apps", "statefulsets") => &STATEFUL_SETS,
        ("batch", "jobs") => &Jobs,
        ("batch", "cronjobs") => &CRON_JOBS,
        ("networking.k8s.io", "ingresses") => &INGRESSES,
        ("policy", "poddisruptionbudgets") => &DISRUPTION_BUDGETS,
        ("scheduling.k8s.io", "priorityclasses") => &PRIORITY_CLASSES,
        ("", "resourcequotas") => &RESOURCE_QUOTAS,
        ("", "serviceaccounts") => &SERVICE_ACCOUNTS,
        ("", "configmaps") => &Config { secret: false },
        ("", "secrets") => &Config { secret: true },
        _ => &PLAIN,
    }
}

impl Strategy for Builtin {
    fn prepare_for_create(&self, _app: &App, rt: &ResourceType, obj: &mut Value) {
        crate::defaults::apply(&rt.group, &rt.plural, obj, true);
        if let (Some(status), Some(o)) = (self.initial_status, obj.as_object_mut()) {
            o.insert("status".into(), serde_json::from_str(status).unwrap_or_else(|_| json!({})));
        }
    }

    fn prepare_for_update(&self, rt: &ResourceType, _old: &Value, new: &mut Value, _sub: Option<&str>) {
        crate::defaults::apply(&rt.group, &rt.plural, new, false);
    }

    fn has_generation(&self) -> bool {
        self.generation
    }

    fn generation_moves(&self, rt: &ResourceType, old: &Value, new: &Value) -> bool {
        // Compared as Go's semantic equality does: no annotations and none at all are equal.
        let annotations = |o: &Value| o.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({}));
        super::spec_changed(rt, old, new) || (self.annotations_in_generation && annotations(old) != annotations(new))
    }

    fn returns_deleted_object(&self) -> bool {
        self.returns_deleted_object
    }
}

/// batch/v1 Jobs: the selector and labels generated from the uid, and orphaned pods on a
/// delete without a policy (kept so for old clients).
struct Jobs;

impl Strategy for Jobs {
    fn prepare_for_create(&self, app: &App, rt: &ResourceType, obj: &mut Value) {
        const JOBS: Builtin = Builtin::new(true, false, Some("{}"));
        JOBS.prepare_for_create(app, rt, obj);
        let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_string();
        crate::defaults::job_selector(obj, &uid);
    }

    fn prepare_for_update(&self, rt: &ResourceType, old: &Value, new: &mut Value, _sub: Option<&str>) {
        PLAIN.prepare_for_update(rt, old, new, None);
    }

    fn has_generation(&self) -> bool {
        true
    }

    fn orphans_by_default(&self) -> bool {
        true
    }
}

/// ConfigMaps and Secrets: key rules and the size limit; a Secret's write-only `stringData`.
struct Config {
    secret: bool,
}

impl Strategy for Config {
    fn prepare_for_create(&self, _app: &App, _rt: &ResourceType, obj: &mut Value) {
        if self.secret {
            normalize_secret(obj);
        }
    }

    fn prepare_for_update(&self, _rt: &ResourceType, _old: &Value, new: &mut Value, _sub: Option<&str>) {
        if self.secret {
            normalize_secret(new);
        }
    }

    fn validate(&self, rt: &ResourceType, obj: &Value, _old: Option<&Value>) -> Vec<Cause> {
        crate::validation::config_data(&rt.kind, obj)
    }
}

/// A Secret's `stringData` is write-only: merged into `data` (base64) and dropped, and `type`
/// defaults to `Opaque`, on every create and update, as kube-apiserver's Secret strategy does.
fn normalize_secret(obj: &mut Value) {
    use base64::Engine;
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
