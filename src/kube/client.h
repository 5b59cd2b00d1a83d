/* kube/client.h - asynchronous Kubernetes API verbs over src/http.
 *
 * Every verb starts one call and returns at once; its callback runs on a later loop turn with a
 * struct kube_result. Failures the operator treats as outcomes (404 NotFound, 409 AlreadyExists,
 * 409 Conflict, 410 Expired) arrive as 'outcome' values with the server's Status parsed, so a
 * caller can write `if (res->outcome == KUBE_NOT_FOUND)` instead of parsing bodies.
 *
 * Authentication: the bearer token is re-read when its file changes; on a 401 the client re-reads
 * it and retries the request once. The token never reaches a log line. */
#ifndef AZDO_KUBE_CLIENT_H
#define AZDO_KUBE_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "http.h"
#include "kube/config.h"
#include "loop.h"

struct kube;      /* opaque: config, token, counters, calls in flight */
struct kube_call; /* opaque: one verb in flight (a list may span several requests) */

/* A resource type: group "" is the core group (/api/v1). */
struct kube_resource {
    const char *group;   /* "", "coordination.k8s.io", "devops.opentools.mf" */
    const char *version; /* "v1" */
    const char *plural;  /* "pods" */
    const char *kind;    /* "Pod" (for events and logs) */
    bool namespaced;
};

extern const struct kube_resource KUBE_PODS;
extern const struct kube_resource KUBE_PVCS;
extern const struct kube_resource KUBE_SECRETS;
extern const struct kube_resource KUBE_EVENTS;
extern const struct kube_resource KUBE_LEASES;
extern const struct kube_resource KUBE_RUNNERPOOLS;

enum kube_outcome {
    KUBE_OK = 0,          /* 2xx */
    KUBE_NOT_FOUND,       /* 404 */
    KUBE_ALREADY_EXISTS,  /* 409 reason AlreadyExists */
    KUBE_CONFLICT,        /* 409 otherwise (stale resourceVersion, failed precondition) */
    KUBE_GONE,            /* 410 (Expired / Gone): relist */
    KUBE_INVALID,         /* 400, 422 */
    KUBE_UNAUTHORIZED,    /* 401 (after one retry with a re-read token) */
    KUBE_FORBIDDEN,       /* 403 (RBAC, admission) */
    KUBE_THROTTLED,       /* 429: see retry_after_s */
    KUBE_SERVER_ERROR,    /* 5xx */
    KUBE_TRANSPORT,       /* no HTTP response: timeout, refused, TLS, reset */
    KUBE_OTHER,           /* any other status, or a 2xx body that is not JSON */
};

/* The server's Status object, or one synthesised from the HTTP status and transport error. */
struct kube_status {
    int code;          /* HTTP status (0 for transport errors) */
    char reason[64];   /* "NotFound", "AlreadyExists", "Conflict", "Expired", ... or "" */
    char message[512]; /* server's message, or the transport error text */
};

struct kube_result {
    enum kube_outcome outcome;
    long http_status;      /* 0 on a transport error */
    json_t *obj;           /* borrowed for the callback: the parsed 2xx body (for list: the
                            * merged list with every page's items), NULL on failure */
    struct kube_status status; /* filled on failure; code 0 and empty strings on success */
    struct err err;        /* 0 on success; else a negative errno and a loggable message */
    int retry_after_s;     /* -1 when absent */
    uint64_t total_ms;
};

typedef void (*kube_done_cb)(const struct kube_result *res, void *cb_data);

/* Creates a client. Takes 'cfg' (freed with the client, even on error). 'loop' and 'http' are
 * borrowed and must outlive it. 0, or negative errno with text (e.g. the token file cannot be
 * read). '*out' is new: free with kube_free(). */
int kube_new_take(struct loop *loop, struct http *http, struct kube_config *cfg,
                  struct kube **out, struct err *err);

/* Cancels every call in flight (no callback runs) and frees the client. Accepts NULL. */
void kube_free(struct kube *k);

/* Borrowed: the config's default namespace or NULL; the server URL. */
const char *kube_default_namespace(const struct kube *k);
const char *kube_server(const struct kube *k);

/* Borrowed: request counters for /metrics (valid while 'k' lives). */
const struct http_stats *kube_stats(const struct kube *k);

/* Default whole-request timeout for non-watch calls: 30 s. */
#define KUBE_DEFAULT_TIMEOUT_MS 30000u

/* Writes the path of a collection ('name' NULL) or object, with optional 'subresource'
 * ("status"), e.g. "/apis/devops.opentools.mf/v1/namespaces/ci/runnerpools/a/status".
 * 'ns' NULL on a namespaced resource gives the all-namespaces collection. Names are
 * percent-encoded. 0, or -ENAMETOOLONG. */
int kube_path(const struct kube_resource *res, const char *ns, const char *name,
              const char *subresource, char *out, size_t out_len);

/* The general verb. 'path_and_query' starts with '/'; 'content_type' and 'body' may be NULL;
 * 'timeout_ms' 0 means KUBE_DEFAULT_TIMEOUT_MS. '*out' (may be NULL) is borrowed, valid until
 * the callback starts or kube_call_cancel(). 0, or negative errno (no callback will run). */
int kube_request(struct kube *k, const char *method, const char *path_and_query,
                 const char *content_type, const char *body, uint32_t timeout_ms, kube_done_cb cb,
                 void *cb_data, struct kube_call **out, struct err *err);

/* A streaming GET (watch): 'on_line' gets each line of a 2xx body (borrowed, NUL-terminated);
 * 'cb' runs once when the stream ends, with res->obj NULL on success and the parsed Status on a
 * non-2xx answer. kube_call_cancel() is safe inside 'on_line'. 'timeout_ms' 0 = no limit. */
typedef void (*kube_line_cb)(const char *line, size_t len, void *cb_data);
int kube_request_stream(struct kube *k, const char *path_and_query, uint32_t timeout_ms,
                        kube_line_cb on_line, kube_done_cb cb, void *cb_data,
                        struct kube_call **out, struct err *err);

/* Percent-encodes 'in' for a URL path segment or query value into 'out'. 0 or -ENAMETOOLONG. */
int kube_url_escape(const char *in, char *out, size_t out_len);

/* Cancels a call; its callback never runs. Accepts NULL. Not after the callback started. */
void kube_call_cancel(struct kube_call *call);

/* ---- typed verbs: all return 0 or negative errno, and on success run 'cb' exactly once ---- */

int kube_get(struct kube *k, const struct kube_resource *res, const char *ns, const char *name,
             kube_done_cb cb, void *cb_data, struct kube_call **out, struct err *err);

struct kube_list_opts {
    const char *label_selector; /* e.g. "app=azdo-runner,runner-pool in (a,b)" or NULL */
    const char *field_selector; /* e.g. "metadata.name=x" or NULL */
    uint32_t limit;             /* page size; 0 = 500 */
};

/* Lists and follows 'continue' tokens to the end; res->obj is one list object whose "items"
 * hold every page's items and whose metadata.resourceVersion is the first page's (the list's
 * snapshot). A 410 on a later page (expired continue token) reports KUBE_GONE. */
int kube_list(struct kube *k, const struct kube_resource *res, const char *ns,
              const struct kube_list_opts *opts, kube_done_cb cb, void *cb_data,
              struct kube_call **out, struct err *err);

/* POST. 'obj' is borrowed (serialised before return). */
int kube_create(struct kube *k, const struct kube_resource *res, const char *ns,
                const json_t *obj, kube_done_cb cb, void *cb_data, struct kube_call **out,
                struct err *err);

/* PUT of the whole object (or of its status with subresource "status"). 'obj' must carry
 * metadata.name and metadata.resourceVersion (optimistic concurrency): -EINVAL otherwise.
 * A stale resourceVersion comes back as KUBE_CONFLICT. */
int kube_update(struct kube *k, const struct kube_resource *res, const char *ns,
                const json_t *obj, const char *subresource, kube_done_cb cb, void *cb_data,
                struct kube_call **out, struct err *err);

enum kube_patch_type {
    KUBE_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
    KUBE_PATCH_JSON,      /* application/json-patch+json (RFC 6902; 'patch' is an array) */
    KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds only) */
};

/* PATCH the object or, with 'subresource' "status", its status. */
int kube_patch(struct kube *k, const struct kube_resource *res, const char *ns, const char *name,
               enum kube_patch_type type, const json_t *patch, const char *subresource,
               kube_done_cb cb, void *cb_data, struct kube_call **out, struct err *err);

struct kube_delete_opts {
    const char *propagation_policy; /* "Background", "Foreground", "Orphan", or NULL */
    const char *precondition_uid;   /* delete only this incarnation, or NULL */
    const char *precondition_rv;    /* delete only this version, or NULL */
    bool has_grace_period;          /* false: server default */
    int64_t grace_period_s;         /* used when has_grace_period (0 = immediately) */
};

/* DELETE with a DeleteOptions body. 'opts' may be NULL. A blocked deletion (finalizers) is
 * KUBE_OK with the object in res->obj; a failed precondition is KUBE_CONFLICT. */
int kube_delete(struct kube *k, const struct kube_resource *res, const char *ns, const char *name,
                const struct kube_delete_opts *opts, kube_done_cb cb, void *cb_data,
                struct kube_call **out, struct err *err);

/* Name of an outcome for logs ("not_found", "conflict", ...). */
const char *kube_outcome_name(enum kube_outcome outcome);

/* Parses a Status body ('body' may be anything) into 'st'; falls back to the HTTP status.
 * Public for the watch (ERROR events carry a Status). */
void kube_status_parse(const json_t *status_obj, long http_status, struct kube_status *st);

/* Maps an HTTP status and Status reason to an outcome. */
enum kube_outcome kube_outcome_of(long http_status, const char *reason);

#endif
