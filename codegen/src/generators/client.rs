//! The typed clientset (client-gen): `Clientset` → group-version clients → one client per kind
//! with exactly the verbs its tags allow. A verb the tags remove has no method, so using it is a
//! compile error.
//!
//! Everything is a thin layer over `kube::Api`: params are kube's (`PostParams`, `ListParams`,
//! `PatchParams`, ...), errors are `kube::Error`, and `api()` is the escape hatch. Hand-written
//! methods go in `<kind>_expansion.rs` beside the generated kind file (client-gen's expansion
//! files): the generator declares that module when the file exists and never touches it.

use std::path::Path;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Emit;
use super::api::{ApiKind, docs, ident, path};
use crate::naming;
use crate::verbs::Verb;

/// Files of `src/clientset/`, as (path relative to the crate, tokens).
pub fn render(kinds: &[ApiKind], out_dir: Option<&Path>, fake: bool, emit: Emit<'_>) {
    let groups = super::api::by_group_version(kinds, |_| true);
    let mut accessors = vec![];
    let mut group_mods = vec![];
    for (g, versions) in &groups {
        let gm = ident(g);
        group_mods.push(quote!(pub mod #gm;));
        let mut vmods = vec![];
        for (v, ks) in versions {
            let vm = ident(v);
            vmods.push(quote!(pub mod #vm;));
            let client = group_client_name(ks[0]);
            let accessor = format_ident!("{}_{}", g, v);
            let doc = format!(" The typed client of {}.", ks[0].api_version());
            accessors.push(quote! {
                #[doc = #doc]
                pub fn #accessor(&self) -> #gm::#vm::#client {
                    #gm::#vm::#client::new(self.client.clone())
                }
            });
            let dir = format!("src/clientset/{g}/{v}");
            emit(format!("{dir}/mod.rs"), group_version(ks, out_dir.map(|d| d.join(&dir)).as_deref()));
            for k in ks {
                emit(format!("{dir}/{}.rs", k.module()), kind_client(k));
            }
        }
        let doc = format!(
            " Clients of the {} API group.",
            versions.values().next().map(|k| k[0].group.as_str()).unwrap_or_default()
        );
        emit(format!("src/clientset/{g}/mod.rs"), quote! { #![doc = #doc] #(#vmods)* });
    }
    let fake_mod = fake.then(|| {
        quote! {
            #[cfg(feature = "fake")]
            pub mod fake;
        }
    });
    emit(
        "src/clientset/mod.rs".into(),
        quote! {
            //! The typed clientset: one entry point for every group and version of the API.
            #(#group_mods)*
            #fake_mod

            /// Typed clients for every group and version, sharing one `kube::Client`.
            ///
            /// Cloning is cheap; clones share the client's connection pool.
            #[derive(Clone)]
            pub struct Clientset {
                client: ::kube::Client,
            }

            impl Clientset {
                /// A clientset over an existing client (for example one built from a devserver).
                pub fn new(client: ::kube::Client) -> Self {
                    Self { client }
                }

                /// Infers the configuration as kubectl does: `$KUBECONFIG` or `~/.kube/config`,
                /// then the in-cluster service account.
                pub async fn try_default() -> ::kube::Result<Self> {
                    ::kube::Client::try_default().await.map(Self::new)
                }

                /// From a kubeconfig file (or the default one when `None`) and an optional context.
                pub async fn from_kubeconfig(
                    path: ::core::option::Option<&::std::path::Path>,
                    context: ::core::option::Option<&str>,
                ) -> ::kube::Result<Self> {
                    let options = ::kube::config::KubeConfigOptions {
                        context: context.map(str::to_string),
                        ..::core::default::Default::default()
                    };
                    let config = match path {
                        ::core::option::Option::Some(p) => {
                            let kubeconfig = ::kube::config::Kubeconfig::read_from(p)?;
                            ::kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?
                        }
                        ::core::option::Option::None => ::kube::Config::from_kubeconfig(&options).await?,
                    };
                    ::kube::Client::try_from(config).map(Self::new)
                }

                /// From the pod's service account (running inside a cluster).
                pub fn in_cluster() -> ::core::result::Result<Self, ::std::boxed::Box<dyn ::std::error::Error + Send + Sync>> {
                    let config = ::kube::Config::incluster()?;
                    ::core::result::Result::Ok(Self::new(::kube::Client::try_from(config)?))
                }

                /// The underlying client, for `kube::Api` of any other type.
                pub fn client(&self) -> &::kube::Client {
                    &self.client
                }

                /// API discovery (the server's groups, versions and resources).
                pub fn discovery(&self) -> ::kube::Discovery {
                    ::kube::Discovery::new(self.client.clone())
                }

                #(#accessors)*
            }
        },
    );
}

/// `BitcoincontrollerV1Client`.
pub fn group_client_name(k: &ApiKind) -> proc_macro2::Ident {
    format_ident!("{}{}Client", k.group_go, naming::pascal(&k.version))
}

/// `BitcoinNetworkClient`.
pub fn kind_client_name(k: &ApiKind) -> proc_macro2::Ident {
    format_ident!("{}Client", k.kind)
}

fn group_version(ks: &[&ApiKind], dir: Option<&Path>) -> TokenStream {
    let client = group_client_name(ks[0]);
    let doc_mod = format!(" Typed clients of {}.", ks[0].api_version());
    let doc = format!(" The {} clients.", ks[0].api_version());
    let mut mods = vec![];
    let mut accessors = vec![];
    for k in ks {
        let m = ident(&k.module());
        mods.push(quote!(mod #m; pub use #m::*;));
        let expansion = format!("{}_expansion.rs", k.module());
        if dir.is_some_and(|d| d.join(&expansion).is_file()) {
            let em = format_ident!("{}_expansion", k.module());
            mods.push(quote!(mod #em;));
        }
        let kc = kind_client_name(k);
        let acc = ident(&k.accessor());
        if k.namespaced {
            let doc = format!(
                " `{}` in `namespace`; the empty namespace means all namespaces (for list, watch and delete_collection).",
                k.plural
            );
            accessors.push(quote! {
                #[doc = #doc]
                pub fn #acc(&self, namespace: &str) -> #kc {
                    #kc::new(self.client.clone(), namespace)
                }
            });
        } else {
            let doc = format!(" `{}` (cluster-scoped).", k.plural);
            accessors.push(quote! {
                #[doc = #doc]
                pub fn #acc(&self) -> #kc {
                    #kc::new(self.client.clone())
                }
            });
        }
    }
    quote! {
        #![doc = #doc_mod]
        #(#mods)*

        #[doc = #doc]
        #[derive(Clone)]
        pub struct #client {
            client: ::kube::Client,
        }

        impl #client {
            /// Clients of this group and version over `client`.
            pub fn new(client: ::kube::Client) -> Self {
                Self { client }
            }

            #(#accessors)*
        }
    }
}

fn kind_client(k: &ApiKind) -> TokenStream {
    let ty = k.ty();
    let list = k.list_ty().unwrap_or_else(|| ty.clone());
    let imports = k.imports();
    let kc = kind_client_name(k);
    let apply_cfg = k.apply_ty();
    let mod_doc = format!(" The typed client of {} ({}, `{}`).", k.kind, k.api_version(), k.plural);
    let doc = docs(&format!(
        "Typed access to `{}` ({}).\n\nVerbs: {}.",
        k.plural,
        k.api_version(),
        k.verbs.iter().map(Verb::as_str).collect::<Vec<_>>().join(", ")
    ));
    let new_fn = if k.namespaced {
        quote! {
            /// A client for one namespace; the empty namespace means all namespaces.
            pub fn new(client: ::kube::Client, namespace: &str) -> Self {
                let api = if namespace.is_empty() {
                    ::kube::Api::all(client.clone())
                } else {
                    ::kube::Api::namespaced(client.clone(), namespace)
                };
                Self { api, client }
            }
        }
    } else {
        quote! {
            /// A client for this cluster-scoped kind.
            pub fn new(client: ::kube::Client) -> Self {
                Self { api: ::kube::Api::all(client.clone()), client }
            }
        }
    };
    let mut methods = vec![];
    for verb in k.verbs.iter() {
        methods.push(match verb {
            Verb::Create => quote! {
                /// Creates an object (POST). The server fills in uid, resourceVersion and generation.
                pub async fn create(&self, obj: &#ty, params: &::kube::api::PostParams) -> ::kube::Result<#ty> {
                    self.api.create(params, obj).await
                }
            },
            Verb::Update => quote! {
                /// Replaces an object (PUT). It must carry the resourceVersion it was read at;
                /// a stale one fails with 409 Conflict.
                pub async fn update(&self, obj: &#ty, params: &::kube::api::PostParams) -> ::kube::Result<#ty> {
                    self.api.replace(name_of(obj), params, obj).await
                }
            },
            Verb::UpdateStatus => quote! {
                /// Replaces the status subresource (PUT `.../status`); spec changes are ignored by the server.
                pub async fn update_status(&self, obj: &#ty, params: &::kube::api::PostParams) -> ::kube::Result<#ty> {
                    self.api.replace_status(name_of(obj), params, obj).await
                }
            },
            Verb::Delete => quote! {
                /// Deletes an object. With finalizers it is only marked for deletion.
                pub async fn delete(&self, name: &str, params: &::kube::api::DeleteParams) -> ::kube::Result<()> {
                    self.api.delete(name, params).await.map(|_| ())
                }
            },
            Verb::DeleteCollection => quote! {
                /// Deletes every object the list params select.
                pub async fn delete_collection(
                    &self,
                    params: &::kube::api::DeleteParams,
                    list: &::kube::api::ListParams,
                ) -> ::kube::Result<()> {
                    self.api.delete_collection(params, list).await.map(|_| ())
                }
            },
            Verb::Get => quote! {
                /// Reads one object from the server (not from a cache: use a lister for that).
                pub async fn get(&self, name: &str, params: &::kube::api::GetParams) -> ::kube::Result<#ty> {
                    self.api.get_with(name, params).await
                }
            },
            Verb::List => {
                let list_body = if k.list_path.is_some() {
                    quote! {
                        let list = self.api.list(params).await?;
                        ::core::result::Result::Ok(#list { metadata: list.metadata, items: list.items })
                    }
                } else {
                    quote!(self.api.list(params).await)
                };
                let ret = if k.list_path.is_some() { quote!(#list) } else { quote!(::kube::api::ObjectList<#ty>) };
                quote! {
                    /// Lists objects (one page when `params` sets a limit; follow `metadata.continue`).
                    pub async fn list(&self, params: &::kube::api::ListParams) -> ::kube::Result<#ret> {
                        #list_body
                    }
                }
            }
            Verb::Watch => quote! {
                /// Watches for changes after `resource_version` ("0" or "" replays the current
                /// objects first). For a cache that survives disconnects, use an informer.
                pub async fn watch(
                    &self,
                    params: &::kube::api::WatchParams,
                    resource_version: &str,
                ) -> ::kube::Result<::futures::stream::BoxStream<'static, ::kube::Result<::kube::api::WatchEvent<#ty>>>> {
                    let stream = self.api.watch(params, resource_version).await?;
                    ::core::result::Result::Ok(::futures::StreamExt::boxed(stream))
                }
            },
            Verb::Patch => {
                let status = k.verbs.has(Verb::UpdateStatus).then(|| {
                    quote! {
                        /// Patches the status subresource.
                        pub async fn patch_status<P: ::serde::Serialize + ::core::fmt::Debug>(
                            &self,
                            name: &str,
                            params: &::kube::api::PatchParams,
                            patch: &::kube::api::Patch<P>,
                        ) -> ::kube::Result<#ty> {
                            self.api.patch_status(name, params, patch).await
                        }
                    }
                });
                quote! {
                    /// Patches an object: JSON patch, merge patch, strategic merge (built-ins) or apply.
                    pub async fn patch<P: ::serde::Serialize + ::core::fmt::Debug>(
                        &self,
                        name: &str,
                        params: &::kube::api::PatchParams,
                        patch: &::kube::api::Patch<P>,
                    ) -> ::kube::Result<#ty> {
                        self.api.patch(name, params, patch).await
                    }
                    #status
                }
            }
            Verb::Apply => quote! {
                /// Server-side apply as `field_manager`: only the fields set in `config` are sent and
                /// owned; `force` takes over fields another manager owns instead of failing with 409.
                pub async fn apply(&self, config: &#apply_cfg, field_manager: &str, force: bool) -> ::kube::Result<#ty> {
                    let mut params = ::kube::api::PatchParams::apply(field_manager);
                    params.force = force;
                    self.api.patch(applied_name(config), &params, &::kube::api::Patch::Apply(config)).await
                }
            },
            Verb::ApplyStatus => quote! {
                /// Server-side apply of the status fields set in `config`, as `field_manager`.
                pub async fn apply_status(&self, config: &#apply_cfg, field_manager: &str, force: bool) -> ::kube::Result<#ty> {
                    let mut params = ::kube::api::PatchParams::apply(field_manager);
                    params.force = force;
                    self.api.patch_status(applied_name(config), &params, &::kube::api::Patch::Apply(config)).await
                }
            },
        });
    }
    for e in &k.extensions {
        methods.push(extension(k, e));
    }
    let mut needs_name_of = k.verbs.iter().any(|v| matches!(v, Verb::Update | Verb::UpdateStatus));
    for s in &k.subresources {
        let (tokens, uses_name_of) = subresource(k, s);
        needs_name_of |= uses_name_of;
        methods.push(tokens);
    }
    let name_of = needs_name_of.then(|| {
        quote! {
            /// The object's name; an empty one makes kube fail the request before it is sent.
            fn name_of(obj: &#ty) -> &str {
                obj.metadata.name.as_deref().unwrap_or_default()
            }
        }
    });
    let applies = k.verbs.iter().any(|v| matches!(v, Verb::Apply | Verb::ApplyStatus));
    let applied_name = applies.then(|| {
        if k.builtin {
            return quote! {
                /// The object's `metadata.name`; an empty one makes kube fail the request.
                fn applied_name(config: &#apply_cfg) -> &str {
                    config.metadata.name.as_deref().unwrap_or_default()
                }
            };
        }
        quote! {
            /// The configuration's `metadata.name`; an empty one makes kube fail the request.
            fn applied_name(config: &#apply_cfg) -> &str {
                config.metadata.as_ref().and_then(|m| m.name.as_deref()).unwrap_or_default()
            }
        }
    });
    let imp = quote! {
        impl #kc {
            #new_fn

            /// The `kube::Api` underneath, for anything this client does not cover.
            pub fn api(&self) -> &::kube::Api<#ty> {
                &self.api
            }

            /// The client underneath.
            pub fn client(&self) -> &::kube::Client {
                &self.client
            }

            #(#methods)*
        }
    };
    quote! {
        #![doc = #mod_doc]

        #imports

        #doc
        #[derive(Clone)]
        pub struct #kc {
            api: ::kube::Api<#ty>,
            client: ::kube::Client,
        }

        #imp

        #name_of
        #applied_name
    }
}

/// The methods of one subresource of a built-in kind (discovery's verbs), and whether they
/// need `name_of`. `status` is covered by the status verbs; `exec`, `attach`, `portforward`
/// and `proxy` are streams kube serves through `api()` (its `ws` feature), not typed methods.
fn subresource(k: &ApiKind, s: &crate::kubernetes::discovery::Subresource) -> (TokenStream, bool) {
    let ty = k.ty();
    let name = s.name.as_str();
    let has = |v: &str| s.verbs.iter().any(|x| x == v);
    let snake = if name == "ephemeralcontainers" { "ephemeral_containers".to_string() } else { naming::snake(name) };
    let get_fn = format_ident!("get_{}", snake);
    let update_fn = format_ident!("update_{}", snake);
    let patch_fn = format_ident!("patch_{}", snake);
    let mut out = vec![];
    let mut uses_name_of = false;
    match (name, s.kind_path.as_deref()) {
        ("log", _) if has("get") => out.push(quote! {
            /// The container log (GET `.../log`) as text.
            pub async fn logs(&self, name: &str, params: &::kube::api::LogParams) -> ::kube::Result<::std::string::String> {
                self.api.logs(name, params).await
            }
        }),
        ("eviction", _) if has("create") => out.push(quote! {
            /// Evicts the pod (POST `.../eviction`): deletion that respects PodDisruptionBudgets.
            pub async fn evict(&self, name: &str, params: &::kube::api::EvictParams) -> ::kube::Result<::kube::core::Status> {
                self.api.evict(name, params).await
            }
        }),
        (_, Some(p)) if s.kind == "Scale" => {
            let scale = path(p);
            if has("get") {
                out.push(quote! {
                    /// Reads the scale subresource (replicas and selector).
                    pub async fn get_scale(&self, name: &str) -> ::kube::Result<#scale> {
                        self.api.get_scale(name).await
                    }
                });
            }
            if has("update") {
                out.push(quote! {
                    /// Replaces the scale subresource (PUT `.../scale`): sets the replicas.
                    pub async fn update_scale(&self, name: &str, scale: &#scale, params: &::kube::api::PostParams) -> ::kube::Result<#scale> {
                        self.api.replace_scale(name, params, scale).await
                    }
                });
            }
            if has("patch") {
                out.push(quote! {
                    /// Patches the scale subresource.
                    pub async fn patch_scale<P: ::serde::Serialize + ::core::fmt::Debug>(
                        &self,
                        name: &str,
                        params: &::kube::api::PatchParams,
                        patch: &::kube::api::Patch<P>,
                    ) -> ::kube::Result<#scale> {
                        self.api.patch_scale(name, params, patch).await
                    }
                });
            }
        }
        (_, Some(p)) if has("create") => {
            let input = path(p);
            let create_fn = format_ident!("create_{}", snake);
            let doc = format!(" POSTs a `{}` to the `{name}` subresource of the named object.", s.kind);
            // A binding is answered with a Status; a token request with the filled-in request.
            let output = if name == "binding" { quote!(::kube::core::Status) } else { input.clone() };
            out.push(quote! {
                #[doc = #doc]
                pub async fn #create_fn(&self, name: &str, obj: &#input, params: &::kube::api::PostParams) -> ::kube::Result<#output> {
                    self.api.create_subresource(#name, name, params, obj).await
                }
            });
        }
        (_, None) if s.kind == k.kind => {
            if has("get") {
                let doc = format!(" Reads the object through its `{name}` subresource.");
                out.push(quote! {
                    #[doc = #doc]
                    pub async fn #get_fn(&self, name: &str) -> ::kube::Result<#ty> {
                        self.api.get_subresource(#name, name).await
                    }
                });
            }
            if has("update") {
                uses_name_of = true;
                let doc = format!(" Replaces the object through its `{name}` subresource (PUT).");
                out.push(quote! {
                    #[doc = #doc]
                    pub async fn #update_fn(&self, obj: &#ty, params: &::kube::api::PostParams) -> ::kube::Result<#ty> {
                        self.api.replace_subresource(#name, name_of(obj), params, obj).await
                    }
                });
            }
            if has("patch") {
                let doc = format!(" Patches the object through its `{name}` subresource.");
                out.push(quote! {
                    #[doc = #doc]
                    pub async fn #patch_fn<P: ::serde::Serialize + ::core::fmt::Debug>(
                        &self,
                        name: &str,
                        params: &::kube::api::PatchParams,
                        patch: &::kube::api::Patch<P>,
                    ) -> ::kube::Result<#ty> {
                        self.api.patch_subresource(#name, name, params, patch).await
                    }
                });
            }
        }
        _ => {}
    }
    (quote!(#(#out)*), uses_name_of)
}

fn extension(k: &ApiKind, e: &crate::model::Extension) -> TokenStream {
    let ty = k.ty();
    let name = ident(&naming::snake(&e.name));
    let input = e.input.as_deref().map(path).unwrap_or_else(|| ty.clone());
    let result = e.result.as_deref().map(path).unwrap_or_else(|| ty.clone());
    let sub = e.subresource.clone().unwrap_or_default();
    let doc = format!(
        " `{}` (verb {}{}), from `+genclient:method`.",
        e.name,
        e.verb,
        if sub.is_empty() { String::new() } else { format!(" on `{sub}`") }
    );
    let request = quote!(::kube::core::Request::new(self.api.resource_url()));
    let send = quote! {
        let req = req.map_err(::kube::Error::BuildRequest)?;
        self.client.request::<#result>(req).await
    };
    let has_sub = !sub.is_empty();
    match e.verb {
        Verb::Get | Verb::List => {
            let req = match (e.verb, has_sub) {
                (Verb::List, false) => quote!(#request.list(&::kube::api::ListParams::default())),
                (_, false) => quote!(#request.get(name, &::kube::api::GetParams::default())),
                (_, true) => quote!(#request.get_subresource(#sub, name)),
            };
            let arg = if e.verb == Verb::List && !has_sub { quote!() } else { quote!(name: &str) };
            quote! {
                #[doc = #doc]
                pub async fn #name(&self, #arg) -> ::kube::Result<#result> {
                    let req = #req;
                    #send
                }
            }
        }
        Verb::Create | Verb::Update => {
            let req = match (e.verb, has_sub) {
                (Verb::Create, false) => quote!(#request.create(params, body)),
                (Verb::Create, true) => quote!(#request.create_subresource(#sub, name, params, body)),
                (_, false) => quote!(#request.replace(name, params, body)),
                (_, true) => quote!(#request.replace_subresource(#sub, name, params, body)),
            };
            let name_arg = (e.verb == Verb::Update || has_sub).then(|| quote!(name: &str,));
            quote! {
                #[doc = #doc]
                pub async fn #name(&self, #name_arg obj: &#input, params: &::kube::api::PostParams) -> ::kube::Result<#result> {
                    let body = ::serde_json::to_vec(obj).map_err(::kube::Error::SerdeError)?;
                    let req = #req;
                    #send
                }
            }
        }
        Verb::Patch | Verb::Apply => {
            let req = if has_sub {
                quote!(#request.patch_subresource(#sub, name, params, patch))
            } else {
                quote!(#request.patch(name, params, patch))
            };
            quote! {
                #[doc = #doc]
                pub async fn #name<P: ::serde::Serialize + ::core::fmt::Debug>(
                    &self,
                    name: &str,
                    params: &::kube::api::PatchParams,
                    patch: &::kube::api::Patch<P>,
                ) -> ::kube::Result<#result> {
                    let req = #req;
                    #send
                }
            }
        }
        // Forbidden by the tag rules (reported at parse time).
        _ => quote!(),
    }
}
