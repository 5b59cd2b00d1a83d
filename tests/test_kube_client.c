/* test_kube_client.c - Kubernetes verbs against a fake API server on 127.0.0.1: Status parsing,
 * outcomes (404, 409 AlreadyExists, 409 Conflict), pagination, patch types, delete options,
 * token re-read on 401 (src/kube/client.c, verbs.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/client.h"
#include "test_http_fake.h"

#define POD_PATH "/api/v1/namespaces/ci/pods"
#define RP_PATH "/apis/devops.opentools.mf/v1/namespaces/ci/runnerpools"

struct script {
    char token_path[128];
    int unauthorized;
};

static const char *status_json(int code, const char *reason, const char *message)
{
    static __thread char buf[512];

    snprintf(buf, sizeof(buf),
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
             message, reason, code);
    return buf;
}

static void handler(struct fake_conn *c, const struct fake_req *req, void *data)
{
    struct script *s = data;
    const char *t = req->target;

    if (strcmp(t, POD_PATH "/p1") == 0 && strcmp(req->method, "GET") == 0) {
        fake_respond(c, 200, NULL, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\"}}");
    } else if (strcmp(t, POD_PATH "/missing") == 0) {
        fake_respond(c, 404, NULL, status_json(404, "NotFound", "pods \\\"missing\\\" not found"));
    } else if (strcmp(t, POD_PATH) == 0 && strcmp(req->method, "POST") == 0) {
        fake_respond(c, 409, NULL, status_json(409, "AlreadyExists", "pods \\\"p1\\\" already exists"));
    } else if (strcmp(t, RP_PATH "/a") == 0 && strcmp(req->method, "PUT") == 0) {
        fake_respond(c, 409, NULL,
                     status_json(409, "Conflict", "Operation cannot be fulfilled on runnerpools"));
    } else if (strncmp(t, RP_PATH "/a/status", strlen(RP_PATH "/a/status")) == 0) {
        /* Echo what the server saw so the test can check the patch type and body. */
        char body[1024];
        const char *ct = strstr(req->headers, "Content-Type: ");
        char ctv[64] = "";

        if (ct != NULL)
            sscanf(ct + 14, "%63[^\r]", ctv);
        snprintf(body, sizeof(body), "{\"method\":\"%s\",\"ct\":\"%s\",\"body\":%s}", req->method,
                 ctv, req->body_len > 0 ? req->body : "null");
        fake_respond(c, 200, NULL, body);
    } else if (strncmp(t, POD_PATH "/gone", strlen(POD_PATH "/gone")) == 0) {
        fake_respond(c, 200, NULL, req->body); /* DELETE: echo the DeleteOptions */
    } else if (strncmp(t, POD_PATH "?", strlen(POD_PATH "?")) == 0) {
        if (strstr(t, "continue=tok%2F1") != NULL)
            fake_respond(c, 200, NULL,
                         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"101\"},"
                         "\"items\":[{\"metadata\":{\"name\":\"c\"}}]}");
        else
            fake_respond(c, 200, NULL,
                         "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"100\","
                         "\"continue\":\"tok/1\",\"remainingItemCount\":1},"
                         "\"items\":[{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"b\"}}]}");
    } else if (strcmp(t, "/throttle") == 0) {
        fake_respond(c, 429, "Retry-After: 3\r\n", status_json(429, "TooManyRequests", "slow down"));
    } else if (strcmp(t, "/auth") == 0) {
        if (strstr(req->headers, "Authorization: Bearer new-token") != NULL) {
            fake_respond(c, 200, NULL, "{\"ok\":true}");
        } else {
            /* The kubelet rotates the token just as the old one is refused. */
            FILE *f = fopen(s->token_path, "w");
            fputs("new-token\n", f);
            fclose(f);
            s->unauthorized++;
            fake_respond(c, 401, NULL, status_json(401, "Unauthorized", "Unauthorized"));
        }
    } else if (strcmp(t, "/hang") == 0) {
        fake_wait_stop(c, 30000);
        fake_drop(c);
    } else {
        fake_respond(c, 404, NULL, status_json(404, "NotFound", "no route"));
    }
}

struct fixture {
    struct script script;
    struct fake_http *fake;
    struct loop *loop;
    struct http *http;
    struct kube *kube;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct kube_config *cfg = NULL;
    FILE *f;

    snprintf(fx->script.token_path, sizeof(fx->script.token_path), "/tmp/test_kube_client.%d",
             (int)getpid());
    f = fopen(fx->script.token_path, "w");
    fputs("old-token\n", f);
    fclose(f);
    fx->fake = fake_http_start(handler, &fx->script);
    assert_int_equal(loop_new(&fx->loop, NULL), 0);
    assert_int_equal(http_new(fx->loop, &fx->http, NULL), 0);
    assert_int_equal(kube_config_from_url(fake_http_url(fx->fake), &cfg, NULL), 0);
    cfg->token_file = strdup(fx->script.token_path);
    assert_int_equal(kube_new_take(fx->loop, fx->http, cfg, &fx->kube, NULL), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    kube_free(fx->kube);
    http_free(fx->http);
    fake_http_stop(fx->fake);
    loop_free(fx->loop);
    unlink(fx->script.token_path);
    free(fx);
    return 0;
}

struct got {
    bool done;
    int calls;
    enum kube_outcome outcome;
    long http_status;
    struct kube_status status;
    int retry_after_s;
    int err_code;
    json_t *obj;
};

static void on_done(const struct kube_result *res, void *cb_data)
{
    struct got *g = cb_data;

    g->done = true;
    g->calls++;
    g->outcome = res->outcome;
    g->http_status = res->http_status;
    g->status = res->status;
    g->retry_after_s = res->retry_after_s;
    g->err_code = res->err.code;
    g->obj = json_incref(res->obj);
}

static void run(struct fixture *fx, struct got *g)
{
    assert_int_equal(loop_run_until(fx->loop, &g->done, 10000), 0);
    assert_int_equal(g->calls, 1);
}

static void test_get_returns_the_object(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};

    assert_int_equal(kube_get(fx->kube, &KUBE_PODS, "ci", "p1", on_done, &g, NULL, NULL), 0);
    assert_false(g.done); /* never synchronously */
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(g.obj, "metadata"),
                                                          "name")), "p1");
    assert_int_equal(kube_stats(fx->kube)->status_2xx, 1);
    json_decref(g.obj);
}

static void test_404_is_not_found_with_the_server_status(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};

    assert_int_equal(kube_get(fx->kube, &KUBE_PODS, "ci", "missing", on_done, &g, NULL, NULL), 0);
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_NOT_FOUND);
    assert_int_equal(g.status.code, 404);
    assert_string_equal(g.status.reason, "NotFound");
    assert_string_equal(g.status.message, "pods \"missing\" not found");
    assert_int_equal(g.err_code, -ENOENT);
    assert_null(g.obj);
}

static void test_create_existing_is_already_exists(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};
    json_t *pod = json_pack("{s:{s:s}}", "metadata", "name", "p1");

    assert_int_equal(kube_create(fx->kube, &KUBE_PODS, "ci", pod, on_done, &g, NULL, NULL), 0);
    json_decref(pod);
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_ALREADY_EXISTS);
    assert_int_equal(g.status.code, 409);
}

static void test_stale_update_is_conflict(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};
    json_t *rp = json_pack("{s:{s:s, s:s}}", "metadata", "name", "a", "resourceVersion", "7");
    char body[256];

    assert_int_equal(kube_update(fx->kube, &KUBE_RUNNERPOOLS, "ci", rp, NULL, on_done, &g, NULL,
                                 NULL), 0);
    json_decref(rp);
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_CONFLICT);
    assert_string_equal(g.status.reason, "Conflict");
    assert_true(fake_http_body(fx->fake, "PUT", RP_PATH "/a", 1, body, sizeof(body)));
    assert_non_null(strstr(body, "\"resourceVersion\":\"7\""));
}

static void test_update_without_resource_version_is_refused_at_once(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};
    struct err err = {0};
    json_t *rp = json_pack("{s:{s:s}}", "metadata", "name", "a");

    assert_int_equal(kube_update(fx->kube, &KUBE_RUNNERPOOLS, "ci", rp, NULL, on_done, &g, NULL,
                                 &err), -EINVAL);
    json_decref(rp);
    for (int i = 0; i < 5; i++)
        loop_run_once(fx->loop, 5);
    assert_int_equal(g.calls, 0);
    assert_int_equal(fake_http_count(fx->fake, "PUT", NULL, NULL), 0);
}

static void test_status_patch_types_reach_the_status_subresource(void **state)
{
    struct fixture *fx = *state;
    struct got merge = {0}, jsonp = {0};
    json_t *patch = json_pack("{s:{s:i}}", "status", "observedGeneration", 3);
    json_t *ops = json_pack("[{s:s, s:s, s:i}]", "op", "replace", "path", "/status/readyAgents",
                            "value", 2);

    assert_int_equal(kube_patch(fx->kube, &KUBE_RUNNERPOOLS, "ci", "a", KUBE_PATCH_MERGE, patch,
                                "status", on_done, &merge, NULL, NULL), 0);
    assert_int_equal(kube_patch(fx->kube, &KUBE_RUNNERPOOLS, "ci", "a", KUBE_PATCH_JSON, ops,
                                "status", on_done, &jsonp, NULL, NULL), 0);
    run(fx, &merge);
    run(fx, &jsonp);
    assert_string_equal(json_string_value(json_object_get(merge.obj, "ct")),
                        "application/merge-patch+json");
    assert_string_equal(json_string_value(json_object_get(merge.obj, "method")), "PATCH");
    assert_true(json_equal(json_object_get(merge.obj, "body"), patch));
    assert_string_equal(json_string_value(json_object_get(jsonp.obj, "ct")),
                        "application/json-patch+json");
    assert_true(json_equal(json_object_get(jsonp.obj, "body"), ops));
    /* A JSON patch must be an array: refused before sending. */
    assert_int_equal(kube_patch(fx->kube, &KUBE_RUNNERPOOLS, "ci", "a", KUBE_PATCH_JSON, patch,
                                NULL, on_done, &jsonp, NULL, NULL), -EINVAL);
    json_decref(patch);
    json_decref(ops);
    json_decref(merge.obj);
    json_decref(jsonp.obj);
}

static void test_delete_sends_propagation_and_preconditions(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};
    struct kube_delete_opts opts = {.propagation_policy = "Background",
                                    .precondition_uid = "uid-1",
                                    .precondition_rv = "42"};
    json_t *want = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "kind", "DeleteOptions",
                             "apiVersion", "v1", "propagationPolicy", "Background",
                             "preconditions", "uid", "uid-1", "resourceVersion", "42");

    assert_int_equal(kube_delete(fx->kube, &KUBE_PODS, "ci", "gone", &opts, on_done, &g, NULL,
                                 NULL), 0);
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_OK);
    assert_true(json_equal(g.obj, want));
    assert_int_equal(fake_http_count(fx->fake, "DELETE", POD_PATH "/gone", NULL), 1);
    json_decref(want);
    json_decref(g.obj);
}

static void test_list_follows_continue_to_the_end(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};
    struct kube_list_opts opts = {.label_selector = "app=azdo-runner", .limit = 2};
    json_t *items;
    char target[512];

    assert_int_equal(kube_list(fx->kube, &KUBE_PODS, "ci", &opts, on_done, &g, NULL, NULL), 0);
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_OK);
    items = json_object_get(g.obj, "items");
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(items, 2), "metadata"), "name")), "c");
    /* The list's snapshot is the first page's resourceVersion; no continue remains. */
    assert_string_equal(json_string_value(json_object_get(json_object_get(g.obj, "metadata"),
                                                          "resourceVersion")), "100");
    assert_null(json_object_get(json_object_get(g.obj, "metadata"), "continue"));
    assert_true(fake_http_target(fx->fake, "GET", POD_PATH "?", 2, target, sizeof(target)));
    assert_string_equal(target, POD_PATH "?limit=2&labelSelector=app%3Dazdo-runner"
                                         "&continue=tok%2F1");
    json_decref(g.obj);
}

static void test_401_rereads_the_token_and_retries_once(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};

    assert_int_equal(kube_request(fx->kube, "GET", "/auth", NULL, NULL, 0, on_done, &g, NULL,
                                  NULL), 0);
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_OK);
    assert_int_equal(fx->script.unauthorized, 1);
    assert_int_equal(fake_http_count(fx->fake, "GET", "/auth", NULL), 2);
    json_decref(g.obj);
}

static void test_429_is_throttled_with_retry_after(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};

    assert_int_equal(kube_request(fx->kube, "GET", "/throttle", NULL, NULL, 0, on_done, &g, NULL,
                                  NULL), 0);
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_THROTTLED);
    assert_int_equal(g.retry_after_s, 3);
}

static void test_timeout_is_a_transport_outcome(void **state)
{
    struct fixture *fx = *state;
    struct got g = {0};

    assert_int_equal(kube_request(fx->kube, "GET", "/hang", NULL, NULL, 200, on_done, &g, NULL,
                                  NULL), 0);
    run(fx, &g);
    assert_int_equal(g.outcome, KUBE_TRANSPORT);
    assert_int_equal(g.http_status, 0);
    assert_int_equal(g.err_code, -ETIMEDOUT);
}

static void test_cancel_and_free_run_no_callback(void **state)
{
    struct fixture *fx = *state;
    struct got a = {0}, b = {0};
    struct kube_call *call = NULL;

    assert_int_equal(kube_request(fx->kube, "GET", "/hang", NULL, NULL, 0, on_done, &a, &call,
                                  NULL), 0);
    assert_int_equal(kube_request(fx->kube, "GET", "/hang", NULL, NULL, 0, on_done, &b, NULL,
                                  NULL), 0);
    kube_call_cancel(call);
    for (int i = 0; i < 5; i++)
        loop_run_once(fx->loop, 5);
    kube_free(fx->kube); /* b still in flight */
    fx->kube = NULL;
    assert_int_equal(a.calls + b.calls, 0);
}

static void test_paths_cover_core_groups_subresources_and_escaping(void **state)
{
    char p[256];
    (void)state;

    assert_int_equal(kube_path(&KUBE_PODS, "ci", NULL, NULL, p, sizeof(p)), 0);
    assert_string_equal(p, "/api/v1/namespaces/ci/pods");
    assert_int_equal(kube_path(&KUBE_RUNNERPOOLS, NULL, NULL, NULL, p, sizeof(p)), 0);
    assert_string_equal(p, "/apis/devops.opentools.mf/v1/runnerpools");
    assert_int_equal(kube_path(&KUBE_LEASES, "ops", "lead er", NULL, p, sizeof(p)), 0);
    assert_string_equal(p, "/apis/coordination.k8s.io/v1/namespaces/ops/leases/lead%20er");
    assert_int_equal(kube_path(&KUBE_RUNNERPOOLS, "ci", "a", "status", p, sizeof(p)), 0);
    assert_string_equal(p, "/apis/devops.opentools.mf/v1/namespaces/ci/runnerpools/a/status");
    assert_int_equal(kube_path(&KUBE_PODS, "ci", "x", NULL, p, 10), -ENAMETOOLONG);
}

/* A Status whose code does not fit an HTTP status must not be read as a truncated 410 (Gone),
 * which would make a watch relist on garbage (found by fuzzing). */
static void test_status_with_out_of_range_code_falls_back_to_http_status(void **state)
{
    (void)state;
    struct kube_status st;
    json_t *obj = json_loads("{\"kind\":\"Status\",\"code\":4294967706,\"reason\":\"X\"}",
                             0, NULL);

    kube_status_parse(obj, 500, &st);
    assert_int_equal(st.code, 500);
    json_decref(obj);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_with_out_of_range_code_falls_back_to_http_status),
        T(test_get_returns_the_object),
        T(test_404_is_not_found_with_the_server_status),
        T(test_create_existing_is_already_exists),
        T(test_stale_update_is_conflict),
        T(test_update_without_resource_version_is_refused_at_once),
        T(test_status_patch_types_reach_the_status_subresource),
        T(test_delete_sends_propagation_and_preconditions),
        T(test_list_follows_continue_to_the_end),
        T(test_401_rereads_the_token_and_retries_once),
        T(test_429_is_throttled_with_retry_after),
        T(test_timeout_is_a_transport_outcome),
        T(test_cancel_and_free_run_no_callback),
        cmocka_unit_test(test_paths_cover_core_groups_subresources_and_escaping),
    };
    return cmocka_run_group_tests_name("kube_client", tests, NULL, NULL);
}
