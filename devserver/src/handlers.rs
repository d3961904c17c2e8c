//! Request routing and the CRUD verbs (create, get, update, patch, delete, deletecollection, list).
//! Watch lives in [`crate::watch`]. Every path that reads client input returns an [`ApiError`]
//! instead of panicking.

use crate::app::{App, now, object_key};
use crate::authn::UserInfo;
use crate::error::{ApiError, ApiResult, Cause};
use crate::patch::{self, PatchKind};
use crate::request_info::{RequestInfo, Route};
use crate::request_log::RequestRecord;
use crate::resource::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{Outcome, Write, rv_of};
use crate::{builtin, discovery, negotiation, openapi, protobuf, schema, strategy, table, validation};
mod delete;
mod list;
mod scale;
mod token;

pub use list::encode_continue;
mod write;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

use crate::request_info::Query;

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

/// The axum handler for every path.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parse_query(parts.uri.query());
    let mut record = RequestRecord {
        verb: parts.method.as_str().to_lowercase(),
        group: String::new(),
        resource: String::new(),
        namespace: None,
        name: None,
        status: 0,
        path: path.clone(),
        user: None,
    };
    let info = RequestInfo::new(&parts.method, &path, &query);
    let response = serve(&app, &info, &query, &parts.headers, body, &mut record).await;
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

/// The chain, in kube-apiserver's order: the in-flight limit, authentication (before a byte of
/// the body is read, so an anonymous client cannot make the server buffer anything), the body
/// (bounded in size and time), authorization and admission, then the route; the answer waits
/// until what it shows is durable.
async fn serve(
    app: &Arc<App>,
    info: &RequestInfo,
    query: &Query,
    headers: &HeaderMap,
    body: axum::body::Body,
    record: &mut RequestRecord,
) -> Response {
    let _permit = match app.limits.admit(info) {
        Ok(permit) => permit,
        Err(too_many) => return too_many.into_response(),
    };
    app.faults.delay().await;
    let user = match crate::filters::authenticate(app, info, headers, record) {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let body = match app.limits.read_body(headers, body).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = crate::filters::authorize(app, user.as_ref(), info, &body, record) {
        return e.into_response();
    }
    let response = if body.len() >= HEAVY_BODY_BYTES {
        route_blocking(app, info, user, query, headers, body, record).await
    } else {
        route(app, info, user.as_ref(), query, headers, body, record).await
    };
    // Nothing is shown to a client before it is durable (with --data-dir; otherwise this returns
    // at once): the answer waits until every change up to now is. Watches filter by themselves.
    if info.verb != "watch"
        && let Err(e) = app.store.wait_visible(app.store.current_rv()).await
    {
        return ApiError::new(500, "InternalError", e).into_response();
    }
    response
}

/// Bodies from this size on are decoded, validated and encoded on the blocking pool.
const HEAVY_BODY_BYTES: usize = 128 * 1024;

/// [`route`] on a blocking-pool thread: decoding, managedFields and encoding of a
/// multi-megabyte object take long enough that, on the async workers, two of them would stall
/// every other request (a GET waited 1.8 s behind two 50,000-key creates).
async fn route_blocking(
    app: &Arc<App>,
    info: &RequestInfo,
    user: Option<UserInfo>,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
    record: &mut RequestRecord,
) -> Response {
    let (app, info, query, headers, mut rec) =
        (app.clone(), info.clone(), query.clone(), headers.clone(), record.clone());
    let turn = app.limits.heavy_turn().await;
    let runtime = tokio::runtime::Handle::current();
    let work = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let response = runtime.block_on(route(&app, &info, user.as_ref(), &query, &headers, body, &mut rec));
        (response, rec)
    });
    match work.await {
        Ok((response, rec)) => {
            *record = rec;
            response
        }
        Err(e) => ApiError::new(500, "InternalError", format!("the request failed: {e}")).into_response(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn route(
    app: &Arc<App>,
    info: &RequestInfo,
    user: Option<&UserInfo>,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
    record: &mut RequestRecord,
) -> Response {
    let method = &info.method;
    let trimmed = info.path.trim_end_matches('/');
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
    let Some(rp) = &info.route else {
        return not_found_page();
    };
    // kube-apiserver's built-in groups answer a Status for anything they do not serve; a path
    // in a group only CRDs (or nothing) serve falls through to the mux's plain page.
    let not_served = || {
        let builtin =
            rp.group.is_empty() || app.registry.discoverable().iter().any(|t| t.group == rp.group && !t.custom);
        if builtin { ApiError::resource_not_found().into_response() } else { not_found_page() }
    };
    if rp.resource.is_empty() {
        return match discovery::api_resource_list(&app.registry.discoverable(), &rp.group, &rp.version) {
            Some(doc) => json_reply(200, &doc, &[]),
            None => not_served(),
        };
    }
    let Some(rt) = app.registry.lookup(&rp.group, &rp.version, &rp.resource) else {
        return not_served();
    };
    record.group = rt.group.clone();
    record.resource = match &rp.subresource {
        Some(s) => format!("{}/{s}", rt.plural),
        None => rt.plural.clone(),
    };
    record.namespace = rp.namespace.clone();
    record.name = rp.name.clone();
    // GET's verb (get, list or watch) is the request info's; other methods must fit the path.
    let verb = match (method, rp.name.is_some()) {
        (&Method::GET, _) => info.verb.as_str(),
        (&Method::POST, false) => "create",
        // Creating a subresource of an object: a ServiceAccount's token.
        (&Method::POST, true) if rp.subresource.is_some() => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => "",
    };
    record.verb = if verb.is_empty() { method.as_str().to_lowercase() } else { verb.to_string() };
    let target = crate::faults::WriteTarget {
        group: &record.group,
        resource: &record.resource,
        namespace: record.namespace.as_deref(),
        name: record.name.as_deref(),
    };
    if let Some(e) = app.faults.write_failure(verb, &target) {
        return e.into_response();
    }
    let result = dispatch(app, &rt, rp, verb, user, query, headers, body).await;
    let response = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if verb != "watch" && negotiation::wants_yaml(headers) {
        return negotiation::to_yaml(response).await;
    }
    if verb != "watch" && !rt.custom && protobuf::preferred(headers) {
        return protobuf::reencode(&rt, response).await;
    }
    response
}

/// `/version`: the fields kube-apiserver 1.37 sends (k8s-openapi's `Info` requires nine of them).
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "37",
        "emulationMajor": "1",
        "emulationMinor": "37",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "36",
        "gitVersion": "v1.37.0-devserver",
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
    rp: &Route,
    verb: &str,
    user: Option<&UserInfo>,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    check_accept(headers, rt, verb)?;
    if rt.namespaced && rp.namespace.is_none() && rp.name.is_some() {
        return Err(not_found_plain(rt, rp));
    }
    if !rt.namespaced && rp.namespace.is_some() {
        return Err(not_found_plain(rt, rp));
    }
    if rt.namespaced && rp.namespace.is_none() && !matches!(verb, "list" | "watch") {
        // A custom resource's handler knows no cluster-wide collection beyond list and watch.
        if rt.custom {
            return Err(ApiError::page_not_found());
        }
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource".to_string(),
        ));
    }
    if rt.review && rp.subresource.is_none() {
        return review(app, rt, verb, user, headers, &body);
    }
    if let Some(sub) = &rp.subresource {
        let served = match sub.as_str() {
            "status" => rt.status_subresource,
            "scale" => rt.scale.is_some(),
            "token" => rt.has_token_subresource(),
            "finalize" => rt.has_finalize_subresource(),
            _ => false,
        };
        if !served {
            // A built-in kind has no handler for the path at all; a CRD's handler answers for
            // the object.
            return Err(if rt.custom { not_found_plain(rt, rp) } else { ApiError::resource_not_found() });
        }
        let allowed: &[&str] = match sub.as_str() {
            "token" => &["create"],
            "finalize" => &["update"],
            _ => &["get", "update", "patch"],
        };
        if !allowed.contains(&verb) {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
    }
    if rt.terminating && matches!(verb, "create" | "update" | "patch") {
        return Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource"));
    }
    if matches!(verb, "create" | "update" | "patch") {
        crate::options::validate(verb, query, None)?; // a delete's are checked with its body's
    }
    let ns = rp.namespace.as_deref();
    let name = rp.name.as_deref().unwrap_or("");
    let sub = rp.subresource.as_deref();
    let ctx = Ctx { app, rt, user, query, headers };
    if sub == Some("token") {
        return ctx.create_token(ns, name, &body);
    }
    if sub == Some("scale") {
        return match verb {
            "get" => ctx.get_scale(ns, name),
            "update" => ctx.update_scale(ns, name, &body),
            _ => ctx.patch_scale(ns, name, &body),
        };
    }
    match verb {
        "get" => ctx.get(ns, name),
        "list" => ctx.list(ns),
        "watch" => {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
            let format = if table::wants_table(accept) {
                crate::watch::Format::Table(query.get("includeObject").cloned().unwrap_or_else(|| "Metadata".into()))
            } else if negotiation::wants_partial(accept) {
                crate::watch::Format::Metadata
            } else if !rt.custom && protobuf::preferred(headers) {
                crate::watch::Format::Protobuf
            } else {
                crate::watch::Format::Object
            };
            crate::watch::watch(app.clone(), rt.clone(), ns, rp.name.as_deref(), query, format)
        }
        "create" => ctx.create(ns, &body),
        "update" => ctx.update(ns, name, sub, &body),
        "patch" => ctx.patch(ns, name, sub, &body),
        "delete" => ctx.delete(ns, name, &body),
        "deletecollection" => ctx.delete_collection(ns, &body),
        _ => Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource")),
    }
}

/// A request body as a JSON object: JSON, or protobuf for the kinds [`protobuf`] decodes; 415
/// for other media types, 400 for a body that does not decode.
fn request_object(rt: &ResourceType, headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    if rt.custom && content_type(headers) == protobuf::MEDIA_TYPE {
        return Err(protobuf::unsupported(protobuf::MEDIA_TYPE));
    }
    request_object_of(headers, body, &rt.api_version(), &rt.kind)
}

/// The base media type of the request body (without parameters).
fn content_type(headers: &HeaderMap) -> &str {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().unwrap_or("").trim()
}

/// [`request_object`] for a body of kind `kind` (a subresource's kind may differ from its
/// resource's: a ServiceAccount's `token` takes a TokenRequest).
fn request_object_of(headers: &HeaderMap, body: &[u8], api_version: &str, kind: &str) -> ApiResult<Value> {
    let version = api_version.rsplit('/').next().unwrap_or(api_version);
    match content_type(headers) {
        protobuf::MEDIA_TYPE if protobuf::decodes(api_version, kind) => {
            return protobuf::decode(api_version, kind, body);
        }
        "" | "application/json" | "*/*" => {}
        other => return Err(protobuf::unsupported(other)),
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("{kind} in version \"{version}\" cannot be handled as a {kind}: {e}"))
    })?;
    if !v.is_object() {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: the body must be a JSON object"
        )));
    }
    Ok(v)
}

/// A review: decoded as its kind, answered by the authorizer for the requesting user, 201.
fn review(
    app: &App,
    rt: &ResourceType,
    verb: &str,
    user: Option<&UserInfo>,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    if verb != "create" {
        return Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource"));
    }
    let obj = request_object(rt, headers, body)?;
    if let Some(decode) = rt.decode {
        decode(&obj).map_err(|e| ApiError::bad_request(format!("error decoding {}: {e}", rt.kind)))?;
    }
    Ok(json_reply(201, &crate::reviews::create(app, rt, user, &obj)?, &[]))
}

fn not_found_plain(rt: &ResourceType, rp: &Route) -> ApiError {
    ApiError::not_found(&rt.target(rp.name.as_deref().unwrap_or("")))
}

/// 406 unless the Accept header allows JSON, YAML, or protobuf for a built-in kind (custom
/// resources have no protobuf form, as in Kubernetes). The refusal names what is available in
/// kube-apiserver's words, which differ between built-in and custom resources.
fn check_accept(headers: &HeaderMap, rt: &ResourceType, verb: &str) -> ApiResult<()> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let ok = accept.split(',').any(|part| {
        let base = part.split(';').next().unwrap_or("").trim();
        matches!(base, "" | "*/*" | "application/*" | "application/json" | negotiation::YAML)
            || (base == protobuf::MEDIA_TYPE && !rt.custom)
    });
    if ok {
        return Ok(());
    }
    let all = format!("application/json, application/yaml, {}", protobuf::MEDIA_TYPE);
    if rt.custom {
        return Err(ApiError::new(406, "NotAcceptable", format!("only the following media types are accepted: {all}")));
    }
    let streams = if matches!(verb, "list" | "watch") {
        format!(", application/json;stream=watch, {};stream=watch", protobuf::MEDIA_TYPE)
    } else {
        String::new()
    };
    let mut e = ApiError::new(
        406,
        "NotAcceptable",
        format!("406: Not Acceptable\n\nAvailable representations: {all}{streams}"),
    );
    e.details = Some(json!({}));
    Err(e)
}

struct Ctx<'a> {
    app: &'a Arc<App>,
    rt: &'a ResourceType,
    /// Who asks (None when the server authenticates no one).
    user: Option<&'a UserInfo>,
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
/// What Go's JSON decoder calls the type of `v` in its "cannot unmarshal" errors.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        _ => "object",
    }
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

    /// A create's, update's or patch's `?dryRun=All` (a delete's may also come in its body:
    /// [`crate::options::delete_is_dry_run`]).
    fn dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|v| v == "All")
    }

    fn key(&self, ns: Option<&str>, name: &str) -> String {
        object_key(if self.rt.namespaced { ns } else { None }, name)
    }

    /// The stored object at `key`, in this resource's form (see [`Self::transact`]).
    fn stored(&self, key: &str) -> Option<Arc<Value>> {
        let obj = self.app.store.get(&self.rt.key(), key)?;
        Some(if self.rt.is_events_view() { Arc::new(crate::events_view::to_events_v1(&obj)) } else { obj })
    }

    /// [`Store::transact`] on this resource. The events.k8s.io view decides on the object in its
    /// own form and stores what it decided in core/v1's (see [`crate::events_view`]); replies
    /// convert back through [`ResourceType::to_wire`].
    fn transact(
        &self,
        key: &str,
        f: impl FnOnce(Option<&Arc<Value>>, u64) -> Result<Write, ApiError>,
    ) -> Result<crate::store::Outcome, ApiError> {
        if !self.rt.is_events_view() {
            return self.app.store.transact::<ApiError>(&self.rt.key(), key, f);
        }
        self.app.store.transact::<ApiError>(&self.rt.key(), key, |cur, rv| {
            let view = cur.map(|c| Arc::new(crate::events_view::to_events_v1(c)));
            Ok(match f(view.as_ref(), rv)? {
                Write::Put(v) => Write::Put(crate::events_view::to_core(&v)),
                Write::Keep(_) => Write::Keep(cur.cloned().unwrap_or_default()),
                Write::Delete => Write::Delete,
            })
        })
    }

    fn wants_partial(&self) -> bool {
        self.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(negotiation::wants_partial)
    }

    fn wants_table(&self) -> bool {
        self.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(table::wants_table)
    }

    /// Parses a request body into a JSON object (see [`request_object`]).
    fn parse_body(&self, body: &[u8]) -> ApiResult<Value> {
        request_object(self.rt, self.headers, body)
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
            // Custom resources still have a typed ObjectMeta: decode it so malformed metadata is a
            // 400 (never stored where it would break every client), dropping unknown fields.
            if let Some(meta) = obj.get_mut("metadata") {
                let typed: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta =
                    serde::Deserialize::deserialize(&*meta).map_err(|e| {
                        ApiError::bad_request(format!(
                            "{} in version \"{}\" cannot be handled as a {}: metadata: {e}",
                            self.rt.kind, self.rt.version, self.rt.kind
                        ))
                    })?;
                let round = serde_json::to_value(&typed).map_err(|e| ApiError::internal(e.to_string()))?;
                let mut unknown = Vec::new();
                builtin::unknown_fields(meta, &round, "metadata", &mut unknown);
                removed.extend(unknown);
                *meta = round;
            }
        }
        let mut warnings = Vec::new();
        let mode = self.query.get("fieldValidation").map(String::as_str).unwrap_or("Warn");
        if !removed.is_empty() {
            let msgs: Vec<String> = removed.iter().map(|p| format!("unknown field \"{p}\"")).collect();
            match mode {
                "Strict" => {
                    let kind = &self.rt.kind;
                    return Err(ApiError::bad_request(format!(
                        "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
                        self.rt.version,
                        msgs.join(", ")
                    )));
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
        // kube-apiserver's RBAC storage refuses an escalation before it validates the object.
        let ns = meta_str(obj, "namespace").unwrap_or_default();
        crate::escalation::check(self.app, self.user, self.rt, ns, obj)?;
        let strategy = strategy::of(self.rt);
        let mut causes = validation::validate_meta(obj, strategy.name_is_label());
        causes.extend(strategy.validate(self.rt, obj, old));
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
        if self.wants_partial() {
            return Ok(json_reply(200, &negotiation::partial(&obj), &[]));
        }
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
        Ok(json_text_reply(200, self.rt.to_wire(&obj), &[]))
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
