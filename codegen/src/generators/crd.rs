//! CRD manifests (what controller-gen's `crd` generator does), one file per kind:
//! `<group>_<plural>.yaml`, apiextensions.k8s.io/v1, with every version of the kind.
//!
//! The CRD is built as a typed value (the structs below, in the field order of the output) and
//! written by serde_yaml, so every user-written string is quoted correctly by construction; the
//! schema is built as JSON by [`super::schema`]. The fake clientset gets the same value as JSON,
//! not the YAML text parsed back.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::schema::SchemaBuilder;
use crate::diag::Diagnostics;
use crate::model::{Group, Kind, Model, Scale, Version};
use crate::render::Rendered;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Crd {
    api_version: &'static str,
    kind: &'static str,
    metadata: Name,
    spec: CrdSpec,
}

#[derive(Serialize)]
struct Name {
    name: String,
}

#[derive(Serialize)]
struct CrdSpec {
    group: String,
    names: Names,
    scope: &'static str,
    versions: Vec<CrdVersion>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Names {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    categories: Vec<String>,
    kind: String,
    list_kind: String,
    plural: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    short_names: Vec<String>,
    singular: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CrdVersion {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    additional_printer_columns: Vec<Column>,
    schema: CrdSchema,
    served: bool,
    storage: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    subresources: Option<Subresources>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Column {
    json_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "is_zero")]
    priority: i32,
    #[serde(rename = "type")]
    type_: String,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct CrdSchema {
    #[serde(rename = "openAPIV3Schema")]
    open_api_v3_schema: Value,
}

#[derive(Serialize)]
struct Subresources {
    #[serde(skip_serializing_if = "Option::is_none")]
    scale: Option<ScaleSubresource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Empty>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScaleSubresource {
    #[serde(skip_serializing_if = "Option::is_none")]
    label_selector_path: Option<String>,
    spec_replicas_path: String,
    status_replicas_path: String,
}

impl From<&Scale> for ScaleSubresource {
    fn from(s: &Scale) -> Self {
        Self {
            label_selector_path: s.label_selector_path.clone(),
            spec_replicas_path: s.spec_replicas_path.clone(),
            status_replicas_path: s.status_replicas_path.clone(),
        }
    }
}

/// One rendered CRD: the file, and the same document as JSON.
pub struct RenderedCrd {
    /// The YAML file, relative to the CRD directory.
    pub file: Rendered,
    /// The CRD as JSON.
    pub json: Value,
}

/// Renders the CRD of every kind; file names are relative to the CRD directory.
pub fn render(model: &Model, header: &str, diags: &mut Diagnostics) -> Vec<RenderedCrd> {
    let mut out = vec![];
    for group in &model.groups {
        // Each kind with the versions that serve it, in first-seen order (one pass: linear).
        let mut order: Vec<&str> = vec![];
        let mut served: HashMap<&str, Vec<(&Version, &Kind)>> = HashMap::new();
        for version in &group.versions {
            for kind in &version.kinds {
                let e = served.entry(&kind.name).or_default();
                if e.is_empty() {
                    order.push(&kind.name);
                }
                e.push((version, kind));
            }
        }
        for name in order {
            if let Some(r) = render_kind(group, &served[name], header, diags) {
                out.push(r);
            }
        }
    }
    out
}

fn render_kind(
    group: &Group,
    versions: &[(&Version, &Kind)],
    header: &str,
    diags: &mut Diagnostics,
) -> Option<RenderedCrd> {
    let kind = versions.first()?.1;
    let storage_marked: Vec<_> = versions.iter().filter(|(_, k)| k.storage_version).collect();
    if versions.len() > 1 && storage_marked.len() != 1 {
        let where_ = versions.iter().map(|(v, k)| format!("{} at {}", v.name, k.loc)).collect::<Vec<_>>().join(", ");
        diags.error_hint(
            kind.loc.clone(),
            format!(
                "kind `{}` is served in several versions ({where_}) and needs exactly one storage version",
                kind.name
            ),
            "mark one of them with `+kubebuilder:storageversion`",
        );
    }
    for (_, k) in versions {
        if k.plural != kind.plural || k.namespaced != kind.namespaced {
            diags.error(
                k.loc.clone(),
                format!("kind `{}` must have the same resource name and scope in every version", k.name),
            );
        }
    }
    let mut crd_versions = vec![];
    for (version, k) in versions {
        let Some(t) = version.ty(&k.name) else { continue };
        let schema = SchemaBuilder::new(version, diags).root(t);
        let subresources = (k.status_subresource || k.scale.is_some()).then(|| Subresources {
            scale: k.scale.as_ref().map(ScaleSubresource::from),
            status: k.status_subresource.then_some(Empty {}),
        });
        crd_versions.push(CrdVersion {
            name: version.name.clone(),
            additional_printer_columns: k
                .printer_columns
                .iter()
                .map(|c| Column {
                    json_path: c.json_path.clone(),
                    description: c.description.clone(),
                    format: c.format.clone(),
                    name: c.name.clone(),
                    priority: c.priority,
                    type_: c.type_.clone(),
                })
                .collect(),
            schema: CrdSchema { open_api_v3_schema: schema },
            served: true,
            storage: versions.len() == 1 || k.storage_version,
            subresources,
        });
    }
    let crd = Crd {
        api_version: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: Name { name: format!("{}.{}", kind.plural, group.name) },
        spec: CrdSpec {
            group: group.name.clone(),
            names: Names {
                categories: kind.categories.clone(),
                kind: kind.name.clone(),
                list_kind: kind.list_name.clone(),
                plural: kind.plural.clone(),
                short_names: kind.short_names.clone(),
                singular: kind.singular.clone(),
            },
            scope: if kind.namespaced { "Namespaced" } else { "Cluster" },
            versions: crd_versions,
        },
    };
    let (yaml, json) = match (serde_yaml::to_string(&crd), serde_json::to_value(&crd)) {
        (Ok(y), Ok(j)) => (y, j),
        (Err(e), _) => return report(kind, &e.to_string(), diags),
        (_, Err(e)) => return report(kind, &e.to_string(), diags),
    };
    let file =
        Rendered { path: format!("{}_{}.yaml", group.name, kind.plural).into(), text: format!("{header}\n{yaml}") };
    Some(RenderedCrd { file, json })
}

fn report(kind: &Kind, e: &str, diags: &mut Diagnostics) -> Option<RenderedCrd> {
    diags.error(kind.loc.clone(), format!("internal error: cannot write the CRD: {e}"));
    None
}
