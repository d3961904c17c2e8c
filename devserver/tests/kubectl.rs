//! kubectl v1.32 works unchanged against the devserver, driven through the kubeconfig the server
//! writes. These tests FAIL (never skip) when kubectl is missing: set `KUBECTL` to its path if it
//! is not on PATH.

mod common;
use common::*;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn kubectl_bin() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(kubectl_bin())
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("kubectl must be installed (set KUBECTL): {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn ok(kubeconfig: &Path, args: &[&str]) -> String {
    let (success, stdout, stderr) = kubectl(kubeconfig, args).await;
    assert!(success, "kubectl {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}");
    stdout
}

/// `kubectl get -w` running in the background; its output rows are collected as they arrive.
struct Watch {
    child: tokio::process::Child,
    rows: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
}

impl Watch {
    fn start(kubeconfig: &Path, args: &[&str]) -> Watch {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(kubectl_bin())
            .env("KUBECONFIG", kubeconfig)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl must be installed");
        let rows = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("piped stdout");
        let sink = rows.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let row = line.split_whitespace().map(str::to_string).collect();
                sink.lock().unwrap().push(row);
            }
        });
        Watch { child, rows }
    }

    /// Waits (up to 30 s) until a row equal to `want` has been printed.
    async fn wait_row(&self, want: &[&str]) {
        self.wait_for(want, |row, want| row.iter().map(String::as_str).eq(want.iter().copied())).await;
    }

    /// Waits (up to 30 s) until a row starting with the cells `want` has been printed.
    async fn wait_row_starting(&self, want: &[&str]) {
        self.wait_for(want, |row, want| row.len() >= want.len() && row.iter().zip(want).all(|(a, b)| a == b)).await;
    }

    async fn wait_for(&self, want: &[&str], matches: impl Fn(&[String], &[&str]) -> bool) {
        for _ in 0..300 {
            if self.rows.lock().unwrap().iter().any(|r| matches(r, want)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("kubectl get -w never printed {want:?}; got {:?}", self.rows.lock().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_end_to_end_with_a_crd() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let server = devserver::DevServer::builder().kubeconfig_path(&kc).start().await.unwrap();
    assert!(std::fs::read_to_string(&kc).unwrap().contains(server.url()));
    let crd = dir.path().join("crd.yaml");
    std::fs::write(&crd, serde_yaml::to_string(&foo_crd()).unwrap()).unwrap();
    let out = ok(&kc, &["apply", "-f", crd.to_str().unwrap()]).await;
    assert!(out.contains("customresourcedefinition.apiextensions.k8s.io/foos.example.com created"), "{out}");
    let out = ok(&kc, &["wait", "--for", "condition=established", "--timeout=20s", "crd/foos.example.com"]).await;
    assert!(out.contains("condition met"), "{out}");

    let obj = dir.path().join("foo.yaml");
    std::fs::write(
        &obj,
        "apiVersion: example.com/v1\nkind: Foo\nmetadata:\n  name: a\nspec:\n  replicas: 2\n  image: nginx\n",
    )
    .unwrap();
    let out = ok(&kc, &["apply", "-f", obj.to_str().unwrap()]).await;
    assert!(out.contains("foo.example.com/a created"), "{out}");
    // Re-applying unchanged is a no-op; a change is "configured".
    let out = ok(&kc, &["apply", "-f", obj.to_str().unwrap()]).await;
    assert!(out.contains("foo.example.com/a unchanged"), "{out}");

    let out = ok(&kc, &["get", "foos"]).await;
    let header = out.lines().next().unwrap_or("");
    assert!(header.contains("NAME") && header.contains("REPLICAS") && header.contains("AGE"), "{out}");
    assert!(out.lines().nth(1).unwrap_or("").split_whitespace().collect::<Vec<_>>()[..2] == ["a", "2"], "{out}");
    let out = ok(&kc, &["get", "fo", "a", "-o", "yaml"]).await;
    assert!(out.contains("replicas: 2") && out.contains("kind: Foo"), "{out}");

    // Watch in the background while patching and labelling; act only once the initial row is in.
    let mut watch = Watch::start(
        &kc,
        &[
            "get",
            "foos",
            "-w",
            "-o",
            "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,TIER:.metadata.labels.tier",
        ],
    );
    watch.wait_row(&["a", "2", "<none>"]).await;
    let out = ok(&kc, &["patch", "foo", "a", "--type", "merge", "-p", "{\"spec\":{\"replicas\":5}}"]).await;
    assert!(out.contains("foo.example.com/a patched"), "{out}");
    watch.wait_row(&["a", "5", "<none>"]).await;
    let out = ok(&kc, &["label", "foo", "a", "tier=gold"]).await;
    assert!(out.contains("foo.example.com/a labeled"), "{out}");
    watch.wait_row(&["a", "5", "gold"]).await;
    let _ = watch.child.start_kill();

    let out = ok(&kc, &["api-resources", "--api-group=example.com"]).await;
    let line = out.lines().find(|l| l.starts_with("foos")).unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols, vec!["foos", "fo", "example.com/v1", "true", "Foo"], "{out}");

    let out = ok(&kc, &["delete", "foo", "a"]).await;
    assert!(out.contains("foo.example.com \"a\" deleted"), "{out}");
    let (success, _, stderr) = kubectl(&kc, &["get", "foo", "a"]).await;
    assert!(!success && stderr.contains("NotFound"), "{stderr}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_builtins_with_strategic_merge() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let server = devserver::DevServer::builder().kubeconfig_path(&kc).start().await.unwrap();
    let cm = dir.path().join("cm.yaml");
    std::fs::write(&cm, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"1\"\n").unwrap();
    let out = ok(&kc, &["apply", "-f", cm.to_str().unwrap()]).await;
    assert!(out.contains("configmap/c created"), "{out}");
    std::fs::write(&cm, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  b: \"2\"\n").unwrap();
    let out = ok(&kc, &["apply", "-f", cm.to_str().unwrap()]).await;
    assert!(out.contains("configmap/c configured"), "{out}");
    let out = ok(&kc, &["get", "configmap", "c", "-o", "jsonpath={.data}"]).await;
    assert_eq!(out, "{\"b\":\"2\"}");
    // Apply sends JSON (`kubectl create` sends protobuf: see every_kubectl_create_subcommand_works).
    let ns = dir.path().join("ns.yaml");
    std::fs::write(&ns, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n").unwrap();
    let out = ok(&kc, &["apply", "-f", ns.to_str().unwrap()]).await;
    assert!(out.contains("namespace/team created"), "{out}");
    let out = ok(&kc, &["get", "ns"]).await;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease", "team"] {
        assert!(out.contains(ns), "{out}");
    }
    let out = ok(&kc, &["apply", "--server-side", "-f", cm.to_str().unwrap()]).await;
    assert!(out.contains("configmap/c serverside-applied"), "{out}");
    server.shutdown().await;
}

/// `kubectl explain` reads the built-in kinds' schemas; `kubectl get` prints their columns; a
/// client-side `kubectl apply` that reorders containers and changes the deployment strategy
/// sends `$setElementOrder` and `$retainKeys`, which the server honours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explains_prints_and_applies_builtin_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let server = devserver::DevServer::builder().kubeconfig_path(&kc).start().await.unwrap();
    let out = ok(&kc, &["explain", "deployment.spec.strategy"]).await;
    assert!(out.contains("DeploymentStrategy describes how to replace existing pods with new ones"), "{out}");
    assert!(out.contains("rollingUpdate\t<RollingUpdateDeployment>"), "{out}");
    let out = ok(&kc, &["get", "service", "kubernetes"]).await;
    let header: Vec<&str> = out.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], "{out}");
    assert!(out.contains("10.0.0.1") && out.contains("443/TCP"), "{out}");
    let file = dir.path().join("d.yaml");
    let deployment = |strategy: &str, containers: &[&str]| {
        let cs: String = containers.iter().map(|c| format!("      - {{name: {c}, image: busybox}}\n")).collect();
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n  selector: {{matchLabels: {{app: d}}}}\n  strategy: {strategy}\n  template:\n    metadata: {{labels: {{app: d}}}}\n    spec:\n      containers:\n{cs}"
        )
    };
    std::fs::write(&file, deployment("{type: RollingUpdate, rollingUpdate: {maxSurge: 1}}", &["a", "b"])).unwrap();
    ok(&kc, &["apply", "-f", file.to_str().unwrap()]).await;
    std::fs::write(&file, deployment("{type: Recreate}", &["c", "b"])).unwrap();
    ok(&kc, &["apply", "-f", file.to_str().unwrap()]).await;
    let out = ok(
        &kc,
        &["get", "deployment", "d", "-o", "jsonpath={.spec.template.spec.containers[*].name} {.spec.strategy}"],
    )
    .await;
    assert_eq!(out, "c b {\"type\":\"Recreate\"}");
    server.shutdown().await;
}

/// The acceptance flow with the project's generated CRD and example (deploy/crd, deploy/examples).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_with_the_generated_crd_and_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("deploy");
    let crd_dir = root.join("crd");
    let crd_file = std::fs::read_dir(&crd_dir)
        .unwrap_or_else(|e| panic!("{} must exist: {e}", crd_dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "yaml"))
        .expect("a generated CRD in deploy/crd");
    let crd: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(&crd_file).unwrap()).unwrap();
    let crd_name = crd["metadata"]["name"].as_str().unwrap().to_string();
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap().to_string();
    let short = crd["spec"]["names"]["shortNames"][0].as_str().unwrap_or(&plural).to_string();
    let columns: Vec<String> = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .map(|cs| cs.iter().map(|c| c["name"].as_str().unwrap_or("").to_uppercase()).collect())
        .unwrap_or_default();

    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let server = devserver::DevServer::builder().kubeconfig_path(&kc).start().await.unwrap();
    ok(&kc, &["apply", "-f", crd_dir.to_str().unwrap()]).await;
    let out = ok(&kc, &["wait", "--for", "condition=established", "--timeout=20s", &format!("crd/{crd_name}")]).await;
    assert!(out.contains("condition met"), "{out}");
    let examples = root.join("examples");
    let out = ok(&kc, &["apply", "-f", examples.to_str().unwrap()]).await;
    assert!(out.contains("created"), "{out}");
    let out = ok(&kc, &["get", &plural]).await;
    let header = out.lines().next().unwrap_or("");
    for c in &columns {
        assert!(header.contains(c.as_str()), "column {c} missing: {out}");
    }
    let name = out.lines().nth(1).and_then(|l| l.split_whitespace().next()).expect("one object").to_string();
    let yaml = ok(&kc, &["get", &short, &name, "-o", "yaml"]).await;
    assert!(yaml.contains(&format!("name: {name}")), "{yaml}");

    let mut watch = Watch::start(
        &kc,
        &[
            "get",
            &plural,
            "-w",
            "-o",
            "custom-columns=NAME:.metadata.name,NODES:.spec.nodes,TIER:.metadata.labels.tier",
        ],
    );
    let nodes = crd_example_nodes(&examples);
    watch.wait_row(&[name.as_str(), nodes.as_str(), "<none>"]).await;
    ok(&kc, &["patch", &short, &name, "--type", "merge", "-p", "{\"spec\":{\"nodes\":7}}"]).await;
    ok(&kc, &["label", &short, &name, "tier=gold"]).await;
    watch.wait_row(&[name.as_str(), "7", "gold"]).await;
    let _ = watch.child.start_kill();

    // Plain `get -w` keeps the CRD's printer columns on every line: each watch event is a
    // one-row Table, as kube-apiserver sends them.
    let mut plain = Watch::start(&kc, &["get", &plural, "-w"]);
    plain.wait_row_starting(&[name.as_str(), "7"]).await;
    ok(&kc, &["patch", &short, &name, "--type", "merge", "-p", "{\"spec\":{\"nodes\":9}}"]).await;
    plain.wait_row_starting(&[name.as_str(), "9"]).await;
    let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let rows = plain.rows.lock().unwrap().clone();
    assert_eq!(
        rows.iter().filter(|r| r.first().map(String::as_str) == Some("NAME")).count(),
        1,
        "one header: {rows:?}"
    );
    assert!(header.iter().all(|c| rows[0].contains(c)), "header {:?} has every column of {header:?}", rows[0]);
    let _ = plain.child.start_kill();

    let out = ok(&kc, &["api-resources"]).await;
    assert!(out.lines().any(|l| l.starts_with(&plural) && l.contains(&short)), "{out}");
    let out = ok(&kc, &["delete", &short, &name]).await;
    assert!(out.contains("deleted"), "{out}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_over_https_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let server = devserver::DevServer::builder().tls(true).kubeconfig_path(&kc).start().await.unwrap();
    let out = ok(&kc, &["get", "namespaces", "-o", "name"]).await;
    assert!(out.contains("namespace/kube-system"), "{out}");
    // With a wrong token the server answers 401, which kubectl reports as Unauthorized.
    // (Without any credentials kubectl would prompt for a username over https.)
    let text = std::fs::read_to_string(&kc).unwrap();
    let anon = dir.path().join("wrong-token");
    let token = server.token().unwrap().to_string();
    std::fs::write(&anon, text.replace(&token, "wrong")).unwrap();
    let (success, _, stderr) = kubectl(&anon, &["get", "namespaces"]).await;
    assert!(!success && stderr.contains("Unauthorized"), "{stderr}");
    server.shutdown().await;
}

/// `spec.nodes` of the first example object (as printed by kubectl).
fn crd_example_nodes(dir: &Path) -> String {
    let file = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "yaml"))
        .expect("an example");
    let v: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v["spec"]["nodes"].as_i64().map(|n| n.to_string()).unwrap_or_else(|| "<none>".into())
}

/// Every `kubectl create <type>` subcommand of kubectl v1.32. kubectl sends these bodies as
/// protobuf (`application/vnd.kubernetes.protobuf`); what it sent must come back as JSON with the
/// values given on the command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubectl_create_subcommand_works() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let server = devserver::DevServer::builder().tls(true).rbac(true).kubeconfig_path(&kc).start().await.unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["example.com".to_string()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let (cert_arg, key_arg) = (format!("--cert={}", cert_file.display()), format!("--key={}", key_file.display()));
    let n = ["-n", "team"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["namespace", "team"], "namespace/team created"),
        (
            vec!["clusterrole", "reader", "--verb=get,list", "--resource=pods"],
            "clusterrole.rbac.authorization.k8s.io/reader created",
        ),
        (
            vec!["clusterrolebinding", "reader", "--clusterrole=reader", "--user=alice"],
            "clusterrolebinding.rbac.authorization.k8s.io/reader created",
        ),
        (
            vec!["configmap", "settings", "--from-literal=mode=fast", "--from-literal=level=3"],
            "configmap/settings created",
        ),
        (
            vec!["cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"],
            "cronjob.batch/tick created",
        ),
        (vec!["deployment", "web", "--image=nginx", "--replicas=0", "--port=80"], "deployment.apps/web created"),
        (vec!["ingress", "site", "--rule=example.com/=web:80"], "ingress.networking.k8s.io/site created"),
        (vec!["job", "once", "--image=busybox", "--", "date"], "job.batch/once created"),
        (
            vec!["poddisruptionbudget", "web", "--selector=app=web", "--min-available=1"],
            "poddisruptionbudget.policy/web created",
        ),
        (
            vec!["priorityclass", "low", "--value=0", "--description=zero"],
            "priorityclass.scheduling.k8s.io/low created",
        ),
        (vec!["quota", "small", "--hard=cpu=1,memory=1G,pods=2"], "resourcequota/small created"),
        (
            vec!["role", "pod-reader", "--verb=get,list", "--resource=pods"],
            "role.rbac.authorization.k8s.io/pod-reader created",
        ),
        (
            vec!["rolebinding", "pod-reader", "--role=pod-reader", "--serviceaccount=team:bot"],
            "rolebinding.rbac.authorization.k8s.io/pod-reader created",
        ),
        (
            vec![
                "secret",
                "docker-registry",
                "pull",
                "--docker-username=u",
                "--docker-password=p",
                "--docker-server=registry.example",
            ],
            "secret/pull created",
        ),
        (vec!["secret", "generic", "rpc", "--from-literal=password=s3cret"], "secret/rpc created"),
        (vec!["secret", "tls", "cert", &cert_arg, &key_arg], "secret/cert created"),
        (vec!["service", "clusterip", "api", "--tcp=80:8080"], "service/api created"),
        (vec!["service", "externalname", "ext", "--external-name=example.com"], "service/ext created"),
        (vec!["service", "loadbalancer", "lb", "--tcp=80:8080"], "service/lb created"),
        (vec!["service", "nodeport", "np", "--tcp=80:8080"], "service/np created"),
        (vec!["serviceaccount", "bot"], "serviceaccount/bot created"),
    ];
    for (args, want) in &cases {
        // The namespace goes first: anything after `--` is the container's command.
        let mut full = vec!["create"];
        if args[0] != "namespace" && !args[0].starts_with("cluster") && args[0] != "priorityclass" {
            full.extend(n);
        }
        full.extend(args);
        let out = ok(&kc, &full).await;
        assert_eq!(out.trim(), *want, "kubectl {full:?}");
    }
    let get = |what: &'static str| {
        let kc = kc.clone();
        async move {
            let mut args = vec!["get"];
            args.extend(what.split(' '));
            args.extend(["-n", "team", "-o", "json"]);
            serde_json::from_str::<serde_json::Value>(&ok(&kc, &args).await).unwrap()
        }
    };
    let cm = get("configmap settings").await;
    assert_eq!(cm["data"], serde_json::json!({"mode": "fast", "level": "3"}));
    let secret = get("secret rpc").await;
    assert_eq!((secret["data"]["password"].as_str(), secret["type"].as_str()), (Some("czNjcmV0"), Some("Opaque")));
    assert_eq!(get("secret pull").await["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(get("secret cert").await["type"], "kubernetes.io/tls");
    let deploy = get("deployment web").await;
    assert_eq!(deploy["spec"]["replicas"], 0, "a pointer field's zero is kept");
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["ports"][0],
        serde_json::json!({"containerPort": 80, "protocol": "TCP"})
    );
    assert!(deploy["spec"].get("paused").is_none(), "a non-pointer omitempty zero is left out, as Go's JSON does");
    assert_eq!(deploy["spec"]["revisionHistoryLimit"], 10, "defaulted");
    let out = ok(&kc, &["scale", "deployment", "web", "-n", "team", "--replicas=3"]).await;
    assert_eq!(out.trim(), "deployment.apps/web scaled");
    assert_eq!(get("deployment web").await["spec"]["replicas"], 3, "through the scale subresource");
    assert_eq!(get("cronjob tick").await["spec"]["schedule"], "*/5 * * * *");
    assert_eq!(
        get("job once").await["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["date"])
    );
    assert_eq!(get("ingress site").await["spec"]["rules"][0]["host"], "example.com");
    assert_eq!(get("pdb web").await["spec"]["minAvailable"], 1, "an IntOrString int");
    assert_eq!(get("quota small").await["spec"]["hard"]["memory"], "1G", "a Quantity");
    assert_eq!(get("service np").await["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(get("service ext").await["spec"]["externalName"], "example.com");
    assert_eq!(get("priorityclass low").await["value"], 0, "a required int's zero is kept");
    assert_eq!(get("rolebinding pod-reader").await["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(get("namespace team").await["status"]["phase"], "Active");

    // `kubectl create token`: the token authenticates as the account, which RBAC then governs.
    let token = ok(&kc, &["create", "token", "bot", "-n", "team"]).await;
    let token = token.trim();
    assert!(!token.is_empty());
    let as_bot = |args: &'static [&'static str]| {
        let kc = kc.clone();
        let flag = format!("--token={token}");
        async move {
            let mut full = vec![flag.as_str()];
            full.extend(args);
            kubectl(&kc, &full).await
        }
    };
    let (success, _, stderr) = as_bot(&["get", "pods", "-n", "team"]).await;
    assert!(success, "the bound Role lets the account list pods: {stderr}");
    let (success, _, stderr) = as_bot(&["get", "secrets", "-n", "team"]).await;
    assert!(
        !success && stderr.contains("User \"system:serviceaccount:team:bot\" cannot list resource \"secrets\""),
        "{stderr}"
    );
    let (success, _, stderr) = kubectl(&kc, &["create", "token", "bot", "-n", "team", "--duration=1m"]).await;
    assert!(!success && stderr.contains("may not specify a duration less than 10 minutes"), "{stderr}");
    let (success, _, stderr) = kubectl(&kc, &["create", "token", "nobody", "-n", "team"]).await;
    assert!(!success && stderr.contains("serviceaccounts \"nobody\" not found"), "{stderr}");
    server.shutdown().await;
}

/// Events written through events.k8s.io/v1 (what client-go's, kube-rs's and this project's
/// recorders use) are the core/v1 Events kubectl reads: one store, two views.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_shows_events_recorded_through_events_k8s_io() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let server = devserver::DevServer::builder().kubeconfig_path(&kc).start().await.unwrap();
    ok(&kc, &["create", "configmap", "settings"]).await;
    let uid = ok(&kc, &["get", "configmap", "settings", "-o", "jsonpath={.metadata.uid}"]).await;
    let event = serde_json::json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "settings.checked", "namespace": "default"},
        "eventTime": "2026-12-03T06:00:00.000000Z",
        "regarding": {"apiVersion": "v1", "kind": "ConfigMap", "name": "settings", "namespace": "default", "uid": uid},
        "reportingController": "example.com/checker", "reportingInstance": "checker-1",
        "action": "Check", "reason": "Checked", "type": "Warning", "note": "the mode is missing",
    });
    let file = dir.path().join("event.json");
    std::fs::write(&file, event.to_string()).unwrap();
    ok(&kc, &["create", "-f", file.to_str().unwrap()]).await;
    let table = ok(&kc, &["get", "events"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], "{table}");
    assert!(
        table.lines().any(|l| l.contains("Warning")
            && l.contains("Checked")
            && l.contains("configmap/settings")
            && l.contains("the mode is missing")),
        "{table}"
    );
    let events = ok(&kc, &["events", "--for", "configmap/settings"]).await;
    assert!(events.contains("the mode is missing"), "{events}");
    let describe = ok(&kc, &["describe", "configmap", "settings"]).await;
    let tail = describe.split("Events:").nth(1).unwrap_or_default();
    assert!(
        tail.contains("Checked") && tail.contains("example.com/checker") && tail.contains("the mode is missing"),
        "{describe}"
    );
    server.shutdown().await;
}
