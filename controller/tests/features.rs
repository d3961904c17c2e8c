//! The production build (`--no-default-features`, as deploy/Dockerfile builds it) links no
//! devserver; the default build (what the README's `cargo run -p controller -- --embedded` uses)
//! does. Checked on the dependency graph cargo resolves, so a new path to the devserver fails.

use std::process::Command;

/// The normal (non-dev) dependencies of the controller package, one crate name per line.
fn dependencies(features: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--offline", "--locked", "-p", "controller", "-e", "normal,build", "--prefix", "none"])
        .args(["--format", "{p}"])
        .args(features)
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn the_production_build_has_no_devserver() {
    let production = dependencies(&["--no-default-features"]);
    assert!(production.iter().any(|c| c == "kube"), "the tree was read: {production:?}");
    assert!(!production.iter().any(|c| c == "devserver"), "devserver is linked without the embedded feature");
    let default = dependencies(&[]);
    assert!(default.iter().any(|c| c == "devserver"), "the default build has --embedded");
}
