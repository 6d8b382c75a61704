/* discovery/kubernetes: Cluster.Strategy.Kubernetes through the Kubernetes
 * API, with libcluster's options. Lists EndpointSlices (default), Endpoints or
 * Pods with limit/continue, then watches from the list's resourceVersion
 * (bookmarks, timeoutSeconds) and reports at once on every change: one list
 * per start or failure instead of libcluster's list per node per interval.
 * Relists on 410 (HTTP or an ERROR event), re-watches after a clean end,
 * honours Retry-After, backs off with jitter otherwise. Every failure is a
 * failed round (fail static: nothing is removed); only a successful list or
 * a watch event changes the member set. Terminating pods are reported as
 * leaving (see discovery.h). All I/O is libcurl on the loop (kube_client). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "kube_client.h"
#include "kube_json.h"
#include "kube_members.h"
#include "kubeconfig.h"
#include "log.h"

#define DEFAULT_SA_PATH "/var/run/secrets/kubernetes.io/serviceaccount"

#define K_SELECTOR_MAX 1024

static const char *const lookup_modes[] = {"endpointslices", "endpoints", "pods", NULL};
static const char *const name_modes[] = {"ip", "dns", "hostname", NULL};

static const opt_spec kubernetes_options[] = {
    {.name = "kubernetes_selector",
     .type = OPT_STRING,
     .help = "label selector, e.g. app=myapp (required unless kubernetes_service_name is set "
             "with endpointslices)"},
    {.name = "kubernetes_node_basename",
     .type = OPT_STRING,
     .required = true,
     .help = "the part before @ of every member's node name"},
    {.name = "kubernetes_namespace",
     .type = OPT_STRING,
     .help = "namespace (default: the service account's, or the kubeconfig context's, or "
             "default)"},
    {.name = "kubernetes_service_name",
     .type = OPT_STRING,
     .help = "the headless service: for mode hostname, and narrows endpointslices to it"},
    {.name = "kubernetes_ip_lookup_mode",
     .type = OPT_ENUM,
     .def_str = "endpointslices",
     .choices = lookup_modes,
     .help = "what to read: endpointslices (default), endpoints (deprecated in 1.33) or pods"},
    {.name = "mode",
     .type = OPT_ENUM,
     .def_str = "ip",
     .choices = name_modes,
     .help = "node names: ip (base@IP), dns (base@IP-dashed.NS.pod.DOMAIN), hostname "
             "(base@HOST.SVC.NS.svc.DOMAIN)"},
    {.name = "kubernetes_master",
     .type = OPT_STRING,
     .help = "API server host[:port] (libcluster's; or an https:// URL); default "
             "KUBERNETES_SERVICE_HOST/PORT"},
    {.name = "kubernetes_cluster_name",
     .type = OPT_STRING,
     .def_str = "cluster",
     .help = "cluster domain is <name>.local unless CLUSTER_DOMAIN is set"},
    {.name = "kubernetes_service_account_path",
     .type = OPT_STRING,
     .def_str = DEFAULT_SA_PATH,
     .help = "directory with token, ca.crt and namespace"},
    {.name = "kubernetes_use_cached_resources",
     .type = OPT_BOOL,
     .def_int = 0,
     .help = "list with resourceVersion=0 (served from the API server's cache)"},
    {.name = "polling_interval",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 86400000,
     .help = "ms between lists when kubernetes_watch is false"},
    {.name = "kubeconfig",
     .type = OPT_STRING,
     .help = "kubeconfig file (clusterd's own); default: in-cluster, then $KUBECONFIG or "
             "~/.kube/config"},
    {.name = "context",
     .type = OPT_STRING,
     .help = "kubeconfig context (default: current-context)"},
    {.name = "kubernetes_watch",
     .type = OPT_BOOL,
     .def_int = 1,
     .help = "watch after listing (clusterd's own; false polls like libcluster)"},
    {.name = "kubernetes_require_ready",
     .type = OPT_BOOL,
     .def_int = 1,
     .help = "only ready endpoints/pods are members (clusterd's own)"},
    {.name = "request_timeout",
     .type = OPT_INT,
     .def_int = 10000,
     .min = 100,
     .max = 600000,
     .help = "ms, deadline of one list request (clusterd's own)"},
    {.name = "watch_timeout",
     .type = OPT_INT,
     .def_int = 0,
     .min = 0,
     .max = 3600,
     .help = "s, timeoutSeconds of a watch; 0 picks 300-600 at random (clusterd's own)"},
    {.name = "backoff_min",
     .type = OPT_INT,
     .def_int = 800,
     .min = 10,
     .max = 600000,
     .help = "ms, first retry delay after a failed request (clusterd's own)"},
    {.name = "backoff_max",
     .type = OPT_INT,
     .def_int = 30000,
     .min = 10,
     .max = 3600000,
     .help = "ms, retry delay cap, jittered (clusterd's own)"},
    {.name = "page_size",
     .type = OPT_INT,
     .def_int = 500,
     .min = 1,
     .max = 100000,
     .help = "items per list page (limit; clusterd's own)"},
    {.name = "max_event_bytes",
     .type = OPT_INT,
     .def_int = 4 << 20,
     .min = 1024,
     .max = 256 << 20,
     .help = "largest accepted watch event or list body (clusterd's own)"},
};

typedef enum { PHASE_IDLE, PHASE_LIST, PHASE_WATCH } k_phase;

typedef struct kstate {
    discovery *d;
    kube_client *kc;
    kube_lookup lookup;
    kube_naming nm;
    char *basename, *namespace_, *service_name, *domain; /* owned, pointed to by nm */
    char *path;                                          /* /api/v1/namespaces/NS/pods */
    char *query; /* labelSelector=... (URL-encoded), may be "" */
    bool watch, cached;
    long long poll_ms, request_ms, watch_s, backoff_min, backoff_max, page_size, max_bytes;
    /* the cache: "ns/name" -> object, as the last list and events left it */
    json_t *objects;
    char rv[64];
    bool synced; /* objects hold a complete list */
    /* the request in flight */
    k_phase phase;
    kube_request *rq;
    json_t *pending; /* items of the list being paged */
    char list_rv[64];
    char *cont;
    bool full_list; /* after an expired continue token: one list without limit */
    kube_lines lines;
    bool relist; /* the watch said 410 */
    char stream_err[256];
    unsigned long events;
    uint64_t watch_started;
    unsigned failures;
    bool failing;
    bool retry_watch;       /* the pending retry re-watches (else it lists) */
    unsigned quick_relists; /* relists in a row whose watch saw no event */
    char fail_reason[256];
    uv_timer_t retry_timer, report_timer;
    int open; /* handles (timers, client) not yet closed */
    bool stopping;
    unsigned long long lists, watches;
} kstate;

static void k_list(kstate *s);
static void k_watch(kstate *s);

/* ---- helpers ---- */

static char *url_encode(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n * 3 + 1);
    if (out == NULL) return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            snprintf(o, 4, "%%%02X", *p);
            o += 3;
        }
    }
    *o = '\0';
    return out;
}

static unsigned long long jitter_delay(kstate *s)
{
    unsigned long long d = (unsigned long long)s->backoff_min;
    for (unsigned k = 0; k < s->failures && d < (unsigned long long)s->backoff_max; k++)
        d *= 2;
    if (d > (unsigned long long)s->backoff_max) d = (unsigned long long)s->backoff_max;
    /* full jitter in [d/2, d] */
    return d / 2 + (unsigned long long)rand() % (d / 2 + 1);
}

static void object_key(const json_t *o, char *key, size_t keylen)
{
    const json_t *meta = json_object_get(o, "metadata");
    const char *ns = kube_json_str(meta, "namespace");
    const char *name = kube_json_str(meta, "name");
    snprintf(key, keylen, "%s/%s", ns ? ns : "", name ? name : "");
}

/* ---- reports ---- */

static void k_report(kstate *s, const char *failure)
{
    discovery_result r;
    discovery_result_init(&r);
    const char *what = s->lookup == KUBE_LOOKUP_ENDPOINTSLICES ? "endpointslices"
                       : s->lookup == KUBE_LOOKUP_ENDPOINTS    ? "endpoints"
                                                               : "pods";
    discovery_result_add_evidence(&r, "API %s: GET %s?%s", kube_client_server(s->kc), s->path,
                                  s->query);
    if (failure != NULL) {
        discovery_result_fail(&r, "%s", failure);
    } else {
        size_t n = json_object_size(s->objects);
        discovery_result_add_evidence(&r, "%zu %s object(s) at resourceVersion %s (%s)", n, what,
                                      s->rv, s->watch && !s->d->once ? "list + watch" : "list");
        json_t **objs = calloc(n + 1, sizeof *objs);
        if (objs == NULL) {
            discovery_result_fail(&r, "out of memory");
        } else {
            size_t k = 0;
            const char *key;
            json_t *v;
            json_object_foreach(s->objects, key, v) objs[k++] = v;
            kube_members_compute(s->lookup, &s->nm, objs, k, &r);
            free(objs);
        }
    }
    discovery_result_finish(&r);
    /* Fail static: an answer with nobody in it (a selector typo, every pod
     * not ready at once, a slice deleted just before its replacement is
     * added) keeps the last good members, as an empty DNS answer does. A
     * pod that goes away while others stay is still removed. */
    if (failure == NULL && r.verdict == DISCOVERY_OK && r.n_members == 0 && r.n_leaving == 0)
        discovery_result_fail(&r,
                              "empty answer: the selector matched no ready %s; keeping the "
                              "last good members",
                              what);
    s->d->report(s->d, &r);
    discovery_result_free(&r);
}

static void on_report_timer(uv_timer_t *t)
{
    kstate *s = t->data;
    if (s->stopping || s->d->stopping || !s->synced) return;
    k_report(s, NULL);
}

/* Coalesces a burst of watch events into one report on the next loop turn. */
static void k_schedule_report(kstate *s)
{
    if (!uv_is_active((uv_handle_t *)&s->report_timer))
        uv_timer_start(&s->report_timer, on_report_timer, 0, 0);
}

/* ---- retries ---- */

static void on_retry(uv_timer_t *t)
{
    kstate *s = t->data;
    if (s->stopping) return;
    if (s->synced && s->retry_watch && !s->failing)
        k_watch(s);
    else
        k_list(s);
}

/* A failed request: report (fail static) and retry after Retry-After or a
 * jittered backoff; the retry relists, which also tells the coordinator when
 * the source answers again. */
static void k_fail(kstate *s, const char *reason, long retry_after_s)
{
    s->phase = PHASE_IDLE;
    s->failing = true;
    s->retry_watch = false;
    snprintf(s->fail_reason, sizeof s->fail_reason, "%s", reason);
    if (!s->d->stopping) k_report(s, reason);
    if (s->stopping || s->d->stopping || s->d->once) return;
    unsigned long long delay = jitter_delay(s);
    /* Retry-After as asked, but never faster than backoff_min (a server
     * answering "Retry-After: 0" must not get a request per loop turn). */
    if (retry_after_s >= 0) {
        delay = (unsigned long long)retry_after_s * 1000ULL;
        if (delay < (unsigned long long)s->backoff_min) delay = (unsigned long long)s->backoff_min;
    }
    if (s->failures < 32) s->failures++;
    uv_timer_start(&s->retry_timer, on_retry, delay, 0);
}

/* Says what an unsuccessful reply meant, in one line. */
static void describe_failure(const kube_response *resp, const char *verb, char *out, size_t outlen)
{
    if (resp->http_status == 0) {
        snprintf(out, outlen, "%s: %s", verb, resp->error[0] ? resp->error : "no reply");
        return;
    }
    kube_status st;
    kube_status_parse(resp->body, resp->body_len, &st);
    snprintf(out, outlen, "%s: HTTP %ld%s%.60s%s%.180s", verb, resp->http_status,
             st.reason[0] ? " " : "", st.reason, st.message[0] ? ": " : "", st.message);
}

static long retry_after_of(const kube_response *resp)
{
    if (resp->http_status != 429 && resp->http_status < 500) return -1;
    if (resp->retry_after_s >= 0) return resp->retry_after_s;
    kube_status st;
    kube_status_parse(resp->body, resp->body_len, &st);
    return st.retry_after_s;
}

/* ---- list ---- */

static void on_list_done(void *arg, const kube_response *resp)
{
    kstate *s = arg;
    s->rq = NULL;
    char why[300];
    if (resp->http_status == 410 && s->cont != NULL) {
        /* The continue token expired: one full list without limit. */
        log_event(LOG_LEVEL_INFO, "continue token expired; listing again in one piece", "topology",
                  s->d->topology->name, LOG_END);
        free(s->cont);
        s->cont = NULL;
        json_decref(s->pending);
        s->pending = NULL;
        s->full_list = true;
        k_list(s);
        return;
    }
    if (resp->http_status != 200 || resp->error[0] != '\0') {
        describe_failure(resp, "list", why, sizeof why);
        free(s->cont);
        s->cont = NULL;
        json_decref(s->pending);
        s->pending = NULL;
        k_fail(s, why, retry_after_of(resp));
        return;
    }
    json_error_t je;
    json_t *body = json_loadb(resp->body, resp->body_len, 0, &je);
    const json_t *items = json_object_get(body, "items");
    const json_t *meta = json_object_get(body, "metadata");
    const char *rv = kube_json_str(meta, "resourceVersion");
    const char *cont = kube_json_str(meta, "continue");
    if (resp->body_truncated || !json_is_array(items) || rv == NULL || strlen(rv) >= 64) {
        snprintf(why, sizeof why, "list: %s",
                 resp->body_truncated ? "reply larger than max_event_bytes"
                 : body == NULL       ? "reply is not JSON"
                                      : "reply has no items or resourceVersion");
        json_decref(body);
        free(s->cont);
        s->cont = NULL;
        json_decref(s->pending);
        s->pending = NULL;
        k_fail(s, why, -1);
        return;
    }
    if (s->pending == NULL) {
        s->pending = json_object();
        snprintf(s->list_rv, sizeof s->list_rv, "%s", rv);
    }
    size_t k;
    json_t *item;
    json_array_foreach(items, k, item)
    {
        if (!json_is_object(item)) continue;
        char key[600];
        object_key(item, key, sizeof key);
        json_object_set(s->pending, key, item);
    }
    free(s->cont);
    s->cont = NULL;
    if (cont != NULL && cont[0] != '\0') {
        s->cont = strdup(cont);
        json_decref(body);
        if (s->cont == NULL) {
            json_decref(s->pending);
            s->pending = NULL;
            k_fail(s, "out of memory", -1);
            return;
        }
        k_list(s);
        return;
    }
    json_decref(body);
    /* A complete list: it replaces the cache. */
    json_decref(s->objects);
    s->objects = s->pending;
    s->pending = NULL;
    snprintf(s->rv, sizeof s->rv, "%s", s->list_rv);
    s->synced = true;
    s->full_list = false;
    s->failures = 0;
    if (s->failing)
        log_event(LOG_LEVEL_INFO, "Kubernetes API answers again", "topology", s->d->topology->name,
                  LOG_END);
    s->failing = false;
    s->phase = PHASE_IDLE;
    uv_timer_stop(&s->report_timer);
    k_report(s, NULL);
    if (s->stopping || s->d->stopping || s->d->once) return;
    if (s->watch) {
        k_watch(s);
    } else {
        s->retry_watch = false;
        uv_timer_start(&s->retry_timer, on_retry, (uint64_t)s->poll_ms, 0);
    }
}

static void k_list(kstate *s)
{
    char q[8192];
    int n = snprintf(q, sizeof q, "%s?%s%s", s->path, s->query, s->query[0] ? "&" : "");
    if (!s->full_list) {
        n += snprintf(q + n, sizeof q - (size_t)n, "limit=%lld", s->page_size);
        if (s->cont != NULL) {
            char *c = url_encode(s->cont);
            if (c == NULL) {
                k_fail(s, "out of memory", -1);
                return;
            }
            n += snprintf(q + n, sizeof q - (size_t)n, "&continue=%s", c);
            free(c);
        }
    }
    if (s->cached && s->cont == NULL)
        n += snprintf(q + n, sizeof q - (size_t)n, "%sresourceVersion=0", s->full_list ? "" : "&");
    if (n <= 0 || (size_t)n >= sizeof q) {
        k_fail(s, "list URL too long", -1);
        return;
    }
    s->phase = PHASE_LIST;
    s->lists++;
    kube_request_opts o = {.stream = false,
                           .timeout_ms = s->request_ms,
                           .connect_timeout_ms = s->request_ms < 5000 ? s->request_ms : 5000,
                           .max_body = (size_t)s->max_bytes};
    s->rq = kube_client_get(s->kc, q, &o, NULL, on_list_done, s);
    if (s->rq == NULL) k_fail(s, "cannot start a list request", -1);
}

/* ---- watch ---- */

static int on_event_line(void *arg, const char *line, size_t len)
{
    kstate *s = arg;
    kube_event ev;
    char err[200];
    if (kube_event_parse(line, len, &ev, err, sizeof err) != 0) {
        snprintf(s->stream_err, sizeof s->stream_err, "watch: %.200s", err);
        s->relist = true; /* an event we could not read may be a change we missed */
        return -1;
    }
    s->events++;
    char key[600];
    switch (ev.type) {
    case KUBE_EV_ADDED:
    case KUBE_EV_MODIFIED:
        object_key(ev.object, key, sizeof key);
        json_object_set(s->objects, key, ev.object);
        k_schedule_report(s);
        break;
    case KUBE_EV_DELETED:
        object_key(ev.object, key, sizeof key);
        json_object_del(s->objects, key);
        k_schedule_report(s);
        break;
    case KUBE_EV_BOOKMARK:
        break;
    case KUBE_EV_ERROR:
        if (ev.code == 410) {
            s->relist = true;
            snprintf(s->stream_err, sizeof s->stream_err, "watch: ERROR 410 %.60s: %.150s",
                     ev.reason, ev.message);
        } else {
            snprintf(s->stream_err, sizeof s->stream_err, "watch: ERROR %d %.60s: %.150s", ev.code,
                     ev.reason, ev.message);
        }
        kube_event_free(&ev);
        return -1;
    }
    if (ev.rv[0] != '\0' && strlen(ev.rv) < sizeof s->rv)
        snprintf(s->rv, sizeof s->rv, "%s", ev.rv);
    kube_event_free(&ev);
    return 0;
}

static int on_watch_data(void *arg, const char *data, size_t len)
{
    kstate *s = arg;
    char err[256];
    if (kube_lines_feed(&s->lines, data, len, on_event_line, s, err, sizeof err) != 0) {
        if (s->stream_err[0] == '\0') {
            snprintf(s->stream_err, sizeof s->stream_err, "watch: %.200s", err);
            s->relist = true;
        }
        return -1;
    }
    return 0;
}

static void on_watch_done(void *arg, const kube_response *resp)
{
    kstate *s = arg;
    s->rq = NULL;
    s->phase = PHASE_IDLE;
    bool cut = kube_lines_pending(&s->lines) > 0;
    kube_lines_reset(&s->lines);
    if (s->stopping || s->d->stopping) return;
    char why[300];
    if (s->relist || resp->http_status == 410) {
        log_event(LOG_LEVEL_INFO, "watch ended; listing again", "topology", s->d->topology->name,
                  "reason", s->stream_err[0] ? s->stream_err : "HTTP 410: resourceVersion too old",
                  LOG_END);
        s->relist = false;
        /* A server that keeps answering 410 must not get a list per loop
         * turn: the second relist in a row without any event backs off. */
        if (s->events == 0 && s->quick_relists++ > 0) {
            s->retry_watch = false;
            if (s->failures < 32) s->failures++;
            uv_timer_start(&s->retry_timer, on_retry, jitter_delay(s), 0);
            return;
        }
        k_list(s);
        return;
    }
    if (s->events > 0) s->quick_relists = 0;
    if (resp->http_status != 200) {
        describe_failure(resp, "watch", why, sizeof why);
        k_fail(s, why, retry_after_of(resp));
        return;
    }
    uint64_t lasted = uv_now(s->d->loop) - s->watch_started;
    if (s->stream_err[0] != '\0' || resp->error[0] != '\0' || cut) {
        /* A broken stream: the cache is still right up to s->rv. Re-watch
         * from there after a short, growing pause; a re-watch that fails is
         * reported as a failure. */
        log_event(LOG_LEVEL_WARN, "watch stream broken; watching again", "topology",
                  s->d->topology->name, "reason",
                  s->stream_err[0] ? s->stream_err
                  : resp->error[0] ? resp->error
                                   : "cut mid-event",
                  LOG_END);
        unsigned long long delay = jitter_delay(s);
        if (s->failures < 32) s->failures++;
        s->retry_watch = true;
        uv_timer_start(&s->retry_timer, on_retry, delay, 0);
        return;
    }
    if (lasted < 1000 && s->events == 0) {
        /* Ended at once with nothing: counts as an error (client-go does). */
        unsigned long long delay = jitter_delay(s);
        if (s->failures < 32) s->failures++;
        s->retry_watch = true;
        uv_timer_start(&s->retry_timer, on_retry, delay, 0);
        return;
    }
    s->failures = 0;
    k_watch(s); /* a clean end (timeoutSeconds): again from the last RV */
}

static void k_watch(kstate *s)
{
    char q[8192];
    long long t = s->watch_s > 0 ? s->watch_s : 300 + rand() % 301;
    int n =
        snprintf(q, sizeof q,
                 "%s?%s%swatch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%lld",
                 s->path, s->query, s->query[0] ? "&" : "", s->rv, t);
    if (n <= 0 || (size_t)n >= sizeof q) {
        k_fail(s, "watch URL too long", -1);
        return;
    }
    s->phase = PHASE_WATCH;
    s->stream_err[0] = '\0';
    s->relist = false;
    s->events = 0;
    s->watches++;
    s->watch_started = uv_now(s->d->loop);
    kube_lines_reset(&s->lines);
    kube_request_opts o = {.stream = true,
                           .timeout_ms = (t + 30) * 1000,
                           .connect_timeout_ms = s->request_ms < 5000 ? s->request_ms : 5000,
                           .max_body = 64 * 1024};
    s->rq = kube_client_get(s->kc, q, &o, on_watch_data, on_watch_done, s);
    if (s->rq == NULL) k_fail(s, "cannot start a watch request", -1);
}

/* ---- start / stop ---- */

static void kstate_free(kstate *s)
{
    if (s == NULL) return;
    json_decref(s->objects);
    json_decref(s->pending);
    kube_lines_free(&s->lines);
    free(s->basename);
    free(s->namespace_);
    free(s->service_name);
    free(s->domain);
    free(s->path);
    free(s->query);
    free(s->cont);
    free(s);
}

static void k_maybe_closed(kstate *s)
{
    if (--s->open > 0) return;
    discovery *d = s->d;
    kstate_free(s);
    d->state = NULL;
    discovery_closed(d);
}

static void on_handle_closed(uv_handle_t *h)
{
    k_maybe_closed(h->data);
}

static void on_client_closed(void *arg)
{
    k_maybe_closed(arg);
}

/* The API server URL from libcluster's kubernetes_master: used as is when it
 * is a URL, or ends with the cluster domain or a dot; otherwise the domain is
 * appended. Port 443 unless given. */
static void master_url(const char *master, const char *domain, char *out, size_t outlen)
{
    if (strstr(master, "://") != NULL) {
        snprintf(out, outlen, "%s", master);
        return;
    }
    size_t ml = strlen(master), dl = strlen(domain);
    bool full = (ml > 0 && master[ml - 1] == '.') ||
                (ml >= dl && strcmp(master + ml - dl, domain) == 0) || strchr(master, ':');
    char host[512];
    if (full) {
        snprintf(host, sizeof host, "%s", master);
        size_t hl = strlen(host);
        if (hl > 0 && host[hl - 1] == '.') host[hl - 1] = '\0';
    } else {
        snprintf(host, sizeof host, "%s.%s", master, domain);
    }
    snprintf(out, outlen, "https://%s", host);
}

/* Access in INTERFACE.md's order: kubeconfig option, in-cluster, then
 * $KUBECONFIG or ~/.kube/config. kubernetes_master overrides the server. */
static int k_access(const opt_values *ov, const char *domain, kube_access *a, char *err,
                    size_t errlen)
{
    const char *kubeconfig = opts_str(ov, "kubeconfig");
    const char *context = opts_str(ov, "context");
    const char *master = opts_str(ov, "kubernetes_master");
    const char *sa = opts_str(ov, "kubernetes_service_account_path");
    char url[600];
    if (master != NULL) master_url(master, domain, url, sizeof url);
    if (kubeconfig != NULL) {
        if (kubeconfig_load(kubeconfig, context, a, err, errlen) != 0) return -1;
    } else {
        int rc = kube_access_in_cluster(sa, master ? url : NULL, a, err, errlen);
        if (rc < 0) return -1;
        if (rc == 1) {
            const char *env = getenv("KUBECONFIG");
            if (kubeconfig_load(env && env[0] ? env : "~/.kube/config", context, a, err, errlen) !=
                0) {
                char inner[400];
                snprintf(inner, sizeof inner, "%s", err);
                snprintf(err, errlen,
                         "no Kubernetes API access: not in a pod (KUBERNETES_SERVICE_HOST/PORT "
                         "unset), no kubeconfig option, and %s",
                         inner);
                return -1;
            }
        }
    }
    if (master != NULL && kubeconfig != NULL) {
        free(a->server);
        a->server = strdup(url);
        if (a->server == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int kubernetes_validate(const opt_values *ov, char *err, size_t errlen);

static int kubernetes_start(discovery *d, char *err, size_t errlen)
{
    const opt_values *ov = &d->topology->options;
    if (kubernetes_validate(ov, err, errlen) != 0) return -1; /* bounds the buffers below */
    kstate *s = calloc(1, sizeof *s);
    kube_access a;
    memset(&a, 0, sizeof a);
    if (s == NULL) goto nomem;
    s->d = d;
    const char *lm = opts_str(ov, "kubernetes_ip_lookup_mode");
    s->lookup = strcmp(lm, "pods") == 0        ? KUBE_LOOKUP_PODS
                : strcmp(lm, "endpoints") == 0 ? KUBE_LOOKUP_ENDPOINTS
                                               : KUBE_LOOKUP_ENDPOINTSLICES;
    const char *mode = opts_str(ov, "mode");
    s->nm.mode = strcmp(mode, "dns") == 0        ? KUBE_NAME_DNS
                 : strcmp(mode, "hostname") == 0 ? KUBE_NAME_HOSTNAME
                                                 : KUBE_NAME_IP;
    /* CLUSTER_DOMAIN wins (trailing dot dropped: node names have none). */
    const char *cd = getenv("CLUSTER_DOMAIN");
    char domain[256];
    if (cd != NULL && cd[0] != '\0')
        snprintf(domain, sizeof domain, "%s", cd);
    else
        snprintf(domain, sizeof domain, "%s.local", opts_str(ov, "kubernetes_cluster_name"));
    size_t dl = strlen(domain);
    if (dl > 0 && domain[dl - 1] == '.') domain[dl - 1] = '\0';
    if (k_access(ov, domain, &a, err, errlen) != 0) goto fail;
    const char *ns = opts_str(ov, "kubernetes_namespace");
    if (ns == NULL) ns = a.namespace_;
    if (ns == NULL) ns = "default";
    s->basename = strdup(opts_str(ov, "kubernetes_node_basename"));
    s->namespace_ = strdup(ns);
    s->service_name = dup_or_null(opts_str(ov, "kubernetes_service_name"));
    s->domain = strdup(domain);
    if (s->basename == NULL || s->namespace_ == NULL || s->domain == NULL) goto nomem;
    s->nm.basename = s->basename;
    s->nm.namespace_ = s->namespace_;
    s->nm.service_name = s->service_name;
    s->nm.cluster_domain = s->domain;
    s->nm.require_ready = opts_bool(ov, "kubernetes_require_ready");
    s->watch = opts_bool(ov, "kubernetes_watch");
    s->cached = opts_bool(ov, "kubernetes_use_cached_resources");
    s->poll_ms = opts_int(ov, "polling_interval");
    s->request_ms = opts_int(ov, "request_timeout");
    s->watch_s = opts_int(ov, "watch_timeout");
    s->backoff_min = opts_int(ov, "backoff_min");
    s->backoff_max = opts_int(ov, "backoff_max");
    if (s->backoff_max < s->backoff_min) s->backoff_max = s->backoff_min;
    s->page_size = opts_int(ov, "page_size");
    s->max_bytes = opts_int(ov, "max_event_bytes");
    char *ens = url_encode(s->namespace_);
    if (ens == NULL) goto nomem;
    char path[1024]; /* a namespace is at most 253 characters (kubernetes_validate) */
    if (s->lookup == KUBE_LOOKUP_ENDPOINTSLICES)
        snprintf(path, sizeof path, "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices", ens);
    else
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s", ens,
                 s->lookup == KUBE_LOOKUP_PODS ? "pods" : "endpoints");
    free(ens);
    s->path = strdup(path);
    char sel[K_SELECTOR_MAX] = ""; /* kubernetes_validate bounds what goes in */
    const char *selector = opts_str(ov, "kubernetes_selector");
    if (selector != NULL) snprintf(sel, sizeof sel, "%s", selector);
    if (s->lookup == KUBE_LOOKUP_ENDPOINTSLICES && s->service_name != NULL) {
        size_t sl = strlen(sel);
        snprintf(sel + sl, sizeof sel - sl, "%skubernetes.io/service-name=%s", sl ? "," : "",
                 s->service_name);
    }
    if (sel[0] != '\0') {
        char *enc = url_encode(sel);
        if (enc == NULL) goto nomem;
        size_t n = strlen(enc) + 16;
        s->query = malloc(n);
        if (s->query != NULL) snprintf(s->query, n, "labelSelector=%s", enc);
        free(enc);
    } else {
        s->query = strdup("");
    }
    if (s->path == NULL || s->query == NULL) goto nomem;
    s->objects = json_object();
    if (s->objects == NULL) goto nomem;
    kube_lines_init(&s->lines, (size_t)s->max_bytes);
    char source[sizeof a.source];
    memcpy(source, a.source, sizeof source);
    s->kc = kube_client_new(d->loop, &a, err, errlen);
    if (s->kc == NULL) goto fail;
    log_event(LOG_LEVEL_INFO, "Kubernetes API discovery", "topology", d->topology->name, "server",
              kube_client_server(s->kc), "access", source, "namespace", s->namespace_, "lookup", lm,
              "mode", mode, LOG_END);
    uv_timer_init(d->loop, &s->retry_timer);
    uv_timer_init(d->loop, &s->report_timer);
    s->retry_timer.data = s;
    s->report_timer.data = s;
    s->open = 3;
    d->state = s;
    srand((unsigned)uv_hrtime());
    uv_timer_start(&s->retry_timer, on_retry, 0, 0); /* the first list, from the loop */
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    kube_access_free(&a);
    kstate_free(s);
    return -1;
}

static void kubernetes_stop(discovery *d)
{
    kstate *s = d->state;
    if (s == NULL) {
        discovery_closed(d);
        return;
    }
    s->stopping = true;
    s->rq = NULL; /* cancelled with the client */
    uv_timer_stop(&s->retry_timer);
    uv_timer_stop(&s->report_timer);
    uv_close((uv_handle_t *)&s->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->report_timer, on_handle_closed);
    kube_client_close(s->kc, on_client_closed, s);
}

static int kubernetes_validate(const opt_values *ov, char *err, size_t errlen)
{
    const char *lm = opts_str(ov, "kubernetes_ip_lookup_mode");
    const char *sel = opts_str(ov, "kubernetes_selector");
    const char *svc = opts_str(ov, "kubernetes_service_name");
    if (sel == NULL && !(svc != NULL && strcmp(lm, "endpointslices") == 0)) {
        snprintf(err, errlen,
                 "kubernetes_selector is required (or kubernetes_service_name with "
                 "kubernetes_ip_lookup_mode endpointslices)");
        return -1;
    }
    if (strcmp(opts_str(ov, "mode"), "hostname") == 0 && svc == NULL) {
        snprintf(err, errlen, "mode hostname needs kubernetes_service_name");
        return -1;
    }
    /* The label selector (with the service clause) and the namespace go into
     * fixed-size request paths: refuse what would not fit rather than cut a
     * selector into one that means something else. */
    if (strlen(sel ? sel : "") + strlen(svc ? svc : "") + 32 > K_SELECTOR_MAX) {
        snprintf(err, errlen,
                 "kubernetes_selector and kubernetes_service_name are too long "
                 "together (at most %d characters)",
                 K_SELECTOR_MAX - 32);
        return -1;
    }
    const char *ns = opts_str(ov, "kubernetes_namespace");
    if (ns != NULL && strlen(ns) > 253) {
        snprintf(err, errlen, "kubernetes_namespace is longer than 253 characters");
        return -1;
    }
    const char *base = opts_str(ov, "kubernetes_node_basename");
    if (base != NULL && (base[0] == '\0' || strchr(base, '@') != NULL)) {
        snprintf(err, errlen, "kubernetes_node_basename must be a non-empty name without @");
        return -1;
    }
    return 0;
}

/* Cluster.Strategy.Kubernetes. */
const strategy_ops strategy_kubernetes = {
    .module = "Cluster.Strategy.Kubernetes",
    .alias = "kubernetes",
    .options = kubernetes_options,
    .n_options = sizeof kubernetes_options / sizeof kubernetes_options[0],
    .start = kubernetes_start,
    .stop = kubernetes_stop,
    .validate = kubernetes_validate,
};
