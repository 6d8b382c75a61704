/* hostid: this program's gethostid(), which never looks a name up.
 *
 * erl_interface mixes gethostid() into the challenge of every distribution
 * handshake it runs, on both sides (gen_challenge in ei_connect.c). glibc's
 * gethostid() reads /etc/hostid and, when there is none (most machines and
 * containers), resolves the machine's own host name through NSS: the hosts
 * file, then DNS with the resolver's own timeouts (5 s per try by default),
 * on the worker thread between the peer's challenge and our reply, past the
 * dial's deadline. A host name missing from /etc/hosts with a slow or
 * unreachable DNS server made every handshake outlast the peer's
 * net_setuptime (7 s); the peer closed and the dial read that as a rejected
 * cookie. And where DNS answers, every handshake cost a DNS round trip.
 *
 * The definition in hostid.c takes the place of libc's for the whole
 * program (libei.a is linked statically, and an executable's symbols come
 * before its shared libraries'): /etc/hostid when it holds one, as glibc
 * does, else a random value drawn once per process. The value only seeds
 * challenges; nothing here needs it to be stable across runs. */
#ifndef CLUSTERD_HOSTID_H
#define CLUSTERD_HOSTID_H

/* Computes the value now (reads /etc/hostid, or draws the random one), so
 * that no handshake reads a file; also what links hostid.o wherever the
 * transport is. Idempotent, thread-safe. */
void hostid_prime(void);

#endif
