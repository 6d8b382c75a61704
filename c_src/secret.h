/* secret: the one place that handles secrets' memory and files. Wiping a
 * buffer so that a secret does not linger in freed memory, and reading a
 * small secret file (the cookie, the TLS key's passphrase) under erl's
 * rules for the cookie file. Messages name the file, never its content. */
#ifndef CLUSTERD_SECRET_H
#define CLUSTERD_SECRET_H

#include <stddef.h>

/* Overwrites buf[0..len) in a way the compiler may not drop. */
void secret_wipe(void *buf, size_t len);

/* Wipes the NUL-terminated string s and frees it; NULL is fine. */
void secret_free(char *s);

/* Wipes p[0..len) and frees it; NULL is fine. */
void secret_free_n(void *p, size_t len);

/* Makes the process non-dumpable (prctl PR_SET_DUMPABLE 0): no core file,
 * and /proc/<pid>/mem, environ and ptrace closed to everyone but root, since
 * our memory holds the cookie, API tokens, client keys and the key's
 * passphrase. CLUSTERD_DUMPABLE=1 in the environment keeps the process
 * dumpable (to debug a crash with a core file or gdb as the same user).
 * Returns 1 if the process is now non-dumpable, 0 if it was kept dumpable,
 * -1 if prctl failed. */
int secret_protect_process(void);

/* secret_read_file flags */
#define SECRET_MUST_EXIST 1 /* a missing file is an error, not the result 1 */

/* Reads the secret file at path into out (max + 1 bytes or more) as erl
 * reads its cookie file: symbolic links are followed (Kubernetes mounts
 * Secrets through links) and the rules apply to the file finally opened,
 * which must be a regular file (a FIFO is refused, not waited on) that
 * group and others can neither read nor write. One line ending ("\n" or
 * "\r\n") at the end is dropped; what remains may hold at most max bytes,
 * else it is an error saying so. On success out[*n] is '\0' (the content
 * itself may hold NUL bytes; the caller checks it). `what` names the file in
 * errors ("cookie file", "node.tls.password_file"). Returns 0, 1 when the file
 * does not exist and flags lacks SECRET_MUST_EXIST, or -1 with a message in
 * err. On anything but 0, out is not written; every internal buffer is
 * wiped. */
int secret_read_file(const char *path, const char *what, int flags, char *out, size_t max,
                     size_t *n, char *err, size_t errlen);

#endif
