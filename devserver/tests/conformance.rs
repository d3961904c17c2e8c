//! Conformance suite: one test per behaviour of the reference, each asserting the exact status
//! code and reason the real API server answers with.

mod common;
use common::*;
use http::Method;
use serde_json::{Value, json};

const MERGE: &str = "application/merge-patch+json";
const JSONPATCH: &str = "application/json-patch+json";
const SMP: &str = "application/strategic-merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

fn reason(r: &Reply) -> &str {
    r.body["reason"].as_str().unwrap_or("")
}

// ---- discovery, version, health, openapi ----

#[tokio::test]
async fn devserver_only_api_versions_lists_v1_and_server_address() {
    let e = start().await;
    let r = e.get("/api").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["kind"], "APIVersions");
    assert_eq!(r.body["versions"], json!(["v1"]));
    assert_eq!(r.body["serverAddressByClientCIDRs"][0]["serverAddress"], e.dev().addr().to_string());
}

#[tokio::test]
async fn api_group_list_and_group_document() {
    let e = start().await;
    let r = e.get("/apis").await;
    assert_eq!(r.body["kind"], "APIGroupList");
    let names: Vec<&str> = r.body["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    for g in ["apps", "coordination.k8s.io", "events.k8s.io", "rbac.authorization.k8s.io", "apiextensions.k8s.io"] {
        assert!(names.contains(&g), "{g} missing in {names:?}");
    }
    let r = e.get("/apis/apps").await;
    assert_eq!(r.body["kind"], "APIGroup");
    assert_eq!(r.body["preferredVersion"]["groupVersion"], "apps/v1");
}

#[tokio::test]
async fn resource_list_emits_every_field() {
    let e = start().await;
    let r = e.get("/api/v1").await;
    assert_eq!(r.body["kind"], "APIResourceList");
    let pods = r.body["resources"].as_array().unwrap().iter().find(|x| x["name"] == "pods").unwrap().clone();
    for f in ["name", "singularName", "namespaced", "kind", "verbs", "shortNames", "categories", "storageVersionHash"] {
        assert!(pods.get(f).is_some(), "missing {f}");
    }
    assert_eq!(pods["shortNames"], json!(["po"]));
}

#[tokio::test]
async fn crd_in_discovery_only_when_established_with_status_entry() {
    let e = start().await;
    assert_eq!(e.get("/apis/example.com/v1").await.status, 404);
    e.install_crd().await;
    let r = e.get("/apis/example.com/v1").await;
    assert_eq!(r.status, 200);
    let res = r.body["resources"].as_array().unwrap();
    let foos = res.iter().find(|x| x["name"] == "foos").unwrap();
    assert_eq!(
        foos["verbs"],
        json!(["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"])
    );
    assert_eq!(foos["shortNames"], json!(["fo"]));
    let status = res.iter().find(|x| x["name"] == "foos/status").unwrap();
    assert_eq!(status["verbs"], json!(["get", "patch", "update"]));
}

#[tokio::test]
async fn unknown_path_is_plain_text_404() {
    let e = start().await;
    let r = e.get("/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text, "404 page not found\n");
    assert_eq!(e.get("/openapi/v2").await.status, 404);
}

#[tokio::test]
async fn version_has_all_nine_fields() {
    let e = start().await;
    let r = e.get("/version").await;
    for f in
        ["major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"]
    {
        assert!(r.body[f].is_string(), "{f}");
    }
    let v = e.client.apiserver_version().await.unwrap();
    assert_eq!(v.major, "1");
}

#[tokio::test]
async fn health_endpoints_say_ok() {
    let e = start().await;
    for p in ["/healthz", "/livez", "/readyz"] {
        let r = e.get(p).await;
        assert_eq!((r.status, r.text.as_str()), (200, "ok"));
    }
}

#[tokio::test]
async fn openapi_v3_patch_has_gvk_and_field_validation() {
    let e = start().await;
    e.install_crd().await;
    // kube-apiserver publishes a new CRD's OpenAPI a moment after it is Established.
    eventually(30, "the CRD's group in the OpenAPI v3 index", || async {
        e.get_quiet("/openapi/v3").await.body["paths"].get("apis/example.com/v1").map(|_| ())
    })
    .await;
    let idx = e.get("/openapi/v3").await;
    let url = idx.body["paths"]["apis/example.com/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
    let doc = e.get(&url).await;
    let p = &doc.body["paths"]["/apis/example.com/v1/namespaces/{namespace}/foos/{name}"]["patch"];
    assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Foo");
    assert!(p["parameters"].as_array().unwrap().iter().any(|x| x["name"] == "fieldValidation" && x["in"] == "query"));
}

/// Built-in kinds' documents carry kube-apiserver's patch annotations and list strategic merge
/// among their PATCH types (kubectl's client-side apply builds its patches from them).
#[tokio::test]
async fn openapi_v3_marks_builtin_patch_strategies() {
    let e = start().await;
    let idx = e.get_quiet("/openapi/v3").await;
    let doc = |gv: &str| {
        let url =
            idx.body["paths"][gv]["serverRelativeURL"].as_str().unwrap_or_else(|| panic!("{gv} listed")).to_string();
        let e = &e;
        async move { e.get_quiet(&url).await.body }
    };
    let core = doc("api/v1").await;
    let schemas = &core["components"]["schemas"];
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(
        (&containers["x-kubernetes-patch-strategy"], &containers["x-kubernetes-patch-merge-key"]),
        (&json!("merge"), &json!("name"))
    );
    let volumes = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
    assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    let ports = &schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "port");
    let finalizers = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
    assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
    assert!(
        schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["nodeSelector"]
            .get("x-kubernetes-patch-strategy")
            .is_none()
    );
    let patch = &core["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]["requestBody"]["content"];
    assert!(patch.get("application/strategic-merge-patch+json").is_some(), "{patch}");
    let apps = doc("apis/apps/v1").await;
    let strategy = &apps["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
}

// ---- create ----

#[tokio::test]
async fn create_sets_server_fields() {
    let e = start().await;
    e.install_crd().await;
    let r = e.create_foo("a", 1).await;
    assert_eq!(r.status, 201);
    let m = &r.body["metadata"];
    assert_eq!(m["uid"].as_str().unwrap().len(), 36);
    assert!(m["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(m["generation"], 1);
    assert!(m["resourceVersion"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(m["namespace"], "default");
    assert_eq!(m["managedFields"][0]["operation"], "Update");
}

#[tokio::test]
async fn create_drops_status_with_status_subresource() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["status"] = json!({"ready": true});
    let r = e.post(FOOS, f).await;
    assert_eq!(r.status, 201);
    assert!(r.body.get("status").is_none());
}

#[tokio::test]
async fn create_namespace_mismatch_is_400() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["metadata"]["namespace"] = json!("other");
    let r = e.post(FOOS, f).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
    assert_eq!(
        r.body["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
}

#[tokio::test]
async fn generate_name_appends_five_chars() {
    let e = start().await;
    e.install_crd().await;
    let r = e.post(FOOS, json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"generateName": "x-"}, "spec": {"replicas": 1}})).await;
    assert_eq!(r.status, 201);
    let n = r.body["metadata"]["name"].as_str().unwrap();
    assert_eq!(n.len(), 7);
    assert!(n[2..].chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
}

#[tokio::test]
async fn duplicate_create_is_409_already_exists() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.create_foo("a", 1).await;
    assert_eq!((r.status, reason(&r)), (409, "AlreadyExists"));
    assert_eq!(r.body["message"], "foos.example.com \"a\" already exists");
    assert_eq!(r.body["details"]["kind"], "foos");
}

#[tokio::test]
async fn create_without_name_is_422() {
    let e = start().await;
    e.install_crd().await;
    let r = e
        .post(FOOS, json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {}, "spec": {"replicas": 1}}))
        .await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert!(
        r.body["message"].as_str().unwrap().contains("metadata.name: Required value: name or generateName is required")
    );
}

#[tokio::test]
async fn create_wrong_api_version_is_400() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["apiVersion"] = json!("example.com/v2");
    let r = e.post(FOOS, f).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
}

#[tokio::test]
async fn dry_run_persists_nothing() {
    let e = start().await;
    e.install_crd().await;
    let r = e.post(&format!("{FOOS}?dryRun=All"), foo("a", 1)).await;
    assert_eq!(r.status, 201);
    assert_eq!(e.get(&format!("{FOOS}/a")).await.status, 404);
}

#[tokio::test]
async fn create_in_missing_namespace_is_404() {
    let e = start().await;
    e.install_crd().await;
    let r = e.post("/apis/example.com/v1/namespaces/nope/foos", foo("a", 1)).await;
    assert_eq!((r.status, reason(&r)), (404, "NotFound"));
    assert_eq!(r.body["message"], "namespaces \"nope\" not found");
}

#[tokio::test]
async fn malformed_builtin_is_400_not_a_crash() {
    let e = start().await;
    let r = e
        .post("/api/v1/namespaces/default/pods", json!({"metadata": {"name": "p"}, "spec": {"containers": "nope"}}))
        .await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
    let r = e
        .raw(Method::POST, "/api/v1/namespaces/default/configmaps", b"{not json".to_vec(), "application/json", None)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(e.get("/healthz").await.status, 200);
}

// ---- get ----

#[tokio::test]
async fn get_missing_is_404_with_details() {
    let e = start().await;
    e.install_crd().await;
    let r = e.get(&format!("{FOOS}/zz")).await;
    assert_eq!((r.status, reason(&r)), (404, "NotFound"));
    assert_eq!(r.body["message"], "foos.example.com \"zz\" not found");
    assert_eq!(r.body["details"], json!({"name": "zz", "group": "example.com", "kind": "foos"}));
}

// ---- update ----

#[tokio::test]
async fn update_missing_is_404() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["metadata"]["resourceVersion"] = json!("5");
    let r = e.put(&format!("{FOOS}/a"), f).await;
    assert_eq!((r.status, reason(&r)), (404, "NotFound"));
}

#[tokio::test]
async fn cr_update_without_rv_is_422() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.put(&format!("{FOOS}/a"), foo("a", 2)).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(
        r.body["message"],
        "foos.example.com \"a\" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update"
    );
}

#[tokio::test]
async fn builtin_update_without_rv_is_allowed() {
    let e = start().await;
    let r =
        e.post("/api/v1/namespaces/default/configmaps", json!({"metadata": {"name": "c"}, "data": {"a": "1"}})).await;
    assert_eq!(r.status, 201);
    let r =
        e.put("/api/v1/namespaces/default/configmaps/c", json!({"metadata": {"name": "c"}, "data": {"a": "2"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["a"], "2");
}

#[tokio::test]
async fn update_with_stale_rv_is_409_conflict() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let mut f = c.body.clone();
    f["spec"]["replicas"] = json!(2);
    assert_eq!(e.put(&format!("{FOOS}/a"), f.clone()).await.status, 200);
    let r = e.put(&format!("{FOOS}/a"), f).await;
    assert_eq!((r.status, reason(&r)), (409, "Conflict"));
    assert_eq!(
        r.body["message"],
        "Operation cannot be fulfilled on foos.example.com \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );
}

#[tokio::test]
async fn update_name_mismatch_is_400() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let mut f = c.body.clone();
    f["metadata"]["name"] = json!("b");
    let r = e.put(&format!("{FOOS}/a"), f).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
}

#[tokio::test]
async fn update_changing_uid_is_409_precondition_failed() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let mut f = c.body.clone();
    f["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
    let r = e.put(&format!("{FOOS}/a"), f).await;
    assert_eq!((r.status, reason(&r)), (409, "Conflict"));
    let uid = c.body["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        r.body["message"].as_str().unwrap(),
        format!(
            "Operation cannot be fulfilled on foos.example.com \"a\": StorageError: invalid object, Code: 4, Key: /registry/example.com/foos/default/a, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: {uid}"
        )
    );
}

#[tokio::test]
async fn generation_bumps_on_spec_change_only() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let mut f = c.body.clone();
    f["metadata"]["labels"] = json!({"x": "y"});
    let r = e.put(&format!("{FOOS}/a"), f).await;
    assert_eq!(r.body["metadata"]["generation"], 1);
    let mut f = r.body.clone();
    f["spec"]["replicas"] = json!(3);
    let r = e.put(&format!("{FOOS}/a"), f).await;
    assert_eq!(r.body["metadata"]["generation"], 2);
}

#[tokio::test]
async fn status_sent_to_main_resource_is_reverted() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let mut f = c.body.clone();
    f["status"] = json!({"ready": true});
    let r = e.put(&format!("{FOOS}/a"), f).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("status").is_none());
    assert_eq!(r.body["metadata"]["generation"], 1);
}

#[tokio::test]
async fn identical_update_is_a_noop() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let r = e.put(&format!("{FOOS}/a"), c.body.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["metadata"]["resourceVersion"], c.body["metadata"]["resourceVersion"]);
}

#[tokio::test]
async fn no_new_finalizers_while_deleting() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["metadata"]["finalizers"] = json!(["example.com/keep"]);
    e.post(FOOS, f).await;
    let d = e.delete(&format!("{FOOS}/a"), None).await;
    let mut f = d.body.clone();
    f["metadata"]["finalizers"] = json!(["example.com/keep", "example.com/more"]);
    let r = e.put(&format!("{FOOS}/a"), f).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert!(
        r.body["message"].as_str().unwrap().contains("no new finalizers can be added if the object is being deleted")
    );
}

// ---- status subresource ----

#[tokio::test]
async fn status_update_takes_only_status() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let mut f = c.body.clone();
    f["status"] = json!({"ready": true});
    f["spec"]["replicas"] = json!(9);
    f["metadata"]["labels"] = json!({"ignored": "yes"});
    let r = e.put(&format!("{FOOS}/a/status"), f).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"]["ready"], true);
    assert_eq!(r.body["spec"]["replicas"], 1);
    assert!(r.body["metadata"].get("labels").is_none());
    assert_eq!(r.body["metadata"]["generation"], 1);
}

#[tokio::test]
async fn status_update_checks_rv() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let mut f = c.body.clone();
    f["metadata"]["resourceVersion"] = json!("1");
    f["status"] = json!({"ready": true});
    let r = e.put(&format!("{FOOS}/a/status"), f).await;
    assert_eq!((r.status, reason(&r)), (409, "Conflict"));
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_the_declared_paths() {
    let e = start().await;
    e.install_crd().await;
    let res = e.get("/apis/example.com/v1").await;
    let scale = res.body["resources"].as_array().unwrap().iter().find(|x| x["name"] == "foos/scale").cloned();
    let scale = scale.expect("foos/scale in discovery");
    assert_eq!(
        (&scale["group"], &scale["version"], &scale["kind"]),
        (&json!("autoscaling"), &json!("v1"), &json!("Scale"))
    );
    assert_eq!(scale["verbs"], json!(["get", "patch", "update"]));

    e.create_foo("a", 2).await;
    let mut f = e.get(&format!("{FOOS}/a")).await.body;
    f["status"] = json!({"observed": 1, "selector": "app=a"});
    assert_eq!(e.put(&format!("{FOOS}/a/status"), f).await.status, 200);
    let r = e.get(&format!("{FOOS}/a/scale")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((&r.body["kind"], &r.body["apiVersion"]), (&json!("Scale"), &json!("autoscaling/v1")));
    assert_eq!(r.body["spec"], json!({"replicas": 2}));
    assert_eq!(r.body["status"], json!({"replicas": 1, "selector": "app=a"}));
    assert_eq!(r.body["metadata"]["name"], "a");

    // kubectl scale: a merge patch of the Scale; the object's spec path follows.
    let r = e.patch(&format!("{FOOS}/a/scale"), json!({"spec": {"replicas": 5}}), MERGE).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["replicas"], 5);
    let obj = e.get(&format!("{FOOS}/a")).await.body;
    assert_eq!((&obj["spec"]["replicas"], &obj["metadata"]["generation"]), (&json!(5), &json!(2)));
    let r = e
        .patch(&format!("{FOOS}/a/scale"), json!([{"op": "replace", "path": "/spec/replicas", "value": 0}]), JSONPATCH)
        .await;
    assert_eq!((r.status, &r.body["spec"]), (200, &json!({})), "zero replicas are omitted: {}", r.text);

    // The CRD's schema still applies, and so does the Scale's own validation.
    let r = e.patch(&format!("{FOOS}/a/scale"), json!({"spec": {"replicas": 11}}), MERGE).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"), "{}", r.text);
    let mut s = e.get(&format!("{FOOS}/a/scale")).await.body;
    s["spec"]["replicas"] = json!(-1);
    let r = e.put(&format!("{FOOS}/a/scale"), s.clone()).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"), "{}", r.text);
    // The object's schema and kube-apiserver's replicas check, in one Invalid of the kind.
    assert_eq!(r.body["details"]["kind"], "Foo", "{}", r.text);
    let fields: Vec<&str> =
        r.body["details"]["causes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["spec.replicas", ".spec.replicas"], "{}", r.text);

    // A stale resourceVersion in the Scale is a precondition that fails.
    s["spec"]["replicas"] = json!(3);
    s["metadata"]["resourceVersion"] = json!("1");
    let r = e.put(&format!("{FOOS}/a/scale"), s).await;
    assert_eq!((r.status, reason(&r)), (409, "Conflict"), "{}", r.text);
    let r = e.patch(&format!("{FOOS}/a/scale"), json!({"spec": {"replicas": 3}}), SMP).await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(e.get(&format!("{FOOS}/missing/scale")).await.status, 404);
}

#[tokio::test]
async fn status_of_kind_without_subresource_is_404() {
    let e = start().await;
    let r = e.get("/api/v1/namespaces/default/configmaps/x/status").await;
    assert_eq!(r.status, 404);
}

// ---- request options and paths, as kube-apiserver parses them ----

#[tokio::test]
async fn unsupported_write_options_are_invalid_and_nothing_is_written() {
    let e = start().await;
    let cm = |n: &str| json!({"metadata": {"name": n}});
    let r = e.post("/api/v1/namespaces/default/configmaps?dryRun=Bogus", cm("a")).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(
        r.body["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: [\"Bogus\"]: supported values: \"All\""
    );
    assert_eq!(r.body["details"]["kind"], "CreateOptions");
    assert_eq!(r.body["details"]["causes"][0]["reason"], "FieldValueNotSupported");
    assert_eq!(e.get("/api/v1/namespaces/default/configmaps/a").await.status, 404, "a bad dryRun is not a write");
    let r = e.post("/api/v1/namespaces/default/configmaps?fieldValidation=Bogus", cm("a")).await;
    assert_eq!((r.status, r.body["details"]["kind"].as_str()), (422, Some("CreateOptions")));
    assert!(r.body["message"].as_str().unwrap().contains("fieldValidation: Unsupported value: \"Bogus\""));
    assert_eq!(e.post("/api/v1/namespaces/default/configmaps", cm("a")).await.status, 201);
    let r = e.put("/api/v1/namespaces/default/configmaps/a?dryRun=Bogus", cm("a")).await;
    assert_eq!((r.status, r.body["details"]["kind"].as_str()), (422, Some("UpdateOptions")));
    let patch = Some(json!({"data": {"k": "v"}}));
    let r = e.req(Method::PATCH, "/api/v1/namespaces/default/configmaps/a?fieldValidation=Bogus", patch, MERGE).await;
    assert_eq!((r.status, r.body["details"]["kind"].as_str()), (422, Some("PatchOptions")));
    let r = e.delete("/api/v1/namespaces/default/configmaps/a?propagationPolicy=Bogus", None).await;
    assert_eq!((r.status, r.body["details"]["kind"].as_str()), (422, Some("DeleteOptions")));
    assert_eq!(
        r.body["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Bogus\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
    );
    let r = e.delete("/api/v1/namespaces/default/configmaps/a", Some(json!({"propagationPolicy": "Sideways"}))).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    let got = e.get("/api/v1/namespaces/default/configmaps/a").await;
    assert_eq!((got.status, got.body.get("data")), (200, None), "nothing changed");
}

#[tokio::test]
async fn watch_parameter_is_a_go_bool_and_ignored_on_a_named_get() {
    let e = start().await;
    assert_eq!(e.post("/api/v1/namespaces/default/configmaps", json!({"metadata": {"name": "w"}})).await.status, 201);
    let r = e.get("/api/v1/namespaces/default/configmaps/w?watch=true").await;
    assert_eq!((r.status, r.body["kind"].as_str()), (200, Some("ConfigMap")));
    for v in ["false", "FALSE", "0"] {
        let r = e.get(&format!("/api/v1/namespaces/default/configmaps?watch={v}")).await;
        assert_eq!(r.body["kind"], "ConfigMapList", "watch={v}");
    }
    for v in ["bogus", "f"] {
        let r = e.get(&format!("/api/v1/namespaces/default/configmaps?watch={v}&timeoutSeconds=1")).await;
        assert_eq!(r.status, 200);
        assert!(r.text.contains("\"type\":\"ADDED\""), "watch={v} starts a watch: {}", r.text);
    }
}

#[tokio::test]
async fn unknown_paths_under_builtin_groups_are_status_404() {
    let e = start().await;
    for p in [
        "/api/v2",
        "/api/v2/pods",
        "/apis/apps/v9",
        "/apis/apps/v1/nothings",
        "/apis/apps/v1/namespaces/default/nothings",
        "/api/v1/namespaces/default/configmaps/x/status",
        "/api/v1/namespaces/default/configmaps/x/nothing",
    ] {
        let r = e.get(p).await;
        assert_eq!((r.status, reason(&r)), (404, "NotFound"), "{p}");
        assert_eq!(r.body["message"], "the server could not find the requested resource", "{p}");
    }
    for p in ["/apis/nogroup.example.org/v1", "/apis/nogroup.example.org/v1/things"] {
        let r = e.get(p).await;
        assert_eq!((r.status, r.text.as_str()), (404, "404 page not found\n"), "{p}");
    }
}

#[tokio::test]
async fn self_subject_reviews_answer_for_the_caller() {
    let e = start().await;
    let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let review =
        |spec: Value| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec});
    let attrs = json!({"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}});
    let r = e.post(ssar, review(attrs)).await;
    assert_eq!((r.status, r.body["kind"].as_str()), (201, Some("SelfSubjectAccessReview")));
    assert_eq!(r.body["status"]["allowed"], true, "the test's credentials may do anything");
    let r = e.post(ssar, review(json!({"nonResourceAttributes": {"path": "/metrics", "verb": "get"}}))).await;
    assert_eq!(r.body["status"]["allowed"], true);
    let r = e.post(ssar, review(json!({}))).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(
        r.body["message"],
        ".authorization.k8s.io \"\" is invalid: spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified"
    );
    let r = e.get(ssar).await;
    assert_eq!((r.status, reason(&r)), (405, "MethodNotAllowed"), "reviews are create-only");
    let rules = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}});
    let r = e.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", rules).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"]["incomplete"], false);
    let all = json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]});
    assert!(r.body["status"]["resourceRules"].as_array().unwrap().contains(&all), "{}", r.body);
    let doc = e.get("/apis/authorization.k8s.io/v1").await;
    let entry =
        doc.body["resources"].as_array().unwrap().iter().find(|x| x["name"] == "selfsubjectaccessreviews").cloned();
    assert_eq!(
        entry,
        Some(
            json!({"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview", "namespaced": false,
                    "kind": "SelfSubjectAccessReview", "verbs": ["create"]})
        )
    );
}

#[tokio::test]
async fn watch_as_table_sends_one_row_tables_with_columns_once() {
    let e = start().await;
    for n in ["t1", "t2"] {
        let r =
            e.post("/api/v1/namespaces/default/configmaps", json!({"metadata": {"name": n}, "data": {"a": "b"}})).await;
        assert_eq!(r.status, 201);
    }
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let path = "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1";
    let r = e.raw(Method::GET, path, Vec::new(), "application/json", Some(accept)).await;
    assert_eq!(r.status, 200);
    let events: Vec<Value> = r.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 2, "{}", r.text);
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev["type"], "ADDED");
        let table = &ev["object"];
        assert_eq!((table["kind"].as_str(), table["apiVersion"].as_str()), (Some("Table"), Some("meta.k8s.io/v1")));
        assert_eq!(table["rows"].as_array().map(Vec::len), Some(1));
        assert_eq!(table["rows"][0]["cells"][0], json!(["t1", "t2"][i]));
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert!(table["metadata"]["resourceVersion"].is_string());
        if i == 0 {
            assert_eq!(table["columnDefinitions"][0]["name"], "Name");
        } else {
            assert!(table["columnDefinitions"].is_null(), "only the first event defines the columns");
        }
    }
}

#[tokio::test]
async fn builtin_names_and_keys_are_validated_per_kind() {
    let e = start().await;
    let svc = |n: &str| json!({"metadata": {"name": n}, "spec": {"ports": [{"port": 80}]}});
    let r = e.post("/api/v1/namespaces/default/services", svc("a.b")).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(
        r.body["message"],
        "Service \"a.b\" is invalid: metadata.name: Invalid value: \"a.b\": must not contain dots"
    );
    let long = "a".repeat(66);
    let r = e.post("/api/v1/namespaces/default/services", svc(&long)).await;
    assert_eq!(r.status, 422);
    assert!(r.body["message"].as_str().unwrap().ends_with("must be no more than 63 characters"), "{}", r.text);
    assert_eq!(
        e.post("/api/v1/namespaces/default/services", svc("1abc")).await.status,
        201,
        "a label may start with a digit"
    );
    let key_error = "Invalid value: \"a b/c\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
    let r = e
        .post("/api/v1/namespaces/default/configmaps", json!({"metadata": {"name": "k1"}, "data": {"a b/c": "x"}}))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["message"], format!("ConfigMap \"k1\" is invalid: data[a b/c]: {key_error}"));
    let r = e
        .post("/api/v1/namespaces/default/secrets", json!({"metadata": {"name": "k2"}, "stringData": {"a b/c": "x"}}))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["message"],
        format!("Secret \"k2\" is invalid: data[a b/c]: {key_error}"),
        "checked after stringData merges"
    );
}

#[tokio::test]
async fn crd_names_and_patterns_are_validated() {
    let e = start().await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "bads.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "bads", "singular": "bad", "kind": "Bad", "listKind": "BadList", "shortNames": ["Bad_Name"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}}}}}}]}
    });
    let r = e.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    let causes: Vec<(String, String)> = r.body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["field"].as_str().unwrap().to_string(), c["message"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(causes.len(), 2, "{causes:?}");
    assert_eq!(causes[0].0, "spec.names.shortNames[0]");
    assert!(
        causes[0].1.starts_with("Invalid value: \"Bad_Name\": a DNS-1035 label must consist of lower case"),
        "{causes:?}"
    );
    assert_eq!(causes[1].0, "spec.validation.openAPIV3Schema.properties[spec].properties[a].pattern");
    assert!(
        causes[1].1.starts_with("Invalid value: \"(\": must be a valid regular expression, but isn't: "),
        "{causes:?}"
    );
}

#[tokio::test]
async fn protobuf_bodies_of_built_in_kinds_are_accepted() {
    use prost::Message;
    let e = start().await;
    let cm = k8s_pb::api::core::v1::ConfigMap {
        metadata: Some(k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("pb".into()),
            labels: [("a".to_string(), "b".to_string())].into(),
            ..Default::default()
        }),
        data: [("mode".to_string(), "fast".to_string())].into(),
        ..Default::default()
    };
    let envelope = k8s_pb::apimachinery::pkg::runtime::Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: Some("v1".into()),
            kind: Some("ConfigMap".into()),
        }),
        raw: Some(cm.encode_to_vec()),
        content_type: Some(String::new()),
        content_encoding: Some(String::new()),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(envelope.encode_to_vec());
    let path = "/api/v1/namespaces/default/configmaps";
    let r = e.raw(Method::POST, path, body, "application/vnd.kubernetes.protobuf", Some("application/json")).await;
    assert_eq!((r.status, r.body["kind"].as_str()), (201, Some("ConfigMap")), "{}", r.text);
    assert_eq!(r.body["data"], json!({"mode": "fast"}));
    assert_eq!(r.body["metadata"]["labels"], json!({"a": "b"}));
    let r = e.raw(Method::POST, path, b"k8s\0\xff\xff".to_vec(), "application/vnd.kubernetes.protobuf", None).await;
    assert_eq!(r.status, 400, "a broken envelope: {}", r.text);
}

// ---- delete ----

#[tokio::test]
async fn delete_without_finalizers_returns_success_status() {
    let e = start().await;
    e.install_crd().await;
    let c = e.create_foo("a", 1).await;
    let r = e.delete(&format!("{FOOS}/a"), Some(json!({"propagationPolicy": "Background"}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "Success");
    assert_eq!(r.body["details"]["kind"], "foos");
    assert_eq!(r.body["details"]["uid"], c.body["metadata"]["uid"]);
    assert_eq!(e.get(&format!("{FOOS}/a")).await.status, 404);
}

#[tokio::test]
async fn delete_with_finalizers_sets_deletion_timestamp() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["metadata"]["finalizers"] = json!(["example.com/keep"]);
    e.post(FOOS, f).await;
    let r = e.delete(&format!("{FOOS}/a"), None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(r.body["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(r.body["metadata"]["generation"], 2);
    let again = e.delete(&format!("{FOOS}/a"), None).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["metadata"]["resourceVersion"], r.body["metadata"]["resourceVersion"]);
    // Removing the last finalizer deletes the object.
    let mut f = again.body.clone();
    f["metadata"]["finalizers"] = json!([]);
    assert_eq!(e.put(&format!("{FOOS}/a"), f).await.status, 200);
    assert_eq!(e.get(&format!("{FOOS}/a")).await.status, 404);
}

#[tokio::test]
async fn foreground_and_orphan_add_finalizers() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    e.create_foo("b", 1).await;
    let r = e.delete(&format!("{FOOS}/a"), Some(json!({"propagationPolicy": "Foreground"}))).await;
    assert_eq!(r.body["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    let r = e.delete(&format!("{FOOS}/b"), Some(json!({"propagationPolicy": "Orphan"}))).await;
    assert_eq!(r.body["metadata"]["finalizers"], json!(["orphan"]));
}

#[tokio::test]
async fn delete_precondition_mismatch_is_409() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.delete(&format!("{FOOS}/a"), Some(json!({"preconditions": {"uid": "wrong"}}))).await;
    assert_eq!((r.status, reason(&r)), (409, "Conflict"));
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("the UID in the precondition (wrong) does not match the UID in record")
    );
}

#[tokio::test]
async fn delete_missing_is_404() {
    let e = start().await;
    e.install_crd().await;
    let r = e.delete(&format!("{FOOS}/nope"), None).await;
    assert_eq!((r.status, reason(&r)), (404, "NotFound"));
}

#[tokio::test]
async fn delete_with_orphan_dependents_false_is_200() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.delete(&format!("{FOOS}/a"), Some(json!({"orphanDependents": false}))).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn deletecollection_returns_deleted_items() {
    let e = start().await;
    e.install_crd().await;
    for (n, l) in [("a", "x"), ("b", "x"), ("c", "y")] {
        let mut f = foo(n, 1);
        f["metadata"]["labels"] = json!({"k": l});
        e.post(FOOS, f).await;
    }
    let r = e.delete(&format!("{FOOS}?labelSelector=k%3Dx"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["kind"], "FooList");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let l = e.get(FOOS).await;
    assert_eq!(l.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn undeletable_namespace_is_403() {
    let e = start().await;
    let r = e.delete("/api/v1/namespaces/default", None).await;
    assert_eq!((r.status, reason(&r)), (403, "Forbidden"));
    assert_eq!(r.body["message"], "namespaces \"default\" is forbidden: this namespace may not be deleted");
}

#[tokio::test]
async fn namespace_delete_terminates_and_blocks_creates() {
    let e = start().await;
    e.install_crd().await;
    let tmp = e.unique("tmp");
    let r = e.post("/api/v1/namespaces", json!({"metadata": {"name": tmp}})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"]["phase"], "Active");
    assert_eq!(r.body["metadata"]["labels"]["kubernetes.io/metadata.name"], tmp.as_str());
    let r = e.delete(&format!("/api/v1/namespaces/{tmp}"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"]["phase"], "Terminating");
    let r = e.post(&format!("/apis/example.com/v1/namespaces/{tmp}/foos"), foo("a", 1)).await;
    assert_eq!((r.status, reason(&r)), (403, "Forbidden"));
    assert_eq!(r.body["details"]["causes"][0]["reason"], "NamespaceTerminating");
}

#[tokio::test]
async fn bootstrap_namespaces_exist() {
    let e = start().await;
    let r = e.get("/api/v1/namespaces").await;
    let names: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|n| n["metadata"]["name"].as_str().unwrap()).collect();
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.contains(&n));
    }
}

// ---- patch ----

#[tokio::test]
async fn merge_patch_updates_and_bumps_generation() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.patch(&format!("{FOOS}/a"), json!({"spec": {"replicas": 4}}), MERGE).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["replicas"], 4);
    assert_eq!(r.body["metadata"]["generation"], 2);
}

#[tokio::test]
async fn json_patch_and_failing_test_is_422() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e
        .patch(&format!("{FOOS}/a"), json!([{"op": "replace", "path": "/spec/replicas", "value": 5}]), JSONPATCH)
        .await;
    assert_eq!(r.body["spec"]["replicas"], 5);
    let r =
        e.patch(&format!("{FOOS}/a"), json!([{"op": "test", "path": "/spec/replicas", "value": 6}]), JSONPATCH).await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn strategic_merge_on_cr_is_415() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.patch(&format!("{FOOS}/a"), json!({"spec": {"replicas": 4}}), SMP).await;
    assert_eq!((r.status, reason(&r)), (415, "UnsupportedMediaType"));
    assert_eq!(
        r.body["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
}

#[tokio::test]
async fn strategic_merge_on_builtin_merges_lists_by_key() {
    let e = start().await;
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
    assert_eq!(e.post("/api/v1/namespaces/default/pods", pod).await.status, 201);
    let r = e
        .patch("/api/v1/namespaces/default/pods/p", json!({"spec": {"containers": [{"name": "b", "image": "z"}]}}), SMP)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Merged by name, and defaulted as every built-in write is (an untagged image pulls Always).
    let defaulted = |name: &str, image: &str| {
        json!({
            "name": name, "image": image, "imagePullPolicy": "Always", "resources": {},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        })
    };
    assert_eq!(r.body["spec"]["containers"], json!([defaulted("a", "x"), defaulted("b", "z")]));
}

#[tokio::test]
async fn strategic_merge_patch_directives() {
    let e = start().await;
    let cm = json!({"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"a": "1", "b": "2"}});
    assert_eq!(e.post("/api/v1/namespaces/default/configmaps", cm).await.status, 201);
    let path = "/api/v1/namespaces/default/configmaps/c";
    let r = e.patch(path, json!({"data": {"$patch": "delete"}}), SMP).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("data").is_none(), "the map is deleted: {}", r.text);
    let r = e.patch(path, json!({"metadata": {"labels": {"$patch": "replace", "x": "y"}}}), SMP).await;
    assert_eq!((r.status, &r.body["metadata"]["labels"]), (200, &json!({"x": "y"})), "{}", r.text);
    // A whole-object delete leaves nothing to name.
    let r = e.patch(path, json!({"$patch": "delete"}), SMP).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"), "{}", r.text);
    assert_eq!(r.body["message"], "the name of the object (c based on URL) was undeterminable: name must be provided");
    // A merge-key list: one element deleted, then the list replaced.
    let containers =
        json!([{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}, {"name": "c", "image": "z:1"}]);
    let d = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": containers}}}});
    assert_eq!(e.post("/apis/apps/v1/namespaces/default/deployments", d).await.status, 201);
    let path = "/apis/apps/v1/namespaces/default/deployments/d";
    let names = |r: &Reply| -> Vec<String> {
        r.body["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = e
        .patch(path, json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}}), SMP)
        .await;
    assert_eq!((r.status, names(&r)), (200, vec!["b".to_string(), "c".to_string()]), "{}", r.text);
    let replace =
        json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "n", "image": "n:1"}]}}}});
    let r = e.patch(path, replace, SMP).await;
    assert_eq!((r.status, names(&r)), (200, vec!["n".to_string()]), "{}", r.text);
}

#[tokio::test]
async fn pod_updates_may_not_add_or_remove_containers() {
    let e = start().await;
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x:1"}]}});
    assert_eq!(e.post("/api/v1/namespaces/default/pods", pod).await.status, 201);
    let more = json!({"spec": {"containers": [{"name": "b", "image": "y:1"}]}});
    let r = e.patch("/api/v1/namespaces/default/pods/p", more, SMP).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"), "{}", r.text);
    assert_eq!(
        r.body["message"],
        "Pod \"p\" is invalid: spec.containers: Forbidden: pod updates may not add or remove containers"
    );
    // The image may change.
    let image = json!({"spec": {"containers": [{"name": "a", "image": "x:2"}]}});
    let r = e.patch("/api/v1/namespaces/default/pods/p", image, SMP).await;
    assert_eq!((r.status, r.body["spec"]["containers"][0]["image"].as_str()), (200, Some("x:2")), "{}", r.text);
}

#[tokio::test]
async fn workloads_are_defaulted_like_kube_apiserver() {
    let e = start().await;
    let template = json!({
        "metadata": {"labels": {"app": "w"}},
        "spec": {"containers": [{
            "name": "c", "image": "nginx:1.25",
            "ports": [{"containerPort": 80}],
            "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        }],
        "volumes": [{"name": "v", "configMap": {"name": "cm"}}]},
    });
    let selector = json!({"matchLabels": {"app": "w"}});
    let d = json!({"metadata": {"name": "d"}, "spec": {"selector": selector, "template": template}});
    let r = e.post("/apis/apps/v1/namespaces/default/deployments", d).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let spec = &r.body["spec"];
    assert_eq!(
        (&spec["replicas"], &spec["revisionHistoryLimit"], &spec["progressDeadlineSeconds"]),
        (&json!(1), &json!(10), &json!(600))
    );
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(
        (&pod["dnsPolicy"], &pod["restartPolicy"], &pod["schedulerName"], &pod["terminationGracePeriodSeconds"]),
        (&json!("ClusterFirst"), &json!("Always"), &json!("default-scheduler"), &json!(30))
    );
    assert_eq!(pod["securityContext"], json!({}));
    let c = &pod["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["ports"][0], json!({"containerPort": 80, "protocol": "TCP"}));
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(pod["volumes"][0]["configMap"]["defaultMode"], 420);
    assert!(r.body["metadata"]["generation"] == 1);

    let s = json!({"metadata": {"name": "s"}, "spec": {"serviceName": "s", "selector": {"matchLabels": {"app": "w"}}, "template": template,
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
    let r = e.post("/apis/apps/v1/namespaces/default/statefulsets", s).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let spec = &r.body["spec"];
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        spec["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}})
    );
    assert_eq!(spec["persistentVolumeClaimRetentionPolicy"], json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
    let claim = &spec["volumeClaimTemplates"][0];
    assert_eq!(
        (&claim["kind"], &claim["spec"]["volumeMode"], &claim["status"]),
        (&json!("PersistentVolumeClaim"), &json!("Filesystem"), &json!({"phase": "Pending"}))
    );

    let job_template = json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}});
    let r = e
        .post(
            "/apis/batch/v1/namespaces/default/jobs",
            json!({"metadata": {"name": "j"}, "spec": {"template": job_template}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let spec = &r.body["spec"];
    let uid = r.body["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        (
            &spec["completions"],
            &spec["parallelism"],
            &spec["backoffLimit"],
            &spec["completionMode"],
            &spec["suspend"],
            &spec["manualSelector"]
        ),
        (&json!(1), &json!(1), &json!(6), &json!("NonIndexed"), &json!(false), &json!(false))
    );
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(spec["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
    let labels = json!({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "j", "controller-uid": uid, "job-name": "j"});
    assert_eq!(spec["template"]["metadata"]["labels"], labels);
    assert_eq!(r.body["metadata"]["labels"], labels);
    assert_eq!(spec["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");

    let cj = json!({"metadata": {"name": "cj"}, "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": job_template}}}});
    let r = e.post("/apis/batch/v1/namespaces/default/cronjobs", cj).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let spec = &r.body["spec"];
    assert_eq!(
        (
            &spec["concurrencyPolicy"],
            &spec["suspend"],
            &spec["successfulJobsHistoryLimit"],
            &spec["failedJobsHistoryLimit"]
        ),
        (&json!("Allow"), &json!(false), &json!(3), &json!(1))
    );
    assert_eq!(spec["jobTemplate"]["spec"]["template"]["metadata"], json!({}));
    assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none(), "a CronJob's job template is not defaulted");

    let pc = json!({"metadata": {"name": "defaulted-pc-example.com"}, "value": 7});
    let r = e.post("/apis/scheduling.k8s.io/v1/priorityclasses", pc).await;
    assert_eq!((r.status, &r.body["preemptionPolicy"]), (201, &json!("PreemptLowerPriority")), "{}", r.text);
    e.delete("/apis/scheduling.k8s.io/v1/priorityclasses/defaulted-pc-example.com", None).await;

    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let r = e.post("/api/v1/namespaces/default/pods", pod).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let spec = &r.body["spec"];
    assert_eq!(
        (&spec["enableServiceLinks"], &spec["priority"], &spec["preemptionPolicy"]),
        (&json!(true), &json!(0), &json!("PreemptLowerPriority"))
    );
    let keys: Vec<&str> = spec["tolerations"].as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]);
    assert_eq!(spec["tolerations"][0]["tolerationSeconds"], 300);
    assert_eq!(r.body["metadata"]["generation"], 1);
    // Kinds without a spec generation get none.
    let r = e.post("/api/v1/namespaces/default/configmaps", json!({"metadata": {"name": "c"}})).await;
    assert!(r.body["metadata"].get("generation").is_none(), "{}", r.text);
}

/// A Deployment's generation also moves when its annotations change (they are copied to its
/// ReplicaSets); its labels, and a ReplicaSet's annotations, leave it alone.
#[tokio::test]
async fn deployment_generation_moves_with_its_annotations() {
    let e = start().await;
    let template =
        json!({"metadata": {"labels": {"app": "g"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let spec = json!({"replicas": 0, "selector": {"matchLabels": {"app": "g"}}, "template": template});
    for (plural, moves) in [("deployments", true), ("replicasets", false)] {
        let base = format!("/apis/apps/v1/namespaces/default/{plural}");
        let r = e.post(&base, json!({"metadata": {"name": "g"}, "spec": spec})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let path = format!("{base}/g");
        let r = e.patch(&path, json!({"metadata": {"labels": {"a": "b"}}}), MERGE).await;
        assert_eq!(r.body["metadata"]["generation"], 1, "{plural}: {}", r.text);
        let r = e.patch(&path, json!({"metadata": {"annotations": {"a": "b"}}}), MERGE).await;
        assert_eq!(r.body["metadata"]["generation"], if moves { 2 } else { 1 }, "{plural}: {}", r.text);
        let r = e.patch(&path, json!({"metadata": {"annotations": {"a": "b"}}}), MERGE).await;
        assert_eq!(r.body["metadata"]["generation"], if moves { 2 } else { 1 }, "{plural}: {}", r.text);
    }
}

/// `kubectl delete --dry-run=server` asks in the DeleteOptions body: the reply is what the
/// delete would do, and nothing is stored. A body's options are the only ones read.
#[tokio::test]
async fn delete_dry_run_in_the_body_stores_nothing() {
    let e = start().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let r = e.post(cms, json!({"metadata": {"name": "dry"}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e.delete(&format!("{cms}/dry"), Some(json!({"dryRun": ["All"], "propagationPolicy": "Background"}))).await;
    assert_eq!(
        (r.status, &r.body["kind"], &r.body["status"]),
        (200, &json!("Status"), &json!("Success")),
        "{}",
        r.text
    );
    assert_eq!(e.get(&format!("{cms}/dry")).await.status, 200, "a dry-run delete deleted");
    let r = e.post(cms, json!({"metadata": {"name": "dry-f", "finalizers": ["example.com/hold"]}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e.delete(&format!("{cms}/dry-f"), Some(json!({"dryRun": ["All"]}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["metadata"]["deletionTimestamp"].is_string(), "{}", r.text);
    let r = e.get(&format!("{cms}/dry-f")).await;
    assert!(r.body["metadata"].get("deletionTimestamp").is_none(), "{}", r.text);
    let r = e.delete(&format!("{cms}/dry"), Some(json!({"dryRun": ["Bogus"]}))).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"), "{}", r.text);
    let r = e.delete(&format!("{cms}?labelSelector=x!%3Dy"), Some(json!({"dryRun": ["All"]}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(e.get(&format!("{cms}/dry")).await.status, 200, "a dry-run deletecollection deleted");
    // DeleteOptions that do not decode.
    let bodies = [
        (
            json!([1]),
            "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }",
        ),
        (
            json!({"dryRun": "All"}),
            "json: cannot unmarshal string into Go struct field DeleteOptions.dryRun of type []string",
        ),
        (
            json!({"propagationPolicy": 5}),
            "json: cannot unmarshal number into Go struct field DeleteOptions.propagationPolicy of type v1.DeletionPropagation",
        ),
    ];
    for (body, message) in bodies {
        let r = e.delete(&format!("{cms}/dry"), Some(body)).await;
        assert_eq!((r.status, r.body["message"].as_str()), (400, Some(message)), "{}", r.text);
    }
    // With a body, kube-apiserver reads the options from it alone: the query's dryRun is ignored.
    let r = e.delete(&format!("{cms}/dry?dryRun=All"), Some(Value::Null)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(e.get(&format!("{cms}/dry")).await.status, 404);
    let r = e.patch(&format!("{cms}/dry-f"), json!({"metadata": {"finalizers": null}}), MERGE).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn patch_with_stale_rv_is_409() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e
        .patch(&format!("{FOOS}/a"), json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}}), MERGE)
        .await;
    assert_eq!((r.status, reason(&r)), (409, "Conflict"));
}

#[tokio::test]
async fn patch_missing_is_404() {
    let e = start().await;
    e.install_crd().await;
    let r = e.patch(&format!("{FOOS}/none"), json!({"spec": {"replicas": 2}}), MERGE).await;
    assert_eq!((r.status, reason(&r)), (404, "NotFound"));
}

#[tokio::test]
async fn apply_without_field_manager_is_422() {
    let e = start().await;
    e.install_crd().await;
    let r = e.patch(&format!("{FOOS}/a"), foo("a", 1), APPLY).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(
        r.body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
}

#[tokio::test]
async fn force_on_non_apply_patch_is_422() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.patch(&format!("{FOOS}/a?force=true"), json!({"spec": {"replicas": 2}}), MERGE).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert!(r.body["message"].as_str().unwrap().contains("force: Forbidden: may not be specified for non-apply patch"));
}

#[tokio::test]
async fn apply_creates_then_conflicts_then_force_wins() {
    let e = start().await;
    e.install_crd().await;
    let r = e.patch(&format!("{FOOS}/a?fieldManager=alice"), foo("a", 1), APPLY).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.body["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["manager"] == "alice" && m["operation"] == "Apply")
    );
    let r = e.patch(&format!("{FOOS}/a?fieldManager=bob"), foo("a", 2), APPLY).await;
    assert_eq!((r.status, reason(&r)), (409, "Conflict"));
    assert_eq!(r.body["message"], "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
    assert_eq!(r.body["details"]["causes"][0]["reason"], "FieldManagerConflict");
    let r = e.patch(&format!("{FOOS}/a?fieldManager=bob&force=true"), foo("a", 2), APPLY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["replicas"], 2);
}

#[tokio::test]
async fn apply_removes_fields_the_manager_dropped() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["spec"]["tags"] = json!(["x"]);
    e.patch(&format!("{FOOS}/a?fieldManager=alice"), f, APPLY).await;
    let r = e.patch(&format!("{FOOS}/a?fieldManager=alice"), foo("a", 1), APPLY).await;
    assert_eq!(r.status, 200);
    assert!(r.body["spec"].get("tags").is_none(), "{}", r.text);
}

// ---- list ----

#[tokio::test]
async fn devserver_only_list_shape_and_global_rv() {
    let e = start().await;
    e.install_crd().await;
    let r = e.get(FOOS).await;
    assert_eq!(r.body["kind"], "FooList");
    assert_eq!(r.body["apiVersion"], "example.com/v1");
    assert_eq!(r.body["metadata"]["resourceVersion"], e.dev().current_resource_version().to_string());
    e.create_foo("a", 1).await;
    let r = e.get(FOOS).await;
    assert_eq!(r.body["items"][0]["kind"], "Foo");
}

#[tokio::test]
async fn list_options_validation_is_422() {
    let e = start().await;
    e.install_crd().await;
    let r = e.get(&format!("{FOOS}?resourceVersionMatch=NotOlderThan")).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(r.body["details"]["kind"], "ListOptions");
    let r = e.get(&format!("{FOOS}?resourceVersion=0&resourceVersionMatch=Exact")).await;
    assert_eq!(r.status, 422);
    let r = e.get(&format!("{FOOS}?sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0")).await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn devserver_only_list_future_rv_is_504() {
    let e = start().await;
    e.install_crd().await;
    let (status, body) = tcp_get(e.dev().addr(), &format!("{FOOS}?resourceVersion=99999")).await;
    assert_eq!((status, body["reason"].as_str().unwrap()), (504, "Timeout"));
    assert!(body["message"].as_str().unwrap().starts_with("Too large resource version: 99999, current: "));
}

/// Devserver only: it keeps no old snapshots, so any older exact resourceVersion is 410 at once.
/// kube-apiserver serves an old revision from etcd until its periodic compaction (every five
/// minutes) has passed it, so on a young cluster the same request is a 200.
#[tokio::test]
async fn devserver_only_list_exact_old_rv_is_410() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.get(&format!("{FOOS}?resourceVersion=2&resourceVersionMatch=Exact")).await;
    assert_eq!((r.status, reason(&r)), (410, "Expired"));
}

#[tokio::test]
async fn limit_continue_reads_one_snapshot() {
    let e = start().await;
    e.install_crd().await;
    for i in 0..5 {
        e.create_foo(&format!("f{i}"), 1).await;
    }
    let p1 = e.get(&format!("{FOOS}?limit=2")).await;
    assert_eq!(p1.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(p1.body["metadata"]["remainingItemCount"], 3);
    let tok = p1.body["metadata"]["continue"].as_str().unwrap().to_string();
    e.create_foo("f9", 1).await;
    e.delete(&format!("{FOOS}/f4"), None).await;
    let p2 = e.get(&format!("{FOOS}?limit=10&continue={tok}")).await;
    let names: Vec<&str> =
        p2.body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["f2", "f3", "f4"]);
    assert_eq!(p2.body["metadata"]["resourceVersion"], p1.body["metadata"]["resourceVersion"]);
    // The last page: no token. A custom resource list says so with an empty `continue`.
    assert_eq!(p2.body["metadata"]["continue"], "");
    let cms = e.get("/api/v1/namespaces/default/configmaps").await;
    assert!(cms.body["metadata"].get("continue").is_none(), "built-in lists omit it");
}

#[tokio::test]
async fn continue_with_rv_is_400_and_bad_token_is_400() {
    let e = start().await;
    e.install_crd().await;
    for i in 0..2 {
        e.create_foo(&format!("c{i}"), 1).await;
    }
    let token = e.get(&format!("{FOOS}?limit=1")).await.body["metadata"]["continue"].as_str().unwrap().to_string();
    let r = e.get(&format!("{FOOS}?continue={token}&resourceVersion=5")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "specifying resource version is not allowed when using continue");
    // A bad token is reported first, whatever else the request says.
    let r = e.get(&format!("{FOOS}?continue=abc&resourceVersion=5")).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
    assert!(r.body["message"].as_str().unwrap().starts_with("invalid continue token"));
    let r = e.get(&format!("{FOOS}?continue=%21%21")).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
    assert!(r.body["message"].as_str().unwrap().starts_with("invalid continue token"));
}

#[tokio::test]
async fn devserver_only_expired_continue_is_410_with_fresh_token() {
    let e = start().await;
    e.install_crd().await;
    let tok = devserver::encode_continue(2, "default/a");
    let r = e.get(&format!("{FOOS}?continue={tok}")).await;
    assert_eq!((r.status, reason(&r)), (410, "Expired"));
    assert!(r.body["metadata"]["continue"].is_string());
}

#[tokio::test]
async fn label_selectors_full_grammar() {
    let e = start().await;
    e.install_crd().await;
    for (n, labels) in [("a", json!({"app": "web", "n": "3"})), ("b", json!({"app": "db"})), ("c", json!({}))] {
        let mut f = foo(n, 1);
        f["metadata"]["labels"] = labels;
        e.post(FOOS, f).await;
    }
    let names = |r: &Reply| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let q = |s: &str| {
        format!(
            "{FOOS}?labelSelector={}",
            s.replace(' ', "%20")
                .replace('=', "%3D")
                .replace('!', "%21")
                .replace(',', "%2C")
                .replace('(', "%28")
                .replace(')', "%29")
                .replace('>', "%3E")
        )
    };
    assert_eq!(names(&e.get(&q("app=web")).await), vec!["a"]);
    assert_eq!(names(&e.get(&q("app!=web")).await), vec!["b", "c"]);
    assert_eq!(names(&e.get(&q("app in (web,db)")).await), vec!["a", "b"]);
    assert_eq!(names(&e.get(&q("app notin (web)")).await), vec!["b", "c"]);
    assert_eq!(names(&e.get(&q("app")).await), vec!["a", "b"]);
    assert_eq!(names(&e.get(&q("!app")).await), vec!["c"]);
    assert_eq!(names(&e.get(&q("n>2")).await), vec!["a"]);
    let r = e.get(&q("app in web")).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
}

#[tokio::test]
async fn field_selectors_name_and_unsupported() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    e.create_foo("b", 1).await;
    let r = e.get(&format!("{FOOS}?fieldSelector=metadata.name%3Db")).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = e.get(&format!("{FOOS}?fieldSelector=metadata.name%21%3Db")).await;
    assert_eq!(r.body["items"][0]["metadata"]["name"], "a");
    let r = e.get(&format!("{FOOS}?fieldSelector=spec.replicas%3D1")).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
    assert_eq!(r.body["message"], "field label not supported: spec.replicas");
}

#[tokio::test]
async fn cluster_wide_list_and_missing_namespace_list() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.get("/apis/example.com/v1/foos").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = e.get("/apis/example.com/v1/namespaces/ghost/foos").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    // Creating through the cluster-wide path: a custom resource's handler does not know it
    // (the mux's plain 404); a built-in's refuses the method (405).
    let r = e.post("/apis/example.com/v1/foos", foo("z", 1)).await;
    assert_eq!((r.status, r.text.as_str()), (404, "404 page not found\n"));
    let r = e.post("/api/v1/configmaps", json!({"metadata": {"name": "z"}})).await;
    assert_eq!((r.status, reason(&r)), (405, "MethodNotAllowed"));
}

#[tokio::test]
async fn table_with_printer_columns() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 7).await;
    let r = e.raw(Method::GET, FOOS, vec![], "application/json", Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["kind"], "Table");
    let cols: Vec<&str> =
        r.body["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(cols, vec!["Name", "Replicas", "Age"]);
    assert_eq!(r.body["rows"][0]["cells"][0], "a");
    assert_eq!(r.body["rows"][0]["cells"][1], 7);
    assert_eq!(r.body["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let plain = e.get(FOOS).await;
    assert_eq!(plain.body["kind"], "FooList");
}

#[tokio::test]
async fn unsupported_accept_is_406() {
    let e = start().await;
    let r = e.raw(Method::GET, "/api/v1/namespaces", vec![], "application/json", Some("text/html")).await;
    assert_eq!((r.status, reason(&r)), (406, "NotAcceptable"));
    assert_eq!(
        r.body["message"],
        "406: Not Acceptable\n\nAvailable representations: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch"
    );
    let r = e.raw(Method::GET, "/api/v1/namespaces/kube-system", vec![], "application/json", Some("text/html")).await;
    assert_eq!(
        r.body["message"],
        "406: Not Acceptable\n\nAvailable representations: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    );
    e.install_crd().await;
    let r = e.raw(Method::GET, FOOS, vec![], "application/json", Some("text/html")).await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (
            406,
            Some(
                "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf"
            )
        )
    );
    // Custom resources have no protobuf form.
    let r = e.raw_quiet(Method::GET, FOOS, "application/vnd.kubernetes.protobuf").await;
    assert_eq!(r.status, 406);
}

#[tokio::test]
async fn yaml_is_served_for_objects_lists_and_errors() {
    let e = start().await;
    let r = e.raw_quiet(Method::GET, "/api/v1/namespaces/kube-system", "application/yaml").await;
    assert_eq!((r.status, r.headers["content-type"].to_str().unwrap()), (200, "application/yaml"));
    let v: Value = serde_yaml::from_slice(&r.bytes).unwrap();
    assert_eq!((v["kind"].as_str(), v["metadata"]["name"].as_str()), (Some("Namespace"), Some("kube-system")));
    assert!(r.text.starts_with("apiVersion: v1\nkind: Namespace\nmetadata:\n"), "keys sorted: {}", r.text);
    let r = e.raw_quiet(Method::GET, "/api/v1/namespaces/kube-system/nothing-here", "application/yaml").await;
    assert_eq!(r.status, 404);
    let r = e.raw_quiet(Method::GET, "/api/v1/namespaces/default/configmaps/missing", "application/yaml").await;
    let v: Value = serde_yaml::from_slice(&r.bytes).unwrap();
    assert_eq!((r.status, v["kind"].as_str(), v["reason"].as_str()), (404, Some("Status"), Some("NotFound")));
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.raw_quiet(Method::GET, FOOS, "application/yaml").await;
    let v: Value = serde_yaml::from_slice(&r.bytes).unwrap();
    assert_eq!((r.status, v["items"][0]["metadata"]["name"].as_str()), (200, Some("a")));
}

#[tokio::test]
async fn protobuf_replies_for_clients_that_prefer_it() {
    use k8s_pb::apimachinery::pkg::runtime::Unknown;
    use prost::Message;
    let e = start().await;
    let cm = json!({"metadata": {"name": "pbr", "labels": {"a": "b"}}, "data": {"mode": "fast"}});
    assert_eq!(e.post("/api/v1/namespaces/default/configmaps", cm).await.status, 201);
    const PB: &str = "application/vnd.kubernetes.protobuf, application/json";
    let unknown = |r: &Reply| -> Unknown {
        assert_eq!(r.headers["content-type"].to_str().unwrap(), "application/vnd.kubernetes.protobuf", "{}", r.text);
        assert_eq!(&r.bytes[..4], b"k8s\0");
        Unknown::decode(&r.bytes[4..]).expect("a runtime.Unknown")
    };
    let r = e.raw_quiet(Method::GET, "/api/v1/namespaces/default/configmaps/pbr", PB).await;
    let u = unknown(&r);
    let tm = u.type_meta.clone().unwrap();
    assert_eq!((r.status, tm.api_version.as_deref(), tm.kind.as_deref()), (200, Some("v1"), Some("ConfigMap")));
    let got = k8s_pb::api::core::v1::ConfigMap::decode(u.raw.unwrap().as_slice()).unwrap();
    assert_eq!(got.data.get("mode").map(String::as_str), Some("fast"));
    let meta = got.metadata.unwrap();
    assert_eq!((meta.name.as_deref(), meta.labels.get("a").map(String::as_str)), (Some("pbr"), Some("b")));

    let r = e.raw_quiet(Method::GET, "/api/v1/namespaces/default/configmaps", PB).await;
    let u = unknown(&r);
    assert_eq!(u.type_meta.unwrap().kind.as_deref(), Some("ConfigMapList"));
    let list = k8s_pb::api::core::v1::ConfigMapList::decode(u.raw.unwrap().as_slice()).unwrap();
    assert!(list.items.iter().any(|i| i.metadata.as_ref().and_then(|m| m.name.as_deref()) == Some("pbr")));
    assert!(list.metadata.unwrap().resource_version.is_some_and(|rv| !rv.is_empty()));

    let r = e.raw_quiet(Method::GET, "/api/v1/namespaces/default/configmaps/missing", PB).await;
    let u = unknown(&r);
    assert_eq!(u.type_meta.unwrap().kind.as_deref(), Some("Status"));
    let status = k8s_pb::apimachinery::pkg::apis::meta::v1::Status::decode(u.raw.unwrap().as_slice()).unwrap();
    assert_eq!((r.status, status.code, status.reason.as_deref()), (404, Some(404), Some("NotFound")));

    // JSON first, or a Table: JSON.
    let r = e
        .raw_quiet(
            Method::GET,
            "/api/v1/namespaces/default/configmaps/pbr",
            "application/json, application/vnd.kubernetes.protobuf",
        )
        .await;
    assert_eq!((r.status, r.body["data"]["mode"].as_str()), (200, Some("fast")));
}

#[tokio::test]
async fn workloads_scale_through_their_scale_subresource() {
    let e = start().await;
    let selector = json!({"matchLabels": {"a": "b"}, "matchExpressions": [
        {"key": "t", "operator": "In", "values": ["y", "x"]}, {"key": "e", "operator": "Exists"}]});
    let template = json!({"metadata": {"labels": {"a": "b", "t": "x", "e": "1"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}});
    let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2, "selector": selector, "template": template}});
    assert_eq!(e.post("/apis/apps/v1/namespaces/default/deployments", d).await.status, 201);
    let path = "/apis/apps/v1/namespaces/default/deployments/web/scale";
    let r = e.get(path).await;
    assert_eq!((r.status, r.body["kind"].as_str()), (200, Some("Scale")), "{}", r.text);
    assert_eq!(r.body["spec"], json!({"replicas": 2}));
    assert_eq!(r.body["status"], json!({"replicas": 0, "selector": "a=b,e,t in (x,y)"}));
    let r = e.patch(path, json!({"spec": {"replicas": 5}}), MERGE).await;
    assert_eq!((r.status, &r.body["spec"]["replicas"]), (200, &json!(5)), "{}", r.text);
    assert_eq!(e.get("/apis/apps/v1/namespaces/default/deployments/web").await.body["spec"]["replicas"], 5);
    let r = e.patch(path, json!({"spec": {"replicas": -1}}), MERGE).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"), "{}", r.text);
    assert_eq!(
        r.body["message"],
        "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    let s = json!({"metadata": {"name": "db"}, "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}});
    assert_eq!(e.post("/apis/apps/v1/namespaces/default/statefulsets", s).await.status, 201);
    let r = e.put("/apis/apps/v1/namespaces/default/statefulsets/db/scale", json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "db"}, "spec": {"replicas": 3}})).await;
    assert_eq!(
        (r.status, &r.body["spec"]["replicas"], &r.body["status"]["selector"]),
        (200, &json!(3), &json!("app=db")),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn protobuf_watch_streams_length_prefixed_watch_events() {
    use k8s_pb::apimachinery::pkg::apis::meta::v1::WatchEvent;
    use k8s_pb::apimachinery::pkg::runtime::Unknown;
    use prost::Message;
    let e = start().await;
    let cm = json!({"metadata": {"name": "watched"}, "data": {"k": "v"}});
    assert_eq!(e.post("/api/v1/namespaces/default/configmaps", cm).await.status, 201);
    let q = "watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dwatched";
    let r = e
        .raw_quiet(
            Method::GET,
            &format!("/api/v1/namespaces/default/configmaps?{q}"),
            "application/vnd.kubernetes.protobuf;stream=watch",
        )
        .await;
    assert_eq!(
        (r.status, r.headers["content-type"].to_str().unwrap()),
        (200, "application/vnd.kubernetes.protobuf;stream=watch")
    );
    let len = u32::from_be_bytes(r.bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(r.bytes.len(), 4 + len, "one frame: a 4-byte length and the event");
    let event = WatchEvent::decode(&r.bytes[4..]).expect("a WatchEvent without an envelope");
    assert_eq!(event.r#type.as_deref(), Some("ADDED"));
    let raw = event.object.unwrap().raw.unwrap();
    assert_eq!(&raw[..4], b"k8s\0", "the object carries its own envelope");
    let unknown = Unknown::decode(&raw[4..]).unwrap();
    assert_eq!(unknown.type_meta.unwrap().kind.as_deref(), Some("ConfigMap"));
    let cm = k8s_pb::api::core::v1::ConfigMap::decode(unknown.raw.unwrap().as_slice()).unwrap();
    assert_eq!(cm.data.get("k").map(String::as_str), Some("v"));
}

#[tokio::test]
async fn service_account_tokens_are_requested_through_the_token_subresource() {
    let e = start().await;
    assert_eq!(
        e.post("/api/v1/namespaces/default/serviceaccounts", json!({"metadata": {"name": "bot"}})).await.status,
        201
    );
    let path = "/api/v1/namespaces/default/serviceaccounts/bot/token";
    let request = |spec: Value| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec});
    let r = e.post_quiet(path, request(json!({}))).await;
    assert_eq!((r.status, r.body["kind"].as_str()), (201, Some("TokenRequest")), "{}", r.text);
    assert!(r.body["status"]["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(r.body["status"]["expirationTimestamp"].is_string());
    assert_eq!(r.body["spec"]["expirationSeconds"], 3600);
    assert!(r.body["spec"]["audiences"].as_array().is_some_and(|a| !a.is_empty()));
    let r = e.post(path, request(json!({"expirationSeconds": 60}))).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"), "{}", r.text);
    assert_eq!(
        r.body["details"]["causes"][0],
        json!({"reason": "FieldValueInvalid", "field": "spec.expirationSeconds", "message": "Invalid value: 60: may not specify a duration less than 10 minutes"})
    );
    let r = e.post("/api/v1/namespaces/default/serviceaccounts/nobody/token", request(json!({}))).await;
    assert_eq!((r.status, reason(&r)), (404, "NotFound"), "{}", r.text);
    assert_eq!(r.body["message"], "serviceaccounts \"nobody\" not found");
    let r = e.post(path, request(json!("not an object"))).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"), "{}", r.text);
    let r = e.get(path).await;
    assert_eq!((r.status, reason(&r)), (405, "MethodNotAllowed"), "{}", r.text);
}

// ---- CRD handling, validation, pruning, defaults ----

#[tokio::test]
async fn crd_validation_rejects_bad_names_and_groups() {
    let e = start().await;
    let mut c = foo_crd();
    c["metadata"]["name"] = json!("wrong.example.com");
    let r = e.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert!(r.body["message"].as_str().unwrap().contains("must be spec.names.plural+\".\"+spec.group"));
    let mut c = foo_crd();
    c["spec"]["group"] = json!("nodot");
    c["metadata"]["name"] = json!("foos.nodot");
    let r = e.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c).await;
    assert!(r.body["message"].as_str().unwrap().contains("should be a domain with at least one dot"));
    let mut c = foo_crd();
    c["spec"]["versions"][0]["storage"] = json!(false);
    let r = e.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c).await;
    assert!(r.body["message"].as_str().unwrap().contains("must have exactly one version marked as storage version"));
}

#[tokio::test]
async fn crd_create_reply_has_no_conditions_then_established() {
    let e = start().await;
    let r = e.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", foo_crd()).await;
    assert_eq!(r.status, 201);
    // Names are accepted after the reply: it carries the initial status only.
    assert_eq!(r.body["status"]["conditions"], Value::Null);
    assert_eq!(r.body["status"]["storedVersions"], json!(["v1"]));
    let r = e.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com").await;
    let conds = r.body["status"]["conditions"].as_array().unwrap();
    assert!(
        conds.iter().any(|c| c["type"] == "NamesAccepted" && c["status"] == "True" && c["reason"] == "NoConflicts")
    );
    assert!(conds.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
    assert_eq!(r.body["status"]["acceptedNames"]["kind"], "Foo");
}

#[tokio::test]
async fn crd_delete_removes_crs_and_stops_serving() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com", None).await;
    assert_eq!(r.status, 200);
    // kube-apiserver removes the custom resources, then the CRD, after answering.
    eventually(30, "CRD gone", || async {
        let gone = e.get_quiet("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com").await;
        (gone.status == 404).then_some(())
    })
    .await;
    assert_eq!(e.get(FOOS).await.status, 404);
    e.install_crd().await;
    assert_eq!(e.get(FOOS).await.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn schema_violation_is_422_with_causes() {
    let e = start().await;
    e.install_crd().await;
    let r = e.create_foo("a", 11).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(
        r.body["message"],
        "Foo.example.com \"a\" is invalid: spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
    );
    assert_eq!(
        r.body["details"]["causes"][0],
        json!({"reason": "FieldValueInvalid", "message": "Invalid value: 11: spec.replicas in body should be less than or equal to 10", "field": "spec.replicas"})
    );
    assert_eq!(r.body["details"]["kind"], "Foo");
}

#[tokio::test]
async fn schema_required_enum_type_maxlength() {
    let e = start().await;
    e.install_crd().await;
    let r = e.post(FOOS, json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a"}, "spec": {"mode": "medium", "image": "a-very-long-image-name-indeed"}})).await;
    assert_eq!(r.status, 422);
    let causes = r.body["details"]["causes"].as_array().unwrap();
    let find = |field: &str| causes.iter().find(|c| c["field"] == field).cloned().unwrap_or(Value::Null);
    assert_eq!(find("spec.replicas")["reason"], "FieldValueRequired");
    assert_eq!(find("spec.mode")["reason"], "FieldValueNotSupported");
    assert_eq!(find("spec.mode")["message"], "Unsupported value: \"medium\": supported values: \"fast\", \"slow\"");
    assert_eq!(find("spec.image")["reason"], "FieldValueTooLong");
    let r = e.post(FOOS, json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a"}, "spec": {"replicas": "three"}})).await;
    assert_eq!(r.body["details"]["causes"][0]["reason"], "FieldValueTypeInvalid");
}

#[tokio::test]
async fn wrong_kind_is_422() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["kind"] = json!("Bar");
    let r = e.post(FOOS, f).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert!(r.body["message"].as_str().unwrap().contains("kind: Invalid value: \"Bar\": must be Foo"));
}

#[tokio::test]
async fn unknown_fields_pruned_with_warning_by_default() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["spec"]["bogus"] = json!(1);
    f["spec"]["extra"] = json!({"kept": true});
    let r = e.post(FOOS, f).await;
    assert_eq!(r.status, 201);
    assert!(r.body["spec"].get("bogus").is_none());
    assert_eq!(r.body["spec"]["extra"]["kept"], true);
    let w = r.headers.get("warning").unwrap().to_str().unwrap();
    assert_eq!(w, "299 - \"unknown field \\\"spec.bogus\\\"\"");
}

#[tokio::test]
async fn field_validation_strict_is_400_and_ignore_is_silent() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["spec"]["bogus"] = json!(1);
    let r = e.post(&format!("{FOOS}?fieldValidation=Strict"), f.clone()).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
    assert_eq!(
        r.body["message"],
        "Foo in version \"v1\" cannot be handled as a Foo: strict decoding error: unknown field \"spec.bogus\""
    );
    let r = e.post(&format!("{FOOS}?fieldValidation=Ignore"), f).await;
    assert_eq!(r.status, 201);
    assert!(r.headers.get("warning").is_none());
}

#[tokio::test]
async fn schema_defaults_are_applied() {
    let e = start().await;
    e.install_crd().await;
    let r = e.create_foo("a", 1).await;
    assert_eq!(r.body["spec"]["mode"], "fast");
}

#[tokio::test]
async fn owner_references_two_controllers_is_422() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    let owner = |n: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": n, "uid": n, "controller": true});
    f["metadata"]["ownerReferences"] = json!([owner("x"), owner("y")]);
    let r = e.post(FOOS, f).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert!(r.body["message"].as_str().unwrap().contains("Only one reference can have Controller set to true"));
}

#[tokio::test]
async fn invalid_label_is_422() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["metadata"]["labels"] = json!({"bad key!": "v"});
    let r = e.post(FOOS, f).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
}

// ---- request log ----

#[tokio::test]
async fn devserver_only_request_log_counts_verbs() {
    let e = start().await;
    e.install_crd().await;
    e.dev().request_log().clear();
    e.create_foo("a", 1).await;
    e.get(FOOS).await;
    e.get(FOOS).await;
    e.get(&format!("{FOOS}/a")).await;
    let log = e.dev().request_log();
    assert_eq!(log.count("create", "foos"), 1);
    assert_eq!(log.count("list", "foos"), 2);
    assert_eq!(log.count("get", "foos"), 1);
    let last = log.entries().pop().unwrap();
    assert_eq!((last.namespace.as_deref(), last.status, last.name.as_deref()), (Some("default"), 200, Some("a")));
}

#[tokio::test]
async fn builtin_kinds_are_served() {
    let e = start().await;
    for (path, body) in [
        ("/api/v1/namespaces/default/secrets", json!({"metadata": {"name": "s"}, "stringData": {"a": "b"}})),
        ("/api/v1/namespaces/default/serviceaccounts", json!({"metadata": {"name": "sa"}})),
        (
            "/api/v1/namespaces/default/services",
            json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/statefulsets",
            json!({"metadata": {"name": "st"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        ),
        (
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}}),
        ),
        (
            "/api/v1/namespaces/default/events",
            json!({"metadata": {"name": "ev"}, "involvedObject": {"name": "x", "namespace": "default"}}),
        ),
        (
            "/api/v1/namespaces/default/resourcequotas",
            json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "2"}}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/replicasets",
            json!({"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/controllerrevisions",
            json!({"metadata": {"name": "cr"}, "revision": 1, "data": {}}),
        ),
        (
            "/apis/batch/v1/namespaces/default/jobs",
            json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
        ),
        (
            "/apis/batch/v1/namespaces/default/cronjobs",
            json!({"metadata": {"name": "cj"}, "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            json!({"metadata": {"name": "i"}, "spec": {"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}}),
        ),
        (
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            json!({"metadata": {"name": "p"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "b"}}}}),
        ),
        (
            "/apis/events.k8s.io/v1/namespaces/default/events",
            json!({"metadata": {"name": "ev2"}, "eventTime": "2026-01-01T00:00:00.000000Z", "regarding": {"name": "x", "namespace": "default"},
                   "reportingController": "example.com/c", "reportingInstance": "c-1", "action": "Test", "reason": "Tested", "type": "Normal"}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
            json!({"metadata": {"name": "r"}, "rules": []}),
        ),
        // Cluster-scoped names carry example.com: on a shared real server each run gets its own.
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            json!({"metadata": {"name": "cr.example.com"}, "rules": []}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            json!({"metadata": {"name": "rb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            json!({"metadata": {"name": "crb.example.com"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr.example.com"}}),
        ),
    ] {
        let r = e.post(path, body).await;
        assert_eq!(r.status, 201, "{path}: {}", r.text);
        let name = r.body["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(e.get(&format!("{path}/{name}")).await.status, 200);
    }
    // An Event about an object elsewhere is refused (core/v1's legacy rule).
    let ev = json!({"metadata": {"name": "ev3"}, "involvedObject": {"name": "x", "namespace": "elsewhere"}});
    let r = e.post("/api/v1/namespaces/default/events", ev).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"), "{}", r.text);
    assert_eq!(
        r.body["details"]["causes"][0]["message"],
        "Invalid value: \"elsewhere\": does not match event.namespace"
    );
}

#[tokio::test]
async fn events_are_one_store_with_two_views() {
    let e = start().await;
    let v1 = json!({
        "metadata": {"name": "from-v1"}, "eventTime": "2026-12-03T06:00:00.000000Z",
        "regarding": {"kind": "ConfigMap", "name": "c", "namespace": "default"},
        "reportingController": "example.com/tester", "reportingInstance": "tester-1",
        "action": "Check", "reason": "Checked", "type": "Normal", "note": "all good",
    });
    let created = e.post("/apis/events.k8s.io/v1/namespaces/default/events", v1).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let core = e.get("/api/v1/namespaces/default/events/from-v1").await;
    assert_eq!((core.status, core.body["apiVersion"].as_str()), (200, Some("v1")), "{}", core.text);
    assert_eq!(core.body["metadata"]["uid"], created.body["metadata"]["uid"]);
    assert_eq!(core.body["metadata"]["resourceVersion"], created.body["metadata"]["resourceVersion"]);
    assert_eq!(
        (&core.body["involvedObject"]["name"], &core.body["message"], &core.body["reportingComponent"]),
        (&json!("c"), &json!("all good"), &json!("example.com/tester"))
    );
    let old = json!({"metadata": {"name": "from-core"}, "involvedObject": {"kind": "ConfigMap", "name": "c", "namespace": "default"},
        "reason": "Old", "message": "the old way", "type": "Warning", "source": {"component": "legacy"}, "count": 2});
    assert_eq!(e.post("/api/v1/namespaces/default/events", old).await.status, 201);
    let view = e.get("/apis/events.k8s.io/v1/namespaces/default/events/from-core").await;
    assert_eq!((view.status, view.body["apiVersion"].as_str()), (200, Some("events.k8s.io/v1")), "{}", view.text);
    assert_eq!(
        (
            &view.body["regarding"]["name"],
            &view.body["note"],
            &view.body["deprecatedSource"],
            &view.body["deprecatedCount"]
        ),
        (&json!("c"), &json!("the old way"), &json!({"component": "legacy"}), &json!(2))
    );
    // Both lists hold both; a patch through one view shows through the other.
    for path in ["/api/v1/namespaces/default/events", "/apis/events.k8s.io/v1/namespaces/default/events"] {
        let list = e.get(path).await;
        let mut names: Vec<&str> =
            list.body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["from-core", "from-v1"], "{path}");
    }
    let r = e
        .patch(
            "/apis/events.k8s.io/v1/namespaces/default/events/from-v1",
            json!({"series": {"count": 2, "lastObservedTime": "2026-12-03T06:01:00.000000Z"}}),
            MERGE,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let core = e.get("/api/v1/namespaces/default/events/from-v1").await;
    assert_eq!(core.body["series"]["count"], 2);
    assert_eq!(e.delete("/api/v1/namespaces/default/events/from-v1", None).await.status, 200);
    assert_eq!(e.get("/apis/events.k8s.io/v1/namespaces/default/events/from-v1").await.status, 404);
}

#[tokio::test]
async fn new_objects_start_with_the_status_kube_apiserver_gives_them() {
    let e = start().await;
    let template = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}});
    for (path, body, status) in [
        (
            "/apis/apps/v1/namespaces/default/replicasets",
            json!({"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}),
            json!({"replicas": 0}),
        ),
        (
            "/apis/batch/v1/namespaces/default/jobs",
            json!({"metadata": {"name": "j"}, "spec": {"template": template}}),
            json!({}),
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            json!({"metadata": {"name": "i"}, "spec": {"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}}),
            json!({"loadBalancer": {}}),
        ),
        (
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            json!({"metadata": {"name": "p"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "b"}}}}),
            json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}),
        ),
        (
            "/api/v1/namespaces/default/resourcequotas",
            json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "2"}}}),
            json!({}),
        ),
    ] {
        let r = e.post(path, body).await;
        assert_eq!((r.status, &r.body["status"]), (201, &status), "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn builtin_unknown_fields_strict_400_warn_header_and_dropped() {
    let e = start().await;
    let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "bogus": {"x": 1}});
    let r = e.post("/api/v1/namespaces/default/configmaps?fieldValidation=Strict", cm.clone()).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
    assert_eq!(
        r.body["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\""
    );
    let r = e.post("/api/v1/namespaces/default/configmaps", cm).await;
    assert_eq!(r.status, 201);
    assert!(r.body.get("bogus").is_none());
    assert_eq!(r.headers.get("warning").unwrap().to_str().unwrap(), "299 - \"unknown field \\\"bogus\\\"\"");
}

#[tokio::test]
async fn selectable_fields_of_a_crd_work_in_field_selectors() {
    let e = start().await;
    let mut c = foo_crd();
    c["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.image"}]);
    assert_eq!(e.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c).await.status, 201);
    e.create_foo("a", 1).await;
    let mut f = foo("b", 1);
    f["spec"]["image"] = json!("redis");
    e.post(FOOS, f).await;
    let r = e.get(&format!("{FOOS}?fieldSelector=spec.image%3Dredis")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!((items.len(), items[0]["metadata"]["name"].as_str()), (1, Some("b")));
}

#[tokio::test]
async fn aggregated_discovery_with_etag_and_304() {
    let e = start().await;
    e.install_crd().await;
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let r = e.raw(Method::GET, "/apis", vec![], "application/json", Some(accept)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
    assert_eq!(r.headers["vary"], "Accept");
    let group =
        r.body["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "example.com").unwrap().clone();
    let foos = &group["versions"][0]["resources"][0];
    assert_eq!((foos["resource"].as_str(), foos["scope"].as_str()), (Some("foos"), Some("Namespaced")));
    assert_eq!(foos["subresources"][0]["subresource"], "status");
    // The document's ETag answers a conditional GET with 304. (On a shared real server other
    // tests' CRDs change the document between two requests: take a fresh ETag and retry.)
    let mut etag = r.headers["etag"].to_str().unwrap().to_string();
    let mut status = 0;
    for _ in 0..20 {
        let req = http::Request::get("/apis")
            .header("accept", accept)
            .header("if-none-match", &etag)
            .body(kube::client::Body::empty())
            .unwrap();
        status = e.client.send(req).await.unwrap().status().as_u16();
        if status == 304 {
            break;
        }
        let again = e.raw_quiet(Method::GET, "/apis", accept).await;
        etag = again.headers["etag"].to_str().unwrap().to_string();
    }
    assert_eq!(status, 304);
    let core = e.raw(Method::GET, "/api", vec![], "application/json", Some(accept)).await;
    assert!(
        core.body["items"][0]["versions"][0]["resources"].as_array().unwrap().iter().any(|r| r["resource"] == "pods")
    );
    // Plain JSON is still the legacy document.
    assert_eq!(e.get("/apis").await.body["kind"], "APIGroupList");
}

#[tokio::test]
async fn unchanged_invalid_values_are_ratcheted_on_update() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 9).await;
    // Tighten the schema: replicas now at most 5.
    let mut c = e.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com").await.body;
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["replicas"]["maximum"] =
        json!(5);
    assert_eq!(e.put("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com", c).await.status, 200);
    // An unrelated change is allowed although replicas (unchanged) is now invalid...
    let r = e.patch(&format!("{FOOS}/a"), json!({"spec": {"image": "redis"}}), MERGE).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // ...but changing replicas to another invalid value is not.
    let r = e.patch(&format!("{FOOS}/a"), json!({"spec": {"replicas": 8}}), MERGE).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    // And a new object must satisfy the new schema.
    assert_eq!(e.create_foo("b", 9).await.status, 422);
}

#[tokio::test]
async fn cel_rule_failure_is_422() {
    let e = start().await;
    let mut c = foo_crd();
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] =
        json!([{"rule": "!has(self.image) || self.image != 'forbidden'", "message": "image is forbidden"}]);
    assert_eq!(e.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c).await.status, 201);
    let mut f = foo("a", 1);
    f["spec"]["image"] = json!("forbidden");
    let r = e.post(FOOS, f).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(r.body["details"]["causes"][0]["message"], "Invalid value: image is forbidden");
    assert_eq!(e.create_foo("b", 1).await.status, 201);
}

#[tokio::test]
async fn patch_dry_run_persists_nothing() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let r = e.patch(&format!("{FOOS}/a?dryRun=All"), json!({"spec": {"replicas": 4}}), MERGE).await;
    assert_eq!((r.status, r.body["spec"]["replicas"].as_i64()), (200, Some(4)));
    assert_eq!(e.get(&format!("{FOOS}/a")).await.body["spec"]["replicas"], 1);
}

#[tokio::test]
async fn unqualified_finalizer_on_cr_only_warns() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["metadata"]["finalizers"] = json!(["plain"]);
    let r = e.post(FOOS, f).await;
    assert_eq!(r.status, 201);
    assert!(r.headers.get("warning").unwrap().to_str().unwrap().contains("prefer a domain-qualified finalizer name"));
}

#[tokio::test]
async fn garbage_input_never_crashes_the_server() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let cases: Vec<(Method, String, Vec<u8>, &str)> = vec![
        (Method::POST, FOOS.to_string(), b"[1,2]".to_vec(), "application/json"),
        (Method::POST, FOOS.to_string(), b"\"str\"".to_vec(), "application/json"),
        (Method::POST, FOOS.to_string(), b"{\"metadata\": 5}".to_vec(), "application/json"),
        (Method::PUT, format!("{FOOS}/a"), b"{\"metadata\": {\"name\": 7}}".to_vec(), "application/json"),
        (Method::PATCH, format!("{FOOS}/a"), b"{oops".to_vec(), "application/merge-patch+json"),
        (Method::PATCH, format!("{FOOS}/a"), b"[{\"op\": \"nope\"}]".to_vec(), "application/json-patch+json"),
        (Method::PATCH, format!("{FOOS}/a"), b"- a\n- b\n".to_vec(), "application/apply-patch+yaml"),
        (Method::PATCH, format!("{FOOS}/a?fieldManager=m"), b"- a\n- b\n".to_vec(), "application/apply-patch+yaml"),
        (Method::PATCH, format!("{FOOS}/a"), b"{\"metadata\": null}".to_vec(), "application/merge-patch+json"),
        (Method::DELETE, format!("{FOOS}/a"), b"{{{".to_vec(), "application/json"),
        (Method::GET, format!("{FOOS}?limit=abc"), vec![], "application/json"),
        (Method::GET, format!("{FOOS}?watch=true&timeoutSeconds=x"), vec![], "application/json"),
        (Method::GET, format!("{FOOS}?watch=true&resourceVersion=abc"), vec![], "application/json"),
        (Method::GET, "/apis/example.com/v1/namespaces/default/foos/a/b/c/d".to_string(), vec![], "application/json"),
        (
            Method::POST,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions".to_string(),
            b"{\"spec\": 1}".to_vec(),
            "application/json",
        ),
    ];
    for (m, path, body, ct) in cases {
        let r = e.raw(m.clone(), &path, body, ct, None).await;
        assert!((400..500).contains(&r.status), "{m} {path}: {} {}", r.status, r.text);
    }
    assert_eq!(e.get(&format!("{FOOS}/a")).await.status, 200);
}

#[tokio::test]
async fn devserver_only_watch_from_future_rv_is_504() {
    let e = start().await;
    e.install_crd().await;
    let (status, body) = tcp_get(e.dev().addr(), &format!("{FOOS}?watch=true&resourceVersion=999999")).await;
    assert_eq!((status, body["reason"].as_str()), (504, Some("Timeout")));
}

/// The devserver with its garbage collector (`cargo xtask cluster` runs no kube-controller-manager,
/// so these cases have no real counterpart there).
async fn gc_env() -> Env {
    let server = devserver::DevServer::builder().garbage_collection(true).start().await.unwrap();
    Env::new(server)
}

async fn owner_and_dependent(e: &Env) -> String {
    let owner = e.post("/api/v1/namespaces/default/configmaps", json!({"metadata": {"name": "owner"}})).await;
    let uid = owner.body["metadata"]["uid"].as_str().unwrap().to_string();
    let dep = json!({"metadata": {"name": "dep", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid, "blockOwnerDeletion": true}]}});
    assert_eq!(e.post("/api/v1/namespaces/default/configmaps", dep).await.status, 201);
    uid
}

async fn eventually_status(e: &Env, path: &str, want: u16) {
    for _ in 0..500 {
        if e.get(path).await.status == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{path} never answered {want}");
}

#[tokio::test]
async fn gc_off_by_default_keeps_dependents() {
    let e = start().await;
    owner_and_dependent(&e).await;
    e.delete("/api/v1/namespaces/default/configmaps/owner", None).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(e.get("/api/v1/namespaces/default/configmaps/dep").await.status, 200);
}

#[tokio::test]
async fn devserver_only_gc_background_deletes_dependents() {
    let e = gc_env().await;
    owner_and_dependent(&e).await;
    e.delete("/api/v1/namespaces/default/configmaps/owner", Some(json!({"propagationPolicy": "Background"}))).await;
    eventually_status(&e, "/api/v1/namespaces/default/configmaps/dep", 404).await;
}

#[tokio::test]
async fn devserver_only_gc_foreground_deletes_dependents_first() {
    let e = gc_env().await;
    owner_and_dependent(&e).await;
    let r =
        e.delete("/api/v1/namespaces/default/configmaps/owner", Some(json!({"propagationPolicy": "Foreground"}))).await;
    assert_eq!(r.body["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    eventually_status(&e, "/api/v1/namespaces/default/configmaps/dep", 404).await;
    eventually_status(&e, "/api/v1/namespaces/default/configmaps/owner", 404).await;
}

#[tokio::test]
async fn devserver_only_gc_orphan_keeps_dependents_without_owner_reference() {
    let e = gc_env().await;
    owner_and_dependent(&e).await;
    e.delete("/api/v1/namespaces/default/configmaps/owner", Some(json!({"propagationPolicy": "Orphan"}))).await;
    eventually_status(&e, "/api/v1/namespaces/default/configmaps/owner", 404).await;
    let dep = e.get("/api/v1/namespaces/default/configmaps/dep").await;
    assert_eq!(dep.status, 200);
    assert!(dep.body["metadata"].get("ownerReferences").is_none_or(|r| r.as_array().unwrap().is_empty()));
}

#[tokio::test]
async fn second_served_version_relabels_api_version() {
    let e = start().await;
    let mut c = foo_crd();
    let mut v2 = c["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    c["spec"]["versions"].as_array_mut().unwrap().push(v2);
    assert_eq!(e.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c).await.status, 201);
    e.create_foo("a", 1).await;
    let r = e.get("/apis/example.com/v2/namespaces/default/foos/a").await;
    assert_eq!((r.status, r.body["apiVersion"].as_str()), (200, Some("example.com/v2")));
    let l = e.get("/apis/example.com/v2/namespaces/default/foos").await;
    assert_eq!(l.body["items"][0]["apiVersion"], "example.com/v2");
    let disc = e.get("/apis/example.com").await;
    assert_eq!(disc.body["preferredVersion"]["version"], "v2");
}

#[tokio::test]
async fn malformed_cr_metadata_is_400() {
    let e = start().await;
    e.install_crd().await;
    let mut f = foo("a", 1);
    f["metadata"]["labels"] = json!({"x": 1});
    let r = e.post(FOOS, f).await;
    assert_eq!((r.status, reason(&r)), (400, "BadRequest"));
    let mut f = foo("b", 1);
    f["metadata"]["bogusMeta"] = json!("x");
    let r = e.post(&format!("{FOOS}?fieldValidation=Strict"), f).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["message"],
        "Foo in version \"v1\" cannot be handled as a Foo: strict decoding error: unknown field \"metadata.bogusMeta\""
    );
}

#[tokio::test]
async fn devserver_only_watch_headers_are_flushed_before_any_event() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let e = start().await;
    e.install_crd().await;
    let rv = e.dev().current_resource_version();
    let mut s = tokio::net::TcpStream::connect(e.dev().addr()).await.unwrap();
    let req = format!("GET {FOOS}?watch=true&resourceVersion={rv} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("headers arrive while the watch is idle")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
}

#[tokio::test]
async fn apply_list_map_elements_are_owned_per_key() {
    let e = start().await;
    e.install_crd().await;
    e.create_foo("a", 1).await;
    let status = |conds: Value| json!({"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "a"}, "status": {"conditions": conds}});
    let path = |m: &str| format!("{FOOS}/a/status?fieldManager={m}");
    let r = e.patch(&path("alice"), status(json!([{"type": "A", "status": "True"}])), APPLY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = e.patch(&path("bob"), status(json!([{"type": "B", "status": "False"}])), APPLY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["status"]["conditions"],
        json!([{"type": "A", "status": "True"}, {"type": "B", "status": "False"}])
    );
    let r = e
        .patch(&path("bob"), status(json!([{"type": "B", "status": "False"}, {"type": "A", "status": "False"}])), APPLY)
        .await;
    assert_eq!((r.status, reason(&r)), (409, "Conflict"));
    assert_eq!(
        r.body["message"],
        "Apply failed with 1 conflict: conflict with \"alice\" with subresource \"status\": .status.conditions[type=\"A\"].status"
    );
    let r = e.patch(&path("alice"), status(json!([])), APPLY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"]["conditions"], json!([{"type": "B", "status": "False"}]));
    let fields = r.body["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "bob")
        .unwrap()["fieldsV1"]
        .clone();
    assert!(fields["f:status"]["f:conditions"].get("k:{\"type\":\"B\"}").is_some(), "{fields}");
}

#[tokio::test]
async fn apply_on_builtins_owns_containers_by_name() {
    let e = start().await;
    let deployment = |containers: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": containers}}}})
    };
    let path = |m: &str| format!("/apis/apps/v1/namespaces/default/deployments/d?fieldManager={m}");
    let r = e.patch(&path("alice"), deployment(json!([{"name": "a", "image": "x"}])), APPLY).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e.patch(&path("bob"), deployment(json!([{"name": "b", "image": "y"}])), APPLY).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r.body["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a", "b"]);
}

/// Server-side apply on built-in kinds owns fields as kube-apiserver's OpenAPI says: Service and
/// container ports per port and protocol (a missing protocol is its default), selectors as one
/// value, list-map elements themselves (`.`); so applying what an update wrote does not conflict.
#[tokio::test]
async fn apply_on_builtins_follows_kube_apiserver_list_types() {
    let e = start().await;
    let fields_of = |r: &Reply, manager: &str| {
        r.body["metadata"]["managedFields"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["manager"] == manager))
            .map(|m| m["fieldsV1"].clone())
            .unwrap_or(Value::Null)
    };
    let svc = "/api/v1/namespaces/default/services";
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ssa", "labels": {"a": "b"}},
        "spec": {"selector": {"app": "x"}, "ports": [{"name": "a", "port": 80, "protocol": "TCP"}, {"name": "b", "port": 81}]}});
    let r = e.post(&format!("{svc}?fieldManager=writer"), service.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e.patch(&format!("{svc}/ssa?fieldManager=applier"), service, APPLY).await;
    assert_eq!(r.status, 200, "applying what was written conflicts: {}", r.text);
    let element = |fields: Value| {
        let mut m = fields.as_object().cloned().unwrap_or_default();
        m.insert(".".into(), json!({}));
        Value::Object(m)
    };
    let expected = json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:selector": {}, "f:ports": {
        "k:{\"port\":80,\"protocol\":\"TCP\"}": element(json!({"f:name": {}, "f:port": {}, "f:protocol": {}})),
        "k:{\"port\":81,\"protocol\":\"TCP\"}": element(json!({"f:name": {}, "f:port": {}}))}}});
    assert_eq!(fields_of(&r, "applier"), expected);

    let deploy = "/apis/apps/v1/namespaces/default/deployments";
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa"}, "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {
            "containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]}],
            "tolerations": [{"key": "a", "operator": "Exists"}]}}}});
    let r = e.patch(&format!("{deploy}/ssa?fieldManager=applier"), deployment, APPLY).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let container = element(json!({"f:name": {}, "f:image": {},
        "f:env": {"k:{\"name\":\"A\"}": element(json!({"f:name": {}, "f:value": {}}))},
        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": element(json!({"f:containerPort": {}}))}}));
    let expected = json!({"f:spec": {"f:selector": {}, "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:tolerations": {}, "f:containers": {"k:{\"name\":\"c\"}": container}}}}});
    assert_eq!(fields_of(&r, "applier"), expected);
}

/// A field an update removes is no manager's any more: applying it again conflicts with nobody.
#[tokio::test]
async fn managers_lose_the_fields_an_update_removes() {
    let e = start().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let r = e
        .post(&format!("{cms}?fieldManager=alice"), json!({"metadata": {"name": "pruned", "labels": {"a": "1"}}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e
        .patch(&format!("{cms}/pruned?fieldManager=bob"), json!({"metadata": {"labels": {"a": null, "b": "2"}}}), MERGE)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entries = r.body["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    for m in &entries {
        assert!(m["fieldsV1"].pointer("/f:metadata/f:labels/f:a").is_none(), "{} still owns labels.a", m["manager"]);
    }
    let bob = entries.iter().find(|m| m["manager"] == "bob").map(|m| m["fieldsV1"].clone());
    assert_eq!(bob, Some(json!({"f:metadata": {"f:labels": {"f:b": {}}}})));
    let applied =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pruned", "labels": {"a": "3"}}});
    let r = e.patch(&format!("{cms}/pruned?fieldManager=carol"), applied, APPLY).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Empty labels, annotations, finalizers and owner references are left out, as Go's JSON leaves
/// them out of kube-apiserver's ObjectMeta; also after the last label is removed.
#[tokio::test]
async fn empty_metadata_collections_are_left_out() {
    let e = start().await;
    e.install_crd().await;
    let empty = json!({"labels": {}, "annotations": {}, "finalizers": [], "ownerReferences": [], "generateName": ""});
    let mut cm = json!({"metadata": empty.clone()});
    cm["metadata"]["name"] = json!("empty-meta");
    let mut f = foo("empty-meta", 1);
    f["metadata"] = empty;
    f["metadata"]["name"] = json!("empty-meta");
    for (collection, body) in [("/api/v1/namespaces/default/configmaps", cm), (FOOS, f)] {
        let r = e.post(collection, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        for k in ["labels", "annotations", "finalizers", "ownerReferences", "generateName"] {
            assert!(r.body["metadata"].get(k).is_none(), "{collection}: {k} kept: {}", r.text);
        }
        let path = format!("{collection}/empty-meta");
        let r = e.patch(&path, json!({"metadata": {"labels": {"a": "b"}}}), MERGE).await;
        assert_eq!(r.body["metadata"]["labels"], json!({"a": "b"}), "{}", r.text);
        let r = e.patch(&path, json!({"metadata": {"labels": {"a": null}}}), MERGE).await;
        assert!(r.body["metadata"].get("labels").is_none(), "{collection}: {}", r.text);
    }
}

#[tokio::test]
async fn watch_list_streams_initial_events_then_the_end_bookmark() {
    let e = start().await;
    e.install_crd().await;
    for i in 0..3 {
        e.create_foo(&format!("w{i}"), 1).await;
    }
    let q =
        "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2";
    let r = e.get(&format!("{FOOS}?{q}")).await;
    assert_eq!(r.status, 200);
    let events: Vec<Value> = r.text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let types: Vec<&str> = events.iter().map(|ev| ev["type"].as_str().unwrap_or("")).collect();
    assert_eq!(&types[..3], ["ADDED", "ADDED", "ADDED"], "{types:?}");
    let mut names: Vec<&str> =
        events[..3].iter().map(|ev| ev["object"]["metadata"]["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["w0", "w1", "w2"]);
    let end = events.iter().find(|ev| ev["type"] == "BOOKMARK").expect("a bookmark");
    assert_eq!(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(end["object"]["kind"], "Foo");
    // Without resourceVersionMatch=NotOlderThan the request is invalid.
    let r = e.get(&format!("{FOOS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true")).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
}

// ---- limits ----

#[tokio::test]
async fn oversized_bodies_and_configmaps_are_refused() {
    let e = start().await;
    // Over the 3 MiB request limit: 413 before anything else looks at the body.
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"huge"}},"data":{{"k":"{}"}}}}"#,
        "x".repeat(4 << 20)
    );
    let r =
        e.raw(Method::POST, "/api/v1/namespaces/default/configmaps", body.into_bytes(), "application/json", None).await;
    assert_eq!((r.status, reason(&r)), (413, "RequestEntityTooLarge"));
    assert_eq!(r.body["message"], "Request entity too large: limit is 3145728");
    // Under it, but over a ConfigMap's 1 MiB of values: 422.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"k": "x".repeat(2 << 20)}});
    let r = e.post("/api/v1/namespaces/default/configmaps", cm).await;
    assert_eq!((r.status, reason(&r)), (422, "Invalid"));
    assert_eq!(r.body["details"]["causes"][0]["reason"], "FieldValueTooLong");
    assert!(r.body["message"].as_str().unwrap_or_default().contains("Too long: may not be more than 1048576 bytes"));
}

// ---- services ----

/// The message of a 422's first cause.
fn first_cause(r: &Reply) -> String {
    let c = &r.body["details"]["causes"][0];
    format!("{}: {}", c["field"].as_str().unwrap_or(""), c["message"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn services_get_cluster_ips_node_ports_and_defaults() {
    let e = start().await;
    let base = "/api/v1/namespaces/default/services";
    let svc = |name: &str, spec: Value| json!({"metadata": {"name": name}, "spec": spec});
    let in_range = |v: &Value| {
        let ip: std::net::Ipv4Addr = v.as_str().unwrap_or("").parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        ip.octets()[..3] == [10, 0, 0] && !matches!(ip.octets()[3], 0 | 255)
    };
    let node_port = |v: &Value| v.as_u64().is_some_and(|p| (30000..=32767).contains(&p));

    // ClusterIP: an allocated address and every default.
    let r = e.post(base, svc("plain", json!({"selector": {"app": "a"}, "ports": [{"port": 80}]}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let spec = &r.body["spec"];
    let ip = spec["clusterIP"].clone();
    assert!(in_range(&ip), "{ip}");
    assert_eq!(spec["clusterIPs"], json!([ip]));
    assert_eq!(
        (&spec["ipFamilies"], &spec["ipFamilyPolicy"], &spec["internalTrafficPolicy"]),
        (&json!(["IPv4"]), &json!("SingleStack"), &json!("Cluster"))
    );
    assert_eq!((&spec["type"], &spec["sessionAffinity"]), (&json!("ClusterIP"), &json!("None")));
    assert_eq!(spec["ports"], json!([{"port": 80, "protocol": "TCP", "targetPort": 80}]));
    assert_eq!(r.body["status"], json!({"loadBalancer": {}}));
    assert!(spec.get("externalTrafficPolicy").is_none());

    // Headless: no address; without a selector the families are open.
    let r = e
        .post(base, svc("headless", json!({"clusterIP": "None", "selector": {"app": "a"}, "ports": [{"port": 80}]})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (&r.body["spec"]["clusterIPs"], &r.body["spec"]["ipFamilies"], &r.body["spec"]["ipFamilyPolicy"]),
        (&json!(["None"]), &json!(["IPv4"]), &json!("SingleStack"))
    );
    let r = e.post(base, svc("headless-nosel", json!({"clusterIP": "None"}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (&r.body["spec"]["ipFamilies"], &r.body["spec"]["ipFamilyPolicy"]),
        (&json!(["IPv4", "IPv6"]), &json!("RequireDualStack"))
    );

    // NodePort and LoadBalancer: node ports, traffic policies, the health-check port.
    let r = e
        .post(
            base,
            svc("node", json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080, "protocol": "UDP"}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let taken = r.body["spec"]["ports"][0]["nodePort"].clone();
    assert!(node_port(&taken), "{}", r.text);
    assert_eq!(r.body["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(r.body["spec"]["ports"][0]["targetPort"], 8080);
    let lb = json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "sessionAffinity": "ClientIP",
        "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 443}]});
    let r = e.post(base, svc("lb", lb)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let spec = &r.body["spec"];
    assert!(node_port(&spec["healthCheckNodePort"]) && node_port(&spec["ports"][1]["nodePort"]), "{}", r.text);
    assert_eq!(spec["allocateLoadBalancerNodePorts"], true);
    assert_eq!(spec["sessionAffinityConfig"], json!({"clientIP": {"timeoutSeconds": 10800}}));
    let r = e.post(base, svc("ext", json!({"type": "ExternalName", "externalName": "example.com"}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["spec"],
        json!({"externalName": "example.com", "sessionAffinity": "None", "type": "ExternalName"})
    );

    // What cannot be had, in kube-apiserver's words.
    for (name, spec, want) in [
        ("dup-port", json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": taken}]}),
            format!("spec.ports[0].nodePort: Invalid value: {taken}: provided port is already allocated")),
        ("low-port", json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}),
            "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767".to_string()),
        ("far-ip", json!({"clusterIP": "10.9.0.1", "ports": [{"port": 80}]}),
            r#"spec.clusterIPs: Invalid value: ["10.9.0.1"]: failed to allocate IP 10.9.0.1: the provided network does not match the current range"#.to_string()),
        ("dup-ip", json!({"clusterIP": ip, "ports": [{"port": 80}]}),
            format!("spec.clusterIPs: Invalid value: [{ip}]: failed to allocate IP {}: provided IP is already allocated", ip.as_str().unwrap())),
        ("bad-ip", json!({"clusterIP": "abc", "ports": [{"port": 80}]}),
            r#"spec.clusterIPs[0]: Invalid value: "abc": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#.to_string()),
        ("port-on-cluster-ip", json!({"ports": [{"port": 80, "nodePort": 30001}]}),
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'".to_string()),
        ("no-ports", json!({"selector": {"a": "b"}}), "spec.ports: Required value".to_string()),
        ("unnamed-ports", json!({"ports": [{"port": 80}, {"port": 81}]}), "spec.ports[0].name: Required value".to_string()),
    ] {
        let r = e.post(base, svc(name, spec)).await;
        assert_eq!((r.status, reason(&r)), (422, "Invalid"), "{name}: {}", r.text);
        assert_eq!(first_cause(&r), want, "{name}");
    }

    // Updates keep what was allocated, refuse a new cluster IP, and follow type changes.
    let mut cur = e.get(&format!("{base}/plain")).await.body;
    for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        cur["spec"].as_object_mut().unwrap().remove(f);
    }
    let r = e.put(&format!("{base}/plain"), cur).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((&r.body["spec"]["clusterIP"], &r.body["spec"]["ipFamilies"]), (&ip, &json!(["IPv4"])));
    let r = e
        .patch(&format!("{base}/plain"), json!({"spec": {"clusterIP": "10.0.0.3", "clusterIPs": ["10.0.0.3"]}}), SMP)
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(first_cause(&r), r#"spec.clusterIPs[0]: Invalid value: ["10.0.0.3"]: may not change once set"#);
    let r = e.patch(&format!("{base}/plain"), json!({"spec": {"type": "NodePort"}}), SMP).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(node_port(&r.body["spec"]["ports"][0]["nodePort"]), "{}", r.text);
    assert_eq!((&r.body["spec"]["clusterIP"], &r.body["spec"]["externalTrafficPolicy"]), (&ip, &json!("Cluster")));
    let r = e.patch(&format!("{base}/node"), json!({"spec": {"type": "ClusterIP"}}), SMP).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["ports"], json!([{"port": 80, "protocol": "UDP", "targetPort": 8080}]));
    assert!(r.body["spec"].get("externalTrafficPolicy").is_none(), "{}", r.text);
    let r = e
        .patch(
            &format!("{base}/plain"),
            json!({"spec": {"type": "ExternalName", "externalName": "a.example.com"}}),
            SMP,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"] {
        assert!(r.body["spec"].get(f).is_none(), "{f} kept: {}", r.text);
    }

    // A released node port can be had again.
    let r = e.post(base, svc("again", json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": taken}]}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["spec"]["ports"][0]["nodePort"], taken);
}

// ---- tables of built-in kinds ----

#[tokio::test]
async fn builtin_kinds_print_kube_apiserver_columns() {
    let e = start().await;
    let recorded: Value =
        serde_json::from_str(include_str!("../src/printers/columns-v1.37.json")).expect("recorded columns");
    let ns = "/api/v1/namespaces/default";
    let apps = "/apis/apps/v1/namespaces/default";
    let batch = "/apis/batch/v1/namespaces/default";
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    let template = json!({"metadata": {"labels": {"app": "t"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}, {"name": "d", "image": "busybox"}]}});
    let creates = [
        (
            format!("{ns}/configmaps"),
            json!({"metadata": {"name": "t"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}}),
        ),
        (
            format!("{ns}/secrets"),
            json!({"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
        ),
        (format!("{ns}/serviceaccounts"), json!({"metadata": {"name": "t"}})),
        (format!("{ns}/pods"), json!({"metadata": {"name": "t"}, "spec": template["spec"]})),
        (
            format!("{ns}/services"),
            json!({"metadata": {"name": "t"}, "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]}}),
        ),
        (format!("{ns}/resourcequotas"), json!({"metadata": {"name": "t"}, "spec": {"hard": {"pods": "3"}}})),
        (
            format!("{apps}/deployments"),
            json!({"metadata": {"name": "t"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "t"}}, "template": template}}),
        ),
        (
            format!("{apps}/replicasets"),
            json!({"metadata": {"name": "t"}, "spec": {"replicas": 3, "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["t", "s"]}]}, "template": template}}),
        ),
        (
            format!("{apps}/statefulsets"),
            json!({"metadata": {"name": "t"}, "spec": {"serviceName": "t", "selector": {"matchLabels": {"app": "t"}}, "template": template}}),
        ),
        (format!("{apps}/controllerrevisions"), json!({"metadata": {"name": "t"}, "revision": 4, "data": {}})),
        (
            format!("{batch}/jobs"),
            json!({"metadata": {"name": "t"}, "spec": {"parallelism": 2, "completions": 3, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
        ),
        (
            format!("{batch}/cronjobs"),
            json!({"metadata": {"name": "t"}, "spec": {"schedule": "*/5 * * * *", "suspend": true, "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses".into(),
            json!({"metadata": {"name": "t"}, "spec": {"tls": [{"hosts": ["a.example.com"]}], "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]}}),
        ),
        (
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets".into(),
            json!({"metadata": {"name": "t"}, "spec": {"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "t"}}}}),
        ),
        (
            "/apis/coordination.k8s.io/v1/namespaces/default/leases".into(),
            json!({"metadata": {"name": "t"}, "spec": {"holderIdentity": "me"}}),
        ),
        (format!("{rbac}/namespaces/default/roles"), json!({"metadata": {"name": "t"}, "rules": []})),
        (
            format!("{rbac}/namespaces/default/rolebindings"),
            json!({"metadata": {"name": "t"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "t"},
            "subjects": [{"kind": "User", "name": "u1"}, {"kind": "User", "name": "u2"}, {"kind": "Group", "name": "g"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "default"}]}),
        ),
        (
            "/apis/scheduling.k8s.io/v1/priorityclasses".into(),
            json!({"metadata": {"name": "tables.example.com"}, "value": 7, "preemptionPolicy": "Never"}),
        ),
    ];
    for (path, body) in &creates {
        let r = e.post(path, body.clone()).await;
        assert_eq!(r.status, 201, "{path}: {}", r.text);
    }
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    // The cells that are times (they tick) are only checked to be there.
    let timed = ["Age", "Created At", "Duration", "Last Schedule"];
    let expect: [(&str, &str, Value); 19] = [
        ("configmaps", "t", json!(["t", 3, "*"])),
        ("secrets", "t", json!(["t", "kubernetes.io/tls", 2, "*"])),
        ("serviceaccounts", "t", json!(["t", "*"])),
        ("pods", "t", json!(["t", "0/2", "Pending", "0", "*", "<none>", "<none>", "<none>", "<none>"])),
        ("services", "t", json!(["t", "ExternalName", "<none>", "example.com", "80/TCP,53/UDP", "*", "<none>"])),
        ("resourcequotas", "t", json!(["t", "", "", "*"])),
        ("deployments", "t", json!(["t", "0/2", 0, 0, "*", "c,d", "nginx:1.25,busybox", "app=t"])),
        ("replicasets", "t", json!(["t", 3, 0, 0, "*", "c,d", "nginx:1.25,busybox", "app in (s,t)"])),
        ("statefulsets", "t", json!(["t", "0/1", "*", "c,d", "nginx:1.25,busybox"])),
        ("controllerrevisions", "t", json!(["t", "<none>", 4, "*"])),
        ("jobs", "t", json!(["t", "Running", "0/3", "*", "*", "c", "busybox", "*"])),
        ("cronjobs", "t", json!(["t", "*/5 * * * *", "<none>", "True", 0, "<none>", "*", "c", "busybox", "<none>"])),
        ("ingresses", "t", json!(["t", "<none>", "a.example.com,b.example.com", "", "80, 443", "*"])),
        ("poddisruptionbudgets", "t", json!(["t", "N/A", "25%", 0, "*"])),
        ("leases", "t", json!(["t", "me", "*"])),
        ("roles", "t", json!(["t", "*"])),
        ("rolebindings", "t", json!(["t", "Role/t", "*", "u1, u2", "g", "default/sa"])),
        ("priorityclasses", "tables.example.com", json!(["tables.example.com", 7, false, "*", "Never"])),
        ("namespaces", "default", json!(["default", "Active", "*"])),
    ];
    for (plural, name, want) in expect {
        let path = match creates.iter().find(|(p, _)| p.ends_with(&format!("/{plural}"))) {
            Some((p, _)) => format!("{p}/{name}"),
            None => format!("/api/v1/namespaces/{name}"),
        };
        let r = e.raw(Method::GET, &path, vec![], "", Some(accept)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let columns = r.body["columnDefinitions"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = columns.iter().filter_map(|c| c["name"].as_str()).collect();
        if let Some(recorded) = recorded.get(plural) {
            assert_eq!(&json!(columns), recorded, "{plural}: column definitions");
        } else {
            assert_eq!(names, ["Name", "Created At"], "{plural}: the default columns");
        }
        let cells = r.body["rows"][0]["cells"].as_array().cloned().unwrap_or_default();
        assert_eq!(cells.len(), names.len(), "{plural}: {}", r.text);
        for (i, (cell, want)) in cells.iter().zip(want.as_array().unwrap()).enumerate() {
            if timed.contains(&names[i]) || want == "*" {
                assert!(!cell.is_null(), "{plural} {}: {}", names[i], r.text);
            } else {
                assert_eq!(cell, want, "{plural} column {}", names[i]);
            }
        }
    }
}

#[tokio::test]
async fn namespaces_are_finalized_through_their_finalize_subresource() {
    let e = start().await;
    let name = e.unique("finalize-me");
    let path = format!("/api/v1/namespaces/{name}");
    let r = e.post("/api/v1/namespaces", json!({"metadata": {"name": name}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["spec"], json!({"finalizers": ["kubernetes"]}));
    // An ordinary update leaves spec.finalizers alone.
    let mut ns = r.body.clone();
    ns["spec"]["finalizers"] = json!([]);
    let r = e.put(&path, ns).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["spec"], json!({"finalizers": ["kubernetes"]}));
    // finalize is written with PUT only.
    for (method, ct) in [(Method::GET, ""), (Method::PATCH, MERGE)] {
        let r = e.req(method.clone(), &format!("{path}/finalize"), Some(json!({})), ct).await;
        assert_eq!((r.status, reason(&r)), (405, "MethodNotAllowed"), "{method}: {}", r.text);
    }
    let r = e.delete(&path, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"]["phase"], "Terminating");
    assert!(r.body["metadata"]["deletionTimestamp"].is_string(), "{}", r.text);
    assert_eq!(e.get(&path).await.status, 200, "the finalizer holds it");
    let mut ns = r.body.clone();
    ns["spec"]["finalizers"] = json!([]);
    let r = e.put(&format!("{path}/finalize"), ns).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["kind"], "Namespace");
    assert_eq!(e.get(&path).await.status, 404, "gone once finalized");
}

#[tokio::test]
async fn strategic_merge_follows_each_fields_patch_strategy() {
    let e = start().await;
    let names = |r: &Reply| -> Vec<String> {
        r.body
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| c["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let containers = |cs: Value| json!({"spec": {"template": {"spec": {"containers": cs}}}});
    let deploy = "/apis/apps/v1/namespaces/default/deployments";
    let body = json!({"metadata": {"name": "smp"}, "spec": {"selector": {"matchLabels": {"app": "smp"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "template": {"metadata": {"labels": {"app": "smp"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}],
            "tolerations": [{"key": "a", "operator": "Exists"}]}}}});
    let r = e.post(deploy, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let path = format!("{deploy}/smp");
    // Merge lists merge by key; the patch's elements lead, the server's others keep their place.
    let r = e
        .patch(&path, containers(json!([{"name": "b", "image": "busybox"}, {"name": "a", "image": "redis"}])), SMP)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r), ["b", "a", "nginx"]);
    let r = e
        .patch(
            &path,
            containers(json!([{"name": "c", "image": "busybox"}, {"name": "nginx", "image": "nginx:2"}])),
            SMP,
        )
        .await;
    assert_eq!(names(&r), ["c", "b", "a", "nginx"]);
    assert_eq!(r.body.pointer("/spec/template/spec/containers/3/image"), Some(&json!("nginx:2")));
    // `$setElementOrder` alone reorders.
    let order = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "a"}, {"name": "b"}, {"name": "c"}]}}}});
    let r = e.patch(&path, order, SMP).await;
    assert_eq!(names(&r), ["nginx", "a", "b", "c"]);
    // A list without a merge strategy is replaced.
    let r = e
        .patch(
            &path,
            json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}),
            SMP,
        )
        .await;
    assert_eq!(r.body.pointer("/spec/template/spec/tolerations"), Some(&json!([{"key": "b", "operator": "Exists"}])));
    // `$retainKeys` drops what the new strategy does not use.
    let r = e.patch(&path, json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}), SMP).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["strategy"], json!({"type": "Recreate"}));

    // A merge list of scalars is a union: the patch's values lead.
    let cm = "/api/v1/namespaces/default/configmaps";
    let r = e.post(cm, json!({"metadata": {"name": "smp", "finalizers": ["example.com/a", "example.com/c"]}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e
        .patch(
            &format!("{cm}/smp"),
            json!({"metadata": {"finalizers": ["example.com/d", "example.com/a", "example.com/b"]}}),
            SMP,
        )
        .await;
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["example.com/d", "example.com/a", "example.com/b", "example.com/c"])
    );
    let r = e.patch(&format!("{cm}/smp"), json!({"metadata": {"finalizers": null}}), MERGE).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Service ports merge by port.
    let svc = "/api/v1/namespaces/default/services";
    let r = e.post(svc, json!({"metadata": {"name": "smp"}, "spec": {"ports": [{"name": "a", "port": 80}]}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = e
        .patch(
            &format!("{svc}/smp"),
            json!({"spec": {"ports": [{"name": "b", "port": 81}, {"port": 80, "targetPort": 8080}]}}),
            SMP,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ports: Vec<(Value, Value, Value)> = r.body["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].clone(), p["port"].clone(), p["targetPort"].clone()))
        .collect();
    assert_eq!(ports, [(json!("b"), json!(81), json!(81)), (json!("a"), json!(80), json!(8080))]);
}

/// Where strategic merge does not merge, kube-apiserver takes the patch's value as sent: a
/// replaced list keeps directives as data (they then are unknown fields), a new value loses
/// every map that carries `$patch` and every null.
#[tokio::test]
async fn strategic_merge_takes_unmerged_values_as_sent() {
    let e = start().await;
    let ing = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";
    let body = json!({"metadata": {"name": "smp-as-sent"}, "spec": {
        "defaultBackend": {"service": {"name": "s", "port": {"number": 80}}},
        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]}});
    let r = e.post(ing, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let path = format!("{ing}/smp-as-sent");
    let r = e.patch(&path, json!({"spec": {"rules": [{"$patch": "replace"}, {"host": "c.example.com"}]}}), SMP).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["rules"], json!([{}, {"host": "c.example.com"}]));
    let warnings: Vec<&str> = r.headers.get_all("warning").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(warnings.iter().any(|w| w.contains("unknown field") && w.contains("spec.rules[0].$patch")), "{warnings:?}");
    let r = e.patch(&path, json!({"spec": {"rules": [{"host": "c.example.com", "$patch": "delete"}]}}), SMP).await;
    assert_eq!(r.body["spec"]["rules"], json!([{"host": "c.example.com"}]), "{}", r.text);
    // New values: `tls` and the labels and annotations the Ingress did not have.
    let r = e.patch(&path, json!({"spec": {"tls": [{"$patch": "replace"}, {"hosts": ["x.example.com"]}]}}), SMP).await;
    assert_eq!(r.body["spec"]["tls"], json!([{"hosts": ["x.example.com"]}]), "{}", r.text);
    let r = e
        .patch(
            &path,
            json!({"metadata": {"labels": {"$patch": "replace", "a": "b"}, "annotations": {"x": "1", "y": null}}}),
            SMP,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["metadata"].get("labels"), &r.body["metadata"]["annotations"]), (None, &json!({"x": "1"})));
}

#[tokio::test]
async fn a_new_namespace_keeps_its_finalizers_and_gets_kubernetes() {
    let e = start().await;
    let name = e.unique("own-finalizers");
    let r = e.post("/api/v1/namespaces", json!({"metadata": {"name": name}, "spec": {"finalizers": ["example.com/mine"]}, "status": {"phase": "Terminating"}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["spec"], json!({"finalizers": ["example.com/mine", "kubernetes"]}));
    assert_eq!(r.body["status"], json!({"phase": "Active"}));
}
