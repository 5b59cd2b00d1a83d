/* store_status.h - a pool's status summary: the RunnerPool printer columns and conditions.
 * Derived from the latest observations and the slot states of the latest planner tick. */
#ifndef AZDO_STORE_STATUS_H
#define AZDO_STORE_STATUS_H

#include "store/store.h"

struct pool_status {
    char state[24];            /* STATUS column: pools.state (pending, connected, ...) */
    int queued;                /* QUEUED: unfinished jobs with no agent chosen */
    int agents;                /* AGENTS (numerator): live slots (creating/starting/idle/busy/
                                * draining) */
    int max_agents;            /* AGENTS (denominator): spec.maxAgents, default 10 */
    int running;               /* RUNNING: agents named by an assigned or running job */
    int failed;                /* slots in state failed */
    int placeholders;          /* placeholder registrations present */
    int unmatched;             /* waiting jobs no image can take (last tick) */
    bool azdo_connected;       /* condition AzDoConnected */
    char azdo_reason[32];      /* Connected, AuthFailed, PoolNotFound, Unreachable, Throttled,
                                * Pending */
    char azdo_message[256];    /* last failure text, never a token */
    bool degraded;             /* condition Degraded */
    char degraded_reason[64];  /* reason code of the degradation, "" when not degraded */
    int64_t last_polled_ms;    /* last successful Azure DevOps poll, 0 when none */
    int64_t generation;        /* observedGeneration */
};

/* Fills *out for the pool. Returns 0, -ENOENT when the pool was never observed, -EIO. */
int store_pool_status(struct store *s, const struct pool_key *key, struct pool_status *out,
                      struct err *err);

#endif
