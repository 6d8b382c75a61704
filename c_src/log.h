/* log: one line per event on stderr, logfmt by default or JSON lines.
 * Messages never contain secrets: callers pass node names, never cookies. */
#ifndef CLUSTERD_LOG_H
#define CLUSTERD_LOG_H

#include <stdarg.h>

typedef enum { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level;
typedef enum { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON } log_format;

/* Global logger settings: set once at start-up, before the loop runs. */
void log_init(log_level min_level, log_format format);
int log_enabled(log_level level);

/* The end of log_event's key/value list: a typed null pointer, since a bare
 * NULL may be an int in a variadic call. */
#define LOG_END ((const char *)0)

/* log_event(level, msg, "key", "value", ..., LOG_END): structured fields are
 * key/value string pairs. Values are quoted as needed. */
void log_event(log_level level, const char *msg, ...) __attribute__((sentinel));

/* printf-style short forms: the formatted text becomes msg=. */
void log_debugf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_infof(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
