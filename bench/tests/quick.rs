//! The benchmark harness in quick mode (small sizes): every row is measured and finite, and the
//! JSON report is written. Ratios are not asserted here; `cargo xtask bench` reports them.

#[test]
fn quick_mode_measures_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let run =
        std::process::Command::new(env!("CARGO_BIN_EXE_bench")).args(["--quick", "--out"]).arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "bench --quick failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let metrics: Vec<&str> = rows.iter().map(|r| r["metric"].as_str().unwrap()).collect();
    for m in [
        "initial sync",
        "retained bytes/object",
        "relist peak extra",
        "watch events/s",
        "queue items/s, 4 worker(s)",
        "codegen wall time",
    ] {
        assert!(metrics.contains(&m), "missing row {m}: {metrics:?}");
    }
    for r in rows {
        let keys: &[&str] = if r["reference_name"] == "-" { &["ours"] } else { &["ours", "reference", "ratio"] };
        for k in keys.iter().copied() {
            let v = r[k].as_f64().unwrap_or(f64::NAN);
            assert!(v.is_finite() && v >= 0.0, "{k} of {} is {v}", r["metric"]);
        }
        assert!(r["n"].as_u64().unwrap() > 0);
    }
    assert!(stdout.contains("ratio"), "the table is printed:\n{stdout}");
}
