//! What a request asks for, parsed once from its method, path and query, as kube-apiserver's
//! `WithRequestInfo` filter does: routing, authorization, admission and the request log all read
//! the same [`RequestInfo`], so a path can never mean one thing to the authorizer and another to
//! the handler.

use axum::http::Method;
use std::collections::HashMap;

/// Query parameters of one request (the last value of a repeated parameter).
pub type Query = HashMap<String, String>;

/// A boolean query parameter as kube-apiserver converts it (`Convert_Slice_string_To_bool`):
/// false only for `0` and `false` in any case; anything else, the empty string included, is true.
pub fn flag(value: &str) -> bool {
    value != "0" && !value.eq_ignore_ascii_case("false")
}

/// What a request asks to do: kube-apiserver's `RequestInfo`, which is also what the authorizer
/// sees (`authorizer.Attributes` without the user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The HTTP method.
    pub method: Method,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`; for
    /// non-resource requests the lower-case HTTP method.
    pub verb: String,
    /// True for `/api/<v>/...` and `/apis/<g>/<v>/...` paths with a resource.
    pub resource_request: bool,
    /// The request path (matched against `nonResourceURLs`).
    pub path: String,
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Resource plural.
    pub resource: String,
    /// Subresource ("" if none).
    pub subresource: String,
    /// Namespace ("" for cluster scope).
    pub namespace: String,
    /// Object name ("" if none).
    pub name: String,
    /// Where the path leads, from the same parse; `None` when it names no resource path.
    pub route: Option<Route>,
}

/// What the router needs that kube-apiserver's RequestInfo does not say: the name and
/// subresource as the path gives them (a list's `metadata.name` field selector names an object
/// for the authorizer, not for the router), and whether the path had a `namespaces/<ns>/`
/// prefix (a Namespace's own path sets [`RequestInfo::namespace`] but names a cluster-scoped
/// object). Present for `/api/<v>` and `/apis/<g>/<v>` followed by nothing (discovery, empty
/// resource) or by `<resource>[/<name>[/<subresource>]]`, with no empty segment and no `proxy`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// The namespace prefix's namespace.
    pub namespace: Option<String>,
    /// Resource plural ("" for the group-version's discovery document).
    pub resource: String,
    /// The object the path names.
    pub name: Option<String>,
    /// The subresource the path names.
    pub subresource: Option<String>,
}

impl RequestInfo {
    /// The attributes of a request, exactly as kube-apiserver's `RequestInfoFactory` derives them.
    pub fn new(method: &Method, path: &str, query: &Query) -> RequestInfo {
        let mut a = RequestInfo {
            method: method.clone(),
            verb: method.as_str().to_lowercase(),
            path: path.to_string(),
            ..Default::default()
        };
        let trimmed = path.trim_matches('/');
        let has_empty_segment = trimmed.split('/').any(|s| s.is_empty());
        let mut parts: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
        let grouped = match parts.first() {
            Some(&"api") => false,
            Some(&"apis") => true,
            _ => return a,
        };
        parts.remove(0);
        // `/api/<v>` and `/apis/<g>/<v>`: discovery, not a resource request, but routable.
        if parts.len() == usize::from(grouped) + 1 {
            if grouped {
                a.group = parts[0].to_string();
            }
            a.version = parts[usize::from(grouped)].to_string();
            if !has_empty_segment {
                a.route = Some(Route { group: a.group.clone(), version: a.version.clone(), ..Default::default() });
            }
            return a;
        }
        if parts.len() < 2 + usize::from(grouped) {
            return a;
        }
        if grouped {
            a.group = parts.remove(0).to_string();
        }
        a.resource_request = true;
        a.version = parts.remove(0).to_string();
        let mut special = false;
        if matches!(parts[0], "watch" | "proxy") && parts.len() >= 2 {
            a.verb = parts.remove(0).to_string();
            special = true;
        } else {
            a.verb = match *method {
                Method::POST => "create",
                Method::GET | Method::HEAD => "get",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE => "delete",
                _ => "",
            }
            .to_string();
        }
        let mut namespaced_path = false;
        if parts.first() == Some(&"namespaces") && parts.len() > 1 {
            a.namespace = parts[1].to_string();
            if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
                parts.drain(0..2);
                namespaced_path = true;
            }
        }
        if !has_empty_segment && parts.len() <= 3 && a.verb != "proxy" {
            a.route = Some(Route {
                group: a.group.clone(),
                version: a.version.clone(),
                namespace: namespaced_path.then(|| a.namespace.clone()),
                resource: parts[0].to_string(),
                name: parts.get(1).map(|s| s.to_string()),
                subresource: parts.get(2).map(|s| s.to_string()),
            });
        }
        if parts.len() >= 3 && !(special && a.verb == "proxy") {
            a.subresource = parts[2].to_string();
        }
        if parts.len() >= 2 {
            a.name = parts[1].to_string();
        }
        if let Some(r) = parts.first() {
            a.resource = r.to_string();
        }
        if a.name.is_empty() && a.verb == "get" {
            let watch = query.get("watch").is_some_and(|w| flag(w));
            a.verb = if watch { "watch" } else { "list" }.into();
            if let Some(name) = query.get("fieldSelector").and_then(|fs| exact_name(fs)) {
                a.name = name;
            }
        }
        if a.name.is_empty() && a.verb == "delete" {
            a.verb = "deletecollection".into();
        }
        a
    }

    /// `resource/subresource`, or the resource alone.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// The name a field selector requires exactly (`metadata.name=x` or `metadata.name==x`).
fn exact_name(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let (k, v) = term.split_once("==").or_else(|| term.split_once('='))?;
        if k.trim() != "metadata.name" {
            return None;
        }
        let v = v.trim();
        (!v.is_empty() && v != "." && v != ".." && !v.contains('/') && !v.contains('%')).then(|| v.to_string())
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// The request info of `method path?query`, for tests.
    pub(crate) fn attrs(method: Method, path: &str, query: &[(&str, &str)]) -> RequestInfo {
        let q: Query = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RequestInfo::new(&method, path, &q)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::attrs;
    use super::*;

    #[test]
    fn request_info_like_kube_apiserver() {
        let a = attrs(Method::GET, "/apis/apps/v1/namespaces/ns/statefulsets", &[]);
        assert_eq!(
            (a.verb.as_str(), a.group.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("list", "apps", "statefulsets", "ns")
        );
        let a = attrs(Method::GET, "/api/v1/pods", &[("watch", "true")]);
        assert_eq!((a.verb.as_str(), a.namespace.as_str(), a.resource_request), ("watch", "", true));
        let a = attrs(Method::GET, "/api/v1/namespaces/ns/pods", &[("fieldSelector", "metadata.name=p1")]);
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("list", "p1"));
        let a = attrs(Method::PUT, "/apis/g.io/v1/namespaces/ns/foos/x/status", &[]);
        assert_eq!((a.verb.as_str(), a.combined_resource().as_str(), a.name.as_str()), ("update", "foos/status", "x"));
        let a = attrs(Method::GET, "/api/v1/namespaces/ns", &[]);
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
            ("get", "namespaces", "ns", "ns")
        );
        let a = attrs(Method::PUT, "/api/v1/namespaces/ns/finalize", &[]);
        assert_eq!((a.resource.as_str(), a.name.as_str(), a.subresource.as_str()), ("namespaces", "ns", "finalize"));
        let a = attrs(Method::DELETE, "/api/v1/namespaces/ns/pods", &[]);
        assert_eq!(a.verb, "deletecollection");
        let a = attrs(Method::GET, "/api/v1/watch/namespaces/ns/pods/p", &[]);
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "p"));
        // `watch` on a named GET is ignored (kube-apiserver answers the object); on a list, any
        // value but 0 and false starts a watch.
        let a = attrs(Method::GET, "/api/v1/namespaces/ns/pods/p", &[("watch", "true")]);
        assert_eq!(a.verb, "get");
        for (v, verb) in [("bogus", "watch"), ("", "watch"), ("FALSE", "list"), ("0", "list")] {
            assert_eq!(attrs(Method::GET, "/api/v1/pods", &[("watch", v)]).verb, verb, "watch={v}");
        }
        for p in ["/api", "/api/v1", "/apis/apps/v1", "/version", "/openapi/v3"] {
            let a = attrs(Method::GET, p, &[]);
            assert!(!a.resource_request, "{p}");
            assert_eq!(a.verb, "get");
        }
    }

    #[test]
    fn the_route_is_the_path_as_written() {
        let route = |m: Method, p: &str, q: &[(&str, &str)]| attrs(m, p, q).route;
        let r = route(Method::GET, "/api/v1/namespaces/ns", &[]).unwrap();
        assert_eq!((r.namespace, r.resource.as_str(), r.name.as_deref()), (None, "namespaces", Some("ns")));
        let r = route(Method::PUT, "/api/v1/namespaces/ns/finalize", &[]).unwrap();
        assert_eq!((r.namespace, r.subresource.as_deref()), (None, Some("finalize")));
        // The authorizer sees the selected name; the router serves a list.
        let r = route(Method::GET, "/api/v1/namespaces/ns/pods", &[("fieldSelector", "metadata.name=p1")]).unwrap();
        assert_eq!((r.namespace.as_deref(), r.name), (Some("ns"), None));
        let r = route(Method::GET, "/apis/g.io/v1/watch/namespaces/ns/foos/x", &[]).unwrap();
        assert_eq!((r.group.as_str(), r.resource.as_str(), r.name.as_deref()), ("g.io", "foos", Some("x")));
        let r = route(Method::GET, "/apis/g.io/v1/", &[]).unwrap();
        assert_eq!((r.group.as_str(), r.version.as_str(), r.resource.as_str()), ("g.io", "v1", ""));
        assert_eq!(route(Method::GET, "/api/v1", &[]).unwrap().resource, "");
        for p in [
            "/api/v1/namespaces/ns/pods/p/status/x",
            "/api/v1/namespaces//pods",
            "/api/v1/proxy/namespaces/ns/pods/p",
            "/apis/g.io",
            "/version",
        ] {
            assert_eq!(route(Method::GET, p, &[]), None, "{p}");
        }
    }

    #[test]
    fn flags_follow_kube_apiserver() {
        for v in ["true", "1", "", "bogus", "f", "no"] {
            assert!(flag(v), "{v:?}");
        }
        for v in ["false", "FALSE", "False", "0"] {
            assert!(!flag(v), "{v:?}");
        }
    }
}
