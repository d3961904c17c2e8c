//! Starting, probing and stopping the two server processes. They outlive `cargo xtask cluster
//! up` (own process group, stdin closed, output to a log file) and are stopped by pid, after
//! checking that the pid still runs our binary so a reused pid is never signalled.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Paths;
use super::certs::Material;

/// A started server process and its log.
pub struct Started {
    pub name: &'static str,
    pub pid: u32,
    pub log: PathBuf,
    child: std::cell::RefCell<Child>,
}

/// A port on 127.0.0.1 that was free a moment ago (the kernel picks it).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(l.local_addr()?.port())
}

fn spawn(name: &'static str, binary: &Path, args: &[String], log: PathBuf, cwd: &Path) -> Result<Started> {
    use std::os::unix::process::CommandExt;
    let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new(binary)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    Ok(Started { name, pid: child.id(), log, child: std::cell::RefCell::new(child) })
}

/// etcd with its data in `run/etcd`, client and peer URLs on loopback. `--unsafe-no-fsync`:
/// this cluster is thrown away after the tests; fsync per write only slows them down.
pub fn start_etcd(paths: &Paths, client_port: u16, peer_port: u16) -> Result<Started> {
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    let args = [
        "--name=xtask".to_string(),
        format!("--data-dir={}", paths.run.join("etcd").display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=xtask={peer}"),
        "--unsafe-no-fsync".to_string(),
        "--log-level=warn".to_string(),
    ];
    spawn("etcd", &paths.bin.join("etcd"), &args, paths.run.join("etcd.log"), &paths.run)
}

/// kube-apiserver: TLS with our certificate, the static admin token, RBAC, ServiceAccount
/// tokens signed by our key, an audit log of every request (metadata level, `run/audit.log`:
/// the tests' request log on this server; see the `testenv` crate) and the
/// OwnerReferencesPermissionEnforcement admission plugin (clusters commonly enable it; the
/// controller's RBAC proof needs it). Without a controller manager nothing would create the
/// `default` ServiceAccount that the ServiceAccount admission plugin demands of every pod,
/// so that plugin is off; the endpoint reconciler is off because it refuses a loopback
/// advertise address.
pub fn start_apiserver(paths: &Paths, m: &Material, port: u16, etcd_port: u16, all_apis: bool) -> Result<Started> {
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        bail!("port 127.0.0.1:{port} for kube-apiserver is in use");
    }
    let mut args = vec![
        format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
        "--bind-address=127.0.0.1".to_string(),
        "--advertise-address=127.0.0.1".to_string(),
        format!("--secure-port={port}"),
        "--endpoint-reconciler-type=none".to_string(),
        "--authorization-mode=RBAC".to_string(),
        format!("--token-auth-file={}", m.token_file.display()),
        format!("--tls-cert-file={}", m.serving_cert.display()),
        format!("--tls-private-key-file={}", m.serving_key.display()),
        format!("--cert-dir={}", paths.run.join("certs").display()),
        "--service-account-issuer=https://kubernetes.default.svc".to_string(),
        format!("--service-account-key-file={}", m.sa_public.display()),
        format!("--service-account-signing-key-file={}", m.sa_private.display()),
        "--service-cluster-ip-range=10.0.0.0/24".to_string(),
        "--disable-admission-plugins=ServiceAccount".to_string(),
        "--enable-admission-plugins=OwnerReferencesPermissionEnforcement".to_string(),
        format!("--audit-policy-file={}", m.audit_policy.display()),
        format!("--audit-log-path={}", paths.run.join("audit.log").display()),
        "--audit-log-format=json".to_string(),
        "--audit-log-mode=blocking".to_string(),
        "--audit-log-maxsize=0".to_string(),
        "--enable-priority-and-fairness=false".to_string(),
    ];
    if all_apis {
        args.push("--runtime-config=api/all=true".to_string());
        args.push("--feature-gates=AllAlpha=true,AllBeta=true".to_string());
    }
    spawn("kube-apiserver", &paths.bin.join("kube-apiserver"), &args, paths.run.join("kube-apiserver.log"), &paths.run)
}

/// Polls `/readyz` through kubectl with the admin kubeconfig until it answers `ok`; fails at
/// once, with the end of the log, when a process exits.
pub fn wait_ready(paths: &Paths, procs: &[&Started], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        for p in procs {
            if let Some(status) = p.child.borrow_mut().try_wait()? {
                bail!(
                    "{} exited during start-up ({status}); its log is {}:\n{}",
                    p.name,
                    p.log.display(),
                    tail(&p.log)
                );
            }
        }
        match ready(&paths.kubeconfig(), Duration::from_secs(5)) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                bail!(
                    "kube-apiserver was not ready within {} s ({e:#}); its log is {}",
                    timeout.as_secs(),
                    paths.run.join("kube-apiserver.log").display()
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// One `/readyz` probe through kubectl.
pub fn ready(kubeconfig: &Path, timeout: Duration) -> Result<()> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg(format!("--request-timeout={}s", timeout.as_secs()))
        .args(["get", "--raw", "/readyz"])
        .output()
        .context("running kubectl (it probes the cluster; install it to use `cargo xtask cluster`)")?;
    if out.status.success() && out.stdout.starts_with(b"ok") {
        return Ok(());
    }
    bail!("/readyz: {}", String::from_utf8_lossy(&out.stderr).trim())
}

/// Whether `pid` is alive and runs `binary` (a reused pid running something else is not ours).
pub fn is_ours(pid: u32, binary: &Path) -> bool {
    let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else { return false };
    let want = binary.canonicalize().unwrap_or_else(|_| binary.to_path_buf());
    exe == want
}

/// SIGTERM, up to 10 s for a clean exit, then SIGKILL.
pub fn stop(pid: u32, binary: &Path) {
    if !is_ours(pid, binary) {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_ours(pid, binary) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if is_ours(pid, binary) {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
}

/// The last lines of a log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
