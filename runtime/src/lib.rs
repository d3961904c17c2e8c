//! client-go's controller machinery for Rust, on top of `kube`'s watcher.
//!
//! kube-rs gives a generic `Api<K>`, a watcher and a simple reflector store.
//! Controllers written in the client-go style also need what this crate adds:
//! indexed caches with listers, shared informers with add/update/delete
//! handlers (old *and* new object, tombstones for deletions missed during a
//! relist, replay for late handlers, per-handler resync), a factory that shares
//! one watch per type, rate-limited work queues, and leader election.
//!
//! # The pipeline
//!
//! ```text
//!  API server ──list/watch──▶ kube watcher ──▶ Reflector ──▶ DeltaFifo
//!                                                              │ pop (per key, in order)
//!                                                              ▼
//!                                    Indexer (cache) ◀── SharedIndexInformer ──▶ processor
//!                                        ▲                                          │ one listener
//!                                        │ Lister::get / list                       ▼ per handler
//!                                      workers ◀── RateLimitingQueue ◀── handlers (on_add/on_update/on_delete)
//! ```
//!
//! 1. [`cache::Reflector`] turns `kube::runtime::watcher` events into
//!    [`cache::DeltaFifo`] operations; a relist (`Init`…`InitDone`) becomes a
//!    `Replace` that emits tombstones for objects that vanished meanwhile.
//! 2. The [`cache::SharedIndexInformer`] pops deltas, updates the
//!    [`cache::Indexer`] first, then hands notifications to every handler's
//!    own listener, so a slow handler never blocks the others or the cache.
//! 3. Handlers ([`cache::ResourceEventHandler`]) put keys on a
//!    [`workqueue::RateLimitingQueue`]; workers take keys (never the same key
//!    twice at once), read the current state through a [`cache::Lister`], and
//!    converge; failures go back with `add_rate_limited`, successes are
//!    `forget`-ten.
//! 4. [`cache::SharedInformerFactory`] shares one informer per type;
//!    [`leader_election::LeaderElector`] makes sure only one replica runs the
//!    workers. Events are written with [`events::Recorder`] (client-go's
//!    correlation: a new note is a new event, repeats are a series).
//!
//! # Example
//!
//! A controller skeleton (it needs a cluster, so it is only compiled here;
//! `cargo run -p runtime --example pipeline` runs the same pipeline against
//! the workspace devserver, in-process):
//!
//! ```no_run
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use runtime::cache::{ResourceEventHandlerFuncs, SharedInformerFactory, meta_namespace_key, split_meta_namespace_key};
//! use runtime::workqueue::RateLimitingQueue;
//! use std::time::Duration;
//!
//! # async fn reconcile(_: &ConfigMap) -> Result<(), String> { Ok(()) }
//! # async fn run() -> anyhow::Result<()> {
//! let client = kube::Client::try_default().await?;
//! let factory = SharedInformerFactory::new(client, Some(Duration::from_secs(300)));
//! let informer = factory.informer_for::<ConfigMap>();
//! let lister = factory.lister_for::<ConfigMap>();
//! let queue = RateLimitingQueue::<String>::with_default_limiter();
//!
//! // Handlers only enqueue keys (level-based: the worker reads current state).
//! let (q1, q2, q3) = (queue.clone(), queue.clone(), queue.clone());
//! informer.add_event_handler(
//!     ResourceEventHandlerFuncs::<ConfigMap>::new()
//!         .on_add(move |o, _| q1.add(meta_namespace_key(o.as_ref())))
//!         .on_update(move |_, n| q2.add(meta_namespace_key(n.as_ref())))
//!         .on_delete(move |d| q3.add(meta_namespace_key(d.object().as_ref()))),
//! );
//!
//! factory.start();
//! let synced = factory.wait_for_cache_sync(Duration::from_secs(60)).await;
//! anyhow::ensure!(synced.values().all(|s| *s), "caches did not sync: {synced:?}");
//!
//! while let Some(key) = queue.get().await {
//!     let (ns, name) = split_meta_namespace_key(&key);
//!     let result = match lister.namespaced(ns.unwrap_or_default()).get(name) {
//!         Ok(cm) => reconcile(&cm).await,
//!         Err(_not_found) => Ok(()), // deleted: nothing to do
//!     };
//!     match result {
//!         Ok(()) => queue.forget(&key),
//!         Err(_) => queue.add_rate_limited(key.clone()),
//!     }
//!     queue.done(&key);
//! }
//! factory.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The work queue on its own (this one runs as a doctest):
//!
//! ```
//! use runtime::workqueue::Queue;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let q = Queue::new();
//! q.add("ns/a");
//! q.add("ns/a"); // stingy: still one item
//! let key = q.get().await.unwrap();
//! q.add("ns/a"); // re-added while processing: not handed out yet...
//! assert_eq!(q.len(), 0);
//! q.done(&key); // ...but queued again on done
//! assert_eq!(q.get().await, Some("ns/a"));
//! # });
//! ```

pub mod apply;
pub mod cache;
pub mod events;
pub mod leader_election;
pub mod testing;
pub mod workqueue;
