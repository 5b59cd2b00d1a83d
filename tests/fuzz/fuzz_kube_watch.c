/* fuzz_kube_watch.c - libFuzzer target for Kubernetes list bodies and watch streams as the
 * operator reads them.
 *
 * The watch's line handler (on_watch_line in src/kube/watch.c) is static and runs only on a live
 * stream, so this target repeats its public steps on arbitrary bytes: the stream is split by
 * http_linebuf_feed() (src/http.h), each line parsed as an event {type, object}; an ERROR event's
 * object goes through kube_status_parse() and kube_outcome_of() (src/kube/client.h); any other
 * object, and every item of the whole input read as a list body, goes through what the
 * operator's watch callbacks call: op_map_pod, op_map_pvc and op_map_pool
 * (src/operator/obs_map.h).
 *
 * Promises checked: status strings are terminated and the code is the Status's (or the HTTP
 * status given); a mapped pod or PVC has the namespace, pool, name, uid and a non-negative
 * ordinal (-1 for a shared PVC) the store needs; a mapped pool has its spec as JSON text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"
#include "kube/client.h"
#include "operator/obs_map.h"

static void check_status(const json_t *obj, long http_status)
{
    struct kube_status st;
    enum kube_outcome o;

    kube_status_parse(obj, http_status, &st);
    FUZZ_CHECK(fuzz_terminated(st.reason, sizeof(st.reason)));
    FUZZ_CHECK(fuzz_terminated(st.message, sizeof(st.message)));
    o = kube_outcome_of(st.code, st.reason);
    FUZZ_CHECK(o >= KUBE_OK && o <= KUBE_OTHER);
    FUZZ_CHECK(kube_outcome_name(o) != NULL);
}

static void map_object(const json_t *obj)
{
    struct pool_key key;
    struct obs_pod pod;
    struct obs_pvc pvc;
    struct obs_pool pool;
    char *spec_text = NULL;

    if (op_map_pod(obj, &key, &pod) == 0) {
        FUZZ_CHECK(key.ns != NULL && key.name != NULL && pod.uid != NULL && pod.name != NULL);
        FUZZ_CHECK(pod.idx >= 0 && pod.phase != NULL && pod.restarts >= 0);
    }
    if (op_map_pvc(obj, &key, &pvc) == 0) {
        FUZZ_CHECK(key.ns != NULL && key.name != NULL && pvc.uid != NULL && pvc.name != NULL);
        FUZZ_CHECK(pvc.template != NULL && pvc.idx >= -1 && pvc.phase != NULL); /* -1: shared */
    }
    if (op_map_pool(obj, &key, &pool, &spec_text) == 0) {
        json_t *spec = json_loads(pool.spec_json, 0, NULL);

        FUZZ_CHECK(key.ns != NULL && key.name != NULL && spec != NULL);
        json_decref(spec);
    }
    free(spec_text);
}

/* The steps of on_watch_line, without the stream state. */
static void on_line(const char *line, size_t len, void *cb_data)
{
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");

    (void)cb_data;
    if (type == NULL || !json_is_object(obj))
        goto out;
    if (strcmp(type, "ERROR") == 0)
        check_status(obj, 0);
    else
        map_object(obj);
out:
    json_decref(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_linebuf lb = {.max_line = 1 << 20};
    json_t *list;
    const json_t *item;
    size_t i;

    (void)http_linebuf_feed(&lb, (const char *)data, size, on_line, NULL);
    http_linebuf_free(&lb);

    /* The same bytes as a list answer (or a Status on a failed call). */
    list = json_loadb((const char *)data, size, 0, NULL);
    check_status(list, 404);
    json_array_foreach(json_object_get(list, "items"), i, item)
        map_object(item);
    map_object(list);
    json_decref(list);
    return 0;
}
