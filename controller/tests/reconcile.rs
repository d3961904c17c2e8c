//! Reconcile tests on the fake clientset, in sample-controller's style: seed objects, sync the
//! caches, run one reconcile, and assert the recorded writes.

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec};
use controller::controller::{Config, Controller};
use controller::metrics::Metrics;
use controller::reconcile::{Error, Outcome};
use controller::resources::{self, PodSettings};
use generated::clientset::fake::{self, Action, Reaction};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn network(name: &str, nodes: i32) -> BitcoinNetwork {
    BitcoinNetwork {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some("default".into()), ..Default::default() },
        spec: BitcoinNetworkSpec { nodes, ..Default::default() },
        status: None,
    }
}

struct Fixture {
    cs: fake::Clientset,
    ctl: Controller,
}

impl Fixture {
    async fn new(objects: Vec<serde_json::Value>) -> Self {
        let cs = fake::Clientset::new(objects).await.expect("fake clientset");
        let config = Config {
            settings: PodSettings { default_image: "bitcoind:test".into(), ..PodSettings::default() },
            rpc_timeout: Duration::from_millis(300),
            cache_sync_timeout: Duration::from_secs(10),
            ..Config::default()
        };
        let ctl = Controller::new((*cs).clone(), config, Metrics::new()).expect("controller");
        ctl.sync_caches().await.expect("caches sync");
        cs.clear_actions();
        Self { cs, ctl }
    }

    async fn reconcile(&self, key: &str) -> Result<Outcome, Error> {
        self.ctl.context().reconcile(key).await
    }

    /// Writes other than events (events are checked separately).
    fn object_writes(&self) -> Vec<Action> {
        self.cs.writes().into_iter().filter(|a| a.resource != "events").collect()
    }

    /// `(verb, reason, note)` of every event write.
    fn events(&self) -> Vec<(String, String, String)> {
        self.cs
            .writes()
            .into_iter()
            .filter(|a| a.resource == "events")
            .map(|a| {
                let field = |k: &str| a.object.as_ref().and_then(|o| o[k].as_str()).unwrap_or_default().to_string();
                (a.verb.clone(), field("reason"), field("note"))
            })
            .collect()
    }

    /// The notes of the `Created` event writes, asserting each is a fresh create (not a series
    /// patch of an earlier event).
    fn created_notes(&self) -> Vec<String> {
        let created: Vec<_> = self.events().into_iter().filter(|(_, reason, _)| reason == "Created").collect();
        assert!(created.iter().all(|(verb, _, _)| verb == "create"), "{created:?}");
        created.into_iter().map(|(_, _, note)| note).collect()
    }

    fn event_reasons(&self) -> Vec<String> {
        self.cs
            .writes()
            .into_iter()
            .filter(|a| a.resource == "events")
            .filter_map(|a| a.object.and_then(|o| o["reason"].as_str().map(str::to_string)))
            .collect()
    }

    /// Waits until the caches satisfy `ready` (the informers trail the writes).
    async fn wait_for(&self, what: &str, ready: impl Fn(&controller::reconcile::Context) -> bool) {
        for _ in 0..200 {
            if ready(self.ctl.context()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("timed out waiting for {what}");
    }

    async fn wait_converged_cache(&self, name: &str, replicas: i32) {
        let (svc, sts) = (resources::service_name(name), resources::stateful_set_name(name));
        self.wait_for("owned objects and status in the caches", |c| {
            c.services.services("default").get(&svc).is_ok()
                && c.stateful_sets.stateful_sets("default").get(&sts).is_ok_and(|s| s.spec.replicas == Some(replicas))
                && c.networks
                    .bitcoin_networks("default")
                    .get(name)
                    .is_ok_and(|n| n.status.as_ref().and_then(|s| s.observed_generation) == n.metadata.generation)
        })
        .await;
    }

    async fn shutdown(self) {
        self.ctl.shutdown().await;
    }
}

fn verbs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match &a.subresource {
            Some(sub) => format!("{} {}/{sub}", a.verb, a.resource),
            None => format!("{} {}", a.verb, a.resource),
        })
        .collect()
}

#[tokio::test]
async fn creates_secret_service_and_statefulset_then_status() {
    let f = Fixture::new(vec![fake::object(&network("net", 4))]).await;
    let outcome = f.reconcile("default/net").await.expect("reconcile");
    assert_eq!(outcome, Outcome::RequeueAfter(Duration::from_secs(5)), "not Ready yet: periodic requeue");
    let writes = f.object_writes();
    assert_eq!(
        verbs(&writes),
        ["create secrets", "create services", "create statefulsets", "update bitcoinnetworks/status"]
    );
    let sts: StatefulSet = serde_json::from_value(writes[2].object.clone().unwrap()).unwrap();
    assert_eq!(sts.metadata.name.as_deref(), Some("net-sts"));
    assert_eq!(sts.spec.replicas, Some(4));
    assert_eq!(sts.spec.service_name.as_deref(), Some("net-svc"));
    let c = &sts.spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("bitcoind:test"));
    let svc: Service = serde_json::from_value(writes[1].object.clone().unwrap()).unwrap();
    assert_eq!(svc.spec.as_ref().unwrap().cluster_ip.as_deref(), Some("None"));
    let net = Api::<BitcoinNetwork>::namespaced(f.cs.client().clone(), "default").get("net").await.unwrap();
    let owner = &sts.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(Some(&owner.uid), net.metadata.uid.as_ref());
    let status = net.status.expect("status written");
    assert_eq!(status.observed_generation, net.metadata.generation);
    assert_eq!(status.conditions.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>(), ["Ready", "Progressing"]);
    assert_eq!(status.conditions[0].status, "False");
    // One aggregated event lists every object the reconcile created: one event write, not three.
    assert_eq!(
        f.created_notes(),
        [
            "Created Secret net-rpc (generated RPC credentials), Service net-svc (headless), StatefulSet net-sts (4 nodes)"
        ]
    );
    assert_eq!(f.events().len(), 1, "{:?}", f.events());
    f.shutdown().await;
}

#[tokio::test]
async fn secret_is_created_when_absent_and_never_shown() {
    let f = Fixture::new(vec![fake::object(&network("net", 1))]).await;
    f.reconcile("default/net").await.expect("reconcile");
    let secret = Api::<Secret>::namespaced(f.cs.client().clone(), "default").get("net-rpc").await.expect("secret");
    let creds = controller::secret::Credentials::from_secret(&secret).expect("credentials");
    assert!(creds.password().len() >= 32);
    assert_eq!(secret.metadata.owner_references.as_ref().unwrap()[0].kind, "BitcoinNetwork");
    // The password is in no event and not in the status.
    for a in f.cs.writes().iter().filter(|a| a.resource == "events" || a.subresource.is_some()) {
        let text = a.object.as_ref().map(|o| o.to_string()).unwrap_or_default();
        assert!(!text.contains(creds.password()), "{text}");
    }
    f.shutdown().await;
}

#[tokio::test]
async fn user_secret_is_used_and_a_missing_one_is_reported() {
    let mut net = network("net", 1);
    net.spec.secret = Some("mine".into());
    let f = Fixture::new(vec![fake::object(&net)]).await;
    let err = f.reconcile("default/net").await.unwrap_err();
    assert!(matches!(err, Error::Blocked(ref m) if m.contains("mine")), "{err}");
    assert!(f.event_reasons().contains(&"SecretNotFound".to_string()));
    assert!(!verbs(&f.object_writes()).contains(&"create secrets".to_string()), "never creates a user's secret");
    assert_eq!(f.created_notes(), ["Created Service net-svc (headless), StatefulSet net-sts (1 node)"]);
    let stored = Api::<BitcoinNetwork>::namespaced(f.cs.client().clone(), "default").get("net").await.unwrap();
    let ready = stored.status.unwrap().conditions[0].clone();
    assert_eq!(ready.reason, "SecretNotFound");
    assert!(ready.message.contains("create it with the keys BC_RPC_USER and BC_RPC_PASSWORD"), "{}", ready.message);

    // The secret appears: the network proceeds without a secret of its own.
    let secret = Secret {
        metadata: ObjectMeta { name: Some("mine".into()), ..Default::default() },
        string_data: Some([("BC_RPC_USER".into(), "u".into()), ("BC_RPC_PASSWORD".into(), "p".into())].into()),
        ..Default::default()
    };
    Api::<Secret>::namespaced(f.cs.client().clone(), "default").create(&PostParams::default(), &secret).await.unwrap();
    f.wait_for("status in cache", |c| {
        c.networks.bitcoin_networks("default").get("net").is_ok_and(|n| n.status.is_some())
    })
    .await;
    f.cs.clear_actions();
    f.reconcile("default/net").await.expect("reconcile");
    let stored = Api::<BitcoinNetwork>::namespaced(f.cs.client().clone(), "default").get("net").await.unwrap();
    assert_ne!(stored.status.unwrap().conditions[0].reason, "SecretNotFound");
    assert!(verbs(&f.cs.actions()).contains(&"get secrets".to_string()), "a user's Secret is read with get");
    assert!(f.ctl.context().secrets.secrets("default").get("mine").is_err(), "and never cached");
    assert!(!verbs(&f.object_writes()).contains(&"create secrets".to_string()));
    assert!(f.created_notes().is_empty(), "nothing created, no Created event: {:?}", f.events());
    f.shutdown().await;
}

#[tokio::test]
async fn steady_state_makes_no_writes() {
    let f = Fixture::new(vec![fake::object(&network("net", 3))]).await;
    f.reconcile("default/net").await.expect("first reconcile");
    f.wait_converged_cache("net", 3).await;
    f.wait_for("secret in cache", |c| c.secrets.secrets("default").get("net-rpc").is_ok()).await;
    f.cs.clear_actions();
    for _ in 0..3 {
        f.reconcile("default/net").await.expect("reconcile");
    }
    assert!(f.cs.writes().is_empty(), "steady state wrote: {:?}", verbs(&f.cs.writes()));
    // And read nothing: its own Secret is cached (label-selected informer), like everything else.
    assert!(f.cs.actions().is_empty(), "steady state read: {:?}", verbs(&f.cs.actions()));
    f.shutdown().await;
}

async fn set_nodes(f: &Fixture, nodes: i32) {
    let api = Api::<BitcoinNetwork>::namespaced(f.cs.client().clone(), "default");
    api.patch("net", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"nodes": nodes}})))
        .await
        .unwrap();
    f.wait_for("spec in cache", |c| {
        c.networks.bitcoin_networks("default").get("net").is_ok_and(|n| n.spec.nodes == nodes)
    })
    .await;
}

fn sts_update_replicas(f: &Fixture) -> Vec<i64> {
    f.object_writes()
        .iter()
        .filter(|a| a.verb == "update" && a.resource == "statefulsets")
        .filter_map(|a| a.object.as_ref()?["spec"]["replicas"].as_i64())
        .collect()
}

#[tokio::test]
async fn scales_up_and_down() {
    let f = Fixture::new(vec![fake::object(&network("net", 3))]).await;
    f.reconcile("default/net").await.expect("reconcile");
    f.wait_converged_cache("net", 3).await;
    for nodes in [5, 2] {
        set_nodes(&f, nodes).await;
        f.cs.clear_actions();
        f.reconcile("default/net").await.expect("reconcile");
        assert_eq!(sts_update_replicas(&f), [i64::from(nodes)]);
        assert!(f.event_reasons().contains(&"Scaled".to_string()), "{:?}", f.event_reasons());
        f.wait_converged_cache("net", nodes).await;
    }
    let stored = Api::<BitcoinNetwork>::namespaced(f.cs.client().clone(), "default").get("net").await.unwrap();
    assert_eq!(stored.status.unwrap().observed_generation, stored.metadata.generation);
    f.shutdown().await;
}

#[tokio::test]
async fn replica_and_image_drift_is_reverted() {
    let f = Fixture::new(vec![fake::object(&network("net", 3))]).await;
    f.reconcile("default/net").await.expect("reconcile");
    f.wait_converged_cache("net", 3).await;
    let sts_api = Api::<StatefulSet>::namespaced(f.cs.client().clone(), "default");
    let mut sts = sts_api.get("net-sts").await.unwrap();
    sts.spec.replicas = Some(100);
    sts.spec.template.spec.as_mut().unwrap().containers[0].image = Some("someone-elses:image".into());
    sts_api.replace("net-sts", &PostParams::default(), &sts).await.unwrap();
    f.wait_for("drift in cache", |c| {
        c.stateful_sets.stateful_sets("default").get("net-sts").is_ok_and(|s| s.spec.replicas == Some(100))
    })
    .await;
    f.cs.clear_actions();
    f.reconcile("default/net").await.expect("reconcile");
    assert_eq!(sts_update_replicas(&f), [3]);
    let fixed = sts_api.get("net-sts").await.unwrap();
    assert_eq!(fixed.spec.template.spec.unwrap().containers[0].image.as_deref(), Some("bitcoind:test"));
    f.shutdown().await;
}

#[tokio::test]
async fn object_not_controlled_by_the_network_is_left_alone() {
    let foreign = StatefulSet {
        metadata: ObjectMeta { name: Some("net-sts".into()), namespace: Some("default".into()), ..Default::default() },
        spec: resources::stateful_set(&network("other", 7), &PodSettings::default()).spec,
        status: None,
    };
    let f = Fixture::new(vec![fake::object(&network("net", 3)), fake::object(&foreign)]).await;
    let err = f.reconcile("default/net").await.unwrap_err();
    assert!(matches!(err, Error::ResourceExists { kind: "StatefulSet", .. }), "{err}");
    assert!(f.event_reasons().contains(&"ErrResourceExists".to_string()), "{:?}", f.event_reasons());
    // What the failing reconcile did create is still reported.
    assert_eq!(f.created_notes(), ["Created Secret net-rpc (generated RPC credentials), Service net-svc (headless)"]);
    assert!(
        f.object_writes().iter().all(|a| a.resource != "statefulsets"),
        "no write to a foreign object: {:?}",
        verbs(&f.object_writes())
    );
    let still = Api::<StatefulSet>::namespaced(f.cs.client().clone(), "default").get("net-sts").await.unwrap();
    assert_eq!(still.spec.replicas, Some(7));

    // The clash is in status, with the fix; retries do not repeat the warning.
    let stored = Api::<BitcoinNetwork>::namespaced(f.cs.client().clone(), "default").get("net").await.unwrap();
    let ready = controller::status::ready_condition(stored.status.as_ref()).unwrap().clone();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "ErrResourceExists"));
    assert!(ready.message.contains("StatefulSet net-sts already exists") && ready.message.contains("delete or rename"));
    f.wait_for("status in cache", |c| {
        c.networks.bitcoin_networks("default").get("net").is_ok_and(|n| n.status.is_some())
    })
    .await;
    f.cs.clear_actions();
    assert!(matches!(f.reconcile("default/net").await, Err(Error::ResourceExists { .. })));
    assert!(f.events().is_empty(), "the same problem again: no new event: {:?}", f.events());
    assert!(f.object_writes().is_empty(), "and no status write: {:?}", verbs(&f.object_writes()));
    f.shutdown().await;
}

#[tokio::test]
async fn an_owned_object_the_api_server_refuses_is_reported_in_status() {
    // Say a cluster's admission policy refuses the Service (here: a reactor answers 422).
    let f = Fixture::new(vec![fake::object(&network("net", 1))]).await;
    let api = Api::<Service>::namespaced(f.cs.client().clone(), "default");
    f.cs.prepend_reactor("create", "services", |_| {
        Some(Reaction::Error {
            code: 422,
            reason: "Invalid".into(),
            message: "Service \"net-svc\" is invalid: metadata.name: Invalid value".into(),
        })
    });
    let err = f.reconcile("default/net").await.unwrap_err();
    assert!(matches!(err, Error::Api { verb: "create", kind: "Service", .. }), "{err}");
    let stored = Api::<BitcoinNetwork>::namespaced(f.cs.client().clone(), "default").get("net").await.unwrap();
    let ready = controller::status::ready_condition(stored.status.as_ref()).unwrap().clone();
    assert_eq!(ready.reason, "ObjectRejected");
    assert!(
        ready.message.starts_with("the API server refused to create Service net-svc: Service \"net-svc\" is invalid")
    );
    let notes: Vec<String> = f.events().into_iter().map(|(_, _, n)| n).collect();
    assert!(notes.iter().all(|n| !n.contains("Status {") && !n.contains("Some(")), "no debug dumps: {notes:?}");
    assert!(api.get_opt("net-svc").await.unwrap().is_none());
    f.shutdown().await;
}

#[tokio::test]
async fn already_exists_for_an_object_of_ours_is_retried_quietly() {
    let f = Fixture::new(vec![fake::object(&network("net", 1))]).await;
    f.cs.prepend_reactor("create", "services", |_| {
        Some(Reaction::Error {
            code: 409,
            reason: "AlreadyExists".into(),
            message: "services \"net-svc\" already exists".into(),
        })
    });
    let err = f.reconcile("default/net").await.unwrap_err();
    assert!(matches!(err, Error::Api { source: kube::Error::Api(ref s), .. } if s.code == 409), "{err}");
    let warnings: Vec<_> = f.events().into_iter().filter(|(_, r, _)| r != "Created").collect();
    assert!(warnings.is_empty(), "no CreationError for a stale cache: {warnings:?}");
    f.shutdown().await;
}

#[tokio::test]
async fn failed_creation_still_reports_what_was_created() {
    let f = Fixture::new(vec![fake::object(&network("net", 2))]).await;
    let fail = Arc::new(AtomicBool::new(true));
    let failing = fail.clone();
    f.cs.prepend_reactor("create", "statefulsets", move |_| {
        failing.load(Ordering::SeqCst).then(|| Reaction::internal_error("injected"))
    });
    let err = f.reconcile("default/net").await.unwrap_err();
    assert!(matches!(err, Error::Api { verb: "create", kind: "StatefulSet", .. }), "{err}");
    assert_eq!(verbs(&f.object_writes()), ["create secrets", "create services", "create statefulsets"]);
    assert_eq!(f.created_notes(), ["Created Secret net-rpc (generated RPC credentials), Service net-svc (headless)"]);
    assert_eq!(f.event_reasons(), ["CreationError", "Created"], "{:?}", f.events());

    // The retry creates only the StatefulSet: a new Created event that says so (a new note is
    // a new event, not a count on the first one, whose note would then be false).
    fail.store(false, Ordering::SeqCst);
    f.wait_for("the service in the cache", |c| c.services.services("default").get("net-svc").is_ok()).await;
    f.cs.clear_actions();
    f.reconcile("default/net").await.expect("reconcile");
    assert_eq!(verbs(&f.object_writes()), ["create statefulsets", "update bitcoinnetworks/status"]);
    assert_eq!(f.created_notes(), ["Created StatefulSet net-sts (2 nodes)"], "{:?}", f.events());
    f.shutdown().await;
}

#[tokio::test]
async fn no_status_write_from_a_cache_that_has_not_seen_the_last_one() {
    let f = Fixture::new(vec![fake::object(&network("net", 1))]).await;
    let ctx = f.ctl.context();
    let version = |c: &controller::reconcile::Context| {
        c.networks.bitcoin_networks("default").get("net").unwrap().metadata.resource_version.clone()
    };
    // A real status write moves the server past the cached version it was based on...
    let before = version(ctx);
    f.reconcile("default/net").await.expect("reconcile");
    assert!(verbs(&f.object_writes()).contains(&"update bitcoinnetworks/status".to_string()));
    assert!(ctx.status_writes.cache_is_behind("default/net", before.as_deref()), "write remembered");

    // ...so while the cache still shows that version, a status computed from it is stale and an
    // update would be a certain 409. Pin that situation (the informer usually catches up within
    // milliseconds, too fast to catch): the write is skipped, and the reconcile does not fail.
    f.wait_converged_cache("net", 1).await;
    let cached = version(ctx);
    assert_ne!(cached, before, "the cache has the write now");
    set_nodes(&f, 2).await; // the status must change
    let stale = version(ctx);
    ctx.status_writes.wrote("default/net", stale.as_deref());
    f.cs.clear_actions();
    f.reconcile("default/net").await.expect("no conflict error");
    assert!(!verbs(&f.object_writes()).iter().any(|v| v.contains("status")), "{:?}", verbs(&f.object_writes()));

    // Once the cache shows a newer version, the status is written again.
    let api = Api::<BitcoinNetwork>::namespaced(f.cs.client().clone(), "default");
    let patch = serde_json::json!({"metadata": {"labels": {"touched": "yes"}}});
    let newer = api.patch("net", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
    f.wait_for("newer version in cache", |c| {
        c.networks.bitcoin_networks("default").get("net").unwrap().metadata.resource_version
            == newer.metadata.resource_version
    })
    .await;
    f.cs.clear_actions();
    f.reconcile("default/net").await.expect("reconcile");
    assert!(verbs(&f.object_writes()).contains(&"update bitcoinnetworks/status".to_string()));
    f.shutdown().await;
}

#[tokio::test]
async fn status_conflict_is_an_error_to_retry() {
    let f = Fixture::new(vec![fake::object(&network("net", 1))]).await;
    f.cs.prepend_reactor("update", "bitcoinnetworks/status", |_| Some(Reaction::conflict("injected")));
    let err = f.reconcile("default/net").await.unwrap_err();
    assert!(matches!(err, Error::Api { source: kube::Error::Api(ref s), .. } if s.code == 409), "{err}");
    f.shutdown().await;
}

#[tokio::test]
async fn deleted_network_is_a_no_op() {
    let f = Fixture::new(vec![]).await;
    assert_eq!(f.reconcile("default/gone").await.expect("reconcile"), Outcome::Done);
    assert!(f.cs.writes().is_empty());
    f.shutdown().await;
}

#[tokio::test]
async fn rotated_secret_rolls_the_pods() {
    let f = Fixture::new(vec![fake::object(&network("net", 2))]).await;
    f.reconcile("default/net").await.expect("reconcile");
    f.wait_converged_cache("net", 2).await;
    f.wait_for("secret in cache", |c| c.secrets.secrets("default").get("net-rpc").is_ok()).await;
    let annotation = |s: &StatefulSet| {
        s.spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(resources::SECRET_VERSION_ANNOTATION))
            .cloned()
    };
    let secrets = Api::<Secret>::namespaced(f.cs.client().clone(), "default");
    let before = secrets.get("net-rpc").await.unwrap();
    let sts_api = Api::<StatefulSet>::namespaced(f.cs.client().clone(), "default");
    let stamped = annotation(&sts_api.get("net-sts").await.unwrap());
    assert_eq!(stamped, before.metadata.resource_version, "pods carry the secret version they started with");
    // Rotate: new password.
    let rotated = secrets
        .patch(
            "net-rpc",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"stringData": {"BC_RPC_PASSWORD": "rotated-password"}})),
        )
        .await
        .unwrap();
    f.wait_for("rotation in cache", |c| {
        c.secrets
            .secrets("default")
            .get("net-rpc")
            .is_ok_and(|s| s.metadata.resource_version == rotated.metadata.resource_version)
    })
    .await;
    f.cs.clear_actions();
    f.reconcile("default/net").await.expect("reconcile");
    let updates: Vec<Action> =
        f.object_writes().into_iter().filter(|a| a.verb == "update" && a.resource == "statefulsets").collect();
    assert_eq!(updates.len(), 1, "{:?}", verbs(&f.object_writes()));
    let after = annotation(&sts_api.get("net-sts").await.unwrap());
    assert_eq!(after, rotated.metadata.resource_version);
    assert!(
        !serde_json::to_string(&f.cs.writes().iter().map(|a| a.object.clone()).collect::<Vec<_>>())
            .unwrap()
            .contains("rotated-password")
    );
    f.shutdown().await;
}
