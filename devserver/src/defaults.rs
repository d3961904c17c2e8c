//! Defaulting of built-in kinds, as kube-apiserver 1.37 applies it to every object it decodes
//! for a write (its `SetDefaults_*` functions, plus what the Job strategy and the Priority and
//! DefaultTolerationSeconds admission plugins add). Only absent fields are filled, so defaulting
//! twice changes nothing. Values are those kube-apiserver v1.37.2 answered (see the conformance
//! case `workloads_are_defaulted_like_kube_apiserver`).
//!
//! Services' allocated values are their strategy's (`strategy::services`). Not covered:
//! PersistentVolumeClaims outside StatefulSet templates, and the ServiceAccount admission plugin
//! (the reference control plane runs without the controllers that create the `default` account).

use serde_json::{Map, Value, json};

/// Fills the defaults of `obj`, a `group`/`plural` object; `create` adds what admission plugins
/// add to new objects only.
pub fn apply(group: &str, plural: &str, obj: &mut Value, create: bool) {
    let Some(o) = obj.as_object_mut() else { return };
    match (group, plural) {
        ("", "pods") => {
            if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
                pod_spec(spec);
                set(spec, "enableServiceLinks", json!(true));
                if create {
                    admitted_pod(spec);
                }
            }
        }
        ("apps", "deployments") => with(o, "spec", |spec| {
            set(spec, "replicas", json!(1));
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "progressDeadlineSeconds", json!(600));
            with(spec, "strategy", |strategy| {
                set(strategy, "type", json!("RollingUpdate"));
                if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                    with(strategy, "rollingUpdate", |rolling| {
                        set(rolling, "maxSurge", json!("25%"));
                        set(rolling, "maxUnavailable", json!("25%"));
                    });
                }
            });
            template(spec);
        }),
        ("apps", "replicasets") => with(o, "spec", |spec| {
            set(spec, "replicas", json!(1));
            template(spec);
        }),
        ("apps", "statefulsets") => with(o, "spec", |spec| {
            set(spec, "replicas", json!(1));
            set(spec, "podManagementPolicy", json!("OrderedReady"));
            set(spec, "revisionHistoryLimit", json!(10));
            with(spec, "updateStrategy", |strategy| {
                set(strategy, "type", json!("RollingUpdate"));
                if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                    with(strategy, "rollingUpdate", |rolling| {
                        set(rolling, "partition", json!(0));
                        set(rolling, "maxUnavailable", json!(1));
                    });
                }
            });
            with(spec, "persistentVolumeClaimRetentionPolicy", |retention| {
                set(retention, "whenDeleted", json!("Retain"));
                set(retention, "whenScaled", json!("Retain"));
            });
            for claim in array(spec, "volumeClaimTemplates") {
                if let Some(c) = claim.as_object_mut() {
                    set(c, "apiVersion", json!("v1"));
                    set(c, "kind", json!("PersistentVolumeClaim"));
                    with(c, "spec", |s| set(s, "volumeMode", json!("Filesystem")));
                    with(c, "status", |s| set(s, "phase", json!("Pending")));
                }
            }
            template(spec);
        }),
        ("batch", "jobs") => with(o, "spec", job_spec),
        ("batch", "cronjobs") => with(o, "spec", |spec| {
            set(spec, "concurrencyPolicy", json!("Allow"));
            set(spec, "suspend", json!(false));
            set(spec, "successfulJobsHistoryLimit", json!(3));
            set(spec, "failedJobsHistoryLimit", json!(1));
            with(spec, "jobTemplate", |job| with(job, "spec", template));
        }),
        ("", "events") => {
            // Not defaults but Go's JSON: these core/v1 Event fields have no `omitempty`.
            for (k, v) in [
                ("eventTime", Value::Null),
                ("firstTimestamp", Value::Null),
                ("lastTimestamp", Value::Null),
                ("reportingComponent", json!("")),
                ("reportingInstance", json!("")),
                ("source", json!({})),
            ] {
                o.entry(k).or_insert(v);
            }
        }
        ("", "services") => with(o, "spec", service_spec),
        ("scheduling.k8s.io", "priorityclasses") => set(o, "preemptionPolicy", json!("PreemptLowerPriority")),
        _ => {}
    }
}

/// `SetDefaults_Service`: session affinity, type, port protocols and target ports, and the
/// traffic policies and load-balancer node ports the type uses.
fn service_spec(spec: &mut Map<String, Value>) {
    set(spec, "sessionAffinity", json!("None"));
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        with(spec, "sessionAffinityConfig", |c| with(c, "clientIP", |ip| set(ip, "timeoutSeconds", json!(10800))));
    }
    set(spec, "type", json!("ClusterIP"));
    for port in array(spec, "ports") {
        if let Some(p) = port.as_object_mut() {
            set(p, "protocol", json!("TCP"));
            let unset = p.get("targetPort").is_none_or(|t| t == &json!(0) || t == &json!(""));
            if unset && let Some(n) = p.get("port").cloned() {
                p.insert("targetPort".into(), n);
            }
        }
    }
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        set(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(ty.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        set(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

/// The Job strategy's selector and labels for a new Job with uid `uid` (unless
/// `spec.manualSelector` is true): `batch.kubernetes.io/controller-uid` selects its pods, and the
/// pod template and the Job itself carry the uid and name labels.
pub fn job_selector(obj: &mut Value, uid: &str) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    let Some(o) = obj.as_object_mut() else { return };
    let mut template_labels = None;
    with(o, "spec", |spec| {
        if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
            return;
        }
        set(spec, "manualSelector", json!(false));
        let labels = [
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name.as_str()),
            ("controller-uid", uid),
            ("job-name", name.as_str()),
        ];
        with(spec, "template", |t| {
            with(t, "metadata", |m| {
                with(m, "labels", |l| {
                    for (k, v) in labels {
                        set(l, k, json!(v));
                    }
                    template_labels = Some(l.clone());
                })
            })
        });
        spec.insert("selector".into(), json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
    });
    let Some(template_labels) = template_labels else { return };
    with(o, "metadata", |meta| {
        if meta.get("labels").and_then(Value::as_object).is_none_or(Map::is_empty) {
            meta.insert("labels".into(), Value::Object(template_labels));
        }
    });
}

fn job_spec(spec: &mut Map<String, Value>) {
    if spec.get("completions").is_none() && spec.get("parallelism").is_none() {
        spec.insert("completions".into(), json!(1));
    }
    set(spec, "parallelism", json!(1));
    set(spec, "backoffLimit", json!(6));
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    if spec.get("podFailurePolicy").is_none() {
        set(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    } else {
        set(spec, "podReplacementPolicy", json!("Failed"));
    }
    template(spec);
}

/// A workload's `template`: its metadata is always written, its pod spec defaulted.
fn template(spec: &mut Map<String, Value>) {
    with(spec, "template", |t| {
        with(t, "metadata", |_| {});
        with(t, "spec", pod_spec);
    });
}

fn pod_spec(spec: &mut Map<String, Value>) {
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "restartPolicy", json!("Always"));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "securityContext", json!({}));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in array(spec, list) {
            if let Some(c) = c.as_object_mut() {
                container(c);
            }
        }
    }
    for v in array(spec, "volumes") {
        for source in ["configMap", "secret", "downwardAPI", "projected"] {
            if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut) {
                set(s, "defaultMode", json!(0o644));
            }
        }
    }
}

/// What the Priority and DefaultTolerationSeconds admission plugins add to a new Pod.
fn admitted_pod(spec: &mut Map<String, Value>) {
    set(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    set(spec, "priority", json!(0));
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else { return };
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let tolerated = list.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str);
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let op_exists = t.get("operator").and_then(Value::as_str) == Some("Exists");
            (k == Some(key) || (k.is_none() && op_exists)) && (effect.is_empty() || effect == "NoExecute")
        });
        if !tolerated {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
    set(c, "imagePullPolicy", json!(if pulls_always(image) { "Always" } else { "IfNotPresent" }));
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    set(c, "resources", json!({}));
    for p in array(c, "ports") {
        if let Some(p) = p.as_object_mut() {
            set(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            set(p, "timeoutSeconds", json!(1));
            set(p, "periodSeconds", json!(10));
            set(p, "successThreshold", json!(1));
            set(p, "failureThreshold", json!(3));
            if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                set(h, "scheme", json!("HTTP"));
            }
        }
    }
    for e in array(c, "env") {
        if let Some(f) = e.pointer_mut("/valueFrom/fieldRef").and_then(Value::as_object_mut) {
            set(f, "apiVersion", json!("v1"));
        }
    }
}

/// `Always` for an image without a tag or digest, or tagged `latest`.
fn pulls_always(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

fn set(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.into(), value);
    }
}

/// Runs `f` on the object at `key`, created when absent or null. A value of another type is
/// left alone for the kind's decoding to refuse (400), as kube-apiserver does.
fn with(m: &mut Map<String, Value>, key: &str, f: impl FnOnce(&mut Map<String, Value>)) {
    let v = m.entry(key).or_insert(Value::Null);
    if v.is_null() {
        *v = json!({});
    }
    if let Value::Object(o) = v {
        f(o);
    }
}

/// The elements of the array at `key` (none when absent).
fn array<'a>(m: &'a mut Map<String, Value>, key: &str) -> impl Iterator<Item = &'a mut Value> {
    m.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert!(pulls_always("nginx"));
        assert!(pulls_always("nginx:latest"));
        assert!(pulls_always("registry:5000/nginx"));
        assert!(!pulls_always("registry:5000/nginx:1.25"));
        assert!(!pulls_always("nginx@sha256:abc"));
    }

    #[test]
    fn defaulting_twice_changes_nothing_and_keeps_set_values() {
        let mut d =
            json!({"spec": {"replicas": 0, "template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}});
        apply("apps", "deployments", &mut d, true);
        let once = d.clone();
        apply("apps", "deployments", &mut d, true);
        assert_eq!(d, once);
        assert_eq!(d["spec"]["replicas"], 0);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn values_of_the_wrong_type_are_left_for_decoding_to_refuse() {
        let mut d = json!({"spec": {"strategy": "fast", "template": 3}});
        apply("apps", "deployments", &mut d, true);
        assert_eq!((&d["spec"]["strategy"], &d["spec"]["template"]), (&json!("fast"), &json!(3)));
        let mut j = json!({"metadata": {"name": "j"}, "spec": "x"});
        job_selector(&mut j, "u");
        assert_eq!(j, json!({"metadata": {"name": "j"}, "spec": "x"}));
    }

    #[test]
    fn a_recreate_strategy_gets_no_rolling_update() {
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply("apps", "deployments", &mut d, true);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    }
}
