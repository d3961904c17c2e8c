//! Generator wall time: a synthetic API of many kinds across groups (written by this benchmark),
//! and this workspace's own apis crate.

use std::path::Path;
use std::time::Instant;

fn kind(name: &str) -> String {
    format!(
        "/// A {name}.\n///\n/// +genclient\n/// +kubebuilder:subresource:status\n/// +kubebuilder:printcolumn:name=SIZE,type=integer,JSONPath=\".spec.size\"\n\
         #[derive(Debug, Default)]\npub struct {name} {{\n    pub metadata: ObjectMeta,\n    pub spec: {name}Spec,\n    pub status: Option<{name}Status>,\n}}\n\n\
         /// Desired state.\n#[derive(Debug, Default, Serialize, Deserialize)]\n#[serde(rename_all = \"camelCase\")]\npub struct {name}Spec {{\n    /// Size.\n    /// +kubebuilder:validation:Minimum=0\n    pub size: i32,\n    /// Labels.\n    #[serde(default)]\n    pub selector: BTreeMap<String, String>,\n    /// Image.\n    #[serde(default, skip_serializing_if = \"Option::is_none\")]\n    pub image: Option<String>,\n}}\n\n\
         /// Observed state.\n#[derive(Debug, Default, Serialize, Deserialize)]\n#[serde(rename_all = \"camelCase\")]\npub struct {name}Status {{\n    /// Ready replicas.\n    #[serde(default)]\n    pub ready: i32,\n    /// Conditions.\n    #[serde(default)]\n    pub conditions: Vec<Condition>,\n}}\n\n\
         /// A list.\n#[derive(Debug, Default)]\npub struct {name}List {{\n    pub metadata: ListMeta,\n    pub items: Vec<{name}>,\n}}\n\n"
    )
}

/// Writes an apis crate with `groups` groups of `per_group` kinds each.
pub fn synthetic(root: &Path, groups: usize, per_group: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(root.join("src"))?;
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"synthetic\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )?;
    for g in 0..groups {
        let dir = root.join(format!("src/group{g}/v1"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            root.join(format!("src/group{g}/mod.rs")),
            format!("//! +groupName=group{g}.example.com\npub mod v1;\n"),
        )?;
        std::fs::write(
            dir.join("mod.rs"),
            format!(
                "//! +k8s:deepcopy-gen=package\nmod types;\npub use types::*;\ninclude!(concat!(env!(\"OUT_DIR\"), \"/codegen/group{g}/v1.rs\"));\n"
            ),
        )?;
        let mut text = String::from(
            "use std::collections::BTreeMap;\nuse k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ListMeta, ObjectMeta};\nuse serde::{Deserialize, Serialize};\n\n",
        );
        for k in 0..per_group {
            text.push_str(&kind(&format!("Thing{g}x{k}")));
        }
        std::fs::write(dir.join("types.rs"), text)?;
    }
    Ok(())
}

/// Seconds for a full run (clientset, listers, informers, CRDs) writing into a fresh directory.
pub fn run(input: &Path, out: &Path) -> anyhow::Result<(f64, usize)> {
    let start = Instant::now();
    let report = codegen::Config::new()
        .input(input)
        .output(out.join("generated"))
        .crd_dir(out.join("crd"))
        .run()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((start.elapsed().as_secs_f64(), report.kinds.len()))
}
