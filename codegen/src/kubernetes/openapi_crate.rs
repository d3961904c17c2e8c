//! The built-in kinds as the k8s-openapi crate defines them: every type with an
//! `impl crate::Resource` block (group, version, kind, plural, scope) and, for most, an
//! `impl crate::ListableResource` block (its list kind), read with syn from the crate's source.
//! The source is found through `cargo metadata`, so no network and no build is needed, and the
//! kinds are exactly those of the k8s-openapi version the workspace locks.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One type of k8s-openapi that implements `Resource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenapiKind {
    /// The Rust path (`k8s_openapi::api::core::v1::Node`).
    pub rust_path: String,
    /// The module of the group in k8s-openapi (`core`, `apps`, `apiextensions`).
    pub group_module: String,
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// REST resource name (empty for meta types such as `Status`).
    pub plural: String,
    /// How k8s-openapi scopes it.
    pub scope: Scope,
    /// True when it implements `ListableResource`.
    pub listable: bool,
}

/// `type Scope` of a `Resource` impl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `NamespaceResourceScope`.
    Namespaced,
    /// `ClusterResourceScope`.
    Cluster,
    /// `SubResourceScope` (Scale, Eviction, TokenRequest, ...).
    Subresource,
}

/// The `src/` folder of the k8s-openapi package the workspace at `workspace` locks, from
/// `cargo metadata` (run offline for this machine's platform: the lock file and the registry
/// cache of a workspace that has been built are enough).
pub fn locate(workspace: &Path) -> Result<PathBuf, String> {
    locate_package(workspace, "k8s-openapi")
}

/// The `src/` folder of the package `name` that the workspace at `workspace` locks.
pub fn locate_package(workspace: &Path, name: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["metadata", "--format-version", "1", "--offline", "--manifest-path"]).arg(workspace.join("Cargo.toml"));
    if let Some(host) = host_triple() {
        cmd.args(["--filter-platform", &host]);
    }
    let out = cmd.output().map_err(|e| format!("running cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: not JSON: {e}"))?;
    meta.get("packages")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
        .and_then(|p| p.get("manifest_path").and_then(|m| m.as_str()))
        .and_then(|m| Path::new(m).parent().map(|d| d.join("src")))
        .ok_or_else(|| format!("{} does not depend on {name}", workspace.display()))
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(str::to_string))
}

/// The newest version folder (`v1_37`) under k8s-openapi's `src/`: what its `latest` feature selects.
pub fn latest_version(src: &Path) -> Result<String, String> {
    let entries = std::fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))?;
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            let minor: u32 = n.strip_prefix("v1_")?.parse().ok()?;
            Some((minor, n))
        })
        .max()
        .map(|(_, n)| n)
        .ok_or_else(|| format!("{}: no v1_NN folder; is this k8s-openapi's source?", src.display()))
}

/// Every `Resource` type under `src/<version>/`, sorted by Rust path.
pub fn scan(src: &Path, version: &str) -> Result<Vec<OpenapiKind>, String> {
    let root = src.join(version);
    let mut files = vec![];
    collect(&root, &mut files)?;
    let mut out = vec![];
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        if !text.contains("impl crate::Resource for") {
            continue;
        }
        let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let rel = file.strip_prefix(&root).unwrap_or(&file);
        let mut modules: Vec<String> =
            rel.parent().into_iter().flat_map(|p| p.iter()).map(|c| c.to_string_lossy().into_owned()).collect();
        let group_module = modules.iter().rev().nth(1).cloned().unwrap_or_default();
        modules.insert(0, "k8s_openapi".into());
        let listable: Vec<String> =
            ast.items.iter().filter_map(|i| impl_of(i, "ListableResource").map(|(t, _)| t)).collect();
        for item in &ast.items {
            let Some((ty, imp)) = impl_of(item, "Resource") else { continue };
            let konst = |name: &str| -> String {
                imp.items
                    .iter()
                    .find_map(|i| match i {
                        syn::ImplItem::Const(c) if c.ident == name => match &c.expr {
                            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                            _ => None,
                        },
                        _ => None,
                    })
                    .unwrap_or_default()
            };
            let scope = imp
                .items
                .iter()
                .find_map(|i| match i {
                    syn::ImplItem::Type(t) if t.ident == "Scope" => match &t.ty {
                        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                        _ => None,
                    },
                    _ => None,
                })
                .unwrap_or_default();
            let scope = match scope.as_str() {
                "NamespaceResourceScope" => Scope::Namespaced,
                "ClusterResourceScope" => Scope::Cluster,
                _ => Scope::Subresource,
            };
            out.push(OpenapiKind {
                rust_path: format!("{}::{ty}", modules.join("::")),
                group_module: group_module.clone(),
                group: konst("GROUP"),
                version: konst("VERSION"),
                kind: konst("KIND"),
                plural: konst("URL_PATH_SEGMENT"),
                scope,
                listable: listable.contains(&ty),
            });
        }
    }
    out.sort_by(|a, b| a.rust_path.cmp(&b.rust_path));
    Ok(out)
}

/// `impl crate::<trait_name> for T { ... }`: (T, the block).
fn impl_of<'a>(item: &'a syn::Item, trait_name: &str) -> Option<(String, &'a syn::ItemImpl)> {
    let syn::Item::Impl(imp) = item else { return None };
    let (path, _) = imp.trait_.as_ref()?;
    let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    if segs != ["crate", trait_name] {
        return None;
    }
    let syn::Type::Path(ty) = &*imp.self_ty else { return None };
    Some((ty.path.segments.last()?.ident.to_string(), imp))
}

/// Every `.rs` file under `dir`, sorted.
pub(crate) fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    Ok(())
}
