/* url.c - organisation URL parsing and endpoint URL building (see url.h).
 *
 * Parsing is deliberately strict: the URL decides where a PAT is sent, so anything unusual
 * (credentials, query, clear text to a remote host) is refused rather than guessed at. */
#include "azdo/url.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The pieces of an absolute URL. */
struct parts {
    bool https;
    char host[256];          /* lowercased; IPv6 keeps its brackets */
    long port;               /* 0 when absent or equal to the scheme's default */
    char path[AZDO_URL_MAX]; /* original case, "" or "/..." without trailing slashes */
};

static void lower(char *s)
{
    for (; *s != '\0'; s++)
        *s = (char)tolower((unsigned char)*s);
}

static bool is_loopback(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
        return true;
    if (strncmp(host, "127.", 4) != 0)
        return false;
    /* Only a dotted numeric address: "127.evil.example" is a DNS name, not loopback. */
    for (const char *p = host; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return false;
    }
    return true;
}

static int split_authority(const char *auth, size_t len, struct parts *p, struct err *err)
{
    const char *host_end = auth + len;
    const char *colon = NULL;

    if (len == 0)
        return err_set(err, -EINVAL, "azDoUrl has no host");
    if (memchr(auth, '@', len) != NULL)
        return err_set(err, -EINVAL,
                       "azDoUrl must not carry credentials: the PAT comes from "
                       "the Secret named by patSecretName");
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', len);
        if (close == NULL)
            return err_set(err, -EINVAL, "azDoUrl has an unterminated IPv6 address");
        host_end = close + 1;
        if (host_end < auth + len) {
            if (*host_end != ':')
                return err_set(err, -EINVAL, "azDoUrl has junk after its IPv6 address");
            colon = host_end;
        }
    } else {
        colon = memchr(auth, ':', len);
        if (colon != NULL)
            host_end = colon;
    }
    if (host_end == auth || (size_t)(host_end - auth) >= sizeof(p->host))
        return err_set(err, -EINVAL, "azDoUrl has an empty or overlong host");
    memcpy(p->host, auth, (size_t)(host_end - auth));
    p->host[host_end - auth] = '\0';
    lower(p->host);

    p->port = 0;
    if (colon != NULL) {
        char digits[8];
        size_t n = (size_t)(auth + len - colon - 1);
        char *end = NULL;
        long port;

        if (n == 0 || n >= sizeof(digits))
            return err_set(err, -EINVAL, "azDoUrl has an invalid port");
        memcpy(digits, colon + 1, n);
        digits[n] = '\0';
        port = strtol(digits, &end, 10);
        if (*end != '\0' || !isdigit((unsigned char)digits[0]) || port < 1 || port > 65535)
            return err_set(err, -EINVAL, "azDoUrl has an invalid port '%s'", digits);
        if (port != (p->https ? 443 : 80))
            p->port = port;
    }
    return 0;
}

static int split_url(const char *url, struct parts *p, struct err *err)
{
    const char *rest;
    size_t auth_len, path_len;
    int rc;

    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\')
            return err_set(err, -EINVAL, "azDoUrl contains whitespace or control characters");
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        p->https = true;
        rest = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p->https = false;
        rest = url + 7;
    } else {
        return err_set(err, -EINVAL, "azDoUrl must start with https://");
    }
    if (strpbrk(rest, "?#") != NULL)
        return err_set(err, -EINVAL, "azDoUrl must not have a query or fragment");

    auth_len = strcspn(rest, "/");
    rc = split_authority(rest, auth_len, p, err);
    if (rc < 0)
        return rc;

    rest += auth_len;
    path_len = strlen(rest);
    while (path_len > 0 && rest[path_len - 1] == '/')
        path_len--;
    if (path_len >= sizeof(p->path))
        return err_set(err, -EINVAL, "azDoUrl is too long");
    memcpy(p->path, rest, path_len);
    p->path[path_len] = '\0';
    if (strstr(p->path, "//") != NULL)
        return err_set(err, -EINVAL, "azDoUrl has an empty path segment");
    return 0;
}

/* Services: the organisation name, or -EINVAL when the path is not just the organisation. */
static int services_org(const struct parts *p, char *org, size_t org_size, struct err *err)
{
    const char *name;
    size_t len;

    if (strcmp(p->host, "dev.azure.com") == 0) {
        if (p->path[0] == '\0')
            return err_set(err, -EINVAL,
                           "azDoUrl 'https://dev.azure.com' lacks the "
                           "organisation: use https://dev.azure.com/<org>");
        name = p->path + 1;
        if (strchr(name, '/') != NULL)
            return err_set(err, -EINVAL,
                           "azDoUrl has a path after the organisation (agent "
                           "pools are organisation-wide): use "
                           "https://dev.azure.com/<org>");
        len = strlen(name);
    } else {
        /* <org>.visualstudio.com, optionally with the legacy "/DefaultCollection". */
        len = strlen(p->host) - strlen(".visualstudio.com");
        name = p->host;
        if (len == 0 || memchr(name, '.', len) != NULL)
            return err_set(err, -EINVAL, "azDoUrl host '%s' is not <org>.visualstudio.com",
                           p->host);
        if (p->path[0] != '\0' && strcasecmp(p->path, "/DefaultCollection") != 0)
            return err_set(err, -EINVAL,
                           "azDoUrl has a path after the organisation (agent "
                           "pools are organisation-wide): use "
                           "https://<org>.visualstudio.com");
    }
    if (len + 1 > org_size)
        return err_set(err, -EINVAL, "azDoUrl organisation name is too long");
    memcpy(org, name, len);
    org[len] = '\0';
    lower(org);
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int azdo_org_parse(const char *azdo_url, struct azdo_org *out, struct err *err)
{
    struct parts p;
    char port[16] = "";
    char lower_path[AZDO_URL_MAX];
    int n, rc;

    memset(out, 0, sizeof(*out));
    if (azdo_url == NULL || azdo_url[0] == '\0')
        return err_set(err, -EINVAL, "azDoUrl is empty");
    if (strlen(azdo_url) >= AZDO_URL_MAX - 128)
        return err_set(err, -EINVAL, "azDoUrl is too long");
    rc = split_url(azdo_url, &p, err);
    if (rc < 0)
        return rc;
    if (p.port != 0)
        snprintf(port, sizeof(port), ":%ld", p.port);

    if (is_loopback(p.host))
        out->flavor = AZDO_LOOPBACK;
    else if (strcmp(p.host, "dev.azure.com") == 0 || ends_with(p.host, ".visualstudio.com"))
        out->flavor = AZDO_SERVICES;
    else
        out->flavor = AZDO_SERVER;
    if (!p.https && out->flavor != AZDO_LOOPBACK)
        return err_set(err, -EINVAL,
                       "azDoUrl must use https for host '%s': plain http would "
                       "send the PAT in clear text",
                       p.host);

    n = snprintf(out->base, sizeof(out->base), "%s://%s%s%s", p.https ? "https" : "http", p.host,
                 port, p.path);
    if (n < 0 || (size_t)n >= sizeof(out->base))
        return err_set(err, -EINVAL, "azDoUrl is too long");

    if (out->flavor == AZDO_SERVICES) {
        char org[256];
        rc = services_org(&p, org, sizeof(org), err);
        if (rc < 0)
            return rc;
        n = snprintf(out->key, sizeof(out->key), "dev.azure.com/%s", org);
    } else {
        /* Server collection names and IIS paths are case-insensitive. */
        snprintf(lower_path, sizeof(lower_path), "%s", p.path);
        lower(lower_path);
        n = snprintf(out->key, sizeof(out->key), "%s%s%s", p.host, port, lower_path);
    }
    if (n < 0 || (size_t)n >= sizeof(out->key))
        return err_set(err, -EINVAL, "azDoUrl is too long");
    return 0;
}

char *azdo_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = malloc(3 * len + 1);
    char *o = out;

    if (out == NULL)
        return NULL;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (isalnum(*c) || *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            *o++ = (char)*c;
        } else {
            *o++ = '%';
            *o++ = hex[*c >> 4];
            *o++ = hex[*c & 0xf];
        }
    }
    *o = '\0';
    return out;
}

/* asprintf with the module's error convention. */
static int format(char **out, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int format(char **out, struct err *err, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(out, fmt, ap);
    va_end(ap);
    if (n < 0) {
        *out = NULL;
        return err_set(err, -ENOMEM, "cannot build request url: out of memory");
    }
    return 0;
}

int azdo_url_pool_by_name(const struct azdo_org *org, const char *pool_name, char **out,
                          struct err *err)
{
    char *name = azdo_url_escape(pool_name);
    int rc;

    if (name == NULL) {
        *out = NULL;
        return err_set(err, -ENOMEM, "cannot build request url: out of memory");
    }
    rc = format(out, err,
                "%s/_apis/distributedtask/pools?poolName=%s&poolType=automation&api-version=%s",
                org->base, name, AZDO_API_VERSION);
    free(name);
    return rc;
}

/* "includeX=true&" for each flag, in a fixed order so URLs are predictable in tests and logs. */
static void include_query(unsigned include, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s",
             (include & AZDO_INC_CAPABILITIES) ? "includeCapabilities=true&" : "",
             (include & AZDO_INC_ASSIGNED) ? "includeAssignedRequest=true&" : "",
             (include & AZDO_INC_LAST_COMPLETED) ? "includeLastCompletedRequest=true&" : "");
}

int azdo_url_agents(const struct azdo_org *org, int64_t pool_id, unsigned include, char **out,
                    struct err *err)
{
    char inc[128];

    include_query(include, inc, sizeof(inc));
    return format(out, err, "%s/_apis/distributedtask/pools/%" PRId64 "/agents?%sapi-version=%s",
                  org->base, pool_id, inc, AZDO_API_VERSION);
}

int azdo_url_agent(const struct azdo_org *org, int64_t pool_id, int64_t agent_id, unsigned include,
                   char **out, struct err *err)
{
    char inc[128];

    include_query(include, inc, sizeof(inc));
    return format(out, err,
                  "%s/_apis/distributedtask/pools/%" PRId64 "/agents/%" PRId64 "?%sapi-version=%s",
                  org->base, pool_id, agent_id, inc, AZDO_API_VERSION);
}

int azdo_url_jobrequests(const struct azdo_org *org, int64_t pool_id, char **out, struct err *err)
{
    return format(out, err,
                  "%s/_apis/distributedtask/pools/%" PRId64 "/jobrequests?completedRequestCount=0",
                  org->base, pool_id);
}
