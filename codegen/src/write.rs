//! Writing output: atomic writes, unchanged files left alone, stale generated files removed, and
//! `--check`, which writes nothing and reports a unified diff instead.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::render::{MARKER, Rendered};

/// One directory the generator owns: the files it renders there, and whether generated files it
/// no longer renders are removed.
#[derive(Clone, Debug)]
pub struct Target {
    /// The directory.
    pub dir: PathBuf,
    /// Files to have in it.
    pub files: Vec<Rendered>,
    /// Remove files carrying the generated-file marker that are not in `files`.
    pub prune: bool,
}

/// What happened, or would happen, to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Created or rewritten.
    Written,
    /// Already up to date.
    Unchanged,
    /// A stale generated file that was deleted.
    Removed,
}

/// One file's outcome.
#[derive(Clone, Debug)]
pub struct FileChange {
    /// Full path.
    pub path: PathBuf,
    /// What happened.
    pub change: Change,
    /// In check mode, the unified diff from disk to the generated text.
    pub diff: Option<String>,
}

fn is_generated(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|t| t.lines().take(3).any(|l| l.contains(MARKER)))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &format!("{name} (generated)"))
        .to_string()
}

/// Compares every target with the disk and, unless `check`, makes the disk match.
pub fn apply(targets: &[Target], check: bool) -> io::Result<Vec<FileChange>> {
    let mut changes = vec![];
    for t in targets {
        let mut wanted = vec![];
        for f in &t.files {
            let path = t.dir.join(&f.path);
            let old = fs::read_to_string(&path).ok();
            wanted.push(path.clone());
            if old.as_deref() == Some(f.text.as_str()) {
                changes.push(FileChange { path, change: Change::Unchanged, diff: None });
                continue;
            }
            let d = check.then(|| diff(&path, old.as_deref().unwrap_or_default(), &f.text));
            if !check {
                write_atomic(&path, &f.text)?;
            }
            changes.push(FileChange { path, change: Change::Written, diff: d });
        }
        if t.prune {
            let mut existing = vec![];
            walk(&t.dir, &mut existing);
            existing.sort();
            for p in existing {
                if wanted.contains(&p) || !is_generated(&p) {
                    continue;
                }
                let d = check.then(|| diff(&p, &fs::read_to_string(&p).unwrap_or_default(), ""));
                if !check {
                    fs::remove_file(&p)?;
                }
                changes.push(FileChange { path: p, change: Change::Removed, diff: d });
            }
        }
    }
    Ok(changes)
}

/// Writes through a temporary file in the same directory and renames it into place, so a reader
/// never sees half a file and an interrupted run leaves the old file intact.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}
