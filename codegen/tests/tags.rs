//! Table-driven tests of every tag the generator reads and every error it reports.
//!
//! Each case writes a small apis crate into a temporary directory. In error cases the fixture
//! marks the expected position with `$`: the test strips it, and asserts that the diagnostic
//! names exactly that `file:line:col`, and that no file was written or changed.

mod common;

use codegen::model::Kind;
use codegen::verbs::Verb;
use common::{Fixture, VERSION_MOD, foo};

fn verbs(k: &Kind) -> Vec<&'static str> {
    k.verbs.iter().map(Verb::as_str).collect()
}

const ALL: [&str; 11] = [
    "create",
    "update",
    "updateStatus",
    "delete",
    "deleteCollection",
    "get",
    "list",
    "watch",
    "patch",
    "apply",
    "applyStatus",
];

#[test]
fn verb_tags() {
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("", ALL.to_vec()),
        ("/// +genclient:noStatus\n", ALL.iter().copied().filter(|v| !v.ends_with("Status")).collect()),
        ("/// +genclient:readonly\n", vec!["get", "list", "watch"]),
        ("/// +genclient:onlyVerbs=create,get\n", vec!["create", "get"]),
        ("/// +genclient:onlyVerbs=get, list\n", vec!["get", "list"]),
        (
            "/// +genclient:skipVerbs=delete,deleteCollection\n",
            ALL.iter().copied().filter(|v| !v.starts_with("delete")).collect(),
        ),
        // code-generator unions readonly with onlyVerbs.
        ("/// +genclient:readonly\n/// +genclient:onlyVerbs=create\n", vec!["create", "get", "list", "watch"]),
        (
            "/// +genclient:onlyVerbs=get,list,watch,updateStatus\n/// +genclient:noStatus\n",
            vec!["get", "list", "watch"],
        ),
        ("/// +genclient:noVerbs\n", vec![]),
    ];
    for (tags, want) in cases {
        let f = Fixture::new(&foo(tags));
        assert_eq!(verbs(&f.kind("Foo")), want, "tags: {tags:?}");
    }
}

#[test]
fn status_verbs_need_a_status_field() {
    let src = foo("").replace("    pub status: Option<FooStatus>,\n", "");
    let f = Fixture::new(&src);
    let k = f.kind("Foo");
    assert!(!k.has_status);
    assert_eq!(verbs(&k), ALL.iter().copied().filter(|v| !v.ends_with("Status")).collect::<Vec<_>>());
}

#[test]
fn scope_names_and_crd_markers() {
    let f = Fixture::new(&foo("/// +genclient:nonNamespaced\n\
         /// +resourceName=fooz\n\
         /// +kubebuilder:subresource:status\n\
         /// +kubebuilder:resource:shortName=f;fo,categories=all,singular=foo\n\
         /// +kubebuilder:printcolumn:name=READY,type=integer,JSONPath=\".status.ready\",priority=1,description=\"ready, replicas\"\n\
         /// +kubebuilder:storageversion\n"));
    let k = f.kind("Foo");
    assert!(!k.namespaced);
    assert_eq!(k.plural, "fooz");
    assert_eq!(k.singular, "foo");
    assert_eq!(k.list_name, "FooList");
    assert!(k.status_subresource && k.storage_version);
    assert_eq!(k.short_names, ["f", "fo"]);
    assert_eq!(k.categories, ["all"]);
    let c = &k.printer_columns[0];
    assert_eq!(
        (c.name.as_str(), c.type_.as_str(), c.json_path.as_str(), c.priority),
        ("READY", "integer", ".status.ready", 1)
    );
    assert_eq!(c.description.as_deref(), Some("ready, replicas"));

    let f = Fixture::new(&foo("/// +kubebuilder:resource:scope=Cluster,path=foobars\n"));
    let k = f.kind("Foo");
    assert!(!k.namespaced);
    assert_eq!(k.plural, "foobars");
}

#[test]
fn pluralisation_follows_gengo() {
    for (kind, plural) in
        [("Policy", "policies"), ("Mesh", "meshes"), ("Box", "boxes"), ("Leaf", "leaves"), ("Gateway", "gateways")]
    {
        let src = foo("").replace("Foo", kind);
        let f = Fixture::new(&src);
        assert_eq!(f.kind(kind).plural, plural);
    }
}

#[test]
fn group_names() {
    let f = Fixture::new(&foo(""));
    let m = f.model();
    assert_eq!(m.groups[0].name, "example.com");
    assert_eq!(m.groups[0].go_name, "Example");
    assert_eq!(m.groups[0].module, "example");

    let f = Fixture::with_files(&[
        (
            "src/example/mod.rs",
            "//! +groupName=policy.authorization.example.com\n//! +groupGoName=PolicyAuthorization\npub mod v1;\n",
        ),
        ("src/example/v1/types.rs", &foo("")),
    ]);
    assert_eq!(f.model().groups[0].go_name, "PolicyAuthorization");

    // +groupName may also sit on the version package, as in Go's doc.go.
    let f = Fixture::with_files(&[
        ("src/example/mod.rs", "pub mod v1;\n"),
        ("src/example/v1/mod.rs", &format!("//! +groupName=other.example.com\n{VERSION_MOD}")),
        ("src/example/v1/types.rs", &foo("")),
    ]);
    assert_eq!(f.model().groups[0].name, "other.example.com");
}

#[test]
fn method_extensions() {
    let f = Fixture::new(&foo(
        "/// +genclient:method=GetScale,verb=get,subresource=scale,result=k8s_openapi::api::autoscaling::v1::Scale\n\
         /// +genclient:method=UpdateScale,verb=update,subresource=scale,input=k8s_openapi::api::autoscaling::v1::Scale,result=k8s_openapi::api::autoscaling::v1::Scale\n",
    ));
    let k = f.kind("Foo");
    assert_eq!(k.extensions.len(), 2);
    assert_eq!(k.extensions[0].name, "GetScale");
    assert_eq!(k.extensions[0].verb, Verb::Get);
    assert_eq!(k.extensions[0].subresource.as_deref(), Some("scale"));
    assert_eq!(k.extensions[1].input.as_deref(), Some("k8s_openapi::api::autoscaling::v1::Scale"));
}

#[test]
fn deepcopy_tags() {
    let src = foo("")
        + "\n/// Not copied.\n///\n/// +k8s:deepcopy-gen=false\n#[derive(Clone)]\npub struct Manual {\n    pub x: i32,\n}\n";
    let f = Fixture::new(&src);
    let m = f.model();
    let v = &m.groups[0].versions[0];
    assert!(v.ty("Foo").unwrap().deepcopy && v.ty("FooSpec").unwrap().deepcopy);
    assert!(!v.ty("Manual").unwrap().deepcopy);
    assert!(v.ty("Foo").unwrap().object && v.ty("FooList").unwrap().object && !v.ty("FooSpec").unwrap().object);

    // Without the package tag, only types that opt in are copied.
    let src = foo("/// +k8s:deepcopy-gen=true\n")
        .replace(
            "#[derive(Debug, Default, Serialize, Deserialize)]\npub struct FooSpec",
            "#[derive(Debug, Default, Clone, Serialize, Deserialize)]\npub struct FooSpec",
        )
        .replace(
            "#[derive(Debug, Default, Serialize, Deserialize)]\npub struct FooStatus",
            "#[derive(Debug, Default, Clone, Serialize, Deserialize)]\npub struct FooStatus",
        );
    let f = Fixture::with_files(&[
        (
            "src/example/v1/mod.rs",
            "mod types;\npub use types::*;\ninclude!(concat!(env!(\"OUT_DIR\"), \"/codegen/example/v1.rs\"));\n",
        ),
        ("src/example/v1/types.rs", &src),
    ]);
    let m = f.model();
    let v = &m.groups[0].versions[0];
    assert!(v.ty("Foo").unwrap().deepcopy);
    assert!(!v.ty("FooSpec").unwrap().deepcopy);
}

#[test]
fn field_markers_and_serde() {
    let src = foo("").replace(
        "    /// Replicas.\n    pub replicas: i32,\n",
        "    /// Replicas.\n    /// +kubebuilder:validation:Minimum=1\n    /// +kubebuilder:validation:Maximum=10\n    /// +kubebuilder:default=3\n    pub replicas: i32,\n    /// Mode.\n    /// +kubebuilder:validation:Enum=fast;slow\n    /// +optional\n    #[serde(rename = \"runMode\", default)]\n    pub mode: String,\n    /// Tags.\n    /// +kubebuilder:validation:MaxItems=3\n    /// +kubebuilder:validation:items:Pattern=`^[a-z]+`\n    /// +listType=set\n    #[serde(default, skip_serializing_if = \"Vec::is_empty\")]\n    pub tags: Vec<String>,\n",
    );
    let f = Fixture::new(&src);
    let m = f.model();
    let t = m.groups[0].versions[0].ty("FooSpec").unwrap().clone();
    let codegen::model::Body::Struct(fields) = &t.body else { panic!() };
    let replicas = &fields[0];
    assert_eq!(replicas.markers.validations, [("Minimum".to_string(), 1.into()), ("Maximum".to_string(), 10.into())]);
    assert_eq!(replicas.markers.default, Some(3.into()));
    assert!(replicas.required(false));
    let mode = &fields[1];
    assert_eq!(mode.json_name, "runMode");
    assert_eq!(mode.markers.validations, [("Enum".to_string(), serde_json::json!(["fast", "slow"]))]);
    assert!(!mode.required(false));
    let tags = &fields[2];
    assert_eq!(tags.markers.item_validations, [("Pattern".to_string(), "^[a-z]+".into())]);
    assert_eq!(tags.markers.list_type.as_deref(), Some("set"));
    assert!(!tags.required(false));
}

// ---- errors: each at an exact position, with nothing written ----

#[test]
fn unknown_tag_suggests_the_right_one() {
    let f = Fixture::new(&foo("/// $+genclient:nonNamespace\n"));
    let d = f.assert_error_at_marker("unknown tag `+genclient:nonNamespace`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `+genclient:nonNamespaced`?"));

    let f = Fixture::new(&foo("/// $+kubebuilder:validation:minimum=1\n"));
    let d = f.assert_error_at_marker("unknown tag `+kubebuilder:validation:minimum`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `+kubebuilder:validation:Minimum`?"));

    let f = Fixture::new(&foo("/// $+frobnicate\n"));
    f.assert_error_at_marker("unknown tag `+frobnicate`");
}

#[test]
fn genclient_with_a_value_is_an_error() {
    let f = Fixture::new(&foo("").replace("/// +genclient\n", "/// $+genclient=true\n"));
    f.assert_error_at_marker("`+genclient=true` is invalid");
}

#[test]
fn old_forms_are_errors() {
    let f = Fixture::new(&foo("/// $+nonNamespaced=true\n"));
    let d = f.assert_error_at_marker("old form");
    assert_eq!(d.hint.as_deref(), Some("use `+genclient:nonNamespaced`"));
}

#[test]
fn unknown_verb_points_at_the_verb() {
    let f = Fixture::new(&foo("/// +genclient:onlyVerbs=get,$lisst\n"));
    let d = f.assert_error_at_marker("unknown verb `lisst`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `list`?"));
    let f = Fixture::new(&foo("/// +genclient:skipVerbs=$frob\n"));
    f.assert_error_at_marker("unknown verb `frob`");
}

#[test]
fn verb_in_both_lists() {
    let f = Fixture::new(&foo("/// +genclient:onlyVerbs=get,list\n/// $+genclient:skipVerbs=list\n"));
    f.assert_error_at_marker("verb `list` is used both in `+genclient:skipVerbs` and `+genclient:onlyVerbs`");
}

#[test]
fn no_verbs_conflicts() {
    let f = Fixture::new(&foo("/// $+genclient:noVerbs\n/// +genclient:readonly\n"));
    f.assert_error_at_marker("`+genclient:noVerbs` conflicts with `+genclient:readonly`");
}

#[test]
fn bad_method_extensions() {
    let f = Fixture::new(&foo("/// +genclient:method=$Watcher,verb=watch\n"));
    f.assert_error_at_marker("verb `watch` is not supported for custom methods");
    let f = Fixture::new(&foo("/// +genclient:method=$GetScale,verb=get,input=Scale\n"));
    f.assert_error_at_marker("`input=` is allowed only for create, update and apply");
    let f = Fixture::new(&foo("/// +genclient:method=$GetScale,subresource=scale\n"));
    f.assert_error_at_marker("method `GetScale` has no `verb=`");
    let f = Fixture::new(&foo("/// +genclient:method=$getScale,verb=get\n"));
    f.assert_error_at_marker("invalid method name `getScale`");
}

#[test]
fn kind_without_object_meta() {
    let src = foo("").replace("pub struct Foo {\n    pub metadata: ObjectMeta,\n", "pub struct $Foo {\n");
    let f = Fixture::new(&src);
    f.assert_error_at_marker("`+genclient` type `Foo` has no ObjectMeta");
}

#[test]
fn kind_without_list_type() {
    let src =
        foo("").replace("pub struct FooList", "pub struct FooItems").replace("pub struct Foo {", "pub struct $Foo {");
    let f = Fixture::new(&src);
    let d = f.assert_error_at_marker("has no list type `FooList`");
    assert!(d.hint.unwrap().contains("pub struct FooList"));
}

#[test]
fn malformed_list_type() {
    let src = foo("").replace(
        "pub struct FooList {\n    pub metadata: ListMeta,\n    pub items: Vec<Foo>,",
        "pub struct $FooList {\n    pub metadata: ListMeta,\n    pub items: Vec<String>,",
    );
    let f = Fixture::new(&src);
    f.assert_error_at_marker("list type `FooList` must have");
}

#[test]
fn unsupported_field_type() {
    let src = foo("").replace("    pub replicas: i32,\n", "    pub replicas: $std::path::PathBuf,\n");
    let f = Fixture::new(&src);
    let d = f.assert_error_at_marker("unsupported field type `std :: path :: PathBuf`");
    assert!(d.hint.unwrap().contains("k8s-openapi types"));
}

#[test]
fn two_kinds_one_plural() {
    // bar.rs is read before types.rs, so the second declaration of the plural is Foo's.
    let bar = foo("/// +resourceName=foos\n").replace("Foo", "Bar");
    let types = foo("").replace("pub struct Foo {", "pub struct $Foo {");
    let f = Fixture::with_files(&[("src/example/v1/types.rs", &types), ("src/example/v1/bar.rs", &bar)]);
    let d = f.assert_error_at_marker("kinds `Bar` and `Foo` share the resource name `foos`");
    assert!(d.hint.unwrap().contains("+resourceName"));
}

#[test]
fn tag_in_the_wrong_place() {
    let f = Fixture::new(&foo("/// $+groupName=example.com\n"));
    f.assert_error_at_marker("tag `+groupName` belongs on the package");
    let src = foo("").replace("    /// Replicas.\n", "    /// Replicas.\n    /// $+genclient\n");
    let f = Fixture::new(&src);
    f.assert_error_at_marker("tag `+genclient` belongs on a struct or enum");
}

#[test]
fn invalid_marker_values() {
    let src =
        foo("").replace("    /// Replicas.\n", "    /// Replicas.\n    /// +kubebuilder:validation:Minimum=$ten\n");
    Fixture::new(&src).assert_error_at_marker("needs a number, got `ten`");
    let f = Fixture::new(&foo("/// $+kubebuilder:printcolumn:name=X,type=integer\n"));
    f.assert_error_at_marker("`+kubebuilder:printcolumn` is missing JSONPath");
    let f = Fixture::new(&foo("/// +kubebuilder:printcolumn:name=X,$kind=integer,JSONPath=.a,type=string\n"));
    f.assert_error_at_marker("unknown `+kubebuilder:printcolumn` argument `kind`");
}

#[test]
fn derives_that_the_generator_writes() {
    let src = foo("")
        .replace("#[derive(Debug, Default)]\npub struct Foo {", "#[derive(Debug, Default, $Clone)]\npub struct Foo {");
    Fixture::new(&src).assert_error_at_marker("`Foo` derives Clone, but deepcopy-gen generates it");
    let src = foo("").replace(
        "#[derive(Debug, Default)]\npub struct FooList",
        "#[derive(Debug, $serde::Serialize)]\npub struct FooList",
    );
    Fixture::new(&src).assert_error_at_marker("`FooList` derives Serialize, but the generator writes it");
}

#[test]
fn missing_group_name_and_include() {
    let f = Fixture::with_files(&[
        ("src/example/mod.rs", "pub mod v1;\n"),
        ("src/example/v1/types.rs", &foo("").replace("pub struct Foo {", "pub struct $Foo {")),
    ]);
    f.assert_error_at_marker("which has no `+groupName`");

    let f = Fixture::with_files(&[
        ("src/example/v1/mod.rs", "$//! +k8s:deepcopy-gen=package\nmod types;\npub use types::*;\n"),
        ("src/example/v1/types.rs", &foo("")),
    ]);
    let d = f.assert_error_at_marker("does not include its generated code");
    assert!(d.hint.unwrap().contains("include!(concat!(env!(\"OUT_DIR\"), \"/codegen/example/v1.rs\"))"));
}

#[test]
fn no_tagged_types_fails_and_says_where_it_looked() {
    let src = foo("").replace("/// +genclient\n", "");
    let f = Fixture::new(&src);
    let diags = f.errors();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.starts_with("no `+genclient` types found; looked in: "), "{}", diags[0]);
    assert!(diags[0].message.contains("example"), "{}", diags[0]);
    assert_eq!(diags[0].loc.file.as_ref(), f.root().join("src"));
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let src = foo("/// +genclient:nonNamespace\n/// +genclient:onlyVerbs=frob\n")
        .replace("    pub replicas: i32,\n", "    pub replicas: char,\n");
    let diags = Fixture::new(&src).errors();
    assert_eq!(diags.len(), 3, "{diags:#?}");
    let text = codegen::Error::Diagnostics(diags).to_string();
    assert!(text.ends_with("3 errors; nothing was written"), "{text}");
    for line in text.lines().filter(|l| l.contains(": error: ")) {
        let (pos, _) = line.split_once(": error: ").unwrap();
        let mut parts = pos.rsplitn(3, ':');
        let col: usize = parts.next().unwrap().parse().expect("col");
        let row: usize = parts.next().unwrap().parse().expect("line");
        assert!(col > 0 && row > 0, "{line}");
        assert!(parts.next().unwrap().ends_with("types.rs"), "{line}");
    }
}

#[test]
fn storage_version_required_with_several_versions() {
    let v2_mod = VERSION_MOD.replace("v1.rs", "v2.rs");
    let f = Fixture::with_files(&[
        ("src/example/mod.rs", "//! +groupName=example.com\npub mod v1;\npub mod v2;\n"),
        ("src/example/v1/types.rs", &foo("")),
        ("src/example/v2/mod.rs", &v2_mod),
        ("src/example/v2/types.rs", &foo("").replace("pub struct Foo {", "pub struct $Foo {")),
    ]);
    f.assert_error_at_marker("needs exactly one storage version");
}
