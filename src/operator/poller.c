/* poller.c - each pool's Azure DevOps poll, its PAT, and the agent actions (azdo_ops.h).
 *
 * One poll = the PAT check, one job-requests call, one agents call; the answers are written to
 * the store in one transaction and the pool is marked dirty. A failed poll is recorded as a
 * failure (never as an empty queue), so the planner takes no scaling decision from it and, for
 * auth failures, no destructive one either.
 *
 * The PAT is read with a GET of the Secret named by spec.patSecretName (key "token"): before the
 * first poll, after every failed poll (so a rotated PAT is picked up on the next attempt, field
 * report #13) and every PAT_REFRESH_MS otherwise. Only `get` on Secrets is needed. The value is
 * kept in struct op_pool.pat, wiped when replaced, and handed to the Azure DevOps client only. */
#include "operator/azdo_ops.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "azdo/client.h"
#include "log.h"
#include "operator/obs_map.h"
#include "store/store_obs.h"

#define PAT_REFRESH_MS (5 * 60 * 1000)
#define PLACEHOLDER_DEFAULT_VERSION "4.258.1"

struct poll_ctx {
    struct op_pool *pool;
    int64_t started_ms; /* wall clock when the poll was sent: the observations' time */
    struct azdo_org org;
    struct azdo_job_list jobs; /* owned once the jobs call succeeded */
};

static struct azdo_client *client_of(struct op_pool *p);

/* ---- helpers ------------------------------------------------------------------------------- */

static uint64_t poll_period_ms(struct op_pool *p)
{
    const json_t *spec = json_object_get(p->obj, "spec");
    uint64_t s = p->op->cfg->poll_interval_s;

    /* A pool's own pollIntervalSeconds wins over the operator-wide --poll-interval. */
    if (p->spec != NULL && json_object_get(spec, "pollIntervalSeconds") != NULL)
        s = (uint64_t)p->spec->poll_interval_seconds;
    return s * 1000;
}

static void wipe_pat(struct op_pool *p)
{
    if (p->pat != NULL) {
        explicit_bzero(p->pat, strlen(p->pat));
        free(p->pat);
        p->pat = NULL;
    }
}

static void identity_of(struct op_pool *p, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", p->ns, p->spec != NULL ? p->spec->pat_secret_name : "");
}

static int target_of(struct op_pool *p, struct azdo_org *org, struct azdo_target *t,
                     char *ident, size_t ident_len, struct err *err)
{
    if (p->spec == NULL)
        return err_set(err, -EINVAL, "the pool's spec is invalid");
    if (p->pat == NULL)
        return err_set(err, -EACCES, "the PAT has not been read from Secret '%s' yet",
                       p->spec->pat_secret_name);
    if (azdo_org_parse(p->spec->az_do_url, org, err) != 0)
        return -EINVAL;
    identity_of(p, ident, ident_len);
    *t = (struct azdo_target){org, p->spec->pool, p->pat, ident};
    return 0;
}

static enum azdo_conn conn_of(const struct azdo_verdict *v)
{
    switch (v->outcome) {
    case AZDO_OK: return AZDO_CONN_OK;
    case AZDO_AUTH_FAILED: return AZDO_CONN_AUTH_FAILED;
    case AZDO_NOT_FOUND: return AZDO_CONN_POOL_NOT_FOUND;
    case AZDO_THROTTLED: return AZDO_CONN_THROTTLED;
    default: return AZDO_CONN_UNREACHABLE;
    }
}

static void record_conn(struct op_pool *p, enum azdo_conn conn, int64_t pool_id,
                        const char *reason, const char *detail)
{
    struct pool_key key = {p->ns, p->name};
    struct obs_azdo o = {conn, pool_id, detail, reason != NULL && reason[0] ? reason : NULL};
    struct err err = {0};

    if (store_observe_azdo(p->op->store, &key, &o, (int64_t)loop_wall_ms(), &err) != 0)
        log_event(LOG_ERROR, "poller", "cannot record poll outcome", "{s:s}", "err", err.msg);
}

/* Copies the per-organisation request counters into the hourly table (as deltas). */
static void count_api(struct op_pool *p, const struct azdo_org *org)
{
    struct azdo_counters now;
    struct err err = {0};
    json_t *seen;
    int64_t prev_req, prev_err, prev_thr;

    if (azdo_client_counters(client_of(p), org->key, &now) != 0)
        return;
    if (p->op->azdo_counted == NULL)
        p->op->azdo_counted = json_object();
    seen = json_object_get(p->op->azdo_counted, org->key);
    prev_req = json_integer_value(json_array_get(seen, 0));
    prev_err = json_integer_value(json_array_get(seen, 1));
    prev_thr = json_integer_value(json_array_get(seen, 2));
    if ((int64_t)now.requests == prev_req)
        return;
    if (store_count_api(p->op->store, "azdo", org->key, (int64_t)loop_wall_ms(),
                        (int)((int64_t)now.requests - prev_req),
                        (int)((int64_t)now.errors - prev_err),
                        (int)((int64_t)now.throttled - prev_thr), &err) != 0)
        log_event(LOG_WARN, "poller", "cannot count api calls", "{s:s}", "err", err.msg);
    json_object_set_new(p->op->azdo_counted, org->key,
                        json_pack("[I,I,I]", (json_int_t)now.requests, (json_int_t)now.errors,
                                  (json_int_t)now.throttled));
}

static struct azdo_client *client_of(struct op_pool *p)
{
    return p->op->azdo;
}

/* ---- polling ------------------------------------------------------------------------------- */

static void poll_start(struct op_pool *p);
static void on_agents_timer(struct loop_timer *t, void *cb_data);

static void on_poll_timer(struct loop_timer *t, void *cb_data)
{
    (void)t;
    poll_start(cb_data);
}

void op_poll_schedule(struct op_pool *p, uint64_t delay_ms)
{
    if (p->poll_timer.cb == NULL) {
        loop_timer_init(&p->poll_timer, on_poll_timer, p);
        loop_timer_init(&p->agents_timer, on_agents_timer, p);
    }
    loop_timer_start(p->op->loop, &p->poll_timer, delay_ms);
}

void op_poll_stop(struct op_pool *p)
{
    if (p->poll_timer.cb == NULL)
        return;
    loop_timer_stop(p->op->loop, &p->poll_timer);
    loop_timer_stop(p->op->loop, &p->agents_timer);
    if (p->pending_poll != NULL) { /* a poll waiting for the gate: drop it */
        struct poll_ctx *ctx = p->pending_poll;
        p->pending_poll = NULL;
        azdo_job_list_free(&ctx->jobs);
        free(ctx);
        p->poll_in_flight = false;
    }
}

/* FNV-1a of "ns/name". */
static uint64_t pool_hash(const struct op_pool *p)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *c = p->ns; *c != '\0'; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    h = (h ^ '/') * 1099511628211ull;
    for (const char *c = p->name; *c != '\0'; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

/* Schedules the next poll: sooner while jobs wait for an agent, later after failures. */
static void poll_done(struct op_pool *p, bool ok)
{
    uint64_t period = poll_period_ms(p);
    uint64_t delay;

    p->poll_in_flight = false;
    if (p->gone) {
        op_pool_dirty(p); /* lets reconcile.c free it now that no callback points at it */
        return;
    }
    if (ok) {
        p->failures = 0;
        delay = p->jobs_waiting > 0 ? period / 2 : period;
    } else {
        p->failures++;
        delay = period;
    }
    if (p->spec != NULL) {
        struct azdo_org org;
        struct azdo_target t;
        char ident[300];
        struct err err = {0};
        if (target_of(p, &org, &t, ident, sizeof(ident), &err) == 0) {
            uint64_t wait = azdo_client_wait_ms(client_of(p), &t);
            /* Pools sharing a gate would all resume in the same millisecond when it opens:
             * spread them over a fifth of the wait, at least two seconds (field report #15). The
             * offset is a hash of the pool's name, so each pool keeps its place in the
             * order and two restarts spread the same way. */
            if (wait > 0) {
                uint64_t span = wait / 5 > 2000 ? wait / 5 : 2000;
                wait += pool_hash(p) % 1000 * span / 1000;
            }
            if (wait > delay)
                delay = wait;
        }
    }
    if (delay < 200)
        delay = 200;
    op_poll_schedule(p, delay);
}

static void on_agents(struct azdo_result *res, void *cb_data)
{
    struct poll_ctx *ctx = cb_data;
    struct op_pool *p = ctx->pool;
    struct pool_key key = {p->ns, p->name};
    struct err err = {0};
    /* Stamp the answers with the time the poll was SENT: an answer that left Azure DevOps
     * before a disable we made must not look newer than that disable (field report #6). */
    int64_t now = ctx->started_ms;
    bool ok = res->verdict.outcome == AZDO_OK;

    if (!ok) {
        record_conn(p, conn_of(&res->verdict), res->pool_id, res->verdict.reason, res->err.msg);
    } else {
        size_t na = res->agents.len, nj = ctx->jobs.len;
        struct obs_agent *agents = calloc(na + 1, sizeof(*agents));
        char **caps = calloc(na + 1, sizeof(*caps));
        struct obs_job *jobs = calloc(nj + 1, sizeof(*jobs));
        char **demands = calloc(nj + 1, sizeof(*demands));
        int waiting = 0;

        if (agents == NULL || caps == NULL || jobs == NULL || demands == NULL) {
            ok = false;
        } else {
            op_map_agents(&res->agents, agents, caps);
            op_map_jobs(&ctx->jobs, jobs, demands);
            for (size_t i = 0; i < nj; i++)
                waiting += jobs[i].reserved_agent_id == 0 && jobs[i].result == NULL;
            p->jobs_waiting = waiting;
            /* One transaction: the planner never sees jobs without the matching agents. */
            if (store_begin(p->op->store, &err) == 0) {
                struct obs_azdo o = {AZDO_CONN_OK, res->pool_id, NULL, NULL};
                int rc = store_observe_azdo(p->op->store, &key, &o, now, &err);
                if (rc == 0)
                    rc = store_observe_jobs(p->op->store, &key, jobs, nj, now, &err);
                if (rc == 0)
                    rc = store_observe_agents(p->op->store, &key, agents, na, now, &err);
                if (rc == 0)
                    rc = store_commit(p->op->store, &err);
                if (rc != 0) {
                    store_rollback(p->op->store);
                    ok = false;
                }
            }
            if (!ok || err.code != 0)
                log_event(LOG_ERROR, "poller", "cannot record azure devops poll", "{s:s, s:s}",
                          "pool", p->name, "err", err.msg);
            op_free_agent_caps(caps, na);
            op_free_agent_caps(demands, nj);
        }
        free(agents);
        free(caps);
        free(jobs);
        free(demands);
    }
    count_api(p, &ctx->org);
    azdo_job_list_free(&ctx->jobs);
    free(ctx);
    op_pool_dirty(p);
    poll_done(p, ok);
}

/* The second half of a poll. A delayed answer to the jobs call can shut the organisation's gate
 * (Retry-After on a 200); the agents call then waits for the gate instead of dropping the poll,
 * or a server that delays every answer would leave the pool with no complete poll at all. */
static void start_agents_call(struct poll_ctx *ctx)
{
    struct op_pool *p = ctx->pool;
    struct azdo_target t;
    char ident[300];
    struct err err = {0};
    int rc = target_of(p, &ctx->org, &t, ident, sizeof(ident), &err);

    if (rc == 0)
        rc = azdo_list_agents(client_of(p), &t,
                              AZDO_INC_ASSIGNED | AZDO_INC_CAPABILITIES | AZDO_INC_LAST_COMPLETED,
                              on_agents, ctx, &err);
    if (rc == -EAGAIN) {
        uint64_t wait = azdo_client_wait_ms(client_of(p), &t);
        p->pending_poll = ctx;
        loop_timer_start(p->op->loop, &p->agents_timer, wait > 0 ? wait : 100);
        return;
    }
    if (rc != 0) {
        azdo_job_list_free(&ctx->jobs);
        free(ctx);
        poll_done(p, false);
    }
}

static void on_agents_timer(struct loop_timer *t, void *cb_data)
{
    struct op_pool *p = cb_data;
    struct poll_ctx *ctx = p->pending_poll;

    (void)t;
    p->pending_poll = NULL;
    if (ctx != NULL)
        start_agents_call(ctx);
}

static void on_jobs(struct azdo_result *res, void *cb_data)
{
    struct poll_ctx *ctx = cb_data;
    struct op_pool *p = ctx->pool;

    if (res->verdict.outcome != AZDO_OK || p->gone || p->spec == NULL) {
        if (res->verdict.outcome != AZDO_OK) {
            record_conn(p, conn_of(&res->verdict), res->pool_id, res->verdict.reason, res->err.msg);
            log_event(LOG_WARN, "poller", "azure devops poll failed", "{s:s, s:s, s:s, s:s}",
                      "ns", p->ns, "pool", p->name, "reason", res->verdict.reason, "err",
                      res->err.msg);
        }
        count_api(p, &ctx->org);
        free(ctx);
        op_pool_dirty(p);
        poll_done(p, false);
        return;
    }
    ctx->jobs = res->jobs;
    memset(&res->jobs, 0, sizeof(res->jobs));
    start_agents_call(ctx);
}

static void poll_azdo(struct op_pool *p)
{
    struct poll_ctx *ctx = calloc(1, sizeof(*ctx));
    struct azdo_target t;
    char ident[300];
    struct err err = {0};
    int rc;

    if (ctx == NULL) {
        poll_done(p, false);
        return;
    }
    ctx->pool = p;
    ctx->started_ms = (int64_t)loop_wall_ms();
    rc = target_of(p, &ctx->org, &t, ident, sizeof(ident), &err);
    if (rc == 0)
        rc = azdo_list_jobs(client_of(p), &t, on_jobs, ctx, &err);
    if (rc != 0) {
        if (rc == -EAGAIN) {
            /* The organisation's gate is shut. When the service asked for the pause, every
             * pool behind that gate is throttled (field report #15); when it is our backoff
             * after another pool's failure, nothing new is known and the pool keeps its last
             * state. */
            if (azdo_client_server_wait(client_of(p), &t))
                record_conn(p, AZDO_CONN_THROTTLED, p->azdo_pool_id, "Throttled",
                            "Azure DevOps asked this organisation to pause (Retry-After)");
        } else {
            record_conn(p, rc == -EINVAL ? AZDO_CONN_UNREACHABLE : AZDO_CONN_AUTH_FAILED, 0,
                        rc == -EINVAL ? "InvalidUrl" : "PatMissing", err.msg);
        }
        free(ctx); /* after the last use of 't', which points into it */
        op_pool_dirty(p);
        poll_done(p, false);
    }
}

/* Decodes the Secret's data.token (base64). New string or NULL. Trailing newlines are
 * dropped: a PAT pasted with `echo` into a file carries one. */
static char *decode_token(const char *b64)
{
    size_t len = strlen(b64);
    unsigned char *out = malloc(len / 4 * 3 + 4);
    int n;

    if (out == NULL)
        return NULL;
    n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
    if (n < 0) {
        free(out);
        return NULL;
    }
    if (len >= 1 && b64[len - 1] == '=')
        n--;
    if (len >= 2 && b64[len - 2] == '=')
        n--;
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        n--;
    out[n] = '\0';
    return (char *)out;
}

static void on_secret(const struct kube_result *res, void *cb_data)
{
    struct op_pool *p = cb_data;
    const json_t *data = json_object_get(res->obj, "data");
    const char *b64 = json_string_value(json_object_get(data, "token"));
    const char *rv =
        json_string_value(json_object_get(json_object_get(res->obj, "metadata"), "resourceVersion"));
    char detail[400];

    p->pat_read_ms = loop_now_ms(p->op->loop);
    if (p->gone || p->spec == NULL) {
        p->poll_in_flight = false;
        op_pool_dirty(p);
        return;
    }
    if (res->outcome != KUBE_OK && res->outcome != KUBE_NOT_FOUND &&
        res->outcome != KUBE_FORBIDDEN) {
        /* The API server did not answer about the Secret (5xx, timeout): that says nothing
         * about the PAT. Keep the one we have and poll with it; without one, try again later. */
        log_event(LOG_WARN, "poller", "cannot read pat secret, keeping the last one",
                  "{s:s, s:s, s:s}", "ns", p->ns, "secret", p->spec->pat_secret_name, "outcome",
                  kube_outcome_name(res->outcome));
        if (p->pat != NULL)
            poll_azdo(p);
        else
            poll_done(p, false);
        return;
    }
    if (res->outcome != KUBE_OK || b64 == NULL) {
        wipe_pat(p);
        p->pat_missing = true;
        if (res->outcome == KUBE_OK)
            snprintf(detail, sizeof(detail), "Secret '%.120s' has no key 'token': put the PAT "
                     "there", p->spec->pat_secret_name);
        else if (res->outcome == KUBE_FORBIDDEN)
            snprintf(detail, sizeof(detail), "the operator may not read Secret '%.120s': grant "
                     "it get on secrets in this namespace", p->spec->pat_secret_name);
        else
            snprintf(detail, sizeof(detail), "Secret '%.120s' not found: create it with the PAT "
                     "under key 'token'", p->spec->pat_secret_name);
        record_conn(p, AZDO_CONN_AUTH_FAILED, 0, "SecretMissing", detail);
        op_pool_dirty(p);
        poll_done(p, false);
        return;
    }
    p->pat_missing = false;
    if (p->pat == NULL || p->pat_rv == NULL || rv == NULL || strcmp(p->pat_rv, rv) != 0) {
        char *token = decode_token(b64);
        struct azdo_org org;
        struct azdo_target t;
        char ident[300];
        struct err err = {0};

        wipe_pat(p);
        p->pat = token;
        free(p->pat_rv);
        p->pat_rv = rv != NULL ? strdup(rv) : NULL;
        /* A new token deserves an attempt now, not after the old one's backoff. */
        if (target_of(p, &org, &t, ident, sizeof(ident), &err) == 0)
            azdo_client_reset_backoff(client_of(p), &t);
    }
    poll_azdo(p);
}

static void poll_start(struct op_pool *p)
{
    struct err err = {0};
    uint64_t now = loop_now_ms(p->op->loop);

    if (p->gone || p->spec == NULL || p->poll_in_flight || !p->op->leading)
        return;
    p->poll_in_flight = true;
    if (p->pat != NULL && p->failures == 0 && now - p->pat_read_ms < PAT_REFRESH_MS) {
        poll_azdo(p);
        return;
    }
    if (kube_get(p->op->kube, &KUBE_SECRETS, p->ns, p->spec->pat_secret_name, on_secret, p, NULL,
                 &err) != 0) {
        log_event(LOG_WARN, "poller", "cannot read pat secret", "{s:s}", "err", err.msg);
        poll_done(p, false);
    }
}

/* ---- actions (azdo_ops.h) ------------------------------------------------------------------ */

struct op_call {
    op_azdo_done_cb done;
    void *cb_data;
    bool delete_op; /* a 404 means "already gone": success */
    struct azdo_org org;
    struct azdo_target target;
    char ident[300];
};

static void on_op_done(struct azdo_result *res, void *cb_data)
{
    struct op_call *c = cb_data;
    int rc = 0;

    if (res->verdict.outcome != AZDO_OK &&
        !(c->delete_op && res->verdict.outcome == AZDO_NOT_FOUND))
        rc = -EIO;
    c->done(rc, rc == 0 ? NULL : res->err.msg, c->cb_data);
    free(c);
}

/* A call record with the pool's target filled in, or NULL with 'err' set. The caller frees it
 * when starting the request fails; on_op_done frees it otherwise. */
static struct op_call *op_call_begin(struct op_pool *p, op_azdo_done_cb done, void *cb_data,
                                     bool delete_op, struct err *err)
{
    struct op_call *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    c->done = done;
    c->cb_data = cb_data;
    c->delete_op = delete_op;
    if (target_of(p, &c->org, &c->target, c->ident, sizeof(c->ident), err) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

int op_azdo_set_enabled(struct op_pool *p, int64_t agent_id, bool enabled, op_azdo_done_cb done,
                        void *cb_data, struct err *err)
{
    struct op_call *c = op_call_begin(p, done, cb_data, false, err);
    int rc;

    if (c == NULL)
        return err->code;
    rc = azdo_set_agent_enabled(client_of(p), &c->target, agent_id, enabled, on_op_done, c, err);
    if (rc != 0)
        free(c);
    return rc;
}

int op_azdo_delete_agent(struct op_pool *p, int64_t agent_id, op_azdo_done_cb done,
                         void *cb_data, struct err *err)
{
    struct op_call *c = op_call_begin(p, done, cb_data, true, err);
    int rc;

    if (c == NULL)
        return err->code;
    rc = azdo_delete_agent(client_of(p), &c->target, agent_id, on_op_done, c, err);
    if (rc != 0)
        free(c);
    return rc;
}

int op_azdo_register_placeholder(struct op_pool *p, const char *name, const char *cap_key,
                                 op_azdo_done_cb done, void *cb_data, struct err *err)
{
    struct azdo_caps caps = {0};
    struct op_call *c;
    int rc;

    if (p->spec != NULL && cap_key != NULL && cap_key[0] != '\0') {
        const struct runner_pool_capability *cap = runner_pool_capability_find(p->spec, cap_key);
        if (cap == NULL)
            return err_set(err, -ENOENT, "capability '%s' is not in spec.capabilityImages",
                           cap_key);
        if (azdo_caps_set(&caps, cap->env_name, cap->env_value, false) != 0)
            return err_set(err, -ENOMEM, "out of memory");
    }
    c = op_call_begin(p, done, cb_data, false, err);
    if (c == NULL) {
        azdo_caps_clear(&caps);
        return err->code;
    }
    /* LIMITATION: the placeholder advertises a fixed recent agent version, so jobs'
     * "Agent.Version -gtVersion X" demands match it. A pool whose jobs demand a newer agent
     * than this would fail at once while at zero agents; a fix would take the highest version
     * the pool's real agents advertise. */
    rc = azdo_register_agent(client_of(p), &c->target, name, PLACEHOLDER_DEFAULT_VERSION, &caps,
                             on_op_done, c, err);
    azdo_caps_clear(&caps);
    if (rc != 0)
        free(c);
    return rc;
}
