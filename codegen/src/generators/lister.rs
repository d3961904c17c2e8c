//! Typed listers (lister-gen) over the runtime's indexer: `list(selector)` and, per namespace,
//! `get(name)`. They read the informer cache, never the server, and hand out `Arc`s shared with
//! the cache: callers copy before they change anything.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Emit;
use super::api::{ApiKind, ident};

/// Files of `src/listers/`.
pub fn render(kinds: &[ApiKind], emit: Emit<'_>) {
    let groups = super::api::by_group_version(kinds, |k| k.has_lister());
    let mut gmods = vec![];
    for (g, versions) in &groups {
        let gm = ident(g);
        gmods.push(quote!(pub mod #gm;));
        let mut vmods = vec![];
        for (v, ks) in versions {
            let vm = ident(v);
            vmods.push(quote!(pub mod #vm;));
            let mut kmods = vec![];
            for k in ks {
                let km = ident(&k.module());
                kmods.push(quote!(mod #km; pub use #km::*;));
                emit(format!("src/listers/{g}/{v}/{}.rs", k.module()), lister(k));
            }
            let doc = format!(" Listers of {}.", ks[0].api_version());
            emit(format!("src/listers/{g}/{v}/mod.rs"), quote! { #![doc = #doc] #(#kmods)* });
        }
        let doc = format!(
            " Listers of the {} group.",
            if g == &"core" {
                "core"
            } else {
                versions.values().next().map(|k| k[0].group.as_str()).unwrap_or_default()
            }
        );
        emit(format!("src/listers/{g}/mod.rs"), quote! { #![doc = #doc] #(#vmods)* });
    }
    emit(
        "src/listers/mod.rs".into(),
        quote! {
            //! Typed listers: read access to informer caches, per kind and namespace.
            #(#gmods)*
        },
    );
}

/// `BitcoinNetworkLister`.
pub fn lister_name(k: &ApiKind) -> proc_macro2::Ident {
    format_ident!("{}Lister", k.kind)
}

fn lister(k: &ApiKind) -> TokenStream {
    let ty = k.ty();
    let name = lister_name(k);
    let ns_name = format_ident!("{}NamespaceLister", k.kind);
    let doc = format!(
        " Lists `{}` from an informer cache. Objects are shared with the cache: read them, and clone before changing anything.",
        k.plural
    );
    let mod_doc = format!(" The lister of {}.", k.kind);
    let (scoped, ns_lister) = if k.namespaced {
        let acc = ident(&k.accessor());
        let ns_doc = format!(" Lists and gets `{}` in one namespace.", k.plural);
        (
            quote! {
                /// The objects in `namespace`.
                pub fn #acc(&self, namespace: &str) -> #ns_name {
                    #ns_name { inner: self.inner.namespaced(namespace) }
                }
            },
            quote! {
                #[doc = #ns_doc]
                #[derive(Clone, Debug)]
                pub struct #ns_name {
                    inner: ::runtime::cache::NamespaceLister<#ty>,
                }

                impl #ns_name {
                    /// The objects in this namespace whose labels match `selector`.
                    pub fn list(&self, selector: &::kube::core::Selector) -> ::std::vec::Vec<::std::sync::Arc<#ty>> {
                        self.inner.list(selector)
                    }

                    /// The object called `name` in this namespace.
                    pub fn get(&self, name: &str) -> ::core::result::Result<::std::sync::Arc<#ty>, ::runtime::cache::NotFound> {
                        self.inner.get(name)
                    }
                }
            },
        )
    } else {
        (
            quote! {
                /// The object called `name`.
                pub fn get(&self, name: &str) -> ::core::result::Result<::std::sync::Arc<#ty>, ::runtime::cache::NotFound> {
                    self.inner.get(name)
                }
            },
            quote!(),
        )
    };
    let kind_path = super::api::path(&k.rust_path);
    let imports = quote!(use #kind_path;);
    quote! {
        #![doc = #mod_doc]

        #imports

        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct #name {
            inner: ::runtime::cache::Lister<#ty>,
        }

        impl #name {
            /// A lister over `indexer` (normally an informer's).
            pub fn new(indexer: ::runtime::cache::Indexer<#ty>) -> Self {
                Self { inner: ::runtime::cache::Lister::new(indexer) }
            }

            /// Every object whose labels match `selector` (all namespaces).
            pub fn list(&self, selector: &::kube::core::Selector) -> ::std::vec::Vec<::std::sync::Arc<#ty>> {
                self.inner.list(selector)
            }

            #scoped
        }

        #ns_lister
    }
}
