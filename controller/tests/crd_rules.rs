//! The generated CRD on a server (the devserver, or kube-apiserver with `KUBE_TEST_KUBECONFIG`):
//! it refuses names and fields that can never work with the rule's own message, shows READY,
//! REASON and AGE, and serves the scale subresource that `kubectl scale` uses.

use apis::bitcoincontroller::v1::{BitcoinNetwork, BitcoinNetworkSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use std::process::Command;

fn network(name: &str, secret: Option<&str>) -> BitcoinNetwork {
    BitcoinNetwork {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: BitcoinNetworkSpec { nodes: 1, secret: secret.map(Into::into), image: None },
        status: None,
    }
}

/// The API server's message for a refused create, or a panic when it was accepted.
async fn refused(api: &Api<BitcoinNetwork>, net: &BitcoinNetwork) -> String {
    match api.create(&PostParams::default(), net).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{}", s.message);
            s.message
        }
        other => panic!("{:?} was not refused: {other:?}", net.metadata.name),
    }
}

/// Runs kubectl against the test's server and namespace (off the async workers: the devserver
/// answers on this runtime).
fn kubectl_output(env: &testenv::TestEnv, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(env.kubeconfig_path()).args(["-n", env.namespace()]).args(args);
    tokio::task::block_in_place(|| cmd.output()).expect("kubectl is required for this test (Debian: kubernetes-client)")
}

fn kubectl(env: &testenv::TestEnv, args: &[&str]) -> String {
    let out = kubectl_output(env, args);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl {args:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crd_refuses_what_can_never_work_and_serves_scale() {
    let env = testenv::TestEnv::start().await;
    let crd: CustomResourceDefinition = serde_yaml::from_str(controller::crd::CRD_YAML).unwrap();
    env.install_crd(&crd).await;
    let api: Api<BitcoinNetwork> = env.api();

    let message = refused(&api, &network(&"n".repeat(49), None)).await;
    assert!(message.contains("at most 48 characters"), "{message}");
    let message = refused(&api, &network("my.net", None)).await;
    assert!(message.contains("must be a DNS label"), "{message}");
    let message = refused(&api, &network("net", Some("Bad_Name!"))).await;
    assert!(message.contains("spec.secret"), "{message}");
    api.create(&PostParams::default(), &network(&"n".repeat(48), None)).await.expect("48 characters are fine");

    api.create(&PostParams::default(), &network("net", None)).await.unwrap();
    let table = kubectl(&env, &["get", "bitcoinnetworks", "net"]);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "NODES", "READY", "REASON", "AGE"], "{table}");

    // kubectl scale talks to the scale subresource; spec.nodes follows, within the CRD's limits.
    let out = kubectl(&env, &["scale", "bitcoinnetwork", "net", "--replicas=4"]);
    assert!(out.contains("scaled"), "{out}");
    assert_eq!(api.get("net").await.unwrap().spec.nodes, 4);
    let scale = api.get_scale("net").await.unwrap();
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(4));
    let over = kubectl_output(&env, &["scale", "bitcoinnetwork", "net", "--replicas=1001"]);
    assert!(!over.status.success(), "1001 nodes exceed the CRD's maximum");
    assert_eq!(api.get("net").await.unwrap().spec.nodes, 4);
    env.shutdown().await;
}
