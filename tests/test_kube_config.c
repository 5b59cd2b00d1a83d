/* test_kube_config.c - kubeconfig YAML subset, kubeconfig selection and merging, in-cluster
 * config, and token re-reading (src/kube/yaml.c, kubeconfig.c, config.c, token.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/config.h"
#include "kube/token.h"
#include "kube/yaml.h"

#define FIXTURES AZDO_SRCDIR "/tests/fixtures/kube/"

/* ---- YAML subset ---- */

static json_t *parse_ok(const char *text)
{
    json_t *doc = NULL;
    struct err err = {0};

    if (kube_yaml_parse(text, strlen(text), &doc, &err) != 0)
        fail_msg("yaml refused: %s", err.msg);
    return doc;
}

static void assert_json(json_t *doc, const char *expected)
{
    char *got = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);

    assert_string_equal(got, expected);
    free(got);
    json_decref(doc);
}

static void test_yaml_reads_kubectl_style_sequences_and_scalars(void **state)
{
    (void)state;
    assert_json(parse_ok("a:\n- name: x\n  v: 1\n- name: y\n  inner:\n    k: https://h:1/p\n"
                         "b: {}\nc: []\n"),
                "{\"a\":[{\"name\":\"x\",\"v\":\"1\"},{\"inner\":{\"k\":\"https://h:1/p\"},"
                "\"name\":\"y\"}],\"b\":{},\"c\":[]}");
    assert_json(parse_ok("list:\n  - - nested\n    - seq\n  -\n    k: v\n  - plain # comment\n"),
                "{\"list\":[[\"nested\",\"seq\"],{\"k\":\"v\"},\"plain\"]}");
    assert_json(parse_ok("q1: \"a\\\"b\\n\\u00E9\"\nq2: 'it''s # not a comment'\nn1:\nn2: ~\n"
                         "n3: null\nf: [a, \"b c\", 'd']\n\"quoted key\": v\n"),
                "{\"f\":[\"a\",\"b c\",\"d\"],\"n1\":null,\"n2\":null,\"n3\":null,"
                "\"q1\":\"a\\\"b\\n\\u00E9\",\"q2\":\"it's # not a comment\",\"quoted key\":\"v\"}");
    assert_json(parse_ok("---\n# only a comment\n"), "{}");
}

static void assert_refused(const char *text, int code, const char *needle)
{
    json_t *doc = NULL;
    struct err err = {0};

    assert_int_equal(kube_yaml_parse(text, strlen(text), &doc, &err), code);
    assert_null(doc);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_yaml_refuses_what_it_does_not_support_with_line_numbers(void **state)
{
    (void)state;
    assert_refused("a: 1\nb: &x 2\n", -ENOTSUP, "line 2: anchors");
    assert_refused("a: *x\n", -ENOTSUP, "line 1: anchors");
    assert_refused("a: !!str 1\n", -ENOTSUP, "tags");
    assert_refused("a: |\n  text\n", -ENOTSUP, "block scalars");
    assert_refused("a: {b: 1}\n", -ENOTSUP, "flow mappings");
    assert_refused("a:\n\tb: 1\n", -ENOTSUP, "line 2: tab");
    assert_refused("a: 1\n---\nb: 2\n", -ENOTSUP, "several documents");
    assert_refused("a: \"open\n", -ENOTSUP, "quoted");
    assert_refused("a: b\n  c\n", -ENOTSUP, "multi-line plain");
}

/* Found by tests/fuzz (kubeconfig): a plain scalar, key or flow item that is not UTF-8 became a
 * NULL value and vanished (a token silently dropped, or a whole document read as "no value"). */
static void test_yaml_refuses_text_that_is_not_utf8(void **state)
{
    (void)state;
    assert_refused("users:\n- name: u\n  user:\n    token: abc\xff\xfe\n", -EINVAL,
                   "line 4: plain scalar is not valid UTF-8");
    assert_refused("a: 1\nk\xc3: 2\n", -EINVAL, "line 2: key is not valid UTF-8");
    assert_refused("a: [x, y\xff]\n", -EINVAL, "line 1: flow sequence item is not valid UTF-8");
    assert_refused("\xe2\x82\n", -EINVAL, "line 1: plain scalar is not valid UTF-8");
    assert_json(parse_ok("caf\xc3\xa9: th\xc3\xa9 # \xff comments may hold anything\n"),
                "{\"caf\\u00E9\":\"th\\u00E9\"}");
}

/* ---- kubeconfig ---- */

static struct kube_config *load(const char *paths, const char *context)
{
    struct kube_config *cfg = NULL;
    struct err err = {0};

    if (kube_config_from_kubeconfig(paths, context, &cfg, &err) != 0)
        fail_msg("kubeconfig refused: %s", err.msg);
    return cfg;
}

static void test_kubeconfig_current_context_with_embedded_certificates(void **state)
{
    struct kube_config *cfg = load(FIXTURES "kind.yaml", NULL);
    struct http_tls tls;
    (void)state;

    assert_string_equal(cfg->server, "https://127.0.0.1:39123");
    assert_non_null(strstr(cfg->ca_pem, "-----BEGIN CERTIFICATE-----\nMIIBfakeCAcertificateForTests"));
    assert_non_null(strstr(cfg->client_cert_pem, "MIIBfakeClientCertificate"));
    assert_non_null(strstr(cfg->client_key_pem, "BEGIN EC PRIVATE KEY"));
    assert_null(cfg->token);
    assert_null(cfg->token_file);
    assert_null(cfg->ns);
    assert_false(cfg->insecure_skip_verify);
    kube_config_tls(cfg, &tls);
    assert_ptr_equal(tls.ca_pem, cfg->ca_pem);
    assert_ptr_equal(tls.client_key_pem, cfg->client_key_pem);
    kube_config_free(cfg);
}

static void test_kubeconfig_named_context_picks_its_cluster_user_and_namespace(void **state)
{
    struct kube_config *cfg = load(FIXTURES "kind.yaml", "other");
    char desc[512];
    (void)state;

    assert_string_equal(cfg->server, "https://other.example:6443");
    assert_string_equal(cfg->ns, "elsewhere");
    assert_string_equal(cfg->token, "other-token-value");
    assert_null(cfg->ca_pem);
    kube_config_describe(cfg, desc, sizeof(desc));
    assert_non_null(strstr(desc, "auth=token"));
    assert_null(strstr(desc, "other-token-value")); /* never the secret itself */
    kube_config_free(cfg);
}

static void test_kubeconfig_relative_paths_resolve_against_the_file(void **state)
{
    struct kube_config *cfg = load(FIXTURES "token-file.yaml", NULL);
    (void)state;

    assert_string_equal(cfg->server, "https://10.0.0.1:6443");
    assert_string_equal(cfg->ca_file, FIXTURES "certs/ca.crt");
    assert_string_equal(cfg->token_file, FIXTURES "secrets/token");
    assert_string_equal(cfg->token, "static-fallback");
    assert_string_equal(cfg->ns, "runners");
    kube_config_free(cfg);
}

static void test_kubeconfig_insecure_and_anonymous(void **state)
{
    struct kube_config *cfg = load(FIXTURES "insecure.yaml", NULL);
    (void)state;

    assert_string_equal(cfg->server, "http://127.0.0.1:8001");
    assert_true(cfg->insecure_skip_verify);
    assert_null(cfg->token);
    assert_null(cfg->client_cert_pem);
    kube_config_free(cfg);
}

static void test_kubeconfig_list_merges_first_wins(void **state)
{
    struct kube_config *cfg =
        load(FIXTURES "merge-a.yaml:" FIXTURES "missing-is-skipped.yaml:" FIXTURES "merge-b.yaml",
             NULL);
    (void)state;

    assert_string_equal(cfg->server, "https://first-wins.example:6443");
    assert_string_equal(cfg->token, "merged-token");
    assert_non_null(strstr(cfg->source, "context from-b"));
    kube_config_free(cfg);
}

static void assert_kubeconfig_refused(const char *path, const char *context, int code,
                                      const char *needle)
{
    struct kube_config *cfg = NULL;
    struct err err = {0};

    assert_int_equal(kube_config_from_kubeconfig(path, context, &cfg, &err), code);
    assert_null(cfg);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_kubeconfig_refusals_name_the_problem(void **state)
{
    (void)state;
    assert_kubeconfig_refused(FIXTURES "exec.yaml", NULL, -ENOTSUP, "'exec' is not supported");
    assert_kubeconfig_refused(FIXTURES "anchors.yaml", NULL, -ENOTSUP, "line 5: anchors");
    assert_kubeconfig_refused(FIXTURES "block-scalar.yaml", NULL, -ENOTSUP, "line 7: block");
    assert_kubeconfig_refused(FIXTURES "kind.yaml", "nope", -ENOENT, "context 'nope' not found");
    assert_kubeconfig_refused(FIXTURES "does-not-exist.yaml", NULL, -ENOENT, "cannot open");
}

/* Found by tests/fuzz (kubeconfig): the message quoted the kind after the document holding it
 * was freed (a use after free; ASan reports it, and the message showed freed memory). */
static void test_kubeconfig_of_another_kind_is_refused_by_name(void **state)
{
    char dir[] = "/tmp/test_kube_kind.XXXXXX";
    char path[64];
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/config", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("apiVersion: v1\nkind: ClusterRoleBindingListWithAVeryLongKindName\n", f);
    fclose(f);
    assert_kubeconfig_refused(path, NULL, -EINVAL,
                              "has kind 'ClusterRoleBindingListWithAVeryLongKindName', expected");
    unlink(path);
    rmdir(dir);
}

/* ---- in-cluster and the token ---- */

struct sa_dir {
    char dir[64];
    char token[128], ca[128], ns[128];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void sa_make(struct sa_dir *sa)
{
    snprintf(sa->dir, sizeof(sa->dir), "/tmp/test_kube_sa.XXXXXX");
    assert_non_null(mkdtemp(sa->dir));
    snprintf(sa->token, sizeof(sa->token), "%s/token", sa->dir);
    snprintf(sa->ca, sizeof(sa->ca), "%s/ca.crt", sa->dir);
    snprintf(sa->ns, sizeof(sa->ns), "%s/namespace", sa->dir);
    write_file(sa->token, "token-one\n");
    write_file(sa->ca, "-----BEGIN CERTIFICATE-----\n");
    write_file(sa->ns, "azdo-system\n");
}

static void sa_remove(struct sa_dir *sa)
{
    unlink(sa->token);
    unlink(sa->ca);
    unlink(sa->ns);
    rmdir(sa->dir);
}

static void test_in_cluster_reads_env_and_service_account_files(void **state)
{
    struct sa_dir sa;
    struct kube_incluster_paths paths;
    struct kube_config *cfg = NULL;
    struct err err = {0};
    (void)state;

    sa_make(&sa);
    paths = (struct kube_incluster_paths){sa.token, sa.ca, sa.ns};
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(kube_config_in_cluster(&paths, &cfg, &err), 0);
    assert_string_equal(cfg->server, "https://10.96.0.1:443");
    assert_string_equal(cfg->token_file, sa.token);
    assert_string_equal(cfg->ca_file, sa.ca);
    assert_string_equal(cfg->ns, "azdo-system");
    kube_config_free(cfg);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(kube_config_in_cluster(&paths, &cfg, &err), 0);
    assert_string_equal(cfg->server, "https://[fd00::1]:443");
    kube_config_free(cfg);

    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(kube_config_in_cluster(&paths, &cfg, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "not running in a cluster"));
    unsetenv("KUBERNETES_SERVICE_PORT");
    sa_remove(&sa);
}

static void test_load_prefers_kube_url_then_kubeconfig_then_in_cluster(void **state)
{
    struct sa_dir sa;
    struct kube_incluster_paths paths;
    struct kube_config *cfg = NULL;
    struct err err = {0};
    (void)state;

    sa_make(&sa);
    paths = (struct kube_incluster_paths){sa.token, sa.ca, sa.ns};
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("KUBECONFIG", FIXTURES "insecure.yaml", 1);

    assert_int_equal(kube_config_load("http://127.0.0.1:9/", NULL, NULL, &paths, &cfg, &err), 0);
    assert_string_equal(cfg->source, "url");
    assert_string_equal(cfg->server, "http://127.0.0.1:9");
    kube_config_free(cfg);

    assert_int_equal(kube_config_load(NULL, FIXTURES "kind.yaml", NULL, &paths, &cfg, &err), 0);
    assert_string_equal(cfg->server, "https://127.0.0.1:39123");
    kube_config_free(cfg);

    assert_int_equal(kube_config_load(NULL, NULL, NULL, &paths, &cfg, &err), 0);
    assert_string_equal(cfg->server, "http://127.0.0.1:8001"); /* $KUBECONFIG */
    kube_config_free(cfg);

    unsetenv("KUBECONFIG");
    assert_int_equal(kube_config_load(NULL, NULL, NULL, &paths, &cfg, &err), 0);
    assert_string_equal(cfg->source, "in-cluster");
    kube_config_free(cfg);

    assert_int_equal(kube_config_load("ftp://x", NULL, NULL, &paths, &cfg, &err), -EINVAL);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    sa_remove(&sa);
}

static void test_token_is_reread_after_the_file_changes(void **state)
{
    struct sa_dir sa;
    struct kube_token *tok = NULL;
    char next[160];
    struct err err = {0};
    (void)state;

    sa_make(&sa);
    assert_int_equal(kube_token_new(NULL, sa.token, &tok, &err), 0);
    assert_string_equal(kube_token_get(tok, 1000), "token-one");

    /* The kubelet swaps the file atomically; do the same (a new inode). */
    snprintf(next, sizeof(next), "%s/token.new", sa.dir);
    write_file(next, "token-two-longer\n");
    assert_int_equal(rename(next, sa.token), 0);
    assert_string_equal(kube_token_get(tok, 1001), "token-two-longer");

    /* A failed re-read keeps the last good token. */
    unlink(sa.token);
    assert_string_equal(kube_token_get(tok, 1002), "token-two-longer");
    write_file(sa.token, "token-three\n");
    assert_int_equal(kube_token_reload(tok, &err), 1);
    assert_int_equal(kube_token_reload(tok, &err), 0);
    assert_string_equal(kube_token_get(tok, 1003), "token-three");
    kube_token_free(tok);

    assert_int_equal(kube_token_new("fixed", NULL, &tok, &err), 0);
    assert_string_equal(kube_token_get(tok, 0), "fixed");
    assert_int_equal(kube_token_reload(tok, &err), 0);
    kube_token_free(tok);
    sa_remove(&sa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_reads_kubectl_style_sequences_and_scalars),
        cmocka_unit_test(test_yaml_refuses_what_it_does_not_support_with_line_numbers),
        cmocka_unit_test(test_yaml_refuses_text_that_is_not_utf8),
        cmocka_unit_test(test_kubeconfig_current_context_with_embedded_certificates),
        cmocka_unit_test(test_kubeconfig_named_context_picks_its_cluster_user_and_namespace),
        cmocka_unit_test(test_kubeconfig_relative_paths_resolve_against_the_file),
        cmocka_unit_test(test_kubeconfig_insecure_and_anonymous),
        cmocka_unit_test(test_kubeconfig_list_merges_first_wins),
        cmocka_unit_test(test_kubeconfig_refusals_name_the_problem),
        cmocka_unit_test(test_kubeconfig_of_another_kind_is_refused_by_name),
        cmocka_unit_test(test_in_cluster_reads_env_and_service_account_files),
        cmocka_unit_test(test_load_prefers_kube_url_then_kubeconfig_then_in_cluster),
        cmocka_unit_test(test_token_is_reread_after_the_file_changes),
    };
    return cmocka_run_group_tests_name("kube_config", tests, NULL, NULL);
}
