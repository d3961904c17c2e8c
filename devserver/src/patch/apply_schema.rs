//! The schema server-side apply walks for a built-in kind, built from the list types, list-map
//! keys (with their defaults) and atomic maps and structs recorded from kube-apiserver's OpenAPI
//! ([`super::metadata`]), so a built-in object's managed fields are as fine-grained as
//! kube-apiserver's: Service ports owned per port and protocol, containers per name, label
//! selectors and a Service's selector as one value.

use super::metadata::{Field, METADATA};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSON, JSONSchemaProps, JSONSchemaPropsOrArray,
};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// The apply schema of the built-in kind `api_version`/`kind`, built once; `None` for a kind
/// nothing was recorded for.
pub fn of(api_version: &str, kind: &str) -> Option<Arc<JSONSchemaProps>> {
    static BUILT: LazyLock<Mutex<HashMap<&'static str, Arc<JSONSchemaProps>>>> = LazyLock::new(Default::default);
    let ty = METADATA.kind_type(api_version, kind)?;
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    Some(built.entry(ty).or_insert_with(|| Arc::new(type_schema(ty, &mut Vec::new()))).clone())
}

/// The schema of the type `ty`; `within` holds the types being built around it, so a recursive
/// type (a CRD's JSONSchemaProps) stops where it repeats.
fn type_schema(ty: &str, within: &mut Vec<String>) -> JSONSchemaProps {
    let mut schema = JSONSchemaProps { type_: Some("object".into()), ..Default::default() };
    if METADATA.atomic.contains(ty) {
        schema.x_kubernetes_map_type = Some("atomic".into());
        return schema;
    }
    let Some(fields) = METADATA.types.get(ty).filter(|_| !within.iter().any(|t| t == ty)) else {
        return schema;
    };
    within.push(ty.to_string());
    schema.properties = Some(fields.iter().map(|(name, f)| (name.clone(), field_schema(f, within))).collect());
    within.pop();
    schema
}

fn field_schema(f: &Field, within: &mut Vec<String>) -> JSONSchemaProps {
    let mut value = match &f.ty {
        Some(ty) => type_schema(ty, within),
        None => JSONSchemaProps { default: f.default.clone().map(JSON), ..Default::default() },
    };
    if f.map_type == "atomic" {
        value.type_ = Some("object".into());
        value.x_kubernetes_map_type = Some("atomic".into());
    }
    if !f.list {
        return value;
    }
    // Without a list type, a merge list is associative by its merge key (a set, for scalars),
    // and any other list atomic: how kube-apiserver reads a schema for apply.
    let (list_type, keys) = match f.list_type.as_str() {
        "" if f.strategy.contains("merge") && !f.key.is_empty() => ("map", vec![f.key.clone()]),
        "" if f.strategy.contains("merge") => ("set", Vec::new()),
        "" => ("atomic", Vec::new()),
        other => (other, f.map_keys.clone()),
    };
    JSONSchemaProps {
        type_: Some("array".into()),
        items: Some(JSONSchemaPropsOrArray::Schema(Box::new(value))),
        x_kubernetes_list_type: Some(list_type.into()),
        x_kubernetes_list_map_keys: (!keys.is_empty()).then_some(keys),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop<'a>(s: &'a JSONSchemaProps, path: &[&str]) -> &'a JSONSchemaProps {
        path.iter().fold(s, |s, p| match (*p, &s.items) {
            ("[]", Some(JSONSchemaPropsOrArray::Schema(i))) => i,
            _ => &s.properties.as_ref().unwrap_or_else(|| panic!("no properties at {p}"))[*p],
        })
    }

    #[test]
    fn kube_apiserver_granularity() {
        let service = of("v1", "Service").expect("Service recorded");
        let ports = prop(&service, &["spec", "ports"]);
        assert_eq!(ports.x_kubernetes_list_type.as_deref(), Some("map"));
        assert_eq!(ports.x_kubernetes_list_map_keys, Some(vec!["port".to_string(), "protocol".to_string()]));
        let protocol = prop(&service, &["spec", "ports", "[]", "protocol"]);
        assert_eq!(protocol.default, Some(JSON("TCP".into())));
        assert_eq!(prop(&service, &["spec", "selector"]).x_kubernetes_map_type.as_deref(), Some("atomic"));
        let deployment = of("apps/v1", "Deployment").expect("Deployment recorded");
        assert_eq!(prop(&deployment, &["spec", "selector"]).x_kubernetes_map_type.as_deref(), Some("atomic"));
        let containers = prop(&deployment, &["spec", "template", "spec", "containers"]);
        assert_eq!(containers.x_kubernetes_list_map_keys, Some(vec!["name".to_string()]));
        let finalizers = prop(&deployment, &["metadata", "finalizers"]);
        assert_eq!(finalizers.x_kubernetes_list_type.as_deref(), Some("set"));
        // A CRD's schema type refers to itself; the build stops where it repeats.
        assert!(of("apiextensions.k8s.io/v1", "CustomResourceDefinition").is_some());
        assert!(of("v1", "NoSuchKind").is_none());
    }

    #[test]
    fn every_writable_builtin_kind_has_one() {
        for t in crate::builtin::builtin_types().iter().filter(|t| !t.review) {
            assert!(of(&t.api_version(), &t.kind).is_some(), "{} has no apply schema", t.kind);
        }
    }
}
