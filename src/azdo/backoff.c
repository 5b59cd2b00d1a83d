/* backoff.c - exponential backoff with full jitter, server waits honoured (see backoff.h). */
#include "azdo/backoff.h"

void azdo_backoff_init(struct azdo_backoff *b, uint64_t seed)
{
    b->failures = 0;
    b->backoff_until_ms = 0;
    b->server_until_ms = 0;
    /* splitmix64 step: turns small or similar seeds into well-spread xorshift states. */
    seed += 0x9E3779B97F4A7C15ull;
    seed = (seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9ull;
    seed = (seed ^ (seed >> 27)) * 0x94D049BB133111EBull;
    seed ^= seed >> 31;
    b->rng = seed != 0 ? seed : 0x2545F4914F6CDD1Dull;
}

static uint64_t next_random(struct azdo_backoff *b)
{
    uint64_t x = b->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->rng = x;
    return x;
}

/* Moves '*until' later, never earlier: a parallel call may have seen a longer wait. */
static void extend(uint64_t *until, uint64_t now_ms, uint64_t delay_ms)
{
    if (now_ms + delay_ms > *until)
        *until = now_ms + delay_ms;
}

uint64_t azdo_backoff_failure(struct azdo_backoff *b, const struct azdo_backoff_policy *p,
                              uint64_t now_ms, int64_t server_wait_ms)
{
    uint64_t ceiling = p->base_ms;
    uint64_t delay;

    if (b->failures < UINT32_MAX)
        b->failures++;
    for (uint32_t i = 1; i < b->failures && ceiling < p->cap_ms; i++)
        ceiling *= 2;
    if (ceiling > p->cap_ms)
        ceiling = p->cap_ms;
    if (ceiling < p->min_ms)
        ceiling = p->min_ms;

    if (server_wait_ms >= 0) {
        /* The server said how long (429/503 with Retry-After): wait that, plus up to 20 % so
         * pools sharing the identity do not return in the same second; our own exponential
         * ceiling is for failures that come without such a hint. */
        uint64_t wait = (uint64_t)server_wait_ms;
        delay = wait + next_random(b) % (wait / 5 + 1);
        if (delay < p->min_ms)
            delay = p->min_ms;
        extend(&b->server_until_ms, now_ms, wait);
    } else {
        delay = p->min_ms + next_random(b) % (ceiling - p->min_ms + 1);
    }
    extend(&b->backoff_until_ms, now_ms, delay);
    return delay;
}

void azdo_backoff_success(struct azdo_backoff *b, uint64_t now_ms, int64_t server_wait_ms)
{
    b->failures = 0;
    b->backoff_until_ms = 0;
    if (server_wait_ms > 0)
        extend(&b->server_until_ms, now_ms, (uint64_t)server_wait_ms);
}

uint64_t azdo_backoff_wait_ms(const struct azdo_backoff *b, uint64_t now_ms)
{
    uint64_t until =
        b->backoff_until_ms > b->server_until_ms ? b->backoff_until_ms : b->server_until_ms;
    return until > now_ms ? until - now_ms : 0;
}

void azdo_backoff_reset(struct azdo_backoff *b)
{
    b->failures = 0;
    b->backoff_until_ms = 0;
}
