/* kube/watch.c - list then watch, with relist on 410 and backoff on failures (see watch.h).
 *
 * Invariants: (1) at most one call (list or stream) in flight, and never together with an armed
 * retry timer; (2) 'rv' only moves forward along one stream, and is reset to "" only by a 410,
 * which forces a relist; (3) the cache holds exactly the objects delivered as present (ADDED or
 * MODIFIED and not since DELETED), keyed "namespace/name".
 *
 *   LISTING [list_start] --ok--> deliver, on_synced --> WATCHING [watch_start]
 *   WATCHING --clean end--> WATCHING [watch_start]          (server timeoutSeconds elapsed)
 *   WATCHING --410 / ERROR 410--> LISTING [list_start]      (relist from scratch)
 *   LISTING|WATCHING --other failure--> BACKOFF [retry_schedule] --timer--> LISTING|WATCHING */
#include "kube/watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/internal.h"
#include "log.h"

#define WATCH_PATH_MAX 4096
#define WATCH_BACKOFF_INITIAL_MS 500u
#define WATCH_BACKOFF_MAX_MS 30000u
/* A stream that ends this soon after opening with no event counts as a failure, so a server
 * that closes watches at once cannot drive us into a tight reconnect loop. */
#define WATCH_MIN_HEALTHY_MS 5000u

enum watch_state { W_LISTING, W_WATCHING, W_BACKOFF };

struct kube_watch {
    struct kube *k;
    struct kube_resource res; /* strings owned (copied) */
    char *ns;
    char *label_selector, *field_selector;
    struct kube_watch_opts opts;
    struct kube_watch_ops ops;
    void *cb_data;

    enum watch_state state;
    struct kube_call *call;   /* list or stream in flight (invariant 1) */
    struct loop_timer retry_timer;
    bool need_list;           /* next attempt lists (first time, or after 410) */
    bool synced;
    char rv[128];
    json_t *cache;            /* "ns/name" -> object (invariant 3) */
    uint32_t backoff_ms;      /* next delay before jitter */
    uint32_t attempt;         /* consecutive failures */
    uint64_t stream_started_ms;
    uint64_t stream_events;
    uint64_t rng;
    struct kube_watch_stats stats;
};

static void list_start(struct kube_watch *w);
static void watch_start(struct kube_watch *w);

/* ---- helpers ---------------------------------------------------------------------------------- */

static uint32_t next_random(struct kube_watch *w)
{
    /* xorshift64: jitter only needs to differ between replicas, not be unpredictable. */
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (uint32_t)(w->rng >> 16);
}

static void object_key(const json_t *obj, char *out, size_t len)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));

    snprintf(out, len, "%s/%s", ns != NULL ? ns : "", name != NULL ? name : "");
}

static void take_rv(struct kube_watch *w, const json_t *obj)
{
    const char *rv = json_string_value(
        json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

    if (rv != NULL && rv[0] != '\0')
        snprintf(w->rv, sizeof(w->rv), "%s", rv);
}

static void reset_backoff(struct kube_watch *w)
{
    w->backoff_ms = w->opts.backoff_initial_ms;
    w->attempt = 0;
}

static void on_retry_due(struct loop_timer *t, void *cb_data)
{
    struct kube_watch *w = cb_data;
    (void)t;

    if (w->need_list)
        list_start(w);
    else
        watch_start(w);
}

/* Schedules the next attempt after the current backoff (with jitter: half fixed, half random),
 * or after Retry-After if the server asked for longer. */
static void retry_schedule(struct kube_watch *w, int retry_after_s)
{
    uint32_t base = w->backoff_ms;
    uint64_t delay = base / 2 + next_random(w) % (base / 2 + 1);

    if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000 > delay)
        delay = (uint64_t)retry_after_s * 1000;
    w->backoff_ms = base >= w->opts.backoff_max_ms / 2 ? w->opts.backoff_max_ms : base * 2;
    w->attempt++;
    w->stats.reconnects++;
    w->state = W_BACKOFF;
    loop_timer_start(kube_loop(w->k), &w->retry_timer, delay);
}

static void report_failure(struct kube_watch *w, const char *msg, const struct kube_result *res)
{
    log_event(LOG_WARN, "kube_watch", msg, "{s:s, s:s, s:i, s:s, s:i, s:s}", "resource",
              w->res.plural, "ns", w->ns != NULL ? w->ns : "", "http_status",
              (int)res->http_status, "outcome", kube_outcome_name(res->outcome), "attempt",
              (int)w->attempt + 1, "err", res->err.msg);
    if (w->ops.on_error != NULL)
        w->ops.on_error(res, w->cb_data);
}

/* ---- listing ---------------------------------------------------------------------------------- */

static void deliver_list(struct kube_watch *w, json_t *list)
{
    json_t *fresh = json_object();
    json_t *items = json_object_get(list, "items");
    json_t *item, *old;
    const char *key;
    size_t i;
    char k[512];

    json_array_foreach(items, i, item) {
        object_key(item, k, sizeof(k));
        json_object_set(fresh, k, item);
    }
    /* Swap first: callbacks may look objects up with kube_watch_find(). */
    old = w->cache;
    w->cache = fresh;
    json_array_foreach(items, i, item) {
        if (w->ops.on_object != NULL)
            w->ops.on_object(KUBE_WATCH_ADDED, item, true, w->cb_data);
    }
    /* Objects deleted while we were not watching: no DELETED event will ever come for them. */
    json_object_foreach(old, key, item) {
        if (json_object_get(fresh, key) == NULL && w->ops.on_object != NULL)
            w->ops.on_object(KUBE_WATCH_DELETED, item, true, w->cb_data);
    }
    json_decref(old);
    w->synced = true;
    if (w->ops.on_synced != NULL)
        w->ops.on_synced(w->cb_data);
}

static void on_list_done(const struct kube_result *res, void *cb_data)
{
    struct kube_watch *w = cb_data;

    w->call = NULL;
    if (res->outcome != KUBE_OK) {
        report_failure(w, "list failed, retrying", res);
        retry_schedule(w, res->retry_after_s);
        return;
    }
    w->rv[0] = '\0';
    take_rv(w, res->obj);
    w->need_list = false;
    w->stats.lists++;
    reset_backoff(w);
    deliver_list(w, res->obj);
    watch_start(w);
}

static void list_start(struct kube_watch *w)
{
    struct kube_list_opts lo = {w->label_selector, w->field_selector, w->opts.page_limit};
    struct err err = {0};

    w->state = W_LISTING;
    w->need_list = true;
    if (kube_list(w->k, &w->res, w->ns, &lo, on_list_done, w, &w->call, &err) != 0) {
        log_event(LOG_WARN, "kube_watch", "cannot start list", "{s:s, s:s}", "resource",
                  w->res.plural, "err", err.msg);
        retry_schedule(w, -1);
    }
}

/* ---- watching --------------------------------------------------------------------------------- */

static void stream_abort(struct kube_watch *w)
{
    kube_call_cancel(w->call);
    w->call = NULL;
}

static void on_watch_line(const char *line, size_t len, void *cb_data)
{
    struct kube_watch *w = cb_data;
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    char key[512];

    if (type == NULL || !json_is_object(obj)) {
        /* A corrupt stream cannot be resynchronised mid-way: reopen it from the last rv. */
        struct kube_result r = {.outcome = KUBE_OTHER};

        err_set(&r.err, -EPROTO, "watch stream sent a line that is not an event");
        stream_abort(w);
        report_failure(w, "bad watch event, reconnecting", &r);
        retry_schedule(w, -1);
        goto out;
    }

    if (strcmp(type, "ERROR") == 0) {
        struct kube_result r = {.outcome = KUBE_OTHER};

        kube_status_parse(obj, 0, &r.status);
        r.http_status = r.status.code;
        r.outcome = kube_outcome_of(r.status.code, r.status.reason);
        err_set(&r.err, -EPROTO, "watch error event %d %s: %s", r.status.code, r.status.reason,
                r.status.message);
        stream_abort(w);
        if (r.outcome == KUBE_GONE) {
            log_event(LOG_WARN, "kube_watch", "watch expired, relisting", "{s:s, s:s, s:i}",
                      "resource", w->res.plural, "rv", w->rv, "http_status", 410);
            w->stats.relists++;
            w->rv[0] = '\0';
            w->need_list = true;
            /* Relist on the next turn, outside this stream's callbacks. */
            w->state = W_BACKOFF;
            loop_timer_start(kube_loop(w->k), &w->retry_timer, 0);
        } else {
            report_failure(w, "watch error event, reconnecting", &r);
            retry_schedule(w, -1);
        }
        goto out;
    }

    take_rv(w, obj);
    if (strcmp(type, "BOOKMARK") == 0) {
        w->stats.bookmarks++;
        goto out;
    }
    w->stats.events++;
    w->stream_events++;
    reset_backoff(w);
    object_key(obj, key, sizeof(key));
    if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
        json_object_set(w->cache, key, obj);
        if (w->ops.on_object != NULL)
            w->ops.on_object(type[0] == 'A' ? KUBE_WATCH_ADDED : KUBE_WATCH_MODIFIED, obj, false,
                             w->cb_data);
    } else if (strcmp(type, "DELETED") == 0) {
        json_object_del(w->cache, key);
        if (w->ops.on_object != NULL)
            w->ops.on_object(KUBE_WATCH_DELETED, obj, false, w->cb_data);
    }
out:
    json_decref(ev);
}

static void on_watch_done(const struct kube_result *res, void *cb_data)
{
    struct kube_watch *w = cb_data;
    uint64_t lived_ms = loop_now_ms(kube_loop(w->k)) - w->stream_started_ms;

    w->call = NULL;
    if (res->outcome == KUBE_GONE) {
        log_event(LOG_WARN, "kube_watch", "watch expired, relisting", "{s:s, s:s, s:i}",
                  "resource", w->res.plural, "rv", w->rv, "http_status", 410);
        w->stats.relists++;
        w->rv[0] = '\0';
        list_start(w);
        return;
    }
    if (res->outcome == KUBE_OK && (w->stream_events > 0 || lived_ms >= WATCH_MIN_HEALTHY_MS)) {
        watch_start(w); /* the server's timeoutSeconds ended it: carry on from rv */
        return;
    }
    if (res->outcome == KUBE_OK) {
        struct kube_result r = *res;

        err_set(&r.err, -ECONNRESET, "watch stream closed at once without events");
        report_failure(w, "watch closed early, reconnecting", &r);
    } else {
        report_failure(w, "watch failed, reconnecting", res);
    }
    retry_schedule(w, res->retry_after_s);
}

static void watch_start(struct kube_watch *w)
{
    char path[WATCH_PATH_MAX], esc[1024], tmp[64];
    uint32_t timeout_s = w->opts.watch_timeout_s != 0 ? w->opts.watch_timeout_s
                                                      : 300 + next_random(w) % 300;
    struct err err = {0};
    size_t len;
    int rc;

    w->state = W_WATCHING;
    rc = kube_path(&w->res, w->ns, NULL, NULL, path, sizeof(path));
    len = strlen(path);
    kube_url_escape(w->rv, esc, sizeof(esc));
    snprintf(tmp, sizeof(tmp), "%u", timeout_s);
    len += (size_t)snprintf(path + len, sizeof(path) - len,
                            "?watch=1&allowWatchBookmarks=true&resourceVersion=%s"
                            "&timeoutSeconds=%s", esc, tmp);
    if (w->label_selector != NULL && kube_url_escape(w->label_selector, esc, sizeof(esc)) == 0)
        len += (size_t)snprintf(path + len, sizeof(path) - len, "&labelSelector=%s", esc);
    if (w->field_selector != NULL && kube_url_escape(w->field_selector, esc, sizeof(esc)) == 0)
        len += (size_t)snprintf(path + len, sizeof(path) - len, "&fieldSelector=%s", esc);
    if (rc != 0 || len >= sizeof(path)) {
        err_set(&err, -ENAMETOOLONG, "watch path too long");
        goto fail;
    }

    w->stream_events = 0;
    w->stream_started_ms = loop_now_ms(kube_loop(w->k));
    /* The client-side limit backs up the server's: a silently dead connection ends too. */
    rc = kube_request_stream(w->k, path, (timeout_s + 30) * 1000, on_watch_line, on_watch_done, w,
                             &w->call, &err);
    if (rc == 0) {
        w->stats.watches++;
        return;
    }
fail:
    log_event(LOG_WARN, "kube_watch", "cannot start watch", "{s:s, s:s}", "resource",
              w->res.plural, "err", err.msg);
    retry_schedule(w, -1);
}

/* ---- public ----------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *oom)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *oom = true;
    return d;
}

int kube_watch_start(struct kube *k, const struct kube_resource *res, const char *ns,
                     const struct kube_watch_opts *opts, const struct kube_watch_ops *ops,
                     void *cb_data, struct kube_watch **out, struct err *err)
{
    struct kube_watch *w = calloc(1, sizeof(*w));
    bool oom = w == NULL;

    if (oom)
        return err_set(err, -ENOMEM, "cannot allocate watch");
    w->k = k;
    w->res.group = dup_or_null(res->group, &oom);
    w->res.version = dup_or_null(res->version, &oom);
    w->res.plural = dup_or_null(res->plural, &oom);
    w->res.kind = dup_or_null(res->kind, &oom);
    w->res.namespaced = res->namespaced;
    w->ns = dup_or_null(ns, &oom);
    if (opts != NULL) {
        w->opts = *opts;
        w->label_selector = dup_or_null(opts->label_selector, &oom);
        w->field_selector = dup_or_null(opts->field_selector, &oom);
    }
    w->opts.label_selector = w->opts.field_selector = NULL; /* use the owned copies */
    if (w->opts.backoff_initial_ms == 0)
        w->opts.backoff_initial_ms = WATCH_BACKOFF_INITIAL_MS;
    if (w->opts.backoff_max_ms == 0)
        w->opts.backoff_max_ms = WATCH_BACKOFF_MAX_MS;
    w->ops = *ops;
    w->cb_data = cb_data;
    w->cache = json_object();
    w->rng = loop_wall_ms() ^ (uint64_t)(uintptr_t)w;
    if (w->rng == 0)
        w->rng = 1;
    reset_backoff(w);
    loop_timer_init(&w->retry_timer, on_retry_due, w);
    if (oom || w->cache == NULL || res->group == NULL) {
        kube_watch_free(w);
        return err_set(err, -ENOMEM, "cannot allocate watch");
    }
    /* Start on the next turn so no callback runs inside this call. */
    w->need_list = true;
    w->state = W_BACKOFF;
    loop_timer_start(kube_loop(k), &w->retry_timer, 0);
    *out = w;
    return 0;
}

void kube_watch_free(struct kube_watch *w)
{
    if (w == NULL)
        return;
    kube_call_cancel(w->call);
    loop_timer_stop(kube_loop(w->k), &w->retry_timer);
    json_decref(w->cache);
    free((char *)w->res.group);
    free((char *)w->res.version);
    free((char *)w->res.plural);
    free((char *)w->res.kind);
    free(w->ns);
    free(w->label_selector);
    free(w->field_selector);
    free(w);
}

bool kube_watch_synced(const struct kube_watch *w)
{
    return w->synced;
}

json_t *kube_watch_find(const struct kube_watch *w, const char *ns, const char *name)
{
    char key[512];

    snprintf(key, sizeof(key), "%s/%s", w->res.namespaced && ns != NULL ? ns : "", name);
    return json_object_get(w->cache, key);
}

const char *kube_watch_resource_version(const struct kube_watch *w)
{
    return w->rv;
}

const struct kube_watch_stats *kube_watch_get_stats(const struct kube_watch *w)
{
    return &w->stats;
}
