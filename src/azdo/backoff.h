/* backoff.h - one throttle/backoff gate per (organisation, credential).
 *
 * A gate answers "may I call this organisation now, and if not, for how long not?". Failures
 * push it shut for an exponentially growing, fully jittered delay:
 *     delay = uniform(min_ms, min(cap_ms, base_ms * 2^(failures-1)))
 * and a failure carrying a server-requested wait (Retry-After, X-RateLimit-Delay) waits that
 * instead, plus up to 20 % jitter and never below min_ms (field report #15). A success
 * reopens it, except that a success carrying a server wait (a delayed 200) still honours that
 * wait. Each organisation has its own gate struct, so one organisation's trouble never delays
 * another's. Pure: callers pass the clock and own the struct. */
#ifndef AZDO_AZDO_BACKOFF_H
#define AZDO_AZDO_BACKOFF_H

#include <stdint.h>

struct azdo_backoff_policy {
    uint64_t base_ms; /* ceiling after the first failure */
    uint64_t cap_ms;  /* largest ceiling */
    uint64_t min_ms;  /* smallest jittered delay, so a failing org is never retried at once */
};

/* 10 s, doubling to 5 min, never below 1 s: field reports #2 and #13 expect retries near the
 * poll interval at first and at most every 5 min for a persistent failure. */
#define AZDO_BACKOFF_POLICY_DEFAULT                                                                \
    {                                                                                              \
        .base_ms = 10000, .cap_ms = 300000, .min_ms = 1000                                         \
    }

struct azdo_backoff {
    uint32_t failures;         /* consecutive failures since the last success */
    uint64_t backoff_until_ms; /* shut by our own backoff until this clock value */
    uint64_t server_until_ms;  /* shut by a server-requested wait until this clock value */
    uint64_t rng;              /* xorshift state for the jitter; never 0 */
};

/* Opens the gate. 'seed' varies the jitter between gates (any value; 0 is replaced). */
void azdo_backoff_init(struct azdo_backoff *b, uint64_t seed);

/* Records a failure at 'now_ms'; 'server_wait_ms' is the server's requested wait or -1.
 * Returns the delay chosen (the gate is shut until now_ms + delay). */
uint64_t azdo_backoff_failure(struct azdo_backoff *b, const struct azdo_backoff_policy *p,
                              uint64_t now_ms, int64_t server_wait_ms);

/* Records a success; 'server_wait_ms' (-1 for none) still shuts the gate that long. */
void azdo_backoff_success(struct azdo_backoff *b, uint64_t now_ms, int64_t server_wait_ms);

/* Milliseconds until the gate opens; 0 when open. */
uint64_t azdo_backoff_wait_ms(const struct azdo_backoff *b, uint64_t now_ms);

/* Forgets failures and opens the gate at once (e.g. the credential was replaced), unless a
 * server-requested wait is still running: that one is honoured regardless. */
void azdo_backoff_reset(struct azdo_backoff *b);

#endif
