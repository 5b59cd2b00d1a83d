/* test_kube_event.c - Events: the core/v1 shape, and repeats aggregated into a count patch
 * (src/kube/event.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "kube/event.h"
#include "test_http_fake.h"

#define EVENTS "/api/v1/namespaces/ci/events"

static void handler(struct fake_conn *c, const struct fake_req *req, void *data)
{
    (void)data;
    if (strcmp(req->method, "POST") == 0 && strcmp(req->target, EVENTS) == 0)
        fake_respond(c, 201, NULL, req->body); /* a real server returns the stored object */
    else if (strcmp(req->method, "PATCH") == 0 && strncmp(req->target, EVENTS "/", 29) == 0)
        fake_respond(c, 200, NULL, "{\"kind\":\"Event\",\"metadata\":{\"name\":\"x\"}}");
    else
        fake_respond(c, 404, NULL, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
}

static void run_until_sent(struct loop *loop, struct kube_events *ev, uint64_t n)
{
    for (int i = 0; i < 2000 && kube_events_sent(ev) < n; i++)
        loop_run_once(loop, 5);
    assert_int_equal(kube_events_sent(ev), n);
}

static void test_events_are_created_then_aggregated(void **state)
{
    struct fake_http *fake = fake_http_start(handler, NULL);
    struct loop *loop;
    struct http *http;
    struct kube *kube;
    struct kube_config *cfg = NULL;
    struct kube_events *ev;
    struct kube_event_ref pool = {"devops.opentools.mf/v1", "RunnerPool", "ci", "linux", "uid-7"};
    char body[2048];
    json_t *obj;
    (void)state;

    assert_int_equal(loop_new(&loop, NULL), 0);
    assert_int_equal(http_new(loop, &http, NULL), 0);
    assert_int_equal(kube_config_from_url(fake_http_url(fake), &cfg, NULL), 0);
    assert_int_equal(kube_new_take(loop, http, cfg, &kube, NULL), 0);
    assert_int_equal(kube_events_new(kube, "azdo-runner-operator", "pod-1", &ev, NULL), 0);

    assert_int_equal(kube_event_emit(ev, &pool, "Normal", "ScaledUp", "created agent 1", NULL), 0);
    run_until_sent(loop, ev, 1);
    assert_int_equal(kube_event_emit(ev, &pool, "Normal", "ScaledUp", "created agent 1", NULL), 0);
    run_until_sent(loop, ev, 2);
    assert_int_equal(kube_event_emit(ev, &pool, "Warning", "ImagePullFailed", "cannot pull", NULL),
                     0);
    run_until_sent(loop, ev, 3);

    /* Two creations (two distinct events) and one count patch for the repeat. */
    assert_int_equal(fake_http_count(fake, "POST", EVENTS, NULL), 2);
    assert_int_equal(fake_http_count(fake, "PATCH", EVENTS "/", NULL), 1);
    assert_true(fake_http_body(fake, "PATCH", EVENTS "/", 1, body, sizeof(body)));
    obj = json_loads(body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(obj, "count")), 2);
    json_decref(obj);

    assert_true(fake_http_body(fake, "POST", EVENTS, 1, body, sizeof(body)));
    obj = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(obj, "reason")), "ScaledUp");
    assert_string_equal(json_string_value(json_object_get(obj, "type")), "Normal");
    assert_int_equal(json_integer_value(json_object_get(obj, "count")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "involvedObject"),
                                                          "uid")), "uid-7");
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "involvedObject"),
                                                          "kind")), "RunnerPool");
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "metadata"),
                                                          "namespace")), "ci");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(obj, "metadata"),
                                                             "name")), "linux."));
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "source"),
                                                          "component")), "azdo-runner-operator");
    json_decref(obj);
    assert_int_equal(kube_events_failed(ev), 0);

    kube_events_free(ev);
    kube_free(kube);
    http_free(http);
    fake_http_stop(fake);
    loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_are_created_then_aggregated),
    };
    return cmocka_run_group_tests_name("kube_event", tests, NULL, NULL);
}
