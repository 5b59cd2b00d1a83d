/* store_obs.h - writing observations: what Kubernetes and Azure DevOps said, as plain structs.
 *
 * The caller maps API JSON to these structs; nothing here parses Kubernetes or Azure DevOps
 * JSON except a job's demand strings. Wrap a batch in store_begin/store_commit: each function
 * works inside or outside a transaction. Every function takes the pool key (namespace, name);
 * an observation for a pool never seen creates its row, so watch order does not matter.
 * All strings are borrowed for the call. Times are unix ms. Returns 0 or a negative errno with
 * text in 'err'.
 *
 * Full lists (store_observe_agents/jobs/pods/pvcs) replace the pool's set: rows not in the new
 * list get gone_ms = now (used after a relist, e.g. after a watch's 410 Gone, and for every
 * Azure DevOps poll). Single-object calls (store_observe_pod, ..._gone) follow watch events. */
#ifndef AZDO_STORE_OBS_H
#define AZDO_STORE_OBS_H

#include "store/store.h"

/* The RunnerPool object itself. */
struct obs_pool {
    const char *uid;         /* metadata.uid */
    int64_t generation;      /* metadata.generation */
    const char *spec_json;   /* .spec as JSON text: names Secrets, never holds their data */
    bool deletion_requested; /* metadata.deletionTimestamp is set */
    bool finalizer_present;  /* our finalizer is in metadata.finalizers */
};
int store_observe_pool(struct store *s, const struct pool_key *key, const struct obs_pool *p,
                       int64_t now_ms, struct err *err);
/* The RunnerPool object is gone from Kubernetes (after the finalizer was released). */
int store_observe_pool_gone(struct store *s, const struct pool_key *key, int64_t now_ms,
                            struct err *err);

/* Outcome of one Azure DevOps poll of the pool. A failed or timed-out poll is recorded as such,
 * never as an empty queue: the planner then makes no scaling decision. */
enum azdo_conn {
    AZDO_CONN_OK = 0,
    AZDO_CONN_AUTH_FAILED,    /* 401, 403, or the 203 sign-in page */
    AZDO_CONN_POOL_NOT_FOUND, /* the pool name resolves to nothing */
    AZDO_CONN_UNREACHABLE,    /* transport error, timeout, 5xx */
    AZDO_CONN_THROTTLED,      /* 429 or an unexpired Retry-After */
};
struct obs_azdo {
    enum azdo_conn conn;
    int64_t azdo_pool_id; /* 0 when unknown */
    const char *detail;   /* failure text for humans, NULL when ok; never a token */
    const char *reason;   /* CamelCase reason of a failure (TokenExpired, RateLimited, ...), or
                           * NULL: then the connection class names it */
};
int store_observe_azdo(struct store *s, const struct pool_key *key, const struct obs_azdo *o,
                       int64_t now_ms, struct err *err);
const char *store_azdo_conn_name(enum azdo_conn c); /* "ok", "auth-failed", ... */

/* One element of GET .../agents?includeCapabilities&includeAssignedRequest
 * &includeLastCompletedRequest. */
struct obs_agent {
    int64_t id;
    const char *name;
    bool online;                   /* status == "online" */
    bool enabled;
    const char *capabilities_json; /* object of system+user capabilities, or NULL */
    int64_t assigned_request_id;   /* assignedRequest.requestId, 0 when none */
    int64_t last_finish_ms;        /* lastCompletedRequest.finishTime, 0 when none */
    int64_t status_changed_ms;     /* statusChangedOn, 0 when absent */
    int64_t created_ms;            /* createdOn, 0 when absent */
};
int store_observe_agents(struct store *s, const struct pool_key *key, const struct obs_agent *a,
                         size_t n, int64_t now_ms, struct err *err);

/* One element of GET .../jobrequests?completedRequestCount=0 (unfinished jobs). A job missing
 * from a later list is marked gone (finished). Also writes one queue sample per demand set. */
struct obs_job {
    int64_t request_id;
    const char *demands_json; /* JSON array of demand strings as on the wire, NULL = [] */
    int64_t queue_ms, assign_ms, receive_ms, finish_ms; /* 0 when absent */
    const char *result;                                /* NULL while unfinished */
    int64_t reserved_agent_id;                         /* 0 when none */
    const char *reserved_agent_name;                   /* NULL when none */
};
int store_observe_jobs(struct store *s, const struct pool_key *key, const struct obs_job *j,
                       size_t n, int64_t now_ms, struct err *err);

/* A pod the operator manages (label devops.opentools.mf/pool). */
enum pod_role {
    POD_AGENT = 0,   /* an agent slot: idx is the ordinal label */
    POD_PLACEHOLDER, /* a one-shot pod registering an offline placeholder agent */
};
struct obs_pod {
    const char *uid;
    const char *name;
    enum pod_role role;
    int idx;                    /* devops.opentools.mf/ordinal; -1 for placeholders */
    const char *cap_key;        /* devops.opentools.mf/capability, NULL or "" = default image */
    const char *phase;          /* Pending, Running, Succeeded, Failed, Unknown */
    bool ready;                 /* condition Ready=True */
    int restarts;               /* sum of the agent container's restartCount */
    const char *waiting_reason; /* a container's state.waiting.reason, or terminated reason of a
                                 * Failed pod (OOMKilled); NULL when none */
    bool deletion_requested;    /* metadata.deletionTimestamp is set */
    int64_t created_ms;         /* metadata.creationTimestamp */
    int64_t deletion_ms;        /* metadata.deletionTimestamp (when the pod is due to be gone,
                                 * creation of the delete + grace period); 0 when unknown */
};
int store_observe_pods(struct store *s, const struct pool_key *key, const struct obs_pod *p,
                       size_t n, int64_t now_ms, struct err *err);
int store_observe_pod(struct store *s, const struct pool_key *key, const struct obs_pod *p,
                      int64_t now_ms, struct err *err);
int store_observe_pod_gone(struct store *s, const struct pool_key *key, const char *uid,
                           int64_t now_ms, struct err *err);

/* A PVC used by the pool: per-slot claims carry idx; a shared claim (createPvc false, named
 * exactly spec.pvcs[].name) has idx -1. */
struct obs_pvc {
    const char *uid;
    const char *name;
    int idx;              /* owner slot, -1 for a shared claim */
    const char *template; /* spec.pvcs[].name */
    const char *phase;    /* Pending, Bound, Lost */
    bool deleting;        /* metadata.deletionTimestamp is set */
};
int store_observe_pvcs(struct store *s, const struct pool_key *key, const struct obs_pvc *c,
                       size_t n, int64_t now_ms, struct err *err);
int store_observe_pvc(struct store *s, const struct pool_key *key, const struct obs_pvc *c,
                      int64_t now_ms, struct err *err);
int store_observe_pvc_gone(struct store *s, const struct pool_key *key, const char *uid,
                           int64_t now_ms, struct err *err);

/* Adds to the hourly API counters. 'kind' is "azdo" or "kube"; 'organization' is the org URL
 * (or the API server URL for kube). */
int store_count_api(struct store *s, const char *kind, const char *organization, int64_t now_ms,
                    int requests, int errors, int throttled, struct err *err);

/* Looks up the pool's row id; -ENOENT when never observed. */
int store_pool_id(struct store *s, const struct pool_key *key, int64_t *out, struct err *err);

/* Waiting reasons that mean a pod can never start as it is (image pull, crash loop, bad
 * config). A pod showing one is not capacity. */
bool store_reason_is_failing(const char *waiting_reason);

#endif
