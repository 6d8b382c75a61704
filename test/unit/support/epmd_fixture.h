/* Test support shared by the unit tests that need a real EPMD: a private epmd
 * on a free loopback port with one real BEAM node (t1@127.0.0.1) registered
 * in it, plus the small clock and socket helpers those tests use.
 *
 * Every process started here is a child of the test, recorded by pid in the
 * fixture and stopped by pid; nothing else is ever signalled. */
#ifndef CLUSTERD_TEST_EPMD_FIXTURE_H
#define CLUSTERD_TEST_EPMD_FIXTURE_H

#include <sys/types.h>

typedef struct epmd_fixture {
    pid_t epmd_pid;    /* our epmd, -1 when not running */
    pid_t beam_pid;    /* erl -name t1@127.0.0.1, -1 when not running */
    int port;          /* the epmd's port */
    char port_text[8]; /* the same, as ERL_EPMD_PORT holds it */
} epmd_fixture;

/* Starts our own epmd on a free port, listening on `addresses` (epmd's
 * -address list, e.g. "127.0.0.1" or "127.0.0.1,::1"), and the node t1
 * registered in it; sets ERL_EPMD_PORT to that port (call it before any
 * thread exists: workers read the variable). A port picked free can be taken
 * by another process before epmd binds it, so the epmd is checked to be ours
 * (alive, answering NAMES with no names) and the whole start is retried on
 * another port, up to 5 times. Returns 0, or -1 with nothing left running. */
int epmd_fixture_start(epmd_fixture *f, const char *addresses);

/* Stops the node, then the epmd: SIGTERM, SIGKILL after 5 s. Idempotent. */
void epmd_fixture_stop(epmd_fixture *f);

/* Stops only the epmd (for "EPMD gone" tests); the node is left running. */
void epmd_fixture_stop_epmd(epmd_fixture *f);

/* SIGKILLs whatever of the fixture still runs, without waiting: only
 * async-signal-safe calls, for a SIGALRM handler about to _exit. */
void epmd_fixture_kill(const epmd_fixture *f);

/* ---- helpers ---- */

/* CLOCK_MONOTONIC in milliseconds. */
long long ms_now(void);

void sleep_ms(long ms);

/* A listening IPv4 TCP socket on addr:port (port 0: any free one), with
 * SO_REUSEADDR and CLOEXEC; returns the fd (or -1) and, if out is not NULL,
 * the bound port in *out. */
int listen_on(const char *addr, int port, int *out);

#endif
