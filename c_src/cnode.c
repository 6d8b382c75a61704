/* cnode: identity, creation, listen and EPMD registration. */
#include "cnode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "tls_transport.h"
#include "transport.h"

int cnode_global_init(void)
{
    static int done;
    if (done) return 0;
    if (ei_init() != 0) return -1;
    done = 1;
    return 0;
}

static unsigned random_u32(void)
{
    unsigned v = 0;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        /* wall clock: only entropy, when getrandom() fails */
        v = (unsigned)getpid() ^ (unsigned)time(NULL);
    return v;
}

void cnode_unique_alive(char *out, size_t outlen, const char *prefix)
{
    snprintf(out, outlen, "%s-%d-%04x", prefix, (int)getpid(), random_u32() & 0xffffu);
}

static void local_host(char *out, size_t outlen, bool longnames)
{
    char h[256] = "localhost";
    if (gethostname(h, sizeof(h) - 1) != 0) strcpy(h, "localhost");
    h[sizeof(h) - 1] = '\0';
    if (!longnames) {
        char *dot = strchr(h, '.');
        if (dot) *dot = '\0';
        snprintf(out, outlen, "%s", h);
    } else {
        /* A long name needs a dotted host or an IP; fall back to loopback. */
        snprintf(out, outlen, "%s", strchr(h, '.') ? h : "127.0.0.1");
    }
}

void cnode_clear(cnode *cn)
{
    memset(cn, 0, sizeof(*cn));
    cn->listen_fd = -1;
    cn->epmd_fd = -1;
}

int cnode_init(cnode *cn, const char *name, bool longnames, const char *cookie, char *err,
               size_t errlen)
{
    return cnode_init_tls(cn, name, longnames, cookie, NULL, err, errlen);
}

int cnode_init_tls(cnode *cn, const char *name, bool longnames, const char *cookie,
                   const config_tls *tls, char *err, size_t errlen)
{
    cnode_clear(cn);
    if (cnode_global_init() != 0) {
        snprintf(err, errlen, "erl_interface failed to initialise");
        return -1;
    }
    if (!name) {
        cnode_unique_alive(cn->alive, sizeof(cn->alive), "clusterd");
        local_host(cn->host, sizeof(cn->host), longnames);
    } else {
        const char *at = strchr(name, '@');
        if (at) {
            size_t al = (size_t)(at - name);
            if (al == 0 || al >= sizeof(cn->alive)) {
                snprintf(err, errlen, "invalid node name '%s'", name);
                return -1;
            }
            memcpy(cn->alive, name, al);
            cn->alive[al] = '\0';
            snprintf(cn->host, sizeof(cn->host), "%s", at + 1);
        } else {
            snprintf(cn->alive, sizeof(cn->alive), "%s", name);
            local_host(cn->host, sizeof(cn->host), longnames);
        }
    }
    int n = snprintf(cn->name, sizeof(cn->name), "%s@%s", cn->alive, cn->host);
    char why[128];
    if (n < 0 || (size_t)n >= sizeof(cn->name) || !nodename_valid(cn->name, why, sizeof(why))) {
        snprintf(err, errlen, "invalid node name '%s@%s'", cn->alive, cn->host);
        return -1;
    }
    if (!cookie || !*cookie || strlen(cookie) > EI_MAX_COOKIE_SIZE) {
        snprintf(err, errlen, "the cookie is empty or longer than %d bytes", EI_MAX_COOKIE_SIZE);
        return -1;
    }
    /* A fresh creation per start, so that messages addressed to pids of an
     * earlier incarnation can be recognised and dropped. ei adds 0xE10000 to
     * creations below 4, so stay above that. */
    do {
        cn->creation = random_u32();
    } while (cn->creation < 4);
    ei_socket_callbacks *cbs = transport_tcp_callbacks();
    void *layer = NULL; /* plain TCP */
    if (tls) {
        if (!(cn->tls = tls_context_new(tls, err, errlen))) return -1;
        layer = (void *)tls_context_layer(cn->tls);
    }
    if (ei_connect_xinit_ussi(&cn->ec, cn->host, cn->alive, cn->name, NULL, cookie, cn->creation,
                              cbs, sizeof(*cbs), layer) < 0) {
        snprintf(err, errlen, "erl_interface rejected the node name '%s'", cn->name);
        return -1;
    }
    return 0;
}

void cnode_set_visible(cnode *cn, bool visible)
{
    cn->visible = visible;
    transport_set_published(visible);
}

int cnode_listen_publish(cnode *cn, int timeout_ms, char *err, size_t errlen)
{
    int port = 0;
    cn->listen_fd = ei_listen(&cn->ec, &port, 128);
    if (cn->listen_fd < 0) {
        snprintf(err, errlen, "cannot listen for distribution connections: %s",
                 strerror(erl_errno));
        return -1;
    }
    cn->port = port;
    cn->epmd_fd = ei_publish_tmo(&cn->ec, port, (unsigned)timeout_ms);
    if (cn->epmd_fd < 0) {
        snprintf(err, errlen,
                 "cannot register '%s' in EPMD on this host (is epmd running? is the name "
                 "already taken?)",
                 cn->alive);
        return -1;
    }
    return 0;
}

void cnode_close(cnode *cn)
{
    if (cn->epmd_fd >= 0) {
        close(cn->epmd_fd); /* EPMD drops the name when this socket closes */
        cn->epmd_fd = -1;
    }
    if (cn->listen_fd >= 0) {
        ei_close_connection(cn->listen_fd);
        cn->listen_fd = -1;
    }
    tls_context_free(cn->tls); /* every connection made with it is closed by now */
    cn->tls = NULL;
    /* wipe the cookie from ei's structure */
    memset(cn->ec.ei_connect_cookie, 0, sizeof(cn->ec.ei_connect_cookie));
}
