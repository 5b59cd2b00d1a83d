/* status.h - the RunnerPool's status subresource and its state-change events.
 *
 * The status is rebuilt from the database after each planner pass (store_pool_status) and
 * patched only when it differs from what was last written, so a quiet pool costs no API calls.
 * Condition lastTransitionTime only moves when the condition's status flips. */
#ifndef AZDO_OPERATOR_STATUS_H
#define AZDO_OPERATOR_STATUS_H

#include <jansson.h>

#include "operator/operator.h"
#include "plan/plan.h"
#include "store/store_status.h"

/* Builds the status object (new reference) from the summary, this pass's plan ('r', may be NULL:
 * failed agents, idle agents and unmatched jobs come from it), the pool's spec problems
 * ('invalid' is "" when valid), the previous status (borrowed, may be NULL: its condition times
 * are kept when a condition did not flip) and the time 'now_rfc3339'. Pure. */
json_t *op_status_build(const struct pool_status *sum, const struct plan_result *r,
                        const char *organization, const char *invalid, const json_t *previous,
                        const char *now_rfc3339);

/* The STATUS column's word for a pool state: "connected" -> "Connected", "auth-failed" ->
 * "AuthFailed". Writes into 'buf'. */
void op_status_state_word(const char *state, char *buf, size_t len);

/* Recomputes and, when changed, patches the status of 'p'; emits a Warning/Normal event when the
 * pool's state changed. 'r' (may be NULL) is the pass's plan. */
void op_status_update(struct op_pool *p, const struct plan_result *r);

#endif
