//! The API model: groups, versions, kinds, types and fields, free of syn types.
//!
//! Every generator reads this model and nothing else, so they agree on names, verbs and scope,
//! and can be tested without parsing Rust.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::diag::Loc;
use crate::verbs::Verbs;

/// Everything the generator found in one apis crate.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// API groups, sorted by folder name.
    pub groups: Vec<Group>,
}

impl Model {
    /// Every kind with its group and version.
    pub fn kinds(&self) -> impl Iterator<Item = (&Group, &Version, &Kind)> {
        self.groups.iter().flat_map(|g| g.versions.iter().flat_map(move |v| v.kinds.iter().map(move |k| (g, v, k))))
    }
}

/// An API group (a folder under `src/` whose module carries `+groupName`).
#[derive(Clone, Debug)]
pub struct Group {
    /// The fully qualified group name, e.g. `bitcoincontroller.christianb93.github.com`.
    pub name: String,
    /// The CamelCase identifier (`+groupGoName`, or the first DNS label capitalised).
    pub go_name: String,
    /// The folder (and Rust module) name under `src/`.
    pub module: String,
    /// Versions, in the order Kubernetes sorts them (GA before beta before alpha, newest first).
    pub versions: Vec<Version>,
    /// Where `+groupName` is written.
    pub loc: Loc,
}

/// One version package of a group, e.g. `v1`.
#[derive(Clone, Debug)]
pub struct Version {
    /// `v1`, `v1beta2`, ...
    pub name: String,
    /// The module file of the version (`.../v1/mod.rs` or `.../v1.rs`).
    pub module_file: Loc,
    /// Kinds (`+genclient` types), in source order.
    pub kinds: Vec<Kind>,
    /// Every struct and enum in the package, in source order.
    pub types: Vec<TypeDef>,
    /// `+kubebuilder:validation:Optional` on the package: fields are optional unless marked.
    pub package_optional: bool,
    /// `types` by name, built on the first lookup (see [`Version::ty`]).
    index: OnceLock<HashMap<String, usize>>,
}

impl Version {
    /// A version package.
    pub fn new(name: String, module_file: Loc, kinds: Vec<Kind>, types: Vec<TypeDef>, package_optional: bool) -> Self {
        Self { name, module_file, kinds, types, package_optional, index: OnceLock::new() }
    }

    /// The type called `name`, if the package defines one. Schemas and in-package code look types
    /// up once per field, so this is a map lookup: a scan per lookup grows with the square of the
    /// number of types. Should `types` change after the first lookup, a stale entry is detected
    /// and a scan answers.
    pub fn ty(&self, name: &str) -> Option<&TypeDef> {
        let index = self.index.get_or_init(|| {
            let mut m = HashMap::with_capacity(self.types.len());
            for (i, t) in self.types.iter().enumerate() {
                m.entry(t.name.clone()).or_insert(i);
            }
            m
        });
        match index.get(name).and_then(|&i| self.types.get(i)) {
            Some(t) if t.name == name => Some(t),
            _ => self.types.iter().find(|t| t.name == name),
        }
    }
}

/// A custom method added with `+genclient:method=`.
#[derive(Clone, Debug, PartialEq)]
pub struct Extension {
    /// Method name as written (CamelCase, Go style).
    pub name: String,
    /// The verb it performs.
    pub verb: crate::verbs::Verb,
    /// The subresource path, if any.
    pub subresource: Option<String>,
    /// The request body type, as a Rust path (defaults to the kind).
    pub input: Option<String>,
    /// The response type, as a Rust path (defaults to the kind).
    pub result: Option<String>,
}

/// A printer column for `kubectl get`.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type: integer, number, string, boolean or date.
    pub type_: String,
    /// JSONPath into the object.
    pub json_path: String,
    /// Optional description.
    pub description: Option<String>,
    /// Optional OpenAPI format.
    pub format: Option<String>,
    /// 0 shows in the default view; higher only in `-o wide`.
    pub priority: i32,
}

/// The scale subresource (`+kubebuilder:subresource:scale`): where the replica counts and the
/// label selector live, as JSON paths into the object.
#[derive(Clone, Debug, PartialEq)]
pub struct Scale {
    /// `specpath=`: the desired replicas, under `.spec`.
    pub spec_replicas_path: String,
    /// `statuspath=`: the observed replicas, under `.status`.
    pub status_replicas_path: String,
    /// `selectorpath=`: the label selector as a string (for the HPA), under `.spec` or `.status`.
    pub label_selector_path: Option<String>,
}

/// A `+genclient` type: a REST resource.
#[derive(Clone, Debug)]
pub struct Kind {
    /// The Kind, e.g. `BitcoinNetwork`.
    pub name: String,
    /// The list type's name, e.g. `BitcoinNetworkList`.
    pub list_name: String,
    /// Lowercase plural resource name, e.g. `bitcoinnetworks`.
    pub plural: String,
    /// Lowercase singular, e.g. `bitcoinnetwork`.
    pub singular: String,
    /// Short names for kubectl.
    pub short_names: Vec<String>,
    /// Categories (e.g. `all`).
    pub categories: Vec<String>,
    /// False for `+genclient:nonNamespaced` or `scope=Cluster`.
    pub namespaced: bool,
    /// The client verbs, in client-go order.
    pub verbs: Verbs,
    /// `+genclient:method=` extensions.
    pub extensions: Vec<Extension>,
    /// The type has a `status` field.
    pub has_status: bool,
    /// `+kubebuilder:subresource:status`.
    pub status_subresource: bool,
    /// `+kubebuilder:subresource:scale`.
    pub scale: Option<Scale>,
    /// `+kubebuilder:printcolumn` markers.
    pub printer_columns: Vec<PrinterColumn>,
    /// `+kubebuilder:storageversion`.
    pub storage_version: bool,
    /// Where the kind is declared.
    pub loc: Loc,
}

/// A struct or enum in a version package.
#[derive(Clone, Debug)]
pub struct TypeDef {
    /// The type's name.
    pub name: String,
    /// The Rust path of the type relative to the version module (`types::BitcoinNetwork`).
    pub path: String,
    /// The doc comment prose.
    pub description: String,
    /// The shape of the type.
    pub body: Body,
    /// deep-copy (Clone) is generated for it.
    pub deepcopy: bool,
    /// The generator also writes its serde impls (kinds and list types, which carry apiVersion and kind).
    pub object: bool,
    /// Schema markers on the type, applied wherever it is used.
    pub markers: Markers,
    /// Where it is declared.
    pub loc: Loc,
}

/// The shape of a type.
#[derive(Clone, Debug)]
pub enum Body {
    /// A struct with named fields.
    Struct(Vec<Field>),
    /// A tuple struct (its fields are positional).
    Tuple(Vec<Field>),
    /// A unit struct.
    Unit,
    /// An enum.
    Enum(Vec<Variant>),
}

/// An enum variant.
#[derive(Clone, Debug)]
pub struct Variant {
    /// The Rust name.
    pub name: String,
    /// The JSON name after serde renames.
    pub json_name: String,
    /// True for a variant without data.
    pub unit: bool,
    /// Number of fields for tuple variants; `None` for unit variants.
    pub fields: VariantFields,
    /// Serde skips it.
    pub skip: bool,
}

/// The fields of an enum variant, as far as deep-copy needs them.
#[derive(Clone, Debug)]
pub enum VariantFields {
    /// No data.
    Unit,
    /// `V(a, b)`: the number of fields.
    Tuple(usize),
    /// `V { a, b }`: the field names.
    Named(Vec<String>),
}

/// How serde fills a field that is missing from the input.
#[derive(Clone, Debug, PartialEq)]
pub enum SerdeDefault {
    /// Missing is an error.
    None,
    /// `#[serde(default)]` or an `Option`.
    Default,
    /// `#[serde(default = "path")]`.
    Path(String),
}

/// A field of a struct.
#[derive(Clone, Debug)]
pub struct Field {
    /// The Rust name (`0`, `1`, ... for tuple structs).
    pub rust_name: String,
    /// The JSON name after serde renames.
    pub json_name: String,
    /// The Rust type.
    pub ty: TypeRef,
    /// The doc comment prose.
    pub description: String,
    /// How serde fills it when missing.
    pub default: SerdeDefault,
    /// `#[serde(skip_serializing_if = "...")]`.
    pub skip_serializing_if: Option<String>,
    /// `#[serde(skip)]` / `skip_serializing`: never written.
    pub skip_serializing: bool,
    /// `#[serde(skip)]` / `skip_deserializing`: never read.
    pub skip_deserializing: bool,
    /// `#[serde(flatten)]`.
    pub flatten: bool,
    /// `#[serde(with|serialize_with|deserialize_with)]`: custom encoding.
    pub custom_serde: bool,
    /// Schema markers on the field.
    pub markers: Markers,
    /// Where the field is declared.
    pub loc: Loc,
    /// Where the field's type is written.
    pub ty_loc: Loc,
}

impl Field {
    /// True when the CRD schema lists the field as required.
    pub fn required(&self, package_optional: bool) -> bool {
        if self.markers.required == Some(true) {
            return true;
        }
        if self.markers.required == Some(false) || package_optional {
            return false;
        }
        !matches!(self.ty, TypeRef::Option(_))
            && self.default == SerdeDefault::None
            && self.skip_serializing_if.is_none()
            && !self.skip_serializing
    }
}

/// A field's Rust type, as far as the generators need it.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeRef {
    /// `Option<T>`.
    Option(Box<TypeRef>),
    /// `Vec<T>`.
    Vec(Box<TypeRef>),
    /// `BTreeMap<String, T>` / `HashMap<String, T>`.
    Map(Box<TypeRef>),
    /// `Box<T>` / `Arc<T>`.
    Boxed(Box<TypeRef>),
    /// `String`.
    String,
    /// `bool`.
    Bool,
    /// An integer type.
    Int {
        /// Bits: 8, 16, 32, 64 (isize/usize count as 64).
        bits: u8,
        /// Signed or not.
        signed: bool,
    },
    /// `f32` / `f64`.
    Float(u8),
    /// `serde_json::Value`: any JSON.
    Json,
    /// A struct or enum of the same package.
    Local(String),
    /// A Kubernetes type from k8s-openapi.
    K8s(K8sType),
    /// A type the schema generator cannot map (reported only if a CRD needs it).
    Unsupported(String),
}

/// The k8s-openapi types the schema generator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum K8sType {
    /// meta/v1 ObjectMeta.
    ObjectMeta,
    /// meta/v1 ListMeta.
    ListMeta,
    /// meta/v1 Condition.
    Condition,
    /// meta/v1 Time.
    Time,
    /// meta/v1 MicroTime.
    MicroTime,
    /// meta/v1 Duration.
    Duration,
    /// meta/v1 LabelSelector.
    LabelSelector,
    /// resource Quantity.
    Quantity,
    /// util IntOrString.
    IntOrString,
    /// core/v1 LocalObjectReference.
    LocalObjectReference,
    /// core/v1 ObjectReference.
    ObjectReference,
}

impl K8sType {
    /// Recognises a k8s-openapi type by its last path segment.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "ObjectMeta" => Self::ObjectMeta,
            "ListMeta" => Self::ListMeta,
            "Condition" => Self::Condition,
            "Time" => Self::Time,
            "MicroTime" => Self::MicroTime,
            "Duration" => Self::Duration,
            "LabelSelector" => Self::LabelSelector,
            "Quantity" => Self::Quantity,
            "IntOrString" => Self::IntOrString,
            "LocalObjectReference" => Self::LocalObjectReference,
            "ObjectReference" => Self::ObjectReference,
            _ => return None,
        })
    }

    /// The names accepted by [`K8sType::from_name`], for hints.
    pub const NAMES: &'static str = "ObjectMeta, ListMeta, Condition, Time, MicroTime, Duration, \
        LabelSelector, Quantity, IntOrString, LocalObjectReference, ObjectReference";
}

/// A CEL rule (`+kubebuilder:validation:XValidation`).
#[derive(Clone, Debug, PartialEq)]
pub struct CelRule {
    /// The CEL expression.
    pub rule: String,
    /// Optional message, messageExpression, reason, fieldPath, optionalOldSelf.
    pub extra: Vec<(String, Value)>,
}

/// Schema markers on a field or type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Markers {
    /// `+kubebuilder:validation:<Marker>=<value>` as (marker, parsed value), e.g. (`Minimum`, 1);
    /// the schema generator maps each to its OpenAPI keyword.
    pub validations: Vec<(String, Value)>,
    /// The same, for the items of a list (`items:` markers).
    pub item_validations: Vec<(String, Value)>,
    /// CEL rules.
    pub cel: Vec<CelRule>,
    /// `Some(true)` for +required, `Some(false)` for +optional.
    pub required: Option<bool>,
    /// `+nullable`.
    pub nullable: bool,
    /// `+default` / `+kubebuilder:default`.
    pub default: Option<Value>,
    /// `+kubebuilder:example`.
    pub example: Option<Value>,
    /// `x-kubernetes-preserve-unknown-fields`.
    pub preserve_unknown: bool,
    /// `x-kubernetes-embedded-resource`.
    pub embedded_resource: bool,
    /// `x-kubernetes-int-or-string`.
    pub int_or_string: bool,
    /// `+listType`.
    pub list_type: Option<String>,
    /// `+listMapKey` (repeatable).
    pub list_map_keys: Vec<String>,
    /// `+mapType`.
    pub map_type: Option<String>,
    /// `+structType`.
    pub struct_type: Option<String>,
}
