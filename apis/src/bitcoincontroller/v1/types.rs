//! The BitcoinNetwork kind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

/// A network of bitcoind nodes. The controller runs them as a StatefulSet behind a headless
/// Service, joins every ready node to every other over JSON-RPC, and reports the nodes in status.
///
/// +genclient
/// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
/// +kubebuilder:subresource:status
/// +kubebuilder:resource:shortName=btcnet;bn,categories=all;bitcoin
/// +kubebuilder:subresource:scale:specpath=.spec.nodes,statuspath=.status.replicas,selectorpath=.status.selector
/// +kubebuilder:printcolumn:name=NODES,type=integer,JSONPath=".spec.nodes",description="Desired number of nodes"
/// +kubebuilder:printcolumn:name=READY,type=integer,JSONPath=".status.readyNodes",description="Nodes whose pod is ready"
/// +kubebuilder:printcolumn:name=REASON,type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,description="Why the network is or is not Ready"
/// +kubebuilder:printcolumn:name=AGE,type=date,JSONPath=".metadata.creationTimestamp"
/// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 48",message="metadata.name may have at most 48 characters: the pods' controller-revision-hash label (NAME-sts-HASH) is limited to 63"
/// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS label that starts with a letter (no dots): the Service NAME-svc is named after it"
#[derive(Debug, Default, PartialEq)]
pub struct BitcoinNetwork {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The desired state of the network.
    pub spec: BitcoinNetworkSpec,
    /// The observed state of the network, written by the controller through the status subresource.
    /// +optional
    pub status: Option<BitcoinNetworkStatus>,
}

/// The desired state of a BitcoinNetwork.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BitcoinNetworkSpec {
    /// Number of bitcoind nodes to run. Scaling down removes the highest ordinals first.
    /// +kubebuilder:validation:Minimum=0
    /// +kubebuilder:validation:Maximum=1000
    pub nodes: i32,
    /// Name of a Secret in the same namespace holding the RPC credentials in the keys
    /// BC_RPC_USER and BC_RPC_PASSWORD. When empty, the controller creates a Secret named
    /// `<network>-rpc` with random credentials.
    /// +optional
    /// +kubebuilder:validation:MaxLength=253
    /// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The bitcoind container image. When empty, the controller's `--bitcoind-image` is used.
    /// +optional
    /// +kubebuilder:validation:Pattern=`^(\S+)?$`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// The observed state of a BitcoinNetwork.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BitcoinNetworkStatus {
    /// The nodes that exist, one entry per pod, by ordinal.
    /// +optional
    /// +listType=map
    /// +listMapKey=ordinal
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<BitcoinNetworkNode>,
    /// Number of nodes whose pod is ready.
    /// +optional
    #[serde(default)]
    pub ready_nodes: i32,
    /// Number of nodes that exist (pods of the network's StatefulSet, ready or not): the
    /// replicas the scale subresource reports.
    /// +optional
    #[serde(default)]
    pub replicas: i32,
    /// The label selector of the nodes' pods, as a string (`key=value`): the scale subresource's
    /// selector, for HorizontalPodAutoscalers.
    /// +optional
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    /// The metadata.generation this status was computed from.
    /// +optional
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The latest observations of the network's state: `Ready` and `Progressing`.
    /// +optional
    /// +listType=map
    /// +listMapKey=type
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// One bitcoind node of a network.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BitcoinNetworkNode {
    /// The node's StatefulSet ordinal.
    /// +kubebuilder:validation:Minimum=0
    pub ordinal: i32,
    /// True when the node's pod is ready (its bitcoind answers RPC).
    pub ready: bool,
    /// The pod IP, once the pod has one.
    /// +optional
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The name of the pod that runs the node.
    pub node_name: String,
    /// The node's stable DNS name, `<pod>.<service>`.
    pub dns_name: String,
}

/// A list of BitcoinNetworks.
#[derive(Debug, Default, PartialEq)]
pub struct BitcoinNetworkList {
    /// Standard list metadata.
    pub metadata: ListMeta,
    /// The networks.
    pub items: Vec<BitcoinNetwork>,
}
