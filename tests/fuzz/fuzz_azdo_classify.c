/* fuzz_azdo_classify.c - libFuzzer target for azdo_classify() (src/azdo/classify.h) over any
 * combination of status, headers and body, and for azdo_url_decode().
 *
 * Input layout: 2 bytes status (big-endian, so 0..65535 covers "no answer" and every code),
 * 1 byte selecting a transport error, 1 signed byte of Retry-After seconds (scaled so the cap is
 * reachable), then NUL-separated fields: Content-Type, X-RateLimit-Delay, X-RateLimit-Remaining,
 * X-RateLimit-Resource, X-TFS-ServiceError, body. A field that is missing is an absent header.
 *
 * Promises checked (classify.h): the outcome is one of the enum and has a name; reason and
 * detail are terminated; the wait is -1 or within [0, AZDO_MAX_SERVER_WAIT_MS] and capped only
 * when Retry-After asked for more; a positive X-RateLimit-Delay always makes a wait of at least
 * that long (or the cap); every 2xx that is not 203 and not HTML with a JSON type is OK. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "azdo/classify.h"
#include "fuzz.h"

enum { F_CONTENT_TYPE, F_DELAY, F_REMAINING, F_RESOURCE, F_SERVICE_ERROR, F_BODY, F_COUNT };

static const int transport_errs[] = {0, -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EPROTO,
                                     -ECONNRESET, -EFBIG, -EIO};

static void check_url_decode(const char *in)
{
    char small[4], big[300];
    size_t n;

    azdo_url_decode(in, small, sizeof(small));
    azdo_url_decode(in, big, sizeof(big));
    FUZZ_CHECK(fuzz_terminated(small, sizeof(small)));
    n = strlen(big);
    /* Escapes never decode to control characters (they would reach statuses and logs); a raw
     * one is passed through as it came. */
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)big[i] >= 0x20 || strchr(in, big[i]) != NULL);
    FUZZ_CHECK(strncmp(small, big, strlen(small)) == 0);
    azdo_url_decode(in, big, 0); /* must not write */
}

/* What a well-formed X-RateLimit-Delay asks for, in ms; -1 when it does not parse as the
 * classifier documents (decimal seconds). */
static double delay_asked_ms(const char *s)
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
    return v * 1000.0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct azdo_reply r = {0};
    struct azdo_verdict v;
    char *fields[F_COUNT] = {0};
    char *text;
    size_t n;
    double delay;

    if (size < 4)
        return 0;
    r.status = (long)data[0] << 8 | data[1];
    r.transport_err = transport_errs[data[2] % (sizeof(transport_errs) / sizeof(int))];
    r.retry_after_s = (int8_t)data[3] < 0 ? -1 : (int)data[3] * 8;
    text = fuzz_strndup(data + 4, size - 4);
    n = fuzz_split(text, size - 4, '\0', fields, F_COUNT);
    r.content_type = fields[F_CONTENT_TYPE];
    r.rate_limit_delay = fields[F_DELAY];
    r.rate_limit_remaining = fields[F_REMAINING];
    r.rate_limit_resource = fields[F_RESOURCE];
    r.service_error = fields[F_SERVICE_ERROR];
    if (n == F_COUNT) { /* the body is the rest, NULs included, not terminated on the wire */
        r.body_len = size - 4 - (size_t)(fields[F_BODY] - text);
        r.body = r.body_len > 0 ? fields[F_BODY] : NULL;
    }

    azdo_classify(&r, &v);
    FUZZ_CHECK(v.outcome >= AZDO_OK && v.outcome <= AZDO_BAD_RESPONSE);
    FUZZ_CHECK(strcmp(azdo_outcome_name(v.outcome), "unknown") != 0);
    FUZZ_CHECK(v.http_status == r.status);
    FUZZ_CHECK(fuzz_terminated(v.reason, sizeof(v.reason)));
    FUZZ_CHECK(fuzz_terminated(v.detail, sizeof(v.detail)));
    FUZZ_CHECK(v.outcome == AZDO_OK || v.reason[0] != '\0');
    FUZZ_CHECK(v.wait_ms == -1 || (v.wait_ms >= 0 && v.wait_ms <= AZDO_MAX_SERVER_WAIT_MS));
    FUZZ_CHECK(!v.wait_capped || (int64_t)r.retry_after_s * 1000 > AZDO_MAX_SERVER_WAIT_MS);
    delay = delay_asked_ms(r.rate_limit_delay);
    if (delay >= 1.0)
        FUZZ_CHECK(v.wait_ms >= (delay < AZDO_MAX_SERVER_WAIT_MS ? (int64_t)delay
                                                                  : AZDO_MAX_SERVER_WAIT_MS));
    if (r.transport_err != 0 || r.status == 0)
        FUZZ_CHECK(v.outcome == AZDO_UNREACHABLE);
    if (r.transport_err == 0 && r.status / 100 == 2 && r.status != 203 &&
        r.content_type != NULL && strcmp(r.content_type, "application/json") == 0)
        FUZZ_CHECK(v.outcome == AZDO_OK);

    for (size_t i = 0; i < n && i < F_BODY; i++)
        check_url_decode(fields[i]);
    free(text);
    return 0;
}
