/* nodename: validation and splitting of Erlang node names (alive@host). The
 * rules are deliberately narrower than what an atom allows: a name that
 * passes can be written into an RPC, a log line or a JSON string without
 * quoting surprises. */
#include "nodename.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static bool set_why(char *why, size_t whylen, const char *msg)
{
    if (why != NULL && whylen > 0) snprintf(why, whylen, "%s", msg);
    return false;
}

static bool is_alive_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Checks a host part: an IPv6 literal (anything with ':'), else dot-separated
 * labels of [A-Za-z0-9_-] (this covers IPv4 literals) with no empty label
 * and no label starting with '-'. */
bool nodename_host_valid(const char *host, char *why, size_t whylen)
{
    if (host == NULL || host[0] == '\0') return set_why(why, whylen, "empty host part");
    size_t len = strlen(host);
    if (len > NODENAME_MAX) return set_why(why, whylen, "host part too long");
    if (strchr(host, ':') != NULL) {
        unsigned char addr[16];
        if (inet_pton(AF_INET6, host, addr) != 1)
            return set_why(why, whylen, "host part has ':' but is not an IPv6 address");
        return true;
    }
    size_t label = 0;
    for (size_t k = 0; k < len; k++) {
        char c = host[k];
        if (c == '.') {
            if (label == 0) return set_why(why, whylen, "empty label in host part");
            label = 0;
            continue;
        }
        if (!is_alive_char(c)) return set_why(why, whylen, "invalid character in host part");
        if (label == 0 && c == '-') return set_why(why, whylen, "host label starts with '-'");
        label++;
    }
    if (label == 0) return set_why(why, whylen, "host part ends with '.'");
    return true;
}

/* Checks alive@host; see nodename.h. */
bool nodename_valid(const char *name, char *why, size_t whylen)
{
    if (name == NULL || name[0] == '\0') return set_why(why, whylen, "empty node name");
    if (strnlen(name, NODENAME_MAX + 1) > NODENAME_MAX)
        return set_why(why, whylen, "node name longer than 255 characters");
    const char *at = strchr(name, '@');
    if (at == NULL) return set_why(why, whylen, "no '@' in node name");
    if (at == name) return set_why(why, whylen, "empty name before '@'");
    for (const char *c = name; c < at; c++)
        if (!is_alive_char(*c))
            return set_why(why, whylen, "invalid character before '@' (allowed: A-Z a-z 0-9 _ -)");
    if (strchr(at + 1, '@') != NULL) return set_why(why, whylen, "more than one '@'");
    return nodename_host_valid(at + 1, why, whylen);
}

/* Splits a valid name into alive and host (buffers of NODENAME_MAX+1 bytes).
 * Returns 0, or -1 (buffers untouched) when name is not valid. */
int nodename_split(const char *name, char *alive, char *host)
{
    if (!nodename_valid(name, NULL, 0)) return -1;
    const char *at = strchr(name, '@');
    size_t alen = (size_t)(at - name);
    memcpy(alive, name, alen);
    alive[alen] = '\0';
    memcpy(host, at + 1, strlen(at + 1) + 1);
    return 0;
}

/* True when host has a dot or is an IP literal: Erlang's long names. */
bool nodename_host_is_long(const char *host)
{
    if (host == NULL) return false;
    return strchr(host, '.') != NULL || strchr(host, ':') != NULL;
}
