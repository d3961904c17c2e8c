//! The layering of `devserver/src`: every `crate::` and `super::` path of each module, as a graph
//! of modules; a cycle fails the test and prints the modules that depend on each other.
//! (`mod.rs`/`<dir>.rs` is the parent module; a child that reaches its parent, or a parent its
//! child, is part of the same module and not counted.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `handlers/write.rs` -> `handlers::write`; `sim/mod.rs` -> `sim`; `lib.rs` -> `` (the root).
fn module_of(rel: &Path) -> String {
    let s = rel.with_extension("").to_string_lossy().replace(std::path::MAIN_SEPARATOR, "::");
    let s = s.strip_suffix("::mod").unwrap_or(&s).to_string();
    if s == "lib" || s == "main" { String::new() } else { s }
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, root, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            out.push((module_of(&rel), std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// The top-level module a path names, resolving `super::` from `module`.
fn target(module: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    let mut rest = path;
    if let Some(r) = rest.strip_prefix("crate::") {
        parts.clear();
        rest = r;
    } else {
        while let Some(r) = rest.strip_prefix("super::") {
            parts.pop()?;
            rest = r;
        }
    }
    let rest = rest.trim_end_matches(':');
    if rest.is_empty() {
        return None;
    }
    parts.extend(rest.split("::").filter(|s| !s.is_empty()));
    Some(parts.join("::"))
}

/// Module -> the modules it uses (only between distinct modules that are not nested in each other).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        let code: String =
            text.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
            // The start of a path: not preceded by an identifier character or `::`.
            let before = &code[..i];
            if before.ends_with("::") || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let path: String =
                code[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            // `crate::{a, b::c}` names several paths at once.
            let paths = match code[i + path.len()..].strip_prefix('{') {
                Some(group) if path.ends_with("::") => {
                    group_items(group).into_iter().map(|item| format!("{path}{item}")).collect()
                }
                _ => vec![path],
            };
            for path in paths {
                let Some(mut t) = target(module, &path) else { continue };
                // A path into a module nested deeper than the files: keep the deepest known module.
                while !modules.contains(&t) && t.contains("::") {
                    t = t.rsplit_once("::").map(|(a, _)| a.to_string()).unwrap_or_default();
                }
                let nested = t.is_empty()
                    || module.is_empty()
                    || t == *module
                    || module.starts_with(&format!("{t}::"))
                    || t.starts_with(&format!("{module}::"));
                if modules.contains(&t) && !nested {
                    g.entry(module.clone()).or_default().insert(t);
                }
            }
        }
    }
    g
}

/// The paths of a `{...}` use group (the text after its `{`), each up to its first nested group:
/// `a, b::{c, d}, e}` -> `a`, `b::`, `e`.
fn group_items(text: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => items.push(String::new()),
            c if depth == 0 && !c.is_whitespace() => items.last_mut().unwrap().push(c),
            _ => {}
        }
    }
    items.into_iter().filter(|i| !i.is_empty() && i != "self").collect()
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        if let Some(next) = t.g.get(v) {
            for w in next {
                if !t.index.contains_key(w.as_str()) {
                    visit(t, w);
                    let lw = t.low[w.as_str()];
                    let lv = t.low[v];
                    t.low.insert(v, lv.min(lw));
                } else if t.on.contains(w.as_str()) {
                    let iw = t.index[w.as_str()];
                    let lv = t.low[v];
                    t.low.insert(v, lv.min(iw));
                }
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T { g, index: BTreeMap::new(), low: BTreeMap::new(), stack: vec![], on: BTreeSet::new(), out: vec![] };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn devserver_modules_have_no_import_cycles() {
    let g = graph();
    assert!(g.len() > 10, "the scan found the modules: {g:?}");
    let found = cycles(&g);
    let report: Vec<String> = found
        .iter()
        .map(|scc| {
            let edges: Vec<String> = scc
                .iter()
                .flat_map(|m| g[m].iter().filter(|t| scc.contains(t)).map(move |t| format!("{m} -> {t}")))
                .collect();
            format!("cycle among {scc:?}: {}", edges.join(", "))
        })
        .collect();
    assert!(found.is_empty(), "import cycles in devserver/src:\n{}", report.join("\n"));
}

#[test]
fn use_groups_name_each_module() {
    assert_eq!(group_items("a, b::{c, d}, self, e} x"), vec!["a", "b::", "e"]);
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let g: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
            .collect();
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    assert_eq!(target("handlers::write", "super::super::app::App").as_deref(), Some("app::App"));
    assert_eq!(target("sim::rpc", "crate::sim::bitcoind::X").as_deref(), Some("sim::bitcoind::X"));
    assert_eq!(target("", "super::x"), None, "above the crate root");
}
