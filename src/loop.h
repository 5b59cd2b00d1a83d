/* loop.h - the operator's single event loop: libh2o-evloop plus one-shot timers and a stop flag.
 *
 * Everything runs on the thread that calls loop_run(): h2o sockets (the webhook/metrics server
 * attaches to loop_h2o()), libcurl transfers (src/http.c) and timers. Callbacks never run
 * concurrently, so no module needs locks.
 *
 * Timers are caller-owned structs (embed one in your object, like libuv): no allocation, and
 * stopping one is always safe, armed or not. A timer callback may start, stop or re-arm any
 * timer, itself included, and may free the object that embeds it after stopping nothing else. */
#ifndef AZDO_LOOP_H
#define AZDO_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>

#include "err.h"

struct loop; /* opaque: fields live in loop.c */
struct loop_timer;

typedef void (*loop_timer_cb)(struct loop_timer *timer, void *cb_data);

/* A one-shot timer. Fields are private to loop.c; initialise with loop_timer_init(). */
struct loop_timer {
    uint64_t due_ms; /* loop_now_ms() value at which it fires */
    uint64_t seq;    /* arming order: equal due times fire in the order they were armed */
    loop_timer_cb cb;
    void *cb_data;
    struct loop_timer *prev, *next; /* in the loop's list, sorted by (due_ms, seq) */
    bool armed;
};

/* Creates a loop. 0, or -ENOMEM with text in 'err'. '*out' is new: free with loop_free(). */
int loop_new(struct loop **out, struct err *err);

/* Destroys the loop. Every timer must be stopped and every h2o socket closed first (h2o asserts
 * on live timeouts). Accepts NULL. */
void loop_free(struct loop *loop);

/* Borrowed: valid until loop_free(). Attach h2o servers and sockets to it. */
h2o_evloop_t *loop_h2o(struct loop *loop);

/* Monotonic milliseconds (CLOCK_MONOTONIC; unaffected by wall-clock steps). */
uint64_t loop_now_ms(struct loop *loop);

/* Wall-clock milliseconds since the Unix epoch (for timestamps written to objects and rows). */
uint64_t loop_wall_ms(void);

/* Prepares 't' (unarmed). 'cb' runs on the loop thread with 'cb_data'. */
void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *cb_data);

/* Arms 't' to fire once after 'delay_ms' (0 = on the next turn, never synchronously). Re-arms
 * it if it was armed already. */
void loop_timer_start(struct loop *loop, struct loop_timer *t, uint64_t delay_ms);

/* Disarms 't'; its callback will not run. Safe on an unarmed timer. */
void loop_timer_stop(struct loop *loop, struct loop_timer *t);

static inline bool loop_timer_armed(const struct loop_timer *t)
{
    return t->armed;
}

/* Runs one turn: polls sockets for at most 'max_wait_ms' (less if a timer is due sooner), then
 * fires due timers. 0, or -EIO if the poll failed. */
int loop_run_once(struct loop *loop, uint32_t max_wait_ms);

/* Runs turns until loop_stop() is called or a SIGTERM/SIGINT arrives (see
 * loop_install_signals). 0 when stopped, or -EIO if the poll failed. */
int loop_run(struct loop *loop);

/* Runs turns until '*done' becomes true, loop_stop() is called, or 'timeout_ms' passes.
 * 0 when '*done', -ETIMEDOUT otherwise. For tests and start-up sequences. */
int loop_run_until(struct loop *loop, const bool *done, uint64_t timeout_ms);

/* Asks loop_run() to return after the current turn. */
void loop_stop(struct loop *loop);

/* True once loop_stop() was called or a stop signal arrived. */
bool loop_stopping(struct loop *loop);

/* Ignores SIGPIPE and makes SIGTERM and SIGINT set the stop flag (the handler only sets a
 * sig_atomic_t; the loop notices it within one turn). 0, or -errno from sigaction. */
int loop_install_signals(struct err *err);

#endif
