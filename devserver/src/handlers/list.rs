//! List: ListOptions validation, selectors, resourceVersion semantics, limit/continue from one
//! snapshot, and Table output.

use super::*;

/// The items a list pages through, their resourceVersion, and the key a page starts at.
type Snapshot = (u64, Arc<Vec<Arc<Value>>>, String);

impl Ctx<'_> {
    pub(super) fn selectors(&self) -> ApiResult<(LabelSelector, FieldSelector)> {
        let labels = match self.query.get("labelSelector") {
            Some(s) => LabelSelector::parse(s).map_err(ApiError::bad_request)?,
            None => LabelSelector::default(),
        };
        let fields = match self.query.get("fieldSelector") {
            Some(s) => FieldSelector::parse(s, &self.rt.field_selector_fields()).map_err(ApiError::bad_request)?,
            None => FieldSelector::default(),
        };
        Ok((labels, fields))
    }

    pub(super) fn list(&self, ns: Option<&str>) -> ApiResult<Response> {
        let q = self.query;
        let rv = q.get("resourceVersion").cloned().unwrap_or_default();
        let rv_match = q.get("resourceVersionMatch").cloned().unwrap_or_default();
        let cont = q.get("continue").cloned().unwrap_or_default();
        validate_list_options(q, &rv, &rv_match, &cont)?;
        let (labels, fields) = self.selectors()?;
        let limit: usize = match q.get("limit") {
            Some(l) => {
                l.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?.max(0) as usize
            }
            None => 0,
        };
        let prefix = match ns {
            Some(ns) if self.rt.namespaced => format!("{ns}/"),
            _ => String::new(),
        };
        let res_key = self.rt.key();
        let current = self.app.store.current_rv();
        if !rv.is_empty() && cont.is_empty() {
            let n: u64 = rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            if n > current {
                return Err(ApiError::too_large_resource_version(n, current));
            }
            if rv_match == "Exact" && n != current && self.app.store.snapshot(n, &res_key).is_none() {
                return Err(ApiError::expired(format!("too old resource version: {n} ({current})")));
            }
        }
        let (snap_rv, items, start) = self.list_snapshot(&rv, &rv_match, &cont, &prefix, current)?;
        let begin = if start.is_empty() { 0 } else { items.partition_point(|o| item_key(o) < start) };
        let mut selected: Vec<Arc<Value>> = Vec::new();
        let mut next_start = None;
        let mut idx = begin;
        while idx < items.len() {
            let o = &items[idx];
            idx += 1;
            if ns.is_some() && self.rt.namespaced && meta_str(o, "namespace") != ns {
                continue;
            }
            if !(labels.matches(o) && fields.matches(o)) {
                continue;
            }
            if limit > 0 && selected.len() == limit {
                next_start = Some(item_key(o));
                idx -= 1;
                break;
            }
            selected.push(o.clone());
        }
        let mut list_meta = json!({"resourceVersion": snap_rv.to_string()});
        if let Some(ns_key) = next_start {
            self.app.store.save_snapshot(snap_rv, &format!("{res_key}@{prefix}"), items.clone());
            list_meta["continue"] = Value::String(encode_continue(snap_rv, &ns_key));
            if labels.0.is_empty() && fields.0.is_empty() {
                list_meta["remainingItemCount"] = json!(items.len() - idx);
            }
        }
        Ok(self.list_reply(&selected, list_meta))
    }

    /// The items a list reads: from a continue token's snapshot, an exact resourceVersion's
    /// snapshot, or the store now; with their resourceVersion and where a page starts.
    fn list_snapshot(&self, rv: &str, rv_match: &str, cont: &str, prefix: &str, current: u64) -> ApiResult<Snapshot> {
        let res_key = self.rt.key();
        Ok(if cont.is_empty() {
            let (srv, items) = if rv_match == "Exact" && !rv.is_empty() && rv != current.to_string() {
                let n: u64 = rv.parse().unwrap_or(0);
                match self.app.store.snapshot(n, &res_key) {
                    Some(s) => (n, s.as_ref().clone()),
                    None => return Err(ApiError::expired(format!("too old resource version: {n} ({current})"))),
                }
            } else {
                self.app.store.list(&res_key, prefix)
            };
            (srv, Arc::new(items), String::new())
        } else {
            let (crv, start) = decode_continue(cont)?;
            match self.app.store.snapshot(crv, &format!("{res_key}@{prefix}")) {
                Some(items) => (crv, items, start),
                None => {
                    let (nrv, fresh) = self.app.store.list(&res_key, prefix);
                    let fresh = Arc::new(fresh);
                    self.app.store.save_snapshot(nrv, &format!("{res_key}@{prefix}"), fresh);
                    let mut e = ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    );
                    e.metadata = Some(json!({"continue": encode_continue(nrv, &start)}));
                    return Err(e);
                }
            }
        })
    }

    /// A page of a list in the form the client asked for: metadata only, a Table, or the
    /// objects.
    fn list_reply(&self, selected: &[Arc<Value>], mut list_meta: Value) -> Response {
        let q = self.query;
        if self.wants_partial() {
            return json_reply(200, &negotiation::partial_list(selected, list_meta), &[]);
        }
        if self.wants_table() {
            let include = q.get("includeObject").map(String::as_str).unwrap_or("Metadata");
            return json_reply(200, &table::render(self.rt, selected, list_meta, include), &[]);
        }
        if self.rt.custom && list_meta.get("continue").is_none() {
            // A custom resource list is unstructured in kube-apiserver, which keeps the empty
            // `continue` that built-in lists omit.
            list_meta["continue"] = Value::String(String::new());
        }
        // Written by hand to avoid cloning every item into one big Value.
        let mut out = String::with_capacity(selected.len() * 512 + 256);
        out.push_str(&format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            self.rt.kind,
            self.rt.api_version(),
            list_meta
        ));
        for (i, o) in selected.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&self.rt.to_wire(o));
        }
        out.push_str("]}");
        json_text_reply(200, out, &[])
    }
}

/// ListOptions a list refuses (422), then a continue token that does not decode or comes with
/// a resourceVersion (400), as kube-apiserver checks them.
fn validate_list_options(q: &Query, rv: &str, rv_match: &str, cont: &str) -> ApiResult<()> {
    let mut causes = Vec::new();
    if !rv_match.is_empty() && rv.is_empty() {
        causes.push(Cause::new(
            "FieldValueForbidden",
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        ));
    }
    if rv_match == "Exact" && rv == "0" {
        causes.push(Cause::new(
            "FieldValueForbidden",
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
        ));
    }
    if !rv_match.is_empty() && !cont.is_empty() {
        causes.push(Cause::new(
            "FieldValueForbidden",
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden when continue is provided",
        ));
    }
    if !rv_match.is_empty() && rv_match != "Exact" && rv_match != "NotOlderThan" {
        causes.push(Cause::new(
            "FieldValueNotSupported",
            "resourceVersionMatch",
            format!("Unsupported value: \"{rv_match}\": supported values: \"Exact\", \"NotOlderThan\""),
        ));
    }
    if q.get("sendInitialEvents").is_some() {
        causes.push(Cause::new(
            "FieldValueForbidden",
            "sendInitialEvents",
            "Forbidden: sendInitialEvents is forbidden for list",
        ));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid_options("ListOptions", causes));
    }
    // The token is checked before its combination with a resourceVersion, as kube-apiserver does.
    if !cont.is_empty() {
        decode_continue(cont)?;
    }
    if !cont.is_empty() && !rv.is_empty() && rv != "0" {
        return Err(ApiError::bad_request("specifying resource version is not allowed when using continue"));
    }
    Ok(())
}

/// The sort key of a stored object (namespace/name).
pub fn item_key(o: &Value) -> String {
    object_key(meta_str(o, "namespace"), meta_str(o, "name").unwrap_or(""))
}

/// Encodes a continue token (base64 of `{"v","rv","start"}`, like the real server).
pub fn encode_continue(rv: u64, start: &str) -> String {
    let t = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(t.to_string())
}

/// Decodes a continue token; 400 when it is not one of ours.
pub fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    let bad = |why: &str| ApiError::bad_request(format!("invalid continue token: {why}"));
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|e| bad(&e.to_string()))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|e| bad(&e.to_string()))?;
    if v.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(bad("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"));
    }
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(|| bad("missing rv"))?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(|| bad("missing start"))?;
    Ok((rv, start.to_string()))
}
