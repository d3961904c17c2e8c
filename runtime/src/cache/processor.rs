//! Fans notifications out to every handler's listener
//! (client-go `sharedProcessor`).

use super::handler::ResourceEventHandler;
use super::listener::{ListenerHandle, ListenerShared, Notification, listener};
use parking_lot::Mutex;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// client-go's `minimumResyncPeriod`: shorter handler resync periods are raised to it.
pub const MINIMUM_RESYNC_PERIOD: Duration = Duration::from_secs(1);

type Labels = Vec<(String, String)>;
type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Metrics of informers: the number of notifications waiting in each
/// handler's buffer (`informer_handler_pending_notifications{resource,handler}`).
#[derive(Clone, Debug, Default)]
pub struct InformerMetrics {
    pending: Family<Labels, Gauge>,
}

impl InformerMetrics {
    /// Creates the families and registers them under the `informer` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.sub_registry_with_prefix("informer").register(
            "handler_pending_notifications",
            "Notifications buffered for an event handler and not yet handled",
            m.pending.clone(),
        );
        m
    }

    fn gauge(&self, resource: &str, handler: u64) -> Gauge {
        self.pending
            .get_or_create(&vec![
                ("resource".to_string(), resource.to_string()),
                ("handler".to_string(), handler.to_string()),
            ])
            .clone()
    }
}

struct Entry<K> {
    id: u64,
    handle: ListenerHandle<K>,
    resync_period: Option<Duration>,
    next_resync: Instant,
    /// Due for a resync: `Sync` notifications go only to these listeners.
    syncing: bool,
}

struct State<K> {
    listeners: Vec<Entry<K>>,
    next_id: u64,
    running: bool,
    synced: bool,
    unstarted: Vec<BoxFuture>,
    tasks: Vec<JoinHandle<()>>,
}

/// The set of listeners of one informer.
pub(crate) struct Processor<K> {
    state: Mutex<State<K>>,
    metrics: Option<(InformerMetrics, String)>,
}

impl<K: Send + Sync + 'static> Processor<K> {
    pub(crate) fn new(metrics: Option<(InformerMetrics, String)>) -> Self {
        Self {
            state: Mutex::new(State {
                listeners: Vec::new(),
                next_id: 0,
                running: false,
                synced: false,
                unstarted: Vec::new(),
                tasks: Vec::new(),
            }),
            metrics,
        }
    }

    /// Registers a handler. `replay` is sent first as initial adds (a late
    /// handler gets the cache's content); the caller holds the FIFO lock so no
    /// delta is processed between the snapshot and the registration.
    pub(crate) fn add(
        &self,
        handler: Arc<dyn ResourceEventHandler<K>>,
        resync_period: Option<Duration>,
        replay: Vec<Arc<K>>,
    ) -> (u64, Arc<ListenerShared>) {
        let mut s = self.state.lock();
        let id = s.next_id;
        s.next_id += 1;
        let pending = match &self.metrics {
            Some((m, resource)) => m.gauge(resource, id),
            None => Gauge::default(),
        };
        let shared = Arc::new(ListenerShared { pending, ..Default::default() });
        let (handle, run) = listener(handler, shared.clone());
        for obj in replay {
            handle.send(Notification::Add { obj, initial: true });
        }
        if s.synced {
            handle.send(Notification::Synced);
        }
        let resync_period = resync_period.filter(|p| !p.is_zero()).map(|p| p.max(MINIMUM_RESYNC_PERIOD));
        s.listeners.push(Entry {
            id,
            handle,
            resync_period,
            next_resync: Instant::now() + resync_period.unwrap_or_default(),
            syncing: false,
        });
        if s.running {
            s.tasks.push(tokio::spawn(run));
        } else {
            s.unstarted.push(Box::pin(run));
        }
        (id, shared)
    }

    /// Removes a handler; its task stops without handling what is still buffered.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut s = self.state.lock();
        let Some(pos) = s.listeners.iter().position(|e| e.id == id) else {
            return false;
        };
        let e = s.listeners.remove(pos);
        e.handle.shared.stopped.store(true, Ordering::Release);
        true
    }

    /// Spawns the tasks of handlers registered before start.
    pub(crate) fn start(&self) {
        let mut s = self.state.lock();
        s.running = true;
        let unstarted = std::mem::take(&mut s.unstarted);
        for run in unstarted {
            s.tasks.push(tokio::spawn(run));
        }
    }

    /// Stops every listener and returns their tasks to await.
    pub(crate) fn stop(&self) -> Vec<JoinHandle<()>> {
        let mut s = self.state.lock();
        s.running = false;
        for e in s.listeners.drain(..) {
            e.handle.shared.stopped.store(true, Ordering::Release);
        }
        s.unstarted.clear();
        std::mem::take(&mut s.tasks)
    }

    /// Sends `n` to every listener, or only to those due for a resync when
    /// `sync` is set (client-go `distribute`).
    pub(crate) fn distribute(&self, n: Notification<K>, sync: bool) {
        let s = self.state.lock();
        for e in s.listeners.iter().filter(|e| !sync || e.syncing) {
            e.handle.send(n.clone());
        }
    }

    /// The informer finished its initial list: tell every listener, so their
    /// registrations report synced once they have handled everything before.
    pub(crate) fn mark_synced(&self) {
        let mut s = self.state.lock();
        if s.synced {
            return;
        }
        s.synced = true;
        for e in &s.listeners {
            e.handle.send(Notification::Synced);
        }
    }

    /// Marks the listeners whose resync is due; true if any is
    /// (client-go `shouldResync`).
    pub(crate) fn should_resync(&self, now: Instant) -> bool {
        let mut s = self.state.lock();
        let mut any = false;
        for e in s.listeners.iter_mut() {
            e.syncing = false;
            if let Some(p) = e.resync_period
                && now >= e.next_resync
            {
                e.syncing = true;
                e.next_resync = now + p;
                any = true;
            }
        }
        any
    }

    /// When the next handler resync is due.
    pub(crate) fn next_resync_at(&self) -> Option<Instant> {
        let s = self.state.lock();
        s.listeners.iter().filter(|e| e.resync_period.is_some()).map(|e| e.next_resync).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::handler::ResourceEventHandlerFuncs;
    use std::sync::atomic::AtomicUsize;

    fn counting(n: Arc<AtomicUsize>) -> Arc<dyn ResourceEventHandler<u32>> {
        Arc::new(ResourceEventHandlerFuncs::new().on_update(move |_, _| {
            n.fetch_add(1, Ordering::SeqCst);
        }))
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sync_updates_go_only_to_due_listeners() {
        let p = Processor::<u32>::new(None);
        let (fast, slow, none) = (Arc::default(), Arc::default(), Arc::<AtomicUsize>::default());
        p.add(counting(Arc::clone(&fast)), Some(Duration::from_secs(2)), vec![]);
        p.add(counting(Arc::clone(&slow)), Some(Duration::from_secs(10)), vec![]);
        p.add(counting(Arc::clone(&none)), None, vec![]);
        p.start();
        let t0 = Instant::now();
        assert_eq!(p.next_resync_at(), Some(t0 + Duration::from_secs(2)));
        assert!(!p.should_resync(t0));
        assert!(p.should_resync(t0 + Duration::from_secs(3)));
        let obj = Arc::new(1u32);
        p.distribute(Notification::Update { old: obj.clone(), new: obj.clone() }, true);
        // A real (non-sync) update goes to everyone.
        p.distribute(Notification::Update { old: obj.clone(), new: obj }, false);
        settle().await;
        assert_eq!(fast.load(Ordering::SeqCst), 2);
        assert_eq!(slow.load(Ordering::SeqCst), 1);
        assert_eq!(none.load(Ordering::SeqCst), 1);
        for t in p.stop() {
            t.await.unwrap();
        }
    }

    #[tokio::test]
    async fn resync_period_has_a_minimum_and_removal_stops_delivery() {
        let p = Processor::<u32>::new(None);
        let n = Arc::<AtomicUsize>::default();
        let (id, _) = p.add(counting(n.clone()), Some(Duration::from_millis(1)), vec![]);
        let t0 = Instant::now();
        assert!(p.next_resync_at().unwrap() >= t0 + MINIMUM_RESYNC_PERIOD - Duration::from_millis(5));
        p.start();
        assert!(p.remove(id));
        assert!(!p.remove(id));
        let obj = Arc::new(1u32);
        p.distribute(Notification::Update { old: obj.clone(), new: obj }, false);
        settle().await;
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn panicking_handler_keeps_running_and_pending_is_a_metric() {
        let mut reg = Registry::default();
        let m = InformerMetrics::register(&mut reg);
        let p = Processor::<u32>::new(Some((m, "/api/v1/things".into())));
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        let h: Arc<dyn ResourceEventHandler<u32>> =
            Arc::new(ResourceEventHandlerFuncs::new().on_add(move |o: Arc<u32>, _| {
                if *o == 0 {
                    panic!("handler bug");
                }
                s.fetch_add(1, Ordering::SeqCst);
            }));
        // Not started yet: notifications wait in the buffer, visible as a metric.
        let (_, shared) = p.add(h, None, vec![Arc::new(0), Arc::new(1), Arc::new(2)]);
        assert_eq!(shared.pending.get(), 3);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        assert!(
            out.contains("informer_handler_pending_notifications{resource=\"/api/v1/things\",handler=\"0\"} 3"),
            "{out}"
        );
        p.mark_synced();
        p.start();
        settle().await;
        assert_eq!(seen.load(Ordering::SeqCst), 2, "later notifications still handled");
        assert_eq!(shared.pending.get(), 0);
        assert!(shared.synced.load(Ordering::SeqCst));
    }
}
