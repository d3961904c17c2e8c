//! `/openapi/v3`: an index plus one document per group-version, with every kind's schema (built-in
//! kinds' from k8s-openapi, so `kubectl explain` describes them). Each document has, per resource, a
//! PATCH operation carrying `x-kubernetes-group-version-kind` and a `fieldValidation` query
//! parameter: with that, `kubectl apply` (default `--validate=strict`) sends `fieldValidation=Strict`
//! and lets the server validate instead of failing to download a schema.

use crate::resource::ResourceType;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};

/// The schemas of one group-version's built-in kinds: what never changes, generated once.
struct BuiltinSchemas {
    /// Kind -> its schema's name (k8s-openapi's, as kube-apiserver names it).
    names: HashMap<String, String>,
    /// Every schema the kinds reach, by name; each kind's carries its group-version-kind.
    definitions: Map<String, Value>,
    /// A hash of `definitions`, for the index's URLs.
    hash: u64,
}

/// [`BuiltinSchemas`] by group-version path.
static BUILTIN: LazyLock<Mutex<HashMap<String, Arc<BuiltinSchemas>>>> = LazyLock::new(Default::default);

/// The built-in kinds' schemas of the group-version `gv`, among `ts`.
fn builtin_schemas(gv: &str, ts: &[&ResourceType]) -> Arc<BuiltinSchemas> {
    let mut cache = BUILTIN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = cache.get(gv) {
        return b.clone();
    }
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    let mut names = HashMap::new();
    let mut kinds = Vec::new();
    for t in ts {
        let Some(schema) = t.openapi else { continue };
        let reference = schema(&mut generator);
        let Some(name) = reference.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) else {
            continue;
        };
        names.insert(t.kind.clone(), name.to_string());
        kinds.push((name.to_string(), json!({"group": t.group, "version": t.version, "kind": t.kind})));
    }
    let mut definitions = generator.take_definitions(true);
    annotate_patch_strategies(&mut definitions);
    for (name, gvk) in kinds {
        if let Some(o) = definitions.get_mut(&name).and_then(Value::as_object_mut) {
            o.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    Value::Object(definitions.clone()).to_string().hash(&mut h);
    let built = Arc::new(BuiltinSchemas { names, definitions, hash: h.finish() });
    cache.insert(gv.to_string(), built.clone());
    built
}

/// Marks the fields that strategic merge treats specially as kube-apiserver's documents do
/// (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`), from the metadata the server
/// applies: kubectl computes its client-side apply patches from these.
fn annotate_patch_strategies(definitions: &mut Map<String, Value>) {
    for (name, definition) in definitions.iter_mut() {
        let Some(properties) = definition.get_mut("properties").and_then(Value::as_object_mut) else { continue };
        for (field, strategy, key) in crate::patch::strategic_annotations(name) {
            let Some(property) = properties.get_mut(field).and_then(Value::as_object_mut) else { continue };
            if !strategy.is_empty() {
                property.insert("x-kubernetes-patch-strategy".into(), strategy.into());
            }
            if !key.is_empty() {
                property.insert("x-kubernetes-patch-merge-key".into(), key.into());
            }
        }
    }
}

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
        // The built-in schemas count by their own hash, so the large part is not serialized
        // again for every index.
        let builtin = builtin_schemas(&p, &ts);
        let doc = document_for(&p, &ts, false);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        doc.to_string().hash(&mut h);
        builtin.hash.hash(&mut h);
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
    Some(document_for(gv, &ts, true))
}

fn schema_name(t: &ResourceType) -> String {
    let g = if t.group.is_empty() { "core" } else { &t.group };
    let rev: Vec<&str> = g.split('.').rev().collect();
    format!("{}.{}.{}", rev.join("."), t.version, t.kind)
}

/// The document of the group-version `gv` (its types `ts`); without `builtin_definitions` the
/// built-in kinds' schemas are left out (the index hashes them apart).
fn document_for(gv: &str, ts: &[&ResourceType], builtin_definitions: bool) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    // Built-in kinds: k8s-openapi's schemas (kube-apiserver's names and descriptions), every
    // type they reach included.
    let builtin = builtin_schemas(gv, ts);
    for t in ts {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let prefix = format!("/{}", gv_path(&t.group, &t.version));
        let builtin_name = builtin.names.get(&t.kind).filter(|_| t.openapi.is_some());
        let item = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let name = builtin_name.cloned().unwrap_or_else(|| schema_name(t));
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        // Strategic merge is for built-in kinds only, as in Kubernetes; kubectl's client-side
        // apply builds its patch from this document's patch annotations when it is listed.
        let mut patch_types =
            vec!["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
        if builtin_name.is_some() {
            patch_types.push("application/strategic-merge-patch+json");
        }
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
        if builtin_name.is_some() {
            continue;
        }
        let mut schema = match &t.schema {
            Some(s) => serde_json::to_value(s.as_ref()).unwrap_or_else(|_| json!({"type": "object"})),
            None => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        };
        if let Some(o) = schema.as_object_mut() {
            o.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
        }
        schemas.insert(name, schema);
    }
    if builtin_definitions {
        schemas.extend(builtin.definitions.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
