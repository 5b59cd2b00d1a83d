/* cert_store.h - keeps the webhook certificates in Kubernetes and rotates them without failing
 * an admission.
 *
 * Where things live:
 *   Secret <namespace>/<secret_name> (type Opaque): ca.crt, ca.key, tls.crt, tls.key and, during
 *     a CA rotation, ca-previous.crt (the old CA's certificate, no key).
 *   ValidatingWebhookConfiguration and MutatingWebhookConfiguration <webhook_config_name>: every
 *     webhooks[].clientConfig.caBundle = the CAs of the Secret (ca.crt, then ca-previous.crt).
 *
 * The decision is pure: cert_store_plan() maps (what was read, now) to one step, in this order
 * of priority, so that a crash between any two steps is recovered by the next pass:
 *   1. CA missing, broken or due    -> WRITE_SECRET: new CA, old CA kept as ca-previous while it
 *                                      is still valid, serving certificate kept if the old CA
 *                                      still vouches for it;
 *   2. serving missing/broken/due/SANs differ/signed by an unknown CA -> WRITE_SECRET new serving;
 *   3. serving signed by ca-previous -> once both configurations trust the new CA and it has
 *                                      been published for propagation_s -> WRITE_SECRET serving
 *                                      from the new CA;
 *   4. ca-previous expired, or no longer used for propagation_s -> WRITE_SECRET without it;
 *   5. installed TLS != Secret's serving -> INSTALL_TLS;
 *   6. a configuration's caBundle != the Secret's CAs -> WRITE_BUNDLE;
 *   7. NONE, with the time at which the answer would change.
 * So a CA roll goes: Secret [B, prev A] -> caBundle [B, A] -> (propagation) serving from B ->
 * TLS swap -> (propagation) Secret [B] -> caBundle [B]. At no point is a serving certificate in
 * use that a published caBundle does not trust (tests/test_webhook_cert_store.c checks this after
 * every write).
 *
 * The driver (struct cert_store) performs the reads and writes through a function table the run
 * loop fills in with the Kubernetes client, one pass at a time: GET Secret, GET both
 * configurations, plan, do the step, read again. Writes use PUT with the resourceVersion read
 * (optimistic concurrency: a 409 just means "read again"), POST when the Secret does not exist.
 * Private keys travel only in the Secret body; nothing here logs them. */
#ifndef AZDO_WEBHOOK_CERT_STORE_H
#define AZDO_WEBHOOK_CERT_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "webhook/certs.h"
#include "webhook/metrics.h"

#define CERT_STORE_DEFAULT_SECRET "azdo-runner-operator-webhook-certs"
#define CERT_STORE_DEFAULT_CONFIG "azdo-runner-operator"

enum cert_store_config_kind { CERT_STORE_VALIDATING = 0, CERT_STORE_MUTATING = 1 };

struct cert_store_config {
    const char *namespace;           /* of the Secret */
    const char *secret_name;         /* NULL: CERT_STORE_DEFAULT_SECRET */
    const char *webhook_config_name; /* NULL: CERT_STORE_DEFAULT_CONFIG */
    const char *const *sans;         /* serving certificate SANs (borrowed) */
    size_t n_sans;
    int64_t ca_lifetime_s;
    int64_t serving_lifetime_s;
    int64_t backdate_s;              /* notBefore = now - backdate_s (clock skew tolerance) */
    /* How long a CA must have been in caBundle before the serving certificate switches to it,
     * and how long the old CA stays after the switch: the API server's informer lag. Must be
     * well below ca_lifetime_s / 3, or the old CA expires first and requests fail meanwhile. */
    int64_t propagation_s;
    time_t (*clock)(void);           /* NULL: time() */
};

/* ---------------------------------------------------------------- the pure part */

/* What one pass read. Everything borrowed from the caller. */
struct cert_store_view {
    bool secret_found;
    struct cert_pair ca;       /* empty members when absent or unreadable */
    X509 *ca_prev;             /* NULL when absent or unreadable */
    struct cert_pair serving;
    struct {
        bool found;            /* false: the configuration does not exist (404), nothing to do */
        size_t n_webhooks;
        X509 **common;         /* the CAs present in every webhook's caBundle */
        size_t n_common;
        bool uniform;          /* every webhook has the same caBundle set */
    } configs[2];
    X509 *tls_in_use;          /* the serving certificate the server presents, NULL if none */
};

enum cert_store_action {
    CERT_STORE_NONE,
    CERT_STORE_WRITE_SECRET,
    CERT_STORE_WRITE_BUNDLE,
    CERT_STORE_INSTALL_TLS,
};

struct cert_store_step {
    enum cert_store_action action;
    const char *reason;             /* static text for logs */
    /* WRITE_SECRET: the complete new content (owned by the step; may share references with the
     * view through up-refs). */
    struct cert_pair ca;
    X509 *ca_prev;
    struct cert_pair serving;
    bool issued_ca, issued_serving; /* which of them are new (metrics, logs) */
    /* WRITE_BUNDLE: which configuration. */
    enum cert_store_config_kind config;
    /* NONE: plan again at this time at the latest. */
    time_t next_check_at;
};

/* Decides the next step (see the header comment). Returns 0, or a negative errno with text in
 * 'err' when a certificate could not be issued ('out' then holds nothing). */
int cert_store_plan(const struct cert_store_config *cfg, const struct cert_store_view *view,
                    time_t now, struct cert_store_step *out, struct err *err);
void cert_store_step_clear(struct cert_store_step *step);

/* Secret JSON -> certificates. Unreadable members are left empty (the plan replaces them); the
 * view's ca/ca_prev/serving fields are new references, freed by cert_store_view_clear. */
void cert_store_view_read_secret(struct cert_store_view *view, const json_t *secret);
/* Webhook configuration JSON (NULL: not found) -> configs[kind]. */
void cert_store_view_read_config(struct cert_store_view *view, enum cert_store_config_kind kind,
                                 const json_t *config);
void cert_store_view_clear(struct cert_store_view *view);

/* The Secret to write (new JSON): 'rv' NULL for a POST. */
json_t *cert_store_secret_body(const struct cert_store_config *cfg, const struct cert_store_step *step,
                               const char *rv, struct err *err);
/* 'config' (borrowed) with every webhooks[].clientConfig.caBundle set to base64(bundle_pem):
 * new JSON, resourceVersion kept for the PUT. */
json_t *cert_store_config_body(const json_t *config, const char *bundle_pem, struct err *err);
/* The caBundle PEM for the view's Secret: ca.crt then ca-previous.crt. New string (free()). */
int cert_store_bundle_pem(const struct cert_store_view *view, char **out, struct err *err);

/* ---------------------------------------------------------------- the driver */

/* Completion of one Kubernetes request: 'http_status' is the HTTP status (0 when no response
 * arrived: 'err' says why), 'body' the parsed response body or NULL (borrowed for the call). */
typedef void (*cert_store_kube_done)(void *done_data, int http_status, const json_t *body,
                                     const struct err *err);

/* Filled in by the run loop with the Kubernetes client. Each call starts one request and returns
 * 0; 'done' then runs exactly once, later, on the loop thread (never from inside the call). A
 * negative return means nothing was started and 'done' will not run. 'body' is borrowed for the
 * duration of the call (serialise it before returning). */
struct cert_store_kube {
    int (*get)(void *kube_data, const char *path, cert_store_kube_done done, void *done_data);
    int (*put)(void *kube_data, const char *path, const json_t *body, cert_store_kube_done done,
               void *done_data);
    int (*post)(void *kube_data, const char *path, const json_t *body, cert_store_kube_done done,
                void *done_data);
    void *kube_data;
};

/* Installs a serving certificate in the HTTPS server (webhook_server_set_tls). 'serving' is
 * borrowed for the call. Returns 0 or a negative errno. */
typedef int (*cert_store_install_cb)(void *cb_data, const struct cert_pair *serving,
                                     struct err *err);

struct cert_store; /* opaque */

/* 'cfg' is copied (the strings and sans it points to must outlive the store); 'kube' copied;
 * 'metrics' borrowed, may be NULL (then no certificate gauges). */
int cert_store_new(const struct cert_store_config *cfg, const struct cert_store_kube *kube,
                   cert_store_install_cb install, void *install_data, struct metrics_std *metrics,
                   struct cert_store **out, struct err *err);

/* Frees the store; if a request is in flight, the free happens when its 'done' runs. */
void cert_store_free(struct cert_store *cs);

/* Runs passes until a pass ends with nothing to do (or an error, logged and counted in
 * errors_total{kind="webhook_certs"}). If a pass is running, another follows it. Call at start,
 * when cert_store_next_check() is reached, and periodically (e.g. every minute) so a caBundle
 * overwritten by `kubectl apply` is re-injected. */
void cert_store_sync(struct cert_store *cs);

/* True once a pass has found everything in place: Secret written, TLS installed, both existing
 * configurations trusting the CA. Stays true afterwards (rotations keep serving). */
bool cert_store_ready(const struct cert_store *cs);

/* When the plan would change at the latest (unix seconds), 0 before the first complete pass. */
time_t cert_store_next_check(const struct cert_store *cs);

/* True while requests are in flight. */
bool cert_store_busy(const struct cert_store *cs);

/* Result of the last pass: 0 or the negative errno it ended with (text in 'err' if not NULL). */
int cert_store_last_error(const struct cert_store *cs, struct err *err);

#endif
