/* test_quantity.c - Kubernetes quantities: what parses, to which value, and why garbage fails. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "err.h"
#include "pool/quantity.h"

struct good_case {
    const char *text;
    long double value;
    enum quantity_format format;
};

static void test_quantity_accepts_every_suffix_and_form(void **state)
{
    (void)state;
    static const struct good_case cases[] = {
        {"10Gi", 10737418240.0L, QUANTITY_BINARY_SI},
        {"500M", 500000000.0L, QUANTITY_DECIMAL_SI},
        {"1.5", 1.5L, QUANTITY_DECIMAL_SI},
        {"100m", 0.1L, QUANTITY_DECIMAL_SI},
        {"1e3", 1000.0L, QUANTITY_DECIMAL_EXPONENT},
        {"1E3", 1000.0L, QUANTITY_DECIMAL_EXPONENT},
        {"2e-3", 0.002L, QUANTITY_DECIMAL_EXPONENT},
        {"5E+2", 500.0L, QUANTITY_DECIMAL_EXPONENT},
        {"1E", 1e18L, QUANTITY_DECIMAL_SI}, /* exa, not an exponent */
        {"1Ki", 1024.0L, QUANTITY_BINARY_SI},
        {"1.5Mi", 1572864.0L, QUANTITY_BINARY_SI},
        {"1Ei", 1152921504606846976.0L, QUANTITY_BINARY_SI},
        {"3k", 3000.0L, QUANTITY_DECIMAL_SI},
        {"2T", 2e12L, QUANTITY_DECIMAL_SI},
        {"1P", 1e15L, QUANTITY_DECIMAL_SI},
        {"250u", 0.00025L, QUANTITY_DECIMAL_SI},
        {"12n", 12e-9L, QUANTITY_DECIMAL_SI},
        {"+5", 5.0L, QUANTITY_DECIMAL_SI},
        {"-1", -1.0L, QUANTITY_DECIMAL_SI},
        {".5", 0.5L, QUANTITY_DECIMAL_SI},
        {"5.", 5.0L, QUANTITY_DECIMAL_SI},
        {"0", 0.0L, QUANTITY_DECIMAL_SI},
        {"0.000", 0.0L, QUANTITY_DECIMAL_SI},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct quantity q;
        struct err err = {0};
        int rc = quantity_parse(cases[i].text, &q, &err);
        if (rc != 0)
            fail_msg("'%s' refused: %s", cases[i].text, err.msg);
        long double diff = fabsl(q.value - cases[i].value);
        long double scale = fabsl(cases[i].value) > 1 ? fabsl(cases[i].value) : 1;
        if (diff / scale > 1e-15L)
            fail_msg("'%s' read as %Lg, want %Lg", cases[i].text, q.value, cases[i].value);
        assert_int_equal(q.format, cases[i].format);
    }
}

static void test_quantity_binary_values_are_exact(void **state)
{
    (void)state;
    struct quantity q;
    int64_t n = 0;

    assert_int_equal(quantity_parse("20Gi", &q, NULL), 0);
    assert_int_equal(quantity_to_int64_ceil(&q, &n, NULL), 0);
    assert_true(n == INT64_C(21474836480));
    assert_int_equal(quantity_parse("7Ei", &q, NULL), 0);
    assert_int_equal(quantity_to_int64_ceil(&q, &n, NULL), 0);
    assert_true(n == INT64_C(8070450532247928832));
}

struct bad_case {
    const char *text;
    int code;
    const char *message;
};

static void test_quantity_rejects_garbage_with_a_reason(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"", -EINVAL, "invalid quantity '': must not be empty"},
        {"Gi", -EINVAL, "invalid quantity 'Gi': must start with a number"},
        {".", -EINVAL, "invalid quantity '.': must start with a number"},
        {"-", -EINVAL, "invalid quantity '-': must start with a number"},
        {"10GB", -EINVAL,
         "invalid quantity '10GB': unknown suffix 'GB' (use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, "
         "M, G, T, P, E or an exponent such as e3)"},
        {"10 Gi", -EINVAL, NULL},
        {" 10Gi", -EINVAL, "invalid quantity ' 10Gi': must start with a number"},
        {"10Gi ", -EINVAL, NULL},
        {"1.2.3", -EINVAL, NULL},
        {"0x10", -EINVAL, NULL},
        {"inf", -EINVAL, NULL},
        {"NaN", -EINVAL, NULL},
        {"1e", -EINVAL, NULL},
        {"1e+", -EINVAL, NULL},
        {"1e3.5", -EINVAL, NULL},
        {"--1", -EINVAL, NULL},
        {"1Gi5", -EINVAL, NULL},
        {"1ki", -EINVAL, NULL},
        {"1KI", -EINVAL, NULL},
        {"1K", -EINVAL, NULL},
        {"1e1000", -ERANGE, "invalid quantity '1e1000': exponent out of range"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890", -EINVAL,
         NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct quantity q = {.value = 42.0L, .format = QUANTITY_BINARY_SI};
        struct err err = {0};
        int rc = quantity_parse(cases[i].text, &q, &err);
        if (rc != cases[i].code)
            fail_msg("'%s': rc %d, want %d", cases[i].text, rc, cases[i].code);
        assert_true(err.msg[0] != '\0');
        if (cases[i].message != NULL)
            assert_string_equal(err.msg, cases[i].message);
        assert_true(q.value == 42.0L); /* untouched on failure */
    }
}

static void test_quantity_rounds_up_to_whole_units(void **state)
{
    (void)state;
    struct quantity q;
    int64_t n = 0;
    struct err err = {0};

    assert_int_equal(quantity_parse("100m", &q, NULL), 0);
    assert_int_equal(quantity_to_int64_ceil(&q, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(quantity_parse("1.5k", &q, NULL), 0);
    assert_int_equal(quantity_to_int64_ceil(&q, &n, NULL), 0);
    assert_int_equal(n, 1500);
    assert_int_equal(quantity_parse("8Ei", &q, NULL), 0);
    assert_int_equal(quantity_to_int64_ceil(&q, &n, &err), -ERANGE);
    assert_int_equal(quantity_parse("-1", &q, NULL), 0);
    assert_int_equal(quantity_to_int64_ceil(&q, &n, &err), -ERANGE);
}

/* Found by tests/fuzz (quantity): zeros after the decimal point were multiplied into the
 * mantissa, which then outgrew a long double's 64 bits and rounded, so "266.000...0" (33 zeros)
 * rounded up to 267 bytes. Such zeros carry no value and must not cost precision. */
static void test_quantity_trailing_fraction_zeros_stay_exact(void **state)
{
    (void)state;
    struct quantity q, r;
    int64_t n = 0;

    assert_int_equal(quantity_parse("266.000000000000000000000000000000000", &q, NULL), 0);
    assert_int_equal(quantity_to_int64_ceil(&q, &n, NULL), 0);
    assert_int_equal(n, 266);
    assert_int_equal(quantity_parse("6666626000019999990.000000000", &q, NULL), 0);
    assert_int_equal(quantity_to_int64_ceil(&q, &n, NULL), 0);
    assert_int_equal(n, 6666626000019999990LL);
    assert_int_equal(quantity_parse("1.500000000000000000000000Gi", &q, NULL), 0);
    assert_int_equal(quantity_parse("1536Mi", &r, NULL), 0);
    assert_int_equal(quantity_cmp(&q, &r), 0);
}

static void test_quantity_compares_across_suffixes(void **state)
{
    (void)state;
    struct quantity a, b;

    assert_int_equal(quantity_parse("1Gi", &a, NULL), 0);
    assert_int_equal(quantity_parse("1G", &b, NULL), 0);
    assert_int_equal(quantity_cmp(&a, &b), 1);
    assert_int_equal(quantity_cmp(&b, &a), -1);
    assert_int_equal(quantity_parse("1024Mi", &b, NULL), 0);
    assert_int_equal(quantity_cmp(&a, &b), 0);
    assert_int_equal(quantity_parse("500m", &a, NULL), 0);
    assert_int_equal(quantity_parse("0.5", &b, NULL), 0);
    assert_int_equal(quantity_cmp(&a, &b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantity_accepts_every_suffix_and_form),
        cmocka_unit_test(test_quantity_binary_values_are_exact),
        cmocka_unit_test(test_quantity_rejects_garbage_with_a_reason),
        cmocka_unit_test(test_quantity_rounds_up_to_whole_units),
        cmocka_unit_test(test_quantity_compares_across_suffixes),
        cmocka_unit_test(test_quantity_trailing_fraction_zeros_stay_exact),
    };
    return cmocka_run_group_tests_name("quantity", tests, NULL, NULL);
}
