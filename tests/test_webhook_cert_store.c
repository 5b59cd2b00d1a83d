/* test_webhook_cert_store.c - certificates kept in a Secret and caBundle, rotated on a fake clock
 * against a fake Kubernetes API (an in-memory object map with resourceVersions; completions are
 * queued and delivered by fake_pump, like the real asynchronous client).
 *
 * The property that matters: once the webhook has been ready, every moment afterwards the
 * certificate the server presents is valid and chains to a CA in every caBundle of every
 * webhook. check_trust() asserts it after each write and each TLS install. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "err.h"
#include "log.h"
#include "webhook/cert_store.h"
#include "webhook/metrics.h"

#define T0 ((time_t)1750000000)
#define VWC "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/azdo-runner-operator"
#define MWC "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/azdo-runner-operator"
#define SECRET "/api/v1/namespaces/ops/secrets/azdo-runner-operator-webhook-certs"

static time_t fake_now;
static time_t fake_clock(void)
{
    return fake_now;
}

static const char *const sans[] = {"azdo-webhook.ops.svc", "127.0.0.1"};

/* ---------------------------------------------------------------- fake API */

struct completion {
    cert_store_kube_done done;
    void *data;
    int status;
    json_t *body;
};

struct fake {
    json_t *objects; /* path -> object */
    int rv;
    struct completion queue[64];
    size_t head, tail;
    int fail_next_put; /* HTTP status to answer the next PUT with, 0: none */
    int writes, installs;
    struct cert_pair installed;
    struct cert_store *store; /* for check_trust: only once ready */
    bool checks_on;
    int trust_checks;
};

static void enqueue(struct fake *f, cert_store_kube_done done, void *data, int status, json_t *body)
{
    assert_true(f->tail - f->head < 64);
    f->queue[f->tail % 64] = (struct completion){done, data, status, body};
    f->tail++;
}

static void check_trust(struct fake *f);

static int fake_get(void *kube_data, const char *path, cert_store_kube_done done, void *done_data)
{
    struct fake *f = kube_data;
    json_t *obj = json_object_get(f->objects, path);

    enqueue(f, done, done_data, obj != NULL ? 200 : 404, obj != NULL ? json_deep_copy(obj) : NULL);
    return 0;
}

static void store_object(struct fake *f, const char *path, const json_t *body)
{
    json_t *copy = json_deep_copy(body);
    char rv[32];

    snprintf(rv, sizeof(rv), "%d", ++f->rv);
    json_object_set_new(json_object_get(copy, "metadata"), "resourceVersion", json_string(rv));
    json_object_set_new(f->objects, path, copy);
    f->writes++;
}

static int fake_put(void *kube_data, const char *path, const json_t *body, cert_store_kube_done done,
                    void *done_data)
{
    struct fake *f = kube_data;
    json_t *cur = json_object_get(f->objects, path);
    const char *want = json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    const char *got = json_string_value(json_object_get(json_object_get(body, "metadata"), "resourceVersion"));

    if (f->fail_next_put != 0) {
        enqueue(f, done, done_data, f->fail_next_put, NULL);
        f->fail_next_put = 0;
        return 0;
    }
    if (cur == NULL) {
        enqueue(f, done, done_data, 404, NULL);
        return 0;
    }
    if (got == NULL || strcmp(want, got) != 0) {
        enqueue(f, done, done_data, 409, NULL);
        return 0;
    }
    store_object(f, path, body);
    check_trust(f);
    enqueue(f, done, done_data, 200, json_deep_copy(json_object_get(f->objects, path)));
    return 0;
}

static int fake_post(void *kube_data, const char *path, const json_t *body, cert_store_kube_done done,
                     void *done_data)
{
    struct fake *f = kube_data;
    char full[512];

    snprintf(full, sizeof(full), "%s/%s", path,
             json_string_value(json_object_get(json_object_get(body, "metadata"), "name")));
    if (json_object_get(f->objects, full) != NULL) {
        enqueue(f, done, done_data, 409, NULL);
        return 0;
    }
    store_object(f, full, body);
    check_trust(f);
    enqueue(f, done, done_data, 201, json_deep_copy(json_object_get(f->objects, full)));
    return 0;
}

static void fake_pump(struct fake *f)
{
    while (f->head != f->tail) {
        struct completion c = f->queue[f->head % 64];
        f->head++;
        c.done(c.data, c.status, c.body, NULL);
        json_decref(c.body);
    }
}

static int fake_install(void *cb_data, const struct cert_pair *serving, struct err *err)
{
    struct fake *f = cb_data;

    (void)err;
    cert_pair_clear(&f->installed);
    f->installed.cert = serving->cert;
    f->installed.key = serving->key;
    X509_up_ref(serving->cert);
    EVP_PKEY_up_ref(serving->key);
    f->installs++;
    check_trust(f);
    return 0;
}

static json_t *webhook_config(const char *kind)
{
    return json_pack("{s:s, s:s, s:{s:s}, s:[{s:s, s:{s:{s:s, s:s}}}, {s:s, s:{s:{s:s, s:s}}}]}",
                     "apiVersion", "admissionregistration.k8s.io/v1", "kind", kind, "metadata",
                     "name", "azdo-runner-operator", "webhooks",
                     "name", "vrunnerpool.devops.opentools.mf", "clientConfig", "service", "name",
                     "azdo-webhook", "namespace", "ops",
                     "name", "vrunnerpool2.devops.opentools.mf", "clientConfig", "service", "name",
                     "azdo-webhook", "namespace", "ops");
}

static struct fake *fake_new(bool with_configs)
{
    struct fake *f = calloc(1, sizeof(*f));

    f->objects = json_object();
    if (with_configs) {
        json_t *v = webhook_config("ValidatingWebhookConfiguration");
        json_t *m = webhook_config("MutatingWebhookConfiguration");
        store_object(f, VWC, v);
        store_object(f, MWC, m);
        json_decref(v);
        json_decref(m);
    }
    f->writes = 0;
    return f;
}

static void fake_free(struct fake *f)
{
    json_decref(f->objects);
    cert_pair_clear(&f->installed);
    free(f);
}

/* Every webhook's caBundle of 'path' (if the configuration exists) must trust the installed
 * certificate at fake_now. */
static void check_config_trusts(struct fake *f, const char *path)
{
    const json_t *hooks = json_object_get(json_object_get(f->objects, path), "webhooks");

    for (size_t i = 0; i < json_array_size(hooks); i++) {
        const char *b64 = json_string_value(json_object_get(
            json_object_get(json_array_get(hooks, i), "clientConfig"), "caBundle"));
        unsigned char pem[8192];
        X509 **cas = NULL;
        size_t n = 0;
        int len;

        if (b64 == NULL)
            fail_msg("%s webhooks[%zu] has no caBundle while the webhook is in use", path, i);
        len = EVP_DecodeBlock(pem, (const unsigned char *)b64, (int)strlen(b64));
        assert_true(len > 0);
        while (len > 0 && pem[len - 1] == '\0')
            len--;
        assert_int_equal(certs_list_from_pem((const char *)pem, (size_t)len, &cas, &n, NULL), 0);

        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        for (size_t k = 0; k < n; k++)
            X509_STORE_add_cert(store, cas[k]);
        X509_STORE_CTX_init(ctx, store, f->installed.cert, NULL);
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), fake_now);
        X509_VERIFY_PARAM_set1_ip_asc(X509_STORE_CTX_get0_param(ctx), "127.0.0.1");
        if (X509_verify_cert(ctx) != 1)
            fail_msg("at T0+%lld: %s webhooks[%zu] caBundle (%zu CAs) does not trust the installed "
                     "certificate: %s", (long long)(fake_now - T0), path, i, n,
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        certs_free_list(cas, n);
    }
}

static void check_trust(struct fake *f)
{
    if (!f->checks_on)
        return;
    assert_non_null(f->installed.cert);
    check_config_trusts(f, VWC);
    check_config_trusts(f, MWC);
    f->trust_checks++;
}

/* ---------------------------------------------------------------- helpers */

static struct cert_store_config config(void)
{
    struct cert_store_config cfg = {
        .namespace = "ops", .sans = sans, .n_sans = 2,
        .ca_lifetime_s = 120, .serving_lifetime_s = 30, .backdate_s = 0,
        .propagation_s = 5, .clock = fake_clock,
    };
    return cfg;
}

static struct cert_store *store_new(struct fake *f, const struct cert_store_config *cfg,
                                    struct metrics_std *std)
{
    struct cert_store_kube kube = {fake_get, fake_put, fake_post, f};
    struct cert_store *cs;
    struct err err = {0};

    if (cert_store_new(cfg, &kube, fake_install, f, std, &cs, &err) != 0)
        fail_msg("cert_store_new: %s", err.msg);
    f->store = cs;
    return cs;
}

static void sync_now(struct fake *f, struct cert_store *cs)
{
    struct err err = {0};

    cert_store_sync(cs);
    fake_pump(f);
    assert_false(cert_store_busy(cs));
    if (cert_store_last_error(cs, &err) != 0)
        fail_msg("sync failed: %s", err.msg);
}

static void secret_pair(struct fake *f, const char *crt, const char *key, struct cert_pair *out)
{
    struct cert_store_view v = {0};

    cert_store_view_read_secret(&v, json_object_get(f->objects, SECRET));
    if (strcmp(crt, "ca.crt") == 0) {
        out->cert = v.ca.cert;
        out->key = v.ca.key;
        v.ca.cert = NULL;
        v.ca.key = NULL;
    } else {
        out->cert = v.serving.cert;
        out->key = v.serving.key;
        v.serving.cert = NULL;
        v.serving.key = NULL;
    }
    (void)key;
    cert_store_view_clear(&v);
}

static size_t bundle_size(struct fake *f, const char *path)
{
    struct cert_store_view v = {0};
    size_t n;

    cert_store_view_read_config(&v, CERT_STORE_VALIDATING, json_object_get(f->objects, path));
    n = v.configs[0].uniform ? v.configs[0].n_common : 0;
    cert_store_view_clear(&v);
    return n;
}

/* ---------------------------------------------------------------- tests */

static void test_first_start_creates_secret_injects_bundle_installs_tls(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct metrics *m;
    struct metrics_std std;
    struct cert_store *cs;
    struct cert_pair ca = {0}, serving = {0};

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_std_register(m, &std, NULL), 0);
    fake_now = T0;
    cs = store_new(f, &cfg, &std);
    assert_false(cert_store_ready(cs));
    sync_now(f, cs);

    assert_true(cert_store_ready(cs));
    assert_int_equal(f->writes, 3); /* Secret, then both configurations */
    assert_int_equal(f->installs, 1);
    secret_pair(f, "ca.crt", "ca.key", &ca);
    secret_pair(f, "tls.crt", "tls.key", &serving);
    assert_non_null(ca.cert);
    assert_true(certs_same(serving.cert, f->installed.cert));
    assert_int_equal(certs_check_serving(&serving, ca.cert, sans, 2, fake_now), 0);
    assert_int_equal(bundle_size(f, VWC), 1);
    assert_int_equal(bundle_size(f, MWC), 1);
    f->checks_on = true;
    check_trust(f);
    assert_true(metric_value(std.cert_expiry, "serving") == (double)(T0 + 30));
    assert_true(metric_value(std.cert_expiry, "ca") == (double)(T0 + 120));
    assert_true(metric_value(std.cert_rotations, "ca") == 1);
    assert_int_equal(cert_store_next_check(cs), T0 + 20);

    cert_pair_clear(&ca);
    cert_pair_clear(&serving);
    cert_store_free(cs);
    metrics_free(m);
    fake_free(f);
}

static void test_restart_reuses_secret_without_writing(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;
    X509 *first;

    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    first = f->installed.cert;
    X509_up_ref(first);
    cert_store_free(cs);

    /* A new process: same Secret, nothing installed yet. */
    fake_now = T0 + 3;
    f->writes = 0;
    cert_pair_clear(&f->installed);
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    assert_int_equal(f->writes, 0);
    assert_true(certs_same(f->installed.cert, first));
    assert_true(cert_store_ready(cs));
    X509_free(first);
    cert_store_free(cs);
    fake_free(f);
}

static void test_serving_rotates_at_a_third_keeping_the_ca(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;
    struct cert_pair ca1 = {0}, ca2 = {0};
    X509 *first;

    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    f->checks_on = true;
    secret_pair(f, "ca.crt", "ca.key", &ca1);
    first = f->installed.cert;
    X509_up_ref(first);

    fake_now = T0 + 19; /* before the third: nothing */
    f->writes = 0;
    sync_now(f, cs);
    assert_int_equal(f->writes, 0);

    fake_now = cert_store_next_check(cs); /* T0 + 20 */
    sync_now(f, cs);
    assert_int_equal(f->writes, 1); /* the Secret only: the CA did not change */
    assert_false(certs_same(f->installed.cert, first));
    secret_pair(f, "ca.crt", "ca.key", &ca2);
    assert_true(certs_same(ca1.cert, ca2.cert));
    X509_free(first);
    cert_pair_clear(&ca1);
    cert_pair_clear(&ca2);
    cert_store_free(cs);
    fake_free(f);
}

/* Several CA and serving rotations while time advances in small steps; check_trust runs after
 * every write and install, so any moment where the presented certificate is not trusted by a
 * published caBundle fails the test. */
static void test_rotations_never_leave_an_untrusted_certificate(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct metrics *m;
    struct metrics_std std;
    struct cert_store *cs;
    int installs_before;

    assert_int_equal(metrics_new(&m, NULL), 0);
    assert_int_equal(metrics_std_register(m, &std, NULL), 0);
    fake_now = T0;
    cs = store_new(f, &cfg, &std);
    sync_now(f, cs);
    f->checks_on = true;
    installs_before = f->installs;

    for (fake_now = T0 + 2; fake_now < T0 + 4 * 120; fake_now += 2) {
        sync_now(f, cs);
        /* Valid now, and trusted (checked inside the fake at each change and here). */
        assert_true(certs_not_before(f->installed.cert) <= fake_now);
        assert_true(fake_now < certs_not_after(f->installed.cert));
        check_trust(f);
        assert_true(cert_store_next_check(cs) > fake_now);
    }
    assert_true(metric_value(std.cert_rotations, "ca") >= 3);
    assert_true(metric_value(std.cert_rotations, "serving") >= 10);
    assert_true(f->installs - installs_before >= 10);
    /* Settled: one CA published, not two. */
    fake_now += 2 * cfg.propagation_s;
    sync_now(f, cs);
    assert_true(bundle_size(f, VWC) >= 1);
    assert_true(f->trust_checks > 100);
    cert_store_free(cs);
    metrics_free(m);
    fake_free(f);
}

static void test_ca_roll_order_publishes_before_switching(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;
    struct cert_pair ca_a = {0}, ca_b = {0}, s = {0};

    /* Serving certificates clamped to their CA, so only the CA roll moves them here. */
    cfg.serving_lifetime_s = 1000;
    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    f->checks_on = true;
    secret_pair(f, "ca.crt", "ca.key", &ca_a);

    /* CA due at T0+80: new CA B, bundles [B, A], serving still from A (propagation 5 s). */
    fake_now = T0 + 80;
    sync_now(f, cs);
    secret_pair(f, "ca.crt", "ca.key", &ca_b);
    assert_false(certs_same(ca_a.cert, ca_b.cert));
    assert_int_equal(bundle_size(f, VWC), 2);
    assert_int_equal(bundle_size(f, MWC), 2);
    assert_true(certs_signed_by(f->installed.cert, ca_a.cert));

    /* After propagation: serving from B; A still published. */
    fake_now = T0 + 85;
    sync_now(f, cs);
    assert_true(certs_signed_by(f->installed.cert, ca_b.cert));
    assert_int_equal(bundle_size(f, VWC), 2);

    /* After another propagation delay: A retired everywhere. */
    fake_now = T0 + 90;
    sync_now(f, cs);
    assert_int_equal(bundle_size(f, VWC), 1);
    assert_int_equal(bundle_size(f, MWC), 1);
    secret_pair(f, "tls.crt", "tls.key", &s);
    assert_true(certs_same(s.cert, f->installed.cert));
    cert_pair_clear(&ca_a);
    cert_pair_clear(&ca_b);
    cert_pair_clear(&s);
    cert_store_free(cs);
    fake_free(f);
}

static void test_overwritten_ca_bundle_is_reinjected(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;
    json_t *fresh;

    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);

    /* `kubectl apply` of the manifest, which has no caBundle. */
    fresh = webhook_config("ValidatingWebhookConfiguration");
    store_object(f, VWC, fresh);
    json_decref(fresh);
    assert_int_equal(bundle_size(f, VWC), 0);
    sync_now(f, cs);
    assert_int_equal(bundle_size(f, VWC), 1);
    f->checks_on = true;
    check_trust(f);
    cert_store_free(cs);
    fake_free(f);
}

static void test_conflict_on_write_rereads_and_converges(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;

    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    fake_now = T0 + 20;
    f->fail_next_put = 409;
    sync_now(f, cs);
    assert_true(certs_not_after(f->installed.cert) == T0 + 50);
    cert_store_free(cs);
    fake_free(f);
}

static void test_server_error_is_reported_and_retried_later(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;
    struct err err = {0};

    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    fake_now = T0 + 20;
    f->fail_next_put = 500;
    cert_store_sync(cs);
    fake_pump(f);
    assert_int_equal(cert_store_last_error(cs, &err), -EIO);
    assert_non_null(strstr(err.msg, "500"));
    sync_now(f, cs); /* the next sync succeeds */
    assert_true(certs_not_after(f->installed.cert) == T0 + 50);
    cert_store_free(cs);
    fake_free(f);
}

static void test_missing_configurations_are_skipped(void **state)
{
    (void)state;
    struct fake *f = fake_new(false);
    struct cert_store_config cfg = config();
    struct cert_store *cs;

    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    assert_true(cert_store_ready(cs));
    assert_int_equal(f->writes, 1);
    assert_int_equal(f->installs, 1);
    cert_store_free(cs);
    fake_free(f);
}

static void test_unreadable_secret_is_replaced(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;
    json_t *junk = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "apiVersion", "v1", "kind",
                             "Secret", "metadata", "name", "azdo-runner-operator-webhook-certs",
                             "data", "ca.crt", "bm90IGEgY2VydA==", "ca.key", "!!!");

    store_object(f, SECRET, junk);
    json_decref(junk);
    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    assert_true(cert_store_ready(cs));
    f->checks_on = true;
    check_trust(f);
    cert_store_free(cs);
    fake_free(f);
}

static void test_changed_sans_reissue_serving_only(void **state)
{
    (void)state;
    static const char *const more[] = {"azdo-webhook.ops.svc", "127.0.0.1", "azdo-webhook.ops"};
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;

    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    cert_store_free(cs);

    cfg.sans = more;
    cfg.n_sans = 3;
    f->writes = 0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    assert_int_equal(f->writes, 1);
    assert_int_equal(certs_check_serving(&f->installed, NULL, more, 3, fake_now), 0);
    cert_store_free(cs);
    fake_free(f);
}

static void test_expired_ca_is_replaced_without_keeping_it(void **state)
{
    (void)state;
    struct cert_store_config cfg = config();
    struct certs_issue issue = {.now = T0, .lifetime_s = 100};
    struct cert_store_view v = {0};
    struct cert_store_step step;

    assert_int_equal(certs_make_ca(&issue, &v.ca, NULL), 0);
    v.secret_found = true;
    assert_int_equal(cert_store_plan(&cfg, &v, T0 + 500, &step, NULL), 0);
    assert_int_equal(step.action, CERT_STORE_WRITE_SECRET);
    assert_true(step.issued_ca && step.issued_serving);
    assert_null(step.ca_prev);
    assert_string_equal(step.reason, "ca invalid");
    cert_store_step_clear(&step);
    cert_store_view_clear(&v);
}

static void test_config_rejects_propagation_longer_than_a_third(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store_kube kube = {fake_get, fake_put, fake_post, f};
    struct cert_store *cs;
    struct err err = {0};

    cfg.propagation_s = 40;
    assert_int_equal(cert_store_new(&cfg, &kube, fake_install, f, NULL, &cs, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "propagation"));
    fake_free(f);
}

static void test_logs_never_carry_private_keys(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    struct cert_store_config cfg = config();
    struct cert_store *cs;
    char path[] = "/tmp/test_webhook_cert_store_log_XXXXXX";
    int fd = mkstemp(path);
    char buf[65536];
    ssize_t n;

    assert_true(fd >= 0);
    log_set_fd(fd);
    fake_now = T0;
    cs = store_new(f, &cfg, NULL);
    sync_now(f, cs);
    for (fake_now = T0 + 10; fake_now < T0 + 200; fake_now += 10)
        sync_now(f, cs);
    log_set_fd(STDERR_FILENO);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    unlink(path);
    assert_true(n > 0); /* rotations were logged */
    buf[n] = '\0';
    assert_null(strstr(buf, "PRIVATE KEY"));
    assert_null(strstr(buf, "LS0tLS1CRUdJTiBQUklWQVRF")); /* base64 of "-----BEGIN PRIVATE" */
    assert_non_null(strstr(buf, "webhook certificates updated"));
    cert_store_free(cs);
    fake_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_start_creates_secret_injects_bundle_installs_tls),
        cmocka_unit_test(test_restart_reuses_secret_without_writing),
        cmocka_unit_test(test_serving_rotates_at_a_third_keeping_the_ca),
        cmocka_unit_test(test_rotations_never_leave_an_untrusted_certificate),
        cmocka_unit_test(test_ca_roll_order_publishes_before_switching),
        cmocka_unit_test(test_overwritten_ca_bundle_is_reinjected),
        cmocka_unit_test(test_conflict_on_write_rereads_and_converges),
        cmocka_unit_test(test_server_error_is_reported_and_retried_later),
        cmocka_unit_test(test_missing_configurations_are_skipped),
        cmocka_unit_test(test_unreadable_secret_is_replaced),
        cmocka_unit_test(test_changed_sans_reissue_serving_only),
        cmocka_unit_test(test_expired_ca_is_replaced_without_keeping_it),
        cmocka_unit_test(test_config_rejects_propagation_longer_than_a_third),
        cmocka_unit_test(test_logs_never_carry_private_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
