//! Apply configurations (client-go's applyconfiguration-gen): for every kind and every struct it
//! uses, a `<Type>ApplyConfiguration` whose fields are all optional, so that server-side apply
//! sends, and the field manager claims, only the fields the caller set. Sending the kind itself
//! would claim every field, defaults and zero values included.
//!
//! Files: `src/applyconfigurations/meta.rs` (`ObjectMetaApplyConfiguration`: name, namespace,
//! labels, annotations, owner references) and one `src/applyconfigurations/<group>/<version>.rs`
//! per version with the structs, `with_<field>` builders, and a `<kind>(name[, namespace])`
//! constructor per kind that sets apiVersion and kind, and an `extract_<kind>(obj, manager)`
//! that returns what a field manager owns (client-go's `Extract<Kind>`, over
//! `runtime::apply::extract`), plus `extract_<kind>_status` for kinds with a status subresource. Enums and newtypes are atomic: they are
//! set whole, as their API type. Fields serde skips, flattens or encodes by hand are left out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Emit;
use super::api::{docs, ident, path};
use crate::model::{Body, Field, K8sType, Model, TypeRef, Version};
use crate::naming;

/// The Rust path of a k8s-openapi type.
fn k8s_path(k: K8sType) -> &'static str {
    match k {
        K8sType::ObjectMeta => "::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta",
        K8sType::ListMeta => "::k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta",
        K8sType::Condition => "::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition",
        K8sType::Time => "::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time",
        K8sType::MicroTime => "::k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime",
        // k8s-openapi has no Duration type; its JSON (and the CRD schema) is a string like "1h".
        K8sType::Duration => "::std::string::String",
        K8sType::LabelSelector => "::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector",
        K8sType::Quantity => "::k8s_openapi::apimachinery::pkg::api::resource::Quantity",
        K8sType::IntOrString => "::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString",
        K8sType::LocalObjectReference => "::k8s_openapi::api::core::v1::LocalObjectReference",
        K8sType::ObjectReference => "::k8s_openapi::api::core::v1::ObjectReference",
    }
}

/// True for a struct with named fields: it gets an apply configuration of its own.
fn is_struct(version: &Version, name: &str) -> bool {
    version.ty(name).is_some_and(|t| matches!(t.body, Body::Struct(_)))
}

/// The type of a field's value in an apply configuration, or `None` when it has no JSON form the
/// generator knows (such a field is refused by the CRD generator anyway).
fn value_type(ty: &TypeRef, version: &Version, apis: &str) -> Option<TokenStream> {
    Some(match ty {
        TypeRef::Option(inner) | TypeRef::Boxed(inner) => value_type(inner, version, apis)?,
        TypeRef::Vec(inner) => {
            let t = value_type(inner, version, apis)?;
            quote!(::std::vec::Vec<#t>)
        }
        TypeRef::Map(inner) => {
            let t = value_type(inner, version, apis)?;
            quote!(::std::collections::BTreeMap<::std::string::String, #t>)
        }
        TypeRef::String => quote!(::std::string::String),
        TypeRef::Bool => quote!(bool),
        TypeRef::Int { bits, signed } => {
            let i = format_ident!("{}{}", if *signed { "i" } else { "u" }, (*bits).min(64) as u32);
            quote!(#i)
        }
        TypeRef::Float(bits) => {
            if *bits == 32 {
                quote!(f32)
            } else {
                quote!(f64)
            }
        }
        TypeRef::Json => quote!(::serde_json::Value),
        TypeRef::K8s(k) => path(k8s_path(*k)),
        TypeRef::Local(name) if is_struct(version, name) => {
            let i = format_ident!("{}ApplyConfiguration", name);
            quote!(#i)
        }
        TypeRef::Local(name) => path(&format!("{apis}::{name}")),
        TypeRef::Unsupported(_) => return None,
    })
}

fn local_refs(ty: &TypeRef, out: &mut Vec<String>) {
    match ty {
        TypeRef::Option(i) | TypeRef::Boxed(i) | TypeRef::Vec(i) | TypeRef::Map(i) => local_refs(i, out),
        TypeRef::Local(n) => out.push(n.clone()),
        _ => {}
    }
}

/// The fields an apply configuration carries: those serde writes and reads as plain values.
fn applied_fields(fields: &[Field]) -> impl Iterator<Item = &Field> {
    fields.iter().filter(|f| !f.skip_serializing && !f.skip_deserializing && !f.flatten && !f.custom_serde)
}

/// The structs of `version` reachable from its kinds, in a stable order.
fn reachable(version: &Version) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = version.kinds.iter().map(|k| k.name.clone()).collect();
    while let Some(name) = queue.pop_front() {
        let Some(t) = version.ty(&name) else { continue };
        let Body::Struct(fields) = &t.body else { continue };
        if !seen.insert(name) {
            continue;
        }
        let mut refs = vec![];
        for f in applied_fields(fields) {
            local_refs(&f.ty, &mut refs);
        }
        queue.extend(refs.into_iter().filter(|r| !seen.contains(r)));
    }
    seen
}

/// Renders every apply configuration file of the model; `crate_name` is the apis crate.
pub fn render(model: &Model, crate_name: &str, emit: Emit<'_>) {
    let mut groups: BTreeMap<String, Vec<TokenStream>> = BTreeMap::new();
    for g in &model.groups {
        let group_module = naming::snake(&g.go_name);
        for v in g.versions.iter().filter(|v| !v.kinds.is_empty()) {
            let apis = format!("{crate_name}::{}::{}", g.module, v.name);
            let vm = ident(&v.name);
            let doc = format!(" Apply configurations of {}/{}.", g.name, v.name);
            groups.entry(group_module.clone()).or_default().push(quote! { #[doc = #doc] pub mod #vm; });
            emit(format!("src/applyconfigurations/{group_module}/{}.rs", v.name), version_file(v, &apis));
        }
    }
    let mut gmods = vec![];
    for (g, vmods) in &groups {
        let gm = ident(g);
        let doc = format!(" Apply configurations of the `{g}` group.");
        gmods.push(quote! { #[doc = #doc] pub mod #gm; });
        emit(format!("src/applyconfigurations/{g}/mod.rs"), quote! { #(#vmods)* });
    }
    emit(
        "src/applyconfigurations/mod.rs".into(),
        quote! {
            //! Typed apply configurations for server-side apply: every field optional, so a field
            //! manager states, and owns, only the fields it sets (client-go's applyconfigurations).
            pub mod meta;
            #(#gmods)*
        },
    );
    emit("src/applyconfigurations/meta.rs".into(), meta());
}

fn version_file(version: &Version, apis: &str) -> TokenStream {
    let mut out = TokenStream::new();
    for name in reachable(version) {
        let Some(t) = version.ty(&name) else { continue };
        let Body::Struct(fields) = &t.body else { continue };
        let kind = version.kinds.iter().find(|k| k.name == name);
        let cfg = format_ident!("{}ApplyConfiguration", name);
        let api_type = path(&format!("{apis}::{name}"));
        let mut decls = vec![];
        let mut withs = vec![];
        if kind.is_some() {
            decls.push(quote! {
                /// `apiVersion`, set by the constructor.
                #[serde(rename = "apiVersion", skip_serializing_if = "::core::option::Option::is_none")]
                pub api_version: ::core::option::Option<::std::string::String>,
                /// `kind`, set by the constructor.
                #[serde(skip_serializing_if = "::core::option::Option::is_none")]
                pub kind: ::core::option::Option<::std::string::String>,
            });
        }
        for f in applied_fields(fields) {
            let raw = f.rust_name.trim_start_matches("r#");
            let member = ident(raw);
            let json = &f.json_name;
            let ty = if kind.is_some() && f.json_name == "metadata" {
                quote!(crate::applyconfigurations::meta::ObjectMetaApplyConfiguration)
            } else {
                let Some(ty) = value_type(&f.ty, version, apis) else { continue };
                ty
            };
            let fdoc = docs(if f.description.is_empty() { "See the API type." } else { &f.description });
            decls.push(quote! {
                #fdoc
                #[serde(rename = #json, skip_serializing_if = "::core::option::Option::is_none")]
                pub #member: ::core::option::Option<#ty>,
            });
            let with = format_ident!("with_{}", raw);
            let wdoc = format!(" Sets `{json}`.");
            withs.push(quote! {
                #[doc = #wdoc]
                pub fn #with(mut self, value: #ty) -> Self {
                    self.#member = ::core::option::Option::Some(value);
                    self
                }
            });
        }
        let doc = format!(" Apply configuration of [`{name}`]({apis}::{name}): only the fields set are applied.");
        let (ctor, meta_helpers) = match kind {
            Some(k) => {
                let taken: BTreeSet<&str> =
                    applied_fields(fields).map(|f| f.rust_name.trim_start_matches("r#")).collect();
                let mut ctor = constructor(k.name.as_str(), k.namespaced, &cfg, &api_type);
                ctor.extend(extract_owned(k.name.as_str(), &cfg, &api_type));
                ctor.extend(extract(k.name.as_str(), &cfg, &api_type, Subresource::Main));
                if k.status_subresource && k.has_status {
                    ctor.extend(extract(k.name.as_str(), &cfg, &api_type, Subresource::Status));
                }
                (ctor, meta_helpers(&taken))
            }
            None => (quote!(), quote!()),
        };
        out.extend(quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
            pub struct #cfg {
                #(#decls)*
            }
            impl #cfg {
                #(#withs)*
                #meta_helpers
            }
            #ctor
        });
    }
    out
}

/// `<kind>(name, namespace)` (or `<kind>(name)` for a cluster-scoped kind), as client-go's.
fn constructor(kind: &str, namespaced: bool, cfg: &proc_macro2::Ident, api_type: &TokenStream) -> TokenStream {
    let f = ident(&naming::snake(kind));
    let doc = format!(" An apply configuration for the `{kind}` called `name`, with apiVersion and kind set.");
    let (param, ns) = if namespaced {
        (quote!(, namespace: &str), quote!(namespace: ::core::option::Option::Some(namespace.to_string()),))
    } else {
        (quote!(), quote!())
    };
    quote! {
        #[doc = #doc]
        pub fn #f(name: &str #param) -> #cfg {
            #cfg {
                api_version: ::core::option::Option::Some(<#api_type as ::k8s_openapi::Resource>::API_VERSION.to_string()),
                kind: ::core::option::Option::Some(<#api_type as ::k8s_openapi::Resource>::KIND.to_string()),
                metadata: ::core::option::Option::Some(crate::applyconfigurations::meta::ObjectMetaApplyConfiguration {
                    name: ::core::option::Option::Some(name.to_string()),
                    #ns
                    ..::core::default::Default::default()
                }),
                ..::core::default::Default::default()
            }
        }
    }
}

/// Which managedFields entries an extract function reads: a field manager owns fields of the
/// main resource and of the status subresource separately.
#[derive(Clone, Copy)]
enum Subresource {
    Main,
    Status,
}

/// `extract_<kind>(obj, field_manager)` and `extract_<kind>_status`: client-go's
/// `Extract<Kind>` and `Extract<Kind>Status`, each a call of [`extract_owned`]'s function.
fn extract(kind: &str, cfg: &proc_macro2::Ident, api_type: &TokenStream, sub: Subresource) -> TokenStream {
    let (suffix, subresource, entry) = match sub {
        Subresource::Main => ("", "", "its `Apply` entry"),
        Subresource::Status => ("_status", "status", "its `Apply` entry for the status subresource"),
    };
    let f = format_ident!("extract_{}{}", naming::snake(kind), suffix);
    let owned = format_ident!("extract_{}_owned", naming::snake(kind));
    let doc = format!(
        " The fields of `obj` that `field_manager` owns through server-side apply ({entry} in\n \
         `metadata.managedFields`), as an apply configuration with name, namespace, apiVersion and\n \
         kind set: change it and apply it again to update only those fields. Empty if the manager\n \
         owns nothing. An error only if `{kind}` does not convert to and from JSON."
    );
    let lines: Vec<&str> = doc.lines().collect();
    quote! {
        #(#[doc = #lines])*
        pub fn #f(obj: &#api_type, field_manager: &str) -> ::core::result::Result<#cfg, ::serde_json::Error> {
            #owned(obj, field_manager, #subresource)
        }
    }
}

/// The body both extract functions of a kind share: the fields `field_manager` owns on
/// `subresource` ("" for the main resource), with the object's identity set.
fn extract_owned(kind: &str, cfg: &proc_macro2::Ident, api_type: &TokenStream) -> TokenStream {
    let f = format_ident!("extract_{}_owned", naming::snake(kind));
    quote! {
        /// What `field_manager` owns of `obj` on `subresource` ("" for the main resource).
        fn #f(obj: &#api_type, field_manager: &str, subresource: &str) -> ::core::result::Result<#cfg, ::serde_json::Error> {
            let value = ::serde_json::to_value(obj)?;
            let managed = value.pointer("/metadata/managedFields").and_then(::serde_json::Value::as_array);
            let owned = managed
                .and_then(|m| ::runtime::apply::owned_fields(m, field_manager, subresource))
                .map(|fields| ::runtime::apply::extract(&value, fields))
                .unwrap_or_else(|| ::serde_json::json!({}));
            let mut config: #cfg = ::serde_json::from_value(owned)?;
            let meta = config.metadata.get_or_insert_with(::core::default::Default::default);
            meta.name = obj.metadata.name.clone();
            meta.namespace = obj.metadata.namespace.clone();
            config.api_version = ::core::option::Option::Some(<#api_type as ::k8s_openapi::Resource>::API_VERSION.to_string());
            config.kind = ::core::option::Option::Some(<#api_type as ::k8s_openapi::Resource>::KIND.to_string());
            ::core::result::Result::Ok(config)
        }
    }
}

/// The `metadata` helpers of a kind's apply configuration.
/// `with_name`, `with_labels`, ... unless a field of the kind has the same name.
fn meta_helpers(taken: &BTreeSet<&str>) -> TokenStream {
    let helpers = [
        ("name", quote!(&str), quote!(value.to_string())),
        ("namespace", quote!(&str), quote!(value.to_string())),
        ("labels", quote!(::std::collections::BTreeMap<::std::string::String, ::std::string::String>), quote!(value)),
        (
            "annotations",
            quote!(::std::collections::BTreeMap<::std::string::String, ::std::string::String>),
            quote!(value),
        ),
        (
            "owner_references",
            quote!(::std::vec::Vec<::k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>),
            quote!(value),
        ),
    ];
    let methods = helpers.iter().filter(|(field, _, _)| !taken.contains(field)).map(|(field, ty, value)| {
        let with = format_ident!("with_{}", field);
        let member = format_ident!("{}", field);
        let doc = format!(" Sets `metadata.{}`.", naming::camel(field));
        quote! {
            #[doc = #doc]
            pub fn #with(mut self, value: #ty) -> Self {
                self.metadata.get_or_insert_with(::core::default::Default::default).#member = ::core::option::Option::Some(#value);
                self
            }
        }
    });
    quote!(#(#methods)*)
}

fn meta() -> TokenStream {
    let fields = [
        ("name", "name", quote!(::std::string::String), "The object's name."),
        ("namespace", "namespace", quote!(::std::string::String), "The object's namespace."),
        (
            "labels",
            "labels",
            quote!(::std::collections::BTreeMap<::std::string::String, ::std::string::String>),
            "Labels this manager owns.",
        ),
        (
            "annotations",
            "annotations",
            quote!(::std::collections::BTreeMap<::std::string::String, ::std::string::String>),
            "Annotations this manager owns.",
        ),
        (
            "owner_references",
            "ownerReferences",
            quote!(::std::vec::Vec<::k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>),
            "Owner references this manager owns.",
        ),
    ];
    let decls = fields.iter().map(|(member, json, ty, doc)| {
        let m = format_ident!("{}", member);
        let doc = format!(" {doc}");
        quote! {
            #[doc = #doc]
            #[serde(rename = #json, skip_serializing_if = "::core::option::Option::is_none")]
            pub #m: ::core::option::Option<#ty>,
        }
    });
    quote! {
        //! The metadata of an apply configuration.

        /// The parts of `metadata` an apply configuration may set.
        #[derive(Clone, Debug, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        pub struct ObjectMetaApplyConfiguration {
            #(#decls)*
        }
    }
}
