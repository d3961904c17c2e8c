//! Custom resources (apiextensions-apiserver's strategy): a new object's status is dropped when
//! the status subresource owns it; the CRD version's structural schema validates, with
//! ratcheting on update (a value that did not change may keep failing a tightened schema).

use super::Strategy;
use crate::app::App;
use crate::error::Cause;
use crate::resource::ResourceType;
use crate::schema;
use serde_json::Value;

pub(super) struct CustomResources;

impl Strategy for CustomResources {
    fn prepare_for_create(&self, _app: &App, rt: &ResourceType, obj: &mut Value) {
        if rt.status_subresource
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
    }

    fn validate(&self, rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
        let Some(schema) = &rt.schema else { return Vec::new() };
        let Some(old) = old else { return schema::validate(obj, schema) };
        let mut causes = schema::validate_update(obj, old, schema);
        causes.retain(|c| {
            let now = schema::value_at(obj, &c.field);
            now.is_none() || now != schema::value_at(old, &c.field)
        });
        causes
    }

    fn allow_unconditional_update(&self) -> bool {
        false
    }

    fn has_generation(&self) -> bool {
        true
    }
}
