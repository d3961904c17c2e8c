//! Request routing and the CRUD verbs (create, get, update, patch, delete, deletecollection, list).
//! Watch lives in [`crate::watch`]. Every path that reads client input returns an [`ApiError`]
//! instead of panicking.

use crate::app::{App, now, object_key};
use crate::error::{ApiError, ApiResult, Cause};
use crate::patch::{self, PatchKind};
use crate::request_log::RequestRecord;
use crate::resource::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{Outcome, Write, rv_of};
use crate::{builtin, crd, discovery, openapi, schema, table, validation};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Query parameters of one request.
pub type Query = HashMap<String, String>;

/// Parsed resource path.
#[derive(Debug, Clone, Default)]
pub struct ResourcePath {
    /// Group ("" for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the URL.
    pub namespace: Option<String>,
    /// Resource plural.
    pub plural: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (e.g. `status`).
    pub sub: Option<String>,
    /// True for the deprecated `/watch/` prefix.
    pub watch_prefix: bool,
}

/// A JSON reply with a status code and optional `Warning` headers.
pub fn json_reply(code: u16, body: &Value, warnings: &[String]) -> Response {
    json_text_reply(code, body.to_string(), warnings)
}

fn json_text_reply(code: u16, body: String, warnings: &[String]) -> Response {
    let mut r = (StatusCode::from_u16(code).unwrap_or(StatusCode::OK), body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for w in warnings {
        let text = format!("299 - {}", Value::String(w.clone()));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

/// An aggregated discovery reply with ETag, `Vary: Accept`, and 304 on a matching If-None-Match.
fn aggregated_reply(doc: &Value, headers: &HeaderMap) -> Response {
    let body = doc.to_string();
    let etag = discovery::etag(&body);
    let matches = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut r = if matches { StatusCode::NOT_MODIFIED.into_response() } else { (StatusCode::OK, body).into_response() };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    r
}

fn not_found_page() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn text_ok() -> Response {
    let mut r = (StatusCode::OK, "ok").into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// Parses the query string (percent-decoded).
pub fn parse_query(q: Option<&str>) -> Query {
    let mut out = HashMap::new();
    if let Some(q) = q
        && let Ok(axum::extract::Query(m)) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&format!("/?{q}").parse().unwrap_or_default())
    {
        for (k, v) in m {
            out.insert(k, v);
        }
    }
    out
}

/// Splits `/api/v1/...` or `/apis/g/v/...` into its parts; `None` for other paths.
pub fn parse_resource_path(path: &str) -> Option<ResourcePath> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, mut rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest.to_vec()),
        ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest.to_vec()),
        _ => return None,
    };
    let mut p = ResourcePath { group, version, ..Default::default() };
    if rest.first() == Some(&"watch") {
        p.watch_prefix = true;
        rest.remove(0);
    }
    if rest.is_empty() || rest.iter().any(|s| s.is_empty()) {
        return if rest.is_empty() { Some(p) } else { None };
    }
    let namespace_sub = p.group.is_empty()
        && rest.len() == 3
        && rest[0] == "namespaces"
        && (rest[2] == "status" || rest[2] == "finalize");
    if rest[0] == "namespaces" && rest.len() >= 3 && !namespace_sub {
        p.namespace = Some(rest[1].to_string());
        rest.drain(0..2);
    }
    p.plural = rest[0].to_string();
    p.name = rest.get(1).map(|s| s.to_string());
    p.sub = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        return None;
    }
    Some(p)
}

/// In https mode every request but the health checks must carry `Authorization: Bearer <token>`.
fn authorized(app: &App, path: &str, headers: &HeaderMap) -> bool {
    let Some(token) = &app.token else {
        return true;
    };
    if matches!(path, "/healthz" | "/livez" | "/readyz") {
        return true;
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == token)
}

/// The axum handler for every path.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parse_query(parts.uri.query());
    let body = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::new(413, "RequestEntityTooLarge", format!("request body: {e}")).into_response();
        }
    };
    let mut record = RequestRecord {
        verb: parts.method.as_str().to_lowercase(),
        group: String::new(),
        resource: String::new(),
        namespace: None,
        name: None,
        status: 0,
        path: path.clone(),
    };
    let response = if authorized(&app, &path, &parts.headers) {
        route(&app, &parts.method, &path, &query, &parts.headers, body, &mut record).await
    } else {
        ApiError::new(401, "Unauthorized", "Unauthorized").into_response()
    };
    record.status = response.status().as_u16();
    tracing::info!(
        verb = %record.verb,
        resource = %record.resource,
        namespace = record.namespace.as_deref().unwrap_or(""),
        name = record.name.as_deref().unwrap_or(""),
        status = record.status,
        path = %path,
        "request"
    );
    app.log.push(record);
    response
}

#[allow(clippy::too_many_arguments)]
async fn route(
    app: &Arc<App>,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
    record: &mut RequestRecord,
) -> Response {
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "/healthz" | "/livez" | "/readyz" => return text_ok(),
        "/version" => return json_reply(200, &version_info(), &[]),
        "/api" | "/apis" => {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
            let types = app.registry.discoverable();
            if discovery::wants_aggregated(accept) {
                return aggregated_reply(&discovery::aggregated(&types, trimmed == "/api"), headers);
            }
            let doc = if trimmed == "/api" {
                discovery::api_versions(&app.server_address)
            } else {
                discovery::api_group_list(&types)
            };
            return json_reply(200, &doc, &[]);
        }
        "/openapi/v3" => return json_reply(200, &openapi::index(&app.registry.discoverable()), &[]),
        _ => {}
    }
    if let Some(gv) = trimmed.strip_prefix("/openapi/v3/") {
        return match openapi::document(&app.registry.discoverable(), gv) {
            Some(doc) => json_reply(200, &doc, &[]),
            None => not_found_page(),
        };
    }
    if let Some(g) = trimmed.strip_prefix("/apis/")
        && !g.contains('/')
    {
        return match discovery::api_group(&app.registry.discoverable(), g) {
            Some(doc) => json_reply(200, &doc, &[]),
            None => not_found_page(),
        };
    }
    let Some(rp) = parse_resource_path(trimmed) else {
        return not_found_page();
    };
    if rp.plural.is_empty() {
        return match discovery::api_resource_list(&app.registry.discoverable(), &rp.group, &rp.version) {
            Some(doc) => json_reply(200, &doc, &[]),
            None => not_found_page(),
        };
    }
    let Some(rt) = app.registry.lookup(&rp.group, &rp.version, &rp.plural) else {
        return not_found_page();
    };
    record.group = rt.group.clone();
    record.resource = match &rp.sub {
        Some(s) => format!("{}/{s}", rt.plural),
        None => rt.plural.clone(),
    };
    record.namespace = rp.namespace.clone();
    record.name = rp.name.clone();
    let is_watch = rp.watch_prefix || matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (method, rp.name.is_some()) {
        (&Method::GET, false) if is_watch => "watch",
        (&Method::GET, true) if is_watch => "watch",
        (&Method::GET, false) => "list",
        (&Method::GET, true) => "get",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => "",
    };
    record.verb = if verb.is_empty() { method.as_str().to_lowercase() } else { verb.to_string() };
    let result = dispatch(app, &rt, &rp, verb, query, headers, body).await;
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// `/version` with all nine fields k8s-openapi's `Info` requires.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-devserver",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    app: &Arc<App>,
    rt: &ResourceType,
    rp: &ResourcePath,
    verb: &str,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    check_accept(headers)?;
    if rt.namespaced && rp.namespace.is_none() && rp.name.is_some() {
        return Err(not_found_plain(rt, rp));
    }
    if !rt.namespaced && rp.namespace.is_some() {
        return Err(not_found_plain(rt, rp));
    }
    if rt.namespaced && rp.namespace.is_none() && !matches!(verb, "list" | "watch") {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource".to_string(),
        ));
    }
    if let Some(sub) = &rp.sub {
        if sub != "status" || !rt.status_subresource {
            return Err(not_found_plain(rt, rp));
        }
        if !matches!(verb, "get" | "update" | "patch") {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
    }
    if rt.terminating && matches!(verb, "create" | "update" | "patch") {
        return Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource"));
    }
    let ns = rp.namespace.as_deref();
    let name = rp.name.as_deref().unwrap_or("");
    let sub = rp.sub.as_deref();
    let ctx = Ctx { app, rt, query, headers };
    match verb {
        "get" => ctx.get(ns, name),
        "list" => ctx.list(ns),
        "watch" => crate::watch::watch(app.clone(), rt.clone(), ns, rp.name.as_deref(), query),
        "create" => ctx.create(ns, &body),
        "update" => ctx.update(ns, name, sub, &body),
        "patch" => ctx.patch(ns, name, sub, &body),
        "delete" => ctx.delete(ns, name, &body),
        "deletecollection" => ctx.delete_collection(ns, &body),
        _ => Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource")),
    }
}

fn not_found_plain(rt: &ResourceType, rp: &ResourcePath) -> ApiError {
    ApiError::not_found(&rt.target(rp.name.as_deref().unwrap_or("")))
}

fn check_accept(headers: &HeaderMap) -> ApiResult<()> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let ok = accept.split(',').any(|part| {
        let base = part.split(';').next().unwrap_or("").trim();
        matches!(base, "" | "*/*" | "application/*" | "application/json")
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(406, "NotAcceptable", "only the following media types are accepted: application/json"))
    }
}

struct Ctx<'a> {
    app: &'a Arc<App>,
    rt: &'a ResourceType,
    query: &'a Query,
    headers: &'a HeaderMap,
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

fn meta_mut(obj: &mut Value) -> ApiResult<&mut serde_json::Map<String, Value>> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    }
    let o = obj.as_object_mut().ok_or_else(|| ApiError::bad_request("the object must be a JSON object"))?;
    let m = o.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
    if !m.is_object() {
        return Err(ApiError::bad_request("metadata must be a JSON object"));
    }
    m.as_object_mut().ok_or_else(|| ApiError::bad_request("metadata must be a JSON object"))
}

/// What the non-metadata part of an object is, for generation bumps.
fn spec_part(obj: &Value, status_subresource: bool) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if status_subresource {
            m.remove("status");
        }
    }
    o
}

const GENERATE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generate_name(prefix: &str) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let cut: String = prefix.chars().take(58).collect();
    let suffix: String =
        (0..5).map(|_| GENERATE_ALPHABET[rng.random_range(0..GENERATE_ALPHABET.len())] as char).collect();
    format!("{cut}{suffix}")
}

impl Ctx<'_> {
    fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager") {
            return m.clone();
        }
        self.headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.split('/').next().unwrap_or("").to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into())
    }

    fn dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|v| v == "All")
    }

    fn key(&self, ns: Option<&str>, name: &str) -> String {
        object_key(if self.rt.namespaced { ns } else { None }, name)
    }

    fn wants_table(&self) -> bool {
        self.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(table::wants_table)
    }

    /// Parses a request body as a JSON object (415 for other media types such as protobuf).
    fn parse_body(&self, body: &[u8]) -> ApiResult<Value> {
        let ct = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let base = ct.split(';').next().unwrap_or("").trim();
        if !matches!(base, "" | "application/json" | "*/*") {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json (got {base})"
                ),
            ));
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                self.rt.kind, self.rt.version, self.rt.kind
            ))
        })?;
        if !v.is_object() {
            return Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: the body must be a JSON object",
                self.rt.kind, self.rt.version, self.rt.kind
            )));
        }
        Ok(v)
    }

    /// Fills apiVersion/kind from the URL, rejects a different group/version, and runs CR
    /// pruning and defaulting with the requested fieldValidation. Returns warnings. `partial` marks
    /// an apply configuration, which need not decode as a whole object.
    fn decode(&self, obj: &mut Value, partial: bool) -> ApiResult<Vec<String>> {
        let api_version = self.rt.api_version();
        let o = obj.as_object_mut().ok_or_else(|| ApiError::bad_request("the object must be a JSON object"))?;
        match o.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => {
                o.insert("apiVersion".into(), Value::String(api_version.clone()));
            }
            Some(av) if av != api_version => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({api_version})"
                )));
            }
            _ => {}
        }
        if o.get("kind").and_then(Value::as_str).unwrap_or("").is_empty() {
            o.insert("kind".into(), Value::String(self.rt.kind.clone()));
        }
        let kind_ok = obj.get("kind").and_then(Value::as_str) == Some(self.rt.kind.as_str());
        let mut removed = Vec::new();
        if let (Some(check), false, true) = (self.rt.decode, partial, kind_ok) {
            // Built-ins: decode into the k8s-openapi type and store its serialization, which drops
            // unknown fields exactly like decoding into the Go struct does.
            let typed = check(obj).map_err(|e| {
                ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: {e}",
                    self.rt.kind, self.rt.version, self.rt.kind
                ))
            })?;
            builtin::unknown_fields(obj, &typed, "", &mut removed);
            *obj = typed;
        }
        if let Some(schema) = &self.rt.schema {
            removed = schema::prune(obj, schema);
        }
        let mut warnings = Vec::new();
        let mode = self.query.get("fieldValidation").map(String::as_str).unwrap_or("Warn");
        if !removed.is_empty() {
            let msgs: Vec<String> = removed.iter().map(|p| format!("unknown field \"{p}\"")).collect();
            match mode {
                "Strict" => {
                    return Err(ApiError::bad_request(format!("strict decoding error: {}", msgs.join(", "))));
                }
                "Ignore" => {}
                _ => warnings.extend(msgs),
            }
        }
        if let Some(schema) = &self.rt.schema {
            schema::apply_defaults(obj, schema);
        }
        Ok(warnings)
    }

    /// Validates a fully prepared object (schema or decode check, metadata, CRD rules).
    fn validate(&self, obj: &Value) -> ApiResult<()> {
        self.validate_update(obj, None)
    }

    /// Validation with ratcheting: on update, schema failures of values that did not change
    /// from `old` are tolerated (so tightening a schema does not block unrelated updates).
    fn validate_update(&self, obj: &Value, old: Option<&Value>) -> ApiResult<()> {
        let name = meta_str(obj, "name").unwrap_or("");
        let target = self.rt.target(name);
        if obj.get("kind").and_then(Value::as_str) != Some(self.rt.kind.as_str()) {
            let got = obj.get("kind").cloned().unwrap_or(Value::Null);
            return Err(ApiError::invalid(
                &target,
                vec![Cause::new(
                    "FieldValueInvalid",
                    "kind",
                    format!("Invalid value: {}: must be {}", schema::fmt_value(&got), self.rt.kind),
                )],
            ));
        }
        if let Some(check) = self.rt.decode {
            check(obj).map(|_| ()).map_err(|e| {
                ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: {e}",
                    self.rt.kind, self.rt.version, self.rt.kind
                ))
            })?;
        }
        let name_is_label = self.rt.group.is_empty() && self.rt.plural == "namespaces";
        let mut causes = validation::validate_meta(obj, name_is_label);
        if let Some(schema) = &self.rt.schema {
            let mut schema_causes = schema::validate(obj, schema);
            if let Some(old) = old {
                schema_causes.retain(|c| {
                    let now = schema::value_at(obj, &c.field);
                    now.is_none() || now != schema::value_at(old, &c.field)
                });
            }
            causes.extend(schema_causes);
        }
        if self.rt.group == "apiextensions.k8s.io"
            && let Ok(c) = serde_json::from_value(obj.clone())
        {
            causes.extend(crd::validate(&c));
        }
        if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid(&target, causes)) }
    }

    fn check_namespace(&self, ns: Option<&str>, name: &str) -> ApiResult<()> {
        if !self.rt.namespaced {
            return Ok(());
        }
        let ns = ns.unwrap_or("");
        let Some(nsobj) = self.app.store.get("/namespaces", ns) else {
            return Err(ApiError::not_found(&crate::error::Target {
                group: String::new(),
                plural: "namespaces".into(),
                kind: "Namespace".into(),
                name: ns.to_string(),
            }));
        };
        if nsobj.pointer("/metadata/deletionTimestamp").is_some()
            || nsobj.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
        {
            let mut e = ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    self.rt.target(name).qualified(),
                    name
                ),
            );
            e.details = Some(
                json!({"name": name, "group": self.rt.group, "kind": self.rt.plural, "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]}),
            );
            return Err(e);
        }
        Ok(())
    }

    fn get(&self, ns: Option<&str>, name: &str) -> ApiResult<Response> {
        let obj = self
            .app
            .store
            .get(&self.rt.key(), &self.key(ns, name))
            .ok_or_else(|| ApiError::not_found(&self.rt.target(name)))?;
        if self.wants_table() {
            let include = self.query.get("includeObject").map(String::as_str).unwrap_or("Metadata");
            let t = table::render(
                self.rt,
                &[obj],
                json!({"resourceVersion": self.app.store.current_rv().to_string()}),
                include,
            );
            return Ok(json_reply(200, &t, &[]));
        }
        Ok(json_text_reply(200, obj.to_string(), &[]))
    }

    /// Prepares a body for create: namespace, name, server-set metadata. Returns warnings.
    fn prepare_create(&self, ns: Option<&str>, obj: &mut Value, now: &str) -> ApiResult<Vec<String>> {
        let warnings = self.decode(obj, false)?;
        let rt = self.rt;
        let manager = self.manager();
        {
            let meta = meta_mut(obj)?;
            if rt.namespaced {
                let url_ns = ns.unwrap_or("");
                match meta.get("namespace").and_then(Value::as_str) {
                    Some(b) if !b.is_empty() && b != url_ns => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ));
                    }
                    _ => {
                        meta.insert("namespace".into(), Value::String(url_ns.to_string()));
                    }
                }
            } else {
                meta.remove("namespace");
            }
            let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            if name.is_empty()
                && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
                && !prefix.is_empty()
            {
                let n = generate_name(prefix);
                meta.insert("name".into(), Value::String(n));
            }
            meta.insert("uid".into(), Value::String(uuid::Uuid::new_v4().to_string()));
            meta.insert("creationTimestamp".into(), Value::String(now.to_string()));
            meta.insert("generation".into(), json!(1));
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
            meta.remove("resourceVersion");
            meta.remove("managedFields");
            meta.remove("selfLink");
        }
        if rt.custom
            && rt.status_subresource
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        if !rt.custom {
            builtin::default_on_create(rt, obj);
        }
        if rt.group == "apiextensions.k8s.io"
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        patch::record_update(None, obj, &manager, &rt.api_version(), None, now);
        Ok(warnings)
    }

    fn create(&self, ns: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let mut obj = self.parse_body(body)?;
        let now = now();
        let warnings = self.prepare_create(ns, &mut obj, &now)?;
        let name = meta_str(&obj, "name").unwrap_or("").to_string();
        self.check_namespace(ns, &name)?;
        self.validate(&obj)?;
        let mut warnings = warnings;
        warnings.extend(finalizer_warnings(self.rt, &obj));
        let generated = obj.pointer("/metadata/generateName").is_some() && body_name_empty(body);
        if self.dry_run() {
            return Ok(json_reply(201, &obj, &warnings));
        }
        let mut attempt = 0;
        let mut name = name;
        loop {
            let key = self.key(ns, &name);
            let target = self.rt.target(&name);
            let candidate = obj.clone();
            let res = self.app.store.transact(&self.rt.key(), &key, |cur, _| {
                if cur.is_some() { Err(ApiError::already_exists(&target)) } else { Ok(Write::Put(candidate)) }
            });
            match res {
                Ok(outcome) => {
                    let created = outcome.object().clone();
                    if self.rt.group == "apiextensions.k8s.io" {
                        self.crd_established(&name);
                    }
                    return Ok(json_text_reply(201, created.to_string(), &warnings));
                }
                Err(e) if e.code == 409 && generated && attempt < 8 => {
                    attempt += 1;
                    let prefix =
                        obj.pointer("/metadata/generateName").and_then(Value::as_str).unwrap_or("").to_string();
                    name = generate_name(&prefix);
                    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.insert("name".into(), Value::String(name.clone()));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a CRD is stored: accept its names (CR endpoints work), then establish it.
    fn crd_established(&self, name: &str) {
        let Some(stored) = self.app.store.get(&self.rt.key(), name) else {
            return;
        };
        let Ok(c) = serde_json::from_value(stored.as_ref().clone()) else {
            return;
        };
        let types = crd::resource_types(&c, false);
        let now = now();
        self.app.registry.set_crd(name, types.clone(), false);
        let _ = self.app.store.transact::<ApiError>(&self.rt.key(), name, |cur, _| {
            let Some(cur) = cur else { return Ok(Write::Keep(Arc::new(Value::Null))) };
            let mut o = (**cur).clone();
            o["status"] = crd::names_accepted_status(&o, &now);
            Ok(Write::Put(o))
        });
        self.app.registry.set_crd(name, types, true);
        let _ = self.app.store.transact::<ApiError>(&self.rt.key(), name, |cur, _| {
            let Some(cur) = cur else { return Ok(Write::Keep(Arc::new(Value::Null))) };
            let mut o = (**cur).clone();
            let st = o.get("status").cloned().unwrap_or(json!({}));
            o["status"] = crd::established_status(&st, &now);
            Ok(Write::Put(o))
        });
    }

    /// The update rules shared by PUT and PATCH: preconditions, immutable fields, status
    /// isolation, generation and finalizer handling. `new` is the full desired object.
    #[allow(clippy::too_many_arguments)]
    fn update_decision(
        &self,
        cur: &Value,
        mut new: Value,
        sub: Option<&str>,
        require_rv: bool,
        manager: &str,
        now: &str,
        apply: bool,
    ) -> ApiResult<Write> {
        let rt = self.rt;
        let name = meta_str(cur, "name").unwrap_or("").to_string();
        let target = rt.target(&name);
        let new_rv = meta_str(&new, "resourceVersion").unwrap_or("").to_string();
        if new_rv.is_empty() {
            if require_rv && rt.custom {
                return Err(ApiError::invalid(
                    &target,
                    vec![Cause::new(
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )],
                ));
            }
        } else if new_rv != rv_of(cur).to_string() {
            return Err(ApiError::modified(&target));
        }
        // Immutable identity.
        let mut causes = Vec::new();
        for f in ["name", "namespace"] {
            let nv = meta_str(&new, f).unwrap_or("");
            let ov = meta_str(cur, f).unwrap_or("");
            if f == "namespace" && !rt.namespaced {
                continue;
            }
            if nv != ov && !(f == "namespace" && nv.is_empty()) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    format!("metadata.{f}"),
                    format!("Invalid value: \"{nv}\": field is immutable"),
                ));
            }
        }
        let new_uid = meta_str(&new, "uid").unwrap_or("").to_string();
        if !new_uid.is_empty() && Some(new_uid.as_str()) != meta_str(cur, "uid") {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "metadata.uid",
                format!("Invalid value: \"{new_uid}\": field is immutable"),
            ));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&target, causes));
        }
        let mut result = if sub == Some("status") {
            // Only status (and managedFields) is taken from the request.
            let mut o = cur.clone();
            if apply
                && let (Some(mf), Some(m)) = (
                    new.pointer("/metadata/managedFields").cloned(),
                    o.get_mut("metadata").and_then(Value::as_object_mut),
                )
            {
                m.insert("managedFields".into(), mf);
            }
            match new.get("status") {
                Some(s) => o["status"] = s.clone(),
                None => {
                    if let Some(m) = o.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            o
        } else {
            if rt.status_subresource {
                match cur.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            // Server-owned metadata is copied from the stored object.
            let cur_meta = cur.get("metadata").cloned().unwrap_or(json!({}));
            let meta = meta_mut(&mut new)?;
            for f in [
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "namespace",
            ] {
                match cur_meta.get(f) {
                    Some(v) => {
                        meta.insert(f.into(), v.clone());
                    }
                    None => {
                        meta.remove(f);
                    }
                }
            }
            if !apply && let Some(mf) = cur_meta.get("managedFields") {
                meta.insert("managedFields".into(), mf.clone());
            }
            // No new finalizers while deleting.
            if cur_meta.get("deletionTimestamp").is_some() {
                let old: Vec<Value> = cur_meta.get("finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
                let added: Vec<String> = meta
                    .get("finalizers")
                    .and_then(Value::as_array)
                    .map(|fs| {
                        fs.iter().filter(|f| !old.contains(f)).map(|f| f.as_str().unwrap_or("").to_string()).collect()
                    })
                    .unwrap_or_default();
                if !added.is_empty() {
                    let list: Vec<String> = added.iter().map(|a| format!("{a:?}")).collect();
                    return Err(ApiError::invalid(
                        &target,
                        vec![Cause::new(
                            "FieldValueForbidden",
                            "metadata.finalizers",
                            format!(
                                "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                                list.join(", ")
                            ),
                        )],
                    ));
                }
            }
            if spec_part(&new, rt.status_subresource) != spec_part(cur, rt.status_subresource) {
                let g = cur.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
                if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.insert("generation".into(), json!(g + 1));
                }
            }
            new
        };
        if let Some(m) = result.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), Value::String(rv_of(cur).to_string()));
        }
        self.validate_update(&result, Some(cur))?;
        if !apply {
            patch::record_update(Some(cur), &mut result, manager, &rt.api_version(), sub, now);
        }
        let deleting = result.pointer("/metadata/deletionTimestamp").is_some();
        let no_finalizers =
            result.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(|f| f.is_empty());
        if deleting && no_finalizers && !(rt.group.is_empty() && rt.plural == "namespaces") {
            return Ok(Write::Delete);
        }
        Ok(Write::Put(result))
    }

    fn reply_for(&self, outcome: Outcome, code: u16, warnings: &[String]) -> Response {
        json_text_reply(code, outcome.object().to_string(), warnings)
    }

    fn update(&self, ns: Option<&str>, name: &str, sub: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let mut new = self.parse_body(body)?;
        let warnings = self.decode(&mut new, false)?;
        let body_name = meta_str(&new, "name").unwrap_or("").to_string();
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if self.rt.namespaced {
            let body_ns = meta_str(&new, "namespace").unwrap_or("");
            if !body_ns.is_empty() && Some(body_ns) != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let now = now();
        let manager = self.manager();
        let target = self.rt.target(name);
        let dry = self.dry_run();
        let mut dry_result = None;
        let outcome = self.app.store.transact(&self.rt.key(), &self.key(ns, name), |cur, _| {
            let cur = cur.ok_or_else(|| ApiError::not_found(&target))?;
            let w = self.update_decision(cur, new, sub, true, &manager, &now, false)?;
            if dry {
                dry_result = Some(w);
                return Ok(Write::Keep(cur.clone()));
            }
            Ok(w)
        })?;
        if let Some(Write::Put(v)) = dry_result {
            return Ok(json_reply(200, &v, &warnings));
        }
        self.after_write(&outcome);
        Ok(self.reply_for(outcome, 200, &warnings))
    }

    fn after_write(&self, outcome: &Outcome) {
        if self.rt.group == "apiextensions.k8s.io" {
            let obj = outcome.object();
            let name = meta_str(obj, "name").unwrap_or("").to_string();
            match outcome {
                Outcome::Deleted(_) => self.app.registry.remove_crd(&name),
                Outcome::Updated(o) => {
                    if let Ok(c) = serde_json::from_value(o.as_ref().clone()) {
                        let terminating = o.pointer("/metadata/deletionTimestamp").is_some();
                        self.app.registry.set_crd(&name, crd::resource_types(&c, terminating), crd::is_established(o));
                    }
                }
                _ => {}
            }
        }
    }

    fn patch(&self, ns: Option<&str>, name: &str, sub: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let ct = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let kind = PatchKind::from_content_type(ct, self.rt.custom)?;
        let force = self.query.get("force").map(String::as_str);
        if kind != PatchKind::Apply && force.is_some_and(|f| f == "true") {
            return Err(ApiError::invalid_options(
                "PatchOptions",
                vec![Cause::new("FieldValueForbidden", "force", "Forbidden: may not be specified for non-apply patch")],
            ));
        }
        let now = now();
        let target = self.rt.target(name);
        let key = self.key(ns, name);
        let mut warnings = Vec::new();
        if kind == PatchKind::Apply {
            let Some(manager) = self.query.get("fieldManager").filter(|m| !m.is_empty()).cloned() else {
                return Err(ApiError::invalid_options(
                    "PatchOptions",
                    vec![Cause::new(
                        "FieldValueRequired",
                        "fieldManager",
                        "Required value: is required for apply patch",
                    )],
                ));
            };
            let mut applied: Value =
                serde_yaml::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            if !applied.is_object() {
                return Err(ApiError::bad_request("the apply patch must be an object"));
            }
            warnings = self.decode(&mut applied, true)?;
            let applied_name = meta_str(&applied, "name").unwrap_or("").to_string();
            if applied_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({applied_name}) does not match the name on the URL ({name})"
                )));
            }
            let force = force == Some("true");
            let mut created = false;
            // Checked before taking the store lock (the check reads the store itself).
            let namespace_check = self.check_namespace(ns, name);
            let api_version = self.rt.api_version();
            let outcome = self.app.store.transact(&self.rt.key(), &key, |cur, _| match cur {
                None => {
                    if sub.is_some() {
                        return Err(ApiError::not_found(&target));
                    }
                    let mut obj = applied.clone();
                    self.prepare_create(ns, &mut obj, &now)?;
                    let mut obj = patch::server_side_apply(None, &obj, &manager, force, &api_version, None, &now)?;
                    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.insert(
                            "managedFields".into(),
                            json!([{"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now, "fieldsType": "FieldsV1", "fieldsV1": patch::to_fields_v1(&patch::owned_paths(&applied, true))}]),
                        );
                    }
                    namespace_check.clone()?;
                    self.validate(&obj)?;
                    created = true;
                    Ok(Write::Put(obj))
                }
                Some(cur) => {
                    let merged = patch::server_side_apply(Some(cur), &applied, &manager, force, &api_version, sub, &now)?;
                    self.update_decision(cur, merged, sub, false, &manager, &now, true)
                }
            })?;
            if self.rt.group == "apiextensions.k8s.io" && created {
                self.crd_established(name);
            } else {
                self.after_write(&outcome);
            }
            return Ok(self.reply_for(outcome, if created { 201 } else { 200 }, &warnings));
        }
        let manager = self.manager();
        let dry = self.dry_run();
        let mut dry_result = None;
        let outcome = self.app.store.transact(&self.rt.key(), &key, |cur, _| {
            let cur = cur.ok_or_else(|| ApiError::not_found(&target))?;
            let mut doc = (**cur).clone();
            patch::apply_json_or_merge(kind, &mut doc, body)?;
            warnings = self.decode(&mut doc, false)?;
            if meta_str(&doc, "name") != Some(name) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta_str(&doc, "name").unwrap_or("")
                )));
            }
            let w = self.update_decision(cur, doc, sub, false, &manager, &now, false)?;
            if dry {
                dry_result = Some(w);
                return Ok(Write::Keep(cur.clone()));
            }
            Ok(w)
        })?;
        if let Some(Write::Put(v)) = dry_result {
            return Ok(json_reply(200, &v, &warnings));
        }
        self.after_write(&outcome);
        Ok(self.reply_for(outcome, 200, &warnings))
    }

    /// The delete rules for one stored object.
    fn delete_decision(&self, cur: &Value, opts: &Value, now: &str) -> ApiResult<Write> {
        let name = meta_str(cur, "name").unwrap_or("").to_string();
        let target = self.rt.target(&name);
        if let Some(uid) = opts.pointer("/preconditions/uid").and_then(Value::as_str) {
            let actual = meta_str(cur, "uid").unwrap_or("");
            if uid != actual {
                return Err(ApiError::conflict(
                    &target,
                    &format!(
                        "the UID in the precondition ({uid}) does not match the UID in record ({actual}). The object might have been deleted and then recreated"
                    ),
                ));
            }
        }
        if let Some(rv) = opts.pointer("/preconditions/resourceVersion").and_then(Value::as_str) {
            let actual = rv_of(cur).to_string();
            if rv != actual {
                return Err(ApiError::conflict(
                    &target,
                    &format!(
                        "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({actual}). The object might have been modified"
                    ),
                ));
            }
        }
        let is_ns = self.rt.group.is_empty() && self.rt.plural == "namespaces";
        if is_ns && builtin::UNDELETABLE_NAMESPACES.contains(&name.as_str()) {
            return Err(ApiError::new(
                403,
                "Forbidden",
                format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
            ));
        }
        let mut obj = cur.clone();
        let mut finalizers: Vec<Value> =
            obj.pointer("/metadata/finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
        let policy = opts.get("propagationPolicy").and_then(Value::as_str);
        let orphan = opts.get("orphanDependents").and_then(Value::as_bool);
        let add = match (policy, orphan) {
            (Some("Foreground"), _) => Some("foregroundDeletion"),
            (Some("Orphan"), _) | (None, Some(true)) => Some("orphan"),
            _ => None,
        };
        let already_deleting = obj.pointer("/metadata/deletionTimestamp").is_some();
        if let Some(f) = add
            && (!finalizers.is_empty() || !already_deleting)
        {
            let v = Value::String(f.into());
            if !finalizers.contains(&v) && (!already_deleting || !finalizers.is_empty()) {
                finalizers.push(v);
            }
        }
        let ns_finalizers =
            is_ns && obj.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        if finalizers.is_empty() && !ns_finalizers {
            return Ok(Write::Delete);
        }
        if already_deleting
            && finalizers.len() == cur.pointer("/metadata/finalizers").and_then(Value::as_array).map_or(0, Vec::len)
        {
            return Ok(Write::Keep(Arc::new(cur.clone())));
        }
        let meta = meta_mut(&mut obj)?;
        if !finalizers.is_empty() {
            meta.insert("finalizers".into(), Value::Array(finalizers));
        }
        if !already_deleting {
            meta.insert("deletionTimestamp".into(), Value::String(now.to_string()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            let g = meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
            meta.insert("generation".into(), json!(g + 1));
        }
        if is_ns {
            obj["status"] = json!({"phase": "Terminating"});
        }
        Ok(Write::Put(obj))
    }

    fn delete_options(&self, body: &[u8]) -> ApiResult<Value> {
        let mut opts = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice::<Value>(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
        };
        if let Some(p) = self.query.get("propagationPolicy") {
            opts["propagationPolicy"] = Value::String(p.clone());
        }
        if let Some(o) = self.query.get("orphanDependents") {
            opts["orphanDependents"] = Value::Bool(o == "true");
        }
        Ok(opts)
    }

    fn delete(&self, ns: Option<&str>, name: &str, body: &[u8]) -> ApiResult<Response> {
        let opts = self.delete_options(body)?;
        let now = now();
        let target = self.rt.target(name);
        if self.rt.group == "apiextensions.k8s.io" {
            return self.delete_crd(name, &opts, &now);
        }
        let dry = self.dry_run();
        let outcome = self.app.store.transact(&self.rt.key(), &self.key(ns, name), |cur, _| {
            let cur = cur.ok_or_else(|| ApiError::not_found(&target))?;
            let w = self.delete_decision(cur, &opts, &now)?;
            if dry {
                return Ok(Write::Keep(cur.clone()));
            }
            Ok(w)
        })?;
        let explicit_no_orphan = opts.get("orphanDependents").and_then(Value::as_bool) == Some(false);
        Ok(match outcome {
            Outcome::Deleted(last) => {
                let code = if explicit_no_orphan { 202 } else { 200 };
                if self.rt.custom {
                    json_reply(code, &deleted_status(self.rt, &last), &[])
                } else {
                    json_text_reply(code, last.to_string(), &[])
                }
            }
            other => self.reply_for(other, 200, &[]),
        })
    }

    /// CRD deletion: Terminating, delete every CR, then remove the CRD.
    fn delete_crd(&self, name: &str, opts: &Value, now: &str) -> ApiResult<Response> {
        let target = self.rt.target(name);
        let cur = self.app.store.get(&self.rt.key(), name).ok_or_else(|| ApiError::not_found(&target))?;
        // Preconditions and user finalizers use the ordinary rules first.
        let decision = self.app.store.transact(&self.rt.key(), name, |cur, _| {
            let cur = cur.ok_or_else(|| ApiError::not_found(&target))?;
            let mut w = self.delete_decision(cur, opts, now)?;
            if let Write::Delete = w {
                let mut o = (**cur).clone();
                if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.insert("finalizers".into(), json!([crd::CLEANUP_FINALIZER]));
                    m.insert("deletionTimestamp".into(), Value::String(now.to_string()));
                    m.insert("deletionGracePeriodSeconds".into(), json!(0));
                }
                if let Some(conds) = o.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
                    conds.push(json!({"type": "Terminating", "status": "True", "lastTransitionTime": now, "reason": "InstanceDeletionInProgress", "message": "CustomResource deletion is in progress"}));
                }
                w = Write::Put(o);
            }
            Ok(w)
        })?;
        self.after_write(&decision);
        let terminating = decision.object().clone();
        let user_finalizers: Vec<Value> = terminating
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|f| f.iter().filter(|x| x.as_str() != Some(crd::CLEANUP_FINALIZER)).cloned().collect())
            .unwrap_or_default();
        // Delete all custom resources of this CRD.
        if let Ok(c) = serde_json::from_value::<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        >(cur.as_ref().clone())
        {
            let res_key = format!("{}/{}", c.spec.group, c.spec.names.plural);
            let (_, items) = self.app.store.list(&res_key, "");
            for it in items {
                let key = object_key(meta_str(&it, "namespace"), meta_str(&it, "name").unwrap_or(""));
                let _ = self.app.store.transact::<ApiError>(&res_key, &key, |_, _| Ok(Write::Delete));
            }
        }
        if !user_finalizers.is_empty() {
            return Ok(json_text_reply(200, terminating.to_string(), &[]));
        }
        let outcome = self.app.store.transact::<ApiError>(&self.rt.key(), name, |_, _| Ok(Write::Delete))?;
        self.after_write(&outcome);
        Ok(json_text_reply(200, terminating.to_string(), &[]))
    }

    fn delete_collection(&self, ns: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let opts = self.delete_options(body)?;
        let (labels, fields) = self.selectors()?;
        let now = now();
        let prefix = match ns {
            Some(ns) if self.rt.namespaced => format!("{ns}/"),
            _ => String::new(),
        };
        let (_, items) = self.app.store.list(&self.rt.key(), &prefix);
        let mut deleted = Vec::new();
        for it in items.iter().filter(|o| labels.matches(o) && fields.matches(o)) {
            let name = meta_str(it, "name").unwrap_or("").to_string();
            let key = self.key(meta_str(it, "namespace"), &name);
            let res = self.app.store.transact(&self.rt.key(), &key, |cur, _| match cur {
                None => Ok(Write::Keep(Arc::new(Value::Null))),
                Some(cur) => self.delete_decision(cur, &opts, &now),
            });
            match res {
                Ok(o) if !o.object().is_null() => deleted.push(o.object().as_ref().clone()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json_reply(
            200,
            &json!({
                "kind": format!("{}List", self.rt.kind),
                "apiVersion": self.rt.api_version(),
                "metadata": {"resourceVersion": self.app.store.current_rv().to_string()},
                "items": deleted,
            }),
            &[],
        ))
    }

    fn selectors(&self) -> ApiResult<(LabelSelector, FieldSelector)> {
        let labels = match self.query.get("labelSelector") {
            Some(s) => LabelSelector::parse(s).map_err(ApiError::bad_request)?,
            None => LabelSelector::default(),
        };
        let fields = match self.query.get("fieldSelector") {
            Some(s) => FieldSelector::parse(s, &allowed_fields(self.rt)).map_err(ApiError::bad_request)?,
            None => FieldSelector::default(),
        };
        Ok((labels, fields))
    }

    fn list(&self, ns: Option<&str>) -> ApiResult<Response> {
        let q = self.query;
        let rv = q.get("resourceVersion").cloned().unwrap_or_default();
        let rv_match = q.get("resourceVersionMatch").cloned().unwrap_or_default();
        let cont = q.get("continue").cloned().unwrap_or_default();
        let mut causes = Vec::new();
        if !rv_match.is_empty() && rv.is_empty() {
            causes.push(Cause::new(
                "FieldValueForbidden",
                "resourceVersionMatch",
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if rv_match == "Exact" && rv == "0" {
            causes.push(Cause::new(
                "FieldValueForbidden",
                "resourceVersionMatch",
                "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
        if !rv_match.is_empty() && !cont.is_empty() {
            causes.push(Cause::new(
                "FieldValueForbidden",
                "resourceVersionMatch",
                "Forbidden: resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if !rv_match.is_empty() && rv_match != "Exact" && rv_match != "NotOlderThan" {
            causes.push(Cause::new(
                "FieldValueNotSupported",
                "resourceVersionMatch",
                format!("Unsupported value: \"{rv_match}\": supported values: \"Exact\", \"NotOlderThan\""),
            ));
        }
        if q.get("sendInitialEvents").is_some() {
            causes.push(Cause::new(
                "FieldValueForbidden",
                "sendInitialEvents",
                "Forbidden: sendInitialEvents is forbidden for list",
            ));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid_options("ListOptions", causes));
        }
        if !cont.is_empty() && !rv.is_empty() && rv != "0" {
            return Err(ApiError::bad_request("specifying resource version is not allowed when using continue"));
        }
        let (labels, fields) = self.selectors()?;
        let limit: usize = match q.get("limit") {
            Some(l) => {
                l.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?.max(0) as usize
            }
            None => 0,
        };
        let prefix = match ns {
            Some(ns) if self.rt.namespaced => format!("{ns}/"),
            _ => String::new(),
        };
        let res_key = self.rt.key();
        let current = self.app.store.current_rv();
        if !rv.is_empty() && cont.is_empty() {
            let n: u64 = rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            if n > current {
                let mut e =
                    ApiError::new(504, "Timeout", format!("Too large resource version: {n}, current: {current}"));
                e.details = Some(
                    json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
                );
                return Err(e);
            }
            if rv_match == "Exact" && n != current && self.app.store.snapshot(n, &res_key).is_none() {
                return Err(ApiError::expired(format!("too old resource version: {n} ({current})")));
            }
        }
        // Snapshot: from the continue token, or a fresh read.
        let (snap_rv, items, start): (u64, Arc<Vec<Arc<Value>>>, String) = if cont.is_empty() {
            let (srv, items) = if rv_match == "Exact" && !rv.is_empty() && rv != current.to_string() {
                let n: u64 = rv.parse().unwrap_or(0);
                match self.app.store.snapshot(n, &res_key) {
                    Some(s) => (n, s.as_ref().clone()),
                    None => return Err(ApiError::expired(format!("too old resource version: {n} ({current})"))),
                }
            } else {
                self.app.store.list(&res_key, &prefix)
            };
            (srv, Arc::new(items), String::new())
        } else {
            let (crv, start) = decode_continue(&cont)?;
            match self.app.store.snapshot(crv, &format!("{res_key}@{prefix}")) {
                Some(items) => (crv, items, start),
                None => {
                    let (nrv, fresh) = self.app.store.list(&res_key, &prefix);
                    let fresh = Arc::new(fresh);
                    self.app.store.save_snapshot(nrv, &format!("{res_key}@{prefix}"), fresh);
                    let mut e = ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    );
                    e.metadata = Some(json!({"continue": encode_continue(nrv, &start)}));
                    return Err(e);
                }
            }
        };
        let begin = if start.is_empty() { 0 } else { items.partition_point(|o| item_key(o) < start) };
        let mut selected: Vec<Arc<Value>> = Vec::new();
        let mut next_start = None;
        let mut idx = begin;
        while idx < items.len() {
            let o = &items[idx];
            idx += 1;
            if ns.is_some() && self.rt.namespaced && meta_str(o, "namespace") != ns {
                continue;
            }
            if !(labels.matches(o) && fields.matches(o)) {
                continue;
            }
            if limit > 0 && selected.len() == limit {
                next_start = Some(item_key(o));
                idx -= 1;
                break;
            }
            selected.push(o.clone());
        }
        let mut list_meta = json!({"resourceVersion": snap_rv.to_string()});
        if let Some(ns_key) = next_start {
            self.app.store.save_snapshot(snap_rv, &format!("{res_key}@{prefix}"), items.clone());
            list_meta["continue"] = Value::String(encode_continue(snap_rv, &ns_key));
            if labels.0.is_empty() && fields.0.is_empty() {
                list_meta["remainingItemCount"] = json!(items.len() - idx);
            }
        }
        if self.wants_table() {
            let include = q.get("includeObject").map(String::as_str).unwrap_or("Metadata");
            return Ok(json_reply(200, &table::render(self.rt, &selected, list_meta, include), &[]));
        }
        // Written by hand to avoid cloning every item into one big Value.
        let mut out = String::with_capacity(selected.len() * 512 + 256);
        out.push_str(&format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            self.rt.kind,
            self.rt.api_version(),
            list_meta
        ));
        for (i, o) in selected.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&o.to_string());
        }
        out.push_str("]}");
        Ok(json_text_reply(200, out, &[]))
    }
}

/// `Warning` texts for finalizers without a domain prefix on custom resources.
fn finalizer_warnings(rt: &ResourceType, obj: &Value) -> Vec<String> {
    if !rt.custom {
        return Vec::new();
    }
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|fs| {
            fs.iter()
                .filter_map(Value::as_str)
                .filter(|f| !f.contains('/'))
                .map(|f| format!("metadata.finalizers: \"{f}\": prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers"))
                .collect()
        })
        .unwrap_or_default()
}

fn body_name_empty(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string))
        .is_none_or(|n| n.is_empty())
}

/// The field paths a field selector may use for this resource.
pub fn allowed_fields(rt: &ResourceType) -> Vec<String> {
    let mut f = vec!["metadata.name".to_string()];
    if rt.namespaced {
        f.push("metadata.namespace".into());
    }
    if !rt.custom && rt.plural == "pods" {
        f.extend(["spec.nodeName", "status.phase", "spec.serviceAccountName"].map(String::from));
    }
    if !rt.custom && rt.plural == "events" {
        f.extend(
            [
                "involvedObject.name",
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.uid",
                "reason",
                "type",
            ]
            .map(String::from),
        );
    }
    if rt.plural == "secrets" && !rt.custom {
        f.push("type".into());
    }
    f.extend(rt.selectable_fields.iter().cloned());
    f
}

/// The sort key of a stored object (namespace/name).
pub fn item_key(o: &Value) -> String {
    object_key(meta_str(o, "namespace"), meta_str(o, "name").unwrap_or(""))
}

/// The Status returned when a custom resource is deleted outright.
pub fn deleted_status(rt: &ResourceType, last: &Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": meta_str(last, "name").unwrap_or(""),
            "group": rt.group,
            "kind": rt.plural,
            "uid": meta_str(last, "uid").unwrap_or(""),
        }
    })
}

/// Encodes a continue token (base64 of `{"v","rv","start"}`, like the real server).
pub fn encode_continue(rv: u64, start: &str) -> String {
    let t = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(t.to_string())
}

/// Decodes a continue token; 400 when it is not one of ours.
pub fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    let bad = |why: &str| ApiError::bad_request(format!("invalid continue token: {why}"));
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|e| bad(&e.to_string()))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|e| bad(&e.to_string()))?;
    if v.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(bad("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"));
    }
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(|| bad("missing rv"))?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(|| bad("missing start"))?;
    Ok((rv, start.to_string()))
}

/// Ensures `body` is a `Body` (helper for the watch module's streaming replies).
pub fn streaming_reply(body: Body) -> Response {
    let mut r = Response::new(body);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
