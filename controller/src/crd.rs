//! The generated BitcoinNetwork CRD and the example network, compiled in, with the two steps
//! every setup needs (install the CRD and wait until it is served; create the example): used by
//! `--embedded`, the tests and anyone bootstrapping a cluster from the binary alone.

use apis::bitcoincontroller::v1::BitcoinNetwork;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use std::time::Duration;

/// The generated CRD, compiled in so the binary works from anywhere.
pub const CRD_YAML: &str =
    include_str!("../../deploy/crd/bitcoincontroller.christianb93.github.com_bitcoinnetworks.yaml");
/// The example network (3 nodes).
pub const EXAMPLE_YAML: &str = include_str!("../../deploy/examples/bitcoinnetwork.yaml");

/// Creates the CRD (if absent) and waits until it is Established.
pub async fn install_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd: CustomResourceDefinition = serde_yaml::from_str(CRD_YAML)?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(anyhow::anyhow!("creating CRD {name}: {e}")),
    }
    let established =
        kube::runtime::wait::await_condition(api, &name, kube::runtime::wait::conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .map_err(|_| anyhow::anyhow!("CRD {name} not established within 30s"))??;
    Ok(())
}

/// Creates every BitcoinNetwork in `yaml` (multi-document); existing ones are left alone.
pub async fn apply_networks(client: &kube::Client, yaml: &str) -> anyhow::Result<Vec<String>> {
    let mut names = vec![];
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        let net: BitcoinNetwork = serde_yaml::from_value(value)?;
        let ns = net.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<BitcoinNetwork> = Api::namespaced(client.clone(), &ns);
        match api.create(&PostParams::default(), &net).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(anyhow::anyhow!("creating the example network: {e}")),
        }
        names.push(format!("{ns}/{}", net.metadata.name.unwrap_or_default()));
    }
    Ok(names)
}
