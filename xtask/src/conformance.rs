//! `cargo xtask conformance`: runs the devserver's conformance cases
//! (`devserver/tests/conformance.rs`) against the devserver and against the real kube-apiserver
//! of `cargo xtask cluster up`, and compares them case by case.
//!
//! Each run writes one transcript per case (every exchange: method, path, status, reason, kind
//! and the reply's top-level fields; see `devserver/tests/common`), and the test harness says
//! whether the case's own checks held. A case is *identical* when its checks held on both
//! servers and the transcripts agree step by step; a difference is *documented* when
//! `devserver/DEVIATIONS.md` lists the case with its reason, and *undocumented* otherwise.
//! Cases named `devserver_only_*` test what only the devserver has and are not compared.
//!
//! Output: `target/conformance/report.json`
//! (`{"cases", "identical", "documented", "undocumented", "rows"}`) and `report.md`, a table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

/// The file of documented deviations: a Markdown table `| case | reason |`.
pub const DEVIATIONS: &str = "devserver/DEVIATIONS.md";

/// One compared case.
#[derive(Serialize)]
struct Row {
    case: String,
    /// `identical`, `documented` or `undocumented`.
    verdict: &'static str,
    devserver_passed: bool,
    kube_apiserver_passed: bool,
    /// The first difference, in words (empty when identical).
    difference: String,
    /// The documented reason, when there is one.
    reason: String,
}

#[derive(Serialize)]
struct Report {
    cases: usize,
    identical: usize,
    documented: usize,
    undocumented: usize,
    /// Listed in DEVIATIONS.md but identical now: the entry can go.
    stale_deviations: Vec<String>,
    rows: Vec<Row>,
}

/// Runs both sides and writes the report; fails when a difference is undocumented.
pub fn run(root: &Path) -> Result<()> {
    let kubeconfig = real_kubeconfig(root)?;
    let out = root.join("target/conformance");
    let dev_dir = out.join("devserver");
    let real_dir = out.join("kube-apiserver");
    for d in [&dev_dir, &real_dir] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("clearing {}", d.display()))?;
        }
        std::fs::create_dir_all(d)?;
    }
    println!("conformance: running the cases against the devserver");
    let dev = run_cases(root, &dev_dir, None)?;
    println!("conformance: running the cases against kube-apiserver ({})", kubeconfig.display());
    let real = run_cases(root, &real_dir, Some(&kubeconfig))?;
    let deviations = read_deviations(&root.join(DEVIATIONS))?;

    let mut rows = Vec::new();
    for (case, &dev_passed) in &dev {
        if case.starts_with("devserver_only_") {
            continue;
        }
        let Some(&real_passed) = real.get(case) else {
            bail!("case {case} ran against the devserver but not against kube-apiserver");
        };
        let difference = compare(&dev_dir, &real_dir, case, dev_passed, real_passed)?;
        let reason = deviations.get(case).cloned().unwrap_or_default();
        let verdict = match (difference.is_empty(), reason.is_empty()) {
            (true, _) => "identical",
            (false, false) => "documented",
            (false, true) => "undocumented",
        };
        rows.push(Row {
            case: case.clone(),
            verdict,
            devserver_passed: dev_passed,
            kube_apiserver_passed: real_passed,
            difference,
            reason,
        });
    }
    let count = |v: &str| rows.iter().filter(|r| r.verdict == v).count();
    let stale_deviations: Vec<String> = deviations
        .keys()
        .filter(|c| rows.iter().any(|r| &r.case == *c && r.verdict == "identical") || !dev.contains_key(*c))
        .cloned()
        .collect();
    let report = Report {
        cases: rows.len(),
        identical: count("identical"),
        documented: count("documented"),
        undocumented: count("undocumented"),
        stale_deviations,
        rows,
    };
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    let table = markdown(&report);
    std::fs::write(out.join("report.md"), &table)?;
    print!("{table}");
    println!("conformance: report in {}", out.join("report.json").display());
    if report.undocumented > 0 {
        bail!(
            "{} case(s) differ from kube-apiserver without an entry in {DEVIATIONS}: fix the devserver or document the deviation",
            report.undocumented
        );
    }
    Ok(())
}

/// The kubeconfig of the real server: `KUBE_TEST_KUBECONFIG`, else the running `cargo xtask cluster`.
fn real_kubeconfig(root: &Path) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KUBE_TEST_KUBECONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let kc = crate::cluster::Paths::new(root).kubeconfig();
    if !crate::cluster::is_running(root) {
        bail!("no real API server: start one with `cargo xtask cluster up` (or set KUBE_TEST_KUBECONFIG)");
    }
    Ok(kc)
}

/// Runs the conformance test binary; returns each case's pass/fail as libtest reports it.
fn run_cases(root: &Path, transcripts: &Path, kubeconfig: Option<&Path>) -> Result<BTreeMap<String, bool>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["test", "--locked", "-p", "devserver", "--test", "conformance", "--", "--test-threads", "4"])
        .env("CONFORMANCE_TRANSCRIPTS", transcripts)
        .env("RUST_BACKTRACE", "0");
    match kubeconfig {
        Some(kc) => {
            cmd.env("KUBE_TEST_KUBECONFIG", kc).args(["--skip", "devserver_only"]);
        }
        None => {
            cmd.env_remove("KUBE_TEST_KUBECONFIG");
        }
    }
    let output = cmd.output().context("running cargo test")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    std::fs::write(
        transcripts.join("test-output.txt"),
        format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr)),
    )?;
    let results = parse_libtest(&stdout);
    if results.is_empty() {
        bail!(
            "the conformance cases did not run ({}); output in {}",
            output.status,
            transcripts.join("test-output.txt").display()
        );
    }
    Ok(results)
}

/// `test NAME ... ok` / `... FAILED` lines.
fn parse_libtest(stdout: &str) -> BTreeMap<String, bool> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test "))
        .filter_map(|l| l.split_once(" ... "))
        .filter_map(|(name, result)| match result.trim() {
            "ok" => Some((name.to_string(), true)),
            "FAILED" => Some((name.to_string(), false)),
            _ => None,
        })
        .collect()
}

/// The first difference between the two runs of a case, or an empty string.
fn compare(dev_dir: &Path, real_dir: &Path, case: &str, dev_passed: bool, real_passed: bool) -> Result<String> {
    let dev = transcript(dev_dir, case)?;
    let real = transcript(real_dir, case)?;
    let path = |v: &Value| opaque_values_hidden(v["path"].as_str().unwrap_or(""));
    for (i, (d, r)) in dev.iter().zip(&real).enumerate() {
        let step =
            format!("step {} ({} {})", i + 1, d["method"].as_str().unwrap_or(""), d["path"].as_str().unwrap_or(""));
        if d["method"] != r["method"] || path(d) != path(r) {
            return Ok(format!("{step}: kube-apiserver's run sent {} {} instead", r["method"], r["path"]));
        }
        for field in ["status", "reason", "kind", "keys"] {
            if d[field] != r[field] {
                return Ok(format!("{step}: {field} devserver {} vs kube-apiserver {}", d[field], r[field]));
            }
        }
    }
    if dev.len() != real.len() {
        return Ok(format!("{} exchanges on the devserver, {} on kube-apiserver", dev.len(), real.len()));
    }
    Ok(match (dev_passed, real_passed) {
        (true, true) => String::new(),
        (false, true) => "the case's checks fail on the devserver".into(),
        (true, false) => "the case's checks fail on kube-apiserver (same codes and reasons)".into(),
        (false, false) => "the case's checks fail on both".into(),
    })
}

/// The path with the values of `continue` and `hash` (opaque, different on every server)
/// replaced by `…`.
fn opaque_values_hidden(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else { return path.to_string() };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k @ ("continue" | "hash"), _)) => format!("{k}=…"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

fn transcript(dir: &Path, case: &str) -> Result<Vec<Value>> {
    let path = dir.join(format!("{}.jsonl", case.replace("::", "__")));
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
    text.lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("{}: not a transcript line: {l}", path.display())))
        .collect()
}

/// `| case | reason |` rows of the deviations file (the header and separator are skipped).
fn read_deviations(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [case, reason, ..] = cells.as_slice() else { continue };
        let case = case.trim_matches('`');
        if case.is_empty() || case == "case" || case.starts_with("---") {
            continue;
        }
        if reason.is_empty() {
            bail!("{}: the deviation of {case} gives no reason", path.display());
        }
        out.insert(case.to_string(), reason.to_string());
    }
    Ok(out)
}

fn markdown(r: &Report) -> String {
    let pct = |n: usize| if r.cases == 0 { 0.0 } else { 100.0 * n as f64 / r.cases as f64 };
    let mut s = format!(
        "| cases | identical | documented | undocumented |\n|---|---|---|---|\n| {} | {} ({:.0} %) | {} | {} |\n\n",
        r.cases,
        r.identical,
        pct(r.identical),
        r.documented,
        r.undocumented
    );
    s.push_str("| case | verdict | difference | reason |\n|---|---|---|---|\n");
    for row in r.rows.iter().filter(|row| row.verdict != "identical") {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.case,
            row.verdict,
            row.difference.replace('|', "\\|"),
            row.reason
        ));
    }
    for c in &r.stale_deviations {
        s.push_str(&format!("\nstale entry in {DEVIATIONS}: {c} (identical now, or no such case)\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_lines_are_parsed() {
        let out = "running 3 tests\ntest a ... ok\ntest b ... FAILED\ntest c ... ignored\n\ntest result: FAILED.";
        let r = parse_libtest(out);
        assert_eq!(r.get("a"), Some(&true));
        assert_eq!(r.get("b"), Some(&false));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn opaque_query_values_are_hidden() {
        assert_eq!(opaque_values_hidden("/a?limit=1&continue=abc&x=y"), "/a?limit=1&continue=…&x=y");
        assert_eq!(opaque_values_hidden("/openapi/v3/apis/g/v1?hash=F00"), "/openapi/v3/apis/g/v1?hash=…");
        assert_eq!(opaque_values_hidden("/plain"), "/plain");
    }

    #[test]
    fn deviations_need_a_reason() {
        let dir = std::env::temp_dir().join(format!("xtask-dev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("D.md");
        std::fs::write(&f, "| case | reason |\n|---|---|\n| `x` | because |\n").unwrap();
        assert_eq!(read_deviations(&f).unwrap().get("x").map(String::as_str), Some("because"));
        std::fs::write(&f, "| case | reason |\n|---|---|\n| y |  |\n").unwrap();
        assert!(read_deviations(&f).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
