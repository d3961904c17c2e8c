//! Reads an apis crate with syn and builds the [`Model`].
//!
//! Layout, as code-generator's: `src/<group>/mod.rs` (or `src/<group>.rs`) carries
//! `//! +groupName=...`; every sub-folder (or file) whose name matches
//! `^v[0-9]+((alpha|beta)[0-9]+)?$` is a version package, and every `.rs` file directly in it
//! is read. Problems are collected, never fatal, so one run reports all of them.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;

use crate::diag::{Diagnostics, Loc};
use crate::model::{
    Body, CelRule, Extension, Field, Group, K8sType, Kind, Markers, Model, PrinterColumn, Scale, SerdeDefault, TypeDef,
    TypeRef, Variant, VariantFields, Version,
};
use crate::naming;
use crate::tags::{Doc, Place, Source, Tag, unquote};
use crate::verbs::{self, Verb, Verbs};

/// The interface code-generator's deepcopy-gen adds for API objects. Its Rust counterpart is the
/// `k8s_openapi::Resource` family, which the generator implements for every kind and list type.
const RUNTIME_OBJECT: &str = "k8s.io/apimachinery/pkg/runtime.Object";

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

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

fn read_source(path: &Path, diags: &mut Diagnostics) -> Option<(Source, syn::File)> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.error(Loc::whole(path), format!("cannot read file: {e}"));
            return None;
        }
    };
    let source = Source::new(Arc::from(path), &text);
    if let Some(span) = too_deep(&text) {
        diags.syntax_error(
            source.loc(span),
            format!("brackets nest more than {MAX_NESTING} levels deep here; the generator reads no deeper"),
        );
        return None;
    }
    match syn::parse_file(&text) {
        Ok(file) => Some((source, file)),
        Err(e) => {
            let loc = source.loc(e.span());
            diags.syntax_error(loc, format!("cannot parse Rust: {e}"));
            None
        }
    }
}

/// How deep brackets (`(`, `[`, `{` and the angle brackets of generics) may nest in an input
/// file. syn parses recursively, so without a bound a hostile file aborts the process with a
/// stack overflow; API types need a handful of levels.
pub const MAX_NESTING: usize = 64;

/// Where the brackets of `text` first nest deeper than [`MAX_NESTING`], found without recursion
/// on the token trees. Angle brackets count within one statement and group (a stray `<` of a
/// comparison is forgotten at the next `;` or closing bracket). Text that does not lex is left
/// to syn, which reports it.
fn too_deep(text: &str) -> Option<proc_macro2::Span> {
    use proc_macro2::{Spacing, TokenTree};
    let tokens: proc_macro2::TokenStream = text.parse().ok()?;
    let mut stack = vec![(tokens.into_iter(), 0usize)];
    let mut joint_prev: Option<char> = None;
    loop {
        let levels = stack.len();
        let Some((iter, angle)) = stack.last_mut() else { return None };
        let Some(tt) = iter.next() else {
            stack.pop();
            continue;
        };
        let prev = joint_prev.take();
        match tt {
            TokenTree::Group(g) => {
                if levels + *angle >= MAX_NESTING {
                    return Some(g.span_open());
                }
                stack.push((g.stream().into_iter(), 0));
            }
            TokenTree::Punct(p) => {
                match p.as_char() {
                    '<' if prev != Some('<') => {
                        *angle += 1;
                        if levels + *angle > MAX_NESTING {
                            return Some(p.span());
                        }
                    }
                    '>' if !matches!(prev, Some('-' | '=' | '>')) => *angle = angle.saturating_sub(1),
                    ';' => *angle = 0,
                    _ => {}
                }
                if p.spacing() == Spacing::Joint {
                    joint_prev = Some(p.as_char());
                }
            }
            _ => {}
        }
    }
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
    let problem =
        problem.or_else(|| (!go_name.starts_with(char::is_alphabetic)).then(|| "it does not start with a letter".into()));
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
    let mut sources = vec![];
    let mut raws: Vec<RawType> = vec![];
    let mut vdoc = Doc::default();
    let mut vmod_text_has_include = false;
    for (i, path) in files.iter().enumerate() {
        let Some((source, file)) = read_source(path, diags) else { continue };
        let module_prefix = if i == 0 {
            String::new()
        } else {
            format!("{}::", path.file_stem().and_then(|s| s.to_str()).unwrap_or_default())
        };
        if i == 0 {
            vdoc = source.doc(&file.attrs, Place::Package, diags);
            let needle = format!("/{}", in_package_file(group_module, name));
            vmod_text_has_include = fs::read_to_string(path).is_ok_and(|t| t.contains(&needle));
        }
        for item in file.items {
            let raw = match item {
                syn::Item::Struct(s) => RawItem::Struct(s),
                syn::Item::Enum(e) => RawItem::Enum(e),
                _ => continue,
            };
            let doc = source.doc(raw.attrs(), Place::Type, diags);
            let derives = derives(raw.attrs(), &source);
            raws.push(RawType { item: raw, file: i, module_prefix: module_prefix.clone(), doc, derives });
        }
        sources.push((i, source));
    }
    let source_of = |i: usize| sources.iter().find(|(j, _)| *j == i).map(|(_, s)| s);
    let local: HashSet<String> = raws.iter().map(|r| r.item.ident().to_string()).collect();
    check_duplicate_types(name, &raws, &sources, diags);
    let package_deepcopy = match vdoc.get("k8s:deepcopy-gen") {
        Some(t) => match t.value.as_deref() {
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
        },
        None => false,
    };
    let package_optional = vdoc.has("kubebuilder:validation:Optional");
    let mut types = vec![];
    let mut kinds = vec![];
    for raw in &raws {
        let Some(source) = source_of(raw.file) else { continue };
        let ident = raw.item.ident();
        let loc = source.loc(ident.span());
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
        let deepcopy = deepcopy && raw.item.generics().params.is_empty();
        let body = match &raw.item {
            RawItem::Struct(s) => {
                let private_ok = raw.module_prefix.is_empty();
                let container = serde_container(&s.attrs);
                match &s.fields {
                    syn::Fields::Named(f) => Body::Struct(
                        f.named
                            .iter()
                            .enumerate()
                            .map(|(i, f)| field(f, i, &container, &local, source, private_ok, diags))
                            .collect(),
                    ),
                    syn::Fields::Unnamed(f) => Body::Tuple(
                        f.unnamed
                            .iter()
                            .enumerate()
                            .map(|(i, f)| field(f, i, &container, &local, source, private_ok, diags))
                            .collect(),
                    ),
                    syn::Fields::Unit => Body::Unit,
                }
            }
            RawItem::Enum(e) => {
                let container = serde_container(&e.attrs);
                Body::Enum(e.variants.iter().map(|v| variant(v, &container)).collect())
            }
        };
        let markers = markers(&raw.doc, diags);
        types.push(TypeDef {
            name: tname.clone(),
            path: format!("{}{}", raw.module_prefix, tname),
            description: raw.doc.description(),
            body,
            deepcopy,
            object: false,
            markers,
            loc,
        });
    }
    // By name, first definition wins (a second one is an error, see check_duplicate_types);
    // every lookup below goes through it so the work stays linear in the number of types.
    let mut index: HashMap<String, usize> = HashMap::with_capacity(types.len());
    for (i, t) in types.iter().enumerate() {
        index.entry(t.name.clone()).or_insert(i);
    }
    let by_name = |name: &str| index.get(name).map(|&i| i);
    for raw in raws.iter().filter(|r| r.doc.has("genclient")) {
        if let Some(source) = source_of(raw.file)
            && let Some(kind) = kind(raw, &types, &by_name, source, diags)
        {
            kinds.push(kind);
        }
    }
    // Kinds and their lists are API objects: the generator writes their serde impls (with
    // apiVersion and kind) and their Resource impls.
    // Their fields cannot carry #[serde] attributes (nothing derives serde for them), so they
    // follow the Kubernetes conventions: camelCase names, and an absent Option is left out.
    for k in &kinds {
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
    for raw in &raws {
        let Some(source) = source_of(raw.file) else { continue };
        let tname = raw.item.ident().to_string();
        let Some(t) = by_name(&tname).map(|i| &types[i]) else { continue };
        check_derives(raw, t, diags);
        if let Some(tag) = raw.doc.get("k8s:deepcopy-gen:interfaces") {
            for iface in tag.value.as_deref().unwrap_or_default().split(',') {
                if iface.trim() != RUNTIME_OBJECT {
                    diags.error_hint(
                        tag.value_loc.clone(),
                        format!("unsupported deep-copy interface `{}`", iface.trim()),
                        format!("only `{RUNTIME_OBJECT}` has a Rust counterpart (the k8s_openapi::Resource impls)"),
                    );
                }
            }
            if !t.object {
                diags.error_hint(
                    tag.loc.clone(),
                    format!("`{tname}` is not an API object, so it cannot implement runtime.Object"),
                    "the interface belongs on a `+genclient` kind and its list type",
                );
            }
        }
        if raw.doc.has("k8s:deepcopy-gen:nonpointer-interfaces") {
            diags.error(
                raw.doc
                    .get("k8s:deepcopy-gen:nonpointer-interfaces")
                    .map(|t| t.loc.clone())
                    .unwrap_or_else(|| source.loc(raw.item.ident().span())),
                "`+k8s:deepcopy-gen:nonpointer-interfaces` has no meaning in Rust (Clone takes &self)",
            );
        }
        if !kinds.iter().any(|k| k.name == tname) {
            for name in [
                "kubebuilder:subresource:status",
                "kubebuilder:subresource:scale",
                "kubebuilder:printcolumn",
                "kubebuilder:resource",
                "kubebuilder:storageversion",
                "resourceName",
            ] {
                for t in raw.doc.all(name) {
                    diags.error(t.loc.clone(), format!("`+{name}` applies only to a `+genclient` type"));
                }
            }
            for t in raw.doc.tags.iter().filter(|t| t.name.starts_with("genclient:")) {
                diags.error_hint(
                    t.loc.clone(),
                    format!("`+{}` without `+genclient`", t.name),
                    "add `+genclient` to the type",
                );
            }
        }
    }
    let needs_include = !kinds.is_empty() || types.iter().any(|t| t.deepcopy);
    if needs_include && !vmod_text_has_include {
        diags.error_hint(
            Loc::new(&Arc::from(vmod), 1, 1),
            format!("version module does not include its generated code ({})", in_package_file(group_module, name)),
            format!(
                "add `include!(concat!(env!(\"OUT_DIR\"), \"/{}\"));` to this file and call codegen from build.rs",
                in_package_file(group_module, name)
            ),
        );
    }
    let version = Version::new(name.to_string(), Loc::whole(vmod), kinds, types, package_optional);
    Some((version, vdoc))
}

fn derives(attrs: &[syn::Attribute], source: &Source) -> Vec<(String, Loc)> {
    let mut out = vec![];
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        if let Ok(paths) = attr.parse_args_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated) {
            for p in paths {
                if let Some(last) = p.segments.last() {
                    out.push((last.ident.to_string(), source.loc(p.span())));
                }
            }
        }
    }
    out
}

fn check_derives(raw: &RawType, t: &TypeDef, diags: &mut Diagnostics) {
    for (name, loc) in &raw.derives {
        if name == "Clone" && t.deepcopy {
            diags.error_hint(
                loc.clone(),
                format!("`{}` derives Clone, but deepcopy-gen generates it", t.name),
                "remove Clone from the derive list, or opt the type out with `+k8s:deepcopy-gen=false`",
            );
        }
        if (name == "Serialize" || name == "Deserialize") && t.object {
            diags.error_hint(
                loc.clone(),
                format!("`{}` derives {name}, but the generator writes it (with apiVersion and kind)", t.name),
                format!("remove {name} from the derive list of this API object"),
            );
        }
    }
}

#[derive(Default)]
struct SerdeContainer {
    rename_all: Option<String>,
    default: bool,
}

fn serde_container(attrs: &[syn::Attribute]) -> SerdeContainer {
    let mut c = SerdeContainer::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                c.rename_all = string_or_serialize(&meta)?;
            } else if meta.path.is_ident("default") {
                c.default = true;
                skip_meta_value(&meta)?;
            } else {
                skip_meta_value(&meta)?;
            }
            Ok(())
        });
    }
    c
}

/// Reads `= "x"` or `(serialize = "x", deserialize = "y")`, returning the serialize name.
fn string_or_serialize(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Option<String>> {
    if meta.input.peek(syn::Token![=]) {
        let s: syn::LitStr = meta.value()?.parse()?;
        return Ok(Some(s.value()));
    }
    let mut out = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            let s: syn::LitStr = inner.value()?.parse()?;
            out = Some(s.value());
        } else {
            skip_meta_value(&inner)?;
        }
        Ok(())
    })?;
    Ok(out)
}

fn skip_meta_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let _: proc_macro2::TokenStream = content.parse()?;
    }
    Ok(())
}

fn variant(v: &syn::Variant, container: &SerdeContainer) -> Variant {
    let name = v.ident.to_string();
    let mut json_name = container
        .rename_all
        .as_deref()
        .and_then(|r| naming::serde_rename(r, &name, true))
        .unwrap_or_else(|| name.clone());
    let mut skip = false;
    for attr in v.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                if let Some(n) = string_or_serialize(&meta)? {
                    json_name = n;
                }
            } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_serializing") {
                skip = true;
            } else {
                skip_meta_value(&meta)?;
            }
            Ok(())
        });
    }
    let fields = match &v.fields {
        syn::Fields::Unit => VariantFields::Unit,
        syn::Fields::Unnamed(f) => VariantFields::Tuple(f.unnamed.len()),
        syn::Fields::Named(f) => {
            VariantFields::Named(f.named.iter().filter_map(|f| f.ident.as_ref().map(|i| i.to_string())).collect())
        }
    };
    Variant { name, json_name, unit: matches!(v.fields, syn::Fields::Unit), fields, skip }
}

fn field(
    f: &syn::Field,
    index: usize,
    container: &SerdeContainer,
    local: &HashSet<String>,
    source: &Source,
    private_ok: bool,
    diags: &mut Diagnostics,
) -> Field {
    let rust_name = f.ident.as_ref().map_or_else(|| index.to_string(), |i| i.to_string());
    let raw_name = rust_name.strip_prefix("r#").unwrap_or(&rust_name).to_string();
    let loc = f.ident.as_ref().map_or_else(|| source.loc(f.span()), |i| source.loc(i.span()));
    if !private_ok && matches!(f.vis, syn::Visibility::Inherited) {
        diags.error_hint(
            loc.clone(),
            format!("field `{rust_name}` is private, so the generated code in the version module cannot read it"),
            "make it `pub` (API types are plain data), or define the type in the version's mod.rs",
        );
    }
    let doc = source.doc(&f.attrs, Place::Field, diags);
    let mut json_name = container
        .rename_all
        .as_deref()
        .and_then(|r| naming::serde_rename(r, &raw_name, false))
        .unwrap_or_else(|| raw_name.clone());
    let mut default = if container.default { SerdeDefault::Default } else { SerdeDefault::None };
    let mut skip_serializing_if = None;
    let (mut skip_ser, mut skip_de, mut flatten, mut custom) = (false, false, false, false);
    for attr in f.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let r = attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("rename") {
                if let Some(n) = string_or_serialize(&meta)? {
                    json_name = n;
                }
            } else if p.is_ident("default") {
                if meta.input.peek(syn::Token![=]) {
                    let s: syn::LitStr = meta.value()?.parse()?;
                    default = SerdeDefault::Path(s.value());
                } else {
                    default = SerdeDefault::Default;
                }
            } else if p.is_ident("skip_serializing_if") {
                let s: syn::LitStr = meta.value()?.parse()?;
                skip_serializing_if = Some(s.value());
            } else if p.is_ident("skip") {
                skip_ser = true;
                skip_de = true;
            } else if p.is_ident("skip_serializing") {
                skip_ser = true;
            } else if p.is_ident("skip_deserializing") {
                skip_de = true;
            } else if p.is_ident("flatten") {
                flatten = true;
            } else if p.is_ident("with") || p.is_ident("serialize_with") || p.is_ident("deserialize_with") {
                custom = true;
                skip_meta_value(&meta)?;
            } else {
                skip_meta_value(&meta)?;
            }
            Ok(())
        });
        if let Err(e) = r {
            diags.error(source.loc(e.span()), format!("cannot read #[serde] attribute: {e}"));
        }
    }
    let ty = type_ref(&f.ty, local);
    if matches!(ty, TypeRef::Option(_)) && default == SerdeDefault::None {
        // serde fills a missing Option with None without being told.
        default = SerdeDefault::Default;
    }
    let markers = markers(&doc, diags);
    Field {
        rust_name,
        json_name,
        ty,
        description: doc.description(),
        default,
        skip_serializing_if,
        skip_serializing: skip_ser,
        skip_deserializing: skip_de,
        flatten,
        custom_serde: custom,
        markers,
        loc,
        ty_loc: source.loc(f.ty.span()),
    }
}

fn generic_args(seg: &syn::PathSegment) -> Vec<&syn::Type> {
    match &seg.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// Maps a Rust type to a [`TypeRef`]; anything unknown becomes `Unsupported` and is reported only
/// if a CRD schema needs it.
pub fn type_ref(ty: &syn::Type, local: &HashSet<String>) -> TypeRef {
    let unsupported = || TypeRef::Unsupported(quote::ToTokens::to_token_stream(ty).to_string());
    let syn::Type::Path(tp) = ty else { return unsupported() };
    if tp.qself.is_some() {
        return unsupported();
    }
    let Some(seg) = tp.path.segments.last() else { return unsupported() };
    let name = seg.ident.to_string();
    let args = generic_args(seg);
    let one = |wrap: fn(Box<TypeRef>) -> TypeRef| match args.as_slice() {
        [t] => wrap(Box::new(type_ref(t, local))),
        _ => unsupported(),
    };
    if tp.path.segments.len() == 1 && local.contains(&name) && args.is_empty() {
        return TypeRef::Local(name);
    }
    match name.as_str() {
        "Option" => one(TypeRef::Option),
        "Vec" => one(TypeRef::Vec),
        "Box" | "Arc" | "Rc" => one(TypeRef::Boxed),
        "BTreeMap" | "HashMap" | "IndexMap" => match args.as_slice() {
            [k, v] if type_ref(k, local) == TypeRef::String => TypeRef::Map(Box::new(type_ref(v, local))),
            _ => unsupported(),
        },
        "String" => TypeRef::String,
        "bool" => TypeRef::Bool,
        "i8" => TypeRef::Int { bits: 8, signed: true },
        "i16" => TypeRef::Int { bits: 16, signed: true },
        "i32" => TypeRef::Int { bits: 32, signed: true },
        "i64" | "isize" => TypeRef::Int { bits: 64, signed: true },
        "u8" => TypeRef::Int { bits: 8, signed: false },
        "u16" => TypeRef::Int { bits: 16, signed: false },
        "u32" => TypeRef::Int { bits: 32, signed: false },
        "u64" | "usize" => TypeRef::Int { bits: 64, signed: false },
        "f32" => TypeRef::Float(32),
        "f64" => TypeRef::Float(64),
        "Value" if args.is_empty() => TypeRef::Json,
        _ => match K8sType::from_name(&name) {
            Some(k) if args.is_empty() => TypeRef::K8s(k),
            _ => unsupported(),
        },
    }
}

fn number(tag: &Tag, diags: &mut Diagnostics) -> Option<serde_json::Value> {
    let v = tag.value.as_deref().unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(v) {
        Ok(n @ serde_json::Value::Number(_)) => Some(n),
        _ => {
            diags.error(tag.value_loc.clone(), format!("`+{}` needs a number, got `{v}`", tag.name));
            None
        }
    }
}

fn count(tag: &Tag, diags: &mut Diagnostics) -> Option<serde_json::Value> {
    let v = tag.value.as_deref().unwrap_or_default();
    match v.parse::<u64>() {
        Ok(n) => Some(n.into()),
        Err(_) => {
            diags.error(tag.value_loc.clone(), format!("`+{}` needs a non-negative integer, got `{v}`", tag.name));
            None
        }
    }
}

fn boolean(tag: &Tag, diags: &mut Diagnostics) -> Option<bool> {
    match tag.value.as_deref() {
        None | Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            diags.error(tag.value_loc.clone(), format!("`+{}` needs `true` or `false`, got `{v}`", tag.name));
            None
        }
    }
}

/// A JSON value as controller-gen reads marker values: JSON if it parses, a string otherwise.
fn loose_json(v: &str) -> serde_json::Value {
    serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(unquote(v)))
}

fn one_of(tag: &Tag, allowed: &[&str], diags: &mut Diagnostics) -> Option<String> {
    let v = unquote(tag.value.as_deref().unwrap_or_default());
    if allowed.contains(&v.as_str()) {
        Some(v)
    } else {
        diags.error_hint(
            tag.value_loc.clone(),
            format!("invalid value `{v}` for `+{}`", tag.name),
            format!("use one of: {}", allowed.join(", ")),
        );
        None
    }
}

/// Reads the schema markers of a field or type.
fn markers(doc: &Doc, diags: &mut Diagnostics) -> Markers {
    let mut m = Markers::default();
    let mut checked = vec![];
    for tag in &doc.tags {
        let name = tag.name.as_str();
        if let Some(v) = name.strip_prefix("kubebuilder:validation:") {
            let (items, v) = match v.strip_prefix("items:") {
                Some(rest) => (true, rest),
                None => (false, v),
            };
            let keyword_value = match v {
                "Maximum" | "Minimum" | "MultipleOf" => number(tag, diags).map(|n| (lower_first(v), n)),
                "ExclusiveMaximum" | "ExclusiveMinimum" | "UniqueItems" => {
                    boolean(tag, diags).map(|b| (lower_first(v), b.into()))
                }
                "MaxLength" | "MinLength" | "MaxItems" | "MinItems" | "MaxProperties" | "MinProperties" => {
                    count(tag, diags).map(|n| (lower_first(v), n))
                }
                "Pattern" => Some(("pattern".into(), unquote(tag.value.as_deref().unwrap_or_default()).into())),
                "Format" => Some(("format".into(), unquote(tag.value.as_deref().unwrap_or_default()).into())),
                "Type" => one_of(tag, &["string", "integer", "number", "boolean", "object", "array"], diags)
                    .map(|t| ("type".into(), t.into())),
                "Enum" => Some((
                    "enum".into(),
                    serde_json::Value::Array(
                        tag.value.as_deref().unwrap_or_default().split(';').map(|s| loose_json(s.trim())).collect(),
                    ),
                )),
                "XPreserveUnknownFields" => {
                    boolean(tag, diags).map(|b| ("x-kubernetes-preserve-unknown-fields".into(), b.into()))
                }
                "XEmbeddedResource" => boolean(tag, diags).map(|b| ("x-kubernetes-embedded-resource".into(), b.into())),
                "XIntOrString" => boolean(tag, diags).map(|b| ("x-kubernetes-int-or-string".into(), b.into())),
                "Optional" => {
                    m.required = Some(false);
                    None
                }
                "Required" => {
                    m.required = Some(true);
                    None
                }
                "XValidation" => {
                    if let Some(rule) = cel_rule(tag, diags) {
                        m.cel.push(rule);
                    }
                    None
                }
                _ => None,
            };
            if let Some((k, val)) = keyword_value {
                checked.push((items, k.clone(), val.clone(), tag.value_loc.clone()));
                match k.as_str() {
                    "x-kubernetes-preserve-unknown-fields" if !items => m.preserve_unknown = val == true,
                    "x-kubernetes-embedded-resource" if !items => m.embedded_resource = val == true,
                    "x-kubernetes-int-or-string" if !items => m.int_or_string = val == true,
                    _ if items => m.item_keywords.push((k, val)),
                    _ => m.keywords.push((k, val)),
                }
            }
            continue;
        }
        match name {
            "optional" | "k8s:optional" => m.required = Some(false),
            "required" | "k8s:required" => m.required = Some(true),
            "nullable" => m.nullable = true,
            "default" | "kubebuilder:default" => m.default = Some(loose_json(tag.value.as_deref().unwrap_or_default())),
            "kubebuilder:example" => m.example = Some(loose_json(tag.value.as_deref().unwrap_or_default())),
            "kubebuilder:pruning:PreserveUnknownFields" => m.preserve_unknown = true,
            "listType" => m.list_type = one_of(tag, &["atomic", "set", "map"], diags),
            "listMapKey" => m.list_map_keys.push(unquote(tag.value.as_deref().unwrap_or_default())),
            "mapType" => m.map_type = one_of(tag, &["atomic", "granular"], diags),
            "structType" => m.struct_type = one_of(tag, &["atomic", "granular"], diags),
            _ => {}
        }
    }
    crate::crd_rules::check_keywords(&checked, diags);
    if m.list_type.as_deref() == Some("map")
        && m.list_map_keys.is_empty()
        && let Some(t) = doc.get("listType")
    {
        {
            diags.error_hint(
                t.loc.clone(),
                "`+listType=map` needs at least one `+listMapKey`",
                "add `+listMapKey=<field>`",
            );
        }
    }
    m
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

fn cel_rule(tag: &Tag, diags: &mut Diagnostics) -> Option<CelRule> {
    let mut rule = None;
    let mut extra = vec![];
    for a in &tag.args {
        match a.key.as_str() {
            "rule" => rule = Some(a.value.clone()),
            "message" | "messageExpression" | "fieldPath" => extra.push((a.key.clone(), a.value.clone().into())),
            "reason" => {
                let allowed = ["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"];
                if !allowed.contains(&a.value.as_str()) {
                    diags.error_hint(
                        a.loc.clone(),
                        format!("invalid XValidation reason `{}`", a.value),
                        format!("use one of: {}", allowed.join(", ")),
                    );
                }
                extra.push((a.key.clone(), a.value.clone().into()));
            }
            "optionalOldSelf" => extra.push((a.key.clone(), (a.value == "true").into())),
            other => diags.error_hint(
                a.loc.clone(),
                format!("unknown XValidation argument `{other}`"),
                "use rule, message, messageExpression, reason, fieldPath or optionalOldSelf",
            ),
        }
    }
    match rule {
        Some(rule) => Some(CelRule { rule, extra }),
        None => {
            diags.error_hint(
                tag.loc.clone(),
                "`+kubebuilder:validation:XValidation` needs `rule=`",
                "write `+kubebuilder:validation:XValidation:rule=\"self.x > 0\",message=\"...\"`",
            );
            None
        }
    }
}

/// Builds the kind for a `+genclient` struct, checking ObjectMeta, the list type and the verb tags.
fn kind(
    raw: &RawType,
    types: &[TypeDef],
    by_name: &dyn Fn(&str) -> Option<usize>,
    source: &Source,
    diags: &mut Diagnostics,
) -> Option<Kind> {
    let name = raw.item.ident().to_string();
    let loc = source.loc(raw.item.ident().span());
    let doc = &raw.doc;
    check_kind_name(&name, &loc, diags);
    let this = &types[by_name(&name)?];
    let Body::Struct(fields) = &this.body else {
        diags.error_hint(
            loc,
            format!("`+genclient` type `{name}` must be a struct with named fields"),
            "API objects are structs with `metadata`, and usually `spec` and `status`",
        );
        return None;
    };
    match fields.iter().find(|f| f.json_name == "metadata") {
        Some(f) if f.ty == TypeRef::K8s(K8sType::ObjectMeta) => {}
        Some(f) => diags.error_hint(
            f.ty_loc.clone(),
            format!("`{name}.metadata` must be an ObjectMeta"),
            "use `k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta`",
        ),
        None => diags.error_hint(
            loc.clone(),
            format!("`+genclient` type `{name}` has no ObjectMeta"),
            "add `pub metadata: ObjectMeta` (k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta)",
        ),
    }
    let list_name = format!("{name}List");
    let list = by_name(&list_name).map(|i| &types[i]);
    match list {
        None => diags.error_hint(
            loc.clone(),
            format!("`+genclient` type `{name}` has no list type `{list_name}`"),
            format!("add `pub struct {list_name} {{ pub metadata: ListMeta, pub items: Vec<{name}> }}` to the same version package"),
        ),
        Some(_) => {
            let ok = list.is_some_and(|t| match &t.body {
                Body::Struct(f) => {
                    f.iter().any(|f| f.json_name == "metadata" && f.ty == TypeRef::K8s(K8sType::ListMeta))
                        && f.iter().any(|f| f.json_name == "items" && f.ty == TypeRef::Vec(Box::new(TypeRef::Local(name.clone()))))
                }
                _ => false,
            });
            if !ok {
                let lloc = list.map_or_else(|| loc.clone(), |t| t.loc.clone());
                diags.error_hint(
                    lloc,
                    format!("list type `{list_name}` must have `metadata: ListMeta` and `items: Vec<{name}>`"),
                    format!("write `pub struct {list_name} {{ pub metadata: ListMeta, pub items: Vec<{name}> }}`"),
                );
            }
        }
    }
    let has_status = fields.iter().any(|f| f.json_name == "status");
    let (verbs, extensions) = client_tags(doc, has_status, diags);
    let mut namespaced = !doc.has("genclient:nonNamespaced");
    let mut plural = naming::pluralize(&name).to_ascii_lowercase();
    let mut singular = name.to_ascii_lowercase();
    let mut short_names = vec![];
    let mut categories = vec![];
    if let Some(t) = doc.get("resourceName") {
        plural = unquote(t.value.as_deref().unwrap_or_default());
        check_resource_name(&plural, t.value_loc.clone(), diags);
    }
    if let Some(t) = doc.get("kubebuilder:resource") {
        for a in &t.args {
            let list =
                || a.value.split(';').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>();
            match a.key.as_str() {
                "path" => {
                    if doc.has("resourceName") && a.value != plural {
                        diags.error(
                            a.loc.clone(),
                            format!("`path={}` disagrees with `+resourceName={plural}`", a.value),
                        );
                    }
                    plural = a.value.clone();
                    check_resource_name(&plural, a.loc.clone(), diags);
                }
                "singular" => {
                    singular = a.value.clone();
                    check_dns_label("singular name", &singular, a.loc.clone(), "bitcoinnetwork", diags);
                }
                "shortName" => {
                    short_names = list();
                    for n in &short_names {
                        check_dns_label("short name", n, a.loc.clone(), "bn", diags);
                    }
                }
                "categories" => {
                    categories = list();
                    for n in &categories {
                        check_dns_label("category", n, a.loc.clone(), "all", diags);
                    }
                }
                "scope" => match a.value.as_str() {
                    "Namespaced" | "Cluster" => {
                        let cluster = a.value == "Cluster";
                        if doc.has("genclient:nonNamespaced") && !cluster {
                            diags.error(a.loc.clone(), "`scope=Namespaced` contradicts `+genclient:nonNamespaced`");
                        }
                        namespaced = !cluster;
                    }
                    other => diags.error_hint(
                        a.loc.clone(),
                        format!("invalid scope `{other}`"),
                        "use `Namespaced` or `Cluster`",
                    ),
                },
                other => diags.error_hint(
                    a.loc.clone(),
                    format!("unknown `+kubebuilder:resource` argument `{other}`"),
                    "use path, singular, shortName, categories or scope",
                ),
            }
        }
    }
    let status_subresource = doc.has("kubebuilder:subresource:status");
    if status_subresource
        && !has_status
        && let Some(t) = doc.get("kubebuilder:subresource:status")
    {
        {
            diags.error_hint(
                t.loc.clone(),
                format!("`{name}` has a status subresource but no `status` field"),
                "add a `status` field or remove the marker",
            );
        }
    }
    let scale = doc.get("kubebuilder:subresource:scale").and_then(|t| scale(t, this, types, diags));
    let mut printer_columns = vec![];
    for t in doc.all("kubebuilder:printcolumn") {
        if let Some(c) = printer_column(t, diags) {
            printer_columns.push(c);
        }
    }
    Some(Kind {
        name: name.clone(),
        list_name,
        plural,
        singular,
        short_names,
        categories,
        namespaced,
        verbs,
        extensions,
        has_status,
        status_subresource,
        scale,
        printer_columns,
        storage_version: doc.has("kubebuilder:storageversion"),
        loc,
    })
}

fn check_resource_name(plural: &str, loc: Loc, diags: &mut Diagnostics) {
    check_dns_label("resource name", plural, loc, "bitcoinnetworks", diags);
}

/// apiextensions requires plural, singular, short names, categories and the lowercased kind to
/// be DNS-1035 labels; a CRD that breaks this is refused by the API server.
fn check_dns_label(what: &str, value: &str, loc: Loc, example: &str, diags: &mut Diagnostics) {
    if !naming::is_dns_label(value) {
        diags.error_hint(
            loc,
            format!("invalid {what} `{value}`"),
            format!(
                "a {what} is a DNS label: lowercase letters, digits and `-`, starting with a letter, at most 63 characters, e.g. `{example}`"
            ),
        );
    }
}

/// The names the generated crate derives from a kind (its module and accessor) must be Rust
/// identifiers, and its lowercased name a DNS label (apiextensions' rule for `kind`).
fn check_kind_name(name: &str, loc: &Loc, diags: &mut Diagnostics) {
    let module = naming::snake(name);
    let accessor = naming::snake(&naming::pluralize(name));
    for (what, derived) in [("module", &module), ("accessor", &accessor)] {
        if let Some(why) = naming::ident_problem(derived) {
            diags.error_hint(
                loc.clone(),
                format!("kind `{name}` cannot be generated: its {what} name `{derived}` is not usable ({why})"),
                format!("rename the type, e.g. `{name}Resource`"),
            );
            return;
        }
    }
    if !naming::is_dns_label(&name.to_ascii_lowercase()) {
        diags.error_hint(
            loc.clone(),
            format!("kind `{name}` lowercased is not a DNS label, which a CRD's kind must be"),
            "use a CamelCase name of ASCII letters and digits, e.g. `BitcoinNetwork`",
        );
    }
}

/// Reads `+kubebuilder:subresource:scale`. apiextensions requires the spec path under `.spec`,
/// the status path under `.status`, the selector under either, and the replica fields to be
/// integers; each path is followed through the kind's fields so a typo is an error here.
fn scale(t: &Tag, kind: &TypeDef, types: &[TypeDef], diags: &mut Diagnostics) -> Option<Scale> {
    let (mut spec, mut status, mut selector) = (None, None, None);
    for a in &t.args {
        let (slot, roots, integer): (&mut Option<String>, &[&str], bool) = match a.key.as_str() {
            "specpath" => (&mut spec, &["spec"], true),
            "statuspath" => (&mut status, &["status"], true),
            "selectorpath" => (&mut selector, &["spec", "status"], false),
            other => {
                diags.error_hint(
                    a.loc.clone(),
                    format!("unknown `+kubebuilder:subresource:scale` argument `{other}`"),
                    "use specpath, statuspath or selectorpath",
                );
                continue;
            }
        };
        match resolve_path(&a.value, roots, kind, types) {
            Ok(ty) if integer && !matches!(ty, TypeRef::Int { .. }) => diags.error_hint(
                a.loc.clone(),
                format!("`{}={}` names a field that is not an integer", a.key, a.value),
                "replica counts are integers (i32)",
            ),
            Ok(ty) if !integer && ty != TypeRef::String => diags.error_hint(
                a.loc.clone(),
                format!("`selectorpath={}` names a field that is not a string", a.value),
                "the scale selector is the label selector serialized as a string, e.g. `.status.selector`",
            ),
            Ok(_) => {}
            Err(why) => diags.error_hint(
                a.loc.clone(),
                format!("`{}={}`: {why}", a.key, a.value),
                format!("write a path into the object under {}, e.g. `.{}.replicas`", roots.join(" or "), roots[0]),
            ),
        }
        *slot = Some(a.value.clone());
    }
    let (Some(spec_replicas_path), Some(status_replicas_path)) = (spec, status) else {
        diags.error_hint(
            t.loc.clone(),
            "`+kubebuilder:subresource:scale` needs `specpath=` and `statuspath=`",
            "write `+kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector`",
        );
        return None;
    };
    Some(Scale { spec_replicas_path, status_replicas_path, label_selector_path: selector })
}

/// Follows a JSON path like `.spec.replicas` through the kind's fields (by JSON name) and
/// returns the type it ends at, without Option.
fn resolve_path(path: &str, roots: &[&str], kind: &TypeDef, types: &[TypeDef]) -> Result<TypeRef, String> {
    let Some(rest) = path.strip_prefix('.') else { return Err("a path starts with `.`".into()) };
    let parts: Vec<&str> = rest.split('.').collect();
    if parts.len() < 2 || !roots.contains(&parts[0]) {
        return Err(format!("the path must lie under .{}", roots.join(" or .")));
    }
    let mut body = &kind.body;
    let mut ty = TypeRef::Unsupported(String::new());
    for (i, part) in parts.iter().enumerate() {
        let Body::Struct(fields) = body else { return Err(format!("`{}` is not an object", parts[..i].join("."))) };
        let Some(f) = fields.iter().find(|f| f.json_name == *part) else {
            return Err(format!("there is no field `{part}` at `.{}`", parts[..i].join(".")));
        };
        ty = f.ty.clone();
        while let TypeRef::Option(inner) | TypeRef::Boxed(inner) = ty {
            ty = *inner;
        }
        if i + 1 < parts.len() {
            let TypeRef::Local(name) = &ty else { return Err(format!("`{part}` is not an object")) };
            let Some(t) = types.iter().find(|t| &t.name == name) else { return Err(format!("`{part}` is not an object")) };
            body = &t.body;
        }
    }
    Ok(ty)
}

fn printer_column(t: &Tag, diags: &mut Diagnostics) -> Option<PrinterColumn> {
    let mut col = PrinterColumn {
        name: String::new(),
        type_: String::new(),
        json_path: String::new(),
        description: None,
        format: None,
        priority: 0,
    };
    for a in &t.args {
        match a.key.as_str() {
            "name" => col.name = a.value.clone(),
            "type" => {
                const TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];
                if !TYPES.contains(&a.value.as_str()) {
                    diags.error_hint(
                        a.loc.clone(),
                        format!("invalid printer column type `{}`", a.value),
                        format!("use one of: {}", TYPES.join(", ")),
                    );
                }
                col.type_ = a.value.clone();
            }
            "JSONPath" => col.json_path = a.value.clone(),
            "description" => col.description = Some(a.value.clone()),
            "format" => col.format = Some(a.value.clone()),
            "priority" => match a.value.parse() {
                Ok(p) => col.priority = p,
                Err(_) => {
                    diags.error(a.loc.clone(), format!("printer column priority must be an integer, got `{}`", a.value))
                }
            },
            other => diags.error_hint(
                a.loc.clone(),
                format!("unknown `+kubebuilder:printcolumn` argument `{other}`"),
                "use name, type, JSONPath, description, format or priority",
            ),
        }
    }
    let missing: Vec<&str> = [("name", &col.name), ("type", &col.type_), ("JSONPath", &col.json_path)]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| k)
        .collect();
    if !missing.is_empty() {
        diags.error_hint(
            t.loc.clone(),
            format!("`+kubebuilder:printcolumn` is missing {}", missing.join(", ")),
            "write `+kubebuilder:printcolumn:name=NODES,type=integer,JSONPath=\".spec.nodes\"`",
        );
        return None;
    }
    Some(col)
}

fn parse_verb_list(tag: &Tag, diags: &mut Diagnostics) -> Vec<Verb> {
    let value = tag.value.as_deref().unwrap_or_default();
    let mut out = vec![];
    let mut offset = 0;
    for part in value.split(',') {
        let word = part.trim();
        let lead = part.len() - part.trim_start().len();
        let loc = Loc::new(&tag.value_loc.file, tag.value_loc.line, tag.value_loc.col + offset + lead);
        match Verb::parse(word) {
            Some(v) => out.push(v),
            None => {
                let hint = naming::suggest(word, Verb::ALL.iter().map(|v| v.as_str()))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("verbs are: {}", Verb::ALL.map(Verb::as_str).join(", ")));
                diags.error_hint(loc, format!("unknown verb `{word}` in `+{}`", tag.name), hint);
            }
        }
        offset += part.len() + 1;
    }
    out
}

/// client-gen's verb rules: readonly/onlyVerbs select, skipVerbs remove (a verb in both is an
/// error), noVerbs removes all, and the status verbs need a `status` field and no `noStatus`.
fn client_tags(doc: &Doc, has_status: bool, diags: &mut Diagnostics) -> (Verbs, Vec<Extension>) {
    let no_verbs = doc.get("genclient:noVerbs");
    let mut only: Option<Vec<Verb>> = None;
    if doc.has("genclient:readonly") {
        only = Some(verbs::READONLY.to_vec());
    }
    if let Some(t) = doc.get("genclient:onlyVerbs") {
        only.get_or_insert_with(Vec::new).extend(parse_verb_list(t, diags));
    }
    let skip = doc.get("genclient:skipVerbs").map(|t| (t, parse_verb_list(t, diags)));
    if let (Some(only), Some((t, skip))) = (&only, &skip) {
        for v in skip.iter().filter(|v| only.contains(v)) {
            diags.error_hint(
                t.loc.clone(),
                format!("verb `{v}` is used both in `+genclient:skipVerbs` and `+genclient:onlyVerbs`"),
                "list each verb in one of them only",
            );
        }
    }
    if let Some(nv) = no_verbs {
        for other in ["genclient:readonly", "genclient:onlyVerbs", "genclient:skipVerbs", "genclient:method"] {
            if doc.has(other) {
                diags.error_hint(
                    nv.loc.clone(),
                    format!("`+genclient:noVerbs` conflicts with `+{other}`"),
                    "a type without verbs has no methods to select",
                );
            }
        }
    }
    let mut verbs = match &only {
        Some(list) => list.iter().copied().collect(),
        None => Verbs::all(),
    };
    if let Some((_, skip)) = &skip {
        for v in skip {
            verbs.remove(*v);
        }
    }
    if no_verbs.is_some() {
        verbs = Verbs::none();
    }
    if !has_status || doc.has("genclient:noStatus") {
        verbs.remove(Verb::UpdateStatus);
        verbs.remove(Verb::ApplyStatus);
    }
    let mut extensions: Vec<Extension> = vec![];
    for t in doc.all("genclient:method") {
        if let Some(e) = extension(t, diags) {
            if extensions.iter().any(|x| x.name == e.name) {
                diags.error(t.value_loc.clone(), format!("method `{}` is declared twice", e.name));
            }
            extensions.push(e);
        }
    }
    (verbs, extensions)
}

fn extension(t: &Tag, diags: &mut Diagnostics) -> Option<Extension> {
    let value = t.value.as_deref().unwrap_or_default();
    let mut parts = value.split(',');
    let name = parts.next().unwrap_or_default().trim().to_string();
    let hint =
        "write `+genclient:method=GetScale,verb=get,subresource=scale,result=k8s_openapi::api::autoscaling::v1::Scale`";
    if !naming::is_rust_ident(&name)
        || naming::ident_problem(&naming::snake(&name)).is_some()
        || !name.starts_with(|c: char| c.is_ascii_uppercase())
    {
        diags.error_hint(t.value_loc.clone(), format!("invalid method name `{name}`"), hint);
        return None;
    }
    let mut kv = BTreeMap::new();
    for p in parts {
        match p.split_once('=') {
            Some((k, v)) => {
                kv.insert(k.trim().to_string(), v.trim().to_string());
            }
            None => {
                diags.error_hint(t.value_loc.clone(), format!("malformed `+genclient:method` argument `{p}`"), hint);
                return None;
            }
        }
    }
    for k in kv.keys() {
        if !["verb", "subresource", "input", "result"].contains(&k.as_str()) {
            diags.error_hint(
                t.value_loc.clone(),
                format!("unknown `+genclient:method` argument `{k}`"),
                "use verb, subresource, input or result",
            );
        }
    }
    let Some(verb_s) = kv.get("verb") else {
        diags.error_hint(t.value_loc.clone(), format!("method `{name}` has no `verb=`"), hint);
        return None;
    };
    let Some(verb) = Verb::parse(verb_s) else {
        diags.error_hint(
            t.value_loc.clone(),
            format!("unknown verb `{verb_s}` in method `{name}`"),
            format!("verbs are: {}", Verb::ALL.map(Verb::as_str).join(", ")),
        );
        return None;
    };
    if verbs::EXTENSION_FORBIDDEN.contains(&verb) {
        diags.error(t.value_loc.clone(), format!("method `{name}`: verb `{verb}` is not supported for custom methods"));
    }
    if kv.contains_key("input") && !verbs::EXTENSION_INPUT.contains(&verb) {
        diags.error(
            t.value_loc.clone(),
            format!("method `{name}`: `input=` is allowed only for create, update and apply"),
        );
    }
    if kv.contains_key("result") && !verbs::EXTENSION_RESULT.contains(&verb) {
        diags.error(
            t.value_loc.clone(),
            format!("method `{name}`: `result=` is allowed only for create, update, get, list, patch and apply"),
        );
    }
    for key in ["input", "result"] {
        if let Some(p) = kv.get(key)
            && syn::parse_str::<syn::Path>(p).is_err()
        {
            {
                diags.error_hint(
                    t.value_loc.clone(),
                    format!("method `{name}`: `{key}={p}` is not a Rust type path"),
                    "name the type as a Rust path, e.g. `k8s_openapi::api::autoscaling::v1::Scale`",
                );
            }
        }
    }
    Some(Extension {
        name,
        verb,
        subresource: kv.get("subresource").cloned(),
        input: kv.get("input").cloned(),
        result: kv.get("result").cloned(),
    })
}

/// The files of a version are one package (`pub use types::*`), so a type name may appear once
/// in it; a second `Foo` in another file would compile to an ambiguous re-export.
fn check_duplicate_types(version: &str, raws: &[RawType], sources: &[(usize, Source)], diags: &mut Diagnostics) {
    let mut seen: HashMap<String, Loc> = HashMap::new();
    for raw in raws {
        let Some((_, source)) = sources.iter().find(|(i, _)| *i == raw.file) else { continue };
        let loc = source.loc(raw.item.ident().span());
        match seen.entry(raw.item.ident().to_string()) {
            Entry::Occupied(first) => diags.error_hint(
                loc,
                format!("type `{}` is defined twice in version {version} (first at {})", first.key(), first.get()),
                "the files of a version form one package; rename or remove one of them",
            ),
            Entry::Vacant(v) => {
                v.insert(loc);
            }
        }
    }
}

/// A group name belongs to one folder, and the Rust module the generated crate names after a
/// group (`+groupGoName`, or the first DNS label) to one group.
fn check_duplicate_groups(model: &Model, diags: &mut Diagnostics) {
    let mut names: HashMap<&str, &Group> = HashMap::new();
    let mut modules: HashMap<String, &Group> = HashMap::new();
    for g in &model.groups {
        if let Some(first) = names.insert(&g.name, g) {
            diags.error_hint(
                g.loc.clone(),
                format!("group `{}` is declared in folder `{}` and again in folder `{}`", g.name, first.module, g.module),
                format!("each group lives in one folder; move these versions under src/{}/", first.module),
            );
        } else if let Some(first) = modules.insert(naming::snake(&g.go_name), g) {
            diags.error_hint(
                g.loc.clone(),
                format!("groups `{}` and `{}` both get the Rust name `{}`", first.name, g.name, g.go_name),
                "give one of them `+groupGoName=<CamelCase>`",
            );
        }
    }
}

/// Two kinds of one group may not share a plural: it names the REST resource and the CRD.
fn check_plurals(model: &Model, diags: &mut Diagnostics) {
    for g in &model.groups {
        let mut seen: BTreeMap<&str, &Kind> = BTreeMap::new();
        for v in &g.versions {
            for k in &v.kinds {
                match seen.get(k.plural.as_str()) {
                    Some(prev) if prev.name != k.name => diags.error_hint(
                        k.loc.clone(),
                        format!(
                            "kinds `{}` and `{}` share the resource name `{}` in group {}",
                            prev.name, k.name, k.plural, g.name
                        ),
                        format!("rename one with `+resourceName=<plural>` (the other is at {})", prev.loc),
                    ),
                    _ => {
                        seen.insert(&k.plural, k);
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
