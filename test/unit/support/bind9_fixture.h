/* Test support: a real bind9 (named) serving one zone on a free loopback
 * port, for the DNS unit tests. It runs in the foreground (-g) as a child of
 * the test, in a directory of its own, with `dnssec-validation no; notify
 * no; recursion no;` so that it never talks to anyone but us, and its query
 * log on in its log file (each line says whether the query came over TCP).
 * Zone changes are a rewrite of the zone file (serial bumped) and SIGHUP.
 * Stopped by pid. */
#ifndef CLUSTERD_TEST_BIND9_FIXTURE_H
#define CLUSTERD_TEST_BIND9_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct bind9_fixture {
    pid_t pid; /* -1 when not running */
    int port;
    char dir[256];
    char server[32]; /* "127.0.0.1:<port>" */
    char zone[64];   /* the zone's origin, e.g. "cluster.local" */
    unsigned serial;
} bind9_fixture;

/* Starts named for `zone` with the given records (zone-file lines relative
 * to the origin, e.g. "svc 5 IN A 10.0.0.1\n"); waits until it answers.
 * Returns 0, or -1 with nothing left running. */
int bind9_start(bind9_fixture *f, const char *zone, const char *records);

/* Replaces the zone's records and reloads (SIGHUP); waits until named has
 * loaded the new serial. Returns 0 or -1. */
int bind9_set_records(bind9_fixture *f, const char *records);

/* Counts lines of named's log that contain needle (and needle2 unless NULL). */
int bind9_log_count(const bind9_fixture *f, const char *needle, const char *needle2);

/* Stops named (SIGTERM, SIGKILL after 5 s) and removes its directory. */
void bind9_stop(bind9_fixture *f);

/* SIGKILLs named without waiting (for a SIGALRM handler). */
void bind9_kill(const bind9_fixture *f);

#endif
