/* classify.h - what an Azure DevOps answer means for the operator.
 *
 * The state machine acts on a small set of outcomes, not on HTTP codes:
 *
 *   answer                                           outcome            reason
 *   2xx with a JSON body, or with no body (204)      AZDO_OK            ""
 *   203, or any 2xx/3xx with an HTML body            AZDO_AUTH_FAILED   "SignInPage"
 *   other 3xx (a redirect curl did not follow)       AZDO_AUTH_FAILED   "Redirected"
 *   401                                              AZDO_AUTH_FAILED   "TokenExpired" when the
 *                                                    X-TFS-ServiceError header or the body says
 *                                                    so, else "Unauthorized"
 *   403                                              AZDO_AUTH_FAILED   "Forbidden"
 *   404                                              AZDO_NOT_FOUND     "NotFound"
 *   429, 503                                         AZDO_THROTTLED     "RateLimited" /
 *                                                                       "ServiceUnavailable"
 *   other 5xx, 408                                   AZDO_UNREACHABLE   "ServerError"
 *   no answer (timeout, refused, TLS, reset)         AZDO_UNREACHABLE   "Timeout", ...
 *   other 4xx (400, 409, ...)                        AZDO_REJECTED      the error's typeKey, or
 *                                                                       "Rejected"
 *   2xx with another content type                    AZDO_BAD_RESPONSE  "NotJson"
 *
 * A 203 is a 2xx code: a naive "2xx = success" check takes the sign-in page for data.
 * Throttling hints are read on every answer, 200 included (the service delays, then blocks):
 * 'wait_ms' says how long the organisation must not be called. */
#ifndef AZDO_AZDO_CLASSIFY_H
#define AZDO_AZDO_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest wait a server hint can impose; longer Retry-After values are capped (with
 * 'wait_capped' set so the caller can warn). */
#define AZDO_MAX_SERVER_WAIT_MS (15 * 60 * 1000)

enum azdo_outcome {
    AZDO_OK = 0,
    AZDO_AUTH_FAILED,  /* wrong, expired or under-scoped PAT: stop destructive actions */
    AZDO_NOT_FOUND,    /* the pool (or agent) does not exist */
    AZDO_THROTTLED,    /* rate limited: wait 'wait_ms' (or back off when it is -1) */
    AZDO_UNREACHABLE,  /* transport failure or server error: retry with backoff */
    AZDO_REJECTED,     /* the request itself was refused (4xx): retrying unchanged won't help */
    AZDO_BAD_RESPONSE, /* an answer that is not what the API returns (or did not parse) */
};

/* What is known about one answer. Strings are borrowed; NULL means absent. */
struct azdo_reply {
    long status;       /* HTTP status, 0 when no answer arrived */
    int transport_err; /* negative errno of a transport failure, else 0 */
    const char *content_type;
    int retry_after_s;                /* Retry-After in seconds, -1 when absent or malformed */
    const char *rate_limit_delay;     /* X-RateLimit-Delay: seconds this request was delayed */
    const char *rate_limit_remaining; /* X-RateLimit-Remaining */
    const char *rate_limit_resource;  /* X-RateLimit-Resource */
    const char *service_error;        /* X-TFS-ServiceError (URL-encoded text) */
    const char *body;
    size_t body_len;
};

struct azdo_verdict {
    enum azdo_outcome outcome;
    long http_status;
    int64_t wait_ms;       /* server-requested pause before the next call to this org
                            * (max of Retry-After and X-RateLimit-Delay), -1 when none */
    bool wait_capped;      /* Retry-After exceeded AZDO_MAX_SERVER_WAIT_MS */
    bool budget_exhausted; /* X-RateLimit-Remaining was 0: poll more slowly */
    char reason[48];       /* a CamelCase word for conditions and events (see table) */
    char detail[256];      /* human text: decoded service error, server message, rate-limit
                            * resource. Server-supplied, never contains the PAT */
};

/* Classifies 'reply' into '*out'. Pure; never fails. */
void azdo_classify(const struct azdo_reply *reply, struct azdo_verdict *out);

/* "ok", "auth-failed", "not-found", "throttled", "unreachable", "rejected", "bad-response". */
const char *azdo_outcome_name(enum azdo_outcome outcome);

/* Decodes %XX escapes and '+' of 'in' into 'out' (always NUL-terminated, truncated to fit). */
void azdo_url_decode(const char *in, char *out, size_t out_size);

#endif
