/* fuzz_admission.c - libFuzzer target for the AdmissionReview handler (src/webhook/admission.h).
 *
 * Feeds arbitrary bytes to admission_handle() for both webhooks with the real RunnerPool policy.
 * The handler's contract is that every input gets an answer (200 AdmissionReview or 400 Status)
 * and nothing crashes or leaks; the sanitizers and the checks below enforce it. An answer is
 * itself JSON: a 200 is an AdmissionReview whose response.uid echoes request.uid, and a mutating
 * answer carries patch and patchType together or neither.
 *
 * Built and run by tests/fuzz/run (see tests/fuzz/README.md); seeds in corpus/admission/.
 * Earlier history: `git log -- tests/test_webhook_fuzz_admission.c` (moved and extended in one
 * commit, too changed for git's rename detection to follow). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "webhook/admission.h"

/* The answer's own shape: JSON; a 200 echoes request.uid; patch and patchType go together and
 * never on a validating answer. */
static void check_answer(enum admission_hook hook, const uint8_t *data, size_t size,
                         const struct admission_reply *reply)
{
    json_t *in = json_loadb((const char *)data, size, 0, NULL);
    json_t *out = json_loadb(reply->body, reply->body_len, 0, NULL);
    json_t *resp = json_object_get(out, "response");
    const json_t *patch = json_object_get(resp, "patch");
    const json_t *patch_type = json_object_get(resp, "patchType");

    FUZZ_CHECK(out != NULL);
    if (reply->http_status == 200) {
        const char *uid_in = json_string_value(json_object_get(json_object_get(in, "request"),
                                                               "uid"));
        const char *uid_out = json_string_value(json_object_get(resp, "uid"));

        FUZZ_CHECK(uid_in != NULL && uid_out != NULL && strcmp(uid_in, uid_out) == 0);
        FUZZ_CHECK(json_is_boolean(json_object_get(resp, "allowed")));
        FUZZ_CHECK(json_is_true(json_object_get(resp, "allowed")) == reply->allowed);
        FUZZ_CHECK((patch == NULL) == (patch_type == NULL));
        FUZZ_CHECK(hook == ADMISSION_MUTATE || patch == NULL);
    }
    json_decref(in);
    json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int hook = ADMISSION_MUTATE; hook <= ADMISSION_VALIDATE; hook++) {
        struct admission_reply reply;
        int rc = admission_handle((enum admission_hook)hook, admission_runnerpool_policy(),
                                  (const char *)data, size, &reply);
        if (rc != 0)
            continue; /* -ENOMEM only */
        FUZZ_CHECK(reply.body != NULL && reply.body_len == strlen(reply.body));
        FUZZ_CHECK(reply.http_status == 200 || reply.http_status == 400);
        FUZZ_CHECK(reply.http_status == 200 || !reply.allowed);
        check_answer((enum admission_hook)hook, data, size, &reply);
        admission_reply_clear(&reply);
    }
    return 0;
}
