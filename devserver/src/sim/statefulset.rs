//! SIMULATION: the StatefulSet controller of kube-controller-manager, reduced to what controllers
//! built on StatefulSets observe.
//!
//! For each StatefulSet (not being deleted) it keeps pods `<sts>-0 .. <sts>-(replicas-1)`
//! (shifted by `spec.ordinals.start` when set):
//! - a pod is created from `spec.template` (labels, annotations, spec) plus what the real
//!   controller adds: the labels `statefulset.kubernetes.io/pod-name` and
//!   `apps.kubernetes.io/pod-index`, `hostname` = pod name, `subdomain` = `spec.serviceName`, and a
//!   controller ownerReference (controller=true, blockOwnerDeletion=true);
//! - `OrderedReady` (the default): pod N is created only when pods 0..N-1 are Running and Ready,
//!   and scale-down (only while every retained pod is Running and Ready) deletes one pod at a
//!   time from the highest ordinal, waiting for it to be gone;
//!   `Parallel`: all missing pods are created and all surplus pods deleted at once;
//! - a pod deleted while still wanted is created again (that is how a StatefulSet heals);
//! - `status` (replicas, readyReplicas, currentReplicas, updatedReplicas, availableReplicas,
//!   observedGeneration) is written through the status subresource when it changed.
//!
//! Not simulated: revisions and rolling updates (template changes do not replace pods),
//! volumeClaimTemplates, minReadySeconds, adoption of orphan pods (a same-named pod owned by
//! someone else blocks the ordinal and is logged).

use super::Shared;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Runs the controller until its task is aborted.
pub(crate) async fn run(shared: Arc<Shared>) {
    loop {
        for sts in shared.statefulsets.state() {
            sync(&shared, &sts).await;
        }
        super::wait(&shared.wake.statefulset, Duration::from_secs(1)).await;
    }
}

/// Whether a pod is Running and its Ready condition is True.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else { return false };
    status.phase.as_deref() == Some("Running")
        && status.conditions.as_ref().is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The ordinal of a pod named `<sts>-<n>`.
fn ordinal(sts_name: &str, pod_name: &str) -> Option<i32> {
    let rest = pod_name.strip_prefix(sts_name)?.strip_prefix('-')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) || (rest.len() > 1 && rest.starts_with('0')) {
        return None;
    }
    rest.parse().ok()
}

async fn sync(shared: &Shared, sts: &StatefulSet) {
    let (Some(ns), Some(name), Some(uid)) =
        (sts.metadata.namespace.as_deref(), sts.metadata.name.as_deref(), sts.metadata.uid.as_deref())
    else {
        return;
    };
    if sts.metadata.deletion_timestamp.is_some() {
        return;
    }
    let spec = &sts.spec;
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
    let pods_in_ns: Vec<Arc<Pod>> =
        shared.pods.state().into_iter().filter(|p| p.metadata.namespace.as_deref() == Some(ns)).collect();
    let mut owned: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
    for pod in &pods_in_ns {
        let controlled = pod
            .metadata
            .owner_references
            .as_ref()
            .is_some_and(|refs| refs.iter().any(|r| r.controller == Some(true) && r.uid == uid));
        if let (true, Some(n)) = (controlled, pod.metadata.name.as_deref().and_then(|p| ordinal(name, p))) {
            owned.insert(n, pod.clone());
        }
    }
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), ns);

    // Scale up (and heal): create missing ordinals in order. With OrderedReady, a missing,
    // terminating or unhealthy pod stops the pass here, before any scale-down, as in the real
    // controller ("all predecessors Running and Ready").
    let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0).max(0);
    let end = start.saturating_add(replicas);
    let mut blocked = false;
    for n in start..end {
        match owned.get(&n) {
            Some(pod) => {
                if !parallel && (is_terminating(pod) || !is_running_and_ready(pod)) {
                    blocked = true;
                    break;
                }
            }
            None => {
                let pod_name = format!("{name}-{n}");
                if pods_in_ns.iter().any(|p| p.metadata.name.as_deref() == Some(pod_name.as_str())) {
                    tracing::warn!(statefulset = %format!("{ns}/{name}"), pod = %pod_name,
                        "simulated statefulset controller: a pod with this name exists but is not controlled by the StatefulSet; not adopting it");
                    blocked = true;
                    break;
                }
                create_pod(&api, sts, ns, name, uid, n).await;
                if !parallel {
                    blocked = true;
                    break;
                }
            }
        }
    }

    // Scale down: ordinals outside [start, start+replicas), highest first.
    let condemned: Vec<Arc<Pod>> =
        owned.iter().filter(|(n, _)| **n < start || **n >= end).rev().map(|(_, p)| p.clone()).collect();
    if parallel {
        for pod in condemned.iter().filter(|p| !is_terminating(p)) {
            delete_pod(&api, ns, name, pod).await;
        }
    } else if !blocked && let Some(target) = condemned.first() {
        // One at a time, waiting for it to be gone; an unhealthy target waits unless it is the
        // lowest unhealthy condemned pod (the real controller's firstUnhealthyPod rule).
        let first_unhealthy = condemned.iter().rev().find(|p| !is_running_and_ready(p));
        let healthy_or_first = is_running_and_ready(target) || first_unhealthy.is_some_and(|f| Arc::ptr_eq(f, target));
        if !is_terminating(target) && healthy_or_first {
            delete_pod(&api, ns, name, target).await;
        }
    }

    write_status(shared, sts, ns, name, &owned).await;
}

async fn create_pod(api: &Api<Pod>, sts: &StatefulSet, ns: &str, name: &str, uid: &str, n: i32) {
    let spec = &sts.spec;
    let Some(mut pod_spec) = spec.template.spec.clone() else {
        tracing::warn!(statefulset = %format!("{ns}/{name}"), "simulated statefulset controller: template has no spec");
        return;
    };
    let pod_name = format!("{name}-{n}");
    let template_meta = spec.template.metadata.clone().unwrap_or_default();
    let mut labels = template_meta.labels.unwrap_or_default();
    labels.insert("statefulset.kubernetes.io/pod-name".into(), pod_name.clone());
    labels.insert("apps.kubernetes.io/pod-index".into(), n.to_string());
    pod_spec.hostname = Some(pod_name.clone());
    if !spec.service_name.as_deref().unwrap_or_default().is_empty() {
        pod_spec.subdomain = spec.service_name.clone();
    }
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.clone()),
            namespace: Some(ns.to_string()),
            labels: Some(labels),
            annotations: template_meta.annotations,
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "StatefulSet".into(),
                name: name.to_string(),
                uid: uid.to_string(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec),
        status: None,
    };
    match api.create(&PostParams::default(), &pod).await {
        Ok(_) => {
            tracing::info!(statefulset = %format!("{ns}/{name}"), pod = %pod_name, "simulated statefulset controller: created pod")
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => {
            tracing::warn!(pod = %pod_name, error = %e, "simulated statefulset controller: create failed; will retry")
        }
    }
}

async fn delete_pod(api: &Api<Pod>, ns: &str, name: &str, pod: &Pod) {
    let Some(pod_name) = pod.metadata.name.as_deref() else { return };
    let params = DeleteParams {
        preconditions: pod
            .metadata
            .uid
            .clone()
            .map(|uid| kube::api::Preconditions { uid: Some(uid), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(pod_name, &params).await {
        Ok(_) => {
            tracing::info!(statefulset = %format!("{ns}/{name}"), pod = %pod_name, "simulated statefulset controller: deleted pod (scale down)")
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => {
            tracing::warn!(pod = %pod_name, error = %e, "simulated statefulset controller: delete failed; will retry")
        }
    }
}

async fn write_status(shared: &Shared, sts: &StatefulSet, ns: &str, name: &str, owned: &BTreeMap<i32, Arc<Pod>>) {
    let live: Vec<&Arc<Pod>> = owned.values().filter(|p| !is_terminating(p)).collect();
    let replicas = live.len() as i32;
    let ready = live.iter().filter(|p| is_running_and_ready(p)).count() as i32;
    let generation = sts.metadata.generation.unwrap_or(0);
    let current = sts.status.as_ref();
    let same = current.is_some_and(|s| {
        s.replicas == replicas
            && s.ready_replicas.unwrap_or(0) == ready
            && s.current_replicas.unwrap_or(0) == replicas
            && s.updated_replicas.unwrap_or(0) == replicas
            && s.available_replicas.unwrap_or(0) == ready
            && s.observed_generation.unwrap_or(0) == generation
    });
    if same {
        return;
    }
    let body = json!({"status": {
        "replicas": replicas,
        "readyReplicas": ready,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": ready,
        "observedGeneration": generation,
    }});
    let api: Api<StatefulSet> = Api::namespaced(shared.client.clone(), ns);
    match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&body)).await {
        Ok(_) => {
            tracing::debug!(statefulset = %format!("{ns}/{name}"), replicas, ready, "simulated statefulset controller: status")
        }
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => {
            tracing::warn!(statefulset = %format!("{ns}/{name}"), error = %e, "simulated statefulset controller: status write failed; will retry")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ordinal;

    #[test]
    fn ordinals_parse_only_exact_names() {
        assert_eq!(ordinal("web", "web-0"), Some(0));
        assert_eq!(ordinal("web", "web-12"), Some(12));
        assert_eq!(ordinal("web", "web-01"), None);
        assert_eq!(ordinal("web", "web-"), None);
        assert_eq!(ordinal("web", "web-x-1"), None);
        assert_eq!(ordinal("web", "webx-1"), None);
    }
}
