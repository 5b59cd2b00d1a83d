/* kube/event.h - core/v1 Events about the operator's objects, with count aggregation.
 *
 * An identical event (same object uid, type, reason and message) repeated within 10 minutes
 * PATCHes the existing Event's count and lastTimestamp instead of creating another (as client-go
 * does); if that Event has expired meanwhile (404) a new one is created. Messages are the
 * caller's text: never put a secret value in one. Sending is fire-and-forget: a failure is
 * logged once at warn level and counted, never retried. */
#ifndef AZDO_KUBE_EVENT_H
#define AZDO_KUBE_EVENT_H

#include <stdint.h>

#include "kube/client.h"

struct kube_events;

/* The object an event is about; every field borrowed for the call. */
struct kube_event_ref {
    const char *api_version; /* "devops.opentools.mf/v1" */
    const char *kind;        /* "RunnerPool" */
    const char *ns;
    const char *name;
    const char *uid;         /* may be NULL */
};

/* 'component' (e.g. "azdo-runner-operator") and 'instance' (pod name) are copied. '*out' is new:
 * kube_events_free(). 0 or -ENOMEM. */
int kube_events_new(struct kube *k, const char *component, const char *instance,
                    struct kube_events **out, struct err *err);

/* Records an event. 'type' is "Normal" or "Warning"; 'reason' CamelCase (e.g. "ScaledUp");
 * 'message' is truncated to 1024 bytes. 0, or negative errno if it could not even be sent. */
int kube_event_emit(struct kube_events *ev, const struct kube_event_ref *about, const char *type,
                    const char *reason, const char *message, struct err *err);

/* Events sent / failed so far. */
uint64_t kube_events_sent(const struct kube_events *ev);
uint64_t kube_events_failed(const struct kube_events *ev);

/* Cancels events in flight and frees. Accepts NULL. */
void kube_events_free(struct kube_events *ev);

#endif
