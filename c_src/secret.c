/* secret: wiping secrets and reading small secret files (see secret.h). */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

void secret_wipe(void *buf, size_t len)
{
    if (buf == NULL) return;
        /* explicit_bzero is glibc >= 2.25 and a guaranteed store; the volatile
         * loop is the same promise where it is missing. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
    explicit_bzero(buf, len);
#else
    volatile unsigned char *p = buf;
    while (len--)
        *p++ = 0;
#endif
}

void secret_free(char *s)
{
    if (s == NULL) return;
    secret_wipe(s, strlen(s));
    free(s);
}

void secret_free_n(void *p, size_t len)
{
    if (p == NULL) return;
    secret_wipe(p, len);
    free(p);
}

int secret_protect_process(void)
{
    const char *keep = getenv("CLUSTERD_DUMPABLE");
    if (keep != NULL && strcmp(keep, "1") == 0) return 0;
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 1 : -1;
}

/* Reads up to cap bytes; sets *more when the file holds more than that.
 * Returns 0 or -1 (errno set). */
static int read_capped(int fd, char *out, size_t cap, size_t *n, int *more)
{
    *n = 0;
    *more = 0;
    while (*n < cap) {
        ssize_t r = read(fd, out + *n, cap - *n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return 0;
        *n += (size_t)r;
    }
    char probe;
    ssize_t r;
    do
        r = read(fd, &probe, 1);
    while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    *more = r > 0;
    secret_wipe(&probe, sizeof probe);
    return 0;
}

int secret_read_file(const char *path, const char *what, int flags, char *out, size_t max,
                     size_t *n, char *err, size_t errlen)
{
    *n = 0;
    /* O_NONBLOCK: a FIFO in the path must not block the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (!(flags & SECRET_MUST_EXIST) && errno == ENOENT) return 1;
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s %s: not a regular file", what, path);
        close(fd);
        return -1;
    }
    /* erl (auth.erl): "Cookie file ... must be accessible by owner only". */
    if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "%s %s must be accessible by its owner only (mode %03o; run chmod 600)", what,
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    /* Room for the content, "\r\n" and the terminating NUL. */
    size_t cap = max + 2;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s %s: out of memory", what, path);
        close(fd);
        return -1;
    }
    size_t got;
    int more;
    int rc = read_capped(fd, buf, cap, &got, &more);
    int e = errno;
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
        goto fail;
    }
    if (got > 0 && buf[got - 1] == '\n') {
        got--;
        if (got > 0 && buf[got - 1] == '\r') got--;
    }
    if (more || got > max) {
        snprintf(err, errlen, "%s %s: longer than %zu bytes", what, path, max);
        goto fail;
    }
    memcpy(out, buf, got);
    out[got] = '\0';
    *n = got;
    secret_free_n(buf, cap + 1);
    return 0;
fail:
    secret_free_n(buf, cap + 1);
    return -1;
}
