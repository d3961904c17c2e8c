//! Lowering: syn items, fields and types into the model's [`TypeDef`], [`Field`] and
//! [`TypeRef`], with serde's attributes applied as serde applies them.

use std::collections::HashSet;

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;

use super::markers::markers;
use crate::diag::{Diagnostics, Loc};
use crate::model::{Field, K8sType, SerdeDefault, TypeRef, Variant, VariantFields};
use crate::naming;
use crate::tags::{Place, Source};

pub(super) fn derives(attrs: &[syn::Attribute], source: &Source) -> Vec<(String, Loc)> {
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

#[derive(Default)]
pub(super) struct SerdeContainer {
    rename_all: Option<String>,
    default: bool,
}

pub(super) fn serde_container(attrs: &[syn::Attribute]) -> SerdeContainer {
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
pub(super) fn string_or_serialize(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Option<String>> {
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

pub(super) fn skip_meta_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let _: proc_macro2::TokenStream = content.parse()?;
    }
    Ok(())
}

pub(super) fn variant(v: &syn::Variant, container: &SerdeContainer) -> Variant {
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

pub(super) fn field(
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

pub(super) fn generic_args(seg: &syn::PathSegment) -> Vec<&syn::Type> {
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
