//! SIMULATION: a kubelet that "runs" every pod.
//!
//! A real kubelet pulls images, starts containers and reports through `pods/status`. This one
//! starts nothing (the bitcoind simulator is the only program that "runs", see
//! [`super::bitcoind`]); it only reports what a kubelet would: phase Running, a podIP (distinct,
//! loopback, see [`super::ipam`]), hostIP 127.0.0.1, containerStatuses, and the Ready and
//! ContainersReady conditions True once [`super::SimOptions::ready_delay`] has passed (the
//! simulated readiness probe). For a bitcoind pod the probe also needs its simulated bitcoind to
//! serve, as a real probe running `bitcoin-cli getnetworkinfo` would: it is not Ready before the
//! RPC server starts (e.g. while its Secret is missing) nor after `SimHandle::kill_node`.
//!
//! It is level-based: on every wake it compares each pod's status with what it should be and
//! writes (a merge patch on `pods/status`) only when they differ. For pods being deleted it
//! confirms a graceful deletion (delete with grace period 0, as the real kubelet does after
//! stopping containers); their addresses are freed once they are gone.

use super::ipam::PodRecord;
use super::{PodKey, Shared, bitcoind};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The simulated node's address (status.hostIP).
pub const HOST_IP: &str = "127.0.0.1";

/// Runs the kubelet until its task is aborted.
pub(crate) async fn run(shared: Arc<Shared>) {
    loop {
        let next = pass(&shared).await;
        super::wait(&shared.wake.kubelet, next.unwrap_or(Duration::from_secs(1)).min(Duration::from_secs(1))).await;
    }
}

/// One pass over all pods; returns how long until a pod is due to turn Ready.
async fn pass(shared: &Shared) -> Option<Duration> {
    let now = Instant::now();
    let mut next: Option<Duration> = None;
    let mut alive: HashSet<(PodKey, String)> = HashSet::new();
    for pod in shared.pods.state() {
        let (Some(key), Some(uid)) = (PodKey::of(&pod), pod.metadata.uid.clone()) else { continue };
        alive.insert((key.clone(), uid.clone()));
        if pod.metadata.deletion_timestamp.is_some() {
            finish_graceful_deletion(shared, &key, &pod).await;
            continue;
        }
        let port = bitcoind::is_bitcoind(&pod).then(|| bitcoind::rpc_port(&pod, shared.options.rpc_port));
        let Some(mut rec) = shared.ipam.ensure(&key, &uid, port, now + shared.options.ready_delay) else {
            tracing::warn!(pod = %key, "simulated kubelet: no free address in 127.0.0.0/8");
            continue;
        };
        // The readiness probe of a bitcoind pod is an RPC call: it passes only while the
        // simulated bitcoind serves (not before it starts, not after a kill).
        let probe_ok = !bitcoind::is_bitcoind(&pod) || shared.network.running_addr(&key).is_some();
        let ready = now >= rec.ready_at && probe_ok;
        if now < rec.ready_at {
            let due = rec.ready_at - now;
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        match (ready, rec.ready_since.is_some()) {
            (true, false) => {
                let t = super::now();
                shared.ipam.update(&key, |r| r.ready_since = Some(t.clone()));
                rec.ready_since = Some(t);
            }
            (false, true) => {
                shared.ipam.update(&key, |r| r.ready_since = None);
                rec.ready_since = None;
            }
            _ => {}
        }
        if !up_to_date(&pod, &rec, ready) {
            write_status(shared, &key, &pod, &rec, ready).await;
        }
    }
    shared.ipam.retain(&|k, r| alive.contains(&(k.clone(), r.uid.clone())));
    next
}

fn condition_status(pod: &Pod, kind: &str) -> Option<String> {
    let conds = pod.status.as_ref()?.conditions.as_ref()?;
    conds.iter().find(|c| c.type_ == kind).map(|c| c.status.clone())
}

/// Whether the pod's status already says what the kubelet would write.
fn up_to_date(pod: &Pod, rec: &PodRecord, ready: bool) -> bool {
    let Some(status) = pod.status.as_ref() else { return false };
    let want = if ready { "True" } else { "False" };
    let restarts_ok = status.container_statuses.as_ref().is_some_and(|cs| {
        cs.len() == pod.spec.as_ref().map_or(0, |s| s.containers.len())
            && cs.iter().all(|c| c.restart_count == rec.restarts)
    });
    status.phase.as_deref() == Some("Running")
        && status.pod_ip.as_deref() == Some(rec.ip.to_string().as_str())
        && condition_status(pod, "Ready").as_deref() == Some(want)
        && condition_status(pod, "ContainersReady").as_deref() == Some(want)
        && restarts_ok
}

/// The status a kubelet would report for a running pod.
fn desired_status(pod: &Pod, rec: &PodRecord, ready: bool) -> Value {
    let ip = rec.ip.to_string();
    let started = &rec.started_at;
    let ready_time = rec.ready_since.clone().unwrap_or_else(|| started.clone());
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let containers: Vec<Value> = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let image = c.image.clone().unwrap_or_default();
            json!({
                "name": c.name,
                "image": image,
                "imageID": format!("sim://{image}"),
                "containerID": format!("sim://{uid}/{}", c.name),
                "ready": ready,
                "started": true,
                "restartCount": rec.restarts,
                "state": {"running": {"startedAt": started}},
            })
        })
        .collect();
    let not_ready_reason = |kind: &str| {
        if ready {
            json!({"type": kind, "status": "True", "lastTransitionTime": ready_time})
        } else {
            json!({"type": kind, "status": "False", "lastTransitionTime": ready_time,
                   "reason": "ContainersNotReady", "message": "simulated readiness probe has not succeeded yet"})
        }
    };
    json!({
        "phase": "Running",
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": started,
        "qosClass": "BestEffort",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": started},
            {"type": "Initialized", "status": "True", "lastTransitionTime": started},
            not_ready_reason("Ready"),
            not_ready_reason("ContainersReady"),
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
        ],
        "containerStatuses": containers,
    })
}

/// A real API server deletes pods gracefully: it only sets deletionTimestamp and
/// deletionGracePeriodSeconds, and the kubelet, once the containers are stopped, confirms with a
/// delete with grace period 0 (uid precondition). The simulated containers stop at once (the
/// bitcoind simulator drops terminating pods), so confirm right away. Servers that delete at once,
/// or that already set the grace period to 0 (finalizers pending), need nothing.
async fn finish_graceful_deletion(shared: &Shared, key: &PodKey, pod: &Pod) {
    if pod.metadata.deletion_grace_period_seconds.unwrap_or(0) == 0 {
        return;
    }
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &key.namespace);
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: pod.metadata.uid.clone().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(&key.name, &params).await {
        Ok(_) => tracing::info!(pod = %key, "simulated kubelet: containers stopped; confirmed graceful deletion"),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => tracing::warn!(pod = %key, error = %e, "simulated kubelet: confirming deletion failed; will retry"),
    }
}

async fn write_status(shared: &Shared, key: &PodKey, pod: &Pod, rec: &PodRecord, ready: bool) {
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &key.namespace);
    let body = json!({"status": desired_status(pod, rec, ready)});
    match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body)).await {
        Ok(_) => tracing::info!(pod = %key, ip = %rec.ip, ready, "simulated kubelet: pod Running"),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => tracing::warn!(pod = %key, error = %e, "simulated kubelet: status write failed; will retry"),
    }
}
