/* store_retention.h - keeping the database bounded under years of use.
 *
 * Raw rows (queue samples, gone agents/pods/PVCs/jobs, ticks with their decisions and intents,
 * transitions, connection changes) older than the retention are deleted; hourly roll-ups
 * (queue_hourly, api_hourly) are kept for STORE_ROLLUP_KEEP_DAYS. Planner inputs of ticks that
 * decided nothing are kept one day only (they are most of the volume); inputs of ticks with
 * decisions are kept for the whole retention, so `replay` covers every decision. */
#ifndef AZDO_STORE_RETENTION_H
#define AZDO_STORE_RETENTION_H

#include "store/store.h"

#define STORE_DEFAULT_RETENTION_DAYS 30
#define STORE_ROLLUP_KEEP_DAYS 800
#define STORE_QUIET_INPUTS_KEEP_MS (24LL * 3600 * 1000)

/* Prunes in one transaction. *deleted (may be NULL) gets the number of rows removed.
 * Returns 0, -EINVAL for retention_days < 1, or -EIO. */
int store_prune(struct store *s, int64_t now_ms, int retention_days, long *deleted,
                struct err *err);

#endif
