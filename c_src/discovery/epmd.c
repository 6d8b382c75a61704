/* discovery/epmd: Cluster.Strategy.Epmd, a fixed list of full node names.
 * Static, so every round answers ok with the same members; invalid names are
 * never members (they show up in the evidence, and `clusterd check` rejects
 * them through validate). libcluster runs it once, or again every `timeout`
 * ms when that is an integer: clusterd does the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "nodename.h"

#define MIN_REPEAT_MS 100 /* `timeout` below this repeats at this pace */

static const opt_spec epmd_options[] = {
    {.name = "hosts",
     .type = OPT_STRING_LIST,
     .required = true,
     .help = "full node names to connect, e.g. [\"a@127.0.0.1\", \"b@host\"]"},
    {.name = "timeout",
     .type = OPT_INT,
     .def_int = 0,
     .min = 0,
     .max = 86400000,
     .help = "ms between repeated rounds (1-99 count as 100); 0 (default) runs once, as "
             "libcluster's :infinity"},
};

typedef struct epmd_state {
    char **hosts; /* copied at start: rounds never touch the config */
    size_t n_hosts;
} epmd_state;

static void epmd_state_free(void *ctx)
{
    epmd_state *s = ctx;
    if (s == NULL) return;
    for (size_t k = 0; k < s->n_hosts; k++)
        free(s->hosts[k]);
    free(s->hosts);
    free(s);
}

static void epmd_round(const discovery *d, void *ctx, discovery_result *r)
{
    (void)d;
    const epmd_state *s = ctx;
    if (s->n_hosts == 0) discovery_result_add_evidence(r, "hosts is empty: no members");
    for (size_t k = 0; k < s->n_hosts; k++)
        if (discovery_result_add_member(r, s->hosts[k]) == 0)
            discovery_result_add_evidence(r, "%s: listed in hosts", s->hosts[k]);
}

static int epmd_start(discovery *d, char *err, size_t errlen)
{
    const opt_values *ov = &d->topology->options;
    size_t n = 0;
    char *const *hosts = opts_list(ov, "hosts", &n);
    epmd_state *s = calloc(1, sizeof *s);
    if (s == NULL) goto nomem;
    if (n > 0) {
        s->hosts = calloc(n, sizeof *s->hosts);
        if (s->hosts == NULL) goto nomem;
    }
    for (size_t k = 0; k < n; k++) {
        s->hosts[k] = strdup(hosts[k]);
        if (s->hosts[k] == NULL) goto nomem;
        s->n_hosts++;
    }
    long long every = opts_int(ov, "timeout");
    if (every > 0 && every < MIN_REPEAT_MS) every = MIN_REPEAT_MS;
    return discovery_poller_start(d, (unsigned long long)every, false, epmd_round, s,
                                  epmd_state_free, err, errlen);
nomem:
    epmd_state_free(s);
    snprintf(err, errlen, "out of memory");
    return -1;
}

static void epmd_stop(discovery *d)
{
    discovery_poller_stop(d);
}

/* Every entry of hosts must be a valid full node name. */
static int epmd_validate(const opt_values *ov, char *err, size_t errlen)
{
    size_t n = 0;
    char *const *hosts = opts_list(ov, "hosts", &n);
    for (size_t k = 0; k < n; k++) {
        char why[128];
        if (!nodename_valid(hosts[k], why, sizeof why)) {
            snprintf(err, errlen, "hosts[%zu]: \"%.200s\" is not a node name: %s", k, hosts[k],
                     why);
            return -1;
        }
    }
    return 0;
}

/* Cluster.Strategy.Epmd. */
const strategy_ops strategy_epmd = {
    .module = "Cluster.Strategy.Epmd",
    .alias = "epmd",
    .options = epmd_options,
    .n_options = sizeof epmd_options / sizeof epmd_options[0],
    .start = epmd_start,
    .stop = epmd_stop,
    .validate = epmd_validate,
};
