/* test_runnerpool_util.h - helpers shared by the RunnerPool, agent pod and agent PVC suites. */
#ifndef AZDO_TEST_RUNNERPOOL_UTIL_H
#define AZDO_TEST_RUNNERPOOL_UTIL_H

#include <jansson.h>
#include <stdbool.h>

/* The source tree (AZDO_SRCDIR from the environment, else the configure-time path). */
const char *rp_srcdir(void);

/* New JSON of tests/fixtures/pool/<name>; fails the test when missing or invalid. */
json_t *rp_fixture(const char *name);

/* New JSON of a YAML file under the source tree (one document, or an array of all documents
 * when 'all' is set), converted by Python's yaml module; NULL when no Python with yaml is
 * installed (the caller skips). */
json_t *rp_yaml(const char *relpath, bool all);

/* RFC 7386 merge patch: objects merge, null deletes a member, anything else replaces. */
void rp_merge_patch(json_t *target, const json_t *patch);

/* Applies an RFC 6902 patch made only of "add" operations (what the defaulter emits). Returns 0,
 * or -1 when an operation's parent does not exist or the op is not "add". */
int rp_apply_add_patch(json_t *doc, const json_t *ops);

#endif
