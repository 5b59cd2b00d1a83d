/* server.h - the operator's two HTTP listeners on the caller's h2o event loop:
 *
 *   HTTPS (--webhook-port, default 9443): POST /mutate-runnerpool, POST /validate-runnerpool,
 *         AdmissionReview v1 (admission.h). Bodies above max_body_bytes get 413 from h2o before
 *         any handler runs; anything that is not an AdmissionReview gets a 400 JSON Status.
 *   HTTP  (--metrics-port, default 8080): GET /healthz, /readyz, /metrics (Prometheus text).
 *
 * Both are HTTP/1.1 only (no ALPN "h2"): the API server speaks HTTP/1.1 to webhooks by default
 * and HTTP/1 keeps the request-size cap in one place.
 *
 * Threading: everything, including webhook_server_set_tls, runs on the loop thread.
 * TLS rotation: webhook_server_set_tls builds a new SSL_CTX and swaps it into the accept context;
 * connections accepted earlier keep the SSL_CTX they were created with (OpenSSL counts the
 * references), so a rotation drops nothing. Until the first set_tls, HTTPS connections are
 * accepted and closed at once (the API server retries; /readyz says not ready meanwhile).
 *
 * Shutdown: webhook_server_stop() closes the listeners; keep running the loop until
 * webhook_server_connections() is 0 (or a deadline), then webhook_server_free(). */
#ifndef AZDO_WEBHOOK_SERVER_H
#define AZDO_WEBHOOK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "webhook/admission.h"
#include "webhook/certs.h"
#include "webhook/metrics.h"

struct st_h2o_evloop_t;

/* Asked on every GET /readyz: return true when ready; otherwise write a short reason (no
 * secrets: it is served to anyone who can reach the port) into 'why'. */
typedef bool (*webhook_ready_cb)(void *cb_data, char *why, size_t why_size);

#define WEBHOOK_DEFAULT_PORT 9443
#define WEBHOOK_DEFAULT_METRICS_PORT 8080
/* An AdmissionReview carries object and oldObject; etcd's limit is 1.5 MiB per object. */
#define WEBHOOK_DEFAULT_MAX_BODY_BYTES (4u * 1024 * 1024)

struct webhook_server_config {
    const char *webhook_addr;  /* numeric listen address, e.g. "0.0.0.0", "::", "127.0.0.1" */
    int webhook_port;          /* 0: ephemeral (tests), -1: no HTTPS listener */
    const char *metrics_addr;
    int metrics_port;          /* 0: ephemeral, -1: no HTTP listener */
    size_t max_body_bytes;     /* 0: WEBHOOK_DEFAULT_MAX_BODY_BYTES */
    const struct admission_policy *policy; /* borrowed; NULL: admission_runnerpool_policy() */
    struct metrics *metrics;   /* borrowed; NULL: /metrics serves an empty page */
    struct metric *admission_counter; /* borrowed, may be NULL: counter{webhook,result} */
    webhook_ready_cb ready;    /* NULL: ready once TLS is set */
    void *ready_data;
};

struct webhook_server; /* opaque */

/* Opens the listeners on 'loop' (borrowed; must outlive the server). On failure nothing is left
 * open and a negative errno is returned with text in 'err' (e.g. "cannot bind 0.0.0.0:9443"). */
int webhook_server_start(struct st_h2o_evloop_t *loop, const struct webhook_server_config *cfg,
                         struct webhook_server **out, struct err *err);

/* Installs 'serving' (borrowed: the certificate and key are referenced, not copied) for new
 * HTTPS connections. Returns 0, or a negative errno and leaves the current context in place. */
int webhook_server_set_tls(struct webhook_server *s, const struct cert_pair *serving,
                           struct err *err);

/* True once a certificate is installed. */
bool webhook_server_has_tls(const struct webhook_server *s);

/* The bound ports (useful with port 0); 0 when that listener is off. */
int webhook_server_webhook_port(const struct webhook_server *s);
int webhook_server_metrics_port(const struct webhook_server *s);

/* Closes both listeners; live connections finish their requests. Idempotent. */
void webhook_server_stop(struct webhook_server *s);

/* Live HTTP/1 connections on both listeners (TLS handshakes in progress are not counted). */
size_t webhook_server_connections(const struct webhook_server *s);

/* Frees the server. LIMITATION: h2o 2.2 cannot close its HTTP/1 connections from outside; when
 * some are still open, the h2o contexts are deliberately leaked instead of disposed (disposing
 * would free timers those connections still use). Call after webhook_server_connections() is 0
 * for a clean free. Accepts NULL. */
void webhook_server_free(struct webhook_server *s);

#endif
