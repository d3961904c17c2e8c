package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BitcoinNetwork is a network of bitcoind nodes (twin of the Rust BitcoinNetwork).
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type BitcoinNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BitcoinNetworkSpec `json:"spec"`
	// +optional
	Status *BitcoinNetworkStatus `json:"status,omitempty"`
}

// BitcoinNetworkSpec is the desired state of a BitcoinNetwork.
type BitcoinNetworkSpec struct {
	Nodes int32 `json:"nodes"`
	// +optional
	Secret string `json:"secret,omitempty"`
	// +optional
	Image string `json:"image,omitempty"`
}

// BitcoinNetworkStatus is the observed state of a BitcoinNetwork.
type BitcoinNetworkStatus struct {
	// +optional
	// +listType=map
	// +listMapKey=ordinal
	Nodes []BitcoinNetworkNode `json:"nodes,omitempty"`
	// +optional
	ReadyNodes int32 `json:"readyNodes"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BitcoinNetworkNode is one bitcoind node of a network.
type BitcoinNetworkNode struct {
	Ordinal int32 `json:"ordinal"`
	Ready   bool  `json:"ready"`
	// +optional
	IP       string `json:"ip,omitempty"`
	NodeName string `json:"nodeName"`
	DNSName  string `json:"dnsName"`
}

// BitcoinNetworkList is a list of BitcoinNetworks.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type BitcoinNetworkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []BitcoinNetwork `json:"items"`
}
