//! The fake clientset (client-gen's `fake` package) for unit tests with no network.
//!
//! Unlike client-go's object tracker, it runs the devserver's engine in-process behind the same
//! `kube::Client` the real clientset uses, so resourceVersions, conflicts, the status
//! subresource, validation against the CRD schema and watch replay behave as on a server. The
//! CRDs of the API are embedded and installed first; every call is recorded as an action, and
//! reactors can answer instead of the server.

use proc_macro2::TokenStream;
use quote::quote;

/// `src/clientset/fake.rs`, embedding the CRD documents (as JSON).
pub fn render(crds_json: &[String]) -> TokenStream {
    quote! {
        //! A fake clientset for unit tests: the devserver engine in-process, every call recorded.
        //!
        //! ```no_run
        //! # async fn demo() -> Result<(), generated::clientset::fake::Error> {
        //! use generated::clientset::fake::{Clientset, Reaction};
        //! let cs = Clientset::new(vec![]).await?;
        //! cs.prepend_reactor("update", "*", |_| Some(Reaction::conflict("injected")));
        //! // ... run the code under test with `&*cs` (a generated::Clientset), then:
        //! assert!(cs.actions().iter().all(|a| a.verb != "delete"));
        //! # Ok(()) }
        //! ```

        pub use ::runtime::testing::{Action, Reaction, Recorder};

        /// The CRDs of this API, installed into every fake clientset.
        pub const CRDS: &[&str] = &[#(#crds_json),*];

        /// Why a fake clientset could not be built (a bad seed object, usually).
        pub type Error = ::std::boxed::Box<dyn ::std::error::Error + Send + Sync>;

        /// A [`super::Clientset`] backed by an in-process devserver, recording every call.
        ///
        /// It dereferences to the real clientset type, so code under test takes `&Clientset`
        /// either way.
        pub struct Clientset {
            clientset: super::Clientset,
            recorder: Recorder,
            server: ::devserver::InProcessServer,
        }

        impl Clientset {
            /// A fake with the API's CRDs installed and `objects` (JSON with apiVersion and kind;
            /// see [`object`]) created. Seeding is not recorded as actions.
            pub async fn new(objects: impl IntoIterator<Item = ::serde_json::Value>) -> ::core::result::Result<Self, Error> {
                let server = ::devserver::DevServer::builder().in_process();
                let raw = server.client();
                let crds: ::kube::Api<::k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
                    ::kube::Api::all(raw.clone());
                for text in CRDS {
                    let crd = ::serde_json::from_str(text)?;
                    let created = crds.create(&::kube::api::PostParams::default(), &crd).await?;
                    let name = created.metadata.name.unwrap_or_default();
                    let established = ::kube::runtime::wait::await_condition(
                        crds.clone(),
                        &name,
                        ::kube::runtime::wait::conditions::is_crd_established(),
                    );
                    ::tokio::time::timeout(::std::time::Duration::from_secs(10), established).await??;
                }
                for obj in objects {
                    let obj: ::kube::api::DynamicObject = ::serde_json::from_value(obj)?;
                    let types = obj.types.clone().ok_or("a seed object needs apiVersion and kind")?;
                    let gvk = ::kube::api::GroupVersionKind::try_from(&types)?;
                    let (resource, caps) = ::kube::discovery::pinned_kind(&raw, &gvk).await?;
                    let api: ::kube::Api<::kube::api::DynamicObject> = match (&caps.scope, obj.metadata.namespace.as_deref()) {
                        (::kube::discovery::Scope::Namespaced, ns) => {
                            ::kube::Api::namespaced_with(raw.clone(), ns.unwrap_or("default"), &resource)
                        }
                        (::kube::discovery::Scope::Cluster, _) => ::kube::Api::all_with(raw.clone(), &resource),
                    };
                    api.create(&::kube::api::PostParams::default(), &obj).await?;
                }
                let recorder = Recorder::new();
                let client = recorder.wrap(raw);
                ::core::result::Result::Ok(Self { clientset: super::Clientset::new(client), recorder, server })
            }

            /// Every action so far, oldest first.
            pub fn actions(&self) -> ::std::vec::Vec<Action> {
                self.recorder.actions()
            }

            /// The actions other than get, list and watch.
            pub fn writes(&self) -> ::std::vec::Vec<Action> {
                self.recorder.writes()
            }

            /// Forgets the actions recorded so far.
            pub fn clear_actions(&self) {
                self.recorder.clear_actions();
            }

            /// Answers matching requests (`*` matches any verb or resource) before the server does;
            /// the newest reactor runs first, and `None` passes the request on.
            pub fn prepend_reactor(
                &self,
                verb: &str,
                resource: &str,
                react: impl Fn(&Action) -> ::core::option::Option<Reaction> + Send + Sync + 'static,
            ) {
                self.recorder.prepend_reactor(verb, resource, react);
            }

            /// The in-process server (its request log, its resourceVersion).
            pub fn server(&self) -> &::devserver::InProcessServer {
                &self.server
            }
        }

        impl ::core::ops::Deref for Clientset {
            type Target = super::Clientset;

            fn deref(&self) -> &super::Clientset {
                &self.clientset
            }
        }

        /// Any API object as a seed for [`Clientset::new`].
        pub fn object<T: ::serde::Serialize>(obj: &T) -> ::serde_json::Value {
            ::serde_json::to_value(obj).unwrap_or(::serde_json::Value::Null)
        }
    }
}
