//! Informer machinery (client-go `tools/cache`): a reflector over kube's
//! watcher feeding a Delta FIFO, an indexed store, a shared informer that fans
//! notifications out to handlers, listers, and a factory sharing informers.

mod delta_fifo;
mod factory;
mod handler;
mod index;
mod listener;
mod lister;
mod managed_fields;
mod processor;
mod reflector;
mod shared_informer;
mod store;

pub use delta_fifo::{DeletedFinalStateUnknown, DeletedObject, Delta, DeltaFifo};
pub use factory::{
    InformerScope, SharedInformerFactory, SharedInformerFactoryBuilder, TweakListOptions, default_watcher_config,
};
pub use handler::{FilteringResourceEventHandler, ResourceEventHandler, ResourceEventHandlerFuncs};
pub use index::{IndexError, IndexFunc, Indexers, NAMESPACE_INDEX, namespace_index_func};
pub use lister::{Lister, NamespaceLister, NotFound};
pub use managed_fields::WithoutManagedFields;
pub use processor::{InformerMetrics, MINIMUM_RESYNC_PERIOD};
pub use reflector::{Reflector, Transform, strip_managed_fields};
pub use shared_informer::{HandlerRegistration, InformerOptions, SharedIndexInformer};
pub use store::{Indexer, meta_namespace_key, split_meta_namespace_key};
