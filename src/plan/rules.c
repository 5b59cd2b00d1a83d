/* rules.c - the planner's named SQL queries (see rules.h).
 *
 * Every query is parameterised by ?1 = pool_id and, where time matters, ?2 = now_ms and
 * ?3 = PLAN_HISTORY_MS; nothing reads the wall clock. The rows these queries may touch are
 * exactly those snapshot.c records (live observations, the slots table, and intents/decisions/
 * ticks inside the history window): widen both together. */
#include "plan/rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void col_copy(char *dst, size_t len, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, len, "%s", t != NULL ? (const char *)t : "");
}

static int64_t col_i64(sqlite3_stmt *st, int col)
{
    return sqlite3_column_int64(st, col);
}

/* Grows *v (element size 'size') to hold one more; returns the new element, zeroed. */
static void *push(void *vp, size_t *n, size_t size)
{
    void **v = vp;
    char *nv = realloc(*v, (*n + 1) * size);
    if (nv == NULL)
        return NULL;
    *v = nv;
    memset(nv + *n * size, 0, size);
    return nv + (*n)++ * size;
}

/* Runs a rule: binds ?1..?4, calls 'row' per result row. */
static int run_rule(struct store *s, const char *name, const char *sql, int64_t pool_id,
                    int64_t now_ms, int64_t p4, int (*row)(sqlite3_stmt *, void *), void *arg,
                    struct err *err)
{
    sqlite3_stmt *st;
    int rc = store_stmt(s, sql, &st, err);

    if (rc < 0)
        return err_wrap(err, "rule %s", name);
    sqlite3_bind_int64(st, 1, pool_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, PLAN_HISTORY_MS);
    sqlite3_bind_int64(st, 4, p4);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (row(st, arg) < 0) {
            sqlite3_reset(st);
            return err_set(err, -ENOMEM, "rule %s: out of memory", name);
        }
    }
    if (rc != SQLITE_DONE) {
        rc = store_sqlite_err(store_db(s), err, name);
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    return 0;
}

/* ---- rule pool_facts: the pool, its current spec (with defaults) and connection ------------ */

static const char pool_facts_sql[] =
    "SELECT p.pool_id, p.namespace, p.name, p.generation, ps.spec_json IS NOT NULL,"
    " COALESCE(json_extract(ps.spec_json, '$.minAgents'), 0),"
    " COALESCE(json_extract(ps.spec_json, '$.maxAgents'), 10),"
    " COALESCE(json_extract(ps.spec_json, '$.ttlIdleSeconds'), 0),"
    " COALESCE(json_extract(ps.spec_json, '$.capabilityAware'), 0),"
    " COALESCE(json_extract(ps.spec_json, '$.image'), ''),"
    " p.deletion_requested_ms, p.finalizer_present, COALESCE(p.azdo_connection, ''),"
    " COALESCE(p.azdo_ok_ms, 0)"
    " FROM pools p LEFT JOIN pool_specs ps"
    "  ON ps.pool_id = p.pool_id AND ps.generation = p.generation"
    " WHERE p.pool_id = ?1";

static int pool_row(sqlite3_stmt *st, void *arg)
{
    struct rule_pool *p = arg;
    p->pool_id = col_i64(st, 0);
    col_copy(p->ns, sizeof(p->ns), st, 1);
    col_copy(p->name, sizeof(p->name), st, 2);
    p->generation = col_i64(st, 3);
    p->has_spec = sqlite3_column_int(st, 4) != 0;
    p->min_agents = sqlite3_column_int(st, 5);
    p->max_agents = sqlite3_column_int(st, 6);
    p->ttl_ms = col_i64(st, 7) * 1000;
    p->cap_aware = sqlite3_column_int(st, 8) != 0;
    col_copy(p->image, sizeof(p->image), st, 9);
    p->deleting = sqlite3_column_type(st, 10) != SQLITE_NULL;
    p->deletion_ms = col_i64(st, 10);
    p->finalizer = sqlite3_column_int(st, 11) != 0;
    col_copy(p->conn, sizeof(p->conn), st, 12);
    p->azdo_ok_ms = col_i64(st, 13);
    return 0;
}

/* ---- rule capability_images: the image variants of a capabilityAware pool ------------------- */

static const char capability_images_sql[] =
    "SELECT lower(j.key), j.value FROM pools p JOIN pool_specs ps"
    "  ON ps.pool_id = p.pool_id AND ps.generation = p.generation,"
    "  json_each(ps.spec_json, '$.capabilityImages') j"
    " WHERE p.pool_id = ?1 AND COALESCE(json_extract(ps.spec_json, '$.capabilityAware'), 0)"
    " ORDER BY 1";

static int cap_row(sqlite3_stmt *st, void *arg)
{
    struct rule_set *rs = arg;
    struct rule_cap *c = push(&rs->caps, &rs->n_caps, sizeof(*c));
    if (c == NULL)
        return -1;
    col_copy(c->key, sizeof(c->key), st, 0);
    col_copy(c->image, sizeof(c->image), st, 1);
    return 0;
}

/* ---- rule pvc_templates: spec.pvcs with their defaults -------------------------------------- */

static const char pvc_templates_sql[] =
    "SELECT json_extract(j.value, '$.name'),"
    " COALESCE(json_extract(j.value, '$.createPvc'), 1),"
    " COALESCE(json_extract(j.value, '$.optional'), 0),"
    " COALESCE(json_extract(j.value, '$.deleteWithAgent'), 0)"
    " FROM pools p JOIN pool_specs ps ON ps.pool_id = p.pool_id AND ps.generation = p.generation,"
    "  json_each(ps.spec_json, '$.pvcs') j"
    " WHERE p.pool_id = ?1 AND json_extract(j.value, '$.name') IS NOT NULL ORDER BY j.key";

static int tmpl_row(sqlite3_stmt *st, void *arg)
{
    struct rule_set *rs = arg;
    struct rule_pvc_tmpl *t = push(&rs->tmpls, &rs->n_tmpls, sizeof(*t));
    if (t == NULL)
        return -1;
    col_copy(t->name, sizeof(t->name), st, 0);
    t->create = sqlite3_column_int(st, 1) != 0;
    t->optional = sqlite3_column_int(st, 2) != 0;
    t->delete_with_agent = sqlite3_column_int(st, 3) != 0;
    return 0;
}

/* ---- rule classify_jobs ----------------------------------------------------------------------
 * Every unfinished job: pending (no agent chosen), assigned (agent reserved, not received) or
 * running; and its image variant: the one managed capability key among its demands, "" when
 * none (default image), unmatched when two or more (no single image has them all). Keys the
 * pool does not manage (npm, cuda) never block routing; Agent.Version is already dropped from
 * demand_keys_json by the store. */

static const char classify_jobs_sql[] =
    "WITH caps AS (SELECT lower(j.key) AS k FROM pools p JOIN pool_specs ps"
    "   ON ps.pool_id = p.pool_id AND ps.generation = p.generation,"
    "   json_each(ps.spec_json, '$.capabilityImages') j"
    "   WHERE p.pool_id = ?1"
    "   AND COALESCE(json_extract(ps.spec_json, '$.capabilityAware'), 0)),"
    " jm AS (SELECT jb.*,"
    "   (SELECT count(*) FROM json_each(jb.demand_keys_json) d"
    "     WHERE d.value IN (SELECT k FROM caps)) AS n_managed,"
    "   (SELECT min(d.value) FROM json_each(jb.demand_keys_json) d"
    "     WHERE d.value IN (SELECT k FROM caps)) AS managed_key"
    "   FROM jobs jb WHERE jb.pool_id = ?1 AND jb.gone_ms IS NULL AND jb.result IS NULL"
    "   AND jb.finish_ms IS NULL)"
    " SELECT request_id,"
    "  CASE WHEN reserved_agent_id IS NULL AND assign_ms IS NULL THEN 'pending'"
    "   WHEN receive_ms IS NULL THEN 'assigned' ELSE 'running' END,"
    "  n_managed <= 1, COALESCE(managed_key, ''), demand_keys_json"
    " FROM jm ORDER BY request_id";

static int job_row(sqlite3_stmt *st, void *arg)
{
    struct rule_set *rs = arg;
    struct rule_job *j = push(&rs->jobs, &rs->n_jobs, sizeof(*j));
    if (j == NULL)
        return -1;
    j->request_id = col_i64(st, 0);
    col_copy(j->cls, sizeof(j->cls), st, 1);
    j->matched = sqlite3_column_int(st, 2) != 0;
    col_copy(j->variant, sizeof(j->variant), st, 3);
    col_copy(j->keys, sizeof(j->keys), st, 4);
    return 0;
}

/* ---- rule slot_observations ------------------------------------------------------------------
 * One row per slot index that has a pod, a registration named <pool>-agent-<n> (n is 0 or a
 * number without a leading zero, at most 9 digits: what plan_agent_name prints), a slots row, or
 * a create_pod intent still standing in for its pod (in flight, or succeeded moments ago and no
 * pod of the slot seen since it was decided: gone pods count, see snapshot.c). An agent is busy
 * when its assignedRequest is set or an unfinished job names it as reserved agent, whatever its
 * pod looks like. Agent intents (disable, enable, delete_registration) count only when newer than the slot's latest
 * create: a reused index has a new pod and a new registration under the old name. A delete_pod
 * intent belongs to the pod when decided after we first saw it (we only delete pods we saw):
 * creationTimestamp has whole seconds, so a replacement made in the second of the previous
 * incarnation's delete would otherwise look terminating. */

static const char slot_observations_sql[] =
    "WITH pool AS (SELECT name, length(name) + 8 AS cut FROM pools WHERE pool_id = ?1),"
    " pod AS (SELECT * FROM (SELECT p.*, row_number() OVER (PARTITION BY p.idx"
    "   ORDER BY p.deletion_requested, p.created_ms DESC, p.uid) AS rn FROM pods p"
    "   WHERE p.pool_id = ?1 AND p.gone_ms IS NULL AND p.role = 'agent' AND p.idx IS NOT NULL)"
    "   WHERE rn = 1),"
    " ag AS (SELECT * FROM (SELECT a.*, CAST(substr(a.name, pool.cut) AS INTEGER) AS idx,"
    "   row_number() OVER (PARTITION BY a.name ORDER BY a.status = 'online' DESC,"
    "   a.agent_id DESC) AS rn FROM agents a, pool"
    "   WHERE a.pool_id = ?1 AND a.gone_ms IS NULL"
    "   AND substr(a.name, 1, pool.cut - 1) = pool.name || '-agent-'"
    "   AND (substr(a.name, pool.cut) = '0' OR substr(a.name, pool.cut) GLOB '[1-9]*')"
    "   AND length(a.name) - pool.cut < 9"
    "   AND NOT substr(a.name, pool.cut) GLOB '*[^0-9]*') WHERE rn = 1),"
    " busy AS (SELECT reserved_agent_id AS agent_id FROM jobs WHERE pool_id = ?1"
    "   AND gone_ms IS NULL AND result IS NULL AND finish_ms IS NULL"
    "   AND reserved_agent_id IS NOT NULL),"
    " hist AS (SELECT i.intent_id, i.action, i.target, i.state, i.created_ms, i.ended_ms,"
    "   d.slot_idx, d.cap_key FROM intents i JOIN decisions d USING (decision_id)"
    "   WHERE i.pool_id = ?1 AND i.created_ms >= ?2 - ?3),"
    " ci AS (SELECT * FROM (SELECT h.*, row_number() OVER (PARTITION BY h.slot_idx"
    "   ORDER BY h.intent_id DESC) AS rn FROM hist h WHERE h.action = 'create_pod')"
    "   WHERE rn = 1),"
    " ai AS (SELECT * FROM (SELECT h.*, row_number() OVER (PARTITION BY h.target"
    "   ORDER BY h.intent_id DESC) AS rn FROM hist h"
    "   WHERE h.action IN ('disable_agent', 'enable_agent', 'delete_registration')"
    "   AND h.intent_id > COALESCE((SELECT c.intent_id FROM ci c"
    "    WHERE c.slot_idx = h.slot_idx), 0))"
    "   WHERE rn = 1),"
    " pi AS (SELECT * FROM (SELECT h.*, row_number() OVER (PARTITION BY h.target"
    "   ORDER BY h.intent_id DESC) AS rn FROM hist h WHERE h.action = 'delete_pod')"
    "   WHERE rn = 1),"
    " sl AS (SELECT * FROM slots WHERE pool_id = ?1),"
    " idxs AS (SELECT idx FROM pod UNION SELECT idx FROM ag UNION SELECT idx FROM sl"
    "   UNION SELECT slot_idx FROM ci WHERE state IN ('pending', 'started')"
    "   OR (state = 'succeeded' AND ended_ms >= ?2 - ?4))"
    " SELECT x.idx,"
    "  pod.name, pod.cap_key, pod.phase, pod.waiting_reason, pod.deletion_requested,"
    "  pod.created_ms, pod.bad_since_ms, pod.bad_observations,"
    "  ag.agent_id, ag.status = 'online', ag.enabled,"
    "  (ag.assigned_request_id IS NOT NULL OR ag.agent_id IN (SELECT agent_id FROM busy)),"
    "  ag.last_finish_ms, ag.status_changed_ms, ag.observed_ms,"
    "  sl.state, sl.cap_key,"
    "  ci.state, ci.ended_ms, ci.cap_key,"
    "  ai.action, ai.state, ai.ended_ms, ai.created_ms,"
    "  pi.state, pi.created_ms,"
    "  EXISTS (SELECT 1 FROM hist h WHERE h.action = 'delete_pod'"
    "   AND h.target = (SELECT name FROM pool) || '-agent-' || x.idx"
    "   AND h.intent_id > ci.intent_id),"
    "  EXISTS (SELECT 1 FROM pods sp WHERE sp.pool_id = ?1 AND sp.role = 'agent'"
    "   AND sp.idx = x.idx AND sp.first_seen_ms >= ci.created_ms),"
    "  COALESCE(pod.deletion_ms, 0)"
    " FROM idxs x LEFT JOIN pod ON pod.idx = x.idx LEFT JOIN ag ON ag.idx = x.idx"
    " LEFT JOIN sl ON sl.idx = x.idx LEFT JOIN ci ON ci.slot_idx = x.idx"
    " LEFT JOIN ai ON ai.target = (SELECT name FROM pool) || '-agent-' || x.idx"
    " LEFT JOIN pi ON pi.target = pod.name AND pi.created_ms >= pod.first_seen_ms"
    " WHERE x.idx IS NOT NULL ORDER BY x.idx";

static int slot_row(sqlite3_stmt *st, void *arg)
{
    struct rule_set *rs = arg;
    struct rule_slot *s = push(&rs->slots, &rs->n_slots, sizeof(*s));
    if (s == NULL)
        return -1;
    s->idx = sqlite3_column_int(st, 0);
    s->has_pod = sqlite3_column_type(st, 1) != SQLITE_NULL;
    col_copy(s->pod_name, sizeof(s->pod_name), st, 1);
    col_copy(s->pod_cap, sizeof(s->pod_cap), st, 2);
    col_copy(s->phase, sizeof(s->phase), st, 3);
    col_copy(s->waiting, sizeof(s->waiting), st, 4);
    s->pod_deleting = sqlite3_column_int(st, 5) != 0;
    s->pod_created_ms = col_i64(st, 6);
    s->bad_since_ms = col_i64(st, 7);
    s->bad_observations = sqlite3_column_int(st, 8);
    s->has_agent = sqlite3_column_type(st, 9) != SQLITE_NULL;
    s->agent_id = col_i64(st, 9);
    s->online = sqlite3_column_int(st, 10) != 0;
    s->enabled = sqlite3_column_int(st, 11) != 0;
    s->busy = sqlite3_column_int(st, 12) != 0;
    s->last_finish_ms = col_i64(st, 13);
    s->status_changed_ms = col_i64(st, 14);
    s->agent_observed_ms = col_i64(st, 15);
    col_copy(s->prev_state, sizeof(s->prev_state), st, 16);
    col_copy(s->prev_cap, sizeof(s->prev_cap), st, 17);
    col_copy(s->create_state, sizeof(s->create_state), st, 18);
    s->create_ended_ms = col_i64(st, 19);
    col_copy(s->create_cap, sizeof(s->create_cap), st, 20);
    col_copy(s->agent_act, sizeof(s->agent_act), st, 21);
    col_copy(s->agent_act_state, sizeof(s->agent_act_state), st, 22);
    s->agent_act_ended_ms = col_i64(st, 23);
    s->agent_act_created_ms = col_i64(st, 24);
    col_copy(s->pod_del_state, sizeof(s->pod_del_state), st, 25);
    s->pod_del_created_ms = col_i64(st, 26);
    s->create_superseded = sqlite3_column_int(st, 27) != 0;
    s->create_seen = sqlite3_column_int(st, 28) != 0;
    s->pod_deletion_ms = col_i64(st, 29);
    return 0;
}

/* ---- rule placeholders: placeholder registrations and their one-shot pods ------------------- */

static const char placeholders_sql[] =
    "SELECT a.name, 1, a.agent_id, '', 0 FROM agents a, pools p"
    " WHERE a.pool_id = ?1 AND p.pool_id = ?1 AND a.gone_ms IS NULL"
    " AND (a.name = p.name || '-template'"
    "  OR substr(a.name, 1, length(p.name) + 10) = p.name || '-template-')"
    " UNION ALL SELECT pd.name, 0, 0, pd.phase, pd.deletion_requested FROM pods pd"
    " WHERE pd.pool_id = ?1 AND pd.gone_ms IS NULL AND pd.role = 'placeholder'"
    " ORDER BY 1, 2 DESC, 3";

static int placeholder_row(sqlite3_stmt *st, void *arg)
{
    struct rule_set *rs = arg;
    struct rule_placeholder *p = push(&rs->phs, &rs->n_phs, sizeof(*p));
    if (p == NULL)
        return -1;
    col_copy(p->name, sizeof(p->name), st, 0);
    p->is_agent = sqlite3_column_int(st, 1) != 0;
    p->agent_id = col_i64(st, 2);
    col_copy(p->pod_phase, sizeof(p->pod_phase), st, 3);
    p->pod_deleting = sqlite3_column_int(st, 4) != 0;
    return 0;
}

/* ---- rule pvcs: claims present for the pool ------------------------------------------------- */

static const char pvcs_sql[] =
    "SELECT name, COALESCE(idx, -1), template, deleting FROM pvcs"
    " WHERE pool_id = ?1 AND gone_ms IS NULL ORDER BY name";

static int pvc_row(sqlite3_stmt *st, void *arg)
{
    struct rule_set *rs = arg;
    struct rule_pvc *c = push(&rs->pvcs, &rs->n_pvcs, sizeof(*c));
    if (c == NULL)
        return -1;
    col_copy(c->name, sizeof(c->name), st, 0);
    c->idx = sqlite3_column_int(st, 1);
    col_copy(c->tmpl, sizeof(c->tmpl), st, 2);
    c->deleting = sqlite3_column_int(st, 3) != 0;
    return 0;
}

/* ---- rule previous_conditions: conditions active at the latest tick in the window -------------------- */

static const char previous_events_sql[] =
    "SELECT j.value FROM ticks t, json_each(t.conditions) j WHERE t.tick_id ="
    " (SELECT max(tick_id) FROM ticks WHERE pool_id = ?1 AND at_ms >= ?2 - ?3) ORDER BY 1";

static const char open_targets_sql[] =
    "SELECT DISTINCT action || ':' || target FROM intents WHERE pool_id = ?1"
    " AND state IN ('pending', 'started') AND created_ms >= ?2 - ?3 ORDER BY 1";

struct str_list {
    char ***v;
    size_t *n;
};

static int str_row(sqlite3_stmt *st, void *arg)
{
    struct str_list *l = arg;
    const unsigned char *t = sqlite3_column_text(st, 0);
    char **slot = push(l->v, l->n, sizeof(char *));
    if (slot == NULL)
        return -1;
    *slot = strdup(t != NULL ? (const char *)t : "");
    return *slot == NULL ? -1 : 0;
}

int rules_load(struct store *s, int64_t pool_id, int64_t now_ms, struct rule_set *rs,
               struct err *err)
{
    struct str_list ev = {&rs->prev_events, &rs->n_prev_events};
    struct str_list ot = {&rs->open_targets, &rs->n_open_targets};
    int rc;

    memset(rs, 0, sizeof(*rs));
    rs->pool.pool_id = -1;
    rc = run_rule(s, "pool_facts", pool_facts_sql, pool_id, now_ms, 0, pool_row, &rs->pool,
                  err);
    if (rc == 0 && rs->pool.pool_id != pool_id)
        rc = err_set(err, -ENOENT, "pool %lld not found", (long long)pool_id);
    if (rc == 0)
        rc = run_rule(s, "capability_images", capability_images_sql, pool_id, now_ms, 0,
                      cap_row, rs, err);
    if (rc == 0)
        rc = run_rule(s, "pvc_templates", pvc_templates_sql, pool_id, now_ms, 0, tmpl_row, rs,
                      err);
    if (rc == 0)
        rc = run_rule(s, "classify_jobs", classify_jobs_sql, pool_id, now_ms, 0, job_row, rs,
                      err);
    if (rc == 0)
        rc = run_rule(s, "slot_observations", slot_observations_sql, pool_id, now_ms,
                      PLAN_CREATE_OBSERVE_MS, slot_row, rs, err);
    if (rc == 0)
        rc = run_rule(s, "placeholders", placeholders_sql, pool_id, now_ms, 0, placeholder_row,
                      rs, err);
    if (rc == 0)
        rc = run_rule(s, "pvcs", pvcs_sql, pool_id, now_ms, 0, pvc_row, rs, err);
    if (rc == 0)
        rc = run_rule(s, "previous_conditions", previous_events_sql, pool_id, now_ms, 0, str_row,
                      &ev, err);
    if (rc == 0)
        rc = run_rule(s, "open_intents", open_targets_sql, pool_id, now_ms, 0, str_row, &ot,
                      err);
    if (rc < 0)
        rules_free(rs);
    return rc;
}

void rules_free(struct rule_set *rs)
{
    free(rs->caps);
    free(rs->tmpls);
    free(rs->jobs);
    free(rs->slots);
    free(rs->phs);
    free(rs->pvcs);
    for (size_t i = 0; i < rs->n_prev_events; i++)
        free(rs->prev_events[i]);
    free(rs->prev_events);
    for (size_t i = 0; i < rs->n_open_targets; i++)
        free(rs->open_targets[i]);
    free(rs->open_targets);
    memset(rs, 0, sizeof(*rs));
}

/* ---- rule pull_failures: image-pull replacements of a variant under the current spec -------- */

static const char pull_failures_sql[] =
    "SELECT count(*), COALESCE(max(i.created_ms), 0) FROM intents i"
    " JOIN decisions d USING (decision_id) JOIN ticks t ON t.tick_id = d.tick_id"
    " WHERE i.pool_id = ?1 AND i.created_ms >= ?2 - ?3 AND d.action = 'delete_pod'"
    " AND d.reason = 'replace_failed.image_pull' AND d.cap_key = ?5 AND t.generation = ?4";

int rule_pull_failures(struct store *s, const struct rule_set *rs, const char *cap,
                       int64_t now_ms, int *count, int64_t *last_ms, struct err *err)
{
    sqlite3_stmt *st;
    int rc = store_stmt(s, pull_failures_sql, &st, err);

    *count = 0;
    *last_ms = 0;
    if (rc < 0)
        return err_wrap(err, "rule pull_failures");
    sqlite3_bind_int64(st, 1, rs->pool.pool_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, PLAN_HISTORY_MS);
    sqlite3_bind_int64(st, 4, rs->pool.generation);
    sqlite3_bind_text(st, 5, cap, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sqlite_err(store_db(s), err, "pull_failures");
        sqlite3_reset(st);
        return rc;
    }
    *count = sqlite3_column_int(st, 0);
    *last_ms = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 0;
}

/* ---- rule placeholder_history: when was this placeholder last registered by us? ------------ */

static const char placeholder_history_sql[] =
    "SELECT COALESCE(max(ended_ms), 0) FROM intents WHERE pool_id = ?1"
    " AND created_ms >= ?2 - ?3 AND action = 'register_placeholder' AND target = ?4"
    " AND state = 'succeeded'";

int rule_placeholder_last_registered(struct store *s, const struct rule_set *rs,
                                     const char *name, int64_t now_ms, int64_t *out,
                                     struct err *err)
{
    sqlite3_stmt *st;
    int rc = store_stmt(s, placeholder_history_sql, &st, err);

    *out = 0;
    if (rc < 0)
        return err_wrap(err, "rule placeholder_history");
    sqlite3_bind_int64(st, 1, rs->pool.pool_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, PLAN_HISTORY_MS);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sqlite_err(store_db(s), err, "placeholder_history");
        sqlite3_reset(st);
        return rc;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}
