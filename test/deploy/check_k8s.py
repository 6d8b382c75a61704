#!/usr/bin/env python3
"""Structural check of `kubectl kustomize k8s/` output (read on stdin), for
one variant: the API lookup modes endpointslices (the default), endpoints
or pods, or dns (Kubernetes.DNS: no Role, no RoleBinding, no token).

    kubectl kustomize k8s/ | test/deploy/check_k8s.py endpointslices

Checks what the manifests promise: every object kind, one namespace, RBAC
with list/watch (nothing else: clusterd never gets one object) on exactly one resource (the variant's) and nothing
cluster-wide, the coordinator's probes, limits, non-root and read-only
securityContext, the cookie from the Secret as a 0400 file and never in
the config, the config from the generated ConfigMap, and the seed's app
pieces (headless ex-cluster-svc with epmd 4369, POD_IP, RELEASE_NODE,
RELEASE_COOKIE). Prints each failed check; exits 1 if any failed."""
import sys

import yaml

VARIANTS = {
    "endpointslices": ("discovery.k8s.io", "endpointslices", None),
    "endpoints": ("", "endpoints", "endpoints"),
    "pods": ("", "pods", "pods"),
    "dns": (None, None, None),
}
NS = "ex-cluster"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    check(len(found) == 1, "exactly one %s%s (found %d)" % (kind, " " + name if name else "", len(found)))
    return found[0] if found else {}


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def restricted(c, who):
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "%s: readOnlyRootFilesystem" % who)
    check(sc.get("allowPrivilegeEscalation") is False, "%s: allowPrivilegeEscalation false" % who)
    check("ALL" in sc.get("capabilities", {}).get("drop", []), "%s: capabilities drop ALL" % who)
    check(sc.get("runAsNonRoot", True) is not False and sc.get("runAsUser", 1) != 0,
          "%s: not root" % who)
    lim = c.get("resources", {}).get("limits", {})
    check("memory" in lim and "cpu" in lim, "%s: cpu and memory limits" % who)


def main():
    variant = sys.argv[1] if len(sys.argv) > 1 else "endpointslices"
    group, resource, lookup_mode = VARIANTS[variant]
    objs = [o for o in yaml.safe_load_all(sys.stdin) if o]

    kinds = sorted(o["kind"] for o in objs)
    want = ["Namespace", "Service", "Deployment", "Deployment", "ServiceAccount", "ConfigMap"]
    if variant != "dns":
        want += ["Role", "RoleBinding"]
    want = sorted(want)
    check(kinds == want, "object kinds %s, want %s" % (kinds, want))
    for o in objs:
        if o["kind"] != "Namespace":
            check(o["metadata"].get("namespace") == NS,
                  "%s %s in namespace %s" % (o["kind"], o["metadata"]["name"], NS))

    sa = one(objs, "ServiceAccount", "clusterd")
    if variant == "dns":
        check(sa.get("automountServiceAccountToken") is False, "dns: no service account token")
    else:
        # RBAC: one Role, one rule, one resource, read-only verbs.
        role = one(objs, "Role", "clusterd")
        rules = role.get("rules", [])
        if check(len(rules) == 1, "the Role has exactly one rule"):
            r = rules[0]
            check(r.get("apiGroups") == [group],
                  "Role apiGroups %s, want [%r]" % (r.get("apiGroups"), group))
            check(r.get("resources") == [resource],
                  "Role resources %s, want [%s]" % (r.get("resources"), resource))
            check(sorted(r.get("verbs", [])) == ["list", "watch"],
                  "Role verbs %s, want list/watch" % r.get("verbs"))
            check("resourceNames" not in r and "nonResourceURLs" not in r, "no extra rule fields")
        rb = one(objs, "RoleBinding", "clusterd")
        check(rb.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                    "name": "clusterd"}, "RoleBinding refers to Role clusterd")
        check(rb.get("subjects") == [{"kind": "ServiceAccount", "name": "clusterd", "namespace": NS}],
              "RoleBinding binds ServiceAccount clusterd only")

    # The seed's app: headless Service and Deployment.
    svc = one(objs, "Service", "ex-cluster-svc").get("spec", {})
    check(svc.get("clusterIP") == "None", "ex-cluster-svc is headless")
    check(any(p.get("port") == 4369 and p.get("name") == "epmd" for p in svc.get("ports", [])),
          "ex-cluster-svc has port epmd 4369")
    app = one(objs, "Deployment", "ex-cluster").get("spec", {}).get("template", {})
    labels = app.get("metadata", {}).get("labels", {})
    check(svc.get("selector") and all(labels.get(k) == v for k, v in svc["selector"].items()),
          "ex-cluster-svc selects the app's pods")
    ac = (app.get("spec", {}).get("containers") or [{}])[0]
    env = env_of(ac)
    check(env.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.podIP",
          "app: POD_IP from status.podIP")
    check(env.get("RELEASE_NODE", {}).get("value") == "ex-cluster@$(POD_IP)",
          "app: RELEASE_NODE=ex-cluster@$(POD_IP)")
    check(env.get("RELEASE_DISTRIBUTION", {}).get("value") == "name", "app: RELEASE_DISTRIBUTION=name")
    cookie_ref = env.get("RELEASE_COOKIE", {}).get("valueFrom", {}).get("secretKeyRef", {})
    check(bool(cookie_ref.get("name")), "app: RELEASE_COOKIE from a Secret")
    check(list(env).index("POD_IP") < list(env).index("RELEASE_NODE") if "POD_IP" in env and "RELEASE_NODE" in env else False,
          "app: POD_IP defined before RELEASE_NODE uses it")
    check(any(p.get("containerPort") == 4369 for p in ac.get("ports", [])), "app: container port 4369")

    # The coordinator.
    cd = one(objs, "Deployment", "clusterd").get("spec", {}).get("template", {}).get("spec", {})
    check(cd.get("serviceAccountName") == "clusterd", "coordinator runs as ServiceAccount clusterd")
    psc = cd.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, "coordinator pod: runAsNonRoot")
    check(psc.get("runAsUser", 0) != 0, "coordinator pod: a non-zero runAsUser")
    containers = cd.get("containers", [])
    inits = cd.get("initContainers", [])
    for c in containers + inits:
        restricted(c, "coordinator container %s" % c.get("name"))
    main_c = next((c for c in containers if c.get("name") == "clusterd"), {})
    check(bool(main_c), "a container named clusterd")
    ports = {p.get("name"): p.get("containerPort") for p in main_c.get("ports", [])}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        hg = main_c.get(probe, {}).get("httpGet", {})
        check(hg.get("path") == path, "clusterd: %s on %s" % (probe, path))
        port = hg.get("port")
        check(ports.get(port, port) == 9568, "clusterd: %s on port 9568" % probe)
    args = main_c.get("args", []) + main_c.get("command", [])
    check("--name" in args and args[args.index("--name") + 1] == "clusterd@$(POD_IP)",
          "clusterd: --name clusterd@$(POD_IP)")
    check(env_of(main_c).get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
          == "status.podIP", "clusterd: POD_IP from status.podIP")
    conf_path = args[args.index("-c") + 1] if "-c" in args else ""

    volumes = {v["name"]: v for v in cd.get("volumes", [])}
    secret_vols = [n for n, v in volumes.items() if "secret" in v]
    check(len(secret_vols) == 1, "one Secret volume")
    for n in secret_vols:
        s = volumes[n]["secret"]
        check(s.get("secretName") == cookie_ref.get("name"), "the cookie Secret is the app's")
        check(s.get("defaultMode") == 0o400 and all(i.get("mode", 0o400) == 0o400 for i in s.get("items", [])),
              "the cookie Secret is mounted with mode 0400")
        check(not any(m["name"] == n for m in main_c.get("volumeMounts", [])),
              "the Secret is mounted only in the init container")
    check(not any("secretKeyRef" in str(e) for e in main_c.get("env", [])), "no cookie in clusterd's env")

    cms = [o for o in objs if o["kind"] == "ConfigMap"]
    cm = cms[0] if cms else {"metadata": {"name": ""}, "data": {}}
    check(cm["metadata"]["name"].startswith("clusterd-config-"), "ConfigMap generated (hash suffix)")
    cm_vol = [n for n, v in volumes.items() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    mounts = {m["name"]: m["mountPath"] for m in main_c.get("volumeMounts", [])}
    check(len(cm_vol) == 1 and cm_vol[0] in mounts, "the ConfigMap is mounted into clusterd")
    key = conf_path.rsplit("/", 1)[-1]
    check(cm_vol and conf_path == mounts.get(cm_vol[0], "") + "/" + key and key in cm.get("data", {}),
          "clusterd -c points at the ConfigMap's file")
    conf = yaml.safe_load(cm.get("data", {}).get(key, "") or "{}") or {}
    check(conf.get("http", {}).get("listen", "").endswith(":9568"), "config: http.listen on 9568")
    cookie_file = conf.get("node", {}).get("cookie_file", "")
    check(any(cookie_file.startswith(p + "/") for p in mounts.values()),
          "config: node.cookie_file is on a volume clusterd mounts")
    check("cookie:" not in cm.get("data", {}).get(key, "").replace("cookie_file:", ""),
          "config: no cookie value")
    topos = conf.get("topologies", {})
    check(len(topos) == 1, "config: one topology")
    for t in topos.values():
        c = t.get("config", {})
        if variant == "dns":
            check(t.get("strategy") == "Cluster.Strategy.Kubernetes.DNS", "config: Kubernetes.DNS")
            check(c.get("service") == "ex-cluster-svc", "config: service ex-cluster-svc")
            check(c.get("application_name") == env.get("RELEASE_NODE", {}).get("value", "").split("@")[0],
                  "config: application_name matches RELEASE_NODE")
            continue
        check(t.get("strategy") == "Cluster.Strategy.Kubernetes", "config: the Kubernetes API strategy")
        check(c.get("kubernetes_ip_lookup_mode") == lookup_mode,
              "config: lookup mode %s (got %s)" % (lookup_mode, c.get("kubernetes_ip_lookup_mode")))
        sel = dict(kv.split("=", 1) for kv in c.get("kubernetes_selector", "").split(",") if "=" in kv)
        check(sel and all(labels.get(k) == v for k, v in sel.items()),
              "config: kubernetes_selector matches the app's pods")
        check(c.get("kubernetes_node_basename") == env.get("RELEASE_NODE", {}).get("value", "").split("@")[0],
              "config: kubernetes_node_basename matches RELEASE_NODE")

    for f in failures:
        print("FAIL [%s] %s" % (variant, f))
    print("k8s %s: %d objects, %s" % (variant, len(objs),
                                      "%d checks failed" % len(failures) if failures else "all checks passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
