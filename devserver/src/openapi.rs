//! `/openapi/v3`: an index plus one document per group-version. Each document has, per resource, a
//! PATCH operation carrying `x-kubernetes-group-version-kind` and a `fieldValidation` query
//! parameter: with that, `kubectl apply` (default `--validate=strict`) sends `fieldValidation=Strict`
//! and lets the server validate instead of failing to download a schema.

use crate::resource::ResourceType;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// `GET /openapi/v3`.
pub fn index(types: &[ResourceType]) -> Value {
    let mut paths = BTreeMap::new();
    let mut gvs: BTreeMap<String, Vec<&ResourceType>> = BTreeMap::new();
    for t in types {
        gvs.entry(gv_path(&t.group, &t.version)).or_default().push(t);
    }
    for (p, ts) in gvs {
        let doc = document_for(&ts);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        doc.to_string().hash(&mut h);
        paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={:016X}", h.finish())}));
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/{api/v1 | apis/g/v}`, or `None` when nothing is served there.
pub fn document(types: &[ResourceType], gv: &str) -> Option<Value> {
    let ts: Vec<&ResourceType> = types.iter().filter(|t| gv_path(&t.group, &t.version) == gv).collect();
    if ts.is_empty() {
        return None;
    }
    Some(document_for(&ts))
}

fn schema_name(t: &ResourceType) -> String {
    let g = if t.group.is_empty() { "core" } else { &t.group };
    let rev: Vec<&str> = g.split('.').rev().collect();
    format!("{}.{}.{}", rev.join("."), t.version, t.kind)
}

fn document_for(ts: &[&ResourceType]) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for t in ts {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let prefix = format!("/{}", gv_path(&t.group, &t.version));
        let item = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let name = schema_name(t);
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        // Strategic merge is accepted for built-ins but not advertised: kubectl then uses its
        // compiled-in patch metadata instead of building one from this (schema-less) document.
        let patch_types =
            ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
        let content: serde_json::Map<String, Value> =
            patch_types.iter().map(|ct| (ct.to_string(), json!({"schema": {"type": "object"}}))).collect();
        let query = |n: &str| json!({"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        paths.insert(
            item,
            json!({
                "get": {
                    "operationId": format!("read{}", t.kind),
                    "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}}
                },
                "put": {
                    "operationId": format!("replace{}", t.kind),
                    "x-kubernetes-action": "put",
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation")],
                    "requestBody": {"content": {"application/json": {"schema": reference}}},
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}}
                },
                "patch": {
                    "operationId": format!("patch{}", t.kind),
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation"), {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}],
                    "requestBody": {"content": content},
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}}
                },
                "parameters": [
                    {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                ]
            }),
        );
        let mut schema = match &t.schema {
            Some(s) => serde_json::to_value(s.as_ref()).unwrap_or_else(|_| json!({"type": "object"})),
            None => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        };
        if let Some(o) = schema.as_object_mut() {
            o.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
        }
        schemas.insert(name, schema);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
