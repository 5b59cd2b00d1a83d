/* test_webhook_certs.c - the webhook CA and serving certificate: issuance, PEM, rotation checks.
 * Time is a parameter everywhere, so "later" is just a bigger 'now'. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "err.h"
#include "webhook/certs.h"

#define T0 ((time_t)1750000000) /* a fixed "now" */

static const char *const sans_local[] = {"127.0.0.1", "webhook.ci.svc"};

static struct cert_pair make_ca(time_t now, int64_t lifetime_s)
{
    struct certs_issue issue = {.now = now, .lifetime_s = lifetime_s, .common_name = "test-ca"};
    struct cert_pair ca;
    struct err err = {0};

    assert_int_equal(certs_make_ca(&issue, &ca, &err), 0);
    return ca;
}

static struct cert_pair make_serving(const struct cert_pair *ca, time_t now, int64_t lifetime_s)
{
    struct certs_issue issue = {.now = now, .lifetime_s = lifetime_s, .common_name = "webhook"};
    struct cert_pair s;
    struct err err = {0};

    assert_int_equal(certs_make_serving(ca, &issue, sans_local, 2, &s, &err), 0);
    return s;
}

/* Verifies 'leaf' against a store holding only 'ca', at time 'at', the way a TLS client would. */
static int verify_chain(X509 *leaf, X509 *ca, time_t at)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok;

    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
    X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx), X509_PURPOSE_SSL_SERVER);
    ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

static void test_ca_is_a_self_signed_signing_ca(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 3600);

    assert_int_equal(X509_check_ca(ca.cert), 1);
    assert_true(X509_get_key_usage(ca.cert) & KU_KEY_CERT_SIGN);
    assert_true(certs_signed_by(ca.cert, ca.cert));
    assert_int_equal(certs_not_before(ca.cert), T0);
    assert_int_equal(certs_not_after(ca.cert), T0 + 3600);
    assert_int_equal(EVP_PKEY_get_bits(ca.key), 256);
    assert_int_equal(certs_check_ca(&ca, T0), 0);
    cert_pair_clear(&ca);
}

static void test_serving_verifies_against_ca_for_each_san(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 3600);
    struct cert_pair s = make_serving(&ca, T0, 600);

    assert_int_equal(X509_check_ca(s.cert), 0);
    assert_int_equal(verify_chain(s.cert, ca.cert, T0 + 1), 1);
    assert_int_equal(X509_check_ip_asc(s.cert, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_host(s.cert, "webhook.ci.svc", 0, 0, NULL), 1);
    assert_int_not_equal(X509_check_host(s.cert, "other.ci.svc", 0, 0, NULL), 1);
    assert_int_equal(certs_check_serving(&s, ca.cert, sans_local, 2, T0), 0);
    cert_pair_clear(&s);
    cert_pair_clear(&ca);
}

static void test_serving_fails_verification_against_another_ca(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 3600), other = make_ca(T0, 3600);
    struct cert_pair s = make_serving(&ca, T0, 600);

    assert_int_not_equal(verify_chain(s.cert, other.cert, T0 + 1), 1);
    assert_false(certs_signed_by(s.cert, other.cert));
    assert_int_equal(certs_check_serving(&s, other.cert, sans_local, 2, T0), CERTS_WRONG_ISSUER);
    cert_pair_clear(&s);
    cert_pair_clear(&ca);
    cert_pair_clear(&other);
}

static void test_serving_never_outlives_its_ca(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 100);
    struct cert_pair s = make_serving(&ca, T0 + 10, 1000);

    assert_int_equal(certs_not_after(s.cert), T0 + 100);
    cert_pair_clear(&s);
    cert_pair_clear(&ca);
}

static void test_serving_due_when_a_third_is_left(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 100000);
    struct cert_pair s = make_serving(&ca, T0, 30);

    assert_int_equal(certs_due_at(s.cert), T0 + 20);
    assert_int_equal(certs_check_serving(&s, ca.cert, sans_local, 2, T0 + 19), 0);
    assert_int_equal(certs_check_serving(&s, ca.cert, sans_local, 2, T0 + 20), CERTS_DUE);
    assert_int_equal(certs_check_serving(&s, ca.cert, sans_local, 2, T0 + 30), CERTS_NOT_VALID_NOW);
    assert_int_equal(certs_check_serving(&s, ca.cert, sans_local, 2, T0 - 1), CERTS_NOT_VALID_NOW);
    cert_pair_clear(&s);
    cert_pair_clear(&ca);
}

static void test_serving_clamped_to_ca_is_not_due(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 60);
    struct cert_pair s = make_serving(&ca, T0 + 30, 600); /* clamped: T0+30 .. T0+60 */

    /* Reissuing from the same CA would not extend it: the CA's own rotation is what helps. */
    assert_int_equal(certs_check_serving(&s, ca.cert, sans_local, 2, T0 + 55), 0);
    assert_true(certs_check_ca(&ca, T0 + 55) & CERTS_DUE);
    /* Without a CA to compare with, it is simply due. */
    assert_int_equal(certs_check_serving(&s, NULL, sans_local, 2, T0 + 55), CERTS_DUE);
    cert_pair_clear(&s);
    cert_pair_clear(&ca);
}

static void test_ca_due_before_it_expires(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 90);

    assert_int_equal(certs_check_ca(&ca, T0 + 59), 0);
    assert_int_equal(certs_check_ca(&ca, T0 + 60), CERTS_DUE);
    assert_int_equal(certs_check_ca(&ca, T0 + 90), CERTS_NOT_VALID_NOW);
    assert_int_equal(certs_check_ca(NULL, T0), CERTS_MISSING);
    cert_pair_clear(&ca);
}

static void test_serving_sans_compared_as_sets(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 3600);
    struct cert_pair s = make_serving(&ca, T0, 600);
    const char *const reordered[] = {"WEBHOOK.ci.svc", "127.0.0.1", "127.0.0.1"};
    const char *const fewer[] = {"127.0.0.1"};
    const char *const more[] = {"127.0.0.1", "webhook.ci.svc", "webhook.ci.svc.cluster.local"};
    const char *const other_ip[] = {"127.0.0.2", "webhook.ci.svc"};

    assert_int_equal(certs_check_serving(&s, ca.cert, reordered, 3, T0), 0);
    assert_int_equal(certs_check_serving(&s, ca.cert, fewer, 1, T0), CERTS_SANS_DIFFER);
    assert_int_equal(certs_check_serving(&s, ca.cert, more, 3, T0), CERTS_SANS_DIFFER);
    assert_int_equal(certs_check_serving(&s, ca.cert, other_ip, 2, T0), CERTS_SANS_DIFFER);
    cert_pair_clear(&s);
    cert_pair_clear(&ca);
}

static void test_serving_key_mismatch_detected(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 3600);
    struct cert_pair s = make_serving(&ca, T0, 600);
    struct cert_pair mixed = {s.cert, ca.key};

    assert_true(certs_check_serving(&mixed, ca.cert, sans_local, 2, T0) & CERTS_KEY_MISMATCH);
    cert_pair_clear(&s);
    cert_pair_clear(&ca);
}

static void test_bad_sans_refused(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 3600), s;
    struct certs_issue issue = {.now = T0, .lifetime_s = 60};
    const char *const comma[] = {"a.svc,IP:10.0.0.1"};
    const char *const empty_label[] = {"a..svc"};
    struct err err = {0};

    assert_int_equal(certs_make_serving(&ca, &issue, comma, 1, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "a.svc,IP:10.0.0.1"));
    assert_null(s.cert);
    assert_int_equal(certs_make_serving(&ca, &issue, empty_label, 1, &s, &err), -EINVAL);
    assert_int_equal(certs_make_serving(&ca, &issue, NULL, 0, &s, &err), -EINVAL);
    cert_pair_clear(&ca);
}

static void test_zero_lifetime_refused(void **state)
{
    (void)state;
    struct certs_issue issue = {.now = T0, .lifetime_s = 0};
    struct cert_pair ca;
    struct err err = {0};

    assert_int_equal(certs_make_ca(&issue, &ca, &err), -EINVAL);
    assert_null(ca.cert);
    assert_non_null(strstr(err.msg, "lifetime"));
}

static void test_backdate_moves_not_before(void **state)
{
    (void)state;
    struct certs_issue issue = {.now = T0, .lifetime_s = 3600, .backdate_s = 300};
    struct cert_pair ca;
    struct err err = {0};

    assert_int_equal(certs_make_ca(&issue, &ca, &err), 0);
    assert_int_equal(certs_not_before(ca.cert), T0 - 300);
    assert_int_equal(certs_not_after(ca.cert), T0 + 3600);
    cert_pair_clear(&ca);
}

static void test_pem_round_trip_keeps_cert_and_key(void **state)
{
    (void)state;
    struct cert_pair ca = make_ca(T0, 3600), back;
    char *cert_pem = NULL, *key_pem = NULL;
    struct err err = {0};

    assert_int_equal(certs_cert_to_pem(ca.cert, &cert_pem, &err), 0);
    assert_int_equal(certs_key_to_pem(ca.key, &key_pem, &err), 0);
    assert_non_null(strstr(cert_pem, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(key_pem, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(certs_pair_from_pem(cert_pem, strlen(cert_pem), key_pem, strlen(key_pem),
                                         &back, &err), 0);
    assert_true(certs_same(back.cert, ca.cert));
    assert_int_equal(EVP_PKEY_eq(back.key, ca.key), 1);
    assert_int_equal(certs_check_ca(&back, T0), 0);
    free(cert_pem);
    certs_free_secret(key_pem);
    cert_pair_clear(&back);
    cert_pair_clear(&ca);
}

static void test_pem_with_foreign_key_refused(void **state)
{
    (void)state;
    struct cert_pair a = make_ca(T0, 3600), b = make_ca(T0, 3600), back;
    char *cert_pem = NULL, *key_pem = NULL;
    struct err err = {0};

    assert_int_equal(certs_cert_to_pem(a.cert, &cert_pem, &err), 0);
    assert_int_equal(certs_key_to_pem(b.key, &key_pem, &err), 0);
    assert_int_equal(certs_pair_from_pem(cert_pem, strlen(cert_pem), key_pem, strlen(key_pem),
                                         &back, &err), -EINVAL);
    assert_string_equal(err.msg, "private key does not match certificate");
    assert_null(back.cert);
    free(cert_pem);
    certs_free_secret(key_pem);
    cert_pair_clear(&a);
    cert_pair_clear(&b);
}

static void test_pem_garbage_key_error_quotes_nothing(void **state)
{
    (void)state;
    struct cert_pair a = make_ca(T0, 3600), back;
    const char key[] = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n";
    char *cert_pem = NULL;
    struct err err = {0};

    assert_int_equal(certs_cert_to_pem(a.cert, &cert_pem, &err), 0);
    assert_int_equal(certs_pair_from_pem(cert_pem, strlen(cert_pem), key, strlen(key), &back, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "cannot parse private key PEM");
    free(cert_pem);
    cert_pair_clear(&a);
}

static void test_bundle_parses_every_certificate(void **state)
{
    (void)state;
    struct cert_pair a = make_ca(T0, 3600), b = make_ca(T0, 3600);
    char *pa = NULL, *pb = NULL, *bundle = NULL;
    X509 **list = NULL;
    size_t n = 99;
    struct err err = {0};

    assert_int_equal(certs_cert_to_pem(a.cert, &pa, &err), 0);
    assert_int_equal(certs_cert_to_pem(b.cert, &pb, &err), 0);
    assert_true(asprintf(&bundle, "%s\n%s", pa, pb) > 0);
    assert_int_equal(certs_list_from_pem(bundle, strlen(bundle), &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_true(certs_same(list[0], a.cert));
    assert_true(certs_same(list[1], b.cert));
    certs_free_list(list, n);

    assert_int_equal(certs_list_from_pem("", 0, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(certs_list_from_pem(" \n", 2, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    free(bundle);
    cert_pair_clear(&a);
    cert_pair_clear(&b);
    free(pa);
    free(pb);
}

static void test_bundle_with_junk_refused(void **state)
{
    (void)state;
    struct cert_pair a = make_ca(T0, 3600);
    char *pa = NULL, *bundle = NULL;
    X509 **list = NULL;
    size_t n = 0;
    struct err err = {0};

    assert_int_equal(certs_cert_to_pem(a.cert, &pa, &err), 0);
    assert_true(asprintf(&bundle, "%sjunk\n%s", pa, pa) > 0);
    assert_int_equal(certs_list_from_pem(bundle, strlen(bundle), &list, &n, &err), -EINVAL);
    assert_null(list);
    free(bundle);
    assert_true(asprintf(&bundle, "%s-----BEGIN CERTIFICATE-----\nAAAA\n", pa) > 0);
    assert_int_equal(certs_list_from_pem(bundle, strlen(bundle), &list, &n, &err), -EINVAL);
    free(bundle);
    free(pa);
    cert_pair_clear(&a);
}

static void test_serials_are_random_and_positive(void **state)
{
    (void)state;
    struct cert_pair a = make_ca(T0, 3600), b = make_ca(T0, 3600);
    char sa[64], sb[64], tiny[4];

    assert_int_equal(certs_serial_hex(a.cert, sa, sizeof(sa)), 0);
    assert_int_equal(certs_serial_hex(b.cert, sb, sizeof(sb)), 0);
    assert_string_not_equal(sa, sb);
    assert_true(sa[0] != '-');
    assert_int_equal(certs_serial_hex(a.cert, tiny, sizeof(tiny)), -ENOSPC);
    cert_pair_clear(&a);
    cert_pair_clear(&b);
}

static void test_default_sans_cover_service_names(void **state)
{
    (void)state;
    char *sans[4];
    struct err err = {0};

    assert_int_equal(certs_default_sans("azdo-webhook", "ops", sans, &err), 4);
    assert_string_equal(sans[0], "azdo-webhook");
    assert_string_equal(sans[1], "azdo-webhook.ops");
    assert_string_equal(sans[2], "azdo-webhook.ops.svc");
    assert_string_equal(sans[3], "azdo-webhook.ops.svc.cluster.local");
    for (int i = 0; i < 4; i++)
        free(sans[i]);
    assert_int_equal(certs_default_sans("", "ops", sans, &err), -EINVAL);
}

static void test_problem_text_names_each_problem(void **state)
{
    (void)state;
    char buf[128];

    assert_string_equal(certs_problem_text(0, buf, sizeof(buf)), "ok");
    assert_string_equal(certs_problem_text(CERTS_DUE | CERTS_SANS_DIFFER, buf, sizeof(buf)),
                        "due for rotation, sans differ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_is_a_self_signed_signing_ca),
        cmocka_unit_test(test_serving_verifies_against_ca_for_each_san),
        cmocka_unit_test(test_serving_fails_verification_against_another_ca),
        cmocka_unit_test(test_serving_never_outlives_its_ca),
        cmocka_unit_test(test_serving_due_when_a_third_is_left),
        cmocka_unit_test(test_serving_clamped_to_ca_is_not_due),
        cmocka_unit_test(test_ca_due_before_it_expires),
        cmocka_unit_test(test_serving_sans_compared_as_sets),
        cmocka_unit_test(test_serving_key_mismatch_detected),
        cmocka_unit_test(test_bad_sans_refused),
        cmocka_unit_test(test_zero_lifetime_refused),
        cmocka_unit_test(test_backdate_moves_not_before),
        cmocka_unit_test(test_pem_round_trip_keeps_cert_and_key),
        cmocka_unit_test(test_pem_with_foreign_key_refused),
        cmocka_unit_test(test_pem_garbage_key_error_quotes_nothing),
        cmocka_unit_test(test_bundle_parses_every_certificate),
        cmocka_unit_test(test_bundle_with_junk_refused),
        cmocka_unit_test(test_serials_are_random_and_positive),
        cmocka_unit_test(test_default_sans_cover_service_names),
        cmocka_unit_test(test_problem_text_names_each_problem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
