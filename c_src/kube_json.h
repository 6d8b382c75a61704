/* kube_json: the Kubernetes API's wire formats, without I/O. A newline-
 * delimited watch stream is cut into lines incrementally with a cap on one
 * event's size; each line decodes to one watch event; error bodies decode to
 * the fields of a Status object (or plain text, as the API's rate limiters
 * send). Everything here reads outside input: every field is type-checked
 * before use and nothing asserts on it. jansson does the JSON. */
#ifndef CLUSTERD_KUBE_JSON_H
#define CLUSTERD_KUBE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* An incremental line splitter with a hard cap on one line. */
typedef struct kube_lines {
    char *buf; /* owned: the unfinished line */
    size_t len, cap;
    size_t max; /* a line longer than this is an error */
} kube_lines;

typedef int (*kube_line_fn)(void *arg, const char *line, size_t len);

void kube_lines_init(kube_lines *l, size_t max);
/* Feeds bytes; calls on_line for each complete line (without its '\n'; empty
 * lines are skipped). Returns 0, or -1 with err when a line exceeds the cap,
 * memory runs out, or on_line returns non-zero (err then says so; the
 * callback may have written a better message into err first). */
int kube_lines_feed(kube_lines *l, const char *data, size_t n, kube_line_fn on_line, void *arg,
                    char *err, size_t errlen);
/* Bytes of an unfinished line still buffered (a stream that ends with some
 * was cut mid-event). */
size_t kube_lines_pending(const kube_lines *l);
void kube_lines_reset(kube_lines *l);
void kube_lines_free(kube_lines *l);

typedef enum {
    KUBE_EV_ADDED,
    KUBE_EV_MODIFIED,
    KUBE_EV_DELETED,
    KUBE_EV_BOOKMARK,
    KUBE_EV_ERROR,
} kube_event_type;

/* One watch event. object is owned (json_decref); rv points into it. */
typedef struct kube_event {
    kube_event_type type;
    json_t *object;
    const char *rv;  /* metadata.resourceVersion ("" when absent) */
    int code;        /* ERROR: the Status code (0 when absent) */
    char reason[64]; /* ERROR: the Status reason */
    char message[256];
} kube_event;

/* Decodes one event line. Returns 0, or -1 with err (the event is then empty). */
int kube_event_parse(const char *line, size_t len, kube_event *ev, char *err, size_t errlen);
void kube_event_free(kube_event *ev);

/* What an error reply said: a Status object's code, reason, message and
 * details.retryAfterSeconds, or the first line of a plain-text body. */
typedef struct kube_status {
    int code;
    char reason[64];
    char message[256];
    long retry_after_s; /* details.retryAfterSeconds, -1 if absent */
} kube_status;

/* Never fails: an undecodable body gives its first printable line as message. */
void kube_status_parse(const char *body, size_t len, kube_status *st);

/* A Retry-After header value in seconds: delta-seconds only (the API server
 * sends nothing else); -1 when absent or malformed. Capped at 3600. */
long kube_retry_after_parse(const char *value);

/* Helpers for decoded objects: a string member (NULL when absent or not a
 * string), and nested look-ups "a.b.c" through objects. */
const char *kube_json_str(const json_t *obj, const char *key);
const json_t *kube_json_path(const json_t *obj, const char *dotted);

/* Parses an RFC 3339 UTC timestamp ("2026-01-02T03:04:05Z", fraction and
 * offset allowed) to Unix seconds; -1 when malformed. */
long long kube_parse_time(const char *s);

/* What an exec credential plugin printed: an ExecCredential's status. */
typedef struct kube_exec_credential {
    char *token;      /* owned; NULL when the plugin gave a client certificate */
    char *cert, *key; /* owned PEM; both or neither */
    long long expiry; /* Unix seconds; 0 when none or malformed */
} kube_exec_credential;

/* Parses a plugin's output (outside input: fuzz/fuzz_exec_credential.c).
 * 0 with *out filled (the caller frees it with kube_exec_credential_free),
 * or -1 with a message in err that never holds the output's content. */
int kube_exec_credential_parse(const char *buf, size_t len, kube_exec_credential *out, char *err,
                               size_t errlen);

/* Wipes and frees the credential's strings; NULL is fine. */
void kube_exec_credential_free(kube_exec_credential *c);

#endif
