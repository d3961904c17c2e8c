//! `codegen`: what Go's k8s.io/code-generator and controller-gen do, for Rust API types.
//!
//! It reads an apis crate whose types carry code-generator's tags in doc comments
//! (`/// +genclient`, `//! +groupName=...`), builds a model, validates it, and renders:
//!
//! - **in-package code** (deep-copy and the `k8s_openapi::Resource` family, the Rust form of
//!   deepcopy-gen and register-gen), written by the apis crate's `build.rs` into `OUT_DIR`;
//! - **CRD manifests** (controller-gen's `crd`), one `<group>_<plural>.yaml` per kind;
//! - **the typed clientset, listers and informers** (client-gen, lister-gen, informer-gen);
//! - **an RBAC manifest** from `+kubebuilder:rbac` markers in a controller's sources
//!   (controller-gen's `rbac`), see [`generators::rbac`].
//!
//! Every problem is reported at `file:line:col` with a hint, all in one run, and nothing is
//! written while any problem remains.
//!
//! The same builder serves build scripts, `cargo xtask codegen`, and the `codegen` binary in
//! other workspaces:
//!
//! ```no_run
//! let report = codegen::Config::new()
//!     .input("apis")
//!     .crd_dir("deploy/crd")
//!     .run()
//!     .expect("codegen failed");
//! println!("{}", report.summary());
//! ```
//!
//! In the apis crate's `build.rs`, `fn main() { codegen::build_script() }`.
//!
//! # Tags
//!
//! Package (inner `//!` doc comment of a group or version module): `+groupName=`,
//! `+groupGoName=`, `+k8s:deepcopy-gen=package|false`, `+kubebuilder:validation:Optional|Required`.
//!
//! Type: `+genclient`, `+genclient:nonNamespaced`, `+genclient:noStatus`, `+genclient:noVerbs`,
//! `+genclient:readonly`, `+genclient:onlyVerbs=a,b`, `+genclient:skipVerbs=a,b`,
//! `+genclient:method=Name,verb=v[,subresource=s][,input=T][,result=T]`, `+resourceName=`,
//! `+k8s:deepcopy-gen=true|false`, `+k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object`,
//! `+kubebuilder:subresource:status`, `+kubebuilder:subresource:scale:specpath=,statuspath=[,selectorpath=]`,
//! `+kubebuilder:printcolumn:name=,type=,JSONPath=[,description=,format=,priority=]`,
//! `+kubebuilder:resource:path=,singular=,shortName=a;b,categories=a;b,scope=Namespaced|Cluster`,
//! `+kubebuilder:storageversion`, and the validation markers.
//!
//! Field: `+optional`, `+required`, `+nullable`, `+default=`, `+kubebuilder:default=`,
//! `+kubebuilder:example=`, `+listType=`, `+listMapKey=`, `+mapType=`, `+structType=`, and
//! `+kubebuilder:validation:<X>` / `+kubebuilder:validation:items:<X>` for X in Minimum, Maximum,
//! ExclusiveMinimum, ExclusiveMaximum, MultipleOf, MinLength, MaxLength, Pattern, MinItems,
//! MaxItems, UniqueItems, MinProperties, MaxProperties, Enum, Format, Type,
//! XPreserveUnknownFields, XEmbeddedResource, XIntOrString, plus `XValidation:rule=...`.

pub mod crd_rules;
pub mod diag;
pub mod generators;
pub mod kubernetes;
pub mod manifest;
pub mod model;
pub mod naming;
pub mod parse;
pub mod render;
pub mod tags;
pub mod verbs;
pub mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use diag::{Diagnostic, Loc};
pub use model::Model;
pub use write::{Change, FileChange, WriteError};

/// What a run needs to know: where the apis crate is and what to write where.
#[derive(Clone, Debug)]
pub struct Config {
    input: PathBuf,
    output: Option<PathBuf>,
    deps: generators::krate::Deps,
    crd_dir: Option<PathBuf>,
    in_package_dir: Option<PathBuf>,
    check: bool,
    regenerate: String,
    rbac: Option<generators::rbac::RbacConfig>,
    kubernetes: Option<PathBuf>,
    discovery: Option<PathBuf>,
    protobuf: Option<(PathBuf, Vec<String>)>,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// A run over the apis crate in the current directory that writes nothing until told where.
    pub fn new() -> Self {
        Self {
            input: PathBuf::from("."),
            output: None,
            deps: Default::default(),
            crd_dir: None,
            in_package_dir: None,
            check: false,
            regenerate: "cargo xtask codegen".into(),
            rbac: None,
            kubernetes: None,
            discovery: None,
            protobuf: None,
        }
    }

    /// The apis crate: the folder holding its Cargo.toml and `src/`.
    pub fn input(mut self, dir: impl Into<PathBuf>) -> Self {
        self.input = dir.into();
        self
    }

    /// The generated crate (clientset, listers, informers): its folder, holding `Cargo.toml` and
    /// `src/`. Generated files there are rewritten, stale ones removed; a missing `Cargo.toml` is
    /// created once and then left to you.
    pub fn output(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output = Some(dir.into());
        self
    }

    /// The `runtime = ...`, `devserver = ...` and `kubernetes = ...` dependency lines of a
    /// Cargo.toml the generator creates (by default, paths to this repository's crates).
    pub fn dependencies(
        mut self,
        runtime: impl Into<String>,
        devserver: impl Into<String>,
        kubernetes: impl Into<String>,
    ) -> Self {
        self.deps = generators::krate::Deps {
            runtime: runtime.into(),
            devserver: devserver.into(),
            kubernetes: kubernetes.into(),
        };
        self
    }

    /// Where CRD manifests go (`<group>_<plural>.yaml`); stale generated manifests there are removed.
    pub fn crd_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.crd_dir = Some(dir.into());
        self
    }

    /// Where the in-package code goes (the build script's `OUT_DIR`).
    pub fn in_package(mut self, dir: impl Into<PathBuf>) -> Self {
        self.in_package_dir = Some(dir.into());
        self
    }

    /// Also generate an RBAC manifest from the `+kubebuilder:rbac` markers in a controller's
    /// sources (see [`generators::rbac`]).
    pub fn rbac(mut self, rbac: generators::rbac::RbacConfig) -> Self {
        self.rbac = Some(rbac);
        self
    }

    /// Also generate the built-in crate (client-go's `kubernetes`, `listers` and `informers`
    /// packages) into `dir`: typed clients, listers and informers for every resource type of
    /// the k8s-openapi version the input's workspace locks, with the verbs of the checked-in
    /// discovery recording (see [`kubernetes`]). Its Cargo.toml is created once, like the
    /// generated crate's.
    pub fn kubernetes(mut self, dir: impl Into<PathBuf>) -> Self {
        self.kubernetes = Some(dir.into());
        self
    }

    /// Also generate, into the Rust file `file`, conversions between k8s-pb's protobuf messages
    /// and k8s-openapi's types for `kinds` (`apps/v1/Deployment`, `v1/ConfigMap`) and every
    /// type they contain (see [`kubernetes::protobuf`]): what a server needs to take and give
    /// protobuf bodies for built-in kinds.
    pub fn protobuf(mut self, file: impl Into<PathBuf>, kinds: Vec<String>) -> Self {
        self.protobuf = Some((file.into(), kinds));
        self
    }

    /// A discovery recording other than the checked-in one (for another Kubernetes version;
    /// `cargo xtask discovery` writes one).
    pub fn discovery(mut self, file: impl Into<PathBuf>) -> Self {
        self.discovery = Some(file.into());
        self
    }

    /// Write nothing; report what differs as unified diffs.
    pub fn check(mut self, check: bool) -> Self {
        self.check = check;
        self
    }

    /// The command named in generated headers and in `--check` failures.
    pub fn regenerate_command(mut self, cmd: impl Into<String>) -> Self {
        self.regenerate = cmd.into();
        self
    }

    /// Parses and validates the apis crate without rendering anything.
    pub fn model(&self) -> Result<Model, Error> {
        let mut diags = diag::Diagnostics::default();
        let model = parse::parse_crate(&self.input, &mut diags);
        if diags.is_empty() { Ok(model) } else { Err(Error::Diagnostics(diags.into_sorted())) }
    }

    /// Runs every configured generator. All output is rendered in memory first; nothing is
    /// written if any problem was found.
    ///
    /// The work runs on its own thread with a generous stack: parsing and schema building
    /// recurse (to bounded depths, see [`parse::MAX_NESTING`] and
    /// [`generators::schema::MAX_DEPTH`]), and the caller's stack may be a test thread's 2 MiB.
    pub fn run(&self) -> Result<Report, Error> {
        std::thread::scope(|s| {
            match std::thread::Builder::new()
                .name("codegen".into())
                .stack_size(64 << 20)
                .spawn_scoped(s, || self.run_here())
            {
                Ok(handle) => handle.join().unwrap_or_else(|_| Err(Error::Internal("the generator panicked".into()))),
                Err(_) => self.run_here(),
            }
        })
    }

    fn run_here(&self) -> Result<Report, Error> {
        let start = Instant::now();
        let mut diags = diag::Diagnostics::default();
        let model = parse::parse_crate(&self.input, &mut diags);
        if diags.has_syntax_errors() {
            // Anything else found in this state may be a consequence of the unreadable file.
            return Err(Error::Diagnostics(diags.into_sorted()));
        }
        let templates = render::Templates::new().map_err(Error::Internal)?;
        let mut targets = vec![];

        let rust_header = render::header("//");
        let mut in_package = vec![];
        for group in &model.groups {
            for version in &group.versions {
                // Rendered always, for the checks it makes; formatted only when it is written.
                let chunks = generators::in_package::render(group, version, &mut diags);
                if self.in_package_dir.is_some()
                    && let Some(text) = render::rust_chunks(chunks, &rust_header, &version.module_file, &mut diags)
                {
                    in_package.push(render::Rendered {
                        path: parse::in_package_file(&group.module, &version.name).into(),
                        text,
                    });
                }
            }
        }
        if let Some(dir) = &self.in_package_dir {
            targets.push(write::Target { dir: dir.clone(), files: in_package, prune: true });
        }
        let crds = generators::crd::render(&model, &render::header("#"), &mut diags);
        if let Some(dir) = &self.output {
            let crds_json: Vec<String> = crds.iter().map(|c| c.json.to_string()).collect();
            targets.extend(self.generated_crate(dir, &model, &crds_json, &templates, &rust_header, &mut diags));
        }
        let mut builtin_kinds = vec![];
        if let Some(dir) = &self.kubernetes {
            match self.builtin_kinds() {
                Ok(joined) => {
                    targets.extend(self.kubernetes_crate(
                        dir,
                        &joined.kinds,
                        &templates,
                        &render::kubernetes_header(),
                        &mut diags,
                    ));
                    builtin_kinds = joined.kinds.iter().map(|k| format!("{} {}", k.api_version(), k.kind)).collect();
                }
                Err(e) => diags.error_hint(Loc::whole(dir), e, "the built-in crate needs k8s-openapi's source"),
            }
        }
        if let Some((file, kinds)) = &self.protobuf {
            let loc = Loc::whole(file);
            match kubernetes::protobuf::render(&self.input, kinds) {
                Ok(tokens) => {
                    if let (Some(text), Some(name)) =
                        (render::rust_file(tokens, &render::protobuf_header(), &loc, &mut diags), file.file_name())
                    {
                        let dir = file.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                        let files = vec![render::Rendered { path: name.into(), text }];
                        targets.push(write::Target { dir, files, prune: false });
                    }
                }
                Err(e) => diags.error_hint(loc, e, "the protobuf conversions need k8s-openapi's and k8s-pb's sources"),
            }
        }
        if let Some(dir) = &self.crd_dir {
            let files = crds.into_iter().map(|c| c.file).collect();
            targets.push(write::Target { dir: dir.clone(), files, prune: true });
        }
        if let Some(rbac) = &self.rbac {
            let markers = generators::rbac::scan(&rbac.sources, &mut diags);
            if let (Some(text), Some(name)) =
                (generators::rbac::render(rbac, markers, &mut diags), rbac.output.file_name())
            {
                let dir = rbac.output.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                let files = vec![render::Rendered { path: name.into(), text }];
                targets.push(write::Target { dir, files, prune: false });
            }
        }
        if !diags.is_empty() {
            return Err(Error::Diagnostics(diags.into_sorted()));
        }
        let changes = write::apply(&targets, self.check).map_err(Error::Write)?;
        Ok(Report {
            groups: model.groups.iter().map(|g| g.name.clone()).collect(),
            kinds: model.kinds().map(|(g, v, k)| format!("{}/{} {}", g.name, v.name, k.name)).collect(),
            builtin_kinds,
            changes,
            check: self.check,
            regenerate: self.regenerate.clone(),
            elapsed: start.elapsed(),
        })
    }
}

impl Config {
    fn generated_crate(
        &self,
        dir: &Path,
        model: &Model,
        crds_json: &[String],
        templates: &render::Templates,
        header: &str,
        diags: &mut diag::Diagnostics,
    ) -> Vec<write::Target> {
        use generators::{api, applyconfiguration, client, fake, informer, krate, lister};
        let package = krate::apis_crate_name(&self.input, diags);
        let crate_name = package.replace('-', "_");
        let kinds = api::kinds(model, &crate_name);
        let loc = Loc::whole(dir);
        let mut files = vec![];
        let mut emit = |path: String, tokens| {
            if let Some(text) = render::rust_file(render::inline_methods(tokens), header, &loc, diags) {
                files.push(render::Rendered { path: path.into(), text });
            }
        };
        emit("src/lib.rs".into(), krate::lib_rs(&crate_name, true));
        client::render(&kinds, Some(dir), true, &mut emit);
        applyconfiguration::render(model, &crate_name, &mut emit);
        emit("src/clientset/fake.rs".into(), fake::render(crds_json));
        lister::render(&kinds, &mut emit);
        informer::render(&kinds, Some("kubernetes"), &mut emit);
        let mut targets = vec![write::Target { dir: dir.to_path_buf(), files, prune: true }];
        if !dir.join("Cargo.toml").exists()
            && let Some(text) = krate::cargo_toml(dir, &self.input, &package, &self.deps, templates, diags)
        {
            let files = vec![render::Rendered { path: "Cargo.toml".into(), text }];
            targets.push(write::Target { dir: dir.to_path_buf(), files, prune: false });
        }
        targets
    }
}

impl Config {
    /// The built-in kinds: k8s-openapi's resource types (from the source of the version the
    /// input's workspace locks) joined with discovery.
    pub fn builtin_kinds(&self) -> Result<kubernetes::Joined, String> {
        let src = kubernetes::openapi_crate::locate(&self.input)?;
        let version = kubernetes::openapi_crate::latest_version(&src)?;
        let types = kubernetes::openapi_crate::scan(&src, &version)?;
        let recording = match &self.discovery {
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
                kubernetes::discovery::Recording::parse(&text).map_err(|e| format!("{}: {e}", f.display()))?
            }
            None => kubernetes::discovery::Recording::parse(kubernetes::discovery::RECORDED)?,
        };
        Ok(kubernetes::join(&types, &recording))
    }

    fn kubernetes_crate(
        &self,
        dir: &Path,
        kinds: &[generators::api::ApiKind],
        templates: &render::Templates,
        header: &str,
        diags: &mut diag::Diagnostics,
    ) -> Vec<write::Target> {
        use generators::{client, informer, krate, lister};
        let loc = Loc::whole(dir);
        let mut files = vec![];
        let mut emit = |path: String, tokens| {
            if let Some(text) = render::rust_file(render::inline_methods(tokens), header, &loc, diags) {
                files.push(render::Rendered { path: path.into(), text });
            }
        };
        emit("src/lib.rs".into(), krate::kubernetes_lib_rs(kinds));
        client::render(kinds, Some(dir), false, &mut emit);
        lister::render(kinds, &mut emit);
        informer::render(kinds, None, &mut emit);
        let mut targets = vec![write::Target { dir: dir.to_path_buf(), files, prune: true }];
        if !dir.join("Cargo.toml").exists()
            && let Some(text) = krate::kubernetes_cargo_toml(dir, &self.deps, templates, diags)
        {
            let files = vec![render::Rendered { path: "Cargo.toml".into(), text }];
            targets.push(write::Target { dir: dir.to_path_buf(), files, prune: false });
        }
        targets
    }
}

/// Runs the generator from an apis crate's `build.rs`: reads `CARGO_MANIFEST_DIR` and `OUT_DIR`,
/// asks cargo to rerun only when `src/` changes, and on any problem prints the diagnostics and
/// fails the build.
pub fn build_script() {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("codegen::build_script must run from a build script (OUT_DIR is not set)");
        std::process::exit(1);
    };
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed={}", manifest.join("src").display());
    if let Err(e) =
        Config::new().input(&manifest).in_package(out).regenerate_command("cargo build (the apis build script)").run()
    {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// Why a run failed.
#[derive(Debug)]
pub enum Error {
    /// Problems in the input; nothing was written.
    Diagnostics(Vec<Diagnostic>),
    /// Writing the output failed; the error says what is on disk now.
    Write(WriteError),
    /// Reading a file failed.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A bug in the generator itself.
    Internal(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Diagnostics(d) => {
                for x in d {
                    writeln!(f, "{x}")?;
                }
                let n = d.len();
                write!(f, "{n} error{}; nothing was written", if n == 1 { "" } else { "s" })
            }
            Error::Write(e) => write!(f, "{e}"),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    /// API groups found.
    pub groups: Vec<String>,
    /// `group/version Kind` for every kind.
    pub kinds: Vec<String>,
    /// `group/version Kind` of every built-in kind generated (with [`Config::kubernetes`]).
    pub builtin_kinds: Vec<String>,
    /// Every file considered.
    pub changes: Vec<FileChange>,
    /// True when nothing was written.
    pub check: bool,
    regenerate: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Report {
    fn count(&self, c: Change) -> usize {
        self.changes.iter().filter(|x| x.change == c).count()
    }

    /// Files that differ from what the generator renders (in check mode: would be written or removed).
    pub fn stale(&self) -> impl Iterator<Item = &FileChange> {
        self.changes.iter().filter(|c| !matches!(c.change, Change::Unchanged | Change::Kept))
    }

    /// True when every file was already up to date.
    pub fn is_fresh(&self) -> bool {
        self.stale().next().is_none()
    }

    /// A one-paragraph summary: groups, kinds, files written/unchanged/removed, time.
    pub fn summary(&self) -> String {
        let (w, r) = if self.check { ("stale", "would remove") } else { ("written", "removed") };
        let mut s = format!(
            "{} group(s): {}\n{} kind(s): {}\nfiles: {} {w}, {} unchanged, {} {r} ({:.0?})",
            self.groups.len(),
            self.groups.join(", "),
            self.kinds.len(),
            self.kinds.join(", "),
            self.count(Change::Written),
            self.count(Change::Unchanged),
            self.count(Change::Removed),
            self.elapsed,
        );
        if !self.builtin_kinds.is_empty() {
            s.push_str(&format!("\n{} built-in kind(s) in the kubernetes crate", self.builtin_kinds.len()));
        }
        for c in self.changes.iter().filter(|c| c.change == Change::Kept) {
            s.push_str(&format!(
                "\nkept {}: generated earlier and no longer generated, but edited since; delete it if it is not needed",
                c.path.display()
            ));
        }
        s
    }

    /// For check mode: the diffs of every stale file and the command that fixes them.
    pub fn check_failure(&self) -> String {
        let mut s = String::new();
        for c in self.stale() {
            s.push_str(c.diff.as_deref().unwrap_or_default());
        }
        let names: Vec<String> = self.stale().map(|c| c.path.display().to_string()).collect();
        s.push_str(&format!(
            "\ngenerated files are out of date: {}\nrun `{}` to update them\n",
            names.join(", "),
            self.regenerate
        ));
        s
    }
}

/// Convenience for tests and tools: the paths of a report's files, relative to `base`.
pub fn relative<'a>(changes: impl IntoIterator<Item = &'a FileChange>, base: &Path) -> Vec<PathBuf> {
    changes.into_iter().map(|c| c.path.strip_prefix(base).unwrap_or(&c.path).to_path_buf()).collect()
}
