/* hostid: gethostid() without a name look-up; see hostid.h. */
#include "hostid.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static long value;

/* /etc/hostid as glibc reads it: one native-endian 32-bit integer. */
static int read_hostid_file(int32_t *out)
{
    int fd = open("/etc/hostid", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, out, sizeof *out);
    close(fd);
    return n == (ssize_t)sizeof *out ? 0 : -1;
}

static void compute(void)
{
    int32_t id;
    if (read_hostid_file(&id) == 0) {
        value = (long)id;
        return;
    }
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        /* wall clock: only entropy, when getrandom() fails */
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16);
    }
    value = (long)(int32_t)r; /* glibc's range: a sign-extended 32-bit value */
}

void hostid_prime(void)
{
    pthread_once(&once, compute);
}

long gethostid(void)
{
    hostid_prime();
    return value;
}
