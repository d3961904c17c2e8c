//! Credentials: kubeconfigs are private files, a server without RBAC stays on loopback, a
//! ServiceAccount token dies with its account (a re-created account does not revive it), and
//! with `--data-dir` a restarted https server accepts the kubeconfig and tokens it issued before.

use devserver::DevServer;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, PostParams};

fn sa(name: &str) -> ServiceAccount {
    let mut s = ServiceAccount::default();
    s.metadata.name = Some(name.to_string());
    s
}

#[cfg(unix)]
#[tokio::test]
async fn kubeconfigs_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, "old").expect("an existing, world-readable file");
    let server = DevServer::builder().tls(true).kubeconfig_path(&path).start().await.expect("server");
    let mode = std::fs::metadata(server.kubeconfig_path()).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the kubeconfig holds the admin token");
    let default = DevServer::builder().tls(true).start().await.expect("server");
    let mode = std::fs::metadata(default.kubeconfig_path()).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn a_non_loopback_address_needs_tls_and_rbac() {
    let any = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    for tls in [false, true] {
        let err = DevServer::builder().addr(any).tls(tls).start().await.err().expect("refused");
        assert!(format!("{err:#}").contains("not a loopback address"), "{err:#}");
    }
    let server =
        DevServer::builder().addr(any).tls(true).rbac(true).start().await.expect("tls + rbac may listen widely");
    server.shutdown().await;
}

#[tokio::test]
async fn a_recreated_service_account_does_not_revive_old_tokens() {
    let server = DevServer::builder().tls(true).start().await.expect("server");
    let admin: Api<ServiceAccount> = Api::namespaced(server.client().expect("client"), "default");
    admin.create(&PostParams::default(), &sa("robot")).await.expect("sa");
    let token = server.service_account_token("default", "robot");
    let as_robot: Api<ConfigMap> = Api::namespaced(server.client_for_token(&token).await.expect("client"), "default");
    as_robot.list(&Default::default()).await.expect("the token works while its account exists");
    admin.delete("robot", &DeleteParams::default()).await.expect("delete");
    admin.create(&PostParams::default(), &sa("robot")).await.expect("re-create");
    let err = as_robot.list(&Default::default()).await.expect_err("the old token is dead");
    assert!(err.to_string().contains("401") || err.to_string().contains("Unauthorized"), "{err}");
    let fresh = server.service_account_token("default", "robot");
    let as_new: Api<ConfigMap> = Api::namespaced(server.client_for_token(&fresh).await.expect("client"), "default");
    as_new.list(&Default::default()).await.expect("a token for the new account works");
}

#[tokio::test]
async fn a_restarted_server_accepts_the_kubeconfig_and_tokens_it_issued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = DevServer::builder().tls(true).data_dir(&data).start().await.expect("server");
    let kubeconfig = server.kubeconfig().to_string();
    let admin: Api<ServiceAccount> = Api::namespaced(server.client().expect("client"), "default");
    admin.create(&PostParams::default(), &sa("robot")).await.expect("sa");
    let token = server.service_account_token("default", "robot");
    let addr = server.addr();
    server.shutdown().await;

    let server = DevServer::builder().tls(true).addr(addr).data_dir(&data).start().await.expect("restarted");
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::from_yaml(&kubeconfig).expect("kubeconfig"),
        &Default::default(),
    )
    .await
    .expect("config");
    let old_admin: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(config).expect("client"), "default");
    old_admin.list(&Default::default()).await.expect("the kubeconfig from before the restart works");
    let as_robot: Api<ConfigMap> = Api::namespaced(server.client_for_token(&token).await.expect("client"), "default");
    as_robot.list(&Default::default()).await.expect("the token from before the restart works");
    server.shutdown().await;
}
