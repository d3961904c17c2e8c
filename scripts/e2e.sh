#!/usr/bin/env bash
# What needs Go: the benchmark smoke test with its client-go rows (needs_go_*), then the
# real-server suites: builds (once) and starts kube-apiserver + etcd from source
# (`cargo xtask cluster up`), runs the runtime, generated-client and controller end-to-end
# suites (the built-in crate's and the node-informer example's too), the second API crate's and the RBAC proof against it (KUBE_TEST_KUBECONFIG; devserver_only tests skipped),
# the differential conformance comparison (`cargo xtask conformance`), and stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "e2e: Go is required to build kube-apiserver and etcd from source (go 1.26 or newer)" >&2
  exit 1
fi

echo "== tests that need Go (client-go benchmark rows, the Go twin's generated code is fresh, client-go speaks protobuf)"
cargo test --locked -p bench --test quick --test go_generated_fresh
cargo test --locked -p bench --bin bench needs_go

echo "== cargo xtask cluster up"
started=$(date +%s)
cargo xtask cluster up
echo "== control plane ready after $(( $(date +%s) - started )) s (build included)"
trap 'cargo xtask cluster down' EXIT
eval "$(cargo xtask cluster env)"

echo "== suites against kube-apiserver ($KUBE_TEST_KUBECONFIG)"
cargo test --locked -p runtime --test server -p generated --test e2e \
  -p kubernetes --test e2e -p node-informer --test node_informer \
  -p controller --test e2e --test rbac_enforced --test crd_rules --test leader -p devserver --test escalation -- --skip devserver_only
# A second API crate, generated and built in a temporary workspace; its tests (clientset,
# informers, apply configurations with two field managers) run against kube-apiserver too.
cargo test --locked -p codegen --test second_api -- second_api_crate

echo "== kubectl: the generated CRD and the example network on kube-apiserver"
kubectl apply -f deploy/crd/
kubectl wait --for=condition=Established --timeout=60s -f deploy/crd/
kubectl apply -f deploy/examples/
kubectl get -f deploy/examples/
kubectl delete -f deploy/examples/

echo "== conformance: devserver vs kube-apiserver"
cargo xtask conformance
echo "== discovery: the checked-in verbs of the built-in crate match kube-apiserver with every API on"
cargo xtask cluster up --all-apis
cargo xtask discovery --check
