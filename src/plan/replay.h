/* replay.h - re-running the planner over recorded ticks (`azdo-operator replay`).
 *
 * For every tick whose inputs are still stored (plan_inputs; see store_retention.h for how long),
 * the inputs are loaded into a scratch in-memory database with the current schema, the planner
 * runs at the tick's recorded clock, and its actions are compared with the recorded decisions
 * (action, target, slot, capability key, agent id, reason, in order). The inputs' digest is
 * checked too, so a snapshot that no longer loads faithfully is reported as well. */
#ifndef AZDO_PLAN_REPLAY_H
#define AZDO_PLAN_REPLAY_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"
#include "store/store.h"

struct replay_report {
    long ticks;   /* ticks replayed */
    long differ;  /* ticks whose decisions (or digest) differ */
    long skipped; /* ticks whose inputs were pruned */
};

/* Replays every tick of pool 'key' (NULL: all pools) in 's'. Differences are printed to 'out'
 * (may be NULL), one line each; 'verbose' also prints every tick. Returns 0 (even when ticks
 * differ: see rep->differ) or a negative errno when the database cannot be read. */
int plan_replay(struct store *s, const struct pool_key *key, FILE *out, bool verbose,
                struct replay_report *rep, struct err *err);

#endif
