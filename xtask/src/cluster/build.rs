//! Building kube-apiserver and etcd from the pinned Go module, once: a stamp of the inputs
//! (go.mod, go.sum, the etcd main, the Go version) sits next to the binaries, and a build runs
//! only when it differs.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::Paths;

/// The two commands: output name and Go package.
const TARGETS: [(&str, &str); 2] = [("etcd", "./etcd"), ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver")];

/// Builds the binaries when stale; returns the Kubernetes version they are built from.
pub fn build(paths: &Paths) -> Result<String> {
    let go_mod = std::fs::read_to_string(paths.module.join("go.mod"))
        .with_context(|| format!("reading {}", paths.module.join("go.mod").display()))?;
    let version = kubernetes_version(&go_mod)?;
    let go_version = go_version()?;
    let stamp = stamp(paths, &go_version)?;
    let stamp_file = paths.bin.join("stamp");
    let fresh = std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp)
        && TARGETS.iter().all(|(name, _)| paths.bin.join(name).is_file());
    if fresh {
        println!("cluster: using the cached build of kube-apiserver {version} and etcd in {}", paths.bin.display());
        return Ok(version);
    }
    std::fs::create_dir_all(&paths.bin)?;
    // A build that stops half-way must not leave a stamp that claims the old binaries are current.
    let _ = std::fs::remove_file(&stamp_file);
    let ldflags = version_ldflags(&version)?;
    for (name, package) in TARGETS {
        let started = Instant::now();
        println!("cluster: building {name} ({package}) with {go_version}; a cold build takes several minutes");
        let out = paths.bin.join(name);
        let status = Command::new("go")
            .current_dir(&paths.module)
            .args(["build", "-trimpath", "-ldflags", &ldflags, "-o"])
            .arg(&out)
            .arg(package)
            .status()
            .context("running `go build`")?;
        if !status.success() {
            bail!("`go build {package}` in {} failed ({status}); its errors are above", paths.module.display());
        }
        println!("cluster: built {name} in {:.0} s", started.elapsed().as_secs_f64());
    }
    std::fs::write(&stamp_file, stamp)?;
    Ok(version)
}

/// `k8s.io/kubernetes vX.Y.Z` from the module's requirements.
fn kubernetes_version(go_mod: &str) -> Result<String> {
    go_mod
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("k8s.io/kubernetes v"))
        .map(|v| format!("v{}", v.split_whitespace().next().unwrap_or_default()))
        .context("e2e/controlplane/go.mod requires no k8s.io/kubernetes version")
}

/// The `-X` flags that make `/version` report the release, as Kubernetes' own build does.
fn version_ldflags(version: &str) -> Result<String> {
    let mut parts = version.trim_start_matches('v').split('.');
    let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
        bail!("cannot read major.minor from Kubernetes version {version}");
    };
    let mut flags = vec!["-s -w".to_string()];
    for package in ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"] {
        for (key, value) in
            [("gitVersion", version), ("gitMajor", major), ("gitMinor", minor), ("gitTreeState", "clean")]
        {
            flags.push(format!("-X {package}.{key}={value}"));
        }
    }
    Ok(flags.join(" "))
}

fn go_version() -> Result<String> {
    let out = Command::new("go").arg("version").output().map_err(|e| {
        anyhow::anyhow!(
            "the real control plane is built from source with Go, and `go` cannot be run ({e}); install Go 1.26 or newer"
        )
    })?;
    if !out.status.success() {
        bail!("`go version` failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The inputs a build depends on, as one string (compared, never parsed).
fn stamp(paths: &Paths, go_version: &str) -> Result<String> {
    let mut s = format!("{go_version}\n");
    for file in ["go.mod", "go.sum", "etcd/main.go"] {
        let path = paths.module.join(file);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        s.push_str(&format!("== {file}\n{text}"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_comes_from_the_require_line() {
        let m = "module x\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v3.7.3\n\tk8s.io/kubernetes v1.37.2\n)\n";
        assert_eq!(kubernetes_version(m).unwrap(), "v1.37.2");
        assert!(kubernetes_version("module x\n").is_err());
    }

    #[test]
    fn ldflags_set_major_minor_and_version() {
        let f = version_ldflags("v1.37.2").unwrap();
        assert!(f.contains("-X k8s.io/component-base/version.gitVersion=v1.37.2"), "{f}");
        assert!(f.contains("-X k8s.io/component-base/version.gitMinor=37"), "{f}");
        assert!(f.contains("-X k8s.io/client-go/pkg/version.gitMajor=1"), "{f}");
    }
}
