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
