//! HTTPS mode: a throw-away CA and a serving certificate (SANs `IP:127.0.0.1`, `DNS:localhost`)
//! made with rcgen, and a bearer token. client-go only sends credentials over https, so this is
//! the mode that exercises authentication (401 without the token).

use std::sync::Arc;
use tokio_rustls::rustls;

/// Certificates and token of one HTTPS server.
pub struct TlsMaterial {
    /// PEM of the CA that signed the serving certificate (goes into the kubeconfig).
    pub ca_pem: String,
    /// PEM of the serving certificate.
    pub cert_pem: String,
    /// PEM (PKCS#8) of the serving certificate's key.
    pub key_pem: String,
    /// The bearer token clients must send.
    pub token: String,
    /// The rustls server configuration (HTTP/1.1 via ALPN).
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Generates a CA, a serving certificate signed by it, and a random token.
pub fn generate() -> anyhow::Result<TlsMaterial> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "devserver-ca");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let leaf_key = rcgen::KeyPair::generate()?;
    let mut leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    leaf_params.distinguished_name.push(rcgen::DnType::CommonName, "devserver");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
    from_pem(ca.pem(), leaf.pem(), leaf_key.serialize_pem(), uuid::Uuid::new_v4().simple().to_string())
}

/// The material from its PEM parts (as [`generate`] made them, e.g. saved in a data directory).
pub fn from_pem(ca_pem: String, cert_pem: String, key_pem: String, token: String) -> anyhow::Result<TlsMaterial> {
    use rustls::pki_types::pem::PemObject as _;
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes())?;
    let leaf = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![leaf, ca], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial { ca_pem, cert_pem, key_pem, token, server_config: Arc::new(config) })
}
