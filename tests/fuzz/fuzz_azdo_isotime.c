/* fuzz_azdo_isotime.c - libFuzzer target for azdo_isotime_parse() (src/azdo/isotime.h) and the
 * operator's Kubernetes timestamp reader op_parse_k8s_time() (src/operator/obs_map.h).
 *
 * Promises checked: a parse that fails returns -EINVAL and leaves the output alone; a parse that
 * succeeds gives a time that, written back as "YYYY-MM-DDTHH:MM:SS.mmmZ", parses to the same
 * milliseconds (so the parser and the calendar agree); and for that canonical form the two
 * readers agree, since both kinds of timestamp end up compared in the same database. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "azdo/isotime.h"
#include "fuzz.h"
#include "operator/obs_map.h"

/* Writes 'ms' in the canonical form; false when the year is outside 0000..9999. */
static int canonical(int64_t ms, char *buf, size_t len)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int millis = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return 0;
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    int64_t ms = INT64_MIN, again = INT64_MIN;
    char buf[64];
    int rc = azdo_isotime_parse(text, &ms);

    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc != 0)
        FUZZ_CHECK(ms == INT64_MIN);
    if (rc == 0 && canonical(ms, buf, sizeof(buf))) {
        FUZZ_CHECK(azdo_isotime_parse(buf, &again) == 0);
        if (again != ms)
            fprintf(stderr, "'%s' -> %" PRId64 " -> '%s' -> %" PRId64 "\n", text, ms, buf, again);
        FUZZ_CHECK(again == ms);
        /* op_parse_k8s_time returns 0 for "not a timestamp", which is also 1970-01-01. */
        if (ms != 0 && ms / 1000 >= -62135596800LL) /* from year 1: strptime's %Y range */
            FUZZ_CHECK(op_parse_k8s_time(buf) == ms);
    }
    (void)op_parse_k8s_time(text);
    free(text);
    return 0;
}
