/* dns_answer: a pure parser of DNS response messages (RFC 1035 wire format)
 * into the records discovery needs: A, AAAA and SRV of the question's name,
 * following CNAME chains, with each record's TTL and the response code.
 * Everything that is not used is listed with the reason it was not. No I/O,
 * no c-ares: the bytes come from the network and this is the one place that
 * reads them (fuzzed by fuzz/fuzz_dns.c).
 *
 * Names are kept in presentation form without the final dot, lower case
 * ("myapp-0.svc.cluster.local"); bytes other than [a-z0-9_-] inside a label,
 * and a dot inside a label, are written as \DDD so that a hostile name can
 * never look like a valid one. Ownership: dns_answer_parse fills an answer
 * that the caller frees with dns_answer_free (which accepts a zeroed one). */
#ifndef CLUSTERD_DNS_ANSWER_H
#define CLUSTERD_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA 6
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_SRV 33

#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

/* A presentation name: 255 wire bytes become at most 4 * 253 characters
 * when every byte needs \DDD. */
#define DNS_NAME_TEXT_MAX 1024
/* More CNAMEs than this in a chain is a loop or an attack. */
#define DNS_MAX_CNAME_CHAIN 16
/* Lines of "record ignored because" kept per answer. */
#define DNS_MAX_REJECTED 64

typedef struct dns_record {
    uint16_t type;
    uint32_t ttl;
    char *owner; /* owned */
    /* A/AAAA: the address as inet_ntop writes it; SRV/CNAME: the target. */
    char *data;                      /* owned */
    uint16_t priority, weight, port; /* SRV only */
} dns_record;

typedef struct dns_answer {
    int rcode;           /* the header's RCODE */
    bool truncated;      /* TC was set: the answer is incomplete */
    bool authoritative;  /* AA */
    uint16_t qtype;      /* the question's type */
    char *qname;         /* the question's name (owned) */
    char *final_name;    /* where the CNAME chain ends (owned; qname when there is none) */
    dns_record *records; /* of qtype, owned by a name on the chain, in answer order */
    size_t n_records;
    dns_record *chain; /* the CNAMEs followed from qname, in order */
    size_t n_chain;
    char **rejected; /* one line per record or part not used, and why (owned) */
    size_t n_rejected;
    uint32_t min_ttl; /* smallest TTL over records and chain (valid when has_ttl) */
    bool has_ttl;
    uint32_t negative_ttl; /* from the SOA in the authority section (valid when has_negative_ttl) */
    bool has_negative_ttl;
} dns_answer;

/* Parses one response. qtype is the type that was asked for (a response for
 * another type is an error). Returns 0 with *out filled, or -1 with a reason
 * in err when the message as a whole cannot be read (then *out holds nothing
 * to free). Records that are malformed on their own (an A with 5 bytes of
 * data, an SRV whose target is not a host name) are skipped and listed in
 * out->rejected; the message is still an answer. */
int dns_answer_parse(const unsigned char *buf, size_t len, uint16_t qtype, dns_answer *out,
                     char *err, size_t errlen);

/* Frees what an answer owns and zeroes it; accepts NULL and zeroed answers. */
void dns_answer_free(dns_answer *a);

/* "A", "AAAA", "SRV", "CNAME", or "TYPE<n>" in buf. */
const char *dns_type_name(uint16_t type, char *buf, size_t buflen);
/* "NOERROR", "NXDOMAIN", ... or "RCODE<n>" in buf. */
const char *dns_rcode_name(int rcode, char *buf, size_t buflen);

#endif
