//! Reading the input files: the folder layout in a stable order, and each file's text parsed
//! by syn after a non-recursive check that its brackets do not nest deeper than syn can take.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Diagnostics, Loc};
use crate::tags::Source;

pub(super) fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

pub(super) fn read_source(path: &Path, diags: &mut Diagnostics) -> Option<(Source, syn::File)> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.error(Loc::whole(path), format!("cannot read file: {e}"));
            return None;
        }
    };
    let source = Source::new(Arc::from(path), &text);
    if let Some(span) = too_deep(&text) {
        diags.syntax_error(
            source.loc(span),
            format!("brackets nest more than {MAX_NESTING} levels deep here; the generator reads no deeper"),
        );
        return None;
    }
    match syn::parse_file(&text) {
        Ok(file) => Some((source, file)),
        Err(e) => {
            let loc = source.loc(e.span());
            diags.syntax_error(loc, format!("cannot parse Rust: {e}"));
            None
        }
    }
}

/// How deep brackets (`(`, `[`, `{` and the angle brackets of generics) may nest in an input
/// file. syn parses recursively, so without a bound a hostile file aborts the process with a
/// stack overflow; API types need a handful of levels.
pub const MAX_NESTING: usize = 64;

/// Where the brackets of `text` first nest deeper than [`MAX_NESTING`], found without recursion
/// on the token trees. Angle brackets count within one statement and group (a stray `<` of a
/// comparison is forgotten at the next `;` or closing bracket). Text that does not lex is left
/// to syn, which reports it.
pub(super) fn too_deep(text: &str) -> Option<proc_macro2::Span> {
    use proc_macro2::{Spacing, TokenTree};
    let tokens: proc_macro2::TokenStream = text.parse().ok()?;
    let mut stack = vec![(tokens.into_iter(), 0usize)];
    let mut joint_prev: Option<char> = None;
    loop {
        let levels = stack.len();
        let (iter, angle) = stack.last_mut()?;
        let Some(tt) = iter.next() else {
            stack.pop();
            continue;
        };
        let prev = joint_prev.take();
        match tt {
            TokenTree::Group(g) => {
                if levels + *angle >= MAX_NESTING {
                    return Some(g.span_open());
                }
                stack.push((g.stream().into_iter(), 0));
            }
            TokenTree::Punct(p) => {
                match p.as_char() {
                    '<' if prev != Some('<') => {
                        *angle += 1;
                        if levels + *angle > MAX_NESTING {
                            return Some(p.span());
                        }
                    }
                    '>' if !matches!(prev, Some('-' | '=' | '>')) => *angle = angle.saturating_sub(1),
                    ';' => *angle = 0,
                    _ => {}
                }
                if p.spacing() == Spacing::Joint {
                    joint_prev = Some(p.as_char());
                }
            }
            _ => {}
        }
    }
}
