/* pools.c - the in-memory registry of RunnerPools (see operator.h).
 * A linked list: lookups are O(n), which at the documented scale (1,000 pools) costs a few
 * microseconds per observation. LIMITATION: at tens of thousands of pools a hash table would be
 * needed; nothing else changes. */
#include "operator/operator.h"

#include <stdlib.h>
#include <string.h>

struct op_pool *op_pool_find(struct op *op, const char *ns, const char *name)
{
    for (struct op_pool *p = op->pools; p != NULL; p = p->next) {
        if (strcmp(p->ns, ns) == 0 && strcmp(p->name, name) == 0)
            return p;
    }
    return NULL;
}

static void on_retry_timer(struct loop_timer *t, void *cb_data)
{
    (void)t;
    op_pool_dirty(cb_data);
}

struct op_pool *op_pool_get(struct op *op, const char *ns, const char *name)
{
    struct op_pool *p = op_pool_find(op, ns, name);

    if (p != NULL)
        return p;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->op = op;
    p->ns = strdup(ns);
    p->name = strdup(name);
    if (p->ns == NULL || p->name == NULL) {
        op_pool_free(p);
        return NULL;
    }
    loop_timer_init(&p->retry_timer, on_retry_timer, p);
    p->next = op->pools;
    op->pools = p;
    return p;
}

static void free_secret(char **s)
{
    if (*s != NULL) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void op_pool_free(struct op_pool *p)
{
    if (p == NULL)
        return;
    if (p->op != NULL) {
        op_poll_stop(p);
        loop_timer_stop(p->op->loop, &p->retry_timer);
    }
    json_decref(p->obj);
    runner_pool_free(p->spec);
    free_secret(&p->pat);
    free(p->pat_rv);
    free(p->azdo_pool_for);
    free(p->last_status);
    free(p->last_tick_sig);
    free(p->last_event_state);
    free(p->ns);
    free(p->name);
    free(p);
}

void op_pool_dirty(struct op_pool *p)
{
    p->dirty = true;
    if (!loop_timer_armed(&p->op->reconcile_timer))
        loop_timer_start(p->op->loop, &p->op->reconcile_timer, 0);
}
