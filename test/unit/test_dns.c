/* Unit tests for DNS: the answer parser on hand-built messages (well-formed,
 * hostile and malformed), answers turned into members, the c-ares resolver on
 * a libuv loop against a real bind9 on a loopback port (A, AAAA, SRV, CNAME
 * chains, NXDOMAIN/NODATA, a large SRV answer retried over TCP, search
 * domains), and the three DNS strategies' rounds: members, removal on a
 * successful smaller answer, fail static on NXDOMAIN and on a silent server,
 * re-query sooner for a short TTL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "discovery.h"
#include "discovery/dns_common.h"
#include "dns.h"
#include "dns_answer.h"
#include "support/bind9_fixture.h"

static bind9_fixture bind9 = {.pid = -1};

/* ---- building messages ---- */

typedef struct pkt {
    unsigned char b[70000];
    size_t n;
} pkt;

static void p8(pkt *p, unsigned v)
{
    p->b[p->n++] = (unsigned char)v;
}

static void p16(pkt *p, unsigned v)
{
    p8(p, (v >> 8) & 0xff);
    p8(p, v & 0xff);
}

static void p32(pkt *p, uint32_t v)
{
    p16(p, v >> 16);
    p16(p, v & 0xffff);
}

/* An uncompressed name; "" is the root. */
static void pname(pkt *p, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        p8(p, (unsigned)len);
        memcpy(p->b + p->n, name, len);
        p->n += len;
        name += len + (dot ? 1 : 0);
    }
    p8(p, 0);
}

static void header(pkt *p, unsigned flags, unsigned qd, unsigned an, unsigned ns)
{
    p->n = 0;
    p16(p, 0x1234);
    p16(p, 0x8000 | flags);
    p16(p, qd);
    p16(p, an);
    p16(p, ns);
    p16(p, 0);
}

static void question(pkt *p, const char *name, unsigned type)
{
    pname(p, name);
    p16(p, type);
    p16(p, 1);
}

/* An RR header with an uncompressed owner; the caller writes rdlen bytes. */
static void rr(pkt *p, const char *owner, unsigned type, uint32_t ttl, unsigned rdlen)
{
    pname(p, owner);
    p16(p, type);
    p16(p, 1);
    p32(p, ttl);
    p16(p, rdlen);
}

static void rr_a(pkt *p, const char *owner, uint32_t ttl, const char *ip)
{
    rr(p, owner, DNS_TYPE_A, ttl, 4);
    inet_pton(AF_INET, ip, p->b + p->n);
    p->n += 4;
}

static void rr_cname(pkt *p, const char *owner, uint32_t ttl, const char *target)
{
    pkt t = {.n = 0};
    pname(&t, target);
    rr(p, owner, DNS_TYPE_CNAME, ttl, (unsigned)t.n);
    memcpy(p->b + p->n, t.b, t.n);
    p->n += t.n;
}

static void rr_srv(pkt *p, const char *owner, uint32_t ttl, unsigned port, const char *target)
{
    pkt t = {.n = 0};
    pname(&t, target);
    rr(p, owner, DNS_TYPE_SRV, ttl, (unsigned)(6 + t.n));
    p16(p, 0);
    p16(p, 33);
    p16(p, port);
    memcpy(p->b + p->n, t.b, t.n);
    p->n += t.n;
}

static pkt P;

static bool has_line(char *const *lines, size_t n, const char *needle)
{
    for (size_t k = 0; k < n; k++)
        if (strstr(lines[k], needle) != NULL) return true;
    return false;
}

static void dump_lines(const char *what, char *const *lines, size_t n)
{
    for (size_t k = 0; k < n; k++)
        print_message("  %s: %s\n", what, lines[k]);
}

static void expect_parse_error(const pkt *p, uint16_t qtype, const char *needle)
{
    dns_answer a;
    char err[256] = "";
    assert_int_equal(dns_answer_parse(p->b, p->n, qtype, &a, err, sizeof err), -1);
    if (strstr(err, needle) == NULL) fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

/* ---- the parser ---- */

static void test_parse_a_records(void **state)
{
    (void)state;
    header(&P, 0x0400, 1, 3, 0);
    question(&P, "Svc.Default.svc.cluster.local", DNS_TYPE_A);
    rr_a(&P, "svc.default.svc.cluster.local", 5, "10.0.0.1");
    rr_a(&P, "SVC.default.svc.cluster.local", 7, "10.0.0.2");
    rr_a(&P, "svc.default.svc.cluster.local", 3, "10.0.0.3");
    dns_answer a;
    char err[256];
    assert_int_equal(dns_answer_parse(P.b, P.n, DNS_TYPE_A, &a, err, sizeof err), 0);
    assert_int_equal(a.rcode, DNS_RCODE_NOERROR);
    assert_true(a.authoritative);
    assert_false(a.truncated);
    assert_string_equal(a.qname, "svc.default.svc.cluster.local");
    assert_int_equal(a.n_records, 3);
    assert_string_equal(a.records[0].data, "10.0.0.1");
    assert_string_equal(a.records[2].data, "10.0.0.3");
    assert_int_equal(a.records[1].ttl, 7);
    assert_true(a.has_ttl);
    assert_int_equal(a.min_ttl, 3);
    assert_int_equal(a.n_rejected, 0);
    dns_answer_free(&a);
    dns_answer_free(&a); /* idempotent */
}

static void test_parse_compression(void **state)
{
    (void)state;
    header(&P, 0, 1, 2, 0);
    question(&P, "svc.ns.svc.cluster.local", DNS_TYPE_AAAA);
    for (int k = 0; k < 2; k++) {
        p16(&P, 0xC000 | 12); /* owner: the question's name */
        p16(&P, DNS_TYPE_AAAA);
        p16(&P, 1);
        p32(&P, 0x80000000u + (uint32_t)k); /* MSB set: 0 (RFC 2181) */
        p16(&P, 16);
        inet_pton(AF_INET6, k ? "fd00::2" : "FD00:0:0:0::1", P.b + P.n);
        P.n += 16;
    }
    dns_answer a;
    char err[256];
    assert_int_equal(dns_answer_parse(P.b, P.n, DNS_TYPE_AAAA, &a, err, sizeof err), 0);
    assert_int_equal(a.n_records, 2);
    assert_string_equal(a.records[0].data, "fd00::1");
    assert_string_equal(a.records[1].owner, "svc.ns.svc.cluster.local");
    assert_int_equal(a.min_ttl, 0);
    dns_answer_free(&a);
}

static void test_parse_cname_chain(void **state)
{
    (void)state;
    header(&P, 0, 1, 5, 0);
    question(&P, "alias.example", DNS_TYPE_A);
    rr_cname(&P, "alias.example", 30, "mid.example");
    rr_cname(&P, "mid.example", 2, "real.example");
    rr_a(&P, "real.example", 5, "10.1.1.1");
    rr_a(&P, "other.example", 5, "10.9.9.9");      /* not on the chain */
    rr_cname(&P, "stray.example", 5, "x.example"); /* not on the chain either */
    dns_answer a;
    char err[256];
    assert_int_equal(dns_answer_parse(P.b, P.n, DNS_TYPE_A, &a, err, sizeof err), 0);
    assert_int_equal(a.n_chain, 2);
    assert_string_equal(a.chain[1].data, "real.example");
    assert_string_equal(a.final_name, "real.example");
    assert_int_equal(a.n_records, 1);
    assert_string_equal(a.records[0].data, "10.1.1.1");
    assert_int_equal(a.min_ttl, 2); /* the chain's TTLs count */
    assert_true(has_line(a.rejected, a.n_rejected, "10.9.9.9 of other.example: owned by another"));
    assert_true(has_line(a.rejected, a.n_rejected, "CNAME stray.example -> x.example: not on"));
    dns_answer_free(&a);

    /* A loop is an error; so is a chain longer than the cap. */
    header(&P, 0, 1, 2, 0);
    question(&P, "a.example", DNS_TYPE_A);
    rr_cname(&P, "a.example", 5, "b.example");
    rr_cname(&P, "b.example", 5, "a.example");
    expect_parse_error(&P, DNS_TYPE_A, "CNAME loop");
    header(&P, 0, 1, DNS_MAX_CNAME_CHAIN + 1, 0);
    question(&P, "c0.example", DNS_TYPE_A);
    for (int k = 0; k <= DNS_MAX_CNAME_CHAIN; k++) {
        char o[32], t[32];
        snprintf(o, sizeof o, "c%d.example", k);
        snprintf(t, sizeof t, "c%d.example", k + 1);
        rr_cname(&P, o, 5, t);
    }
    expect_parse_error(&P, DNS_TYPE_A, "CNAME chain longer");
}

static void test_parse_negative(void **state)
{
    (void)state;
    /* NXDOMAIN with the zone's SOA: negative TTL = min(SOA TTL, MINIMUM). */
    header(&P, 0x0400 | DNS_RCODE_NXDOMAIN, 1, 0, 1);
    question(&P, "nope.cluster.local", DNS_TYPE_A);
    pkt soa = {.n = 0};
    pname(&soa, "ns.dns.cluster.local");
    pname(&soa, "hostmaster.cluster.local");
    p32(&soa, 1);
    p32(&soa, 7200);
    p32(&soa, 1800);
    p32(&soa, 86400);
    p32(&soa, 30);
    rr(&P, "cluster.local", DNS_TYPE_SOA, 5, (unsigned)soa.n);
    memcpy(P.b + P.n, soa.b, soa.n);
    P.n += soa.n;
    dns_answer a;
    char err[256];
    assert_int_equal(dns_answer_parse(P.b, P.n, DNS_TYPE_A, &a, err, sizeof err), 0);
    assert_int_equal(a.rcode, DNS_RCODE_NXDOMAIN);
    assert_int_equal(a.n_records, 0);
    assert_true(a.has_negative_ttl);
    assert_int_equal(a.negative_ttl, 5);
    assert_false(a.has_ttl);
    dns_answer_free(&a);

    /* TC: nothing after the question is read. */
    header(&P, 0x0200, 1, 9, 0);
    question(&P, "big.cluster.local", DNS_TYPE_SRV);
    p16(&P, 0xC0); /* garbage */
    assert_int_equal(dns_answer_parse(P.b, P.n, DNS_TYPE_SRV, &a, err, sizeof err), 0);
    assert_true(a.truncated);
    assert_int_equal(a.n_records, 0);
    dns_answer_free(&a);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    header(&P, 0, 1, 0, 0);
    P.n = 11;
    expect_parse_error(&P, DNS_TYPE_A, "shorter than a DNS header");

    header(&P, 0, 1, 0, 0);
    P.b[2] &= 0x7f; /* QR clear: a query */
    question(&P, "x", DNS_TYPE_A);
    expect_parse_error(&P, DNS_TYPE_A, "not a response");

    header(&P, 0, 0, 0, 0);
    expect_parse_error(&P, DNS_TYPE_A, "0 questions");

    header(&P, 0, 1, 0, 0);
    question(&P, "x.example", DNS_TYPE_AAAA);
    expect_parse_error(&P, DNS_TYPE_A, "for type AAAA, not A");

    /* Compression pointers: to itself, forwards, out of the message. */
    header(&P, 0, 1, 0, 0);
    p16(&P, 0xC000 | 12);
    p16(&P, 1);
    p16(&P, 1);
    expect_parse_error(&P, DNS_TYPE_A, "malformed question");
    header(&P, 0, 1, 0, 0);
    p16(&P, 0xC000 | 14);
    pname(&P, "x");
    p16(&P, 1);
    p16(&P, 1);
    expect_parse_error(&P, DNS_TYPE_A, "malformed question");
    header(&P, 0, 1, 1, 0);
    question(&P, "x", DNS_TYPE_A);
    p16(&P, 0xC000 | 0x3fff);
    expect_parse_error(&P, DNS_TYPE_A, "answer record 1 of 1");

    /* A 0x40 label type, a name over 255 bytes, a cut-off record. */
    header(&P, 0, 1, 0, 0);
    p8(&P, 0x41);
    p8(&P, 0);
    expect_parse_error(&P, DNS_TYPE_A, "malformed question");
    header(&P, 0, 1, 0, 0);
    for (int k = 0; k < 5; k++) {
        p8(&P, 63);
        memset(P.b + P.n, 'a', 63);
        P.n += 63;
    }
    p8(&P, 0);
    p16(&P, 1);
    p16(&P, 1);
    expect_parse_error(&P, DNS_TYPE_A, "malformed question");
    header(&P, 0, 1, 2, 0);
    question(&P, "x", DNS_TYPE_A);
    rr_a(&P, "x", 5, "10.0.0.1");
    rr(&P, "x", DNS_TYPE_A, 5, 4);
    p16(&P, 0); /* 2 of 4 data bytes */
    expect_parse_error(&P, DNS_TYPE_A, "answer record 2 of 2 is cut off");
}

static void test_parse_bad_records(void **state)
{
    (void)state;
    header(&P, 0, 1, 6, 0);
    question(&P, "svc.example", DNS_TYPE_SRV);
    rr(&P, "svc.example", DNS_TYPE_SRV, 5, 5); /* too short for SRV */
    memset(P.b + P.n, 0, 5);
    P.n += 5;
    rr(&P, "svc.example", DNS_TYPE_SRV, 5, 9); /* target runs past the data */
    p16(&P, 0);
    p16(&P, 0);
    p16(&P, 4369);
    p8(&P, 5);
    p16(&P, 0x6162);
    rr(&P, "svc.example", 16 /* TXT */, 5, 2);
    p16(&P, 0x0161);
    pname(&P, "svc.example");
    p16(&P, DNS_TYPE_SRV);
    p16(&P, 3 /* CH */);
    p32(&P, 5);
    p16(&P, 7);
    p16(&P, 0);
    p16(&P, 0);
    p16(&P, 1);
    p8(&P, 0);
    rr_srv(&P, "svc.example", 5, 4369, "");                  /* "." : no service */
    rr_srv(&P, "svc.example", 9, 4369, "Pod-0.svc.example"); /* fine */
    dns_answer a;
    char err[256];
    assert_int_equal(dns_answer_parse(P.b, P.n, DNS_TYPE_SRV, &a, err, sizeof err), 0);
    dump_lines("rejected", a.rejected, a.n_rejected);
    assert_int_equal(a.n_records, 2);
    assert_string_equal(a.records[0].data, "");
    assert_string_equal(a.records[1].data, "pod-0.svc.example");
    assert_int_equal(a.records[1].port, 4369);
    assert_int_equal(a.records[1].weight, 33);
    assert_true(has_line(a.rejected, a.n_rejected, "SRV data of 5 bytes"));
    assert_true(has_line(a.rejected, a.n_rejected, "malformed target name"));
    assert_true(has_line(a.rejected, a.n_rejected, "TYPE16 record of svc.example: not asked"));
    assert_true(has_line(a.rejected, a.n_rejected, "class 3, not IN"));

    /* Members: the root target and escaped bytes never make a node name. */
    discovery_result r;
    discovery_result_init(&r);
    assert_int_equal(dns_answer_add_members(&a, "app", &r), 1);
    discovery_result_finish(&r);
    dump_lines("evidence", r.evidence, r.n_evidence);
    assert_int_equal(r.n_members, 1);
    assert_string_equal(r.members[0], "app@pod-0.svc.example");
    assert_true(has_line(r.evidence, r.n_evidence, "SRV 0 33 4369 . (TTL 5 s): target \".\""));
    assert_true(has_line(r.evidence, r.n_evidence,
                         "SRV 0 33 4369 pod-0.svc.example (TTL 9 s) -> app@pod-0.svc.example"));
    assert_true(has_line(r.evidence, r.n_evidence, "ignored: SRV record of svc.example: SRV data"));
    discovery_result_free(&r);
    dns_answer_free(&a);

    /* A label holding a dot, a space and a NUL: escaped, so it can never
     * pass for a host name. */
    header(&P, 0, 1, 1, 0);
    question(&P, "svc.example", DNS_TYPE_SRV);
    pkt t = {.n = 0};
    p8(&t, 5);
    memcpy(t.b + t.n, "a.b \0", 5);
    t.n += 5;
    pname(&t, "example");
    rr(&P, "svc.example", DNS_TYPE_SRV, 5, (unsigned)(6 + t.n));
    p16(&P, 0);
    p16(&P, 0);
    p16(&P, 1);
    memcpy(P.b + P.n, t.b, t.n);
    P.n += t.n;
    assert_int_equal(dns_answer_parse(P.b, P.n, DNS_TYPE_SRV, &a, err, sizeof err), 0);
    assert_int_equal(a.n_records, 1);
    assert_string_equal(a.records[0].data, "a\\046b\\032\\000.example");
    discovery_result_init(&r);
    assert_int_equal(dns_answer_add_members(&a, "app", &r), 0);
    assert_int_equal(r.n_members, 0);
    assert_true(has_line(r.evidence, r.n_evidence, "rejected \"app@a\\046b"));
    discovery_result_free(&r);
    dns_answer_free(&a);
}

static void test_members_addresses(void **state)
{
    (void)state;
    header(&P, 0, 1, 2, 0);
    question(&P, "svc.example", DNS_TYPE_AAAA);
    rr(&P, "svc.example", DNS_TYPE_AAAA, 5, 16);
    inet_pton(AF_INET6, "fd00:a:b::5", P.b + P.n);
    P.n += 16;
    rr(&P, "svc.example", DNS_TYPE_AAAA, 5, 16);
    inet_pton(AF_INET6, "::ffff:10.0.0.1", P.b + P.n);
    P.n += 16;
    dns_answer a;
    char err[256];
    assert_int_equal(dns_answer_parse(P.b, P.n, DNS_TYPE_AAAA, &a, err, sizeof err), 0);
    discovery_result r;
    discovery_result_init(&r);
    assert_int_equal(dns_answer_add_members(&a, "ex-cluster", &r), 2);
    discovery_result_finish(&r);
    assert_string_equal(r.members[0], "ex-cluster@::ffff:10.0.0.1");
    assert_string_equal(r.members[1], "ex-cluster@fd00:a:b::5");
    discovery_result_free(&r);
    dns_answer_free(&a);
}

static void test_option_checks(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(dns_check_basename("application_name", "ex-cluster", err, sizeof err), 0);
    assert_int_equal(dns_check_basename("application_name", "a@b", err, sizeof err), -1);
    assert_int_equal(dns_check_basename("application_name", "", err, sizeof err), -1);
    assert_int_equal(dns_check_query_name("service", "ex-cluster-svc", err, sizeof err), 0);
    assert_int_equal(dns_check_query_name("service", "a.b.c.", err, sizeof err), 0);
    assert_int_equal(dns_check_query_name("service", "_epmd._tcp.x", err, sizeof err), 0);
    assert_int_equal(dns_check_query_name("service", "a..b", err, sizeof err), -1);
    assert_int_equal(dns_check_query_name("service", ".", err, sizeof err), -1);
    assert_int_equal(dns_check_query_name("service", "a b", err, sizeof err), -1);
    assert_non_null(strstr(err, "is not a DNS name"));
}

/* ---- the resolver against bind9 ---- */

#define ZONE_BASE                                                                                  \
    "ex-cluster-svc.default.svc 5 IN A 10.0.0.1\n"                                                 \
    "ex-cluster-svc.default.svc 7 IN A 10.0.0.2\n"                                                 \
    "ex-cluster-svc.default.svc 3 IN A 10.0.0.3\n"                                                 \
    "ex-cluster-svc.default.svc 5 IN AAAA fd00::5\n"                                               \
    "v4only.default.svc 5 IN A 10.0.0.9\n"                                                         \
    "alias.default.svc 5 IN CNAME alias2.default.svc\n"                                            \
    "alias2.default.svc 4 IN CNAME ex-cluster-svc.default.svc\n"                                   \
    "myapp-headless.default.svc 5 IN SRV 0 50 4369 myapp-0.myapp-headless.default.svc\n"           \
    "myapp-headless.default.svc 5 IN SRV 0 50 4369 myapp-1.myapp-headless.default.svc\n"           \
    "_epmd._tcp.myapp-headless.default.svc 5 IN SRV 0 50 4369 "                                    \
    "myapp-0.myapp-headless.default.svc\n"                                                         \
    "odd.default.svc 5 IN SRV 0 0 4369 we\\032ird.cluster.local.\n"                                \
    "odd.default.svc 5 IN SRV 0 0 4369 fine.cluster.local.\n"                                      \
    "short-ttl.default.svc 1 IN A 10.0.0.7\n"

static char *zone_with_big_srv(int n)
{
    size_t cap = 8192 + (size_t)n * 160;
    char *z = malloc(cap);
    assert_non_null(z);
    size_t used = (size_t)snprintf(z, cap, "%s", ZONE_BASE);
    for (int k = 0; k < n; k++)
        used += (size_t)snprintf(z + used, cap - used,
                                 "big.default.svc 5 IN SRV 0 3 4369 "
                                 "big-statefulset-pod-%02d.big-headless.default.svc\n",
                                 k);
    return z;
}

typedef struct lookup_out {
    bool done;
    dns_status status;
    char detail[256];
    dns_answer copy; /* records and chain only */
    int n_records;
    char first[256];
    int n_chain;
    uint32_t min_ttl;
} lookup_out;

static void on_lookup(void *arg, dns_status status, const char *detail, const dns_answer *a)
{
    lookup_out *o = arg;
    o->done = true;
    o->status = status;
    snprintf(o->detail, sizeof o->detail, "%s", detail);
    if (a != NULL) {
        o->n_records = (int)a->n_records;
        o->n_chain = (int)a->n_chain;
        o->min_ttl = a->min_ttl;
        if (a->n_records > 0) snprintf(o->first, sizeof o->first, "%s", a->records[0].data);
    }
}

static void on_resolver_closed(void *arg)
{
    *(bool *)arg = true;
}

/* Runs one look-up to completion on a fresh loop and resolver. */
static void lookup(const char *server, const char *name, uint16_t type, lookup_out *o)
{
    memset(o, 0, sizeof *o);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char *servers[] = {(char *)server};
    dns_options opts = {.nameservers = servers, .n_nameservers = server ? 1 : 0};
    dns_resolver *r = NULL;
    char err[256];
    if (dns_resolver_new(&loop, &opts, &r, err, sizeof err) != 0) fail_msg("resolver: %s", err);
    dns_resolve(r, name, type, on_lookup, o);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(o->done);
    bool closed = false;
    dns_resolver_close(r, on_resolver_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_resolve_records(void **state)
{
    (void)state;
    lookup_out o;
    lookup(bind9.server, "ex-cluster-svc.default.svc.cluster.local.", DNS_TYPE_A, &o);
    assert_int_equal(o.status, DNS_OK);
    assert_int_equal(o.n_records, 3);
    assert_int_equal(o.min_ttl, 5); /* bind9 gives an RRset one TTL, the first */

    lookup(bind9.server, "ex-cluster-svc.default.svc.cluster.local", DNS_TYPE_AAAA, &o);
    assert_int_equal(o.status, DNS_OK);
    assert_int_equal(o.n_records, 1);
    assert_string_equal(o.first, "fd00::5");

    lookup(bind9.server, "_epmd._tcp.myapp-headless.default.svc.cluster.local.", DNS_TYPE_SRV, &o);
    assert_int_equal(o.status, DNS_OK);
    assert_int_equal(o.n_records, 1);
    assert_string_equal(o.first, "myapp-0.myapp-headless.default.svc.cluster.local");

    lookup(bind9.server, "alias.default.svc.cluster.local.", DNS_TYPE_A, &o);
    assert_int_equal(o.status, DNS_OK);
    assert_int_equal(o.n_chain, 2);
    assert_int_equal(o.n_records, 3);

    lookup(bind9.server, "nope.default.svc.cluster.local.", DNS_TYPE_A, &o);
    assert_int_equal(o.status, DNS_NXDOMAIN);
    lookup(bind9.server, "v4only.default.svc.cluster.local.", DNS_TYPE_AAAA, &o);
    assert_int_equal(o.status, DNS_NODATA);
    /* bind9 is authoritative for cluster.local only, without recursion: it
     * refuses, and c-ares, having no other server to try, says so. */
    lookup(bind9.server, "example.com.", DNS_TYPE_A, &o);
    assert_int_equal(o.status, DNS_ERROR);
    assert_non_null(strstr(o.detail, "refused, failed (SERVFAIL)"));
}

static void test_resolve_large_srv_over_tcp(void **state)
{
    (void)state;
    char *zone = zone_with_big_srv(40);
    assert_int_equal(bind9_set_records(&bind9, zone), 0);
    free(zone);
    int tcp_before = bind9_log_count(&bind9, "big.default.svc.cluster.local IN SRV +T", NULL);
    lookup_out o;
    lookup(bind9.server, "big.default.svc.cluster.local.", DNS_TYPE_SRV, &o);
    assert_int_equal(o.status, DNS_OK);
    assert_int_equal(o.n_records, 40); /* far more than 512 bytes: complete only over TCP */
    int tcp_after = bind9_log_count(&bind9, "big.default.svc.cluster.local IN SRV +T", NULL);
    if (tcp_after <= tcp_before) {
        fail_msg("no TCP query in named's log (query lines: %d)",
                 bind9_log_count(&bind9, "big.default.svc.cluster.local IN SRV", NULL));
    }
    assert_int_equal(bind9_set_records(&bind9, ZONE_BASE), 0);
}

static void test_resolve_search_domains(void **state)
{
    (void)state;
    /* c-ares reads LOCALDOMAIN and RES_OPTIONS as the resolv.conf of a pod
     * would set them: a short name goes through the search list. */
    setenv("LOCALDOMAIN", "nothere.cluster.local default.svc.cluster.local", 1);
    setenv("RES_OPTIONS", "ndots:5", 1);
    lookup_out o;
    lookup(bind9.server, "ex-cluster-svc", DNS_TYPE_A, &o);
    unsetenv("LOCALDOMAIN");
    unsetenv("RES_OPTIONS");
    assert_int_equal(o.status, DNS_OK);
    assert_int_equal(o.n_records, 3);
}

static void test_resolve_silent_server(void **state)
{
    (void)state;
    /* A UDP socket that never answers: the look-up ends on c-ares' timeout. */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    char server[32];
    snprintf(server, sizeof server, "127.0.0.1:%d", ntohs(a.sin_port));
    lookup_out o;
    lookup(server, "x.cluster.local.", DNS_TYPE_A, &o);
    close(s);
    assert_int_equal(o.status, DNS_TIMEOUT);
}

static void test_resolver_bad_nameserver(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char *servers[] = {"dns.example:53"};
    dns_options opts = {.nameservers = servers, .n_nameservers = 1};
    dns_resolver *r = NULL;
    char err[256];
    assert_int_equal(dns_resolver_new(&loop, &opts, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "c-ares takes IP addresses"));
    /* What the config accepts, c-ares takes. */
    char *good[] = {"127.0.0.1", "127.0.0.1:5300", "[::1]:53", "[fd00::1]"};
    opts = (dns_options){.nameservers = good, .n_nameservers = 4};
    if (dns_resolver_new(&loop, &opts, &r, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(dns_resolver_servers(r), "127.0.0.1,127.0.0.1:5300,[::1]:53,fd00::1");
    dns_resolver_close(r, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- the strategies' rounds ---- */

typedef struct run_ctx run_ctx;
typedef void (*report_hook)(run_ctx *rc, const discovery_result *r);

struct run_ctx {
    discovery d;
    config cfg;
    config_topology topo;
    opt_value values[8];
    char *servers[1];
    int reports;
    int stop_after;
    discovery_result results[4];
    bool closed;
    report_hook hook;
    int stop_after_ms; /* > 0: stop from a timer after this long, whatever runs */
    uv_timer_t stopper;
};

static void on_report(discovery *d, const discovery_result *r)
{
    run_ctx *rc = d->owner;
    print_message("  report %d: %s %s, %zu member(s)\n", rc->reports,
                  r->verdict == DISCOVERY_OK ? "ok" : "FAILED", r->reason, r->n_members);
    dump_lines("evidence", r->evidence, r->n_evidence);
    if (rc->reports < 4) discovery_result_copy(&rc->results[rc->reports], r);
    rc->reports++;
    if (rc->hook != NULL) rc->hook(rc, r);
    if (rc->reports >= rc->stop_after) discovery_stop(d);
}

static void on_closed(discovery *d)
{
    run_ctx *rc = d->owner;
    rc->closed = true;
}

static void run_init(run_ctx *rc, const char *name, const char *server)
{
    memset(rc, 0, sizeof *rc);
    const strategy_ops *ops = discovery_find_strategy(name);
    assert_non_null(ops);
    assert_true(ops->n_options <= 8);
    for (size_t k = 0; k < ops->n_options; k++) {
        rc->values[k].i = ops->options[k].def_int;
        rc->values[k].s = (char *)ops->options[k].def_str;
    }
    rc->topo.name = "test";
    rc->topo.strategy = ops;
    rc->topo.prune = true;
    rc->topo.options =
        (opt_values){.specs = ops->options, .count = ops->n_options, .values = rc->values};
    rc->servers[0] = (char *)server;
    rc->cfg.nameservers = rc->servers;
    rc->cfg.n_nameservers = 1;
    rc->stop_after = 1;
    rc->d.topology = &rc->topo;
    rc->d.cfg = &rc->cfg;
    rc->d.report = on_report;
    rc->d.closed = on_closed;
    rc->d.owner = rc;
    rc->d.once = true;
}

static opt_value *run_opt(run_ctx *rc, const char *name)
{
    for (size_t k = 0; k < rc->topo.options.count; k++)
        if (strcmp(rc->topo.options.specs[k].name, name) == 0) return &rc->values[k];
    fail_msg("no option %s", name);
    return NULL;
}

static void run_set_str(run_ctx *rc, const char *name, const char *v)
{
    opt_value *o = run_opt(rc, name);
    o->s = (char *)v;
    o->set = true;
}

static void run_set_int(run_ctx *rc, const char *name, long long v)
{
    opt_value *o = run_opt(rc, name);
    o->i = v;
    o->set = true;
}

static void stop_now(uv_timer_t *t)
{
    run_ctx *rc = t->data;
    discovery_stop(&rc->d);
    uv_close((uv_handle_t *)t, NULL);
}

static void run_loop(run_ctx *rc)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    rc->d.loop = &loop;
    char err[256] = "";
    if (rc->topo.strategy->validate != NULL &&
        rc->topo.strategy->validate(&rc->topo.options, err, sizeof err) != 0)
        fail_msg("validate: %s", err);
    if (discovery_start(&rc->d, err, sizeof err) != 0) fail_msg("start: %s", err);
    if (rc->stop_after_ms > 0) {
        uv_timer_init(&loop, &rc->stopper);
        rc->stopper.data = rc;
        uv_timer_start(&rc->stopper, stop_now, (uint64_t)rc->stop_after_ms, 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!rc->closed) {
        discovery_stop(&rc->d);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    assert_true(rc->closed);
    assert_null(rc->d.state);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void run_free(run_ctx *rc)
{
    for (int k = 0; k < 4; k++)
        discovery_result_free(&rc->results[k]);
}

static bool has_evidence(const discovery_result *r, const char *needle)
{
    return has_line(r->evidence, r->n_evidence, needle);
}

static void test_kubernetes_dns_members(void **state)
{
    (void)state;
    run_ctx rc;
    run_init(&rc, "Cluster.Strategy.Kubernetes.DNS", bind9.server);
    run_set_str(&rc, "service", "ex-cluster-svc.default.svc.cluster.local");
    run_set_str(&rc, "application_name", "ex-cluster");
    run_loop(&rc);
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 4);
    assert_string_equal(r->members[0], "ex-cluster@10.0.0.1");
    assert_string_equal(r->members[3], "ex-cluster@fd00::5");
    assert_true(has_evidence(r, "A ex-cluster-svc.default.svc.cluster.local via "));
    assert_true(has_evidence(r, ": ok; 3 member(s), min TTL 5 s"));
    assert_true(has_evidence(r, "A 10.0.0.2 (TTL 5 s) -> ex-cluster@10.0.0.2"));
    run_free(&rc);

    /* Through a CNAME chain, and with DNSPoll's names. */
    run_init(&rc, "dns_poll", bind9.server);
    run_set_str(&rc, "query", "alias.default.svc.cluster.local.");
    run_set_str(&rc, "node_basename", "app");
    run_loop(&rc);
    r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 4);
    assert_string_equal(r->members[0], "app@10.0.0.1");
    assert_true(has_evidence(r, "CNAME alias.default.svc.cluster.local -> "
                                "alias2.default.svc.cluster.local (TTL 5 s)"));
    run_free(&rc);
}

static void test_kubernetes_dnssrv_members(void **state)
{
    (void)state;
    run_ctx rc;
    /* libcluster's bare name, with CLUSTER_DOMAIN as libcluster reads it. */
    setenv("CLUSTER_DOMAIN", "cluster.local.", 1);
    run_init(&rc, "Cluster.Strategy.Kubernetes.DNSSRV", bind9.server);
    run_set_str(&rc, "service", "myapp-headless");
    run_set_str(&rc, "namespace", "default");
    run_set_str(&rc, "application_name", "app");
    run_loop(&rc);
    unsetenv("CLUSTER_DOMAIN");
    const discovery_result *r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 2);
    assert_string_equal(r->members[0], "app@myapp-0.myapp-headless.default.svc.cluster.local");
    assert_string_equal(r->members[1], "app@myapp-1.myapp-headless.default.svc.cluster.local");
    assert_true(has_evidence(r, "SRV myapp-headless.default.svc.cluster.local. via "));
    run_free(&rc);

    /* The _port._proto form. */
    run_init(&rc, "kubernetes_dnssrv", bind9.server);
    run_set_str(&rc, "service", "myapp-headless");
    run_set_str(&rc, "namespace", "default");
    run_set_str(&rc, "application_name", "app");
    run_set_str(&rc, "port_name", "epmd");
    run_set_str(&rc, "cluster_domain", "cluster.local");
    run_loop(&rc);
    r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 1);
    assert_true(has_evidence(r, "SRV _epmd._tcp.myapp-headless.default.svc.cluster.local. via"));
    run_free(&rc);

    /* A target that is not a host name is rejected; the others stay. */
    run_init(&rc, "kubernetes_dnssrv", bind9.server);
    run_set_str(&rc, "service", "odd");
    run_set_str(&rc, "namespace", "default");
    run_set_str(&rc, "application_name", "app");
    run_set_str(&rc, "cluster_domain", "cluster.local");
    run_loop(&rc);
    r = &rc.results[0];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_members, 1);
    assert_string_equal(r->members[0], "app@fine.cluster.local");
    assert_true(has_evidence(r, "rejected \"app@we\\032ird.cluster.local\""));
    run_free(&rc);
}

static void test_fail_static_verdicts(void **state)
{
    (void)state;
    run_ctx rc;
    /* NXDOMAIN for A and AAAA: an empty answer fails the round. */
    run_init(&rc, "kubernetes_dns", bind9.server);
    run_set_str(&rc, "service", "nope.default.svc.cluster.local.");
    run_set_str(&rc, "application_name", "app");
    run_loop(&rc);
    assert_int_equal(rc.results[0].verdict, DISCOVERY_FAILED);
    assert_non_null(strstr(rc.results[0].reason, "empty answer"));
    assert_non_null(strstr(rc.results[0].reason, "NXDOMAIN"));
    assert_int_equal(rc.results[0].n_members, 0);
    run_free(&rc);

    /* A only: AAAA's NODATA is a fine answer, the round is ok. */
    run_init(&rc, "kubernetes_dns", bind9.server);
    run_set_str(&rc, "service", "v4only.default.svc.cluster.local.");
    run_set_str(&rc, "application_name", "app");
    run_loop(&rc);
    assert_int_equal(rc.results[0].verdict, DISCOVERY_OK);
    assert_int_equal(rc.results[0].n_members, 1);
    assert_true(has_evidence(&rc.results[0], "AAAA v4only.default.svc.cluster.local. via"));
    assert_true(has_evidence(&rc.results[0], ": NODATA"));
    run_free(&rc);

    /* Nothing listening: connection refused or timeout, a failed round. */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    char server[32];
    snprintf(server, sizeof server, "127.0.0.1:%d", ntohs(a.sin_port));
    run_init(&rc, "dns_poll", server);
    run_set_str(&rc, "query", "ex-cluster-svc.default.svc.cluster.local.");
    run_set_str(&rc, "node_basename", "app");
    run_loop(&rc);
    close(s);
    assert_int_equal(rc.results[0].verdict, DISCOVERY_FAILED);
    assert_non_null(strstr(rc.results[0].reason, "timeout"));
    run_free(&rc);
}

/* Between rounds: drop 10.0.0.3 from the zone. */
static void drop_one_record(run_ctx *rc, const discovery_result *r)
{
    (void)r;
    if (rc->reports != 1) return;
    assert_int_equal(bind9_set_records(&bind9, "ex-cluster-svc.default.svc 1 IN A 10.0.0.1\n"
                                               "ex-cluster-svc.default.svc 1 IN A 10.0.0.2\n"),
                     0);
}

static void test_rounds_follow_changes_and_ttl(void **state)
{
    (void)state;
    run_ctx rc;
    assert_int_equal(bind9_set_records(&bind9, "ex-cluster-svc.default.svc 1 IN A 10.0.0.1\n"
                                               "ex-cluster-svc.default.svc 1 IN A 10.0.0.2\n"
                                               "ex-cluster-svc.default.svc 1 IN A 10.0.0.3\n"),
                     0);
    run_init(&rc, "kubernetes_dns", bind9.server);
    run_set_str(&rc, "service", "ex-cluster-svc.default.svc.cluster.local.");
    run_set_str(&rc, "application_name", "app");
    /* An hour's interval: the second round can only come from the TTL. */
    run_set_int(&rc, "polling_interval", 3600000);
    rc.d.once = false;
    rc.stop_after = 2;
    rc.hook = drop_one_record;
    run_loop(&rc);
    assert_int_equal(rc.reports, 2);
    assert_int_equal(rc.results[0].n_members, 3);
    assert_true(has_evidence(&rc.results[0], "next look-up in 1000 ms (polling_interval 3600000 "
                                             "ms, sooner for the TTL)"));
    assert_int_equal(rc.results[1].verdict, DISCOVERY_OK);
    assert_int_equal(rc.results[1].n_members, 2);
    run_free(&rc);
    assert_int_equal(bind9_set_records(&bind9, ZONE_BASE), 0);
}

/* Stopped while a round waits for a server that never answers (as on a
 * SIGHUP reload or at shutdown): no report, everything closed and freed. */
static void test_stop_during_a_round(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    char server[32];
    snprintf(server, sizeof server, "127.0.0.1:%d", ntohs(a.sin_port));
    run_ctx rc;
    run_init(&rc, "kubernetes_dnssrv", server);
    run_set_str(&rc, "service", "svc");
    run_set_str(&rc, "namespace", "ns");
    run_set_str(&rc, "application_name", "app");
    rc.d.once = false;
    rc.stop_after = 100;
    rc.stop_after_ms = 300;
    run_loop(&rc);
    close(s);
    assert_int_equal(rc.reports, 0);
    assert_true(rc.closed);
    run_free(&rc);
}

/* ---- a scripted DNS server, for partial failures ----
 *
 * bind9 cannot fail AAAA while answering A. This UDP responder on a loopback
 * port answers by a script that the test switches between rounds: each type
 * gets a list of addresses or SERVFAIL. Everything else is real: c-ares, the
 * parser, the rounds. */

typedef struct scripted_dns {
    int fd;
    int port;
    pthread_t thread;
    atomic_int stop;
    atomic_int round; /* which script */
} scripted_dns;

static scripted_dns sdns;

/* Script: round -> (A addresses or NULL for SERVFAIL, AAAA likewise). */
static const char *const script_a[] = {"10.0.0.1", "10.0.0.1,10.0.0.2", NULL};
static const char *const script_aaaa[] = {"fd00::1", NULL, NULL};

static void *scripted_dns_main(void *arg)
{
    scripted_dns *sd = arg;
    while (!atomic_load(&sd->stop)) {
        struct pollfd pfd = {.fd = sd->fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0) continue;
        unsigned char q[512];
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(sd->fd, q, sizeof q, 0, (struct sockaddr *)&from, &flen);
        if (n < 17) continue;
        size_t off = 12;
        while (off < (size_t)n && q[off] != 0)
            off += q[off] + 1u;
        if (off + 5 > (size_t)n) continue;
        unsigned qtype = ((unsigned)q[off + 1] << 8) | q[off + 2];
        size_t qend = off + 5;
        int r = atomic_load(&sd->round);
        if (r > 2) r = 2;
        const char *list = qtype == DNS_TYPE_A ? script_a[r] : script_aaaa[r];
        pkt *p = calloc(1, sizeof *p);
        memcpy(p->b, q, qend);
        p->n = qend;
        p->b[2] = 0x85; /* QR, AA, RD */
        p->b[3] = list == NULL ? DNS_RCODE_SERVFAIL : 0;
        p->b[6] = p->b[7] = p->b[8] = p->b[9] = p->b[10] = p->b[11] = 0;
        unsigned count = 0;
        if (list != NULL) {
            char copy[128];
            snprintf(copy, sizeof copy, "%s", list);
            for (char *save = NULL, *ip = strtok_r(copy, ",", &save); ip != NULL;
                 ip = strtok_r(NULL, ",", &save)) {
                p16(p, 0xC000 | 12);
                p16(p, qtype);
                p16(p, 1);
                p32(p, 5);
                p16(p, qtype == DNS_TYPE_A ? 4 : 16);
                inet_pton(qtype == DNS_TYPE_A ? AF_INET : AF_INET6, ip, p->b + p->n);
                p->n += qtype == DNS_TYPE_A ? 4 : 16;
                count++;
            }
        }
        p->b[7] = (unsigned char)count;
        sendto(sd->fd, p->b, p->n, 0, (struct sockaddr *)&from, flen);
        free(p);
    }
    return NULL;
}

static void scripted_dns_start(scripted_dns *sd)
{
    memset(sd, 0, sizeof *sd);
    sd->fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(sd->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(sd->fd, (struct sockaddr *)&a, &len), 0);
    sd->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&sd->thread, NULL, scripted_dns_main, sd), 0);
}

static void scripted_dns_stop(scripted_dns *sd)
{
    atomic_store(&sd->stop, 1);
    pthread_join(sd->thread, NULL);
    close(sd->fd);
}

static void next_script(run_ctx *rc, const discovery_result *r)
{
    (void)r;
    atomic_store(&sdns.round, rc->reports);
}

static void test_partial_failure_keeps_that_types_members(void **state)
{
    (void)state;
    scripted_dns_start(&sdns);
    char server[32];
    snprintf(server, sizeof server, "127.0.0.1:%d", sdns.port);
    run_ctx rc;
    run_init(&rc, "kubernetes_dns", server);
    run_set_str(&rc, "service", "svc.example.");
    run_set_str(&rc, "application_name", "app");
    run_set_int(&rc, "polling_interval", 100);
    rc.d.once = false;
    rc.stop_after = 3;
    rc.hook = next_script;
    run_loop(&rc);
    scripted_dns_stop(&sdns);

    /* Round 1: A and AAAA answer. */
    assert_int_equal(rc.results[0].verdict, DISCOVERY_OK);
    assert_int_equal(rc.results[0].n_members, 2);
    /* Round 2: A answers with one more, AAAA fails: ok, AAAA's member kept. */
    const discovery_result *r = &rc.results[1];
    assert_int_equal(r->verdict, DISCOVERY_OK);
    assert_int_equal(r->n_partial, 1);
    assert_int_equal(r->n_members, 3);
    assert_string_equal(r->members[0], "app@10.0.0.1");
    assert_string_equal(r->members[1], "app@10.0.0.2");
    assert_string_equal(r->members[2], "app@fd00::1");
    assert_true(has_evidence(r, "keeping its 1 member(s) from its last answer"));
    /* Round 3: both fail: a failed round (the coordinator keeps the set). */
    assert_int_equal(rc.results[2].verdict, DISCOVERY_FAILED);
    assert_non_null(strstr(rc.results[2].reason, "no server gave an answer"));
    run_free(&rc);
}

/* ---- main ---- */

static void on_alarm(int sig)
{
    (void)sig;
    bind9_kill(&bind9);
    static const char msg[] = "test_dns: timed out\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(3);
    _exit(3);
}

static int group_setup(void **state)
{
    (void)state;
    if (bind9_start(&bind9, "cluster.local", ZONE_BASE) != 0) {
        fprintf(stderr, "cannot start named (bind9)\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    bind9_stop(&bind9);
    return 0;
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    alarm(300);
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_parse_a_records),   cmocka_unit_test(test_parse_compression),
        cmocka_unit_test(test_parse_cname_chain), cmocka_unit_test(test_parse_negative),
        cmocka_unit_test(test_parse_malformed),   cmocka_unit_test(test_parse_bad_records),
        cmocka_unit_test(test_members_addresses), cmocka_unit_test(test_option_checks),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_resolve_records),
        cmocka_unit_test(test_resolve_large_srv_over_tcp),
        cmocka_unit_test(test_resolve_search_domains),
        cmocka_unit_test(test_resolve_silent_server),
        cmocka_unit_test(test_resolver_bad_nameserver),
        cmocka_unit_test(test_kubernetes_dns_members),
        cmocka_unit_test(test_kubernetes_dnssrv_members),
        cmocka_unit_test(test_fail_static_verdicts),
        cmocka_unit_test(test_rounds_follow_changes_and_ttl),
        cmocka_unit_test(test_partial_failure_keeps_that_types_members),
        cmocka_unit_test(test_stop_during_a_round),
    };
    int failed = cmocka_run_group_tests_name("dns_answer", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("dns_bind9", live, group_setup, group_teardown);
    return failed;
}
