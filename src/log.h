/* log.h - JSON-lines logging on stderr.
 *
 * One object per line, written with a single write so lines never interleave:
 *   {"ts":"2026-12-04T10:15:02.114Z","level":"warn","module":"kube_watch","msg":"...", ...fields}
 * 'msg' is a constant sentence (lowercase, no period) so it greps; facts go in fields built with a
 * jansson pack format. Never pass a token, Secret data, a private key or a whole response body:
 * log identity and status only. */
#ifndef AZDO_LOG_H
#define AZDO_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Lines below 'min' are dropped. Default: LOG_INFO. */
void log_set_level(enum log_level min);

/* Parses "debug", "info", "warn" or "error"; returns 0, or -EINVAL for anything else. */
int log_level_parse(const char *text, enum log_level *out);

/* Sends lines to 'fd' instead of stderr (tests use a pipe or a file). */
void log_set_fd(int fd);

/* Writes one line. 'fields_fmt' is a json_pack format for an object ("{s:s, s:i}") or NULL for
 * no fields. A field that fails to pack is reported as "log_error" instead of being dropped
 * silently. */
void log_event(enum log_level level, const char *module, const char *msg, const char *fields_fmt,
               ...);

#endif
