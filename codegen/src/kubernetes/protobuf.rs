//! Conversions between k8s-pb's prost messages (Kubernetes' protobuf wire form) and
//! k8s-openapi's types (its JSON form), so a server can take and give protobuf bodies for
//! built-in kinds with prost doing the encoding and serde doing the JSON.
//!
//! Both crates are generated from the same Go types, so their structs pair up by module and name
//! (compared without case: k8s-pb writes `HttpGetAction` where k8s-openapi writes
//! `HTTPGetAction`) and their fields by Rust name (k8s-pb writes `r#type` where k8s-openapi
//! writes `type_`). What differs is the shape: protobuf has no "absent list" and every message
//! field is optional, while k8s-openapi has `Option<Vec<_>>` and required fields. Each field's
//! conversion is picked here from the two shapes; the few types whose forms really differ
//! (times, quantities, int-or-string, raw JSON) are converted by hand in the consuming crate,
//! which provides the `Pb` trait and the shape helpers named below.

use super::openapi_crate::{self, OpenapiKind};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// The types the consuming crate converts by hand (k8s-openapi newtypes and enums).
pub const HAND_WRITTEN: [&str; 6] = [
    "apimachinery/pkg/api/resource/Quantity",
    "apimachinery/pkg/util/intstr/IntOrString",
    "apimachinery/pkg/apis/meta/v1/Time",
    "apimachinery/pkg/apis/meta/v1/MicroTime",
    "apimachinery/pkg/apis/meta/v1/FieldsV1",
    "apimachinery/pkg/runtime/RawExtension",
];

/// The recorded non-pointer scalar fields with `omitempty` (see the file's header).
pub const OMITEMPTY: &str = include_str!("omitempty-v1.37.txt");

/// `(type key in lower case, field name as [`plain`] compares it)` of [`OMITEMPTY`].
fn omitempty() -> BTreeSet<(String, String)> {
    OMITEMPTY
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(t, f)| (t.to_ascii_lowercase(), f.replace('_', "").to_ascii_lowercase()))
        .collect()
}

/// A field type, reduced to what decides its conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ty {
    Str,
    I32,
    I64,
    Bool,
    F64,
    Bytes,
    /// A struct, by key (`api/core/v1/Container`).
    Msg(String),
    Opt(Box<Ty>),
    Vec(Box<Ty>),
    /// A map from strings.
    Map(Box<Ty>),
    /// Anything else (boxed recursive messages, raw JSON values): not converted.
    Other,
}

struct Field {
    ident: syn::Ident,
    ty: Ty,
}

/// One crate's structs: key (`module/Name`) → fields; `None` for tuple structs and enums.
struct Structs {
    defs: BTreeMap<String, Option<Vec<Field>>>,
    /// Lower-case key → key.
    lower: BTreeMap<String, String>,
}

impl Structs {
    /// The key of the struct named like `key`, ignoring case (the acronym spelling differs).
    fn find(&self, key: &str) -> Option<&str> {
        match self.defs.get_key_value(key) {
            Some((k, _)) => Some(k),
            None => self.lower.get(&key.to_ascii_lowercase()).map(String::as_str),
        }
    }
}

/// A kind to convert, with its list kind when the server lists it.
#[derive(Clone, Debug)]
struct Root {
    api_version: String,
    kind: String,
    key: String,
}

/// Renders the conversions for `kinds` (`apiVersion/Kind`, as `apps/v1/Deployment` or
/// `v1/ConfigMap`) and everything they contain. `workspace` is a Cargo workspace that depends on
/// both crates (their sources are found through `cargo metadata`).
pub fn render(workspace: &Path, kinds: &[String]) -> Result<TokenStream, String> {
    let openapi_src = openapi_crate::locate_package(workspace, "k8s-openapi")?;
    let version = openapi_crate::latest_version(&openapi_src)?;
    let pb_src = openapi_crate::locate_package(workspace, "k8s-pb")?;
    let resources = openapi_crate::scan(&openapi_src, &version)?;
    let openapi = scan(&openapi_src.join(&version), false)?;
    let pb = scan(&pb_src, true)?;
    let roots = kinds.iter().map(|k| root(k, &resources)).collect::<Result<Vec<_>, _>>()?;
    Ok(generate(&roots, &openapi, &pb))
}

fn root(spec: &str, resources: &[OpenapiKind]) -> Result<Root, String> {
    let (api_version, kind) = spec.rsplit_once('/').ok_or_else(|| format!("{spec}: expected apiVersion/Kind"))?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let found = resources
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
        .ok_or_else(|| format!("{spec}: k8s-openapi has no such kind"))?;
    let key = found.rust_path.trim_start_matches("k8s_openapi::").replace("::", "/");
    Ok(Root { api_version: api_version.into(), kind: kind.into(), key })
}

/// Every struct of one crate under `dir` (k8s-pb: a `mod.rs` per group version; k8s-openapi: a
/// file per type).
fn scan(dir: &Path, pb: bool) -> Result<Structs, String> {
    let mut files = vec![];
    openapi_crate::collect(dir, &mut files)?;
    let mut defs = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(dir).unwrap_or(&file);
        let module: Vec<String> =
            rel.parent().into_iter().flat_map(|p| p.iter()).map(|c| c.to_string_lossy().into_owned()).collect();
        if module.is_empty() {
            continue;
        }
        let module = module.join("/");
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for item in ast.items {
            match item {
                syn::Item::Struct(s) => {
                    let fields = match &s.fields {
                        syn::Fields::Named(named) => Some(
                            named
                                .named
                                .iter()
                                .filter_map(|f| Some(Field { ident: f.ident.clone()?, ty: ty_of(&f.ty, &module, pb) }))
                                .collect(),
                        ),
                        _ => None,
                    };
                    defs.insert(format!("{module}/{}", s.ident), fields);
                }
                syn::Item::Enum(e) => {
                    defs.insert(format!("{module}/{}", e.ident), None);
                }
                _ => {}
            }
        }
    }
    let lower = defs.keys().map(|k| (k.to_ascii_lowercase(), k.clone())).collect();
    Ok(Structs { defs, lower })
}

fn ty_of(t: &syn::Type, module: &str, pb: bool) -> Ty {
    let syn::Type::Path(p) = t else { return Ty::Other };
    let Some(last) = p.path.segments.last() else { return Ty::Other };
    let args: Vec<&syn::Type> = match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    let arg = |i: usize| args.get(i).map_or(Ty::Other, |t| ty_of(t, module, pb));
    let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
    match last.ident.to_string().as_str() {
        "Option" => Ty::Opt(Box::new(arg(0))),
        "Vec" if arg(0) == Ty::Other && is_u8(args.first()) => Ty::Bytes,
        "Vec" => Ty::Vec(Box::new(arg(0))),
        "BTreeMap" => Ty::Map(Box::new(arg(1))),
        "String" => Ty::Str,
        "i32" => Ty::I32,
        "i64" => Ty::I64,
        "bool" => Ty::Bool,
        "f64" => Ty::F64,
        "ByteString" => Ty::Bytes,
        "Box" | "Value" | "u8" => Ty::Other,
        _ if pb => {
            let ups = segs.iter().take_while(|s| *s == "super").count();
            let mut base: Vec<&str> = module.split('/').collect();
            base.truncate(base.len().saturating_sub(ups));
            let rest: Vec<&str> = segs[ups..].iter().map(String::as_str).collect();
            Ty::Msg([base, rest].concat().join("/"))
        }
        _ if segs.first().is_some_and(|s| s == "crate") => Ty::Msg(segs[1..].join("/")),
        _ => Ty::Other,
    }
}

/// An optional string, number or bool.
fn is_scalar(t: &Ty) -> bool {
    matches!(t, Ty::Opt(i) if matches!(**i, Ty::Str | Ty::I32 | Ty::I64 | Ty::Bool | Ty::F64))
}

fn is_u8(t: Option<&&syn::Type>) -> bool {
    matches!(t, Some(syn::Type::Path(p)) if p.path.is_ident("u8"))
}

/// The Rust path of a struct of either crate.
fn path(krate: &str, key: &str) -> TokenStream {
    let text = format!("{krate}::{}", key.replace('/', "::"));
    syn::parse_str::<syn::Path>(&text).map(|p| quote!(#p)).unwrap_or_default()
}

/// Field names compared across the crates, without case and underscores: `r#type` and `type_`
/// are both `type`, `u_id` and `uid` both `uid`, `pod_cid_rs` and `pod_cidrs` both `podcidrs`.
fn plain(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    s.trim_start_matches("r#").replace('_', "").to_ascii_lowercase()
}

struct Pairs<'a> {
    pb: &'a Structs,
    omitempty: BTreeSet<(String, String)>,
    /// openapi key → pb key, for every struct pair that is converted.
    keys: BTreeMap<String, String>,
}

impl Pairs<'_> {
    fn leaf(&self, from_openapi: bool, a: &Ty, b: &Ty) -> bool {
        match (a, b) {
            (Ty::Msg(x), Ty::Msg(y)) => {
                let (o, p) = if from_openapi { (x, y) } else { (y, x) };
                self.keys.get(o).is_some_and(|k| k == p)
                    || (HAND_WRITTEN.contains(&o.as_str()) && self.pb.find(o) == Some(p.as_str()))
            }
            (Ty::Other, _) | (_, Ty::Other) => false,
            (Ty::Opt(_) | Ty::Vec(_) | Ty::Map(_), _) | (_, Ty::Opt(_) | Ty::Vec(_) | Ty::Map(_)) => false,
            _ => a == b,
        }
    }

    /// The helper that turns a value of shape `from` into shape `to`, if any.
    fn helper(&self, from_openapi: bool, from: &Ty, to: &Ty) -> Option<&'static str> {
        use Ty::*;
        let leaf = |a: &Ty, b: &Ty| self.leaf(from_openapi, a, b);
        Some(match (from, to) {
            (Opt(a), Opt(b)) if leaf(a, b) => "opt",
            (Opt(a), b) if leaf(a, b) => "req",
            (a, Opt(b)) if leaf(a, b) => "some",
            (Vec(a), Vec(b)) if leaf(a, b) => "vec",
            (Vec(a), Opt(b)) if matches!(&**b, Vec(b) if leaf(a, b)) => "vec_opt",
            (Opt(a), Vec(b)) if matches!(&**a, Vec(a) if leaf(a, b)) => "opt_vec",
            (Map(a), Map(b)) if leaf(a, b) => "map",
            (Map(a), Opt(b)) if matches!(&**b, Map(b) if leaf(a, b)) => "map_opt",
            (Opt(a), Map(b)) if matches!(&**a, Map(a) if leaf(a, b)) => "opt_map",
            _ => return None,
        })
    }
}

/// The struct pairs reachable from the roots (k8s-openapi key → k8s-pb key).
fn reachable(roots: &[Root], openapi: &Structs, pb: &Structs) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    let mut queue: VecDeque<String> = roots.iter().map(|r| r.key.clone()).collect();
    while let Some(key) = queue.pop_front() {
        if keys.contains_key(&key) || HAND_WRITTEN.contains(&key.as_str()) {
            continue;
        }
        let (Some(Some(fields)), Some(pb_key)) = (openapi.defs.get(&key), pb.find(&key)) else { continue };
        if !matches!(pb.defs.get(pb_key), Some(Some(_))) {
            continue;
        }
        keys.insert(key.clone(), pb_key.to_string());
        for f in fields {
            let mut t = &f.ty;
            while let Ty::Opt(i) | Ty::Vec(i) | Ty::Map(i) = t {
                t = i;
            }
            if let Ty::Msg(k) = t {
                queue.push_back(k.clone());
            }
        }
    }
    keys
}

fn generate(roots: &[Root], openapi: &Structs, pb: &Structs) -> TokenStream {
    let keys = reachable(roots, openapi, pb);
    let pairs = Pairs { pb, keys, omitempty: omitempty() };
    let mut out = TokenStream::new();
    let mut unconverted: BTreeSet<String> = BTreeSet::new();
    for (o_key, p_key) in &pairs.keys {
        let (Some(Some(o_fields)), Some(Some(p_fields))) = (openapi.defs.get(o_key), pb.defs.get(p_key)) else {
            continue;
        };
        let o_path = path("k8s_openapi", o_key);
        let p_path = path("k8s_pb", p_key);
        // Go's embedded structs are a nested message in protobuf and inline in JSON: a
        // protobuf field with no counterpart whose message holds k8s-openapi's fields.
        let direct = |pf: &Field| o_fields.iter().any(|of| plain(&of.ident) == plain(&pf.ident));
        let embedded: Vec<(&Field, &str, &Vec<Field>)> = p_fields
            .iter()
            .filter(|pf| !direct(pf))
            .filter_map(|pf| match &pf.ty {
                Ty::Opt(inner) => match &**inner {
                    Ty::Msg(k) => match pb.defs.get_key_value(k) {
                        Some((k, Some(fields))) => Some((pf, k.as_str(), fields)),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            })
            .collect();
        // protobuf → k8s-openapi: every k8s-openapi field is set.
        let mut lets = vec![];
        for (i, (pf, _, _)) in embedded.iter().enumerate() {
            let pi = &pf.ident;
            let var = quote::format_ident!("embedded_{i}");
            lets.push(quote!(let #var = self.#pi.unwrap_or_default();));
        }
        let mut to_openapi = vec![];
        for of in o_fields {
            let oi = &of.ident;
            let direct = p_fields.iter().find(|pf| plain(&pf.ident) == plain(oi)).map(|pf| (quote!(self), pf));
            let nested = || {
                embedded.iter().enumerate().find_map(|(i, (_, _, fields))| {
                    let var = quote::format_ident!("embedded_{i}");
                    fields.iter().find(|pf| plain(&pf.ident) == plain(oi)).map(|pf| (quote!(#var), pf))
                })
            };
            let expr = direct.or_else(nested).and_then(|(from, pf)| {
                let mut helper = pairs.helper(false, &pf.ty, &of.ty)?;
                // Go's JSON leaves out the zero of a non-pointer `omitempty` field.
                let key = o_key.to_ascii_lowercase();
                if helper == "opt" && is_scalar(&pf.ty) && pairs.omitempty.contains(&(key, plain(oi))) {
                    helper = "nz";
                }
                let h = syn::Ident::new(helper, proc_macro2::Span::call_site());
                let pi = &pf.ident;
                Some(quote!(#h(#from.#pi)))
            });
            let expr = expr.unwrap_or_else(|| {
                unconverted.insert(format!("{o_key}.{oi}"));
                quote!(::core::default::Default::default())
            });
            to_openapi.push(quote!(#oi: #expr));
        }
        // k8s-openapi → protobuf: the fields with a counterpart; prost's defaults for the rest.
        let to_pb_fields = |fields: &Vec<Field>, key: &str, unconverted: &mut BTreeSet<String>| {
            let mut out = vec![];
            for pf in fields {
                let pi = &pf.ident;
                let Some(of) = o_fields.iter().find(|of| plain(&of.ident) == plain(pi)) else {
                    if !embedded.iter().any(|(e, _, _)| e.ident == *pi) {
                        unconverted.insert(format!("{key}.{pi} (protobuf only)"));
                    }
                    continue;
                };
                let Some(helper) = pairs.helper(true, &of.ty, &pf.ty) else { continue };
                let h = syn::Ident::new(helper, proc_macro2::Span::call_site());
                let oi = &of.ident;
                out.push(quote!(#pi: #h(self.#oi)));
            }
            out
        };
        let mut to_pb = to_pb_fields(p_fields, p_key, &mut unconverted);
        for (pf, key, fields) in &embedded {
            let inner = to_pb_fields(fields, key, &mut unconverted);
            let pi = &pf.ident;
            let e_path = path("k8s_pb", key);
            to_pb.push(quote!(#pi: Some(#e_path { #(#inner,)* ..::core::default::Default::default() })));
        }
        out.extend(quote! {
            impl Pb<#o_path> for #p_path {
                fn pb(self) -> #o_path {
                    #(#lets)*
                    #o_path { #(#to_openapi,)* }
                }
            }
            impl Pb<#p_path> for #o_path {
                fn pb(self) -> #p_path {
                    #p_path { #(#to_pb,)* ..::core::default::Default::default() }
                }
            }
        });
    }
    let mut decode = vec![];
    let mut encode = vec![];
    let mut encode_list = vec![];
    let mut kinds = vec![];
    for r in roots {
        let Some(p_key) = pairs.keys.get(&r.key) else { continue };
        let (av, kind) = (&r.api_version, &r.kind);
        let o_path = path("k8s_openapi", &r.key);
        let p_path = path("k8s_pb", p_key);
        kinds.push(quote!((#av, #kind)));
        decode.push(quote!((#av, #kind) => decode_as::<#p_path, #o_path>(raw)));
        encode.push(quote!((#av, #kind) => encode_as::<#o_path, #p_path>(obj)));
        let list_key = format!("{p_key}List");
        if let Some(Some(fields)) = pb.defs.get(&list_key) {
            let names: BTreeSet<String> = fields.iter().map(|f| plain(&f.ident)).collect();
            if names == BTreeSet::from(["metadata".to_string(), "items".to_string()]) {
                let l_path = path("k8s_pb", &list_key);
                encode_list.push(quote! {
                    (#av, #kind) => encode_list_as::<#o_path, #p_path, #l_path>(
                        list_meta, items, |metadata, items| #l_path { metadata, items },
                    )
                });
            }
        }
    }
    let note = format!(
        " Fields with no counterpart in the other crate (left at their default): {}.",
        if unconverted.is_empty() {
            "none".to_string()
        } else {
            unconverted.into_iter().collect::<Vec<_>>().join(", ")
        }
    );
    quote! {
        //! Conversions between k8s-pb's messages and k8s-openapi's types for the built-in kinds
        //! served with protobuf bodies, and everything they contain.
        #![doc = #note]
        #![allow(clippy::all, unused_imports, unused_variables)]
        use super::convert::{Pb, decode_as, encode_as, encode_list_as, map, map_opt, nz, opt, opt_map, opt_vec, req, some, vec, vec_opt};

        /// The kinds with a protobuf form, as (apiVersion, kind).
        pub const KINDS: &[(&str, &str)] = &[#(#kinds,)*];

        /// The JSON object of the protobuf message `raw` of a kind in [`KINDS`]; `None` for other kinds.
        pub fn decode(api_version: &str, kind: &str, raw: &[u8]) -> Option<Result<serde_json::Value, String>> {
            Some(match (api_version, kind) {
                #(#decode,)*
                _ => return None,
            })
        }

        /// The protobuf message of the JSON object `obj` of a kind in [`KINDS`]; `None` for other kinds.
        pub fn encode(api_version: &str, kind: &str, obj: &serde_json::Value) -> Option<Result<Vec<u8>, String>> {
            Some(match (api_version, kind) {
                #(#encode,)*
                _ => return None,
            })
        }

        /// The protobuf list message (`<Kind>List`) of items of a kind in [`KINDS`].
        pub fn encode_list(
            api_version: &str,
            kind: &str,
            list_meta: &serde_json::Value,
            items: &[&serde_json::Value],
        ) -> Option<Result<Vec<u8>, String>> {
            Some(match (api_version, kind) {
                #(#encode_list,)*
                _ => return None,
            })
        }

        #out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_pair_across_the_crates() {
        let id = |s: &str| syn::parse_str::<syn::Ident>(s).unwrap();
        assert_eq!(plain(&id("r#type")), plain(&id("type_")));
        assert_eq!(plain(&id("u_id")), plain(&id("uid")));
        assert_eq!(plain(&id("pod_cid_rs")), plain(&id("pod_cidrs")));
        assert_ne!(plain(&id("name")), plain(&id("namespace")));
    }

    #[test]
    fn types_reduce_to_their_shape_with_resolved_paths() {
        let ty = |s: &str, pb: bool| ty_of(&syn::parse_str::<syn::Type>(s).unwrap(), "api/core/v1", pb);
        assert_eq!(
            ty("::core::option::Option<super::super::super::apimachinery::pkg::apis::meta::v1::ObjectMeta>", true),
            Ty::Opt(Box::new(Ty::Msg("apimachinery/pkg/apis/meta/v1/ObjectMeta".into())))
        );
        assert_eq!(
            ty("::prost::alloc::vec::Vec<Container>", true),
            Ty::Vec(Box::new(Ty::Msg("api/core/v1/Container".into())))
        );
        assert_eq!(ty("::core::option::Option<::prost::alloc::vec::Vec<u8>>", true), Ty::Opt(Box::new(Ty::Bytes)));
        assert_eq!(
            ty("Option<std::collections::BTreeMap<std::string::String, crate::ByteString>>", false),
            Ty::Opt(Box::new(Ty::Map(Box::new(Ty::Bytes))))
        );
        assert_eq!(ty("crate::api::core::v1::PodSpec", false), Ty::Msg("api/core/v1/PodSpec".into()));
        assert_eq!(ty("::prost::alloc::boxed::Box<JsonSchemaProps>", true), Ty::Other);
    }

    #[test]
    fn the_omitempty_recording_is_read() {
        let set = omitempty();
        assert!(set.contains(&("api/apps/v1/deploymentspec".into(), "paused".into())));
        assert!(!set.contains(&("api/apps/v1/deploymentspec".into(), "replicas".into())), "a pointer field");
    }
}
