/* plan.c - the planner (see plan.h): rule rows in, actions out.
 *
 * Slot state machine (derive_slot; the transitions are documented in schema/README.md):
 *
 *   absent --create_pod--> creating --pod seen--> starting --agent online--> idle <--> busy
 *   idle --ttl, disable_agent--> draining --confirmed idle: delete_registration, delete_pod-->
 *   unregistering/deleting --pod and registration gone--> absent
 *   draining --job assigned meanwhile: enable_agent--> busy
 *   any --pod failed / crash loop / image pull / offline too long / start timeout--> failed
 *   failed --delete_pod, delete_registration--> (stays failed until both are gone) --> absent
 *
 * Invariants: (1) no delete_pod or delete_registration for an agent the latest observation shows
 * busy; (2) nothing destructive while Azure DevOps answers are missing, stale or failing (the
 * pool gate), except when the pool itself is being deleted; (3) pods never exceed maxAgents:
 * every slot that has a pod, or a create in flight, counts; (4) actions of one slot come in
 * execution order, and an action that must not run alone has after_prev set.
 *
 * LIMITATION: the anti-loop rule of field report #3 (stop after a pod idled out twice for the
 * same never-picked-up job, event JobNotPickedUp) is not implemented: such a job gets a new pod
 * every ttlIdleSeconds. A fix needs the job ids a create was made for, kept in the decision.
 * LIMITATION: agent names are <pool>-agent-<n> with the RunnerPool's name only; two RunnerPools
 * of the same name in different namespaces pointing at the same Azure DevOps pool would see each
 * other's agents as their own. A fix needs the namespace in the name, or a validation refusing it.
 * LIMITATION: an agent disabled by an administrator (not by us) stays in state idle but is not
 * capacity and is never retired; the operator neither re-enables nor removes it. */
#include "plan/plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/rules.h"
#include "plan/snapshot.h"
#include "store/store_obs.h"

#define MIN_MS (60LL * 1000)
#define AZDO_STALE_MS (5 * MIN_MS)       /* older successful poll: demand is unknown */
#define CREATE_OBSERVE_MS PLAN_CREATE_OBSERVE_MS /* a created pod not yet seen still counts */
#define AGENT_OFFLINE_GRACE_MS (5 * MIN_MS)
#define START_TIMEOUT_MS (15 * MIN_MS)   /* pod up, agent never online */
#define TERMINATION_OVERDUE_MS (30 * 1000) /* past deletionTimestamp: stuck (node lost) */
#define ORPHAN_OFFLINE_MS (10 * MIN_MS)  /* unknown offline registration of our naming scheme */
#define PULL_FAIL_OBSERVATIONS 3
#define PULL_FAIL_MS (5 * MIN_MS)
#define RUN_ONCE_IDLE_MS (10 * MIN_MS)   /* ttlIdleSeconds 0: an agent whose job went elsewhere */
#define DELETION_GIVE_UP_MS (10 * MIN_MS) /* pool deletion without Azure DevOps */
#define PULL_BACKOFF_BASE_MS MIN_MS
#define PULL_BACKOFF_MAX_MS (30 * MIN_MS)

struct derived {
    const struct rule_slot *o;
    char state[16];
    char cause[PLAN_REASON_MAX];
    char cap[PLAN_KEY_MAX];
    bool idle_capacity;  /* online, enabled, no job */
    bool starting;       /* creating or starting */
    bool live;           /* counts toward minAgents */
    bool has_pod_or_create; /* counts toward maxAgents */
    int64_t idle_since_ms;
    bool retiring;       /* chosen this tick for retirement */
};

struct variant {
    char key[PLAN_KEY_MAX];
    char image[PLAN_SENTENCE_MAX];
    int pending, idle, starting, present;
    bool failing_pull;   /* a pod of this variant shows an image/config error */
};

struct planner {
    struct store *s;
    struct rule_set rs;
    int64_t now;
    struct plan_result *r;
    size_t cap_actions;
    struct derived *d;
    size_t nd;
    struct variant *v;
    size_t nv;
    int *taken; /* indexes claimed by creates this tick */
    size_t ntaken;
    bool gate;  /* Azure DevOps data is fresh and ok */
    char conditions[8][48];
    size_t ncond;
    struct err *err;
};

/* ---- small helpers --------------------------------------------------------------------------- */

static bool eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static bool intent_live(const char *state)
{
    return state[0] != '\0' && !eq(state, "failed") && !eq(state, "abandoned");
}

static struct plan_action *add(struct planner *pl, enum plan_kind kind, int slot,
                               const char *cap, const char *target, int64_t agent_id,
                               const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static struct plan_action *add(struct planner *pl, enum plan_kind kind, int slot,
                               const char *cap, const char *target, int64_t agent_id,
                               const char *reason, const char *fmt, ...)
{
    struct plan_result *r = pl->r;
    va_list ap;

    if (r->n_actions == pl->cap_actions) {
        size_t ncap = pl->cap_actions ? pl->cap_actions * 2 : 16;
        struct plan_action *na = realloc(r->actions, ncap * sizeof(*na));
        if (na == NULL)
            return NULL;
        r->actions = na;
        pl->cap_actions = ncap;
    }
    struct plan_action *a = &r->actions[r->n_actions++];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    snprintf(a->ns, sizeof(a->ns), "%s", r->ns);
    snprintf(a->pool, sizeof(a->pool), "%s", r->pool);
    a->slot = slot;
    snprintf(a->cap_key, sizeof(a->cap_key), "%s", cap != NULL ? cap : "");
    snprintf(a->target, sizeof(a->target), "%s", target);
    a->agent_id = agent_id;
    snprintf(a->reason, sizeof(a->reason), "%s", reason);
    va_start(ap, fmt);
    vsnprintf(a->sentence, sizeof(a->sentence), fmt, ap);
    va_end(ap);
    if (kind == PLAN_CREATE_POD)
        r->counts.created++;
    return a;
}

#define ADD_OR_FAIL(...)                                                                       \
    do {                                                                                       \
        if (add(__VA_ARGS__) == NULL)                                                          \
            return err_set(pl->err, -ENOMEM, "out of memory");                                 \
    } while (0)

/* Marks a condition active this tick. Returns true when it just appeared: active now, not
 * already marked this tick, and not active at the previous tick (one event per change). */
static bool was_condition(const struct planner *pl, const char *name);
static bool condition(struct planner *pl, const char *name)
{
    for (size_t i = 0; i < pl->ncond; i++) {
        if (eq(pl->conditions[i], name))
            return false;
    }
    if (pl->ncond < sizeof(pl->conditions) / sizeof(pl->conditions[0]))
        snprintf(pl->conditions[pl->ncond++], sizeof(pl->conditions[0]), "%s", name);
    return !was_condition(pl, name);
}

static bool was_condition(const struct planner *pl, const char *name)
{
    for (size_t i = 0; i < pl->rs.n_prev_events; i++) {
        if (eq(pl->rs.prev_events[i], name))
            return true;
    }
    return false;
}

static bool open_intent(const struct planner *pl, const char *action, const char *target)
{
    char key[PLAN_NAME_MAX + 32];
    snprintf(key, sizeof(key), "%s:%s", action, target);
    for (size_t i = 0; i < pl->rs.n_open_targets; i++) {
        if (eq(pl->rs.open_targets[i], key))
            return true;
    }
    return false;
}

static struct variant *variant_of(struct planner *pl, const char *key)
{
    for (size_t i = 0; i < pl->nv; i++) {
        if (eq(pl->v[i].key, key))
            return &pl->v[i];
    }
    return NULL;
}

static void agent_name(const struct planner *pl, int idx, char *buf, size_t len)
{
    plan_agent_name(buf, len, pl->r->pool, idx);
}

/* ---- slot state derivation ------------------------------------------------------------------- */

static void set_state(struct derived *d, const char *state, const char *cause)
{
    snprintf(d->state, sizeof(d->state), "%s", state);
    snprintf(d->cause, sizeof(d->cause), "%s", cause);
}

static const char *failing_cause(const struct rule_slot *o)
{
    if (eq(o->phase, "Failed"))
        return "pod_failed";
    if (eq(o->waiting, "CrashLoopBackOff") || eq(o->waiting, "RunContainerError"))
        return "crash_loop";
    if (eq(o->waiting, "CreateContainerConfigError") || eq(o->waiting, "CreateContainerError"))
        return "config_error";
    if (store_reason_is_failing(o->waiting))
        return "image_pull";
    return NULL;
}

static void derive_slot(struct planner *pl, const struct rule_slot *o, struct derived *d)
{
    int64_t now = pl->now;
    bool pod_deleting = o->has_pod && (o->pod_deleting || intent_live(o->pod_del_state));
    /* Every deletion of ours has a delete_pod intent; a deletionTimestamp without one is someone
     * else's (kubectl delete pod, an eviction). While the pod shuts down in time, the slot is
     * replaced in place; one still there well past its deletionTimestamp (or with none known)
     * is stuck, typically on a lost node, and its index is given up (field report #5). */
    bool by_others = o->has_pod && o->pod_deleting && !intent_live(o->pod_del_state) &&
                     !pl->rs.pool.deleting;
    bool deleted_by_others = by_others && o->pod_deletion_ms > 0 &&
                             now <= o->pod_deletion_ms + TERMINATION_OVERDUE_MS;
    bool stuck_terminating = by_others && !deleted_by_others;
    /* A create stands in for its pod until the pod is seen: once seen, a missing pod is gone
     * (deleted by us or behind our back), not on its way. */
    bool creating = !o->has_pod && !o->create_superseded && !o->create_seen &&
                    (eq(o->create_state, "pending") || eq(o->create_state, "started") ||
                     (eq(o->create_state, "succeeded") &&
                      o->create_ended_ms >= now - CREATE_OBSERVE_MS));
    bool we_disabled = eq(o->agent_act, "disable_agent") && intent_live(o->agent_act_state);
    bool unregistered = eq(o->agent_act, "delete_registration") &&
                        intent_live(o->agent_act_state);
    const char *fail = o->has_pod ? failing_cause(o) : NULL;

    memset(d, 0, sizeof(*d));
    d->o = o;
    snprintf(d->cap, sizeof(d->cap), "%s",
             o->has_pod ? o->pod_cap : creating ? o->create_cap : o->prev_cap);
    d->has_pod_or_create = o->has_pod || creating;

    if (!o->has_pod && !o->has_agent && !creating)
        return; /* absent: state stays "" */
    if (creating) {
        /* Created, not yet seen by the watch (its agent may already have registered). */
        set_state(d, "creating", "create_pod");
    } else if (deleted_by_others) {
        /* Failed, not deleting: the slot keeps counting toward minAgents, so the replacement
         * waits for the index instead of taking the next one (field report #5). */
        set_state(d, "failed", "pod_deleted");
    } else if (pod_deleting) {
        set_state(d, "deleting", "pod_terminating");
    } else if (o->busy) {
        set_state(d, "busy", "job_assigned");
    } else if (o->has_pod && eq(o->phase, "Succeeded")) {
        set_state(d, "unregistering", "exited");
    } else if (fail != NULL) {
        set_state(d, "failed", fail);
    } else if (o->has_agent && we_disabled &&
               (!o->enabled || o->agent_observed_ms <= o->agent_act_ended_ms)) {
        /* Disabled by us; until an observation newer than the disable shows it, assume it. */
        set_state(d, "draining", "disabled");
    } else if (o->has_agent && unregistered) {
        set_state(d, "unregistering", "retired");
    } else if (!o->has_agent && o->has_pod && unregistered) {
        set_state(d, "deleting", "retired");
    } else if (o->has_agent && o->online && o->enabled && o->has_pod) {
        set_state(d, "idle", "agent_online");
    } else if (o->has_pod) {
        bool went_offline = o->has_agent && !o->online && o->status_changed_ms > o->pod_created_ms;
        if (went_offline && eq(o->phase, "Running") &&
            now - o->status_changed_ms > AGENT_OFFLINE_GRACE_MS)
            set_state(d, "failed", "agent_offline");
        else if (went_offline)
            set_state(d, "starting", "agent_reconnecting");
        else if (!(o->has_agent && o->online) && now - o->pod_created_ms > START_TIMEOUT_MS)
            set_state(d, "failed", "start_timeout");
        else if (o->has_agent && o->online)
            set_state(d, "idle", "disabled_by_someone_else");
        else
            set_state(d, "starting", "pod_created");
    } else if (o->online) {
        /* Online with no pod of ours: another listener (an old pod on a lost node, a copy
         * elsewhere) holds the session. Not capacity, and its index is not reused while it is
         * online (field report #5). */
        set_state(d, "deleting", "pod_missing");
    } else {
        set_state(d, "unregistering", "leftover");
    }

    /* A failed slot stays failed (reserving its index for minAgents) until both its pod and its
     * registration are gone, so the replacement takes the same index (field report #5). */
    if (eq(o->prev_state, "failed") && !stuck_terminating &&
        (eq(d->state, "deleting") || eq(d->state, "unregistering")))
        set_state(d, "failed", "replacing");

    d->idle_capacity = eq(d->state, "idle") && o->enabled;
    d->starting = eq(d->state, "starting") || eq(d->state, "creating");
    d->live = d->idle_capacity || d->starting || eq(d->state, "busy") || eq(d->state, "failed");
    d->idle_since_ms = o->pod_created_ms;
    if (o->last_finish_ms > d->idle_since_ms)
        d->idle_since_ms = o->last_finish_ms;
    /* A drain aborted by a job resets the idle clock (field report #6). */
    if (eq(o->agent_act, "enable_agent") && o->agent_act_ended_ms > d->idle_since_ms)
        d->idle_since_ms = o->agent_act_ended_ms;
}

/* ---- rule replace_failed --------------------------------------------------------------------
 * Failed slots: delete the pod, then the registration once the agent is offline. Image-pull and
 * config errors wait for PULL_FAIL_OBSERVATIONS observations or PULL_FAIL_MS (InvalidImageName
 * at once), since a registry hiccup heals itself; the pod is not capacity meanwhile. */
static int rule_replace_failed(struct planner *pl, struct derived *d)
{
    const struct rule_slot *o = d->o;
    char reason[PLAN_REASON_MAX + 32], name[PLAN_NAME_MAX];

    if (!eq(d->state, "failed"))
        return 0;
    if (eq(d->cause, "image_pull") || eq(d->cause, "config_error")) {
        bool ripe = o->bad_observations >= PULL_FAIL_OBSERVATIONS ||
                    (o->bad_since_ms > 0 && pl->now - o->bad_since_ms >= PULL_FAIL_MS) ||
                    eq(o->waiting, "InvalidImageName");
        if (!ripe)
            return 0;
    }
    snprintf(reason, sizeof(reason), "replace_failed.%s", d->cause);
    if (o->has_pod && !o->pod_deleting && !intent_live(o->pod_del_state)) {
        ADD_OR_FAIL(pl, PLAN_DELETE_POD, o->idx, d->cap, o->pod_name, 0, reason,
                    "pod %s failed (%s%s%s): deleting it so the slot can be replaced",
                    o->pod_name, d->cause, o->waiting[0] ? ", " : "", o->waiting);
        pl->r->counts.deleted++;
        if (eq(d->cause, "image_pull")) {
            struct variant *v = variant_of(pl, d->cap);
            ADD_OR_FAIL(pl, PLAN_EMIT_EVENT, o->idx, d->cap, "ImagePullFailed", 0, reason,
                        "image %s of variant '%s' cannot be pulled (%s); pod %s deleted",
                        v != NULL ? v->image : "?", d->cap[0] ? d->cap : "default", o->waiting,
                        o->pod_name);
        }
    }
    bool in_progress = eq(o->agent_act, "delete_registration") &&
                       (eq(o->agent_act_state, "pending") || eq(o->agent_act_state, "started") ||
                        (eq(o->agent_act_state, "succeeded") &&
                         o->agent_observed_ms <= o->agent_act_ended_ms));
    if (o->has_agent && !o->online && !o->busy && !in_progress) {
        agent_name(pl, o->idx, name, sizeof(name));
        ADD_OR_FAIL(pl, PLAN_DELETE_REGISTRATION, o->idx, d->cap, name, o->agent_id, reason,
                    "registration %s (id %lld) belongs to a failed slot and is offline: removing"
                    " it before the slot is reused", name, (long long)o->agent_id);
    }
    return 0;
}

/* ---- rule drain: confirm or abort a drain on the observation after disable_agent ------------ */
static int rule_drain(struct planner *pl, struct derived *d)
{
    const struct rule_slot *o = d->o;
    char name[PLAN_NAME_MAX];
    bool we_disabled = eq(o->agent_act, "disable_agent") && eq(o->agent_act_state, "succeeded");

    agent_name(pl, o->idx, name, sizeof(name));
    /* A job reached the agent between disable and now: give the agent back (field report #6). */
    if (eq(d->state, "busy") && o->has_agent && !o->enabled && we_disabled) {
        ADD_OR_FAIL(pl, PLAN_ENABLE_AGENT, o->idx, d->cap, name, o->agent_id,
                    "drain.job_assigned", "job assigned to %s while it was being drained:"
                    " re-enabling it, it stays", name);
        ADD_OR_FAIL(pl, PLAN_EMIT_EVENT, o->idx, d->cap, "ScaleDownAborted", 0,
                    "drain.job_assigned", "scale-down of %s aborted: a job was assigned to it"
                    " during the drain", name);
        return 0;
    }
    if (!eq(d->state, "draining") || !we_disabled)
        return 0;
    /* Removal needs an observation taken after the disable took effect. */
    if (o->agent_observed_ms <= o->agent_act_ended_ms)
        return 0;
    struct variant *v = variant_of(pl, d->cap);
    if (v != NULL && v->pending > v->idle + v->starting) {
        ADD_OR_FAIL(pl, PLAN_ENABLE_AGENT, o->idx, d->cap, name, o->agent_id,
                    "drain.demand_returned", "%d job(s) wait for variant '%s': re-enabling %s"
                    " instead of removing it", v->pending, d->cap[0] ? d->cap : "default", name);
        v->idle++;
        return 0;
    }
    ADD_OR_FAIL(pl, PLAN_DELETE_REGISTRATION, o->idx, d->cap, name, o->agent_id,
                "drain.confirmed_idle", "%s is disabled and the latest observation shows no job:"
                " removing its registration", name);
    if (o->has_pod && !o->pod_deleting) {
        struct plan_action *a = add(pl, PLAN_DELETE_POD, o->idx, d->cap, o->pod_name, 0,
                                    "drain.confirmed_idle", "%s unregistered: deleting its pod",
                                    o->pod_name);
        if (a == NULL)
            return err_set(pl->err, -ENOMEM, "out of memory");
        a->after_prev = true;
        pl->r->counts.deleted++;
    }
    return 0;
}

/* ---- rule cleanup_slots: exited run-once pods, retired leftovers, orphan registrations ------ */
static int rule_cleanup_slot(struct planner *pl, struct derived *d)
{
    const struct rule_slot *o = d->o;
    char name[PLAN_NAME_MAX];
    bool reg_in_progress = eq(o->agent_act, "delete_registration") &&
                           (eq(o->agent_act_state, "pending") || eq(o->agent_act_state, "started") ||
                            (eq(o->agent_act_state, "succeeded") &&
                             o->agent_observed_ms <= o->agent_act_ended_ms));

    agent_name(pl, o->idx, name, sizeof(name));
    if (eq(d->state, "unregistering") && eq(d->cause, "exited")) {
        /* The agent finished its job and exited (run-once): free the slot. */
        if (o->has_agent && !o->online && !reg_in_progress)
            ADD_OR_FAIL(pl, PLAN_DELETE_REGISTRATION, o->idx, d->cap, name, o->agent_id,
                        "run_once.exited", "%s exited after its job: removing its registration",
                        name);
        ADD_OR_FAIL(pl, PLAN_DELETE_POD, o->idx, d->cap, o->pod_name, 0, "run_once.exited",
                    "%s exited after its job: deleting its pod", o->pod_name);
        pl->r->counts.deleted++;
        return 0;
    }
    if (eq(d->state, "deleting") && eq(d->cause, "retired") && !o->pod_deleting) {
        ADD_OR_FAIL(pl, PLAN_DELETE_POD, o->idx, d->cap, o->pod_name, 0, "drain.confirmed_idle",
                    "%s is unregistered: deleting its pod", o->pod_name);
        pl->r->counts.deleted++;
        return 0;
    }
    if (!eq(d->state, "unregistering") || !o->has_agent || o->online || o->busy ||
        reg_in_progress)
        return 0;
    if (eq(d->cause, "retired")) {
        ADD_OR_FAIL(pl, PLAN_DELETE_REGISTRATION, o->idx, d->cap, name, o->agent_id,
                    "drain.retry_unregister", "registration %s is still listed after its"
                    " removal: removing it again", name);
        return 0;
    }
    /* A leftover: known to us (the slot had a state before it became a leftover, or we
     * created a pod for it) or offline for long (field report #5). A leftover state derived by
     * an earlier tick does not make it known: the 10 minutes would never be waited. */
    bool known = (o->prev_state[0] != '\0' && !eq(o->prev_state, "unregistering")) ||
                 o->create_state[0] != '\0';
    bool stale = o->status_changed_ms > 0 && pl->now - o->status_changed_ms > ORPHAN_OFFLINE_MS;
    if (!known && !stale && o->status_changed_ms != 0)
        return 0;
    ADD_OR_FAIL(pl, PLAN_DELETE_REGISTRATION, o->idx, d->cap, name, o->agent_id,
                "orphans.offline_leftover", "registration %s is offline with no pod and no job:"
                " removing it", name);
    ADD_OR_FAIL(pl, PLAN_EMIT_EVENT, o->idx, d->cap, "AgentRegistrationRemoved", 0,
                "orphans.offline_leftover", "orphaned registration %s (id %lld) removed", name,
                (long long)o->agent_id);
    return 0;
}

/* ---- rule placeholders: one offline registration per image variant ------------------------- */
static int rule_placeholders(struct planner *pl)
{
    char name[PLAN_NAME_MAX];

    for (size_t i = 0; i < pl->nv; i++) {
        const char *key = pl->v[i].key;
        bool present = false, pod_running = false;
        plan_placeholder_name(name, sizeof(name), pl->r->pool, key);
        for (size_t k = 0; k < pl->rs.n_phs; k++) {
            const struct rule_placeholder *ph = &pl->rs.phs[k];
            if (!eq(ph->name, name))
                continue;
            if (ph->is_agent)
                present = true;
            else if (!ph->pod_deleting && !eq(ph->pod_phase, "Failed"))
                pod_running = true; /* registering, or done and the list not caught up */
        }
        if (present || pod_running || open_intent(pl, "register_placeholder", name))
            continue;
        int64_t last_ms = 0;
        int rc = rule_placeholder_last_registered(pl->s, &pl->rs, name, pl->now, &last_ms,
                                                  pl->err);
        if (rc < 0)
            return rc;
        /* Registered, but no successful poll was sent since the registration ended: the agent
         * list cannot show it yet. A poll sent after it that does not list it proves it gone
         * (an admin deleted it), however recently it was made (field report #4 (f)). */
        if (last_ms > 0 && pl->rs.pool.azdo_ok_ms <= last_ms)
            continue;
        if (last_ms > 0) {
            ADD_OR_FAIL(pl, PLAN_REGISTER_PLACEHOLDER, -1, key, name, 0, "placeholders.recreated",
                        "placeholder %s disappeared: registering it again so jobs for variant"
                        " '%s' queue instead of failing", name, key[0] ? key : "default");
            ADD_OR_FAIL(pl, PLAN_EMIT_EVENT, -1, key, "PlaceholderRecreated", 0,
                        "placeholders.recreated", "placeholder registration %s was removed"
                        " outside the operator and has been recreated", name);
        } else {
            ADD_OR_FAIL(pl, PLAN_REGISTER_PLACEHOLDER, -1, key, name, 0, "placeholders.missing",
                        "registering offline placeholder %s so jobs for variant '%s' queue while"
                        " no agent runs", name, key[0] ? key : "default");
        }
    }
    /* Placeholders of variants the spec no longer has; finished one-shot pods. */
    for (size_t k = 0; k < pl->rs.n_phs; k++) {
        const struct rule_placeholder *ph = &pl->rs.phs[k];
        bool wanted = false;
        for (size_t i = 0; i < pl->nv && !wanted; i++) {
            plan_placeholder_name(name, sizeof(name), pl->r->pool, pl->v[i].key);
            wanted = eq(name, ph->name);
        }
        if (ph->is_agent && !wanted && !open_intent(pl, "delete_placeholder", ph->name)) {
            ADD_OR_FAIL(pl, PLAN_DELETE_PLACEHOLDER, -1, "", ph->name, ph->agent_id,
                        "placeholders.not_needed", "placeholder %s matches no image variant of"
                        " the spec: removing it", ph->name);
        } else if (!ph->is_agent && !ph->pod_deleting &&
                   (eq(ph->pod_phase, "Succeeded") || eq(ph->pod_phase, "Failed"))) {
            ADD_OR_FAIL(pl, PLAN_DELETE_POD, -1, "", ph->name, 0, "placeholders.one_shot_done",
                        "one-shot placeholder pod %s finished (%s): deleting it", ph->name,
                        ph->pod_phase);
        }
    }
    return 0;
}

/* ---- index allocation and creation ---------------------------------------------------------- */

static bool index_free(const struct planner *pl, int idx)
{
    for (size_t i = 0; i < pl->nd; i++) {
        if (pl->d[i].o->idx == idx)
            return false; /* any slot with a pod, a registration, a row or a create */
    }
    for (size_t i = 0; i < pl->ntaken; i++) {
        if (pl->taken[i] == idx)
            return false;
    }
    for (size_t i = 0; i < pl->rs.n_pvcs; i++) {
        if (pl->rs.pvcs[i].idx == idx && pl->rs.pvcs[i].deleting)
            return false; /* a new pod would wait on a terminating claim */
    }
    return true;
}

/* A claim of slot idx that this tick (or an unfinished intent) deletes: a new pod there would
 * reattach the claim being deleted and stay Pending forever (found by tests/chaos). Only new
 * pods skip such an index; rule_pvc_cleanup still deletes every such claim of it. */
static bool claim_being_deleted(const struct planner *pl, int idx)
{
    for (size_t i = 0; i < pl->r->n_actions; i++) {
        if (pl->r->actions[i].kind == PLAN_DELETE_PVC && pl->r->actions[i].slot == idx)
            return true;
    }
    for (size_t i = 0; i < pl->rs.n_pvcs; i++) {
        if (pl->rs.pvcs[i].idx == idx && open_intent(pl, "delete_pvc", pl->rs.pvcs[i].name))
            return true;
    }
    return false;
}

static int lowest_free_index(struct planner *pl)
{
    for (int idx = 0;; idx++) { /* <pool>-agent-0 is the first agent */
        if (index_free(pl, idx) && !claim_being_deleted(pl, idx)) {
            int *nt = realloc(pl->taken, (pl->ntaken + 1) * sizeof(*nt));
            if (nt == NULL)
                return -ENOMEM;
            pl->taken = nt;
            pl->taken[pl->ntaken++] = idx;
            return idx;
        }
    }
}

static const struct rule_pvc *find_pvc(const struct planner *pl, int idx, const char *tmpl)
{
    for (size_t i = 0; i < pl->rs.n_pvcs; i++) {
        const struct rule_pvc *c = &pl->rs.pvcs[i];
        if (c->idx == idx && eq(c->tmpl, tmpl))
            return c;
    }
    return NULL;
}

/* Checks that every claim a new pod needs exists or can be made. Returns 1 when the pod can be
 * created (filling omit, comma-separated), 0 when a required user claim is missing. */
static int pvcs_ready(struct planner *pl, char *omit, size_t omit_len, const char **missing)
{
    omit[0] = '\0';
    for (size_t t = 0; t < pl->rs.n_tmpls; t++) {
        const struct rule_pvc_tmpl *tp = &pl->rs.tmpls[t];
        if (tp->create)
            continue;
        const struct rule_pvc *c = find_pvc(pl, -1, tp->name);
        if (c != NULL && !c->deleting)
            continue;
        if (!tp->optional) {
            *missing = tp->name;
            return 0;
        }
        size_t len = strlen(omit);
        snprintf(omit + len, omit_len - len, "%s%s", len ? "," : "", tp->name);
    }
    return 1;
}

/* rule create_agent: PVCs first (reattaching kept ones), then the pod, at the lowest free
 * index. */
static int create_agent(struct planner *pl, const char *cap, bool run_once, const char *reason,
                        const char *why)
{
    char omit[PLAN_SENTENCE_MAX], name[PLAN_NAME_MAX], pvc[PLAN_NAME_MAX], kept[PLAN_SENTENCE_MAX];
    const char *missing = NULL;

    if (!pvcs_ready(pl, omit, sizeof(omit), &missing)) {
        if (condition(pl, "PvcMissing"))
            ADD_OR_FAIL(pl, PLAN_EMIT_EVENT, -1, cap, "PvcMissing", 0, "create_agent.pvc_missing",
                        "cannot start agents: claim '%s' does not exist and is not optional",
                        missing);
        return 1;
    }
    int idx = lowest_free_index(pl);
    if (idx < 0)
        return err_set(pl->err, -ENOMEM, "out of memory");
    /* A claim of this index still being deleted cannot be reused nor re-created under its
     * name yet: wait for it to go rather than start a pod whose volume vanishes. */
    for (size_t t = 0; t < pl->rs.n_tmpls; t++) {
        const struct rule_pvc *c = find_pvc(pl, idx, pl->rs.tmpls[t].name);
        if (pl->rs.tmpls[t].create && c != NULL && c->deleting)
            return 1;
    }
    kept[0] = '\0';
    bool created_claim = false;
    for (size_t t = 0; t < pl->rs.n_tmpls; t++) {
        const struct rule_pvc_tmpl *tp = &pl->rs.tmpls[t];
        if (!tp->create)
            continue;
        plan_pvc_name(pvc, sizeof(pvc), pl->r->pool, idx, tp->name);
        if (find_pvc(pl, idx, tp->name) != NULL) {
            size_t len = strlen(kept);
            snprintf(kept + len, sizeof(kept) - len, "%s%s", len ? ", " : "", pvc);
            continue;
        }
        struct plan_action *a = add(pl, PLAN_CREATE_PVC, idx, cap, pvc, 0, reason,
                                    "creating claim %s for slot %d", pvc, idx);
        if (a == NULL)
            return err_set(pl->err, -ENOMEM, "out of memory");
        snprintf(a->pvc_template, sizeof(a->pvc_template), "%s", tp->name);
        /* Every claim of the slot, then its pod, only while each step succeeds. */
        a->after_prev = created_claim;
        created_claim = true;
    }
    agent_name(pl, idx, name, sizeof(name));
    struct plan_action *a = add(pl, PLAN_CREATE_POD, idx, cap, name, 0, reason, "%s%s%s%s", why,
                                kept[0] ? "; reattaching kept claim(s) " : "", kept,
                                run_once ? "; run-once agent" : "");
    if (a == NULL)
        return err_set(pl->err, -ENOMEM, "out of memory");
    a->run_once = run_once;
    a->after_prev = created_claim;
    snprintf(a->omit_pvcs, sizeof(a->omit_pvcs), "%s", omit);
    return 0;
}

/* Pods present or being created count toward maxAgents, whatever their state. */
static int current_pods(const struct planner *pl)
{
    int n = 0;
    for (size_t i = 0; i < pl->nd; i++)
        n += pl->d[i].has_pod_or_create;
    return n + (int)pl->r->counts.created;
}

/* Slots that count toward minAgents, creates of this tick included. */
static int live_slots(const struct planner *pl)
{
    int live = 0;
    for (size_t i = 0; i < pl->nd; i++)
        live += pl->d[i].live && !pl->d[i].retiring;
    return live + pl->r->counts.created;
}

/* ---- rule scale_up ---------------------------------------------------------------------------
 * Per image variant: new = min(maxAgents - current, max(0, waiting - idle - starting)). A
 * variant whose image fails to pull backs off (1, 2, 4, ... 30 min) with one probe pod at a
 * time, and its failing pods are not capacity (field report #9). */
static int rule_scale_up(struct planner *pl)
{
    const struct rule_pool *p = &pl->rs.pool;
    int blocked = 0;

    for (size_t i = 0; i < pl->nv; i++) {
        struct variant *v = &pl->v[i];
        int want = v->pending - v->idle - v->starting;
        if (want <= 0)
            continue;
        int failures = 0;
        int64_t last_ms = 0;
        int rc = rule_pull_failures(pl->s, &pl->rs, v->key, pl->now, &failures, &last_ms,
                                    pl->err);
        if (rc < 0)
            return rc;
        if (v->failing_pull || failures > 0) {
            int64_t backoff = PULL_BACKOFF_BASE_MS;
            for (int k = 1; k < failures && backoff < PULL_BACKOFF_MAX_MS; k++)
                backoff *= 2;
            if (backoff > PULL_BACKOFF_MAX_MS)
                backoff = PULL_BACKOFF_MAX_MS;
            if (v->failing_pull || v->present > 0 || pl->now < last_ms + backoff) {
                condition(pl, "ImagePullBackOff");
                continue;
            }
            want = 1; /* one probe */
        }
        int room = p->max_agents - current_pods(pl);
        int n = want < room ? want : (room > 0 ? room : 0);
        blocked += want - n;
        for (int k = 0; k < n; k++) {
            char why[PLAN_SENTENCE_MAX];
            snprintf(why, sizeof(why), "%d job(s) wait for variant '%s' with %d idle and %d"
                     " starting agent(s)", v->pending, v->key[0] ? v->key : "default", v->idle,
                     v->starting);
            /* ttlIdleSeconds 0: agents above minAgents run once; one that brings the pool up to
             * minAgents stays (rule_min_agents would otherwise add another). */
            bool once = p->ttl_ms == 0 && live_slots(pl) >= p->min_agents;
            rc = create_agent(pl, v->key, once, "scale_up.waiting_jobs", why);
            if (rc < 0)
                return rc;
            if (rc > 0)
                break;
            v->starting++;
        }
    }
    if (blocked > 0) {
        if (condition(pl, "MaxAgentsReached"))
            ADD_OR_FAIL(pl, PLAN_EMIT_EVENT, -1, "", "MaxAgentsReached", 0, "scale_up.max_agents",
                        "maxAgents %d reached: %d job(s) still wait for an agent", p->max_agents,
                        blocked);
    }
    return 0;
}

/* ---- rule min_agents: keep minAgents live slots (failed ones count: they are replaced) ------ */
static int rule_min_agents(struct planner *pl)
{
    const struct rule_pool *p = &pl->rs.pool;
    int live = live_slots(pl);

    for (int k = live; k < p->min_agents; k++) {
        if (current_pods(pl) >= p->max_agents)
            break;
        char why[PLAN_SENTENCE_MAX];
        snprintf(why, sizeof(why), "%d live agent(s), minAgents is %d", live, p->min_agents);
        int rc = create_agent(pl, "", false, "min_agents.below_min", why);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    return 0;
}

/* ---- rule retire_idle ------------------------------------------------------------------------
 * Idle agents past ttlIdleSeconds (since their last finished job, or their start), highest index
 * first, never below minAgents, never one a waiting job will land on. Step 1 of the drain. */
static int rule_retire_idle(struct planner *pl)
{
    const struct rule_pool *p = &pl->rs.pool;
    int64_t ttl = p->ttl_ms > 0 ? p->ttl_ms : RUN_ONCE_IDLE_MS;
    int live = 0;
    char name[PLAN_NAME_MAX];

    for (size_t i = 0; i < pl->nd; i++)
        live += pl->d[i].live;
    live += pl->r->counts.created;
    for (size_t i = pl->nd; i-- > 0 && live > p->min_agents;) {
        struct derived *d = &pl->d[i];
        if (!d->idle_capacity || pl->now - d->idle_since_ms < ttl)
            continue;
        struct variant *v = variant_of(pl, d->cap);
        int surplus = v != NULL ? v->idle - v->pending : 1;
        if (surplus <= 0)
            continue;
        agent_name(pl, d->o->idx, name, sizeof(name));
        ADD_OR_FAIL(pl, PLAN_DISABLE_AGENT, d->o->idx, d->cap, name, d->o->agent_id,
                    p->ttl_ms > 0 ? "retire_idle.ttl_expired" : "retire_idle.run_once_unused",
                    "%s idle for %llds (limit %llds): disabling it before removal", name,
                    (long long)((pl->now - d->idle_since_ms) / 1000), (long long)(ttl / 1000));
        d->retiring = true;
        if (v != NULL)
            v->idle--;
        live--;
    }
    return 0;
}

/* ---- rule pvc_cleanup: claims with deleteWithAgent whose slot is gone ----------------------- */
static int rule_pvc_cleanup(struct planner *pl, bool all)
{
    for (size_t i = 0; i < pl->rs.n_pvcs; i++) {
        const struct rule_pvc *c = &pl->rs.pvcs[i];
        bool dwa = false;
        for (size_t t = 0; t < pl->rs.n_tmpls; t++) {
            if (eq(pl->rs.tmpls[t].name, c->tmpl))
                dwa = pl->rs.tmpls[t].delete_with_agent;
        }
        if (c->idx < 0 || c->deleting || !dwa || !index_free(pl, c->idx) ||
            open_intent(pl, "delete_pvc", c->name))
            continue;
        struct plan_action *a =
            add(pl, PLAN_DELETE_PVC, c->idx, "", c->name, 0,
                all ? "pool_deletion.delete_pvc" : "pvc_cleanup.delete_with_agent",
                "slot %d is gone and claim %s has deleteWithAgent: deleting it", c->idx, c->name);
        if (a == NULL)
            return err_set(pl->err, -ENOMEM, "out of memory");
        snprintf(a->pvc_template, sizeof(a->pvc_template), "%s", c->tmpl);
    }
    return 0;
}

/* ---- rule pool_deletion ----------------------------------------------------------------------
 * The RunnerPool has a deletionTimestamp: drain every agent (busy ones finish their job first),
 * remove registrations and placeholders, delete pods and deleteWithAgent claims, then release
 * the finalizer. Without Azure DevOps (auth failed, unreachable) nobody can prove an agent idle,
 * so agents are kept for DELETION_GIVE_UP_MS, then pods go anyway and registrations are left
 * behind (an event says so); pool-not-found means no registration can exist. */
static int rule_pool_deletion(struct planner *pl)
{
    const struct rule_pool *p = &pl->rs.pool;
    bool azdo = pl->gate;
    bool no_registrations = eq(p->conn, "pool-not-found");
    bool give_up = !azdo && !no_registrations && pl->now - p->deletion_ms >= DELETION_GIVE_UP_MS;
    size_t remaining = 0;
    char name[PLAN_NAME_MAX];

    if (!p->finalizer)
        return 0;
    for (size_t i = 0; i < pl->nd; i++) {
        struct derived *d = &pl->d[i];
        const struct rule_slot *o = d->o;
        remaining++;
        agent_name(pl, o->idx, name, sizeof(name));
        bool reg_gone_or_going = !o->has_agent || no_registrations ||
                                 (eq(o->agent_act, "delete_registration") &&
                                  intent_live(o->agent_act_state));
        if (azdo && o->has_agent && !reg_gone_or_going) {
            bool we_disabled = eq(o->agent_act, "disable_agent") &&
                               eq(o->agent_act_state, "succeeded");
            if (o->busy)
                continue; /* its job finishes first */
            if (o->online && o->enabled) {
                if (!open_intent(pl, "disable_agent", name))
                    ADD_OR_FAIL(pl, PLAN_DISABLE_AGENT, o->idx, d->cap, name, o->agent_id,
                                "pool_deletion.drain", "pool is being deleted: disabling %s",
                                name);
                continue;
            }
            if (o->online && we_disabled && o->agent_observed_ms <= o->agent_act_ended_ms)
                continue; /* wait for the observation that confirms no job */
            ADD_OR_FAIL(pl, PLAN_DELETE_REGISTRATION, o->idx, d->cap, name, o->agent_id,
                        "pool_deletion.unregister", "pool is being deleted: removing %s", name);
            reg_gone_or_going = true;
        }
        if (o->has_pod && !o->pod_deleting && !intent_live(o->pod_del_state) &&
            (reg_gone_or_going || give_up || (!azdo && !o->has_agent))) {
            struct plan_action *a = add(pl, PLAN_DELETE_POD, o->idx, d->cap, o->pod_name, 0,
                                        "pool_deletion.delete_pod",
                                        "pool is being deleted: deleting pod %s", o->pod_name);
            if (a == NULL)
                return err_set(pl->err, -ENOMEM, "out of memory");
            pl->r->counts.deleted++;
        }
    }
    for (size_t k = 0; k < pl->rs.n_phs; k++) {
        const struct rule_placeholder *ph = &pl->rs.phs[k];
        remaining++;
        if (ph->is_agent && azdo && !open_intent(pl, "delete_placeholder", ph->name))
            ADD_OR_FAIL(pl, PLAN_DELETE_PLACEHOLDER, -1, "", ph->name, ph->agent_id,
                        "pool_deletion.unregister", "pool is being deleted: removing placeholder"
                        " %s", ph->name);
        else if (!ph->is_agent && !ph->pod_deleting)
            ADD_OR_FAIL(pl, PLAN_DELETE_POD, -1, "", ph->name, 0, "pool_deletion.delete_pod",
                        "pool is being deleted: deleting placeholder pod %s", ph->name);
    }
    int rc = rule_pvc_cleanup(pl, true);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < pl->rs.n_pvcs; i++) {
        const struct rule_pvc *c = &pl->rs.pvcs[i];
        for (size_t t = 0; t < pl->rs.n_tmpls; t++)
            remaining += eq(pl->rs.tmpls[t].name, c->tmpl) && pl->rs.tmpls[t].delete_with_agent &&
                         c->idx >= 0;
    }
    if (give_up && remaining > 0) {
        if (condition(pl, "RegistrationsLeftBehind"))
            ADD_OR_FAIL(pl, PLAN_EMIT_EVENT, -1, "", "RegistrationsLeftBehind", 0,
                        "pool_deletion.azdo_unavailable", "Azure DevOps is %s: deleting pods"
                        " without removing their registrations", p->conn[0] ? p->conn : "unknown");
    }
    /* Registrations left only because Azure DevOps is gone do not hold the finalizer. */
    size_t blocking = 0;
    for (size_t i = 0; i < pl->nd; i++)
        blocking += pl->d[i].o->has_pod || (pl->d[i].o->has_agent && !give_up && !no_registrations);
    for (size_t k = 0; k < pl->rs.n_phs; k++)
        blocking += !pl->rs.phs[k].is_agent || (!give_up && !no_registrations);
    for (size_t i = 0; i < pl->rs.n_pvcs; i++) {
        const struct rule_pvc *c = &pl->rs.pvcs[i];
        for (size_t t = 0; t < pl->rs.n_tmpls; t++)
            blocking += eq(pl->rs.tmpls[t].name, c->tmpl) && pl->rs.tmpls[t].delete_with_agent &&
                        c->idx >= 0;
    }
    if (blocking == 0 && pl->rs.n_open_targets == 0 && pl->r->n_actions == 0)
        ADD_OR_FAIL(pl, PLAN_RELEASE_FINALIZER, -1, "", pl->r->pool, 0,
                    "pool_deletion.complete", "every agent, registration and claim of the pool is"
                    " gone: releasing the finalizer");
    return 0;
}

/* ---- pool state ------------------------------------------------------------------------------ */
static void pool_state(struct planner *pl)
{
    const struct rule_pool *p = &pl->rs.pool;
    struct plan_result *r = pl->r;
    const char *state = "connected", *cause = "azdo_ok";

    if (p->deleting) {
        state = "deleting";
        cause = "deletion_requested";
    } else if (!p->has_spec || p->conn[0] == '\0') {
        state = "pending";
        cause = !p->has_spec ? "no_spec" : "not_polled";
    } else if (!eq(p->conn, "ok")) {
        state = p->conn;
        cause = p->conn;
    } else if (!pl->gate) {
        state = "unreachable";
        cause = "azdo_stale";
    } else {
        for (size_t i = 0; i < pl->nd; i++) {
            const struct derived *d = &pl->d[i];
            if (eq(d->state, "failed") && (eq(d->cause, "image_pull") ||
                                           eq(d->cause, "config_error") ||
                                           eq(d->cause, "crash_loop"))) {
                state = "degraded";
                cause = eq(d->cause, "image_pull") ? "image_pull_failed" : d->cause;
            }
        }
        for (size_t i = 0; i < pl->ncond; i++) {
            if (eq(pl->conditions[i], "ImagePullBackOff")) {
                state = "degraded";
                cause = "image_pull_failed";
            }
        }
    }
    snprintf(r->pool_state, sizeof(r->pool_state), "%s", state);
    snprintf(r->pool_cause, sizeof(r->pool_cause), "%s", cause);
}

/* ---- the tick -------------------------------------------------------------------------------- */

static int build_variants(struct planner *pl)
{
    const struct rule_pool *p = &pl->rs.pool;

    pl->v = calloc(pl->rs.n_caps + 1, sizeof(*pl->v));
    if (pl->v == NULL)
        return err_set(pl->err, -ENOMEM, "out of memory");
    snprintf(pl->v[0].image, sizeof(pl->v[0].image), "%s", p->image);
    pl->nv = 1;
    for (size_t i = 0; i < pl->rs.n_caps; i++) {
        snprintf(pl->v[pl->nv].key, sizeof(pl->v[0].key), "%s", pl->rs.caps[i].key);
        snprintf(pl->v[pl->nv].image, sizeof(pl->v[0].image), "%s", pl->rs.caps[i].image);
        pl->nv++;
    }
    for (size_t i = 0; i < pl->rs.n_jobs; i++) {
        const struct rule_job *j = &pl->rs.jobs[i];
        if (!eq(j->cls, "pending"))
            continue;
        pl->r->counts.waiting++;
        struct variant *v = j->matched ? variant_of(pl, j->variant) : NULL;
        if (v != NULL)
            v->pending++;
        else
            pl->r->counts.unmatched++;
    }
    for (size_t i = 0; i < pl->nd; i++) {
        const struct derived *d = &pl->d[i];
        struct variant *v = variant_of(pl, d->cap);
        pl->r->counts.idle += d->idle_capacity;
        pl->r->counts.busy += eq(d->state, "busy");
        pl->r->counts.starting += d->starting;
        if (v == NULL)
            continue; /* a variant the spec no longer has */
        v->idle += d->idle_capacity;
        v->starting += d->starting;
        v->present += d->has_pod_or_create;
        if (eq(d->state, "failed") && (eq(d->cause, "image_pull") || eq(d->cause, "config_error")))
            v->failing_pull = true;
    }
    return 0;
}

static int unmatched_event(struct planner *pl)
{
    char ids[PLAN_SENTENCE_MAX] = "", keys[PLAN_SENTENCE_MAX] = "";

    if (pl->r->counts.unmatched == 0)
        return 0;
    if (!condition(pl, "UnsatisfiableDemands"))
        return 0;
    for (size_t i = 0; i < pl->rs.n_jobs; i++) {
        const struct rule_job *j = &pl->rs.jobs[i];
        if (!eq(j->cls, "pending") || (j->matched && variant_of(pl, j->variant) != NULL))
            continue;
        size_t n = strlen(ids);
        snprintf(ids + n, sizeof(ids) - n, "%s%lld", n ? ", " : "", (long long)j->request_id);
        if (keys[0] == '\0')
            snprintf(keys, sizeof(keys), "%s", j->keys);
    }
    ADD_OR_FAIL(pl, PLAN_EMIT_EVENT, -1, "", "UnsatisfiableDemands", 0, "classify_jobs.unmatched",
                "job(s) %s demand %s: no single image of the pool has them all", ids, keys);
    return 0;
}

static int decide(struct planner *pl)
{
    const struct rule_pool *p = &pl->rs.pool;
    int rc = 0;

    if (!p->has_spec)
        return 0;
    if (p->deleting)
        return rule_pool_deletion(pl);
    /* The finalizer goes on before anything is created outside the cluster. */
    if (!p->finalizer) {
        ADD_OR_FAIL(pl, PLAN_ADD_FINALIZER, -1, "", pl->r->pool, 0, "finalizer.missing",
                    "adding the finalizer before creating agents");
        return 0;
    }
    /* Without fresh Azure DevOps answers demand and idleness are unknown: decide nothing
     * (field reports #2, #13, #15). */
    if (!pl->gate)
        return 0;
    for (size_t i = 0; rc == 0 && i < pl->nd; i++)
        rc = rule_replace_failed(pl, &pl->d[i]);
    for (size_t i = 0; rc == 0 && i < pl->nd; i++)
        rc = rule_drain(pl, &pl->d[i]);
    for (size_t i = 0; rc == 0 && i < pl->nd; i++)
        rc = rule_cleanup_slot(pl, &pl->d[i]);
    if (rc == 0)
        rc = rule_pvc_cleanup(pl, false);
    if (rc == 0)
        rc = rule_placeholders(pl);
    if (rc == 0)
        rc = unmatched_event(pl);
    if (rc == 0)
        rc = rule_retire_idle(pl);
    if (rc == 0)
        rc = rule_scale_up(pl);
    if (rc == 0)
        rc = rule_min_agents(pl);
    return rc;
}

static int collect_slots(struct planner *pl)
{
    struct plan_result *r = pl->r;

    pl->d = calloc(pl->rs.n_slots + 1, sizeof(*pl->d));
    r->slots = calloc(pl->rs.n_slots + 1, sizeof(*r->slots));
    if (pl->d == NULL || r->slots == NULL)
        return err_set(pl->err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < pl->rs.n_slots; i++) {
        struct derived d;
        derive_slot(pl, &pl->rs.slots[i], &d);
        if (d.state[0] == '\0')
            continue;
        pl->d[pl->nd++] = d;
    }
    return 0;
}

static void finish_slots(struct planner *pl)
{
    struct plan_result *r = pl->r;

    for (size_t i = 0; i < pl->nd; i++) {
        const struct derived *d = &pl->d[i];
        struct plan_slot *s = &r->slots[r->n_slots++];
        s->idx = d->o->idx;
        snprintf(s->state, sizeof(s->state), "%s", d->retiring ? "draining" : d->state);
        snprintf(s->cap_key, sizeof(s->cap_key), "%s", d->cap);
        snprintf(s->cause, sizeof(s->cause), "%s", d->retiring ? "ttl_expired" : d->cause);
    }
    /* Slots created this tick start in "creating". */
    for (size_t a = 0; a < r->n_actions; a++) {
        const struct plan_action *ac = &r->actions[a];
        if (ac->kind != PLAN_CREATE_POD)
            continue;
        struct plan_slot *ns = realloc(r->slots, (r->n_slots + 1) * sizeof(*ns));
        if (ns == NULL)
            return;
        r->slots = ns;
        struct plan_slot *s = &r->slots[r->n_slots++];
        memset(s, 0, sizeof(*s));
        s->idx = ac->slot;
        snprintf(s->state, sizeof(s->state), "creating");
        snprintf(s->cap_key, sizeof(s->cap_key), "%s", ac->cap_key);
        snprintf(s->cause, sizeof(s->cause), "%s", ac->reason);
    }
}

static void finish_conditions(struct planner *pl)
{
    size_t off = 0;
    off += (size_t)snprintf(pl->r->conditions, sizeof(pl->r->conditions), "[");
    for (size_t i = 0; i < pl->ncond && off < sizeof(pl->r->conditions); i++)
        off += (size_t)snprintf(pl->r->conditions + off, sizeof(pl->r->conditions) - off,
                                "%s\"%s\"", i ? "," : "", pl->conditions[i]);
    if (off < sizeof(pl->r->conditions))
        snprintf(pl->r->conditions + off, sizeof(pl->r->conditions) - off, "]");
    else
        snprintf(pl->r->conditions, sizeof(pl->r->conditions), "[]");
}

int plan(struct store *s, const struct pool_key *key, int64_t now_ms, struct plan_result *out,
         struct err *err)
{
    struct planner pl = {.s = s, .now = now_ms, .r = out, .err = err};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_pool_id(s, key, &out->pool_id, err);
    if (rc < 0)
        return rc;
    out->now_ms = now_ms;
    snprintf(out->ns, sizeof(out->ns), "%s", key->ns);
    snprintf(out->pool, sizeof(out->pool), "%s", key->name);
    rc = plan_snapshot(s, out->pool_id, now_ms, &out->inputs_json, out->digest, err);
    if (rc < 0)
        goto out;
    rc = rules_load(s, out->pool_id, now_ms, &pl.rs, err);
    if (rc < 0)
        goto out;
    out->generation = pl.rs.pool.generation;
    pl.gate = eq(pl.rs.pool.conn, "ok") && pl.rs.pool.azdo_ok_ms >= now_ms - AZDO_STALE_MS;
    rc = collect_slots(&pl);
    if (rc == 0)
        rc = build_variants(&pl);
    if (rc == 0)
        rc = decide(&pl);
    if (rc == 0) {
        finish_slots(&pl);
        finish_conditions(&pl);
        pool_state(&pl);
    }
out:
    rules_free(&pl.rs);
    free(pl.d);
    free(pl.v);
    free(pl.taken);
    if (rc < 0)
        plan_result_free(out);
    return rc;
}

void plan_result_free(struct plan_result *r)
{
    if (r == NULL)
        return;
    free(r->actions);
    free(r->slots);
    free(r->inputs_json);
    r->actions = NULL;
    r->slots = NULL;
    r->inputs_json = NULL;
    r->n_actions = 0;
    r->n_slots = 0;
}
