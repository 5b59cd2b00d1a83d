/* client.h - the asynchronous Azure DevOps client, on the operator's loop (http.h).
 *
 * What one poll of a pool costs: one job-requests call (completedRequestCount=0) and one agents
 * call (includeAssignedRequest=true). The pool id is resolved by name once per (organisation,
 * pool) and cached; concurrent calls for a pool whose id is being resolved wait for that one
 * lookup instead of sending their own.
 *
 * Credentials: every call takes the PAT from its caller (the operator reads it from a Secret,
 * which may be rotated at any time). The client copies it only for the lifetime of that call's
 * requests (wiped when the last request of the call has been handed to curl), never logs it and
 * never puts it in an error message. Requests send basic auth with an empty user and the PAT as
 * password, "Accept: application/json" and "X-TFS-FedAuthRedirect: Suppress" (so a bad PAT
 * gets 401 rather than a 203 sign-in page).
 *
 * Throttling: one gate per (organisation key, credential identity). While a gate is shut (server
 * Retry-After / X-RateLimit-Delay, or backoff after failures) calls through it return -EAGAIN at
 * once and send nothing; other organisations and identities are unaffected.
 *
 * Counters per organisation key: requests sent, answers that were not AZDO_OK, throttled answers
 * (429/503, and 2xx answers carrying a wait). The store turns them into hourly counts. */
#ifndef AZDO_AZDO_CLIENT_H
#define AZDO_AZDO_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "azdo/backoff.h"
#include "azdo/classify.h"
#include "azdo/demand.h"
#include "azdo/parse.h"
#include "azdo/url.h"
#include "err.h"
#include "http.h"
#include "loop.h"

struct azdo_client; /* opaque */

struct azdo_client_config {
    uint32_t timeout_ms;                /* per request; 0 = 30 s */
    struct azdo_backoff_policy backoff; /* all zero = AZDO_BACKOFF_POLICY_DEFAULT */
    const struct http_tls *tls;         /* NULL = system CAs (a Server with a private CA sets
                                         * ca_file); borrowed for the client's life */
};

/* Where and as whom; everything is borrowed for the duration of the call that takes it. */
struct azdo_target {
    const struct azdo_org *org; /* from azdo_org_parse() */
    const char *pool_name;      /* the RunnerPool's spec.pool */
    const char *pat;            /* the PAT; trailing whitespace/newlines are ignored */
    const char *identity;       /* names the credential without revealing it, e.g.
                                 * "ci-agents/azdo-pat"; NULL = "". Gates are per (org, identity) */
};

enum azdo_op {
    AZDO_OP_RESOLVE_POOL,
    AZDO_OP_LIST_JOBS,
    AZDO_OP_LIST_AGENTS,
    AZDO_OP_GET_AGENT,
    AZDO_OP_SET_ENABLED,
    AZDO_OP_DELETE_AGENT,
    AZDO_OP_REGISTER_AGENT,
};

/* What a completion callback receives. The lists and the agent belong to the client and are freed
 * after the callback returns; to keep one, copy the struct and zero the field (e.g.
 * `mine = res->jobs; memset(&res->jobs, 0, sizeof(res->jobs));`), then free it yourself. */
struct azdo_result {
    enum azdo_op op;
    struct azdo_verdict verdict;   /* outcome, HTTP status, reason, server detail, waits */
    struct err err;                /* one line for logs and status when outcome != AZDO_OK */
    int64_t pool_id;               /* the resolved id (0 when resolution failed) */
    struct azdo_job_list jobs;     /* AZDO_OP_LIST_JOBS */
    struct azdo_agent_list agents; /* AZDO_OP_LIST_AGENTS */
    struct azdo_agent agent;       /* AZDO_OP_GET_AGENT, _SET_ENABLED, _REGISTER_AGENT (the
                                    * answer's agent, id included); empty otherwise */
    uint64_t duration_ms;          /* of the main request */
};

/* Runs on the loop thread, exactly once per started call, never inside the starting function.
 * It may start new calls; it must not free the client. */
typedef void (*azdo_done_cb)(struct azdo_result *res, void *cb_data);

/* Outcome reasons the client adds to those of classify.h:
 *   "PoolNotFound"  (AZDO_NOT_FOUND) the pool name resolves to nothing, or the cached id 404s
 *                   (the cache entry is dropped, the next call resolves again);
 *   "PoolAmbiguous" (AZDO_REJECTED)  several pools carry the name;
 *   "AgentNotFound" (AZDO_NOT_FOUND) a 404 on one agent: for a DELETE this means "already gone";
 *   "BadShape"      (AZDO_BAD_RESPONSE) a 2xx JSON body that did not parse (err says where). */

/* Creates a client on 'loop' sending through 'http' (both must outlive it). 'cfg' may be NULL.
 * '*out' is new: free with azdo_client_free(). 0, or -ENOMEM. */
int azdo_client_new(struct loop *loop, struct http *http, const struct azdo_client_config *cfg,
                    struct azdo_client **out, struct err *err);

/* Cancels every call in flight (their callbacks never run) and frees the client. Accepts NULL. */
void azdo_client_free(struct azdo_client *c);

/* Every call below returns 0 when started (the callback will run), or without starting anything
 * (the callback never runs):
 *   -EAGAIN  the (org, identity) gate is shut: azdo_client_wait_ms() says for how long;
 *   -EINVAL  a missing argument or an empty PAT;
 *   -ENOMEM / -EIO  local failure. */

/* Looks the pool id up again (refreshing the cache): result.pool_id. The other calls use the
 * cache and resolve on their own when it is empty. */
int azdo_resolve_pool(struct azdo_client *c, const struct azdo_target *t, azdo_done_cb cb,
                      void *cb_data, struct err *err);

/* GET jobrequests?completedRequestCount=0: queued, assigned and running requests. */
int azdo_list_jobs(struct azdo_client *c, const struct azdo_target *t, azdo_done_cb cb,
                   void *cb_data, struct err *err);

/* GET agents with includeAssignedRequest=true plus the AZDO_INC_* flags in 'include'
 * (capabilities, last completed request when needed). */
int azdo_list_agents(struct azdo_client *c, const struct azdo_target *t, unsigned include,
                     azdo_done_cb cb, void *cb_data, struct err *err);

/* GET one agent with includeAssignedRequest=true: the drain protocol's re-check after disabling
 * (field report #6). */
int azdo_get_agent(struct azdo_client *c, const struct azdo_target *t, int64_t agent_id,
                   azdo_done_cb cb, void *cb_data, struct err *err);

/* PATCH {"id":agent_id,"enabled":enabled}. */
int azdo_set_agent_enabled(struct azdo_client *c, const struct azdo_target *t, int64_t agent_id,
                           bool enabled, azdo_done_cb cb, void *cb_data, struct err *err);

/* DELETE the registration. AZDO_NOT_FOUND ("AgentNotFound") means it was already gone. */
int azdo_delete_agent(struct azdo_client *c, const struct azdo_target *t, int64_t agent_id,
                      azdo_done_cb cb, void *cb_data, struct err *err);

/* POST an offline placeholder registration 'name' advertising 'version' and 'caps' (body shape:
 * body.h). result.agent carries the new registration's id. */
int azdo_register_agent(struct azdo_client *c, const struct azdo_target *t, const char *name,
                        const char *version, const struct azdo_caps *caps, azdo_done_cb cb,
                        void *cb_data, struct err *err);

/* Milliseconds until the (org, identity) gate of 't' opens; 0 when open. */
uint64_t azdo_client_wait_ms(struct azdo_client *c, const struct azdo_target *t);

/* True while the gate of 't' is shut because the service asked for a pause (Retry-After,
 * X-RateLimit-Delay), as opposed to our own backoff after failures: the caller can then report
 * throttling without having been answered 429 itself. */
bool azdo_client_server_wait(struct azdo_client *c, const struct azdo_target *t);

/* Forgets failure backoff for (org, identity) of 't', e.g. when the PAT Secret changed, so the
 * new token is tried at once; a server-requested wait still holds. */
void azdo_client_reset_backoff(struct azdo_client *c, const struct azdo_target *t);

/* Drops the cached pool id of (org, pool) of 't' (e.g. spec.pool changed). */
void azdo_client_forget_pool(struct azdo_client *c, const struct azdo_target *t);

struct azdo_counters {
    uint64_t requests;  /* HTTP requests sent (pool lookups included) */
    uint64_t errors;    /* answers whose outcome was not AZDO_OK */
    uint64_t throttled; /* 429/503, and successful answers that carried a wait */
};

/* Cumulative counters of organisation 'org_key' (struct azdo_org.key). 0, or -ENOENT when the
 * client never called that organisation. */
int azdo_client_counters(const struct azdo_client *c, const char *org_key,
                         struct azdo_counters *out);

#endif
