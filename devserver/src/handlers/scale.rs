//! The `/scale` subresource of custom resources whose CRD declares `subresources.scale`: an
//! `autoscaling/v1` Scale built from the object (name, namespace, uid, resourceVersion and
//! creationTimestamp; `spec.replicas` from `specReplicasPath`, `status.replicas` from
//! `statusReplicasPath`, `status.selector` from `labelSelectorPath`), and writes that set
//! `specReplicasPath` on the object, which is then validated and stored like any update (so the
//! CRD's schema still applies: a maximum on the replicas field refuses a larger scale).
//! What `kubectl scale` and a HorizontalPodAutoscaler talk to.

use super::*;
use crate::resource::ScalePaths;

fn at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

/// The Scale view of `obj`.
fn scale_of(paths: &ScalePaths, obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let mut metadata = serde_json::Map::new();
    for f in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(f) {
            metadata.insert(f.into(), v.clone());
        }
    }
    let int = |path: &[String]| at(obj, path).and_then(Value::as_i64).unwrap_or(0);
    // autoscaling/v1: spec.replicas is omitempty, status.replicas is not.
    let spec_replicas = int(&paths.spec_replicas);
    let spec = if spec_replicas == 0 { json!({}) } else { json!({"replicas": spec_replicas}) };
    let mut status = json!({"replicas": int(&paths.status_replicas)});
    let selector = match (&paths.label_selector, &paths.selector_object) {
        (Some(p), _) => at(obj, p).and_then(Value::as_str).map(str::to_string),
        (None, Some(p)) => at(obj, p).map(crate::selector::format_label_selector),
        (None, None) => None,
    };
    if let Some(sel) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = json!(sel);
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": metadata, "spec": spec, "status": status})
}

/// The replicas a Scale body asks for: Go's zero value when absent, 400 when not an int32.
fn wanted_replicas(scale: &Value) -> ApiResult<i64> {
    let Some(raw) = scale.pointer("/spec/replicas") else { return Ok(0) };
    raw.as_i64().filter(|n| i32::try_from(*n).is_ok()).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal {raw} into Go struct field ScaleSpec.spec.replicas of type int32"
        ))
    })
}

/// kube-apiserver's own check of a custom resource's replicas (on top of its schema), named by
/// the CRD's `specReplicasPath` as written there.
fn negative_replicas(spec_path: &[String], n: i64) -> Cause {
    Cause::new(
        "FieldValueInvalid",
        format!(".{}", spec_path.join(".")),
        format!("Invalid value: {n}: should be a non-negative integer"),
    )
}

fn set_path(obj: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = obj;
    for k in parents {
        if !cur.get(k).is_some_and(Value::is_object) {
            cur[k.as_str()] = json!({});
        }
        cur = &mut cur[k.as_str()];
    }
    cur[last.as_str()] = value;
}

impl Ctx<'_> {
    fn scale_paths(&self, name: &str) -> ApiResult<&ScalePaths> {
        self.rt.scale.as_ref().ok_or_else(|| ApiError::not_found(&self.rt.target(name)))
    }

    pub(super) fn get_scale(&self, ns: Option<&str>, name: &str) -> ApiResult<Response> {
        let paths = self.scale_paths(name)?;
        let obj = self
            .app
            .store
            .get(&self.rt.key(), &self.key(ns, name))
            .ok_or_else(|| ApiError::not_found(&self.rt.target(name)))?;
        Ok(json_reply(200, &scale_of(paths, &obj), &[]))
    }

    pub(super) fn update_scale(&self, ns: Option<&str>, name: &str, body: &[u8]) -> ApiResult<Response> {
        // The body is an autoscaling/v1 Scale (protobuf-speaking clients send it as such).
        let scale = super::request_object_of(self.headers, body, "autoscaling/v1", "Scale")?;
        let body_name = scale.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        self.write_scale(ns, name, |_| Ok(scale))
    }

    /// JSON and merge patches apply to the Scale (strategic merge is not served for custom
    /// resources). An apply patch is taken as a merge of the applied Scale (its only field is
    /// `spec.replicas`); managedFields record it as an update of the `scale` subresource.
    pub(super) fn patch_scale(&self, ns: Option<&str>, name: &str, body: &[u8]) -> ApiResult<Response> {
        let ct = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let kind = PatchKind::from_content_type(ct, true)?;
        self.write_scale(ns, name, |mut current| {
            if kind == PatchKind::Apply {
                let applied: Value = serde_yaml::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
                patch::apply_json_or_merge(PatchKind::Merge, &mut current, applied.to_string().as_bytes())?;
            } else {
                patch::apply_json_or_merge(kind, &mut current, body)?;
            }
            Ok(current)
        })
    }

    /// Sets `specReplicasPath` to what `make` (given the current Scale) asks for, checking the
    /// Scale's resourceVersion as a precondition, and replies with the Scale after the write.
    fn write_scale(
        &self,
        ns: Option<&str>,
        name: &str,
        make: impl FnOnce(Value) -> ApiResult<Value>,
    ) -> ApiResult<Response> {
        let paths = self.scale_paths(name)?.clone();
        let manager = self.manager();
        let now = now();
        let (updated, warnings) = self.update_stored(ns, name, |cur| {
            let wanted = make(scale_of(&paths, cur))?;
            let replicas = wanted_replicas(&wanted)?;
            if replicas < 0 && !self.rt.custom {
                // A built-in workload's Scale is validated itself, before the object.
                let target = crate::error::Target {
                    group: "autoscaling".into(),
                    plural: String::new(),
                    kind: "Scale".into(),
                    name: name.to_string(),
                };
                let why = format!("Invalid value: {replicas}: must be greater than or equal to 0");
                return Err(ApiError::invalid(&target, vec![Cause::new("FieldValueInvalid", "spec.replicas", why)]));
            }
            let precondition = wanted.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("");
            if !precondition.is_empty() && precondition != rv_of(cur).to_string() {
                return Err(ApiError::modified(&self.rt.target(name)));
            }
            let mut new = (**cur).clone();
            set_path(&mut new, &paths.spec_replicas, json!(replicas));
            let decided = self.update_decision(cur, new, Some("scale"), false, &manager, &now, false);
            if replicas < 0 {
                // The schema's causes (if any) come first, then the replicas check, in one error.
                let mut causes = decided.err().map(|e| e.causes()).unwrap_or_default();
                causes.push(negative_replicas(&paths.spec_replicas, replicas));
                return Err(ApiError::invalid(&self.rt.target(name), causes));
            }
            Ok((decided?, vec![]))
        })?;
        Ok(json_reply(200, &scale_of(&paths, updated.object()), &warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view_follows_the_paths_and_go_omitempty() {
        let paths = ScalePaths::new(".spec.nodes", ".status.replicas", Some(".status.selector"));
        let obj = json!({"metadata": {"name": "n", "namespace": "d", "uid": "u", "resourceVersion": "7", "labels": {"a": "b"}},
            "spec": {"nodes": 3}, "status": {"replicas": 2, "selector": "app=n"}});
        let s = scale_of(&paths, &obj);
        assert_eq!(s["spec"], json!({"replicas": 3}));
        assert_eq!(s["status"], json!({"replicas": 2, "selector": "app=n"}));
        assert_eq!(s["metadata"], json!({"name": "n", "namespace": "d", "uid": "u", "resourceVersion": "7"}));
        let bare = scale_of(&paths, &json!({"metadata": {"name": "n"}, "spec": {}}));
        assert_eq!(bare["spec"], json!({}), "zero replicas are omitted");
        assert_eq!(bare["status"], json!({"replicas": 0}), "status.replicas is always present");
    }

    #[test]
    fn wanted_replicas_rejects_non_integers() {
        assert_eq!(wanted_replicas(&json!({"spec": {"replicas": 4}})).unwrap(), 4);
        assert_eq!(wanted_replicas(&json!({"spec": {"replicas": -1}})).unwrap(), -1, "checked with the object");
        assert_eq!(wanted_replicas(&json!({"spec": {}})).unwrap(), 0);
        assert_eq!(wanted_replicas(&json!({"spec": {"replicas": "x"}})).unwrap_err().code, 400);
        assert_eq!(wanted_replicas(&json!({"spec": {"replicas": 1u64 << 40}})).unwrap_err().code, 400);
        let c = negative_replicas(&["spec".into(), "nodes".into()], -2);
        assert_eq!(
            (c.field.as_str(), c.message.as_str()),
            (".spec.nodes", "Invalid value: -2: should be a non-negative integer")
        );
    }

    #[test]
    fn selectors_print_like_apimachinery() {
        let sel = json!({"matchLabels": {"a": "b"}, "matchExpressions": [
            {"key": "t", "operator": "In", "values": ["y", "x"]}, {"key": "e", "operator": "Exists"},
            {"key": "n", "operator": "NotIn", "values": ["z"]}, {"key": "d", "operator": "DoesNotExist"}]});
        assert_eq!(crate::selector::format_label_selector(&sel), "a=b,!d,e,n notin (z),t in (x,y)");
    }

    #[test]
    fn set_path_creates_missing_parents() {
        let mut o = json!({"metadata": {}});
        set_path(&mut o, &["spec".into(), "nodes".into()], json!(4));
        assert_eq!(o["spec"]["nodes"], 4);
    }
}
