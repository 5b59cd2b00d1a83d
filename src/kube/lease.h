/* kube/lease.h - leader election with a coordination.k8s.io/v1 Lease (client-go's algorithm).
 *
 * Every retry period (with up to 20% jitter) a candidate GETs the lease. It takes the lease when
 * it is absent (POST), held by nobody, or not renewed for a full lease duration as measured on
 * its OWN monotonic clock since it last saw the record change (so clock skew between replicas
 * does not matter). Take-over and renewal are PUTs carrying the resourceVersion just read: of two
 * candidates only one PUT succeeds, the other gets 409 Conflict and stays a follower.
 * The leader renews every retry period; if no renewal succeeded within the renew deadline it
 * stops leading (on_stopped_leading) before its lease can lapse for others.
 *
 * Defaults: lease 15 s, renew deadline 10 s, retry 2 s (lease > deadline > 1.2 x retry). */
#ifndef AZDO_KUBE_LEASE_H
#define AZDO_KUBE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/client.h"

struct kube_lease;

struct kube_lease_opts {
    const char *ns;              /* the operator's namespace */
    const char *name;            /* e.g. "azdo-runner-operator" */
    const char *identity;        /* unique per replica: pod name (+ random suffix) */
    uint32_t lease_duration_ms;  /* 0 = 15000 */
    uint32_t renew_deadline_ms;  /* 0 = 10000 */
    uint32_t retry_period_ms;    /* 0 = 2000 */
};

struct kube_lease_ops {
    void (*on_started_leading)(void *cb_data);
    void (*on_stopped_leading)(void *cb_data);            /* only after on_started_leading */
    void (*on_new_leader)(const char *identity, void *cb_data); /* holder changed; may be NULL */
};

/* Starts campaigning. Strings and 'ops' are copied. 0, or -EINVAL (bad timings, missing
 * fields) with text. '*out' is new: kube_lease_free(). */
int kube_lease_start(struct kube *k, const struct kube_lease_opts *opts,
                     const struct kube_lease_ops *ops, void *cb_data, struct kube_lease **out,
                     struct err *err);

bool kube_lease_is_leader(const struct kube_lease *l);

/* Graceful hand-over on shutdown: stops campaigning and, if leading, PUTs the lease with an
 * empty holder so a standby takes over at once; then 'done' runs (also when not leading, on a
 * later turn). on_stopped_leading is not called. 0, or negative errno. */
int kube_lease_release(struct kube_lease *l, void (*done)(void *cb_data), void *cb_data,
                       struct err *err);

/* Stops everything without releasing (no callback runs after) and frees. Accepts NULL. */
void kube_lease_free(struct kube_lease *l);

#endif
