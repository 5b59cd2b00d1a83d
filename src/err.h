/* err.h - the error carrier every module uses.
 *
 * Functions return 0 on success or a negative errno-style code; the human-readable text goes in a
 * caller-owned struct err, so the caller decides where (and whether) to log it. Messages follow
 * git's grammar: lowercase, no trailing period, failure first, subject quoted. They never contain
 * secret values (tokens, Secret data). */
#ifndef AZDO_ERR_H
#define AZDO_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 512

struct err {
    int code;              /* the negative code last returned, 0 when none */
    char msg[ERR_MSG_MAX]; /* NUL-terminated, empty when none */
};

/* Records 'code' and the formatted message in 'err' (which may be NULL) and returns 'code', so
 * callers can write `return err_set(err, -EINVAL, "...")`. */
int err_set(struct err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to the message already in 'err', keeping its code; returns the code. */
int err_wrap(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties 'err' (accepts NULL). */
void err_clear(struct err *err);

#endif
