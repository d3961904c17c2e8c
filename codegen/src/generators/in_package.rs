//! In-package code: deep-copy and the object impls (the Rust form of deepcopy-gen and register-gen).
//!
//! This code must live in the apis crate (Rust's orphan rule forbids implementing
//! `k8s_openapi::Resource` elsewhere), so `apis/build.rs` renders it into `OUT_DIR` and each
//! version module `include!`s it. It names external items by absolute paths and the package's
//! own types by their path relative to the version module.
//!
//! - deep-copy: `Clone`, field by field. `clone_from` reuses the destination's allocations,
//!   which is what Go's `DeepCopyInto` is for.
//! - objects (kinds and their lists): `k8s_openapi::Resource`, `Metadata` and
//!   `ListableResource`, which give `kube::Resource` through kube's blanket impl, and serde impls
//!   that write and check `apiVersion` and `kind` (Go's TypeMeta) from those constants.

use std::collections::HashMap;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::diag::Diagnostics;
use crate::model::{Body, Field, Group, Kind, SerdeDefault, TypeDef, TypeRef, VariantFields, Version};

/// Renders the in-package code of one version, as chunks of items (the constants, then one
/// chunk per type and per kind) that are formatted one by one: formatting one file of every
/// kind at once made the time grow faster than the number of kinds (one huge syntax tree).
pub fn render(group: &Group, version: &Version, diags: &mut Diagnostics) -> Vec<TokenStream> {
    let group_name = &group.name;
    let version_name = &version.name;
    let api_version = format!("{}/{}", group.name, version.name);
    let mut out = vec![quote! {
        /// The API group of this package.
        pub const GROUP_NAME: &str = #group_name;
        /// The version of this package.
        pub const VERSION: &str = #version_name;
        /// `group/version`, as written in `apiVersion`.
        pub const API_VERSION: &str = #api_version;
    }];
    let types: HashMap<&str, &TypeDef> = version.types.iter().map(|t| (t.name.as_str(), t)).collect();
    for t in version.types.iter().filter(|t| t.deepcopy) {
        out.push(deepcopy(t));
    }
    for kind in &version.kinds {
        let Some(t) = types.get(kind.name.as_str()) else { continue };
        let mut chunk = resource(group, version, kind, t, false);
        chunk.extend(object_serde(t, &kind.name, diags));
        if let Some(list) = types.get(kind.list_name.as_str()) {
            chunk.extend(resource(group, version, kind, list, true));
            chunk.extend(object_serde(list, &kind.list_name, diags));
        }
        out.push(chunk);
    }
    out
}

fn path_tokens(path: &str) -> TokenStream {
    syn::parse_str::<syn::Path>(path).map(|p| quote!(#p)).unwrap_or_else(|e| e.to_compile_error())
}

/// A field as a member expression: `name`, `r#type` or `0`.
fn member(name: &str) -> TokenStream {
    if let Ok(i) = name.parse::<usize>() {
        let idx = syn::Index::from(i);
        return quote!(#idx);
    }
    let ident = ident(name);
    quote!(#ident)
}

fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

fn deepcopy(t: &TypeDef) -> TokenStream {
    let path = path_tokens(&t.path);
    let doc = format!(" Deep copy of `{}`: `clone_from` reuses the destination's allocations (DeepCopyInto).", t.name);
    let (clone, clone_from) = match &t.body {
        Body::Struct(fields) => {
            let m: Vec<TokenStream> = fields.iter().map(|f| member(&f.rust_name)).collect();
            (
                quote!(Self { #( #m: ::core::clone::Clone::clone(&self.#m), )* }),
                quote!(#( ::core::clone::Clone::clone_from(&mut self.#m, &source.#m); )*),
            )
        }
        Body::Tuple(fields) => {
            let m: Vec<TokenStream> = fields.iter().map(|f| member(&f.rust_name)).collect();
            (
                quote!(Self( #( ::core::clone::Clone::clone(&self.#m), )* )),
                quote!(#( ::core::clone::Clone::clone_from(&mut self.#m, &source.#m); )*),
            )
        }
        Body::Unit => (quote!(Self), quote!(let _ = source;)),
        Body::Enum(variants) => {
            let arms = variants.iter().map(|v| {
                let name = ident(&v.name);
                match &v.fields {
                    VariantFields::Unit => quote!(Self::#name => Self::#name,),
                    VariantFields::Tuple(n) => {
                        let b: Vec<Ident> = (0..*n).map(|i| format_ident!("f{}", i)).collect();
                        quote!(Self::#name( #(#b),* ) => Self::#name( #( ::core::clone::Clone::clone(#b) ),* ),)
                    }
                    VariantFields::Named(names) => {
                        let b: Vec<Ident> = names.iter().map(|n| ident(n)).collect();
                        quote!(Self::#name { #(#b),* } => Self::#name { #( #b: ::core::clone::Clone::clone(#b) ),* },)
                    }
                }
            });
            let empty = variants.is_empty().then(|| quote!(_ => unreachable!(),));
            (quote!(match self { #(#arms)* #empty }), quote!(*self = ::core::clone::Clone::clone(source);))
        }
    };
    quote! {
        #[doc = #doc]
        impl ::core::clone::Clone for #path {
            #[inline]
            fn clone(&self) -> Self {
                #clone
            }
            #[inline]
            fn clone_from(&mut self, source: &Self) {
                #clone_from
            }
        }
    }
}

fn resource(group: &Group, version: &Version, kind: &Kind, t: &TypeDef, list: bool) -> TokenStream {
    let path = path_tokens(&t.path);
    let api_version = format!("{}/{}", group.name, version.name);
    let group_name = &group.name;
    let version_name = &version.name;
    let plural = &kind.plural;
    let kind_name = if list { &kind.list_name } else { &kind.name };
    let list_kind = &kind.list_name;
    let scope = if kind.namespaced {
        quote!(::k8s_openapi::NamespaceResourceScope)
    } else {
        quote!(::k8s_openapi::ClusterResourceScope)
    };
    let meta = if list {
        quote!(::k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta)
    } else {
        quote!(::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta)
    };
    let listable = (!list).then(|| {
        quote! {
            impl ::k8s_openapi::ListableResource for #path {
                const LIST_KIND: &'static str = #list_kind;
            }
        }
    });
    quote! {
        impl ::k8s_openapi::Resource for #path {
            const API_VERSION: &'static str = #api_version;
            const GROUP: &'static str = #group_name;
            const KIND: &'static str = #kind_name;
            const VERSION: &'static str = #version_name;
            const URL_PATH_SEGMENT: &'static str = #plural;
            type Scope = #scope;
        }
        #listable
        impl ::k8s_openapi::Metadata for #path {
            type Ty = #meta;
            fn metadata(&self) -> &<Self as ::k8s_openapi::Metadata>::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut <Self as ::k8s_openapi::Metadata>::Ty {
                &mut self.metadata
            }
        }
    }
}

fn check_object_field(t: &TypeDef, f: &Field, diags: &mut Diagnostics) -> bool {
    if f.flatten || f.custom_serde {
        diags.error_hint(
            f.loc.clone(),
            format!(
                "`#[serde(flatten)]` and custom (de)serializers are not supported on fields of API object `{}`",
                t.name
            ),
            "move the field into the spec or status type, where serde's derive handles it",
        );
        return false;
    }
    true
}

/// Serialize and Deserialize for a kind or list: the fields as serde's derive would write them,
/// plus `apiVersion` and `kind` from the Resource constants.
fn object_serde(t: &TypeDef, kind_name: &str, diags: &mut Diagnostics) -> TokenStream {
    let Body::Struct(fields) = &t.body else { return TokenStream::new() };
    if !fields.iter().all(|f| check_object_field(t, f, diags)) {
        return TokenStream::new();
    }
    let path = path_tokens(&t.path);
    let mut len_terms = vec![];
    let mut ser_fields = vec![];
    for f in fields.iter().filter(|f| !f.skip_serializing) {
        let m = member(&f.rust_name);
        let key = &f.json_name;
        match &f.skip_serializing_if {
            Some(pred) => {
                let pred = path_tokens(pred);
                len_terms.push(quote!(+ usize::from(!#pred(&self.#m))));
                ser_fields.push(quote! {
                    if #pred(&self.#m) {
                        state.skip_field(#key)?;
                    } else {
                        state.serialize_field(#key, &self.#m)?;
                    }
                });
            }
            None => {
                len_terms.push(quote!(+ 1));
                ser_fields.push(quote!(state.serialize_field(#key, &self.#m)?;));
            }
        }
    }
    let read: Vec<&Field> = fields.iter().filter(|f| !f.skip_deserializing).collect();
    let variants: Vec<Ident> = (0..read.len()).map(|i| format_ident!("F{}", i)).collect();
    let slots: Vec<Ident> = (0..read.len()).map(|i| format_ident!("f{}", i)).collect();
    let keys: Vec<&str> = read.iter().map(|f| f.json_name.as_str()).collect();
    let all_keys: Vec<&str> = ["apiVersion", "kind"].into_iter().chain(keys.iter().copied()).collect();
    let build = fields.iter().map(|f| {
        let m = member(&f.rust_name);
        let Some(i) = read.iter().position(|r| std::ptr::eq(*r, f)) else {
            return quote!(#m: ::core::default::Default::default());
        };
        let slot = &slots[i];
        let key = &f.json_name;
        let value = match &f.default {
            SerdeDefault::Default => quote!(#slot.unwrap_or_default()),
            SerdeDefault::Path(p) => {
                let p = path_tokens(p);
                quote!(#slot.unwrap_or_else(#p))
            }
            SerdeDefault::None if matches!(f.ty, TypeRef::Option(_)) => quote!(#slot.unwrap_or_default()),
            SerdeDefault::None => quote! {
                match #slot {
                    ::core::option::Option::Some(v) => v,
                    ::core::option::Option::None => return ::core::result::Result::Err(::serde::de::Error::missing_field(#key)),
                }
            },
        };
        quote!(#m: #value)
    });
    quote! {
        impl ::serde::Serialize for #path {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeStruct as _;
                let len = 2 #(#len_terms)*;
                let mut state = serializer.serialize_struct(#kind_name, len)?;
                state.serialize_field("apiVersion", <Self as ::k8s_openapi::Resource>::API_VERSION)?;
                state.serialize_field("kind", <Self as ::k8s_openapi::Resource>::KIND)?;
                #(#ser_fields)*
                state.end()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #path {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                enum Field {
                    ApiVersion,
                    Kind,
                    #(#variants,)*
                    Other,
                }
                struct FieldVisitor;
                impl ::serde::de::Visitor<'_> for FieldVisitor {
                    type Value = Field;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> ::core::result::Result<Field, E> {
                        ::core::result::Result::Ok(match v {
                            "apiVersion" => Field::ApiVersion,
                            "kind" => Field::Kind,
                            #(#keys => Field::#variants,)*
                            _ => Field::Other,
                        })
                    }
                }
                impl<'de> ::serde::Deserialize<'de> for Field {
                    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                        deserializer.deserialize_identifier(FieldVisitor)
                    }
                }
                struct Visitor;
                impl<'de> ::serde::de::Visitor<'de> for Visitor {
                    type Value = #path;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(#kind_name)
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> ::core::result::Result<Self::Value, A::Error> {
                        #(let mut #slots = ::core::option::Option::None;)*
                        while let ::core::option::Option::Some(key) = map.next_key::<Field>()? {
                            match key {
                                Field::ApiVersion => {
                                    let v: ::std::string::String = map.next_value()?;
                                    let want = <#path as ::k8s_openapi::Resource>::API_VERSION;
                                    if v != want {
                                        return ::core::result::Result::Err(::serde::de::Error::invalid_value(::serde::de::Unexpected::Str(&v), &want));
                                    }
                                }
                                Field::Kind => {
                                    let v: ::std::string::String = map.next_value()?;
                                    let want = <#path as ::k8s_openapi::Resource>::KIND;
                                    if v != want {
                                        return ::core::result::Result::Err(::serde::de::Error::invalid_value(::serde::de::Unexpected::Str(&v), &want));
                                    }
                                }
                                #(Field::#variants => {
                                    if #slots.is_some() {
                                        return ::core::result::Result::Err(::serde::de::Error::duplicate_field(#keys));
                                    }
                                    #slots = ::core::option::Option::Some(map.next_value()?);
                                })*
                                Field::Other => {
                                    map.next_value::<::serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        ::core::result::Result::Ok(#path { #(#build,)* })
                    }
                }
                deserializer.deserialize_struct(#kind_name, &[#(#all_keys),*], Visitor)
            }
        }
    }
}
