/* plan_fixture.c - runs planner scenarios from JSON fixtures (see plan_fixture.h). */
#include "plan_fixture.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_audit.h"
#include "store/store_obs.h"

json_t *fixture_load(const char *name)
{
    char path[4096];
    json_error_t jerr;
    const char *src = getenv("AZDO_SRCDIR");

    snprintf(path, sizeof(path), "%s/tests/fixtures/plan/%s", src != NULL ? src : AZDO_SRCDIR,
             name);
    json_t *f = json_load_file(path, 0, &jerr);
    if (f == NULL)
        fprintf(stderr, "fixture %s: %s (line %d)\n", path, jerr.text, jerr.line);
    return f;
}

static const char *str(const json_t *o, const char *k, const char *dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static int64_t num(const json_t *o, const char *k, int64_t dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static bool flag(const json_t *o, const char *k, bool dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* A relative time in seconds -> absolute ms; absent -> 0 (unknown). */
static int64_t rel(const json_t *o, const char *k, int64_t now_ms)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? now_ms + json_integer_value(v) * 1000 : 0;
}

static enum azdo_conn conn_parse(const char *c)
{
    if (strcmp(c, "auth-failed") == 0)
        return AZDO_CONN_AUTH_FAILED;
    if (strcmp(c, "pool-not-found") == 0)
        return AZDO_CONN_POOL_NOT_FOUND;
    if (strcmp(c, "unreachable") == 0)
        return AZDO_CONN_UNREACHABLE;
    if (strcmp(c, "throttled") == 0)
        return AZDO_CONN_THROTTLED;
    return AZDO_CONN_OK;
}

int fixture_observe(struct store *s, const json_t *fixture, const json_t *step, int64_t now_ms)
{
    const json_t *pool = json_object_get(fixture, "pool");
    const json_t *pstep = json_object_get(step, "pool"); /* per-step overrides */
    struct pool_key key = {str(pool, "ns", "ci-agents"), str(pool, "name", "my-pool")};
    struct err err = {0};
    json_t *spec = json_object_get(pstep, "spec");
    char *spec_text = json_dumps(spec != NULL ? spec : json_object_get(pool, "spec"),
                                 JSON_COMPACT | JSON_SORT_KEYS);
    struct obs_pool op = {
        .uid = "pool-uid",
        .generation = num(pstep, "generation", num(pool, "generation", 1)),
        .spec_json = spec_text,
        .deletion_requested = flag(pstep, "deleting", flag(pool, "deleting", false)),
        .finalizer_present = flag(pstep, "finalizer", flag(pool, "finalizer", true)),
    };
    int rc = store_begin(s, &err);

    if (rc == 0)
        rc = store_observe_pool(s, &key, &op, now_ms, &err);
    free(spec_text);

    const json_t *v;
    size_t i, n;
    if (rc == 0 && json_object_get(step, "azdo") != json_null()) {
        struct obs_azdo a = {.conn = conn_parse(str(step, "azdo", "ok")), .azdo_pool_id = 42,
                             .detail = str(step, "azdo_detail", NULL)};
        rc = store_observe_azdo(s, &key, &a, now_ms - num(step, "azdo_age", 0) * 1000, &err);
    }
    /* Lists: only when Azure DevOps answered (a failed poll brings no list). */
    const json_t *list = json_object_get(step, "agents");
    if (rc == 0 && json_is_array(list)) {
        n = json_array_size(list);
        struct obs_agent *a = calloc(n + 1, sizeof(*a));
        char **caps = calloc(n + 1, sizeof(*caps));
        json_array_foreach(list, i, v)
        {
            a[i].id = num(v, "id", (int64_t)i + 1);
            a[i].name = str(v, "name", "");
            a[i].online = flag(v, "online", true);
            a[i].enabled = flag(v, "enabled", true);
            a[i].assigned_request_id = num(v, "assigned", 0);
            a[i].last_finish_ms = rel(v, "last_finish", now_ms);
            a[i].status_changed_ms = rel(v, "status_changed", now_ms);
            a[i].created_ms = rel(v, "created", now_ms);
            if (json_object_get(v, "caps") != NULL)
                caps[i] = json_dumps(json_object_get(v, "caps"), JSON_COMPACT | JSON_SORT_KEYS);
            a[i].capabilities_json = caps[i];
        }
        rc = store_observe_agents(s, &key, a, n, now_ms, &err);
        for (i = 0; i < n; i++)
            free(caps[i]);
        free(caps);
        free(a);
    }
    list = json_object_get(step, "jobs");
    if (rc == 0 && json_is_array(list)) {
        n = json_array_size(list);
        struct obs_job *j = calloc(n + 1, sizeof(*j));
        char **dem = calloc(n + 1, sizeof(*dem));
        json_array_foreach(list, i, v)
        {
            j[i].request_id = num(v, "id", (int64_t)i + 1);
            dem[i] = json_object_get(v, "demands") != NULL
                         ? json_dumps(json_object_get(v, "demands"), JSON_COMPACT)
                         : strdup("[]");
            j[i].demands_json = dem[i];
            j[i].queue_ms = rel(v, "queue", now_ms);
            if (j[i].queue_ms == 0)
                j[i].queue_ms = now_ms - 1000;
            j[i].assign_ms = rel(v, "assign", now_ms);
            j[i].receive_ms = rel(v, "receive", now_ms);
            j[i].finish_ms = rel(v, "finish", now_ms);
            j[i].result = str(v, "result", NULL);
            j[i].reserved_agent_id = num(v, "agent", 0);
            j[i].reserved_agent_name = str(v, "agent_name", NULL);
        }
        rc = store_observe_jobs(s, &key, j, n, now_ms, &err);
        for (i = 0; i < n; i++)
            free(dem[i]);
        free(dem);
        free(j);
    }
    list = json_object_get(step, "pods");
    if (rc == 0 && json_is_array(list)) {
        n = json_array_size(list);
        struct obs_pod *p = calloc(n + 1, sizeof(*p));
        char (*uids)[300] = calloc(n + 1, sizeof(*uids));
        json_array_foreach(list, i, v)
        {
            snprintf(uids[i], sizeof(uids[i]), "%s", str(v, "uid", ""));
            if (uids[i][0] == '\0')
                snprintf(uids[i], sizeof(uids[i]), "%s-uid", str(v, "name", "pod"));
            p[i].uid = uids[i];
            p[i].name = str(v, "name", "");
            p[i].role = strcmp(str(v, "role", "agent"), "placeholder") == 0 ? POD_PLACEHOLDER
                                                                              : POD_AGENT;
            p[i].idx = (int)num(v, "idx", -1);
            p[i].cap_key = str(v, "cap", "");
            p[i].phase = str(v, "phase", "Running");
            p[i].ready = flag(v, "ready", true);
            p[i].restarts = (int)num(v, "restarts", 0);
            p[i].waiting_reason = str(v, "waiting", NULL);
            p[i].deletion_requested = flag(v, "deleting", false);
            p[i].deletion_ms = rel(v, "deletion", now_ms);
            p[i].created_ms = rel(v, "created", now_ms);
            if (p[i].created_ms == 0)
                p[i].created_ms = now_ms - 600000;
        }
        rc = store_observe_pods(s, &key, p, n, now_ms, &err);
        free(uids);
        free(p);
    }
    list = json_object_get(step, "pvcs");
    if (rc == 0 && json_is_array(list)) {
        n = json_array_size(list);
        struct obs_pvc *c = calloc(n + 1, sizeof(*c));
        char (*uids)[300] = calloc(n + 1, sizeof(*uids));
        json_array_foreach(list, i, v)
        {
            snprintf(uids[i], sizeof(uids[i]), "%s-uid", str(v, "name", "pvc"));
            c[i].uid = uids[i];
            c[i].name = str(v, "name", "");
            c[i].idx = (int)num(v, "idx", -1);
            c[i].template = str(v, "template", "");
            c[i].phase = str(v, "phase", "Bound");
            c[i].deleting = flag(v, "deleting", false);
        }
        rc = store_observe_pvcs(s, &key, c, n, now_ms, &err);
        free(uids);
        free(c);
    }
    if (rc == 0)
        rc = store_commit(s, &err);
    if (rc < 0) {
        fprintf(stderr, "fixture observe: %s\n", err.msg);
        store_rollback(s);
    }
    return rc;
}

static size_t count_kind(const struct plan_result *r, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_actions; i++)
        n += strcmp(plan_kind_name(r->actions[i].kind), kind) == 0;
    return n;
}

static int fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

int fixture_check(const json_t *step, const struct plan_result *r, char *why, size_t len)
{
    const json_t *ex = json_object_get(step, "expect");
    const json_t *count = json_object_get(ex, "count");
    const char *key;
    const json_t *v;
    size_t i;

    if (ex == NULL)
        return 0;
    /* Every kind except emit_event: listed count, or 0 when not listed. */
    for (int k = 0; k < PLAN_KIND_COUNT; k++) {
        const char *kind = plan_kind_name((enum plan_kind)k);
        if (k == PLAN_EMIT_EVENT && json_object_get(count, kind) == NULL)
            continue;
        int64_t want = num(count, kind, 0);
        if ((int64_t)count_kind(r, kind) != want)
            return fail(why, len, "%s: want %lld, got %zu", kind, (long long)want,
                        count_kind(r, kind));
    }
    /* "after_prev": {"create_pod": [true, ...]}: the flag of each action of that kind, in order. */
    json_object_foreach((json_t *)json_object_get(ex, "after_prev"), key, v)
    {
        size_t got = 0;
        for (size_t a = 0; a < r->n_actions; a++) {
            if (strcmp(plan_kind_name(r->actions[a].kind), key) != 0)
                continue;
            const json_t *want = json_array_get(v, got);
            if (want == NULL || json_is_true(want) != r->actions[a].after_prev)
                return fail(why, len, "%s #%zu: after_prev want %s, got %s", key, got,
                            want == NULL ? "(none)" : json_is_true(want) ? "true" : "false",
                            r->actions[a].after_prev ? "true" : "false");
            got++;
        }
    }
    const json_t *targets = json_object_get(ex, "targets");
    json_object_foreach((json_t *)targets, key, v)
    {
        size_t got = 0;
        for (size_t a = 0; a < r->n_actions; a++) {
            if (strcmp(plan_kind_name(r->actions[a].kind), key) != 0)
                continue;
            const char *want = json_string_value(json_array_get(v, got));
            if (want == NULL || strcmp(want, r->actions[a].target) != 0)
                return fail(why, len, "%s #%zu: want %s, got %s", key, got,
                            want != NULL ? want : "(none)", r->actions[a].target);
            got++;
        }
        if (got != json_array_size(v))
            return fail(why, len, "%s: want %zu targets, got %zu", key, json_array_size(v), got);
    }
    const json_t *events = json_object_get(ex, "events");
    if (events != NULL) {
        size_t got = 0;
        for (size_t a = 0; a < r->n_actions; a++) {
            if (r->actions[a].kind != PLAN_EMIT_EVENT)
                continue;
            const char *want = json_string_value(json_array_get(events, got));
            if (want == NULL || strcmp(want, r->actions[a].target) != 0)
                return fail(why, len, "event #%zu: want %s, got %s (%s)", got,
                            want != NULL ? want : "(none)", r->actions[a].target,
                            r->actions[a].sentence);
            got++;
        }
        if (got != json_array_size(events))
            return fail(why, len, "events: want %zu, got %zu", json_array_size(events), got);
    }
    const json_t *seq = json_object_get(ex, "sequence");
    size_t pos = 0;
    json_array_foreach(seq, i, v)
    {
        bool found = false;
        for (; pos < r->n_actions && !found; pos++) {
            char buf[PLAN_NAME_MAX + 32];
            snprintf(buf, sizeof(buf), "%s %s", plan_kind_name(r->actions[pos].kind),
                     r->actions[pos].target);
            found = strcmp(buf, json_string_value(v)) == 0;
        }
        if (!found)
            return fail(why, len, "sequence: '%s' missing or out of order", json_string_value(v));
    }
    const json_t *counts = json_object_get(ex, "counts");
    const struct {
        const char *k;
        int v;
    } c[] = {{"waiting", r->counts.waiting}, {"idle", r->counts.idle},
             {"busy", r->counts.busy},       {"starting", r->counts.starting},
             {"created", r->counts.created}, {"deleted", r->counts.deleted},
             {"unmatched", r->counts.unmatched}};
    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        if (json_object_get(counts, c[i].k) != NULL && num(counts, c[i].k, -1) != c[i].v)
            return fail(why, len, "count %s: want %lld, got %d", c[i].k,
                        (long long)num(counts, c[i].k, -1), c[i].v);
    }
    if (str(ex, "state", NULL) != NULL && strcmp(str(ex, "state", ""), r->pool_state) != 0)
        return fail(why, len, "pool state: want %s, got %s (%s)", str(ex, "state", ""),
                    r->pool_state, r->pool_cause);
    const json_t *slots = json_object_get(ex, "slots");
    json_object_foreach((json_t *)slots, key, v)
    {
        const char *got = "absent";
        for (size_t k = 0; k < r->n_slots; k++) {
            if (r->slots[k].idx == atoi(key))
                got = r->slots[k].state;
        }
        if (strcmp(got, json_string_value(v)) != 0)
            return fail(why, len, "slot %s: want %s, got %s", key, json_string_value(v), got);
    }
    const json_t *flags = json_object_get(ex, "run_once");
    if (json_is_boolean(flags)) {
        for (size_t a = 0; a < r->n_actions; a++) {
            if (r->actions[a].kind == PLAN_CREATE_POD &&
                r->actions[a].run_once != json_is_true(flags))
                return fail(why, len, "create_pod %s: run_once want %d", r->actions[a].target,
                            json_is_true(flags));
        }
    }
    const json_t *once = json_object_get(ex, "create_run_once"); /* per create_pod, in order */
    if (once != NULL) {
        size_t got = 0;
        for (size_t a = 0; a < r->n_actions; a++) {
            if (r->actions[a].kind != PLAN_CREATE_POD)
                continue;
            const json_t *want = json_array_get(once, got);
            if (!json_is_boolean(want) || r->actions[a].run_once != json_is_true(want))
                return fail(why, len, "create_pod #%zu (%s): run_once %d unexpected", got,
                            r->actions[a].target, r->actions[a].run_once);
            got++;
        }
        if (got != json_array_size(once))
            return fail(why, len, "create_run_once: want %zu creates, got %zu",
                        json_array_size(once), got);
    }
    const json_t *caps = json_object_get(ex, "create_caps");
    if (caps != NULL) {
        size_t got = 0;
        for (size_t a = 0; a < r->n_actions; a++) {
            if (r->actions[a].kind != PLAN_CREATE_POD)
                continue;
            const char *want = json_string_value(json_array_get(caps, got));
            if (want == NULL || strcmp(want, r->actions[a].cap_key) != 0)
                return fail(why, len, "create_pod #%zu cap: want %s, got '%s'", got,
                            want != NULL ? want : "(none)", r->actions[a].cap_key);
            got++;
        }
    }
    const char *omit = str(ex, "omit_pvcs", NULL);
    for (size_t a = 0; omit != NULL && a < r->n_actions; a++) {
        if (r->actions[a].kind == PLAN_CREATE_POD && strcmp(r->actions[a].omit_pvcs, omit) != 0)
            return fail(why, len, "omit_pvcs: want '%s', got '%s'", omit, r->actions[a].omit_pvcs);
    }
    return 0;
}

int fixture_execute(struct store *s, const struct plan_result *r, const char *mode,
                    int64_t now_ms)
{
    struct err err = {0};
    enum intent_outcome o = strcmp(mode, "fail") == 0 ? INTENT_FAILED : INTENT_SUCCEEDED;

    if (strcmp(mode, "none") == 0)
        return 0;
    for (size_t i = 0; i < r->n_actions; i++) {
        if (store_intent_start(s, r->actions[i].intent_id, now_ms, &err) < 0 ||
            store_intent_finish(s, r->actions[i].intent_id, o,
                                o == INTENT_FAILED ? "scripted failure" : NULL, now_ms + 100,
                                &err) < 0) {
            fprintf(stderr, "fixture execute: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

void fixture_dump(const struct plan_result *r)
{
    fprintf(stderr, "  state %s (%s), waiting %d idle %d busy %d starting %d\n", r->pool_state,
            r->pool_cause, r->counts.waiting, r->counts.idle, r->counts.busy, r->counts.starting);
    for (size_t i = 0; i < r->n_actions; i++)
        fprintf(stderr, "  %-20s %-28s slot %d cap '%s' %s: %s\n",
                plan_kind_name(r->actions[i].kind), r->actions[i].target, r->actions[i].slot,
                r->actions[i].cap_key, r->actions[i].reason, r->actions[i].sentence);
    for (size_t i = 0; i < r->n_slots; i++)
        fprintf(stderr, "  slot %d %s (%s)\n", r->slots[i].idx, r->slots[i].state,
                r->slots[i].cause);
}

int fixture_run(struct store *s, const json_t *fixture, char *why, size_t len)
{
    const json_t *pool = json_object_get(fixture, "pool");
    struct pool_key key = {str(pool, "ns", "ci-agents"), str(pool, "name", "my-pool")};
    const json_t *step;
    size_t i;

    json_array_foreach(json_object_get(fixture, "steps"), i, step)
    {
        int64_t now = FIXTURE_T0_MS + num(step, "at", 0) * 1000;
        struct plan_result r;
        struct err err = {0};
        char msg[512];

        if (fixture_observe(s, fixture, step, now) < 0)
            return fail(why, len, "step %zu: observation failed", i);
        if (plan(s, &key, now, &r, &err) < 0)
            return fail(why, len, "step %zu: plan failed: %s", i, err.msg);
        if (store_record_tick(s, &r, NULL, &err) < 0) {
            plan_result_free(&r);
            return fail(why, len, "step %zu: record failed: %s", i, err.msg);
        }
        if (fixture_check(step, &r, msg, sizeof(msg)) < 0) {
            fprintf(stderr, "%s, step %zu (%s):\n", str(fixture, "name", "?"), i,
                    str(step, "note", ""));
            fixture_dump(&r);
            plan_result_free(&r);
            return fail(why, len, "step %zu (%s): %s", i, str(step, "note", ""), msg);
        }
        int rc = fixture_execute(s, &r, str(step, "execute", "succeed"), now);
        plan_result_free(&r);
        if (rc < 0)
            return fail(why, len, "step %zu: execute failed", i);
    }
    return 0;
}
