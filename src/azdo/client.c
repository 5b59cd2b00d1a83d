/* client.c - asynchronous Azure DevOps calls (see client.h).
 *
 * A call goes through at most two requests:
 *
 *   start ──(pool id cached)──────────────────────────────► MAIN ──► complete
 *     │                                                       ▲
 *     ├─(nobody resolving)──► RESOLVE [on_pool_answer] ──ok───┘ (also for every waiter)
 *     │                              └──failed──► complete (owner and every waiter)
 *     └─(a lookup is running)──► WAITING on that pool entry
 *
 * Invariants: (1) a call is on the client's list from start until its callback has returned;
 * (2) its PAT copy lives only while it may still send a request (wiped in drop_pat());
 * (3) a pool entry is resolving iff exactly one call owns its lookup request;
 * (4) the gate of (org, identity) is updated once per answer, the counters of the org too. */
#include "azdo/client.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azdo/body.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS 30000

struct org_state {
    char key[AZDO_URL_MAX];
    struct azdo_counters counters;
    struct org_state *next;
};

struct gate {
    char *org_key;
    char *identity;
    struct azdo_backoff backoff;
    struct gate *next;
};

struct call;

struct pool_entry {
    char *org_key;
    char *name;
    int64_t id;            /* 0 while unknown */
    struct call *resolver; /* the call whose request is looking the id up, or NULL */
    struct call *waiters;  /* calls waiting for that lookup, linked by next_waiter */
    struct pool_entry *next;
};

struct call {
    struct azdo_client *client;
    enum azdo_op op;
    struct azdo_org org;
    char *pat;  /* see invariant (2) */
    char *body; /* PATCH/POST body, or NULL */
    int64_t agent_id;
    unsigned include;
    struct pool_entry *pool;
    struct gate *gate;
    struct org_state *org_state;
    azdo_done_cb cb;
    void *cb_data;
    struct http_call *http; /* the request in flight, or NULL */
    struct call *next_waiter;
    struct call *prev, *next; /* the client's list of live calls */
};

struct azdo_client {
    struct loop *loop;
    struct http *http;
    uint32_t timeout_ms;
    struct azdo_backoff_policy policy;
    const struct http_tls *tls;
    struct http_stats stats;
    struct org_state *orgs;
    struct gate *gates;
    struct pool_entry *pools;
    struct call *calls;
    uint64_t seed;
};

static const char *op_names[] = {
    [AZDO_OP_RESOLVE_POOL] = "resolve_pool",     [AZDO_OP_LIST_JOBS] = "list_jobs",
    [AZDO_OP_LIST_AGENTS] = "list_agents",       [AZDO_OP_GET_AGENT] = "get_agent",
    [AZDO_OP_SET_ENABLED] = "set_enabled",       [AZDO_OP_DELETE_AGENT] = "delete_agent",
    [AZDO_OP_REGISTER_AGENT] = "register_agent",
};

/* ---- client-wide state: organisations, gates, pool cache ---- */

int azdo_client_new(struct loop *loop, struct http *http, const struct azdo_client_config *cfg,
                    struct azdo_client **out, struct err *err)
{
    static const struct azdo_backoff_policy dflt = AZDO_BACKOFF_POLICY_DEFAULT;
    struct azdo_client *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL)
        return err_set(err, -ENOMEM, "cannot create azure devops client: out of memory");
    c->loop = loop;
    c->http = http;
    c->timeout_ms = cfg != NULL && cfg->timeout_ms != 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->policy = cfg != NULL && cfg->backoff.cap_ms != 0 ? cfg->backoff : dflt;
    c->tls = cfg != NULL ? cfg->tls : NULL;
    c->seed = loop_wall_ms();
    *out = c;
    return 0;
}

static struct org_state *org_state(struct azdo_client *c, const char *key)
{
    struct org_state *o;

    for (o = c->orgs; o != NULL; o = o->next) {
        if (strcmp(o->key, key) == 0)
            return o;
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    snprintf(o->key, sizeof(o->key), "%s", key);
    o->next = c->orgs;
    c->orgs = o;
    return o;
}

static struct gate *find_gate(struct azdo_client *c, const struct azdo_target *t, bool create)
{
    const char *identity = t->identity != NULL ? t->identity : "";
    struct gate *g;

    for (g = c->gates; g != NULL; g = g->next) {
        if (strcmp(g->org_key, t->org->key) == 0 && strcmp(g->identity, identity) == 0)
            return g;
    }
    if (!create)
        return NULL;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->org_key = strdup(t->org->key);
    g->identity = strdup(identity);
    if (g->org_key == NULL || g->identity == NULL) {
        free(g->org_key);
        free(g->identity);
        free(g);
        return NULL;
    }
    /* Distinct seeds so gates opening at the same moment do not retry in lockstep. */
    azdo_backoff_init(&g->backoff, c->seed++);
    g->next = c->gates;
    c->gates = g;
    return g;
}

static struct pool_entry *find_pool(struct azdo_client *c, const struct azdo_target *t, bool create)
{
    struct pool_entry *p;

    for (p = c->pools; p != NULL; p = p->next) {
        if (strcmp(p->org_key, t->org->key) == 0 && strcmp(p->name, t->pool_name) == 0)
            return p;
    }
    if (!create)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->org_key = strdup(t->org->key);
    p->name = strdup(t->pool_name);
    if (p->org_key == NULL || p->name == NULL) {
        free(p->org_key);
        free(p->name);
        free(p);
        return NULL;
    }
    p->next = c->pools;
    c->pools = p;
    return p;
}

uint64_t azdo_client_wait_ms(struct azdo_client *c, const struct azdo_target *t)
{
    struct gate *g = find_gate(c, t, false);
    return g != NULL ? azdo_backoff_wait_ms(&g->backoff, loop_now_ms(c->loop)) : 0;
}

bool azdo_client_server_wait(struct azdo_client *c, const struct azdo_target *t)
{
    struct gate *g = find_gate(c, t, false);
    return g != NULL && g->backoff.server_until_ms > loop_now_ms(c->loop);
}

void azdo_client_reset_backoff(struct azdo_client *c, const struct azdo_target *t)
{
    struct gate *g = find_gate(c, t, false);
    if (g != NULL)
        azdo_backoff_reset(&g->backoff);
}

void azdo_client_forget_pool(struct azdo_client *c, const struct azdo_target *t)
{
    struct pool_entry *p = find_pool(c, t, false);
    if (p != NULL)
        p->id = 0;
}

int azdo_client_counters(const struct azdo_client *c, const char *org_key,
                         struct azdo_counters *out)
{
    for (const struct org_state *o = c->orgs; o != NULL; o = o->next) {
        if (strcmp(o->key, org_key) == 0) {
            *out = o->counters;
            return 0;
        }
    }
    memset(out, 0, sizeof(*out));
    return -ENOENT;
}

/* ---- calls ---- */

/* Copies 'text' into the verdict's detail, truncated to fit. */
static void set_detail(struct azdo_verdict *v, const char *text)
{
    size_t len = strnlen(text, sizeof(v->detail) - 1);

    memcpy(v->detail, text, len);
    v->detail[len] = '\0';
}

/* Wipes and frees the PAT copy: after the last request is handed to curl (which keeps its own
 * copy for the transfer), nothing here needs it. */
static void drop_pat(struct call *k)
{
    if (k->pat == NULL)
        return;
    explicit_bzero(k->pat, strlen(k->pat));
    free(k->pat);
    k->pat = NULL;
}

static void call_free(struct call *k)
{
    struct azdo_client *c = k->client;

    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        c->calls = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    drop_pat(k);
    free(k->body);
    free(k);
}

static void result_clear(struct azdo_result *r)
{
    azdo_job_list_free(&r->jobs);
    azdo_agent_list_free(&r->agents);
    azdo_agent_clear(&r->agent);
}

/* Runs the callback with 'res' and frees the call (invariant 1). */
static void complete(struct call *k, struct azdo_result *res)
{
    res->op = k->op;
    if (res->pool_id == 0 && k->pool != NULL)
        res->pool_id = k->pool->id;
    if (res->verdict.outcome != AZDO_OK)
        log_event(LOG_DEBUG, "azdo", "azure devops call failed", "{s:s, s:s, s:s, s:s, s:i, s:s}",
                  "org", k->org.key, "pool", k->pool != NULL ? k->pool->name : "", "op",
                  op_names[k->op], "outcome", azdo_outcome_name(res->verdict.outcome),
                  "http_status", (int)res->verdict.http_status, "reason", res->verdict.reason);
    k->cb(res, k->cb_data);
    result_clear(res);
    call_free(k);
}

/* Completes 'k' with a local failure that happened after it was started. */
static void complete_local(struct call *k, enum azdo_outcome outcome, const char *reason,
                           const struct err *why)
{
    struct azdo_result res;

    memset(&res, 0, sizeof(res));
    res.verdict.outcome = outcome;
    res.verdict.wait_ms = -1;
    snprintf(res.verdict.reason, sizeof(res.verdict.reason), "%s", reason);
    set_detail(&res.verdict, why->msg);
    res.err = *why;
    complete(k, &res);
}

/* Updates the org's counters and the gate from one answer (invariant 4). */
static void account(struct call *k, const struct azdo_verdict *v)
{
    struct azdo_counters *n = &k->org_state->counters;
    uint64_t now = loop_now_ms(k->client->loop);
    uint64_t delay;

    if (v->outcome != AZDO_OK)
        n->errors++;
    if (v->outcome == AZDO_THROTTLED || (v->outcome == AZDO_OK && v->wait_ms > 0))
        n->throttled++;
    if (v->wait_capped)
        log_event(LOG_WARN, "azdo", "retry-after capped", "{s:s, s:I}", "org", k->org.key,
                  "wait_ms", (json_int_t)v->wait_ms);

    switch (v->outcome) {
    case AZDO_OK:
    case AZDO_NOT_FOUND: /* an answer about the pool or agent, not trouble with the org */
    case AZDO_REJECTED:
        azdo_backoff_success(&k->gate->backoff, now, v->wait_ms);
        if (v->wait_ms > 0)
            log_event(LOG_INFO, "azdo", "azure devops asked to slow down", "{s:s, s:I, s:b}", "org",
                      k->org.key, "wait_ms", (json_int_t)v->wait_ms, "budget_exhausted",
                      v->budget_exhausted);
        break;
    case AZDO_AUTH_FAILED:
    case AZDO_THROTTLED:
    case AZDO_UNREACHABLE:
    case AZDO_BAD_RESPONSE:
        delay = azdo_backoff_failure(&k->gate->backoff, &k->client->policy, now, v->wait_ms);
        log_event(LOG_WARN, "azdo", "backing off organisation", "{s:s, s:s, s:I, s:i}", "org",
                  k->org.key, "reason", v->reason, "delay_ms", (json_int_t)delay, "failures",
                  (int)k->gate->backoff.failures);
        break;
    }
}

static void reply_from(const struct http_response *res, struct azdo_reply *r)
{
    memset(r, 0, sizeof(*r));
    r->status = res->status;
    r->transport_err = res->err.code;
    r->content_type = res->content_type;
    r->retry_after_s = res->retry_after_s;
    r->body = res->body;
    r->body_len = res->body_len;
    r->rate_limit_delay = http_response_header(res, "X-RateLimit-Delay");
    r->rate_limit_remaining = http_response_header(res, "X-RateLimit-Remaining");
    r->rate_limit_resource = http_response_header(res, "X-RateLimit-Resource");
    r->service_error = http_response_header(res, "X-TFS-ServiceError");
    /* LIMITATION: X-MS-ContinuationToken is not followed, so a list the service pages is read
     * as its first page only. The calls used here are not known to page (agents, pools) or
     * return only unfinished requests (jobrequests?completedRequestCount=0, see field report
     * #2), so this bites only a pool with more queued+running jobs than one page holds. */
}

static int send_request(struct call *k, const char *method, const char *url, const char *body,
                        http_done_cb on_done, struct err *err)
{
    static const char *const json_headers[] = {"Accept: application/json",
                                               "X-TFS-FedAuthRedirect: Suppress",
                                               "Content-Type: application/json", NULL};
    static const char *const plain_headers[] = {"Accept: application/json",
                                                "X-TFS-FedAuthRedirect: Suppress", NULL};
    struct http_request req = {
        .method = method,
        .url = url,
        .headers = body != NULL ? json_headers : plain_headers,
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
        .timeout_ms = k->client->timeout_ms,
        .tls = k->client->tls,
        .username = "",
        .password = k->pat,
        .stats = &k->client->stats,
    };
    int rc = http_start(k->client->http, &req, on_done, k, &k->http, err);

    if (rc == 0)
        k->org_state->counters.requests++;
    log_event(LOG_DEBUG, "azdo", "request sent", "{s:s, s:s, s:s, s:i}", "org", k->org.key, "op",
              op_names[k->op], "method", method, "rc", rc);
    return rc;
}

static void on_main_answer(const struct http_response *res, void *cb_data);

/* Builds and sends the call's own request; the pool id is known. */
static int start_main(struct call *k, struct err *err)
{
    const char *method = "GET";
    char *url = NULL;
    int64_t pool_id = k->pool->id;
    int rc = 0;

    switch (k->op) {
    case AZDO_OP_RESOLVE_POOL:
        return 1; /* nothing more to send */
    case AZDO_OP_LIST_JOBS:
        rc = azdo_url_jobrequests(&k->org, pool_id, &url, err);
        break;
    case AZDO_OP_LIST_AGENTS:
        rc = azdo_url_agents(&k->org, pool_id, k->include | AZDO_INC_ASSIGNED, &url, err);
        break;
    case AZDO_OP_GET_AGENT:
        rc = azdo_url_agent(&k->org, pool_id, k->agent_id, AZDO_INC_ASSIGNED, &url, err);
        break;
    case AZDO_OP_SET_ENABLED:
        method = "PATCH";
        rc = azdo_url_agent(&k->org, pool_id, k->agent_id, 0, &url, err);
        break;
    case AZDO_OP_DELETE_AGENT:
        method = "DELETE";
        rc = azdo_url_agent(&k->org, pool_id, k->agent_id, 0, &url, err);
        break;
    case AZDO_OP_REGISTER_AGENT:
        method = "POST";
        rc = azdo_url_agents(&k->org, pool_id, 0, &url, err);
        break;
    }
    if (rc == 0)
        rc = send_request(k, method, url, k->body, on_main_answer, err);
    free(url);
    drop_pat(k); /* the last request of this call is out (or failed to go) */
    return rc;
}

/* Moves 'k' on once its pool id is known: sends its request, or completes it (a resolve call,
 * or a send that failed locally). */
static void proceed(struct call *k)
{
    struct err err = {0};
    int rc = start_main(k, &err);

    if (rc == 1) {
        struct azdo_result res;
        memset(&res, 0, sizeof(res));
        res.verdict.wait_ms = -1;
        complete(k, &res);
    } else if (rc < 0) {
        complete_local(k, AZDO_UNREACHABLE, "LocalError", &err);
    }
}

static void on_pool_answer(const struct http_response *res, void *cb_data)
{
    struct call *k = cb_data;
    struct pool_entry *p = k->pool;
    struct call *waiters = p->waiters;
    struct azdo_result out;
    struct azdo_reply reply;
    int rc;

    k->http = NULL;
    p->resolver = NULL;
    p->waiters = NULL;
    memset(&out, 0, sizeof(out));
    reply_from(res, &reply);
    azdo_classify(&reply, &out.verdict);
    if (out.verdict.outcome == AZDO_OK) {
        rc = azdo_parse_pool_id(res->body, res->body_len, p->name, &p->id, &out.err);
        if (rc == -ENOENT) {
            out.verdict.outcome = AZDO_NOT_FOUND;
            snprintf(out.verdict.reason, sizeof(out.verdict.reason), "PoolNotFound");
        } else if (rc == -ENOTUNIQ) {
            out.verdict.outcome = AZDO_REJECTED;
            snprintf(out.verdict.reason, sizeof(out.verdict.reason), "PoolAmbiguous");
        } else if (rc < 0) {
            out.verdict.outcome = AZDO_BAD_RESPONSE;
            snprintf(out.verdict.reason, sizeof(out.verdict.reason), "BadShape");
        }
        if (rc < 0)
            set_detail(&out.verdict, out.err.msg);
    } else {
        err_set(&out.err, -EIO, "cannot resolve agent pool '%s' in '%s': %s (%s)", p->name,
                k->org.key, out.verdict.reason, out.verdict.detail);
    }
    account(k, &out.verdict);

    if (out.verdict.outcome == AZDO_OK) {
        log_event(LOG_INFO, "azdo", "agent pool resolved", "{s:s, s:s, s:I}", "org", k->org.key,
                  "pool", p->name, "pool_id", (json_int_t)p->id);
        proceed(k);
        while (waiters != NULL) {
            struct call *w = waiters;
            waiters = w->next_waiter;
            proceed(w);
        }
        return;
    }
    /* Everyone waiting on this lookup learns the same failure. */
    while (waiters != NULL) {
        struct call *w = waiters;
        struct azdo_result copy;

        waiters = w->next_waiter;
        memset(&copy, 0, sizeof(copy));
        copy.verdict = out.verdict;
        copy.err = out.err;
        complete(w, &copy);
    }
    complete(k, &out);
}

static int parse_answer(struct call *k, const struct http_response *res, struct azdo_result *out)
{
    switch (k->op) {
    case AZDO_OP_LIST_JOBS:
        return azdo_parse_jobs(res->body, res->body_len, &out->jobs, &out->err);
    case AZDO_OP_LIST_AGENTS:
        return azdo_parse_agents(res->body, res->body_len, &out->agents, &out->err);
    case AZDO_OP_GET_AGENT:
    case AZDO_OP_REGISTER_AGENT:
        return azdo_parse_agent(res->body, res->body_len, &out->agent, &out->err);
    case AZDO_OP_SET_ENABLED:
        /* The answer is the updated agent; an empty 2xx is accepted as done too. */
        if (res->body_len == 0)
            return 0;
        return azdo_parse_agent(res->body, res->body_len, &out->agent, &out->err);
    case AZDO_OP_DELETE_AGENT:
    case AZDO_OP_RESOLVE_POOL:
        return 0;
    }
    return 0;
}

static void on_main_answer(const struct http_response *res, void *cb_data)
{
    struct call *k = cb_data;
    struct azdo_result out;
    struct azdo_reply reply;
    bool list_op = k->op == AZDO_OP_LIST_JOBS || k->op == AZDO_OP_LIST_AGENTS;

    k->http = NULL;
    memset(&out, 0, sizeof(out));
    out.duration_ms = res->total_ms;
    reply_from(res, &reply);
    azdo_classify(&reply, &out.verdict);

    if (out.verdict.outcome == AZDO_OK && parse_answer(k, res, &out) < 0) {
        out.verdict.outcome = AZDO_BAD_RESPONSE;
        snprintf(out.verdict.reason, sizeof(out.verdict.reason), "BadShape");
        set_detail(&out.verdict, out.err.msg);
        result_clear(&out);
    } else if (out.verdict.outcome == AZDO_NOT_FOUND) {
        /* A 404 on a pool path means the pool went away (or was re-created with a new id):
         * resolve again next time. On one agent it means that agent is gone. */
        snprintf(out.verdict.reason, sizeof(out.verdict.reason), "%s",
                 list_op ? "PoolNotFound" : "AgentNotFound");
        if (list_op)
            k->pool->id = 0;
    }
    if (out.verdict.outcome != AZDO_OK && out.err.msg[0] == '\0')
        err_set(&out.err, -EIO, "azure devops %s for pool '%s' in '%s' failed: %s (%s)",
                op_names[k->op], k->pool->name, k->org.key, out.verdict.reason, out.verdict.detail);
    account(k, &out.verdict);
    complete(k, &out);
}

/* Copies the PAT without trailing whitespace (Secrets written with `echo` end in '\n'). */
static char *pat_copy(const char *pat)
{
    size_t len = strlen(pat);

    while (len > 0 && isspace((unsigned char)pat[len - 1]))
        len--;
    return len > 0 ? strndup(pat, len) : NULL;
}

/* Validates 't', checks the gate, creates the call and sets it going (see the diagram). */
static int start(struct azdo_client *c, const struct azdo_target *t, enum azdo_op op,
                 struct call *proto, azdo_done_cb cb, void *cb_data, struct err *err)
{
    struct call *k;
    struct gate *g;
    struct pool_entry *p;
    struct org_state *o;
    uint64_t wait;
    char *url = NULL;
    int rc;

    if (t == NULL || t->org == NULL || t->pool_name == NULL || t->pool_name[0] == '\0' ||
        cb == NULL)
        return err_set(err, -EINVAL,
                       "azure devops call needs an organisation, a pool name and "
                       "a callback");
    if (t->pat == NULL || strspn(t->pat, " \t\r\n") == strlen(t->pat))
        return err_set(err, -EINVAL, "no PAT for '%s': the Secret's 'token' key is empty",
                       t->org->key);
    g = find_gate(c, t, true);
    p = find_pool(c, t, true);
    o = org_state(c, t->org->key);
    if (g == NULL || p == NULL || o == NULL)
        return err_set(err, -ENOMEM, "cannot start azure devops call: out of memory");
    wait = azdo_backoff_wait_ms(&g->backoff, loop_now_ms(c->loop));
    if (wait > 0)
        return err_set(err, -EAGAIN, "azure devops calls to '%s' are paused for %" PRIu64 " ms",
                       t->org->key, wait);

    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return err_set(err, -ENOMEM, "cannot start azure devops call: out of memory");
    *k = *proto;
    k->client = c;
    k->op = op;
    k->org = *t->org;
    k->pool = p;
    k->gate = g;
    k->org_state = o;
    k->cb = cb;
    k->cb_data = cb_data;
    k->pat = pat_copy(t->pat);
    if (k->pat == NULL) {
        free(k);
        return err_set(err, -ENOMEM, "cannot start azure devops call: out of memory");
    }
    k->next = c->calls;
    if (c->calls != NULL)
        c->calls->prev = k;
    c->calls = k;

    if (op == AZDO_OP_RESOLVE_POOL)
        p->id = 0; /* an explicit lookup always asks the service again */
    if (p->id != 0) {
        rc = start_main(k, err);
        goto started;
    }
    if (p->resolver != NULL) {
        k->next_waiter = p->waiters;
        p->waiters = k;
        return 0;
    }
    rc = azdo_url_pool_by_name(t->org, p->name, &url, err);
    if (rc == 0)
        rc = send_request(k, "GET", url, NULL, on_pool_answer, err);
    free(url);
    if (rc == 0)
        p->resolver = k;
started:
    if (rc < 0) {
        k->body = NULL; /* on failure the caller still owns (and frees) the body */
        call_free(k);
    }
    return rc;
}

int azdo_resolve_pool(struct azdo_client *c, const struct azdo_target *t, azdo_done_cb cb,
                      void *cb_data, struct err *err)
{
    struct call proto = {0};
    return start(c, t, AZDO_OP_RESOLVE_POOL, &proto, cb, cb_data, err);
}

int azdo_list_jobs(struct azdo_client *c, const struct azdo_target *t, azdo_done_cb cb,
                   void *cb_data, struct err *err)
{
    struct call proto = {0};
    return start(c, t, AZDO_OP_LIST_JOBS, &proto, cb, cb_data, err);
}

int azdo_list_agents(struct azdo_client *c, const struct azdo_target *t, unsigned include,
                     azdo_done_cb cb, void *cb_data, struct err *err)
{
    struct call proto = {.include = include};
    return start(c, t, AZDO_OP_LIST_AGENTS, &proto, cb, cb_data, err);
}

int azdo_get_agent(struct azdo_client *c, const struct azdo_target *t, int64_t agent_id,
                   azdo_done_cb cb, void *cb_data, struct err *err)
{
    struct call proto = {.agent_id = agent_id};
    return start(c, t, AZDO_OP_GET_AGENT, &proto, cb, cb_data, err);
}

int azdo_set_agent_enabled(struct azdo_client *c, const struct azdo_target *t, int64_t agent_id,
                           bool enabled, azdo_done_cb cb, void *cb_data, struct err *err)
{
    struct call proto = {.agent_id = agent_id};
    int rc = azdo_body_agent_enabled(agent_id, enabled, &proto.body, err);

    if (rc == 0)
        rc = start(c, t, AZDO_OP_SET_ENABLED, &proto, cb, cb_data, err);
    if (rc < 0)
        free(proto.body);
    return rc;
}

int azdo_delete_agent(struct azdo_client *c, const struct azdo_target *t, int64_t agent_id,
                      azdo_done_cb cb, void *cb_data, struct err *err)
{
    struct call proto = {.agent_id = agent_id};
    return start(c, t, AZDO_OP_DELETE_AGENT, &proto, cb, cb_data, err);
}

int azdo_register_agent(struct azdo_client *c, const struct azdo_target *t, const char *name,
                        const char *version, const struct azdo_caps *caps, azdo_done_cb cb,
                        void *cb_data, struct err *err)
{
    struct call proto = {0};
    int rc;

    if (name == NULL || name[0] == '\0' || version == NULL || version[0] == '\0')
        return err_set(err, -EINVAL, "agent registration needs a name and a version");
    rc = azdo_body_register_agent(name, version, caps, &proto.body, err);
    if (rc == 0)
        rc = start(c, t, AZDO_OP_REGISTER_AGENT, &proto, cb, cb_data, err);
    if (rc < 0)
        free(proto.body);
    return rc;
}

void azdo_client_free(struct azdo_client *c)
{
    if (c == NULL)
        return;
    while (c->calls != NULL) {
        struct call *k = c->calls;
        http_cancel(k->http);
        call_free(k);
    }
    while (c->orgs != NULL) {
        struct org_state *o = c->orgs;
        c->orgs = o->next;
        free(o);
    }
    while (c->gates != NULL) {
        struct gate *g = c->gates;
        c->gates = g->next;
        free(g->org_key);
        free(g->identity);
        free(g);
    }
    while (c->pools != NULL) {
        struct pool_entry *p = c->pools;
        c->pools = p->next;
        free(p->org_key);
        free(p->name);
        free(p);
    }
    free(c);
}
