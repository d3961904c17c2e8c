#!/usr/bin/env bash
# The project's test command (README, CI): formatting, lints, every test, and stale generated code.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== generated code is up to date"
cargo xtask codegen --check
echo "== rustdoc (generated code included) has no warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== tests"
cargo test --workspace --locked
