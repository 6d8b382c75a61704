/* libFuzzer target: DNS responses as they come off the network, through the
 * answer parser (dns_answer.c) and on into members (discovery/dns_common.c),
 * the path every byte of a DNS answer takes in clusterd. The first input
 * byte picks the type asked for (A, AAAA or SRV); the rest is the message.
 * Checks: every record kept is of that type and owned by the end of the
 * CNAME chain; every member is a valid node name. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "discovery/dns_common.h"
#include "dns_answer.h"
#include "log.h"
#include "nodename.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_SRV};
    static int quiet;
    if (!quiet) {
        log_init(LOG_LEVEL_ERROR, LOG_FORMAT_LOGFMT);
        quiet = 1;
    }
    if (size < 1) return 0;
    uint16_t qtype = types[data[0] % 3];
    dns_answer a;
    char err[256];
    if (dns_answer_parse(data + 1, size - 1, qtype, &a, err, sizeof err) != 0) return 0;
    for (size_t k = 0; k < a.n_records; k++) {
        if (a.records[k].type != qtype) abort();
        if (strcmp(a.records[k].owner, a.final_name) != 0) abort();
    }
    if (a.n_chain > DNS_MAX_CNAME_CHAIN) abort();
    discovery_result r;
    discovery_result_init(&r);
    size_t added = dns_answer_add_members(&a, "app", &r);
    discovery_result_finish(&r);
    if (r.n_members > added) abort();
    for (size_t k = 0; k < r.n_members; k++)
        if (!nodename_valid(r.members[k], NULL, 0)) abort();
    discovery_result_free(&r);
    dns_answer_free(&a);
    return 0;
}
