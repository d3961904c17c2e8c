//! Writes: create (with generateName and the CRD lifecycle), update and the shared update rules,
//! and patch (JSON, merge, strategic merge, server-side apply).

use super::*;

impl Ctx<'_> {
    /// Prepares a body for create: namespace, name, server-set metadata. Returns warnings.
    pub(super) fn prepare_create(&self, ns: Option<&str>, obj: &mut Value, now: &str) -> ApiResult<Vec<String>> {
        let warnings = self.decode(obj, false)?;
        let rt = self.rt;
        let strategy = strategy::of(rt);
        let manager = self.manager();
        {
            let meta = meta_mut(obj)?;
            if rt.namespaced {
                let url_ns = ns.unwrap_or("");
                match meta.get("namespace").and_then(Value::as_str) {
                    Some(b) if !b.is_empty() && b != url_ns => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ));
                    }
                    _ => {
                        meta.insert("namespace".into(), Value::String(url_ns.to_string()));
                    }
                }
            } else {
                meta.remove("namespace");
            }
            let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            if name.is_empty()
                && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
                && !prefix.is_empty()
            {
                let n = generate_name(prefix);
                meta.insert("name".into(), Value::String(n));
            }
            meta.insert("uid".into(), Value::String(uuid::Uuid::new_v4().to_string()));
            meta.insert("creationTimestamp".into(), Value::String(now.to_string()));
            if strategy.has_generation() {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
            meta.remove("resourceVersion");
            meta.remove("managedFields");
            meta.remove("selfLink");
            drop_empty_metadata(meta);
        }
        strategy.prepare_for_create(self.app, rt, obj);
        patch::record_update(None, obj, &manager, &rt.api_version(), None, now, rt.apply_schema().as_deref());
        Ok(warnings)
    }

    pub(super) fn create(&self, ns: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let mut obj = self.parse_body(body)?;
        let now = now();
        let warnings = self.prepare_create(ns, &mut obj, &now)?;
        let name = meta_str(&obj, "name").unwrap_or("").to_string();
        self.check_namespace(ns, &name)?;
        self.validate(&obj)?;
        self.allocate(&mut obj, None)?;
        let mut warnings = warnings;
        warnings.extend(finalizer_warnings(self.rt, &obj));
        let generated = obj.pointer("/metadata/generateName").is_some() && body_name_empty(body);
        if self.dry_run() {
            return Ok(json_reply(201, &obj, &warnings));
        }
        let mut attempt = 0;
        let mut name = name;
        loop {
            let key = self.key(ns, &name);
            let target = self.rt.target(&name);
            let candidate = obj.clone();
            let res = self.transact(&key, |cur, _| {
                if cur.is_some() { Err(ApiError::already_exists(&target)) } else { Ok(Write::Put(candidate)) }
            });
            match res {
                Ok(outcome) => {
                    self.after_write(&outcome);
                    return Ok(json_text_reply(201, self.rt.to_wire(outcome.object()), &warnings));
                }
                Err(e) if e.code == 409 && generated && attempt < 8 => {
                    attempt += 1;
                    let prefix =
                        obj.pointer("/metadata/generateName").and_then(Value::as_str).unwrap_or("").to_string();
                    name = generate_name(&prefix);
                    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.insert("name".into(), Value::String(name.clone()));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The update rules shared by PUT and PATCH: preconditions, immutable fields, status
    /// isolation, generation and finalizer handling. `new` is the full desired object.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn update_decision(
        &self,
        cur: &Value,
        mut new: Value,
        sub: Option<&str>,
        require_rv: bool,
        manager: &str,
        now: &str,
        apply: bool,
    ) -> ApiResult<Write> {
        let rt = self.rt;
        let strategy = strategy::of(rt);
        strategy.prepare_for_update(rt, cur, &mut new, sub);
        let name = meta_str(cur, "name").unwrap_or("").to_string();
        let target = rt.target(&name);
        self.update_preconditions(cur, &new, require_rv, &target)?;
        let mut result = if sub == Some("status") {
            status_update(cur, new, apply)
        } else {
            self.main_update(cur, new, apply, &target)?
        };
        if let Some(m) = result.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), Value::String(rv_of(cur).to_string()));
            drop_empty_metadata(m);
        }
        self.validate_update(&result, Some(cur))?;
        self.allocate(&mut result, Some(cur))?;
        if !apply {
            patch::record_update(
                Some(cur),
                &mut result,
                manager,
                &rt.api_version(),
                sub,
                now,
                rt.apply_schema().as_deref(),
            );
        }
        let deleting = result.pointer("/metadata/deletionTimestamp").is_some();
        let no_finalizers =
            result.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(|f| f.is_empty());
        if deleting && no_finalizers && !strategy.awaits_finalization(&result) {
            return Ok(Write::Delete);
        }
        Ok(Write::Put(result))
    }

    /// What an update must match before anything else: a uid in the body (a precondition, as
    /// kube-apiserver makes it), the resourceVersion, and the immutable name and namespace.
    fn update_preconditions(
        &self,
        cur: &Value,
        new: &Value,
        require_rv: bool,
        target: &crate::error::Target,
    ) -> ApiResult<()> {
        let rt = self.rt;
        // A uid in the body is a precondition (as kube-apiserver's update makes it): another uid
        // means another object, a conflict rather than an invalid field.
        let new_uid = meta_str(new, "uid").unwrap_or("").to_string();
        let cur_uid = meta_str(cur, "uid").unwrap_or("");
        if !new_uid.is_empty() && new_uid != cur_uid {
            return Err(ApiError::conflict(
                target,
                &format!(
                    "StorageError: invalid object, Code: 4, Key: /registry/{}{}/{}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: {new_uid}, UID in object meta: {cur_uid}",
                    if rt.group.is_empty() { String::new() } else { format!("{}/", rt.group) },
                    rt.plural,
                    storage_key(cur)
                ),
            ));
        }
        let new_rv = meta_str(new, "resourceVersion").unwrap_or("").to_string();
        if new_rv.is_empty() {
            if require_rv && !strategy::of(rt).allow_unconditional_update() {
                // kube-apiserver names the resource (foos.example.com), not the kind, here.
                let resource = crate::error::Target { kind: rt.plural.clone(), ..target.clone() };
                return Err(ApiError::invalid(
                    &resource,
                    vec![Cause::new(
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0: must be specified for an update",
                    )],
                ));
            }
        } else if new_rv != rv_of(cur).to_string() {
            return Err(ApiError::modified(target));
        }
        // Immutable identity.
        let mut causes = Vec::new();
        for f in ["name", "namespace"] {
            let nv = meta_str(new, f).unwrap_or("");
            let ov = meta_str(cur, f).unwrap_or("");
            if f == "namespace" && !rt.namespaced {
                continue;
            }
            if nv != ov && !(f == "namespace" && nv.is_empty()) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    format!("metadata.{f}"),
                    format!("Invalid value: \"{nv}\": field is immutable"),
                ));
            }
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(target, causes));
        }
        Ok(())
    }

    /// The object an update of the main resource stores: the request's, with status kept (when
    /// it is a subresource) and server-owned metadata copied from the stored object; no new
    /// finalizers while deleting; the generation bumped when the spec changed.
    fn main_update(&self, cur: &Value, mut new: Value, apply: bool, target: &crate::error::Target) -> ApiResult<Value> {
        let rt = self.rt;
        if rt.status_subresource {
            match cur.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        // Server-owned metadata is copied from the stored object.
        let cur_meta = cur.get("metadata").cloned().unwrap_or(json!({}));
        let meta = meta_mut(&mut new)?;
        for f in
            ["uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace"]
        {
            match cur_meta.get(f) {
                Some(v) => {
                    meta.insert(f.into(), v.clone());
                }
                None => {
                    meta.remove(f);
                }
            }
        }
        if !apply && let Some(mf) = cur_meta.get("managedFields") {
            meta.insert("managedFields".into(), mf.clone());
        }
        // No new finalizers while deleting.
        if cur_meta.get("deletionTimestamp").is_some() {
            let old: Vec<Value> = cur_meta.get("finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
            let added: Vec<String> = meta
                .get("finalizers")
                .and_then(Value::as_array)
                .map(|fs| {
                    fs.iter().filter(|f| !old.contains(f)).map(|f| f.as_str().unwrap_or("").to_string()).collect()
                })
                .unwrap_or_default();
            if !added.is_empty() {
                let list: Vec<String> = added.iter().map(|a| format!("{a:?}")).collect();
                return Err(ApiError::invalid(
                    target,
                    vec![Cause::new(
                        "FieldValueForbidden",
                        "metadata.finalizers",
                        format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                            list.join(", ")
                        ),
                    )],
                ));
            }
        }
        let strategy = strategy::of(rt);
        if strategy.has_generation() && strategy.generation_moves(rt, cur, &new) {
            let g = cur.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("generation".into(), json!(g + 1));
            }
        }
        Ok(new)
    }

    pub(super) fn reply_for(&self, outcome: Outcome, code: u16, warnings: &[String]) -> Response {
        json_text_reply(code, self.rt.to_wire(outcome.object()), warnings)
    }

    pub(super) fn update(&self, ns: Option<&str>, name: &str, sub: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let mut new = self.parse_body(body)?;
        let warnings = self.decode(&mut new, false)?;
        let body_name = meta_str(&new, "name").unwrap_or("").to_string();
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if self.rt.namespaced {
            let body_ns = meta_str(&new, "namespace").unwrap_or("");
            if !body_ns.is_empty() && Some(body_ns) != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let now = now();
        let manager = self.manager();
        self.update_existing(ns, name, |cur| {
            Ok((self.update_decision(cur, new, sub, true, &manager, &now, false)?, warnings))
        })
    }

    /// Replaces the stored `ns/name` with what `decide` makes of it (the write and the warnings
    /// to reply with), in one store transaction, and replies 200 with the result. With `dryRun`
    /// nothing is stored and the reply is the object that would have been.
    fn update_existing(
        &self,
        ns: Option<&str>,
        name: &str,
        decide: impl FnOnce(&Arc<Value>) -> ApiResult<(Write, Vec<String>)>,
    ) -> ApiResult<Response> {
        let (result, warnings) = self.update_stored(ns, name, decide)?;
        Ok(match result {
            Updated::Stored(outcome) => self.reply_for(outcome, 200, &warnings),
            Updated::DryRun(v) => json_reply(200, &v, &warnings),
        })
    }

    /// [`Self::update_existing`] without the reply: what was stored (or, with `dryRun`, what
    /// would have been) and the warnings.
    pub(super) fn update_stored(
        &self,
        ns: Option<&str>,
        name: &str,
        decide: impl FnOnce(&Arc<Value>) -> ApiResult<(Write, Vec<String>)>,
    ) -> ApiResult<(Updated, Vec<String>)> {
        let target = self.rt.target(name);
        let dry = self.dry_run();
        let mut dry_result = None;
        let mut warnings = Vec::new();
        let outcome = self.transact(&self.key(ns, name), |cur, _| {
            let cur = cur.ok_or_else(|| ApiError::not_found(&target))?;
            let (w, warned) = decide(cur)?;
            warnings = warned;
            if dry {
                dry_result = Some(w);
                return Ok(Write::Keep(cur.clone()));
            }
            Ok(w)
        })?;
        if let Some(Write::Put(v)) = dry_result {
            return Ok((Updated::DryRun(v), warnings));
        }
        self.after_write(&outcome);
        Ok((Updated::Stored(outcome), warnings))
    }

    /// The values the kind allocates for a valid object (see [`crate::strategy::Strategy::allocate`]).
    fn allocate(&self, obj: &mut Value, old: Option<&Value>) -> ApiResult<()> {
        let causes = strategy::of(self.rt).allocate(self.app, obj, old);
        if causes.is_empty() {
            return Ok(());
        }
        Err(ApiError::invalid(&self.rt.target(meta_str(obj, "name").unwrap_or("")), causes))
    }

    /// The kind's hooks after a stored write (`AfterCreate`, `AfterUpdate`, `AfterDelete`).
    pub(super) fn after_write(&self, outcome: &Outcome) {
        strategy::of(self.rt).after_write(self.app, self.rt, outcome);
    }

    pub(super) fn patch(&self, ns: Option<&str>, name: &str, sub: Option<&str>, body: &[u8]) -> ApiResult<Response> {
        let ct = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let kind = PatchKind::from_content_type(ct, self.rt.custom)?;
        let force = self.query.get("force").map(String::as_str);
        if kind != PatchKind::Apply && force.is_some_and(crate::request_info::flag) {
            return Err(ApiError::invalid_options(
                "PatchOptions",
                vec![Cause::new("FieldValueForbidden", "force", "Forbidden: may not be specified for non-apply patch")],
            ));
        }
        let now = now();
        if kind == PatchKind::Apply {
            let target = self.rt.target(name);
            let key = self.key(ns, name);
            let Some(manager) = self.query.get("fieldManager").filter(|m| !m.is_empty()).cloned() else {
                return Err(ApiError::invalid_options(
                    "PatchOptions",
                    vec![Cause::new(
                        "FieldValueRequired",
                        "fieldManager",
                        "Required value: is required for apply patch",
                    )],
                ));
            };
            let mut applied: Value =
                serde_yaml::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            if !applied.is_object() {
                return Err(ApiError::bad_request("the apply patch must be an object"));
            }
            let warnings = self.decode(&mut applied, true)?;
            let applied_name = meta_str(&applied, "name").unwrap_or("").to_string();
            if applied_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({applied_name}) does not match the name on the URL ({name})"
                )));
            }
            let force = force.is_some_and(crate::request_info::flag);
            let mut created = false;
            // Checked before taking the store lock (the check reads the store itself).
            let namespace_check = self.check_namespace(ns, name);
            let api_version = self.rt.api_version();
            let schema = self.rt.apply_schema();
            let outcome = self.transact(&key, |cur, _| match cur {
                None => {
                    if sub.is_some() {
                        return Err(ApiError::not_found(&target));
                    }
                    let mut obj = applied.clone();
                    self.prepare_create(ns, &mut obj, &now)?;
                    let opts = patch::ApplyOptions {
                        manager: &manager,
                        force,
                        api_version: &api_version,
                        subresource: None,
                        now: &now,
                        schema: schema.as_deref(),
                    };
                    let mut obj = patch::server_side_apply(None, &obj, &opts)?;
                    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.insert(
                            "managedFields".into(),
                            json!([{"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now, "fieldsType": "FieldsV1", "fieldsV1": patch::to_fields_v1(&patch::owned_paths(&applied, true, schema.as_deref()))}]),
                        );
                    }
                    namespace_check.clone()?;
                    self.validate(&obj)?;
                    self.allocate(&mut obj, None)?;
                    created = true;
                    Ok(Write::Put(obj))
                }
                Some(cur) => {
                    let opts = patch::ApplyOptions {
                        manager: &manager,
                        force,
                        api_version: &api_version,
                        subresource: sub,
                        now: &now,
                        schema: schema.as_deref(),
                    };
                    let merged = patch::server_side_apply(Some(cur), &applied, &opts)?;
                    self.update_decision(cur, merged, sub, false, &manager, &now, true)
                }
            })?;
            self.after_write(&outcome);
            return Ok(self.reply_for(outcome, if created { 201 } else { 200 }, &warnings));
        }
        let manager = self.manager();
        self.update_existing(ns, name, |cur| {
            let mut doc = (**cur).clone();
            patch::apply_json_or_merge(kind, &mut doc, body)?;
            let warnings = self.decode(&mut doc, false)?;
            if meta_str(&doc, "name").is_none_or(str::is_empty) {
                // What is left of a patch that removed the name (a whole-object `$patch: delete`).
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({name} based on URL) was undeterminable: name must be provided"
                )));
            }
            if meta_str(&doc, "name") != Some(name) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta_str(&doc, "name").unwrap_or("")
                )));
            }
            Ok((self.update_decision(cur, doc, sub, false, &manager, &now, false)?, warnings))
        })
    }
}

/// The result of [`Ctx::update_stored`].
pub(super) enum Updated {
    /// The store's outcome.
    Stored(Outcome),
    /// `dryRun`: the object that would have been stored.
    DryRun(Value),
}

impl Updated {
    /// The object stored or, with `dryRun`, the one that would have been.
    pub(super) fn object(&self) -> &Value {
        match self {
            Updated::Stored(o) => o.object(),
            Updated::DryRun(v) => v,
        }
    }
}

/// `namespace/name` (or `name`), as etcd keys end.
fn storage_key(obj: &Value) -> String {
    let name = meta_str(obj, "name").unwrap_or("");
    match meta_str(obj, "namespace") {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// The object a status update stores: the stored one with the request's status (and, for an
/// apply, its managedFields).
fn status_update(cur: &Value, new: Value, apply: bool) -> Value {
    // Only status (and managedFields) is taken from the request.
    let mut o = cur.clone();
    if apply
        && let (Some(mf), Some(m)) =
            (new.pointer("/metadata/managedFields").cloned(), o.get_mut("metadata").and_then(Value::as_object_mut))
    {
        m.insert("managedFields".into(), mf);
    }
    match new.get("status") {
        Some(s) => o["status"] = s.clone(),
        None => {
            if let Some(m) = o.as_object_mut() {
                m.remove("status");
            }
        }
    }
    o
}

/// Drops what Go's JSON leaves out of an ObjectMeta (`omitempty`): empty or null labels,
/// annotations, finalizers and ownerReferences, and an empty generateName, so a client reads
/// back what kube-apiserver gives it (removing the last label leaves no `labels: {}`).
fn drop_empty_metadata(meta: &mut serde_json::Map<String, Value>) {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    };
    meta.retain(|k, v| {
        !(matches!(k.as_str(), "labels" | "annotations" | "finalizers" | "ownerReferences" | "generateName")
            && empty(v))
    });
}
