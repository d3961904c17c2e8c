#!/usr/bin/env bash
# Regenerates the Go twin's deep-copy functions, typed clientset, listers and informers with
# k8s.io/code-generator's four generators, pinned by the `tool` lines of bench/go/go.mod and run
# with `go tool` from the module cache (the same flags kube_codegen.sh passes).
set -euo pipefail
cd "$(dirname "$0")/.."
mod=bitcoincontroller.bench/gotwin
hdr=hack/boilerplate.go.txt
api=$mod/apis/bitcoincontroller/v1
rm -rf generated apis/bitcoincontroller/v1/zz_generated.deepcopy.go
go tool deepcopy-gen --go-header-file "$hdr" --output-file zz_generated.deepcopy.go "$api"
go tool client-gen --go-header-file "$hdr" --clientset-name versioned --input-base "" \
  --input "$api" --output-dir generated/clientset --output-pkg "$mod/generated/clientset"
go tool lister-gen --go-header-file "$hdr" --output-dir generated/listers \
  --output-pkg "$mod/generated/listers" "$api"
go tool informer-gen --go-header-file "$hdr" --output-dir generated/informers \
  --output-pkg "$mod/generated/informers" \
  --versioned-clientset-package "$mod/generated/clientset/versioned" \
  --listers-package "$mod/generated/listers" "$api"
