/* Unit tests for http: the endpoint answers from the published snapshot
 * (readiness before and after, metrics text, heartbeat), refuses methods
 * other than GET/HEAD, and stays consistent while the snapshot is replaced
 * under concurrent requests. Real sockets on 127.0.0.1, port chosen by the
 * kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "config.h"
#include "http.h"

static http_server *start(long long max_connections)
{
    config_http cfg = {.listen = "127.0.0.1:0",
                       .addr = "127.0.0.1",
                       .port = 0,
                       .max_connections = max_connections,
                       .connection_timeout_s = 5};
    char err[256] = "";
    http_server *s = http_start(&cfg, err, sizeof err);
    if (!s) fail_msg("http_start: %s", err);
    assert_true(http_port(s) > 0);
    return s;
}

/* One request; returns the status code and copies the body (or -1). */
static int request(int port, const char *method, const char *path, char *body, size_t bodylen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[256], resp[16384];
    size_t got = 0;
    int code = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) goto out;
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, path);
    if (write(fd, req, (size_t)n) != n) goto out;
    for (;;) {
        ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
        if (got == sizeof resp - 1) break;
    }
    resp[got] = '\0';
    if (sscanf(resp, "HTTP/1.1 %d", &code) != 1) code = -1;
    const char *b = strstr(resp, "\r\n\r\n");
    if (body) snprintf(body, bodylen, "%s", b ? b + 4 : "");
out:
    close(fd);
    return code;
}

static void test_readiness_and_metrics(void **state)
{
    (void)state;
    http_server *s = start(4);
    int port = http_port(s);
    char body[8192];

    assert_int_equal(request(port, "GET", "/readyz", body, sizeof body), 503);
    assert_non_null(strstr(body, "not ready"));
    assert_int_equal(request(port, "GET", "/healthz", body, sizeof body), 200);
    assert_string_equal(body, "ok\n");
    assert_int_equal(request(port, "GET", "/metrics", body, sizeof body), 200);
    assert_string_equal(body, "");

    http_publish(s, strdup("a_metric 1\n"), 11, false, "waiting for topology 'k8s'");
    assert_int_equal(request(port, "GET", "/readyz", body, sizeof body), 503);
    assert_string_equal(body, "not ready: waiting for topology 'k8s'\n");
    assert_int_equal(request(port, "GET", "/metrics", body, sizeof body), 200);
    assert_string_equal(body, "a_metric 1\n");

    /* NULL text keeps the previous one; readiness follows. */
    http_publish(s, NULL, 0, true, NULL);
    assert_int_equal(request(port, "GET", "/readyz", body, sizeof body), 200);
    assert_string_equal(body, "ready\n");
    assert_int_equal(request(port, "GET", "/metrics", body, sizeof body), 200);
    assert_string_equal(body, "a_metric 1\n");
    assert_int_equal(request(port, "HEAD", "/metrics", body, sizeof body), 200);
    assert_string_equal(body, "");

    assert_int_equal(request(port, "POST", "/metrics", body, sizeof body), 405);
    assert_int_equal(request(port, "DELETE", "/readyz", NULL, 0), 405);
    assert_int_equal(request(port, "GET", "/metrics/x", NULL, 0), 404);
    assert_int_equal(request(port, "GET", "/", NULL, 0), 404);
    http_stop(s);
    http_stop(NULL);
}

static void test_bind_errors(void **state)
{
    (void)state;
    http_server *s = start(4);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", http_port(s));
    config_http cfg = {.listen = addr,
                       .addr = "127.0.0.1",
                       .port = http_port(s),
                       .max_connections = 4,
                       .connection_timeout_s = 5};
    char err[256] = "";
    assert_null(http_start(&cfg, err, sizeof err));
    assert_non_null(strstr(err, addr));
    http_stop(s);

    config_http v6 = {.listen = "[::1]:0",
                      .addr = "::1",
                      .port = 0,
                      .max_connections = 4,
                      .connection_timeout_s = 5};
    /* IPv6 loopback may be absent in a sandbox: either way, no crash. */
    http_server *s6 = http_start(&v6, err, sizeof err);
    if (s6) assert_true(http_port(s6) > 0);
    http_stop(s6);
}

typedef struct client_arg {
    int port;
    int bad;
} client_arg;

static void *client(void *p)
{
    client_arg *a = p;
    char body[8192];
    for (int k = 0; k < 100; k++) {
        int code = request(a->port, "GET", "/metrics", body, sizeof body);
        /* Every answer is one whole snapshot: "gen N\n" repeated. */
        unsigned gen = 0;
        if (code != 200 || (body[0] && sscanf(body, "gen %u", &gen) != 1)) {
            a->bad++;
            continue;
        }
        char line[32];
        int len = snprintf(line, sizeof line, "gen %u\n", gen);
        for (size_t off = 0; body[off]; off += (size_t)len)
            if (strncmp(body + off, line, (size_t)len) != 0) {
                a->bad++;
                break;
            }
    }
    return NULL;
}

static void test_publish_while_serving(void **state)
{
    (void)state;
    http_server *s = start(8);
    client_arg args[2] = {{.port = http_port(s)}, {.port = http_port(s)}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&th[k], NULL, client, &args[k]), 0);
    for (unsigned gen = 1; gen <= 2000; gen++) {
        char line[32];
        int len = snprintf(line, sizeof line, "gen %u\n", gen);
        size_t total = (size_t)len * 50;
        char *text = malloc(total + 1);
        assert_non_null(text);
        for (size_t off = 0; off < total; off += (size_t)len)
            memcpy(text + off, line, (size_t)len);
        text[total] = '\0';
        http_publish(s, text, total, gen % 2 == 0, "odd");
    }
    for (int k = 0; k < 2; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(args[k].bad, 0);
    }
    http_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readiness_and_metrics),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_publish_while_serving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
