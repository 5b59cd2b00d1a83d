/* fuzz_quantity.c - libFuzzer target for Kubernetes quantities (src/pool/quantity.h).
 *
 * Input: one or two quantities separated by a newline. Each is checked against a reference
 * reading of the grammar in quantity.h, written independently here: the parser must accept
 * exactly what the grammar accepts (-ERANGE only for an exponent above 100), leave its output
 * alone on failure, and, whenever the exact value is a whole number below 2^63 (computed here in
 * 128-bit integers) written with significant digits that fit in 64 bits (a fraction's trailing
 * zeros do not count: "1.000" is 1), quantity_to_int64_ceil() must give exactly that number; for
 * any other such value it may be off by one at most (the long double LIMITATION in quantity.h).
 * quantity_cmp() must be antisymmetric and agree with the exact order where both are known. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pool/quantity.h"

typedef unsigned __int128 u128;

struct model {
    bool valid;       /* the grammar accepts it */
    bool range_error; /* valid shape but the exponent is above 100 */
    bool negative;
    bool exact_known; /* 'num'/'den' hold the exact magnitude */
    bool digits_fit;  /* the significant digits (without a fraction's trailing zeros) < 2^64 */
    u128 num, den;
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool mul_ok(u128 *v, u128 by)
{
    return !__builtin_mul_overflow(*v, by, v);
}

static void model_read(const char *t, struct model *m)
{
    static const struct {
        const char *s;
        int pow10, pow2;
    } suffixes[] = {{"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},
                    {"M", 6, 0},   {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},
                    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50},
                    {"Ei", 0, 60}};
    const char *p = t, *digits_start;
    size_t ndigits = 0, nfrac = 0;
    int pow10 = 0, pow2 = 0;
    bool found = false, ok = true;
    u128 mant = 0;

    memset(m, 0, sizeof(*m));
    if (*t == '\0' || strlen(t) > QUANTITY_TEXT_MAX)
        return;
    if (*p == '+' || *p == '-')
        m->negative = *p++ == '-';
    digits_start = p;
    for (; is_digit(*p); p++, ndigits++)
        ok = ok && mul_ok(&mant, 10) && !__builtin_add_overflow(mant, (u128)(*p - '0'), &mant);
    if (*p == '.') {
        size_t zeros = 0;

        for (p++; is_digit(*p); p++, ndigits++, nfrac++) {
            ok = ok && mul_ok(&mant, 10) && !__builtin_add_overflow(mant, (u128)(*p - '0'), &mant);
            zeros = *p == '0' ? zeros + 1 : 0;
        }
        /* "1.000" is the integer 1: its zeros are not precision the parser may lose. */
        for (size_t i = 0; i < zeros && ok; i++)
            mant /= 10;
        nfrac -= zeros;
    }
    (void)digits_start;
    if (ndigits == 0)
        return;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]) && !found; i++) {
        if (strcmp(p, suffixes[i].s) == 0) {
            pow10 = suffixes[i].pow10;
            pow2 = suffixes[i].pow2;
            found = true;
        }
    }
    if (!found && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        bool neg = false;
        long e = 0;
        size_t n = 0;

        if (*q == '+' || *q == '-')
            neg = *q++ == '-';
        for (; is_digit(q[n]); n++)
            e = e > 1000 ? e : e * 10 + (q[n] - '0');
        if (n == 0 || q[n] != '\0')
            return;
        if (e > 100) {
            m->valid = true;
            m->range_error = true;
            return;
        }
        pow10 = neg ? -(int)e : (int)e;
        found = true;
    }
    if (!found)
        return;
    m->valid = true;
    m->digits_fit = ok && mant >> 64 == 0;

    /* Exact value = mant * 10^pow10 * 2^pow2 / 10^nfrac, when it fits in 128 bits. */
    m->num = mant;
    m->den = 1;
    for (int i = 0; i < pow10 && ok; i++)
        ok = mul_ok(&m->num, 10);
    for (long i = 0; i < (long)nfrac - (pow10 < 0 ? pow10 : 0) && ok; i++)
        ok = mul_ok(&m->den, 10);
    for (int i = 0; i < pow2 && ok; i++)
        ok = mul_ok(&m->num, 2);
    m->exact_known = ok;
}

static void check_one(const char *text, const struct model *m, struct quantity *q, int *rc)
{
    struct err err = {0};
    int64_t n = -1;

    q->value = 12345;
    q->format = QUANTITY_DECIMAL_EXPONENT;
    *rc = quantity_parse(text, q, &err);
    FUZZ_CHECK(fuzz_terminated(err.msg, sizeof(err.msg)));
    if (*rc != 0) {
        FUZZ_CHECK(q->value == 12345 && q->format == QUANTITY_DECIMAL_EXPONENT);
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    FUZZ_CHECK(m->valid == (*rc == 0 || *rc == -ERANGE));
    FUZZ_CHECK(m->range_error == (*rc == -ERANGE));
    if (*rc != 0)
        return;
    FUZZ_CHECK(quantity_cmp(q, q) == 0);
    if (quantity_to_int64_ceil(q, &n, &err) != 0)
        return;
    FUZZ_CHECK(n >= 0 && (long double)n >= q->value);
    if (m->exact_known && m->digits_fit && !m->negative) {
        u128 whole = m->num / m->den, ceil = whole + (m->num % m->den != 0);

        if (ceil < ((u128)1 << 63)) {
            if (m->num % m->den == 0)
                FUZZ_CHECK((u128)n == whole);
            else
                FUZZ_CHECK((u128)n + 1 >= ceil && (u128)n <= ceil + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    char *parts[2];
    size_t n = fuzz_split(text, size, '\n', parts, 2);
    struct model m[2];
    struct quantity q[2];
    int rc[2];

    for (size_t i = 0; i < n; i++) {
        model_read(parts[i], &m[i]);
        check_one(parts[i], &m[i], &q[i], &rc[i]);
    }
    if (n == 2 && rc[0] == 0 && rc[1] == 0) {
        int ab = quantity_cmp(&q[0], &q[1]), ba = quantity_cmp(&q[1], &q[0]);

        FUZZ_CHECK(ab == -ba);
        /* Whole numbers that both fit in 63 bits are exact in a long double: order is exact. */
        if (m[0].exact_known && m[1].exact_known && m[0].digits_fit && m[1].digits_fit &&
            !m[0].negative && !m[1].negative &&
            m[0].num % m[0].den == 0 && m[1].num % m[1].den == 0 &&
            m[0].num / m[0].den < ((u128)1 << 63) && m[1].num / m[1].den < ((u128)1 << 63)) {
            u128 a = m[0].num / m[0].den, b = m[1].num / m[1].den;

            FUZZ_CHECK(ab == (a < b ? -1 : a > b ? 1 : 0));
        }
    }
    free(text);
    return 0;
}
