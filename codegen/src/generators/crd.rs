//! CRD manifests (what controller-gen's `crd` generator does), one file per kind:
//! `<group>_<plural>.yaml`, apiextensions.k8s.io/v1, with every version of the kind.
//!
//! The document frame is a tera template (`templates/crd.yaml.tera`); the schema is built as
//! JSON by [`super::schema`] and written as YAML by serde_yaml, so quoting is always right.
//! Every user-written string goes through JSON quoting before it reaches the template.

use serde::Serialize;
use serde_json::Value;

use super::schema::SchemaBuilder;
use crate::diag::Diagnostics;
use crate::model::{Group, Kind, Model};
use crate::render::{Rendered, Templates};

#[derive(Serialize)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    type_: String,
    json_path: String,
    description: Option<String>,
    format: Option<String>,
    priority: i32,
}

#[derive(Serialize)]
struct VersionCtx {
    name: String,
    storage: bool,
    status: bool,
    columns: Vec<Column>,
    schema: String,
}

/// JSON quoting, which is valid YAML for any string.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Renders the CRD of every kind; file names are relative to the CRD directory.
pub fn render(model: &Model, templates: &Templates, header: &str, diags: &mut Diagnostics) -> Vec<Rendered> {
    let mut out = vec![];
    for group in &model.groups {
        let mut done: Vec<&str> = vec![];
        for version in &group.versions {
            for kind in &version.kinds {
                if done.contains(&kind.name.as_str()) {
                    continue;
                }
                done.push(&kind.name);
                if let Some(r) = render_kind(group, kind, templates, header, diags) {
                    out.push(r);
                }
            }
        }
    }
    out
}

fn render_kind(
    group: &Group,
    kind: &Kind,
    templates: &Templates,
    header: &str,
    diags: &mut Diagnostics,
) -> Option<Rendered> {
    let versions: Vec<_> =
        group.versions.iter().filter_map(|v| v.kinds.iter().find(|k| k.name == kind.name).map(|k| (v, k))).collect();
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
    for (_, k) in &versions {
        if k.plural != kind.plural || k.namespaced != kind.namespaced {
            diags.error(
                k.loc.clone(),
                format!("kind `{}` must have the same resource name and scope in every version", k.name),
            );
        }
    }
    let mut vctx = vec![];
    for (version, k) in &versions {
        let Some(t) = version.ty(&k.name) else { continue };
        let schema = SchemaBuilder::new(version, diags).root(t);
        let yaml = match serde_yaml::to_string(&schema) {
            Ok(y) => y.trim_end().to_string(),
            Err(e) => {
                diags.error(k.loc.clone(), format!("cannot write the schema as YAML: {e}"));
                continue;
            }
        };
        vctx.push(VersionCtx {
            name: version.name.clone(),
            storage: versions.len() == 1 || k.storage_version,
            status: k.status_subresource,
            columns: k
                .printer_columns
                .iter()
                .map(|c| Column {
                    name: q(&c.name),
                    type_: q(&c.type_),
                    json_path: q(&c.json_path),
                    description: c.description.as_deref().map(q),
                    format: c.format.as_deref().map(q),
                    priority: c.priority,
                })
                .collect(),
            schema: yaml,
        });
    }
    let mut ctx = tera::Context::new();
    ctx.insert("header", header);
    ctx.insert("name", &format!("{}.{}", kind.plural, group.name));
    ctx.insert("group", &group.name);
    ctx.insert("kind", &kind.name);
    ctx.insert("list_kind", &kind.list_name);
    ctx.insert("plural", &kind.plural);
    ctx.insert("singular", &kind.singular);
    ctx.insert("short_names", &kind.short_names.iter().map(|s| q(s)).collect::<Vec<_>>());
    ctx.insert("categories", &kind.categories.iter().map(|s| q(s)).collect::<Vec<_>>());
    ctx.insert("scope", if kind.namespaced { "Namespaced" } else { "Cluster" });
    ctx.insert("versions", &vctx);
    let text = templates.render("crd.yaml", &ctx, &kind.loc, diags)?;
    Some(Rendered { path: format!("{}_{}.yaml", group.name, kind.plural).into(), text })
}

/// The CRD documents as JSON values, for tests and for tools that install CRDs in-process.
pub fn to_json(rendered: &Rendered) -> Result<Value, serde_yaml::Error> {
    serde_yaml::from_str(&rendered.text)
}
