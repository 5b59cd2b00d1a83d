/* status.c - RunnerPool status and state-change events (see status.h). */
#include "operator/status.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "azdo/url.h"
#include "log.h"

void op_status_state_word(const char *state, char *buf, size_t len)
{
    size_t o = 0;
    bool upper = true;

    for (const char *c = state; *c != '\0' && o + 1 < len; c++) {
        if (*c == '-') {
            upper = true;
            continue;
        }
        buf[o++] = upper ? (char)toupper((unsigned char)*c) : *c;
        upper = false;
    }
    buf[o] = '\0';
}

/* Keeps lastTransitionTime from the previous status when the condition's status is unchanged. */
static const char *transition_time(const json_t *previous, const char *type, const char *status,
                                   const char *now)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(previous, "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        const char *at = json_string_value(json_object_get(c, "lastTransitionTime"));
        if (t != NULL && strcmp(t, type) == 0)
            return s != NULL && at != NULL && strcmp(s, status) == 0 ? at : now;
    }
    return now;
}

static void add_condition(json_t *conds, const json_t *previous, const char *now,
                          const char *type, bool ok, const char *reason, const char *message,
                          int64_t generation)
{
    const char *status = ok ? "True" : "False";

    json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", type,
                                           "status", status, "reason", reason, "message", message,
                                           "lastTransitionTime",
                                           transition_time(previous, type, status, now),
                                           "observedGeneration", (json_int_t)generation));
}

/* The class of a failure reason: Azure DevOps reasons are finer than the connection classes
 * (TokenExpired and SignInPage are both an authentication failure). */
static bool reason_is_auth(const char *r)
{
    static const char *const auth[] = {"AuthFailed", "TokenExpired", "SignInPage", "Unauthorized",
                                       "Forbidden", "Redirected", "SecretMissing", "PatMissing"};
    for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++) {
        if (strcmp(r, auth[i]) == 0)
            return true;
    }
    return false;
}

static const char *connected_message(const struct pool_status *s)
{
    const char *r = s->azdo_reason;

    if (s->azdo_connected)
        return "Azure DevOps answers with this pool's agents and jobs";
    if (strcmp(r, "SecretMissing") == 0)
        return "the PAT cannot be read from the Secret named by spec.patSecretName (key token)";
    if (reason_is_auth(r))
        return "Azure DevOps refused the PAT: check the Secret named by spec.patSecretName "
               "(key token) holds a valid, unexpired PAT with Agent Pools (Read & manage) scope";
    if (strcmp(r, "PoolNotFound") == 0)
        return "no agent pool with spec.pool's name exists in the organisation: create it or "
               "fix spec.pool";
    if (strcmp(r, "Throttled") == 0 || strcmp(r, "RateLimited") == 0)
        return "Azure DevOps is throttling this organisation; waiting as Retry-After asks";
    if (strcmp(r, "Pending") == 0 || r[0] == '\0')
        return "waiting for the first Azure DevOps poll";
    return "Azure DevOps cannot be reached or answered with an error; retrying with backoff";
}

/* Reason and message of a failed slot, from the planner's cause. */
static const struct failure_text {
    const char *cause, *reason, *message;
} failure_texts[] = {
    {"image_pull", "ImagePullFailed", "the agent image cannot be pulled: check the image name "
                                      "and imagePullSecrets"},
    {"crash_loop", "CrashLoop", "the agent container keeps crashing: see its logs"},
    {"pod_failed", "PodFailed", "the agent pod failed"},
    {"config_error", "ConfigError", "the pod cannot start its container: check extraEnv, "
                                    "Secrets and volumes"},
    {"start_timeout", "StartTimeout", "the pod runs but its agent never came online"},
    {"agent_offline", "AgentOffline", "the agent went offline and stayed offline"},
};

static const struct failure_text *failure_of(const char *cause)
{
    for (size_t i = 0; i < sizeof(failure_texts) / sizeof(failure_texts[0]); i++) {
        if (strcmp(cause, failure_texts[i].cause) == 0)
            return &failure_texts[i];
    }
    return NULL;
}

static const json_t *entry_named(const json_t *list, const char *name)
{
    size_t i;
    const json_t *e;

    json_array_foreach(list, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

/* Failed slots of this pass. A slot being replaced ("replacing") keeps the reason it failed
 * for, taken from the previous status, so the user still sees why. */
static json_t *failed_agents(const struct plan_result *r, const json_t *previous)
{
    json_t *list = json_array();
    char name[PLAN_NAME_MAX + 16];

    for (size_t i = 0; r != NULL && i < r->n_slots; i++) {
        const struct plan_slot *sl = &r->slots[i];
        const struct failure_text *f = failure_of(sl->cause);
        const json_t *before;

        if (strcmp(sl->state, "failed") != 0)
            continue;
        plan_agent_name(name, sizeof(name), r->pool, sl->idx);
        before = entry_named(previous, name);
        if (f == NULL && before != NULL)
            json_array_append_new(list, json_deep_copy(before));
        else
            json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", name, "reason",
                                                  f != NULL ? f->reason : "Failed", "message",
                                                  f != NULL ? f->message : sl->cause));
    }
    return list;
}

json_t *op_status_build(const struct pool_status *sum, const struct plan_result *r,
                        const char *organization, const char *invalid, const json_t *previous,
                        const char *now)
{
    char word[32];
    char agents_display[32];
    char msg[ERR_MSG_MAX + 64];
    json_t *st, *conds = json_array();
    bool valid = invalid == NULL || invalid[0] == '\0';
    bool scaling;

    op_status_state_word(valid ? sum->state : "invalid", word, sizeof(word));
    snprintf(agents_display, sizeof(agents_display), "%d/%d", sum->agents, sum->max_agents);
    st = json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:i, s:I}", "state", word, "organization",
                   organization != NULL ? organization : "", "queuedJobs", sum->queued, "agents",
                   sum->agents, "runningAgents", sum->running, "agentsDisplay", agents_display,
                   "templateAgents", sum->placeholders, "observedGeneration",
                   (json_int_t)sum->generation);
    /* The plan of this pass knows idle agents and unmatched jobs; without one (invalid spec)
     * those fields are left out rather than reported as 0. */
    if (r != NULL) {
        json_object_set_new(st, "idleAgents", json_integer(r->counts.idle));
        json_object_set_new(st, "unmatchedJobs", json_integer(r->counts.unmatched));
    }
    {
        /* Failed pods are deleted and replaced quickly; while the pool is still degraded the
         * last list stays, so the user can see which agents failed and why. */
        const json_t *before = json_object_get(previous, "failedAgents");
        json_t *failed = failed_agents(r, before);
        if (json_array_size(failed) == 0 && sum->degraded && json_array_size(before) > 0) {
            json_decref(failed);
            failed = json_deep_copy(before);
        }
        json_object_set_new(st, "failedAgents", failed);
    }
    if (!sum->azdo_connected && sum->azdo_message[0] != '\0')
        json_object_set_new(st, "lastError", json_string(sum->azdo_message));

    if (sum->azdo_message[0] != '\0' && !sum->azdo_connected)
        snprintf(msg, sizeof(msg), "%s (%s)", connected_message(sum), sum->azdo_message);
    else
        snprintf(msg, sizeof(msg), "%s", connected_message(sum));
    add_condition(conds, previous, now, "Connected", sum->azdo_connected,
                  sum->azdo_reason[0] ? sum->azdo_reason : "Pending", msg, sum->generation);

    if (!valid)
        snprintf(msg, sizeof(msg), "the spec is invalid: %s", invalid);
    else if (sum->degraded)
        snprintf(msg, sizeof(msg), "%d agent slot(s) failed (%s); see kubectl describe and the "
                 "decision log", sum->failed, sum->degraded_reason);
    else
        snprintf(msg, sizeof(msg), "no failing agents");
    add_condition(conds, previous, now, "Degraded", !valid || sum->degraded,
                  !valid ? "InvalidSpec" : sum->degraded ? sum->degraded_reason : "AsExpected",
                  msg, sum->generation);

    scaling = sum->queued > 0 && sum->agents < sum->max_agents;
    snprintf(msg, sizeof(msg), "%d job(s) waiting, %d of at most %d agents live", sum->queued,
             sum->agents, sum->max_agents);
    add_condition(conds, previous, now, "Scaling", scaling,
                  scaling ? "JobsWaiting"
                          : (sum->queued > 0 ? "MaxAgentsReached" : "Steady"),
                  msg, sum->generation);

    add_condition(conds, previous, now, "Ready", valid && sum->azdo_connected && !sum->degraded,
                  !valid ? "InvalidSpec"
                  : !sum->azdo_connected ? (sum->azdo_reason[0] ? sum->azdo_reason : "Pending")
                  : sum->degraded ? "Degraded" : "Ready",
                  valid && sum->azdo_connected && !sum->degraded
                      ? "the pool is connected and its agents are healthy"
                      : "see the Connected and Degraded conditions",
                  sum->generation);
    json_object_set_new(st, "conditions", conds);
    if (sum->last_polled_ms > 0) {
        time_t secs = (time_t)(sum->last_polled_ms / 1000);
        struct tm tm;
        char buf[32];
        gmtime_r(&secs, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(st, "lastPolled", json_string(buf));
    }
    return st;
}

static void on_status_patched(const struct kube_result *res, void *cb_data)
{
    char *key = cb_data;

    if (res->outcome != KUBE_OK && res->outcome != KUBE_NOT_FOUND)
        log_event(LOG_WARN, "status", "cannot update runnerpool status", "{s:s, s:s, s:s}",
                  "pool", key, "outcome", kube_outcome_name(res->outcome), "err",
                  res->status.message);
    free(key);
}

static void emit_state_event(struct op_pool *p, const struct pool_status *sum, const char *word)
{
    struct kube_event_ref ref = {RUNNER_POOL_API_VERSION, RUNNER_POOL_KIND, p->ns, p->name,
                                 json_string_value(json_object_get(
                                     json_object_get(p->obj, "metadata"), "uid"))};
    char msg[512];
    struct err err = {0};
    bool bad = !sum->azdo_connected && strcmp(sum->state, "pending") != 0 &&
               sum->azdo_reason[0] != '\0';

    if (p->last_event_state != NULL && strcmp(p->last_event_state, word) == 0)
        return;
    free(p->last_event_state);
    p->last_event_state = strdup(word);
    if (p->op->events == NULL)
        return;
    snprintf(msg, sizeof(msg), "pool state is now %s: %s", word, connected_message(sum));
    kube_event_emit(p->op->events, &ref, bad ? "Warning" : "Normal",
                    bad ? sum->azdo_reason : "StateChanged", msg, &err);
}

void op_status_update(struct op_pool *p, const struct plan_result *r)
{
    struct pool_key key = {p->ns, p->name};
    struct pool_status sum;
    struct azdo_org org;
    struct err err = {0};
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    const json_t *previous = json_object_get(p->obj, "status");
    json_t *st, *cmp, *patch;
    char *text, *cmp_text;

    memset(&sum, 0, sizeof(sum));
    if (store_pool_status(p->op->store, &key, &sum, &err) != 0) {
        snprintf(sum.state, sizeof(sum.state), "pending");
        sum.max_agents = p->spec != NULL ? p->spec->max_agents : 0;
    }
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    memset(&org, 0, sizeof(org));
    if (p->spec != NULL && azdo_org_parse(p->spec->az_do_url, &org, &err) == 0) {
        const char *slash = strrchr(org.key, '/');
        snprintf(org.key, sizeof(org.key), "%s", slash != NULL ? slash + 1 : org.key);
    }
    st = op_status_build(&sum, r, org.key, p->invalid, previous, now);

    /* Compare without times, so a status is not rewritten only because the clock moved. */
    cmp = json_deep_copy(st);
    json_object_del(cmp, "lastPolled");
    {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(cmp, "conditions"), i, c)
            json_object_del(c, "lastTransitionTime");
    }
    cmp_text = json_dumps(cmp, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(cmp);
    if (cmp_text != NULL && p->last_status != NULL && strcmp(cmp_text, p->last_status) == 0) {
        free(cmp_text);
        json_decref(st);
        return;
    }
    free(p->last_status);
    p->last_status = cmp_text;
    emit_state_event(p, &sum, json_string_value(json_object_get(st, "state")));

    patch = json_pack("{s:o}", "status", st);
    size_t text_len = strlen(p->ns) + strlen(p->name) + 2;
    text = malloc(text_len);
    if (text != NULL)
        snprintf(text, text_len, "%s/%s", p->ns, p->name);
    if (kube_patch(p->op->kube, &KUBE_RUNNERPOOLS, p->ns, p->name, KUBE_PATCH_MERGE, patch,
                   "status", on_status_patched, text, NULL, &err) != 0) {
        log_event(LOG_WARN, "status", "cannot send status patch", "{s:s}", "err", err.msg);
        free(text);
    }
    json_decref(patch);
}
