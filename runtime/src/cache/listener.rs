//! One handler's private buffer and task (client-go `processorListener`).

use super::delta_fifo::DeletedObject;
use super::handler::ResourceEventHandler;
use prometheus_client::metrics::gauge::Gauge;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Notifications a listener takes from its buffer at once.
const LISTENER_BATCH: usize = 64;

/// A notification queued for one handler.
pub(crate) enum Notification<K> {
    Add {
        obj: Arc<K>,
        initial: bool,
    },
    Update {
        old: Arc<K>,
        new: Arc<K>,
    },
    Delete(DeletedObject<K>),
    /// Marks the end of the initial list for this handler.
    Synced,
}

impl<K> Clone for Notification<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Add { obj, initial } => Self::Add { obj: obj.clone(), initial: *initial },
            Self::Update { old, new } => Self::Update { old: old.clone(), new: new.clone() },
            Self::Delete(d) => Self::Delete(d.clone()),
            Self::Synced => Self::Synced,
        }
    }
}

/// The sending side of a listener, owned by the processor.
///
/// Invariant: the buffer is unbounded (as client-go's growing ring buffer), so
/// `send` never blocks the informer; `pending` counts notifications sent and
/// not yet handled, and is the metric that shows a handler falling behind.
pub(crate) struct ListenerHandle<K> {
    tx: mpsc::UnboundedSender<Notification<K>>,
    pub(crate) shared: Arc<ListenerShared>,
}

/// State shared between a listener's handle, its task and its registration.
#[derive(Debug, Default)]
pub(crate) struct ListenerShared {
    pub(crate) pending: Gauge,
    pub(crate) synced: AtomicBool,
    pub(crate) stopped: AtomicBool,
}

impl<K> ListenerHandle<K> {
    pub(crate) fn send(&self, n: Notification<K>) {
        if self.tx.send(n).is_ok() {
            self.shared.pending.inc();
        }
    }
}

/// Creates a listener: the handle and the future that runs the handler.
pub(crate) fn listener<K: Send + Sync + 'static>(
    handler: Arc<dyn ResourceEventHandler<K>>,
    shared: Arc<ListenerShared>,
) -> (ListenerHandle<K>, impl Future<Output = ()> + Send + 'static) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Notification<K>>();
    let task_shared = shared.clone();
    let run = async move {
        // Everything buffered is taken at once: one wake-up and one channel operation per burst.
        let mut batch = Vec::with_capacity(LISTENER_BATCH);
        'recv: while rx.recv_many(&mut batch, LISTENER_BATCH).await > 0 {
            for n in batch.drain(..) {
                task_shared.pending.dec();
                if task_shared.stopped.load(Ordering::Acquire) {
                    break 'recv;
                }
                let h = &handler;
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| match n {
                    Notification::Add { obj, initial } => h.on_add(obj, initial),
                    Notification::Update { old, new } => h.on_update(old, new),
                    Notification::Delete(d) => h.on_delete(d),
                    Notification::Synced => task_shared.synced.store(true, Ordering::Release),
                }));
                if result.is_err() {
                    tracing::error!("event handler panicked; continuing with the next notification");
                }
            }
        }
    };
    (ListenerHandle { tx, shared }, run)
}
