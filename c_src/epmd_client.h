/* epmd_client: EPMD queries (PORT_PLEASE2 and NAMES) over plain TCP with a
 * *total* deadline. Blocking: call it from a worker thread or a CLI, never on
 * the event loop. Honours ERL_EPMD_PORT like erl and ei do. */
#ifndef CLUSTERD_EPMD_CLIENT_H
#define CLUSTERD_EPMD_CLIENT_H

#include <stddef.h>
#include <sys/socket.h>

typedef enum {
    EPMD_OK = 0,
    EPMD_ERR_RESOLVE,   /* host name did not resolve */
    EPMD_ERR_CONNECT,   /* no EPMD listening on the host (refused/unreachable) */
    EPMD_ERR_TIMEOUT,   /* total deadline passed */
    EPMD_ERR_NOT_FOUND, /* PORT_PLEASE2: the name is not registered */
    EPMD_ERR_PROTOCOL,  /* malformed answer */
    EPMD_ERR_IO,        /* read/write failed */
} epmd_status;

const char *epmd_status_text(epmd_status st);

/* The EPMD port: $ERL_EPMD_PORT when valid, else 4369. */
int epmd_port(void);

/* Resolves host (an IP literal, or a name through resolve.c: /etc/hosts, then
 * DNS, within timeout_ms) to one address, IPv4 preferred, port 0. */
epmd_status epmd_resolve_host(const char *host, int timeout_ms, struct sockaddr_storage *addr,
                              socklen_t *len);

typedef struct epmd_node_info {
    int port; /* distribution port */
    int highest_version;
    int lowest_version;
    int node_type; /* 77 'M' normal, 72 'H' hidden */
} epmd_node_info;

/* PORT_PLEASE2 for `alive` on `host`, finished within timeout_ms in total. */
epmd_status epmd_port_please(const char *host, const char *alive, int timeout_ms,
                             epmd_node_info *info);

typedef struct epmd_name {
    char name[256];
    int port;
} epmd_name;

/* The parsers of EPMD's answers (outside input; fuzz/fuzz_epmd.c). A whole
 * PORT2_RESP: EPMD_OK with *info filled (info may be NULL),
 * EPMD_ERR_NOT_FOUND, or EPMD_ERR_PROTOCOL for anything cut, longer or out
 * of shape. A whole NAMES answer (the 4-byte port, then "name N at port P\n"
 * lines): EPMD_OK with *out malloc'd (NULL when empty; the caller frees it)
 * and *count set, else EPMD_ERR_PROTOCOL with nothing allocated. */
epmd_status epmd_port2_parse(const unsigned char *b, size_t len, epmd_node_info *info);
epmd_status epmd_parse_names(const unsigned char *buf, size_t len, epmd_name **out, size_t *count);

/* NAMES on `host`: fills up to max entries of out, *count receives how many
 * the EPMD listed (capped at max). The answer is size-capped (64 KiB). */
epmd_status epmd_names(const char *host, int timeout_ms, epmd_name *out, size_t max, size_t *count);

/* Largest NAMES answer accepted (the 4-byte port plus the text lines). */
#define EPMD_NAMES_ANSWER_MAX (64 * 1024)

/* One host of epmd_names_many. */
typedef struct epmd_names_query {
    const char *host;   /* in */
    epmd_status status; /* out */
    epmd_name *names;   /* out: malloc'd (the caller frees it with free()); NULL if none */
    size_t count;       /* out */
} epmd_names_query;

/* NAMES on n hosts at once (up to 64 connections at a time, polled together):
 * each host has its own timeout_ms deadline, so one slow host costs only its
 * deadline, not the others'. Host names are resolved first, one after
 * another (getaddrinfo cannot be bounded). */
void epmd_names_many(epmd_names_query *q, size_t n, int timeout_ms);

#endif
