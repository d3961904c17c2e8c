//! Kinds: a `+genclient` struct becomes a [`Kind`] (names, scope, verbs, subresources,
//! printer columns), with every name checked against what Rust and apiextensions accept.

use std::collections::BTreeMap;

use super::RawType;
use crate::diag::{Diagnostics, Loc};
use crate::model::{Body, Extension, K8sType, Kind, PrinterColumn, Scale, TypeDef, TypeRef};
use crate::naming;
use crate::tags::{Doc, Source, Tag, unquote};
use crate::verbs::{self, Verb, Verbs};

/// Builds the kind for a `+genclient` struct, checking ObjectMeta, the list type and the verb tags.
pub(super) fn kind(
    raw: &RawType,
    types: &[TypeDef],
    by_name: &dyn Fn(&str) -> Option<usize>,
    source: &Source,
    diags: &mut Diagnostics,
) -> Option<Kind> {
    let name = raw.item.ident().to_string();
    let loc = source.loc(raw.item.ident().span());
    let doc = &raw.doc;
    check_kind_name(&name, &loc, diags);
    let this = &types[by_name(&name)?];
    let Body::Struct(fields) = &this.body else {
        diags.error_hint(
            loc,
            format!("`+genclient` type `{name}` must be a struct with named fields"),
            "API objects are structs with `metadata`, and usually `spec` and `status`",
        );
        return None;
    };
    match fields.iter().find(|f| f.json_name == "metadata") {
        Some(f) if f.ty == TypeRef::K8s(K8sType::ObjectMeta) => {}
        Some(f) => diags.error_hint(
            f.ty_loc.clone(),
            format!("`{name}.metadata` must be an ObjectMeta"),
            "use `k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta`",
        ),
        None => diags.error_hint(
            loc.clone(),
            format!("`+genclient` type `{name}` has no ObjectMeta"),
            "add `pub metadata: ObjectMeta` (k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta)",
        ),
    }
    let list_name = format!("{name}List");
    let list = by_name(&list_name).map(|i| &types[i]);
    match list {
        None => diags.error_hint(
            loc.clone(),
            format!("`+genclient` type `{name}` has no list type `{list_name}`"),
            format!("add `pub struct {list_name} {{ pub metadata: ListMeta, pub items: Vec<{name}> }}` to the same version package"),
        ),
        Some(_) => {
            let ok = list.is_some_and(|t| match &t.body {
                Body::Struct(f) => {
                    f.iter().any(|f| f.json_name == "metadata" && f.ty == TypeRef::K8s(K8sType::ListMeta))
                        && f.iter().any(|f| f.json_name == "items" && f.ty == TypeRef::Vec(Box::new(TypeRef::Local(name.clone()))))
                }
                _ => false,
            });
            if !ok {
                let lloc = list.map_or_else(|| loc.clone(), |t| t.loc.clone());
                diags.error_hint(
                    lloc,
                    format!("list type `{list_name}` must have `metadata: ListMeta` and `items: Vec<{name}>`"),
                    format!("write `pub struct {list_name} {{ pub metadata: ListMeta, pub items: Vec<{name}> }}`"),
                );
            }
        }
    }
    let has_status = fields.iter().any(|f| f.json_name == "status");
    let (verbs, extensions) = client_tags(doc, has_status, diags);
    let mut namespaced = !doc.has("genclient:nonNamespaced");
    let mut plural = naming::pluralize(&name).to_ascii_lowercase();
    let mut singular = name.to_ascii_lowercase();
    let mut short_names = vec![];
    let mut categories = vec![];
    if let Some(t) = doc.get("resourceName") {
        plural = unquote(t.value.as_deref().unwrap_or_default());
        check_resource_name(&plural, t.value_loc.clone(), diags);
    }
    if let Some(t) = doc.get("kubebuilder:resource") {
        for a in &t.args {
            let list =
                || a.value.split(';').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>();
            match a.key.as_str() {
                "path" => {
                    if doc.has("resourceName") && a.value != plural {
                        diags.error(
                            a.loc.clone(),
                            format!("`path={}` disagrees with `+resourceName={plural}`", a.value),
                        );
                    }
                    plural = a.value.clone();
                    check_resource_name(&plural, a.loc.clone(), diags);
                }
                "singular" => {
                    singular = a.value.clone();
                    check_dns_label("singular name", &singular, a.loc.clone(), "bitcoinnetwork", diags);
                }
                "shortName" => {
                    short_names = list();
                    for n in &short_names {
                        check_dns_label("short name", n, a.loc.clone(), "bn", diags);
                    }
                }
                "categories" => {
                    categories = list();
                    for n in &categories {
                        check_dns_label("category", n, a.loc.clone(), "all", diags);
                    }
                }
                "scope" => match a.value.as_str() {
                    "Namespaced" | "Cluster" => {
                        let cluster = a.value == "Cluster";
                        if doc.has("genclient:nonNamespaced") && !cluster {
                            diags.error(a.loc.clone(), "`scope=Namespaced` contradicts `+genclient:nonNamespaced`");
                        }
                        namespaced = !cluster;
                    }
                    other => diags.error_hint(
                        a.loc.clone(),
                        format!("invalid scope `{other}`"),
                        "use `Namespaced` or `Cluster`",
                    ),
                },
                other => diags.error_hint(
                    a.loc.clone(),
                    format!("unknown `+kubebuilder:resource` argument `{other}`"),
                    "use path, singular, shortName, categories or scope",
                ),
            }
        }
    }
    let status_subresource = doc.has("kubebuilder:subresource:status");
    if status_subresource
        && !has_status
        && let Some(t) = doc.get("kubebuilder:subresource:status")
    {
        {
            diags.error_hint(
                t.loc.clone(),
                format!("`{name}` has a status subresource but no `status` field"),
                "add a `status` field or remove the marker",
            );
        }
    }
    let scale = doc.get("kubebuilder:subresource:scale").and_then(|t| scale(t, this, types, diags));
    let mut printer_columns = vec![];
    for t in doc.all("kubebuilder:printcolumn") {
        if let Some(c) = printer_column(t, diags) {
            printer_columns.push(c);
        }
    }
    Some(Kind {
        name: name.clone(),
        list_name,
        plural,
        singular,
        short_names,
        categories,
        namespaced,
        verbs,
        extensions,
        has_status,
        status_subresource,
        scale,
        printer_columns,
        storage_version: doc.has("kubebuilder:storageversion"),
        loc,
    })
}

pub(super) fn check_resource_name(plural: &str, loc: Loc, diags: &mut Diagnostics) {
    check_dns_label("resource name", plural, loc, "bitcoinnetworks", diags);
}

/// apiextensions requires plural, singular, short names, categories and the lowercased kind to
/// be DNS-1035 labels; a CRD that breaks this is refused by the API server.
pub(super) fn check_dns_label(what: &str, value: &str, loc: Loc, example: &str, diags: &mut Diagnostics) {
    if !naming::is_dns_label(value) {
        diags.error_hint(
            loc,
            format!("invalid {what} `{value}`"),
            format!(
                "a {what} is a DNS label: lowercase letters, digits and `-`, starting with a letter, at most 63 characters, e.g. `{example}`"
            ),
        );
    }
}

/// The names the generated crate derives from a kind (its module and accessor) must be Rust
/// identifiers, and its lowercased name a DNS label (apiextensions' rule for `kind`).
pub(super) fn check_kind_name(name: &str, loc: &Loc, diags: &mut Diagnostics) {
    let module = naming::snake(name);
    let accessor = naming::snake(&naming::pluralize(name));
    for (what, derived) in [("module", &module), ("accessor", &accessor)] {
        if let Some(why) = naming::ident_problem(derived) {
            diags.error_hint(
                loc.clone(),
                format!("kind `{name}` cannot be generated: its {what} name `{derived}` is not usable ({why})"),
                format!("rename the type, e.g. `{name}Resource`"),
            );
            return;
        }
    }
    if !naming::is_dns_label(&name.to_ascii_lowercase()) {
        diags.error_hint(
            loc.clone(),
            format!("kind `{name}` lowercased is not a DNS label, which a CRD's kind must be"),
            "use a CamelCase name of ASCII letters and digits, e.g. `BitcoinNetwork`",
        );
    }
}

/// Reads `+kubebuilder:subresource:scale`. apiextensions requires the spec path under `.spec`,
/// the status path under `.status`, the selector under either, and the replica fields to be
/// integers; each path is followed through the kind's fields so a typo is an error here.
pub(super) fn scale(t: &Tag, kind: &TypeDef, types: &[TypeDef], diags: &mut Diagnostics) -> Option<Scale> {
    let (mut spec, mut status, mut selector) = (None, None, None);
    for a in &t.args {
        let (slot, roots, integer): (&mut Option<String>, &[&str], bool) = match a.key.as_str() {
            "specpath" => (&mut spec, &["spec"], true),
            "statuspath" => (&mut status, &["status"], true),
            "selectorpath" => (&mut selector, &["spec", "status"], false),
            other => {
                diags.error_hint(
                    a.loc.clone(),
                    format!("unknown `+kubebuilder:subresource:scale` argument `{other}`"),
                    "use specpath, statuspath or selectorpath",
                );
                continue;
            }
        };
        match resolve_path(&a.value, roots, kind, types) {
            Ok(ty) if integer && !matches!(ty, TypeRef::Int { .. }) => diags.error_hint(
                a.loc.clone(),
                format!("`{}={}` names a field that is not an integer", a.key, a.value),
                "replica counts are integers (i32)",
            ),
            Ok(ty) if !integer && ty != TypeRef::String => diags.error_hint(
                a.loc.clone(),
                format!("`selectorpath={}` names a field that is not a string", a.value),
                "the scale selector is the label selector serialized as a string, e.g. `.status.selector`",
            ),
            Ok(_) => {}
            Err(why) => diags.error_hint(
                a.loc.clone(),
                format!("`{}={}`: {why}", a.key, a.value),
                format!("write a path into the object under {}, e.g. `.{}.replicas`", roots.join(" or "), roots[0]),
            ),
        }
        *slot = Some(a.value.clone());
    }
    let (Some(spec_replicas_path), Some(status_replicas_path)) = (spec, status) else {
        diags.error_hint(
            t.loc.clone(),
            "`+kubebuilder:subresource:scale` needs `specpath=` and `statuspath=`",
            "write `+kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector`",
        );
        return None;
    };
    Some(Scale { spec_replicas_path, status_replicas_path, label_selector_path: selector })
}

/// Follows a JSON path like `.spec.replicas` through the kind's fields (by JSON name) and
/// returns the type it ends at, without Option.
pub(super) fn resolve_path(path: &str, roots: &[&str], kind: &TypeDef, types: &[TypeDef]) -> Result<TypeRef, String> {
    let Some(rest) = path.strip_prefix('.') else { return Err("a path starts with `.`".into()) };
    let parts: Vec<&str> = rest.split('.').collect();
    if parts.len() < 2 || !roots.contains(&parts[0]) {
        return Err(format!("the path must lie under .{}", roots.join(" or .")));
    }
    let mut body = &kind.body;
    let mut ty = TypeRef::Unsupported(String::new());
    for (i, part) in parts.iter().enumerate() {
        let Body::Struct(fields) = body else { return Err(format!("`{}` is not an object", parts[..i].join("."))) };
        let Some(f) = fields.iter().find(|f| f.json_name == *part) else {
            return Err(format!("there is no field `{part}` at `.{}`", parts[..i].join(".")));
        };
        ty = f.ty.clone();
        while let TypeRef::Option(inner) | TypeRef::Boxed(inner) = ty {
            ty = *inner;
        }
        if i + 1 < parts.len() {
            let TypeRef::Local(name) = &ty else { return Err(format!("`{part}` is not an object")) };
            let Some(t) = types.iter().find(|t| &t.name == name) else {
                return Err(format!("`{part}` is not an object"));
            };
            body = &t.body;
        }
    }
    Ok(ty)
}

pub(super) fn printer_column(t: &Tag, diags: &mut Diagnostics) -> Option<PrinterColumn> {
    let mut col = PrinterColumn {
        name: String::new(),
        type_: String::new(),
        json_path: String::new(),
        description: None,
        format: None,
        priority: 0,
    };
    for a in &t.args {
        match a.key.as_str() {
            "name" => col.name = a.value.clone(),
            "type" => {
                const TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];
                if !TYPES.contains(&a.value.as_str()) {
                    diags.error_hint(
                        a.loc.clone(),
                        format!("invalid printer column type `{}`", a.value),
                        format!("use one of: {}", TYPES.join(", ")),
                    );
                }
                col.type_ = a.value.clone();
            }
            "JSONPath" => col.json_path = a.value.clone(),
            "description" => col.description = Some(a.value.clone()),
            "format" => col.format = Some(a.value.clone()),
            "priority" => match a.value.parse() {
                Ok(p) => col.priority = p,
                Err(_) => {
                    diags.error(a.loc.clone(), format!("printer column priority must be an integer, got `{}`", a.value))
                }
            },
            other => diags.error_hint(
                a.loc.clone(),
                format!("unknown `+kubebuilder:printcolumn` argument `{other}`"),
                "use name, type, JSONPath, description, format or priority",
            ),
        }
    }
    let missing: Vec<&str> = [("name", &col.name), ("type", &col.type_), ("JSONPath", &col.json_path)]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| k)
        .collect();
    if !missing.is_empty() {
        diags.error_hint(
            t.loc.clone(),
            format!("`+kubebuilder:printcolumn` is missing {}", missing.join(", ")),
            "write `+kubebuilder:printcolumn:name=NODES,type=integer,JSONPath=\".spec.nodes\"`",
        );
        return None;
    }
    Some(col)
}

pub(super) fn parse_verb_list(tag: &Tag, diags: &mut Diagnostics) -> Vec<Verb> {
    let value = tag.value.as_deref().unwrap_or_default();
    let mut out = vec![];
    let mut offset = 0;
    for part in value.split(',') {
        let word = part.trim();
        let lead = part.len() - part.trim_start().len();
        let loc = Loc::new(&tag.value_loc.file, tag.value_loc.line, tag.value_loc.col + offset + lead);
        match Verb::parse(word) {
            Some(v) => out.push(v),
            None => {
                let hint = naming::suggest(word, Verb::ALL.iter().map(|v| v.as_str()))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("verbs are: {}", Verb::ALL.map(Verb::as_str).join(", ")));
                diags.error_hint(loc, format!("unknown verb `{word}` in `+{}`", tag.name), hint);
            }
        }
        offset += part.len() + 1;
    }
    out
}

/// client-gen's verb rules: readonly/onlyVerbs select, skipVerbs remove (a verb in both is an
/// error), noVerbs removes all, and the status verbs need a `status` field and no `noStatus`.
pub(super) fn client_tags(doc: &Doc, has_status: bool, diags: &mut Diagnostics) -> (Verbs, Vec<Extension>) {
    let no_verbs = doc.get("genclient:noVerbs");
    let mut only: Option<Vec<Verb>> = None;
    if doc.has("genclient:readonly") {
        only = Some(verbs::READONLY.to_vec());
    }
    if let Some(t) = doc.get("genclient:onlyVerbs") {
        only.get_or_insert_with(Vec::new).extend(parse_verb_list(t, diags));
    }
    let skip = doc.get("genclient:skipVerbs").map(|t| (t, parse_verb_list(t, diags)));
    if let (Some(only), Some((t, skip))) = (&only, &skip) {
        for v in skip.iter().filter(|v| only.contains(v)) {
            diags.error_hint(
                t.loc.clone(),
                format!("verb `{v}` is used both in `+genclient:skipVerbs` and `+genclient:onlyVerbs`"),
                "list each verb in one of them only",
            );
        }
    }
    if let Some(nv) = no_verbs {
        for other in ["genclient:readonly", "genclient:onlyVerbs", "genclient:skipVerbs", "genclient:method"] {
            if doc.has(other) {
                diags.error_hint(
                    nv.loc.clone(),
                    format!("`+genclient:noVerbs` conflicts with `+{other}`"),
                    "a type without verbs has no methods to select",
                );
            }
        }
    }
    let mut verbs = match &only {
        Some(list) => list.iter().copied().collect(),
        None => Verbs::all(),
    };
    if let Some((_, skip)) = &skip {
        for v in skip {
            verbs.remove(*v);
        }
    }
    if no_verbs.is_some() {
        verbs = Verbs::none();
    }
    if !has_status || doc.has("genclient:noStatus") {
        verbs.remove(Verb::UpdateStatus);
        verbs.remove(Verb::ApplyStatus);
    }
    let mut extensions: Vec<Extension> = vec![];
    for t in doc.all("genclient:method") {
        if let Some(e) = extension(t, diags) {
            if extensions.iter().any(|x| x.name == e.name) {
                diags.error(t.value_loc.clone(), format!("method `{}` is declared twice", e.name));
            }
            extensions.push(e);
        }
    }
    (verbs, extensions)
}

pub(super) fn extension(t: &Tag, diags: &mut Diagnostics) -> Option<Extension> {
    let value = t.value.as_deref().unwrap_or_default();
    let mut parts = value.split(',');
    let name = parts.next().unwrap_or_default().trim().to_string();
    let hint =
        "write `+genclient:method=GetScale,verb=get,subresource=scale,result=k8s_openapi::api::autoscaling::v1::Scale`";
    if !naming::is_rust_ident(&name)
        || naming::ident_problem(&naming::snake(&name)).is_some()
        || !name.starts_with(|c: char| c.is_ascii_uppercase())
    {
        diags.error_hint(t.value_loc.clone(), format!("invalid method name `{name}`"), hint);
        return None;
    }
    let mut kv = BTreeMap::new();
    for p in parts {
        match p.split_once('=') {
            Some((k, v)) => {
                kv.insert(k.trim().to_string(), v.trim().to_string());
            }
            None => {
                diags.error_hint(t.value_loc.clone(), format!("malformed `+genclient:method` argument `{p}`"), hint);
                return None;
            }
        }
    }
    for k in kv.keys() {
        if !["verb", "subresource", "input", "result"].contains(&k.as_str()) {
            diags.error_hint(
                t.value_loc.clone(),
                format!("unknown `+genclient:method` argument `{k}`"),
                "use verb, subresource, input or result",
            );
        }
    }
    let Some(verb_s) = kv.get("verb") else {
        diags.error_hint(t.value_loc.clone(), format!("method `{name}` has no `verb=`"), hint);
        return None;
    };
    let Some(verb) = Verb::parse(verb_s) else {
        diags.error_hint(
            t.value_loc.clone(),
            format!("unknown verb `{verb_s}` in method `{name}`"),
            format!("verbs are: {}", Verb::ALL.map(Verb::as_str).join(", ")),
        );
        return None;
    };
    if verbs::EXTENSION_FORBIDDEN.contains(&verb) {
        diags.error(t.value_loc.clone(), format!("method `{name}`: verb `{verb}` is not supported for custom methods"));
    }
    if kv.contains_key("input") && !verbs::EXTENSION_INPUT.contains(&verb) {
        diags.error(
            t.value_loc.clone(),
            format!("method `{name}`: `input=` is allowed only for create, update and apply"),
        );
    }
    if kv.contains_key("result") && !verbs::EXTENSION_RESULT.contains(&verb) {
        diags.error(
            t.value_loc.clone(),
            format!("method `{name}`: `result=` is allowed only for create, update, get, list, patch and apply"),
        );
    }
    for key in ["input", "result"] {
        if let Some(p) = kv.get(key)
            && syn::parse_str::<syn::Path>(p).is_err()
        {
            {
                diags.error_hint(
                    t.value_loc.clone(),
                    format!("method `{name}`: `{key}={p}` is not a Rust type path"),
                    "name the type as a Rust path, e.g. `k8s_openapi::api::autoscaling::v1::Scale`",
                );
            }
        }
    }
    Some(Extension {
        name,
        verb,
        subresource: kv.get("subresource").cloned(),
        input: kv.get("input").cloned(),
        result: kv.get("result").cloned(),
    })
}
