/* classify.c - HTTP answers to outcomes (see the table in classify.h). */
#include "azdo/classify.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azdo/parse.h"

const char *azdo_outcome_name(enum azdo_outcome outcome)
{
    switch (outcome) {
    case AZDO_OK:
        return "ok";
    case AZDO_AUTH_FAILED:
        return "auth-failed";
    case AZDO_NOT_FOUND:
        return "not-found";
    case AZDO_THROTTLED:
        return "throttled";
    case AZDO_UNREACHABLE:
        return "unreachable";
    case AZDO_REJECTED:
        return "rejected";
    case AZDO_BAD_RESPONSE:
        return "bad-response";
    }
    return "unknown";
}

void azdo_url_decode(const char *in, char *out, size_t out_size)
{
    size_t o = 0;

    if (out_size == 0)
        return;
    for (const char *p = in; *p != '\0' && o + 1 < out_size; p++) {
        if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], '\0'};
            char c = (char)strtol(hex, NULL, 16);
            /* Keep control characters out of messages that end up in status and logs. */
            out[o++] = (unsigned char)c < 0x20 ? ' ' : c;
            p += 2;
        } else {
            out[o++] = *p == '+' ? ' ' : *p;
        }
    }
    out[o] = '\0';
}

/* Media type test: 'ct' is "type/subtype[;params]". */
static bool media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);

    if (ct == NULL)
        return false;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool is_json(const char *ct)
{
    const char *semi;
    size_t len;

    if (media_is(ct, "application/json") || media_is(ct, "text/json"))
        return true;
    if (ct == NULL)
        return false;
    /* application/problem+json and friends */
    semi = strchr(ct, ';');
    len = semi != NULL ? (size_t)(semi - ct) : strlen(ct);
    return len > 5 && strncasecmp(ct + len - 5, "+json", 5) == 0;
}

static bool body_empty(const struct azdo_reply *r)
{
    for (size_t i = 0; i < r->body_len; i++) {
        if (!isspace((unsigned char)r->body[i]))
            return false;
    }
    return true;
}

/* Seconds with decimals ("2.500") to ms; -1 when absent or malformed. */
static int64_t seconds_to_ms(const char *s)
{
    char *end;
    double v;

    if (s == NULL)
        return -1;
    v = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (end == s || *end != '\0' || !isfinite(v) || v < 0)
        return -1;
    /* llround() gives an unspecified (in practice negative) result when the value does not fit,
     * which would read as "no wait"; 1e15 s is far beyond any cap and fits once in ms. */
    if (v > 1e15)
        v = 1e15;
    return (int64_t)llround(v * 1000.0);
}

static void read_throttle_hints(const struct azdo_reply *r, struct azdo_verdict *v)
{
    int64_t delay_ms = seconds_to_ms(r->rate_limit_delay);
    int64_t remaining = seconds_to_ms(r->rate_limit_remaining);

    v->wait_ms = -1;
    if (r->retry_after_s >= 0) {
        v->wait_ms = (int64_t)r->retry_after_s * 1000;
        if (v->wait_ms > AZDO_MAX_SERVER_WAIT_MS) {
            v->wait_ms = AZDO_MAX_SERVER_WAIT_MS;
            v->wait_capped = true;
        }
    }
    /* A request the service delayed by N s says each call now costs N s: pausing that long
     * keeps us from queueing more delayed calls behind it. */
    if (delay_ms > 0 && delay_ms > v->wait_ms)
        v->wait_ms = delay_ms < AZDO_MAX_SERVER_WAIT_MS ? delay_ms : AZDO_MAX_SERVER_WAIT_MS;
    v->budget_exhausted = remaining == 0;
}

static void set(struct azdo_verdict *v, enum azdo_outcome outcome, const char *reason)
{
    v->outcome = outcome;
    snprintf(v->reason, sizeof(v->reason), "%.47s", reason);
}

static void transport(const struct azdo_reply *r, struct azdo_verdict *v)
{
    static const struct {
        int code;
        const char *reason, *text;
    } map[] = {
        {-ETIMEDOUT, "Timeout", "no answer before the timeout"},
        {-ECONNREFUSED, "ConnectionRefused", "connection refused or host unreachable"},
        {-EHOSTUNREACH, "NameNotResolved", "host name not resolved"},
        {-EPROTO, "TLSError", "TLS handshake or certificate verification failed"},
        {-ECONNRESET, "ConnectionReset", "connection dropped mid-answer"},
        {-EFBIG, "ResponseTooLarge", "answer larger than the body limit"},
    };

    set(v, AZDO_UNREACHABLE, "Unreachable");
    snprintf(v->detail, sizeof(v->detail), "no usable answer from Azure DevOps");
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].code == r->transport_err) {
            set(v, AZDO_UNREACHABLE, map[i].reason);
            snprintf(v->detail, sizeof(v->detail), "%s", map[i].text);
        }
    }
}

static void unauthorized(const struct azdo_reply *r, struct azdo_verdict *v, const char *message)
{
    char header[sizeof(v->detail)] = "";

    if (r->service_error != NULL)
        azdo_url_decode(r->service_error, header, sizeof(header));
    set(v, AZDO_AUTH_FAILED, "Unauthorized");
    if (strcasestr(header, "expired") != NULL || strcasestr(message, "expired") != NULL)
        set(v, AZDO_AUTH_FAILED, "TokenExpired");
    if (header[0] != '\0')
        snprintf(v->detail, sizeof(v->detail), "%s", header);
    else if (message[0] != '\0')
        snprintf(v->detail, sizeof(v->detail), "%s", message);
    else
        snprintf(v->detail, sizeof(v->detail),
                 "the PAT was rejected (HTTP 401): it is wrong, expired or revoked");
}

void azdo_classify(const struct azdo_reply *r, struct azdo_verdict *v)
{
    char type_key[64], message[200]; /* leaves room for a prefix in detail */
    bool html = media_is(r->content_type, "text/html");
    long s = r->status;

    memset(v, 0, sizeof(*v));
    v->http_status = s;
    read_throttle_hints(r, v);
    if (r->transport_err != 0 || s == 0) {
        transport(r, v);
        return;
    }
    azdo_parse_error_body(r->body, r->body_len, type_key, sizeof(type_key), message,
                          sizeof(message));

    if (s == 203 || ((s / 100 == 2 || s / 100 == 3) && html)) {
        set(v, AZDO_AUTH_FAILED, "SignInPage");
        snprintf(v->detail, sizeof(v->detail),
                 "Azure DevOps answered with a sign-in page "
                 "(HTTP %ld): the PAT is missing or invalid",
                 s);
    } else if (s / 100 == 2) {
        if (is_json(r->content_type) || body_empty(r)) {
            set(v, AZDO_OK, "");
        } else {
            set(v, AZDO_BAD_RESPONSE, "NotJson");
            snprintf(v->detail, sizeof(v->detail),
                     "HTTP %ld with content type '%s' instead "
                     "of JSON",
                     s, r->content_type ? r->content_type : "(none)");
        }
    } else if (s / 100 == 3) {
        set(v, AZDO_AUTH_FAILED, "Redirected");
        snprintf(v->detail, sizeof(v->detail),
                 "unexpected redirect (HTTP %ld), usually to a "
                 "sign-in page: check the PAT and that azDoUrl is the organisation URL",
                 s);
    } else if (s == 401) {
        unauthorized(r, v, message);
    } else if (s == 403) {
        set(v, AZDO_AUTH_FAILED, "Forbidden");
        snprintf(
            v->detail, sizeof(v->detail), "%s",
            message[0]
                ? message
                : "the PAT lacks permission: it needs Agent Pools (Read & manage) and the pool "
                  "Administrator role");
    } else if (s == 404) {
        set(v, AZDO_NOT_FOUND, "NotFound");
        snprintf(v->detail, sizeof(v->detail), "%s", message[0] ? message : "not found");
    } else if (s == 429 || s == 503) {
        set(v, AZDO_THROTTLED, s == 429 ? "RateLimited" : "ServiceUnavailable");
        if (r->rate_limit_resource != NULL)
            snprintf(v->detail, sizeof(v->detail), "rate limited on %s", r->rate_limit_resource);
        else
            snprintf(v->detail, sizeof(v->detail), "%s",
                     message[0] ? message
                                : (s == 429 ? "too many requests" : "service unavailable"));
    } else if (s == 408 || s / 100 == 5) {
        set(v, AZDO_UNREACHABLE, "ServerError");
        snprintf(v->detail, sizeof(v->detail), "HTTP %ld%s%s", s, message[0] ? ": " : "", message);
    } else if (s / 100 == 4) {
        set(v, AZDO_REJECTED, type_key[0] ? type_key : "Rejected");
        snprintf(v->detail, sizeof(v->detail), "HTTP %ld%s%s", s, message[0] ? ": " : "", message);
    } else {
        set(v, AZDO_BAD_RESPONSE, "UnexpectedStatus");
        snprintf(v->detail, sizeof(v->detail), "unexpected HTTP status %ld", s);
    }
}
