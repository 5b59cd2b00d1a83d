/* kube/kubeconfig.c - the current context of one or more kubeconfig files.
 *
 * Merging follows kubectl for what we read: files are consulted in order and the first one that
 * defines current-context, or a context/cluster/user of a given name, wins. Relative paths
 * (certificate-authority, client-certificate, client-key, tokenFile) resolve against the
 * directory of the file that holds them. What we cannot honour is refused by name rather than
 * ignored, because a silently dropped setting (a proxy, an exec plugin) would send requests
 * somewhere unintended or without credentials. */
#include "kube/config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/yaml.h"

#define KUBECONFIG_MAX_FILES 16
#define KUBECONFIG_MAX_BYTES (4u * 1024 * 1024)

struct kc_file {
    char *path;
    json_t *doc;
};

struct kc_set {
    struct kc_file files[KUBECONFIG_MAX_FILES];
    int n;
};

/* ---- helpers ---------------------------------------------------------------------------------- */

static int read_whole(const char *path, char **out, size_t *len, struct err *err)
{
    FILE *f = fopen(path, "re");
    char *buf;
    size_t n;

    if (f == NULL)
        return err_set(err, -errno, "cannot open kubeconfig '%s': %s", path, strerror(errno));
    buf = malloc(KUBECONFIG_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return err_set(err, -ENOMEM, "cannot allocate kubeconfig buffer");
    }
    n = fread(buf, 1, KUBECONFIG_MAX_BYTES + 1, f);
    fclose(f);
    if (n > KUBECONFIG_MAX_BYTES) {
        free(buf);
        return err_set(err, -EFBIG, "kubeconfig '%s' is larger than 4 MiB", path);
    }
    *out = buf;
    *len = n;
    return 0;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 (whitespace ignored, padding optional) into a new NUL-terminated string. */
static int b64_decode(const char *in, char **out)
{
    size_t cap = strlen(in) / 4 * 3 + 4;
    char *buf = malloc(cap);
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;

    if (buf == NULL)
        return -ENOMEM;
    for (const char *p = in; *p != '\0'; p++) {
        int v;

        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        if (*p == '=')
            break;
        v = b64_value(*p);
        if (v < 0) {
            free(buf);
            return -EINVAL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n) != NULL) {
        free(buf); /* PEM is text; a NUL means this is not what we expect */
        return -EINVAL;
    }
    *out = buf;
    return 0;
}

static const char *str_field(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Resolves 'rel' against the directory of 'file' (absolute paths pass through). New string. */
static char *resolve_path(const char *file, const char *rel)
{
    const char *slash = strrchr(file, '/');
    char *out;
    size_t len;

    if (rel[0] == '/' || slash == NULL)
        return strdup(rel);
    len = (size_t)(slash - file) + 1 + strlen(rel) + 1;
    out = malloc(len);
    if (out != NULL)
        snprintf(out, len, "%.*s/%s", (int)(slash - file), file, rel);
    return out;
}

/* Finds the entry named 'name' in the array 'list_key' ("contexts") of the first file that has
 * it; returns its inner object ('inner_key': "context") and the file index in '*file_idx'. */
static json_t *find_named(struct kc_set *set, const char *list_key, const char *inner_key,
                          const char *name, int *file_idx)
{
    for (int f = 0; f < set->n; f++) {
        json_t *list = json_object_get(set->files[f].doc, list_key);
        size_t i;
        json_t *item;

        if (!json_is_array(list))
            continue;
        json_array_foreach(list, i, item) {
            const char *n = str_field(item, "name");

            if (n != NULL && strcmp(n, name) == 0) {
                *file_idx = f;
                return json_object_get(item, inner_key);
            }
        }
    }
    return NULL;
}

/* ---- loading ---------------------------------------------------------------------------------- */

static int load_one(struct kc_set *set, const char *path, bool skip_missing, struct err *err)
{
    char *text = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    const char *kind;
    int rc;

    if (set->n == KUBECONFIG_MAX_FILES)
        return err_set(err, -E2BIG, "more than %d kubeconfig files", KUBECONFIG_MAX_FILES);
    rc = read_whole(path, &text, &len, err);
    if (rc == -ENOENT && skip_missing)
        return 0;
    if (rc != 0)
        return rc;
    rc = kube_yaml_parse(text, len, &doc, err);
    free(text);
    if (rc != 0)
        return err_wrap(err, "cannot read kubeconfig '%s'", path);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return err_set(err, -EINVAL, "kubeconfig '%s' is not a mapping", path);
    }
    kind = str_field(doc, "kind");
    if (kind != NULL && strcmp(kind, "Config") != 0) {
        /* 'kind' lives in 'doc': write the message before letting go of it. */
        rc = err_set(err, -EINVAL, "kubeconfig '%s' has kind '%s', expected Config", path, kind);
        json_decref(doc);
        return rc;
    }
    set->files[set->n].path = strdup(path);
    set->files[set->n].doc = doc;
    set->n++;
    return 0;
}

static void set_free(struct kc_set *set)
{
    for (int i = 0; i < set->n; i++) {
        free(set->files[i].path);
        json_decref(set->files[i].doc);
    }
}

/* Sets '*dst' from '<key>-data' (base64) or '<key>' (a path) in 'obj'. */
static int take_pem_or_path(const json_t *obj, const char *key, const char *file, char **pem,
                            char **path, struct err *err)
{
    char data_key[64];
    const char *data, *rel;
    int rc;

    snprintf(data_key, sizeof(data_key), "%s-data", key);
    data = str_field(obj, data_key);
    rel = str_field(obj, key);
    if (data != NULL && data[0] != '\0') {
        rc = b64_decode(data, pem);
        if (rc != 0)
            return err_set(err, rc, "kubeconfig '%s': %s is not valid base64 text", file,
                           data_key);
    } else if (rel != NULL && rel[0] != '\0') {
        *path = resolve_path(file, rel);
        if (*path == NULL)
            return err_set(err, -ENOMEM, "cannot allocate path");
    }
    return 0;
}

static bool truthy(const json_t *v)
{
    const char *s = json_string_value(v);

    return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0);
}

static int fill_cluster(struct kube_config *cfg, const json_t *cluster, const char *file,
                        const char *name, struct err *err)
{
    const char *server = str_field(cluster, "server");
    size_t len;

    if (json_object_get(cluster, "proxy-url") != NULL &&
        !json_is_null(json_object_get(cluster, "proxy-url")))
        return err_set(err, -ENOTSUP, "kubeconfig cluster '%s': proxy-url is not supported", name);
    if (str_field(cluster, "tls-server-name") != NULL)
        return err_set(err, -ENOTSUP, "kubeconfig cluster '%s': tls-server-name is not supported",
                       name);
    if (server == NULL || server[0] == '\0')
        return err_set(err, -EINVAL, "kubeconfig cluster '%s' has no server", name);
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return err_set(err, -EINVAL, "kubeconfig cluster '%s': server '%s' is not an http(s) url",
                       name, server);
    cfg->server = strdup(server);
    if (cfg->server == NULL)
        return err_set(err, -ENOMEM, "cannot allocate server");
    len = strlen(cfg->server);
    while (len > 0 && cfg->server[len - 1] == '/')
        cfg->server[--len] = '\0';
    cfg->insecure_skip_verify = truthy(json_object_get(cluster, "insecure-skip-tls-verify"));
    return take_pem_or_path(cluster, "certificate-authority", file, &cfg->ca_pem, &cfg->ca_file,
                            err);
}

static int fill_user(struct kube_config *cfg, const json_t *user, const char *file,
                     const char *name, struct err *err)
{
    static const char *const refused[] = {"exec", "auth-provider", "username", "password", "as",
                                          "as-groups", "as-uid", "as-user-extra"};
    const char *token = str_field(user, "token");
    const char *token_file = str_field(user, "tokenFile");
    int rc;

    if (user == NULL || json_is_null(user))
        return 0; /* an anonymous user: no credentials */
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        json_t *v = json_object_get(user, refused[i]);

        if (v != NULL && !json_is_null(v))
            return err_set(err, -ENOTSUP,
                           "kubeconfig user '%s': '%s' is not supported (use a token, tokenFile or "
                           "client certificate)", name, refused[i]);
    }
    if (token != NULL && token[0] != '\0' && (cfg->token = strdup(token)) == NULL)
        return err_set(err, -ENOMEM, "cannot allocate token");
    /* client-go: with both, the file is re-read and its value wins. */
    if (token_file != NULL && token_file[0] != '\0' &&
        (cfg->token_file = resolve_path(file, token_file)) == NULL)
        return err_set(err, -ENOMEM, "cannot allocate token path");
    rc = take_pem_or_path(user, "client-certificate", file, &cfg->client_cert_pem,
                          &cfg->client_cert_file, err);
    if (rc == 0)
        rc = take_pem_or_path(user, "client-key", file, &cfg->client_key_pem,
                              &cfg->client_key_file, err);
    if (rc == 0 && (cfg->client_cert_pem != NULL || cfg->client_cert_file != NULL) !=
                       (cfg->client_key_pem != NULL || cfg->client_key_file != NULL))
        rc = err_set(err, -EINVAL, "kubeconfig user '%s': client certificate and key must be "
                                   "given together", name);
    return rc;
}

static int build(struct kc_set *set, const char *context, struct kube_config *cfg,
                 struct err *err)
{
    const char *ctx_name = context;
    const char *cluster_name, *user_name, *ns;
    json_t *ctx, *cluster, *user;
    int f_ctx = 0, f_cluster = 0, f_user = 0;
    char source[1200];

    for (int f = 0; ctx_name == NULL && f < set->n; f++) {
        const char *cur = str_field(set->files[f].doc, "current-context");

        if (cur != NULL && cur[0] != '\0')
            ctx_name = cur;
    }
    if (ctx_name == NULL)
        return err_set(err, -ENOENT, "kubeconfig has no current-context (pass --context)");
    ctx = find_named(set, "contexts", "context", ctx_name, &f_ctx);
    if (!json_is_object(ctx))
        return err_set(err, -ENOENT, "kubeconfig context '%s' not found", ctx_name);
    cluster_name = str_field(ctx, "cluster");
    user_name = str_field(ctx, "user");
    ns = str_field(ctx, "namespace");
    if (cluster_name == NULL)
        return err_set(err, -EINVAL, "kubeconfig context '%s' names no cluster", ctx_name);
    cluster = find_named(set, "clusters", "cluster", cluster_name, &f_cluster);
    if (!json_is_object(cluster))
        return err_set(err, -ENOENT, "kubeconfig cluster '%s' not found", cluster_name);
    if (fill_cluster(cfg, cluster, set->files[f_cluster].path, cluster_name, err) != 0)
        return err->code;
    if (user_name != NULL && user_name[0] != '\0') {
        user = find_named(set, "users", "user", user_name, &f_user);
        if (user == NULL)
            return err_set(err, -ENOENT, "kubeconfig user '%s' not found", user_name);
        if (fill_user(cfg, user, set->files[f_user].path, user_name, err) != 0)
            return err->code;
    }
    if (ns != NULL && ns[0] != '\0')
        cfg->ns = strdup(ns);
    snprintf(source, sizeof(source), "kubeconfig %s context %s", set->files[f_ctx].path,
             ctx_name);
    cfg->source = strdup(source);
    if (cfg->source == NULL || (ns != NULL && ns[0] != '\0' && cfg->ns == NULL))
        return err_set(err, -ENOMEM, "cannot allocate kube config");
    return 0;
}

int kube_config_from_kubeconfig(const char *paths, const char *context, struct kube_config **out,
                                struct err *err)
{
    struct kc_set set = {0};
    struct kube_config *cfg = NULL;
    char *list = strdup(paths), *save = NULL;
    bool several = strchr(paths, ':') != NULL;
    struct err local = {0};
    int rc = 0;

    if (err == NULL)
        err = &local; /* build() reads err->code */
    if (list == NULL)
        return err_set(err, -ENOMEM, "cannot allocate kubeconfig list");
    /* kubectl skips missing files in a KUBECONFIG list, but not a single named file. */
    for (char *p = strtok_r(list, ":", &save); p != NULL && rc == 0; p = strtok_r(NULL, ":", &save))
        rc = load_one(&set, p, several, err);
    free(list);
    if (rc == 0 && set.n == 0)
        rc = err_set(err, -ENOENT, "no kubeconfig file found in '%s'", paths);
    if (rc == 0) {
        cfg = calloc(1, sizeof(*cfg));
        rc = cfg != NULL ? build(&set, context, cfg, err)
                         : err_set(err, -ENOMEM, "cannot allocate kube config");
    }
    set_free(&set);
    if (rc != 0) {
        kube_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}
