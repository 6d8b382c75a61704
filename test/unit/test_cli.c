/* Unit tests for the CLI plumbing of the debugging commands: --nodes lists,
 * option parsing, colours off without a terminal, decoding of probe replies,
 * and dial's failure kinds where no peer is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "dial.h"
#include "probe.h"
#include "strv.h"

static void test_split_nodes(void **state)
{
    (void)state;
    char **v = NULL;
    size_t n = 0;
    assert_int_equal(cli_split_nodes("a@h,b@h, c@127.0.0.1,a@h", &v, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "a@h");
    assert_string_equal(v[1], "b@h");
    assert_string_equal(v[2], "c@127.0.0.1");
    strv_free(v, n);
    assert_int_equal(cli_split_nodes("a@h,not a node", &v, &n), -1);
    assert_null(v);
    assert_int_equal(cli_split_nodes(",,", &v, &n), -1);
    assert_int_equal(cli_split_nodes("a@h,@h", &v, &n), -1);
}

static void test_parse(void **state)
{
    (void)state;
    cli_opts o;
    char *ok[] = {"--nodes", "a@h,b@h", "--no-color", "--json", "--timeout", "250", "x@h"};
    assert_int_equal(cli_parse(7, ok, &o), 0);
    assert_string_equal(o.nodes, "a@h,b@h");
    assert_true(o.no_color);
    assert_true(o.json);
    assert_int_equal(o.timeout_ms, 250);
    assert_int_equal(o.nargs, 1);
    assert_int_equal(cli_timeout(&o, 5000), 250);
    free(o.args);
    char *cookie[] = {"--cookie", "secret"};
    assert_int_equal(cli_parse(2, cookie, &o), -1);
    free(o.args);
    char *bad[] = {"--timeout", "0"};
    assert_int_equal(cli_parse(2, bad, &o), -1);
    free(o.args);
    char *none[] = {"--nodes"};
    assert_int_equal(cli_parse(1, none, &o), -1);
    free(o.args);
}

static void test_colors_off_without_tty(void **state)
{
    (void)state;
    cli_opts o;
    memset(&o, 0, sizeof(o));
    /* stdout may be a terminal when run by hand: make it /dev/null for the
     * decision, then put it back for cmocka's report */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    FILE *f = freopen("/dev/null", "w", stdout);
    assert_non_null(f);
    cli_color_setup(&o);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    assert_string_equal(cli_color(CLI_RED), "");
    assert_string_equal(cli_color(CLI_RESET), "");
}

static probe_reply reply_of(ei_x_buff *x)
{
    probe_reply r;
    memset(&r, 0, sizeof(r));
    r.ok = true;
    r.term = x->buff;
    r.len = (size_t)x->index;
    return r;
}

static void test_reply_decoders(void **state)
{
    (void)state;
    ei_x_buff x;
    ei_x_new(&x);
    ei_x_encode_list_header(&x, 3);
    ei_x_encode_atom(&x, "z@h");
    ei_x_encode_atom(&x, "not_a_node");
    ei_x_encode_atom(&x, "a@h");
    ei_x_encode_empty_list(&x);
    probe_reply r = reply_of(&x);
    char **v;
    size_t n;
    assert_int_equal(probe_reply_atoms(&r, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "a@h");
    assert_string_equal(v[1], "z@h");
    strv_free(v, n);

    x.index = 0;
    ei_x_encode_empty_list(&x);
    r = reply_of(&x);
    assert_int_equal(probe_reply_atoms(&r, &v, &n), 0);
    assert_int_equal(n, 0);
    strv_free(v, n);

    char text[64];
    x.index = 0;
    ei_x_encode_string(&x, "26");
    r = reply_of(&x);
    probe_reply_text(&r, text, sizeof(text));
    assert_string_equal(text, "26");
    assert_int_equal(probe_reply_atoms(&r, &v, &n), -1);

    x.index = 0;
    ei_x_encode_long(&x, 60);
    r = reply_of(&x);
    probe_reply_text(&r, text, sizeof(text));
    assert_string_equal(text, "60");

    x.index = 0;
    ei_x_encode_atom(&x, "true");
    r = reply_of(&x);
    probe_reply_text(&r, text, sizeof(text));
    assert_string_equal(text, "true");

    r.ok = false;
    probe_reply_text(&r, text, sizeof(text));
    assert_string_equal(text, "");
    assert_int_equal(probe_reply_atoms(&r, &v, &n), -1);
    ei_x_free(&x);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_dial_failure_kinds(void **state)
{
    (void)state;
    const char *seen[16];
    for (int k = DIAL_OK; k <= DIAL_FAILED; k++) {
        seen[k] = dial_failure_word((dial_failure)k);
        for (int j = 0; j < k; j++)
            assert_string_not_equal(seen[j], seen[k]);
    }
    cnode cn;
    cnode_clear(&cn);
    char err[256];
    assert_int_equal(cnode_init(&cn, "unit-dial", true, "cookie", err, sizeof(err)), 0);
    dial_info info;
    assert_int_equal(dial_node_info(&cn, "bad name", 500, &info, err, sizeof(err)), -1);
    assert_int_equal(info.why, DIAL_BAD_NAME);
    char port[16];
    snprintf(port, sizeof(port), "%d", closed_port());
    setenv("ERL_EPMD_PORT", port, 1);
    assert_int_equal(dial_node_info(&cn, "x@127.0.0.1", 1000, &info, err, sizeof(err)), -1);
    assert_int_equal(info.why, DIAL_NO_EPMD);
    assert_int_equal(info.port, 0);
    assert_non_null(strstr(err, "EPMD on 127.0.0.1"));
    unsetenv("ERL_EPMD_PORT");
    cnode_close(&cn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_nodes),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_reply_decoders),
        cmocka_unit_test(test_dial_failure_kinds),
        cmocka_unit_test(test_colors_off_without_tty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
