//! Typed shared informers (informer-gen): a factory with one accessor chain per group, version
//! and kind (`factory.bitcoincontroller().v1().bitcoin_networks()`), over the runtime's
//! `SharedInformerFactory`, so every caller of one kind shares one watch and one cache. The same
//! factory of a crate of tagged types extends the built-in crate's (`kubernetes`): it derefs to
//! it, so `factory.apps().v1().stateful_sets()` and `factory.bitcoincontroller().v1()...` come
//! from one factory, share one `start`, and one `wait_for_cache_sync` covers both.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Emit;
use super::api::{ApiKind, ident};
use super::lister::lister_name;

/// Files of `src/informers/`. With `base` (the built-in crate's name), the factory extends
/// that crate's factory.
pub fn render(kinds: &[ApiKind], base: Option<&str>, emit: Emit<'_>) {
    let groups = super::api::by_group_version(kinds, |k| k.has_informer());
    let mut gmods = vec![];
    let mut accessors = vec![];
    let mut variants = vec![];
    let mut arms = vec![];
    let mut synced_arms = vec![];
    let mut rv_arms = vec![];
    for (g, versions) in &groups {
        let gm = ident(g);
        gmods.push(quote!(pub mod #gm;));
        let group_doc = format!(
            " The informers of the {} group.",
            versions
                .values()
                .next()
                .map(|k| if k[0].group.is_empty() { "core" } else { k[0].group.as_str() })
                .unwrap_or_default()
        );
        accessors.push(quote! {
            #[doc = #group_doc]
            pub fn #gm(&self) -> #gm::Group<'_> {
                #gm::Group::new(&self.inner)
            }
        });
        let mut vaccessors = vec![];
        let mut vmods = vec![];
        for (v, ks) in versions {
            let vm = ident(v);
            vmods.push(quote!(pub mod #vm;));
            let vdoc = format!(" The informers of {}.", ks[0].api_version());
            vaccessors.push(quote! {
                #[doc = #vdoc]
                pub fn #vm(&self) -> #vm::Version<'a> {
                    #vm::Version::new(self.factory)
                }
            });
            let mut kmods = vec![];
            let mut kaccessors = vec![];
            for k in ks {
                let km = ident(&k.module());
                kmods.push(quote!(mod #km; pub use #km::*;));
                emit(format!("src/informers/{g}/{v}/{}.rs", k.module()), kind_informer(k));
                let acc = ident(&k.accessor());
                let inf = informer_name(k);
                let kdoc = format!(" The shared informer of `{}`.", k.plural);
                kaccessors.push(quote! {
                    #[doc = #kdoc]
                    pub fn #acc(&self) -> #inf {
                        #inf::new(self.factory)
                    }
                });
                let variant = format_ident!("{}{}{}", k.group_go, crate::naming::pascal(&k.version), k.kind);
                let vdoc = format!(" `{}` in {}.", k.plural, k.api_version());
                variants.push(quote!(#[doc = #vdoc] #variant(#gm::#vm::#inf)));
                let (group, version, plural) = (&k.group, &k.version, &k.plural);
                arms.push(quote! {
                    (#group, #version, #plural) => ::core::option::Option::Some(GenericInformer::#variant(self.#gm().#vm().#acc()))
                });
                synced_arms.push(quote!(GenericInformer::#variant(i) => i.informer().has_synced()));
                rv_arms.push(quote!(GenericInformer::#variant(i) => i.informer().last_sync_resource_version()));
            }
            emit(
                format!("src/informers/{g}/{v}/mod.rs"),
                quote! {
                    #![doc = #vdoc]
                    #(#kmods)*

                    #[doc = #vdoc]
                    #[derive(Clone, Copy, Debug)]
                    pub struct Version<'a> {
                        factory: &'a ::runtime::cache::SharedInformerFactory,
                    }

                    impl<'a> Version<'a> {
                        /// The informers of this version, from `factory`.
                        pub fn new(factory: &'a ::runtime::cache::SharedInformerFactory) -> Self {
                            Self { factory }
                        }

                        #(#kaccessors)*
                    }
                },
            );
        }
        emit(
            format!("src/informers/{g}/mod.rs"),
            quote! {
                #![doc = #group_doc]
                #(#vmods)*

                #[doc = #group_doc]
                #[derive(Clone, Copy, Debug)]
                pub struct Group<'a> {
                    factory: &'a ::runtime::cache::SharedInformerFactory,
                }

                impl<'a> Group<'a> {
                    /// The informers of this group, from `factory`.
                    pub fn new(factory: &'a ::runtime::cache::SharedInformerFactory) -> Self {
                        Self { factory }
                    }

                    #(#vaccessors)*
                }
            },
        );
    }
    let base_ident = base.map(ident);
    let (fields, construct, base_items, fallback, generic_variant, generic_synced, generic_rv, deref) =
        match &base_ident {
            Some(b) => (
                quote! {
                    inner: ::runtime::cache::SharedInformerFactory,
                    base: ::#b::SharedInformerFactory,
                },
                quote! { Self { base: ::#b::SharedInformerFactory::from_runtime(inner.clone()), inner } },
                quote! {
                    /// The built-in kinds' factory: the same informers, the same start and sync.
                    pub fn kubernetes(&self) -> &::#b::SharedInformerFactory {
                        &self.base
                    }
                },
                quote! { _ => self.base.for_resource(gvr).map(GenericInformer::Kubernetes), },
                quote! {
                    /// A built-in kind.
                    Kubernetes(::#b::informers::GenericInformer),
                },
                quote! { GenericInformer::Kubernetes(i) => i.has_synced(), },
                quote! { GenericInformer::Kubernetes(i) => i.last_sync_resource_version(), },
                quote! {
                    /// The built-in kinds' accessors (`core()`, `apps()`, ...) come from the
                    /// `kubernetes` crate's factory, which shares this one's informers.
                    impl ::core::ops::Deref for SharedInformerFactory {
                        type Target = ::#b::SharedInformerFactory;

                        fn deref(&self) -> &Self::Target {
                            &self.base
                        }
                    }
                },
            ),
            None => (
                quote! { inner: ::runtime::cache::SharedInformerFactory, },
                quote! { Self { inner } },
                quote!(),
                quote! { _ => ::core::option::Option::None, },
                quote!(),
                quote!(),
                quote!(),
                quote!(),
            ),
        };
    let factory_doc = if base.is_some() {
        " Creates and shares informers for every kind of the API and, through `Deref`, every built-in kind."
    } else {
        " Creates and shares informers for every built-in kind."
    };
    emit(
        "src/informers/mod.rs".into(),
        quote! {
            //! Typed shared informers: one watch and one cache per kind, shared by every caller.
            #(#gmods)*

            #[doc = #factory_doc]
            ///
            /// Ask for informers first, then [`SharedInformerFactory::start`], then
            /// [`SharedInformerFactory::wait_for_cache_sync`] before starting workers.
            #[derive(Clone, Debug)]
            pub struct SharedInformerFactory {
                #fields
            }

            #deref

            impl SharedInformerFactory {
                /// A factory over `clientset` with a default resync period (`None`: no resync).
                pub fn new(
                    clientset: &crate::clientset::Clientset,
                    default_resync: ::core::option::Option<::std::time::Duration>,
                ) -> Self {
                    Self::from_client(clientset.client().clone(), default_resync)
                }

                /// A factory over a `kube::Client` with a default resync period.
                pub fn from_client(
                    client: ::kube::Client,
                    default_resync: ::core::option::Option<::std::time::Duration>,
                ) -> Self {
                    Self::from_runtime(::runtime::cache::SharedInformerFactory::new(client, default_resync))
                }

                /// Options (namespace, list tweaks, transforms, per-type resync): finish with
                /// `build()` and pass the result to [`SharedInformerFactory::from_runtime`].
                pub fn builder(clientset: &crate::clientset::Clientset) -> ::runtime::cache::SharedInformerFactoryBuilder {
                    ::runtime::cache::SharedInformerFactory::builder(clientset.client().clone())
                }

                /// Wraps a runtime factory built with options.
                pub fn from_runtime(inner: ::runtime::cache::SharedInformerFactory) -> Self {
                    #construct
                }

                /// The generic runtime factory underneath (for kinds without typed accessors).
                pub fn runtime(&self) -> &::runtime::cache::SharedInformerFactory {
                    &self.inner
                }

                #base_items

                /// Starts every informer requested so far; idempotent.
                pub fn start(&self) {
                    self.inner.start();
                }

                /// Waits up to `timeout` for every started informer's first list; reports per type.
                pub async fn wait_for_cache_sync(
                    &self,
                    timeout: ::std::time::Duration,
                ) -> ::std::collections::BTreeMap<::std::string::String, bool> {
                    self.inner.wait_for_cache_sync(timeout).await
                }

                /// Stops every informer and waits for their tasks.
                pub async fn shutdown(&self) {
                    self.inner.shutdown().await;
                }

                /// The informer of a group/version/resource, for code that only knows the resource
                /// at run time (client-go's `ForResource`).
                pub fn for_resource(&self, gvr: &::kube::api::GroupVersionResource) -> ::core::option::Option<GenericInformer> {
                    match (gvr.group.as_str(), gvr.version.as_str(), gvr.resource.as_str()) {
                        #(#arms,)*
                        #fallback
                    }
                }

                #(#accessors)*
            }

            /// An informer chosen at run time by [`SharedInformerFactory::for_resource`].
            #[derive(Clone, Debug)]
            pub enum GenericInformer {
                #(#variants,)*
                #generic_variant
            }

            impl GenericInformer {
                /// True once the informer's first list is in its cache.
                pub fn has_synced(&self) -> bool {
                    match self {
                        #(#synced_arms,)*
                        #generic_synced
                    }
                }

                /// The resourceVersion of the last list or watch event seen.
                pub fn last_sync_resource_version(&self) -> ::core::option::Option<::std::string::String> {
                    match self {
                        #(#rv_arms,)*
                        #generic_rv
                    }
                }
            }
        },
    );
}

/// `BitcoinNetworkInformer`.
pub fn informer_name(k: &ApiKind) -> proc_macro2::Ident {
    format_ident!("{}Informer", k.kind)
}

fn kind_informer(k: &ApiKind) -> TokenStream {
    let ty = k.ty();
    let name = informer_name(k);
    let lister = lister_name(k);
    let (g, v) = (ident(&k.group_module), ident(&k.version));
    let lister_fn = k.has_lister().then(|| {
        quote! {
            /// A typed lister over the informer's cache.
            pub fn lister(&self) -> crate::listers::#g::#v::#lister {
                crate::listers::#g::#v::#lister::new(self.informer.indexer().clone())
            }
        }
    });
    let mod_doc = format!(" The shared informer of {}.", k.kind);
    let doc = format!(" The shared informer and lister of `{}` ({}).", k.plural, k.api_version());
    let p = super::api::path(&k.rust_path);
    quote! {
        #![doc = #mod_doc]

        use #p;

        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct #name {
            informer: ::runtime::cache::SharedIndexInformer<#ty>,
        }

        impl #name {
            /// The factory's informer of this kind (created on first request).
            pub fn new(factory: &::runtime::cache::SharedInformerFactory) -> Self {
                Self { informer: factory.informer_for::<#ty>() }
            }

            /// The shared informer: add event handlers, check `has_synced`.
            pub fn informer(&self) -> &::runtime::cache::SharedIndexInformer<#ty> {
                &self.informer
            }

            #lister_fn
        }
    }
}
