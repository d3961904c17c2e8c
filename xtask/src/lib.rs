//! What `cargo xtask codegen` runs, as a library so that a test can run exactly the same
//! configuration (see `tests/generated_fresh.rs`).

use std::path::{Path, PathBuf};

/// The workspace root: xtask lives one level below it.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// The built-in kinds the devserver takes and gives as protobuf (kube-apiserver does for every
/// built-in kind; custom resources are JSON only): the kinds it serves, the subresource kinds
/// and `Status`.
pub const PROTOBUF_KINDS: &[&str] = &[
    "v1/Namespace",
    "v1/Node",
    "v1/Pod",
    "v1/Service",
    "v1/Secret",
    "v1/ConfigMap",
    "v1/ServiceAccount",
    "v1/Event",
    "v1/ResourceQuota",
    "apps/v1/StatefulSet",
    "apps/v1/Deployment",
    "apps/v1/ReplicaSet",
    "apps/v1/ControllerRevision",
    "batch/v1/Job",
    "batch/v1/CronJob",
    "networking.k8s.io/v1/Ingress",
    "policy/v1/PodDisruptionBudget",
    "scheduling.k8s.io/v1/PriorityClass",
    "events.k8s.io/v1/Event",
    "coordination.k8s.io/v1/Lease",
    "rbac.authorization.k8s.io/v1/Role",
    "rbac.authorization.k8s.io/v1/ClusterRole",
    "rbac.authorization.k8s.io/v1/RoleBinding",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
    "authorization.k8s.io/v1/SelfSubjectAccessReview",
    "authorization.k8s.io/v1/SelfSubjectRulesReview",
    "authentication.k8s.io/v1/TokenRequest",
    "autoscaling/v1/Scale",
    "v1/Status",
];

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
        .protobuf(
            root.join("devserver/src/protobuf/generated.rs"),
            PROTOBUF_KINDS.iter().map(|k| k.to_string()).collect(),
        )
        .rbac(codegen::generators::rbac::RbacConfig {
            sources: root.join("controller/src"),
            output: root.join("deploy/rbac.yaml"),
            name: "bitcoin-controller".into(),
            namespace: "bitcoin-controller".into(),
        })
        .check(check)
        .regenerate_command("cargo xtask codegen")
}
