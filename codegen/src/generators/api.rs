//! The view of a kind that the client, lister and informer generators share: names, paths and
//! verbs, for the apis crate's kinds and for the built-in kinds the informer factory also serves.

use std::collections::BTreeMap;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::model::{Extension, Model};
use crate::naming;
use crate::verbs::{Verb, Verbs};

/// A kind as the generated crate sees it.
#[derive(Clone, Debug)]
pub struct ApiKind {
    /// API group (empty for the core group).
    pub group: String,
    /// Module and accessor name of the group (`bitcoincontroller`, `core`, `apps`).
    pub group_module: String,
    /// CamelCase group name (`Bitcoincontroller`).
    pub group_go: String,
    /// Version (`v1`).
    pub version: String,
    /// Kind (`BitcoinNetwork`).
    pub kind: String,
    /// REST resource name (`bitcoinnetworks`).
    pub plural: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Client verbs.
    pub verbs: Verbs,
    /// Custom methods.
    pub extensions: Vec<Extension>,
    /// The Rust path of the kind (`apis::bitcoincontroller::v1::BitcoinNetwork`).
    pub rust_path: String,
    /// The Rust path of its list type, for kinds of the apis crate.
    pub list_path: Option<String>,
    /// A built-in kind from k8s-openapi (verbs and subresources from discovery).
    pub builtin: bool,
    /// Subresources other than `status`, for built-in kinds (discovery's).
    pub subresources: Vec<crate::kubernetes::discovery::Subresource>,
}

impl ApiKind {
    /// `bitcoin_network`: the module name of the kind.
    pub fn module(&self) -> String {
        naming::snake(&self.kind)
    }

    /// `bitcoin_networks`: the accessor name (the plural of the Kind, as client-gen names methods).
    /// Built-in kinds take the plural the server uses (`endpoints`, `network_policies`).
    pub fn accessor(&self) -> String {
        if self.builtin
            && let Some(a) = naming::plural_accessor(&self.kind, &self.plural)
        {
            return a;
        }
        naming::snake(&naming::pluralize(&self.kind))
    }

    /// `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The kind's type as written in a generated file (imported by [`ApiKind::imports`]).
    pub fn ty(&self) -> TokenStream {
        let i = ident(&self.kind);
        quote!(#i)
    }

    /// The list type as written in a generated file, for kinds of the apis crate.
    pub fn list_ty(&self) -> Option<TokenStream> {
        self.list_path.as_deref().and_then(|p| p.rsplit("::").next()).map(|n| {
            let i = ident(n);
            quote!(#i)
        })
    }

    /// The type `apply` takes: the generated apply configuration, or for a built-in kind the
    /// k8s-openapi type itself (its fields are all optional or defaulted, and unset ones are not
    /// serialized, so it only sends and owns the fields set in it).
    pub fn apply_ty(&self) -> TokenStream {
        if self.builtin {
            return self.ty();
        }
        let (g, v) = (ident(&self.group_module), ident(&self.version));
        let c = quote::format_ident!("{}ApplyConfiguration", self.kind);
        quote!(crate::applyconfigurations::#g::#v::#c)
    }

    /// `use` items for the kind (and its list type).
    pub fn imports(&self) -> TokenStream {
        let ty = path(&self.rust_path);
        let list = self.list_path.as_deref().map(|p| {
            let p = path(p);
            quote!(use #p;)
        });
        quote!(use #ty; #list)
    }

    /// True when listers are generated (lister-gen: list and get).
    pub fn has_lister(&self) -> bool {
        self.verbs.has(Verb::List) && self.verbs.has(Verb::Get)
    }

    /// True when informers are generated (informer-gen: list and watch).
    pub fn has_informer(&self) -> bool {
        self.verbs.has(Verb::List) && self.verbs.has(Verb::Watch)
    }
}

/// Kinds by group module, then version (both sorted), for the module trees of the generators.
pub type ByGroupVersion<'a> = BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a ApiKind>>>;

/// Groups the kinds that `keep` selects by group module and version.
pub fn by_group_version<'a>(kinds: &'a [ApiKind], keep: impl Fn(&ApiKind) -> bool) -> ByGroupVersion<'a> {
    let mut groups: ByGroupVersion<'a> = BTreeMap::new();
    for k in kinds.iter().filter(|k| keep(k)) {
        groups.entry(&k.group_module).or_default().entry(&k.version).or_default().push(k);
    }
    groups
}

/// Parses a Rust path into tokens.
pub fn path(p: &str) -> TokenStream {
    syn::parse_str::<syn::Path>(p).map(|p| quote!(#p)).unwrap_or_else(|e| e.to_compile_error())
}

/// Doc attributes, one per line, so they render as `///` comments.
pub fn docs(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| if l.is_empty() { String::new() } else { format!(" {l}") });
    quote!(#(#[doc = #lines])*)
}

/// An identifier (raw when it is a keyword). The parser rejects every name for which
/// [`naming::ident_problem`] has an answer, so the placeholder is never written; it exists so that
/// rendering cannot panic even if a check were missed.
pub fn ident(s: &str) -> Ident {
    if naming::is_rust_ident(s) {
        Ident::new(s, Span::call_site())
    } else if naming::ident_problem(s).is_none() {
        Ident::new_raw(s, Span::call_site())
    } else {
        Ident::new("__codegen_invalid_name", Span::call_site())
    }
}

/// A kind with `+kubebuilder:subresource:scale` gets typed `get_scale`/`update_scale`/
/// `patch_scale` (client-go's `GetScale`/`UpdateScale` methods), on autoscaling/v1's `Scale` as
/// kube-apiserver serves it for custom resources.
fn scale_subresource(k: &crate::model::Kind) -> Option<crate::kubernetes::discovery::Subresource> {
    k.scale.as_ref()?;
    Some(crate::kubernetes::discovery::Subresource {
        name: "scale".into(),
        kind: "Scale".into(),
        verbs: ["get", "patch", "update"].map(String::from).to_vec(),
        kind_path: Some("k8s_openapi::api::autoscaling::v1::Scale".into()),
    })
}

/// The apis crate's kinds, in model order.
pub fn kinds(model: &Model, crate_name: &str) -> Vec<ApiKind> {
    let mut out = vec![];
    for g in &model.groups {
        let group_module = naming::snake(&g.go_name);
        for v in &g.versions {
            for k in &v.kinds {
                out.push(ApiKind {
                    group: g.name.clone(),
                    group_module: group_module.clone(),
                    group_go: g.go_name.clone(),
                    version: v.name.clone(),
                    kind: k.name.clone(),
                    plural: k.plural.clone(),
                    namespaced: k.namespaced,
                    verbs: k.verbs,
                    extensions: k.extensions.clone(),
                    rust_path: format!("{crate_name}::{}::{}::{}", g.module, v.name, k.name),
                    list_path: Some(format!("{crate_name}::{}::{}::{}", g.module, v.name, k.list_name)),
                    builtin: false,
                    subresources: scale_subresource(k).into_iter().collect(),
                });
            }
        }
    }
    out
}
