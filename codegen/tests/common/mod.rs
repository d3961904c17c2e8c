//! Shared fixtures for the generator's tests: a temporary apis crate with one group
//! (`example.com`, folder `example`) and version `v1`, and a kind `Foo` with its list type.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use codegen::model::{Kind, Model};

pub const GROUP_MOD: &str = "//! The example group.\n//!\n//! +groupName=example.com\n\npub mod v1;\n";
pub const VERSION_MOD: &str = "//! v1.\n//!\n//! +k8s:deepcopy-gen=package\n\nmod types;\npub use types::*;\ninclude!(concat!(env!(\"OUT_DIR\"), \"/codegen/example/v1.rs\"));\n";

/// A temporary apis crate with one group `example.com` (folder `example`) and version `v1`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// (path relative to the crate, line, col) of the `$` marker, if any.
    pub marker: Option<(PathBuf, usize, usize)>,
}

impl Fixture {
    pub fn new(types_rs: &str) -> Self {
        Self::with_files(&[("src/example/v1/types.rs", types_rs)])
    }

    pub fn with_files(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut all: Vec<(&str, &str)> = vec![
            ("Cargo.toml", "[package]\nname = \"fixture-apis\"\nversion = \"0.1.0\"\n"),
            ("src/example/mod.rs", GROUP_MOD),
            ("src/example/v1/mod.rs", VERSION_MOD),
        ];
        for f in files {
            all.retain(|(p, _)| *p != f.0);
            all.push(*f);
        }
        let mut marker = None;
        for (path, text) in all {
            let full = dir.path().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            if let Some(pos) = text.find('$') {
                let before = &text[..pos];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
                marker = Some((PathBuf::from(path), line, col));
            }
            fs::write(full, text.replacen('$', "", 1)).unwrap();
        }
        Self { dir, marker }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn model(&self) -> Model {
        match codegen::Config::new().input(self.root()).model() {
            Ok(m) => m,
            Err(e) => panic!("unexpected errors:\n{e}"),
        }
    }

    pub fn kind(&self, name: &str) -> Kind {
        let m = self.model();
        m.kinds().find(|(_, _, k)| k.name == name).map(|(_, _, k)| k.clone()).expect("kind")
    }

    /// Runs the generator with a CRD directory and a generated-crate directory that already hold
    /// a generated file each, and returns the diagnostics; asserts that both directories are
    /// exactly as they were (every generator ran, none wrote).
    pub fn errors(&self) -> Vec<codegen::Diagnostic> {
        let out = tempfile::tempdir().unwrap();
        let crd = out.path().join("crd");
        let gen_dir = out.path().join("gen");
        let original = format!("# {}\nold: true\n", codegen::render::MARKER);
        for d in [&crd, &gen_dir] {
            fs::create_dir_all(d).unwrap();
            fs::write(d.join("example.com_olds.yaml"), &original).unwrap();
        }
        let r = codegen::Config::new().input(self.root()).crd_dir(&crd).output(&gen_dir).run();
        let diags = match r {
            Err(codegen::Error::Diagnostics(d)) => d,
            Err(e) => panic!("expected diagnostics, got {e}"),
            Ok(_) => panic!("expected diagnostics, the run succeeded"),
        };
        assert_eq!(
            tree(out.path()),
            ["crd/example.com_olds.yaml", "gen/example.com_olds.yaml"],
            "a failed run writes nothing"
        );
        for d in [&crd, &gen_dir] {
            assert_eq!(
                fs::read_to_string(d.join("example.com_olds.yaml")).unwrap(),
                original,
                "a failed run changes nothing"
            );
        }
        diags
    }

    /// Asserts one diagnostic containing `message` at the `$` marker.
    pub fn assert_error_at_marker(&self, message: &str) -> codegen::Diagnostic {
        let diags = self.errors();
        let (path, line, col) = self.marker.clone().expect("fixture has a $ marker");
        let d = diags
            .iter()
            .find(|d| d.message.contains(message))
            .unwrap_or_else(|| panic!("no error containing {message:?} in:\n{diags:#?}"))
            .clone();
        assert_eq!(d.loc.file.as_ref(), self.root().join(&path), "file of {d}");
        assert_eq!((d.loc.line, d.loc.col), (line, col), "position of: {d}");
        d
    }
}

/// A kind `Foo` with the given extra tag lines, a status field, and its list type.
pub fn foo(tags: &str) -> String {
    format!(
        "use k8s_openapi::apimachinery::pkg::apis::meta::v1::{{ListMeta, ObjectMeta}};\n\
         use serde::{{Deserialize, Serialize}};\n\
         \n\
         /// A Foo.\n\
         ///\n\
         /// +genclient\n\
         {tags}\
         #[derive(Debug, Default)]\n\
         pub struct Foo {{\n    pub metadata: ObjectMeta,\n    pub spec: FooSpec,\n    pub status: Option<FooStatus>,\n}}\n\
         \n\
         /// Spec.\n\
         #[derive(Debug, Default, Serialize, Deserialize)]\n\
         pub struct FooSpec {{\n    /// Replicas.\n    pub replicas: i32,\n}}\n\
         \n\
         /// Status.\n\
         #[derive(Debug, Default, Serialize, Deserialize)]\n\
         pub struct FooStatus {{\n    /// Ready.\n    pub ready: i32,\n}}\n\
         \n\
         /// List.\n\
         #[derive(Debug, Default)]\n\
         pub struct FooList {{\n    pub metadata: ListMeta,\n    pub items: Vec<Foo>,\n}}\n"
    )
}

/// Every file under `dir`, relative and sorted, with `/` separators.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.sort();
    out
}
