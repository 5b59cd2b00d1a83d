/* test_azdo_fixture.c - reads tests/fixtures/azdo/<name> for the azdo test suites. It is a
 * separate translation unit (not a header) because .gitignore keeps only tests/test_*.c. Suites
 * declare: char *fixture(const char *name, size_t *len); */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

/* New buffer (free()), NUL-terminated, length in '*len'; fails the test when unreadable. */
char *fixture(const char *name, size_t *len);

char *fixture(const char *name, size_t *len)
{
    const char *srcdir = getenv("AZDO_SRCDIR");
    char path[1024];
    char *buf;
    long size;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tests/fixtures/azdo/%s", srcdir ? srcdir : AZDO_SRCDIR, name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open fixture '%s'", path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return buf;
}
