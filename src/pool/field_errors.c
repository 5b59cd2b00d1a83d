/* field_errors.c - the growable list of field errors (see field_errors.h). */
#include "field_errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void field_errors_init(struct field_errors *fe)
{
    memset(fe, 0, sizeof(*fe));
}

void field_errors_add(struct field_errors *fe, const char *path, const char *fmt, ...)
{
    va_list ap;
    char *message = NULL;
    char *path_copy = NULL;

    if (fe->count == fe->capacity) {
        size_t capacity = fe->capacity == 0 ? 8 : fe->capacity * 2;
        struct field_error *items = realloc(fe->items, capacity * sizeof(*items));
        if (items == NULL) {
            fe->out_of_memory = true;
            return;
        }
        fe->items = items;
        fe->capacity = capacity;
    }

    va_start(ap, fmt);
    int n = vasprintf(&message, fmt, ap);
    va_end(ap);
    path_copy = strdup(path);
    if (n < 0 || path_copy == NULL) {
        if (n >= 0)
            free(message);
        free(path_copy);
        fe->out_of_memory = true;
        return;
    }
    fe->items[fe->count].path = path_copy;
    fe->items[fe->count].message = message;
    fe->count++;
}

bool field_errors_any(const struct field_errors *fe)
{
    return fe->count > 0 || fe->out_of_memory;
}

void field_errors_free(struct field_errors *fe)
{
    if (fe == NULL)
        return;
    for (size_t i = 0; i < fe->count; i++) {
        free(fe->items[i].path);
        free(fe->items[i].message);
    }
    free(fe->items);
    field_errors_init(fe);
}

char *field_errors_join(const struct field_errors *fe, const char *sep)
{
    size_t len = 1;
    size_t sep_len = strlen(sep);
    static const char oom_note[] = "(more errors were lost: out of memory)";

    for (size_t i = 0; i < fe->count; i++)
        len += strlen(fe->items[i].path) + 2 + strlen(fe->items[i].message) + sep_len;
    if (fe->out_of_memory)
        len += sizeof(oom_note) + sep_len;

    char *out = malloc(len);
    if (out == NULL)
        return NULL;
    /* 'len' was summed above, so each snprintf fits; 'used' never passes len - 1. */
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < fe->count; i++) {
        used += (size_t)snprintf(out + used, len - used, "%s%s: %s", i > 0 ? sep : "",
                                 fe->items[i].path, fe->items[i].message);
    }
    if (fe->out_of_memory)
        snprintf(out + used, len - used, "%s%s", fe->count > 0 ? sep : "", oom_note);
    return out;
}
