//! Event handlers (client-go `ResourceEventHandler`).

use super::delta_fifo::DeletedObject;
use std::fmt;
use std::sync::Arc;

/// Receives notifications from a [`SharedIndexInformer`](super::SharedIndexInformer).
///
/// Each registered handler runs on its own task with its own unbounded buffer
/// (client-go's `processorListener`), so a slow handler delays only itself.
/// Handlers are called one notification at a time, in order. Keep them cheap:
/// the usual handler computes a key and adds it to a work queue. They are
/// synchronous and run on a Tokio task: a handler that blocks holds a runtime
/// worker thread, so on a multi-threaded runtime it delays only its own buffer,
/// while on a current-thread runtime it stalls everything. A handler that
/// panics is logged and keeps receiving later notifications.
///
/// Objects are shared with the cache: never mutate them (the `Arc` makes that
/// explicit); clone the inner value to change it.
pub trait ResourceEventHandler<K>: Send + Sync + 'static {
    /// An object appeared. `is_in_initial_list` is true for objects of the
    /// informer's first list and for the replay a late handler receives.
    fn on_add(&self, obj: Arc<K>, is_in_initial_list: bool) {
        let _ = (obj, is_in_initial_list);
    }
    /// An object changed, or a resync re-delivered it (then `old` and `new`
    /// are the same object).
    fn on_update(&self, old: Arc<K>, new: Arc<K>) {
        let _ = (old, new);
    }
    /// An object was deleted; a relist that found it missing delivers a
    /// [`DeletedObject::Tombstone`] with the last known state.
    fn on_delete(&self, obj: DeletedObject<K>) {
        let _ = obj;
    }
}

type AddFn<K> = Box<dyn Fn(Arc<K>, bool) + Send + Sync>;
type UpdateFn<K> = Box<dyn Fn(Arc<K>, Arc<K>) + Send + Sync>;
type DeleteFn<K> = Box<dyn Fn(DeletedObject<K>) + Send + Sync>;

/// A [`ResourceEventHandler`] made of closures (client-go `ResourceEventHandlerFuncs`);
/// unset callbacks ignore their events.
pub struct ResourceEventHandlerFuncs<K> {
    add: Option<AddFn<K>>,
    update: Option<UpdateFn<K>>,
    delete: Option<DeleteFn<K>>,
}

impl<K> fmt::Debug for ResourceEventHandlerFuncs<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceEventHandlerFuncs")
            .field("add", &self.add.is_some())
            .field("update", &self.update.is_some())
            .field("delete", &self.delete.is_some())
            .finish()
    }
}

impl<K> Default for ResourceEventHandlerFuncs<K> {
    fn default() -> Self {
        Self { add: None, update: None, delete: None }
    }
}

impl<K> ResourceEventHandlerFuncs<K> {
    /// A handler that ignores everything until callbacks are set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the add callback.
    pub fn on_add(mut self, f: impl Fn(Arc<K>, bool) + Send + Sync + 'static) -> Self {
        self.add = Some(Box::new(f));
        self
    }
    /// Sets the update callback.
    pub fn on_update(mut self, f: impl Fn(Arc<K>, Arc<K>) + Send + Sync + 'static) -> Self {
        self.update = Some(Box::new(f));
        self
    }
    /// Sets the delete callback.
    pub fn on_delete(mut self, f: impl Fn(DeletedObject<K>) + Send + Sync + 'static) -> Self {
        self.delete = Some(Box::new(f));
        self
    }
}

impl<K: Send + Sync + 'static> ResourceEventHandler<K> for ResourceEventHandlerFuncs<K> {
    fn on_add(&self, obj: Arc<K>, is_in_initial_list: bool) {
        if let Some(f) = &self.add {
            f(obj, is_in_initial_list)
        }
    }
    fn on_update(&self, old: Arc<K>, new: Arc<K>) {
        if let Some(f) = &self.update {
            f(old, new)
        }
    }
    fn on_delete(&self, obj: DeletedObject<K>) {
        if let Some(f) = &self.delete {
            f(obj)
        }
    }
}
