/* runnerpool_defaults.h - the documented defaults as an RFC 6902 JSON Patch, for the mutating
 * webhook (AdmissionReview response.patch, patchType JSONPatch).
 *
 * Defaults written into the object (only where the field is absent or null):
 *   /spec/maxAgents 10, /spec/minAgents 0, /spec/ttlIdleSeconds 0, /spec/pollIntervalSeconds 10;
 *   for each /spec/pvcs/<i>: createPvc true, optional false, deleteWithAgent false;
 *   when spec.pvcs is a non-empty list: /spec/initContainer/image busybox:latest and
 *   /spec/securityContext/{runAsUser,runAsGroup,fsGroup} 1000 (the init container chowns the
 *   volumes to that identity, so a user reading the object should see which one).
 * runner_pool_parse() applies the same values in memory (runnerpool.h constants). A field with
 * the wrong type is left alone: the validating webhook refuses the object with a clear message,
 * which a patch overwriting the field would hide. */
#ifndef AZDO_POOL_RUNNERPOOL_DEFAULTS_H
#define AZDO_POOL_RUNNERPOOL_DEFAULTS_H

#include <jansson.h>

/* The patch for 'obj' (a whole RunnerPool). New JSON array (json_decref), empty when nothing is
 * missing or when 'obj' has no spec object; NULL only when out of memory. Operations are "add",
 * in a fixed order, and apply in sequence (a parent is added before its children). */
json_t *runner_pool_default_patch(const json_t *obj);

#endif
