/* nodename: validation and splitting of Erlang node names (alive@host). Every
 * name that comes from outside (config, discovery answers, node messages) goes
 * through nodename_valid before it is used in an RPC. */
#ifndef CLUSTERD_NODENAME_H
#define CLUSTERD_NODENAME_H

#include <stdbool.h>
#include <stddef.h>

#define NODENAME_MAX 255 /* an atom's limit */

/* True for "alive@host" where alive is [A-Za-z0-9_-]+ and host is a host name,
 * an IPv4 literal or an IPv6 literal, total length <= NODENAME_MAX. On false,
 * why (if not NULL) says what is wrong. */
bool nodename_valid(const char *name, char *why, size_t whylen);

/* Splits a valid name; alive and host buffers must be NODENAME_MAX+1 bytes. */
int nodename_split(const char *name, char *alive, char *host);

/* True for a host part alone: a host name ([A-Za-z0-9_-] labels separated by
 * single dots), an IPv4 literal or an IPv6 literal (inet_pton). */
bool nodename_host_valid(const char *host, char *why, size_t whylen);

/* True when host has a dot or is an IP literal (a long name). */
bool nodename_host_is_long(const char *host);

#endif
