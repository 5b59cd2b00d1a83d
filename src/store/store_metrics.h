/* store_metrics.h - counts for /metrics, read from the database in one pass. */
#ifndef AZDO_STORE_METRICS_H
#define AZDO_STORE_METRICS_H

#include "store/store.h"

/* Called once per row: 'what' is "pool_state" (key = state, pool = NULL), "slot_state"
 * (pool = "ns/name", key = slot state) or "queued" (pool = "ns/name", key = NULL). Strings are
 * borrowed for the call. */
typedef void (*store_metrics_cb)(void *data, const char *what, const char *pool, const char *key,
                                 long count);

/* Pools by state, slots by pool and state, waiting jobs by pool, for pools still present.
 * Returns 0 or -EIO. */
int store_metrics_snapshot(struct store *s, store_metrics_cb cb, void *data, struct err *err);

#endif
