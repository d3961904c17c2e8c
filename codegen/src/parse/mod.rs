//! Reads an apis crate with syn and builds the [`Model`].
//!
//! Layout, as code-generator's: `src/<group>/mod.rs` (or `src/<group>.rs`) carries
//! `//! +groupName=...`; every sub-folder (or file) whose name matches
//! `^v[0-9]+((alpha|beta)[0-9]+)?$` is a version package, and every `.rs` file directly in it
//! is read. Problems are collected, never fatal, so one run reports all of them.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use syn::spanned::Spanned;

use crate::diag::{Diagnostics, Loc};
use crate::model::{Body, Field, Group, Kind, Model, TypeDef, TypeRef, Version};
use crate::naming;
use crate::tags::{Doc, Place, Source, Tag, unquote};

mod checks;
mod kinds;
mod lower;
mod markers;
mod source;

use checks::{check_duplicate_groups, check_duplicate_types, check_plurals, check_type_tags};
use kinds::kind;
pub use lower::type_ref;
use lower::{derives, field, serde_container, variant};
use markers::markers;
pub use source::MAX_NESTING;
use source::{read_source, sorted_entries};

/// True for a version package name: `v1`, `v2beta1`, `v1alpha3`.
pub fn is_version(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('v') else { return false };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || rest.starts_with('0') {
        return false;
    }
    let tail = &rest[digits..];
    if tail.is_empty() {
        return true;
    }
    let Some(n) = tail.strip_prefix("alpha").or_else(|| tail.strip_prefix("beta")) else { return false };
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0')
}

/// Kubernetes' version priority: GA before beta before alpha, higher numbers first.
pub fn version_priority(name: &str) -> (u8, u32, u32) {
    let rest = &name[1..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let major: u32 = rest[..digits].parse().unwrap_or(0);
    let tail = &rest[digits..];
    let (stability, minor) = if let Some(n) = tail.strip_prefix("beta") {
        (1, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (0, n.parse().unwrap_or(0))
    } else {
        (2, 0)
    };
    (stability, major, minor)
}

/// The file the build script writes a version's in-package code to, relative to `OUT_DIR`.
pub fn in_package_file(group_module: &str, version: &str) -> String {
    format!("codegen/{group_module}/{version}.rs")
}

struct RawType {
    item: RawItem,
    file: usize,
    module_prefix: String,
    doc: Doc,
    derives: Vec<(String, Loc)>,
}

enum RawItem {
    Struct(syn::ItemStruct),
    Enum(syn::ItemEnum),
}

impl RawItem {
    fn ident(&self) -> &syn::Ident {
        match self {
            RawItem::Struct(s) => &s.ident,
            RawItem::Enum(e) => &e.ident,
        }
    }
    fn attrs(&self) -> &[syn::Attribute] {
        match self {
            RawItem::Struct(s) => &s.attrs,
            RawItem::Enum(e) => &e.attrs,
        }
    }
    fn generics(&self) -> &syn::Generics {
        match self {
            RawItem::Struct(s) => &s.generics,
            RawItem::Enum(e) => &e.generics,
        }
    }
}

/// Reads `crate_root/src` and returns the model; problems go to `diags`.
pub fn parse_crate(crate_root: &Path, diags: &mut Diagnostics) -> Model {
    let src = crate_root.join("src");
    let mut model = Model::default();
    let Ok(entries) = sorted_entries(&src) else {
        diags.error_hint(
            Loc::whole(&src),
            "cannot read the apis crate's src/ folder",
            "pass the folder that holds the apis crate's Cargo.toml",
        );
        return model;
    };
    let mut looked = vec![];
    for group_dir in entries.into_iter().filter(|p| p.is_dir()) {
        let Some(module) = group_dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        let module_file =
            [group_dir.join("mod.rs"), src.join(format!("{module}.rs"))].into_iter().find(|p| p.is_file());
        let Some(module_file) = module_file else { continue };
        looked.push(group_dir.clone());
        if let Some(group) = parse_group(&group_dir, &module, &module_file, diags) {
            model.groups.push(group);
        }
    }
    if model.groups.iter().all(|g| g.versions.iter().all(|v| v.kinds.is_empty())) {
        let where_ = if looked.is_empty() {
            format!("no group folders (with a mod.rs) under {}", src.display())
        } else {
            looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        };
        diags.error_hint(
            Loc::whole(&src),
            format!("no `+genclient` types found; looked in: {where_}"),
            "tag a type with `/// +genclient` in src/<group>/<version>/*.rs (version folders match \
             ^v[0-9]+((alpha|beta)[0-9]+)?$) and give the group module `//! +groupName=<group>`",
        );
    }
    check_plurals(&model, diags);
    check_duplicate_groups(&model, diags);
    model
}

fn parse_group(dir: &Path, module: &str, module_file: &Path, diags: &mut Diagnostics) -> Option<Group> {
    let (gsrc, gfile) = read_source(module_file, diags)?;
    let gdoc = gsrc.doc(&gfile.attrs, Place::Package, diags);
    let mut versions = vec![];
    let mut group_name = gdoc.get("groupName").cloned();
    let mut go_name = gdoc.get("groupGoName").cloned();
    let mut saw_genclient = None;
    for entry in sorted_entries(dir).unwrap_or_default() {
        let name = entry.file_stem().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let is_dir = entry.is_dir();
        if !is_version(&name) || (!is_dir && entry.extension().is_none_or(|e| e != "rs")) {
            continue;
        }
        if !is_dir && dir.join(&name).is_dir() {
            continue; // `v1.rs` beside `v1/`: the folder is read and includes the file.
        }
        let vmod = if is_dir {
            [entry.join("mod.rs"), dir.join(format!("{name}.rs"))].into_iter().find(|p| p.is_file())
        } else {
            Some(entry.clone())
        };
        let Some(vmod) = vmod else { continue };
        let mut files = vec![vmod.clone()];
        if is_dir {
            for f in sorted_entries(&entry).unwrap_or_default() {
                if f.is_file() && f.extension().is_some_and(|e| e == "rs") && f != vmod {
                    files.push(f);
                }
            }
        }
        let Some(parsed) = parse_version(&name, module, &vmod, &files, diags) else { continue };
        let (version, vdoc) = parsed;
        for (slot, tag) in [(&mut group_name, "groupName"), (&mut go_name, "groupGoName")] {
            if let Some(t) = vdoc.get(tag) {
                match slot {
                    Some(prev) if prev.value != t.value => {
                        diags.error(t.loc.clone(), format!("`+{tag}` here disagrees with `+{tag}` at {}", prev.loc))
                    }
                    _ => *slot = Some(t.clone()),
                }
            }
        }
        if saw_genclient.is_none() {
            saw_genclient = version.kinds.first().map(|k| k.loc.clone());
        }
        versions.push(version);
    }
    let Some(group_tag) = group_name else {
        if let Some(loc) = saw_genclient {
            diags.error_hint(
                loc,
                format!("`+genclient` type in group folder `{module}`, which has no `+groupName`"),
                format!("add `//! +groupName=<group>.<domain>` at the top of {}", module_file.display()),
            );
        }
        return None;
    };
    let name = unquote(group_tag.value.as_deref().unwrap_or_default());
    if !naming::is_dns_subdomain(&name) || !name.contains('.') {
        diags.error_hint(
            group_tag.value_loc.clone(),
            format!("invalid group name `{name}`"),
            "a CRD group is a lowercase DNS subdomain with at least one dot, e.g. `example.com`",
        );
    }
    let go_name = match go_name {
        Some(t) => {
            let v = unquote(t.value.as_deref().unwrap_or_default());
            if !naming::is_rust_ident(&v) || !v.starts_with(|c: char| c.is_ascii_uppercase()) {
                diags.error_hint(
                    t.value_loc.clone(),
                    format!("invalid `+groupGoName` `{v}`"),
                    "use a CamelCase identifier, e.g. `PolicyAuthorization`",
                );
            }
            v
        }
        None => naming::pascal(name.split('.').next().unwrap_or_default()),
    };
    let go_name = checked_go_name(go_name, &name, &group_tag, diags);
    versions.sort_by_key(|v| std::cmp::Reverse(version_priority(&v.name)));
    Some(Group { name, go_name, module: module.to_string(), versions, loc: group_tag.value_loc.clone() })
}

/// The group's Rust name, or a placeholder after reporting why it cannot be one: the generated
/// crate names a module, accessors and types after it (`group_v1()`, `GroupV1Client`).
fn checked_go_name(go_name: String, group: &str, tag: &Tag, diags: &mut Diagnostics) -> String {
    let problem = naming::ident_problem(&go_name).or_else(|| naming::ident_problem(&naming::snake(&go_name)));
    let problem = problem
        .or_else(|| (!go_name.starts_with(char::is_alphabetic)).then(|| "it does not start with a letter".into()));
    match problem {
        None => go_name,
        Some(why) => {
            // An invalid group name was reported already; its Rust name is a consequence.
            if naming::is_dns_subdomain(group) && group.contains('.') {
                diags.error_hint(
                    tag.value_loc.clone(),
                    format!("group `{group}` gives the Rust name `{go_name}`, which cannot be used: {why}"),
                    "add `+groupGoName=<CamelCase>` beside `+groupName`",
                );
            }
            "InvalidGroup".into()
        }
    }
}

fn parse_version(
    name: &str,
    group_module: &str,
    vmod: &Path,
    files: &[PathBuf],
    diags: &mut Diagnostics,
) -> Option<(Version, Doc)> {
    let input = read_version(name, group_module, files, diags);
    let source_of = |i: usize| input.sources.iter().find(|(j, _)| *j == i).map(|(_, s)| s);
    check_duplicate_types(name, &input.raws, &input.sources, diags);
    let package_deepcopy = package_deepcopy(&input.doc, diags);
    let local: HashSet<String> = input.raws.iter().map(|r| r.item.ident().to_string()).collect();
    let mut types = vec![];
    for raw in &input.raws {
        if let Some(source) = source_of(raw.file) {
            types.push(lower_type(raw, source, &local, package_deepcopy, diags));
        }
    }
    // By name, first definition wins (a second one is an error, see check_duplicate_types);
    // every lookup below goes through it so the work stays linear in the number of types.
    let mut index: HashMap<String, usize> = HashMap::with_capacity(types.len());
    for (i, t) in types.iter().enumerate() {
        index.entry(t.name.clone()).or_insert(i);
    }
    let by_name = |name: &str| index.get(name).copied();
    let mut kinds = vec![];
    for raw in input.raws.iter().filter(|r| r.doc.has("genclient")) {
        if let Some(source) = source_of(raw.file)
            && let Some(kind) = kind(raw, &types, &by_name, source, diags)
        {
            kinds.push(kind);
        }
    }
    mark_objects(&kinds, &mut types, &by_name);
    let kind_names: HashSet<&str> = kinds.iter().map(|k| k.name.as_str()).collect();
    for raw in &input.raws {
        let tname = raw.item.ident().to_string();
        if let Some(source) = source_of(raw.file)
            && let Some(t) = by_name(&tname).map(|i| &types[i])
        {
            check_type_tags(raw, t, kind_names.contains(tname.as_str()), source, diags);
        }
    }
    let needs_include = !kinds.is_empty() || types.iter().any(|t| t.deepcopy);
    if needs_include && !input.has_include {
        diags.error_hint(
            Loc::new(&Arc::from(vmod), 1, 1),
            format!("version module does not include its generated code ({})", in_package_file(group_module, name)),
            format!(
                "add `include!(concat!(env!(\"OUT_DIR\"), \"/{}\"));` to this file and call codegen from build.rs",
                in_package_file(group_module, name)
            ),
        );
    }
    let package_optional = input.doc.has("kubebuilder:validation:Optional");
    let version = Version::new(name.to_string(), Loc::whole(vmod), kinds, types, package_optional);
    Some((version, input.doc))
}

/// The files of one version package, read: their sources, their structs and enums with their
/// doc comments, the package doc (of the module file) and whether it includes its generated code.
struct VersionInput {
    sources: Vec<(usize, Source)>,
    raws: Vec<RawType>,
    doc: Doc,
    has_include: bool,
}

fn read_version(name: &str, group_module: &str, files: &[PathBuf], diags: &mut Diagnostics) -> VersionInput {
    let mut input = VersionInput { sources: vec![], raws: vec![], doc: Doc::default(), has_include: false };
    for (i, path) in files.iter().enumerate() {
        let Some((source, file)) = read_source(path, diags) else { continue };
        let module_prefix = if i == 0 {
            String::new()
        } else {
            format!("{}::", path.file_stem().and_then(|s| s.to_str()).unwrap_or_default())
        };
        if i == 0 {
            input.doc = source.doc(&file.attrs, Place::Package, diags);
            let needle = format!("/{}", in_package_file(group_module, name));
            input.has_include = fs::read_to_string(path).is_ok_and(|t| t.contains(&needle));
        }
        for item in file.items {
            let raw = match item {
                syn::Item::Struct(s) => RawItem::Struct(s),
                syn::Item::Enum(e) => RawItem::Enum(e),
                _ => continue,
            };
            let doc = source.doc(raw.attrs(), Place::Type, diags);
            let derives = derives(raw.attrs(), &source);
            input.raws.push(RawType { item: raw, file: i, module_prefix: module_prefix.clone(), doc, derives });
        }
        input.sources.push((i, source));
    }
    input
}

/// `+k8s:deepcopy-gen=package|false` on the version package.
fn package_deepcopy(doc: &Doc, diags: &mut Diagnostics) -> bool {
    let Some(t) = doc.get("k8s:deepcopy-gen") else { return false };
    match t.value.as_deref() {
        Some("package") | Some("package,register") => true,
        Some("false") => false,
        other => {
            diags.error_hint(
                t.value_loc.clone(),
                format!("invalid `+k8s:deepcopy-gen` value `{}` on a package", other.unwrap_or_default()),
                "use `package` or `false` on a package; `true` or `false` on a type",
            );
            false
        }
    }
}

/// One struct or enum as a [`TypeDef`].
fn lower_type(
    raw: &RawType,
    source: &Source,
    local: &HashSet<String>,
    package_deepcopy: bool,
    diags: &mut Diagnostics,
) -> TypeDef {
    let ident = raw.item.ident();
    let tname = ident.to_string();
    if raw.doc.has("genclient") && !raw.item.generics().params.is_empty() {
        diags.error(source.loc(raw.item.generics().span()), "a `+genclient` type cannot be generic");
    }
    let deepcopy = match raw.doc.get("k8s:deepcopy-gen") {
        Some(t) => match t.value.as_deref() {
            Some("true") => true,
            Some("false") => false,
            other => {
                diags.error_hint(
                    t.value_loc.clone(),
                    format!("invalid `+k8s:deepcopy-gen` value `{}` on a type", other.unwrap_or_default()),
                    "use `true` or `false` on a type",
                );
                false
            }
        },
        None => package_deepcopy,
    };
    let body = match &raw.item {
        RawItem::Struct(s) => {
            let private_ok = raw.module_prefix.is_empty();
            let container = serde_container(&s.attrs);
            let lower = |fields: &mut dyn Iterator<Item = &syn::Field>, diags: &mut Diagnostics| -> Vec<Field> {
                fields.enumerate().map(|(i, f)| field(f, i, &container, local, source, private_ok, diags)).collect()
            };
            match &s.fields {
                syn::Fields::Named(f) => Body::Struct(lower(&mut f.named.iter(), diags)),
                syn::Fields::Unnamed(f) => Body::Tuple(lower(&mut f.unnamed.iter(), diags)),
                syn::Fields::Unit => Body::Unit,
            }
        }
        RawItem::Enum(e) => {
            let container = serde_container(&e.attrs);
            Body::Enum(e.variants.iter().map(|v| variant(v, &container)).collect())
        }
    };
    TypeDef {
        name: tname.clone(),
        path: format!("{}{}", raw.module_prefix, tname),
        description: raw.doc.description(),
        body,
        deepcopy: deepcopy && raw.item.generics().params.is_empty(),
        object: false,
        markers: markers(&raw.doc, diags),
        loc: source.loc(ident.span()),
    }
}

/// Kinds and their lists are API objects: the generator writes their serde impls (with
/// apiVersion and kind) and their Resource impls. Their fields cannot carry #[serde] attributes
/// (nothing derives serde for them), so they follow the Kubernetes conventions: camelCase names,
/// and an absent Option is left out.
fn mark_objects(kinds: &[Kind], types: &mut [TypeDef], by_name: &dyn Fn(&str) -> Option<usize>) {
    for k in kinds {
        for i in [by_name(&k.name), by_name(&k.list_name)].into_iter().flatten() {
            let t = &mut types[i];
            t.object = true;
            if let Body::Struct(fields) = &mut t.body {
                for f in fields {
                    f.json_name = naming::camel(f.rust_name.trim_start_matches("r#"));
                    if matches!(f.ty, TypeRef::Option(_)) && f.skip_serializing_if.is_none() {
                        f.skip_serializing_if = Some("::core::option::Option::is_none".into());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names() {
        for ok in ["v1", "v2", "v1beta1", "v10alpha3"] {
            assert!(is_version(ok), "{ok}");
        }
        for bad in ["v", "v0", "v1beta", "v1gamma1", "version1", "v01", "v1beta01", "types"] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn version_order() {
        let mut v = vec!["v1alpha1", "v1", "v2beta1", "v1beta2", "v2", "v1beta1"];
        v.sort_by_key(|n| std::cmp::Reverse(version_priority(n)));
        assert_eq!(v, ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1"]);
    }
}
