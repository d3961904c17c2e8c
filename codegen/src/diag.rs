//! Diagnostics: every problem the generator finds, reported at `file:line:col` with a hint.
//!
//! The generator never stops at the first problem: it collects all of them so one run shows the
//! whole list, and it writes nothing while any is present (code-generator's silent partial output is
//! the pain point this design removes).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in an input file; `line` and `col` are 1-based, `col` counts characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The file, as the generator was given it.
    pub file: Arc<Path>,
    /// 1-based line; 0 when the problem concerns a whole file or folder.
    pub line: usize,
    /// 1-based column in characters; 0 when the problem concerns a whole file or folder.
    pub col: usize,
}

impl Loc {
    /// A position in `file`.
    pub fn new(file: &Arc<Path>, line: usize, col: usize) -> Self {
        Self { file: file.clone(), line, col }
    }

    /// A problem with a whole file or folder, which has no line.
    pub fn whole(file: impl Into<PathBuf>) -> Self {
        Self { file: Arc::from(file.into()), line: 0, col: 0 }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }
}

/// One problem in the input, with an optional hint that says how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub loc: Loc,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when the generator can tell.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.loc, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// The problems found so far, in the order they were found.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    /// Files that are not Rust: reported alone, since every other finding may follow from them.
    syntax: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records a problem without a hint.
    pub fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.items.push(Diagnostic { loc, message: message.into(), hint: None });
    }

    /// Records a problem with a hint.
    pub fn error_hint(&mut self, loc: Loc, message: impl Into<String>, hint: impl Into<String>) {
        self.items.push(Diagnostic { loc, message: message.into(), hint: Some(hint.into()) });
    }

    /// Records a file that does not parse as Rust.
    pub fn syntax_error(&mut self, loc: Loc, message: impl Into<String>) {
        self.syntax.push(Diagnostic { loc, message: message.into(), hint: None });
    }

    /// True when some file did not parse.
    pub fn has_syntax_errors(&self) -> bool {
        !self.syntax.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.items.len() + self.syntax.len()
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.syntax.is_empty()
    }

    /// The problems, sorted by file and position so the report reads top to bottom. When a file
    /// does not parse, only the syntax errors: the rest (a missing kind, an unknown type) may be
    /// consequences and would bury the cause.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        if !self.syntax.is_empty() {
            self.items = std::mem::take(&mut self.syntax);
        }
        self.items.sort_by(|a, b| (&a.loc.file, a.loc.line, a.loc.col).cmp(&(&b.loc.file, b.loc.line, b.loc.col)));
        self.items.dedup();
        self.items
    }
}
