/* http.h - asynchronous HTTP client: libcurl multi driven by the operator's event loop.
 *
 * One 'struct http' (one curl multi) serves every client in the process (Kubernetes, each Azure
 * DevOps organisation); each client passes its own 'struct http_stats' so metrics stay per target.
 * All callbacks run on the loop thread, never from inside http_start().
 *
 * Secrets: the bearer token and the basic-auth password are handed to curl and nowhere else.
 * CURLOPT_VERBOSE is never set; nothing in this module logs a header or a body.
 *
 * Proxies: curl's defaults apply, so HTTPS_PROXY/NO_PROXY in the environment are honoured (as
 * client-go and the Azure DevOps agent do); tests run without them. */
#ifndef AZDO_HTTP_H
#define AZDO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "loop.h"

struct http;      /* opaque: the curl multi and its socket watchers */
struct http_call; /* opaque: one request in flight */

/* Per-client counters; the client owns the struct and reads it for /metrics. */
struct http_stats {
    uint64_t started;          /* http_start() calls that succeeded */
    uint64_t completed;        /* on_done ran (any outcome) */
    uint64_t status_2xx;       /* completed with an HTTP status, by class */
    uint64_t status_3xx;
    uint64_t status_4xx;
    uint64_t status_5xx;
    uint64_t status_429;       /* also counted in status_4xx */
    uint64_t transport_errors; /* no HTTP status: timeout, refused, TLS, reset */
    uint64_t cancelled;        /* http_cancel() before completion */
    uint64_t bytes_received;   /* response body bytes */
    int64_t in_flight;         /* started - completed - cancelled */
};

/* TLS settings. All strings are copied by http_start(); NULL/false means "not set".
 * PEM data and file forms are alternatives: if both are set, the PEM data wins. */
struct http_tls {
    const char *ca_file;          /* trust only these CAs instead of the system store */
    const char *ca_pem;           /* same, PEM text in memory (kubeconfig certificate-authority-data) */
    const char *client_cert_file; /* client certificate (PEM) */
    const char *client_cert_pem;
    const char *client_key_file;  /* its private key (PEM) */
    const char *client_key_pem;
    bool insecure_skip_verify;    /* no peer or host verification (kubeconfig option; warn) */
};

/* Called once per complete line of a 2xx streaming response (watch), without the '\n' (and
 * without a trailing '\r'); 'line' is NUL-terminated and borrowed for the call. Empty lines are
 * skipped. The callback may call http_cancel() on its own call; on_done then never runs. */
typedef void (*http_line_cb)(const char *line, size_t len, void *cb_data);

struct http_request {
    const char *method;          /* "GET", "POST", "PUT", "PATCH", "DELETE"; NULL = GET */
    const char *url;             /* absolute http:// or https:// URL */
    const char *const *headers;  /* NULL-terminated "Name: value" list, or NULL */
    const char *body;            /* request body (copied), or NULL */
    size_t body_len;
    uint32_t timeout_ms;         /* whole transfer; 0 = no limit (only for streams) */
    uint32_t connect_timeout_ms; /* 0 = 10 s */
    const struct http_tls *tls;  /* or NULL: system CA store, full verification */
    const char *username;        /* basic auth (Azure DevOps PAT: any user, PAT as password) */
    const char *password;
    const char *bearer_token;    /* sent as "Authorization: Bearer ..." */
    http_line_cb on_line;        /* NULL: buffer the whole body for on_done */
    size_t max_body_bytes;       /* 0 = 64 MiB; a larger body fails with -EFBIG */
    struct http_stats *stats;    /* or NULL */
};

/* What on_done receives; every pointer is borrowed for the duration of the callback. */
struct http_response {
    long status;              /* HTTP status, or 0 when the transfer failed before one arrived */
    const char *content_type; /* media type as sent (may carry ";charset=..."), or NULL */
    int retry_after_s;        /* Retry-After in seconds (either form), or -1 when absent/invalid */
    const char *body;         /* NUL-terminated; "" for streams and empty bodies */
    size_t body_len;          /* streams: bytes of non-2xx body (e.g. a 410 Status) only */
    uint64_t total_ms;        /* time from start to completion */
    struct err err;           /* transport outcome: code 0 when an HTTP response was complete.
                               * -ETIMEDOUT timeout, -ECONNREFUSED refused/unreachable,
                               * -EHOSTUNREACH name not resolved, -EPROTO TLS failure,
                               * -ECONNRESET connection dropped mid-response, -EFBIG body cap,
                               * -EIO anything else. 'status' may be set together with an error
                               * (e.g. a stream dropped after its 200 header). */
    const void *priv;         /* private to http.c: read headers with http_response_header() */
};

typedef void (*http_done_cb)(const struct http_response *res, void *cb_data);

/* Value of response header 'name' (case-insensitive; the last one when repeated), or NULL when
 * absent. Borrowed: valid for the duration of on_done only. */
const char *http_response_header(const struct http_response *res, const char *name);

/* Creates the client bound to 'loop' (which must outlive it). 0, or negative errno with text.
 * '*out' is new: free with http_free(). */
int http_new(struct loop *loop, struct http **out, struct err *err);

/* Aborts every call still in flight (their on_done never runs) and frees the client. Accepts
 * NULL. Call before loop_free(), and never from inside an http callback. */
void http_free(struct http *h);

/* Starts a request. Everything in 'req' is copied; 'on_done' runs exactly once on a later loop
 * turn unless the call is cancelled. 'on_line' and 'on_done' share 'cb_data'.
 * '*out' (may be NULL) is a borrowed handle, valid until on_done returns or http_cancel().
 * Returns 0, or negative errno with text in 'err'; on failure no callback ever runs. */
int http_start(struct http *h, const struct http_request *req, http_done_cb on_done,
               void *cb_data, struct http_call **out, struct err *err);

/* Aborts 'call'; its callbacks never run afterwards. Safe inside its own on_line callback.
 * Must not be called after on_done started. Accepts NULL. */
void http_cancel(struct http_call *call);

/* Called once per completed call (not for cancelled ones), for metrics: 'stats' is the request's
 * stats pointer (it tells the clients apart), 'method' the HTTP method, 'status' the HTTP status
 * or 0 when none arrived, 'total_ms' the duration. Runs on the loop thread before on_done. */
typedef void (*http_observe_cb)(void *data, const struct http_stats *stats, const char *method,
                                long status, uint64_t total_ms);

/* Installs (or with NULL removes) the observer of every call of 'h'. */
void http_set_observer(struct http *h, http_observe_cb cb, void *data);

/* Number of calls in flight (tests and shutdown). */
size_t http_in_flight(const struct http *h);

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015
 * 07:28:00 GMT", also RFC 850 and asctime forms), relative to 'now'. A date in the past gives 0.
 * Returns the seconds (>= 0, capped at 1 day), or -1 if 'value' is neither form. */
int http_parse_retry_after(const char *value, time_t now);

/* ---- line splitting for newline-delimited streams (used by on_line; public for tests) ---- */

struct http_linebuf {
    char *buf;  /* owned: the unterminated tail of the stream so far */
    size_t len;
    size_t cap;
    size_t max_line; /* a longer line fails with -EFBIG (0 = 64 MiB) */
};

/* Appends 'data' and calls 'on_line' for each complete line (see http_line_cb). 0, or -ENOMEM /
 * -EFBIG; after a failure the buffer is emptied. */
int http_linebuf_feed(struct http_linebuf *lb, const char *data, size_t len, http_line_cb on_line,
                      void *cb_data);

/* Frees the buffer (the struct itself is the caller's). Accepts NULL. */
void http_linebuf_free(struct http_linebuf *lb);

#endif
