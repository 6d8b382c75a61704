/* Unit tests for secret.c: the one reader of small secret files (the cookie
 * file and node.tls.password_file go through it), its size bound and line
 * ending rule, erl's owner-only rule through symbolic links, messages that
 * name the file and never its content, and the process being made
 * non-dumpable (no core file holding the cookie, tokens or keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "secret.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/clusterd-secret-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes len bytes to dir/name with the given mode; returns the path. */
static const char *put(const char *name, const void *bytes, size_t len, mode_t mode)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    unlink(p);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

typedef struct got {
    int rc;
    size_t n;
    char out[64];
    char err[512];
} got;

static got read_it(const char *path, int flags, size_t max)
{
    got g;
    memset(&g, 'x', sizeof g);
    g.err[0] = '\0';
    g.rc = secret_read_file(path, "test secret", flags, g.out, max, &g.n, g.err, sizeof g.err);
    return g;
}

static void test_reads_and_drops_one_line_ending(void **state)
{
    (void)state;
    got g = read_it(put("s", "Sesame\n", 7, 0600), SECRET_MUST_EXIST, 16);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.n, 6);
    assert_string_equal(g.out, "Sesame");
    g = read_it(put("s", "Sesame\r\n", 8, 0600), 0, 16);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.out, "Sesame");
    /* only one ending: the rest is content, for the caller to judge */
    g = read_it(put("s", "Two\nLines\n", 10, 0400), 0, 16);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.n, 9);
    assert_memory_equal(g.out, "Two\nLines", 10);
    /* NUL bytes are content too, with the length telling */
    g = read_it(put("s", "A\0B", 3, 0600), 0, 16);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.n, 3);
    g = read_it(put("s", "", 0, 0600), 0, 16);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.n, 0);
    assert_string_equal(g.out, "");
}

static void test_size_bound(void **state)
{
    (void)state;
    char big[40];
    memset(big, 'K', sizeof big);
    /* exactly max bytes, with or without "\r\n": accepted */
    got g = read_it(put("s", big, 16, 0600), 0, 16);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.n, 16);
    memcpy(big + 16, "\r\n", 2);
    g = read_it(put("s", big, 18, 0600), 0, 16);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.n, 16);
    /* one more byte, or a long file: refused, never cut */
    memset(big, 'K', sizeof big);
    const size_t sizes[] = {17, 18, 19, sizeof big};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const char *p = put("s", big, sizes[k], 0600);
        g = read_it(p, 0, 16);
        assert_int_equal(g.rc, -1);
        assert_non_null(strstr(g.err, "test secret"));
        assert_non_null(strstr(g.err, p));
        assert_non_null(strstr(g.err, "longer than 16 bytes"));
        assert_null(strstr(g.err, "KKKK"));
        assert_int_equal(g.out[0], 'x'); /* out untouched */
    }
}

static void test_owner_only_through_links(void **state)
{
    (void)state;
    const char *target = put("real", "LinkedSecret\n", 13, 0600);
    char link[256], link2[256];
    snprintf(link, sizeof link, "%s/..data", dir);
    snprintf(link2, sizeof link2, "%s/secret", dir);
    /* Kubernetes Secret volumes: secret -> ..data/x -> the real file */
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(symlink(link, link2), 0);
    got g = read_it(link2, SECRET_MUST_EXIST, 32);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.out, "LinkedSecret");
    /* the rule holds for the file finally opened */
    const mode_t bad[] = {0640, 0604, 0620, 0602, 0660, 0644};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(chmod(target, bad[k]), 0);
        g = read_it(link2, SECRET_MUST_EXIST, 32);
        assert_int_equal(g.rc, -1);
        assert_non_null(strstr(g.err, "accessible by its owner only"));
        assert_non_null(strstr(g.err, link2));
        assert_null(strstr(g.err, "LinkedSecret"));
    }
}

static void test_missing_and_not_regular(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof p, "%s/absent", dir);
    got g = read_it(p, 0, 16);
    assert_int_equal(g.rc, 1);
    g = read_it(p, SECRET_MUST_EXIST, 16);
    assert_int_equal(g.rc, -1);
    assert_non_null(strstr(g.err, p));
    assert_non_null(strstr(g.err, "No such file"));
    snprintf(p, sizeof p, "%s/fifo", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    g = read_it(p, 0, 16); /* refused at once, not waiting for a writer */
    assert_int_equal(g.rc, -1);
    assert_non_null(strstr(g.err, "not a regular file"));
    g = read_it(dir, 0, 16);
    assert_int_equal(g.rc, -1);
    assert_non_null(strstr(g.err, "not a regular file"));
}

static void test_wipe_and_free(void **state)
{
    (void)state;
    char buf[32];
    memcpy(buf, "SensitiveCookieValue", 21);
    secret_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    secret_free(NULL);
    secret_free_n(NULL, 10);
    secret_free(strdup("token"));
    secret_free_n(strdup("key"), 4);
}

/* Last: it changes the process. */
static void test_process_not_dumpable(void **state)
{
    (void)state;
    assert_int_equal(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    setenv("CLUSTERD_DUMPABLE", "1", 1); /* the opt-out keeps it dumpable */
    assert_int_equal(secret_protect_process(), 0);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
    setenv("CLUSTERD_DUMPABLE", "yes", 1); /* only "1" opts out */
    assert_int_equal(secret_protect_process(), 1);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    assert_int_equal(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    unsetenv("CLUSTERD_DUMPABLE");
    assert_int_equal(secret_protect_process(), 1);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_and_drops_one_line_ending),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_owner_only_through_links),
        cmocka_unit_test(test_missing_and_not_regular),
        cmocka_unit_test(test_wipe_and_free),
        cmocka_unit_test(test_process_not_dumpable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
