/* Unit tests for cookie.c: the order of the cookie sources, erl's owner-only
 * permission rule, trimming, and the refusals (empty, too long, control
 * characters, missing files or variables). Every error message is checked
 * to name its source and never to contain the cookie. Each test works in its
 * own mkdtemp directory with HOME pointing into it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cookie.h"

typedef struct fixture {
    char dir[64];
    char home[96];
    char *saved_home;
} fixture;

typedef struct result {
    int rc;
    char cookie[COOKIE_MAX + 1];
    char source[4096];
    char err[4400];
} result;

/* --- helpers ------------------------------------------------------------ */

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/clusterd-cookie-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->home, sizeof(f->home), "%s/home", f->dir);
    if (mkdir(f->home, 0700) < 0) {
        rmdir(f->dir);
        free(f);
        return -1;
    }
    const char *h = getenv("HOME");
    f->saved_home = h ? strdup(h) : NULL;
    setenv("HOME", f->home, 1);
    unsetenv("RELEASE_COOKIE");
    unsetenv("CLUSTERD_TEST_COOKIE");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    remove_tree(f->dir);
    if (f->saved_home)
        setenv("HOME", f->saved_home, 1);
    else
        unsetenv("HOME");
    unsetenv("RELEASE_COOKIE");
    unsetenv("CLUSTERD_TEST_COOKIE");
    free(f->saved_home);
    free(f);
    return 0;
}

/* Writes len bytes of content to dir/name with the given mode; returns the
 * path in a static buffer slot (four slots, enough for one test). */
static const char *write_file(const char *dir, const char *name, const char *content, size_t len,
                              mode_t mode)
{
    static char paths[4][256];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0); /* exact mode, whatever the umask */
    close(fd);
    return path;
}

static const char *write_str(const char *dir, const char *name, const char *content, mode_t mode)
{
    return write_file(dir, name, content, strlen(content), mode);
}

static result load(const char *cli_file, const char *cfg_file, const char *cfg_env)
{
    result r;
    memset(&r, 0, sizeof(r));
    r.rc = cookie_load(cli_file, cfg_file, cfg_env, r.cookie, sizeof(r.cookie), r.source,
                       sizeof(r.source), r.err, sizeof(r.err));
    return r;
}

/* Neither the message nor the source may carry the cookie (nor a telling
 * part of it). */
static void assert_no_cookie(const result *r, const char *cookie)
{
    char part[9];
    snprintf(part, sizeof(part), "%s", cookie);
    if (strlen(part) >= 6 && (strstr(r->err, part) || strstr(r->source, part)))
        fail_msg("the cookie leaked: err=\"%s\" source=\"%s\"", r->err, r->source);
    if (strstr(r->err, cookie) || strstr(r->source, cookie))
        fail_msg("the cookie leaked: err=\"%s\" source=\"%s\"", r->err, r->source);
}

static void expect_ok(const result *r, const char *cookie, const char *source)
{
    if (r->rc != 0) fail_msg("cookie_load failed: %s", r->err);
    assert_string_equal(r->cookie, cookie);
    assert_string_equal(r->source, source);
}

/* Expects failure with a message containing each of up to two fragments and
 * not the cookie. */
static void expect_fail(const result *r, const char *cookie, const char *what, const char *what2)
{
    assert_int_equal(r->rc, -1);
    if (what && !strstr(r->err, what)) fail_msg("\"%s\" does not mention \"%s\"", r->err, what);
    if (what2 && !strstr(r->err, what2)) fail_msg("\"%s\" does not mention \"%s\"", r->err, what2);
    if (cookie) assert_no_cookie(r, cookie);
}

/* --- the file rule ------------------------------------------------------- */

static void test_file_0600_read_and_trimmed(void **state)
{
    fixture *f = *state;
    const char *const contents[] = {"Secret-Cookie_1", "Secret-Cookie_1\n", "Secret-Cookie_1\r\n",
                                    "Secret-Cookie_1 \t\n\n"};
    for (size_t k = 0; k < sizeof(contents) / sizeof(contents[0]); k++) {
        const char *path = write_str(f->dir, "cookie", contents[k], 0600);
        result r = load(path, NULL, NULL);
        expect_ok(&r, "Secret-Cookie_1", path);
    }
    /* Owner-only modes other than 0600 are fine too, as with erl. */
    const mode_t modes[] = {0400, 0700};
    for (size_t k = 0; k < 2; k++) {
        const char *path = write_str(f->dir, "cookie", "owner-only-cookie", modes[k]);
        result r = load(path, NULL, NULL);
        expect_ok(&r, "owner-only-cookie", path);
    }
    /* Inner spaces are part of the cookie. */
    const char *path = write_str(f->dir, "cookie", "two words\n", 0600);
    result r = load(path, NULL, NULL);
    expect_ok(&r, "two words", path);
}

static void test_file_group_or_other_access_refused(void **state)
{
    fixture *f = *state;
    const mode_t modes[] = {0644, 0640, 0604, 0660, 0606, 0602, 0620, 0610, 0601};
    const char *const names[] = {"0644", "0640", "0604", "0660", "0606",
                                 "0602", "0620", "0610", "0601"};
    for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
        const char *path = write_str(f->dir, "cookie", "PermissiveCookie\n", modes[k]);
        result r = load(path, NULL, NULL);
        expect_fail(&r, "PermissiveCookie", path, "accessible by its owner only");
        if (!strstr(r.err, names[k] + 1)) fail_msg("\"%s\" does not give mode %s", r.err, names[k]);
        assert_string_equal(r.cookie, ""); /* nothing was read */
    }
}

static void test_file_missing(void **state)
{
    fixture *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/no-such-cookie", f->dir);
    result r = load(path, NULL, NULL);
    expect_fail(&r, NULL, path, "No such file or directory");
    r = load(NULL, path, NULL);
    expect_fail(&r, NULL, path, "No such file or directory");
}

static void test_file_empty(void **state)
{
    fixture *f = *state;
    const char *path = write_str(f->dir, "cookie", "", 0600);
    result r = load(path, NULL, NULL);
    expect_fail(&r, NULL, path, "the cookie is empty");
    path = write_str(f->dir, "cookie", " \n\r\n\t", 0600);
    r = load(path, NULL, NULL);
    expect_fail(&r, NULL, path, "the cookie is empty");
}

static void test_file_oversized(void **state)
{
    fixture *f = *state;
    char big[COOKIE_MAX + 64];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('A' + i % 26);

    /* 255 bytes, with or without a line ending: the limit itself. */
    const char *path = write_file(f->dir, "cookie", big, COOKIE_MAX, 0600);
    result r = load(path, NULL, NULL);
    if (r.rc != 0) fail_msg("%s", r.err);
    assert_int_equal(strlen(r.cookie), COOKIE_MAX);
    char crlf[COOKIE_MAX + 2];
    memcpy(crlf, big, COOKIE_MAX);
    memcpy(crlf + COOKIE_MAX, "\r\n", 2);
    path = write_file(f->dir, "cookie", crlf, sizeof(crlf), 0600);
    r = load(path, NULL, NULL);
    if (r.rc != 0) fail_msg("%s", r.err);
    assert_int_equal(strlen(r.cookie), COOKIE_MAX);

    char cookie[COOKIE_MAX + 2];
    const size_t sizes[] = {COOKIE_MAX + 1, COOKIE_MAX + 2, COOKIE_MAX + 3, sizeof(big)};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        path = write_file(f->dir, "cookie", big, sizes[k], 0600);
        r = load(path, NULL, NULL);
        snprintf(cookie, sizeof(cookie), "%.*s", (int)COOKIE_MAX, big);
        expect_fail(&r, cookie, path, "longer than 255 bytes");
    }

    /* A short cookie followed by a long tail of blank lines and text. */
    char tail[COOKIE_MAX + 40];
    memset(tail, '\n', sizeof(tail));
    memcpy(tail, "short-cookie", 12);
    memcpy(tail + sizeof(tail) - 4, "more", 4);
    path = write_file(f->dir, "cookie", tail, sizeof(tail), 0600);
    r = load(path, NULL, NULL);
    expect_fail(&r, "short-cookie", path, "longer than 255 bytes");
}

static void test_file_control_characters(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"Cookie\x01Value", 12},
        {"CookieX\nValue", 13},
        {"Cookie\0Value", 12},
        {"Cookie\x7fValue", 12},
        {"Caf\xc3\xa9"
         "Cookie",
         12},
        {"\tCookieValue", 12},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        const char *path = write_file(f->dir, "cookie", bad[k].bytes, bad[k].len, 0600);
        result r = load(path, NULL, NULL);
        expect_fail(&r, "Cookie", path, "control or non-ASCII character");
        assert_null(strstr(r.err, "Value"));
        assert_string_equal(r.cookie, "");
    }
}

static void test_file_not_regular(void **state)
{
    fixture *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/subdir", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    result r = load(path, NULL, NULL);
    expect_fail(&r, NULL, path, "not a regular file");

    /* A FIFO is refused at once rather than waiting for a writer. */
    snprintf(path, sizeof(path), "%s/fifo", f->dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    r = load(path, NULL, NULL);
    expect_fail(&r, NULL, path, "not a regular file");
}

static void test_file_through_symlink(void **state)
{
    fixture *f = *state;
    /* Kubernetes mounts secrets as links into a ..data directory. */
    const char *target = write_str(f->dir, "real-cookie", "LinkedCookie\n", 0600);
    char link[256];
    snprintf(link, sizeof(link), "%s/cookie-link", f->dir);
    assert_int_equal(symlink(target, link), 0);
    result r = load(link, NULL, NULL);
    expect_ok(&r, "LinkedCookie", link);

    /* The rule applies to the file the link leads to. */
    assert_int_equal(chmod(target, 0644), 0);
    r = load(link, NULL, NULL);
    expect_fail(&r, "LinkedCookie", link, "accessible by its owner only");
}

static void test_small_output_buffer(void **state)
{
    fixture *f = *state;
    const char *path = write_str(f->dir, "cookie", "TwentyCharCookie1234\n", 0600);
    char out[8], source[256], err[512];
    memset(out, 'x', sizeof(out));
    int rc =
        cookie_load(path, NULL, NULL, out, sizeof(out), source, sizeof(source), err, sizeof(err));
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "longer than"));
    assert_null(strstr(err, "TwentyChar"));
}

/* --- sources and their order -------------------------------------------- */

static void test_source_order(void **state)
{
    fixture *f = *state;
    const char *cli = write_str(f->dir, "cli-cookie", "FromCliFile\n", 0600);
    const char *cfg = write_str(f->dir, "cfg-cookie", "FromCfgFile\n", 0600);
    const char *home = write_str(f->home, ".erlang.cookie", "FromHomeFile\n", 0400);
    setenv("CLUSTERD_TEST_COOKIE", "FromCfgEnv", 1);
    setenv("RELEASE_COOKIE", "FromReleaseCookie\n", 1);

    result r = load(cli, cfg, "CLUSTERD_TEST_COOKIE");
    expect_ok(&r, "FromCliFile", cli);
    /* A loaded cookie leaves no variable that may hold one in our
     * environment, so no child (an exec plugin) inherits it. */
    assert_null(getenv("RELEASE_COOKIE"));
    assert_null(getenv("CLUSTERD_TEST_COOKIE"));
    setenv("CLUSTERD_TEST_COOKIE", "FromCfgEnv", 1);
    setenv("RELEASE_COOKIE", "FromReleaseCookie\n", 1);
    r = load(NULL, cfg, "CLUSTERD_TEST_COOKIE");
    expect_ok(&r, "FromCfgFile", cfg);
    setenv("CLUSTERD_TEST_COOKIE", "FromCfgEnv", 1);
    setenv("RELEASE_COOKIE", "FromReleaseCookie\n", 1);
    r = load(NULL, NULL, "CLUSTERD_TEST_COOKIE");
    expect_ok(&r, "FromCfgEnv", "$CLUSTERD_TEST_COOKIE");
    assert_null(getenv("CLUSTERD_TEST_COOKIE"));
    setenv("RELEASE_COOKIE", "FromReleaseCookie\n", 1);
    r = load(NULL, NULL, NULL);
    expect_ok(&r, "FromReleaseCookie", "$RELEASE_COOKIE");
    assert_null(getenv("RELEASE_COOKIE"));
    r = load(NULL, NULL, NULL);
    expect_ok(&r, "FromHomeFile", home);

    assert_int_equal(unlink(home), 0);
    r = load(NULL, NULL, NULL);
    expect_fail(&r, NULL, "no cookie found", "RELEASE_COOKIE");
    unsetenv("HOME");
    r = load(NULL, NULL, NULL);
    expect_fail(&r, NULL, "no cookie found", NULL);
}

static void test_failing_source_does_not_fall_through(void **state)
{
    fixture *f = *state;
    setenv("RELEASE_COOKIE", "FallbackCookie", 1);
    write_str(f->home, ".erlang.cookie", "HomeCookie\n", 0600);

    /* A refused file given explicitly is an error, not a reason to look on. */
    const char *open_file = write_str(f->dir, "cookie", "WorldReadable\n", 0644);
    result r = load(open_file, NULL, NULL);
    expect_fail(&r, "WorldReadable", open_file, "owner only");
    r = load(NULL, open_file, NULL);
    expect_fail(&r, "WorldReadable", open_file, "owner only");

    /* A bad RELEASE_COOKIE is reported, not skipped for ~/.erlang.cookie. */
    setenv("RELEASE_COOKIE", "Bad\x01Release", 1);
    r = load(NULL, NULL, NULL);
    expect_fail(&r, "Bad\x01Release", "RELEASE_COOKIE", "control or non-ASCII");
    assert_null(strstr(r.err, "Release"));

    /* A ~/.erlang.cookie readable by others is refused like erl does. */
    unsetenv("RELEASE_COOKIE");
    const char *home = write_str(f->home, ".erlang.cookie", "HomeCookieOpen\n", 0640);
    r = load(NULL, NULL, NULL);
    expect_fail(&r, "HomeCookieOpen", home, "owner only");
}

static void test_cookie_env_variable_missing(void **state)
{
    setenv("RELEASE_COOKIE", "WouldBeFallback", 1);
    result r = load(NULL, NULL, "CLUSTERD_TEST_COOKIE");
    expect_fail(&r, "WouldBeFallback", "node.cookie_env", "$CLUSTERD_TEST_COOKIE is not set");
}

static void test_env_values_checked(void **state)
{
    setenv("CLUSTERD_TEST_COOKIE", "EnvCookie\r\n", 1);
    result r = load(NULL, NULL, "CLUSTERD_TEST_COOKIE");
    expect_ok(&r, "EnvCookie", "$CLUSTERD_TEST_COOKIE");

    setenv("CLUSTERD_TEST_COOKIE", "", 1);
    r = load(NULL, NULL, "CLUSTERD_TEST_COOKIE");
    expect_fail(&r, NULL, "CLUSTERD_TEST_COOKIE", "the cookie is empty");

    setenv("CLUSTERD_TEST_COOKIE", "EnvCookie\x1b[0m", 1);
    r = load(NULL, NULL, "CLUSTERD_TEST_COOKIE");
    expect_fail(&r, "EnvCookie", "CLUSTERD_TEST_COOKIE", "control or non-ASCII");

    char big[COOKIE_MAX + 2];
    memset(big, 'E', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    setenv("RELEASE_COOKIE", big, 1);
    r = load(NULL, NULL, NULL);
    expect_fail(&r, big, "RELEASE_COOKIE", "longer than 255 bytes");
    assert_null(strstr(r.err, "EEEEEEEE"));
    big[COOKIE_MAX] = '\n'; /* 255 characters and a newline: fine */
    setenv("RELEASE_COOKIE", big, 1);
    r = load(NULL, NULL, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(strlen(r.cookie), COOKIE_MAX);
}

/* The variable's value is overwritten where it lies before it is removed:
 * for the variables clusterd was started with, that is the block the kernel
 * shows as /proc/<pid>/environ (unsetenv alone leaves it there). */
static void test_env_value_wiped_where_it_lies(void **state)
{
    (void)state;
    setenv("RELEASE_COOKIE", "WipedReleaseCookieValue", 1);
    setenv("CLUSTERD_TEST_COOKIE", "WipedConfigEnvValue", 1);
    char *rel = getenv("RELEASE_COOKIE");
    char *cfg = getenv("CLUSTERD_TEST_COOKIE");
    result r = load(NULL, NULL, "CLUSTERD_TEST_COOKIE");
    expect_ok(&r, "WipedConfigEnvValue", "$CLUSTERD_TEST_COOKIE");
    assert_null(getenv("RELEASE_COOKIE"));
    assert_null(getenv("CLUSTERD_TEST_COOKIE"));
    for (size_t i = 0; i < strlen("WipedReleaseCookieValue"); i++)
        assert_int_equal(rel[i], 0);
    for (size_t i = 0; i < strlen("WipedConfigEnvValue"); i++)
        assert_int_equal(cfg[i], 0);
}

/* Which environment entries children never get. */
static void test_env_secret_names(void **state)
{
    (void)state;
    assert_true(cookie_env_secret("RELEASE_COOKIE=abc"));
    assert_true(cookie_env_secret("RELEASE_COOKIE"));
    assert_false(cookie_env_secret("RELEASE_COOKIE_X=abc"));
    assert_false(cookie_env_secret("MY_COOKIE=abc"));
    cookie_env_register("MY_COOKIE");
    cookie_env_register("MY_COOKIE"); /* once is enough */
    cookie_env_register(NULL);
    cookie_env_register("");
    assert_true(cookie_env_secret("MY_COOKIE=abc"));
    assert_true(cookie_env_secret("MY_COOKIE="));
    assert_false(cookie_env_secret("MY_COOKIES=abc"));
    assert_false(cookie_env_secret("MY_COOK=abc"));
    assert_false(cookie_env_secret("PATH=/bin"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_file_0600_read_and_trimmed),
        T(test_file_group_or_other_access_refused),
        T(test_file_missing),
        T(test_file_empty),
        T(test_file_oversized),
        T(test_file_control_characters),
        T(test_file_not_regular),
        T(test_file_through_symlink),
        T(test_small_output_buffer),
        T(test_source_order),
        T(test_failing_source_does_not_fall_through),
        T(test_cookie_env_variable_missing),
        T(test_env_values_checked),
        T(test_env_value_wiped_where_it_lies),
        T(test_env_secret_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
