//! RBAC over https (`DevServer::builder().tls(true).rbac(true)`): ServiceAccount tokens are
//! authorized against the stored Roles, ClusterRoles and bindings with kube-apiserver's 403
//! messages; bad tokens get 401; the admin token can do anything.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: namespace.map(str::to_string), ..Default::default() }
}

fn rule(groups: &[&str], resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        resource_names: (!names.is_empty()).then(|| strings(names)),
        verbs: strings(verbs),
        ..Default::default()
    }
}

fn sa_subject(namespace: &str, name: &str) -> Subject {
    Subject { kind: "ServiceAccount".into(), name: name.into(), namespace: Some(namespace.into()), api_group: None }
}

/// An https server with RBAC, its admin client, and ServiceAccount `team/<sa>` (created).
async fn server_with_sa(sa: &str) -> (devserver::DevServerHandle, Client, Client) {
    let server = devserver::DevServer::builder().tls(true).rbac(true).start().await.expect("server");
    let admin = server.client().expect("admin client");
    let pp = PostParams::default();
    if Api::<Namespace>::all(admin.clone()).get_opt("team").await.unwrap().is_none() {
        Api::<Namespace>::all(admin.clone())
            .create(&pp, &Namespace { metadata: meta("team", None), ..Default::default() })
            .await
            .unwrap();
    }
    Api::<ServiceAccount>::namespaced(admin.clone(), "team")
        .create(&pp, &ServiceAccount { metadata: meta(sa, Some("team")), ..Default::default() })
        .await
        .unwrap();
    let token = server.service_account_token("team", sa);
    let client = server.client_for_token(&token).await.expect("sa client");
    (server, admin, client)
}

async fn role(admin: &Client, ns: &str, name: &str, rules: Vec<PolicyRule>, subjects: Vec<Subject>) {
    let pp = PostParams::default();
    Api::<Role>::namespaced(admin.clone(), ns)
        .create(&pp, &Role { metadata: meta(name, Some(ns)), rules: Some(rules) })
        .await
        .unwrap();
    let binding = RoleBinding {
        metadata: meta(name, Some(ns)),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: name.into(),
        },
        subjects: Some(subjects),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), ns).create(&pp, &binding).await.unwrap();
}

/// The `Status` of a failed call: (code, reason, message).
fn status<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> (u16, String, String) {
    match r {
        Err(kube::Error::Api(s)) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn forbidden(message: &str) -> (u16, String, String) {
    (403, "Forbidden".into(), message.into())
}

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: meta(name, None),
        data: Some([("k".to_string(), "v".to_string())].into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn read_only_role_can_list_but_gets_403_on_create() {
    let (server, admin, sa) = server_with_sa("reader").await;
    role(
        &admin,
        "default",
        "read-configmaps",
        vec![rule(&[""], &["configmaps"], &[], &["get", "list", "watch"])],
        vec![sa_subject("team", "reader")],
    )
    .await;
    Api::<ConfigMap>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &config_map("a"))
        .await
        .unwrap();

    let cms = Api::<ConfigMap>::namespaced(sa.clone(), "default");
    let names: Vec<_> =
        cms.list(&ListParams::default()).await.unwrap().items.into_iter().filter_map(|c| c.metadata.name).collect();
    assert_eq!(names, ["a"]);
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["k"], "v");
    assert_eq!(
        status(cms.create(&PostParams::default(), &config_map("b")).await),
        forbidden(
            r#"configmaps is forbidden: User "system:serviceaccount:team:reader" cannot create resource "configmaps" in API group "" in the namespace "default""#
        )
    );
    assert_eq!(
        status(cms.patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "w"}}))).await),
        forbidden(
            r#"configmaps "a" is forbidden: User "system:serviceaccount:team:reader" cannot patch resource "configmaps" in API group "" in the namespace "default""#
        )
    );
    // The Role only counts in its own namespace.
    assert_eq!(
        status(Api::<ConfigMap>::namespaced(sa.clone(), "kube-system").list(&ListParams::default()).await),
        forbidden(
            r#"configmaps is forbidden: User "system:serviceaccount:team:reader" cannot list resource "configmaps" in API group "" in the namespace "kube-system""#
        )
    );
    // Nothing was written; the admin token still may do anything.
    assert!(Api::<ConfigMap>::namespaced(admin.clone(), "default").get_opt("b").await.unwrap().is_none());
    Api::<ConfigMap>::namespaced(admin.clone(), "kube-system")
        .create(&PostParams::default(), &config_map("b"))
        .await
        .unwrap();
    // Discovery and /version are open to every authenticated user (system:discovery).
    assert!(sa.list_api_groups().await.unwrap().groups.iter().any(|g| g.name == "rbac.authorization.k8s.io"));
    assert_eq!(sa.apiserver_version().await.unwrap().major, "1");
    // The request log names the user and has the 403s.
    let log = server.request_log().entries();
    let denied: Vec<_> =
        log.iter().filter(|r| r.status == 403).map(|r| (r.verb.as_str(), r.resource.as_str())).collect();
    assert_eq!(denied, [("create", "configmaps"), ("patch", "configmaps"), ("list", "configmaps")]);
    assert!(
        log.iter().filter(|r| r.status == 403).all(|r| r.user.as_deref() == Some("system:serviceaccount:team:reader"))
    );
    assert!(log.iter().any(|r| r.user.as_deref() == Some("devserver-admin")));
    server.shutdown().await;
}

#[tokio::test]
async fn cluster_role_binding_to_a_group_grants_every_namespace() {
    let (server, admin, sa) = server_with_sa("watcher").await;
    let pp = PostParams::default();
    let cr = ClusterRole {
        metadata: meta("pod-reader", None),
        rules: Some(vec![
            rule(&[""], &["pods"], &[], &["list", "watch"]),
            rule(&[""], &["namespaces"], &["default"], &["get"]),
        ]),
        aggregation_rule: None,
    };
    Api::<ClusterRole>::all(admin.clone()).create(&pp, &cr).await.unwrap();
    let crb = ClusterRoleBinding {
        metadata: meta("pod-reader", None),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "pod-reader".into(),
        },
        subjects: Some(vec![Subject {
            kind: "Group".into(),
            name: "system:serviceaccounts:team".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            namespace: None,
        }]),
    };
    Api::<ClusterRoleBinding>::all(admin.clone()).create(&pp, &crb).await.unwrap();

    for ns in ["default", "kube-system", "team"] {
        Api::<Pod>::namespaced(sa.clone(), ns).list(&ListParams::default()).await.unwrap();
    }
    Api::<Pod>::all(sa.clone()).list(&ListParams::default()).await.unwrap();
    let pod = Pod { metadata: meta("p", None), ..Default::default() };
    assert_eq!(
        status(Api::<Pod>::namespaced(sa.clone(), "default").create(&pp, &pod).await),
        forbidden(
            r#"pods is forbidden: User "system:serviceaccount:team:watcher" cannot create resource "pods" in API group "" in the namespace "default""#
        )
    );
    // Cluster-scoped wording; resourceNames on a cluster-scoped resource.
    let namespaces = Api::<Namespace>::all(sa.clone());
    assert_eq!(
        status(namespaces.list(&ListParams::default()).await),
        forbidden(
            r#"namespaces is forbidden: User "system:serviceaccount:team:watcher" cannot list resource "namespaces" in API group "" at the cluster scope"#
        )
    );
    assert_eq!(namespaces.get("default").await.unwrap().metadata.name.as_deref(), Some("default"));
    assert_eq!(
        status(namespaces.get("kube-system").await).2,
        r#"namespaces "kube-system" is forbidden: User "system:serviceaccount:team:watcher" cannot get resource "namespaces" in API group "" in the namespace "kube-system""#
    );
    // Non-core group wording.
    assert_eq!(
        status(Api::<ClusterRole>::all(sa.clone()).list(&ListParams::default()).await).2,
        r#"clusterroles.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:team:watcher" cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope"#
    );
    // Another namespace's ServiceAccounts are not in the group.
    Api::<ServiceAccount>::namespaced(admin.clone(), "default")
        .create(&pp, &ServiceAccount { metadata: meta("other", Some("default")), ..Default::default() })
        .await
        .unwrap();
    let other = server.client_for_token(&server.service_account_token("default", "other")).await.unwrap();
    assert_eq!(status(Api::<Pod>::namespaced(other, "default").list(&ListParams::default()).await).0, 403);
    server.shutdown().await;
}

#[tokio::test]
async fn resource_names_limit_requests_to_named_objects() {
    let (server, admin, sa) = server_with_sa("one").await;
    role(
        &admin,
        "default",
        "one-configmap",
        vec![rule(&[""], &["configmaps"], &["allowed"], &["get", "list", "watch", "update"])],
        vec![sa_subject("team", "one")],
    )
    .await;
    let admin_cms = Api::<ConfigMap>::namespaced(admin.clone(), "default");
    for name in ["allowed", "other"] {
        admin_cms.create(&PostParams::default(), &config_map(name)).await.unwrap();
    }
    let cms = Api::<ConfigMap>::namespaced(sa.clone(), "default");
    let mut cm = cms.get("allowed").await.unwrap();
    cm.data = Some([("k".to_string(), "changed".to_string())].into());
    cms.replace("allowed", &PostParams::default(), &cm).await.unwrap();
    assert_eq!(admin_cms.get("allowed").await.unwrap().data.unwrap()["k"], "changed");
    assert_eq!(
        status(cms.get("other").await),
        forbidden(
            r#"configmaps "other" is forbidden: User "system:serviceaccount:team:one" cannot get resource "configmaps" in API group "" in the namespace "default""#
        )
    );
    // An unnamed list is denied; a list naming the object by field selector is allowed.
    assert_eq!(
        status(cms.list(&ListParams::default()).await).2,
        r#"configmaps is forbidden: User "system:serviceaccount:team:one" cannot list resource "configmaps" in API group "" in the namespace "default""#
    );
    let named = cms.list(&ListParams::default().fields("metadata.name=allowed")).await.unwrap();
    assert_eq!(named.items.len(), 1);
    assert_eq!(
        status(cms.list(&ListParams::default().fields("metadata.name=other")).await).2,
        r#"configmaps "other" is forbidden: User "system:serviceaccount:team:one" cannot list resource "configmaps" in API group "" in the namespace "default""#
    );
    server.shutdown().await;
}

#[tokio::test]
async fn subresources_need_their_own_rules() {
    let (server, admin, sa) = server_with_sa("status-writer").await;
    role(
        &admin,
        "default",
        "pod-status",
        vec![rule(&[""], &["pods"], &[], &["get"]), rule(&[""], &["pods/status"], &[], &["patch"])],
        vec![sa_subject("team", "status-writer")],
    )
    .await;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(admin.clone(), "default").create(&PostParams::default(), &pod).await.unwrap();
    let pods = Api::<Pod>::namespaced(sa.clone(), "default");
    pods.get("p").await.unwrap();
    pods.patch_status("p", &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Running"}})))
        .await
        .unwrap();
    assert_eq!(pods.get("p").await.unwrap().status.unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(
        status(pods.get_status("p").await),
        forbidden(
            r#"pods "p" is forbidden: User "system:serviceaccount:team:status-writer" cannot get resource "pods/status" in API group "" in the namespace "default""#
        )
    );
    assert_eq!(
        status(
            pods.patch("p", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}))).await
        )
        .2,
        r#"pods "p" is forbidden: User "system:serviceaccount:team:status-writer" cannot patch resource "pods" in API group "" in the namespace "default""#
    );
    // `*/status` matches the status subresource of every resource, and only that.
    role(
        &admin,
        "default",
        "any-status",
        vec![rule(&[""], &["*/status"], &[], &["get"])],
        vec![sa_subject("team", "status-writer")],
    )
    .await;
    pods.get_status("p").await.unwrap();
    assert_eq!(status(pods.list(&ListParams::default()).await).0, 403);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_tokens_get_401_and_missing_roles_are_reported() {
    let (server, admin, sa) = server_with_sa("lost").await;
    let unauthorized = (401, "Unauthorized".to_string(), "Unauthorized".to_string());
    let bad = server.client_for_token("not-a-token").await.unwrap();
    assert_eq!(status(Api::<Pod>::namespaced(bad.clone(), "default").list(&ListParams::default()).await), unauthorized);
    assert_eq!(status(bad.apiserver_version().await), unauthorized);
    // A token of a ServiceAccount that does not exist (yet) is not valid either.
    let ghost = server.client_for_token(&server.service_account_token("team", "ghost")).await.unwrap();
    assert_eq!(status(ghost.apiserver_version().await), unauthorized);

    // A binding to a role that does not exist: denied, with the RBAC reason appended.
    let binding = RoleBinding {
        metadata: meta("dangling", Some("default")),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "missing".into(),
        },
        subjects: Some(vec![sa_subject("team", "lost")]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), "default").create(&PostParams::default(), &binding).await.unwrap();
    assert_eq!(
        status(Api::<Pod>::namespaced(sa.clone(), "default").list(&ListParams::default()).await),
        forbidden(
            r#"pods is forbidden: User "system:serviceaccount:team:lost" cannot list resource "pods" in API group "" in the namespace "default": RBAC: role.rbac.authorization.k8s.io "missing" not found"#
        )
    );
    // Deleting the ServiceAccount invalidates its tokens.
    sa.apiserver_version().await.unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), "team").delete("lost", &Default::default()).await.unwrap();
    assert_eq!(status(sa.apiserver_version().await), unauthorized);
    server.shutdown().await;
}

#[tokio::test]
async fn rbac_needs_https_and_http_stays_anonymous_admin() {
    let err = devserver::DevServer::builder().rbac(true).start().await.err().expect("rbac without tls is refused");
    assert!(err.to_string().contains("RBAC needs https"), "{err}");
    let server = devserver::DevServer::builder().start().await.unwrap();
    let anyone = server.client_for_token("whatever").await.unwrap();
    Api::<ConfigMap>::namespaced(anyone, "default").create(&PostParams::default(), &config_map("x")).await.unwrap();
    assert!(server.request_log().entries().iter().all(|r| r.user.is_none()));
    server.shutdown().await;
}

#[tokio::test]
async fn kubectl_with_a_service_account_kubeconfig_sees_the_403() {
    let (server, _admin, _sa) = server_with_sa("cli").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, server.kubeconfig_for_token(&server.service_account_token("team", "cli"))).unwrap();
    let kubeconfig = path.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("kubectl")
            .args(["--kubeconfig", kubeconfig.to_str().unwrap(), "get", "secrets", "-n", "kube-system"])
            .output()
    })
    .await
    .unwrap()
    .expect("kubectl runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:team:cli" cannot list resource "secrets" in API group "" in the namespace "kube-system""#),
        "{stderr}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn owner_references_permission_enforcement_needs_finalizers_and_delete() {
    let server = devserver::DevServer::builder()
        .tls(true)
        .rbac(true)
        .owner_references_permission_enforcement(true)
        .start()
        .await
        .expect("server");
    let admin = server.client().unwrap();
    let pp = PostParams::default();
    Api::<ServiceAccount>::namespaced(admin.clone(), "default")
        .create(&pp, &ServiceAccount { metadata: meta("builder", Some("default")), ..Default::default() })
        .await
        .unwrap();
    let sa = server.client_for_token(&server.service_account_token("default", "builder")).await.unwrap();
    // A ServiceAccount subject without a namespace means the RoleBinding's namespace.
    let subject = Subject { kind: "ServiceAccount".into(), name: "builder".into(), namespace: None, api_group: None };
    role(
        &admin,
        "default",
        "writer",
        vec![rule(&[""], &["configmaps"], &[], &["create", "get", "update"])],
        vec![subject.clone()],
    )
    .await;
    let owner = Api::<ConfigMap>::namespaced(admin.clone(), "default").create(&pp, &config_map("owner")).await.unwrap();
    let child = |block: bool| {
        let mut cm = config_map("child");
        cm.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "owner".into(),
            uid: owner.metadata.uid.clone().unwrap(),
            block_owner_deletion: Some(block),
            controller: Some(true),
        }]);
        cm
    };
    let cms = Api::<ConfigMap>::namespaced(sa.clone(), "default");
    assert_eq!(
        status(cms.create(&pp, &child(true)).await),
        forbidden(
            r#"configmaps "child" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: , <nil>"#
        )
    );
    let created = cms.create(&pp, &child(false)).await.unwrap();
    let mut blocking = child(true);
    blocking.metadata.resource_version = created.metadata.resource_version.clone();
    assert_eq!(
        status(cms.replace("child", &pp, &blocking).await).2,
        r#"configmaps "child" is forbidden: cannot set an ownerRef on a resource you can't delete: , <nil>"#
    );
    role(&admin, "default", "deleter", vec![rule(&[""], &["configmaps"], &[], &["delete"])], vec![subject.clone()])
        .await;
    assert_eq!(
        status(cms.replace("child", &pp, &blocking).await).2,
        r#"configmaps "child" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: , <nil>"#
    );
    // Only the owner's finalizers count: a resourceName rule for another object does not.
    role(
        &admin,
        "default",
        "other-finalizers",
        vec![rule(&[""], &["configmaps/finalizers"], &["x"], &["update"])],
        vec![subject.clone()],
    )
    .await;
    assert_eq!(status(cms.replace("child", &pp, &blocking).await).0, 403);
    role(
        &admin,
        "default",
        "finalizers",
        vec![rule(&[""], &["configmaps/finalizers"], &["owner"], &["update"])],
        vec![subject],
    )
    .await;
    let updated = cms.replace("child", &pp, &blocking).await.unwrap();
    assert_eq!(updated.metadata.owner_references.as_ref().unwrap()[0].block_owner_deletion, Some(true));
    // Unchanged references need neither permission again.
    Api::<RoleBinding>::namespaced(admin.clone(), "default").delete("deleter", &Default::default()).await.unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), "default").delete("finalizers", &Default::default()).await.unwrap();
    let mut again = updated.clone();
    again.data = Some([("k".to_string(), "again".to_string())].into());
    cms.replace("child", &pp, &again).await.unwrap();
    server.shutdown().await;

    // The plugin is off by default: RBAC alone lets a creator set blockOwnerDeletion.
    let server = devserver::DevServer::builder().tls(true).rbac(true).start().await.expect("server");
    let admin = server.client().unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), "default")
        .create(&pp, &ServiceAccount { metadata: meta("builder", Some("default")), ..Default::default() })
        .await
        .unwrap();
    role(
        &admin,
        "default",
        "writer",
        vec![rule(&[""], &["configmaps"], &[], &["create"])],
        vec![sa_subject("default", "builder")],
    )
    .await;
    let sa = server.client_for_token(&server.service_account_token("default", "builder")).await.unwrap();
    Api::<ConfigMap>::namespaced(sa, "default").create(&pp, &child(true)).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn aggregated_cluster_roles_have_the_rules_of_the_roles_they_select() {
    let (server, admin, sa) = server_with_sa("aggregated").await;
    let pp = PostParams::default();
    let roles = Api::<ClusterRole>::all(admin.clone());
    let aggregate: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "monitoring"},
        "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {"example.com/aggregate-to-monitoring": "true"}},
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["metrics"]}]}
        ]}
    }))
    .unwrap();
    roles.create(&pp, &aggregate).await.unwrap();
    let binding = ClusterRoleBinding {
        metadata: meta("monitoring", None),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "monitoring".into(),
        },
        subjects: Some(vec![sa_subject("team", "aggregated")]),
    };
    Api::<ClusterRoleBinding>::all(admin.clone()).create(&pp, &binding).await.unwrap();
    let pods = Api::<Pod>::namespaced(sa.clone(), "default");
    let cms = Api::<ConfigMap>::namespaced(sa.clone(), "default");
    assert_eq!(status(pods.list(&ListParams::default()).await).0, 403, "nothing selected yet");
    let labelled = |name: &str, labels: serde_json::Value, resource: &str| -> ClusterRole {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "rules": [{"apiGroups": [""], "resources": [resource], "verbs": ["list"]}]
        }))
        .unwrap()
    };
    roles
        .create(&pp, &labelled("pods-part", json!({"example.com/aggregate-to-monitoring": "true"}), "pods"))
        .await
        .unwrap();
    roles.create(&pp, &labelled("cm-part", json!({"tier": "metrics"}), "configmaps")).await.unwrap();
    roles.create(&pp, &labelled("secrets-part", json!({"tier": "web"}), "secrets")).await.unwrap();
    pods.list(&ListParams::default()).await.unwrap();
    cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        status(
            Api::<k8s_openapi::api::core::v1::Secret>::namespaced(sa.clone(), "default")
                .list(&ListParams::default())
                .await
        )
        .0,
        403,
        "a role the selectors do not match adds nothing"
    );
    server.shutdown().await;
}

/// Runs kubectl with `kubeconfig`; (success, stdout, stderr).
async fn kubectl_as(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .await
        .expect("kubectl must be installed (set KUBECTL)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn kubectl_auth_can_i_answers_from_rbac() {
    let (server, admin, _sa) = server_with_sa("asker").await;
    role(
        &admin,
        "team",
        "cm-reader",
        vec![rule(&[""], &["configmaps"], &[], &["get", "list"])],
        vec![sa_subject("team", "asker")],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("sa");
    std::fs::write(&sa, server.kubeconfig_for_token(&server.service_account_token("team", "asker"))).unwrap();
    let adm = dir.path().join("admin");
    std::fs::write(&adm, server.kubeconfig_for_token(server.token().unwrap())).unwrap();
    // `can-i` exits 0 for yes and 1 for no, printing the answer.
    for (kc, args, yes) in [
        (&sa, vec!["auth", "can-i", "list", "configmaps", "-n", "team"], true),
        (&sa, vec!["auth", "can-i", "get", "configmaps/x", "-n", "team"], true),
        (&sa, vec!["auth", "can-i", "delete", "configmaps", "-n", "team"], false),
        (&sa, vec!["auth", "can-i", "list", "configmaps", "-n", "default"], false),
        (&sa, vec!["auth", "can-i", "get", "/version"], true),
        (&sa, vec!["auth", "can-i", "get", "/metrics"], false),
        (&adm, vec!["auth", "can-i", "delete", "nodes"], true),
        (&adm, vec!["auth", "can-i", "*", "*"], true),
    ] {
        let (ok, out, err) = kubectl_as(kc, &args).await;
        assert_eq!((ok, out.as_str()), (yes, if yes { "yes" } else { "no" }), "{args:?}: {err}");
    }
    // `--list` is a SelfSubjectRulesReview: the role's rule and the bootstrap self-review rule.
    let (ok, out, err) = kubectl_as(&sa, &["auth", "can-i", "--list", "-n", "team"]).await;
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.starts_with("configmaps ") && l.contains("[get list]")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("*.*")), "the account is no admin: {out}");
    let (ok, out, _) = kubectl_as(&adm, &["auth", "can-i", "--list"]).await;
    assert!(ok && out.lines().any(|l| l.starts_with("*.*")), "{out}");
    server.shutdown().await;
}
