/* url.h - Azure DevOps organisation URLs, and the endpoint URLs built from them.
 *
 * A RunnerPool's azDoUrl names an organisation (Azure DevOps Services) or a project collection
 * (Azure DevOps Server). azdo_org_parse() checks it once and yields:
 *   - 'base': where the REST paths go ("<base>/_apis/distributedtask/..."), no trailing slash;
 *   - 'key': the organisation's identity for throttling gates and counters. Both Services spellings
 *     of one organisation ("https://dev.azure.com/Org", "https://org.visualstudio.com") give the
 *     same key, "dev.azure.com/org", because the service throttles them as one.
 * Endpoint builders return new strings (free()), with api-version and query parameters set the way
 * the operator needs them (see the reference, sections 2-5). */
#ifndef AZDO_AZDO_URL_H
#define AZDO_AZDO_URL_H

#include <stdint.h>

#include "err.h"

#define AZDO_URL_MAX 512

/* The api-version sent to pools and agents endpoints (GA). Job requests get none: the endpoint is
 * undocumented and known clients (KEDA) omit it. */
#define AZDO_API_VERSION "7.1"

enum azdo_flavor {
    AZDO_SERVICES, /* dev.azure.com/<org> or <org>.visualstudio.com */
    AZDO_SERVER,   /* https://host[/path]: an Azure DevOps Server collection */
    AZDO_LOOPBACK, /* http(s)://127.0.0.1|localhost|[::1][:port][/path]: the simulated world */
};

struct azdo_org {
    char base[AZDO_URL_MAX]; /* "https://dev.azure.com/my-org": scheme and host lowercased */
    char key[AZDO_URL_MAX]; /* "dev.azure.com/my-org": lowercase, no scheme, default port dropped */
    enum azdo_flavor flavor;
};

/* Parses 'azdo_url' into 'out'. Accepted: https for any host; http only for a loopback host (a
 * PAT must not cross a network in clear text). Rejected with -EINVAL and a reason: credentials
 * in the URL (the message does not quote it then), a query or fragment, a Services URL with a
 * project or other path after the organisation, whitespace or control characters, overlong
 * URLs. Trailing slashes are dropped. */
int azdo_org_parse(const char *azdo_url, struct azdo_org *out, struct err *err);

/* Percent-encodes 's' for a query value (RFC 3986 unreserved characters kept). New string, or
 * NULL when out of memory. */
char *azdo_url_escape(const char *s);

/* Which optional parts an agents request asks for. */
enum {
    AZDO_INC_ASSIGNED = 1 << 0,       /* includeAssignedRequest=true: busy agents show it */
    AZDO_INC_CAPABILITIES = 1 << 1,   /* includeCapabilities=true */
    AZDO_INC_LAST_COMPLETED = 1 << 2, /* includeLastCompletedRequest=true: idle-since time */
};

/* GET <base>/_apis/distributedtask/pools?poolName=<escaped>&poolType=automation&api-version=7.1
 * (poolType keeps a deployment pool of the same name out). '*out' is new. 0 or -ENOMEM. */
int azdo_url_pool_by_name(const struct azdo_org *org, const char *pool_name, char **out,
                          struct err *err);

/* <base>/_apis/distributedtask/pools/<pool_id>/agents?<include flags>&api-version=7.1
 * Used for the agent list (GET) and for registration (POST, include 0). */
int azdo_url_agents(const struct azdo_org *org, int64_t pool_id, unsigned include, char **out,
                    struct err *err);

/* <base>/_apis/distributedtask/pools/<pool_id>/agents/<agent_id>?<include flags>&api-version=7.1
 * Used for GET, PATCH and DELETE of one agent. */
int azdo_url_agent(const struct azdo_org *org, int64_t pool_id, int64_t agent_id, unsigned include,
                   char **out, struct err *err);

/* <base>/_apis/distributedtask/pools/<pool_id>/jobrequests?completedRequestCount=0
 * Only queued and running requests: the unfiltered list carries the pool's whole finished
 * history, which grows until the call times out and is capped at about 200 entries (field
 * report #2). */
int azdo_url_jobrequests(const struct azdo_org *org, int64_t pool_id, char **out, struct err *err);

#endif
