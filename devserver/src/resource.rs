//! Resource types the server serves: one [`ResourceType`] per (group, version, plural), for built-in
//! kinds and for the kinds established by CustomResourceDefinitions.

use crate::error::Target;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, JSONSchemaProps,
};
use std::sync::Arc;

/// How an object of a built-in kind is checked on decode: it is decoded into its k8s-openapi type
/// and serialized back, so the caller can also find fields the type does not know.
pub type DecodeCheck = fn(&serde_json::Value) -> Result<serde_json::Value, String>;

/// The OpenAPI schema of a built-in type: a reference, its definitions registered in the
/// generator (k8s-openapi's schemas, with their descriptions, for `kubectl explain`).
pub type OpenApiSchema = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// Everything the handlers need to know about one served resource.
#[derive(Clone)]
pub struct ResourceType {
    /// API group ("" for core).
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Plural resource name, e.g. `pods`.
    pub plural: String,
    /// Singular name, e.g. `pod`.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names for `kubectl get`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    pub categories: Vec<String>,
    /// Whether a `/status` subresource is served (and spec/status are kept apart).
    pub status_subresource: bool,
    /// The scale subresource of a custom resource (`subresources.scale`), if its CRD declares one.
    pub scale: Option<ScalePaths>,
    /// Structural schema for custom resources.
    pub schema: Option<Arc<JSONSchemaProps>>,
    /// Printer columns for custom resources.
    pub printer_columns: Vec<CustomResourceColumnDefinition>,
    /// Extra field-selector paths (a CRD version's `selectableFields`, without the leading dot).
    pub selectable_fields: Vec<String>,
    /// Decode check for built-in kinds (into the k8s-openapi type); `None` for custom resources.
    pub decode: Option<DecodeCheck>,
    /// The OpenAPI schema of a built-in kind; custom resources have `schema`.
    pub openapi: Option<OpenApiSchema>,
    /// True for a kind defined by a CRD (changes update and patch rules).
    pub custom: bool,
    /// True while the defining CRD is terminating (only read and delete verbs are served).
    pub terminating: bool,
    /// A review (SelfSubjectAccessReview, SelfSubjectRulesReview): create-only, answered from
    /// the authorizer and never stored.
    pub review: bool,
}

/// Where a custom resource keeps what its `/scale` subresource shows (a CRD's
/// `subresources.scale`), as JSON paths split into keys (`.spec.nodes` → `["spec", "nodes"]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalePaths {
    /// `specReplicasPath`: the desired replicas (read and written).
    pub spec_replicas: Vec<String>,
    /// `statusReplicasPath`: the observed replicas (read only).
    pub status_replicas: Vec<String>,
    /// `labelSelectorPath`: the selector string in status (read only), if declared.
    pub label_selector: Option<Vec<String>>,
    /// Built-in workloads: the `LabelSelector` object whose string form the Scale shows.
    pub selector_object: Option<Vec<String>>,
}

impl ScalePaths {
    /// The paths of a CRD version's scale subresource.
    pub fn new(spec: &str, status: &str, selector: Option<&str>) -> Self {
        let split = |p: &str| p.trim_start_matches('.').split('.').map(str::to_string).collect();
        Self {
            spec_replicas: split(spec),
            status_replicas: split(status),
            label_selector: selector.map(split),
            selector_object: None,
        }
    }

    /// The `/scale` of Deployments, ReplicaSets and StatefulSets: `.spec.replicas`,
    /// `.status.replicas`, and `.spec.selector` shown as a selector string.
    pub fn workload() -> Self {
        let mut paths = Self::new(".spec.replicas", ".status.replicas", None);
        paths.selector_object = Some(vec!["spec".into(), "selector".into()]);
        paths
    }
}

impl ResourceType {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// Storage key of this resource (group and plural; one stored version per resource).
    pub fn key(&self) -> String {
        if !self.custom && crate::events_view::is_view(&self.group, &self.plural) {
            return crate::events_view::STORAGE_KEY.to_string();
        }
        format!("{}/{}", self.group, self.plural)
    }

    /// The schema server-side apply and managed fields follow: a custom resource's structural
    /// schema, or the one built from kube-apiserver's recorded metadata for a built-in kind.
    pub fn apply_schema(&self) -> Option<Arc<JSONSchemaProps>> {
        if self.custom { self.schema.clone() } else { crate::patch::apply_schema::of(&self.api_version(), &self.kind) }
    }

    /// True for events.k8s.io/v1 Events: a view of the core/v1 Event store (see
    /// [`crate::events_view`]).
    pub fn is_events_view(&self) -> bool {
        !self.custom && crate::events_view::is_view(&self.group, &self.plural)
    }

    /// The target used in error details for an object named `name`.
    pub fn target(&self, name: &str) -> Target {
        Target {
            group: self.group.clone(),
            plural: self.plural.clone(),
            kind: self.kind.clone(),
            name: name.to_string(),
        }
    }

    /// A stored object as served at this version: a custom resource stored through another
    /// version of its CRD is relabelled with this version (the `None` conversion strategy: the
    /// same fields under a different apiVersion); an Event through events.k8s.io is converted.
    pub fn to_wire_value<'a>(&self, obj: &'a serde_json::Value) -> std::borrow::Cow<'a, serde_json::Value> {
        use std::borrow::Cow;
        if self.is_events_view() {
            return Cow::Owned(crate::events_view::to_events_v1(obj));
        }
        let api_version = self.api_version();
        if self.custom
            && obj.get("apiVersion").and_then(serde_json::Value::as_str) != Some(api_version.as_str())
            && obj.is_object()
        {
            let mut o = obj.clone();
            o["apiVersion"] = serde_json::Value::String(api_version);
            return Cow::Owned(o);
        }
        Cow::Borrowed(obj)
    }

    /// [`Self::to_wire_value`] serialized.
    pub fn to_wire(&self, obj: &serde_json::Value) -> String {
        self.to_wire_value(obj).to_string()
    }

    /// Namespaces have a `finalize` subresource (their `spec.finalizers`, written with PUT).
    pub fn has_finalize_subresource(&self) -> bool {
        !self.custom && self.group.is_empty() && self.plural == "namespaces"
    }

    /// ServiceAccounts have a `token` subresource (TokenRequest).
    pub fn has_token_subresource(&self) -> bool {
        !self.custom && self.group.is_empty() && self.plural == "serviceaccounts"
    }

    /// The field paths a field selector may use for this resource.
    pub fn field_selector_fields(&self) -> Vec<String> {
        let mut f = vec!["metadata.name".to_string()];
        if self.namespaced {
            f.push("metadata.namespace".into());
        }
        if !self.custom && self.plural == "pods" {
            f.extend(["spec.nodeName", "status.phase", "spec.serviceAccountName"].map(String::from));
        }
        if !self.custom && self.plural == "events" {
            f.extend(
                [
                    "involvedObject.kind",
                    "involvedObject.namespace",
                    "involvedObject.name",
                    "involvedObject.uid",
                    "involvedObject.apiVersion",
                    "involvedObject.resourceVersion",
                    "involvedObject.fieldPath",
                    "reason",
                    "reportingComponent",
                    "type",
                ]
                .map(String::from),
            );
        }
        if self.plural == "secrets" && !self.custom {
            f.push("type".into());
        }
        f.extend(self.selectable_fields.iter().cloned());
        f
    }

    /// Verbs served in discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.review {
            vec!["create"]
        } else if self.terminating {
            vec!["delete", "deletecollection", "get", "list", "watch"]
        } else if self.custom {
            // apiextensions-apiserver lists a custom resource's verbs in this (unsorted) order.
            vec!["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]
        } else {
            vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        }
    }
}
