/* test_azdo_backoff.c - jittered exponential backoff bounds, server waits, per-org independence. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include "azdo/backoff.h"

static const struct azdo_backoff_policy policy = AZDO_BACKOFF_POLICY_DEFAULT;

static void test_delays_stay_within_growing_bounds(void **state)
{
    (void)state;
    /* Many seeds, so the bounds are checked against many jitter draws. */
    for (uint64_t seed = 0; seed < 200; seed++) {
        struct azdo_backoff b;
        uint64_t ceiling = policy.base_ms;

        azdo_backoff_init(&b, seed);
        for (int i = 0; i < 12; i++) {
            uint64_t d = azdo_backoff_failure(&b, &policy, 1000, -1);
            assert_in_range(d, policy.min_ms, ceiling);
            assert_int_equal(azdo_backoff_wait_ms(&b, 1000), d);
            ceiling = ceiling * 2 > policy.cap_ms ? policy.cap_ms : ceiling * 2;
            azdo_backoff_reset(&b); /* so the next draw is not held up by this one's wait */
            b.failures = (uint32_t)i + 1;
        }
    }
}

static void test_jitter_actually_varies(void **state)
{
    struct azdo_backoff b;
    uint64_t first, differs = 0;
    (void)state;

    azdo_backoff_init(&b, 7);
    b.failures = 5; /* ceiling 160 s */
    first = azdo_backoff_failure(&b, &policy, 0, -1);
    for (int i = 0; i < 20; i++) {
        azdo_backoff_reset(&b);
        b.failures = 5;
        if (azdo_backoff_failure(&b, &policy, 0, -1) != first)
            differs++;
    }
    assert_true(differs > 0);
}

/* A 429/503 with Retry-After waits what the server asked (plus at most 20 % jitter), never less,
 * and not our exponential ceiling: field report #15. */
static void test_retry_after_sets_the_wait(void **state)
{
    struct azdo_backoff b;
    uint64_t d;
    (void)state;

    azdo_backoff_init(&b, 1);
    d = azdo_backoff_failure(&b, &policy, 5000, 30000);
    assert_in_range(d, 30000, 36000);
    assert_int_equal(azdo_backoff_wait_ms(&b, 5000), d);
    assert_true(azdo_backoff_wait_ms(&b, 34999) >= 1);
    assert_int_equal(azdo_backoff_wait_ms(&b, 5000 + d), 0);

    /* Repeated 429s with Retry-After: 1 are retried after about a second, not minutes, but
     * never sooner than min_ms. */
    azdo_backoff_init(&b, 1);
    b.failures = 8; /* our own ceiling would be 300 s */
    d = azdo_backoff_failure(&b, &policy, 0, 1000);
    assert_in_range(d, 1000, 1200);
    d = azdo_backoff_failure(&b, &policy, 0, 1);
    assert_int_equal(d, policy.min_ms);
}

static void test_success_reopens_but_honours_server_wait(void **state)
{
    struct azdo_backoff b;
    (void)state;

    azdo_backoff_init(&b, 3);
    azdo_backoff_failure(&b, &policy, 0, -1);
    azdo_backoff_failure(&b, &policy, 0, -1);
    assert_true(azdo_backoff_wait_ms(&b, 0) > 0);
    azdo_backoff_success(&b, 100, -1);
    assert_int_equal(b.failures, 0);
    assert_int_equal(azdo_backoff_wait_ms(&b, 100), 0);

    /* A delayed 200 with Retry-After: 10 shuts the gate for 10 s although it succeeded. */
    azdo_backoff_success(&b, 1000, 10000);
    assert_int_equal(azdo_backoff_wait_ms(&b, 1000), 10000);
    /* Resetting (new credential) keeps the server's wait: it is the identity's budget. */
    azdo_backoff_reset(&b);
    assert_int_equal(azdo_backoff_wait_ms(&b, 1000), 10000);
}

static void test_orgs_are_independent(void **state)
{
    struct azdo_backoff a, b;
    (void)state;

    azdo_backoff_init(&a, 1);
    azdo_backoff_init(&b, 2);
    for (int i = 0; i < 6; i++)
        azdo_backoff_failure(&a, &policy, 0, 60000);
    assert_true(azdo_backoff_wait_ms(&a, 0) >= 60000);
    assert_int_equal(azdo_backoff_wait_ms(&b, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delays_stay_within_growing_bounds),
        cmocka_unit_test(test_jitter_actually_varies),
        cmocka_unit_test(test_retry_after_sets_the_wait),
        cmocka_unit_test(test_success_reopens_but_honours_server_wait),
        cmocka_unit_test(test_orgs_are_independent),
    };
    return cmocka_run_group_tests_name("azdo_backoff", tests, NULL, NULL);
}
