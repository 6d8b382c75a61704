/* tls_transport: OpenSSL behind the transport_layer interface. See
 * tls_transport.h. */
#include "tls_transport.h"

#include "secret.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_PASSPHRASE_MAX 1023 /* OpenSSL hands the callback 1024 bytes */

struct tls_context {
    SSL_CTX *ctx;
    transport_layer layer;
    bool verify_peer;
    bool sni_disabled;
    char *server_name; /* owned or NULL */
};

typedef struct tls_stream {
    SSL *ssl;
    const tls_context *t;
    bool server;
    char expect[256]; /* the name the peer's certificate must carry ("" = no check) */
    char err[200];
} tls_stream;

const char *tls_library_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

/* ---- describing failures ---- */

/* OpenSSL's reason for the most recent error on this thread, e.g. "tlsv1
 * alert unknown ca" (an alert the peer sent) or "certificate verify failed". */
static const char *last_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "unknown TLS error";
}

static void describe(tls_stream *s, int ssl_err, int sys_errno)
{
    long v = SSL_get_verify_result(s->ssl);
    if (v != X509_V_OK && s->t->verify_peer) {
        snprintf(s->err, sizeof(s->err), "the peer's certificate is not trusted: %s",
                 X509_verify_cert_error_string(v));
    } else if (ssl_err == SSL_ERROR_SSL) {
        const char *r = last_reason();
        if (strstr(r, "alert"))
            snprintf(s->err, sizeof(s->err), "the peer refused the handshake (%s)", r);
        else if (strstr(r, "wrong version number") || strstr(r, "packet length too long") ||
                 strstr(r, "record layer failure"))
            snprintf(s->err, sizeof(s->err),
                     "the peer does not speak TLS (%s): is it running -proto_dist inet_tls?", r);
        else
            snprintf(s->err, sizeof(s->err), "%s", r);
    } else if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN) {
        if (sys_errno)
            snprintf(s->err, sizeof(s->err), "connection lost during TLS: %s", strerror(sys_errno));
        else
            snprintf(s->err, sizeof(s->err),
                     "the peer closed the connection during the TLS handshake");
    } else {
        snprintf(s->err, sizeof(s->err), "TLS error %d", ssl_err);
    }
}

/* Maps an SSL_get_error result to the stream contract: EAGAIN with want, or
 * a hard failure (errno set, s->err filled). */
static int map_error(tls_stream *s, int rc, short *want)
{
    int sys_errno = errno;
    int e = SSL_get_error(s->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = POLLIN;
        return EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = POLLOUT;
        return EAGAIN;
    default:
        describe(s, e, e == SSL_ERROR_SYSCALL ? sys_errno : 0);
        if (e == SSL_ERROR_SYSCALL && sys_errno) return sys_errno;
        return e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN ? ECONNRESET : EPROTO;
    }
}

/* ---- the stream ---- */

static bool is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The host check of an outgoing connection: the certificate must name the
 * host as a DNS subjectAltName (what OTP checks, so certificates made for OTP
 * carry it even for addresses), or as an IP subjectAltName. */
static int check_peer_name(tls_stream *s)
{
    if (!s->expect[0]) return 0;
    X509 *peer = SSL_get1_peer_certificate(s->ssl);
    if (!peer) {
        snprintf(s->err, sizeof(s->err), "the peer sent no certificate");
        return EPROTO;
    }
    bool ok = X509_check_host(peer, s->expect, 0, 0, NULL) == 1 ||
              (is_ip_literal(s->expect) && X509_check_ip_asc(peer, s->expect, 0) == 1);
    X509_free(peer);
    if (!ok) {
        snprintf(s->err, sizeof(s->err),
                 "the peer's certificate is not valid for host %.100s (no matching "
                 "subjectAltName)",
                 s->expect);
        return EPROTO;
    }
    return 0;
}

static int tls_handshake(void *st, int fd, short *want)
{
    (void)fd;
    tls_stream *s = st;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) return s->server ? 0 : check_peer_name(s);
    return map_error(s, rc, want);
}

static ssize_t tls_read(void *st, int fd, void *buf, size_t len, short *want)
{
    (void)fd;
    tls_stream *s = st;
    if (len > INT_MAX) len = INT_MAX;
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(s->ssl, buf, (int)len);
    if (n > 0) return n;
    int e = SSL_get_error(s->ssl, n);
    /* The end of the stream, with or without close_notify (a node that
     * goes away may not say goodbye). */
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) return 0;
    int err = map_error(s, n, want);
    errno = err;
    return -1;
}

static ssize_t tls_write(void *st, int fd, const void *buf, size_t len, short *want)
{
    (void)fd;
    tls_stream *s = st;
    if (len > INT_MAX) len = INT_MAX;
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(s->ssl, buf, (int)len);
    if (n > 0) return n;
    int err = map_error(s, n, want);
    errno = err;
    return -1;
}

static size_t tls_pending(void *st)
{
    tls_stream *s = st;
    int n = SSL_pending(s->ssl);
    return n > 0 ? (size_t)n : 0;
}

static const char *tls_error(void *st)
{
    tls_stream *s = st;
    return s->err[0] ? s->err : NULL;
}

static void tls_free(void *st)
{
    tls_stream *s = st;
    if (!s) return;
    /* A close_notify if the socket takes it now; never wait for the answer. */
    if (SSL_is_init_finished(s->ssl)) (void)SSL_shutdown(s->ssl);
    ERR_clear_error();
    SSL_free(s->ssl);
    free(s);
}

/* The socket BIO that SSL_set_fd made holds the fd number (not owned). */
static int tls_set_fd(void *st, int fd)
{
    tls_stream *s = st;
    BIO *b = SSL_get_rbio(s->ssl);
    if (!b || b != SSL_get_wbio(s->ssl)) return -1;
    BIO_set_fd(b, fd, BIO_NOCLOSE);
    return 0;
}

static const transport_stream_ops tls_stream_ops = {
    .name = "tls",
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .pending = tls_pending,
    .error = tls_error,
    .free = tls_free,
    .set_fd = tls_set_fd,
};

static int tls_open(void *arg, int fd, bool server, const char *peer_host, transport_stream *out,
                    char *err, size_t errlen)
{
    const tls_context *t = arg;
    tls_stream *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->t = t;
    s->server = server;
    ERR_clear_error();
    s->ssl = SSL_new(t->ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, fd) != 1) {
        snprintf(err, errlen, "cannot start TLS: %s", last_reason());
        if (s->ssl) SSL_free(s->ssl);
        free(s);
        return -1;
    }
    if (server) {
        SSL_set_accept_state(s->ssl);
        /* As OTP's dist optfile: {verify, verify_peer}, {fail_if_no_peer_cert, true}. */
        SSL_set_verify(s->ssl,
                       t->verify_peer ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                      : SSL_VERIFY_NONE,
                       NULL);
    } else {
        SSL_set_connect_state(s->ssl);
        SSL_set_verify(s->ssl, t->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
        const char *name = t->server_name ? t->server_name : (peer_host ? peer_host : "");
        if (!t->sni_disabled && name[0]) {
            /* SNI carries host names only, never addresses (RFC 6066). */
            if (!is_ip_literal(name)) (void)SSL_set_tlsext_host_name(s->ssl, name);
            if (t->verify_peer) snprintf(s->expect, sizeof(s->expect), "%s", name);
        }
    }
    out->ops = &tls_stream_ops;
    out->st = s;
    return 0;
}

/* ---- the context ---- */

/* Reads the key's passphrase with the cookie's rules (secret_read_file:
 * links followed, owner-only, bounded); one line, its line ending dropped.
 * outlen is TLS_PASSPHRASE_MAX + 1. */
static int read_passphrase(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    size_t n;
    if (secret_read_file(path, "node.tls.password_file", SECRET_MUST_EXIST, out, outlen - 1, &n,
                         err, errlen) != 0)
        return -1;
    const char *why = n == 0                         ? "is empty"
                      : memchr(out, '\0', n) != NULL ? "holds a NUL byte"
                      : strpbrk(out, "\r\n") != NULL ? "holds more than one line"
                                                     : NULL;
    if (why != NULL) {
        snprintf(err, errlen, "node.tls.password_file %s %s", path, why);
        OPENSSL_cleanse(out, outlen);
        return -1;
    }
    return 0;
}

static int passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pass = u;
    if (!pass || size <= 0) return 0;
    size_t len = strlen(pass);
    if (len >= (size_t)size) return 0; /* never a cut passphrase */
    memcpy(buf, pass, len);
    buf[len] = '\0';
    return (int)len;
}

/* An error naming the file and OpenSSL's reason. */
static void load_error(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "node.tls: cannot load %s %s: %s", what, path, last_reason());
}

tls_context *tls_context_new(const config_tls *cfg, char *err, size_t errlen)
{
    char pass[TLS_PASSPHRASE_MAX + 1];
    pass[0] = '\0';
    tls_context *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->verify_peer = cfg->verify_peer;
    t->sni_disabled = cfg->sni_disabled;
    if (cfg->server_name && !(t->server_name = strdup(cfg->server_name))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_method());
    if (!t->ctx) {
        snprintf(err, errlen, "cannot set up TLS: %s", last_reason());
        goto fail;
    }
    int min = (cfg->versions & TLS_VERSION_12) ? TLS1_2_VERSION : TLS1_3_VERSION;
    int max = (cfg->versions & TLS_VERSION_13) ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(t->ctx, min);
    SSL_CTX_set_max_proto_version(t->ctx, max);
    /* The loop writes whatever part of its buffer the socket takes, and
     * the buffer may move between retries. */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* A node that dies sends no close_notify: that is the end of the
     * stream, not a protocol error (distribution framing tells a cut packet
     * from a whole one). */
    SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Long-lived connections: no resumption, so no session tickets. */
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(t->ctx, 0);
    /* Always our callback: OpenSSL's default would prompt on the terminal. */
    SSL_CTX_set_default_passwd_cb(t->ctx, passphrase_cb);
    if (cfg->password_file) {
        if (read_passphrase(cfg->password_file, pass, sizeof(pass), err, errlen) < 0) goto fail;
        SSL_CTX_set_default_passwd_cb_userdata(t->ctx, pass);
    }
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->certfile) != 1) {
        load_error(err, errlen, "certfile", cfg->certfile);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, cfg->keyfile, SSL_FILETYPE_PEM) != 1) {
        if (strstr(last_reason(), "key values mismatch")) {
            snprintf(err, errlen, "node.tls: keyfile %s does not match certfile %s", cfg->keyfile,
                     cfg->certfile);
            goto fail;
        }
        load_error(err, errlen, "keyfile", cfg->keyfile);
        if (!cfg->password_file) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used, " (if the key is encrypted, set password_file)");
        }
        goto fail;
    }
    /* The passphrase is needed only for loading the key. */
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL);
    OPENSSL_cleanse(pass, sizeof(pass));
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        snprintf(err, errlen, "node.tls: keyfile %s does not match certfile %s", cfg->keyfile,
                 cfg->certfile);
        goto fail;
    }
    if (cfg->cacertfile && SSL_CTX_load_verify_locations(t->ctx, cfg->cacertfile, NULL) != 1) {
        load_error(err, errlen, "cacertfile", cfg->cacertfile);
        goto fail;
    }
    t->layer.open = tls_open;
    t->layer.arg = t;
    ERR_clear_error();
    return t;
fail:
    OPENSSL_cleanse(pass, sizeof(pass));
    ERR_clear_error();
    tls_context_free(t);
    return NULL;
}

const transport_layer *tls_context_layer(const tls_context *t)
{
    return &t->layer;
}

void tls_context_free(tls_context *t)
{
    if (!t) return;
    SSL_CTX_free(t->ctx);
    free(t->server_name);
    free(t);
}
