/* k8s_names.c - Kubernetes name syntax (see k8s_names.h). Hand-written scanners rather than
 * regcomp(): the rules are short, and a scanner cannot fail to compile at run time. */
#include "k8s_names.h"

#include <string.h>

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* One DNS-1123 label in s[0..len): lowercase alphanumerics and '-', alphanumeric at both ends. */
static bool label_span_ok(const char *s, size_t len)
{
    if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

bool k8s_name_is_dns1123_label(const char *s)
{
    if (s == NULL)
        return false;
    size_t len = strlen(s);
    return len <= K8S_DNS1123_LABEL_MAX && label_span_ok(s, len);
}

bool k8s_name_is_dns1123_subdomain(const char *s)
{
    if (s == NULL)
        return false;
    size_t len = strlen(s);
    if (len == 0 || len > K8S_DNS1123_SUBDOMAIN_MAX)
        return false;

    const char *part = s;
    for (;;) {
        const char *dot = strchr(part, '.');
        size_t part_len = dot != NULL ? (size_t)(dot - part) : strlen(part);
        if (!label_span_ok(part, part_len))
            return false;
        if (dot == NULL)
            return true;
        part = dot + 1;
    }
}

/* The label-value alphabet, non-empty: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? */
static bool name_span_ok(const char *s, size_t len)
{
    if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    }
    return true;
}

bool k8s_name_is_label_value(const char *s)
{
    if (s == NULL)
        return false;
    size_t len = strlen(s);
    if (len == 0)
        return true;
    return len <= K8S_LABEL_VALUE_MAX && name_span_ok(s, len);
}

bool k8s_name_is_qualified(const char *s)
{
    if (s == NULL)
        return false;
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash != NULL) {
        size_t prefix_len = (size_t)(slash - s);
        char prefix[K8S_DNS1123_SUBDOMAIN_MAX + 1];
        if (prefix_len == 0 || prefix_len > K8S_DNS1123_SUBDOMAIN_MAX)
            return false;
        memcpy(prefix, s, prefix_len);
        prefix[prefix_len] = '\0';
        if (!k8s_name_is_dns1123_subdomain(prefix))
            return false;
        name = slash + 1;
    }
    size_t len = strlen(name);
    return len <= K8S_LABEL_VALUE_MAX && name_span_ok(name, len);
}

bool k8s_name_is_env_var(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    if (!is_alpha(s[0]) && s[0] != '-' && s[0] != '.' && s[0] != '_')
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (!is_alnum(*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    }
    return true;
}

bool k8s_name_is_secret_key(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > K8S_DNS1123_SUBDOMAIN_MAX)
        return false;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (!is_alnum(*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    }
    return true;
}
