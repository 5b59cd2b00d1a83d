/* fuzz_kubeconfig.c - libFuzzer target for kubeconfig reading: the YAML subset reader
 * kube_yaml_parse() (src/kube/yaml.h) in memory, then kube_config_from_kubeconfig()
 * (src/kube/config.h) on the same bytes written to a temporary file.
 *
 * Promises checked: the YAML reader gives a JSON value that serialises, or a negative errno with
 * a message; a file the reader refuses is refused as a kubeconfig; a config that loads has an
 * http(s) server without a trailing slash and a source; loading "f:f" (a KUBECONFIG list naming
 * the file twice) gives the same config as "f" (the first file that sets a value wins, so the
 * second adds nothing); kube_config_describe() never shows the token or the client key. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz.h"
#include "kube/config.h"
#include "kube/yaml.h"

static char dir[64];
static char path[96];
static char twice[200];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0] != '\0')
        return;
    snprintf(dir, sizeof(dir), "/tmp/fuzz-kubeconfig-XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/config", dir);
    snprintf(twice, sizeof(twice), "%s:%s", path, path);
    atexit(cleanup);
}

static void write_file(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t off = 0;

    FUZZ_CHECK(fd >= 0);
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);

        FUZZ_CHECK(n > 0);
        off += (size_t)n;
    }
    FUZZ_CHECK(close(fd) == 0);
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* True when 'secret' shows in 'text' without coming from one of the non-secret fields. */
static bool leaks(const char *text, const char *secret, const struct kube_config *cfg)
{
    if (secret == NULL || strlen(secret) < 4 || strstr(text, secret) == NULL)
        return false;
    return !(strstr(cfg->server, secret) || strstr(cfg->source, secret) ||
             (cfg->ca_file != NULL && strstr(cfg->ca_file, secret)));
}

static void check_config(const struct kube_config *cfg)
{
    char text[2048];
    size_t n;
    struct http_tls tls;

    FUZZ_CHECK(cfg->server != NULL && cfg->source != NULL);
    FUZZ_CHECK(strncmp(cfg->server, "https://", 8) == 0 || strncmp(cfg->server, "http://", 7) == 0);
    n = strlen(cfg->server);
    FUZZ_CHECK(n > 0 && cfg->server[n - 1] != '/');
    /* A certificate file and its key go together (or neither). */
    FUZZ_CHECK((cfg->client_cert_file != NULL || cfg->client_cert_pem != NULL) ==
               (cfg->client_key_file != NULL || cfg->client_key_pem != NULL));
    kube_config_describe(cfg, text, sizeof(text));
    FUZZ_CHECK(!leaks(text, cfg->token, cfg));
    FUZZ_CHECK(!leaks(text, cfg->client_key_pem, cfg));
    kube_config_tls(cfg, &tls);
    FUZZ_CHECK(tls.ca_pem == cfg->ca_pem && tls.client_key_pem == cfg->client_key_pem);
}

static void check_same(const struct kube_config *a, const struct kube_config *b)
{
    FUZZ_CHECK(same_str(a->server, b->server) && same_str(a->ns, b->ns));
    FUZZ_CHECK(same_str(a->token, b->token) && same_str(a->token_file, b->token_file));
    FUZZ_CHECK(same_str(a->ca_file, b->ca_file) && same_str(a->ca_pem, b->ca_pem));
    FUZZ_CHECK(same_str(a->client_cert_file, b->client_cert_file) &&
               same_str(a->client_cert_pem, b->client_cert_pem));
    FUZZ_CHECK(same_str(a->client_key_file, b->client_key_file) &&
               same_str(a->client_key_pem, b->client_key_pem));
    FUZZ_CHECK(a->insecure_skip_verify == b->insecure_skip_verify);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kube_config *one = NULL, *two = NULL;
    struct err err = {0};
    json_t *doc = NULL;
    int yrc, rc1, rc2;

    /* In memory, from an exact-size copy so a read past the end is seen. */
    {
        char *copy = malloc(size > 0 ? size : 1);

        FUZZ_CHECK(copy != NULL);
        if (size > 0)
            memcpy(copy, data, size);
        yrc = kube_yaml_parse(copy, size, &doc, &err);
        free(copy);
    }
    FUZZ_CHECK(fuzz_terminated(err.msg, sizeof(err.msg)));
    if (yrc == 0) {
        char *text = json_dumps(doc, JSON_ENCODE_ANY);

        FUZZ_CHECK(doc != NULL && text != NULL);
        free(text);
        json_decref(doc);
    } else {
        FUZZ_CHECK(yrc == -ENOTSUP || yrc == -EINVAL || yrc == -ENOMEM);
        FUZZ_CHECK(err.msg[0] != '\0');
    }

    /* From a file, once and listed twice. */
    setup();
    write_file(data, size);
    err = (struct err){0};
    rc1 = kube_config_from_kubeconfig(path, NULL, &one, &err);
    FUZZ_CHECK(rc1 <= 0 && (rc1 == 0 || err.msg[0] != '\0'));
    if (yrc != 0)
        FUZZ_CHECK(rc1 != 0);
    rc2 = kube_config_from_kubeconfig(twice, NULL, &two, NULL);
    FUZZ_CHECK(rc1 == rc2);
    if (rc1 == 0) {
        check_config(one);
        check_same(one, two);
        kube_config_free(one);
        kube_config_free(two);
    }
    return 0;
}
