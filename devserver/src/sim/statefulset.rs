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
//! - revisions: the template's hash names the update revision `<sts>-<hash>`, which pods carry in
//!   the `controller-revision-hash` label (so, as in Kubernetes, a StatefulSet name longer than
//!   52 characters makes pod labels invalid); with the `RollingUpdate` strategy (the default) a
//!   template change replaces pods one at a time from the highest ordinal down, each only when
//!   every pod is Running and Ready, and not below `rollingUpdate.partition`; `OnDelete`
//!   replaces nothing (a deleted pod comes back at the new revision);
//! - `status` (replicas, readyReplicas, currentReplicas, updatedReplicas, availableReplicas,
//!   currentRevision, updateRevision, observedGeneration) is written through the status
//!   subresource when it changed.
//!
//! Not simulated: ControllerRevision objects (the revision is recomputed from the template),
//! `maxUnavailable` (always 1), volumeClaimTemplates, minReadySeconds, adoption of orphan pods (a
//! same-named pod owned by someone else blocks the ordinal and is logged).

use super::Shared;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
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

/// The label holding the revision a pod was created from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The update revision of `sts`: `<name>-<hash of the pod template>`. (kube-controller-manager
/// hashes the template with FNV-32a into up to 10 characters; any stable hash of the template
/// serves what clients observe: the name changes exactly when the template does.)
pub fn update_revision(sts: &StatefulSet) -> String {
    let template = serde_json::to_string(&sts.spec.template).unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    template.hash(&mut h);
    let name = sts.metadata.name.as_deref().unwrap_or_default();
    format!("{name}-{:08x}", h.finish() as u32)
}

fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata.labels.as_ref()?.get(REVISION_LABEL).map(String::as_str)
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
    let revision = update_revision(sts);

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
                create_pod(&api, sts, ns, name, uid, n, &revision).await;
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
            delete_pod(&api, ns, name, pod, "scale down").await;
        }
    } else if !blocked && let Some(target) = condemned.first() {
        // One at a time, waiting for it to be gone; an unhealthy target waits unless it is the
        // lowest unhealthy condemned pod (the real controller's firstUnhealthyPod rule).
        let first_unhealthy = condemned.iter().rev().find(|p| !is_running_and_ready(p));
        let healthy_or_first = is_running_and_ready(target) || first_unhealthy.is_some_and(|f| Arc::ptr_eq(f, target));
        if !is_terminating(target) && healthy_or_first {
            delete_pod(&api, ns, name, target, "scale down").await;
        }
    }

    if condemned.is_empty() && !blocked {
        rolling_update(&api, sts, ns, name, &owned, start..end, &revision).await;
    }
    write_status(shared, sts, ns, name, &owned, &revision).await;
}

/// One step of a `RollingUpdate`: when every pod exists, none is terminating and all are
/// Running and Ready, the highest ordinal (at or above the partition) not at `revision` is
/// deleted; the scale-up pass recreates it from the current template, and the next step waits
/// until it is Ready again.
async fn rolling_update(
    api: &Api<Pod>,
    sts: &StatefulSet,
    ns: &str,
    name: &str,
    owned: &BTreeMap<i32, Arc<Pod>>,
    ordinals: std::ops::Range<i32>,
    revision: &str,
) {
    let strategy = sts.spec.update_strategy.as_ref();
    if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return;
    }
    let partition = strategy.and_then(|s| s.rolling_update.as_ref()).and_then(|r| r.partition).unwrap_or(0).max(0);
    let pods: Vec<&Arc<Pod>> = ordinals.clone().filter_map(|n| owned.get(&n)).collect();
    let settled = pods.len() == ordinals.len() && pods.iter().all(|p| !is_terminating(p) && is_running_and_ready(p));
    if !settled {
        return;
    }
    let start = ordinals.start;
    let outdated = ordinals
        .rev()
        .filter(|n| n - start >= partition)
        .filter_map(|n| owned.get(&n))
        .find(|p| revision_of(p) != Some(revision));
    if let Some(pod) = outdated {
        delete_pod(api, ns, name, pod, "rolling update").await;
    }
}

async fn create_pod(api: &Api<Pod>, sts: &StatefulSet, ns: &str, name: &str, uid: &str, n: i32, revision: &str) {
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
    labels.insert(REVISION_LABEL.into(), revision.to_string());
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

async fn delete_pod(api: &Api<Pod>, ns: &str, name: &str, pod: &Pod, why: &str) {
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
            tracing::info!(statefulset = %format!("{ns}/{name}"), pod = %pod_name, why, "simulated statefulset controller: deleted pod")
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => {
            tracing::warn!(pod = %pod_name, error = %e, "simulated statefulset controller: delete failed; will retry")
        }
    }
}

async fn write_status(
    shared: &Shared,
    sts: &StatefulSet,
    ns: &str,
    name: &str,
    owned: &BTreeMap<i32, Arc<Pod>>,
    revision: &str,
) {
    let live: Vec<&Arc<Pod>> = owned.values().filter(|p| !is_terminating(p)).collect();
    let replicas = live.len() as i32;
    let ready = live.iter().filter(|p| is_running_and_ready(p)).count() as i32;
    let updated = live.iter().filter(|p| revision_of(p) == Some(revision)).count() as i32;
    let generation = sts.metadata.generation.unwrap_or(0);
    let current = sts.status.as_ref();
    // The current revision moves to the update revision once every pod runs it.
    let previous = current.and_then(|s| s.current_revision.clone()).filter(|r| !r.is_empty());
    let current_revision = match previous {
        Some(r) if updated < replicas => r,
        _ => revision.to_string(),
    };
    let current_replicas = if current_revision == revision {
        updated
    } else {
        live.iter().filter(|p| revision_of(p) == Some(current_revision.as_str())).count() as i32
    };
    let same = current.is_some_and(|s| {
        s.replicas == replicas
            && s.ready_replicas.unwrap_or(0) == ready
            && s.current_replicas.unwrap_or(0) == current_replicas
            && s.updated_replicas.unwrap_or(0) == updated
            && s.available_replicas.unwrap_or(0) == ready
            && s.current_revision.as_deref() == Some(current_revision.as_str())
            && s.update_revision.as_deref() == Some(revision)
            && s.observed_generation.unwrap_or(0) == generation
    });
    if same {
        return;
    }
    let body = json!({"status": {
        "replicas": replicas,
        "readyReplicas": ready,
        "currentReplicas": current_replicas,
        "updatedReplicas": updated,
        "availableReplicas": ready,
        "currentRevision": current_revision,
        "updateRevision": revision,
        "observedGeneration": generation,
    }});
    let api: Api<StatefulSet> = Api::namespaced(shared.client.clone(), ns);
    match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&body)).await {
        Ok(_) => {
            tracing::debug!(statefulset = %format!("{ns}/{name}"), replicas, ready, updated, "simulated statefulset controller: status")
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
