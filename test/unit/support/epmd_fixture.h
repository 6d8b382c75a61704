/* Test support shared by the unit tests that need a real EPMD: a private epmd
 * on a free loopback port with one real BEAM node (t1@127.0.0.1) registered
 * in it; more epmds and real registrations in them; a plain TCP relay; and
 * the small clock and socket helpers those tests use.
 *
 * Every process started here is a child of the test, recorded by pid and
 * stopped by pid; nothing else is ever signalled. */
#ifndef CLUSTERD_TEST_EPMD_FIXTURE_H
#define CLUSTERD_TEST_EPMD_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
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

/* ---- more epmds, and registering in them ---- */

/* Starts a real epmd, a child of ours, on a free port, listening on
 * `addresses` (epmd's -address list), and returns its pid (the port in
 * *port), or -1 with nothing left running. epmd always listens on 127.0.0.1
 * as well, whatever the list says, so no two epmds can share a port on this
 * host: each one started here gets a port of its own. It is checked to be
 * ours (alive, answering NAMES on 127.0.0.1 with no names) and the start is
 * retried on another port, up to 5 times. ERL_EPMD_PORT is left alone. */
pid_t epmd_spawn(const char *addresses, int *port);

/* Stops a child we started: SIGTERM, then SIGKILL after 5 s; *pid becomes
 * -1. Does nothing when *pid is not positive. */
void child_stop(pid_t *pid);

/* Registers the node name `name` (the part before '@') with distribution port
 * dist_port in the epmd at addr:port by ALIVE2_REQ, the way a BEAM node
 * registers: a normal node ('M'), TCP/IP, versions 6 to 5, no extra. Returns
 * the connected socket, or -1 if epmd did not accept the name. epmd keeps the
 * name while that socket stays open and drops it when it closes. */
int epmd_register(const char *addr, int port, const char *name, int dist_port);

/* A plain TCP relay: a thread accepting on addr:port and, for each connection
 * in turn, copying bytes both ways, unchanged, to and from a new connection to
 * to_addr:to_port (a connection it cannot make is closed at once). */
typedef struct tcp_relay {
    int lfd;
    int wake[2]; /* written to stop the thread */
    char to_addr[64];
    int to_port;
    pthread_t thread;
    bool running;
} tcp_relay;

/* Returns 0, or -1 with nothing left open or running. */
int tcp_relay_start(tcp_relay *r, const char *addr, int port, const char *to_addr, int to_port);

/* Stops the thread and closes the listener: addr:port then refuses
 * connections. Idempotent, and harmless on a zeroed tcp_relay. */
void tcp_relay_stop(tcp_relay *r);

/* ---- helpers ---- */

/* CLOCK_MONOTONIC in milliseconds. */
long long ms_now(void);

void sleep_ms(long ms);

/* A listening IPv4 TCP socket on addr:port (port 0: any free one), with
 * SO_REUSEADDR and CLOEXEC; returns the fd (or -1) and, if out is not NULL,
 * the bound port in *out. */
int listen_on(const char *addr, int port, int *out);

#endif
