/* loop.c - the single-threaded event loop: h2o's evloop for sockets, our own list for timers.
 *
 * Why our own timers: h2o 2.2's h2o_timeout_t holds one fixed duration per list, which suits a
 * server's idle timeouts but not "retry in 1.7 s" or "renew in 2 s". Our timers live in one list
 * sorted by (due_ms, seq) and are fired after each poll; the poll never sleeps past the earliest.
 *
 * Invariants: (1) a timer is in the list iff t->armed; (2) the list is sorted by (due_ms, seq);
 * (3) one firing pass fires only timers armed before it began (seq < pass start), so a callback
 * that re-arms itself with delay 0 runs again on the next turn, not in an endless pass.
 *
 * LIMITATION: arming is O(number of armed timers) (sorted insertion). The operator keeps a few
 * per pool and per watch; thousands of pools would want a heap. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Longest single poll while idle, so loop_stop() from another module's callback and a signal
 * arriving between polls are both noticed promptly. */
#define LOOP_IDLE_WAIT_MS 500

struct loop {
    h2o_evloop_t *h2o;
    struct loop_timer *head; /* earliest first */
    uint64_t next_seq;
    bool stop_requested;
};

/* The one piece of process-wide state: a signal handler can reach nothing else. */
static volatile sig_atomic_t stop_signal_seen;

static void on_stop_signal(int signo)
{
    (void)signo;
    stop_signal_seen = 1;
}

int loop_install_signals(struct err *err)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return err_set(err, -errno, "cannot ignore SIGPIPE: %s", strerror(errno));

    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return err_set(err, -errno, "cannot install stop signal handler: %s", strerror(errno));
    return 0;
}

int loop_new(struct loop **out, struct err *err)
{
    struct loop *loop = calloc(1, sizeof(*loop));

    if (loop == NULL)
        return err_set(err, -ENOMEM, "cannot allocate event loop");
    loop->h2o = h2o_evloop_create();
    *out = loop;
    return 0;
}

void loop_free(struct loop *loop)
{
    if (loop == NULL)
        return;
    /* Unlink any timer still armed so its owner sees it unarmed; its callback never runs. */
    while (loop->head != NULL)
        loop_timer_stop(loop, loop->head);
    /* h2o frees closed sockets lazily in the next poll; let it do so before destroying. */
    h2o_evloop_run(loop->h2o, 0);
    h2o_evloop_destroy(loop->h2o);
    free(loop);
}

h2o_evloop_t *loop_h2o(struct loop *loop)
{
    return loop->h2o;
}

uint64_t loop_now_ms(struct loop *loop)
{
    struct timespec ts;
    (void)loop;

    /* Not h2o_now(): h2o 2.2 derives it from gettimeofday(), which jumps with the wall clock,
     * and lease expiry and backoff must not. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t loop_wall_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* ---- timers ---------------------------------------------------------------------------------- */

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *cb_data)
{
    memset(t, 0, sizeof(*t));
    t->cb = cb;
    t->cb_data = cb_data;
}

void loop_timer_stop(struct loop *loop, struct loop_timer *t)
{
    if (!t->armed)
        return;
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        loop->head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->armed = false;
}

void loop_timer_start(struct loop *loop, struct loop_timer *t, uint64_t delay_ms)
{
    struct loop_timer *after = NULL; /* the last timer that fires before 't' */
    struct loop_timer *cur;

    loop_timer_stop(loop, t);
    t->due_ms = loop_now_ms(loop) + delay_ms;
    t->seq = loop->next_seq++;

    /* Equal due times keep arming order: insert after every timer with due_ms <= ours. */
    for (cur = loop->head; cur != NULL && cur->due_ms <= t->due_ms; cur = cur->next)
        after = cur;
    t->prev = after;
    t->next = after != NULL ? after->next : loop->head;
    if (t->next != NULL)
        t->next->prev = t;
    if (after != NULL)
        after->next = t;
    else
        loop->head = t;
    t->armed = true;
}

/* Fires every timer due now that was armed before this pass began (invariant 3). */
static void fire_due_timers(struct loop *loop)
{
    uint64_t pass_seq = loop->next_seq;
    uint64_t now = loop_now_ms(loop);
    struct loop_timer *t;

    for (;;) {
        /* Re-read the head each time: a callback may have stopped or armed any timer. */
        for (t = loop->head; t != NULL && t->due_ms <= now; t = t->next) {
            if (t->seq < pass_seq)
                break;
        }
        if (t == NULL || t->due_ms > now)
            return;
        loop_timer_stop(loop, t);
        t->cb(t, t->cb_data);
    }
}

/* ---- running --------------------------------------------------------------------------------- */

static uint32_t wait_for_next_timer(struct loop *loop, uint32_t max_wait_ms)
{
    uint64_t now = loop_now_ms(loop);

    if (loop->head == NULL)
        return max_wait_ms;
    if (loop->head->due_ms <= now)
        return 0;
    if (loop->head->due_ms - now < max_wait_ms)
        return (uint32_t)(loop->head->due_ms - now);
    return max_wait_ms;
}

int loop_run_once(struct loop *loop, uint32_t max_wait_ms)
{
    uint32_t wait_ms = wait_for_next_timer(loop, max_wait_ms);

    if (wait_ms > INT32_MAX)
        wait_ms = INT32_MAX;
    /* h2o returns -1 when epoll_wait is interrupted; a signal is not a failure. */
    if (h2o_evloop_run(loop->h2o, (int32_t)wait_ms) != 0 && errno != EINTR)
        return -EIO;
    fire_due_timers(loop);
    return 0;
}

void loop_stop(struct loop *loop)
{
    loop->stop_requested = true;
}

bool loop_stopping(struct loop *loop)
{
    return loop->stop_requested || stop_signal_seen != 0;
}

int loop_run(struct loop *loop)
{
    int rc = 0;

    while (rc == 0 && !loop_stopping(loop))
        rc = loop_run_once(loop, LOOP_IDLE_WAIT_MS);
    return rc;
}

int loop_run_until(struct loop *loop, const bool *done, uint64_t timeout_ms)
{
    uint64_t deadline = loop_now_ms(loop) + timeout_ms;
    int rc = 0;

    while (!*done && !loop_stopping(loop)) {
        uint64_t now = loop_now_ms(loop);
        uint64_t left;

        if (now >= deadline)
            break;
        left = deadline - now;
        rc = loop_run_once(loop, left < LOOP_IDLE_WAIT_MS ? (uint32_t)left : LOOP_IDLE_WAIT_MS);
        if (rc != 0)
            return rc;
    }
    return *done ? 0 : -ETIMEDOUT;
}
