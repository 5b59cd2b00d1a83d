/* log.c - JSON-lines logging (see log.h).
 * The whole line is built in memory and written with one write(2), so concurrent writers
 * (the operator and a test harness sharing stderr) never split a line. */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level min)
{
    min_level = min;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

int log_level_parse(const char *text, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void format_now(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
}

void log_event(enum log_level level, const char *module, const char *msg, const char *fields_fmt,
               ...)
{
    char ts[96]; /* sized for any int fields, so the compiler can prove no truncation */
    json_t *line;
    char *text;
    size_t len;

    if (level < min_level)
        return;

    format_now(ts, sizeof(ts));
    line = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level], "module",
                     module, "msg", msg);
    if (line == NULL)
        return;
    if (fields_fmt != NULL) {
        json_error_t jerr;
        va_list ap;
        json_t *fields;

        va_start(ap, fields_fmt);
        fields = json_vpack_ex(&jerr, 0, fields_fmt, ap);
        va_end(ap);
        if (fields != NULL)
            json_object_update(line, fields);
        else
            json_object_set_new(line, "log_error", json_string(jerr.text));
        json_decref(fields);
    }

    text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (text == NULL)
        return;
    len = strlen(text);
    text[len] = '\n'; /* json_dumps leaves room only for the NUL, which we overwrite */
    /* A failed log write has nowhere to be reported; the return value is deliberately unused. */
    if (write(log_fd, text, len + 1) < 0) {
    }
    free(text);
}
