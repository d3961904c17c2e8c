//! RBAC escalation prevention with kube-apiserver's messages: a ServiceAccount that may write
//! Roles and RoleBindings still cannot grant what it does not hold. Runs against the devserver
//! (https, RBAC) or, with `KUBE_TEST_KUBECONFIG`, against kube-apiserver; the expected messages
//! were read from kube-apiserver 1.37.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, ObjectMeta, PostParams};
use testenv::TestEnv;

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |x: &[&str]| Some(x.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    PolicyRule { api_groups: v(groups), resources: v(resources), verbs: v(verbs).unwrap(), ..Default::default() }
}

fn role(name: &str, rules: Vec<PolicyRule>) -> Role {
    Role { metadata: ObjectMeta { name: Some(name.into()), ..Default::default() }, rules: Some(rules) }
}

fn binding(name: &str, kind: &str, role: &str, ns: &str) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        role_ref: RoleRef { api_group: Some("rbac.authorization.k8s.io".into()), kind: kind.into(), name: role.into() },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "writer".into(),
            namespace: Some(ns.into()),
            ..Default::default()
        }]),
    }
}

fn forbidden<T: std::fmt::Debug>(r: kube::Result<T>) -> String {
    match r {
        Err(kube::Error::Api(s)) if s.code == 403 && s.reason == "Forbidden" => s.message,
        other => panic!("expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn a_role_writer_cannot_grant_what_it_does_not_hold() {
    let env = TestEnv::start_with(|b| b.tls(true).rbac(true)).await;
    let ns = env.namespace().to_string();
    let pp = PostParams::default();
    let admin_roles: Api<Role> = Api::namespaced(env.client(), &ns);
    let admin_bindings: Api<RoleBinding> = Api::namespaced(env.client(), &ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta { name: Some("writer".into()), ..Default::default() },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(env.client(), &ns).create(&pp, &sa).await.unwrap();
    let writer_rules = vec![
        rule(&["rbac.authorization.k8s.io"], &["roles", "rolebindings"], &["create", "get", "list"]),
        rule(&[""], &["configmaps"], &["get", "list"]),
    ];
    admin_roles.create(&pp, &role("rbac-writer", writer_rules)).await.unwrap();
    admin_bindings.create(&pp, &binding("rbac-writer", "Role", "rbac-writer", &ns)).await.unwrap();

    let client = env.service_account_client(&ns, "writer").await;
    let roles: Api<Role> = Api::namespaced(client.clone(), &ns);
    let bindings: Api<RoleBinding> = Api::namespaced(client, &ns);
    let who = format!(
        "user \"system:serviceaccount:{ns}:writer\" (groups=[\"system:serviceaccounts\" \"system:serviceaccounts:{ns}\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:"
    );
    let msg = forbidden(roles.create(&pp, &role("god", vec![rule(&["*"], &["*"], &["*"])])).await);
    assert_eq!(
        msg,
        format!(
            "roles.rbac.authorization.k8s.io \"god\" is forbidden: {who}\n{{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}}"
        )
    );
    let some = vec![rule(&[""], &["configmaps", "secrets"], &["get", "list", "delete"])];
    let msg = forbidden(roles.create(&pp, &role("some", some)).await);
    assert!(
        msg.ends_with(
            "\n{APIGroups:[\"\"], Resources:[\"configmaps\"], Verbs:[\"delete\"]}\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\" \"delete\"]}"
        ),
        "{msg}"
    );
    let msg = forbidden(bindings.create(&pp, &binding("admin", "ClusterRole", "cluster-admin", &ns)).await);
    assert_eq!(
        msg,
        format!(
            "rolebindings.rbac.authorization.k8s.io \"admin\" is forbidden: {who}\n{{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}}\n{{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}}"
        )
    );
    // What it holds, it may grant and bind.
    roles.create(&pp, &role("reader", vec![rule(&[""], &["configmaps"], &["get"])])).await.expect("a held rule");
    bindings.create(&pp, &binding("reader", "Role", "reader", &ns)).await.expect("binding a held role");
    // `escalate` lifts the check for roles; `bind` for one role's bindings.
    let extra = vec![
        rule(&["rbac.authorization.k8s.io"], &["roles"], &["escalate"]),
        PolicyRule {
            api_groups: Some(vec!["rbac.authorization.k8s.io".into()]),
            resources: Some(vec!["clusterroles".into()]),
            resource_names: Some(vec!["cluster-admin".into()]),
            verbs: vec!["bind".into()],
            ..Default::default()
        },
    ];
    admin_roles.create(&pp, &role("escalator", extra)).await.unwrap();
    admin_bindings.create(&pp, &binding("escalator", "Role", "escalator", &ns)).await.unwrap();
    roles.create(&pp, &role("god", vec![rule(&["*"], &["*"], &["*"])])).await.expect("escalate allows it");
    bindings.create(&pp, &binding("admin", "ClusterRole", "cluster-admin", &ns)).await.expect("bind allows it");
    env.shutdown().await;
}
