/* kube_members: membership rules over Kubernetes objects. See kube_members.h. */
#include "kube_members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_json.h"
#include "nodename.h"

typedef enum { CAND_OUT, CAND_MEMBER, CAND_LEAVING } cand_state;

/* One address seen in the objects. Strings point into the objects. */
typedef struct candidate {
    const char *ip;
    const char *hostname;
    const char *ns;
    const char *pod; /* pod name ("" when unknown) */
    cand_state state;
    const char *why;    /* for out and leaving */
    const char *source; /* object name */
} candidate;

typedef struct cand_list {
    candidate *v;
    size_t n, cap;
} cand_list;

static int cand_push(cand_list *l, const candidate *c)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        candidate *g = realloc(l->v, cap * sizeof *g);
        if (g == NULL) return -1;
        l->v = g;
        l->cap = cap;
    }
    l->v[l->n++] = *c;
    return 0;
}

static const char *str_or(const char *s, const char *def)
{
    return s != NULL ? s : def;
}

/* JSON booleans with Kubernetes' nil defaults. */
static bool json_bool_or(const json_t *o, const char *key, bool def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

int kube_node_name(const kube_naming *nm, const char *ip, const char *hostname, const char *ns,
                   char *out, size_t outlen, char *why, size_t whylen)
{
    int n = -1;
    switch (nm->mode) {
    case KUBE_NAME_IP:
        n = snprintf(out, outlen, "%s@%s", nm->basename, ip);
        break;
    case KUBE_NAME_DNS: {
        char dashed[64];
        snprintf(dashed, sizeof dashed, "%s", ip);
        for (char *c = dashed; *c; c++)
            if (*c == '.' || *c == ':') *c = '-';
        n = snprintf(out, outlen, "%s@%s.%s.pod.%s", nm->basename, dashed, ns, nm->cluster_domain);
        break;
    }
    case KUBE_NAME_HOSTNAME:
        if (hostname == NULL || hostname[0] == '\0') {
            snprintf(why, whylen,
                     "no hostname (the pod needs spec.hostname and spec.subdomain = "
                     "the service name)");
            return -1;
        }
        if (nm->service_name == NULL || nm->service_name[0] == '\0') {
            snprintf(why, whylen, "mode hostname needs kubernetes_service_name");
            return -1;
        }
        n = snprintf(out, outlen, "%s@%s.%s.%s.svc.%s", nm->basename, hostname, nm->service_name,
                     ns, nm->cluster_domain);
        break;
    }
    if (n < 0 || (size_t)n >= outlen) {
        snprintf(why, whylen, "node name too long");
        return -1;
    }
    return 0;
}

static const char *obj_name(const json_t *o)
{
    return str_or(kube_json_str(json_object_get(o, "metadata"), "name"), "?");
}

static const char *obj_ns(const json_t *o, const kube_naming *nm)
{
    const char *ns = kube_json_str(json_object_get(o, "metadata"), "namespace");
    return ns != NULL && ns[0] != '\0' ? ns : nm->namespace_;
}

static int from_slice(const json_t *sl, const kube_naming *nm, cand_list *l, discovery_result *r)
{
    const char *name = obj_name(sl);
    const char *type = str_or(kube_json_str(sl, "addressType"), "");
    const json_t *eps = json_object_get(sl, "endpoints");
    if (strcmp(type, "IPv4") != 0 && strcmp(type, "IPv6") != 0) {
        discovery_result_add_evidence(r, "endpointslice %s: addressType \"%.20s\" skipped", name,
                                      type);
        return 0;
    }
    size_t count = json_is_array(eps) ? json_array_size(eps) : 0;
    discovery_result_add_evidence(r, "endpointslice %s (%s): %zu endpoint(s)", name, type, count);
    for (size_t k = 0; k < count; k++) {
        const json_t *ep = json_array_get(eps, k);
        const json_t *addrs = json_object_get(ep, "addresses");
        const json_t *a0 = json_is_array(addrs) ? json_array_get(addrs, 0) : NULL;
        if (!json_is_string(a0)) continue;
        const json_t *cond = json_object_get(ep, "conditions");
        bool ready = json_bool_or(cond, "ready", true);
        bool terminating = json_bool_or(cond, "terminating", false);
        candidate c = {.ip = json_string_value(a0),
                       .hostname = kube_json_str(ep, "hostname"),
                       .ns = obj_ns(sl, nm),
                       .pod = str_or(kube_json_str(json_object_get(ep, "targetRef"), "name"), ""),
                       .source = name};
        if (terminating) {
            c.state = CAND_LEAVING;
            c.why = "terminating";
        } else if (ready || !nm->require_ready) {
            c.state = CAND_MEMBER;
            c.why = ready ? "ready" : "not ready (require_ready off)";
        } else {
            c.state = CAND_OUT;
            c.why = "not ready";
        }
        if (cand_push(l, &c) != 0) return -1;
    }
    return 0;
}

static int from_endpoints_list(const json_t *subset, const char *key, bool ready, const json_t *obj,
                               const kube_naming *nm, cand_list *l)
{
    const json_t *addrs = json_object_get(subset, key);
    if (!json_is_array(addrs)) return 0;
    for (size_t k = 0; k < json_array_size(addrs); k++) {
        const json_t *a = json_array_get(addrs, k);
        const char *ip = kube_json_str(a, "ip");
        if (ip == NULL) continue;
        const json_t *ref = json_object_get(a, "targetRef");
        const char *ns = kube_json_str(ref, "namespace");
        candidate c = {.ip = ip,
                       .hostname = kube_json_str(a, "hostname"),
                       .ns = ns != NULL && ns[0] ? ns : obj_ns(obj, nm),
                       .pod = str_or(kube_json_str(ref, "name"), ""),
                       .source = obj_name(obj)};
        if (ready || !nm->require_ready) {
            c.state = CAND_MEMBER;
            c.why = ready ? "ready" : "not ready (require_ready off)";
        } else {
            c.state = CAND_OUT;
            c.why = "not ready";
        }
        if (cand_push(l, &c) != 0) return -1;
    }
    return 0;
}

static int from_endpoints(const json_t *ep, const kube_naming *nm, cand_list *l,
                          discovery_result *r)
{
    const json_t *subsets = json_object_get(ep, "subsets");
    size_t n = json_is_array(subsets) ? json_array_size(subsets) : 0;
    discovery_result_add_evidence(r, "endpoints %s: %zu subset(s)", obj_name(ep), n);
    for (size_t k = 0; k < n; k++) {
        const json_t *s = json_array_get(subsets, k);
        if (from_endpoints_list(s, "addresses", true, ep, nm, l) != 0 ||
            from_endpoints_list(s, "notReadyAddresses", false, ep, nm, l) != 0)
            return -1;
    }
    return 0;
}

static int from_pod(const json_t *pod, const kube_naming *nm, cand_list *l, discovery_result *r)
{
    const char *name = obj_name(pod);
    const json_t *meta = json_object_get(pod, "metadata");
    const json_t *status = json_object_get(pod, "status");
    const json_t *spec = json_object_get(pod, "spec");
    const char *phase = str_or(kube_json_str(status, "phase"), "Unknown");
    const char *ip = kube_json_str(status, "podIP");
    if (ip == NULL || ip[0] == '\0') {
        const json_t *ips = json_object_get(status, "podIPs");
        if (json_is_array(ips)) ip = kube_json_str(json_array_get(ips, 0), "ip");
    }
    if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0) {
        discovery_result_add_evidence(r, "pod %s: finished (phase %s): not a member", name, phase);
        return 0;
    }
    if (ip == NULL || ip[0] == '\0') {
        discovery_result_add_evidence(r, "pod %s: no IP yet (phase %s): not a member", name, phase);
        return 0;
    }
    bool ready = false;
    const json_t *conds = json_object_get(status, "conditions");
    for (size_t k = 0; json_is_array(conds) && k < json_array_size(conds); k++) {
        const json_t *c = json_array_get(conds, k);
        const char *t = kube_json_str(c, "type");
        const char *s = kube_json_str(c, "status");
        if (t && s && strcmp(t, "Ready") == 0) ready = strcmp(s, "True") == 0;
    }
    const json_t *del = json_object_get(meta, "deletionTimestamp");
    /* hostname as the endpoints controllers set it: spec.hostname when
     * spec.subdomain is the service */
    const char *hostname = NULL;
    const char *sub = kube_json_str(spec, "subdomain");
    if (sub != NULL && nm->service_name != NULL && strcmp(sub, nm->service_name) == 0)
        hostname = kube_json_str(spec, "hostname");
    candidate c = {
        .ip = ip, .hostname = hostname, .ns = obj_ns(pod, nm), .pod = name, .source = name};
    if (del != NULL && !json_is_null(del)) {
        c.state = CAND_LEAVING;
        c.why = "terminating";
    } else if (ready || !nm->require_ready) {
        c.state = CAND_MEMBER;
        c.why = ready ? "ready" : "not ready (require_ready off)";
    } else {
        c.state = CAND_OUT;
        c.why = "not ready";
    }
    return cand_push(l, &c);
}

static int cand_cmp(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    int c = strcmp(x->ip, y->ip);
    if (c != 0) return c;
    return (int)y->state - (int)x->state; /* leaving, then member, then out */
}

/* Fills r; see kube_members.h. */
void kube_members_compute(kube_lookup lookup, const kube_naming *nm, json_t *const *objects,
                          size_t n, discovery_result *r)
{
    cand_list l = {0};
    for (size_t k = 0; k < n; k++) {
        int rc = 0;
        if (!json_is_object(objects[k])) continue;
        switch (lookup) {
        case KUBE_LOOKUP_ENDPOINTSLICES:
            rc = from_slice(objects[k], nm, &l, r);
            break;
        case KUBE_LOOKUP_ENDPOINTS:
            rc = from_endpoints(objects[k], nm, &l, r);
            break;
        case KUBE_LOOKUP_PODS:
            rc = from_pod(objects[k], nm, &l, r);
            break;
        }
        if (rc != 0) {
            discovery_result_fail(r, "out of memory");
            free(l.v);
            return;
        }
    }
    /* De-duplicate by address: an endpoint can sit in two slices for a
     * moment; terminating wins, then ready (sorted first). */
    if (l.n > 1) qsort(l.v, l.n, sizeof *l.v, cand_cmp);
    for (size_t k = 0; k < l.n; k++) {
        const candidate *c = &l.v[k];
        if (k > 0 && strcmp(l.v[k - 1].ip, c->ip) == 0) continue;
        char node[2 * NODENAME_MAX + 2], why[160];
        const char *pod = c->pod[0] ? c->pod : "?";
        if (c->state == CAND_OUT) {
            discovery_result_add_evidence(r, "%s (pod %s, %s): %s: not a member", c->ip, pod,
                                          c->source, c->why);
            continue;
        }
        if (kube_node_name(nm, c->ip, c->hostname, c->ns, node, sizeof node, why, sizeof why) !=
            0) {
            discovery_result_add_evidence(r, "%s (pod %s, %s): %s: not a member", c->ip, pod,
                                          c->source, why);
            continue;
        }
        if (c->state == CAND_LEAVING) {
            if (discovery_result_add_leaving(r, node) == 0)
                discovery_result_add_evidence(
                    r, "%s (pod %s, %s): %s: %s is leaving (not connected, not disconnected)",
                    c->ip, pod, c->source, c->why, node);
            continue;
        }
        if (discovery_result_add_member(r, node) == 0)
            discovery_result_add_evidence(r, "%s (pod %s, %s): %s: member %s", c->ip, pod,
                                          c->source, c->why, node);
    }
    free(l.v);
}
