/* kube/event.c - core/v1 Events with client-go-style count aggregation (see event.h).
 *
 * A small table remembers the last EVENT_SLOTS distinct events (object uid or namespace/name,
 * type, reason, message). A repeat within EVENT_AGGREGATE_MS becomes a merge-patch of count and
 * lastTimestamp on the stored Event; a repeat while the previous write is still in flight only
 * bumps the count, and one patch carries the total when that write returns.
 *
 * LIMITATION: the table is per process; after a restart the first repeat creates a new Event
 * instead of patching the old one (the same as client-go). */
#include "kube/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/internal.h"
#include "log.h"

#define EVENT_SLOTS 128
#define EVENT_AGGREGATE_MS (10u * 60 * 1000)
#define EVENT_MESSAGE_MAX 1024

struct event_slot {
    struct kube_events *ev;
    bool used;
    char key[1536];       /* identity of the repeated event */
    char ns[256];
    char name[320];       /* the Event object's name, "" until created */
    json_t *body;         /* what we would POST again if the Event expired */
    int count;            /* occurrences so far */
    int count_written;    /* count the server has */
    uint64_t last_ms;     /* monotonic, for aggregation window and eviction */
    struct kube_call *call;
};

struct kube_events {
    struct kube *k;
    char *component, *instance;
    struct event_slot slots[EVENT_SLOTS];
    uint64_t sent, failed, seq;
};

static void rfc3339_now(char *buf, size_t len)
{
    time_t now = (time_t)(loop_wall_ms() / 1000);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void slot_send(struct event_slot *s);

static void on_sent(const struct kube_result *res, void *cb_data)
{
    struct event_slot *s = cb_data;
    struct kube_events *ev = s->ev;
    const char *name;

    s->call = NULL;
    if (res->outcome == KUBE_OK) {
        ev->sent++;
        name = json_string_value(json_object_get(json_object_get(res->obj, "metadata"), "name"));
        if (name != NULL && s->name[0] == '\0')
            snprintf(s->name, sizeof(s->name), "%s", name);
    } else if (res->outcome == KUBE_NOT_FOUND && s->name[0] != '\0') {
        /* The Event expired (TTL) between repeats: start a new one. */
        s->name[0] = '\0';
        s->count_written = 0;
        slot_send(s);
        return;
    } else {
        ev->failed++;
        log_event(LOG_WARN, "kube_event", "cannot record event", "{s:s, s:s}", "ns", s->ns, "err",
                  res->err.msg);
        /* Forget the slot: a later repeat creates afresh instead of patching nothing. */
        s->name[0] = '\0';
        s->count_written = s->count;
        return;
    }
    if (s->count > s->count_written)
        slot_send(s); /* repeats arrived meanwhile */
}

/* Sends the slot's state: POST when no Event exists yet, else a merge patch of the count. */
static void slot_send(struct event_slot *s)
{
    struct kube_events *ev = s->ev;
    char now[32];
    struct err err = {0};
    int rc;

    rfc3339_now(now, sizeof(now));
    if (s->name[0] == '\0') {
        char name[320];
        const char *about = json_string_value(
            json_object_get(json_object_get(s->body, "involvedObject"), "name"));

        /* client-go naming: <object>.<hex unix nanos>; seq keeps two in one ms apart. */
        snprintf(name, sizeof(name), "%.250s.%llx", about != NULL ? about : "event",
                 (unsigned long long)(loop_wall_ms() * 1000000ull + ev->seq++ % 1000000ull));
        json_object_set_new(json_object_get(s->body, "metadata"), "name", json_string(name));
        json_object_set_new(s->body, "count", json_integer(s->count));
        json_object_set_new(s->body, "firstTimestamp", json_string(now));
        json_object_set_new(s->body, "lastTimestamp", json_string(now));
        rc = kube_create(ev->k, &KUBE_EVENTS, s->ns, s->body, on_sent, s, &s->call, &err);
    } else {
        json_t *patch = json_pack("{s:i, s:s}", "count", s->count, "lastTimestamp", now);

        rc = kube_patch(ev->k, &KUBE_EVENTS, s->ns, s->name, KUBE_PATCH_MERGE, patch, NULL,
                        on_sent, s, &s->call, &err);
        json_decref(patch);
    }
    if (rc == 0) {
        s->count_written = s->count;
    } else {
        ev->failed++;
        log_event(LOG_WARN, "kube_event", "cannot send event", "{s:s}", "err", err.msg);
    }
}

int kube_events_new(struct kube *k, const char *component, const char *instance,
                    struct kube_events **out, struct err *err)
{
    struct kube_events *ev = calloc(1, sizeof(*ev));

    if (ev == NULL)
        return err_set(err, -ENOMEM, "cannot allocate event recorder");
    ev->k = k;
    ev->component = strdup(component);
    ev->instance = strdup(instance != NULL ? instance : "");
    if (ev->component == NULL || ev->instance == NULL) {
        kube_events_free(ev);
        return err_set(err, -ENOMEM, "cannot allocate event recorder");
    }
    for (int i = 0; i < EVENT_SLOTS; i++)
        ev->slots[i].ev = ev;
    *out = ev;
    return 0;
}

/* The slot for 'key': the existing one, else a free one, else the least recently used that has
 * no write in flight. NULL if every slot is busy. */
static struct event_slot *slot_for(struct kube_events *ev, const char *key, bool *found)
{
    struct event_slot *victim = NULL;

    *found = false;
    for (int i = 0; i < EVENT_SLOTS; i++) {
        struct event_slot *s = &ev->slots[i];

        if (s->used && strcmp(s->key, key) == 0) {
            *found = true;
            return s;
        }
        if (!s->used) {
            if (victim == NULL || victim->used)
                victim = s;
        } else if (s->call == NULL && (victim == NULL || (victim->used && s->last_ms <
                                                                                victim->last_ms))) {
            victim = s;
        }
    }
    return victim;
}

int kube_event_emit(struct kube_events *ev, const struct kube_event_ref *about, const char *type,
                    const char *reason, const char *message, struct err *err)
{
    uint64_t now = loop_now_ms(kube_loop(ev->k));
    char key[1536], msg[EVENT_MESSAGE_MAX + 1];
    struct event_slot *s;
    bool found;

    if (about->ns == NULL || about->name == NULL || about->kind == NULL)
        return err_set(err, -EINVAL, "event needs the object's kind, namespace and name");
    snprintf(msg, sizeof(msg), "%s", message != NULL ? message : "");
    snprintf(key, sizeof(key), "%s|%s/%s|%s|%s|%s", about->uid != NULL ? about->uid : "",
             about->ns, about->name, type, reason, msg);

    s = slot_for(ev, key, &found);
    if (s == NULL)
        return err_set(err, -EBUSY, "too many events in flight");
    if (found && now - s->last_ms < EVENT_AGGREGATE_MS) {
        s->count++;
        s->last_ms = now;
        if (s->call == NULL)
            slot_send(s);
        return 0;
    }
    if (s->call != NULL) /* found but outside the window, and still writing: let it finish */
        return 0;

    json_decref(s->body);
    memset(s->key, 0, sizeof(s->key));
    snprintf(s->key, sizeof(s->key), "%s", key);
    snprintf(s->ns, sizeof(s->ns), "%s", about->ns);
    s->name[0] = '\0';
    s->used = true;
    s->count = 1;
    s->count_written = 0;
    s->last_ms = now;
    s->body = json_pack("{s:s, s:s, s:{s:s}, s:{s:s?, s:s, s:s, s:s, s:s?}, s:s, s:s, s:s, "
                        "s:{s:s}, s:s, s:s}",
                        "apiVersion", "v1", "kind", "Event", "metadata", "namespace", about->ns,
                        "involvedObject", "apiVersion", about->api_version, "kind", about->kind,
                        "namespace", about->ns, "name", about->name, "uid", about->uid,
                        "type", type, "reason", reason, "message", msg, "source", "component",
                        ev->component, "reportingComponent", ev->component,
                        "reportingInstance", ev->instance);
    if (s->body == NULL) {
        s->used = false;
        return err_set(err, -EINVAL, "cannot build event (invalid utf-8 in message?)");
    }
    slot_send(s);
    return 0;
}

uint64_t kube_events_sent(const struct kube_events *ev)
{
    return ev->sent;
}

uint64_t kube_events_failed(const struct kube_events *ev)
{
    return ev->failed;
}

void kube_events_free(struct kube_events *ev)
{
    if (ev == NULL)
        return;
    for (int i = 0; i < EVENT_SLOTS; i++) {
        kube_call_cancel(ev->slots[i].call);
        json_decref(ev->slots[i].body);
    }
    free(ev->component);
    free(ev->instance);
    free(ev);
}
