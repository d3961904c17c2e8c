//! Events, through both APIs: Go's always-written core/v1 fields (the scheme's part, in
//! [`crate::defaults`]) and each API's validation. That events.k8s.io/v1 is a view of the core/v1
//! store is storage's concern ([`crate::events_view`]).

use super::Strategy;
use crate::app::App;
use crate::error::Cause;
use crate::resource::ResourceType;
use serde_json::Value;

pub(super) struct Events {
    /// events.k8s.io/v1's stricter rules (`eventTime` required, `type` Normal or Warning).
    strict: bool,
}

/// core/v1 Events.
pub(super) const CORE: Events = Events { strict: false };
/// events.k8s.io/v1 Events.
pub(super) const EVENTS_V1: Events = Events { strict: true };

impl Strategy for Events {
    fn prepare_for_create(&self, _app: &App, rt: &ResourceType, obj: &mut Value) {
        crate::defaults::apply(&rt.group, &rt.plural, obj, true);
    }

    fn prepare_for_update(&self, rt: &ResourceType, _old: &Value, new: &mut Value, _sub: Option<&str>) {
        crate::defaults::apply(&rt.group, &rt.plural, new, false);
    }

    fn validate(&self, _rt: &ResourceType, obj: &Value, _old: Option<&Value>) -> Vec<Cause> {
        crate::validation::event(obj, self.strict)
    }
}
