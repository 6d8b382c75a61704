/* kube_client: libcurl multi on the libuv loop, with Kubernetes credentials.
 * See kube_client.h. */
#include "kube_client.h"

#include "secret.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cookie.h"
#include "kube_json.h"
#include "log.h"

#define TOKEN_REREAD_MS 60000ULL /* client-go's cached file token source */
#define TOKEN_MAX_BYTES 16384
#define EXEC_TIMEOUT_MS 30000
#define EXEC_MAX_OUTPUT (1u << 20)
#define EXEC_EXPIRY_SLACK_S 10 /* re-run a plugin this long before its expiry */

typedef enum { EXEC_IDLE, EXEC_RUNNING } exec_state;

struct kube_request {
    kube_client *kc;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_list;
    char *url;
    kube_request_opts opts;
    kube_data_fn on_data;
    kube_done_fn on_done;
    void *arg;
    char *body;
    size_t body_len, body_cap;
    bool truncated;
    long retry_after_s;
    bool cancelled;
    bool in_multi;
    bool aborted;       /* on_data asked to stop */
    kube_request *next; /* waiting for a credential, or in the done queue */
    kube_request *all_next, *all_prev;
};

typedef struct poll_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    kube_client *kc;
    bool closing;
    struct poll_ctx *next, *prev;
} poll_ctx;

struct kube_client {
    uv_loop_t *loop;
    kube_access access;
    CURLM *multi;
    uv_timer_t timer;
    int open_handles; /* timer + polls + exec pipes/process not yet closed */
    bool closing;
    void (*closed)(void *arg);
    void *closed_arg;
    char *url_base; /* https://host:port, or tls-server-name:port */
    char *connect_to;
    /* the current bearer token (from inline, file or exec), and when read */
    char *token;
    uint64_t token_read_ms;
    bool token_stale;
    /* exec plugin */
    exec_state exec;
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t exec_timer;
    char *exec_buf;
    size_t exec_len;
    bool exec_failed_overflow;
    bool exec_exited;      /* the plugin process has exited */
    bool exec_pipe_closed; /* its stdout pipe is closing */
    long long exec_expiry; /* Unix s, 0 = none */
    bool exec_have;        /* a credential is cached */
    char *exec_cert, *exec_key;
    int exec_pending_closes;
    int64_t exec_status;
    int exec_signal;
    kube_request *waiting; /* requests waiting for the plugin */
    kube_request *all;     /* every live request */
    int in_curl;           /* depth of curl calls on the stack */
    poll_ctx *polls;       /* every open poll handle */
    bool multi_dead;       /* curl_multi_cleanup has run */
    kube_client_stats stats;
};

static uint64_t now_ms(const kube_client *kc)
{
    return uv_now(kc->loop);
}

const char *kube_client_server(const kube_client *kc)
{
    return kc->access.server;
}

void kube_client_get_stats(const kube_client *kc, kube_client_stats *st)
{
    *st = kc->stats;
}

void kube_client_unauthorized(kube_client *kc)
{
    if (kc == NULL) return;
    kc->token_stale = true;
    kc->exec_have = false;
}

/* ---- credentials ---- */

/* Re-reads the token file when due (every 60 s, or after a 401). A read
 * error keeps the last token (the kubelet swaps the file atomically). */
static void token_refresh(kube_client *kc)
{
    const char *path = kc->access.token_file;
    if (path == NULL) return;
    if (kc->token != NULL && !kc->token_stale && now_ms(kc) - kc->token_read_ms < TOKEN_REREAD_MS)
        return;
    kc->token_stale = false;
    kc->token_read_ms = now_ms(kc);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        log_event(LOG_LEVEL_WARN, "cannot read the token file", "file", path, "error",
                  strerror(errno), LOG_END);
        return;
    }
    setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer holding a copy */
    char buf[TOKEN_MAX_BYTES + 1];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n > TOKEN_MAX_BYTES) {
        secret_wipe(buf, sizeof buf);
        log_event(LOG_LEVEL_WARN, "token file too large; ignored", "file", path, LOG_END);
        return;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (strpbrk(buf, "\r\n") != NULL) {
        secret_wipe(buf, sizeof buf);
        log_event(LOG_LEVEL_WARN, "token file holds more than one line; ignored", "file", path,
                  LOG_END);
        return;
    }
    kc->stats.token_reads++;
    bool same = kc->token != NULL && strcmp(kc->token, buf) == 0;
    char *t = same ? NULL : strdup(buf);
    secret_wipe(buf, sizeof buf);
    if (t == NULL) return;
    if (kc->token != NULL) log_event(LOG_LEVEL_INFO, "token file changed", "file", path, LOG_END);
    secret_free(kc->token);
    kc->token = t;
}

static bool exec_due(const kube_client *kc)
{
    if (kc->access.exec == NULL) return false;
    if (!kc->exec_have) return true;
    /* wall clock: the plugin's expirationTimestamp is a wall-clock instant */
    return kc->exec_expiry > 0 && (long long)time(NULL) >= kc->exec_expiry - EXEC_EXPIRY_SLACK_S;
}

/* ---- curl glue ---- */

static void check_multi_info(kube_client *kc);

static void request_unlink(kube_request *rq)
{
    kube_client *kc = rq->kc;
    if (rq->all_prev != NULL)
        rq->all_prev->all_next = rq->all_next;
    else if (kc->all == rq)
        kc->all = rq->all_next;
    if (rq->all_next != NULL) rq->all_next->all_prev = rq->all_prev;
    rq->all_next = rq->all_prev = NULL;
}

static void request_free(kube_request *rq)
{
    if (rq == NULL) return;
    request_unlink(rq);
    if (rq->easy != NULL) {
        if (rq->in_multi) curl_multi_remove_handle(rq->kc->multi, rq->easy);
        curl_easy_cleanup(rq->easy);
    }
    curl_slist_free_all(rq->headers);
    curl_slist_free_all(rq->connect_list);
    free(rq->url);
    free(rq->body);
    free(rq);
}

static void client_maybe_free(kube_client *kc)
{
    if (!kc->closing || kc->open_handles > 0) return;
    kube_access_free(&kc->access);
    void (*closed)(void *) = kc->closed;
    void *arg = kc->closed_arg;
    free(kc->url_base);
    free(kc->connect_to);
    secret_free(kc->token);
    free(kc->exec_cert);
    secret_free(kc->exec_key);
    secret_free_n(kc->exec_buf, kc->exec_len);
    free(kc);
    if (closed != NULL) closed(arg);
}

static void on_poll_closed(uv_handle_t *h)
{
    poll_ctx *p = h->data;
    kube_client *kc = p->kc;
    free(p);
    kc->open_handles--;
    client_maybe_free(kc);
}

static void poll_close(kube_client *kc, poll_ctx *p)
{
    if (p->closing) return;
    p->closing = true;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        kc->polls = p->next;
    if (p->next != NULL) p->next->prev = p->prev;
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_poll_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    poll_ctx *p = h->data;
    kube_client *kc = p->kc;
    if (p->closing || kc->multi_dead) return;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running = 0;
    kc->in_curl++;
    curl_multi_socket_action(kc->multi, p->fd, flags, &running);
    kc->in_curl--;
    check_multi_info(kc);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    kube_client *kc = userp;
    poll_ctx *p = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (p != NULL) {
            poll_close(kc, p);
            if (!kc->multi_dead) curl_multi_assign(kc->multi, s, NULL);
        }
        return 0;
    }
    if (kc->multi_dead) return 0;
    if (p == NULL) {
        p = calloc(1, sizeof *p);
        if (p == NULL) return -1;
        p->fd = s;
        p->kc = kc;
        if (uv_poll_init_socket(kc->loop, &p->poll, s) != 0) {
            free(p);
            return -1;
        }
        p->poll.data = p;
        kc->open_handles++;
        p->next = kc->polls;
        if (kc->polls != NULL) kc->polls->prev = p;
        kc->polls = p;
        curl_multi_assign(kc->multi, s, p);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    uv_poll_start(&p->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    kube_client *kc = t->data;
    int running = 0;
    if (kc->multi_dead) return;
    kc->in_curl++;
    curl_multi_socket_action(kc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    kc->in_curl--;
    check_multi_info(kc);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    kube_client *kc = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&kc->timer);
    else
        uv_timer_start(&kc->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static int body_append(kube_request *rq, const char *data, size_t n)
{
    if (rq->body_len + n > rq->opts.max_body) {
        n = rq->opts.max_body > rq->body_len ? rq->opts.max_body - rq->body_len : 0;
        rq->truncated = true;
    }
    if (n == 0) return 0;
    if (rq->body_len + n + 1 > rq->body_cap) {
        size_t cap = rq->body_cap ? rq->body_cap : 8192;
        while (cap < rq->body_len + n + 1)
            cap *= 2;
        char *g = realloc(rq->body, cap);
        if (g == NULL) return -1;
        rq->body = g;
        rq->body_cap = cap;
    }
    memcpy(rq->body + rq->body_len, data, n);
    rq->body_len += n;
    rq->body[rq->body_len] = '\0';
    return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    kube_request *rq = userp;
    size_t n = size * nmemb;
    if (rq->cancelled || rq->aborted) return 0;
    long status = 0;
    curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rq->opts.stream && status == 200) {
        if (rq->on_data(rq->arg, data, n) != 0) {
            rq->aborted = true;
            return 0;
        }
        return n;
    }
    if (body_append(rq, data, n) != 0) return 0;
    return n;
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *userp)
{
    kube_request *rq = userp;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char v[32];
        size_t k = n - (sizeof name - 1);
        if (k >= sizeof v) k = sizeof v - 1;
        memcpy(v, data + sizeof name - 1, k);
        v[k] = '\0';
        rq->retry_after_s = kube_retry_after_parse(v);
    }
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) rq->retry_after_s = -1; /* a new response */
    return n;
}

static void request_finish(kube_request *rq, CURLcode code)
{
    kube_response resp;
    memset(&resp, 0, sizeof resp);
    resp.retry_after_s = rq->retry_after_s;
    curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &resp.http_status);
    if (rq->aborted) {
        snprintf(resp.error, sizeof resp.error, "stream aborted by the reader");
    } else if (code != CURLE_OK) {
        snprintf(resp.error, sizeof resp.error, "%s", curl_easy_strerror(code));
        if (resp.http_status != 200) resp.http_status = resp.http_status > 0 ? resp.http_status : 0;
    }
    resp.body = rq->body ? rq->body : "";
    resp.body_len = rq->body_len;
    resp.body_truncated = rq->truncated;
    if (resp.http_status == 401) kube_client_unauthorized(rq->kc);
    rq->on_done(rq->arg, &resp);
}

static void check_multi_info(kube_client *kc)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(kc->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        kube_request *rq = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&rq);
        CURLcode code = msg->data.result;
        curl_multi_remove_handle(kc->multi, msg->easy_handle);
        rq->in_multi = false;
        /* on_done may close the client (a strategy stopped from its
         * report): take rq out of the client's list first, and stop
         * reading messages from a multi handle that is gone. */
        request_unlink(rq);
        if (!rq->cancelled) request_finish(rq, code);
        request_free(rq);
        if (kc->closing) return;
    }
}

/* ---- requests ---- */

static int request_setup(kube_request *rq)
{
    kube_client *kc = rq->kc;
    const kube_access *a = &kc->access;
    CURL *e = curl_easy_init();
    if (e == NULL) return -1;
    rq->easy = e;
    char ua[64];
    snprintf(ua, sizeof ua, "clusterd/%s", CLUSTERD_VERSION);
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, rq);
    curl_easy_setopt(e, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, rq);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, rq);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, rq->opts.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, rq->opts.connect_timeout_ms);
    if (rq->opts.stream) {
        /* A watch through a proxy that keeps the TCP connection alive but
         * passes nothing: end it after 3 minutes without a byte (the API
         * server sends bookmarks about every minute), and watch again. */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 180L);
    }
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (kc->connect_to != NULL) {
        rq->connect_list = curl_slist_append(NULL, kc->connect_to);
        if (rq->connect_list == NULL) return -1;
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, rq->connect_list);
    }
    if (a->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (a->ca_data != NULL) {
        struct curl_blob blob = {
            .data = a->ca_data, .len = a->ca_data_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    } else if (a->ca_file != NULL) {
        curl_easy_setopt(e, CURLOPT_CAINFO, a->ca_file);
    }
    const char *cert_data = a->cert_data ? a->cert_data : kc->exec_cert;
    const char *key_data = a->key_data ? a->key_data : kc->exec_key;
    if (cert_data != NULL && key_data != NULL) {
        struct curl_blob c = {
            .data = (void *)cert_data, .len = strlen(cert_data), .flags = CURL_BLOB_COPY};
        struct curl_blob k = {
            .data = (void *)key_data, .len = strlen(key_data), .flags = CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &c);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &k);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (a->cert_file != NULL && a->key_file != NULL) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, a->cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, a->key_file);
    }
    rq->headers = curl_slist_append(NULL, "Accept: application/json");
    if (rq->headers == NULL) return -1;
    if (kc->token != NULL && kc->token[0] != '\0') {
        size_t n = strlen(kc->token) + 32;
        char *line = malloc(n);
        if (line == NULL) return -1;
        snprintf(line, n, "Authorization: Bearer %s", kc->token);
        struct curl_slist *next = curl_slist_append(rq->headers, line);
        secret_free_n(line, n);
        if (next == NULL) return -1;
        rq->headers = next;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, rq->headers);
    return 0;
}

/* Hands a request to curl. Returns 0, or -1 (nothing started; the caller
 * reports the failure). */
static int request_start(kube_request *rq)
{
    kube_client *kc = rq->kc;
    token_refresh(kc);
    kc->stats.requests++;
    if (request_setup(rq) != 0 || curl_multi_add_handle(kc->multi, rq->easy) != CURLM_OK) {
        log_event(LOG_LEVEL_ERROR, "cannot start an API request (out of memory)", LOG_END);
        return -1;
    }
    rq->in_multi = true;
    return 0;
}

/* ---- exec credential plugins ---- */

static void exec_settle(kube_client *kc, const char *error);

static void exec_after_close(uv_handle_t *h)
{
    kube_client *kc = h->data;
    if (--kc->exec_pending_closes > 0) {
        kc->open_handles--;
        return;
    }
    /* process, pipe and timer closed: parse and release waiting requests */
    char err[256] = "";
    if (kc->exec_failed_overflow) {
        snprintf(err, sizeof err, "exec plugin printed more than %u bytes", EXEC_MAX_OUTPUT);
    } else if (kc->exec_signal != 0) {
        snprintf(err, sizeof err, "exec plugin killed by signal %d%s", kc->exec_signal,
                 kc->exec_signal == SIGKILL ? " (timeout)" : "");
    } else if (kc->exec_status != 0) {
        snprintf(err, sizeof err, "exec plugin exited with status %lld",
                 (long long)kc->exec_status);
    } else {
        kube_exec_credential cr;
        if (kube_exec_credential_parse(kc->exec_buf ? kc->exec_buf : "", kc->exec_len, &cr, err,
                                       sizeof err) == 0) {
            secret_free(kc->token);
            free(kc->exec_cert);
            secret_free(kc->exec_key);
            kc->token = cr.token; /* the client owns them now */
            kc->exec_cert = cr.cert;
            kc->exec_key = cr.key;
            kc->exec_expiry = cr.expiry;
            kc->exec_have = true;
        }
    }
    secret_free_n(kc->exec_buf, kc->exec_len);
    kc->exec_buf = NULL;
    kc->exec_len = 0;
    kc->exec = EXEC_IDLE;
    exec_settle(kc, err[0] ? err : NULL);
    kc->open_handles--;
    client_maybe_free(kc);
}

/* Grace after the plugin exited with its stdout still open (a child of the
 * plugin holds it): stop waiting for end of file. */
#define EXEC_GRACE_MS 2000

static void exec_close_pipe(kube_client *kc)
{
    if (kc->exec_pipe_closed) return;
    kc->exec_pipe_closed = true;
    uv_read_stop((uv_stream_t *)&kc->out);
    uv_close((uv_handle_t *)&kc->out, exec_after_close);
}

static void exec_on_grace(uv_timer_t *t)
{
    kube_client *kc = t->data;
    exec_close_pipe(kc);
    uv_close((uv_handle_t *)t, exec_after_close);
}

static void exec_on_exit(uv_process_t *p, int64_t status, int sig)
{
    kube_client *kc = p->data;
    kc->exec_status = status;
    kc->exec_signal = sig;
    kc->exec_exited = true;
    uv_close((uv_handle_t *)p, exec_after_close);
    uv_timer_stop(&kc->exec_timer);
    if (kc->exec_pipe_closed)
        uv_close((uv_handle_t *)&kc->exec_timer, exec_after_close);
    else /* output may still be on its way: read it, but not forever */
        uv_timer_start(&kc->exec_timer, exec_on_grace, EXEC_GRACE_MS, 0);
}

static void exec_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void exec_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    kube_client *kc = s->data;
    if (n > 0) {
        if (kc->exec_len + (size_t)n > EXEC_MAX_OUTPUT) {
            kc->exec_failed_overflow = true;
            uv_process_kill(&kc->proc, SIGKILL);
        } else {
            /* not realloc: the old block, holding the credential so far,
             * would be freed unwiped */
            char *g = malloc(kc->exec_len + (size_t)n + 1);
            if (g != NULL) {
                if (kc->exec_len > 0) memcpy(g, kc->exec_buf, kc->exec_len);
                memcpy(g + kc->exec_len, buf->base, (size_t)n);
                secret_free_n(kc->exec_buf, kc->exec_len);
                kc->exec_buf = g;
                kc->exec_len += (size_t)n;
                g[kc->exec_len] = '\0';
            }
        }
    }
    if (buf->base != NULL) secret_free_n(buf->base, n > 0 ? (size_t)n : 0);
    if (n < 0) {
        exec_close_pipe(kc);
        if (kc->exec_exited) { /* the grace timer is running: done with it */
            uv_timer_stop(&kc->exec_timer);
            uv_close((uv_handle_t *)&kc->exec_timer, exec_after_close);
        }
    }
}

static void exec_on_timeout(uv_timer_t *t)
{
    kube_client *kc = t->data;
    log_event(LOG_LEVEL_WARN, "exec plugin timed out; killing it", "command",
              kc->access.exec->command, LOG_END);
    uv_process_kill(&kc->proc, SIGKILL);
}

extern char **environ;

/* Starts the plugin; requests wait in kc->waiting until it settles. */
static int exec_start(kube_client *kc, char *err, size_t errlen)
{
    const kube_exec *x = kc->access.exec;
    size_t n_env = 0;
    while (environ[n_env] != NULL)
        n_env++;
    char **env = calloc(n_env + x->n_env + 2, sizeof *env);
    char **args = calloc(x->n_args + 2, sizeof *args);
    char info[256];
    int rc = -1;
    if (env == NULL || args == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t k = 0;
    /* Never a variable that may hold the cookie (cookie_load removes those
     * it read, but a command that never loads the cookie still has them). */
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) != 0 && !cookie_env_secret(environ[i]))
            env[k++] = environ[i];
    for (size_t i = 0; i < x->n_env; i++)
        env[k++] = x->env[i];
    snprintf(info, sizeof info,
             "KUBERNETES_EXEC_INFO={\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
             "\"spec\":{\"interactive\":false}}",
             x->api_version);
    env[k++] = info;
    args[0] = x->command;
    for (size_t i = 0; i < x->n_args; i++)
        args[i + 1] = x->args[i];
    uv_pipe_init(kc->loop, &kc->out, 0);
    kc->out.data = kc;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&kc->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t po = {.exit_cb = exec_on_exit,
                               .file = x->command,
                               .args = args,
                               .env = env,
                               .stdio_count = 3,
                               .stdio = stdio};
    kc->proc.data = kc;
    kc->exec_failed_overflow = false;
    kc->exec_exited = false;
    kc->exec_pipe_closed = false;
    kc->exec_status = 0;
    kc->exec_signal = 0;
    int r = uv_spawn(kc->loop, &kc->proc, &po);
    if (r != 0) {
        snprintf(err, errlen, "exec plugin %.200s: %s", x->command, uv_strerror(r));
        log_event(LOG_LEVEL_WARN, "cannot start the exec credential plugin", "command", x->command,
                  "error", uv_strerror(r), LOG_END);
        kc->open_handles++;
        kc->exec_pending_closes = 1;
        kc->out.data = kc;
        uv_close((uv_handle_t *)&kc->out, exec_after_close);
        kc->exec = EXEC_RUNNING; /* settles from exec_after_close with an error */
        kc->exec_status = 127;
        rc = 0;
        goto out;
    }
    kc->stats.exec_runs++;
    kc->exec = EXEC_RUNNING;
    kc->open_handles += 3;
    kc->exec_pending_closes = 3;
    uv_timer_init(kc->loop, &kc->exec_timer);
    kc->exec_timer.data = kc;
    uv_timer_start(&kc->exec_timer, exec_on_timeout, EXEC_TIMEOUT_MS, 0);
    uv_read_start((uv_stream_t *)&kc->out, exec_alloc, exec_on_read);
    rc = 0;
out:
    free(env);
    free(args);
    return rc;
}

/* Starts every waiting request, or fails them with error. A done callback
 * may close the client: the rest are then freed without callbacks. */
static void exec_settle(kube_client *kc, const char *error)
{
    if (error != NULL)
        log_event(LOG_LEVEL_WARN, "exec credential plugin failed", "error", error, LOG_END);
    kube_request *w;
    while ((w = kc->waiting) != NULL) {
        kc->waiting = w->next;
        w->next = NULL;
        if (kc->closing || w->cancelled) {
            request_free(w);
            continue;
        }
        if (error == NULL && request_start(w) == 0) continue;
        kube_response resp;
        memset(&resp, 0, sizeof resp);
        resp.retry_after_s = -1;
        snprintf(resp.error, sizeof resp.error, "%s",
                 error != NULL ? error : "cannot start the request");
        resp.body = "";
        request_unlink(w);
        w->on_done(w->arg, &resp);
        request_free(w);
    }
}

/* ---- public ---- */

kube_request *kube_client_get(kube_client *kc, const char *path_query, const kube_request_opts *o,
                              kube_data_fn on_data, kube_done_fn on_done, void *arg)
{
    if (kc == NULL || kc->closing) return NULL;
    kube_request *rq = calloc(1, sizeof *rq);
    if (rq == NULL) return NULL;
    size_t n = strlen(kc->url_base) + strlen(path_query) + 1;
    rq->url = malloc(n);
    if (rq->url == NULL) {
        free(rq);
        return NULL;
    }
    snprintf(rq->url, n, "%s%s", kc->url_base, path_query);
    rq->kc = kc;
    rq->opts = *o;
    if (rq->opts.max_body == 0) rq->opts.max_body = 64u << 20;
    rq->on_data = on_data;
    rq->on_done = on_done;
    rq->arg = arg;
    rq->retry_after_s = -1;
    rq->all_next = kc->all;
    if (kc->all != NULL) kc->all->all_prev = rq;
    kc->all = rq;
    if (exec_due(kc)) {
        rq->next = kc->waiting;
        kc->waiting = rq;
        if (kc->exec == EXEC_IDLE) {
            char err[256];
            if (exec_start(kc, err, sizeof err) != 0) {
                kc->waiting = rq->next;
                request_free(rq);
                return NULL;
            }
        }
        return rq;
    }
    if (request_start(rq) != 0) {
        request_free(rq);
        return NULL;
    }
    return rq;
}

void kube_request_cancel(kube_request *rq)
{
    if (rq == NULL) return;
    rq->cancelled = true;
    kube_client *kc = rq->kc;
    if (kc->in_curl > 0) return; /* finished (silently) from check_multi_info */
    for (kube_request *w = kc->waiting; w != NULL; w = w->next)
        if (w == rq) return; /* freed when the plugin settles */
    request_free(rq);
}

/* Parses "https://host[:port]" into host and port (brackets kept out). */
static int split_server(const char *server, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *p = server + strlen("https://");
    const char *end = p + strcspn(p, "/");
    const char *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL) return -1;
        if ((size_t)(rb - p - 1) >= hostlen) return -1;
        memcpy(host, p + 1, (size_t)(rb - p - 1));
        host[rb - p - 1] = '\0';
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        size_t hl = (size_t)((colon ? colon : end) - p);
        if (hl == 0 || hl >= hostlen) return -1;
        memcpy(host, p, hl);
        host[hl] = '\0';
    }
    if (colon != NULL) {
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl >= portlen) return -1;
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
    } else {
        snprintf(port, portlen, "443");
    }
    return 0;
}

kube_client *kube_client_new(uv_loop_t *loop, kube_access *access, char *err, size_t errlen)
{
    static bool curl_ready = false;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "libcurl did not initialise");
            kube_access_free(access);
            return NULL;
        }
        curl_ready = true;
    }
    /* libcurl built with the blocking resolver would look the API server's
     * name up on our event loop, with no deadline (CURLOPT_NOSIGNAL turns
     * its alarm off): refuse it rather than risk stalling everything. */
    if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS)) {
        snprintf(err, errlen,
                 "this libcurl resolves names synchronously (no AsynchDNS); "
                 "clusterd needs one that does not block");
        kube_access_free(access);
        return NULL;
    }
    kube_client *kc = calloc(1, sizeof *kc);
    if (kc == NULL) {
        snprintf(err, errlen, "out of memory");
        kube_access_free(access);
        return NULL;
    }
    kc->loop = loop;
    kc->access = *access;
    memset(access, 0, sizeof *access);
    char host[256], port[16];
    if (kc->access.server == NULL || strncmp(kc->access.server, "https://", 8) != 0 ||
        split_server(kc->access.server, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "API server \"%.200s\" is not an https://host[:port] URL",
                 kc->access.server ? kc->access.server : "");
        goto fail;
    }
    char buf[700];
    if (kc->access.tls_server_name != NULL) {
        /* Verify the certificate against tls-server-name: ask for that name
         * and connect to the real address. */
        snprintf(buf, sizeof buf, "https://%s:%s", kc->access.tls_server_name, port);
        kc->url_base = strdup(buf);
        bool v6 = strchr(host, ':') != NULL;
        snprintf(buf, sizeof buf, "%s:%s:%s%s%s:%s", kc->access.tls_server_name, port,
                 v6 ? "[" : "", host, v6 ? "]" : "", port);
        kc->connect_to = strdup(buf);
        if (kc->url_base == NULL || kc->connect_to == NULL) goto nomem;
    } else {
        kc->url_base = strdup(kc->access.server);
        if (kc->url_base == NULL) goto nomem;
    }
    if (kc->access.insecure)
        log_event(LOG_LEVEL_WARN,
                  "insecure-skip-tls-verify: the API server's certificate is NOT verified",
                  "server", kc->access.server, LOG_END);
    if (kc->access.token != NULL) {
        kc->token = strdup(kc->access.token);
        if (kc->token == NULL) goto nomem;
    }
    kc->multi = curl_multi_init();
    if (kc->multi == NULL) goto nomem;
    curl_multi_setopt(kc->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(kc->multi, CURLMOPT_SOCKETDATA, kc);
    curl_multi_setopt(kc->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(kc->multi, CURLMOPT_TIMERDATA, kc);
    uv_timer_init(loop, &kc->timer);
    kc->timer.data = kc;
    kc->open_handles = 1;
    return kc;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    if (kc->multi != NULL) curl_multi_cleanup(kc->multi);
    kube_access_free(&kc->access);
    free(kc->url_base);
    free(kc->connect_to);
    free(kc->token);
    free(kc);
    return NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    kube_client *kc = h->data;
    kc->open_handles--;
    client_maybe_free(kc);
}

void kube_client_close(kube_client *kc, void (*closed)(void *arg), void *arg)
{
    if (kc == NULL) return;
    kc->closing = true;
    kc->closed = closed;
    kc->closed_arg = arg;
    kube_request **pp = &kc->all;
    while (*pp != NULL) {
        kube_request *rq = *pp;
        bool waiting = false;
        for (kube_request *w = kc->waiting; w != NULL; w = w->next)
            if (w == rq) waiting = true;
        if (waiting) { /* freed when the plugin settles */
            rq->cancelled = true;
            pp = &rq->all_next;
            continue;
        }
        request_free(rq); /* unlinks rq from kc->all */
    }
    kc->multi_dead = true;
    curl_multi_cleanup(kc->multi); /* closes cached connections */
    kc->multi = NULL;
    while (kc->polls != NULL)
        poll_close(kc, kc->polls);
    if (kc->exec == EXEC_RUNNING) uv_process_kill(&kc->proc, SIGKILL);
    uv_timer_stop(&kc->timer);
    uv_close((uv_handle_t *)&kc->timer, on_timer_closed);
}
