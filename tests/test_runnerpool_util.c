/* test_runnerpool_util.c - fixture loading, YAML conversion and patch helpers for the pool
 * suites (see test_runnerpool_util.h). */
#include "test_runnerpool_util.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *rp_srcdir(void)
{
    const char *dir = getenv("AZDO_SRCDIR");
    return dir != NULL && dir[0] != '\0' ? dir : AZDO_SRCDIR;
}

json_t *rp_fixture(const char *name)
{
    char path[1024];
    json_error_t jerr;

    snprintf(path, sizeof(path), "%s/tests/fixtures/pool/%s", rp_srcdir(), name);
    json_t *j = json_load_file(path, 0, &jerr);
    if (j == NULL)
        fail_msg("cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
    return j;
}

/* The first interpreter that has the yaml module: Debian's python3 carries python3-yaml even when
 * the python3 on PATH is another installation. */
static const char *python_with_yaml(void)
{
    static const char *const candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "%s -c 'import yaml' >/dev/null 2>&1", candidates[i]);
        if (system(cmd) == 0)
            return candidates[i];
    }
    return NULL;
}

json_t *rp_yaml(const char *relpath, bool all)
{
    const char *py = python_with_yaml();
    char cmd[2048];
    json_error_t jerr;

    if (py == NULL)
        return NULL;
    snprintf(cmd, sizeof(cmd),
             "%s -c 'import sys, json, yaml\n"
             "docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]\n"
             "print(json.dumps(docs if sys.argv[2] == \"all\" else docs[0]))' '%s/%s' %s",
             py, rp_srcdir(), relpath, all ? "all" : "one");
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    json_t *j = json_loadf(p, 0, &jerr);
    int rc = pclose(p);
    if (j == NULL || rc != 0)
        fail_msg("cannot convert %s from YAML: %s", relpath, j == NULL ? jerr.text : "exit status");
    return j;
}

void rp_merge_patch(json_t *target, const json_t *patch)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)patch, key, value) {
        json_t *current = json_object_get(target, key);
        if (json_is_null(value))
            json_object_del(target, key);
        else if (json_is_object(value) && json_is_object(current))
            rp_merge_patch(current, value);
        else
            json_object_set_new(target, key, json_deep_copy(value));
    }
}

/* Walks "/a/b/0" to the parent of the last token; '*last' points at that token in 'copy'. */
static json_t *parent_of(json_t *doc, char *copy, char **last)
{
    json_t *node = doc;
    char *token = copy + 1;
    char *slash;

    while ((slash = strchr(token, '/')) != NULL) {
        *slash = '\0';
        if (json_is_object(node))
            node = json_object_get(node, token);
        else if (json_is_array(node))
            node = json_array_get(node, strtoul(token, NULL, 10));
        else
            return NULL;
        token = slash + 1;
    }
    *last = token;
    return node;
}

int rp_apply_add_patch(json_t *doc, const json_t *ops)
{
    const json_t *op;
    size_t i;

    json_array_foreach(ops, i, op) {
        const char *kind = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        json_t *value = json_object_get(op, "value");
        char copy[512];
        char *last = NULL;

        if (kind == NULL || strcmp(kind, "add") != 0 || path == NULL || path[0] != '/' ||
            value == NULL)
            return -1;
        snprintf(copy, sizeof(copy), "%s", path);
        json_t *parent = parent_of(doc, copy, &last);
        if (json_is_object(parent))
            json_object_set_new(parent, last, json_deep_copy(value));
        else if (json_is_array(parent) && strcmp(last, "-") == 0)
            json_array_append_new(parent, json_deep_copy(value));
        else
            return -1;
    }
    return 0;
}
