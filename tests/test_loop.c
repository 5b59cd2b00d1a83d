/* test_loop.c - timers and the stop flag of the event loop (src/loop.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loop.h"

struct order_rec {
    struct loop *loop;
    int fired[8];
    int n;
    bool done;
};

struct tagged_timer {
    struct loop_timer t;
    struct order_rec *rec;
    int tag;
};

static void record_fire(struct loop_timer *t, void *cb_data)
{
    struct tagged_timer *tt = cb_data;
    (void)t;

    tt->rec->fired[tt->rec->n++] = tt->tag;
    if (tt->rec->n == 3)
        tt->rec->done = true;
}

static void test_timers_fire_in_due_order_and_stopped_ones_never(void **state)
{
    struct loop *loop;
    struct order_rec rec = {0};
    struct tagged_timer a = {.rec = &rec, .tag = 1}, b = {.rec = &rec, .tag = 2},
                        c = {.rec = &rec, .tag = 3}, d = {.rec = &rec, .tag = 4};
    (void)state;

    assert_int_equal(loop_new(&loop, NULL), 0);
    rec.loop = loop;
    loop_timer_init(&a.t, record_fire, &a);
    loop_timer_init(&b.t, record_fire, &b);
    loop_timer_init(&c.t, record_fire, &c);
    loop_timer_init(&d.t, record_fire, &d);
    loop_timer_start(loop, &c.t, 30);
    loop_timer_start(loop, &a.t, 0);
    loop_timer_start(loop, &d.t, 5);
    loop_timer_start(loop, &b.t, 10);
    loop_timer_stop(loop, &d.t);

    assert_int_equal(loop_run_until(loop, &rec.done, 5000), 0);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.fired[0], 1);
    assert_int_equal(rec.fired[1], 2);
    assert_int_equal(rec.fired[2], 3);
    assert_false(loop_timer_armed(&d.t));
    loop_free(loop);
}

struct rearm {
    struct loop *loop;
    struct loop_timer t;
    int count;
    int turns_seen_at_fire[3];
    int turns;
    bool done;
};

static void rearm_zero(struct loop_timer *t, void *cb_data)
{
    struct rearm *r = cb_data;

    r->turns_seen_at_fire[r->count] = r->turns;
    if (++r->count < 3)
        loop_timer_start(r->loop, t, 0);
    else
        r->done = true;
}

static void test_timer_rearmed_with_zero_delay_runs_on_next_turn(void **state)
{
    struct rearm r = {0};
    (void)state;

    assert_int_equal(loop_new(&r.loop, NULL), 0);
    loop_timer_init(&r.t, rearm_zero, &r);
    loop_timer_start(r.loop, &r.t, 0);
    /* Count turns ourselves: each re-arm must wait for a new turn, not spin inside one. */
    while (!r.done && r.turns < 100) {
        assert_int_equal(loop_run_once(r.loop, 10), 0);
        r.turns++;
    }
    assert_int_equal(r.count, 3);
    assert_true(r.turns_seen_at_fire[1] > r.turns_seen_at_fire[0]);
    assert_true(r.turns_seen_at_fire[2] > r.turns_seen_at_fire[1]);
    loop_free(r.loop);
}

static void stop_loop(struct loop_timer *t, void *cb_data)
{
    (void)t;
    loop_stop(cb_data);
}

static void test_loop_stop_ends_run(void **state)
{
    struct loop *loop;
    struct loop_timer t;
    (void)state;

    assert_int_equal(loop_new(&loop, NULL), 0);
    loop_timer_init(&t, stop_loop, loop);
    loop_timer_start(loop, &t, 1);
    assert_int_equal(loop_run(loop), 0);
    assert_true(loop_stopping(loop));
    loop_free(loop);
}

static void test_run_until_reports_timeout_when_never_done(void **state)
{
    struct loop *loop;
    bool never = false;
    (void)state;

    assert_int_equal(loop_new(&loop, NULL), 0);
    assert_int_equal(loop_run_until(loop, &never, 20), -ETIMEDOUT);
    loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_fire_in_due_order_and_stopped_ones_never),
        cmocka_unit_test(test_timer_rearmed_with_zero_delay_runs_on_next_turn),
        cmocka_unit_test(test_loop_stop_ends_run),
        cmocka_unit_test(test_run_until_reports_timeout_when_never_done),
    };
    return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
