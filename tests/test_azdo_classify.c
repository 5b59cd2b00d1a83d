/* test_azdo_classify.c - answers to outcomes: 203 sign-in page vs 401 vs 403, 429/503 with
 * Retry-After, delayed 200s, transport failures, non-JSON 2xx. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "azdo/classify.h"

/* test_azdo_fixture.c: new buffer with the fixture file, NUL-terminated. */
char *fixture(const char *name, size_t *len);

static struct azdo_reply reply(long status, const char *ct, const char *body)
{
    return (struct azdo_reply){.status = status,
                               .content_type = ct,
                               .retry_after_s = -1,
                               .body = body,
                               .body_len = body ? strlen(body) : 0};
}

static void test_json_2xx_is_ok(void **state)
{
    struct azdo_reply r =
        reply(200, "application/json; charset=utf-8", "{\"count\":0,\"value\":[]}");
    struct azdo_verdict v;
    (void)state;

    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_OK);
    assert_int_equal(v.wait_ms, -1);
    assert_false(v.budget_exhausted);

    r = reply(204, NULL, NULL); /* DELETE */
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_OK);

    r = reply(200, "text/plain", "hello");
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_BAD_RESPONSE);
    assert_string_equal(v.reason, "NotJson");
}

static void test_203_sign_in_page_is_auth_failure(void **state)
{
    size_t len;
    char *html = fixture("signin_203.html", &len);
    struct azdo_reply r = reply(203, "text/html; charset=utf-8", html);
    struct azdo_verdict v;
    (void)state;

    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(v.reason, "SignInPage");
    assert_int_equal(v.http_status, 203);

    /* The same page on a 200 is no data either. */
    r.status = 200;
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(v.reason, "SignInPage");

    /* 203 is never success, whatever its body. */
    r = reply(203, "application/json", "{}");
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_AUTH_FAILED);
    free(html);
}

static void test_401_expired_from_header_or_body(void **state)
{
    size_t len;
    char *body = fixture("error_401_bom.json", &len);
    struct azdo_reply r = reply(401, "application/json", body);
    struct azdo_verdict v;
    (void)state;

    r.body_len = len;
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(v.reason, "TokenExpired");
    assert_non_null(strstr(v.detail, "has expired"));
    free(body);

    r = reply(401, NULL, NULL);
    r.service_error = "TF400813%3A+The+Personal+Access+Token+used+has+expired.";
    azdo_classify(&r, &v);
    assert_string_equal(v.reason, "TokenExpired");
    assert_string_equal(v.detail, "TF400813: The Personal Access Token used has expired.");

    r = reply(401, NULL, NULL);
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(v.reason, "Unauthorized");
    assert_non_null(strstr(v.detail, "401"));
}

static void test_403_404_and_other_4xx(void **state)
{
    size_t len;
    char *body = fixture("error_400.json", &len);
    struct azdo_reply r = reply(403, "application/json", "{\"message\":\"no manage scope\"}");
    struct azdo_verdict v;
    (void)state;

    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(v.reason, "Forbidden");
    assert_string_equal(v.detail, "no manage scope");

    r = reply(404, "application/json", "{\"typeKey\":\"X\",\"message\":\"pool 9 missing\"}");
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_NOT_FOUND);
    assert_string_equal(v.detail, "pool 9 missing");

    r = reply(400, "application/json", body);
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_REJECTED);
    assert_string_equal(v.reason, "VssVersionNotSpecifiedException");
    free(body);

    r = reply(409, NULL, NULL);
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_REJECTED);
    assert_string_equal(v.reason, "Rejected");
}

static void test_429_and_503_carry_retry_after(void **state)
{
    struct azdo_reply r =
        reply(429, "application/json", "{\"message\":\"TF400733: illustrative\"}");
    struct azdo_verdict v;
    (void)state;

    r.retry_after_s = 30;
    r.rate_limit_resource = "Core.Illustrative";
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_THROTTLED);
    assert_string_equal(v.reason, "RateLimited");
    assert_int_equal(v.wait_ms, 30000);
    assert_non_null(strstr(v.detail, "Core.Illustrative"));

    r = reply(503, NULL, NULL);
    r.retry_after_s = 5;
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_THROTTLED);
    assert_string_equal(v.reason, "ServiceUnavailable");
    assert_int_equal(v.wait_ms, 5000);

    /* No usable Retry-After: the caller falls back to exponential backoff. */
    r = reply(429, NULL, NULL);
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_THROTTLED);
    assert_int_equal(v.wait_ms, -1);

    /* Over 15 min is capped, and says so. */
    r.retry_after_s = 7200;
    azdo_classify(&r, &v);
    assert_int_equal(v.wait_ms, AZDO_MAX_SERVER_WAIT_MS);
    assert_true(v.wait_capped);
}

static void test_delayed_200_is_ok_but_asks_for_a_pause(void **state)
{
    struct azdo_reply r = reply(200, "application/json", "{\"value\":[]}");
    struct azdo_verdict v;
    (void)state;

    r.retry_after_s = 10;
    r.rate_limit_delay = "2.500";
    r.rate_limit_remaining = "0";
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_OK);
    assert_int_equal(v.wait_ms, 10000); /* Retry-After is larger than the delay */
    assert_true(v.budget_exhausted);

    r.retry_after_s = -1;
    azdo_classify(&r, &v);
    assert_int_equal(v.wait_ms, 2500); /* the delay alone */

    r.rate_limit_delay = "bogus";
    r.rate_limit_remaining = "150";
    azdo_classify(&r, &v);
    assert_int_equal(v.wait_ms, -1);
    assert_false(v.budget_exhausted);
}

/* Found by tests/fuzz (azdo_classify): a delay too large for llround() came back as a negative
 * number, so the server's request to pause was ignored instead of capped. */
static void test_huge_rate_limit_delay_is_capped_not_ignored(void **state)
{
    struct azdo_reply r = reply(200, "application/json", "{\"value\":[]}");
    struct azdo_verdict v;
    (void)state;

    r.rate_limit_delay = "1e300";
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_OK);
    assert_int_equal(v.wait_ms, AZDO_MAX_SERVER_WAIT_MS);

    r.rate_limit_delay = "99999999999999999999";
    azdo_classify(&r, &v);
    assert_int_equal(v.wait_ms, AZDO_MAX_SERVER_WAIT_MS);
}

static void test_transport_and_server_errors_are_retryable(void **state)
{
    struct azdo_reply r = reply(0, NULL, NULL);
    struct azdo_verdict v;
    (void)state;

    r.transport_err = -ETIMEDOUT;
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_UNREACHABLE);
    assert_string_equal(v.reason, "Timeout");

    r.transport_err = -ECONNREFUSED;
    azdo_classify(&r, &v);
    assert_string_equal(v.reason, "ConnectionRefused");

    /* A 200 whose body was cut off is not data. */
    r = reply(200, "application/json", "{\"value\":[");
    r.transport_err = -ECONNRESET;
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_UNREACHABLE);

    r = reply(500, "application/json", "{\"message\":\"boom\"}");
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_UNREACHABLE);
    assert_string_equal(v.reason, "ServerError");
    assert_string_equal(v.detail, "HTTP 500: boom");

    r = reply(302, NULL, NULL);
    azdo_classify(&r, &v);
    assert_int_equal(v.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(v.reason, "Redirected");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_2xx_is_ok),
        cmocka_unit_test(test_203_sign_in_page_is_auth_failure),
        cmocka_unit_test(test_401_expired_from_header_or_body),
        cmocka_unit_test(test_403_404_and_other_4xx),
        cmocka_unit_test(test_429_and_503_carry_retry_after),
        cmocka_unit_test(test_delayed_200_is_ok_but_asks_for_a_pause),
        cmocka_unit_test(test_huge_rate_limit_delay_is_capped_not_ignored),
        cmocka_unit_test(test_transport_and_server_errors_are_retryable),
    };
    return cmocka_run_group_tests_name("azdo_classify", tests, NULL, NULL);
}
