//! Watch streams: newline-delimited `{"type","object"}` events over a chunked HTTP/1.1 reply.
//!
//! Where a watch starts: RV unset or "0" sends synthetic ADDED events for the current objects
//! first; RV N sends only changes after N; `sendInitialEvents=true` sends the current objects and
//! then (with `allowWatchBookmarks`) a BOOKMARK annotated `k8s.io/initial-events-end`. A start RV
//! older than the retained history gets HTTP 200 and an ERROR event with a 410 Expired Status.
//! With a selector, an object that stops matching is sent as DELETED and one that starts as ADDED.

use crate::app::App;
use crate::error::{ApiError, ApiResult, Cause};
use crate::request_info::Query;
use crate::resource::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::EventType;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

struct Filter {
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, o: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && o.pointer("/metadata/namespace").and_then(Value::as_str) != Some(ns.as_str())
        {
            return false;
        }
        self.labels.matches(o) && self.fields.matches(o)
    }
}

/// Initial events are sent in chunks of about this size.
const INITIAL_CHUNK_BYTES: usize = 256 * 1024;

fn event_text(out: &mut Vec<u8>, ty: &str, json: &str) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(ty.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(b"}\n");
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta})
}

/// How each event's object is encoded, from the request's Accept header.
#[derive(Clone, Debug, PartialEq)]
pub enum Format {
    /// The object.
    Object,
    /// `PartialObjectMetadata` (`as=PartialObjectMetadata`).
    Metadata,
    /// A one-row `Table` (`as=Table`, what `kubectl get -w` asks for), with `includeObject`.
    /// Only the first event carries the column definitions, as kube-apiserver sends them.
    Table(String),
    /// Length-prefixed protobuf `WatchEvent`s (`application/vnd.kubernetes.protobuf;stream=watch`,
    /// built-in kinds only).
    Protobuf,
}

/// Starts a watch; parameter errors are ordinary HTTP errors, later ones are ERROR events.
pub fn watch(
    app: Arc<App>,
    rt: ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
    q: &Query,
    format: Format,
) -> ApiResult<Response> {
    let mut first_table = true;
    let content_type = if format == Format::Protobuf { crate::protobuf::WATCH_MEDIA_TYPE } else { "application/json" };
    // One event into the stream: `o` is a stored object, or (`raw`) a bookmark or Status.
    let mut emit = move |out: &mut Vec<u8>, rt: &ResourceType, ty: &str, o: &Value, raw: bool| {
        let json = match &format {
            Format::Protobuf => {
                let obj = if raw { std::borrow::Cow::Borrowed(o) } else { rt.to_wire_value(o) };
                return crate::protobuf::watch_frame(out, ty, &obj);
            }
            _ if raw => o.to_string(),
            Format::Object => rt.to_wire(o),
            Format::Metadata => crate::negotiation::partial(o).to_string(),
            Format::Table(include) => {
                let rv = o.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
                let mut table = crate::table::render(rt, &[o], json!({"resourceVersion": rv}), include);
                if !std::mem::take(&mut first_table) {
                    table["columnDefinitions"] = Value::Null;
                }
                table.to_string()
            }
        };
        event_text(out, ty, &json);
    };
    let labels = match q.get("labelSelector") {
        Some(s) => LabelSelector::parse(s).map_err(ApiError::bad_request)?,
        None => LabelSelector::default(),
    };
    let mut fields = match q.get("fieldSelector") {
        Some(s) => FieldSelector::parse(s, &rt.field_selector_fields()).map_err(ApiError::bad_request)?,
        None => FieldSelector::default(),
    };
    if let Some(n) = name {
        fields.0.push(crate::selector::FieldTerm {
            field: "metadata.name".into(),
            value: n.to_string(),
            negated: false,
        });
    }
    let rv = q.get("resourceVersion").cloned().unwrap_or_default();
    let rv_match = q.get("resourceVersionMatch").cloned().unwrap_or_default();
    let send_initial = q.get("sendInitialEvents").map(|s| crate::request_info::flag(s));
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|s| crate::request_info::flag(s));
    if send_initial.is_some() && rv_match != "NotOlderThan" {
        return Err(ApiError::invalid_options(
            "ListOptions",
            vec![Cause::new(
                "FieldValueForbidden",
                "resourceVersionMatch",
                "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )],
        ));
    }
    if send_initial.is_none() && !rv_match.is_empty() {
        return Err(ApiError::invalid_options(
            "ListOptions",
            vec![Cause::new(
                "FieldValueForbidden",
                "resourceVersionMatch",
                "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            )],
        ));
    }
    let start_rv: Option<u64> = if rv.is_empty() || rv == "0" {
        None
    } else {
        Some(rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?)
    };
    if let Some(n) = start_rv {
        let current = app.store.current_rv();
        if n > current {
            let mut e = ApiError::new(504, "Timeout", format!("Too large resource version: {n}, current: {current}"));
            e.details = Some(
                json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
            );
            return Err(e);
        }
    }
    let initial = match send_initial {
        Some(v) => v,
        None => start_rv.is_none(),
    };
    let timeout = match q.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t}")))?,
        ),
        None => {
            use rand::Rng;
            Duration::from_secs(rand::rng().random_range(1800..3600))
        }
    };
    let filter = Filter { namespace: if rt.namespaced { ns.map(str::to_string) } else { None }, labels, fields };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let res_key = rt.key();
    let prefix = match (&filter.namespace, rt.namespaced) {
        (Some(ns), true) => format!("{ns}/"),
        _ => String::new(),
    };
    // Subscribe before reading so no wake-up between snapshot and loop is lost.
    let mut notify = app.store.subscribe();
    let mut cursor;
    // The snapshot is taken now; its events are encoded and sent by the task below.
    let mut snapshot = Vec::new();
    if initial {
        let (snap_rv, items) = app.store.list(&res_key, &prefix);
        cursor = snap_rv;
        if let Some(n) = start_rv {
            // sendInitialEvents with an RV: the snapshot must not be older than it.
            cursor = cursor.max(n);
        }
        snapshot = items;
    } else {
        cursor = start_rv.unwrap_or(0);
    }
    let initial_end_bookmark = initial && send_initial == Some(true) && bookmarks;
    let bookmark_every = app.bookmark_interval;
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        // The snapshot may hold changes not yet durable (--data-dir): show it only once they are.
        if app.store.wait_visible(cursor).await.is_err() {
            return;
        }
        // Initial events go out in chunks as they are encoded, as the API server writes each
        // event to the stream: a client decodes the first objects while later ones are encoded.
        let mut chunk = Vec::new();
        for o in snapshot.iter().filter(|o| filter.matches(o)) {
            emit(&mut chunk, &rt, "ADDED", o, false);
            if chunk.len() >= INITIAL_CHUNK_BYTES && tx.send(Bytes::from(std::mem::take(&mut chunk))).await.is_err() {
                return;
            }
        }
        drop(snapshot);
        if initial_end_bookmark {
            emit(&mut chunk, &rt, "BOOKMARK", &bookmark(&rt, cursor, true), true);
        }
        if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
            return;
        }
        let mut next_bookmark = tokio::time::Instant::now() + bookmark_every;
        // Change events sent so far, for the end-watches-after-N fault (crate::faults).
        let mut sent = 0usize;
        loop {
            let batch = app.store.events_after(&res_key, cursor, 2048);
            match batch {
                Err(oldest) => {
                    let status =
                        ApiError::expired(format!("too old resource version: {cursor} ({oldest})")).to_status();
                    let mut line = Vec::new();
                    emit(&mut line, &rt, "ERROR", &status, true);
                    let _ = tx.send(Bytes::from(line)).await;
                    return;
                }
                Ok((events, read_rv)) if events.is_empty() => {
                    cursor = cursor.max(read_rv);
                    tokio::select! {
                        changed = notify.changed() => {
                            if changed.is_err() { return; }
                        }
                        _ = tokio::time::sleep_until(deadline) => return,
                        _ = tokio::time::sleep_until(next_bookmark) => {
                            next_bookmark = tokio::time::Instant::now() + bookmark_every;
                            if bookmarks {
                                let mut line = Vec::new();
                                emit(&mut line, &rt, "BOOKMARK", &bookmark(&rt, cursor, false), true);
                                if tx.send(Bytes::from(line)).await.is_err() { return; }
                            }
                        }
                        _ = tx.closed() => return,
                    }
                }
                Ok((events, _)) => {
                    let mut out = Vec::new();
                    let limit = app.faults.watch_event_limit();
                    let mut limit_reached = limit.is_some_and(|n| sent >= n);
                    for e in &events {
                        if limit_reached {
                            break;
                        }
                        cursor = e.rv;
                        let now = filter.matches(&e.object);
                        let before = e.prev.as_ref().is_some_and(|p| filter.matches(p));
                        let ty = match e.kind {
                            EventType::Added if now => Some("ADDED"),
                            EventType::Modified if now && before => Some("MODIFIED"),
                            EventType::Modified if now => Some("ADDED"),
                            EventType::Modified if before => Some("DELETED"),
                            EventType::Deleted if before => Some("DELETED"),
                            _ => None,
                        };
                        if let Some(ty) = ty {
                            emit(&mut out, &rt, ty, &e.object, false);
                            sent += 1;
                            limit_reached = limit.is_some_and(|n| sent >= n);
                        }
                    }
                    if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                        return;
                    }
                    if limit_reached {
                        return;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return;
                    }
                }
            }
        }
    });
    let stream =
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(Ok::<Bytes, std::convert::Infallible>)));
    Ok(streaming_reply(Body::from_stream(stream), content_type))
}

/// The chunked reply a watch streams its events into.
fn streaming_reply(body: Body, content_type: &'static str) -> Response {
    let mut r = Response::new(body);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
