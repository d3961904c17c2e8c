#!/usr/bin/env bash
# The project's test command (README, CI): formatting, lints, every test that needs no Go, and stale
# generated code. scripts/e2e.sh runs the rest (Go-built kube-apiserver, client-go benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== the controller's production build (no embedded devserver, as deploy/Dockerfile builds it)"
cargo clippy -p controller --no-default-features --locked -- -D warnings
echo "== generated code is up to date"
cargo xtask codegen --check
echo "== rustdoc (generated code included) has no warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== tests (those that need Go, named needs_go_*, run in scripts/e2e.sh)"
cargo test --workspace --locked -- --skip needs_go
