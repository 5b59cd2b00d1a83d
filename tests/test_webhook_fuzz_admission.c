/* test_webhook_fuzz_admission.c - libFuzzer target for the AdmissionReview handler.
 *
 * Feeds arbitrary bytes to admission_handle() for both webhooks with the real RunnerPool policy.
 * The handler's contract is that every input gets an answer (200 AdmissionReview or 400 Status)
 * and nothing crashes or leaks; the sanitizers and the checks below enforce it.
 *
 * Not part of `make check` (it needs clang's -fsanitize=fuzzer). Build and run for a bounded time:
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/test_webhook_fuzz_admission.c src/webhook/admission.c src/pool/[a-z]*.c \
 *     src/azdo/url.c src/err.c -ljansson -lcrypto -o /tmp/fuzz_admission
 *   /tmp/fuzz_admission -max_total_time=60 -max_len=65536 tests/fixtures/webhook */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/admission.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int hook = ADMISSION_MUTATE; hook <= ADMISSION_VALIDATE; hook++) {
        struct admission_reply reply;
        int rc = admission_handle((enum admission_hook)hook, admission_runnerpool_policy(),
                                  (const char *)data, size, &reply);
        if (rc != 0)
            continue; /* -ENOMEM only */
        if (reply.body == NULL || reply.body_len != strlen(reply.body) ||
            (reply.http_status != 200 && reply.http_status != 400) ||
            (reply.http_status == 400 && reply.allowed))
            abort();
        admission_reply_clear(&reply);
    }
    return 0;
}
