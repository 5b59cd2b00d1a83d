/* demand.c - demand parsing and matching, capability lists, capability set keys (demand.h). */
#include "azdo/demand.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

/* ---- capabilities ---- */

int azdo_caps_set(struct azdo_caps *caps, const char *name, const char *value, bool user)
{
    char *v = strdup(value != NULL ? value : "");
    char *n;

    if (v == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < caps->len; i++) {
        if (strcasecmp(caps->items[i].name, name) == 0) {
            free(caps->items[i].value);
            caps->items[i].value = v;
            caps->items[i].user = user;
            return 0;
        }
    }
    if (caps->len == caps->cap) {
        size_t cap = caps->cap ? 2 * caps->cap : 16;
        struct azdo_cap *items = realloc(caps->items, cap * sizeof(*items));
        if (items == NULL) {
            free(v);
            return -ENOMEM;
        }
        caps->items = items;
        caps->cap = cap;
    }
    n = strdup(name);
    if (n == NULL) {
        free(v);
        return -ENOMEM;
    }
    caps->items[caps->len++] = (struct azdo_cap){.name = n, .value = v, .user = user};
    return 0;
}

const char *azdo_caps_get(const struct azdo_caps *caps, const char *name)
{
    for (size_t i = 0; caps != NULL && i < caps->len; i++) {
        if (strcasecmp(caps->items[i].name, name) == 0)
            return caps->items[i].value;
    }
    return NULL;
}

void azdo_caps_clear(struct azdo_caps *caps)
{
    if (caps == NULL)
        return;
    for (size_t i = 0; i < caps->len; i++) {
        free(caps->items[i].name);
        free(caps->items[i].value);
    }
    free(caps->items);
    caps->items = NULL;
    caps->len = 0;
    caps->cap = 0;
}

/* ---- parsing ---- */

static const char *skip_space(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

static const char *skip_word(const char *p)
{
    while (*p != '\0' && !isspace((unsigned char)*p))
        p++;
    return p;
}

int demand_parse(const char *text, struct demand *out, struct err *err)
{
    const char *name, *name_end, *op, *op_end, *value, *value_end;

    memset(out, 0, sizeof(*out));
    name = skip_space(text);
    name_end = skip_word(name);
    if (name_end == name)
        return err_set(err, -EINVAL, "empty demand");

    op = skip_space(name_end);
    if (*op == '\0') {
        out->op = DEMAND_EXISTS;
    } else {
        if (*op != '-')
            return err_set(err, -EINVAL,
                           "demand '%s': expected '-equals' or '-gtVersion' "
                           "after the name",
                           text);
        op_end = skip_word(op);
        if (op_end - op == 7 && strncasecmp(op, "-equals", 7) == 0) {
            out->op = DEMAND_EQUALS;
        } else if (op_end - op == 10 && strncasecmp(op, "-gtVersion", 10) == 0) {
            out->op = DEMAND_GT_VERSION;
        } else {
            return err_set(err, -EINVAL, "demand '%s': unknown operator '%.*s'", text,
                           (int)(op_end - op), op);
        }
        value = skip_space(op_end);
        if (value == op_end || *value == '\0')
            return err_set(err, -EINVAL, "demand '%s': operator '%.*s' needs a value", text,
                           (int)(op_end - op), op);
        value_end = value + strlen(value);
        while (value_end > value && isspace((unsigned char)value_end[-1]))
            value_end--;
        out->value = strndup(value, (size_t)(value_end - value));
        if (out->value == NULL)
            return err_set(err, -ENOMEM, "cannot parse demand: out of memory");
    }
    out->name = strndup(name, (size_t)(name_end - name));
    if (out->name == NULL) {
        demand_clear(out);
        return err_set(err, -ENOMEM, "cannot parse demand: out of memory");
    }
    return 0;
}

void demand_clear(struct demand *d)
{
    if (d == NULL)
        return;
    free(d->name);
    free(d->value);
    d->name = NULL;
    d->value = NULL;
}

/* ---- matching ---- */

int demand_version_cmp(const char *a, const char *b, int *cmp)
{
    const char *pa = a, *pb = b;

    /* Validate both first so a malformed tail is never half-compared. */
    for (const char *s = a; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s) && *s != '.')
            return -EINVAL;
    }
    for (const char *s = b; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s) && *s != '.')
            return -EINVAL;
    }
    if (!isdigit((unsigned char)*a) || !isdigit((unsigned char)*b))
        return -EINVAL;

    while (*pa != '\0' || *pb != '\0') {
        unsigned long long va = 0, vb = 0;
        char *end;

        if (*pa != '\0') {
            va = strtoull(pa, &end, 10);
            pa = *end == '.' ? end + 1 : end;
        }
        if (*pb != '\0') {
            vb = strtoull(pb, &end, 10);
            pb = *end == '.' ? end + 1 : end;
        }
        if (va != vb) {
            *cmp = va < vb ? -1 : 1;
            return 0;
        }
    }
    *cmp = 0;
    return 0;
}

bool demand_satisfied(const struct demand *d, const struct azdo_caps *caps)
{
    const char *have = azdo_caps_get(caps, d->name);
    int cmp;

    if (have == NULL)
        return false;
    switch (d->op) {
    case DEMAND_EXISTS:
        return true;
    case DEMAND_EQUALS:
        return strcasecmp(have, d->value) == 0;
    case DEMAND_GT_VERSION:
        return demand_version_cmp(have, d->value, &cmp) == 0 && cmp >= 0;
    }
    return false;
}

bool demands_satisfied(const char *const *demands, size_t n, const struct azdo_caps *caps)
{
    for (size_t i = 0; i < n; i++) {
        struct demand d;
        bool ok;

        if (demand_parse(demands[i], &d, NULL) < 0)
            return false;
        ok = demand_satisfied(&d, caps);
        demand_clear(&d);
        if (!ok)
            return false;
    }
    return true;
}

bool demand_is_agent_version(const char *name)
{
    return strcasecmp(name, "Agent.Version") == 0;
}

/* ---- capability set keys ---- */

static void lower(char *s)
{
    for (; *s != '\0'; s++)
        *s = (char)tolower((unsigned char)*s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Canonical text of one demand (or of its name only), new; NULL for an Agent.Version demand or
 * when out of memory ('*oom' tells which). */
static char *canonical(const char *text, bool names_only, bool *oom)
{
    struct demand d;
    char *out = NULL;

    *oom = false;
    if (demand_parse(text, &d, NULL) < 0) {
        /* Unparsable: keep it verbatim so the job still forms its own group. */
        out = strdup(text);
        if (out == NULL)
            *oom = true;
        else
            lower(out);
        return out;
    }
    if (demand_is_agent_version(d.name)) {
        demand_clear(&d);
        return NULL;
    }
    lower(d.name);
    if (d.op == DEMAND_EQUALS)
        lower(d.value);
    if (names_only || d.op == DEMAND_EXISTS)
        out = strdup(d.name);
    else if (asprintf(&out, "%s %s %s", d.name, d.op == DEMAND_EQUALS ? "-equals" : "-gtVersion",
                      d.value) < 0)
        out = NULL;
    if (out == NULL)
        *oom = true;
    demand_clear(&d);
    return out;
}

static int build_key(const char *const *demands, size_t n, bool names_only, char **out,
                     struct err *err)
{
    char **items = calloc(n ? n : 1, sizeof(*items));
    size_t len = 0;
    json_t *arr = json_array();
    int rc = 0;

    *out = NULL;
    if (items == NULL || arr == NULL) {
        rc = err_set(err, -ENOMEM, "cannot build capability set key: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bool oom;
        char *c = canonical(demands[i], names_only, &oom);
        if (oom) {
            rc = err_set(err, -ENOMEM, "cannot build capability set key: out of memory");
            goto out;
        }
        if (c != NULL)
            items[len++] = c;
    }
    qsort(items, len, sizeof(*items), cmp_str);
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && strcmp(items[i], items[i - 1]) == 0)
            continue;
        if (json_array_append_new(arr, json_string(items[i])) < 0) {
            rc = err_set(err, -EINVAL,
                         "cannot build capability set key: demand '%s' is not "
                         "valid UTF-8",
                         items[i]);
            goto out;
        }
    }
    *out = json_dumps(arr, JSON_COMPACT);
    if (*out == NULL)
        rc = err_set(err, -ENOMEM, "cannot build capability set key: out of memory");
out:
    for (size_t i = 0; items != NULL && i < len; i++)
        free(items[i]);
    free(items);
    json_decref(arr);
    return rc;
}

int demand_set_key(const char *const *demands, size_t n, char **out, struct err *err)
{
    return build_key(demands, n, false, out, err);
}

int demand_set_names(const char *const *demands, size_t n, char **out, struct err *err)
{
    return build_key(demands, n, true, out, err);
}
