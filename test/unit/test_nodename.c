/* Unit tests for nodename: which node names are accepted, splitting, and the
 * long/short host distinction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nodename.h"

static void test_valid_names(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "a@b",
        "app@127.0.0.1",
        "my_app-1@host.example.com",
        "A9@HOST_1",
        "x@::1",
        "x@fd00::2",
        "x@2001:db8::1:2:3",
        "x@::ffff:10.0.0.1",
        "ex-cluster@10.244.1.17",
        "n@ip-10-0-0-1.eu-west-1.compute.internal",
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        char why[128] = "";
        if (!nodename_valid(ok[k], why, sizeof why)) fail_msg("%s rejected: %s", ok[k], why);
    }
}

static void test_invalid_names(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",       "a",      "@b",      "a@",     "@",         "a@b@c",          "a@b'c",
        "a@b c",  "a b@c",  "a'@b",    "a@b\"c", "a@b\nc",    "a@b;c",          "a@b,c",
        "a@b/c",  "a@b\\c", "a@[::1]", "a@::g",  "a@1::2::3", "a@.b",           "a@b.",
        "a@b..c", "a@-b",   "a@b.-c",  "a.b@c",  "a@b%eth0",  "a@fe80::1%eth0", "a@b\tc",
        "é@b",    "a@é",    "a@b)",    "a@'b'",  "a@b|c",     "a@${x}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char why[128] = "";
        if (nodename_valid(bad[k], why, sizeof why)) fail_msg("%s accepted", bad[k]);
        assert_true(why[0] != '\0');
    }
    assert_false(nodename_valid(NULL, NULL, 0));
}

static void test_length_limit(void **state)
{
    (void)state;
    char name[300];
    /* 255 characters in total is the most an atom holds. */
    memset(name, 'a', 253);
    memcpy(name + 253, "@b", 3);
    assert_int_equal(strlen(name), 255);
    assert_true(nodename_valid(name, NULL, 0));
    memset(name, 'a', 254);
    memcpy(name + 254, "@b", 3);
    char why[128];
    assert_false(nodename_valid(name, why, sizeof why));
    assert_non_null(strstr(why, "longer"));
    /* A tiny why buffer is truncated, never overrun. */
    char tiny[4] = "xxx";
    assert_false(nodename_valid("a@", tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), 3);
}

static void test_split(void **state)
{
    (void)state;
    char alive[NODENAME_MAX + 1], host[NODENAME_MAX + 1];
    assert_int_equal(nodename_split("app@10.0.0.1", alive, host), 0);
    assert_string_equal(alive, "app");
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(nodename_split("x@::1", alive, host), 0);
    assert_string_equal(alive, "x");
    assert_string_equal(host, "::1");
    strcpy(alive, "keep");
    assert_int_equal(nodename_split("bad name@h", alive, host), -1);
    assert_string_equal(alive, "keep");
}

static void test_host_valid_and_long(void **state)
{
    (void)state;
    assert_true(nodename_host_valid("localhost", NULL, 0));
    assert_true(nodename_host_valid("::1", NULL, 0));
    assert_false(nodename_host_valid("", NULL, 0));
    assert_false(nodename_host_valid("a b", NULL, 0));
    assert_true(nodename_host_is_long("host.example.com"));
    assert_true(nodename_host_is_long("127.0.0.1"));
    assert_true(nodename_host_is_long("::1"));
    assert_false(nodename_host_is_long("myhost"));
    assert_false(nodename_host_is_long(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),         cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_length_limit),        cmocka_unit_test(test_split),
        cmocka_unit_test(test_host_valid_and_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
