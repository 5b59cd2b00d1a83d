/* snapshot.h - the planner's inputs as canonical JSON, for replay.
 *
 * A snapshot holds every row the rules may read for one pool at one clock value (rules.h says
 * which), table by table in a fixed order, rows in primary-key order, columns by name. Loading
 * it into an empty database with the same schema and planning at the same clock gives the same
 * decisions; that is what `azdo-operator replay` checks. */
#ifndef AZDO_PLAN_SNAPSHOT_H
#define AZDO_PLAN_SNAPSHOT_H

#include <stdint.h>

#include "err.h"
#include "store/store.h"

/* Makes the snapshot of pool 'pool_id' at 'now_ms'. *json is new (free()); digest[65] gets its
 * lowercase hex SHA-256. Returns 0, -EIO, -ENOMEM. */
int plan_snapshot(struct store *s, int64_t pool_id, int64_t now_ms, char **json, char digest[65],
                  struct err *err);

/* Inserts a snapshot's rows into 's' (an empty, migrated database). Columns the current schema
 * lacks are an error (-EPROTO); columns the snapshot lacks take their defaults. */
int plan_snapshot_load(struct store *s, const char *json, struct err *err);

/* Lowercase hex SHA-256 of (data, len) into out[65]. Returns 0 or -EIO. */
int plan_sha256_hex(const void *data, size_t len, char out[65]);

#endif
