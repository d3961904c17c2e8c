//! Checks across items: derives the generator replaces, duplicate types in a version, duplicate
//! groups, and plurals shared by two kinds.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use super::RawType;
use crate::diag::{Diagnostics, Loc};
use crate::model::{Group, Kind, Model, TypeDef};
use crate::naming;
use crate::tags::Source;

pub(super) fn check_derives(raw: &RawType, t: &TypeDef, diags: &mut Diagnostics) {
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

/// The files of a version are one package (`pub use types::*`), so a type name may appear once
/// in it; a second `Foo` in another file would compile to an ambiguous re-export.
pub(super) fn check_duplicate_types(
    version: &str,
    raws: &[RawType],
    sources: &[(usize, Source)],
    diags: &mut Diagnostics,
) {
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
pub(super) fn check_duplicate_groups(model: &Model, diags: &mut Diagnostics) {
    let mut names: HashMap<&str, &Group> = HashMap::new();
    let mut modules: HashMap<String, &Group> = HashMap::new();
    for g in &model.groups {
        if let Some(first) = names.insert(&g.name, g) {
            diags.error_hint(
                g.loc.clone(),
                format!(
                    "group `{}` is declared in folder `{}` and again in folder `{}`",
                    g.name, first.module, g.module
                ),
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
pub(super) fn check_plurals(model: &Model, diags: &mut Diagnostics) {
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

/// The interface code-generator's deepcopy-gen adds for API objects. Its Rust counterpart is the
/// `k8s_openapi::Resource` family, which the generator implements for every kind and list type.
const RUNTIME_OBJECT: &str = "k8s.io/apimachinery/pkg/runtime.Object";

/// The tags of one type that only make sense on some types: deep-copy interfaces on API
/// objects, kind markers on kinds.
pub(super) fn check_type_tags(raw: &RawType, t: &TypeDef, is_kind: bool, source: &Source, diags: &mut Diagnostics) {
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
                format!("`{}` is not an API object, so it cannot implement runtime.Object", t.name),
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
    if !is_kind {
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
