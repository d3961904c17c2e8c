//! Issue 6 acceptance (workload simulation): the simulated StatefulSet controller and kubelet,
//! driven only through the API, against an in-process devserver.

mod common;

use common::eventually;
use devserver::DevServer;
use devserver::sim::{self, SimOptions};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

fn statefulset(name: &str, replicas: i32) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": format!("{name}-svc"),
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "test"}},
                "spec": {"containers": [{"name": "main", "image": "example/app:1"}]}
            }
        }
    }))
    .expect("statefulset")
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn pod_names(pods: &Api<Pod>, app: &str) -> Vec<String> {
    let list = pods.list(&ListParams::default().labels(&format!("app={app}"))).await.expect("list");
    let mut names: Vec<String> = list.items.into_iter().filter_map(|p| p.metadata.name).collect();
    names.sort();
    names
}

#[tokio::test]
async fn three_replicas_come_up_in_order_ready_with_distinct_loopback_ips_then_scale_down_and_delete() {
    let server = DevServer::builder().start().await.expect("server");
    let client = server.client().expect("client");
    let sim = sim::start(client.clone(), SimOptions::default()).await.expect("sim");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");

    // Record every pod event in order, to check OrderedReady from the server's own history.
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String, bool)>::new()));
    let recorder = {
        let events = events.clone();
        let stream = watcher(pods.clone(), watcher::Config::default().labels("app=web"));
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(Ok(ev)) = stream.next().await {
                let (kind, pod) = match ev {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => ("apply", p),
                    watcher::Event::Delete(p) => ("delete", p),
                    _ => continue,
                };
                let ready = is_ready(&pod);
                events.lock().unwrap().push((kind.to_string(), pod.metadata.name.unwrap_or_default(), ready));
            }
        })
    };

    let created = sets.create(&PostParams::default(), &statefulset("web", 3)).await.expect("create sts");
    let uid = created.metadata.uid.clone().expect("uid");

    let ready_pods = eventually(10, "three Ready pods", || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default().labels("app=web")).await.ok()?;
            (list.items.len() == 3 && list.items.iter().all(is_ready)).then_some(list.items)
        }
    })
    .await;

    // Distinct loopback IPs, none of them the node's 127.0.0.1, matching the handle's view.
    let mut ips = HashSet::new();
    for p in &ready_pods {
        let name = p.metadata.name.clone().expect("name");
        let status = p.status.as_ref().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"));
        let ip: std::net::IpAddr = status.pod_ip.as_deref().expect("podIP").parse().expect("ip");
        assert!(ip.is_loopback() && ip.to_string() != "127.0.0.1", "{name}: {ip}");
        assert_eq!(sim.pod_ip("default", &name), Some(ip));
        assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
        assert!(ips.insert(ip), "duplicate IP {ip}");
        // What the real controller puts on a pod.
        let owner = &p.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller, owner.block_owner_deletion),
            ("StatefulSet", uid.as_str(), Some(true), Some(true))
        );
        let labels = p.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels.get("tier").map(String::as_str), Some("test"));
        assert_eq!(labels.get("statefulset.kubernetes.io/pod-name"), Some(&name));
        let spec = p.spec.as_ref().expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some(name.as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("web-svc"));
        let cs = &status.container_statuses.as_ref().expect("containerStatuses")[0];
        assert!(cs.ready && cs.container_id.as_deref().is_some_and(|c| c.starts_with("sim://")));
    }

    // OrderedReady: web-N is created only after web-(N-1) was seen Ready, and each pod is
    // Running-but-not-Ready first (the ready delay).
    {
        let events = events.lock().unwrap().clone();
        let first = |pred: &dyn Fn(&(String, String, bool)) -> bool| events.iter().position(pred);
        for n in 0..3 {
            let name = format!("web-{n}");
            let added = first(&|e| e.1 == name).expect("pod seen");
            let ready = first(&|e| e.1 == name && e.2).expect("pod seen ready");
            assert!(!events[added].2, "{name} was Ready at creation");
            if n > 0 {
                let prev_ready = first(&|e| e.1 == format!("web-{}", n - 1) && e.2).expect("prev ready");
                assert!(prev_ready < added, "{name} created before web-{} was Ready: {events:?}", n - 1);
            }
            assert!(added < ready);
        }
    }

    // Status through the subresource.
    let status = eventually(5, "sts status 3/3", || {
        let sets = sets.clone();
        async move {
            let s = sets.get("web").await.ok()?.status?;
            (s.ready_replicas == Some(3)).then_some(s)
        }
    })
    .await;
    assert_eq!(
        (status.replicas, status.current_replicas, status.available_replicas, status.observed_generation),
        (3, Some(3), Some(3), Some(1))
    );

    // A deleted pod that is still wanted comes back (new uid).
    let old_uid = pods.get("web-1").await.expect("web-1").metadata.uid;
    pods.delete("web-1", &DeleteParams::default()).await.expect("delete web-1");
    eventually(5, "web-1 recreated and Ready", || {
        let pods = pods.clone();
        let old_uid = old_uid.clone();
        async move {
            let p = pods.get_opt("web-1").await.ok()??;
            (p.metadata.uid != old_uid && is_ready(&p)).then_some(())
        }
    })
    .await;

    // Scale down to 1: the highest ordinals go, web-2 before web-1.
    events.lock().unwrap().clear();
    sets.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 1}}))).await.expect("scale");
    eventually(5, "only web-0 left", || {
        let pods = pods.clone();
        async move { (pod_names(&pods, "web").await == ["web-0"]).then_some(()) }
    })
    .await;
    {
        let events = events.lock().unwrap().clone();
        let gone = |n: &str| events.iter().position(|e| e.0 == "delete" && e.1 == n).expect("deleted");
        assert!(gone("web-2") < gone("web-1"), "scale down order: {events:?}");
    }
    eventually(5, "sts status 1", || {
        let sets = sets.clone();
        async move { (sets.get("web").await.ok()?.status?.replicas == 1).then_some(()) }
    })
    .await;

    // Deleting the StatefulSet removes its pods (garbage collection).
    sets.delete("web", &DeleteParams::default()).await.expect("delete sts");
    eventually(5, "pods garbage collected", || {
        let pods = pods.clone();
        async move { pod_names(&pods, "web").await.is_empty().then_some(()) }
    })
    .await;
    // The kubelet releases the address when it sees the pod gone (its own watch, a moment later).
    eventually(5, "address released", || async { sim.pod_ip("default", "web-0").is_none().then_some(()) }).await;

    recorder.abort();
    sim.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn parallel_policy_creates_all_pods_at_once_and_foreground_delete_waits_for_them() {
    let server = DevServer::builder().start().await.expect("server");
    let client = server.client().expect("client");
    // A long ready delay: with OrderedReady only web-0 could exist before it passes.
    let options = SimOptions { ready_delay: Duration::from_secs(30), ..SimOptions::default() };
    let sim = sim::start(client.clone(), options).await.expect("sim");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let mut sts = statefulset("par", 3);
    sts.spec.pod_management_policy = Some("Parallel".into());
    sets.create(&PostParams::default(), &sts).await.expect("create");
    eventually(5, "three Running pods, none Ready", || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default().labels("app=par")).await.ok()?;
            let running = list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count();
            (running == 3).then_some(())
        }
    })
    .await;
    assert!(
        pods.list(&ListParams::default().labels("app=par")).await.expect("list").items.iter().all(|p| !is_ready(p))
    );

    // Foreground deletion: the StatefulSet stays (with a deletionTimestamp) until its pods are gone.
    sets.delete("par", &DeleteParams::foreground()).await.expect("delete");
    eventually(5, "sts and pods gone", || {
        let pods = pods.clone();
        let sets = sets.clone();
        async move { (pod_names(&pods, "par").await.is_empty() && sets.get_opt("par").await.ok()?.is_none()).then_some(()) }
    })
    .await;
    sim.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_pod_the_statefulset_does_not_own_is_left_alone_and_plain_pods_are_run_too() {
    let server = DevServer::builder().start().await.expect("server");
    let client = server.client().expect("client");
    let sim =
        sim::start(client.clone(), SimOptions { ready_delay: Duration::from_millis(20), ..SimOptions::default() })
            .await
            .expect("sim");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    // A bare pod squatting on ordinal 0's name, with no owner.
    let squatter: Pod = serde_json::from_value(json!({
        "metadata": {"name": "db-0", "labels": {"app": "other"}},
        "spec": {"containers": [{"name": "c", "image": "x"}]}
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &squatter).await.expect("create pod");
    // The kubelet runs it like any pod.
    eventually(5, "bare pod Ready", || {
        let pods = pods.clone();
        async move { pods.get("db-0").await.ok().filter(is_ready).map(|_| ()) }
    })
    .await;
    sets.create(&PostParams::default(), &statefulset("db", 2)).await.expect("create sts");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p = pods.get("db-0").await.expect("db-0");
    assert!(p.metadata.owner_references.is_none(), "not adopted");
    assert!(pods.get_opt("db-1").await.expect("get").is_none(), "OrderedReady blocks behind the foreign db-0");
    sim.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn ordered_scale_down_waits_while_a_retained_pod_is_unhealthy() {
    let server = DevServer::builder().start().await.expect("server");
    let client = server.client().expect("client");
    let sim =
        sim::start(client.clone(), SimOptions { ready_delay: Duration::from_millis(20), ..SimOptions::default() })
            .await
            .expect("sim");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    // Pods that run (simulated) bitcoind, so killing one makes its readiness probe fail.
    let mut sts = statefulset("node", 3);
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(sim::bitcoind::BITCOIND_MARKER.to_string(), "true".to_string());
    sts.spec.template.metadata.as_mut().expect("template metadata").annotations = Some(annotations);
    sets.create(&PostParams::default(), &sts).await.expect("create");
    eventually(10, "three Ready pods", || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default().labels("app=node")).await.ok()?;
            (list.items.len() == 3 && list.items.iter().all(is_ready)).then_some(())
        }
    })
    .await;
    sim.kill_node("default", "node-0").await;
    eventually(5, "node-0 not Ready", || {
        let pods = pods.clone();
        async move { pods.get("node-0").await.ok().filter(|p| !is_ready(p)).map(|_| ()) }
    })
    .await;
    sets.patch("node", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}}))).await.expect("scale");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pod_names(&pods, "node").await, ["node-0", "node-1", "node-2"], "scale-down waits for node-0");
    sim.restart_node("default", "node-0").await;
    eventually(5, "node-2 removed once node-0 is Ready again", || {
        let pods = pods.clone();
        async move { (pod_names(&pods, "node").await == ["node-0", "node-1"]).then_some(()) }
    })
    .await;
    sim.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn start_ordinal_and_handle_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let server = DevServer::builder().start().await.expect("server");
    let client = server.client().expect("client");
    let starting = sim::start(client.clone(), SimOptions::default());
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&starting);
    let sim = starting.await.expect("sim");
    assert_send_sync(&sim);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let mut sts = statefulset("five", 2);
    sts.spec.ordinals = Some(k8s_openapi::api::apps::v1::StatefulSetOrdinals { start: Some(5) });
    sets.create(&PostParams::default(), &sts).await.expect("create");
    eventually(10, "pods five-5 and five-6", || {
        let pods = pods.clone();
        async move { (pod_names(&pods, "five").await == ["five-5", "five-6"]).then_some(()) }
    })
    .await;
    sim.shutdown().await;
    server.shutdown().await;
}

/// A template change rolls the pods as kube-controller-manager's RollingUpdate does: one at a
/// time, highest ordinal first, each only when every pod is Running and Ready; pods carry
/// `controller-revision-hash`, and status reports both revisions until the rollout is done. A
/// partition keeps the ordinals below it on the old revision.
#[tokio::test]
async fn a_template_change_rolls_the_pods_highest_ordinal_first_one_at_a_time() {
    let server = DevServer::builder().start().await.expect("server");
    let client = server.client().expect("client");
    let options = SimOptions { ready_delay: Duration::from_millis(100), ..SimOptions::default() };
    let sim = sim::start(client.clone(), options).await.expect("sim");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &statefulset("roll", 3)).await.expect("create sts");
    let revision = |p: &Pod| p.metadata.labels.as_ref().and_then(|l| l.get("controller-revision-hash")).cloned();
    let first = eventually(10, "three Ready pods", || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default().labels("app=roll")).await.ok()?;
            (list.items.len() == 3 && list.items.iter().all(is_ready)).then_some(list.items)
        }
    })
    .await;
    let old = revision(&first[0]).expect("pods carry the revision");
    assert!(old.starts_with("roll-"), "{old}");
    assert!(first.iter().all(|p| revision(p).as_ref() == Some(&old)));

    // Record deletions, and how many pods were Ready when each happened.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, usize)>::new()));
    let watch = {
        let (log, pods) = (log.clone(), pods.clone());
        tokio::spawn(async move {
            let mut ready = std::collections::BTreeMap::<String, bool>::new();
            let stream = watcher(pods, watcher::Config::default().labels("app=roll"));
            let mut stream = std::pin::pin!(stream);
            while let Some(Ok(ev)) = stream.next().await {
                match ev {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        let name = p.metadata.name.clone().unwrap_or_default();
                        let gone = p.metadata.deletion_timestamp.is_some();
                        let was = ready.insert(name.clone(), is_ready(&p) && !gone);
                        if gone && was != Some(false) {
                            let others = ready.iter().filter(|(n, r)| **n != name && **r).count();
                            log.lock().unwrap().push((name, others));
                        }
                    }
                    watcher::Event::Delete(p) => {
                        let name = p.metadata.name.clone().unwrap_or_default();
                        if ready.insert(name.clone(), false) != Some(false) {
                            let others = ready.iter().filter(|(n, r)| **n != name && **r).count();
                            log.lock().unwrap().push((name, others));
                        }
                    }
                    _ => {}
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "example/app:2"}]}}}});
    sets.patch("roll", &PatchParams::default(), &Patch::Strategic(&image)).await.expect("new template");
    let done = eventually(30, "every pod replaced and Ready", || {
        let (pods, old) = (pods.clone(), old.clone());
        async move {
            let list = pods.list(&ListParams::default().labels("app=roll")).await.ok()?;
            let fresh = list.items.len() == 3
                && list.items.iter().all(|p| is_ready(p) && revision(p).is_some_and(|r| r != old));
            fresh.then_some(list.items)
        }
    })
    .await;
    let new = revision(&done[0]).unwrap();
    assert!(done.iter().all(|p| p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("example/app:2")));
    let deleted = log.lock().unwrap().clone();
    let order: Vec<&str> = deleted.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(order, ["roll-2", "roll-1", "roll-0"], "{deleted:?}");
    assert!(deleted.iter().all(|(_, others)| *others == 2), "one pod down at a time: {deleted:?}");
    let status = eventually(10, "status shows the finished rollout", || {
        let sets = sets.clone();
        async move {
            let s = sets.get("roll").await.ok()?.status?;
            (s.current_revision == s.update_revision && s.updated_replicas == Some(3)).then_some(s)
        }
    })
    .await;
    assert_eq!(status.update_revision.as_deref(), Some(new.as_str()));

    // A partition of 2: only roll-2 moves to the next revision.
    let partitioned = json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        "template": {"spec": {"containers": [{"name": "main", "image": "example/app:3"}]}}}});
    sets.patch("roll", &PatchParams::default(), &Patch::Strategic(&partitioned)).await.expect("partitioned");
    let st = eventually(30, "roll-2 updated, the rest not", || {
        let (pods, sets, new) = (pods.clone(), sets.clone(), new.clone());
        async move {
            let s = sets.get("roll").await.ok()?.status?;
            let p2 = pods.get("roll-2").await.ok()?;
            let fresh = is_ready(&p2)
                && revision(&p2) == s.update_revision
                && s.update_revision.as_deref() != Some(new.as_str());
            fresh.then_some(s)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for keep in ["roll-0", "roll-1"] {
        assert_eq!(revision(&pods.get(keep).await.unwrap()).as_deref(), Some(new.as_str()), "{keep} stays");
    }
    let st2 = sets.get("roll").await.unwrap().status.unwrap();
    assert_eq!((st2.updated_replicas, st2.current_revision.as_deref()), (Some(1), Some(new.as_str())), "{st:?}");
    watch.abort();
    sim.shutdown().await;
    server.shutdown().await;
}
