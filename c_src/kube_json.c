/* kube_json: watch-stream framing, watch events and Status bodies. See
 * kube_json.h. */
#include "kube_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secret.h"

void kube_lines_init(kube_lines *l, size_t max)
{
    memset(l, 0, sizeof *l);
    l->max = max;
}

size_t kube_lines_pending(const kube_lines *l)
{
    return l->len;
}

void kube_lines_reset(kube_lines *l)
{
    l->len = 0;
}

void kube_lines_free(kube_lines *l)
{
    if (l == NULL) return;
    free(l->buf);
    l->buf = NULL;
    l->len = l->cap = 0;
}

static int lines_append(kube_lines *l, const char *data, size_t n, char *err, size_t errlen)
{
    if (n == 0) return 0;
    if (l->len + n > l->max) {
        snprintf(err, errlen, "one watch event is larger than %zu bytes", l->max);
        return -1;
    }
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->len + n)
            cap *= 2;
        if (cap > l->max) cap = l->max;
        char *grown = realloc(l->buf, cap);
        if (grown == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        l->buf = grown;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, data, n);
    l->len += n;
    return 0;
}

/* Feeds bytes; see kube_json.h. */
int kube_lines_feed(kube_lines *l, const char *data, size_t n, kube_line_fn on_line, void *arg,
                    char *err, size_t errlen)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        if (nl == NULL) return lines_append(l, data, n, err, errlen);
        size_t part = (size_t)(nl - data);
        const char *line = data;
        size_t len = part;
        if (l->len > 0) {
            if (lines_append(l, data, part, err, errlen) != 0) return -1;
            line = l->buf;
            len = l->len;
        } else if (part > l->max) {
            snprintf(err, errlen, "one watch event is larger than %zu bytes", l->max);
            return -1;
        }
        if (len > 0 && line[len - 1] == '\r') len--;
        if (len > 0) {
            err[0] = '\0';
            if (on_line(arg, line, len) != 0) {
                if (err[0] == '\0') snprintf(err, errlen, "watch event rejected");
                l->len = 0;
                return -1;
            }
        }
        l->len = 0;
        data = nl + 1;
        n -= part + 1;
    }
    return 0;
}

const char *kube_json_str(const json_t *obj, const char *key)
{
    if (!json_is_object(obj)) return NULL;
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const json_t *kube_json_path(const json_t *obj, const char *dotted)
{
    char key[128];
    const char *p = dotted;
    const json_t *cur = obj;
    while (cur != NULL && *p != '\0') {
        size_t k = strcspn(p, ".");
        if (k >= sizeof key) return NULL;
        memcpy(key, p, k);
        key[k] = '\0';
        if (!json_is_object(cur)) return NULL;
        cur = json_object_get(cur, key);
        p += k;
        if (*p == '.') p++;
    }
    return cur;
}

static void copy_clean(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
    for (char *c = dst; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) *c = '?';
}

static void status_from_json(const json_t *o, kube_status *st)
{
    const json_t *code = json_object_get(o, "code");
    if (json_is_integer(code) && json_integer_value(code) >= 0 && json_integer_value(code) < 1000)
        st->code = (int)json_integer_value(code);
    copy_clean(st->reason, sizeof st->reason, kube_json_str(o, "reason"));
    copy_clean(st->message, sizeof st->message, kube_json_str(o, "message"));
    const json_t *ra = kube_json_path(o, "details.retryAfterSeconds");
    if (json_is_integer(ra) && json_integer_value(ra) >= 0) {
        json_int_t v = json_integer_value(ra);
        st->retry_after_s = v > 3600 ? 3600 : (long)v;
    }
}

void kube_status_parse(const char *body, size_t len, kube_status *st)
{
    memset(st, 0, sizeof *st);
    st->retry_after_s = -1;
    if (body == NULL || len == 0) return;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(o) && json_is_string(json_object_get(o, "kind")) &&
        strcmp(kube_json_str(o, "kind"), "Status") == 0) {
        status_from_json(o, st);
        json_decref(o);
        return;
    }
    json_decref(o);
    /* Plain text (APF's 429, "404 page not found"): its first line. */
    size_t k = 0;
    while (k < len && isspace((unsigned char)body[k]))
        k++;
    size_t end = k;
    while (end < len && body[end] != '\n' && end - k < sizeof st->message - 1)
        end++;
    char line[sizeof st->message];
    memcpy(line, body + k, end - k);
    line[end - k] = '\0';
    copy_clean(st->message, sizeof st->message, line);
}

long kube_retry_after_parse(const char *value)
{
    if (value == NULL) return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!isdigit((unsigned char)*value)) return -1;
    errno = 0;
    char *end = NULL;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value) return -1;
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    if (*end != '\0') return -1;
    return v > 3600 ? 3600 : v;
}

void kube_event_free(kube_event *ev)
{
    if (ev == NULL) return;
    json_decref(ev->object);
    memset(ev, 0, sizeof *ev);
}

int kube_event_parse(const char *line, size_t len, kube_event *ev, char *err, size_t errlen)
{
    memset(ev, 0, sizeof *ev);
    ev->rv = "";
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        snprintf(err, errlen, "watch event is not JSON: %.100s", jerr.text);
        return -1;
    }
    const char *type = kube_json_str(o, "type");
    json_t *object = json_object_get(o, "object");
    if (type == NULL || !json_is_object(object)) {
        snprintf(err, errlen, "watch event without type or object");
        json_decref(o);
        return -1;
    }
    static const struct {
        const char *name;
        kube_event_type type;
    } types[] = {{"ADDED", KUBE_EV_ADDED},
                 {"MODIFIED", KUBE_EV_MODIFIED},
                 {"DELETED", KUBE_EV_DELETED},
                 {"BOOKMARK", KUBE_EV_BOOKMARK},
                 {"ERROR", KUBE_EV_ERROR}};
    size_t k = 0;
    while (k < sizeof types / sizeof types[0] && strcmp(types[k].name, type) != 0)
        k++;
    if (k == sizeof types / sizeof types[0]) {
        snprintf(err, errlen, "unknown watch event type \"%.40s\"", type);
        json_decref(o);
        return -1;
    }
    ev->type = types[k].type;
    ev->object = json_incref(object);
    json_decref(o);
    const char *rv = kube_json_str(kube_json_path(ev->object, "metadata"), "resourceVersion");
    if (rv != NULL) ev->rv = rv;
    if (ev->type == KUBE_EV_ERROR) {
        kube_status st;
        memset(&st, 0, sizeof st);
        st.retry_after_s = -1;
        status_from_json(ev->object, &st);
        ev->code = st.code;
        memcpy(ev->reason, st.reason, sizeof ev->reason);
        memcpy(ev->message, st.message, sizeof ev->message);
    } else if (ev->type != KUBE_EV_BOOKMARK &&
               kube_json_str(kube_json_path(ev->object, "metadata"), "name") == NULL) {
        snprintf(err, errlen, "watch event object without metadata.name");
        kube_event_free(ev);
        return -1;
    }
    return 0;
}

/* ---- time ---- */

long long kube_parse_time(const char *s)
{
    if (s == NULL) return -1;
    int y, mo, d, h, mi, se, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19)
        return -1;
    const char *p = s + n;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5) return -1;
        off = (oh * 60L + om) * 60L * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    return (long long)t - off;
}

/* ---- exec credentials ---- */

/* strdup for secrets: NULL stays NULL; *failed is set when out of memory. */
static char *dup_or_null(const char *s, bool *failed)
{
    if (s == NULL) return NULL;
    char *d = strdup(s);
    if (d == NULL) *failed = true;
    return d;
}

/* jansson's own copies of the strings are freed unwiped by json_decref; the
 * plugin's output buffer itself is wiped by the caller. */
int kube_exec_credential_parse(const char *buf, size_t len, kube_exec_credential *out, char *err,
                               size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(buf, len, 0, &je);
    const json_t *st = json_object_get(o, "status");
    const char *kind = kube_json_str(o, "kind");
    const char *tok = kube_json_str(st, "token");
    const char *cert = kube_json_str(st, "clientCertificateData");
    const char *key = kube_json_str(st, "clientKeyData");
    int rc = -1;
    if (o == NULL || kind == NULL || strcmp(kind, "ExecCredential") != 0) {
        snprintf(err, errlen, "exec plugin output is not an ExecCredential");
    } else if (tok == NULL && (cert == NULL || key == NULL)) {
        snprintf(err, errlen, "exec plugin gave neither a token nor a client certificate");
    } else {
        bool failed = false;
        out->token = dup_or_null(tok, &failed);
        if (cert != NULL && key != NULL) {
            out->cert = dup_or_null(cert, &failed);
            out->key = dup_or_null(key, &failed);
        }
        const char *exp = kube_json_str(st, "expirationTimestamp");
        out->expiry = exp ? kube_parse_time(exp) : 0;
        if (out->expiry < 0) out->expiry = 0;
        if (failed) {
            kube_exec_credential_free(out);
            snprintf(err, errlen, "out of memory");
        } else {
            rc = 0;
        }
    }
    json_decref(o);
    return rc;
}

void kube_exec_credential_free(kube_exec_credential *c)
{
    if (c == NULL) return;
    secret_free(c->token);
    free(c->cert);
    secret_free(c->key);
    memset(c, 0, sizeof *c);
}
