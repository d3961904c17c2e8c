#!/usr/bin/env python3
"""Records facts the devserver serves from a running kube-apiserver (`cargo xtask cluster up`):

- devserver/src/printers/columns-v1.37.json: the Table column definitions of each built-in
  resource (a list with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`);
- devserver/src/patch/strategies-v1.37.json: the patch and apply metadata of every type the
  built-in kinds reach (`x-kubernetes-patch-strategy`/`-merge-key`, `x-kubernetes-list-type`/
  `-list-map-keys`/`-map-type`, list-map keys' defaults, atomic types, from /openapi/v3), and each
  kind's root type.

Usage: python3 scripts/record-apiserver-facts.py [KUBECONFIG]
(default: target/controlplane/run/kubeconfig). Only loopback servers are contacted."""

import base64, json, os, ssl, sys, urllib.request, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = "v1.37"

# The built-in resources the devserver serves (group, version, plural, namespaced).
RESOURCES = [
    ("", "v1", "namespaces", False), ("", "v1", "nodes", False), ("", "v1", "pods", True),
    ("", "v1", "services", True), ("", "v1", "secrets", True), ("", "v1", "configmaps", True),
    ("", "v1", "serviceaccounts", True), ("", "v1", "events", True), ("", "v1", "resourcequotas", True),
    ("apps", "v1", "statefulsets", True), ("apps", "v1", "deployments", True),
    ("apps", "v1", "replicasets", True), ("apps", "v1", "controllerrevisions", True),
    ("coordination.k8s.io", "v1", "leases", True), ("rbac.authorization.k8s.io", "v1", "roles", True),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", True),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", False), ("batch", "v1", "jobs", True),
    ("batch", "v1", "cronjobs", True), ("networking.k8s.io", "v1", "ingresses", True),
    ("policy", "v1", "poddisruptionbudgets", True), ("scheduling.k8s.io", "v1", "priorityclasses", False),
    ("events.k8s.io", "v1", "events", True),
]


def client(kubeconfig):
    import re
    text = open(kubeconfig).read()
    server = re.search(r"server:\s*(\S+)", text).group(1)
    host = urllib.parse.urlparse(server).hostname
    if not (host.startswith("127.") or host == "localhost"):
        sys.exit(f"refusing to contact {server}: not a loopback address")
    token = re.search(r"token:\s*(\S+)", text).group(1)
    ca = base64.b64decode(re.search(r"certificate-authority-data:\s*(\S+)", text).group(1))
    ctx = ssl.create_default_context(cadata=ca.decode())
    ctx.check_hostname = False

    def get(path, accept="application/json"):
        req = urllib.request.Request(server + path, headers={"Authorization": f"Bearer {token}", "Accept": accept})
        with urllib.request.urlopen(req, context=ctx) as r:
            return json.load(r)

    return get


def base(group, version):
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def columns(get):
    out = {"_source": f"columnDefinitions of kube-apiserver {VERSION}'s Table replies, one list per built-in "
                      "resource (scripts/record-apiserver-facts.py)"}
    for group, version, plural, _ in RESOURCES:
        if group == "events.k8s.io":
            continue  # the same printer as core/v1's
        t = get(f"{base(group, version)}/{plural}", "application/json;as=Table;v=v1;g=meta.k8s.io")
        keep = ("name", "type", "format", "description", "priority")
        out[plural] = [{k: c[k] for k in keep} for c in t["columnDefinitions"]]
    return out


def ref_of(schema):
    """The component a property refers to (directly, through allOf, or as array items)."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for s in schema.get("allOf", []):
        if "$ref" in s:
            return s["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return ref_of(schema.get("items", {}))
    return None


def strategies(get):
    schemas, kinds = {}, {}
    for gv in sorted({base(g, v) for g, v, _, _ in RESOURCES}):
        doc = get(f"/openapi/v3{gv}")
        schemas.update(doc["components"]["schemas"])
    for group, version, _, _ in RESOURCES:
        for name, s in schemas.items():
            for gvk in s.get("x-kubernetes-group-version-kind", []):
                if gvk["group"] == group and gvk["version"] == version:
                    kinds[f"{group}/{version}/{gvk['kind']}"] = name
    # Scalar fields that key a list-map: their defaults stand in for a missing key (as
    # server-side apply reads them).
    key_fields = {k for sch in schemas.values() for p in sch.get("properties", {}).values()
                  for k in p.get("x-kubernetes-list-map-keys", [])}
    types, atomic, todo = {}, set(), sorted(set(kinds.values()))
    while todo:
        name = todo.pop()
        if name in types or name not in schemas:
            continue
        if schemas[name].get("x-kubernetes-map-type") == "atomic":
            atomic.add(name)
        fields = {}
        for field, p in schemas[name].get("properties", {}).items():
            ref = ref_of(p)
            strategy = p.get("x-kubernetes-patch-strategy", "")
            key = p.get("x-kubernetes-patch-merge-key", "")
            is_list = p.get("type") == "array"
            list_type = p.get("x-kubernetes-list-type", "")
            map_keys = p.get("x-kubernetes-list-map-keys", [])
            map_type = p.get("x-kubernetes-map-type", "")
            default = p.get("default") if field in key_fields and not ref else None
            target = schemas.get(ref, {}) if ref else {}
            if target.get("properties") or target.get("x-kubernetes-map-type") == "atomic":
                todo.append(ref)
            else:
                ref = None
            if ref or strategy or list_type or map_type or default is not None:
                fields[field] = {k: v for k, v in
                                 (("type", ref), ("list", is_list), ("strategy", strategy), ("key", key),
                                  ("listType", list_type), ("mapKeys", map_keys), ("mapType", map_type)) if v}
                if default is not None:
                    fields[field]["default"] = default
        types[name] = fields
    return {
        "_source": f"patch and apply metadata of kube-apiserver {VERSION}'s /openapi/v3 for every type the "
                   "built-in kinds reach: x-kubernetes-patch-strategy and -merge-key (strategic merge), "
                   "x-kubernetes-list-type, -list-map-keys and -map-type and the defaults of list-map keys "
                   "(server-side apply), the atomic types (scripts/record-apiserver-facts.py)",
        "kinds": dict(sorted(kinds.items())),
        "atomic": sorted(atomic),
        "types": dict(sorted(types.items())),
    }


def main():
    kubeconfig = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/controlplane/run/kubeconfig")
    get = client(kubeconfig)
    for rel, doc in [(f"devserver/src/printers/columns-{VERSION}.json", columns(get)),
                     (f"devserver/src/patch/strategies-{VERSION}.json", strategies(get))]:
        with open(os.path.join(ROOT, rel), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
            f.write("\n")
        print(f"wrote {rel}")


if __name__ == "__main__":
    main()
