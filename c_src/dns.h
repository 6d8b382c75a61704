/* dns: asynchronous DNS look-ups on the libuv loop, one c-ares channel per
 * resolver. c-ares' sockets are watched with uv_poll (through its socket
 * state callback) and its timeouts run on a uv_timer driven by
 * ares_timeout, so nothing blocks the loop. Answers are parsed by
 * dns_answer.c (c-ares only carries the bytes), so TTLs, the response code
 * and CNAME chains are seen for every record type.
 *
 * Servers: /etc/resolv.conf (with its search domains and ndots, so a short
 * name resolves as in a pod; c-ares also honours LOCALDOMAIN and RES_OPTIONS),
 * or the given "host:port" list (IP literals; IPv6 as "[::1]:53"). A name
 * ending in '.' is queried as given. Truncated UDP answers are retried over
 * TCP by c-ares. Every look-up is bounded: timeout_ms per try, `tries` tries
 * per server (c-ares doubles the timeout on each round of tries).
 *
 * Ownership: the caller owns the resolver and ends it with dns_resolver_close;
 * the answer passed to a callback belongs to the resolver and is valid only
 * during the callback. */
#ifndef CLUSTERD_DNS_H
#define CLUSTERD_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "dns_answer.h"

typedef struct dns_resolver dns_resolver;

typedef struct dns_options {
    char *const *nameservers; /* NULL or empty: resolv.conf */
    size_t n_nameservers;
    int timeout_ms; /* per try; 0: DNS_DEFAULT_TIMEOUT_MS */
    int tries;      /* per server; 0: DNS_DEFAULT_TRIES */
} dns_options;

#define DNS_DEFAULT_TIMEOUT_MS 1000
#define DNS_DEFAULT_TRIES 2

/* The outcome of one look-up. */
typedef enum {
    DNS_OK,         /* NOERROR with records of the type asked for */
    DNS_NODATA,     /* NOERROR, the name exists, no records of that type */
    DNS_NXDOMAIN,   /* the name does not exist */
    DNS_SERVFAIL,   /* the server failed */
    DNS_REFUSED,    /* the server refused */
    DNS_TIMEOUT,    /* no answer within the tries */
    DNS_TRUNCATED,  /* the answer was cut off and could not be had whole */
    DNS_BAD_ANSWER, /* the answer could not be read */
    DNS_ERROR,      /* anything else: connection refused, bad name, ... */
    DNS_CANCELLED,  /* dns_resolver_cancel or close */
} dns_status;

/* Called once per look-up, on the loop. answer is NULL unless a response was
 * read (DNS_OK, and NODATA/NXDOMAIN when the server's answer came back);
 * detail is a short human reason ("" when none). The callback may start new
 * look-ups, and may call dns_resolver_close (which then completes later). */
typedef void (*dns_query_cb)(void *arg, dns_status status, const char *detail,
                             const dns_answer *answer);

/* Creates a resolver on loop. Returns 0, or -1 with a reason in err. */
int dns_resolver_new(uv_loop_t *loop, const dns_options *opts, dns_resolver **out, char *err,
                     size_t errlen);

/* Looks name up for qtype (DNS_TYPE_A, _AAAA, _SRV). cb runs once, later on
 * the loop, or before this returns when the look-up cannot start. */
void dns_resolve(dns_resolver *r, const char *name, uint16_t qtype, dns_query_cb cb, void *arg);

/* Ends every look-up in flight: their callbacks run with DNS_CANCELLED. */
void dns_resolver_cancel(dns_resolver *r);

/* Cancels what is in flight and frees the resolver once its handles have
 * closed; closed(arg) (if not NULL) runs then, on the loop. Accepts NULL. */
void dns_resolver_close(dns_resolver *r, void (*closed)(void *arg), void *arg);

/* Where look-ups go, for evidence: "127.0.0.1:5300" or "resolv.conf". */
const char *dns_resolver_servers(const dns_resolver *r);

const char *dns_status_name(dns_status status);

#endif
