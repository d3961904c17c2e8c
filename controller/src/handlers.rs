//! Event handlers: map every related object to the key of the network that owns it, and
//! enqueue that key. Tombstones are handled like deletes (their last known state is used).
//!
//! - BitcoinNetwork: its own key (adds, updates, resyncs; deletes need no work: GC cleans up).
//! - StatefulSet, Service, Secret: the controller owner reference to a BitcoinNetwork. (Only the
//!   controller's own Secrets are watched; a Secret named by `spec.secret` is read when the
//!   network is reconciled, so a change to it shows at the next resync.)
//! - Pod: its controlling StatefulSet's owner, else the network named by its `app` label.

use apis::bitcoincontroller::v1::BitcoinNetwork;
use generated::listers::bitcoincontroller::v1::BitcoinNetworkLister;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kubernetes::listers::apps::v1::StatefulSetLister;
use runtime::cache::{DeletedObject, ResourceEventHandlerFuncs};
use runtime::workqueue::RateLimitingQueue;
use std::sync::Arc;

use crate::resources::{APP_LABEL, controller_of};

/// The network key of an object controlled by a BitcoinNetwork, if it is one.
pub fn owner_key(meta: &ObjectMeta) -> Option<String> {
    let owner = controller_of(meta)?;
    let group = BitcoinNetwork::group(&());
    let is_network = owner.kind == BitcoinNetwork::kind(&()) && owner.api_version.split('/').next() == Some(&*group);
    let ns = meta.namespace.as_deref()?;
    is_network.then(|| format!("{ns}/{}", owner.name))
}

/// Maps related objects to network keys, using the caches for indirect relations.
#[derive(Clone)]
pub struct Mapper {
    /// Network lister (to check a label-named network exists).
    pub network_lister: BitcoinNetworkLister,
    /// StatefulSets (pods → StatefulSet → network).
    pub stateful_sets: StatefulSetLister,
}

impl Mapper {
    /// The network a pod belongs to: through its controlling StatefulSet, else its `app` label
    /// when a network of that name exists in the pod's namespace.
    pub fn pod_key(&self, p: &Pod) -> Option<String> {
        let ns = p.metadata.namespace.as_deref()?;
        if let Some(owner) = controller_of(&p.metadata).filter(|o| o.kind == "StatefulSet")
            && let Ok(sts) = self.stateful_sets.stateful_sets(ns).get(&owner.name)
            && let Some(key) = owner_key(&sts.metadata)
        {
            return Some(key);
        }
        let app = p.metadata.labels.as_ref()?.get(APP_LABEL)?;
        self.network_lister.bitcoin_networks(ns).get(app).ok().map(|_| format!("{ns}/{app}"))
    }
}

fn same_version<K: Resource>(old: &K, new: &K) -> bool {
    old.meta().resource_version.is_some() && old.meta().resource_version == new.meta().resource_version
}

/// Handler for BitcoinNetworks: every add, update and resync enqueues the key (resyncs give the
/// periodic mesh check).
pub fn network_handler(queue: RateLimitingQueue<String>) -> ResourceEventHandlerFuncs<BitcoinNetwork> {
    let (q1, q2) = (queue.clone(), queue);
    ResourceEventHandlerFuncs::new()
        .on_add(move |n: Arc<BitcoinNetwork>, _| q1.add(runtime::cache::meta_namespace_key(n.as_ref())))
        .on_update(move |_, n: Arc<BitcoinNetwork>| q2.add(runtime::cache::meta_namespace_key(n.as_ref())))
}

/// Handler for objects whose network is found by `map` (owned objects, pods, secrets); updates
/// that do not change the resourceVersion (resyncs) are skipped, as in sample-controller.
pub fn mapped_handler<K>(
    queue: RateLimitingQueue<String>,
    map: impl Fn(&K) -> Vec<String> + Send + Sync + 'static,
) -> ResourceEventHandlerFuncs<K>
where
    K: Resource + Send + Sync + 'static,
{
    let map = Arc::new(map);
    let (m1, m2, m3) = (map.clone(), map.clone(), map);
    let (q1, q2, q3) = (queue.clone(), queue.clone(), queue);
    ResourceEventHandlerFuncs::new()
        .on_add(move |o: Arc<K>, _| m1(&o).into_iter().for_each(|k| q1.add(k)))
        .on_update(move |old: Arc<K>, new: Arc<K>| {
            if same_version(old.as_ref(), new.as_ref()) {
                return;
            }
            m2(&new).into_iter().for_each(|k| q2.add(k))
        })
        .on_delete(move |d: DeletedObject<K>| m3(d.object()).into_iter().for_each(|k| q3.add(k)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    #[test]
    fn owner_key_needs_a_network_controller() {
        let mut meta = ObjectMeta { namespace: Some("ns".into()), ..Default::default() };
        assert_eq!(owner_key(&meta), None);
        meta.owner_references = Some(vec![OwnerReference {
            api_version: "bitcoincontroller.christianb93.github.com/v1".into(),
            kind: "BitcoinNetwork".into(),
            name: "net".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        assert_eq!(owner_key(&meta).as_deref(), Some("ns/net"));
        meta.owner_references.as_mut().unwrap()[0].controller = Some(false);
        assert_eq!(owner_key(&meta), None);
        meta.owner_references.as_mut().unwrap()[0].controller = Some(true);
        meta.owner_references.as_mut().unwrap()[0].api_version = "other.io/v1".into();
        assert_eq!(owner_key(&meta), None);
    }

    fn network(name: &str, secret: Option<&str>) -> Arc<BitcoinNetwork> {
        let mut n = BitcoinNetwork::default();
        n.metadata.name = Some(name.into());
        n.metadata.namespace = Some("ns".into());
        n.metadata.uid = Some(format!("uid-{name}"));
        n.spec.secret = secret.map(Into::into);
        Arc::new(n)
    }

    fn mapper(nets: &[Arc<BitcoinNetwork>], sts: &[k8s_openapi::api::apps::v1::StatefulSet]) -> Mapper {
        let networks = runtime::cache::Indexer::new();
        nets.iter().for_each(|n| {
            networks.insert(n.clone());
        });
        let sts_index = runtime::cache::Indexer::new();
        sts.iter().for_each(|s| {
            sts_index.insert(Arc::new(s.clone()));
        });
        Mapper { network_lister: BitcoinNetworkLister::new(networks), stateful_sets: StatefulSetLister::new(sts_index) }
    }

    #[test]
    fn pods_map_through_their_statefulset_or_app_label() {
        let net = network("n", None);
        let mut sts = crate::resources::stateful_set(&net, &crate::resources::PodSettings::default());
        sts.metadata.namespace = Some("ns".into());
        let m = mapper(&[net], &[sts]);
        let mut pod = Pod::default();
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.name = Some("n-sts-0".into());
        pod.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "n-sts".into(),
            uid: "sts-uid".into(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        assert_eq!(m.pod_key(&pod).as_deref(), Some("ns/n"));
        // Owner StatefulSet not (yet) cached: the app label finds the network.
        pod.metadata.owner_references.as_mut().unwrap()[0].name = "unknown".into();
        assert_eq!(m.pod_key(&pod), None);
        pod.metadata.labels = Some(crate::resources::labels("n"));
        assert_eq!(m.pod_key(&pod).as_deref(), Some("ns/n"));
        // A label naming no network maps to nothing.
        pod.metadata.labels = Some(crate::resources::labels("nginx"));
        assert_eq!(m.pod_key(&pod), None);
    }
}
