// Package v1 is the Go twin of the Rust crate `apis` (apis/src/bitcoincontroller/v1): the same
// BitcoinNetwork kind with the same fields and JSON names, so the Go benchmark in bench/go
// decodes exactly the objects our Rust benchmarks decode. Keep it in step with types.rs.
//
// +k8s:deepcopy-gen=package
// +groupName=bitcoincontroller.christianb93.github.com
package v1
