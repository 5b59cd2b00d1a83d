/* test_webhook_server.c - the HTTPS admission server and the health/metrics server, exercised
 * over real sockets on 127.0.0.1 with libcurl.
 *
 * The h2o loop runs on the test's main thread, as in the operator; each request is made by
 * libcurl on a short-lived second thread while the main thread drives the loop until it is
 * done. So the server is only ever touched from one thread, and installing a certificate
 * between two requests needs no locking. TLS is verified against the generated CA, never with
 * an insecure flag. No timing assertions: only outcomes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <h2o.h>
#include <jansson.h>

#include "err.h"
#include "webhook/certs.h"
#include "webhook/metrics.h"
#include "webhook/server.h"

#define MAX_BODY (64 * 1024)

static const char *const sans_local[] = {"127.0.0.1"};

/* ---------------------------------------------------------------- policy: allow, add a default */

static int allow_defaults(const json_t *object, json_t *ops, struct err *err)
{
    (void)object;
    (void)err;
    json_array_append_new(ops, json_pack("{s:s, s:s, s:i}", "op", "add", "path", "/spec/minAgents",
                                         "value", 0));
    return 0;
}

static int allow_validate(const json_t *object, const json_t *old_object,
                          struct field_errors *errors, struct err *err)
{
    (void)object;
    (void)old_object;
    (void)errors;
    (void)err;
    return 0;
}

static const struct admission_policy allow_policy = {allow_defaults, allow_validate};

/* ---------------------------------------------------------------- fixture: server + loop thread */

struct fixture {
    h2o_evloop_t *loop;
    struct webhook_server *server;
    struct metrics *metrics;
    struct metrics_std std;
    struct cert_pair ca, serving;
    char *ca_pem;
    atomic_bool ready; /* read by the loop (ready_cb) and written by tests: same thread now */
    int port, metrics_port;
};

static bool ready_cb(void *cb_data, char *why, size_t size)
{
    struct fixture *f = cb_data;

    if (!atomic_load(&f->ready)) {
        snprintf(why, size, "first list not done");
        return false;
    }
    return true;
}

static void issue_serving(struct fixture *f, const struct cert_pair *ca)
{
    struct certs_issue issue = {.now = time(NULL), .lifetime_s = 3600, .backdate_s = 60};
    struct err err = {0};

    cert_pair_clear(&f->serving);
    assert_int_equal(certs_make_serving(ca, &issue, sans_local, 1, &f->serving, &err), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct certs_issue issue = {.now = time(NULL), .lifetime_s = 86400, .backdate_s = 60};
    struct webhook_server_config cfg = {
        .webhook_addr = "127.0.0.1", .webhook_port = 0,
        .metrics_addr = "127.0.0.1", .metrics_port = 0,
        .max_body_bytes = MAX_BODY, .policy = &allow_policy,
        .ready = ready_cb,
    };
    struct err err = {0};

    signal(SIGPIPE, SIG_IGN);
    f->loop = h2o_evloop_create();
    assert_int_equal(metrics_new(&f->metrics, &err), 0);
    assert_int_equal(metrics_std_register(f->metrics, &f->std, &err), 0);
    cfg.metrics = f->metrics;
    cfg.admission_counter = f->std.admission;
    cfg.ready_data = f;
    assert_int_equal(certs_make_ca(&issue, &f->ca, &err), 0);
    assert_int_equal(certs_cert_to_pem(f->ca.cert, &f->ca_pem, &err), 0);
    issue_serving(f, &f->ca);
    if (webhook_server_start(f->loop, &cfg, &f->server, &err) != 0)
        fail_msg("start: %s", err.msg);
    assert_int_equal(webhook_server_set_tls(f->server, &f->serving, &err), 0);
    f->port = webhook_server_webhook_port(f->server);
    f->metrics_port = webhook_server_metrics_port(f->server);
    assert_true(f->port > 0 && f->metrics_port > 0 && f->port != f->metrics_port);
    *state = f;
    return 0;
}

/* h2o 2.2.5's h2o_multithread_destroy_queue() closes the queue's sockets but never frees the
 * queue itself (88 bytes per h2o_context_init): not ours to fix, so not ours to report. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_multithread_create_queue\n";
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    /* Every curl handle is gone by now: let the server see the closes, then free cleanly. */
    for (int i = 0; i < 500 && webhook_server_connections(f->server) > 0; i++)
        h2o_evloop_run(f->loop, 10);
    assert_int_equal(webhook_server_connections(f->server), 0);
    webhook_server_stop(f->server);
    webhook_server_free(f->server);
    h2o_evloop_run(f->loop, 0); /* reap the closed listener sockets */
    h2o_evloop_destroy(f->loop);
    metrics_free(f->metrics);
    cert_pair_clear(&f->serving);
    cert_pair_clear(&f->ca);
    free(f->ca_pem);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- client helpers */

struct response {
    long status;
    char *body;
    size_t len;
    char serial[128]; /* of the server certificate, from CURLINFO_CERTINFO, "" if none */
    long new_connections;
    CURLcode code;
};

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct response *r = userdata;
    char *grown = realloc(r->body, r->len + size * n + 1);

    if (grown == NULL)
        return 0;
    memcpy(grown + r->len, data, size * n);
    r->len += size * n;
    grown[r->len] = '\0';
    r->body = grown;
    return size * n;
}

static void response_clear(struct response *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static void read_serial(CURL *h, struct response *r)
{
    struct curl_certinfo *ci = NULL;

    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL || ci->num_of_certs < 1)
        return;
    for (struct curl_slist *s = ci->certinfo[0]; s != NULL; s = s->next) {
        if (strncmp(s->data, "Serial Number:", 14) == 0)
            snprintf(r->serial, sizeof(r->serial), "%s", s->data + 14);
    }
}

/* Sends one request on 'h' (reused between calls by the caller for keep-alive tests). 'body'
 * NULL means GET. 'ca_pem' NULL means plain HTTP. */
static void request_blocking(CURL *h, const char *method, const char *url, const char *ca_pem,
                    const char *body, size_t len, struct response *r)
{
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");

    /* An oversized body announces itself first, as curl does for large uploads: the server can
     * refuse it with 413 before any of it is sent. Without this, the server's 413-and-close
     * races the client's upload and the client may see only a reset connection. */
    if (body != NULL && len > MAX_BODY)
        headers = curl_slist_append(headers, "Expect: 100-continue");
    memset(r, 0, sizeof(*r));
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    if (ca_pem != NULL) {
        struct curl_blob blob = {(void *)ca_pem, strlen(ca_pem), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
    }
    r->code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->new_connections);
    if (ca_pem != NULL && r->code == CURLE_OK)
        read_serial(h, r);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
}

struct call {
    CURL *h;
    const char *method, *url, *ca_pem, *body;
    size_t len;
    struct response *r;
    atomic_bool done;
};

static void *call_main(void *arg)
{
    struct call *c = arg;

    request_blocking(c->h, c->method, c->url, c->ca_pem, c->body, c->len, c->r);
    atomic_store(&c->done, true);
    return NULL;
}

/* Makes one request from a second thread while this thread runs the server's loop. */
static void request(h2o_evloop_t *loop, CURL *h, const char *method, const char *url,
                    const char *ca_pem, const char *body, size_t len, struct response *r)
{
    struct call c = {h, method, url, ca_pem, body, len, r, false};
    pthread_t thread;

    assert_int_equal(pthread_create(&thread, NULL, call_main, &c), 0);
    while (!atomic_load(&c.done))
        h2o_evloop_run(loop, 10);
    pthread_join(thread, NULL);
}

static char *https_url(const struct fixture *f, const char *path)
{
    char *url;
    assert_true(asprintf(&url, "https://127.0.0.1:%d%s", f->port, path) > 0);
    return url;
}

static char *http_url(const struct fixture *f, const char *path)
{
    char *url;
    assert_true(asprintf(&url, "http://127.0.0.1:%d%s", f->metrics_port, path) > 0);
    return url;
}

static char *fixture_text(const char *name)
{
    const char *top = getenv("AZDO_SRCDIR");
    char path[1024];
    json_t *doc;
    char *text;

    snprintf(path, sizeof(path), "%s/tests/fixtures/webhook/%s", top != NULL ? top : AZDO_SRCDIR,
             name);
    doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* ---------------------------------------------------------------- tests */

static void test_validate_over_verified_tls_echoes_uid(void **state)
{
    struct fixture *f = *state;
    char *url = https_url(f, "/validate-runnerpool?timeout=10s");
    char *body = fixture_text("review_create.json");
    CURL *h = curl_easy_init();
    struct response r;
    json_t *answer;

    request(f->loop, h, "POST", url, f->ca_pem, body, strlen(body), &r);
    assert_int_equal(r.code, CURLE_OK);
    assert_int_equal(r.status, 200);
    answer = json_loads(r.body, 0, NULL);
    assert_non_null(answer);
    assert_string_equal(json_string_value(json_object_get(json_object_get(answer, "response"), "uid")),
                        "7c1f9a52-2b1e-4c8e-9a4f-0f3d2b6c1e01");
    assert_true(json_is_true(json_object_get(json_object_get(answer, "response"), "allowed")));
    json_decref(answer);
    response_clear(&r);
    curl_easy_cleanup(h);
    free(body);
    free(url);
}

static void test_mutate_returns_json_patch(void **state)
{
    struct fixture *f = *state;
    char *url = https_url(f, "/mutate-runnerpool");
    char *body = fixture_text("review_create.json");
    CURL *h = curl_easy_init();
    struct response r;
    json_t *answer;

    request(f->loop, h, "POST", url, f->ca_pem, body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    answer = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(answer, "response"),
                                                          "patchType")), "JSONPatch");
    assert_non_null(json_string_value(json_object_get(json_object_get(answer, "response"), "patch")));
    json_decref(answer);
    response_clear(&r);
    curl_easy_cleanup(h);
    free(body);
    free(url);
}

static void test_other_ca_is_not_trusted(void **state)
{
    struct fixture *f = *state;
    struct certs_issue issue = {.now = time(NULL), .lifetime_s = 3600};
    struct cert_pair other;
    char *other_pem = NULL, *url = https_url(f, "/validate-runnerpool");
    CURL *h = curl_easy_init();
    struct response r;

    assert_int_equal(certs_make_ca(&issue, &other, NULL), 0);
    assert_int_equal(certs_cert_to_pem(other.cert, &other_pem, NULL), 0);
    request(f->loop, h, "POST", url, other_pem, "{}", 2, &r);
    assert_int_equal(r.code, CURLE_PEER_FAILED_VERIFICATION);
    response_clear(&r);
    curl_easy_cleanup(h);
    cert_pair_clear(&other);
    free(other_pem);
    free(url);
}

static void test_bad_body_gets_400_json(void **state)
{
    struct fixture *f = *state;
    char *url = https_url(f, "/validate-runnerpool");
    CURL *h = curl_easy_init();
    struct response r;
    json_t *answer;

    request(f->loop, h, "POST", url, f->ca_pem, "{not json", 9, &r);
    assert_int_equal(r.status, 400);
    answer = json_loads(r.body, 0, NULL);
    assert_non_null(answer);
    assert_string_equal(json_string_value(json_object_get(answer, "kind")), "Status");
    assert_non_null(strstr(json_string_value(json_object_get(answer, "message")), "not JSON"));
    json_decref(answer);
    response_clear(&r);

    /* The same connection still serves a good request afterwards. */
    request(f->loop, h, "POST", url, f->ca_pem, "", 0, &r);
    assert_int_equal(r.status, 400);
    response_clear(&r);
    curl_easy_cleanup(h);
    free(url);
}

static void test_body_above_cap_gets_413(void **state)
{
    struct fixture *f = *state;
    char *url = https_url(f, "/validate-runnerpool");
    size_t len = MAX_BODY + 1;
    char *big = malloc(len);
    CURL *h = curl_easy_init();
    struct response r;

    memset(big, ' ', len);
    request(f->loop, h, "POST", url, f->ca_pem, big, len, &r);
    assert_int_equal(r.status, 413);
    response_clear(&r);
    curl_easy_cleanup(h);

    /* Exactly at the cap is not refused for its size (it is not JSON, hence 400). */
    h = curl_easy_init();
    request(f->loop, h, "POST", url, f->ca_pem, big, MAX_BODY, &r);
    assert_int_equal(r.status, 400);
    response_clear(&r);
    curl_easy_cleanup(h);
    free(big);
    free(url);
}

static void test_wrong_method_and_path(void **state)
{
    struct fixture *f = *state;
    char *url = https_url(f, "/validate-runnerpool");
    char *other = https_url(f, "/validate-runnerpool/extra");
    char *root = https_url(f, "/");
    CURL *h = curl_easy_init();
    struct response r;

    request(f->loop, h, "GET", url, f->ca_pem, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    response_clear(&r);
    request(f->loop, h, "POST", other, f->ca_pem, "{}", 2, &r);
    assert_int_equal(r.status, 404);
    response_clear(&r);
    request(f->loop, h, "POST", root, f->ca_pem, "{}", 2, &r);
    assert_int_equal(r.status, 404);
    response_clear(&r);
    curl_easy_cleanup(h);
    free(url);
    free(other);
    free(root);
}

static void test_healthz_and_readyz_follow_the_callback(void **state)
{
    struct fixture *f = *state;
    char *health = http_url(f, "/healthz"), *ready = http_url(f, "/readyz");
    CURL *h = curl_easy_init();
    struct response r;

    request(f->loop, h, "GET", health, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    response_clear(&r);

    atomic_store(&f->ready, false);
    request(f->loop, h, "GET", ready, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready: first list not done\n");
    response_clear(&r);

    atomic_store(&f->ready, true);
    request(f->loop, h, "GET", ready, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    response_clear(&r);

    request(f->loop, h, "POST", health, NULL, "x", 1, &r);
    assert_int_equal(r.status, 405);
    response_clear(&r);
    curl_easy_cleanup(h);
    free(health);
    free(ready);
}

/* Checks every line against the text exposition grammar (HELP/TYPE comments, samples). */
static void assert_prometheus_text(const char *text)
{
    regex_t comment, sample;
    const char *line = text;
    int samples = 0;

    assert_int_equal(regcomp(&comment, "^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$",
                             REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal(regcomp(&sample,
                             "^[a-zA-Z_:][a-zA-Z0-9_:]*"
                             "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
                             "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})?"
                             " ([-+]?[0-9.]+([eE][-+]?[0-9]+)?|[-+]Inf|NaN)$",
                             REG_EXTENDED | REG_NOSUB), 0);
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        char buf[1024];
        assert_non_null(nl); /* every line, the last included, ends with \n */
        assert_true((size_t)(nl - line) < sizeof(buf));
        memcpy(buf, line, (size_t)(nl - line));
        buf[nl - line] = '\0';
        if (buf[0] == '#') {
            if (regexec(&comment, buf, 0, NULL, 0) != 0)
                fail_msg("bad comment line: %s", buf);
        } else {
            if (regexec(&sample, buf, 0, NULL, 0) != 0)
                fail_msg("bad sample line: %s", buf);
            samples++;
        }
        line = nl + 1;
    }
    assert_true(samples > 0);
    regfree(&comment);
    regfree(&sample);
}

static void test_metrics_page_is_prometheus_text_and_counts(void **state)
{
    struct fixture *f = *state;
    char *metrics = http_url(f, "/metrics");
    char *url = https_url(f, "/validate-runnerpool");
    char *body = fixture_text("review_create.json");
    CURL *h = curl_easy_init();
    struct response r;
    double before, after;

    /* Series values are read on the test thread only while the loop is paused. */
        metric_set(f->std.pools, 2, "ready");
    metric_inc(f->std.kube_requests, 1, "GET", "200");
    metric_observe(f->std.kube_latency, 0.02, "GET");
    before = metric_value(f->std.admission, "validate", "allowed");
    
    request(f->loop, h, "POST", url, f->ca_pem, body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    response_clear(&r);

    request(f->loop, h, "GET", metrics, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_prometheus_text(r.body);
    assert_non_null(strstr(r.body, "azdo_operator_pools{state=\"ready\"} 2\n"));
    assert_non_null(strstr(r.body, "# TYPE azdo_operator_kube_request_duration_seconds histogram\n"));
    response_clear(&r);

        after = metric_value(f->std.admission, "validate", "allowed");
        assert_true(after == before + 1);
    curl_easy_cleanup(h);
    free(metrics);
    free(url);
    free(body);
}

/* The rotation contract: after set_tls, a new connection presents the new certificate, and a
 * keep-alive connection opened before keeps working on the old one. */
static void test_rotation_new_connections_see_new_serial_old_ones_survive(void **state)
{
    struct fixture *f = *state;
    char *url = https_url(f, "/validate-runnerpool");
    char *body = fixture_text("review_create.json");
    CURL *old_conn = curl_easy_init(), *new_conn = curl_easy_init();
    char old_serial[128], new_serial[128];
    struct response r;
    struct err err = {0};

    assert_int_equal(certs_serial_hex(f->serving.cert, old_serial, sizeof(old_serial)), 0);
    request(f->loop, old_conn, "POST", url, f->ca_pem, body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 1);
    assert_true(strcasecmp(r.serial, old_serial) == 0);
    response_clear(&r);

        issue_serving(f, &f->ca);
    assert_int_equal(webhook_server_set_tls(f->server, &f->serving, &err), 0);
        assert_int_equal(certs_serial_hex(f->serving.cert, new_serial, sizeof(new_serial)), 0);
    assert_string_not_equal(old_serial, new_serial);

    request(f->loop, new_conn, "POST", url, f->ca_pem, body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 1);
    if (strcasecmp(r.serial, new_serial) != 0)
        fail_msg("new connection saw serial '%s', want '%s'", r.serial, new_serial);
    response_clear(&r);

    /* The keep-alive connection is reused (no new connect) and still answers. */
    request(f->loop, old_conn, "POST", url, f->ca_pem, body, strlen(body), &r);
    assert_int_equal(r.code, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 0);
    response_clear(&r);

    curl_easy_cleanup(old_conn);
    curl_easy_cleanup(new_conn);
    free(url);
    free(body);
}

static void test_rotation_to_a_new_ca_trusted_through_a_two_ca_bundle(void **state)
{
    struct fixture *f = *state;
    struct certs_issue issue = {.now = time(NULL), .lifetime_s = 86400};
    struct cert_pair new_ca;
    char *new_pem = NULL, *bundle = NULL, *url = https_url(f, "/validate-runnerpool");
    char *body = fixture_text("review_create.json");
    CURL *h = curl_easy_init();
    struct response r;

    assert_int_equal(certs_make_ca(&issue, &new_ca, NULL), 0);
    assert_int_equal(certs_cert_to_pem(new_ca.cert, &new_pem, NULL), 0);
    assert_true(asprintf(&bundle, "%s%s", new_pem, f->ca_pem) > 0);

    /* A client holding the bundle [new, old] accepts both the old and the new serving cert. */
    request(f->loop, h, "POST", url, bundle, body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    response_clear(&r);
    curl_easy_cleanup(h);

        issue_serving(f, &new_ca);
    assert_int_equal(webhook_server_set_tls(f->server, &f->serving, NULL), 0);
    
    h = curl_easy_init();
    request(f->loop, h, "POST", url, bundle, body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    response_clear(&r);
    curl_easy_cleanup(h);

    /* And one that only knows the old CA does not: why the bundle must be published first. */
    h = curl_easy_init();
    request(f->loop, h, "POST", url, f->ca_pem, body, strlen(body), &r);
    assert_int_equal(r.code, CURLE_PEER_FAILED_VERIFICATION);
    response_clear(&r);
    curl_easy_cleanup(h);

    /* Back to the fixture's CA for the tests that follow. */
        issue_serving(f, &f->ca);
    assert_int_equal(webhook_server_set_tls(f->server, &f->serving, NULL), 0);
        cert_pair_clear(&new_ca);
    free(new_pem);
    free(bundle);
    free(body);
    free(url);
}

/* A server without a certificate closes HTTPS connections and says why it is not ready. It
 * shares the fixture's loop with the first server: two servers compose on one loop. */
static void test_without_certificate_not_ready_and_closes(void **state)
{
    struct fixture *f = *state;
    h2o_evloop_t *loop = f->loop;
    struct webhook_server_config cfg = {.webhook_addr = "127.0.0.1", .webhook_port = 0,
                                        .metrics_addr = "127.0.0.1", .metrics_port = 0,
                                        .policy = &allow_policy};
    struct webhook_server *s;
    struct fixture g = {.loop = loop};
    struct response r;
    CURL *h;
    char *url;

    assert_int_equal(webhook_server_start(loop, &cfg, &s, NULL), 0);
    assert_false(webhook_server_has_tls(s));
    g.port = webhook_server_webhook_port(s);
    g.metrics_port = webhook_server_metrics_port(s);

    h = curl_easy_init();
    url = http_url(&g, "/readyz");
    request(f->loop, h, "GET", url, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready: no serving certificate yet\n");
    response_clear(&r);
    curl_easy_cleanup(h);
    free(url);

    h = curl_easy_init();
    url = https_url(&g, "/validate-runnerpool");
    request(f->loop, h, "POST", url, f->ca_pem, "{}", 2, &r);
    assert_int_not_equal(r.code, CURLE_OK);
    response_clear(&r);
    curl_easy_cleanup(h);
    free(url);

    for (int i = 0; i < 500 && webhook_server_connections(s) > 0; i++)
        h2o_evloop_run(loop, 10);
    assert_int_equal(webhook_server_connections(s), 0);
    webhook_server_stop(s);
    webhook_server_free(s);
    h2o_evloop_run(loop, 0);
}

static void test_start_errors_name_the_address(void **state)
{
    struct fixture *f = *state;
    h2o_evloop_t *loop = h2o_evloop_create();
    struct webhook_server_config bad = {.webhook_addr = "not-an-ip", .webhook_port = 0,
                                        .metrics_port = -1};
    struct webhook_server_config busy = {.webhook_addr = "127.0.0.1", .webhook_port = -1,
                                         .metrics_addr = "127.0.0.1",
                                         .metrics_port = f->metrics_port};
    struct webhook_server *s = NULL;
    struct err err = {0};

    assert_int_equal(webhook_server_start(loop, &bad, &s, &err), -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err.msg, "not-an-ip"));
    assert_int_equal(webhook_server_start(loop, &busy, &s, &err), -EADDRINUSE);
    assert_non_null(strstr(err.msg, "cannot bind 127.0.0.1:"));
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_over_verified_tls_echoes_uid),
        cmocka_unit_test(test_mutate_returns_json_patch),
        cmocka_unit_test(test_other_ca_is_not_trusted),
        cmocka_unit_test(test_bad_body_gets_400_json),
        cmocka_unit_test(test_body_above_cap_gets_413),
        cmocka_unit_test(test_wrong_method_and_path),
        cmocka_unit_test(test_healthz_and_readyz_follow_the_callback),
        cmocka_unit_test(test_metrics_page_is_prometheus_text_and_counts),
        cmocka_unit_test(test_rotation_new_connections_see_new_serial_old_ones_survive),
        cmocka_unit_test(test_rotation_to_a_new_ca_trusted_through_a_two_ca_bundle),
        cmocka_unit_test(test_without_certificate_not_ready_and_closes),
        cmocka_unit_test(test_start_errors_name_the_address),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
