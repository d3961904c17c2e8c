//! The built-in kinds (client-go's `kubernetes`, `listers` and `informers` packages): every type
//! of the selected Kubernetes version in k8s-openapi that the server serves as a resource, with
//! the verbs and subresources discovery reports for it. They become the same [`ApiKind`] model
//! the tagged types produce, so one client, lister and informer generator serves both.
//!
//! - [`openapi_crate`]: the kinds, plurals and scopes, read from k8s-openapi's source;
//! - [`discovery`]: the verbs and subresources, recorded from kube-apiserver and checked in.

pub mod discovery;
pub mod openapi_crate;
pub mod protobuf;

use crate::generators::api::ApiKind;
use crate::naming;
use crate::verbs::{Verb, Verbs};
use discovery::Recording;
use openapi_crate::{OpenapiKind, Scope};

/// The join of k8s-openapi's kinds with discovery.
#[derive(Clone, Debug, Default)]
pub struct Joined {
    /// Kinds that get typed clients (and listers and informers when their verbs allow).
    pub kinds: Vec<ApiKind>,
    /// Resources the server serves that k8s-openapi has no type for (`group/version resource`).
    pub not_in_openapi: Vec<String>,
    /// k8s-openapi resource types the server does not serve even with every API enabled.
    pub not_served: Vec<String>,
}

/// Joins k8s-openapi's resource types with the recorded discovery on (group, version, kind,
/// plural). Subresource types (Scale, Eviction, TokenRequest) and meta types (Status, APIGroup)
/// are not resources of their own: they appear as the subresource methods of their parents.
pub fn join(types: &[OpenapiKind], recording: &Recording) -> Joined {
    let mut out = Joined::default();
    for r in &recording.resources {
        let found = types.iter().find(|t| {
            t.scope != Scope::Subresource
                && t.group == r.group
                && t.version == r.version
                && t.kind == r.kind
                && t.plural == r.resource
        });
        let Some(t) = found else {
            out.not_in_openapi.push(format!("{}/{} {}", display_group(&r.group), r.version, r.resource));
            continue;
        };
        let mut verbs = Verbs::none();
        for (name, verb) in [
            ("create", Verb::Create),
            ("update", Verb::Update),
            ("delete", Verb::Delete),
            ("deletecollection", Verb::DeleteCollection),
            ("get", Verb::Get),
            ("list", Verb::List),
            ("watch", Verb::Watch),
            ("patch", Verb::Patch),
        ] {
            if r.has(name) {
                verbs.insert(verb);
            }
        }
        if r.has("patch") {
            verbs.insert(Verb::Apply);
        }
        if let Some(status) = r.subresource("status") {
            if status.has("update") {
                verbs.insert(Verb::UpdateStatus);
            }
            if status.has("patch") {
                verbs.insert(Verb::ApplyStatus);
            }
        }
        out.kinds.push(ApiKind {
            group: r.group.clone(),
            group_module: t.group_module.clone(),
            group_go: naming::pascal(&t.group_module),
            version: r.version.clone(),
            kind: r.kind.clone(),
            plural: r.resource.clone(),
            namespaced: r.namespaced,
            verbs,
            extensions: vec![],
            rust_path: t.rust_path.clone(),
            list_path: None,
            builtin: true,
            subresources: r
                .subresources
                .iter()
                .filter(|s| s.name != "status")
                .map(|s| {
                    let mut s = s.clone();
                    if s.kind != r.kind {
                        s.kind_path = kind_path(types, &s.kind);
                    }
                    s
                })
                .collect(),
        });
    }
    for t in types.iter().filter(|t| t.scope != Scope::Subresource && !t.plural.is_empty()) {
        let served = recording
            .resources
            .iter()
            .any(|r| r.group == t.group && r.version == t.version && r.kind == t.kind && r.resource == t.plural);
        if !served {
            out.not_served.push(t.rust_path.clone());
        }
    }
    out.kinds.sort_by(|a, b| (&a.group_module, &a.version, &a.kind).cmp(&(&b.group_module, &b.version, &b.kind)));
    out
}

/// The Rust path of the one k8s-openapi type called `kind` (preferring a stable version), for
/// a subresource's object (`Scale`, `Eviction`, `TokenRequest`, `Binding`).
fn kind_path(types: &[OpenapiKind], kind: &str) -> Option<String> {
    let mut matching: Vec<&OpenapiKind> = types.iter().filter(|t| t.kind == kind).collect();
    matching.sort_by_key(|t| (t.version.contains("alpha") || t.version.contains("beta"), t.version.clone()));
    matching.first().map(|t| t.rust_path.clone())
}

fn display_group(g: &str) -> &str {
    if g.is_empty() { "core" } else { g }
}
