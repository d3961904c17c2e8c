//! Property tests: the indexer's indexes always agree with a scan, the delaying queue releases
//! each item at the earliest time it was asked for, and decoding without managedFields equals
//! decoding everything and stripping them.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;
use proptest::prelude::*;
use runtime::cache::{IndexFunc, Indexer, NAMESPACE_INDEX};
use runtime::workqueue::DelayingQueue;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

fn cm(ns: u8, name: u8, app: Option<u8>) -> Arc<ConfigMap> {
    Arc::new(ConfigMap {
        metadata: ObjectMeta {
            namespace: Some(format!("ns{ns}")),
            name: Some(format!("n{name}")),
            labels: app.map(|a| [("app".to_string(), format!("a{a}"))].into()),
            ..Default::default()
        },
        ..Default::default()
    })
}

fn app_index() -> IndexFunc<ConfigMap> {
    Arc::new(|o: &ConfigMap| o.metadata.labels.as_ref().and_then(|l| l.get("app").cloned()).into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn indexes_agree_with_scan(
        ops in prop::collection::vec((any::<bool>(), 0u8..3, 0u8..5, prop::option::of(0u8..3)), 0..60),
        add_index_at in 0usize..60,
    ) {
        let idx = Indexer::new();
        let mut model: BTreeMap<String, Arc<ConfigMap>> = BTreeMap::new();
        let mut has_app = false;
        for (i, (insert, ns, name, app)) in ops.into_iter().enumerate() {
            if i == add_index_at {
                idx.add_indexers([("app".to_string(), app_index())].into()).unwrap();
                has_app = true;
            }
            let key = format!("ns{ns}/n{name}");
            if insert {
                idx.insert(cm(ns, name, app));
                model.insert(key, cm(ns, name, app));
            } else {
                idx.delete(&key);
                model.remove(&key);
            }
        }
        prop_assert_eq!(idx.len(), model.len());
        for ns in 0..3u8 {
            let got: BTreeSet<String> = idx.index_keys(NAMESPACE_INDEX, &format!("ns{ns}")).unwrap().into_iter().collect();
            let want: BTreeSet<String> = model.keys().filter(|k| k.starts_with(&format!("ns{ns}/"))).cloned().collect();
            prop_assert_eq!(got, want);
        }
        if has_app {
            for a in 0..3u8 {
                let v = format!("a{a}");
                let got: BTreeSet<String> = idx.index_keys("app", &v).unwrap().into_iter().collect();
                let want: BTreeSet<String> = model.iter()
                    .filter(|(_, o)| o.metadata.labels.as_ref().and_then(|l| l.get("app")) == Some(&v))
                    .map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(got, want);
            }
            // No empty index values are kept.
            for v in idx.list_index_func_values("app") {
                prop_assert!(!idx.index_keys("app", &v).unwrap().is_empty());
            }
        }
    }

    #[test]
    fn delaying_queue_earliest_time_wins(
        adds in prop::collection::vec((0u8..4, 1u64..50), 1..20),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async move {
            let q = DelayingQueue::new();
            let mut earliest: BTreeMap<u8, u64> = BTreeMap::new();
            for (k, ms) in &adds {
                q.add_after(*k, Duration::from_millis(*ms));
                let e = earliest.entry(*k).or_insert(*ms);
                *e = (*e).min(*ms);
            }
            tokio::task::yield_now().await;
            // Step through time; at each ms exactly the items due so far are ready.
            let mut released = BTreeSet::new();
            for t in 1..=50u64 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                while let Some(Some(k)) = futures::FutureExt::now_or_never(q.get()) {
                    assert!(earliest[&k] <= t, "{k} released at {t}ms, due at {}ms", earliest[&k]);
                    assert!(released.insert(k), "{k} released twice");
                    q.done(&k);
                }
                for (k, due) in &earliest {
                    if *due + 1 < t {
                        assert!(released.contains(k), "{k} due at {due}ms not released by {t}ms");
                    }
                }
            }
            assert_eq!(released.len(), earliest.len());
        });
    }
}

/// Any JSON value, with keys that collide with the filtered ones and strings that need escapes.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z\"\\\\é ]{0,8}".prop_map(serde_json::Value::from),
    ];
    let key = prop_oneof![Just("managedFields"), Just("metadata"), Just("f:spec"), Just("name"), Just("x\"y")];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec((key.clone(), inner), 0..4).prop_map(|kv| {
                serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// `{"k1":v1,...}` in exactly the given order (a `serde_json::Map` would sort the keys).
fn object_text(entries: &[(String, String)]) -> String {
    let body: Vec<String> =
        entries.iter().map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap_or_default())).collect();
    format!("{{{}}}", body.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Skipping managedFields while decoding gives exactly what decoding everything and then
    /// dropping them gives, whatever the key order, the other fields and the values around.
    #[test]
    fn decoding_without_managed_fields_equals_decode_then_strip(
        managed in json_value(),
        labels in prop::collection::btree_map("[a-z]{1,3}", "[a-z]{0,3}", 0..3),
        spec in json_value(),
        extra in json_value(),
        meta_order in Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        top_order in Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        use kube::api::DynamicObject;
        use runtime::cache::WithoutManagedFields;
        let meta_entries = [
            ("name".to_string(), "\"n\"".to_string()),
            ("namespace".to_string(), "\"ns\"".to_string()),
            ("labels".to_string(), serde_json::to_string(&labels).unwrap_or_default()),
            ("managedFields".to_string(), serde_json::to_string(&serde_json::json!([{"manager": "m", "fieldsV1": managed}])).unwrap_or_default()),
            ("resourceVersion".to_string(), "\"7\"".to_string()),
        ];
        let meta: Vec<_> = meta_order.iter().map(|&i| meta_entries[i].clone()).collect();
        let top_entries = [
            ("apiVersion".to_string(), "\"example.com/v1\"".to_string()),
            ("kind".to_string(), "\"Thing\"".to_string()),
            ("metadata".to_string(), object_text(&meta)),
            ("spec".to_string(), serde_json::to_string(&spec).unwrap_or_default()),
            ("extra".to_string(), serde_json::to_string(&extra).unwrap_or_default()),
        ];
        let top: Vec<_> = top_order.iter().map(|&i| top_entries[i].clone()).collect();
        let text = object_text(&top);

        let mut expected: DynamicObject = serde_json::from_str(&text).unwrap();
        prop_assert!(expected.metadata.managed_fields.is_some());
        expected.metadata.managed_fields = None;
        let got: WithoutManagedFields<DynamicObject> = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&got.0, &expected);
        let got: WithoutManagedFields<DynamicObject> = serde_json::from_slice(text.as_bytes()).unwrap();
        prop_assert_eq!(&got.0, &expected);
    }
}
