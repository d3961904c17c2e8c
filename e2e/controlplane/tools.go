//go:build tools

// Package tools records the commands this module builds, so `go mod tidy` keeps their
// dependencies: kube-apiserver from k8s.io/kubernetes (etcd's main is in ./etcd).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
