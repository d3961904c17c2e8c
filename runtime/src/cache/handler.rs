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

/// Passes only objects accepted by `filter` to `handler`
/// (client-go `FilteringResourceEventHandler`).
///
/// An update is translated by membership, as in client-go: filtered in on
/// both sides → `on_update`; only the new object passes → `on_add(new, false)`;
/// only the old one passes → `on_delete(old)`; neither → nothing.
pub struct FilteringResourceEventHandler<K, H> {
    filter: Box<dyn Fn(&K) -> bool + Send + Sync>,
    handler: H,
}

impl<K, H> fmt::Debug for FilteringResourceEventHandler<K, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilteringResourceEventHandler").finish()
    }
}

impl<K, H> FilteringResourceEventHandler<K, H> {
    /// Wraps `handler` so it only sees objects for which `filter` is true.
    pub fn new(filter: impl Fn(&K) -> bool + Send + Sync + 'static, handler: H) -> Self {
        Self { filter: Box::new(filter), handler }
    }
}

impl<K, H> ResourceEventHandler<K> for FilteringResourceEventHandler<K, H>
where
    K: Send + Sync + 'static,
    H: ResourceEventHandler<K>,
{
    fn on_add(&self, obj: Arc<K>, is_in_initial_list: bool) {
        if (self.filter)(&obj) {
            self.handler.on_add(obj, is_in_initial_list);
        }
    }
    fn on_update(&self, old: Arc<K>, new: Arc<K>) {
        match ((self.filter)(&old), (self.filter)(&new)) {
            (true, true) => self.handler.on_update(old, new),
            (false, true) => self.handler.on_add(new, false),
            (true, false) => self.handler.on_delete(DeletedObject::Object(old)),
            (false, false) => {}
        }
    }
    fn on_delete(&self, obj: DeletedObject<K>) {
        if (self.filter)(obj.object()) {
            self.handler.on_delete(obj);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[test]
    fn funcs_and_filtering_translate_updates() {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (a, u, d) = (log.clone(), log.clone(), log.clone());
        let funcs = ResourceEventHandlerFuncs::<u32>::new()
            .on_add(move |o, i| a.lock().push(format!("add {o} {i}")))
            .on_update(move |o, n| u.lock().push(format!("update {o}->{n}")))
            .on_delete(move |o| d.lock().push(format!("delete {}", o.object())));
        let h = FilteringResourceEventHandler::new(|o: &u32| o.is_multiple_of(2), funcs);
        h.on_add(Arc::new(1), true);
        h.on_add(Arc::new(2), true);
        h.on_update(Arc::new(2), Arc::new(4));
        h.on_update(Arc::new(3), Arc::new(6));
        h.on_update(Arc::new(6), Arc::new(7));
        h.on_update(Arc::new(7), Arc::new(9));
        h.on_delete(DeletedObject::Object(Arc::new(9)));
        h.on_delete(DeletedObject::Object(Arc::new(8)));
        assert_eq!(*log.lock(), ["add 2 true", "update 2->4", "add 6 false", "delete 6", "delete 8"]);
        // Unset callbacks ignore events.
        ResourceEventHandler::on_add(&ResourceEventHandlerFuncs::<u32>::new(), Arc::new(1), false);
    }
}
