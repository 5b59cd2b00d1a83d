/* admission.h - AdmissionReview v1 in, AdmissionReview v1 out; pure (no I/O, no clock).
 *
 * admission_handle() answers every input: an AdmissionReview gets HTTP 200 with a response whose
 * uid echoes the request's; anything else (bad JSON, wrong apiVersion/kind, no request.uid) gets
 * HTTP 400 with a Kubernetes Status object saying what is wrong. Mutation answers a base64 JSON
 * Patch (patchType JSONPatch, both omitted when there is nothing to add); validation answers
 * allowed false with status {code 422, reason Invalid, message listing every error, details.causes
 * one per error}.
 *
 * The RunnerPool rules live in src/pool/ and reach this file only through struct admission_policy,
 * so tests can pass their own and the operator passes admission_runnerpool_policy(). */
#ifndef AZDO_WEBHOOK_ADMISSION_H
#define AZDO_WEBHOOK_ADMISSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "pool/field_errors.h"

enum admission_hook { ADMISSION_MUTATE = 0, ADMISSION_VALIDATE = 1 };

struct admission_policy {
    /* Appends to 'ops' (a JSON array, borrowed) the RFC 6902 operations that fill the defaults
     * missing from 'object' (borrowed). Returns 0, or a negative errno with text in 'err' when
     * it could not run (then the request is refused with that text). */
    int (*defaults)(const json_t *object, json_t *ops, struct err *err);
    /* Appends every problem of 'object' to 'errors', with field paths; 'old_object' is NULL on
     * CREATE and the stored object on UPDATE. Returns 0 whether or not problems were found; a
     * negative errno only when it could not check (the request is then refused). */
    int (*validate)(const json_t *object, const json_t *old_object, struct field_errors *errors,
                    struct err *err);
};

/* The RunnerPool policy (src/pool/). Borrowed, static. */
const struct admission_policy *admission_runnerpool_policy(void);

struct admission_reply {
    int http_status;  /* 200 for an AdmissionReview answer, 400 for a body that is not one */
    char *body;       /* new JSON text, NUL-terminated (free()) */
    size_t body_len;
    bool allowed;     /* the verdict when http_status is 200; false otherwise */
    int status_code;  /* response.status.code when refused (400, 422...), else 0 */
};

/* Answers one request body ('body' borrowed, not NUL-terminated, 'len' bytes). Fills 'out' and
 * returns 0; -ENOMEM (out left empty) is the only failure. */
int admission_handle(enum admission_hook hook, const struct admission_policy *policy,
                     const char *body, size_t len, struct admission_reply *out);

/* Frees out->body and empties the reply (accepts NULL). */
void admission_reply_clear(struct admission_reply *reply);

/* Base64 (standard alphabet, padded, no newlines) of 'len' bytes: a new string (free()). NULL when
 * out of memory. Exposed for tests and for caBundle values. */
char *admission_base64(const void *data, size_t len);

#endif
