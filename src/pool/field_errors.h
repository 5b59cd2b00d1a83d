/* field_errors.h - a list of "field path: message" errors, so a validator can report every
 * problem of an object at once (as kubectl users expect from the API server's 422 answers).
 *
 * Paths use Kubernetes' field-path spelling: spec.pvcs[1].mountPath, spec.capabilityImages[java].
 * Messages follow git's grammar (lowercase, no period) and say how to fix the field. */
#ifndef AZDO_POOL_FIELD_ERRORS_H
#define AZDO_POOL_FIELD_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

struct field_error {
    char *path;    /* owned */
    char *message; /* owned */
};

struct field_errors {
    struct field_error *items; /* owned array of 'count' entries */
    size_t count;
    size_t capacity;
    bool out_of_memory; /* an add failed: the list is incomplete, so treat the object as invalid */
};

/* An empty list; equivalent to zero-initialising the struct. */
void field_errors_init(struct field_errors *fe);

/* Appends one error; 'path' is copied, the message formatted. On allocation failure it sets
 * 'out_of_memory' instead (the caller still sees a non-empty verdict through field_errors_any). */
void field_errors_add(struct field_errors *fe, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when at least one error was added (or an add ran out of memory). */
bool field_errors_any(const struct field_errors *fe);

/* Releases the entries and leaves the list empty and reusable. Accepts NULL. */
void field_errors_free(struct field_errors *fe);

/* New string (caller frees with free()): every error as "path: message", joined by 'sep'.
 * Returns NULL only when out of memory. */
char *field_errors_join(const struct field_errors *fe, const char *sep);

#endif
