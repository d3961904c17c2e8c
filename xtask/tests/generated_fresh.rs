//! The checked-in generated files (the `generated` crate, `deploy/crd/`, `deploy/rbac.yaml`)
//! match what the generator makes of the current sources, as rust-analyzer's sourcegen tests
//! check theirs: a plain `cargo test` fails on a stale file and names the command that fixes it.

#[test]
fn generated_files_are_fresh() {
    let root = xtask::workspace_root();
    let report = xtask::codegen_config(&root, true).run().unwrap_or_else(|e| panic!("the generator failed:\n{e}"));
    assert!(report.is_fresh(), "{}", report.check_failure());
}
