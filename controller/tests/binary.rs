//! The `bitcoin-controller` binary in `--embedded` mode: `--exit-when-ready` exits 0 with the
//! network Ready, and SIGINT drains and exits 0. Each run uses its own RPC port.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn controller(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bitcoin-controller"));
    c.args(["--embedded", "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0"]).args(args);
    c.env_remove("KUBECONFIG").env_remove("RUST_LOG");
    c
}

#[test]
fn exit_when_ready_exits_zero_with_the_network_ready() {
    let start = Instant::now();
    let mut child = controller(&["--exit-when-ready", "--rpc-port", "28601"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let text: Vec<String> = BufReader::new(stdout).lines().map_while(Result::ok).collect();
        let _ = tx.send(text.join("\n"));
    });
    let out = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("no exit within 60s");
    });
    let status = child.wait().unwrap();
    eprintln!("embedded --exit-when-ready took {:?}\n{out}", start.elapsed());
    assert!(status.success(), "{status:?}\n{out}");
    assert!(out.contains("kubeconfig: "), "{out}");
    assert!(out.contains("default/my-network"), "{out}");
    assert!(out.contains("3/3 ready  Ready=True (NetworkReady)"), "{out}");
    assert!(out.contains("all networks Ready after"), "{out}");
    // One line per change, after a legend; the simulator's log went to the file it names.
    assert!(out.contains("legend: "), "{out}");
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("default/my-network ")).collect();
    assert!(rows.iter().all(|r| r.starts_with('[')), "each change is one timestamped line: {rows:?}");
    let log = out.lines().find_map(|l| l.strip_prefix("simulator log: ")).expect("the log file is named");
    let path = std::path::PathBuf::from(log.split(" (").next().unwrap());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    assert!(text.contains("devserver::sim"), "{text}");
    assert!(!out.contains("devserver::sim"), "simulator lines stay out of the table: {out}");
}

#[test]
fn sigint_drains_and_exits_zero_with_json_logs() {
    let mut child = controller(&["--rpc-port", "28602", "--log-format", "json", "-v"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("all networks Ready") {
                let _ = tx.send(());
            }
        }
    });
    let stderr = child.stderr.take().unwrap();
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stderr).lines().map_while(Result::ok).collect();
        let _ = etx.send(lines);
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("not Ready within 60s");
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("did not exit within 15s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
    let lines = erx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some(), "{l}");
    }
    let all = lines.join("\n");
    assert!(all.contains("draining in-flight reconciles"), "{all}");
    assert!(all.contains("controller stopped"), "{all}");
}

#[test]
fn bad_flags_and_configs_fail_cleanly() {
    let out = Command::new(env!("CARGO_BIN_EXE_bitcoin-controller"))
        .args([
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "--metrics-addr",
            "127.0.0.1:0",
            "--health-addr",
            "127.0.0.1:0",
        ])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reading kubeconfig /nonexistent/kubeconfig"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_bitcoin-controller")).args(["--workers", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workers"));
}
