/* isotime.c - ISO-8601 timestamp parsing without timegm() or the process time zone. */
#include "azdo/isotime.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

/* Reads exactly 'n' digits at '*p'; advances '*p'. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil algorithm, restated). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int azdo_isotime_parse(const char *text, int64_t *out_ms)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    int year, mon, day, hour, min, sec, ms = 0;
    int64_t offset_min = 0, days;

    if (text == NULL)
        return -EINVAL;
    if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &mon) || *p++ != '-' ||
        !digits(&p, 2, &day))
        return -EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -EINVAL;
    p++;
    if (!digits(&p, 2, &hour) || *p++ != ':' || !digits(&p, 2, &min) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return -EINVAL;
    if (*p == '.' || *p == ',') {
        int scale = 100, n = 0;
        p++;
        for (; isdigit((unsigned char)*p); p++, n++) {
            ms += (*p - '0') * scale;
            scale /= 10;
        }
        if (n == 0)
            return -EINVAL;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (!digits(&p, 2, &oh))
            return -EINVAL;
        if (*p == ':')
            p++;
        if (!digits(&p, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        offset_min = sign * (oh * 60 + om);
    }
    if (*p != '\0')
        return -EINVAL;

    if (mon < 1 || mon > 12 || day < 1 || hour > 23 || min > 59 || sec > 60)
        return -EINVAL;
    if (day > month_days[mon - 1] + (mon == 2 && is_leap(year)))
        return -EINVAL;
    if (sec == 60) { /* a leap second reads as the last moment of the minute */
        sec = 59;
        ms = 999;
    }

    days = days_from_civil(year, mon, day);
    *out_ms = ((days * 24 + hour) * 60 + min - offset_min) * 60000 + (int64_t)sec * 1000 + ms;
    return 0;
}
