//! What `cargo xtask codegen` runs, as a library so that a test can run exactly the same
//! configuration (see `tests/generated_fresh.rs`).

use std::path::{Path, PathBuf};

/// The workspace root: xtask lives one level below it.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// The generator's configuration for this workspace: the apis crate in, the `generated` crate,
/// the built-in `kubernetes` crate (every k8s-openapi kind, verbs from the checked-in
/// discovery), the CRDs in `deploy/crd/` and `deploy/rbac.yaml` (from the controller's RBAC
/// markers) out.
pub fn codegen_config(root: &Path, check: bool) -> codegen::Config {
    codegen::Config::new()
        .input(root.join("apis"))
        .output(root.join("generated"))
        .kubernetes(root.join("kubernetes"))
        .crd_dir(root.join("deploy/crd"))
        .rbac(codegen::generators::rbac::RbacConfig {
            sources: root.join("controller/src"),
            output: root.join("deploy/rbac.yaml"),
            name: "bitcoin-controller".into(),
            namespace: "bitcoin-controller".into(),
        })
        .check(check)
        .regenerate_command("cargo xtask codegen")
}
