/* kube/watch.h - list then watch one resource type (client-go's reflector + a small cache).
 *
 * States (transitions name their function in watch.c):
 *   LISTING [list_start] --list ok--> WATCHING [watch_start]
 *   WATCHING --stream ends cleanly--> WATCHING [watch_start, from the last resourceVersion]
 *   WATCHING --410 (HTTP or ERROR event)--> LISTING [list_start, relist]
 *   any --error--> BACKOFF [retry_schedule] --timer--> LISTING (if never listed) or WATCHING
 * Backoff is exponential from 500 ms, doubled per failure up to 30 s, with jitter (half fixed,
 * half random), and honours Retry-After on 429; it resets after a successful list or event.
 *
 * After each full list the watch delivers every listed object as KUBE_WATCH_ADDED with
 * 'from_list' set, then KUBE_WATCH_DELETED for cached objects the list no longer holds (they
 * vanished while we were not watching), then on_synced. Bookmarks only move the resourceVersion.
 * The cache (last object per namespace/name) is readable with kube_watch_find().
 *
 * LIMITATION: the cache keeps every watched object whole (a pod is a few KB), so memory grows
 * with the number of pods, PVCs and pools watched; thousands of agents would want the cache to
 * keep only metadata. Lists read with resourceVersion unset (a consistent read from etcd), not
 * "0" (the watch cache), which costs the API server more on very large collections. */
#ifndef AZDO_KUBE_WATCH_H
#define AZDO_KUBE_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/client.h"

struct kube_watch;

enum kube_watch_event {
    KUBE_WATCH_ADDED,
    KUBE_WATCH_MODIFIED,
    KUBE_WATCH_DELETED,
};

struct kube_watch_ops {
    /* Each object observed. 'obj' is borrowed for the call (incref to keep it). */
    void (*on_object)(enum kube_watch_event type, json_t *obj, bool from_list, void *cb_data);
    /* After each full list has been delivered (first sync and every relist). May be NULL. */
    void (*on_synced)(void *cb_data);
    /* A list or watch failed and a retry is scheduled ('res' borrowed); for logs and
     * conditions (e.g. 403 Forbidden means RBAC is missing). May be NULL. */
    void (*on_error)(const struct kube_result *res, void *cb_data);
};

struct kube_watch_opts {
    const char *label_selector; /* or NULL */
    const char *field_selector; /* or NULL */
    uint32_t page_limit;        /* list page size; 0 = 500 */
    uint32_t backoff_initial_ms; /* 0 = 500 */
    uint32_t backoff_max_ms;     /* 0 = 30000 */
    uint32_t watch_timeout_s;    /* server-side timeoutSeconds; 0 = random in [300, 600) */
};

struct kube_watch_stats {
    uint64_t lists;      /* list calls completed successfully */
    uint64_t relists;    /* lists caused by a 410 */
    uint64_t watches;    /* watch streams started */
    uint64_t reconnects; /* retries after an error or a dropped stream */
    uint64_t events;     /* ADDED/MODIFIED/DELETED events from streams */
    uint64_t bookmarks;
};

/* Starts listing 'res' in 'ns' (NULL: all namespaces). Strings in 'opts' are copied; 'ops' is
 * copied. Callbacks start on a later loop turn. 0, or negative errno with text; on failure no
 * callback ever runs. '*out' is new: free with kube_watch_free(). */
int kube_watch_start(struct kube *k, const struct kube_resource *res, const char *ns,
                     const struct kube_watch_opts *opts, const struct kube_watch_ops *ops,
                     void *cb_data, struct kube_watch **out, struct err *err);

/* Stops the watch (cancels its calls and timer; no callback runs after) and frees it and its
 * cache. Must not be called from inside this watch's own callbacks (defer it with a loop timer).
 * Accepts NULL. */
void kube_watch_free(struct kube_watch *w);

/* True once the first list has been delivered. */
bool kube_watch_synced(const struct kube_watch *w);

/* Borrowed: the cached object, valid until the next loop turn; NULL if absent. 'ns' is ignored
 * for cluster-scoped resources. */
json_t *kube_watch_find(const struct kube_watch *w, const char *ns, const char *name);

/* Borrowed: the last resourceVersion seen ("" before the first list). */
const char *kube_watch_resource_version(const struct kube_watch *w);

/* Borrowed counters. */
const struct kube_watch_stats *kube_watch_get_stats(const struct kube_watch *w);

#endif
