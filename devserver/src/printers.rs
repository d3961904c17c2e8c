//! The Table columns and cells of built-in kinds, as kube-apiserver's printers fill them for
//! `kubectl get` (`pkg/printers/internalversion`): pods' READY/STATUS/RESTARTS, services'
//! CLUSTER-IP and PORT(S), deployments' READY/UP-TO-DATE/AVAILABLE, and so on. The column
//! definitions are recorded from kube-apiserver v1.37.2 (`printers/columns-v1.37.json`); the
//! cells are computed here. Kinds without a printer get kube-apiserver's default: Name and
//! Created At.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The recorded column definitions, by resource (plural).
static COLUMNS: LazyLock<HashMap<String, Vec<Value>>> = LazyLock::new(|| {
    let doc: HashMap<String, Value> =
        serde_json::from_str(include_str!("printers/columns-v1.37.json")).unwrap_or_default();
    doc.into_iter().filter_map(|(k, v)| Some((k, v.as_array()?.clone()))).collect()
});

/// Fills one row's cells from an object.
pub type Cells = fn(&Value) -> Vec<Value>;

/// The columns of a built-in `plural` (core/v1 and events.k8s.io Events share theirs), and the
/// function filling a row's cells; `None` for kinds kube-apiserver prints with the default.
pub fn printer(plural: &str) -> Option<(&'static [Value], Cells)> {
    let cells: Cells = match plural {
        "namespaces" => |o| vec![name(o), s(o, "/status/phase"), created(o)],
        "nodes" => node,
        "pods" => pod,
        "services" => service,
        "secrets" => |o| vec![name(o), s(o, "/type"), json!(count(o, "/data")), created(o)],
        "configmaps" => |o| vec![name(o), json!(count(o, "/data") + count(o, "/binaryData")), created(o)],
        "serviceaccounts" => |o| vec![name(o), created(o)],
        "events" => event,
        "resourcequotas" => resource_quota,
        "statefulsets" => |o| {
            let cells = vec![name(o), ratio(o, "/status/readyReplicas", "/spec/replicas"), created(o)];
            with_template(cells, o, "/spec/template", None)
        },
        "deployments" => |o| {
            let cells = vec![
                name(o),
                ratio(o, "/status/readyReplicas", "/spec/replicas"),
                json!(int(o, "/status/updatedReplicas")),
                json!(int(o, "/status/availableReplicas")),
                created(o),
            ];
            with_template(cells, o, "/spec/template", Some("/spec/selector"))
        },
        "replicasets" => |o| {
            let cells = vec![
                name(o),
                json!(int(o, "/spec/replicas")),
                json!(int(o, "/status/replicas")),
                json!(int(o, "/status/readyReplicas")),
                created(o),
            ];
            with_template(cells, o, "/spec/template", Some("/spec/selector"))
        },
        "controllerrevisions" => controller_revision,
        "leases" => |o| vec![name(o), s(o, "/spec/holderIdentity"), created(o)],
        "rolebindings" | "clusterrolebindings" => binding,
        "customresourcedefinitions" => crd,
        "jobs" => job,
        "cronjobs" => cron_job,
        "ingresses" => ingress,
        "poddisruptionbudgets" => |o| {
            let or_na = |p: &str| o.pointer(p).map_or_else(|| json!("N/A"), |v| json!(int_or_string(v)));
            vec![
                name(o),
                or_na("/spec/minAvailable"),
                or_na("/spec/maxUnavailable"),
                json!(int(o, "/status/disruptionsAllowed")),
                created(o),
            ]
        },
        "priorityclasses" => |o| {
            vec![
                name(o),
                json!(int(o, "/value")),
                json!(o.get("globalDefault").and_then(Value::as_bool).unwrap_or(false)),
                created(o),
                s(o, "/preemptionPolicy"),
            ]
        },
        _ => return None,
    };
    Some((COLUMNS.get(plural)?.as_slice(), cells))
}

/// kube-apiserver's default columns (kinds without a printer): Name and Created At.
pub fn default_columns() -> Vec<Value> {
    vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0}),
        json!({"name": "Created At", "type": "date", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata", "priority": 0}),
    ]
}

/// The default cells: the name and the creation timestamp.
pub fn default_cells(o: &Value) -> Vec<Value> {
    vec![name(o), o.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null)]
}

/// Renders a duration the way `kubectl` prints ages ("45s", "5m", "3h", "2d").
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let m = s / 60;
    let h = m / 60;
    let d = h / 24;
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 { format!("{m}m") } else { format!("{m}m{}s", s % 60) }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 { format!("{h}h") } else { format!("{h}h{}m", m % 60) }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 { format!("{d}d") } else { format!("{d}d{}h", h % 24) }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// The time since `ts` as an age ("<unknown>" without one).
pub fn age(ts: Option<&str>) -> Value {
    let Some(ts) = ts else {
        return Value::String("<unknown>".into());
    };
    match ts.parse::<jiff::Timestamp>() {
        Ok(t) => Value::String(human_duration(jiff::Timestamp::now().as_second() - t.as_second())),
        Err(_) => Value::String("<invalid>".into()),
    }
}

fn name(o: &Value) -> Value {
    o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)
}

fn created(o: &Value) -> Value {
    age(str_at(o, "/metadata/creationTimestamp"))
}

fn str_at<'a>(o: &'a Value, p: &str) -> Option<&'a str> {
    o.pointer(p).and_then(Value::as_str).filter(|v| !v.is_empty())
}

/// The string at `p`, or "".
fn s(o: &Value, p: &str) -> Value {
    json!(str_at(o, p).unwrap_or(""))
}

/// The string at `p`, or "<none>".
fn or_none(o: &Value, p: &str) -> Value {
    json!(str_at(o, p).unwrap_or("<none>"))
}

fn int(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn count(o: &Value, p: &str) -> usize {
    o.pointer(p).and_then(Value::as_object).map_or(0, serde_json::Map::len)
}

fn list<'a>(o: &'a Value, p: &str) -> &'a [Value] {
    o.pointer(p).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// `a/b` from two counts.
fn ratio(o: &Value, part: &str, whole: &str) -> Value {
    json!(format!("{}/{}", int(o, part), int(o, whole)))
}

fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A `LabelSelector` as printed ("<none>" without one).
fn selector(sel: Option<&Value>) -> Value {
    match sel {
        None | Some(Value::Null) => json!("<none>"),
        Some(sel) => json!(crate::selector::format_label_selector(sel)),
    }
}

/// A map selector (`spec.selector` of Services) as printed: `k=v` sorted, "<none>" when empty.
fn map_selector(o: &Value, p: &str) -> Value {
    let Some(m) = o.pointer(p).and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return json!("<none>");
    };
    let mut parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
    parts.sort();
    json!(parts.join(","))
}

/// `cells` followed by the Containers and Images of the pod template at `template` and, for
/// kinds that print one, the Selector at `selector_at`.
fn with_template(mut cells: Vec<Value>, o: &Value, template: &str, selector_at: Option<&str>) -> Vec<Value> {
    let cs = list(o, &format!("{template}/spec/containers"));
    let field = |f: &str| {
        json!(cs.iter().map(|c| c.get(f).and_then(Value::as_str).unwrap_or("")).collect::<Vec<_>>().join(","))
    };
    cells.extend([field("name"), field("image")]);
    if let Some(p) = selector_at {
        cells.push(selector(o.pointer(p)));
    }
    cells
}

fn node(o: &Value) -> Vec<Value> {
    let conditions = list(o, "/status/conditions");
    let ready = conditions.iter().find(|c| c["type"] == "Ready");
    let mut status = match ready.and_then(|c| c["status"].as_str()) {
        Some("True") => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/").map(str::to_string))
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort();
    let address = |ty: &str| {
        list(o, "/status/addresses")
            .iter()
            .find(|a| a["type"] == ty)
            .and_then(|a| a["address"].as_str())
            .map_or_else(|| json!("<none>"), |a| json!(a))
    };
    vec![
        name(o),
        json!(status),
        json!(if roles.is_empty() { "<none>".to_string() } else { roles.join(",") }),
        created(o),
        s(o, "/status/nodeInfo/kubeletVersion"),
        address("InternalIP"),
        address("ExternalIP"),
        or_none(o, "/status/nodeInfo/osImage"),
        or_none(o, "/status/nodeInfo/kernelVersion"),
        or_none(o, "/status/nodeInfo/containerRuntimeVersion"),
    ]
}

/// A pod's row: READY, STATUS (the reason a person would look for, from the containers'
/// states), RESTARTS (with how long ago the last one was), and the wide columns.
fn pod(o: &Value) -> Vec<Value> {
    let total = list(o, "/spec/containers").len();
    let init_total = list(o, "/spec/initContainers").len();
    let mut reason = str_at(o, "/status/reason").or(str_at(o, "/status/phase")).unwrap_or("").to_string();
    let mut restarts = 0;
    let mut last_restart: Option<String> = None;
    let mut note_restart = |c: &Value, restarts: &mut i64| {
        *restarts += c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        if let Some(t) = c.pointer("/lastState/terminated/finishedAt").and_then(Value::as_str)
            && last_restart.as_deref().is_none_or(|l| t > l)
        {
            last_restart = Some(t.to_string());
        }
    };
    let mut initializing = false;
    for (i, c) in list(o, "/status/initContainerStatuses").iter().enumerate() {
        note_restart(c, &mut restarts);
        let terminated = c.pointer("/state/terminated");
        if terminated.is_some_and(|t| t["exitCode"] == 0) {
            continue;
        }
        let waiting = c.pointer("/state/waiting/reason").and_then(Value::as_str).filter(|r| !r.is_empty());
        reason = match (terminated, waiting) {
            (Some(t), _) => match t.get("reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => exit_reason("Init:", t),
            },
            (None, Some(w)) if w != "PodInitializing" => format!("Init:{w}"),
            _ => format!("Init:{i}/{init_total}"),
        };
        initializing = true;
        break;
    }
    let mut ready = 0;
    if !initializing {
        restarts = 0;
        let mut running = false;
        for c in list(o, "/status/containerStatuses").iter().rev() {
            note_restart(c, &mut restarts);
            let state = |p: &str| c.pointer(p).and_then(Value::as_str).filter(|r| !r.is_empty());
            if let Some(w) = state("/state/waiting/reason") {
                reason = w.to_string();
            } else if let Some(t) = state("/state/terminated/reason") {
                reason = t.to_string();
            } else if let Some(t) = c.pointer("/state/terminated") {
                reason = exit_reason("", t);
            } else if c.get("ready") == Some(&Value::Bool(true)) && c.pointer("/state/running").is_some() {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            let pod_ready = list(o, "/status/conditions").iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if str_at(o, "/status/reason") == Some("NodeLost") { "Unknown" } else { "Terminating" }.to_string();
    }
    let restarts = match last_restart {
        Some(t) if restarts > 0 => format!("{restarts} ({} ago)", age(Some(&t)).as_str().unwrap_or("")),
        _ => restarts.to_string(),
    };
    let gates = list(o, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = list(o, "/status/conditions");
        let met = gates
            .iter()
            .filter(|g| conditions.iter().any(|c| c["type"] == g["conditionType"] && c["status"] == "True"))
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        name(o),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        created(o),
        or_none(o, "/status/podIP"),
        or_none(o, "/spec/nodeName"),
        or_none(o, "/status/nominatedNodeName"),
        json!(gates),
    ]
}

/// `Signal:N` or `ExitCode:N` of a terminated container without a reason.
fn exit_reason(prefix: &str, terminated: &Value) -> String {
    match terminated.get("signal").and_then(Value::as_i64).filter(|n| *n != 0) {
        Some(n) => format!("{prefix}Signal:{n}"),
        None => format!("{prefix}ExitCode:{}", terminated.get("exitCode").and_then(Value::as_i64).unwrap_or(0)),
    }
}

fn service(o: &Value) -> Vec<Value> {
    let ty = str_at(o, "/spec/type").unwrap_or("ClusterIP");
    let cluster_ip = str_at(o, "/spec/clusterIP").unwrap_or("<none>");
    let external: Vec<String> =
        list(o, "/spec/externalIPs").iter().filter_map(Value::as_str).map(str::to_string).collect();
    let external = match ty {
        "ExternalName" => str_at(o, "/spec/externalName").unwrap_or("<none>").to_string(),
        "LoadBalancer" => {
            let mut ips: Vec<String> = list(o, "/status/loadBalancer/ingress")
                .iter()
                .filter_map(|i| i.get("ip").or(i.get("hostname")).and_then(Value::as_str).map(str::to_string))
                .collect();
            ips.extend(external);
            if ips.is_empty() { "<pending>".to_string() } else { ips.join(",") }
        }
        _ if !external.is_empty() => external.join(","),
        _ => "<none>".to_string(),
    };
    let ports: Vec<String> = list(o, "/spec/ports")
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64).filter(|n| *n != 0) {
                Some(n) => format!("{port}:{n}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect();
    vec![
        name(o),
        json!(ty),
        json!(cluster_ip),
        json!(external),
        json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") }),
        created(o),
        map_selector(o, "/spec/selector"),
    ]
}

/// A ResourceQuota's REQUEST and LIMIT: `resource: used/hard` of what its status counts,
/// requests (and plain resources) and limits apart.
fn resource_quota(o: &Value) -> Vec<Value> {
    let hard = o.pointer("/status/hard").and_then(Value::as_object);
    let mut keys: Vec<&String> = hard.into_iter().flat_map(|h| h.keys()).collect();
    keys.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for k in keys {
        let used = o.pointer(&format!("/status/used/{}", k.replace('~', "~0").replace('/', "~1")));
        let text = format!(
            "{k}: {}/{}",
            used.map_or_else(|| "0".to_string(), int_or_string),
            hard.and_then(|h| h.get(k)).map_or_else(String::new, int_or_string)
        );
        if k.starts_with("limits") { limits.push(text) } else { requests.push(text) }
    }
    vec![name(o), json!(requests.join(", ")), json!(limits.join(", ")), created(o)]
}

fn controller_revision(o: &Value) -> Vec<Value> {
    let controller = list(o, "/metadata/ownerReferences").iter().find(|r| r["controller"] == true).map_or_else(
        || "<none>".to_string(),
        |r| {
            let kind = r["kind"].as_str().unwrap_or("").to_lowercase();
            let group = r["apiVersion"].as_str().unwrap_or("").rsplit_once('/').map_or("", |(g, _)| g);
            let name = r["name"].as_str().unwrap_or("");
            if group.is_empty() { format!("{kind}/{name}") } else { format!("{kind}.{group}/{name}") }
        },
    );
    vec![name(o), json!(controller), json!(int(o, "/revision")), created(o)]
}

fn binding(o: &Value) -> Vec<Value> {
    let subjects = list(o, "/subjects");
    let of = |kind: &str| {
        let names: Vec<String> = subjects
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| {
                let n = s["name"].as_str().unwrap_or("");
                match (kind, s["namespace"].as_str()) {
                    ("ServiceAccount", Some(ns)) => format!("{ns}/{n}"),
                    _ => n.to_string(),
                }
            })
            .collect();
        json!(names.join(", "))
    };
    vec![
        name(o),
        json!(format!(
            "{}/{}",
            o.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or(""),
            o.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or("")
        )),
        created(o),
        of("User"),
        of("Group"),
        of("ServiceAccount"),
    ]
}

fn crd(o: &Value) -> Vec<Value> {
    let versions: Vec<String> = list(o, "/spec/versions")
        .iter()
        .map(|v| {
            let n = v["name"].as_str().unwrap_or("");
            if v["storage"] == true { format!("{n}(storage)") } else { n.to_string() }
        })
        .collect();
    let established = list(o, "/status/conditions").iter().any(|c| c["type"] == "Established" && c["status"] == "True");
    let short: Vec<&str> = list(o, "/spec/names/shortNames").iter().filter_map(Value::as_str).collect();
    vec![
        name(o),
        s(o, "/spec/scope"),
        json!(versions.join(",")),
        o.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
        s(o, "/spec/group"),
        s(o, "/spec/names/kind"),
        json!(short.join(",")),
        json!(established),
    ]
}

fn job(o: &Value) -> Vec<Value> {
    let condition = |ty: &str| list(o, "/status/conditions").iter().any(|c| c["type"] == ty && c["status"] == "True");
    let status = if condition("Failed") {
        "Failed"
    } else if condition("Complete") {
        "Complete"
    } else if o.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if condition("FailureTarget") {
        "FailureTarget"
    } else if condition("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if condition("Suspended") {
        "Suspended"
    } else {
        "Running"
    };
    let succeeded = int(o, "/status/succeeded");
    let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = o.pointer("/spec/parallelism").and_then(Value::as_i64).unwrap_or(0);
            if parallelism > 1 { format!("{succeeded}/1 of {parallelism}") } else { format!("{succeeded}/1") }
        }
    };
    let duration = match (str_at(o, "/status/startTime"), str_at(o, "/status/completionTime")) {
        (Some(start), end) => {
            let secs = |t: &str| t.parse::<jiff::Timestamp>().map(|t| t.as_second()).ok();
            let end = end.and_then(secs).unwrap_or_else(|| jiff::Timestamp::now().as_second());
            secs(start).map_or_else(String::new, |st| human_duration(end - st))
        }
        _ => String::new(),
    };
    let cells = vec![name(o), json!(status), json!(completions), json!(duration), created(o)];
    with_template(cells, o, "/spec/template", Some("/spec/selector"))
}

fn cron_job(o: &Value) -> Vec<Value> {
    let suspend = o.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false);
    let last = str_at(o, "/status/lastScheduleTime").map_or_else(|| json!("<none>"), |t| age(Some(t)));
    let cells = vec![
        name(o),
        s(o, "/spec/schedule"),
        or_none(o, "/spec/timeZone"),
        json!(if suspend { "True" } else { "False" }),
        json!(list(o, "/status/active").len()),
        last,
        created(o),
    ];
    with_template(cells, o, "/spec/jobTemplate/spec/template", Some("/spec/jobTemplate/spec/selector"))
}

fn ingress(o: &Value) -> Vec<Value> {
    let mut hosts: Vec<&str> = list(o, "/spec/rules").iter().filter_map(|r| r["host"].as_str()).collect();
    if hosts.is_empty() {
        hosts.push("*");
    }
    let address: Vec<&str> = list(o, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| i.get("ip").or(i.get("hostname")).and_then(Value::as_str))
        .collect();
    let ports = if list(o, "/spec/tls").is_empty() { "80" } else { "80, 443" };
    vec![
        name(o),
        or_none(o, "/spec/ingressClassName"),
        json!(hosts.join(",")),
        json!(address.join(",")),
        json!(ports),
        created(o),
    ]
}

/// One Event's cells (a stored core/v1 Event).
fn event(o: &Value) -> Vec<Value> {
    let first = str_at(o, "/firstTimestamp").or(str_at(o, "/eventTime"));
    let mut last = str_at(o, "/lastTimestamp").or(first);
    let mut count = o.get("count").and_then(Value::as_i64).unwrap_or(0);
    if o.get("series").is_some_and(Value::is_object) {
        last = str_at(o, "/series/lastObservedTime");
        count = int(o, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(o, "/involvedObject/kind").unwrap_or("").to_lowercase();
    let target = match str_at(o, "/involvedObject/name") {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let component = str_at(o, "/source/component").or(str_at(o, "/reportingComponent")).unwrap_or("");
    let source = match str_at(o, "/source/host").or(str_at(o, "/reportingInstance")) {
        Some(instance) => format!("{component}, {instance}"),
        None => component.to_string(),
    };
    vec![
        age(last),
        s(o, "/type"),
        s(o, "/reason"),
        json!(target),
        s(o, "/involvedObject/fieldPath"),
        json!(source),
        json!(str_at(o, "/message").unwrap_or("").trim()),
        age(first),
        json!(count),
        name(o),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(300), "5m");
        assert_eq!(human_duration(3600 * 30), "30h");
    }

    #[test]
    fn every_printer_has_recorded_columns_of_its_width() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
        for plural in [
            "namespaces",
            "nodes",
            "pods",
            "services",
            "secrets",
            "configmaps",
            "serviceaccounts",
            "events",
            "resourcequotas",
            "statefulsets",
            "deployments",
            "replicasets",
            "controllerrevisions",
            "leases",
            "rolebindings",
            "clusterrolebindings",
            "customresourcedefinitions",
            "jobs",
            "cronjobs",
            "ingresses",
            "poddisruptionbudgets",
            "priorityclasses",
        ] {
            let (columns, cells) = printer(plural).unwrap_or_else(|| panic!("{plural}: no columns"));
            assert_eq!(columns.len(), cells(&pod).len(), "{plural}");
        }
    }

    #[test]
    fn pod_status_follows_the_containers() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let cells = super::pod(&pod);
        assert_eq!((&cells[1], &cells[2], &cells[3]), (&json!("1/2"), &json!("CrashLoopBackOff"), &json!("2")));
    }
}
