/* fuzz_demand.c - libFuzzer target for demand expressions: the Azure DevOps client's parser and
 * matcher (src/azdo/demand.h: demand_parse, demand_satisfied, demands_satisfied,
 * demand_version_cmp, demand_set_key, demand_set_names) and the planner's reader
 * (src/plan/demand.h: plan_demand_key, plan_demand_keys_json).
 *
 * Input: newline-separated demand strings (up to 16). The agent's capabilities are made from the
 * same lines: each even-numbered line that parses as "name -op value" becomes capability
 * name=value, so demands meet capabilities that sometimes match them.
 *
 * Promises checked: a parsed demand has a non-empty name without spaces and a value exactly when
 * it has an operator; a failed parse leaves it empty; demands_satisfied is the AND of
 * demand_satisfied over the parsed demands (false when one does not parse); version comparison
 * is antisymmetric; the set key does not depend on the order of the demands, is a JSON array of
 * strings sorted and without duplicates; the planner's reader agrees with the client's parser on
 * every demand the client accepts, and both routing-key functions give the same text then. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "azdo/demand.h"
#include "fuzz.h"
#include "plan/demand.h"

#define MAX_DEMANDS 16

static void check_parsed(const char *text, const struct demand *d, int rc)
{
    if (rc != 0) {
        FUZZ_CHECK(rc == -EINVAL);
        FUZZ_CHECK(d->name == NULL && d->value == NULL);
        return;
    }
    FUZZ_CHECK(d->name != NULL && d->name[0] != '\0');
    for (const char *p = d->name; *p != '\0'; p++)
        FUZZ_CHECK(!isspace((unsigned char)*p));
    FUZZ_CHECK((d->op == DEMAND_EXISTS) == (d->value == NULL));
    FUZZ_CHECK(d->value == NULL || d->value[0] != '\0');
    FUZZ_CHECK(strstr(text, d->name) != NULL);
}

/* The planner reads the same name, lowercased, from every demand the client accepts. */
static void check_plan_agrees(const char *text, const struct demand *d)
{
    char key[256];
    int rc = plan_demand_key(text, key, sizeof(key));

    if (strlen(d->name) >= sizeof(key)) {
        FUZZ_CHECK(rc == -EINVAL);
        return;
    }
    FUZZ_CHECK(rc == (demand_is_agent_version(d->name) ? 0 : 1));
    FUZZ_CHECK(strlen(key) == strlen(d->name));
    for (size_t i = 0; key[i] != '\0'; i++)
        FUZZ_CHECK(key[i] == (char)tolower((unsigned char)d->name[i]));
}

static void check_key(const char *key)
{
    json_t *arr = json_loads(key, 0, NULL);
    const char *prev = NULL;
    size_t i;
    json_t *v;

    FUZZ_CHECK(json_is_array(arr));
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);

        FUZZ_CHECK(s != NULL);
        FUZZ_CHECK(prev == NULL || strcmp(prev, s) < 0);
        prev = s;
    }
    json_decref(arr);
}

static void check_versions(const char *a, const char *b)
{
    int ab = 2, ba = 2, aa = 2;
    int rc1 = demand_version_cmp(a, b, &ab);
    int rc2 = demand_version_cmp(b, a, &ba);

    FUZZ_CHECK(rc1 == rc2);
    if (rc1 == 0) {
        FUZZ_CHECK(ab == -ba && ab >= -1 && ab <= 1);
        FUZZ_CHECK(demand_version_cmp(a, a, &aa) == 0 && aa == 0);
    } else {
        FUZZ_CHECK(rc1 == -EINVAL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    char *lines[MAX_DEMANDS], *reversed[MAX_DEMANDS];
    struct demand parsed[MAX_DEMANDS];
    int rcs[MAX_DEMANDS];
    struct azdo_caps caps = {0};
    size_t n = fuzz_split(text, size, '\n', lines, MAX_DEMANDS);
    bool all_parse = true, all_ok = true;
    char *key = NULL, *key_rev = NULL, *names = NULL, *plan_keys = NULL;
    struct err err = {0};
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++) {
        char small[4];

        (void)plan_demand_key(lines[i], small, sizeof(small));
        rcs[i] = demand_parse(lines[i], &parsed[i], &err);
        check_parsed(lines[i], &parsed[i], rcs[i]);
        if (rcs[i] == 0) {
            check_plan_agrees(lines[i], &parsed[i]);
            if (i % 2 == 0 && parsed[i].value != NULL)
                FUZZ_CHECK(azdo_caps_set(&caps, parsed[i].name, parsed[i].value, i % 4 == 0) ==
                           0);
        }
        all_parse = all_parse && rcs[i] == 0;
        reversed[n - 1 - i] = lines[i];
        /* Lines that are not UTF-8 cannot be JSON strings; the store never holds them. */
        if (arr != NULL && json_array_append_new(arr, json_string(lines[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }

    /* Matching: the list answer is the AND of the single answers. */
    for (size_t i = 0; i < n; i++) {
        const char *have;

        if (rcs[i] != 0)
            continue;
        all_ok = all_ok && demand_satisfied(&parsed[i], &caps);
        have = azdo_caps_get(&caps, parsed[i].name);
        if (parsed[i].op == DEMAND_EQUALS && have != NULL)
            FUZZ_CHECK(demand_satisfied(&parsed[i], &caps) ==
                       (strcasecmp(have, parsed[i].value) == 0));
        if (parsed[i].op == DEMAND_GT_VERSION && have != NULL)
            check_versions(have, parsed[i].value);
    }
    FUZZ_CHECK(demands_satisfied((const char *const *)lines, n, &caps) == (all_parse && all_ok));
    FUZZ_CHECK(demands_satisfied(NULL, 0, &caps));

    /* Capability set keys: order does not matter. */
    if (demand_set_key((const char *const *)lines, n, &key, &err) == 0) {
        check_key(key);
        FUZZ_CHECK(demand_set_key((const char *const *)reversed, n, &key_rev, &err) == 0);
        FUZZ_CHECK(strcmp(key, key_rev) == 0);
    }
    if (demand_set_names((const char *const *)lines, n, &names, &err) == 0) {
        check_key(names);
        /* The store's routing keys come from plan_demand_keys_json over the same demands. */
        if (all_parse && arr != NULL) {
            char *json = json_dumps(arr, JSON_COMPACT);
            bool short_names = true;

            for (size_t i = 0; i < n; i++)
                short_names = short_names && strlen(parsed[i].name) < 256;
            FUZZ_CHECK(json != NULL);
            FUZZ_CHECK(plan_demand_keys_json(json, &plan_keys, &err) == 0);
            if (short_names)
                FUZZ_CHECK(strcmp(plan_keys, names) == 0);
            free(json);
        }
    }
    /* The planner's reader on the raw input, which may be any text. */
    free(plan_keys);
    plan_keys = NULL;
    free(text);
    text = fuzz_strndup(data, size);
    if (plan_demand_keys_json(text, &plan_keys, &err) == 0)
        check_key(plan_keys);

    for (size_t i = 0; i < n; i++)
        demand_clear(&parsed[i]);
    azdo_caps_clear(&caps);
    json_decref(arr);
    free(key);
    free(key_rev);
    free(names);
    free(plan_keys);
    free(text);
    return 0;
}
