//! Kubernetes Events (`events.k8s.io/v1`) with client-go's event correlation, so that what
//! `kubectl describe` and `kubectl events` show is true when shown.
//!
//! kube's `Recorder` (like client-go's newer `tools/events`) folds every repeat of a reason and
//! action about an object into the first event's series, keeping the first note: after scaling
//! 3→5 and later 5→2, the event still reads "from 3 to 5" with count 2. This recorder follows
//! client-go's `tools/record` correlator instead (`EventCorrelator`):
//!
//! - **de-duplication** on the whole event, note included: an identical event patches the
//!   series of the earlier one (count, last observed time); a new note is a new event. A series
//!   ends after [`SERIES_TTL`] without a repeat.
//! - **aggregation**: when an object gets [`AGGREGATE_AFTER`] distinct notes of one reason and
//!   action within [`AGGREGATE_WINDOW`], further ones are folded into one event whose note is
//!   `(combined from similar events): <latest note>`, updated on each repeat.
//! - **spam filtering**: a token bucket per object ([`SPAM_BURST`] events, then one per
//!   [`SPAM_REFILL`]); events beyond it are dropped (and logged at debug level).
//!
//! [`Event`], [`EventType`] and [`Reporter`] are kube's, so code written against kube's
//! recorder moves over by changing the recorder's type.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use kube::runtime::events::{Event, EventType, Reporter};

/// A repeat later than this after the last one starts a new event (client-go's series window).
pub const SERIES_TTL: Duration = Duration::from_secs(6 * 60);
/// The window in which distinct notes of one reason are counted for aggregation.
pub const AGGREGATE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Distinct notes within [`AGGREGATE_WINDOW`] after which they are combined into one event.
pub const AGGREGATE_AFTER: usize = 10;
/// Events an object may get at once before the spam filter drops them.
pub const SPAM_BURST: u32 = 25;
/// The time after which the spam filter grants one more event to an object.
pub const SPAM_REFILL: Duration = Duration::from_secs(5 * 60);
/// The prefix of an aggregated event's note (client-go's).
pub const COMBINED_PREFIX: &str = "(combined from similar events): ";
/// Entries kept per cache; the least recently observed go first.
const CACHE_LIMIT: usize = 4096;

/// What makes events "similar": everything but the note.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SimilarKey {
    regarding: String,
    related: String,
    type_: &'static str,
    reason: String,
    action: String,
}

/// One event series: the similar key and the note (`None` for the aggregated event).
type SeriesKey = (SimilarKey, Option<String>);

#[derive(Clone, Debug)]
struct Observed {
    name: String,
    namespace: String,
    count: i32,
    last: Instant,
}

#[derive(Debug)]
struct Notes {
    since: Instant,
    seen: BTreeSet<String>,
}

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    refilled: Instant,
}

/// What to write for one published event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Create a new event with this note.
    Create {
        /// The note (prefixed with [`COMBINED_PREFIX`] when aggregated).
        note: Option<String>,
    },
    /// Patch the series of an earlier event.
    Repeat {
        /// The earlier event's name.
        name: String,
        /// Its namespace.
        namespace: String,
        /// The new series count.
        count: i32,
        /// The note to show now.
        note: Option<String>,
    },
    /// Dropped by the spam filter.
    Drop,
}

/// The correlator's memory: series, distinct notes and spam buckets (client-go's caches).
#[derive(Debug, Default)]
pub struct Correlator {
    series: HashMap<SeriesKey, Observed>,
    notes: HashMap<SimilarKey, Notes>,
    buckets: HashMap<String, Bucket>,
}

fn reference_key(r: &ObjectReference) -> String {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    format!("{}/{}/{}/{}/{}", s(&r.api_version), s(&r.kind), s(&r.namespace), s(&r.name), s(&r.uid))
}

fn similar_key(ev: &Event, regarding: &ObjectReference) -> SimilarKey {
    SimilarKey {
        regarding: reference_key(regarding),
        related: ev.secondary.as_ref().map(reference_key).unwrap_or_default(),
        type_: match ev.type_ {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        },
        reason: ev.reason.clone(),
        action: ev.action.clone(),
    }
}

impl Correlator {
    /// Decides what `ev` about `regarding` becomes at `now`; the spam filter's token and the
    /// note are counted here, the series once [`Recorder::publish`] wrote the event.
    pub fn decide(&mut self, ev: &Event, regarding: &ObjectReference, now: Instant) -> Decision {
        self.decide_keyed(ev, regarding, now).0
    }

    fn decide_keyed(&mut self, ev: &Event, regarding: &ObjectReference, now: Instant) -> (Decision, SeriesKey) {
        let similar = similar_key(ev, regarding);
        let bucket =
            self.buckets.entry(similar.regarding.clone()).or_insert(Bucket { tokens: SPAM_BURST, refilled: now });
        let refills = (now.duration_since(bucket.refilled).as_secs_f64() / SPAM_REFILL.as_secs_f64()) as u32;
        if refills > 0 {
            bucket.tokens = (bucket.tokens + refills).min(SPAM_BURST);
            bucket.refilled = now;
        }
        if bucket.tokens == 0 {
            return (Decision::Drop, (similar, None));
        }
        bucket.tokens -= 1;

        let notes = self.notes.entry(similar.clone()).or_insert(Notes { since: now, seen: BTreeSet::new() });
        if now.duration_since(notes.since) > AGGREGATE_WINDOW {
            *notes = Notes { since: now, seen: BTreeSet::new() };
        }
        let note = ev.note.clone().unwrap_or_default();
        notes.seen.insert(note.clone());
        let (key, shown) = if notes.seen.len() >= AGGREGATE_AFTER {
            ((similar, None), Some(format!("{COMBINED_PREFIX}{note}")))
        } else {
            ((similar, Some(note)), ev.note.clone())
        };
        let decision = match self.series.get(&key) {
            Some(o) if now.duration_since(o.last) <= SERIES_TTL => Decision::Repeat {
                name: o.name.clone(),
                namespace: o.namespace.clone(),
                count: o.count + 1,
                note: shown,
            },
            _ => Decision::Create { note: shown },
        };
        (decision, key)
    }

    /// Records that the event of `key` (as [`Correlator::decide`] computed it) was written.
    fn written(&mut self, key: SeriesKey, observed: Observed) {
        if self.series.len() >= CACHE_LIMIT && !self.series.contains_key(&key) {
            let oldest = self.series.iter().min_by_key(|(_, o)| o.last).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.series.remove(&k);
            }
        }
        self.series.insert(key, observed);
        if self.notes.len() > CACHE_LIMIT {
            self.notes.retain(|_, n| n.since.elapsed() <= AGGREGATE_WINDOW);
        }
        if self.buckets.len() > CACHE_LIMIT {
            self.buckets.retain(|_, b| b.tokens < SPAM_BURST);
        }
    }
}

/// Publishes events through the API server with client-go's correlation (see the module docs).
/// Cheap to clone; clones share the correlator.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    reporter: Reporter,
    state: Arc<tokio::sync::Mutex<Correlator>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("reporter", &self.reporter).finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder writing as `reporter` (the event's reportingController/Instance).
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Self { client, reporter, state: Default::default() }
    }

    /// Publishes `ev` about `regarding`: a new event, a series update of an identical earlier
    /// one, or nothing (spam filter). Events go to `regarding`'s namespace (`default` for a
    /// cluster-scoped object), which needs `create` and `patch` on `events.events.k8s.io`.
    pub async fn publish(&self, ev: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        // One publish at a time: a repeat must see the series its predecessor created.
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let (decision, key) = state.decide_keyed(ev, regarding, now);
        let namespace = regarding.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let observed = match decision {
            Decision::Drop => {
                tracing::debug!(reason = %ev.reason, "event dropped by the spam filter");
                return Ok(());
            }
            Decision::Repeat { name, namespace, count, note } => {
                let patch = serde_json::json!({
                    "note": note,
                    "series": {"count": count, "lastObservedTime": MicroTime(k8s_openapi::jiff::Timestamp::now())},
                });
                let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
                match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Ok(_) => Observed { name, namespace, count, last: now },
                    // The server dropped the event (its TTL): start over.
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        let created = api.create(&PostParams::default(), &self.event(ev, regarding, &note)).await?;
                        Observed { name: created.metadata.name.unwrap_or_default(), namespace, count: 1, last: now }
                    }
                    Err(e) => return Err(e),
                }
            }
            Decision::Create { note } => {
                let created = api.create(&PostParams::default(), &self.event(ev, regarding, &note)).await?;
                Observed { name: created.metadata.name.unwrap_or_default(), namespace, count: 1, last: now }
            }
        };
        state.written(key, observed);
        Ok(())
    }

    fn event(&self, ev: &Event, regarding: &ObjectReference, note: &Option<String>) -> K8sEvent {
        let now = k8s_openapi::jiff::Timestamp::now();
        let base = regarding.name.clone().unwrap_or_else(|| self.reporter.controller.clone());
        K8sEvent {
            metadata: ObjectMeta {
                name: Some(format!("{base}.{:x}", now.as_nanosecond())),
                namespace: regarding.namespace.clone().filter(|n| !n.is_empty()),
                ..Default::default()
            },
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            note: note.clone(),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: ev.secondary.clone(),
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter.instance.clone().unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .into(),
            ),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note.into()),
            action: "Reconcile".into(),
            secondary: None,
        }
    }

    fn object(name: &str) -> ObjectReference {
        ObjectReference { name: Some(name.into()), namespace: Some("ns".into()), ..Default::default() }
    }

    /// Runs `decide` and records the write, as `publish` does, returning the decision.
    fn step(c: &mut Correlator, e: &Event, o: &ObjectReference, now: Instant) -> Decision {
        let (d, key) = c.decide_keyed(e, o, now);
        let (count, name) = match &d {
            Decision::Create { .. } => (1, format!("e{}", c.series.len())),
            Decision::Repeat { count, name, .. } => (*count, name.clone()),
            Decision::Drop => return d,
        };
        c.written(key, Observed { name, namespace: "ns".into(), count, last: now });
        d
    }

    #[test]
    fn identical_events_make_a_series_and_a_new_note_a_new_event() {
        let mut c = Correlator::default();
        let (net, t) = (object("net"), Instant::now());
        let up = ev("Scaled", "from 3 to 5");
        assert_eq!(step(&mut c, &up, &net, t), Decision::Create { note: Some("from 3 to 5".into()) });
        let again = step(&mut c, &up, &net, t + Duration::from_secs(1));
        assert!(matches!(again, Decision::Repeat { count: 2, .. }), "{again:?}");
        let down = step(&mut c, &ev("Scaled", "from 5 to 2"), &net, t + Duration::from_secs(2));
        assert_eq!(down, Decision::Create { note: Some("from 5 to 2".into()) }, "a new note is a new event");
        let other = step(&mut c, &up, &object("other"), t + Duration::from_secs(3));
        assert!(matches!(other, Decision::Create { .. }), "another object: its own event");
        let late = step(&mut c, &up, &net, t + Duration::from_secs(2) + SERIES_TTL + Duration::from_secs(1));
        assert!(matches!(late, Decision::Create { .. }), "after the series window: a new event: {late:?}");
    }

    #[test]
    fn many_distinct_notes_are_combined_into_one_event() {
        let mut c = Correlator::default();
        let (net, t) = (object("net"), Instant::now());
        for i in 0..AGGREGATE_AFTER - 1 {
            let d = step(&mut c, &ev("Scaled", &format!("note {i}")), &net, t);
            assert!(matches!(d, Decision::Create { .. }), "{i}: {d:?}");
        }
        let d = step(&mut c, &ev("Scaled", "note 9"), &net, t);
        assert_eq!(d, Decision::Create { note: Some(format!("{COMBINED_PREFIX}note 9")) });
        let d = step(&mut c, &ev("Scaled", "note 10"), &net, t);
        assert!(
            matches!(&d, Decision::Repeat { count: 2, note: Some(n), .. } if n == &format!("{COMBINED_PREFIX}note 10")),
            "the combined event shows the latest note: {d:?}"
        );
        let d = step(&mut c, &ev("Created", "x"), &net, t);
        assert_eq!(d, Decision::Create { note: Some("x".into()) }, "another reason is not combined");
    }

    #[test]
    fn the_spam_filter_drops_beyond_the_burst_and_refills() {
        let mut c = Correlator::default();
        let (net, t) = (object("net"), Instant::now());
        for i in 0..SPAM_BURST {
            assert_ne!(step(&mut c, &ev("R", "same"), &net, t), Decision::Drop, "{i}");
        }
        assert_eq!(step(&mut c, &ev("R", "same"), &net, t), Decision::Drop);
        assert_ne!(step(&mut c, &ev("R", "same"), &object("b"), t), Decision::Drop, "per object");
        assert_ne!(step(&mut c, &ev("R", "same"), &net, t + SPAM_REFILL), Decision::Drop, "refilled");
    }
}
