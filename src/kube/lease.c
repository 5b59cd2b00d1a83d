/* kube/lease.c - Lease-based leader election (see lease.h for the algorithm).
 *
 *   FOLLOWER --GET 404, POST 201--------------------------> LEADER [on_written]
 *   FOLLOWER --GET: free or expired on our clock, PUT 200--> LEADER [on_written]
 *   LEADER   --PUT 200 within renew deadline---------------> LEADER [on_written]
 *   LEADER   --no successful renewal for renew deadline----> FOLLOWER [check_deadline]
 *   LEADER   --GET shows another holder (we were displaced)-> FOLLOWER [on_got]
 *
 * Invariants: (1) at most one request in flight; the cycle timer is armed only when none is;
 * (2) 'leader' becomes true only in on_written after a 2xx whose body names us as holder;
 * (3) every request times out well before the renew deadline (half of it), so a hung API server
 * cannot keep us believing we lead past our lease. */
#include "kube/lease.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/internal.h"
#include "log.h"

struct kube_lease {
    struct kube *k;
    char *ns, *name, *identity;
    uint32_t duration_ms, deadline_ms, retry_ms;
    struct kube_lease_ops ops;
    void *cb_data;

    bool leader;
    bool stopped;                 /* released: no more cycles */
    struct kube_call *call;       /* invariant 1 */
    struct loop_timer cycle_timer;
    struct loop_timer deadline_timer; /* armed while leading */
    json_t *last;                 /* last lease object seen (GET or our write) */
    char observed_holder[256];
    char observed_rv[128];
    uint64_t observed_at_ms;      /* our clock when the record last changed */
    uint64_t renewed_at_ms;       /* our clock at the last successful write */
    uint64_t rng;
    void (*release_done)(void *);
    void *release_cb_data;
};

static void cycle(struct kube_lease *l);

static uint64_t now_ms(struct kube_lease *l)
{
    return loop_now_ms(kube_loop(l->k));
}

/* MicroTime: RFC 3339 with exactly six fraction digits, UTC. */
static void micro_time(char *buf, size_t len)
{
    uint64_t ms = loop_wall_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000) * 1000u);
}

static void schedule(struct kube_lease *l)
{
    uint64_t delay = l->retry_ms;

    if (l->stopped)
        return;
    /* Followers jitter up to +20% so candidates started together do not collide forever. */
    if (!l->leader) {
        l->rng ^= l->rng << 13;
        l->rng ^= l->rng >> 7;
        l->rng ^= l->rng << 17;
        delay += (l->rng >> 20) % (l->retry_ms / 5 + 1);
    }
    loop_timer_start(kube_loop(l->k), &l->cycle_timer, delay);
}

static void stop_leading(struct kube_lease *l, const char *why)
{
    if (!l->leader)
        return;
    l->leader = false;
    loop_timer_stop(kube_loop(l->k), &l->deadline_timer);
    log_event(LOG_WARN, "kube_lease", "stopped leading", "{s:s, s:s, s:s}", "lease", l->name,
              "identity", l->identity, "reason", why);
    if (l->ops.on_stopped_leading != NULL)
        l->ops.on_stopped_leading(l->cb_data);
}

static void on_deadline(struct loop_timer *t, void *cb_data)
{
    (void)t;
    stop_leading(cb_data, "renew deadline passed");
}

static void observe(struct kube_lease *l, const json_t *lease)
{
    const json_t *spec = json_object_get(lease, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    const char *rv = json_string_value(
        json_object_get(json_object_get(lease, "metadata"), "resourceVersion"));

    if (holder == NULL)
        holder = "";
    if (rv == NULL)
        rv = "";
    if (strcmp(holder, l->observed_holder) != 0 || strcmp(rv, l->observed_rv) != 0) {
        bool new_holder = strcmp(holder, l->observed_holder) != 0;

        snprintf(l->observed_holder, sizeof(l->observed_holder), "%s", holder);
        snprintf(l->observed_rv, sizeof(l->observed_rv), "%s", rv);
        l->observed_at_ms = now_ms(l);
        if (new_holder && l->ops.on_new_leader != NULL)
            l->ops.on_new_leader(holder, l->cb_data);
    }
    json_decref(l->last);
    l->last = json_deep_copy(lease);
}

static void on_written(const struct kube_result *res, void *cb_data)
{
    struct kube_lease *l = cb_data;
    const char *holder;

    l->call = NULL;
    holder = json_string_value(json_object_get(json_object_get(res->obj, "spec"),
                                               "holderIdentity"));
    if (res->outcome == KUBE_OK && holder != NULL && strcmp(holder, l->identity) == 0) {
        observe(l, res->obj);
        l->renewed_at_ms = now_ms(l);
        loop_timer_start(kube_loop(l->k), &l->deadline_timer, l->deadline_ms);
        if (!l->leader) {
            l->leader = true;
            log_event(LOG_INFO, "kube_lease", "started leading", "{s:s, s:s}", "lease", l->name,
                      "identity", l->identity);
            if (l->ops.on_started_leading != NULL)
                l->ops.on_started_leading(l->cb_data);
        }
    } else if (res->outcome == KUBE_CONFLICT || res->outcome == KUBE_ALREADY_EXISTS) {
        /* Another candidate wrote first; the next GET shows who. The deadline timer decides
         * whether a leader that lost one race must step down. */
        log_event(LOG_DEBUG, "kube_lease", "lost lease write race", "{s:s}", "lease", l->name);
    } else {
        log_event(LOG_WARN, "kube_lease", "cannot write lease", "{s:s, s:s}", "lease", l->name,
                  "err", res->err.msg);
    }
    schedule(l);
}

/* Writes the lease with us as holder: POST when 'current' is NULL, else PUT with its rv. */
static void write_lease(struct kube_lease *l, const json_t *current)
{
    char path[1024], now[64];
    json_t *obj, *spec;
    const char *prev_holder = NULL;
    json_int_t transitions = 0;
    char *body;
    struct err err = {0};
    int rc;

    micro_time(now, sizeof(now));
    if (current == NULL) {
        obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion", "coordination.k8s.io/v1",
                        "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns, "spec");
    } else {
        obj = json_deep_copy(current);
        prev_holder = json_string_value(json_object_get(json_object_get(obj, "spec"),
                                                        "holderIdentity"));
        transitions = json_integer_value(json_object_get(json_object_get(obj, "spec"),
                                                         "leaseTransitions"));
    }
    spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    if (prev_holder == NULL || strcmp(prev_holder, l->identity) != 0) {
        /* Taking over (or creating): a new term starts now. */
        json_object_set_new(spec, "acquireTime", json_string(now));
        if (current != NULL && prev_holder != NULL && prev_holder[0] != '\0')
            transitions++;
    }
    json_object_set_new(spec, "holderIdentity", json_string(l->identity));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(l->duration_ms / 1000));
    json_object_set_new(spec, "renewTime", json_string(now));
    json_object_set_new(spec, "leaseTransitions", json_integer(transitions));

    body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    kube_path(&KUBE_LEASES, l->ns, current != NULL ? l->name : NULL, NULL, path, sizeof(path));
    rc = body == NULL ? -ENOMEM
                      : kube_request(l->k, current != NULL ? "PUT" : "POST", path,
                                     "application/json", body, l->deadline_ms / 2, on_written, l,
                                     &l->call, &err);
    free(body);
    if (rc != 0) {
        log_event(LOG_WARN, "kube_lease", "cannot send lease write", "{s:s}", "err", err.msg);
        schedule(l);
    }
}

static void on_got(const struct kube_result *res, void *cb_data)
{
    struct kube_lease *l = cb_data;
    const char *holder;

    l->call = NULL;
    if (res->outcome == KUBE_NOT_FOUND) {
        write_lease(l, NULL);
        return;
    }
    if (res->outcome != KUBE_OK) {
        log_event(LOG_WARN, "kube_lease", "cannot read lease", "{s:s, s:s}", "lease", l->name,
                  "err", res->err.msg);
        schedule(l);
        return;
    }
    observe(l, res->obj);
    holder = l->observed_holder;
    if (holder[0] != '\0' && strcmp(holder, l->identity) != 0) {
        /* Held by another: we may take it only once it lapsed on our own clock. */
        if (l->leader)
            stop_leading(l, "lease held by another candidate");
        if (now_ms(l) < l->observed_at_ms + l->duration_ms) {
            schedule(l);
            return;
        }
    }
    write_lease(l, res->obj);
}

static void cycle(struct kube_lease *l)
{
    char path[1024];
    struct err err = {0};

    if (l->stopped || l->call != NULL)
        return;
    kube_path(&KUBE_LEASES, l->ns, l->name, NULL, path, sizeof(path));
    if (kube_request(l->k, "GET", path, NULL, NULL, l->deadline_ms / 2, on_got, l, &l->call,
                     &err) != 0) {
        log_event(LOG_WARN, "kube_lease", "cannot send lease read", "{s:s}", "err", err.msg);
        schedule(l);
    }
}

static void on_cycle_due(struct loop_timer *t, void *cb_data)
{
    struct kube_lease *l = cb_data;
    (void)t;

    if (l->release_done != NULL) { /* release finished or nothing to release */
        void (*done)(void *) = l->release_done;

        l->release_done = NULL;
        done(l->release_cb_data);
        return;
    }
    cycle(l);
}

int kube_lease_start(struct kube *k, const struct kube_lease_opts *opts,
                     const struct kube_lease_ops *ops, void *cb_data, struct kube_lease **out,
                     struct err *err)
{
    struct kube_lease *l;

    if (opts->ns == NULL || opts->name == NULL || opts->identity == NULL ||
        opts->identity[0] == '\0')
        return err_set(err, -EINVAL, "leader election needs a namespace, a lease name and an "
                                     "identity");
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return err_set(err, -ENOMEM, "cannot allocate lease");
    l->k = k;
    l->duration_ms = opts->lease_duration_ms != 0 ? opts->lease_duration_ms : 15000;
    l->deadline_ms = opts->renew_deadline_ms != 0 ? opts->renew_deadline_ms : 10000;
    l->retry_ms = opts->retry_period_ms != 0 ? opts->retry_period_ms : 2000;
    if (!(l->duration_ms > l->deadline_ms && (uint64_t)l->deadline_ms * 10 > l->retry_ms * 12ull) ||
        l->duration_ms < 1000) {
        free(l);
        return err_set(err, -EINVAL, "lease timings must satisfy duration > renew deadline > 1.2 "
                                     "x retry period, duration >= 1 s");
    }
    l->ns = strdup(opts->ns);
    l->name = strdup(opts->name);
    l->identity = strdup(opts->identity);
    l->ops = *ops;
    l->cb_data = cb_data;
    l->rng = loop_wall_ms() ^ (uint64_t)(uintptr_t)l;
    if (l->rng == 0)
        l->rng = 7;
    loop_timer_init(&l->cycle_timer, on_cycle_due, l);
    loop_timer_init(&l->deadline_timer, on_deadline, l);
    if (l->ns == NULL || l->name == NULL || l->identity == NULL) {
        kube_lease_free(l);
        return err_set(err, -ENOMEM, "cannot allocate lease");
    }
    loop_timer_start(kube_loop(k), &l->cycle_timer, 0);
    *out = l;
    return 0;
}

bool kube_lease_is_leader(const struct kube_lease *l)
{
    return l->leader;
}

static void on_released(const struct kube_result *res, void *cb_data)
{
    struct kube_lease *l = cb_data;
    void (*done)(void *) = l->release_done;

    l->call = NULL;
    l->release_done = NULL;
    if (res->outcome != KUBE_OK)
        log_event(LOG_WARN, "kube_lease", "cannot release lease", "{s:s, s:s}", "lease", l->name,
                  "err", res->err.msg);
    else
        log_event(LOG_INFO, "kube_lease", "released lease", "{s:s}", "lease", l->name);
    if (done != NULL)
        done(l->release_cb_data);
}

int kube_lease_release(struct kube_lease *l, void (*done)(void *cb_data), void *cb_data,
                       struct err *err)
{
    char path[1024], now[64];
    json_t *obj, *spec;
    char *body;
    int rc;

    l->stopped = true;
    kube_call_cancel(l->call);
    l->call = NULL;
    loop_timer_stop(kube_loop(l->k), &l->deadline_timer);
    l->release_done = done;
    l->release_cb_data = cb_data;
    if (!l->leader || l->last == NULL) {
        loop_timer_start(kube_loop(l->k), &l->cycle_timer, 0); /* runs 'done' next turn */
        l->leader = false;
        return 0;
    }
    l->leader = false;
    loop_timer_stop(kube_loop(l->k), &l->cycle_timer);

    /* client-go's release: empty holder, 1 s duration, so standbys take over at once. */
    micro_time(now, sizeof(now));
    obj = json_deep_copy(l->last);
    spec = json_object_get(obj, "spec");
    json_object_set_new(spec, "holderIdentity", json_string(""));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
    json_object_set_new(spec, "renewTime", json_string(now));
    json_object_set_new(spec, "acquireTime", json_string(now));
    body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    kube_path(&KUBE_LEASES, l->ns, l->name, NULL, path, sizeof(path));
    rc = body == NULL ? err_set(err, -ENOMEM, "cannot serialise lease")
                      : kube_request(l->k, "PUT", path, "application/json", body,
                                     l->deadline_ms / 2, on_released, l, &l->call, err);
    free(body);
    if (rc != 0)
        l->release_done = NULL;
    return rc;
}

void kube_lease_free(struct kube_lease *l)
{
    if (l == NULL)
        return;
    kube_call_cancel(l->call);
    loop_timer_stop(kube_loop(l->k), &l->cycle_timer);
    loop_timer_stop(kube_loop(l->k), &l->deadline_timer);
    json_decref(l->last);
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l);
}
