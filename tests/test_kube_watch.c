/* test_kube_watch.c - list then watch against a fake API server: events applied in order,
 * bookmarks, relist on 410 (ERROR event and HTTP status), reconnect after a dropped stream,
 * retry after a failed list (src/kube/watch.c). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/watch.h"
#include "test_http_fake.h"

#define PODS "/api/v1/namespaces/ci/pods"

enum mode { M_EVENTS, M_GONE_EVENT, M_GONE_HTTP, M_DROP, M_LIST_FAILS };

struct script {
    enum mode mode;
    pthread_mutex_t mu;
    int lists, watches;
};

static const char *pod(const char *name, const char *rv)
{
    static __thread char buf[4][256];
    static __thread int i;
    char *b = buf[i++ % 4];

    snprintf(b, 256, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ci\","
                     "\"resourceVersion\":\"%s\"}}", name, rv);
    return b;
}

static void send_event(struct fake_conn *c, const char *type, const char *obj)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "{\"type\":\"%s\",\"object\":%s}\n", type, obj);

    fake_stream_send(c, line, (size_t)n);
}

static void hold_open(struct fake_conn *c)
{
    fake_wait_stop(c, 30000);
    fake_drop(c);
}

static void handler(struct fake_conn *c, const struct fake_req *req, void *data)
{
    struct script *s = data;
    bool is_watch = strstr(req->target, "watch=1") != NULL;
    int n;
    char list[512];

    pthread_mutex_lock(&s->mu);
    n = is_watch ? ++s->watches : ++s->lists;
    pthread_mutex_unlock(&s->mu);

    if (!is_watch) {
        if (s->mode == M_LIST_FAILS && n == 1) {
            fake_respond(c, 500, NULL, "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\"}");
            return;
        }
        if (n == 1)
            snprintf(list, sizeof(list), "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":"
                     "\"20\"},\"items\":[%s,%s]}", pod("a", "10"), pod("b", "11"));
        else /* b was deleted while we were not watching */
            snprintf(list, sizeof(list), "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":"
                     "\"40\"},\"items\":[%s]}", pod("a", "35"));
        fake_respond(c, 200, NULL, list);
        return;
    }

    if (n > 1 || s->mode == M_LIST_FAILS) {
        fake_stream_begin(c, 200);
        hold_open(c);
        return;
    }
    switch (s->mode) {
    case M_EVENTS: {
        /* One event cut in three pieces, then more events and a bookmark. */
        char line[256];
        int len = snprintf(line, sizeof(line), "{\"type\":\"MODIFIED\",\"object\":%s}\n",
                           pod("a", "21"));

        fake_stream_begin(c, 200);
        fake_stream_send(c, line, 7);
        usleep(5000);
        fake_stream_send(c, line + 7, 30);
        usleep(5000);
        fake_stream_send(c, line + 37, (size_t)len - 37);
        send_event(c, "ADDED", pod("c", "22"));
        send_event(c, "DELETED", pod("b", "23"));
        send_event(c, "BOOKMARK", "{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"30\"}}");
        hold_open(c);
        break;
    }
    case M_GONE_EVENT:
        fake_stream_begin(c, 200);
        send_event(c, "ERROR", "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                               "\"status\":\"Failure\",\"message\":\"too old resource version: "
                               "20 (35)\",\"reason\":\"Expired\",\"code\":410}");
        hold_open(c); /* the client must hang up by itself */
        break;
    case M_GONE_HTTP:
        fake_respond(c, 410, NULL, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}");
        break;
    case M_DROP:
        fake_stream_begin(c, 200);
        send_event(c, "ADDED", pod("c", "21"));
        usleep(20000);
        fake_drop(c); /* no terminating chunk */
        break;
    default:
        break;
    }
}

/* ---- recording the watch's callbacks ---- */

struct rec {
    char log[2048];
    int objects, synced, errors;
    struct kube_watch *w;
};

static void on_object(enum kube_watch_event type, json_t *obj, bool from_list, void *cb_data)
{
    struct rec *r = cb_data;
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED"};
    const json_t *meta = json_object_get(obj, "metadata");
    size_t len = strlen(r->log);

    snprintf(r->log + len, sizeof(r->log) - len, "%s%s %s@%s;", from_list ? "list:" : "",
             names[type], json_string_value(json_object_get(meta, "name")),
             json_string_value(json_object_get(meta, "resourceVersion")));
    r->objects++;
}

static void on_synced(void *cb_data)
{
    struct rec *r = cb_data;
    size_t len = strlen(r->log);

    snprintf(r->log + len, sizeof(r->log) - len, "SYNCED;");
    r->synced++;
}

static void on_error(const struct kube_result *res, void *cb_data)
{
    struct rec *r = cb_data;
    (void)res;
    r->errors++;
}

struct fixture {
    struct script script;
    struct fake_http *fake;
    struct loop *loop;
    struct http *http;
    struct kube *kube;
    struct rec rec;
};

static int setup_mode(void **state, enum mode mode)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct kube_config *cfg = NULL;

    fx->script.mode = mode;
    pthread_mutex_init(&fx->script.mu, NULL);
    fx->fake = fake_http_start(handler, &fx->script);
    assert_int_equal(loop_new(&fx->loop, NULL), 0);
    assert_int_equal(http_new(fx->loop, &fx->http, NULL), 0);
    assert_int_equal(kube_config_from_url(fake_http_url(fx->fake), &cfg, NULL), 0);
    assert_int_equal(kube_new_take(fx->loop, fx->http, cfg, &fx->kube, NULL), 0);
    *state = fx;
    return 0;
}

static int setup_events(void **s) { return setup_mode(s, M_EVENTS); }
static int setup_gone_event(void **s) { return setup_mode(s, M_GONE_EVENT); }
static int setup_gone_http(void **s) { return setup_mode(s, M_GONE_HTTP); }
static int setup_drop(void **s) { return setup_mode(s, M_DROP); }
static int setup_list_fails(void **s) { return setup_mode(s, M_LIST_FAILS); }

static int teardown(void **state)
{
    struct fixture *fx = *state;

    kube_watch_free(fx->rec.w);
    kube_free(fx->kube);
    http_free(fx->http);
    fake_http_stop(fx->fake);
    loop_free(fx->loop);
    pthread_mutex_destroy(&fx->script.mu);
    free(fx);
    return 0;
}

static void start_watch(struct fixture *fx)
{
    struct kube_watch_opts opts = {.backoff_initial_ms = 10, .backoff_max_ms = 50};
    struct kube_watch_ops ops = {on_object, on_synced, on_error};

    assert_int_equal(kube_watch_start(fx->kube, &KUBE_PODS, "ci", &opts, &ops, &fx->rec,
                                      &fx->rec.w, NULL), 0);
    assert_int_equal(fx->rec.objects, 0); /* nothing synchronously */
}

static int watches_seen(struct fixture *fx)
{
    return fake_http_count(fx->fake, "GET", PODS, "watch=1");
}

/* Runs the loop until 'done' says so, for at most ten seconds of turns. */
static void run_until(struct fixture *fx, bool (*done)(struct fixture *))
{
    for (int i = 0; i < 2000 && !done(fx); i++)
        loop_run_once(fx->loop, 5);
    assert_true(done(fx));
}

static bool three_events_and_bookmark(struct fixture *fx)
{
    return fx->rec.w != NULL && kube_watch_get_stats(fx->rec.w)->bookmarks == 1 &&
           kube_watch_get_stats(fx->rec.w)->events == 3;
}

static void test_list_then_watch_applies_events_in_order(void **state)
{
    struct fixture *fx = *state;
    json_t *a;

    start_watch(fx);
    run_until(fx, three_events_and_bookmark);
    assert_string_equal(fx->rec.log, "list:ADDED a@10;list:ADDED b@11;SYNCED;"
                                     "MODIFIED a@21;ADDED c@22;DELETED b@23;");
    assert_string_equal(kube_watch_resource_version(fx->rec.w), "30");
    a = kube_watch_find(fx->rec.w, "ci", "a");
    assert_non_null(a);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "metadata"),
                                                          "resourceVersion")), "21");
    assert_null(kube_watch_find(fx->rec.w, "ci", "b"));
    assert_non_null(kube_watch_find(fx->rec.w, "ci", "c"));
    assert_true(kube_watch_synced(fx->rec.w));
    /* The watch asked for bookmarks from the list's resourceVersion. */
    assert_int_equal(fake_http_count(fx->fake, "GET", PODS,
                                     "?watch=1&allowWatchBookmarks=true&resourceVersion=20&"), 1);
}

static bool synced_twice_and_watching(struct fixture *fx)
{
    return fx->rec.synced == 2 && watches_seen(fx) == 2;
}

static void assert_relisted(struct fixture *fx)
{
    start_watch(fx);
    run_until(fx, synced_twice_and_watching);
    /* After the relist, b (gone meanwhile) is reported deleted, then synced again. */
    assert_string_equal(fx->rec.log, "list:ADDED a@10;list:ADDED b@11;SYNCED;"
                                     "list:ADDED a@35;list:DELETED b@11;SYNCED;");
    assert_int_equal(fake_http_count(fx->fake, "GET", PODS, "limit="), 2);
    assert_int_equal(fake_http_count(fx->fake, "GET", PODS, "resourceVersion=40&"), 1);
    assert_int_equal(kube_watch_get_stats(fx->rec.w)->relists, 1);
    assert_null(kube_watch_find(fx->rec.w, "ci", "b"));
}

static void test_410_error_event_triggers_relist(void **state)
{
    assert_relisted(*state);
}

static void test_410_http_status_triggers_relist(void **state)
{
    assert_relisted(*state);
}

static bool rewatched(struct fixture *fx)
{
    return watches_seen(fx) == 2;
}

static void test_dropped_stream_reconnects_from_last_resource_version(void **state)
{
    struct fixture *fx = *state;

    start_watch(fx);
    run_until(fx, rewatched);
    assert_int_equal(fake_http_count(fx->fake, "GET", PODS, "limit="), 1); /* no relist */
    assert_int_equal(fake_http_count(fx->fake, "GET", PODS, "resourceVersion=21&"), 1);
    assert_true(kube_watch_get_stats(fx->rec.w)->reconnects >= 1);
    assert_string_equal(fx->rec.log, "list:ADDED a@10;list:ADDED b@11;SYNCED;ADDED c@21;");
}

static bool synced_once(struct fixture *fx)
{
    return fx->rec.synced == 1;
}

static void test_failed_list_is_retried(void **state)
{
    struct fixture *fx = *state;

    start_watch(fx);
    run_until(fx, synced_once);
    assert_int_equal(fx->rec.errors, 1);
    assert_int_equal(fake_http_count(fx->fake, "GET", PODS, "limit="), 2);
    assert_int_equal(kube_watch_get_stats(fx->rec.w)->lists, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_then_watch_applies_events_in_order,
                                        setup_events, teardown),
        cmocka_unit_test_setup_teardown(test_410_error_event_triggers_relist, setup_gone_event,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_410_http_status_triggers_relist, setup_gone_http,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dropped_stream_reconnects_from_last_resource_version,
                                        setup_drop, teardown),
        cmocka_unit_test_setup_teardown(test_failed_list_is_retried, setup_list_fails, teardown),
    };
    return cmocka_run_group_tests_name("kube_watch", tests, NULL, NULL);
}
