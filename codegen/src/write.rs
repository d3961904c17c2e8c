//! Writing output as one set: everything is rendered in memory first, compared with the disk,
//! staged next to its destination, and only then renamed into place. A failure while staging
//! changes nothing; a failure while renaming puts back what was already replaced. `--check`
//! writes nothing and reports a unified diff instead.
//!
//! Stale files are removed only through the [`manifest`] of each folder the
//! generator owns, never by looking at a file's content: see that module for why.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::manifest::{self, Manifest};
use crate::render::Rendered;

/// One directory the generator writes to, and the files it renders there.
#[derive(Clone, Debug)]
pub struct Target {
    /// The directory.
    pub dir: PathBuf,
    /// Files to have in it.
    pub files: Vec<Rendered>,
    /// The generator owns these files: they are recorded in the folder's manifest, and files the
    /// manifest lists that are no longer rendered are removed. Without it, a file is written
    /// when missing or different and is never removed (e.g. a Cargo.toml created once).
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
    /// A file the previous run generated and this one no longer renders, left in place because
    /// it was edited since (it is no longer listed in the manifest).
    Kept,
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

/// A write that failed, with an exact account of the state it left.
#[derive(Debug)]
pub struct WriteError {
    /// The file or folder the operation failed on.
    pub path: PathBuf,
    /// What the operation was (`reading`, `writing a temporary copy of`, ...).
    pub action: &'static str,
    /// The OS error.
    pub source: io::Error,
    /// What is on disk now.
    pub state: String,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}; {}", self.action, self.path.display(), self.source, self.state)
    }
}

impl std::error::Error for WriteError {}

const NOTHING: &str = "nothing was written";

fn diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &format!("{name} (generated)"))
        .to_string()
}

/// A file to have on disk, and what is there now.
struct Planned {
    path: PathBuf,
    old: Option<Vec<u8>>,
    new: String,
}

/// Reads a file, `None` if it does not exist. Anything else (a folder in its place, no
/// permission) is an error before anything was written.
fn read_existing(path: &Path) -> Result<Option<Vec<u8>>, WriteError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(WriteError { path: path.into(), action: "reading", source, state: NOTHING.into() }),
    }
}

/// What the previous run recorded in `dir`, and which of those files this run no longer renders:
/// unchanged ones are to be removed, edited ones kept.
fn stale_files(
    dir: &Path,
    rendered: &HashSet<PathBuf>,
    remove: &mut Vec<(PathBuf, Vec<u8>)>,
    kept: &mut Vec<PathBuf>,
) -> Result<(), WriteError> {
    let path = dir.join(manifest::FILE);
    let Some(bytes) = read_existing(&path)? else { return Ok(()) };
    let old = Manifest::parse(&String::from_utf8_lossy(&bytes)).map_err(|m| WriteError {
        path: path.clone(),
        action: "reading the manifest",
        source: io::Error::new(io::ErrorKind::InvalidData, m),
        state: format!("{NOTHING}; fix or delete the manifest (deleting it means no stale file is removed)"),
    })?;
    for (rel, h) in old.files {
        let full = dir.join(&rel);
        if rendered.contains(&full) {
            continue;
        }
        match fs::read(&full) {
            Ok(b) if manifest::hash(&String::from_utf8_lossy(&b)) == h => remove.push((full, b)),
            Ok(_) => kept.push(full),
            Err(_) => {} // gone already, or not a file any more: nothing of ours to remove
        }
    }
    Ok(())
}

/// Compares every target with the disk and, unless `check`, makes the disk match, as one set.
pub fn apply(targets: &[Target], check: bool) -> Result<Vec<FileChange>, WriteError> {
    let mut wanted: Vec<(PathBuf, String)> = vec![];
    let mut owned: BTreeMap<&Path, Vec<(&Path, &str)>> = BTreeMap::new();
    for t in targets {
        for f in &t.files {
            wanted.push((t.dir.join(&f.path), f.text.clone()));
            if t.prune {
                owned.entry(&t.dir).or_default().push((&f.path, &f.text));
            }
        }
    }
    let rendered: HashSet<PathBuf> = wanted.iter().map(|(p, _)| p.clone()).collect();
    let mut remove = vec![];
    let mut kept = vec![];
    for (dir, files) in &owned {
        stale_files(dir, &rendered, &mut remove, &mut kept)?;
        wanted.push((dir.join(manifest::FILE), Manifest::of(files.iter().copied()).render()));
    }
    let mut plan = Vec::with_capacity(wanted.len());
    let mut changes = Vec::with_capacity(wanted.len() + remove.len());
    for (path, new) in wanted {
        let old = read_existing(&path)?;
        if old.as_deref() == Some(new.as_bytes()) {
            changes.push(FileChange { path, change: Change::Unchanged, diff: None });
            continue;
        }
        let d = check.then(|| diff(&path, &String::from_utf8_lossy(old.as_deref().unwrap_or_default()), &new));
        changes.push(FileChange { path: path.clone(), change: Change::Written, diff: d });
        plan.push(Planned { path, old, new });
    }
    for (path, old) in &remove {
        let d = check.then(|| diff(path, &String::from_utf8_lossy(old), ""));
        changes.push(FileChange { path: path.clone(), change: Change::Removed, diff: d });
    }
    changes.extend(kept.into_iter().map(|path| FileChange { path, change: Change::Kept, diff: None }));
    if !check {
        commit(&plan)?;
        remove_stale(&remove, plan.len())?;
    }
    Ok(changes)
}

fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    dir.join(format!(".{name}.codegen-{}.tmp", std::process::id()))
}

/// Creates `dir` and its missing ancestors, recording each one created (outermost first).
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut missing = vec![];
    let mut d = Some(dir);
    while let Some(p) = d {
        if p.as_os_str().is_empty() || p.exists() {
            break;
        }
        missing.push(p.to_path_buf());
        d = p.parent();
    }
    for p in missing.into_iter().rev() {
        fs::create_dir(&p)?;
        created.push(p);
    }
    Ok(())
}

/// Removes temporary files and the folders this run created (only if empty).
fn clean_up(temps: &[PathBuf], created: &[PathBuf]) {
    for t in temps {
        let _ = fs::remove_file(t);
    }
    for d in created.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

/// Stages every file as a temporary copy beside its destination, then renames them all into
/// place. Renames within a folder are atomic, so each file is either old or new; if one rename
/// fails, the files already replaced get their old content back (or are removed if they are new).
fn commit(plan: &[Planned]) -> Result<(), WriteError> {
    let mut created = vec![];
    let mut temps = vec![];
    for p in plan {
        let tmp = temp_path(&p.path);
        let staged =
            create_dirs(p.path.parent().unwrap_or(Path::new(".")), &mut created).and_then(|()| fs::write(&tmp, &p.new));
        if let Err(source) = staged {
            temps.push(tmp);
            clean_up(&temps, &created);
            let action = "writing a temporary copy of";
            return Err(WriteError { path: p.path.clone(), action, source, state: NOTHING.into() });
        }
        temps.push(tmp);
    }
    for (i, p) in plan.iter().enumerate() {
        if let Err(source) = fs::rename(&temps[i], &p.path) {
            let unrestored = restore(&plan[..i]);
            clean_up(&temps[i..], &created);
            let state = if unrestored.is_empty() {
                format!("nothing was changed (the {i} file(s) already replaced were restored)")
            } else {
                let mut s = format!("{} of the {i} file(s) already replaced could not be restored: ", unrestored.len());
                for (path, e) in &unrestored {
                    let _ = write!(s, "{} ({e}); ", path.display());
                }
                s.push_str("run the generator again once the error is fixed");
                s
            };
            return Err(WriteError { path: p.path.clone(), action: "replacing", source, state });
        }
    }
    Ok(())
}

/// Puts back the previous content of files already replaced; returns the ones that failed.
fn restore(done: &[Planned]) -> Vec<(PathBuf, io::Error)> {
    let mut failed = vec![];
    for p in done {
        let r = match &p.old {
            Some(old) => fs::write(&p.path, old),
            None => fs::remove_file(&p.path),
        };
        if let Err(e) = r {
            failed.push((p.path.clone(), e));
        }
    }
    failed
}

fn remove_stale(remove: &[(PathBuf, Vec<u8>)], written: usize) -> Result<(), WriteError> {
    for (i, (path, _)) in remove.iter().enumerate() {
        if let Err(source) = fs::remove_file(path) {
            let state = format!(
                "all {written} changed file(s) were written and {i} of {} stale file(s) removed; this one and the rest remain",
                remove.len()
            );
            return Err(WriteError { path: path.clone(), action: "removing stale", source, state });
        }
    }
    Ok(())
}

/// Writes through a temporary file in the same directory and renames it into place, so a reader
/// never sees half a file and an interrupted run leaves the old file intact.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = temp_path(path);
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(path: PathBuf, new: &str) -> Planned {
        let old = fs::read(&path).ok();
        Planned { path, old, new: new.into() }
    }

    #[test]
    fn a_failed_rename_restores_the_files_already_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("a.rs");
        fs::write(&existing, "old").unwrap();
        let created = dir.path().join("sub/b.rs");
        // A folder appears where the last file goes after the plan was made: its rename fails.
        let blocker = dir.path().join("c.rs");
        let plan =
            vec![planned(existing.clone(), "new"), planned(created.clone(), "new"), planned(blocker.clone(), "new")];
        fs::create_dir(&blocker).unwrap();
        fs::write(blocker.join("x"), "").unwrap();
        let err = commit(&plan).unwrap_err();
        assert_eq!(err.path, blocker);
        assert!(
            err.to_string().contains("nothing was changed (the 2 file(s) already replaced were restored)"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&existing).unwrap(), "old");
        assert!(!created.exists() && !dir.path().join("sub").exists(), "new files and folders are gone");
        let mut left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["a.rs", "c.rs"], "no temporary file is left");
    }

    #[test]
    fn a_failed_staging_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.rs");
        // A file where a folder must be created: staging the second file fails.
        fs::write(dir.path().join("f"), "").unwrap();
        let plan = vec![planned(first.clone(), "new"), planned(dir.path().join("f/b.rs"), "new")];
        let err = commit(&plan).unwrap_err();
        assert!(err.to_string().contains("nothing was written"), "{err}");
        assert!(!first.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
