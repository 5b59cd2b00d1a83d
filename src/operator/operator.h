/* operator.h - the running operator: one process, one event loop, one database.
 *
 *   observe (watches.c, poller.c) -> store (store_observe_*) -> plan (reconcile.c)
 *     -> act (act.c) -> outcomes recorded -> the next observation brings the pool back
 *
 * Invariants:
 *  1. Every observation is written to the store before the pool is marked dirty, so the planner
 *     only ever decides from what the database holds (and replay sees the same inputs).
 *  2. A pool has at most one batch of actions in flight: it is not planned again until every
 *     action of the batch has an outcome. A lost response therefore cannot cause a duplicate.
 *  3. Nothing destructive runs before every watch has delivered its first full list: the
 *     planner must not mistake "not listed yet" for "gone".
 *  4. The PAT lives only in memory (struct op_pool.pat), is read from its Secret with a GET, and
 *     is handed to libcurl and nowhere else. */
#ifndef AZDO_OPERATOR_OPERATOR_H
#define AZDO_OPERATOR_OPERATOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "azdo/client.h"
#include "http.h"
#include "kube/client.h"
#include "kube/event.h"
#include "kube/lease.h"
#include "kube/watch.h"
#include "loop.h"
#include "operator/config.h"
#include "pool/runnerpool.h"
#include "store/store.h"
#include "webhook/cert_store.h"
#include "webhook/metrics.h"
#include "webhook/server.h"

struct op;

/* One RunnerPool the operator knows about. Rebuilt from the watch after a restart. */
struct op_pool {
    struct op *op;
    char *ns;
    char *name;
    json_t *obj;              /* last object seen (own reference) */
    struct runner_pool *spec; /* parsed, defaults applied; NULL while the spec is invalid */
    char invalid[ERR_MSG_MAX];/* why the spec is invalid ("" when valid) */

    /* Azure DevOps polling. */
    struct loop_timer poll_timer;
    struct loop_timer agents_timer; /* second half of a poll waiting for the org's gate */
    struct poll_ctx *pending_poll;  /* that poll (poller.c owns it) */
    bool poll_in_flight;
    char *pat;                /* the PAT: memory only, never logged; NULL until read */
    char *pat_rv;             /* resourceVersion of the Secret it came from */
    uint64_t pat_read_ms;     /* loop clock of the last Secret read */
    bool pat_missing;         /* the Secret or its "token" key does not exist */
    int64_t azdo_pool_id;     /* resolved once per azDoUrl+pool; 0 = unknown */
    char *azdo_pool_for;      /* "<azDoUrl>|<pool>" the id was resolved for */
    uint32_t failures;        /* consecutive failed polls (backoff) */
    int jobs_waiting;         /* from the last poll: poll sooner while jobs wait */

    /* Reconcile. */
    bool dirty;
    int actions_in_flight;
    struct loop_timer retry_timer; /* re-plan later (backoff after a failed action, TTLs) */
    char *last_status;        /* the status JSON last written, to skip no-op patches */
    char *last_tick_sig;      /* pool and slot states of the last recorded tick (reconcile.c) */
    char *last_event_state;   /* pool state at the last state-change event */
    bool gone;                /* deleted from Kubernetes; freed once nothing is in flight */

    struct op_pool *next;
};

struct op {
    const struct op_config *cfg;
    struct loop *loop;
    struct http *http;
    struct kube *kube;
    struct store *store;
    struct kube_events *events;
    struct kube_lease *lease;
    struct kube_watch *pools_w, *pods_w, *pvcs_w;
    json_t *pods_listing, *pvcs_listing; /* a full list in progress: "ns/pool" -> [objects] */
    struct op_pool *pools;
    struct loop_timer reconcile_timer; /* runs dirty pools on the next turn */
    struct loop_timer housekeeping_timer;
    struct loop_timer store_retry_timer; /* the database could not be opened: try again */
    struct azdo_client *azdo;
    json_t *azdo_counted; /* org key -> [requests, errors, throttled] already in the store */
    struct webhook_server *server; /* webhook + health/metrics, NULL when both ports are 0 */
    struct cert_store *certs;      /* NULL when the webhook is off */
    struct loop_timer cert_timer;
    struct loop_timer metrics_timer;
    struct metrics *metrics;
    struct metrics_std mstd;
    struct metric *plan_seconds;       /* histograms of one tick's plan() and store_record_tick() */
    struct metric *tick_write_seconds; /* (metrics_feed.c; NULL when metrics are off) */
    const char *webhook_ns;
    char *sans[OP_MAX_SANS];
    size_t n_sans;
    bool leading;      /* true without --leader-elect */
    bool synced;       /* every watch delivered its first list */
    bool store_failing; /* the last tick could not be recorded (disk full, read-only): no
                         * action is taken, and /readyz says so */
    bool intents_resolved;
    int64_t last_retention_ms;
    int lock_fd; /* flock on "<db>.lock": one operator per database */
    bool fatal;  /* a failure that ends the process with exit code 1 */
};

/* `azdo-operator run [flags]` (argv[0] is "run"); returns the process exit code. */
int cmd_run(int argc, char **argv);

/* Runs the operator until SIGTERM/SIGINT; returns the process exit code. */
int op_run(const struct op_config *cfg);

/* ---- pools.c ---- */
struct op_pool *op_pool_find(struct op *op, const char *ns, const char *name);
/* Finds or creates the entry; NULL only when out of memory. */
struct op_pool *op_pool_get(struct op *op, const char *ns, const char *name);
void op_pool_free(struct op_pool *p);
/* Marks the pool for planning on the next loop turn. */
void op_pool_dirty(struct op_pool *p);

/* ---- watches.c ---- */
int op_watches_start(struct op *op, struct err *err);
void op_watches_stop(struct op *op);

/* ---- poller.c ---- */
/* (Re)arms the pool's Azure DevOps poll after 'delay_ms'. */
void op_poll_schedule(struct op_pool *p, uint64_t delay_ms);
void op_poll_stop(struct op_pool *p);

/* ---- reconcile.c ---- */
void op_reconcile_dirty(struct op *op);

/* ---- act.c ---- */
struct plan_action;
/* Starts one action; 'done' runs exactly once (possibly on a later turn) with 0 or a negative
 * errno and a message. Outcomes "already exists" / "not found" count as success. */
typedef void (*op_act_done_cb)(struct op_pool *p, struct plan_action *a, int rc, const char *msg,
                               void *cb_data);
void op_act_start(struct op_pool *p, struct plan_action *a, op_act_done_cb done, void *cb_data);

#endif
