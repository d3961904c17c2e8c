//! `cargo xtask discovery [--check]`: records the verbs and subresources of every built-in
//! resource from the running kube-apiserver (started with `cargo xtask cluster up --all-apis`,
//! so alpha and beta groups are served too) into `codegen/src/kubernetes/discovery-v1.37.json`,
//! the source of truth for the verbs of the generated `kubernetes` crate. Legacy discovery
//! (`/api/v1`, `/apis/<group>/<version>`) is read through kubectl, one document per group
//! version; groups served by CustomResourceDefinitions are left out.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use codegen::kubernetes::discovery::Recording;
use serde_json::Value;

use crate::cluster;

/// The checked-in recording, relative to the workspace root.
pub const FILE: &str = "codegen/src/kubernetes/discovery-v1.37.json";

/// Records discovery (or, with `check`, fails when the checked-in recording differs).
pub fn run(root: &Path, check: bool) -> Result<()> {
    let Some((kubeconfig, version, all_apis)) = cluster::running_with_all_apis(root) else {
        bail!("no cluster is running: start one with `cargo xtask cluster up --all-apis`");
    };
    if !all_apis {
        bail!("the running cluster serves only the default APIs: restart it with `cargo xtask cluster up --all-apis`");
    }
    let get = |path: &str| -> Result<Value> {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["get", "--raw", path])
            .output()
            .context("running kubectl")?;
        if !out.status.success() {
            bail!("kubectl get --raw {path}: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        serde_json::from_slice(&out.stdout).with_context(|| format!("{path}: not JSON"))
    };
    let mut lists = vec![];
    let strings = |v: &Value, key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    for v in strings(&get("/api")?, "versions") {
        lists.push((String::new(), v.clone(), get(&format!("/api/{v}"))?));
    }
    // Groups that CustomResourceDefinitions serve are not built in (tests create some).
    let crds = get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")?;
    let custom: Vec<String> = crds
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.pointer("/spec/group").and_then(Value::as_str).map(String::from))
        .collect();
    let groups = get("/apis")?;
    for g in groups.get("groups").and_then(Value::as_array).into_iter().flatten() {
        let name = g.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        if custom.contains(&name) {
            continue;
        }
        for v in g.get("versions").and_then(Value::as_array).into_iter().flatten() {
            let version = v.get("version").and_then(Value::as_str).unwrap_or_default().to_string();
            let doc = get(&format!("/apis/{name}/{version}"))?;
            lists.push((name.clone(), version, doc));
        }
    }
    let from = format!(
        "kube-apiserver {version} built from source, --runtime-config=api/all=true, AllAlpha and AllBeta feature gates; recorded by `cargo xtask discovery`"
    );
    let text = Recording::from_resource_lists(&from, &lists).to_text();
    let path = root.join(FILE);
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let n = Recording::parse(&text).map(|r| r.resources.len()).unwrap_or(0);
    if check {
        if old != text {
            bail!("{FILE} differs from what the server reports; run `cargo xtask discovery`");
        }
        println!("discovery: {FILE} matches the server ({n} resources)");
        return Ok(());
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("discovery: {n} resources of {} group versions written to {FILE}", lists.len());
    Ok(())
}
