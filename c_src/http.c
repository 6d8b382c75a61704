/* http: /metrics, /healthz and /readyz served by libmicrohttpd from a
 * snapshot the event loop publishes. See http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#define HTTP_MEMORY_LIMIT (16 * 1024) /* per connection: headers of a GET, nothing more */
#define HTTP_BACKLOG 16
#define NOT_READY_MAX 512

struct http_server {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu; /* guards everything below */
    char *metrics;      /* owned; NULL until the first publish */
    size_t metrics_len;
    bool ready;
    char not_ready[NOT_READY_MAX];
    uint64_t heartbeat_ms; /* monotonic time of the last publish */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type,
                               const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (ok == MHD_YES) ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ok == MHD_YES && code == MHD_HTTP_METHOD_NOT_ALLOWED)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (ok == MHD_YES) ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    return respond(c, code, "text/plain; charset=utf-8", text, strlen(text));
}

/* Runs on the HTTP thread: reads only the snapshot, under the lock. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    http_server *s = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");

    enum MHD_Result rc;
    char text[NOT_READY_MAX + 64];
    if (strcmp(url, "/metrics") == 0) {
        pthread_mutex_lock(&s->mu);
        rc = respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                     s->metrics ? s->metrics : "", s->metrics ? s->metrics_len : 0);
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    if (strcmp(url, "/healthz") == 0) {
        pthread_mutex_lock(&s->mu);
        uint64_t age = mono_ms() - s->heartbeat_ms;
        pthread_mutex_unlock(&s->mu);
        if (age <= HTTP_STALE_MS) return respond_text(c, MHD_HTTP_OK, "ok\n");
        snprintf(text, sizeof text, "event loop silent for %llu ms\n", (unsigned long long)age);
        return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
    }
    if (strcmp(url, "/readyz") == 0) {
        pthread_mutex_lock(&s->mu);
        bool ready = s->ready;
        snprintf(text, sizeof text, "not ready: %s\n", s->not_ready);
        pthread_mutex_unlock(&s->mu);
        return ready ? respond_text(c, MHD_HTTP_OK, "ready\n")
                     : respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
    }
    return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n");
}

http_server *http_start(const config_http *cfg, char *err, size_t errlen)
{
    http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->heartbeat_ms = mono_ms();
    snprintf(s->not_ready, sizeof s->not_ready, "starting");

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, cfg->addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "http: '%s' is not an IP address", cfg->addr);
        goto fail;
    }
    /* The port argument is ignored with MHD_OPTION_SOCK_ADDR. */
    s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)HTTP_BACKLOG, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "http: cannot listen on %s (address in use or not local?)",
                 cfg->listen);
        goto fail;
    }
    /* The port actually bound (cfg->port may be 0: any free port). */
    s->port = cfg->port;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    return s;
fail:
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
}

int http_port(const http_server *s)
{
    return s->port;
}

void http_publish(http_server *s, char *metrics, size_t len, bool ready, const char *not_ready)
{
    char *old = NULL;
    pthread_mutex_lock(&s->mu);
    if (metrics) {
        old = s->metrics;
        s->metrics = metrics;
        s->metrics_len = len;
    }
    s->ready = ready;
    snprintf(s->not_ready, sizeof s->not_ready, "%s", ready || !not_ready ? "" : not_ready);
    s->heartbeat_ms = mono_ms();
    pthread_mutex_unlock(&s->mu);
    free(old);
}

void http_stop(http_server *s)
{
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    free(s->metrics);
    free(s);
}
