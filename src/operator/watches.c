/* watches.c - RunnerPools, agent pods and agent PVCs, from list+watch into the store.
 *
 * Order at start-up: the RunnerPool watch first; the pod and PVC watches start once it has
 * synced, so every pod's pool is known when the pods are listed. After each full list (start-up
 * and every relist after a 410) the whole set per pool is written with store_observe_pods/pvcs,
 * which marks rows that are no longer there as gone: pods deleted while the operator was down
 * are noticed that way. Between lists, single events update single rows. */
#include "operator/operator.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "operator/obs_map.h"
#include "store/store_obs.h"

#define MANAGED_SELECTOR OP_LABEL_MANAGED_BY "=" OP_MANAGED_BY

static int64_t now_wall(void)
{
    return (int64_t)loop_wall_ms();
}

static void log_store_error(const char *what, const struct err *err)
{
    log_event(LOG_ERROR, "watches", "cannot record observation", "{s:s, s:s}", "what", what,
              "err", err->msg);
}

/* ---- RunnerPools --------------------------------------------------------------------------- */

static void pool_parse_spec(struct op_pool *p)
{
    struct err err = {0};
    struct runner_pool *rp = NULL;

    runner_pool_free(p->spec);
    p->spec = NULL;
    p->invalid[0] = '\0';
    if (runner_pool_parse(p->obj, &rp, NULL, &err) == 0) {
        p->spec = rp;
        return;
    }
    snprintf(p->invalid, sizeof(p->invalid), "%s", err.msg);
    log_event(LOG_WARN, "watches", "runnerpool spec is invalid", "{s:s, s:s, s:s}", "ns", p->ns,
              "name", p->name, "err", err.msg);
}

static void on_pool(enum kube_watch_event type, json_t *obj, bool from_list, void *cb_data)
{
    struct op *op = cb_data;
    struct pool_key key;
    struct obs_pool obs;
    char *spec_text = NULL;
    struct err err = {0};
    struct op_pool *p;
    int rc;

    (void)from_list;
    if (op_map_pool(obj, &key, &obs, &spec_text) != 0) {
        free(spec_text);
        return;
    }
    if (type == KUBE_WATCH_DELETED) {
        p = op_pool_find(op, key.ns, key.name);
        rc = store_observe_pool_gone(op->store, &key, now_wall(), &err);
        if (rc != 0)
            log_store_error("pool gone", &err);
        if (p != NULL) {
            p->gone = true;
            op_poll_stop(p);
            op_pool_dirty(p); /* reconcile.c frees it once nothing is in flight */
        }
        free(spec_text);
        return;
    }

    p = op_pool_get(op, key.ns, key.name);
    if (p == NULL) {
        free(spec_text);
        return;
    }
    p->gone = false;
    json_decref(p->obj);
    p->obj = json_incref(obj);
    pool_parse_spec(p);
    rc = store_observe_pool(op->store, &key, &obs, now_wall(), &err);
    free(spec_text);
    if (rc != 0)
        log_store_error("pool", &err);
    if (p->spec != NULL && !loop_timer_armed(&p->poll_timer) && !p->poll_in_flight)
        op_poll_schedule(p, 0);
    op_pool_dirty(p);
}

/* Pools the database thinks exist but the fresh list does not hold were deleted while the
 * operator was not watching. Read-only query; the write goes through store_observe_pool_gone. */
static void pools_forget_missing(struct op *op)
{
    static const char sql[] = "SELECT namespace, name FROM pools WHERE gone_ms IS NULL";
    sqlite3_stmt *st = NULL;
    struct err err = {0};
    json_t *missing = json_array();
    size_t i;
    json_t *pair;

    if (store_stmt(op->store, sql, &st, &err) != 0) {
        log_store_error("list pools", &err);
        json_decref(missing);
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *ns = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (kube_watch_find(op->pools_w, ns, name) == NULL)
            json_array_append_new(missing, json_pack("[s,s]", ns, name));
    }
    sqlite3_reset(st);
    json_array_foreach(missing, i, pair)
    {
        struct pool_key key = {json_string_value(json_array_get(pair, 0)),
                               json_string_value(json_array_get(pair, 1))};
        if (store_observe_pool_gone(op->store, &key, now_wall(), &err) != 0)
            log_store_error("pool gone", &err);
        struct op_pool *p = op_pool_find(op, key.ns, key.name);
        if (p != NULL) {
            p->gone = true;
            op_pool_dirty(p);
        }
    }
    json_decref(missing);
}

static void start_agent_watches(struct op *op);

static void on_pools_synced(void *cb_data)
{
    struct op *op = cb_data;

    pools_forget_missing(op);
    if (op->pods_w == NULL)
        start_agent_watches(op);
}

/* ---- pods and PVCs ------------------------------------------------------------------------- */

/* Remembers a listed object under "ns/pool" until the list is complete. */
static void listing_add(json_t **by_pool, const char *ns, const char *pool, json_t *obj)
{
    char key[512];
    json_t *arr;

    if (*by_pool == NULL)
        *by_pool = json_object();
    snprintf(key, sizeof(key), "%s/%s", ns, pool);
    arr = json_object_get(*by_pool, key);
    if (arr == NULL) {
        arr = json_array();
        json_object_set_new(*by_pool, key, arr);
    }
    json_array_append(arr, obj);
}

static void on_pod(enum kube_watch_event type, json_t *obj, bool from_list, void *cb_data)
{
    struct op *op = cb_data;
    struct pool_key key;
    struct obs_pod obs;
    struct err err = {0};
    struct op_pool *p;
    int rc;

    if (op_map_pod(obj, &key, &obs) != 0)
        return;
    if (from_list && type != KUBE_WATCH_DELETED) {
        listing_add(&op->pods_listing, key.ns, key.name, obj);
        return;
    }
    if (type == KUBE_WATCH_DELETED)
        rc = store_observe_pod_gone(op->store, &key, obs.uid, now_wall(), &err);
    else
        rc = store_observe_pod(op->store, &key, &obs, now_wall(), &err);
    if (rc != 0)
        log_store_error("pod", &err);
    p = op_pool_find(op, key.ns, key.name);
    if (p != NULL)
        op_pool_dirty(p);
}

static void on_pvc(enum kube_watch_event type, json_t *obj, bool from_list, void *cb_data)
{
    struct op *op = cb_data;
    struct pool_key key;
    struct obs_pvc obs;
    struct err err = {0};
    struct op_pool *p;
    int rc;

    if (op_map_pvc(obj, &key, &obs) != 0)
        return;
    if (from_list && type != KUBE_WATCH_DELETED) {
        listing_add(&op->pvcs_listing, key.ns, key.name, obj);
        return;
    }
    if (type == KUBE_WATCH_DELETED)
        rc = store_observe_pvc_gone(op->store, &key, obs.uid, now_wall(), &err);
    else
        rc = store_observe_pvc(op->store, &key, &obs, now_wall(), &err);
    if (rc != 0)
        log_store_error("pvc", &err);
    p = op_pool_find(op, key.ns, key.name);
    if (p != NULL)
        op_pool_dirty(p);
}

/* Writes the whole listed set of every known pool (an empty set for pools with none). */
static void flush_listing(struct op *op, json_t **by_pool, bool pods)
{
    struct err err = {0};

    if (store_begin(op->store, &err) != 0) {
        log_store_error("begin", &err);
        return;
    }
    for (struct op_pool *p = op->pools; p != NULL; p = p->next) {
        char key_text[512];
        struct pool_key key = {p->ns, p->name};
        json_t *arr;
        size_t n, i;
        int rc;

        snprintf(key_text, sizeof(key_text), "%s/%s", p->ns, p->name);
        arr = *by_pool != NULL ? json_object_get(*by_pool, key_text) : NULL;
        n = json_array_size(arr);
        if (pods) {
            struct obs_pod *v = calloc(n + 1, sizeof(*v));
            struct pool_key k;
            for (i = 0; i < n; i++)
                op_map_pod(json_array_get(arr, i), &k, &v[i]);
            rc = store_observe_pods(op->store, &key, v, n, now_wall(), &err);
            free(v);
        } else {
            struct obs_pvc *v = calloc(n + 1, sizeof(*v));
            struct pool_key k;
            for (i = 0; i < n; i++)
                op_map_pvc(json_array_get(arr, i), &k, &v[i]);
            rc = store_observe_pvcs(op->store, &key, v, n, now_wall(), &err);
            free(v);
        }
        if (rc != 0)
            log_store_error(pods ? "pods" : "pvcs", &err);
        op_pool_dirty(p);
    }
    if (store_commit(op->store, &err) != 0) {
        log_store_error("commit", &err);
        store_rollback(op->store);
    }
    json_decref(*by_pool);
    *by_pool = NULL;
}

static void check_synced(struct op *op)
{
    if (op->synced)
        return;
    if (kube_watch_synced(op->pools_w) && op->pods_w != NULL && kube_watch_synced(op->pods_w) &&
        op->pvcs_w != NULL && kube_watch_synced(op->pvcs_w)) {
        op->synced = true;
        log_event(LOG_INFO, "watches", "initial lists done", NULL);
    }
}

static void on_pods_synced(void *cb_data)
{
    struct op *op = cb_data;

    flush_listing(op, &op->pods_listing, true);
    check_synced(op);
}

static void on_pvcs_synced(void *cb_data)
{
    struct op *op = cb_data;

    flush_listing(op, &op->pvcs_listing, false);
    check_synced(op);
}

static void on_watch_error(const struct kube_result *res, void *cb_data)
{
    (void)cb_data;
    log_event(LOG_WARN, "watches", "watch failed, retrying", "{s:i, s:s, s:s}", "http_status",
              (int)res->http_status, "reason", res->status.reason, "err",
              res->err.msg[0] ? res->err.msg : res->status.message);
}

static void start_agent_watches(struct op *op)
{
    struct err err = {0};
    struct kube_watch_opts opts = {.label_selector = MANAGED_SELECTOR};
    struct kube_watch_ops pod_ops = {on_pod, on_pods_synced, on_watch_error};
    struct kube_watch_ops pvc_ops = {on_pvc, on_pvcs_synced, on_watch_error};

    if (kube_watch_start(op->kube, &KUBE_PODS, op->cfg->namespace, &opts, &pod_ops, op,
                         &op->pods_w, &err) != 0 ||
        kube_watch_start(op->kube, &KUBE_PVCS, op->cfg->namespace, &opts, &pvc_ops, op,
                         &op->pvcs_w, &err) != 0) {
        log_event(LOG_ERROR, "watches", "cannot start agent watches", "{s:s}", "err", err.msg);
        loop_stop(op->loop);
    }
}

int op_watches_start(struct op *op, struct err *err)
{
    struct kube_watch_ops ops = {on_pool, on_pools_synced, on_watch_error};

    return kube_watch_start(op->kube, &KUBE_RUNNERPOOLS, op->cfg->namespace, NULL, &ops, op,
                            &op->pools_w, err);
}

void op_watches_stop(struct op *op)
{
    kube_watch_free(op->pods_w);
    kube_watch_free(op->pvcs_w);
    kube_watch_free(op->pools_w);
    op->pods_w = op->pvcs_w = op->pools_w = NULL;
    json_decref(op->pods_listing);
    json_decref(op->pvcs_listing);
    op->pods_listing = op->pvcs_listing = NULL;
}
