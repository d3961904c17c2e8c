//! The garbage collector for ownerReferences: kube-controller-manager's, client-side. It runs
//! with `--gc` (off by default, like envtest, where kube-controller-manager is absent) and as
//! part of the simulation ([`crate::sim`]); one implementation for both.
//!
//! Like the real one it discovers every resource the server serves (aggregated discovery,
//! repeated when a CRD changes and every few seconds, so kinds installed later are covered),
//! keeps a watch cache of each one that can be listed, watched and deleted (except Events), and
//! converges on every change:
//! - **background**: an object whose ownerReferences all name owners that no longer exist
//!   (matched by uid; confirmed by a live GET before acting) is deleted; when only some owners
//!   are gone, the dangling references are removed;
//! - **foreground**: for an owner being deleted with the `foregroundDeletion` finalizer, its
//!   dependents are deleted (in foreground themselves, so the cascade goes down), and once no
//!   dependent with `blockOwnerDeletion: true` is left the finalizer is removed, which lets the
//!   server delete the owner;
//! - **orphan**: for an owner being deleted with the `orphan` finalizer, the owner's reference is
//!   removed from its dependents, then the finalizer.
//!
//! - **namespaces** (the namespace controller's part, [`namespaces`]): a namespace being deleted
//!   loses its content, then its `kubernetes` finalizer, so it goes away as in a cluster.
//!
//! Every write carries a uid precondition or a resourceVersion, so acting on a stale cache fails
//! with 409 and is retried on the next pass rather than hitting the wrong object.

mod namespaces;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::discovery::{ApiResource, Discovery, Scope, verbs};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The finalizer of a foreground deletion.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer of an orphaning deletion.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// How often discovery is repeated to pick up new resources (CRDs).
const REDISCOVERY: Duration = Duration::from_secs(3);

/// One watched resource.
struct Watched {
    resource: ApiResource,
    store: Store<DynamicObject>,
    task: JoinHandle<()>,
}

/// The watch caches; aborts their tasks when dropped (the collector's task was aborted).
#[derive(Default)]
struct Caches(HashMap<String, Watched>);

impl Drop for Caches {
    fn drop(&mut self) {
        for w in self.0.values() {
            w.task.abort();
        }
    }
}

/// An object in a cache, with the resource it belongs to.
struct Entry {
    resource: ApiResource,
    object: Arc<DynamicObject>,
}

/// Runs the collector until its task is aborted. With a `namespace`, namespaced dependents are
/// watched in that namespace only (cluster-scoped kinds are always watched: they can be owners).
pub(crate) async fn run(client: kube::Client, namespace: Option<String>) {
    let wake = Arc::new(Notify::new());
    let mut caches = Caches::default();
    let mut kinds = Kinds::default();
    let mut discovered_at: Option<Instant> = None;
    let mut crds_seen: Vec<(String, String)> = Vec::new();
    loop {
        // Rediscover periodically, and at once when a CRD changes (created, Established,
        // deleted), so new kinds are covered without waiting.
        let crds = crd_fingerprint(&caches);
        if discovered_at.is_none_or(|t| t.elapsed() >= REDISCOVERY) || crds != crds_seen {
            discovered_at = Some(Instant::now());
            crds_seen = crds;
            match discover(&client).await {
                Ok(d) => {
                    watch_new_resources(&client, namespace.as_deref(), &d, &mut caches, &wake);
                    kinds.learn(&d);
                }
                Err(e) => tracing::warn!(error = %e, "garbage collector: discovery failed; will retry"),
            }
        }
        if !kinds.0.is_empty() {
            collect(&client, &kinds, &caches).await;
            if namespace.is_none() {
                namespaces::finalize(&client, &caches).await;
            }
        }
        // Woken by a cache change, or every second; the short pause lets a burst of changes in.
        let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Names and resourceVersions of the cached CRDs.
fn crd_fingerprint(caches: &Caches) -> Vec<(String, String)> {
    let Some(w) = caches.0.get("apiextensions.k8s.io/v1/customresourcedefinitions") else { return Vec::new() };
    let mut fp: Vec<(String, String)> = w
        .store
        .state()
        .iter()
        .map(|o| (o.metadata.name.clone().unwrap_or_default(), o.metadata.resource_version.clone().unwrap_or_default()))
        .collect();
    fp.sort();
    fp
}

async fn discover(client: &kube::Client) -> kube::Result<Discovery> {
    match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => Ok(d),
        Err(_) => Discovery::new(client.clone()).run().await,
    }
}

fn resource_key(ar: &ApiResource) -> String {
    format!("{}/{}", ar.api_version, ar.plural)
}

/// Starts a watch cache for every newly served resource and drops the caches of resources no
/// longer served (a deleted CRD), whose stale objects would otherwise look like live owners.
fn watch_new_resources(
    client: &kube::Client,
    namespace: Option<&str>,
    discovery: &Discovery,
    caches: &mut Caches,
    wake: &Arc<Notify>,
) {
    let served: HashSet<String> =
        discovery.groups().flat_map(|g| g.recommended_resources()).map(|(ar, _)| resource_key(&ar)).collect();
    caches.0.retain(|key, w| {
        let keep = served.contains(key);
        if !keep {
            w.task.abort();
            tracing::debug!(resource = %key, "garbage collector: resource no longer served; cache dropped");
        }
        keep
    });
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            let usable = [verbs::LIST, verbs::WATCH, verbs::DELETE].iter().all(|v| caps.supports_operation(v));
            if !usable || ar.plural == "events" || caches.0.contains_key(&resource_key(&ar)) {
                continue;
            }
            let writer = reflector::store::Writer::<DynamicObject>::new(ar.clone());
            let store = writer.as_reader();
            let api: Api<DynamicObject> = match (namespace, &caps.scope) {
                (Some(ns), Scope::Namespaced) => Api::namespaced_with(client.clone(), ns, &ar),
                _ => Api::all_with(client.clone(), &ar),
            };
            let wake = wake.clone();
            let what = resource_key(&ar);
            let task = tokio::spawn(async move {
                let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
                let mut stream = std::pin::pin!(stream);
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(_) => wake.notify_one(),
                        Err(e) => {
                            tracing::debug!(resource = %what, error = %e, "garbage collector: watch error; retrying")
                        }
                    }
                }
            });
            tracing::debug!(resource = %resource_key(&ar), "garbage collector: watching");
            caches.0.insert(resource_key(&ar), Watched { resource: ar, store, task });
        }
    }
}

/// What a live GET says about an owner.
#[derive(Debug, PartialEq, Eq)]
enum OwnerState {
    Present,
    Absent,
    Unknown,
}

/// Every kind ever discovered, by `apiVersion` and kind. Kinds are remembered after they stop
/// being served so that the dependents of custom resources removed with their CRD can still be
/// checked (a GET then finds nothing, so they are collected), as the real collector's cached
/// REST mapper allows; a kind never seen is unresolvable and its dependents are left alone.
#[derive(Default)]
struct Kinds(HashMap<(String, String), (ApiResource, Scope)>);

impl Kinds {
    fn learn(&mut self, discovery: &Discovery) {
        for group in discovery.groups() {
            for version in group.versions() {
                for (ar, caps) in group.versioned_resources(version) {
                    self.0.insert((ar.api_version.clone(), ar.kind.clone()), (ar, caps.scope));
                }
            }
        }
    }

    fn resolve(&self, api_version: &str, kind: &str) -> Option<&(ApiResource, Scope)> {
        self.0.get(&(api_version.to_string(), kind.to_string()))
    }
}

async fn owner_state(
    client: &kube::Client,
    kinds: &Kinds,
    r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    namespace: Option<&str>,
) -> OwnerState {
    let Some((ar, scope)) = kinds.resolve(&r.api_version, &r.kind) else { return OwnerState::Unknown };
    let api: Api<DynamicObject> = match (scope, namespace) {
        (Scope::Cluster, _) => Api::all_with(client.clone(), ar),
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, ar),
        // A cluster-scoped dependent naming a namespaced owner is an unresolvable reference: the
        // real collector leaves such objects alone (Kubernetes 1.20+).
        (Scope::Namespaced, None) => return OwnerState::Unknown,
    };
    match api.get_opt(&r.name).await {
        Ok(Some(o)) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => OwnerState::Present,
        Ok(_) => OwnerState::Absent,
        // A resource no longer served answers a plain-text "404 page not found", which kube does
        // not map to `None`: the owner is gone all the same.
        Err(kube::Error::Api(e)) if e.code == 404 => OwnerState::Absent,
        Err(_) => OwnerState::Unknown,
    }
}

fn api_for(client: &kube::Client, entry: &Entry) -> Api<DynamicObject> {
    match entry.object.metadata.namespace.as_deref() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &entry.resource),
        None => Api::all_with(client.clone(), &entry.resource),
    }
}

fn describe(entry: &Entry) -> String {
    let m = &entry.object.metadata;
    format!("{} {}/{}", entry.resource.kind, m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or(""))
}

async fn delete(client: &kube::Client, entry: &Entry, policy: PropagationPolicy, why: &str) {
    let Some(name) = entry.object.metadata.name.as_deref() else { return };
    let params = DeleteParams {
        propagation_policy: Some(policy),
        preconditions: Some(Preconditions { uid: entry.object.metadata.uid.clone(), resource_version: None }),
        ..DeleteParams::default()
    };
    match api_for(client, entry).delete(name, &params).await {
        Ok(_) => tracing::info!(object = %describe(entry), why, "garbage collector: deleted"),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => {
            tracing::warn!(object = %describe(entry), error = %e, "garbage collector: delete failed; will retry")
        }
    }
}

/// A merge patch of metadata fields guarded by the cached resourceVersion.
async fn patch_metadata(client: &kube::Client, entry: &Entry, fields: serde_json::Value, what: &str) -> bool {
    let Some(name) = entry.object.metadata.name.as_deref() else { return false };
    let mut metadata = json!({"resourceVersion": entry.object.metadata.resource_version});
    if let (Some(m), Some(f)) = (metadata.as_object_mut(), fields.as_object()) {
        m.extend(f.clone());
    }
    let body = json!({"metadata": metadata});
    match api_for(client, entry).patch(name, &PatchParams::default(), &Patch::Merge(&body)).await {
        Ok(_) => {
            tracing::info!(object = %describe(entry), what, "garbage collector: updated");
            true
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => false,
        Err(e) => {
            tracing::warn!(object = %describe(entry), error = %e, what, "garbage collector: update failed; will retry");
            false
        }
    }
}

fn has_finalizer(o: &DynamicObject, f: &str) -> bool {
    o.metadata.finalizers.as_ref().is_some_and(|fs| fs.iter().any(|x| x == f))
}

fn without_finalizer(o: &DynamicObject, f: &str) -> Vec<String> {
    o.metadata.finalizers.clone().unwrap_or_default().into_iter().filter(|x| x != f).collect()
}

/// One pass over every cached object.
async fn collect(client: &kube::Client, kinds: &Kinds, caches: &Caches) {
    let entries: Vec<Entry> = caches
        .0
        .values()
        .flat_map(|w| w.store.state().into_iter().map(|object| Entry { resource: w.resource.clone(), object }))
        .collect();
    let uids: HashSet<&str> = entries.iter().filter_map(|e| e.object.metadata.uid.as_deref()).collect();
    let mut dependents: HashMap<&str, Vec<(&Entry, bool)>> = HashMap::new();
    for e in &entries {
        for r in e.object.metadata.owner_references.iter().flatten() {
            dependents.entry(r.uid.as_str()).or_default().push((e, r.block_owner_deletion == Some(true)));
        }
    }

    // Background: dependents whose owners are gone.
    for e in &entries {
        let refs = e.object.metadata.owner_references.as_deref().unwrap_or_default();
        if refs.is_empty() || e.object.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let missing: Vec<_> = refs.iter().filter(|r| !uids.contains(r.uid.as_str())).collect();
        if missing.is_empty() {
            continue;
        }
        let mut absent = HashSet::new();
        for r in missing {
            match owner_state(client, kinds, r, e.object.metadata.namespace.as_deref()).await {
                OwnerState::Absent => {
                    absent.insert(r.uid.clone());
                }
                OwnerState::Present | OwnerState::Unknown => {}
            }
        }
        if absent.is_empty() {
            continue;
        }
        if absent.len() == refs.len() {
            delete(client, e, PropagationPolicy::Background, "all owners are gone").await;
        } else {
            let remaining: Vec<_> = refs.iter().filter(|r| !absent.contains(&r.uid)).collect();
            patch_metadata(client, e, json!({"ownerReferences": remaining}), "removed references to deleted owners")
                .await;
        }
    }

    // Foreground and orphan: owners being deleted with the matching finalizer.
    for owner in entries.iter().filter(|e| e.object.metadata.deletion_timestamp.is_some()) {
        let Some(uid) = owner.object.metadata.uid.as_deref() else { continue };
        let deps = dependents.get(uid).map(Vec::as_slice).unwrap_or_default();
        if has_finalizer(&owner.object, FOREGROUND_FINALIZER) {
            for (dep, _) in deps.iter().filter(|(d, _)| d.object.metadata.deletion_timestamp.is_none()) {
                // A dependent with another live owner only loses this reference (real GC: it
                // still has a "solid" owner); otherwise it is deleted, in foreground itself.
                let refs = dep.object.metadata.owner_references.as_deref().unwrap_or_default();
                if refs.iter().any(|r| r.uid != uid && uids.contains(r.uid.as_str())) {
                    let remaining: Vec<_> = refs.iter().filter(|r| r.uid != uid).collect();
                    patch_metadata(
                        client,
                        dep,
                        json!({"ownerReferences": remaining}),
                        "removed reference to a deleting owner",
                    )
                    .await;
                } else {
                    delete(client, dep, PropagationPolicy::Foreground, "its owner is being deleted in foreground")
                        .await;
                }
            }
            if !deps.iter().any(|(_, blocking)| *blocking) {
                let rest = without_finalizer(&owner.object, FOREGROUND_FINALIZER);
                patch_metadata(
                    client,
                    owner,
                    json!({"finalizers": rest}),
                    "dependents gone; removed foregroundDeletion",
                )
                .await;
            }
        } else if has_finalizer(&owner.object, ORPHAN_FINALIZER) {
            let mut all_done = true;
            for (dep, _) in deps {
                let remaining: Vec<_> =
                    dep.object.metadata.owner_references.iter().flatten().filter(|r| r.uid != uid).collect();
                all_done &= patch_metadata(client, dep, json!({"ownerReferences": remaining}), "orphaned").await;
            }
            if all_done {
                let rest = without_finalizer(&owner.object, ORPHAN_FINALIZER);
                patch_metadata(client, owner, json!({"finalizers": rest}), "dependents orphaned; removed orphan").await;
            }
        }
    }
}
