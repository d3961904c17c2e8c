//! Deletes: preconditions, finalizers and deletionTimestamp, propagation finalizers, the kind's
//! delete hooks (see [`crate::strategy`]), and deletecollection.

use super::*;

impl Ctx<'_> {
    /// The delete rules for one stored object.
    pub(super) fn delete_decision(&self, cur: &Value, opts: &Value, now: &str) -> ApiResult<Write> {
        let name = meta_str(cur, "name").unwrap_or("").to_string();
        let target = self.rt.target(&name);
        if let Some(uid) = opts.pointer("/preconditions/uid").and_then(Value::as_str) {
            let actual = meta_str(cur, "uid").unwrap_or("");
            if uid != actual {
                return Err(ApiError::conflict(
                    &target,
                    &format!(
                        "the UID in the precondition ({uid}) does not match the UID in record ({actual}). The object might have been deleted and then recreated"
                    ),
                ));
            }
        }
        if let Some(rv) = opts.pointer("/preconditions/resourceVersion").and_then(Value::as_str) {
            let actual = rv_of(cur).to_string();
            if rv != actual {
                return Err(ApiError::conflict(
                    &target,
                    &format!(
                        "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({actual}). The object might have been modified"
                    ),
                ));
            }
        }
        let strategy = strategy::of(self.rt);
        strategy.check_delete(&name)?;
        let mut obj = cur.clone();
        let mut finalizers: Vec<Value> =
            obj.pointer("/metadata/finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
        let policy = opts.get("propagationPolicy").and_then(Value::as_str);
        let orphan = opts.get("orphanDependents").and_then(Value::as_bool);
        let add = match (policy, orphan) {
            (Some("Foreground"), _) => Some("foregroundDeletion"),
            (Some("Orphan"), _) | (None, Some(true)) => Some("orphan"),
            (None, None) if strategy.orphans_by_default() => Some("orphan"),
            _ => None,
        };
        let already_deleting = obj.pointer("/metadata/deletionTimestamp").is_some();
        if let Some(f) = add
            && (!finalizers.is_empty() || !already_deleting)
        {
            let v = Value::String(f.into());
            if !finalizers.contains(&v) && (!already_deleting || !finalizers.is_empty()) {
                finalizers.push(v);
            }
        }
        if let Some(f) = strategy.deletion_finalizer().map(|f| Value::String(f.into()))
            && !already_deleting
            && !finalizers.contains(&f)
        {
            finalizers.push(f);
        }
        if finalizers.is_empty() && !strategy.awaits_finalization(&obj) {
            return Ok(Write::Delete);
        }
        if already_deleting
            && finalizers.len() == cur.pointer("/metadata/finalizers").and_then(Value::as_array).map_or(0, Vec::len)
        {
            return Ok(Write::Keep(Arc::new(cur.clone())));
        }
        let meta = meta_mut(&mut obj)?;
        if !finalizers.is_empty() {
            meta.insert("finalizers".into(), Value::Array(finalizers));
        }
        if !already_deleting {
            meta.insert("deletionTimestamp".into(), Value::String(now.to_string()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            let g = meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
            meta.insert("generation".into(), json!(g + 1));
        }
        strategy.begin_delete(&mut obj, now);
        Ok(Write::Put(obj))
    }

    /// The request's DeleteOptions: its body's when it has one (the query's options are then
    /// ignored, as kube-apiserver ignores them), the query's otherwise.
    pub(super) fn delete_options(&self, body: &[u8]) -> ApiResult<Value> {
        let mut opts = json!({});
        if body.iter().all(u8::is_ascii_whitespace) {
            if let Some(p) = self.query.get("propagationPolicy") {
                opts["propagationPolicy"] = Value::String(p.clone());
            }
            if let Some(o) = self.query.get("orphanDependents") {
                opts["orphanDependents"] = Value::Bool(crate::request_info::flag(o));
            }
            if let Some(d) = self.query.get("dryRun") {
                opts["dryRun"] = json!([d]);
            }
        } else {
            match serde_json::from_slice::<Value>(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
            {
                Value::Null => {}
                v @ Value::Object(_) => opts = v,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
                        json_kind(&other)
                    )));
                }
            }
        }
        let wrong = |v: &Value, field: &str, go_type: &str| {
            ApiError::bad_request(format!(
                "json: cannot unmarshal {} into Go struct field DeleteOptions.{field} of type {go_type}",
                json_kind(v)
            ))
        };
        match opts.get("dryRun") {
            None | Some(Value::Null) => {}
            Some(Value::Array(values)) => {
                if let Some(v) = values.iter().find(|v| !v.is_string()) {
                    return Err(wrong(v, "dryRun", "string"));
                }
            }
            Some(v) => return Err(wrong(v, "dryRun", "[]string")),
        }
        if let Some(v) = opts.get("propagationPolicy").filter(|v| !v.is_null() && !v.is_string()) {
            return Err(wrong(v, "propagationPolicy", "v1.DeletionPropagation"));
        }
        crate::options::validate("delete", self.query, Some(&opts))?;
        Ok(opts)
    }

    pub(super) fn delete(&self, ns: Option<&str>, name: &str, body: &[u8]) -> ApiResult<Response> {
        let opts = self.delete_options(body)?;
        let now = now();
        let target = self.rt.target(name);
        let dry = crate::options::delete_is_dry_run(&opts);
        // A dry run answers with what the delete would have done, and stores nothing.
        let mut planned = None;
        let outcome = self.transact(&self.key(ns, name), |cur, _| {
            let cur = cur.ok_or_else(|| ApiError::not_found(&target))?;
            let w = self.delete_decision(cur, &opts, &now)?;
            if dry {
                planned = Some(match w {
                    Write::Delete => Outcome::Deleted(cur.clone()),
                    Write::Put(obj) => Outcome::Updated(Arc::new(obj)),
                    Write::Keep(obj) => Outcome::Unchanged(obj),
                });
                return Ok(Write::Keep(cur.clone()));
            }
            Ok(w)
        })?;
        let outcome = match planned {
            Some(planned) => planned,
            None => {
                self.after_write(&outcome);
                outcome
            }
        };
        Ok(match outcome {
            Outcome::Deleted(last) if !strategy::of(self.rt).returns_deleted_object() => {
                json_reply(200, &deleted_status(self.rt, &last), &[])
            }
            other => self.reply_for(other, 200, &[]),
        })
    }

    pub(super) fn delete_collection(&self, ns: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let opts = self.delete_options(body)?;
        let (labels, fields) = self.selectors()?;
        let now = now();
        let prefix = match ns {
            Some(ns) if self.rt.namespaced => format!("{ns}/"),
            _ => String::new(),
        };
        let (_, items) = self.app.store.list(&self.rt.key(), &prefix);
        let dry = crate::options::delete_is_dry_run(&opts);
        let mut deleted = Vec::new();
        for it in items.iter().filter(|o| labels.matches(o) && fields.matches(o)) {
            let name = meta_str(it, "name").unwrap_or("").to_string();
            let key = self.key(meta_str(it, "namespace"), &name);
            let res = self.transact(&key, |cur, _| match cur {
                None => Ok(Write::Keep(Arc::new(Value::Null))),
                Some(cur) => {
                    let w = self.delete_decision(cur, &opts, &now)?;
                    Ok(if dry { Write::Keep(cur.clone()) } else { w })
                }
            });
            if let Ok(o) = &res
                && !dry
            {
                self.after_write(o);
            }
            match res {
                Ok(o) if !o.object().is_null() => deleted.push(self.rt.to_wire_value(o.object()).into_owned()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json_reply(
            200,
            &json!({
                "kind": format!("{}List", self.rt.kind),
                "apiVersion": self.rt.api_version(),
                "metadata": {"resourceVersion": self.app.store.current_rv().to_string()},
                "items": deleted,
            }),
            &[],
        ))
    }
}

/// The Status returned when an object is deleted outright (custom resources, and the built-in
/// kinds whose registry does not return the deleted object).
pub fn deleted_status(rt: &ResourceType, last: &Value) -> Value {
    let mut details = json!({
        "name": meta_str(last, "name").unwrap_or(""),
        "group": rt.group,
        "kind": rt.plural,
        "uid": meta_str(last, "uid").unwrap_or(""),
    });
    // The core group is not named in the details.
    if rt.group.is_empty()
        && let Some(d) = details.as_object_mut()
    {
        d.remove("group");
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}
