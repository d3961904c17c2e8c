//! The example binary against the devserver, or a real kube-apiserver with
//! `KUBE_TEST_KUBECONFIG`: it reports a node appearing, the storage of its images changing,
//! and the node leaving, read through its kubeconfig.

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerImage, Node, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use testenv::TestEnv;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn reports_nodes_and_their_image_storage() {
    let env = TestEnv::start().await;
    let label = env.namespace().to_string();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_node-informer"))
        .arg("--kubeconfig")
        .arg(env.kubeconfig_path())
        .args(["--selector", &format!("test={label}"), "--exit-after-events", "3", "--resync-secs", "1"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();

    let nodes: Api<Node> = Api::all(env.client());
    let name = format!("{label}-worker");
    let node = Node {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some([("test".to_string(), label.clone())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    // Created before or after the informer's first list: either way it is an add.
    nodes.create(&PostParams::default(), &node).await.expect("create node");
    let image = |size: i64| ContainerImage { names: Some(vec![format!("img:{size}")]), size_bytes: Some(size) };
    let status = NodeStatus { images: Some(vec![image(100), image(250)]), ..Default::default() };
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("a line within 20 s")
            .expect("stdout readable")
            .expect("not closed")
    };
    let first = next().await;
    assert!(first.starts_with(&format!("added node {name} images=")), "{first}");
    nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await.expect("status");
    assert_eq!(next().await, format!("images changed on node {name}: 0 -> 350 bytes"));
    nodes.delete(&name, &DeleteParams::default()).await.expect("delete");
    assert_eq!(next().await, format!("deleted node {name}"));
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").expect("waits");
    assert!(exit.success(), "{exit:?}");
    env.shutdown().await;
}
