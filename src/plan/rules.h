/* rules.h - the planner's named SQL queries and the rows they return.
 *
 * Each rule_* function runs one named query (its SQL is a static string beside it in rules.c)
 * against the pool's rows and fills plain structs; plan.c turns them into actions. The rules
 * read nothing older than PLAN_HISTORY_MS and only the rows snapshot.c records, which is what
 * makes a tick replayable. */
#ifndef AZDO_PLAN_RULES_H
#define AZDO_PLAN_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "plan/plan.h"
#include "store/store.h"

#define PLAN_HISTORY_MS (24LL * 3600 * 1000)
/* How long a succeeded create_pod intent stands in for a pod the watch has not shown yet. Once
 * a pod for the create has been seen (pods keeps gone rows), the intent stands in for nothing. */
#define PLAN_CREATE_OBSERVE_MS (120LL * 1000)

struct rule_pool {
    int64_t pool_id;
    char ns[PLAN_NS_MAX];
    char name[PLAN_NAME_MAX];
    int64_t generation;
    bool has_spec;
    int min_agents, max_agents;
    int64_t ttl_ms;
    bool cap_aware;
    char image[PLAN_SENTENCE_MAX];
    bool deleting;
    int64_t deletion_ms;
    bool finalizer;
    char conn[24]; /* "" when never polled */
    int64_t azdo_ok_ms;
};

struct rule_cap {
    char key[PLAN_KEY_MAX]; /* lowercased capabilityImages key */
    char image[PLAN_SENTENCE_MAX];
};

struct rule_pvc_tmpl {
    char name[PLAN_KEY_MAX];
    bool create, optional, delete_with_agent;
};

/* One unfinished job. */
struct rule_job {
    int64_t request_id;
    char cls[12];            /* pending, assigned, running */
    bool matched;            /* false: demands name two managed keys (no single image) */
    char variant[PLAN_KEY_MAX]; /* "" default image, else a capability key */
    char keys[PLAN_SENTENCE_MAX]; /* demand_keys_json, for messages */
};

/* Everything the planner knows about one slot index. */
struct rule_slot {
    int idx;
    /* pod (has_pod false when none) */
    bool has_pod;
    char pod_name[PLAN_NAME_MAX];
    char pod_cap[PLAN_KEY_MAX];
    char phase[12];
    char waiting[64];
    bool pod_deleting;
    int64_t pod_deletion_ms; /* deletionTimestamp: due to be gone; 0 when unknown */
    int64_t pod_created_ms;
    int64_t bad_since_ms;
    int bad_observations;
    /* registration (has_agent false when none) */
    bool has_agent;
    int64_t agent_id;
    bool online, enabled, busy;
    int64_t last_finish_ms, status_changed_ms, agent_observed_ms;
    /* memory */
    char prev_state[16];     /* "" when the slot had no row */
    char prev_cap[PLAN_KEY_MAX];
    char create_state[12];   /* latest create_pod intent for the index: "" or its state */
    int64_t create_ended_ms;
    char create_cap[PLAN_KEY_MAX];
    bool create_superseded;  /* a delete_pod intent for the slot's pod came after the create */
    bool create_seen;        /* a pod of the slot was first seen after the create was decided
                              * (it may be gone again): the create is no longer in flight */
    char agent_act[24];      /* latest disable/enable/delete_registration intent on the agent */
    char agent_act_state[12];
    int64_t agent_act_ended_ms;
    int64_t agent_act_created_ms;
    char pod_del_state[12];  /* latest delete_pod intent on the pod's name */
    int64_t pod_del_created_ms;
};

struct rule_placeholder {
    char name[PLAN_NAME_MAX];
    bool is_agent;           /* a registration (else a one-shot pod) */
    int64_t agent_id;
    char pod_phase[12];
    bool pod_deleting;
};

struct rule_pvc {
    char name[PLAN_NAME_MAX];
    int idx;                 /* -1 shared */
    char tmpl[PLAN_KEY_MAX];
    bool deleting;
};

/* Growable arrays filled by the rules; plan.c frees them with rules_free. */
struct rule_set {
    struct rule_pool pool;
    struct rule_cap *caps; size_t n_caps;
    struct rule_pvc_tmpl *tmpls; size_t n_tmpls;
    struct rule_job *jobs; size_t n_jobs;
    struct rule_slot *slots; size_t n_slots;
    struct rule_placeholder *phs; size_t n_phs;
    struct rule_pvc *pvcs; size_t n_pvcs;
    char **prev_events; size_t n_prev_events;   /* conditions active at the latest tick */
    char **open_targets; size_t n_open_targets; /* targets of pending/started intents */
};

int rules_load(struct store *s, int64_t pool_id, int64_t now_ms, struct rule_set *rs,
               struct err *err);
void rules_free(struct rule_set *rs);

/* Image-pull replacements of variant 'cap' under the current generation within the history
 * window, and the time of the latest. */
int rule_pull_failures(struct store *s, const struct rule_set *rs, const char *cap,
                       int64_t now_ms, int *count, int64_t *last_ms, struct err *err);
/* End time of the latest succeeded register_placeholder intent for 'name' in the history
 * window, 0 when none. */
int rule_placeholder_last_registered(struct store *s, const struct rule_set *rs,
                                     const char *name, int64_t now_ms, int64_t *out,
                                     struct err *err);

#endif
