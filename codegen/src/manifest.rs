//! The manifest: the list of files the generator wrote into one output folder.
//!
//! Stale-file removal trusts this list and nothing else. A file is removed only when the previous
//! run recorded it here, this run no longer renders it, and its content still hashes to what was
//! recorded (so a person's edit is never thrown away). A file that merely carries the "DO NOT
//! EDIT" marker, such as a copy of generated code or a user's file in an unexpected place, is
//! never touched: the marker says how a file was made, not who owns it now.
//!
//! The manifest is itself a generated file (`.codegen-manifest`, with the marker), written in the
//! same atomic set as the files it lists, so it always describes what is on disk.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::render::MARKER;

/// The manifest's file name inside each output folder.
pub const FILE: &str = ".codegen-manifest";

/// Files (relative paths) and the hash of the content the generator wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Relative path to content hash.
    pub files: BTreeMap<PathBuf, u64>,
}

/// FNV-1a, 64 bits: stable across Rust releases and platforms (std's hasher promises neither),
/// and enough to tell "unchanged since we wrote it" from "edited".
pub fn hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// True for a path that stays inside the folder it is relative to: no root, no `..`, not empty.
pub fn is_contained(path: &Path) -> bool {
    path.components().next().is_some() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

impl Manifest {
    /// The manifest of a set of rendered files.
    pub fn of<'a>(files: impl IntoIterator<Item = (&'a Path, &'a str)>) -> Self {
        Self { files: files.into_iter().map(|(p, t)| (p.to_path_buf(), hash(t))).collect() }
    }

    /// The manifest as text: the marker header, then `<hash> <path>` per line, sorted by path.
    pub fn render(&self) -> String {
        let mut s = format!(
            "# {MARKER}\n# The files codegen wrote in this folder. It removes a file only if it is listed here and unchanged.\n"
        );
        for (path, h) in &self.files {
            let _ = writeln!(s, "{h:016x} {}", path.to_string_lossy().replace('\\', "/"));
        }
        s
    }

    /// Reads a manifest. A line that is not `<16 hex digits> <relative path inside the folder>`
    /// is an error naming the line: a damaged manifest must not widen what may be deleted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut files = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let bad = || format!("line {}: expected `<16 hex digits> <relative path>`, got `{line}`", i + 1);
            let (h, p) = line.split_once(' ').ok_or_else(bad)?;
            if h.len() != 16 {
                return Err(bad());
            }
            let h = u64::from_str_radix(h, 16).map_err(|_| bad())?;
            let path = PathBuf::from(p);
            if !is_contained(&path) {
                return Err(format!("line {}: `{p}` is not a path inside the folder", i + 1));
            }
            files.insert(path, h);
        }
        Ok(Self { files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hash_is_stable() {
        let m = Manifest::of([(Path::new("src/a.rs"), "x"), (Path::new("b.yaml"), "y")]);
        let text = m.render();
        assert!(text.starts_with(&format!("# {MARKER}\n")));
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        // Fixed value: the manifest format must not change with the Rust release.
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c); // the published FNV-1a test vector
    }

    #[test]
    fn damaged_or_escaping_lines_are_errors() {
        assert!(Manifest::parse("zz src/a.rs\n").unwrap_err().contains("line 1"));
        assert!(Manifest::parse("0000000000000000 ../outside.rs\n").unwrap_err().contains("not a path inside"));
        assert!(Manifest::parse("0000000000000000 /etc/passwd\n").is_err());
        assert!(Manifest::parse("0000000000000000\n").is_err());
    }
}
