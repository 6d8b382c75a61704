/* discovery/dns_common: what the three DNS strategies (Kubernetes.DNS,
 * Kubernetes.DNSSRV, DNSPoll) share: rounds of look-ups on one resolver
 * (c_src/dns.h), answers turned into members, the fail-static verdict, and
 * re-query timing from the polling interval and the answers' TTLs.
 *
 * Verdict of a round (one or two look-ups, e.g. A and AAAA of one name):
 *   - some look-up answered with usable records: ok; the members are those
 *     records', plus, for a look-up that failed (timeout, SERVFAIL, ...),
 *     the members of its last good answer (a partial failure);
 *   - otherwise (every look-up failed, or answered NXDOMAIN/NODATA, or only
 *     with records that make no valid node name): failed, so the last good
 *     set stays (fail static).
 * Each look-up's outcome, records (with TTLs), CNAMEs followed and records
 * rejected (and why) are evidence lines of the round. */
#ifndef CLUSTERD_DISCOVERY_DNS_COMMON_H
#define CLUSTERD_DISCOVERY_DNS_COMMON_H

#include <stdint.h>

#include "discovery.h"
#include "dns_answer.h"

#define DNS_ROUNDS_MAX_LOOKUPS 2
/* A TTL shorter than the polling interval brings the next round forward,
 * but never closer than this (a TTL of 0 must not spin). */
#define DNS_MIN_REQUERY_MS 1000
/* A round that has not finished by then is cancelled and fails. */
#define DNS_ROUND_DEADLINE_MS 10000

typedef struct dns_rounds_config {
    const char *basename; /* members are basename@<address or SRV target> (copied) */
    const char *names[DNS_ROUNDS_MAX_LOOKUPS]; /* copied */
    uint16_t types[DNS_ROUNDS_MAX_LOOKUPS];
    size_t n_lookups;
    unsigned long long interval_ms; /* polling_interval */
} dns_rounds_config;

/* Starts rounds for d (first one from the loop, at once) with the resolver
 * settings of d->cfg (resolver.nameservers, else resolv.conf). Returns 0 or
 * -1 with err. */
int dns_rounds_start(discovery *d, const dns_rounds_config *cfg, char *err, size_t errlen);
/* Stops; calls discovery_closed(d) once the resolver and timer have closed. */
void dns_rounds_stop(discovery *d);

/* Pure: adds basename@<address> for every A/AAAA record of a, or
 * basename@<target> for every SRV record, to r (invalid names are rejected
 * there, with an evidence line), plus one evidence line per record, CNAME
 * followed and record ignored. Returns the number of members added. */
size_t dns_answer_add_members(const dns_answer *a, const char *basename, discovery_result *r);

/* Option checks shared by the strategies' validate: an alive part
 * ([A-Za-z0-9_-]+) and a DNS name to query. 0, or -1 with err. */
int dns_check_basename(const char *option, const char *value, char *err, size_t errlen);
int dns_check_query_name(const char *option, const char *value, char *err, size_t errlen);

/* The strategies that read the A and AAAA records of one name (Kubernetes.DNS,
 * DNSPoll): members are <basename>@<ip>. name_key and basename_key name the
 * strategy's options holding the DNS name and the basename. */
int dns_address_validate(const opt_values *ov, const char *name_key, const char *basename_key,
                         char *err, size_t errlen);
int dns_address_start(discovery *d, const char *name_key, const char *basename_key, char *err,
                      size_t errlen);

#endif
