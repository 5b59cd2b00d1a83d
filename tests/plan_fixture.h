/* plan_fixture.h - table-driven planner scenarios read from tests/fixtures/plan/NAME.json.
 *
 * A fixture names a pool (namespace, name, spec) and a list of steps. Each step gives the time
 * (seconds after T0), the world as observed (full lists: agents, jobs, pods, pvcs; the Azure
 * DevOps connection), then what the planner must decide at that time ("expect"). After a step
 * the recorded intents are executed as the step says ("execute": "succeed" by default, "fail",
 * or "none"), exactly as the run loop would record outcomes. Times inside observations are
 * seconds relative to the step's time (negative = in the past). */
#ifndef AZDO_TESTS_PLAN_FIXTURE_H
#define AZDO_TESTS_PLAN_FIXTURE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "plan/plan.h"
#include "store/store.h"

#define FIXTURE_T0_MS 1760000000000LL

/* Loads tests/fixtures/plan/<name>; NULL on error (message on stderr). New reference. */
json_t *fixture_load(const char *name);

/* Writes the observations of 'step' (and the pool) at 'now_ms' in one transaction. */
int fixture_observe(struct store *s, const json_t *fixture, const json_t *step, int64_t now_ms);

/* Compares the plan result with step.expect; returns 0, or -1 with a reason in why[len]. */
int fixture_check(const json_t *step, const struct plan_result *r, char *why, size_t len);

/* Finishes every intent of 'r' as 'mode' says ("succeed", "fail", "none"). */
int fixture_execute(struct store *s, const struct plan_result *r, const char *mode,
                    int64_t now_ms);

/* Runs every step of 'fixture' against 's' (observe, plan, record, check, execute). Returns 0,
 * or -1 with the failing step and reason in why[len]. */
int fixture_run(struct store *s, const json_t *fixture, char *why, size_t len);

/* Prints the actions of a result (for failing tests). */
void fixture_dump(const struct plan_result *r);

#endif
