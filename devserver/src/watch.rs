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

/// Encodes events in the requested [`Format`].
struct Encoder {
    format: Format,
    /// No Table event has been sent yet (only the first carries the column definitions).
    first_table: bool,
}

impl Encoder {
    /// Appends one event to `out`: `o` is a stored object, or (`raw`) a bookmark or Status.
    fn emit(&mut self, out: &mut Vec<u8>, rt: &ResourceType, ty: &str, o: &Value, raw: bool) {
        let json = match &self.format {
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
                if !std::mem::take(&mut self.first_table) {
                    table["columnDefinitions"] = Value::Null;
                }
                table.to_string()
            }
        };
        event_text(out, ty, &json);
    }

    /// One event as its own chunk.
    fn line(&mut self, rt: &ResourceType, ty: &str, o: &Value) -> Bytes {
        let mut out = Vec::new();
        self.emit(&mut out, rt, ty, o, true);
        Bytes::from(out)
    }
}

/// A watch request's parameters, checked as kube-apiserver checks them.
struct Options {
    filter: Filter,
    /// The `resourceVersion` to start after (`None`: unset or "0").
    start_rv: Option<u64>,
    /// Whether the current objects are sent first.
    initial: bool,
    /// Whether the initial objects end with an `initial-events-end` BOOKMARK.
    initial_end_bookmark: bool,
    /// `allowWatchBookmarks`.
    bookmarks: bool,
    /// When the server ends the watch.
    timeout: Duration,
}

impl Options {
    fn parse(app: &App, rt: &ResourceType, ns: Option<&str>, name: Option<&str>, q: &Query) -> ApiResult<Self> {
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
        let forbidden = |message: &str| {
            ApiError::invalid_options(
                "ListOptions",
                vec![Cause::new("FieldValueForbidden", "resourceVersionMatch", format!("Forbidden: {message}"))],
            )
        };
        if send_initial.is_some() && rv_match != "NotOlderThan" {
            return Err(forbidden("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
        }
        if send_initial.is_none() && !rv_match.is_empty() {
            return Err(forbidden("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
        }
        let start_rv: Option<u64> = if rv.is_empty() || rv == "0" {
            None
        } else {
            Some(rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?)
        };
        if let Some(n) = start_rv {
            let current = app.store.current_rv();
            if n > current {
                return Err(ApiError::too_large_resource_version(n, current));
            }
        }
        let initial = send_initial.unwrap_or(start_rv.is_none());
        let timeout = match q.get("timeoutSeconds") {
            Some(t) => Duration::from_secs(
                t.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t}")))?,
            ),
            None => {
                use rand::Rng;
                Duration::from_secs(rand::rng().random_range(1800..3600))
            }
        };
        Ok(Self {
            filter: Filter { namespace: if rt.namespaced { ns.map(str::to_string) } else { None }, labels, fields },
            start_rv,
            initial,
            initial_end_bookmark: initial && send_initial == Some(true) && bookmarks,
            bookmarks,
            timeout,
        })
    }
}

/// The event a stored change is to a watcher, from whether the object matches the watch's
/// filter now and before: an object that starts matching is ADDED, one that stops is DELETED.
fn event_type(kind: &EventType, now: bool, before: bool) -> Option<&'static str> {
    match kind {
        EventType::Added if now => Some("ADDED"),
        EventType::Modified if now && before => Some("MODIFIED"),
        EventType::Modified if now => Some("ADDED"),
        EventType::Modified if before => Some("DELETED"),
        EventType::Deleted if before => Some("DELETED"),
        _ => None,
    }
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
    let content_type = if format == Format::Protobuf { crate::protobuf::WATCH_MEDIA_TYPE } else { "application/json" };
    let opts = Options::parse(&app, &rt, ns, name, q)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let prefix = match (&opts.filter.namespace, rt.namespaced) {
        (Some(ns), true) => format!("{ns}/"),
        _ => String::new(),
    };
    // Subscribe before reading so no wake-up between snapshot and loop is lost.
    let notify = app.store.subscribe();
    // The snapshot is taken now; its events are encoded and sent by the task.
    let (cursor, snapshot) = if opts.initial {
        let (snap_rv, items) = app.store.list(&rt.key(), &prefix);
        // sendInitialEvents with an RV: the snapshot must not be older than it.
        (snap_rv.max(opts.start_rv.unwrap_or(0)), items)
    } else {
        (opts.start_rv.unwrap_or(0), Vec::new())
    };
    let stream = Stream { app, rt, opts, encoder: Encoder { format, first_table: true }, tx, cursor };
    tokio::spawn(stream.run(snapshot, notify));
    let stream =
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(Ok::<Bytes, std::convert::Infallible>)));
    Ok(streaming_reply(Body::from_stream(stream), content_type))
}

/// One running watch: what it sends, where it is in the store's history, and where to.
struct Stream {
    app: Arc<App>,
    rt: ResourceType,
    opts: Options,
    encoder: Encoder,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    /// The last revision sent (or skipped).
    cursor: u64,
}

/// The watch ended (the client left, the deadline passed, or the history no longer reaches).
struct Ended;

impl Stream {
    async fn run(mut self, snapshot: Vec<Arc<Value>>, mut notify: tokio::sync::watch::Receiver<u64>) {
        let deadline = tokio::time::Instant::now() + self.opts.timeout;
        // The snapshot may hold changes not yet durable (--data-dir): show it only once they are.
        if self.app.store.wait_visible(self.cursor).await.is_err() || self.send_initial(snapshot).await.is_err() {
            return;
        }
        let mut next_bookmark = tokio::time::Instant::now() + self.app.bookmark_interval;
        // Change events sent so far, for the end-watches-after-N fault (crate::faults).
        let mut sent = 0usize;
        loop {
            match self.app.store.events_after(&self.rt.key(), self.cursor, 2048) {
                Err(oldest) => {
                    let status = ApiError::expired(format!("too old resource version: {} ({oldest})", self.cursor));
                    let line = self.encoder.line(&self.rt, "ERROR", &status.to_status());
                    let _ = self.tx.send(line).await;
                    return;
                }
                Ok((events, read_rv)) if events.is_empty() => {
                    self.cursor = self.cursor.max(read_rv);
                    tokio::select! {
                        changed = notify.changed() => {
                            if changed.is_err() { return; }
                        }
                        _ = tokio::time::sleep_until(deadline) => return,
                        _ = tokio::time::sleep_until(next_bookmark) => {
                            next_bookmark = tokio::time::Instant::now() + self.app.bookmark_interval;
                            if self.opts.bookmarks {
                                let line = self.encoder.line(&self.rt, "BOOKMARK", &bookmark(&self.rt, self.cursor, false));
                                if self.tx.send(line).await.is_err() { return; }
                            }
                        }
                        _ = self.tx.closed() => return,
                    }
                }
                Ok((events, _)) => {
                    if self.send_changes(&events, &mut sent).await.is_err() || tokio::time::Instant::now() >= deadline {
                        return;
                    }
                }
            }
        }
    }

    /// The current objects as ADDED events (and the `initial-events-end` BOOKMARK), in chunks
    /// as they are encoded, as the API server writes each event to the stream: a client decodes
    /// the first objects while later ones are encoded.
    async fn send_initial(&mut self, snapshot: Vec<Arc<Value>>) -> Result<(), Ended> {
        let mut chunk = Vec::new();
        for o in snapshot.iter().filter(|o| self.opts.filter.matches(o)) {
            self.encoder.emit(&mut chunk, &self.rt, "ADDED", o, false);
            if chunk.len() >= INITIAL_CHUNK_BYTES {
                self.tx.send(Bytes::from(std::mem::take(&mut chunk))).await.map_err(|_| Ended)?;
            }
        }
        drop(snapshot);
        if self.opts.initial_end_bookmark {
            self.encoder.emit(&mut chunk, &self.rt, "BOOKMARK", &bookmark(&self.rt, self.cursor, true), true);
        }
        if !chunk.is_empty() {
            self.tx.send(Bytes::from(chunk)).await.map_err(|_| Ended)?;
        }
        Ok(())
    }

    /// Stored changes as events for this watch; ends the watch once the injected event limit
    /// (`sent` so far) is reached.
    async fn send_changes(&mut self, events: &[crate::store::Event], sent: &mut usize) -> Result<(), Ended> {
        let mut out = Vec::new();
        let limit = self.app.faults.watch_event_limit();
        let mut limit_reached = limit.is_some_and(|n| *sent >= n);
        for e in events {
            if limit_reached {
                break;
            }
            self.cursor = e.rv;
            let now = self.opts.filter.matches(&e.object);
            let before = e.prev.as_ref().is_some_and(|p| self.opts.filter.matches(p));
            if let Some(ty) = event_type(&e.kind, now, before) {
                self.encoder.emit(&mut out, &self.rt, ty, &e.object, false);
                *sent += 1;
                limit_reached = limit.is_some_and(|n| *sent >= n);
            }
        }
        if !out.is_empty() {
            self.tx.send(Bytes::from(out)).await.map_err(|_| Ended)?;
        }
        if limit_reached { Err(Ended) } else { Ok(()) }
    }
}

/// The chunked reply a watch streams its events into.
fn streaming_reply(body: Body, content_type: &'static str) -> Response {
    let mut r = Response::new(body);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
