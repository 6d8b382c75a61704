#!/usr/bin/env python3
"""A small but faithful Kubernetes API server for clusterd's tests (stdlib only).

It serves, over HTTPS with a test CA, what a list+watch client and kubectl use:
  /version /api /api/v1 /apis /apis/discovery.k8s.io[/v1]   discovery (legacy JSON)
  /api/v1/namespaces[/NAME]
  /api/v1/[namespaces/NS/]pods|endpoints[/NAME]
  /apis/discovery.k8s.io/v1/[namespaces/NS/]endpointslices[/NAME]
with labelSelector and fieldSelector, limit/continue (continue tokens expire into
410 Expired), watch from a resourceVersion (ERROR 410 when older than the kept
history), allowWatchBookmarks, timeoutSeconds, chunked newline-delimited events,
DELETED/ADDED on selector exit/entry, Status bodies for every error, bearer
tokens (401) and client certificates.

Services are modelled like the endpoints controllers do: the test manages pods
and services through the admin API, and the fixture keeps each service's
Endpoints and EndpointSlice objects in step (ready/serving/terminating as in
kubernetes/endpointslice). Fault injection (401/403/429/500, broken streams,
ERROR 410 events, continue expiry, compaction) is driven by the test through
POST /admin/<op> with a JSON body; /admin/* needs the admin token given with
--admin-token (never a bearer token of the API).

Usage: fixture.py --cert C --key K --ca CA --port-file F [--host H] [--port P]
                  [--token T]... [--admin-token A] [--log FILE]
"""
import argparse
import base64
import copy
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DISCOVERY_GROUP = "discovery.k8s.io"


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status_body(code, reason, message, details=None, extra_meta=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": extra_meta or {},
            "status": "Failure", "message": message, "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


# ---- selectors ----

def parse_label_selector(text):
    """Returns a list of predicates over a labels dict; raises ValueError."""
    preds = []
    if not text:
        return preds
    # split on commas that are not inside parentheses
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        if not p:
            raise ValueError("empty requirement")
        m = re.fullmatch(r"([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)", p)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in":
                preds.append(lambda l, k=key, v=vals: l.get(k) in v)
            else:
                preds.append(lambda l, k=key, v=vals: l.get(k) not in v)
            continue
        m = re.fullmatch(r"([A-Za-z0-9./_-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)", p)
        if m:
            key, op, val = m.groups()
            if op == "!=":
                preds.append(lambda l, k=key, v=val: l.get(k) != v)
            else:
                preds.append(lambda l, k=key, v=val: l.get(k) == v)
            continue
        m = re.fullmatch(r"(!?)([A-Za-z0-9./_-]+)", p)
        if m:
            neg, key = m.groups()
            if neg:
                preds.append(lambda l, k=key: k not in l)
            else:
                preds.append(lambda l, k=key: k in l)
            continue
        raise ValueError("unable to parse requirement: %r" % p)
    return preds


FIELD_GETTERS = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
    "status.phase": lambda o: o.get("status", {}).get("phase", ""),
    "spec.nodeName": lambda o: o.get("spec", {}).get("nodeName", ""),
}


def parse_field_selector(text):
    preds = []
    if not text:
        return preds
    for p in text.split(","):
        m = re.fullmatch(r"([a-zA-Z.]+)\s*(==|!=|=)\s*(.*)", p.strip())
        if not m or m.group(1) not in FIELD_GETTERS:
            raise ValueError("field label not supported: %s" % p)
        get, op, val = FIELD_GETTERS[m.group(1)], m.group(2), m.group(3)
        if op == "!=":
            preds.append(lambda o, g=get, v=val: g(o) != v)
        else:
            preds.append(lambda o, g=get, v=val: g(o) == v)
    return preds


def matches(obj, label_preds, field_preds):
    if obj is None:
        return False
    labels = obj["metadata"].get("labels", {}) or {}
    return all(p(labels) for p in label_preds) and all(p(obj) for p in field_preds)


# ---- the store ----

RESOURCES = {
    # plural: (group, version, kind, namespaced)
    "pods": ("", "v1", "Pod", True),
    "endpoints": ("", "v1", "Endpoints", True),
    "namespaces": ("", "v1", "Namespace", False),
    "endpointslices": (DISCOVERY_GROUP, "v1", "EndpointSlice", True),
}


def api_version(resource):
    g, v, _, _ = RESOURCES[resource]
    return v if not g else g + "/" + v


class Store:
    def __init__(self):
        self.lock = threading.Condition()
        self.rv = 1000
        self.objects = {r: {} for r in RESOURCES}  # resource -> (ns, name) -> obj
        self.history = []  # (rv, resource, type, old, new)
        self.compacted = 1000  # watches from an RV below this get 410
        self.services = {}  # (ns, name) -> spec dict
        self.pods_meta = {}  # (ns, name) -> extra per-pod test settings
        self.generation = 0  # bumped to wake watchers for faults
        self.watch_faults = []  # list of ("break"|"error410", generation)
        self.uid = 0
        with self.lock:
            self.ensure_namespace("default")

    def next_rv(self):
        self.rv += 1
        return self.rv

    def next_uid(self):
        self.uid += 1
        return "00000000-0000-4000-8000-%012d" % self.uid

    def ensure_namespace(self, ns):
        if ("", ns) not in self.objects["namespaces"]:
            self.put("namespaces", {"metadata": {"name": ns}, "status": {"phase": "Active"}})

    def put(self, resource, obj):
        """Create or replace; records ADDED or MODIFIED. Caller holds the lock."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace", "") if RESOURCES[resource][3] else ""
        if RESOURCES[resource][3]:
            meta["namespace"] = ns
        key = (ns, meta["name"])
        old = self.objects[resource].get(key)
        if old is not None:
            meta.setdefault("uid", old["metadata"]["uid"])
            meta.setdefault("creationTimestamp", old["metadata"]["creationTimestamp"])
            cmp_old = {k: v for k, v in old.items() if k != "metadata"}
            cmp_new = {k: v for k, v in obj.items() if k != "metadata"}
            om = {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}
            nm = {k: v for k, v in meta.items() if k != "resourceVersion"}
            if cmp_old == cmp_new and om == nm:
                return old
        else:
            meta.setdefault("uid", self.next_uid())
            meta.setdefault("creationTimestamp", now_iso())
        meta["resourceVersion"] = str(self.next_rv())
        self.objects[resource][key] = obj
        self.history.append((self.rv, resource, "MODIFIED" if old else "ADDED", old, obj))
        self.lock.notify_all()
        return obj

    def delete(self, resource, ns, name):
        key = (ns if RESOURCES[resource][3] else "", name)
        old = self.objects[resource].pop(key, None)
        if old is None:
            return None
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self.next_rv())
        self.history.append((self.rv, resource, "DELETED", old, gone))
        self.lock.notify_all()
        return gone

    # -- the controllers: Endpoints and EndpointSlice per service --

    def pod_conditions(self, pod):
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in pod.get("status", {}).get("conditions", []))
        terminating = pod["metadata"].get("deletionTimestamp") is not None
        return ready, terminating

    def sync_service(self, ns, name):
        svc = self.services.get((ns, name))
        if svc is None:
            self.delete("endpoints", ns, name)
            for (sns, sname) in list(self.objects["endpointslices"]):
                sl = self.objects["endpointslices"][(sns, sname)]
                if sns == ns and sl["metadata"]["labels"].get("kubernetes.io/service-name") == name:
                    self.delete("endpointslices", sns, sname)
            return
        sel = svc["selector"]
        pods = [p for (pns, _), p in sorted(self.objects["pods"].items())
                if pns == ns and all(p["metadata"].get("labels", {}).get(k) == v
                                     for k, v in sel.items())]
        pnra = svc.get("publishNotReadyAddresses", False)
        ready_addrs, not_ready_addrs = [], []
        slice_eps = {"IPv4": [], "IPv6": []}
        for p in pods:
            st = p.get("status", {})
            if st.get("phase") in ("Succeeded", "Failed"):
                continue
            ips = [x["ip"] for x in st.get("podIPs", [])] or ([st["podIP"]] if st.get("podIP") else [])
            if not ips:
                continue
            ready, terminating = self.pod_conditions(p)
            ref = {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                   "uid": p["metadata"]["uid"]}
            spec = p.get("spec", {})
            hostname = spec.get("hostname") if spec.get("subdomain") == name else None
            for ip in ips:
                addr = {"ip": ip, "targetRef": ref}
                if hostname:
                    addr["hostname"] = hostname
                if spec.get("nodeName"):
                    addr["nodeName"] = spec["nodeName"]
                if terminating and not pnra:
                    pass  # Endpoints omit terminating pods
                elif ready or pnra:
                    ready_addrs.append(addr)
                else:
                    not_ready_addrs.append(addr)
                ep = {"addresses": [ip],
                      "conditions": {"ready": pnra or (ready and not terminating),
                                     "serving": ready, "terminating": terminating},
                      "targetRef": ref}
                if hostname:
                    ep["hostname"] = hostname
                if spec.get("nodeName"):
                    ep["nodeName"] = spec["nodeName"]
                slice_eps["IPv6" if ":" in ip else "IPv4"].append(ep)
        labels = dict(svc.get("labels", {}))
        ports = [{"name": "epmd", "port": 4369, "protocol": "TCP"}]
        subset = {"ports": ports}
        if ready_addrs:
            subset["addresses"] = ready_addrs
        if not_ready_addrs:
            subset["notReadyAddresses"] = not_ready_addrs
        self.put("endpoints", {"metadata": {"name": name, "namespace": ns, "labels": labels},
                               "subsets": [subset] if (ready_addrs or not_ready_addrs) else []})
        per_slice = svc.get("maxEndpointsPerSlice", 100)
        wanted = set()
        for family, eps in slice_eps.items():
            chunks = [eps[i:i + per_slice] for i in range(0, len(eps), per_slice)] or \
                ([[]] if family == "IPv4" else [])
            for idx, chunk in enumerate(chunks):
                sname = "%s-%s%d" % (name, family.lower(), idx)
                wanted.add(sname)
                sl_labels = dict(labels)
                sl_labels["kubernetes.io/service-name"] = name
                sl_labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
                self.put("endpointslices", {
                    "metadata": {"name": sname, "namespace": ns, "labels": sl_labels},
                    "addressType": family, "ports": ports, "endpoints": chunk})
        for (sns, sname) in list(self.objects["endpointslices"]):
            sl = self.objects["endpointslices"][(sns, sname)]
            if sns == ns and sl["metadata"]["labels"].get("kubernetes.io/service-name") == name \
                    and sname not in wanted:
                self.delete("endpointslices", sns, sname)

    def sync_all(self, ns):
        for (sns, sname) in list(self.services):
            if sns == ns:
                self.sync_service(sns, sname)

    def events_after(self, rv, resource, ns):
        out = []
        for (erv, res, typ, old, new) in self.history:
            if erv <= rv or res != resource:
                continue
            if ns and RESOURCES[resource][3] and new["metadata"].get("namespace") != ns:
                continue
            out.append((erv, typ, old, new))
        return out


# ---- the server ----

class Fixture:
    def __init__(self, args):
        self.args = args
        self.store = Store()
        self.tokens = set(args.token or [])
        self.cert_users = set(args.cert_user or [])
        self.admin_token = args.admin_token
        self.faults = []  # dicts: status, match, remaining, until, retry_after, body
        self.forbidden = []  # (resource regex) answered 403 (RBAC)
        self.continues = {}  # token -> (expires_at, rv, items)
        self.continue_ttl = 300.0
        self.bookmark_interval = 1.0
        self.max_watch_seconds = 1800
        self.stats_lock = threading.Lock()
        self.requests = []  # dicts: method, path, query, auth, ua, status, watch
        self.open_watches = 0
        self.log = open(args.log, "a", buffering=1) if args.log else sys.stderr

    def record(self, entry):
        with self.stats_lock:
            self.requests.append(entry)
            if len(self.requests) > 100000:
                del self.requests[:50000]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k8s-fixture/1.0"
    fx = None  # set at start

    def log_message(self, fmt, *a):
        self.fx.log.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % a))

    # -- replies --

    def send_json(self, code, body, headers=None):
        data = (json.dumps(body, separators=(",", ":")) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.entry["status"] = code
        self.entry["bytes"] = self.entry.get("bytes", 0) + len(data)

    def send_text(self, code, text, headers=None):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.entry["status"] = code

    def send_status(self, code, reason, message, details=None, headers=None, meta=None):
        self.send_json(code, status_body(code, reason, message, details, meta), headers)

    # -- request plumbing --

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        fx = self.fx
        url = urllib.parse.urlsplit(self.path)
        self.q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        self.entry = {"t": time.time(), "method": self.command, "path": url.path, "query": self.q,
                      "auth": self.headers.get("Authorization", ""),
                      "ua": self.headers.get("User-Agent", ""),
                      "accept": self.headers.get("Accept", ""), "status": None,
                      "watch": False, "user": None}
        try:
            if url.path.startswith("/admin/"):
                self.admin(url.path[len("/admin/"):])
                return
            fx.record(self.entry)
            user = self.authenticate()
            if user is None:
                self.send_status(401, "Unauthorized", "Unauthorized")
                return
            self.entry["user"] = user
            if self.command != "GET":
                self.send_status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
                return
            if self.inject_fault(url.path):
                return
            self.route(url.path)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = auth[len("Bearer "):].strip()
            with self.fx.store.lock:
                ok = tok in self.fx.tokens
            return "token:" + tok[:6] if ok else None
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError):
            cert = None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName" and v in self.fx.cert_users:
                        return "cert:" + v
        return None

    def inject_fault(self, path):
        fx = self.fx
        is_watch = self.q.get("watch", "") not in ("", "0", "false")
        with fx.store.lock:
            chosen = None
            for f in fx.faults:
                if f.get("until") is not None and time.time() > f["until"]:
                    continue
                if f.get("remaining") is not None and f["remaining"] <= 0:
                    continue
                if f.get("match") and not re.search(f["match"], path):
                    continue
                if f.get("watch") is not None and f["watch"] != is_watch:
                    continue
                chosen = f
                break
            if chosen is None:
                for pat in fx.forbidden:
                    if re.search(pat, path):
                        chosen = {"status": 403}
                        break
            if chosen is None:
                return False
            if chosen.get("remaining") is not None:
                chosen["remaining"] -= 1
        code = chosen["status"]
        hdrs = {}
        if chosen.get("retry_after") is not None:
            hdrs["Retry-After"] = str(chosen["retry_after"])
        if code == 401:
            self.send_status(401, "Unauthorized", "Unauthorized")
        elif code == 403:
            res = path.rstrip("/").split("/")[-1]
            self.send_status(403, "Forbidden",
                             '%s is forbidden: User "system:serviceaccount:default:clusterd" cannot list resource "%s" in the namespace' % (res, res),
                             {"kind": res})
        elif code == 429 and chosen.get("text"):
            self.send_text(429, "Too many requests, please try again later.\n", hdrs)
        elif code == 429:
            self.send_status(429, "TooManyRequests", "the server has received too many requests",
                             {"retryAfterSeconds": chosen.get("retry_after") or 1}, hdrs)
        elif code == 404:
            self.send_text(404, "404 page not found\n", hdrs)
        elif code == 503:
            self.send_status(503, "ServiceUnavailable", "the server is currently unable to handle the request", None, hdrs)
        else:
            self.send_status(code, "InternalError", "Internal error occurred: etcd timeout",
                             {"causes": [{"message": "etcd timeout"}]}, hdrs)
        return True

    # -- routing --

    def route(self, path):
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fixture",
                                        "platform": "linux/amd64"})
        if parts == ["api"]:
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if parts == ["apis"]:
            gv = {"groupVersion": DISCOVERY_GROUP + "/v1", "version": "v1"}
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": DISCOVERY_GROUP, "versions": [gv], "preferredVersion": gv}]})
        if parts == ["apis", DISCOVERY_GROUP]:
            gv = {"groupVersion": DISCOVERY_GROUP + "/v1", "version": "v1"}
            return self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", "name": DISCOVERY_GROUP,
                                        "versions": [gv], "preferredVersion": gv})
        if parts == ["api", "v1"]:
            return self.send_json(200, self.resource_list("v1", ["pods", "endpoints", "namespaces"]))
        if parts == ["apis", DISCOVERY_GROUP, "v1"]:
            return self.send_json(200, self.resource_list(DISCOVERY_GROUP + "/v1", ["endpointslices"]))
        # resource paths
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
            group = ""
        elif parts[:3] == ["apis", DISCOVERY_GROUP, "v1"]:
            rest = parts[3:]
            group = DISCOVERY_GROUP
        else:
            return self.send_text(404, "404 page not found\n")
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        elif len(rest) == 2 and rest[0] == "namespaces":
            return self.get_one("namespaces", "", rest[1])
        if not rest or rest[0] not in RESOURCES or RESOURCES[rest[0]][0] != group:
            return self.send_text(404, "404 page not found\n")
        resource = rest[0]
        if len(rest) == 2:
            return self.get_one(resource, ns or "", rest[1])
        if len(rest) > 2:
            return self.send_text(404, "404 page not found\n")
        if self.q.get("watch", "") not in ("", "0", "false"):
            return self.watch(resource, ns)
        return self.list(resource, ns)

    def resource_list(self, gv, names):
        short = {"pods": ["po"], "endpoints": ["ep"], "namespaces": ["ns"], "endpointslices": []}
        res = []
        for n in names:
            _, _, kind, namespaced = RESOURCES[n]
            res.append({"name": n, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                        "verbs": ["get", "list", "watch"], "shortNames": short[n]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}

    def get_one(self, resource, ns, name):
        with self.fx.store.lock:
            obj = self.fx.store.objects[resource].get((ns if RESOURCES[resource][3] else "", name))
            obj = copy.deepcopy(obj)
        if obj is None:
            return self.send_status(404, "NotFound", '%s "%s" not found' % (resource, name),
                                    {"name": name, "kind": resource})
        obj["kind"] = RESOURCES[resource][2]
        obj["apiVersion"] = api_version(resource)
        self.send_json(200, obj)

    def selectors(self):
        try:
            return (parse_label_selector(self.q.get("labelSelector", "")),
                    parse_field_selector(self.q.get("fieldSelector", "")))
        except ValueError as e:
            self.send_status(400, "BadRequest", "unable to parse requirement: %s" % e)
            return None

    def list(self, resource, ns):
        fx = self.fx
        sel = self.selectors()
        if sel is None:
            return
        lp, fp = sel
        limit = 0
        if self.q.get("limit"):
            try:
                limit = max(0, int(self.q["limit"]))
            except ValueError:
                return self.send_status(400, "BadRequest", "invalid limit")
        cont = self.q.get("continue", "")
        with fx.store.lock:
            if cont:
                snap = fx.continues.get(cont)
                if snap is None or snap[0] < time.time():
                    fx.continues.pop(cont, None)
                    return self.send_status(
                        410, "Expired",
                        "The provided continue parameter is too old to display a consistent list result. "
                        "You can start a new list without the continue parameter, or use the continue "
                        "token in this response to retrieve the remainder of the results. Continuing "
                        "with the provided token results in an inconsistent list - objects that were "
                        "created, modified, or deleted between the time the first chunk was returned "
                        "and now may show up in the list.",
                        None, None, {"continue": "inconsistent-" + cont[:8]})
                _, rv, items = snap
                del fx.continues[cont]
            else:
                rv = fx.store.rv
                items = [copy.deepcopy(o) for (ons, _), o in sorted(fx.store.objects[resource].items())
                         if (not ns or not RESOURCES[resource][3] or ons == ns) and matches(o, lp, fp)]
            if self.q.get("resourceVersion") == "0":
                limit = 0  # served from the watch cache, which ignores limit
            meta = {"resourceVersion": str(rv)}
            if limit and len(items) > limit:
                page, rest = items[:limit], items[limit:]
                token = base64.urlsafe_b64encode(os.urandom(12)).decode().rstrip("=")
                fx.continues[token] = (time.time() + fx.continue_ttl, rv, rest)
                meta["continue"] = token
                meta["remainingItemCount"] = len(rest)
            else:
                page = items
        self.send_json(200, {"kind": RESOURCES[resource][2] + "List", "apiVersion": api_version(resource),
                             "metadata": meta, "items": page})

    # -- watch --

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        self.entry["bytes"] = self.entry.get("bytes", 0) + len(data)
        if data.startswith(b'{"type":"') and not data.startswith(b'{"type":"BOOKMARK'):
            self.entry["events"] = self.entry.get("events", 0) + 1

    def write_event(self, typ, obj, resource):
        obj = copy.deepcopy(obj)
        obj["kind"] = RESOURCES[resource][2]
        obj["apiVersion"] = api_version(resource)
        self.write_chunk((json.dumps({"type": typ, "object": obj}, separators=(",", ":")) + "\n").encode())

    def watch(self, resource, ns):
        fx = self.fx
        store = fx.store
        self.entry["watch"] = True
        sel = self.selectors()
        if sel is None:
            return
        lp, fp = sel
        rv_param = self.q.get("resourceVersion", "")
        try:
            timeout = int(self.q.get("timeoutSeconds", "0") or "0")
        except ValueError:
            return self.send_status(400, "BadRequest", "invalid timeoutSeconds")
        if timeout <= 0:
            timeout = fx.max_watch_seconds
        bookmarks = self.q.get("allowWatchBookmarks", "") in ("true", "1")
        try:
            start_rv = int(rv_param) if rv_param not in ("", "0") else None
        except ValueError:
            return self.send_status(400, "BadRequest", "invalid resourceVersion")
        with store.lock:
            too_old = start_rv is not None and start_rv < store.compacted
            http410 = getattr(fx, "watch_http410", False)
            fault_gen = store.generation
            if start_rv is None:
                initial = [o for (ons, _), o in sorted(store.objects[resource].items())
                           if (not ns or ons == ns) and matches(o, lp, fp)]
                cursor = store.rv
            else:
                initial = []
                cursor = start_rv
        if too_old and http410:
            return self.send_status(410, "Expired", "too old resource version: %d (%d)" % (start_rv, store.compacted))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.entry["status"] = 200
        with fx.stats_lock:
            fx.open_watches += 1
        try:
            if too_old:
                self.write_chunk((json.dumps({"type": "ERROR", "object": status_body(
                    410, "Expired", "too old resource version: %d (%d)" % (start_rv, store.compacted))},
                    separators=(",", ":")) + "\n").encode())
                self.end_chunks()
                return
            for o in initial:
                self.write_event("ADDED", o, resource)
            deadline = time.time() + timeout
            next_bookmark = time.time() + fx.bookmark_interval
            while True:
                with store.lock:
                    evs = store.events_after(cursor, resource, ns)
                    fault = None
                    if not evs:
                        for (kind, gen) in store.watch_faults:
                            if gen > fault_gen:
                                fault = kind
                        fault_gen = store.generation
                    if not evs and fault is None:
                        wait = min(deadline, next_bookmark if bookmarks else deadline) - time.time()
                        if wait > 0:
                            store.lock.wait(min(wait, 0.5))
                        evs = store.events_after(cursor, resource, ns)
                        for (kind, gen) in store.watch_faults:
                            if gen > fault_gen:
                                fault = kind
                        fault_gen = store.generation
                    last_rv = store.rv
                for (erv, typ, old, new) in evs:
                    cursor = erv
                    was, now = matches(old, lp, fp), matches(new, lp, fp)
                    if typ == "DELETED":
                        if was:
                            self.write_event("DELETED", new, resource)
                    elif was and now:
                        self.write_event("MODIFIED", new, resource)
                    elif now:
                        self.write_event("ADDED", new, resource)
                    elif was:
                        self.write_event("DELETED", new, resource)  # selector exit
                if fault == "break":
                    # an abrupt end: no terminating chunk, connection dropped
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "error410":
                    self.write_chunk((json.dumps({"type": "ERROR", "object": status_body(
                        410, "Expired", "too old resource version: %d (%d)" % (cursor, last_rv))},
                        separators=(",", ":")) + "\n").encode())
                    self.end_chunks()
                    return
                t = time.time()
                if bookmarks and t >= next_bookmark:
                    cursor = max(cursor, last_rv)
                    bm = {"kind": RESOURCES[resource][2], "apiVersion": api_version(resource),
                          "metadata": {"resourceVersion": str(cursor)}}
                    self.write_chunk((json.dumps({"type": "BOOKMARK", "object": bm},
                                                 separators=(",", ":")) + "\n").encode())
                    next_bookmark = t + fx.bookmark_interval
                if t >= deadline:
                    self.end_chunks()
                    return
        finally:
            with fx.stats_lock:
                fx.open_watches -= 1

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- admin --

    def admin(self, op):
        fx = self.fx
        if self.headers.get("Authorization", "") != "Bearer " + (fx.admin_token or ""):
            return self.send_status(401, "Unauthorized", "admin token required")
        length = int(self.headers.get("Content-Length", "0") or "0")
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        store = fx.store
        reply = {"ok": True}
        with store.lock:
            if op == "service":
                ns = body.get("namespace", "default")
                store.ensure_namespace(ns)
                store.services[(ns, body["name"])] = {
                    "selector": body.get("selector", {}), "labels": body.get("labels", {}),
                    "publishNotReadyAddresses": body.get("publishNotReadyAddresses", False),
                    "maxEndpointsPerSlice": body.get("maxEndpointsPerSlice", 100)}
                store.sync_service(ns, body["name"])
            elif op == "pod":
                # {name, namespace, labels, ip, ips, ready, phase, terminating, hostname, subdomain}
                ns = body.get("namespace", "default")
                store.ensure_namespace(ns)
                key = (ns, body["name"])
                old = store.objects["pods"].get(key)
                pod = copy.deepcopy(old) if old else {"metadata": {"name": body["name"], "namespace": ns},
                                                      "spec": {}, "status": {"phase": "Running"}}
                if "labels" in body:
                    pod["metadata"]["labels"] = body["labels"]
                st = pod["status"]
                if "ips" in body or "ip" in body:
                    ips = body.get("ips") or ([body["ip"]] if body.get("ip") else [])
                    if ips:
                        st["podIP"], st["podIPs"] = ips[0], [{"ip": i} for i in ips]
                    else:
                        st.pop("podIP", None)
                        st.pop("podIPs", None)
                if "phase" in body:
                    st["phase"] = body["phase"]
                if "ready" in body:
                    st["conditions"] = [{"type": "Ready", "status": "True" if body["ready"] else "False"}]
                if body.get("terminating"):
                    pod["metadata"].setdefault("deletionTimestamp", now_iso())
                for k in ("hostname", "subdomain", "nodeName"):
                    if k in body:
                        pod["spec"][k] = body[k]
                reply["object"] = store.put("pods", pod)
                store.sync_all(ns)
            elif op == "delete_pod":
                ns = body.get("namespace", "default")
                store.delete("pods", ns, body["name"])
                store.sync_all(ns)
            elif op == "put":
                reply["object"] = store.put(body["resource"], body["object"])
            elif op == "delete":
                store.delete(body["resource"], body.get("namespace", ""), body["name"])
            elif op == "fault":
                f = {"status": int(body["status"]), "match": body.get("match"),
                     "remaining": body.get("count"), "retry_after": body.get("retry_after"),
                     "text": body.get("text", False), "watch": body.get("watch")}
                if body.get("seconds") is not None:
                    f["until"] = time.time() + float(body["seconds"])
                fx.faults.append(f)
            elif op == "clear_faults":
                fx.faults = []
                fx.forbidden = []
            elif op == "forbid":
                fx.forbidden.append(body["match"])
            elif op == "tokens":
                fx.tokens = set(body["tokens"])
            elif op == "cert_users":
                fx.cert_users = set(body["users"])
            elif op == "break_watches":
                store.generation += 1
                store.watch_faults.append(("break", store.generation))
                store.lock.notify_all()
            elif op == "error410_watches":
                store.generation += 1
                store.watch_faults.append(("error410", store.generation))
                store.lock.notify_all()
            elif op == "compact":
                store.compacted = store.rv + int(body.get("ahead", 0))
            elif op == "watch_http410":
                fx.watch_http410 = bool(body.get("on", True))
            elif op == "expire_continues":
                fx.continues = {}
            elif op == "settings":
                if "continue_ttl" in body:
                    fx.continue_ttl = float(body["continue_ttl"])
                if "bookmark_interval" in body:
                    fx.bookmark_interval = float(body["bookmark_interval"])
            elif op == "stats":
                with fx.stats_lock:
                    reply["requests"] = list(fx.requests)
                    reply["open_watches"] = fx.open_watches
                reply["rv"] = store.rv
            elif op == "reset_stats":
                with fx.stats_lock:
                    fx.requests = []
            else:
                return self.send_status(404, "NotFound", "no admin op %s" % op)
        self.send_json(200, reply)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, addr, handler, family):
        self.address_family = family
        super().__init__(addr, handler)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", help="CA for client certificates")
    ap.add_argument("--token", action="append")
    ap.add_argument("--cert-user", action="append", help="client certificate CN accepted as a user")
    ap.add_argument("--admin-token", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    Handler.fx = Fixture(args)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    srv = Server((args.host, args.port), Handler, family)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.ca:
        ctx.load_verify_locations(args.ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    port = srv.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
