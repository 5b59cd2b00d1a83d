/* test_webhook_admission.c - AdmissionReview handling: uid echo, 400 for bodies that are not an
 * AdmissionReview, JSON Patch encoding, validation answers listing every error. The RunnerPool
 * rules themselves are src/pool's; here a small fake policy stands in, counting its calls. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "err.h"
#include "webhook/admission.h"

/* ---------------------------------------------------------------- fake policy */

static int defaults_calls, validate_calls;
static const json_t *seen_old; /* what validate got as old_object */
static int fail_with;          /* when non-zero, both callbacks return it */

/* Adds maxAgents 10 when missing, like the real defaulter. */
static int fake_defaults(const json_t *object, json_t *ops, struct err *err)
{
    defaults_calls++;
    if (fail_with != 0)
        return err_set(err, fail_with, "spec must be an object");
    if (json_object_get(json_object_get(object, "spec"), "maxAgents") == NULL)
        json_array_append_new(ops, json_pack("{s:s, s:s, s:i}", "op", "add", "path",
                                             "/spec/maxAgents", "value", 10));
    return 0;
}

/* Refuses a missing pool and a negative maxAgents, each with its field path. */
static int fake_validate(const json_t *object, const json_t *old_object,
                         struct field_errors *errors, struct err *err)
{
    const json_t *spec = json_object_get(object, "spec");
    const json_t *max = json_object_get(spec, "maxAgents");

    validate_calls++;
    seen_old = old_object;
    if (fail_with != 0)
        return err_set(err, fail_with, "cannot read spec");
    if (json_object_get(spec, "pool") == NULL)
        field_errors_add(errors, "spec.pool", "required: the Azure DevOps agent pool name");
    if (max != NULL && json_integer_value(max) < 0)
        field_errors_add(errors, "spec.maxAgents", "must be between 0 and 200");
    return 0;
}

static const struct admission_policy fake = {fake_defaults, fake_validate};

static int reset(void **state)
{
    (void)state;
    defaults_calls = validate_calls = fail_with = 0;
    seen_old = NULL;
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static json_t *load_fixture(const char *name)
{
    const char *top = getenv("AZDO_SRCDIR");
    char path[1024];
    json_error_t jerr;
    json_t *doc;

    snprintf(path, sizeof(path), "%s/tests/fixtures/webhook/%s", top != NULL ? top : AZDO_SRCDIR, name);
    doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        fail_msg("cannot load %s: %s", path, jerr.text);
    return doc;
}

/* Runs the handler on 'doc' (borrowed) and returns the parsed answer (new). */
static json_t *handle_doc(enum admission_hook hook, const json_t *doc, struct admission_reply *reply)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_t *answer;

    assert_int_equal(admission_handle(hook, &fake, text, strlen(text), reply), 0);
    free(text);
    answer = json_loadb(reply->body, reply->body_len, 0, NULL);
    assert_non_null(answer);
    return answer;
}

static json_t *handle_text(enum admission_hook hook, const char *text, struct admission_reply *reply)
{
    json_t *answer;

    assert_int_equal(admission_handle(hook, &fake, text, strlen(text), reply), 0);
    answer = json_loadb(reply->body, reply->body_len, 0, NULL);
    assert_non_null(answer);
    return answer;
}

static const char *path_str(const json_t *doc, const char *a, const char *b)
{
    const json_t *v = json_object_get(doc, a);
    if (b != NULL)
        v = json_object_get(v, b);
    return json_string_value(v);
}

/* Decodes the response's base64 patch into a JSON array (new). */
static json_t *decode_patch(const json_t *answer)
{
    const char *b64 = path_str(answer, "response", "patch");
    unsigned char buf[4096];
    int n;
    size_t len;

    assert_non_null(b64);
    len = strlen(b64);
    assert_true(len < sizeof(buf));
    n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)len);
    assert_true(n > 0);
    /* EVP_DecodeBlock counts padding bytes as zeros: trim them. */
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    return json_loadb((const char *)buf, (size_t)n, 0, NULL);
}

/* ---------------------------------------------------------------- tests */

static void test_mutate_echoes_uid_and_patches_defaults(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    struct admission_reply reply;
    json_t *answer = handle_doc(ADMISSION_MUTATE, doc, &reply);
    json_t *patch = decode_patch(answer);

    assert_int_equal(reply.http_status, 200);
    assert_true(reply.allowed);
    assert_string_equal(path_str(answer, "apiVersion", NULL), "admission.k8s.io/v1");
    assert_string_equal(path_str(answer, "kind", NULL), "AdmissionReview");
    assert_string_equal(path_str(answer, "response", "uid"), "7c1f9a52-2b1e-4c8e-9a4f-0f3d2b6c1e01");
    assert_string_equal(path_str(answer, "response", "patchType"), "JSONPatch");
    assert_non_null(patch);
    assert_int_equal(json_array_size(patch), 1);
    assert_string_equal(path_str(json_array_get(patch, 0), "op", NULL), "add");
    assert_string_equal(path_str(json_array_get(patch, 0), "path", NULL), "/spec/maxAgents");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(patch, 0), "value")), 10);
    json_decref(patch);
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_mutate_without_defaults_sends_no_patch(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_update.json"); /* has maxAgents 5 */
    struct admission_reply reply;
    json_t *answer = handle_doc(ADMISSION_MUTATE, doc, &reply);
    json_t *resp = json_object_get(answer, "response");

    assert_true(json_is_true(json_object_get(resp, "allowed")));
    assert_null(json_object_get(resp, "patch"));
    assert_null(json_object_get(resp, "patchType"));
    assert_string_equal(path_str(answer, "response", "uid"), "a1b2c3d4-update");
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_validate_lists_every_error_with_422(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    json_t *spec = json_object_get(json_object_get(json_object_get(doc, "request"), "object"), "spec");
    struct admission_reply reply;
    json_t *answer, *status, *causes;

    json_object_del(spec, "pool");
    json_object_set_new(spec, "maxAgents", json_integer(-1));
    answer = handle_doc(ADMISSION_VALIDATE, doc, &reply);
    status = json_object_get(json_object_get(answer, "response"), "status");
    causes = json_object_get(json_object_get(status, "details"), "causes");

    assert_int_equal(reply.http_status, 200);
    assert_false(reply.allowed);
    assert_int_equal(reply.status_code, 422);
    assert_true(json_is_false(json_object_get(json_object_get(answer, "response"), "allowed")));
    assert_int_equal(json_integer_value(json_object_get(status, "code")), 422);
    assert_string_equal(path_str(status, "reason", NULL), "Invalid");
    assert_string_equal(path_str(status, "message", NULL),
                        "RunnerPool \"pool-a\" is invalid: spec.pool: required: the Azure DevOps "
                        "agent pool name; spec.maxAgents: must be between 0 and 200");
    assert_int_equal(json_array_size(causes), 2);
    assert_string_equal(path_str(json_array_get(causes, 1), "field", NULL), "spec.maxAgents");
    assert_null(json_object_get(json_object_get(answer, "response"), "patch"));
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_validate_allows_a_valid_pool_without_patch(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    struct admission_reply reply;
    json_t *answer = handle_doc(ADMISSION_VALIDATE, doc, &reply);
    json_t *resp = json_object_get(answer, "response");

    assert_true(json_is_true(json_object_get(resp, "allowed")));
    assert_null(json_object_get(resp, "patch"));
    assert_null(json_object_get(resp, "patchType"));
    assert_null(seen_old);
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_validate_update_gets_old_object(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_update.json");
    struct admission_reply reply;
    json_t *answer = handle_doc(ADMISSION_VALIDATE, doc, &reply);

    assert_int_equal(validate_calls, 1);
    assert_non_null(seen_old); /* pointer into the freed request: only its presence is checked */
    assert_true(reply.allowed);
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_delete_is_allowed_without_asking_the_policy(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_delete.json");
    struct admission_reply reply;
    json_t *answer = handle_doc(ADMISSION_VALIDATE, doc, &reply);

    assert_true(reply.allowed);
    assert_string_equal(path_str(answer, "response", "uid"), "de1e7e00-0000");
    assert_int_equal(validate_calls + defaults_calls, 0);
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

/* Each of these bodies is not an AdmissionReview: a 400 Status naming the problem. */
static void test_bad_bodies_get_400_status(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *message_part;
    } cases[] = {
        {"", "not JSON"},
        {"{\"apiVersion\":", "not JSON"},
        {"[1,2,3]", "not an AdmissionReview"},
        {"\"AdmissionReview\"", "not JSON"}, /* a bare string is not accepted by json_loadb */
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}", "not an AdmissionReview"},
        {"{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"kind\":\"AdmissionReview\",\"request\":"
         "{\"uid\":\"x\"}}", "unsupported AdmissionReview apiVersion 'admission.k8s.io/v1beta1'"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", "no request.uid"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
         "{\"uid\":\"\"}}", "no request.uid"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
         "{\"uid\":42}}", "no request.uid"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct admission_reply reply;
        json_t *answer = handle_text(ADMISSION_VALIDATE, cases[i].body, &reply);
        const char *message = path_str(answer, "message", NULL);

        assert_int_equal(reply.http_status, 400);
        assert_false(reply.allowed);
        assert_string_equal(path_str(answer, "kind", NULL), "Status");
        assert_int_equal(json_integer_value(json_object_get(answer, "code")), 400);
        assert_non_null(message);
        if (strstr(message, cases[i].message_part) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, message, cases[i].message_part);
        json_decref(answer);
        admission_reply_clear(&reply);
    }
    assert_int_equal(validate_calls + defaults_calls, 0);
}

static void test_body_with_nul_bytes_is_400(void **state)
{
    (void)state;
    static const char body[] = "{\"apiVersion\":\"admission.k8s.io/v1\"\0garbage}";
    struct admission_reply reply;

    assert_int_equal(admission_handle(ADMISSION_MUTATE, &fake, body, sizeof(body) - 1, &reply), 0);
    assert_int_equal(reply.http_status, 400);
    admission_reply_clear(&reply);
}

static void test_other_kind_is_refused_with_uid(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    json_t *kind = json_object_get(json_object_get(doc, "request"), "kind");
    struct admission_reply reply;
    json_t *answer;

    json_object_set_new(kind, "kind", json_string("Pod"));
    json_object_set_new(kind, "group", json_string(""));
    answer = handle_doc(ADMISSION_MUTATE, doc, &reply);
    assert_int_equal(reply.http_status, 200);
    assert_false(reply.allowed);
    assert_int_equal(reply.status_code, 400);
    assert_string_equal(path_str(answer, "response", "uid"), "7c1f9a52-2b1e-4c8e-9a4f-0f3d2b6c1e01");
    assert_non_null(strstr(path_str(json_object_get(answer, "response"), "status", "message"),
                           "only admits RunnerPool"));
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_create_without_object_is_refused(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    struct admission_reply reply;
    json_t *answer;

    json_object_set_new(json_object_get(doc, "request"), "object", json_string("not an object"));
    answer = handle_doc(ADMISSION_VALIDATE, doc, &reply);
    assert_false(reply.allowed);
    assert_int_equal(reply.status_code, 400);
    assert_int_equal(validate_calls, 0);
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_policy_failure_refuses_with_its_text(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    struct admission_reply reply;
    json_t *answer;

    fail_with = -EINVAL;
    answer = handle_doc(ADMISSION_MUTATE, doc, &reply);
    assert_false(reply.allowed);
    assert_string_equal(path_str(json_object_get(answer, "response"), "status", "message"),
                        "spec must be an object");
    json_decref(answer);
    admission_reply_clear(&reply);

    answer = handle_doc(ADMISSION_VALIDATE, doc, &reply);
    assert_false(reply.allowed);
    assert_string_equal(path_str(json_object_get(answer, "response"), "status", "message"),
                        "cannot read spec");
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_generate_name_used_in_message(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    json_t *req = json_object_get(doc, "request");
    json_t *meta = json_object_get(json_object_get(req, "object"), "metadata");
    struct admission_reply reply;
    json_t *answer;

    /* CREATE with generateName: no name anywhere yet. */
    json_object_set_new(req, "name", json_string(""));
    json_object_del(meta, "name");
    json_object_set_new(meta, "generateName", json_string("pool-"));
    json_object_del(json_object_get(json_object_get(req, "object"), "spec"), "pool");
    answer = handle_doc(ADMISSION_VALIDATE, doc, &reply);
    assert_non_null(strstr(path_str(json_object_get(answer, "response"), "status", "message"),
                           "RunnerPool \"pool-\" is invalid"));
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_base64_matches_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const vectors[][2] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char *b64 = admission_base64(vectors[i][0], strlen(vectors[i][0]));
        assert_string_equal(b64, vectors[i][1]);
        free(b64);
    }
}

/* ---------------------------------------------------------------- the real RunnerPool policy */

static json_t *handle_real(enum admission_hook hook, const json_t *doc, struct admission_reply *reply)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_t *answer;

    assert_int_equal(admission_handle(hook, admission_runnerpool_policy(), text, strlen(text),
                                      reply), 0);
    free(text);
    answer = json_loadb(reply->body, reply->body_len, 0, NULL);
    assert_non_null(answer);
    return answer;
}

/* Finds the op adding 'path' in a decoded patch, or NULL. */
static const json_t *patch_op(const json_t *patch, const char *path)
{
    size_t i;
    const json_t *op;

    json_array_foreach(patch, i, op) {
        if (strcmp(path_str(op, "path", NULL), path) == 0)
            return op;
    }
    return NULL;
}

static void test_runnerpool_minimal_pool_gets_documented_defaults(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    struct admission_reply reply;
    json_t *answer = handle_real(ADMISSION_MUTATE, doc, &reply);
    json_t *patch = decode_patch(answer);

    assert_true(reply.allowed);
    assert_non_null(patch);
    assert_int_equal(json_integer_value(json_object_get(patch_op(patch, "/spec/maxAgents"), "value")), 10);
    assert_int_equal(json_integer_value(json_object_get(patch_op(patch, "/spec/minAgents"), "value")), 0);
    assert_int_equal(json_integer_value(json_object_get(patch_op(patch, "/spec/ttlIdleSeconds"), "value")), 0);
    json_decref(patch);
    json_decref(answer);
    admission_reply_clear(&reply);

    /* The same object is valid as written: defaults are not required to be present. */
    answer = handle_real(ADMISSION_VALIDATE, doc, &reply);
    assert_true(reply.allowed);
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_runnerpool_invalid_pool_refused_with_field_paths(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_create.json");
    json_t *spec = json_object_get(json_object_get(json_object_get(doc, "request"), "object"), "spec");
    struct admission_reply reply;
    json_t *answer;
    const char *message;

    json_object_set_new(spec, "minAgents", json_integer(5));
    json_object_set_new(spec, "maxAgents", json_integer(2));
    json_object_del(spec, "image");
    answer = handle_real(ADMISSION_VALIDATE, doc, &reply);
    message = path_str(json_object_get(answer, "response"), "status", "message");
    assert_false(reply.allowed);
    assert_int_equal(reply.status_code, 422);
    assert_non_null(strstr(message, "RunnerPool \"pool-a\" is invalid: "));
    assert_non_null(strstr(message, "spec.image: is required"));
    assert_non_null(strstr(message, "spec.minAgents"));
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

static void test_runnerpool_update_changing_pool_refused(void **state)
{
    (void)state;
    json_t *doc = load_fixture("review_update.json");
    json_t *spec = json_object_get(json_object_get(json_object_get(doc, "request"), "object"), "spec");
    struct admission_reply reply;
    json_t *answer;

    json_object_set_new(spec, "pool", json_string("windows"));
    answer = handle_real(ADMISSION_VALIDATE, doc, &reply);
    assert_false(reply.allowed);
    assert_non_null(strstr(path_str(json_object_get(answer, "response"), "status", "message"),
                           "spec.pool"));
    json_decref(answer);
    json_decref(doc);
    admission_reply_clear(&reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_mutate_echoes_uid_and_patches_defaults, reset),
        cmocka_unit_test_setup(test_mutate_without_defaults_sends_no_patch, reset),
        cmocka_unit_test_setup(test_validate_lists_every_error_with_422, reset),
        cmocka_unit_test_setup(test_validate_allows_a_valid_pool_without_patch, reset),
        cmocka_unit_test_setup(test_validate_update_gets_old_object, reset),
        cmocka_unit_test_setup(test_delete_is_allowed_without_asking_the_policy, reset),
        cmocka_unit_test_setup(test_bad_bodies_get_400_status, reset),
        cmocka_unit_test_setup(test_body_with_nul_bytes_is_400, reset),
        cmocka_unit_test_setup(test_other_kind_is_refused_with_uid, reset),
        cmocka_unit_test_setup(test_create_without_object_is_refused, reset),
        cmocka_unit_test_setup(test_policy_failure_refuses_with_its_text, reset),
        cmocka_unit_test_setup(test_generate_name_used_in_message, reset),
        cmocka_unit_test(test_base64_matches_rfc4648_vectors),
        cmocka_unit_test(test_runnerpool_minimal_pool_gets_documented_defaults),
        cmocka_unit_test(test_runnerpool_invalid_pool_refused_with_field_paths),
        cmocka_unit_test(test_runnerpool_update_changing_pool_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
