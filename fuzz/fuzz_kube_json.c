/* fuzz_kube_json: the Kubernetes API's bodies and watch streams as clusterd
 * reads them. The input is cut into chunks at bytes chosen by the input
 * itself and fed to the line splitter (with a small cap, so the cap is hit);
 * every line is decoded as a watch event, and ADDED/MODIFIED objects are kept
 * in a cache as the strategy keeps them; the cache then goes through every
 * membership rule and naming mode. The whole input is also read as a list
 * body's items and as a Status body. Leaks and sanitizer reports fail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "kube_json.h"
#include "kube_members.h"

#define MAX_OBJECTS 64

typedef struct cache {
    json_t *objs[MAX_OBJECTS];
    size_t n;
} cache;

static int on_line(void *arg, const char *line, size_t len)
{
    cache *c = arg;
    kube_event ev;
    char err[128];
    if (kube_event_parse(line, len, &ev, err, sizeof err) != 0) {
        if (err[0] == '\0') abort(); /* a refusal says why */
        return 0;
    }
    if (ev.rv == NULL) abort();
    if ((ev.type == KUBE_EV_ADDED || ev.type == KUBE_EV_MODIFIED || ev.type == KUBE_EV_DELETED) &&
        c->n < MAX_OBJECTS)
        c->objs[c->n++] = json_incref(ev.object);
    kube_event_free(&ev);
    return 0;
}

static void run_rules(json_t **objs, size_t n)
{
    static const kube_lookup lookups[] = {KUBE_LOOKUP_ENDPOINTSLICES, KUBE_LOOKUP_ENDPOINTS,
                                          KUBE_LOOKUP_PODS};
    static const kube_name_mode modes[] = {KUBE_NAME_IP, KUBE_NAME_DNS, KUBE_NAME_HOSTNAME};
    for (size_t l = 0; l < 3; l++)
        for (size_t m = 0; m < 3; m++) {
            kube_naming nm = {.mode = modes[m],
                              .basename = "app",
                              .namespace_ = "default",
                              .service_name = "svc",
                              .cluster_domain = "cluster.local",
                              .require_ready = (l + m) % 2 == 0};
            discovery_result r;
            discovery_result_init(&r);
            kube_members_compute(lookups[l], &nm, objs, n, &r);
            discovery_result_finish(&r);
            for (size_t k = 0; k < r.n_members; k++)
                if (discovery_result_is_leaving(&r, r.members[k])) abort();
            discovery_result_free(&r);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    /* 1. the stream, in chunks whose sizes come from the first byte */
    cache c = {.n = 0};
    kube_lines l;
    kube_lines_init(&l, 4096);
    size_t step = size > 0 ? (size_t)(data[0] % 61) + 1 : 1;
    char err[256];
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (kube_lines_feed(&l, text + off, n, on_line, &c, err, sizeof err) != 0) {
            kube_lines_reset(&l);
        }
    }
    kube_lines_free(&l);
    run_rules(c.objs, c.n);
    for (size_t k = 0; k < c.n; k++)
        json_decref(c.objs[k]);

    /* 2. a list body */
    json_t *body = json_loadb(text, size, 0, NULL);
    const json_t *items = json_object_get(body, "items");
    if (json_is_array(items)) {
        json_t *objs[MAX_OBJECTS];
        size_t n = 0;
        for (size_t k = 0; k < json_array_size(items) && n < MAX_OBJECTS; k++)
            objs[n++] = json_array_get(items, k);
        run_rules(objs, n);
    }
    json_decref(body);

    /* 3. an error body */
    kube_status st;
    kube_status_parse(text, size, &st);
    if (strlen(st.message) >= sizeof st.message || strlen(st.reason) >= sizeof st.reason) abort();
    char ra[32];
    size_t k = size < sizeof ra - 1 ? size : sizeof ra - 1;
    memcpy(ra, text, k);
    ra[k] = '\0';
    long v = kube_retry_after_parse(ra);
    if (v < -1 || v > 3600) abort();
    return 0;
}
