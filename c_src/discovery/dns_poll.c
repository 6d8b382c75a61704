/* discovery/dns_poll: Cluster.Strategy.DNSPoll, the A and AAAA records of
 * `query` as `node_basename@<ip>`, as libcluster builds them. Unlike
 * libcluster (any error or empty answer disconnects everyone) it fails
 * static and follows CNAMEs: see dns_common.h. */
#include <stdio.h>

#include "discovery.h"
#include "discovery/dns_common.h"

static const opt_spec dns_poll_options[] = {
    {.name = "query",
     .type = OPT_STRING,
     .required = true,
     .help = "the DNS name to look up (A and AAAA), e.g. \"myapp.internal\""},
    {.name = "node_basename",
     .type = OPT_STRING,
     .required = true,
     .help = "the alive part of every member: node_basename@<ip>"},
    {.name = "polling_interval",
     .type = OPT_INT,
     .def_int = 5000,
     .min = 100,
     .max = 86400000,
     .help = "ms between look-ups (sooner when the answers' TTL is shorter, at least 1 s)"},
};

static int dns_poll_validate(const opt_values *ov, char *err, size_t errlen)
{
    if (dns_check_query_name("query", opts_str(ov, "query"), err, errlen) != 0) return -1;
    return dns_check_basename("node_basename", opts_str(ov, "node_basename"), err, errlen);
}

static int dns_poll_start(discovery *d, char *err, size_t errlen)
{
    const opt_values *ov = &d->topology->options;
    if (dns_poll_validate(ov, err, errlen) != 0) return -1;
    const char *query = opts_str(ov, "query");
    dns_rounds_config c = {
        .basename = opts_str(ov, "node_basename"),
        .names = {query, query},
        .types = {DNS_TYPE_A, DNS_TYPE_AAAA},
        .n_lookups = 2,
        .interval_ms = (unsigned long long)opts_int(ov, "polling_interval"),
    };
    return dns_rounds_start(d, &c, err, errlen);
}

/* Cluster.Strategy.DNSPoll. */
const strategy_ops strategy_dns_poll = {
    .module = "Cluster.Strategy.DNSPoll",
    .alias = "dns_poll",
    .options = dns_poll_options,
    .n_options = sizeof dns_poll_options / sizeof dns_poll_options[0],
    .start = dns_poll_start,
    .stop = dns_rounds_stop,
    .validate = dns_poll_validate,
};
