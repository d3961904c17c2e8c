//! Per-resource strategies, as kube-apiserver's registry gives every resource one: what is
//! special about a kind when an object of it is created, updated, validated and deleted. The
//! generic verbs in `handlers` call these hooks and never ask which kind they serve; a new
//! special case is a new implementation here, not an `if` in a verb.
//!
//! The hooks follow kube-apiserver's `RESTCreateStrategy`/`RESTUpdateStrategy`/
//! `RESTDeleteStrategy` and the generic store's hooks (`AfterCreate`, `AfterUpdate`,
//! `AfterDelete`, `ReturnDeletedObject`, `DefaultGarbageCollectionPolicy`). Defaulting itself is
//! the scheme's ([`crate::defaults`]) and the kind's field rules are [`crate::validation`]'s; a
//! strategy decides which of them apply.

mod builtin;
mod crds;
mod custom;
mod events;
mod namespaces;
mod pods;
mod services;

use crate::app::App;
use crate::error::{ApiResult, Cause};
use crate::resource::ResourceType;
use crate::store::Outcome;
use serde_json::Value;

/// What one resource's registry does beyond the generic verbs. Every hook has the default of
/// a plain kind; an implementation overrides what its kind does differently.
pub(crate) trait Strategy: Sync {
    /// `PrepareForCreate`: what the server sets on a new object beyond the generic metadata
    /// (defaults, the initial status, allocated values). `app` is there for allocations that
    /// must not collide with stored objects.
    fn prepare_for_create(&self, _app: &App, _rt: &ResourceType, _obj: &mut Value) {}

    /// `PrepareForUpdate`: what every update's desired object gets before the update rules
    /// (normalisation, defaults, values kept from the stored object `old`); `sub` is the
    /// subresource written (`status`, `finalize`), if any.
    fn prepare_for_update(&self, _rt: &ResourceType, _old: &Value, _new: &mut Value, _sub: Option<&str>) {}

    /// `Validate` / `ValidateUpdate` beyond object metadata and decoding: the kind's own field
    /// rules; `old` is the stored object on an update.
    fn validate(&self, _rt: &ResourceType, _obj: &Value, _old: Option<&Value>) -> Vec<Cause> {
        Vec::new()
    }

    /// `BeginCreate`/`BeginUpdate`: the values the kind allocates for a valid object (`old` is
    /// the stored one on an update), or why it cannot have what it asks for (an Invalid reply).
    fn allocate(&self, _app: &App, _obj: &mut Value, _old: Option<&Value>) -> Vec<Cause> {
        Vec::new()
    }

    /// `AllowUnconditionalUpdate`: whether a PUT without `metadata.resourceVersion` overwrites
    /// (built-in kinds) or is refused (custom resources).
    fn allow_unconditional_update(&self) -> bool {
        true
    }

    /// Whether names are DNS labels (namespaces) rather than DNS subdomains.
    fn name_is_label(&self) -> bool {
        false
    }

    /// Whether `metadata.generation` is kept (1 on create, +1 per spec change): the kinds with
    /// a spec and a status.
    fn has_generation(&self) -> bool {
        false
    }

    /// Whether an update moves `metadata.generation` on (for a kind that keeps one): a change
    /// outside metadata (and status, where status is a subresource).
    fn generation_moves(&self, rt: &ResourceType, old: &Value, new: &Value) -> bool {
        spec_changed(rt, old, new)
    }

    /// Whether a completed delete answers with the object (`ReturnDeletedObject`) rather than
    /// a `Status`.
    fn returns_deleted_object(&self) -> bool {
        false
    }

    /// Whether a delete without a propagation policy orphans the dependents
    /// (`DefaultGarbageCollectionPolicy`); everything else propagates in the background.
    fn orphans_by_default(&self) -> bool {
        false
    }

    /// `BeforeDelete`'s refusals: objects that may never be deleted.
    fn check_delete(&self, _name: &str) -> ApiResult<()> {
        Ok(())
    }

    /// The finalizer the registry itself puts on an object whose deletion begins (its cleanup
    /// runs in [`Self::after_write`]).
    fn deletion_finalizer(&self) -> Option<&'static str> {
        None
    }

    /// What else changes on an object whose deletion begins (a phase, a condition).
    fn begin_delete(&self, _obj: &mut Value, _now: &str) {}

    /// Whether an object being deleted without `metadata.finalizers` still waits (a
    /// namespace's `spec.finalizers`).
    fn awaits_finalization(&self, _obj: &Value) -> bool {
        false
    }

    /// `AfterCreate` / `AfterUpdate` / `AfterDelete`: what follows a stored write.
    fn after_write(&self, _app: &App, _rt: &ResourceType, _outcome: &Outcome) {}
}

/// What an object is without its metadata (and status, where status is a subresource).
fn spec_part(obj: &Value, status_subresource: bool) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if status_subresource {
            m.remove("status");
        }
    }
    o
}

/// Whether anything outside metadata (and status, where status is a subresource) differs.
fn spec_changed(rt: &ResourceType, old: &Value, new: &Value) -> bool {
    spec_part(new, rt.status_subresource) != spec_part(old, rt.status_subresource)
}

/// The strategy of `rt`.
pub(crate) fn of(rt: &ResourceType) -> &'static dyn Strategy {
    if rt.custom {
        return &custom::CustomResources;
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => &namespaces::Namespaces,
        ("", "pods") => &pods::Pods,
        ("", "services") => &services::Services,
        ("", "events") => &events::CORE,
        ("events.k8s.io", "events") => &events::EVENTS_V1,
        ("apiextensions.k8s.io", "customresourcedefinitions") => &crds::Crds,
        (group, plural) => builtin::of(group, plural),
    }
}
