/* reconcile.c - plan each dirty pool from the database, record the decisions, act on them.
 *
 * One pass per dirty pool (operator.h invariant 2: never while a batch is in flight):
 *   plan() -> store_record_tick() (decisions + pending intents) -> status patch -> actions in
 *   order, one at a time; an action marked after_prev is abandoned when the one before it did
 *   not succeed. When the batch is done the pool is marked dirty again so the planner sees the
 *   outcomes (an idle batch plans nothing and the pool stays clean until the next observation).
 *
 * Before the first pass after start-up, intents left open by a crash are resolved: each one is
 * executed again (actions are idempotent: creating what exists or deleting what is gone is
 * success) and finished, so nothing is repeated blindly and nothing is left dangling. */
#include "operator/operator.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "operator/servers.h"
#include "operator/status.h"
#include "plan/plan.h"
#include "store/store_audit.h"

struct batch {
    struct op_pool *pool;
    struct plan_result result; /* owns the actions */
    size_t next;
    bool prev_ok;
    bool recovering; /* resolving crash leftovers: no tick, no status */
    struct plan_action *open; /* recovering: the open intents (owned) */
    size_t n_open;
};

static void batch_step(struct batch *b);

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void batch_finish(struct batch *b)
{
    struct op_pool *p = b->pool;

    plan_result_free(&b->result);
    free(b->open);
    free(b);
    p->actions_in_flight = 0;
    op_pool_dirty(p);
}

static void on_action_done(struct op_pool *p, struct plan_action *a, int rc, const char *msg,
                           void *cb_data)
{
    struct batch *b = cb_data;
    struct err err = {0};
    int64_t now = (int64_t)loop_wall_ms();

    if (store_intent_finish(p->op->store, a->intent_id, rc == 0 ? INTENT_SUCCEEDED : INTENT_FAILED,
                            rc == 0 ? NULL : msg, now, &err) != 0)
        log_event(LOG_ERROR, "reconcile", "cannot record outcome", "{s:I, s:s}", "intent",
                  (json_int_t)a->intent_id, "err", err.msg);
    if (rc == 0) {
        log_event(a->kind == PLAN_EMIT_EVENT ? LOG_DEBUG : LOG_INFO, "reconcile", "action done",
                  "{s:s, s:s, s:s, s:s, s:s}", "ns", p->ns, "pool", p->name, "action",
                  plan_kind_name(a->kind), "target", a->target, "reason", a->reason);
    } else {
        log_event(LOG_WARN, "reconcile", "action failed", "{s:s, s:s, s:s, s:s, s:s}", "ns",
                  p->ns, "pool", p->name, "action", plan_kind_name(a->kind), "target", a->target,
                  "err", msg != NULL ? msg : "");
        op_metrics_error(p->op, "action");
        /* A failed action is decided again by a later tick; give the world a moment first. */
        loop_timer_start(p->op->loop, &p->retry_timer, 2000);
    }
    b->prev_ok = rc == 0;
    batch_step(b);
}

static void batch_step(struct batch *b)
{
    struct op_pool *p = b->pool;
    struct plan_action *actions = b->recovering ? b->open : b->result.actions;
    size_t n = b->recovering ? b->n_open : b->result.n_actions;
    struct err err = {0};
    int64_t now = (int64_t)loop_wall_ms();

    while (b->next < n) {
        struct plan_action *a = &actions[b->next++];

        if (loop_stopping(p->op->loop) || (a->after_prev && !b->prev_ok)) {
            if (store_intent_finish(p->op->store, a->intent_id, INTENT_ABANDONED,
                                    "not attempted: an earlier step did not succeed", now,
                                    &err) != 0)
                log_event(LOG_ERROR, "reconcile", "cannot record outcome", "{s:s}", "err",
                          err.msg);
            b->prev_ok = false;
            continue;
        }
        if (store_intent_start(p->op->store, a->intent_id, now, &err) != 0)
            log_event(LOG_ERROR, "reconcile", "cannot record intent start", "{s:s}", "err",
                      err.msg);
        op_act_start(p, a, on_action_done, b); /* continues in on_action_done */
        return;
    }
    batch_finish(b);
}

/* Status and events only change with the plan, so they are refreshed once per pass. */
/* What a recorded tick would say: the pool's state, the counts behind the decision (waiting,
 * idle, busy, starting, unmatched) and every slot's state and cause. New string (free()), or
 * NULL when out of memory. */
static char *tick_signature(const struct plan_result *r)
{
    size_t cap = 64 + r->n_slots * (32 + PLAN_KEY_MAX + PLAN_REASON_MAX);
    char *sig = malloc(cap);
    size_t len;

    if (sig == NULL)
        return NULL;
    len = (size_t)snprintf(sig, cap, "%s|%s|%d,%d,%d,%d,%d", r->pool_state, r->pool_cause,
                           r->counts.waiting, r->counts.idle, r->counts.busy, r->counts.starting,
                           r->counts.unmatched);
    for (size_t i = 0; i < r->n_slots && len < cap; i++)
        len += (size_t)snprintf(sig + len, cap - len, "|%d:%s:%s:%s", r->slots[i].idx,
                                r->slots[i].state, r->slots[i].cap_key, r->slots[i].cause);
    return sig;
}

static void plan_pool(struct op_pool *p)
{
    struct op *op = p->op;
    struct pool_key key = {p->ns, p->name};
    struct err err = {0};
    struct batch *b;
    int64_t now = (int64_t)loop_wall_ms();
    double t0, t1;
    int rc;

    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return;
    b->pool = p;
    b->prev_ok = true;
    t0 = mono_s();
    if (plan(op->store, &key, now, &b->result, &err) != 0) {
        log_event(LOG_ERROR, "reconcile", "cannot plan pool", "{s:s, s:s, s:s}", "ns", p->ns,
                  "pool", p->name, "err", err.msg);
        plan_result_free(&b->result);
        free(b);
        return;
    }
    t1 = mono_s();
    /* A pass that decides nothing and changes no slot or pool state adds nothing to the audit
     * trail: recording it anyway wrote a tick and a planner-input snapshot on every poll of
     * every pool (2 GB/h idle at 1,000 pools, tools/bench). Such passes are skipped; the first
     * pass after a start is always recorded. LIMITATION: replay therefore re-checks only the
     * recorded passes, which are all the ones that changed something. */
    char *sig = tick_signature(&b->result);
    bool quiet = b->result.n_actions == 0 && sig != NULL && p->last_tick_sig != NULL &&
                 strcmp(sig, p->last_tick_sig) == 0;
    rc = quiet ? 0 : store_record_tick(op->store, &b->result, NULL, &err);
    op_metrics_tick(op, t1 - t0, mono_s() - t1);
    op->store_failing = rc != 0;
    if (rc == 0 && !quiet) {
        free(p->last_tick_sig);
        p->last_tick_sig = sig;
        sig = NULL;
    }
    free(sig);
    if (rc != 0) {
        /* Acting without a recorded intent would break the audit trail and crash recovery:
         * fail closed, and try again on the next observation. */
        log_event(LOG_ERROR, "reconcile", "cannot record decisions, not acting",
                  "{s:s, s:s, s:s}", "ns", p->ns, "pool", p->name, "err", err.msg);
        op_metrics_error(op, "store");
        plan_result_free(&b->result);
        free(b);
        loop_timer_start(op->loop, &p->retry_timer, 5000);
        return;
    }
    op_status_update(p, &b->result);
    for (size_t i = 0; i < b->result.n_actions; i++)
        op_metrics_decision(op, plan_kind_name(b->result.actions[i].kind));
    if (b->result.n_actions == 0) {
        plan_result_free(&b->result);
        free(b);
        return;
    }
    p->actions_in_flight = 1;
    batch_step(b);
}

/* Re-executes the intents a crash left open, grouped per pool, before any new planning. */
static void resolve_open_intents(struct op *op)
{
    struct plan_action *open = NULL;
    size_t n = 0;
    struct err err = {0};

    op->intents_resolved = true;
    if (store_open_intents(op->store, &open, &n, &err) != 0) {
        log_event(LOG_ERROR, "reconcile", "cannot read open intents", "{s:s}", "err", err.msg);
        return;
    }
    if (n > 0)
        log_event(LOG_INFO, "reconcile", "resolving intents left open by a restart", "{s:I}",
                  "count", (json_int_t)n);
    for (size_t i = 0; i < n; i++) {
        struct op_pool *p = op_pool_find(op, open[i].ns, open[i].pool);
        struct batch *b;
        size_t j, m = 0;

        if (open[i].intent_id == 0)
            continue; /* already taken into a batch below */
        if (p == NULL || p->spec == NULL || p->actions_in_flight > 0) {
            /* The pool is gone or unusable: the intent can no longer be carried out. */
            store_intent_finish(op->store, open[i].intent_id, INTENT_ABANDONED,
                                "pool no longer managed at restart", (int64_t)loop_wall_ms(),
                                &err);
            continue;
        }
        b = calloc(1, sizeof(*b));
        if (b == NULL)
            break;
        b->open = calloc(n, sizeof(*b->open));
        if (b->open == NULL) {
            free(b);
            break;
        }
        for (j = i; j < n; j++) {
            if (open[j].intent_id != 0 && strcmp(open[j].ns, p->ns) == 0 &&
                strcmp(open[j].pool, p->name) == 0) {
                b->open[m++] = open[j];
                open[j].intent_id = 0;
            }
        }
        b->n_open = m;
        b->pool = p;
        b->prev_ok = true;
        b->recovering = true;
        p->actions_in_flight = 1;
        batch_step(b);
    }
    free(open);
}

void op_reconcile_dirty(struct op *op)
{
    struct op_pool **link = &op->pools;

    if (!op->synced || !op->leading)
        return;
    if (!op->intents_resolved)
        resolve_open_intents(op);
    while (*link != NULL) {
        struct op_pool *p = *link;

        /* Callbacks of an action or a poll still in flight point at the pool: keep it until
         * they are done (they mark it dirty, which brings it back here). */
        if (p->gone && p->actions_in_flight == 0 && !p->poll_in_flight) {
            *link = p->next; /* the RunnerPool is gone from Kubernetes: forget it */
            op_pool_free(p);
            continue;
        }
        if (p->dirty && p->actions_in_flight == 0 && p->spec != NULL) {
            p->dirty = false;
            plan_pool(p);
        } else if (p->dirty && p->spec == NULL && p->actions_in_flight == 0) {
            p->dirty = false;
            op_status_update(p, NULL); /* report the invalid spec */
        }
        link = &p->next;
    }
}
