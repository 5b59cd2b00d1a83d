/* test_kube_lease.c - leader election against a fake API server that stores one Lease with
 * real optimistic concurrency (src/kube/lease.c). Short timings keep the tests quick; they assert
 * who leads, never how fast. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "kube/lease.h"
#include "test_http_fake.h"

#define LEASES "/apis/coordination.k8s.io/v1/namespaces/ops/leases"

/* ---- a one-object API server ---- */

struct store {
    pthread_mutex_t mu;
    json_t *lease; /* NULL until created */
    int rv;
    bool down;     /* answer 503 to everything */
    int conflicts;
};

static void respond_json(struct fake_conn *c, int status, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);

    fake_respond(c, status, NULL, text);
    free(text);
}

static void respond_status(struct fake_conn *c, int code, const char *reason)
{
    char body[256];

    snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"code\":%d,\"reason\":\"%s\","
                                 "\"message\":\"%s\"}", code, reason, reason);
    fake_respond(c, code, NULL, body);
}

static void stamp(struct store *s, json_t *obj)
{
    char rv[16];

    snprintf(rv, sizeof(rv), "%d", ++s->rv);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
    json_decref(s->lease);
    s->lease = json_incref(obj);
}

static void handler(struct fake_conn *c, const struct fake_req *req, void *data)
{
    struct store *s = data;
    json_t *body = json_loads(req->body, 0, NULL);

    pthread_mutex_lock(&s->mu);
    if (s->down) {
        respond_status(c, 503, "ServiceUnavailable");
    } else if (strcmp(req->method, "GET") == 0 && strcmp(req->target, LEASES "/lead") == 0) {
        if (s->lease == NULL)
            respond_status(c, 404, "NotFound");
        else
            respond_json(c, 200, s->lease);
    } else if (strcmp(req->method, "POST") == 0 && strcmp(req->target, LEASES) == 0) {
        if (s->lease != NULL) {
            respond_status(c, 409, "AlreadyExists");
        } else {
            stamp(s, body);
            respond_json(c, 201, s->lease);
        }
    } else if (strcmp(req->method, "PUT") == 0 && strcmp(req->target, LEASES "/lead") == 0) {
        const char *want = json_string_value(json_object_get(json_object_get(body, "metadata"),
                                                             "resourceVersion"));
        const char *have = s->lease == NULL ? NULL : json_string_value(json_object_get(
                               json_object_get(s->lease, "metadata"), "resourceVersion"));

        if (have == NULL) {
            respond_status(c, 404, "NotFound");
        } else if (want == NULL || strcmp(want, have) != 0) {
            s->conflicts++;
            respond_status(c, 409, "Conflict");
        } else {
            stamp(s, body);
            respond_json(c, 200, s->lease);
        }
    } else {
        respond_status(c, 404, "NotFound");
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(body);
}

/* ---- candidates ---- */

struct candidate {
    struct kube_lease *lease;
    int started, stopped;
};

static void on_started(void *cb_data)
{
    ((struct candidate *)cb_data)->started++;
}

static void on_stopped(void *cb_data)
{
    ((struct candidate *)cb_data)->stopped++;
}

struct fixture {
    struct store store;
    struct fake_http *fake;
    struct loop *loop;
    struct http *http;
    struct kube *kube;
    struct candidate a, b;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct kube_config *cfg = NULL;

    pthread_mutex_init(&fx->store.mu, NULL);
    fx->fake = fake_http_start(handler, &fx->store);
    assert_int_equal(loop_new(&fx->loop, NULL), 0);
    assert_int_equal(http_new(fx->loop, &fx->http, NULL), 0);
    assert_int_equal(kube_config_from_url(fake_http_url(fx->fake), &cfg, NULL), 0);
    assert_int_equal(kube_new_take(fx->loop, fx->http, cfg, &fx->kube, NULL), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    kube_lease_free(fx->a.lease);
    kube_lease_free(fx->b.lease);
    kube_free(fx->kube);
    http_free(fx->http);
    fake_http_stop(fx->fake);
    loop_free(fx->loop);
    json_decref(fx->store.lease);
    pthread_mutex_destroy(&fx->store.mu);
    free(fx);
    return 0;
}

static void campaign(struct fixture *fx, struct candidate *c, const char *identity)
{
    struct kube_lease_opts opts = {.ns = "ops", .name = "lead", .identity = identity,
                                   .lease_duration_ms = 1500, .renew_deadline_ms = 1000,
                                   .retry_period_ms = 100};
    struct kube_lease_ops ops = {on_started, on_stopped, NULL};
    struct err err = {0};

    assert_int_equal(kube_lease_start(fx->kube, &opts, &ops, c, &c->lease, &err), 0);
}

static bool leads(struct candidate *c)
{
    return c->lease != NULL && kube_lease_is_leader(c->lease);
}

/* Runs turns until 'cond' holds; checks after every turn that never both lead. */
static void run_until(struct fixture *fx, bool (*cond)(struct fixture *))
{
    for (int i = 0; i < 4000 && !cond(fx); i++) {
        loop_run_once(fx->loop, 5);
        assert_false(leads(&fx->a) && leads(&fx->b));
    }
    assert_true(cond(fx));
}

static bool someone_leads(struct fixture *fx)
{
    return leads(&fx->a) || leads(&fx->b);
}

static const char *stored_holder(struct fixture *fx)
{
    static char holder[64];

    pthread_mutex_lock(&fx->store.mu);
    snprintf(holder, sizeof(holder), "%s", json_string_value(json_object_get(
                                               json_object_get(fx->store.lease, "spec"),
                                               "holderIdentity")));
    pthread_mutex_unlock(&fx->store.mu);
    return holder;
}

static int stored_transitions(struct fixture *fx)
{
    int n;

    pthread_mutex_lock(&fx->store.mu);
    n = (int)json_integer_value(json_object_get(json_object_get(fx->store.lease, "spec"),
                                                "leaseTransitions"));
    pthread_mutex_unlock(&fx->store.mu);
    return n;
}

static int renewals_seen;
static bool several_renewals(struct fixture *fx)
{
    return fake_http_count(fx->fake, "PUT", LEASES, NULL) >= renewals_seen + 10;
}

static void test_two_candidates_never_both_lead(void **state)
{
    struct fixture *fx = *state;
    struct candidate *winner, *loser;

    campaign(fx, &fx->a, "replica-a");
    campaign(fx, &fx->b, "replica-b");
    run_until(fx, someone_leads);
    winner = leads(&fx->a) ? &fx->a : &fx->b;
    loser = winner == &fx->a ? &fx->b : &fx->a;

    /* Keep both running through many renewals: the follower must stay a follower. */
    renewals_seen = fake_http_count(fx->fake, "PUT", LEASES, NULL);
    run_until(fx, several_renewals);
    assert_true(leads(winner));
    assert_int_equal(winner->started, 1);
    assert_int_equal(loser->started, 0);
    assert_string_equal(stored_holder(fx), winner == &fx->a ? "replica-a" : "replica-b");
    assert_int_equal(stored_transitions(fx), 0);
}

static bool b_leads(struct fixture *fx)
{
    return leads(&fx->b);
}

static bool a_leads(struct fixture *fx)
{
    return leads(&fx->a);
}

static void test_standby_takes_over_after_the_leader_vanishes(void **state)
{
    struct fixture *fx = *state;

    campaign(fx, &fx->a, "replica-a");
    run_until(fx, a_leads);
    campaign(fx, &fx->b, "replica-b");
    /* A crashes: no release, its lease simply stops being renewed. */
    kube_lease_free(fx->a.lease);
    fx->a.lease = NULL;
    run_until(fx, b_leads);
    assert_string_equal(stored_holder(fx), "replica-b");
    assert_int_equal(stored_transitions(fx), 1);
}

static bool released;
static void on_released(void *cb_data)
{
    (void)cb_data;
    released = true;
}

static bool release_done(struct fixture *fx)
{
    (void)fx;
    return released;
}

static void test_release_hands_over_and_clears_the_holder(void **state)
{
    struct fixture *fx = *state;

    campaign(fx, &fx->a, "replica-a");
    run_until(fx, a_leads);
    released = false;
    assert_int_equal(kube_lease_release(fx->a.lease, on_released, NULL, NULL), 0);
    assert_false(leads(&fx->a));
    run_until(fx, release_done);
    assert_string_equal(stored_holder(fx), "");
    assert_int_equal(fx->a.stopped, 0); /* a release is not a loss */

    campaign(fx, &fx->b, "replica-b");
    run_until(fx, b_leads);
}

static bool a_stopped(struct fixture *fx)
{
    return fx->a.stopped == 1;
}

static void test_leader_steps_down_when_it_cannot_renew(void **state)
{
    struct fixture *fx = *state;

    campaign(fx, &fx->a, "replica-a");
    run_until(fx, a_leads);
    pthread_mutex_lock(&fx->store.mu);
    fx->store.down = true;
    pthread_mutex_unlock(&fx->store.mu);
    run_until(fx, a_stopped);
    assert_false(leads(&fx->a));
    assert_int_equal(fx->a.started, 1);
}

static void test_bad_timings_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct kube_lease_opts opts = {.ns = "ops", .name = "lead", .identity = "x",
                                   .lease_duration_ms = 10000, .renew_deadline_ms = 15000};
    struct kube_lease_ops ops = {on_started, on_stopped, NULL};
    struct err err = {0};

    assert_int_equal(kube_lease_start(fx->kube, &opts, &ops, &fx->a, &fx->a.lease, &err), -EINVAL);
    assert_null(fx->a.lease);
    opts.renew_deadline_ms = 0;
    opts.identity = "";
    assert_int_equal(kube_lease_start(fx->kube, &opts, &ops, &fx->a, &fx->a.lease, &err), -EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_two_candidates_never_both_lead),
        T(test_standby_takes_over_after_the_leader_vanishes),
        T(test_release_hands_over_and_clears_the_holder),
        T(test_leader_steps_down_when_it_cannot_renew),
        T(test_bad_timings_are_refused),
    };
    return cmocka_run_group_tests_name("kube_lease", tests, NULL, NULL);
}
