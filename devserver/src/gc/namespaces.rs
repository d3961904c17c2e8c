//! kube-controller-manager's namespace controller, in the collector's loop: a namespace being
//! deleted has its content deleted, and once nothing of it is left its `kubernetes` finalizer is
//! removed through `/finalize`, after which the server removes the namespace. Objects with
//! finalizers of their own keep it `Terminating` until those are gone, as in a cluster.

use super::{Caches, Entry, delete};
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};

/// The finalizer the namespace controller owns.
const FINALIZER: &str = "kubernetes";

/// One pass over the namespaces being deleted (only when every namespace is watched: with a
/// single watched namespace the content of the others is not in the caches).
pub(super) async fn finalize(client: &kube::Client, caches: &Caches) {
    let Some(namespaces) = caches.0.get("v1/namespaces") else { return };
    for ns in namespaces.store.state() {
        let Some(name) = ns.metadata.name.as_deref() else { continue };
        let finalizers = ns.data.pointer("/spec/finalizers").and_then(serde_json::Value::as_array);
        if ns.metadata.deletion_timestamp.is_none() || !finalizers.is_some_and(|f| f.iter().any(|x| x == FINALIZER)) {
            continue;
        }
        let mut left = 0;
        for w in caches.0.values() {
            for object in w.store.state() {
                if object.metadata.namespace.as_deref() != Some(name) {
                    continue;
                }
                left += 1;
                if object.metadata.deletion_timestamp.is_none() {
                    let entry = Entry { resource: w.resource.clone(), object };
                    delete(client, &entry, PropagationPolicy::Background, "its namespace is being deleted").await;
                }
            }
        }
        // Events are not cached; they go as a collection.
        let events: Api<Event> = Api::namespaced(client.clone(), name);
        if let Err(e) = events.delete_collection(&DeleteParams::default(), &ListParams::default()).await {
            tracing::debug!(namespace = name, error = %e, "namespace controller: deleting events failed; will retry");
        }
        if left == 0 {
            remove_finalizer(client, name).await;
        }
    }
}

/// Removes the `kubernetes` finalizer from the namespace's `spec.finalizers` (from its current
/// state, so a concurrent change is a 409 retried on the next pass).
async fn remove_finalizer(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let Ok(mut ns) = api.get(name).await else { return };
    if let Some(spec) = ns.spec.as_mut() {
        spec.finalizers =
            Some(spec.finalizers.take().unwrap_or_default().into_iter().filter(|f| f != FINALIZER).collect());
    }
    match api.replace_subresource("finalize", name, &PostParams::default(), &ns).await {
        Ok(_) => tracing::info!(namespace = name, "namespace controller: content gone; namespace finalized"),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => tracing::warn!(namespace = name, error = %e, "namespace controller: finalize failed; will retry"),
    }
}
