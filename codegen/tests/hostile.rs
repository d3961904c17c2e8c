//! Hostile input: every case that once panicked, overflowed the stack, passed silently, wrote a
//! CRD Kubernetes would refuse, left half a set of files, or deleted files it did not own.
//! Each test shows the error text and that nothing was written (see `Fixture::errors`).

mod common;

use std::fs;
use std::path::Path;

use codegen::Change;
use common::{Fixture, VERSION_MOD, foo, tree};

/// An apis crate whose group module says `//! +groupName=<value>`, `$` marking the value.
fn group_named(value: &str) -> Fixture {
    let group = format!("//! +groupName=${value}\npub mod v1;\n");
    Fixture::with_files(&[("src/example/mod.rs", &group), ("src/example/v1/types.rs", &foo(""))])
}

#[test]
fn empty_group_name() {
    let d = group_named("").assert_error_at_marker("invalid group name ``");
    assert!(d.hint.unwrap().contains("DNS subdomain"));
}

#[test]
fn group_name_with_a_path() {
    group_named("../x").assert_error_at_marker("invalid group name `../x`");
}

#[test]
fn group_whose_rust_name_is_not_an_identifier() {
    let d = group_named("1x.example.com").assert_error_at_marker("group `1x.example.com` gives the Rust name `1x`");
    assert!(d.hint.unwrap().contains("+groupGoName"));
}

#[test]
fn kinds_named_after_reserved_words() {
    for (kind, module) in [("Crate", "crate"), ("Super", "super"), ("Self_", "self")] {
        let src = foo("").replace("Foo", kind).replacen(
            &format!("pub struct {kind} {{"),
            &format!("pub struct ${kind} {{"),
            1,
        );
        let f = Fixture::new(&src);
        let d = f.assert_error_at_marker(&format!("kind `{kind}` cannot be generated: its module name `{module}`"));
        assert!(d.message.contains("cannot be used as a name"), "{d}");
        assert!(d.hint.unwrap().contains(&format!("{kind}Resource")));
    }
}

#[test]
fn keyword_kinds_that_rust_can_escape_still_work() {
    // `Type` gives the module `type`, written `r#type`: valid, so no error.
    let f = Fixture::new(&foo("").replace("Foo", "Type"));
    assert_eq!(f.kind("Type").plural, "types");
}

#[test]
fn structs_nested_a_thousand_deep() {
    let mut src = foo("").replace("pub replicas: i32,", "pub replicas: i32,\n    pub deep: Option<S0>,");
    for i in 0..1000 {
        let next = if i == 999 { "i32".to_string() } else { format!("Option<Box<S{}>>", i + 1) };
        let marker = if i == 30 { "$" } else { "" };
        src.push_str(&format!("/// S{i}.\n#[derive(Debug, Default, Serialize, Deserialize)]\npub struct S{i} {{\n    pub x: {marker}{next},\n}}\n"));
    }
    let f = Fixture::new(&src);
    let d = f.assert_error_at_marker("types nest more than 32 levels deep here (`FooSpec` -> ... -> `S31`)");
    assert!(d.hint.unwrap().contains("XPreserveUnknownFields"));
}

#[test]
fn generics_nested_a_thousand_deep() {
    let deep = format!("{}i32{}", "Option<".repeat(1000), ">".repeat(1000));
    let src = foo("").replace("pub replicas: i32,", &format!("pub replicas: {deep},"));
    let f = Fixture::new(&src);
    let diags = f.errors();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.contains("brackets nest more than 64 levels deep"), "{}", diags[0]);
    assert!(diags[0].loc.line > 0 && diags[0].loc.col > 0, "{}", diags[0]);
}

#[test]
fn duplicate_kind_in_a_second_file() {
    let other = foo("").replace("pub struct Foo {", "pub struct $Foo {");
    let f = Fixture::with_files(&[("src/example/v1/types.rs", &foo("")), ("src/example/v1/zz_more.rs", &other)]);
    let d = f.assert_error_at_marker("type `Foo` is defined twice in version v1 (first at ");
    assert!(d.message.contains("types.rs:"), "{d}");
}

#[test]
fn same_group_name_in_two_folders() {
    let f = Fixture::with_files(&[
        ("src/example/v1/types.rs", &foo("")),
        ("src/zother/mod.rs", "//! +groupName=$example.com\npub mod v1;\n"),
        ("src/zother/v1/mod.rs", &VERSION_MOD.replace("/example/", "/zother/")),
        ("src/zother/v1/types.rs", &foo("").replace("Foo", "Bar")),
    ]);
    let d =
        f.assert_error_at_marker("group `example.com` is declared in folder `example` and again in folder `zother`");
    assert!(d.hint.unwrap().contains("src/example/"));
}

#[test]
fn two_groups_with_one_rust_name() {
    let f = Fixture::with_files(&[
        ("src/example/v1/types.rs", &foo("")),
        ("src/zother/mod.rs", "//! +groupName=$example.org\npub mod v1;\n"),
        ("src/zother/v1/mod.rs", &VERSION_MOD.replace("/example/", "/zother/")),
        ("src/zother/v1/types.rs", &foo("").replace("Foo", "Bar")),
    ]);
    f.assert_error_at_marker("groups `example.com` and `example.org` both get the Rust name `Example`");
}

fn field_marker(marker: &str) -> Fixture {
    Fixture::new(&foo("").replace("    /// Replicas.\n", &format!("    /// Replicas.\n    /// {marker}\n")))
}

#[test]
fn invalid_regex_pattern() {
    let d = field_marker("+kubebuilder:validation:Pattern=$`^(a|b$`")
        .assert_error_at_marker("is not a valid regular expression");
    assert!(d.hint.unwrap().contains("RE2"));
    // Look-around is Perl, not RE2: the API server would refuse it too.
    field_marker("+kubebuilder:validation:Pattern=$`^(?!x)`")
        .assert_error_at_marker("is not a valid regular expression");
}

#[test]
fn minimum_above_maximum() {
    let f = Fixture::new(&foo("").replace(
        "    /// Replicas.\n",
        "    /// Replicas.\n    /// +kubebuilder:validation:Maximum=3\n    /// +kubebuilder:validation:Minimum=$5\n",
    ));
    f.assert_error_at_marker("`Minimum` (5) is greater than `Maximum` (3)");
    let f = Fixture::new(&foo("").replace(
        "    /// Replicas.\n",
        "    /// Replicas.\n    /// +kubebuilder:validation:items:MinLength=$9\n    /// +kubebuilder:validation:items:MaxLength=2\n",
    ));
    f.assert_error_at_marker("`MinLength` (9) is greater than `MaxLength` (2)");
}

#[test]
fn unique_items_is_refused_by_structural_schemas() {
    field_marker("+kubebuilder:validation:UniqueItems=$true")
        .assert_error_at_marker("`uniqueItems: true` is not allowed");
}

#[test]
fn crd_names_must_be_dns_labels() {
    Fixture::new(&foo("/// +kubebuilder:resource:$shortName=f_o\n")).assert_error_at_marker("invalid short name `f_o`");
    Fixture::new(&foo("/// +kubebuilder:resource:$shortName=ok;Bad\n"))
        .assert_error_at_marker("invalid short name `Bad`");
    Fixture::new(&foo("/// +kubebuilder:resource:$categories=a.b\n")).assert_error_at_marker("invalid category `a.b`");
    Fixture::new(&foo("/// +kubebuilder:resource:$singular=x--\n"))
        .assert_error_at_marker("invalid singular name `x--`");
    Fixture::new(&foo("/// +resourceName=$9foos\n")).assert_error_at_marker("invalid resource name `9foos`");
}

#[test]
fn syntax_errors_come_alone() {
    // No `+genclient` type (it is in the broken file), and an unknown tag: only the cause is shown.
    let f = Fixture::with_files(&[
        ("src/example/v1/types.rs", "/// +genclient:frobnicate\npub struct X;\n"),
        ("src/example/v1/broken.rs", "pub struct Y {\n    a: i32,\n}\n$}\n"),
    ]);
    let diags = f.errors();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.starts_with("cannot parse Rust"), "{}", diags[0]);
    let (path, line, col) = f.marker.clone().unwrap();
    assert_eq!(
        (diags[0].loc.file.as_ref(), diags[0].loc.line, diags[0].loc.col),
        (f.root().join(path).as_path(), line, col)
    );
}

fn run(f: &Fixture, out: &Path) -> Result<codegen::Report, codegen::Error> {
    codegen::Config::new().input(f.root()).output(out.join("gen")).crd_dir(out.join("crd")).run()
}

#[test]
fn io_error_half_way_writes_nothing_and_names_the_file() {
    let f = Fixture::new(&foo(""));
    let out = tempfile::tempdir().unwrap();
    // A folder where a generated file belongs. It sorts after other files of the set, so a
    // writer that went file by file would have written several already.
    let blocker = out.path().join("gen/src/listers/mod.rs");
    fs::create_dir_all(&blocker).unwrap();
    fs::write(blocker.join("keep.txt"), "mine").unwrap();
    let before = tree(out.path());
    let err = run(&f, out.path()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, codegen::Error::Write(_)), "{text}");
    assert!(text.contains(&blocker.display().to_string()), "names the file: {text}");
    assert!(text.contains("nothing was written"), "{text}");
    assert_eq!(tree(out.path()), before, "no file written, no temporary file left");
}

#[test]
fn foreign_files_are_never_deleted() {
    // The folder given to --output holds a copy of the workspace's generated crate (without its
    // manifest), a copy of deploy/crd, and a user's file carrying the marker.
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = tempfile::tempdir().unwrap();
    let gen_dir = out.path().join("gen");
    copy_dir(&ws.join("generated/src"), &gen_dir.join("src"));
    copy_dir(&ws.join("deploy/crd"), &gen_dir.join("crd"));
    let _ = fs::remove_file(gen_dir.join("src").join(codegen::manifest::FILE));
    fs::write(gen_dir.join("notes.rs"), format!("// {}\n// (mine)\n", codegen::render::MARKER)).unwrap();
    let foreign = tree(&gen_dir);
    assert!(foreign.len() > 15, "{foreign:?}");
    let f = Fixture::new(&foo(""));
    let report = codegen::Config::new().input(f.root()).output(&gen_dir).run().unwrap();
    assert_eq!(report.changes.iter().filter(|c| c.change == Change::Removed).count(), 0);
    let after = tree(&gen_dir);
    for p in &foreign {
        assert!(after.contains(p), "{p} was deleted");
    }
}

#[test]
fn stale_files_go_only_through_the_manifest_and_only_unedited() {
    let f = Fixture::with_files(&[
        ("src/example/v1/types.rs", &foo("")),
        ("src/example/v1/bar.rs", &foo("").replace("Foo", "Bar")),
    ]);
    let out = tempfile::tempdir().unwrap();
    run(&f, out.path()).unwrap();
    let manifest = fs::read_to_string(out.path().join("crd").join(codegen::manifest::FILE)).unwrap();
    assert!(manifest.contains(" example.com_bars.yaml\n") && manifest.contains(codegen::render::MARKER), "{manifest}");
    // Bar goes away; its CRD was not edited (removed), its lister was edited (kept, reported).
    let lister = out.path().join("gen/src/listers/example/v1/bar.rs");
    fs::write(&lister, fs::read_to_string(&lister).unwrap() + "// my note\n").unwrap();
    fs::remove_file(f.root().join("src/example/v1/bar.rs")).unwrap();
    let report = run(&f, out.path()).unwrap();
    assert!(!out.path().join("crd/example.com_bars.yaml").exists());
    assert!(lister.exists(), "an edited file is never deleted");
    assert!(report.summary().contains(&format!("kept {}", lister.display())), "{}", report.summary());
    let removed: Vec<_> =
        report.changes.iter().filter(|c| c.change == Change::Removed).map(|c| c.path.clone()).collect();
    assert!(removed.contains(&out.path().join("crd/example.com_bars.yaml")), "{removed:?}");
    assert!(!removed.contains(&lister));
    // The next run no longer knows the kept file: it is the user's now.
    let report = run(&f, out.path()).unwrap();
    assert!(report.is_fresh(), "{:?}", report.stale().collect::<Vec<_>>());
    assert!(lister.exists());
}

#[test]
fn a_damaged_manifest_stops_the_run() {
    let f = Fixture::new(&foo(""));
    let out = tempfile::tempdir().unwrap();
    run(&f, out.path()).unwrap();
    let m = out.path().join("crd").join(codegen::manifest::FILE);
    fs::write(&m, "0000000000000000 ../../etc/hosts\n").unwrap();
    let before = tree(out.path());
    let err = run(&f, out.path()).unwrap_err().to_string();
    assert!(err.contains("not a path inside the folder") && err.contains("nothing was written"), "{err}");
    assert_eq!(tree(out.path()), before);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            fs::copy(&p, dest).unwrap();
        }
    }
}

#[test]
fn list_and_map_markers_follow_structural_schema_rules() {
    let with_field = |field: &str| {
        Fixture::new(&(foo("").replace("    pub replicas: i32,\n", &format!("    pub replicas: i32,\n{field}")) + PORT))
    };
    with_field("    /// +listType=set\n    pub $n: i32,\n")
        .assert_error_at_marker("`+listType=set` on a field that is not a list");
    with_field("    /// +listMapKey=name\n    pub $n: Vec<String>,\n")
        .assert_error_at_marker("`+listMapKey` without `+listType=map`");
    with_field("    /// +listType=map\n    /// +listMapKey=name\n    pub $n: Vec<String>,\n")
        .assert_error_at_marker("`+listType=map` needs a list of structs");
    with_field("    /// +listType=map\n    /// +listMapKey=nom\n    pub $ports: Vec<Port>,\n")
        .assert_error_at_marker("`+listMapKey=nom` names no field");
    with_field("    /// +listType=map\n    /// +listMapKey=label\n    pub $ports: Vec<Port>,\n")
        .assert_error_at_marker("list map key `label` must be required or have a default");
    with_field("    /// +mapType=atomic\n    pub $n: Vec<i32>,\n")
        .assert_error_at_marker("on a field that is not a map or struct");
    // A valid map list passes.
    let ok = foo("").replace(
        "    pub replicas: i32,\n",
        "    pub replicas: i32,\n    /// +listType=map\n    /// +listMapKey=name\n    pub ports: Vec<Port>,\n",
    );
    let f = Fixture::new(&(ok + PORT));
    let out = tempfile::tempdir().unwrap();
    codegen::Config::new().input(f.root()).crd_dir(out.path()).run().unwrap_or_else(|e| panic!("{e}"));
}

const PORT: &str = "/// A port.\n#[derive(Debug, Default, Serialize, Deserialize)]\npub struct Port {\n    /// Name.\n    pub name: String,\n    /// Label.\n    pub label: Option<String>,\n}\n";

#[test]
fn a_struct_that_flattens_itself() {
    // Found by the fuzz test: `#[serde(flatten)]` inlines a struct, and one that flattens
    // itself recursed until the stack overflowed (an abort, not even a panic).
    let src = foo("").replace(
        "    pub replicas: i32,\n",
        "    pub replicas: i32,\n    /// More of the same.\n    #[serde(flatten)]\n    pub more: $Option<FooSpec>,\n",
    );
    Fixture::new(&src).assert_error_at_marker("type `FooSpec` contains itself");
}
