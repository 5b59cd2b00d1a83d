/* fuzz.h - helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * A target checks the contract its header promises (ownership, output shapes, agreement between
 * two functions that must agree) on top of what the sanitizers catch; a broken promise is a
 * crash with a message, so libFuzzer saves the input like any other crash. */
#ifndef AZDO_TESTS_FUZZ_H
#define AZDO_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* jansson seeds its object hash from /dev/urandom, which changes the order of object members
 * from run to run; a fixed seed makes a saved crash replay the same way. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    return 0;
}

/* Aborts with the broken promise when 'cond' is false (so the input is saved as a crash). */
#define FUZZ_CHECK(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* A NUL-terminated copy of the input (new, free()); aborts when out of memory, which only
 * -rss_limit_mb could cause and libFuzzer reports on its own. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits a NUL-terminated copy 's' in place at each 'sep'; stores up to 'max' pieces in 'out'
 * (pointers into 's') and returns their number. */
static inline size_t fuzz_split(char *s, size_t len, char sep, char **out, size_t max)
{
    size_t n = 0;
    char *p = s;
    char *end = s + len;

    while (n < max) {
        char *q = memchr(p, sep, (size_t)(end - p));

        out[n++] = p;
        if (q == NULL)
            break;
        *q = '\0';
        p = q + 1;
    }
    return n;
}

/* True when 'buf' (of 'size' bytes) holds a NUL: a fixed-size text field was terminated. */
static inline int fuzz_terminated(const char *buf, size_t size)
{
    return memchr(buf, '\0', size) != NULL;
}

#endif
