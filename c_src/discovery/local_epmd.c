/* discovery/local_epmd: Cluster.Strategy.LocalEpmd, the nodes registered in
 * the EPMD of this host. Members are `name@<our host part>` as libcluster
 * builds them. Unlike libcluster (one look-up at start, a crash when EPMD is
 * down) it polls, and an unreachable EPMD is a failed round, so the last good
 * set is kept (fail static). The NAMES query runs on the thread pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discovery.h"
#include "epmd_client.h"
#include "nodename.h"

#define LOCAL_EPMD_HOST "127.0.0.1"
#define LOCAL_EPMD_TIMEOUT_MS 2000

static const opt_spec local_epmd_options[] = {
    {.name = "polling_interval",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 86400000,
     .help = "ms between EPMD look-ups (clusterd's own; libcluster looks once)"},
};

typedef struct local_epmd_state {
    char host[NODENAME_MAX + 1];  /* host part of the members */
    char alive[NODENAME_MAX + 1]; /* our own alive name, skipped ("" if unknown) */
} local_epmd_state;

/* Fills s->host and s->alive from clusterd's own node settings: the host part
 * of our name when it has one, else 127.0.0.1 for long names and the short
 * host name (up to the first dot) for short names, as erl -sname does. */
static int local_epmd_host_part(const config *cfg, local_epmd_state *s, char *err, size_t errlen)
{
    const char *name = cfg != NULL ? cfg->node.name : NULL;
    bool longnames = cfg != NULL && cfg->node.longnames;
    const char *at = name != NULL ? strchr(name, '@') : NULL;
    if (name != NULL) {
        size_t alen = at != NULL ? (size_t)(at - name) : strlen(name);
        if (alen > NODENAME_MAX) alen = NODENAME_MAX;
        memcpy(s->alive, name, alen);
        s->alive[alen] = '\0';
    }
    if (at != NULL && at[1] != '\0') {
        snprintf(s->host, sizeof s->host, "%s", at + 1);
    } else if (longnames) {
        snprintf(s->host, sizeof s->host, "%s", LOCAL_EPMD_HOST);
    } else {
        char h[256];
        if (gethostname(h, sizeof h) != 0) {
            snprintf(err, errlen, "gethostname failed");
            return -1;
        }
        h[sizeof h - 1] = '\0';
        h[strcspn(h, ".")] = '\0';
        snprintf(s->host, sizeof s->host, "%s", h);
    }
    char why[128];
    if (!nodename_host_valid(s->host, why, sizeof why)) {
        snprintf(err, errlen, "host part \"%.200s\" for members: %s", s->host, why);
        return -1;
    }
    return 0;
}

static void local_epmd_round(const discovery *d, void *ctx, discovery_result *r)
{
    (void)d;
    const local_epmd_state *s = ctx;
    epmd_names_query q = {.host = LOCAL_EPMD_HOST};
    epmd_names_many(&q, 1, LOCAL_EPMD_TIMEOUT_MS);
    if (q.status != EPMD_OK) {
        discovery_result_fail(r, "EPMD on %s:%d: %s", LOCAL_EPMD_HOST, epmd_port(),
                              epmd_status_text(q.status));
        free(q.names);
        return;
    }
    const epmd_name *names = q.names;
    size_t n = q.count;
    discovery_result_add_evidence(r, "EPMD on %s:%d listed %zu name(s)", LOCAL_EPMD_HOST,
                                  epmd_port(), n);
    for (size_t k = 0; k < n; k++) {
        if (strcmp(names[k].name, s->alive) == 0) {
            discovery_result_add_evidence(r, "name %s at port %d: ourselves, skipped",
                                          names[k].name, names[k].port);
            continue;
        }
        char node[2 * NODENAME_MAX + 2];
        snprintf(node, sizeof node, "%s@%s", names[k].name, s->host);
        if (discovery_result_add_member(r, node) == 0)
            discovery_result_add_evidence(r, "name %s at port %d", names[k].name, names[k].port);
    }
    free(q.names);
}

static int local_epmd_start(discovery *d, char *err, size_t errlen)
{
    local_epmd_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (local_epmd_host_part(d->cfg, s, err, errlen) != 0) {
        free(s);
        return -1;
    }
    long long every = opts_int(&d->topology->options, "polling_interval");
    return discovery_poller_start(d, (unsigned long long)every, true, local_epmd_round, s, free,
                                  err, errlen);
}

static void local_epmd_stop(discovery *d)
{
    discovery_poller_stop(d);
}

/* Cluster.Strategy.LocalEpmd. */
const strategy_ops strategy_local_epmd = {
    .module = "Cluster.Strategy.LocalEpmd",
    .alias = "local_epmd",
    .options = local_epmd_options,
    .n_options = sizeof local_epmd_options / sizeof local_epmd_options[0],
    .start = local_epmd_start,
    .stop = local_epmd_stop,
    .validate = NULL,
};
