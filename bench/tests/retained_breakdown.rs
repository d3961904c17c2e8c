//! Where the bytes of one cached BitcoinNetwork go (the object the informer rows cache, as the
//! server sends it, decoded without managedFields like our informers do), counted by this test
//! binary's own allocator, and what a shrink-to-fit transform saves. `cargo test -p bench --test
//! retained_breakdown -- --nocapture` prints the table that README's memory note quotes. One
//! test in this binary, so no other test allocates while it counts.

use apis::bitcoincontroller::v1::BitcoinNetwork;
use cap::Cap;
use runtime::cache::WithoutManagedFields;

#[global_allocator]
static ALLOC: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

const OBJECT: &str = r#"{"apiVersion":"bitcoincontroller.christianb93.github.com/v1","kind":"BitcoinNetwork",
"metadata":{"name":"net-000042","namespace":"bench","uid":"0b0f1c8e-6f0a-4e43-9a52-3a3f8a2b9c41",
"resourceVersion":"123456","generation":1,"creationTimestamp":"2026-12-02T10:00:00Z",
"labels":{"app.kubernetes.io/instance":"net-000042","app.kubernetes.io/name":"bitcoin","team":"team-8"},
"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"bitcoincontroller.christianb93.github.com/v1\",\"kind\":\"BitcoinNetwork\",\"metadata\":{\"name\":\"net-000042\",\"namespace\":\"bench\"},\"spec\":{\"nodes\":3}}"},
"managedFields":[{"manager":"bench","operation":"Update","apiVersion":"bitcoincontroller.christianb93.github.com/v1","time":"2026-12-02T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{".":{},"f:nodes":{}}}}]},
"spec":{"nodes":3,"secret":"net-000042-rpc"},
"status":{"nodes":[
{"ordinal":0,"ready":true,"ip":"127.0.1.2","nodeName":"net-000042-sts-0","dnsName":"net-000042-sts-0.net-000042-svc"},
{"ordinal":1,"ready":true,"ip":"127.0.2.3","nodeName":"net-000042-sts-1","dnsName":"net-000042-sts-1.net-000042-svc"},
{"ordinal":2,"ready":true,"ip":"127.0.3.4","nodeName":"net-000042-sts-2","dnsName":"net-000042-sts-2.net-000042-svc"}],
"readyNodes":3,"observedGeneration":1,"conditions":[
{"type":"Ready","status":"True","reason":"AllNodesReady","message":"3 of 3 nodes are ready and fully meshed","lastTransitionTime":"2026-12-02T10:00:01Z","observedGeneration":1},
{"type":"Progressing","status":"True","reason":"AllNodesReady","message":"3 of 3 nodes are ready and fully meshed","lastTransitionTime":"2026-12-02T10:00:01Z","observedGeneration":1}]}}"#;

/// Heap bytes `make` leaves allocated in what it returns.
fn held<T>(make: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOC.allocated();
    let value = make();
    (value, ALLOC.allocated() - before)
}

fn decode() -> BitcoinNetwork {
    serde_json::from_str::<WithoutManagedFields<BitcoinNetwork>>(OBJECT).unwrap().0
}

#[test]
fn one_cached_object_by_part_and_what_shrinking_saves() {
    let (net, heap) = held(decode);
    let inline = std::mem::size_of::<BitcoinNetwork>();
    assert!(net.metadata.managed_fields.is_none(), "decoded without managedFields");
    let status = net.status.as_ref().unwrap();
    let (nodes, conditions) = (&status.nodes, &status.conditions);
    // Each part's heap: a fresh decode of that part alone, as serde builds it.
    let part = |pointer: &str| -> usize {
        let v: serde_json::Value = serde_json::from_str(OBJECT).unwrap();
        let text = v.pointer(pointer).unwrap().to_string();
        match pointer {
            "/metadata/labels" | "/metadata/annotations" => {
                held(|| serde_json::from_str::<std::collections::BTreeMap<String, String>>(&text).unwrap()).1
            }
            "/status/nodes" => {
                held(|| serde_json::from_str::<Vec<apis::bitcoincontroller::v1::BitcoinNetworkNode>>(&text).unwrap()).1
            }
            _ => {
                held(|| {
                    serde_json::from_str::<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>(&text)
                        .unwrap()
                })
                .1
            }
        }
    };
    let (labels, annotations) = (part("/metadata/labels"), part("/metadata/annotations"));
    let (nodes_heap, conditions_heap) = (part("/status/nodes"), part("/status/conditions"));
    println!("one BitcoinNetwork: {} B inline (ObjectMeta {} B of it) + {heap} B heap", inline, {
        std::mem::size_of::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>()
    });
    println!("  labels (BTreeMap, 3 entries): {labels} B");
    println!("  annotations (BTreeMap, 1 entry): {annotations} B");
    println!("  status.nodes (3 items, capacity {}): {nodes_heap} B", nodes.capacity());
    println!("  status.conditions (2 items, capacity {}): {conditions_heap} B", conditions.capacity());
    println!(
        "  everything else (strings, Box/Option contents): {} B",
        heap - labels - annotations - nodes_heap - conditions_heap
    );

    let (shrunk, shrunk_heap) = held(|| {
        let mut n = decode();
        if let Some(s) = &mut n.status {
            s.nodes.shrink_to_fit();
            s.conditions.shrink_to_fit();
        }
        n
    });
    let saved = heap - shrunk_heap;
    println!("shrink-to-fit transform: {shrunk_heap} B heap ({saved} B less)");
    // serde grows vectors by doubling from 4: a 3-item and a 2-item vector hold spare slots,
    // which shrinking returns (the allocator may round, so at least the element sizes).
    let spare = (nodes.capacity() - nodes.len()) * std::mem::size_of_val(&nodes[0])
        + (conditions.capacity() - conditions.len()) * std::mem::size_of_val(&conditions[0]);
    assert!(
        spare > 0,
        "serde left no spare capacity: nodes {}, conditions {}",
        nodes.capacity(),
        conditions.capacity()
    );
    assert!(saved >= spare, "shrinking saved {saved} B, the spare slots hold {spare} B");
    assert_eq!(shrunk, net, "shrinking changes no value");
}
