/* demand.c - demand strings to routing keys. See demand.h for the grammar. */
#include "plan/demand.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int plan_demand_key(const char *demand, char *key, size_t key_len)
{
    const char *p = demand;
    size_t n = 0;

    if (demand == NULL || key_len == 0)
        return -EINVAL;
    while (isspace((unsigned char)*p))
        p++;
    const char *name = p;
    while (*p != '\0' && !isspace((unsigned char)*p))
        p++;
    n = (size_t)(p - name);
    if (n == 0 || n >= key_len)
        return -EINVAL;
    /* What follows the name must be nothing, or "-opcode value". */
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0') {
        if (*p != '-')
            return -EINVAL;
        while (*p != '\0' && !isspace((unsigned char)*p))
            p++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return -EINVAL; /* an opcode with no value ("maven -exists") is not a demand */
    }
    for (size_t i = 0; i < n; i++)
        key[i] = (char)tolower((unsigned char)name[i]);
    key[n] = '\0';
    /* The service injects "Agent.Version -gtVersion x" into jobs; every agent satisfies it, so
     * counting it would route jobs to no image at all (field report #3). */
    if (strcmp(key, "agent.version") == 0)
        return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int plan_demand_keys_json(const char *demands_json, char **out, struct err *err)
{
    json_t *arr = NULL, *res = NULL;
    char **keys = NULL;
    size_t n = 0;
    int rc = 0;

    *out = NULL;
    if (demands_json == NULL || demands_json[0] == '\0') {
        *out = strdup("[]");
        return *out != NULL ? 0 : err_set(err, -ENOMEM, "out of memory");
    }
    arr = json_loads(demands_json, 0, NULL);
    if (!json_is_array(arr)) {
        rc = err_set(err, -EINVAL, "demands are not a JSON array");
        goto out;
    }
    keys = calloc(json_array_size(arr) + 1, sizeof(*keys));
    res = json_array();
    if (keys == NULL || res == NULL) {
        rc = err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        char key[256];
        if (!json_is_string(v) || plan_demand_key(json_string_value(v), key, sizeof(key)) != 1)
            continue;
        keys[n] = strdup(key);
        if (keys[n] == NULL) {
            rc = err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; i < n; i++) {
        if (i > 0 && strcmp(keys[i], keys[i - 1]) == 0)
            continue;
        json_array_append_new(res, json_string(keys[i]));
    }
    *out = json_dumps(res, JSON_COMPACT);
    if (*out == NULL)
        rc = err_set(err, -ENOMEM, "out of memory");
out:
    if (keys != NULL) {
        for (i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
    }
    json_decref(res);
    json_decref(arr);
    return rc;
}
