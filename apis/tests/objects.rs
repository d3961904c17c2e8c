//! The generated in-package code on the real API: Resource impls, serde with apiVersion and
//! kind, deep copy, and the CRD in deploy/ (round-trip through k8s-openapi, and the examples
//! validated against its schema by the devserver's validator).

use std::fs;
use std::path::{Path, PathBuf};

use apis::bitcoincontroller::v1::{
    BitcoinNetwork, BitcoinNetworkList, BitcoinNetworkNode, BitcoinNetworkSpec, BitcoinNetworkStatus,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn crd() -> CustomResourceDefinition {
    let path = workspace().join("deploy/crd/bitcoincontroller.christianb93.github.com_bitcoinnetworks.yaml");
    serde_yaml::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn example() -> Value {
    serde_yaml::from_str(&fs::read_to_string(workspace().join("deploy/examples/bitcoinnetwork.yaml")).unwrap()).unwrap()
}

fn network() -> BitcoinNetwork {
    BitcoinNetwork {
        metadata: ObjectMeta { name: Some("net".into()), namespace: Some("default".into()), ..Default::default() },
        spec: BitcoinNetworkSpec { nodes: 2, secret: Some("rpc".into()), image: None },
        status: Some(BitcoinNetworkStatus {
            nodes: vec![BitcoinNetworkNode {
                ordinal: 0,
                ready: true,
                ip: Some("127.0.0.2".into()),
                node_name: "net-sts-0".into(),
                dns_name: "net-sts-0.net-svc".into(),
            }],
            ready_nodes: 1,
            replicas: 1,
            selector: "app=net".into(),
            observed_generation: Some(1),
            conditions: vec![],
        }),
    }
}

#[test]
fn kube_sees_a_resource() {
    use kube::Resource;
    assert_eq!(BitcoinNetwork::kind(&()), "BitcoinNetwork");
    assert_eq!(BitcoinNetwork::group(&()), "bitcoincontroller.christianb93.github.com");
    assert_eq!(BitcoinNetwork::plural(&()), "bitcoinnetworks");
    assert_eq!(BitcoinNetwork::api_version(&()), apis::bitcoincontroller::v1::API_VERSION);
    let ar = kube::api::ApiResource::erase::<BitcoinNetwork>(&());
    assert_eq!(ar.version, "v1");
    assert_eq!(<BitcoinNetwork as k8s_openapi::ListableResource>::LIST_KIND, "BitcoinNetworkList");
    assert_eq!(apis::bitcoincontroller::GROUP_NAME, "bitcoincontroller.christianb93.github.com");
}

#[test]
fn serde_writes_and_checks_type_meta() {
    let net = network();
    let v = serde_json::to_value(&net).unwrap();
    assert_eq!(v["apiVersion"], "bitcoincontroller.christianb93.github.com/v1");
    assert_eq!(v["kind"], "BitcoinNetwork");
    assert_eq!(v["status"]["readyNodes"], 1);
    assert_eq!(v["status"]["nodes"][0]["dnsName"], "net-sts-0.net-svc");
    assert!(v["spec"].get("image").is_none());
    let back: BitcoinNetwork = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, net);

    let no_status = BitcoinNetwork { status: None, ..network() };
    assert!(serde_json::to_value(&no_status).unwrap().get("status").is_none());

    let mut wrong = v.clone();
    wrong["kind"] = "Pod".into();
    let err = serde_json::from_value::<BitcoinNetwork>(wrong).unwrap_err().to_string();
    assert!(err.contains("BitcoinNetwork"), "{err}");
    let mut missing = v.clone();
    missing.as_object_mut().unwrap().remove("spec");
    assert!(
        serde_json::from_value::<BitcoinNetwork>(missing).unwrap_err().to_string().contains("missing field `spec`")
    );
    // apiVersion and kind may be absent (as in some list items); unknown fields are ignored.
    let mut bare = v.clone();
    bare.as_object_mut().unwrap().remove("kind");
    bare["extra"] = json!({"x": 1});
    assert_eq!(serde_json::from_value::<BitcoinNetwork>(bare).unwrap(), net);
    let dup = r#"{"metadata":{},"spec":{"nodes":1},"spec":{"nodes":2}}"#;
    assert!(serde_json::from_str::<BitcoinNetwork>(dup).unwrap_err().to_string().contains("duplicate field `spec`"));

    let list = BitcoinNetworkList { metadata: Default::default(), items: vec![net.clone()] };
    let lv = serde_json::to_value(&list).unwrap();
    assert_eq!(lv["kind"], "BitcoinNetworkList");
    let back: BitcoinNetworkList = serde_json::from_value(lv).unwrap();
    assert_eq!(back.items, vec![net]);
}

#[test]
fn deep_copy_is_independent_and_clone_from_reuses() {
    let net = network();
    let mut copy = net.clone();
    copy.status.as_mut().unwrap().nodes[0].ready = false;
    assert!(net.status.as_ref().unwrap().nodes[0].ready, "a copy shares nothing with its source");
    let mut target = BitcoinNetwork::default();
    target.clone_from(&net);
    assert_eq!(target, net);
}

#[test]
fn crd_round_trips_through_k8s_openapi() {
    let crd = crd();
    assert_eq!(crd.metadata.name.as_deref(), Some("bitcoinnetworks.bitcoincontroller.christianb93.github.com"));
    assert_eq!(crd.spec.names.short_names.as_deref(), Some(&["btcnet".to_string(), "bn".to_string()][..]));
    assert_eq!(crd.spec.scope, "Namespaced");
    let v = &crd.spec.versions[0];
    assert!(v.served && v.storage);
    assert!(v.subresources.as_ref().unwrap().status.is_some());
    let cols: Vec<&str> = v.additional_printer_columns.as_ref().unwrap().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(cols, ["NODES", "READY", "REASON", "AGE"]);
    let again: CustomResourceDefinition = serde_json::from_value(serde_json::to_value(&crd).unwrap()).unwrap();
    assert_eq!(again, crd);
}

#[test]
fn examples_validate_against_the_crd_schema() {
    let crd = crd();
    let ex = example();
    let causes = devserver::schema::validate_crd_version(&crd, "v1", &ex);
    assert!(causes.is_empty(), "{causes:?}");
    // The example is also a valid typed object.
    let typed: BitcoinNetwork = serde_json::from_value(ex.clone()).unwrap();
    assert_eq!(typed.spec.nodes, 3);
    // And so is anything our own types write.
    let causes = devserver::schema::validate_crd_version(&crd, "v1", &serde_json::to_value(network()).unwrap());
    assert!(causes.is_empty(), "{causes:?}");

    let mut negative = ex.clone();
    negative["spec"]["nodes"] = json!(-1);
    let causes = devserver::schema::validate_crd_version(&crd, "v1", &negative);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "spec.nodes");
    assert!(causes[0].message.contains("greater than or equal to 0"), "{causes:?}");

    let mut missing = ex.clone();
    missing["spec"].as_object_mut().unwrap().remove("nodes");
    let causes = devserver::schema::validate_crd_version(&crd, "v1", &missing);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "spec.nodes");
    assert_eq!(causes[0].reason, "FieldValueRequired");

    let mut wrong_type = ex;
    wrong_type["spec"]["nodes"] = json!("three");
    assert!(!devserver::schema::validate_crd_version(&crd, "v1", &wrong_type).is_empty());
}

/// The CRD refuses what can never work: names the pods' labels or the Service cannot carry,
/// a `spec.secret` that is no Secret name, an image with whitespace. (The same objects against
/// the real kube-apiserver: controller/tests/crd_rules.rs.)
#[test]
fn crd_rules_refuse_what_can_never_work() {
    let crd = crd();
    let with = |name: &str, secret: Option<&str>, image: Option<&str>| {
        let mut ex = example();
        ex["metadata"]["name"] = json!(name);
        if let Some(s) = secret {
            ex["spec"]["secret"] = json!(s);
        }
        if let Some(i) = image {
            ex["spec"]["image"] = json!(i);
        }
        devserver::schema::validate_crd_version(&crd, "v1", &ex)
    };
    let longest = "a".repeat(48);
    assert!(with(&longest, None, None).is_empty(), "48 characters work");
    let causes = with(&format!("{longest}b"), None, None);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert!(causes[0].message.contains("at most 48 characters"), "{causes:?}");
    for bad in ["1net", "my.net"] {
        let causes = with(bad, None, None);
        assert!(causes.iter().any(|c| c.message.contains("DNS label")), "{bad}: {causes:?}");
    }
    assert!(with("net", Some("my-secret.v2"), Some("bitcoin/bitcoin:28.1")).is_empty());
    assert!(with("net", Some(""), None).is_empty(), "empty: generated");
    let causes = with("net", Some("Bad_Name!"), None);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "spec.secret");
    let causes = with("net", None, Some(" bitcoin "));
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "spec.image");
}
