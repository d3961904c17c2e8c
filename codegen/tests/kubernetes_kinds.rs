//! The built-in kinds: k8s-openapi's resource types joined with the recorded discovery.

use codegen::kubernetes::{discovery, join, openapi_crate};
use codegen::verbs::Verb;

fn joined() -> codegen::kubernetes::Joined {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let src = openapi_crate::locate(root).unwrap();
    let version = openapi_crate::latest_version(&src).unwrap();
    let types = openapi_crate::scan(&src, &version).unwrap();
    let recording = discovery::Recording::parse(discovery::RECORDED).unwrap();
    join(&types, &recording)
}

#[test]
fn every_served_builtin_kind_is_joined_with_its_verbs() {
    let j = joined();
    eprintln!("{} kinds; not in k8s-openapi: {:?}; not served: {:?}", j.kinds.len(), j.not_in_openapi, j.not_served);
    let find = |g: &str, v: &str, k: &str| {
        j.kinds.iter().find(|x| x.group == g && x.version == v && x.kind == k).unwrap_or_else(|| panic!("{g}/{v} {k}"))
    };
    let node = find("", "v1", "Node");
    assert!(!node.namespaced);
    assert!(node.verbs.has(Verb::UpdateStatus) && node.verbs.has(Verb::Watch));
    assert_eq!(node.rust_path, "k8s_openapi::api::core::v1::Node");
    let cs = find("", "v1", "ComponentStatus");
    assert!(!cs.verbs.has(Verb::Create) && cs.verbs.has(Verb::List) && !cs.verbs.has(Verb::Watch));
    let deploy = find("apps", "v1", "Deployment");
    assert!(deploy.subresources.iter().any(|s| s.name == "scale" && s.kind == "Scale"));
    assert_eq!(find("", "v1", "Endpoints").accessor(), "endpoints");
    assert_eq!(find("networking.k8s.io", "v1", "NetworkPolicy").accessor(), "network_policies");
    assert_eq!(find("", "v1", "ComponentStatus").accessor(), "component_statuses");
    assert_eq!(find("apiextensions.k8s.io", "v1", "CustomResourceDefinition").group_module, "apiextensions");
    let review = find("authorization.k8s.io", "v1", "SelfSubjectAccessReview");
    assert_eq!(review.verbs.iter().collect::<Vec<_>>(), vec![Verb::Create]);
    assert!(j.kinds.len() >= 90, "{}", j.kinds.len());
}

/// Every served kind that can be listed and watched has a typed informer and lister in the
/// checked-in `kubernetes` crate; every kind has a typed client.
#[test]
fn every_listable_builtin_kind_has_an_informer_and_a_lister() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("kubernetes/src");
    let j = joined();
    let mut informers = 0;
    for k in &j.kinds {
        let file = |dir: &str| root.join(format!("{dir}/{}/{}/{}.rs", k.group_module, k.version, k.module()));
        assert!(file("clientset").is_file(), "client of {}", k.kind);
        if k.verbs.has(Verb::List) && k.verbs.has(Verb::Watch) {
            assert!(file("informers").is_file() && file("listers").is_file(), "informer and lister of {}", k.kind);
            informers += 1;
        }
    }
    let cluster = j.kinds.iter().filter(|k| !k.namespaced && k.has_informer()).count();
    eprintln!("{} kinds: {informers} with informers ({cluster} cluster-scoped)", j.kinds.len());
    assert!(informers >= 90 && cluster >= 30, "{informers} {cluster}");
}
