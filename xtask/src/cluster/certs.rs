//! The cluster's credentials, made fresh for every `up`: a CA and a serving certificate for
//! 127.0.0.1/localhost, the ServiceAccount token signing key, a static admin token (in
//! `system:masters`) and the admin kubeconfig. Every file is written 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;

/// Files kube-apiserver is started with, and what the kubeconfig needs.
pub struct Material {
    pub ca_pem: String,
    pub token: String,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub sa_private: PathBuf,
    pub sa_public: PathBuf,
    pub token_file: PathBuf,
    pub audit_policy: PathBuf,
}

/// The admin user of the static token file.
pub const ADMIN_USER: &str = "cluster-admin";

/// Generates the material into `dir`.
pub fn generate(dir: &Path) -> Result<Material> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "xtask-cluster-ca");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let serving_key = rcgen::KeyPair::generate()?;
    let names = ["localhost", "127.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"];
    let mut params = rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let serving = params.signed_by(&serving_key, &ca)?;

    let sa_key = rcgen::KeyPair::generate()?;
    let token = random_token()?;
    let m = Material {
        ca_pem: ca.pem(),
        token: token.clone(),
        serving_cert: dir.join("serving.crt"),
        serving_key: dir.join("serving.key"),
        sa_private: dir.join("service-account.key"),
        sa_public: dir.join("service-account.pub"),
        token_file: dir.join("tokens.csv"),
        audit_policy: dir.join("audit-policy.yaml"),
    };
    // Every request at metadata level (who, verb, resource, code), once it has completed.
    let policy =
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n";
    write_private(&m.audit_policy, policy.as_bytes())?;
    write_private(&dir.join("ca.crt"), m.ca_pem.as_bytes())?;
    write_private(&m.serving_cert, format!("{}{}", serving.pem(), m.ca_pem).as_bytes())?;
    write_private(&m.serving_key, serving_key.serialize_pem().as_bytes())?;
    write_private(&m.sa_private, sa_key.serialize_pem().as_bytes())?;
    // kube-apiserver reads verification keys as public keys only.
    write_private(&m.sa_public, sa_key.public_key_pem().as_bytes())?;
    // token,user,uid,"group1,group2"
    write_private(&m.token_file, format!("{token},{ADMIN_USER},{ADMIN_USER},system:masters\n").as_bytes())?;
    Ok(m)
}

/// Writes the admin kubeconfig for the server on `port`.
pub fn write_kubeconfig(path: &Path, port: u16, m: &Material) -> Result<()> {
    let ca = base64::engine::general_purpose::STANDARD.encode(&m.ca_pem);
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "xtask-cluster", "cluster": {
            "server": format!("https://127.0.0.1:{port}"),
            "certificate-authority-data": ca,
        }}],
        "users": [{"name": ADMIN_USER, "user": {"token": m.token}}],
        "contexts": [{"name": "xtask-cluster", "context": {"cluster": "xtask-cluster", "user": ADMIN_USER, "namespace": "default"}}],
        "current-context": "xtask-cluster",
        "preferences": {},
    });
    write_private(path, serde_yaml::to_string(&doc)?.as_bytes())
}

/// Writes `bytes` to `path`, readable by the owner only (credentials).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// 32 hex characters from the kernel's random source.
fn random_token() -> Result<String> {
    let mut buf = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .context("reading /dev/urandom for the admin token")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
