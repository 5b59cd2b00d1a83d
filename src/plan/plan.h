/* plan.h - the planner: a pure function of (database, clock) that picks a pool's next actions.
 *
 * plan() only reads the database (through SQL; no I/O, no wall clock). Each rule is a named SQL
 * query in rules.c; every action carries a reason code "<rule>.<why>" and a sentence. The same
 * database and the same 'now_ms' give the same result, which `azdo-operator replay` checks: the
 * result also carries a canonical JSON snapshot of every row the rules read, and its SHA-256.
 *
 * Calling sequence for the run loop, per pool and tick:
 *   plan(s, key, now, &r, err);            decide
 *   store_record_tick(s, &r, &tick, err);  write tick, decisions, intents (pending), transitions
 *   for each r.actions[i] in order:        skip it when actions[i].after_prev and the previous
 *       store_intent_start(...);           one did not succeed (mark it abandoned)
 *       execute; store_intent_finish(...);
 *   plan_result_free(&r);
 * At start-up, resolve store_open_intents() before the first plan. */
#ifndef AZDO_PLAN_H
#define AZDO_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "store/store.h"

/* What an action does. Names (plan_kind_name) are the decisions.action values. */
enum plan_kind {
    PLAN_ADD_FINALIZER = 0,   /* add our finalizer to the RunnerPool */
    PLAN_CREATE_PVC,          /* create PVC 'target' (slot, pvc_template) */
    PLAN_CREATE_POD,          /* create agent pod 'target' at 'slot' with image variant cap_key;
                               * omit_pvcs lists optional claims that are missing */
    PLAN_DELETE_POD,          /* delete pod 'target' (agent or placeholder pod) */
    PLAN_DELETE_PVC,          /* delete PVC 'target' */
    PLAN_DISABLE_AGENT,       /* PATCH agent 'agent_id' enabled=false (drain step 1) */
    PLAN_ENABLE_AGENT,        /* PATCH agent 'agent_id' enabled=true (drain aborted) */
    PLAN_DELETE_REGISTRATION, /* DELETE agent 'agent_id' ('target' is its name) */
    PLAN_REGISTER_PLACEHOLDER,/* run the one-shot pod 'target' that registers an offline
                               * placeholder agent named 'target' for cap_key */
    PLAN_DELETE_PLACEHOLDER,  /* DELETE placeholder agent 'agent_id' */
    PLAN_RELEASE_FINALIZER,   /* remove our finalizer: cleanup is complete */
    PLAN_EMIT_EVENT,          /* Kubernetes event on the RunnerPool: reason 'target', message
                               * 'sentence', type from plan_event_is_warning(target) */
};
#define PLAN_KIND_COUNT (PLAN_EMIT_EVENT + 1)

#define PLAN_NS_MAX 64
#define PLAN_NAME_MAX 254
#define PLAN_KEY_MAX 64
#define PLAN_REASON_MAX 64
#define PLAN_SENTENCE_MAX 320

struct plan_action {
    enum plan_kind kind;
    char ns[PLAN_NS_MAX];       /* the pool's namespace */
    char pool[PLAN_NAME_MAX];   /* the RunnerPool's name */
    int slot;                   /* slot index, -1 when not about a slot */
    char cap_key[PLAN_KEY_MAX]; /* capabilityImages key; "" = spec.image */
    char target[PLAN_NAME_MAX]; /* pod / PVC / agent name, or the event reason */
    int64_t agent_id;           /* Azure DevOps agent id, 0 when none */
    char pvc_template[PLAN_KEY_MAX]; /* create_pvc/delete_pvc: spec.pvcs[].name */
    char omit_pvcs[PLAN_SENTENCE_MAX]; /* create_pod: comma-separated optional claims to leave
                                        * out because they are missing */
    bool run_once;              /* create_pod: the agent takes one job, then exits */
    bool after_prev;            /* execute only if the previous action succeeded */
    char reason[PLAN_REASON_MAX];      /* "<rule>.<why>" */
    char sentence[PLAN_SENTENCE_MAX];  /* for humans: decision log, events */
    int64_t intent_id;          /* set by store_record_tick; 0 before */
    int attempt;                /* store_open_intents: the intent's attempt number */
};

/* Counts behind the tick's decision (field report #1). */
struct plan_counts {
    int waiting;   /* unfinished jobs with no agent chosen (all variants) */
    int idle;      /* online, enabled agents with no job */
    int busy;      /* agents named by an assigned or running job */
    int starting;  /* creating or starting slots */
    int created;   /* pods this tick creates */
    int deleted;   /* pods this tick deletes */
    int unmatched; /* waiting jobs no image can take (capabilityAware) */
};

/* The state the planner derived for one slot this tick. */
struct plan_slot {
    int idx;
    char state[16]; /* creating, starting, idle, busy, draining, deleting, unregistering, failed */
    char cap_key[PLAN_KEY_MAX];
    char cause[PLAN_REASON_MAX];
};

struct plan_result {
    char ns[PLAN_NS_MAX];
    char pool[PLAN_NAME_MAX];
    int64_t pool_id;
    int64_t now_ms;
    int64_t generation;
    char pool_state[24]; /* pending, connected, auth-failed, ..., degraded, deleting */
    char pool_cause[PLAN_REASON_MAX];
    struct plan_counts counts;
    struct plan_action *actions; /* in execution order */
    size_t n_actions;
    struct plan_slot *slots;     /* every non-absent slot, by index */
    size_t n_slots;
    char conditions[256];        /* JSON array of event-worthy conditions active now */
    char *inputs_json;           /* canonical snapshot of the rows the rules read */
    char digest[65];             /* hex SHA-256 of inputs_json */
};

/* Plans one pool at 'now_ms'. On success 'out' holds new memory: release with plan_result_free
 * (also safe after a failure). Returns 0, -ENOENT for a pool never observed, -EIO on SQL errors.
 * Reads only; call it outside a write transaction or inside one, as convenient. */
int plan(struct store *s, const struct pool_key *key, int64_t now_ms, struct plan_result *out,
         struct err *err);
void plan_result_free(struct plan_result *r);

const char *plan_kind_name(enum plan_kind k);
/* Parses a decisions.action value; returns 0 or -EINVAL. */
int plan_kind_parse(const char *name, enum plan_kind *out);
/* Whether an event reason is a Warning (else Normal). */
bool plan_event_is_warning(const char *reason);

/* Naming scheme shared with the pod/PVC builders (src/pool/). Return snprintf's count. */
int plan_agent_name(char *buf, size_t len, const char *pool, int idx);   /* <pool>-agent-<n> */
int plan_placeholder_name(char *buf, size_t len, const char *pool, const char *cap_key);
                                               /* <pool>-template, <pool>-template-<key> */
int plan_pvc_name(char *buf, size_t len, const char *pool, int idx, const char *tmpl);
                                               /* <pool>-agent-<n>-<tmpl> */

#endif
