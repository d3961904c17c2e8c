//! Property tests (fuzzing) of the two places hostile input enters: the tag grammar and the
//! lowering of Rust types into the model and the CRD schema. The property is the same for both:
//! whatever the input, the generator returns (a model, or diagnostics with positions inside the
//! input) and never panics; a failed run writes nothing.
//!
//! `PROPTEST_CASES=1000000 timeout 600 cargo test -p codegen --test fuzz` runs it for ten minutes.
//! A stack overflow aborts the process before proptest can report the case: with
//! `FUZZ_LAST_INPUT=<file>` every type tree is written there before it runs, so the file holds
//! the input that crashed.

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use codegen::diag::Diagnostics;
use codegen::tags::{Place, Source};
use common::{Fixture, tree};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use proptest::prelude::*;

/// The number of cases: `default`, or `$PROPTEST_CASES` for a long run (a `cases` written in the
/// config would override the variable proptest itself reads).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Tag-like lines: registered names and near misses, with values full of the characters the
/// grammar treats specially.
fn tag_line() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "genclient",
        "genclient:nonNamespaced",
        "genclient:onlyVerbs",
        "genclient:skipVerbs",
        "genclient:method",
        "groupName",
        "groupGoName",
        "resourceName",
        "k8s:deepcopy-gen",
        "k8s:deepcopy-gen:interfaces",
        "kubebuilder:printcolumn",
        "kubebuilder:resource",
        "kubebuilder:subresource:scale",
        "kubebuilder:validation:Pattern",
        "kubebuilder:validation:Minimum",
        "kubebuilder:validation:items:MaxLength",
        "kubebuilder:validation:Enum",
        "kubebuilder:validation:XValidation",
        "kubebuilder:default",
        "listType",
        "listMapKey",
        "optional",
        "genclient:",
        "kubebuilder:",
        "",
    ]);
    let value = "[a-zA-Z0-9 =,;:\"`\\\\.()\\[\\]{}^$*+?|/'-]{0,40}|[\\PC]{0,12}";
    (names, prop::sample::select(vec!["", "=", ":", "=\"", ":key="]), value)
        .prop_map(|(n, sep, v)| format!("+{n}{sep}{v}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn tag_lines_never_panic(lines in prop::collection::vec(tag_line(), 1..6), place in 0..3u8) {
        let docs: String = lines.iter().map(|l| format!("/// {}\n", l.replace('\n', " "))).collect();
        let text = format!("{docs}pub struct X;\n");
        // A line that makes the doc comment invalid Rust is not the tag parser's business.
        let Ok(file) = syn::parse_file(&text) else { return Ok(()) };
        let syn::Item::Struct(s) = &file.items[0] else { return Ok(()) };
        let place = [Place::Package, Place::Type, Place::Field][place as usize];
        let source = Source::new(Arc::from(Path::new("x.rs")), &text);
        let mut diags = Diagnostics::default();
        let doc = source.doc(&s.attrs, place, &mut diags);
        let lines_in_file = text.lines().count();
        for d in diags.into_sorted() {
            prop_assert!(d.loc.line >= 1 && d.loc.line <= lines_in_file, "{d}");
            prop_assert!(d.loc.col >= 1, "{d}");
        }
        for t in doc.tags {
            prop_assert!(t.loc.line >= 1 && t.loc.line <= lines_in_file);
        }
    }
}

/// A field type over the package's structs `S0..Sn`: scalars, containers, references to other
/// structs (including cycles), and types the schema cannot express.
fn field_type(structs: usize) -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        8 => prop::sample::select(vec![
            "String",
            "i32",
            "u64",
            "f64",
            "bool",
            "serde_json::Value",
            "k8s_openapi::apimachinery::pkg::api::resource::Quantity",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec!["char", "(i32, i32)", "E"]).prop_map(str::to_string),
        4 => (0..structs).prop_map(|i| format!("S{i}")),
    ];
    leaf.prop_recursive(6, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| format!("Option<{t}>")),
            inner.clone().prop_map(|t| format!("Vec<{t}>")),
            inner.clone().prop_map(|t| format!("Box<{t}>")),
            inner.clone().prop_map(|t| format!("std::collections::BTreeMap<String, {t}>")),
            inner.prop_map(|t| format!("std::collections::HashMap<i32, {t}>")),
        ]
    })
}

/// Field markers, valid and not.
fn field_marker() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "/// +optional\n",
        "/// +kubebuilder:validation:Minimum=1\n/// +kubebuilder:validation:Maximum=0\n",
        "/// +kubebuilder:validation:Pattern=`^[a-z]+$`\n",
        "/// +kubebuilder:validation:Pattern=`(`\n",
        "/// +listType=map\n/// +listMapKey=name\n",
        "/// +kubebuilder:validation:items:MinLength=2\n",
        "/// +kubebuilder:default=3\n",
        "#[serde(flatten)]\n",
        "#[serde(rename = \"x-y\")]\n",
        "#[serde(skip)]\n",
    ])
    .prop_map(str::to_string)
}

fn type_tree() -> impl Strategy<Value = String> {
    (1..6usize).prop_flat_map(|n| {
        let structs = prop::collection::vec(prop::collection::vec((field_type(n), field_marker()), 0..4), n);
        let enums = prop::bool::ANY;
        (structs, enums, field_type(n))
    })
    .prop_map(|(structs, with_enum, spec)| {
        let mut src = String::from(
            "use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};\nuse serde::{Deserialize, Serialize};\n\n\
             /// A Foo.\n/// +genclient\n#[derive(Debug, Default)]\npub struct Foo {\n    pub metadata: ObjectMeta,\n",
        );
        src.push_str(&format!("    pub spec: {spec},\n}}\n\n/// List.\n#[derive(Debug, Default)]\npub struct FooList {{\n    pub metadata: ListMeta,\n    pub items: Vec<Foo>,\n}}\n"));
        for (i, fields) in structs.iter().enumerate() {
            src.push_str(&format!("/// S{i}.\n#[derive(Debug, Default, Serialize, Deserialize)]\npub struct S{i} {{\n"));
            for (j, (ty, marker)) in fields.iter().enumerate() {
                src.push_str(&format!("    /// Field {j}.\n    {marker}    pub f{j}: {ty},\n"));
            }
            src.push_str("}\n");
        }
        if with_enum {
            src.push_str("/// E.\n#[derive(Debug, Default, Serialize, Deserialize)]\npub enum E {\n    #[default]\n    A,\n    B(i32),\n}\n");
        }
        src
    })
}

/// Both outcomes must be common, or the property tests only one path.
static OK_RUNS: AtomicUsize = AtomicUsize::new(0);
static FAILED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn type_trees_reach_both_outcomes() {
    type_trees_never_panic_and_failures_write_nothing();
    let (ok, failed) = (OK_RUNS.load(Ordering::Relaxed), FAILED_RUNS.load(Ordering::Relaxed));
    assert!(ok * 10 >= ok + failed && failed * 10 >= ok + failed, "{ok} succeeded, {failed} failed");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn type_trees_never_panic_and_failures_write_nothing(src in type_tree()) {
        if let Some(p) = std::env::var_os("FUZZ_LAST_INPUT") { fs::write(p, &src).unwrap(); }
        let f = Fixture::new(&src);
        let out = tempfile::tempdir().unwrap();
        let r = codegen::Config::new().input(f.root()).crd_dir(out.path().join("crd")).output(out.path().join("gen")).run();
        match r {
            Ok(report) => {
                OK_RUNS.fetch_add(1, Ordering::Relaxed);
                prop_assert!(!report.changes.is_empty());
                // What is written is a CRD the API types describe.
                let text = fs::read_to_string(out.path().join("crd/example.com_foos.yaml")).unwrap();
                let crd: Result<CustomResourceDefinition, _> = serde_yaml::from_str(&text);
                prop_assert!(crd.is_ok(), "{text}");
            }
            Err(codegen::Error::Diagnostics(d)) => {
                FAILED_RUNS.fetch_add(1, Ordering::Relaxed);
                prop_assert!(!d.is_empty());
                for x in &d {
                    prop_assert!(x.loc.file.starts_with(f.root()), "{x}");
                }
                prop_assert!(tree(out.path()).is_empty(), "a failed run wrote {:?}", tree(out.path()));
            }
            Err(e) => prop_assert!(false, "not a diagnostic: {e}"),
        }
        let _ = fs::remove_dir_all(out.path());
    }
}
