/* log: logfmt or JSON lines on stderr, one write(2) per line so lines from
 * worker threads never interleave. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static log_level min_level = LOG_LEVEL_INFO;
static log_format out_format = LOG_FORMAT_LOGFMT;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_init(log_level level, log_format format)
{
    min_level = level;
    out_format = format;
}

int log_enabled(log_level level)
{
    return level >= min_level;
}

typedef struct line {
    char buf[4096];
    size_t len;
} line;

static void line_put(line *l, const char *s, size_t n)
{
    if (l->len + n >= sizeof(l->buf) - 2) n = sizeof(l->buf) - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void line_puts(line *l, const char *s)
{
    line_put(l, s, strlen(s));
}

static int logfmt_needs_quotes(const char *v)
{
    if (*v == '\0') return 1;
    for (const char *p = v; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\') return 1;
    return 0;
}

/* Escapes for both formats: quotes, backslashes and control characters. */
static void line_put_escaped(line *l, const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char tmp[8];
        if (*p == '"' || *p == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)*p;
            line_put(l, tmp, 2);
        } else if (*p == '\n') {
            line_puts(l, "\\n");
        } else if (*p < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
            line_puts(l, tmp);
        } else {
            line_put(l, (const char *)p, 1);
        }
    }
}

static void line_field(line *l, const char *key, const char *value, int first)
{
    if (out_format == LOG_FORMAT_JSON) {
        if (!first) line_puts(l, ",");
        line_puts(l, "\"");
        line_put_escaped(l, key);
        line_puts(l, "\":\"");
        line_put_escaped(l, value);
        line_puts(l, "\"");
    } else {
        if (!first) line_puts(l, " ");
        line_puts(l, key);
        line_puts(l, "=");
        if (logfmt_needs_quotes(value)) {
            line_puts(l, "\"");
            line_put_escaped(l, value);
            line_puts(l, "\"");
        } else {
            line_puts(l, value);
        }
    }
}

static void log_emit(log_level level, const char *msg, va_list ap)
{
    line l = {.len = 0};
    char ts[64];
    struct timespec now;
    struct tm tm;
    /* wall clock: the log line's timestamp, for humans */
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);

    if (out_format == LOG_FORMAT_JSON) line_puts(&l, "{");
    line_field(&l, "time", ts, 1);
    line_field(&l, "level", level_names[level], 0);
    line_field(&l, "msg", msg, 0);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        line_field(&l, key, value ? value : "", 0);
    }
    if (out_format == LOG_FORMAT_JSON) line_puts(&l, "}");
    l.buf[l.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
}

void log_event(log_level level, const char *msg, ...)
{
    if (level < min_level) return;
    va_list ap;
    va_start(ap, msg);
    log_emit(level, msg, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 0))) static void log_vformat(log_level level, const char *fmt,
                                                              va_list ap)
{
    if (level < min_level) return;
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    log_event(level, msg, LOG_END);
}

#define LOG_FORMAT_FN(fn, lvl)                                                                     \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_vformat(lvl, fmt, ap);                                                                 \
        va_end(ap);                                                                                \
    }

LOG_FORMAT_FN(log_debugf, LOG_LEVEL_DEBUG)
LOG_FORMAT_FN(log_infof, LOG_LEVEL_INFO)
LOG_FORMAT_FN(log_warnf, LOG_LEVEL_WARN)
LOG_FORMAT_FN(log_errorf, LOG_LEVEL_ERROR)
