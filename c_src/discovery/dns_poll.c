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
    return dns_address_validate(ov, "query", "node_basename", err, errlen);
}

static int dns_poll_start(discovery *d, char *err, size_t errlen)
{
    return dns_address_start(d, "query", "node_basename", err, errlen);
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
