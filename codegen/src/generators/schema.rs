//! Structural OpenAPI v3 schemas from Rust types (what controller-gen does from Go types).
//!
//! Every type is inlined (CRD schemas allow no `$ref`), descriptions come from doc comments, and
//! serde's renames, defaults, `skip` and `flatten` shape the properties exactly as the JSON will.

use serde_json::{Map, Value, json};

use crate::diag::Diagnostics;
use crate::model::{Body, Field, K8sType, Markers, TypeDef, TypeRef, Version};

/// How many types deep a schema may nest. Each level is two or three JSON levels in the CRD
/// (`properties`, the field, `items`), and JSON readers stop somewhere above 100 (serde_json at
/// 128, which the fake clientset uses to read the CRD back); the limit also bounds this builder's
/// recursion, so a hostile chain of a thousand structs is an error, not a stack overflow.
pub const MAX_DEPTH: usize = 32;

/// Builds schemas for the types of one version package.
pub struct SchemaBuilder<'a> {
    version: &'a Version,
    diags: &'a mut Diagnostics,
    stack: Vec<String>,
}

impl<'a> SchemaBuilder<'a> {
    /// A builder for `version`'s types; problems go to `diags`.
    pub fn new(version: &'a Version, diags: &'a mut Diagnostics) -> Self {
        Self { version, diags, stack: vec![] }
    }

    /// The `openAPIV3Schema` of a kind.
    pub fn root(&mut self, kind: &TypeDef) -> Value {
        let mut props = Map::new();
        props.insert(
            "apiVersion".into(),
            json!({"type": "string", "description": "The versioned schema of this object, as group/version. Servers convert recognised schemas to the latest internal value and may reject unrecognised ones."}),
        );
        props.insert(
            "kind".into(),
            json!({"type": "string", "description": "The REST resource this object represents, in CamelCase. Servers may infer it from the endpoint the client submits requests to; it cannot be updated."}),
        );
        let mut required = vec![];
        if let Body::Struct(fields) = &kind.body {
            for f in fields {
                if f.json_name == "metadata" {
                    props.insert("metadata".into(), json!({"type": "object"}));
                    continue;
                }
                self.add_field(f, &mut props, &mut required);
            }
        }
        let mut s = Map::new();
        if !kind.description.is_empty() {
            s.insert("description".into(), kind.description.clone().into());
        }
        s.insert("properties".into(), Value::Object(props));
        if !required.is_empty() {
            s.insert("required".into(), required.into());
        }
        s.insert("type".into(), "object".into());
        apply_markers(&mut s, &kind.markers);
        Value::Object(s)
    }

    fn add_field(&mut self, f: &Field, props: &mut Map<String, Value>, required: &mut Vec<String>) {
        if f.skip_serializing && f.skip_deserializing {
            return;
        }
        if f.flatten {
            let name = match &f.ty {
                TypeRef::Local(n) => Some(n.as_str()),
                TypeRef::Option(b) => match b.as_ref() {
                    TypeRef::Local(n) => Some(n.as_str()),
                    _ => None,
                },
                _ => None,
            };
            let inner = name.and_then(|n| self.version.ty(n).map(|t| (n, t)));
            match inner.map(|(n, t)| (n, &t.body)) {
                Some((name, Body::Struct(fields))) => {
                    // A flattened struct is inlined, so it counts as a level like a nested one
                    // (a struct that flattens itself would otherwise recurse without end).
                    let name = name.to_string();
                    let fields = fields.clone();
                    if !self.enter(&name, f) {
                        return;
                    }
                    let optional = matches!(f.ty, TypeRef::Option(_));
                    for inner_f in fields {
                        let mut req = vec![];
                        self.add_field(&inner_f, props, &mut req);
                        if !optional {
                            required.extend(req);
                        }
                    }
                    self.stack.pop();
                }
                _ => self.diags.error_hint(
                    f.ty_loc.clone(),
                    "`#[serde(flatten)]` in a CRD schema needs a struct of the same package",
                    "flatten a struct with named fields defined beside this one",
                ),
            }
            return;
        }
        let mut s = self.schema(&f.ty, f);
        if let Value::Object(m) = &mut s {
            if !f.description.is_empty() {
                m.insert("description".into(), f.description.clone().into());
            }
            apply_markers(m, &f.markers);
            if f.markers.nullable {
                m.insert("nullable".into(), true.into());
            }
            crate::crd_rules::check_structural(m, &f.loc, self.diags);
        }
        if f.required(self.version.package_optional) {
            required.push(f.json_name.clone());
        }
        props.insert(f.json_name.clone(), s);
    }

    /// The schema of a type used by field `f` (for locations and item markers).
    fn schema(&mut self, ty: &TypeRef, f: &Field) -> Value {
        match ty {
            TypeRef::Option(inner) | TypeRef::Boxed(inner) => self.schema(inner, f),
            TypeRef::Vec(inner) if **inner == (TypeRef::Int { bits: 8, signed: false }) => {
                json!({"type": "string", "format": "byte"})
            }
            TypeRef::Vec(inner) => {
                let mut items = self.schema(inner, f);
                if let Value::Object(m) = &mut items {
                    insert_validations(m, &f.markers.item_validations);
                }
                json!({"type": "array", "items": items})
            }
            TypeRef::Map(inner) => {
                let v = self.schema(inner, f);
                json!({"type": "object", "additionalProperties": v})
            }
            TypeRef::String => json!({"type": "string"}),
            TypeRef::Bool => json!({"type": "boolean"}),
            TypeRef::Int { bits, signed } => {
                let format = if *bits <= 32 && (*signed || *bits < 32) { "int32" } else { "int64" };
                let mut m = json!({"type": "integer", "format": format});
                if !signed {
                    m["minimum"] = 0.into();
                }
                m
            }
            TypeRef::Float(bits) => {
                json!({"type": "number", "format": if *bits == 32 { "float" } else { "double" }})
            }
            TypeRef::Json => json!({"x-kubernetes-preserve-unknown-fields": true}),
            TypeRef::K8s(k) => k8s_schema(*k),
            TypeRef::Local(name) => self.local(name, f),
            TypeRef::Unsupported(text) => {
                self.diags.error_hint(
                    f.ty_loc.clone(),
                    format!("unsupported field type `{text}` in a CRD schema"),
                    format!(
                        "use String, bool, integers, f64, Option, Vec, BTreeMap<String, _>, serde_json::Value, \
                         a type of this package, or one of the k8s-openapi types {}",
                        K8sType::NAMES
                    ),
                );
                json!({})
            }
        }
    }

    /// Enters the struct `name` (pushed on the stack; the caller pops it), or reports why not:
    /// it contains itself, or types nest deeper than [`MAX_DEPTH`].
    fn enter(&mut self, name: &str, f: &Field) -> bool {
        if self.stack.iter().any(|n| n == name) {
            self.diags.error_hint(
                f.ty_loc.clone(),
                format!("type `{name}` contains itself; a CRD schema cannot be recursive"),
                "use serde_json::Value with +kubebuilder:validation:XPreserveUnknownFields for open-ended data",
            );
            return false;
        }
        if self.stack.len() >= MAX_DEPTH {
            let top = self.stack.first().cloned().unwrap_or_default();
            self.diags.error_hint(
                f.ty_loc.clone(),
                format!("types nest more than {MAX_DEPTH} levels deep here (`{top}` -> ... -> `{name}`)"),
                "flatten the structure, or use serde_json::Value with +kubebuilder:validation:XPreserveUnknownFields for deep open-ended data",
            );
            return false;
        }
        self.stack.push(name.to_string());
        true
    }

    fn local(&mut self, name: &str, f: &Field) -> Value {
        let Some(t) = self.version.ty(name) else { return json!({}) };
        if !self.enter(name, f) {
            return json!({});
        }
        let mut s = Map::new();
        match &t.body {
            Body::Struct(fields) => {
                let mut props = Map::new();
                let mut required = vec![];
                for f in fields {
                    self.add_field(f, &mut props, &mut required);
                }
                if !props.is_empty() {
                    s.insert("properties".into(), Value::Object(props));
                }
                if !required.is_empty() {
                    s.insert("required".into(), required.into());
                }
                s.insert("type".into(), "object".into());
            }
            Body::Tuple(fields) if fields.len() == 1 => {
                let inner = fields[0].clone();
                if let Value::Object(m) = self.schema(&inner.ty, &inner) {
                    s = m;
                }
            }
            Body::Enum(variants) if variants.iter().all(|v| v.unit) => {
                let values: Vec<Value> =
                    variants.iter().filter(|v| !v.skip).map(|v| v.json_name.clone().into()).collect();
                s.insert("enum".into(), values.into());
                s.insert("type".into(), "string".into());
            }
            _ => {
                self.diags.error_hint(
                    f.ty_loc.clone(),
                    format!("type `{name}` cannot be described by a structural schema"),
                    "CRD fields use structs with named fields, newtypes, or enums whose variants carry no data",
                );
            }
        }
        if !t.description.is_empty() {
            s.insert("description".into(), t.description.clone().into());
        }
        apply_markers(&mut s, &t.markers);
        self.stack.pop();
        Value::Object(s)
    }
}

/// Applies markers to a schema object; explicit markers override what the type implies.
fn apply_markers(s: &mut Map<String, Value>, m: &Markers) {
    insert_validations(s, &m.validations);
    if let Some(d) = &m.default {
        s.insert("default".into(), d.clone());
    }
    if let Some(e) = &m.example {
        s.insert("example".into(), e.clone());
    }
    if m.preserve_unknown {
        s.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
    }
    if m.embedded_resource {
        s.insert("x-kubernetes-embedded-resource".into(), true.into());
    }
    if m.int_or_string {
        s.remove("type");
        s.insert("x-kubernetes-int-or-string".into(), true.into());
        s.insert("anyOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
    }
    if let Some(t) = &m.list_type {
        s.insert("x-kubernetes-list-type".into(), t.clone().into());
    }
    if !m.list_map_keys.is_empty() {
        s.insert("x-kubernetes-list-map-keys".into(), m.list_map_keys.clone().into());
    }
    if let Some(t) = &m.map_type {
        s.insert("x-kubernetes-map-type".into(), t.clone().into());
    }
    if let Some(t) = &m.struct_type {
        s.insert("x-kubernetes-map-type".into(), t.clone().into());
    }
    if !m.cel.is_empty() {
        let rules: Vec<Value> = m
            .cel
            .iter()
            .map(|c| {
                let mut r = Map::new();
                r.insert("rule".into(), c.rule.clone().into());
                for (k, v) in &c.extra {
                    r.insert(k.clone(), v.clone());
                }
                Value::Object(r)
            })
            .collect();
        s.insert("x-kubernetes-validations".into(), rules.into());
    }
}

/// The OpenAPI keyword that `+kubebuilder:validation:<marker>` sets (controller-gen's mapping).
pub fn keyword(marker: &str) -> Option<&'static str> {
    Some(match marker {
        "Maximum" => "maximum",
        "Minimum" => "minimum",
        "ExclusiveMaximum" => "exclusiveMaximum",
        "ExclusiveMinimum" => "exclusiveMinimum",
        "MultipleOf" => "multipleOf",
        "MaxLength" => "maxLength",
        "MinLength" => "minLength",
        "MaxItems" => "maxItems",
        "MinItems" => "minItems",
        "MaxProperties" => "maxProperties",
        "MinProperties" => "minProperties",
        "Pattern" => "pattern",
        "UniqueItems" => "uniqueItems",
        "Enum" => "enum",
        "Format" => "format",
        "Type" => "type",
        "XPreserveUnknownFields" => "x-kubernetes-preserve-unknown-fields",
        "XEmbeddedResource" => "x-kubernetes-embedded-resource",
        "XIntOrString" => "x-kubernetes-int-or-string",
        _ => return None,
    })
}

/// Sets the keywords of validation markers; the parser records only registered markers, all of
/// which [`keyword`] maps.
fn insert_validations(s: &mut Map<String, Value>, validations: &[(String, Value)]) {
    for (marker, v) in validations {
        if let Some(k) = keyword(marker) {
            s.insert(k.into(), v.clone());
        }
    }
}

/// Schemas of the k8s-openapi types, as the API server publishes them.
fn k8s_schema(k: K8sType) -> Value {
    match k {
        K8sType::ObjectMeta | K8sType::ListMeta => json!({"type": "object"}),
        K8sType::Time | K8sType::MicroTime => json!({"type": "string", "format": "date-time"}),
        K8sType::Duration => json!({"type": "string"}),
        K8sType::IntOrString => json!({
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": true
        }),
        K8sType::Quantity => json!({
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
            "x-kubernetes-int-or-string": true
        }),
        K8sType::LocalObjectReference => json!({
            "type": "object",
            "description": "A reference to an object in the same namespace.",
            "properties": {"name": {"type": "string", "default": "", "description": "Name of the referent."}},
            "x-kubernetes-map-type": "atomic"
        }),
        K8sType::ObjectReference => json!({
            "type": "object",
            "description": "A reference to another object.",
            "properties": {
                "apiVersion": {"type": "string"},
                "fieldPath": {"type": "string"},
                "kind": {"type": "string"},
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "resourceVersion": {"type": "string"},
                "uid": {"type": "string"}
            },
            "x-kubernetes-map-type": "atomic"
        }),
        K8sType::LabelSelector => json!({
            "type": "object",
            "description": "A label query over a set of resources. An empty selector matches everything; a null one matches nothing.",
            "properties": {
                "matchExpressions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "operator": {"type": "string"},
                            "values": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"}
                        },
                        "required": ["key", "operator"]
                    },
                    "x-kubernetes-list-type": "atomic"
                },
                "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "x-kubernetes-map-type": "atomic"
        }),
        K8sType::Condition => json!({
            "type": "object",
            "description": "One aspect of the current state of this object.",
            "properties": {
                "lastTransitionTime": {"type": "string", "format": "date-time", "description": "When the condition last changed from one status to another."},
                "message": {"type": "string", "maxLength": 32768, "description": "A human readable message about the transition."},
                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0, "description": "The .metadata.generation the condition was set for."},
                "reason": {"type": "string", "maxLength": 1024, "minLength": 1, "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", "description": "A CamelCase reason for the last transition."},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"], "description": "True, False or Unknown."},
                "type": {"type": "string", "maxLength": 316, "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$", "description": "The type of the condition, in CamelCase."}
            },
            "required": ["lastTransitionTime", "message", "reason", "status", "type"]
        }),
    }
}
