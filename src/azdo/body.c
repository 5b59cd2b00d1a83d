/* body.c - request bodies (see body.h). */
#include "azdo/body.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

int azdo_body_agent_enabled(int64_t agent_id, bool enabled, char **out, struct err *err)
{
    json_t *obj = json_pack("{s:I, s:b}", "id", (json_int_t)agent_id, "enabled", enabled);

    *out = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (*out == NULL)
        return err_set(err, -ENOMEM, "cannot build agent update body: out of memory");
    return 0;
}

/* Base64 of a big number's big-endian bytes (.NET serialises byte[] as base64). New string. */
static char *bn_base64(const BIGNUM *bn)
{
    int len = BN_num_bytes(bn);
    unsigned char *bin = malloc((size_t)len + 1);
    char *b64 = malloc(4 * ((size_t)len + 2) / 3 + 4);

    if (bin == NULL || b64 == NULL || BN_bn2bin(bn, bin) != len) {
        free(bin);
        free(b64);
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *)b64, bin, len);
    free(bin);
    return b64;
}

/* A fresh RSA-2048 public key as (exponent, modulus) base64 strings, both new. */
static int fresh_public_key(char **exponent, char **modulus, struct err *err)
{
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    BIGNUM *n = NULL, *e = NULL;
    int rc = 0;

    *exponent = NULL;
    *modulus = NULL;
    if (pkey == NULL || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        rc = err_set(err, -EIO, "cannot generate the placeholder agent's key pair");
        goto out;
    }
    *exponent = bn_base64(e);
    *modulus = bn_base64(n);
    if (*exponent == NULL || *modulus == NULL) {
        free(*exponent);
        free(*modulus);
        *exponent = NULL;
        *modulus = NULL;
        rc = err_set(err, -ENOMEM, "cannot encode the placeholder agent's key: out of memory");
    }
out:
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(pkey); /* the private half dies here: the placeholder can never connect */
    return rc;
}

/* The placeholders' public key, made on first use and kept for the life of the process. An
 * RSA-2048 key pair costs 100-300 ms of CPU, on the loop thread: generating one per placeholder
 * stalled the operator for minutes when 1,000 pools registered theirs (tools/bench), and its
 * polls timed out. The private half is discarded either way, so sharing the public half gives
 * nobody a way in. Process-wide state, loop thread only; never freed (two short strings).
 * Borrowed strings, or -EIO/-ENOMEM. */
static int placeholder_public_key(const char **exponent, const char **modulus, struct err *err)
{
    static char *cached_exponent, *cached_modulus;

    if (cached_exponent == NULL) {
        int rc = fresh_public_key(&cached_exponent, &cached_modulus, err);
        if (rc < 0)
            return rc;
    }
    *exponent = cached_exponent;
    *modulus = cached_modulus;
    return 0;
}

int azdo_body_register_agent(const char *name, const char *version, const struct azdo_caps *caps,
                             char **out, struct err *err)
{
    const char *exponent = NULL, *modulus = NULL;
    json_t *agent = NULL, *sys;
    int rc;

    *out = NULL;
    rc = placeholder_public_key(&exponent, &modulus, err);
    if (rc < 0)
        goto out;
    agent = json_pack("{s:s, s:s, s:s, s:b, s:i, s:s, s:{s:{s:s, s:s}}, s:{s:s, s:s, s:s}}", "name",
                      name, "version", version, "osDescription",
                      "Linux (offline placeholder registered by azdo-runner-operator)", "enabled",
                      1, "maxParallelism", 1, "provisioningState", "Provisioned", "authorization",
                      "publicKey", "exponent", exponent, "modulus", modulus, "systemCapabilities",
                      "Agent.Name", name, "Agent.Version", version, "Agent.OS", "Linux");
    if (agent == NULL) {
        rc = err_set(err, -EINVAL,
                     "cannot build agent registration body: name or version is "
                     "not valid UTF-8");
        goto out;
    }
    sys = json_object_get(agent, "systemCapabilities");
    for (size_t i = 0; caps != NULL && i < caps->len; i++) {
        if (json_object_set_new(sys, caps->items[i].name, json_string(caps->items[i].value)) < 0) {
            rc = err_set(err, -EINVAL,
                         "cannot build agent registration body: capability '%s' "
                         "is not valid UTF-8",
                         caps->items[i].name);
            goto out;
        }
    }
    *out = json_dumps(agent, JSON_COMPACT);
    if (*out == NULL)
        rc = err_set(err, -ENOMEM, "cannot build agent registration body: out of memory");
out:
    json_decref(agent);
    return rc;
}
