//! The kubeconfig a client (kubectl, kube-rs) uses to reach the server.

/// Renders a kubeconfig for an http server at `server_url` (e.g. `http://127.0.0.1:41234`).
/// Plain http means anonymous admin: client-go never sends credentials over http.
pub fn render(server_url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: devserver
  cluster:
    server: {server_url}
users:
- name: devserver
  user: {{}}
contexts:
- name: devserver
  context:
    cluster: devserver
    user: devserver
    namespace: default
current-context: devserver
preferences: {{}}
"
    )
}

/// Renders a kubeconfig for an https server: the CA (PEM) and a bearer token.
pub fn render_tls(server_url: &str, ca_pem: &str, token: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: devserver
  cluster:
    server: {server_url}
    certificate-authority-data: {ca}
users:
- name: devserver
  user:
    token: {token}
contexts:
- name: devserver
  context:
    cluster: devserver
    user: devserver
    namespace: default
current-context: devserver
preferences: {{}}
"
    )
}

/// Writes a kubeconfig (or any file holding credentials) readable by its owner only, creating
/// its directory if needed: it carries the admin token.
pub fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    create_private(path)?.write_all(text.as_bytes())
}

/// Creates (or truncates) a file only its owner can read and write: kubeconfigs, tokens and
/// the persisted state (which holds Secrets). An existing file is tightened too, since opening
/// keeps its mode.
pub fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(file)
}
