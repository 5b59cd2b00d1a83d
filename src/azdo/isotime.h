/* isotime.h - ISO-8601 / RFC 3339 timestamps as Azure DevOps sends them, to Unix milliseconds. */
#ifndef AZDO_AZDO_ISOTIME_H
#define AZDO_AZDO_ISOTIME_H

#include <stdint.h>

/* Parses "YYYY-MM-DDTHH:MM:SS[.f...](Z|+HH:MM|-HH:MM|+HHMM)" into milliseconds since the Unix
 * epoch, UTC. Any number of fraction digits is accepted (the service sends 0 to 7); digits past
 * milliseconds are truncated. A missing zone is read as UTC (the service always writes Z, and
 * .NET's "unspecified" kind is UTC there). A lowercase 't'/'z' or a space for 'T' is accepted.
 * Returns 0, or -EINVAL for anything else, including out-of-range fields and trailing junk. */
int azdo_isotime_parse(const char *text, int64_t *out_ms);

#endif
