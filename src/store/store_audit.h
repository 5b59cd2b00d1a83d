/* store_audit.h - the audit trail: planner ticks, decisions, intents, state transitions.
 *
 * An intent is written (pending) before its action is sent and finished after, so after a crash
 * the open ones are visible (store_open_intents) and can be resolved first. Actions are
 * idempotent by construction: creating what exists, or deleting what is gone, is success. */
#ifndef AZDO_STORE_AUDIT_H
#define AZDO_STORE_AUDIT_H

#include "plan/plan.h"
#include "store/store.h"

/* Records one planner run: the tick (with its counts and inputs digest; the inputs JSON is
 * stored once per digest), one decision per action, one pending intent per action, the slot
 * states (slot_transitions for each change) and the pool state (pool_transitions on change).
 * Sets r->actions[i].intent_id. *tick_id (may be NULL) gets the new tick's id. Runs in its own
 * transaction unless one is open. Returns 0 or -EIO. */
int store_record_tick(struct store *s, struct plan_result *r, int64_t *tick_id, struct err *err);

enum intent_outcome {
    INTENT_SUCCEEDED = 0, /* done, or already in the wanted state (exists / not found) */
    INTENT_FAILED,        /* the call failed; a later tick decides again */
    INTENT_ABANDONED,     /* not attempted (after_prev and the previous failed; shutdown) */
};

/* pending -> started, with the time the request is sent. */
int store_intent_start(struct store *s, int64_t intent_id, int64_t now_ms, struct err *err);
/* started/pending -> succeeded/failed/abandoned. 'error' (may be NULL) is stored for humans:
 * never pass a token or a response body that could echo one. */
int store_intent_finish(struct store *s, int64_t intent_id, enum intent_outcome outcome,
                        const char *error, int64_t now_ms, struct err *err);

/* The intents still pending or started (a crash happened between writing and finishing them),
 * oldest first, all pools. *out is new (free()); each element has ns, pool, intent_id, attempt
 * and the action's fields. Resolve each by re-executing it (idempotent) or abandoning it. */
int store_open_intents(struct store *s, struct plan_action **out, size_t *n, struct err *err);

#endif
