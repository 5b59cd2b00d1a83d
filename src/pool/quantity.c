/* quantity.c - a strict parser for Kubernetes quantities (see quantity.h for the grammar).
 *
 * Parsing runs in two steps: a scanner that checks the grammar and records where the number and
 * the suffix start, then arithmetic on the recorded pieces. Checking first means arithmetic never
 * sees text that strtold() would have read differently (hex, "inf", leading spaces, locale). */
#include "quantity.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Decimal exponents beyond this are refused: no quantity a cluster uses needs them, and the
 * bound keeps powl() far from overflow. */
#define QUANTITY_EXPONENT_MAX 100

struct scan {
    bool negative;
    const char *int_digits; /* may be empty */
    size_t int_len;
    const char *frac_digits; /* may be empty */
    size_t frac_len;
    const char *suffix; /* rest of the text */
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t count_digits(const char *s)
{
    size_t n = 0;
    while (is_digit(s[n]))
        n++;
    return n;
}

static int scan_number(const char *text, struct scan *sc, struct err *err)
{
    const char *p = text;

    memset(sc, 0, sizeof(*sc));
    if (*p == '+' || *p == '-') {
        sc->negative = *p == '-';
        p++;
    }
    sc->int_digits = p;
    sc->int_len = count_digits(p);
    p += sc->int_len;
    if (*p == '.') {
        p++;
        sc->frac_digits = p;
        sc->frac_len = count_digits(p);
        p += sc->frac_len;
    } else {
        sc->frac_digits = p;
    }
    if (sc->int_len == 0 && sc->frac_len == 0)
        return err_set(err, -EINVAL, "invalid quantity '%s': must start with a number", text);
    /* Trailing zeros of the fraction carry no value; left in, each one multiplies the mantissa
     * by ten, and past 2^64 it rounds ("266.000...0" with 33 zeros read as 267 bytes). */
    while (sc->frac_len > 0 && sc->frac_digits[sc->frac_len - 1] == '0')
        sc->frac_len--;
    sc->suffix = p;
    return 0;
}

/* Reads the suffix into a power of ten and a power of two. */
static int scan_suffix(const char *text, const char *suffix, int *pow10, int *pow2,
                       enum quantity_format *format, struct err *err)
{
    static const struct {
        const char *text;
        int pow10;
        int pow2;
    } table[] = {
        {"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},   {"G", 9, 0},
        {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
        {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(suffix, table[i].text) == 0) {
            *pow10 = table[i].pow10;
            *pow2 = table[i].pow2;
            *format = table[i].pow2 != 0 ? QUANTITY_BINARY_SI : QUANTITY_DECIMAL_SI;
            return 0;
        }
    }

    /* An exponent: 'e' or 'E', an optional sign, then at least one digit and nothing else. */
    if (suffix[0] == 'e' || suffix[0] == 'E') {
        const char *p = suffix + 1;
        bool negative = false;
        if (*p == '+' || *p == '-') {
            negative = *p == '-';
            p++;
        }
        size_t n = count_digits(p);
        if (n > 0 && p[n] == '\0') {
            long e = 0;
            for (size_t i = 0; i < n; i++) {
                e = e * 10 + (p[i] - '0');
                if (e > QUANTITY_EXPONENT_MAX)
                    return err_set(err, -ERANGE, "invalid quantity '%s': exponent out of range",
                                   text);
            }
            *pow10 = negative ? -(int)e : (int)e;
            *pow2 = 0;
            *format = QUANTITY_DECIMAL_EXPONENT;
            return 0;
        }
    }
    return err_set(err, -EINVAL,
                   "invalid quantity '%s': unknown suffix '%s' (use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, "
                   "k, M, G, T, P, E or an exponent such as e3)",
                   text, suffix);
}

int quantity_parse(const char *text, struct quantity *out, struct err *err)
{
    struct scan sc;
    int pow10 = 0;
    int pow2 = 0;
    enum quantity_format format = QUANTITY_DECIMAL_SI; /* always set by scan_suffix on success */
    int rc;

    if (text == NULL || text[0] == '\0')
        return err_set(err, -EINVAL, "invalid quantity '': must not be empty");
    if (strlen(text) > QUANTITY_TEXT_MAX)
        return err_set(err, -EINVAL, "invalid quantity '%.20s...': longer than %d characters",
                       text, QUANTITY_TEXT_MAX);
    rc = scan_number(text, &sc, err);
    if (rc < 0)
        return rc;
    rc = scan_suffix(text, sc.suffix, &pow10, &pow2, &format, err);
    if (rc < 0)
        return rc;

    /* All digits as one integer, then scale: 12.5Ki = 125 * 10^-1 * 2^10. Dividing for negative
     * powers of ten (rather than multiplying by 0.1) keeps 1.5 and 100m correctly rounded. */
    long double mantissa = 0;
    for (size_t i = 0; i < sc.int_len; i++)
        mantissa = mantissa * 10 + (sc.int_digits[i] - '0');
    for (size_t i = 0; i < sc.frac_len; i++)
        mantissa = mantissa * 10 + (sc.frac_digits[i] - '0');
    long exp10 = (long)pow10 - (long)sc.frac_len;
    long double value = mantissa;
    if (exp10 > 0)
        value *= powl(10.0L, (long double)exp10);
    else if (exp10 < 0)
        value /= powl(10.0L, (long double)-exp10);
    value = ldexpl(value, pow2);
    if (!isfinite(value))
        return err_set(err, -ERANGE, "invalid quantity '%s': out of range", text);

    out->value = sc.negative ? -value : value;
    out->format = format;
    return 0;
}

int quantity_cmp(const struct quantity *a, const struct quantity *b)
{
    if (a->value < b->value)
        return -1;
    return a->value > b->value ? 1 : 0;
}

int quantity_to_int64_ceil(const struct quantity *q, int64_t *out, struct err *err)
{
    long double up = ceill(q->value);

    /* 2^63 is exactly representable; anything at or above it does not fit. */
    if (up < 0 || up >= ldexpl(1.0L, 63))
        return err_set(err, -ERANGE, "quantity out of range for a 64-bit count");
    *out = (int64_t)up;
    return 0;
}
