//! The benchmark harness in quick mode (small sizes): every row is measured and finite, the
//! client-go and code-generator rows are there, and the JSON report is written. Ratios are not
//! asserted here; `cargo xtask bench` reports them. Go is required: without it the run fails
//! (it does not skip the Go rows).

#[test]
fn needs_go_quick_mode_measures_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let run =
        std::process::Command::new(env!("CARGO_BIN_EXE_bench")).args(["--quick", "--out"]).arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "bench --quick failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(report["server"], "devserver", "the report records the server");
    let rows = report["rows"].as_array().unwrap();
    let metrics: Vec<&str> = rows.iter().map(|r| r["metric"].as_str().unwrap()).collect();
    for m in [
        "initial sync",
        "retained bytes/object",
        "relist peak extra",
        "watch events/s",
        "queue items/s, 4 worker(s)",
        "codegen wall time",
        "mesh: RPC calls per idle resync",
        "mesh: controller CPU per idle reconcile",
    ] {
        assert!(metrics.contains(&m), "missing row {m}: {metrics:?}");
    }
    let references = |metric: &str| -> Vec<&str> {
        rows.iter().filter(|r| r["metric"] == metric).map(|r| r["reference_name"].as_str().unwrap()).collect()
    };
    for (metric, reference) in [
        ("initial sync", "client-go informer (WatchList)"),
        ("initial sync", "client-go informer (list+watch)"),
        ("retained bytes/object", "client-go informer, managedFields transform"),
        ("retained bytes/object", "client-go informer"),
        ("relist peak extra", "client-go informer"),
        ("watch events/s", "client-go informer to handler"),
        ("rate-limiting queue items/s, 1 worker(s)", "client-go TypedRateLimitingQueue"),
        ("rate-limiting queue items/s, 4 worker(s)", "client-go TypedRateLimitingQueue"),
        ("typed create latency p50", "client-go typed client"),
        ("typed get latency p50", "client-go typed client"),
        ("typed update latency p50", "client-go typed client"),
        ("codegen wall time", "code-generator (4 generators)"),
    ] {
        assert!(
            references(metric).contains(&reference),
            "missing row {metric} vs {reference}: {:?}",
            references(metric)
        );
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

/// Without Go the benchmark fails and says why, instead of reporting without the client-go rows.
#[test]
fn fails_without_go() {
    let dir = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--quick", "--only", "queue", "--out"])
        .arg(dir.path().join("report.json"))
        .env("PATH", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "bench succeeded without Go:\n{}", String::from_utf8_lossy(&run.stdout));
    assert!(stderr.contains("need Go"), "the failure names Go:\n{stderr}");
    assert!(!dir.path().join("report.json").exists(), "no report without the client-go rows");
}

/// `--server real` without a running cluster fails at once and names the command that starts one.
#[test]
fn real_server_without_a_cluster_names_cluster_up() {
    let dir = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--quick", "--only", "informers", "--server", "real", "--kubeconfig"])
        .arg(dir.path().join("no-such-kubeconfig"))
        .arg("--out")
        .arg(dir.path().join("report.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "bench succeeded without a cluster:\n{}", String::from_utf8_lossy(&run.stdout));
    assert!(stderr.contains("cargo xtask cluster up"), "the failure names the command:\n{stderr}");
    assert!(!dir.path().join("report.json").exists());
}
