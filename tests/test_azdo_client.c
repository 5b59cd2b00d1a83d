/* test_azdo_client.c - the async Azure DevOps client against a scripted fake server on
 * 127.0.0.1 (tests/test_http_fake.c): pool id caching, headers and auth, URL shapes, request
 * bodies, outcomes, throttle gates per organisation, counters, and the PAT never leaking. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azdo/client.h"
#include "log.h"
#include "test_http_fake.h"

#define OLD_PAT "pat-old-123"
#define OLD_BASIC "Authorization: Basic OnBhdC1vbGQtMTIz" /* base64(":pat-old-123") */
#define NEW_PAT "pat-new-456"
#define NEW_BASIC "Authorization: Basic OnBhdC1uZXctNDU2" /* base64(":pat-new-456") */

/* ---- the fake Azure DevOps: answers per route, switchable by the test ---- */

struct script {
    pthread_mutex_t mu;
    int pool_status;
    const char *pool_ct, *pool_body;
    int jobs_status;
    const char *jobs_headers, *jobs_body;
    int delete_status;
    int missing_suppress, missing_accept, wrong_auth; /* header checks over all requests */
    const char *expect_basic;
};

static struct script script;

static void reset_script(void)
{
    pthread_mutex_lock(&script.mu);
    script.pool_status = 200;
    script.pool_ct = "application/json; charset=utf-8";
    script.pool_body = "{\"count\":1,\"value\":[{\"id\":42,\"name\":\"my-pool\"}]}";
    script.jobs_status = 200;
    script.jobs_headers = NULL;
    script.jobs_body = "{\"count\":2,\"value\":[{\"requestId\":104,\"queueTime\":"
                       "\"2025-03-02T09:15:04.21Z\",\"demands\":[\"java\"]},{\"requestId\":101,"
                       "\"receiveTime\":\"2025-03-02T09:10:00Z\",\"reservedAgent\":{\"id\":7,"
                       "\"name\":\"my-pool-agent-1\"}}]}";
    script.delete_status = 204;
    script.missing_suppress = script.missing_accept = script.wrong_auth = 0;
    script.expect_basic = OLD_BASIC;
    pthread_mutex_unlock(&script.mu);
}

static void respond_json(struct fake_conn *c, int status, const char *extra, const char *ct,
                         const char *body)
{
    char headers[512];
    snprintf(headers, sizeof(headers), "Content-Type: %s\r\n%s", ct, extra ? extra : "");
    fake_respond(c, status, headers, body);
}

static void handler(struct fake_conn *c, const struct fake_req *req, void *data)
{
    const char *t = req->target;
    const char *json = "application/json; charset=utf-8";
    char body[1024];
    (void)data;

    pthread_mutex_lock(&script.mu);
    if (strstr(req->headers, "X-TFS-FedAuthRedirect: Suppress") == NULL)
        script.missing_suppress++;
    if (strstr(req->headers, "Accept: application/json") == NULL)
        script.missing_accept++;
    if (strstr(req->headers, script.expect_basic) == NULL)
        script.wrong_auth++;
    int pool_status = script.pool_status, jobs_status = script.jobs_status;
    int delete_status = script.delete_status;
    const char *pool_ct = script.pool_ct, *pool_body = script.pool_body;
    const char *jobs_headers = script.jobs_headers, *jobs_body = script.jobs_body;
    pthread_mutex_unlock(&script.mu);

    if (strncmp(t, "/org-b/", 7) == 0) { /* a second, healthy organisation */
        if (strstr(t, "/pools?") != NULL)
            respond_json(c, 200, NULL, json, "{\"value\":[{\"id\":5,\"name\":\"my-pool\"}]}");
        else
            respond_json(c, 200, NULL, json, "{\"value\":[]}");
    } else if (strstr(t, "/_apis/distributedtask/pools?") != NULL) {
        respond_json(c, pool_status, NULL, pool_ct, pool_body);
    } else if (strstr(t, "/jobrequests") != NULL) {
        respond_json(c, jobs_status, jobs_headers, json, jobs_body);
    } else if (strcmp(req->method, "GET") == 0 && strstr(t, "/agents?") != NULL) {
        respond_json(c, 200, NULL, json,
                     "{\"count\":1,\"value\":[{\"id\":7,\"name\":\"my-pool-agent-1\",\"status\":"
                     "\"online\",\"enabled\":true,\"assignedRequest\":{\"requestId\":101}}]}");
    } else if (strcmp(req->method, "GET") == 0 && strstr(t, "/agents/7?") != NULL) {
        respond_json(c, 200, NULL, json,
                     "{\"id\":7,\"name\":\"my-pool-agent-1\",\"enabled\":"
                     "false,\"assignedRequest\":{\"requestId\":202}}");
    } else if (strcmp(req->method, "PATCH") == 0) {
        respond_json(c, 200, NULL, json,
                     "{\"id\":7,\"name\":\"my-pool-agent-1\",\"enabled\":false}");
    } else if (strcmp(req->method, "DELETE") == 0) {
        fake_respond(c, delete_status, NULL, NULL);
    } else if (strcmp(req->method, "POST") == 0) {
        snprintf(body, sizeof(body),
                 "{\"id\":99,\"name\":\"my-pool-template\",\"status\":"
                 "\"offline\",\"enabled\":true}");
        respond_json(c, 200, NULL, json, body);
    } else {
        respond_json(c, 404, NULL, json, "{\"message\":\"no route\"}");
    }
}

/* ---- fixture ---- */

/* Opens 'path' for the client's log lines, at debug level so every line is there to check. */
static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    log_set_fd(fd);
    log_set_level(LOG_DEBUG);
    return fd;
}

struct fx {
    struct fake_http *fake;
    struct loop *loop;
    struct http *http;
    struct azdo_client *client;
    struct azdo_org org, org_b;
    struct azdo_target target, target_b;
    char log_path[64];
    int log_fd;
};

/* What a callback saw, copied out for the assertions. */
struct seen {
    bool done;
    int calls;
    struct azdo_result res; /* lists taken over by the test, freed in forget() */
};

static void on_done(struct azdo_result *res, void *cb_data)
{
    struct seen *s = cb_data;

    s->calls++;
    s->done = true;
    s->res = *res;
    /* Take the lists, as a real caller keeping them would. */
    memset(&res->jobs, 0, sizeof(res->jobs));
    memset(&res->agents, 0, sizeof(res->agents));
    memset(&res->agent, 0, sizeof(res->agent));
}

static void forget(struct seen *s)
{
    azdo_job_list_free(&s->res.jobs);
    azdo_agent_list_free(&s->res.agents);
    azdo_agent_clear(&s->res.agent);
    memset(s, 0, sizeof(*s));
}

static void run_until(struct fx *fx, struct seen *s)
{
    assert_int_equal(loop_run_until(fx->loop, &s->done, 10000), 0);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char url[256];

    pthread_mutex_init(&script.mu, NULL);
    reset_script();
    fx->fake = fake_http_start(handler, NULL);
    assert_int_equal(loop_new(&fx->loop, NULL), 0);
    assert_int_equal(http_new(fx->loop, &fx->http, NULL), 0);
    assert_int_equal(azdo_client_new(fx->loop, fx->http, NULL, &fx->client, NULL), 0);
    snprintf(url, sizeof(url), "%s/my-org/", fake_http_url(fx->fake));
    assert_int_equal(azdo_org_parse(url, &fx->org, NULL), 0);
    snprintf(url, sizeof(url), "%s/org-b", fake_http_url(fx->fake));
    assert_int_equal(azdo_org_parse(url, &fx->org_b, NULL), 0);
    fx->target = (struct azdo_target){.org = &fx->org,
                                      .pool_name = "my-pool",
                                      .pat = OLD_PAT "\n",
                                      .identity = "ci-agents/azdo-pat"};
    fx->target_b = fx->target;
    fx->target_b.org = &fx->org_b;

    /* Every log line of the client goes to a file the tests grep for the PAT. */
    snprintf(fx->log_path, sizeof(fx->log_path), "/tmp/test_azdo_client.%d.log", (int)getpid());
    fx->log_fd = open_log(fx->log_path);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    azdo_client_free(fx->client);
    http_free(fx->http);
    loop_free(fx->loop);
    fake_http_stop(fx->fake);
    log_set_fd(2);
    log_set_level(LOG_INFO);
    close(fx->log_fd);
    unlink(fx->log_path);
    free(fx);
    return 0;
}

/* True when 'needle' occurs anywhere in the log file so far. */
static bool log_contains(struct fx *fx, const char *needle)
{
    FILE *f = fopen(fx->log_path, "r");
    char line[4096];
    bool found = false;

    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* ---- tests ---- */

static void test_poll_resolves_pool_once_and_sends_the_right_requests(void **state)
{
    struct fx *fx = *state;
    struct seen jobs = {0}, agents = {0}, again = {0};
    char target[1024];

    /* Cold cache, two calls at once: one pool lookup serves both. */
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &jobs, NULL), 0);
    assert_int_equal(
        azdo_list_agents(fx->client, &fx->target, AZDO_INC_LAST_COMPLETED, on_done, &agents, NULL),
        0);
    assert_false(jobs.done); /* never from inside the starting call */
    run_until(fx, &jobs);
    run_until(fx, &agents);

    assert_int_equal(jobs.res.verdict.outcome, AZDO_OK);
    assert_int_equal(jobs.res.pool_id, 42);
    assert_int_equal(jobs.res.jobs.len, 2);
    assert_int_equal(jobs.res.jobs.items[0].request_id, 104);
    assert_int_equal(azdo_job_state(&jobs.res.jobs.items[1]), AZDO_JOB_RUNNING);
    assert_int_equal(agents.res.verdict.outcome, AZDO_OK);
    assert_int_equal(agents.res.agents.len, 1);
    assert_int_equal(agents.res.agents.items[0].assigned_request_id, 101);

    /* A second poll uses the cached id. */
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &again, NULL), 0);
    run_until(fx, &again);
    assert_int_equal(fake_http_count(fx->fake, "GET", NULL, "/pools?"), 1);
    assert_int_equal(fake_http_count(fx->fake, "GET", NULL, "/jobrequests"), 2);

    assert_true(fake_http_target(fx->fake, "GET", NULL, 1, target, sizeof(target)));
    assert_string_equal(target, "/my-org/_apis/distributedtask/pools?poolName=my-pool"
                                "&poolType=automation&api-version=7.1");
    assert_true(fake_http_target(fx->fake, "GET", "/my-org/_apis/distributedtask/pools/42/job", 1,
                                 target, sizeof(target)));
    assert_string_equal(target, "/my-org/_apis/distributedtask/pools/42/jobrequests"
                                "?completedRequestCount=0");
    assert_true(fake_http_target(fx->fake, "GET", "/my-org/_apis/distributedtask/pools/42/agents",
                                 1, target, sizeof(target)));
    assert_string_equal(target, "/my-org/_apis/distributedtask/pools/42/agents?"
                                "includeAssignedRequest=true&includeLastCompletedRequest=true&"
                                "api-version=7.1");

    /* Every request: Suppress, Accept JSON, basic auth with an empty user and the trimmed PAT. */
    pthread_mutex_lock(&script.mu);
    assert_int_equal(script.missing_suppress, 0);
    assert_int_equal(script.missing_accept, 0);
    assert_int_equal(script.wrong_auth, 0);
    pthread_mutex_unlock(&script.mu);

    struct azdo_counters n;
    assert_int_equal(azdo_client_counters(fx->client, fx->org.key, &n), 0);
    assert_int_equal(n.requests, 4);
    assert_int_equal(n.errors, 0);
    assert_int_equal(n.throttled, 0);
    forget(&jobs);
    forget(&agents);
    forget(&again);
}

static void test_agent_changes_send_the_documented_bodies(void **state)
{
    struct fx *fx = *state;
    struct seen patch = {0}, get = {0}, del = {0}, reg = {0}, gone = {0};
    struct azdo_caps caps = {0};
    char body[4096];

    assert_int_equal(
        azdo_set_agent_enabled(fx->client, &fx->target, 7, false, on_done, &patch, NULL), 0);
    run_until(fx, &patch);
    assert_int_equal(patch.res.verdict.outcome, AZDO_OK);
    assert_false(patch.res.agent.enabled);
    assert_true(fake_http_body(fx->fake, "PATCH",
                               "/my-org/_apis/distributedtask/pools/42/agents/7"
                               "?api-version=7.1",
                               1, body, sizeof(body)));
    assert_string_equal(body, "{\"id\":7,\"enabled\":false}");

    assert_int_equal(azdo_get_agent(fx->client, &fx->target, 7, on_done, &get, NULL), 0);
    run_until(fx, &get);
    assert_int_equal(get.res.agent.assigned_request_id, 202);
    assert_int_equal(fake_http_count(fx->fake, "GET", NULL,
                                     "/agents/7?includeAssignedRequest=true&api-version=7.1"),
                     1);

    assert_int_equal(azdo_delete_agent(fx->client, &fx->target, 7, on_done, &del, NULL), 0);
    run_until(fx, &del);
    assert_int_equal(del.res.verdict.outcome, AZDO_OK);
    assert_int_equal(fake_http_count(fx->fake, "DELETE",
                                     "/my-org/_apis/distributedtask/pools/42/agents/7", NULL),
                     1);

    /* Deleting what is already gone: NOT_FOUND / AgentNotFound, and the pool cache survives. */
    pthread_mutex_lock(&script.mu);
    script.delete_status = 404;
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_delete_agent(fx->client, &fx->target, 8, on_done, &gone, NULL), 0);
    run_until(fx, &gone);
    assert_int_equal(gone.res.verdict.outcome, AZDO_NOT_FOUND);
    assert_string_equal(gone.res.verdict.reason, "AgentNotFound");

    assert_int_equal(azdo_caps_set(&caps, "gpu", "true", false), 0);
    assert_int_equal(azdo_register_agent(fx->client, &fx->target, "my-pool-template-gpu", "3.248.0",
                                         &caps, on_done, &reg, NULL),
                     0);
    azdo_caps_clear(&caps); /* borrowed only for the call */
    run_until(fx, &reg);
    assert_int_equal(reg.res.verdict.outcome, AZDO_OK);
    assert_int_equal(reg.res.agent.id, 99);
    assert_true(fake_http_body(fx->fake, "POST",
                               "/my-org/_apis/distributedtask/pools/42/agents"
                               "?api-version=7.1",
                               1, body, sizeof(body)));
    json_t *sent = json_loads(body, 0, NULL);
    assert_non_null(sent);
    assert_string_equal(json_string_value(json_object_get(sent, "name")), "my-pool-template-gpu");
    assert_int_equal(json_integer_value(json_object_get(sent, "maxParallelism")), 1);
    json_t *sys = json_object_get(sent, "systemCapabilities");
    assert_string_equal(json_string_value(json_object_get(sys, "gpu")), "true");
    assert_string_equal(json_string_value(json_object_get(sys, "Agent.Version")), "3.248.0");
    json_t *key = json_object_get(json_object_get(sent, "authorization"), "publicKey");
    assert_string_equal(json_string_value(json_object_get(key, "exponent")), "AQAB");
    assert_int_equal(strlen(json_string_value(json_object_get(key, "modulus"))), 344); /* 256 B */
    json_decref(sent);

    assert_int_equal(fake_http_count(fx->fake, "GET", NULL, "/pools?"), 1);
    forget(&patch);
    forget(&get);
    forget(&del);
    forget(&reg);
    forget(&gone);
}

static void test_pool_missing_and_sign_in_page(void **state)
{
    struct fx *fx = *state;
    struct seen a = {0}, b = {0}, c = {0};

    pthread_mutex_lock(&script.mu);
    script.pool_body = "{\"count\":0,\"value\":[]}";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    assert_int_equal(azdo_list_agents(fx->client, &fx->target, 0, on_done, &b, NULL), 0);
    run_until(fx, &a);
    run_until(fx, &b);
    assert_int_equal(a.res.verdict.outcome, AZDO_NOT_FOUND);
    assert_string_equal(a.res.verdict.reason, "PoolNotFound");
    assert_int_equal(b.res.verdict.outcome, AZDO_NOT_FOUND); /* the waiter learns it too */
    assert_non_null(strstr(a.res.err.msg, "'my-pool' not found"));
    assert_int_equal(fake_http_count(fx->fake, NULL, NULL, "/jobrequests"), 0);

    /* A 203 sign-in page is an auth failure, whatever the 2xx. */
    pthread_mutex_lock(&script.mu);
    script.pool_status = 203;
    script.pool_ct = "text/html; charset=utf-8";
    script.pool_body = "<html><title>Azure DevOps Services | Sign In</title></html>";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &c, NULL), 0);
    run_until(fx, &c);
    assert_int_equal(c.res.verdict.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(c.res.verdict.reason, "SignInPage");
    assert_null(strstr(c.res.err.msg, "pat-old"));
    forget(&a);
    forget(&b);
    forget(&c);
}

static void test_429_shuts_only_that_orgs_gate(void **state)
{
    struct fx *fx = *state;
    struct seen a = {0}, other = {0};
    struct err err = {0};
    int before;

    pthread_mutex_lock(&script.mu);
    script.jobs_status = 429;
    script.jobs_headers = "Retry-After: 30\r\nX-RateLimit-Resource: Illustrative\r\n";
    script.jobs_body = "{\"message\":\"TF400733: illustrative\"}";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    run_until(fx, &a);
    assert_int_equal(a.res.verdict.outcome, AZDO_THROTTLED);
    assert_int_equal(a.res.verdict.wait_ms, 30000);

    /* The gate is shut for Retry-After (30 s, more than the first backoff's 10 s ceiling):
     * nothing is sent, no callback runs. */
    before = fake_http_count(fx->fake, NULL, NULL, NULL);
    assert_true(azdo_client_wait_ms(fx->client, &fx->target) > 10000);
    assert_int_equal(azdo_list_agents(fx->client, &fx->target, 0, on_done, &a, &err), -EAGAIN);
    assert_non_null(strstr(err.msg, "paused"));
    assert_int_equal(fake_http_count(fx->fake, NULL, NULL, NULL), before);

    /* Resetting after a Secret change does not override the server's wait. */
    azdo_client_reset_backoff(fx->client, &fx->target);
    assert_true(azdo_client_wait_ms(fx->client, &fx->target) > 10000);

    /* Another organisation is not delayed. */
    assert_int_equal(azdo_client_wait_ms(fx->client, &fx->target_b), 0);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target_b, on_done, &other, NULL), 0);
    run_until(fx, &other);
    assert_int_equal(other.res.verdict.outcome, AZDO_OK);

    struct azdo_counters n;
    assert_int_equal(azdo_client_counters(fx->client, fx->org.key, &n), 0);
    assert_int_equal(n.throttled, 1);
    assert_int_equal(n.errors, 1);
    assert_int_equal(azdo_client_counters(fx->client, fx->org_b.key, &n), 0);
    assert_int_equal(n.errors, 0);
    assert_int_equal(azdo_client_counters(fx->client, "nowhere/else", &n), -ENOENT);
    forget(&a);
    forget(&other);
}

static void test_failures_back_off_and_rotation_resets(void **state)
{
    struct fx *fx = *state;
    struct seen a = {0}, b = {0};
    struct err err = {0};
    /* A one-minute backoff, so a slow machine cannot see the gate reopen by itself. */
    struct azdo_client_config cfg = {
        .backoff = {.base_ms = 60000, .cap_ms = 60000, .min_ms = 60000}};

    azdo_client_free(fx->client);
    assert_int_equal(azdo_client_new(fx->loop, fx->http, &cfg, &fx->client, NULL), 0);
    pthread_mutex_lock(&script.mu);
    script.jobs_status = 401;
    script.jobs_body = "{\"typeKey\":\"AccessCheckException\",\"message\":\"VS999999: "
                       "illustrative: the personal access token has expired\"}";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    run_until(fx, &a);
    assert_int_equal(a.res.verdict.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(a.res.verdict.reason, "TokenExpired");
    assert_true(azdo_client_wait_ms(fx->client, &fx->target) > 30000);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &b, &err), -EAGAIN);

    /* The admin writes a new PAT: the operator resets the gate and the next call uses it. */
    pthread_mutex_lock(&script.mu);
    script.jobs_status = 200;
    script.jobs_body = "{\"value\":[]}";
    script.expect_basic = NEW_BASIC;
    script.wrong_auth = 0;
    pthread_mutex_unlock(&script.mu);
    azdo_client_reset_backoff(fx->client, &fx->target);
    fx->target.pat = NEW_PAT;
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &b, NULL), 0);
    run_until(fx, &b);
    assert_int_equal(b.res.verdict.outcome, AZDO_OK);
    pthread_mutex_lock(&script.mu);
    assert_int_equal(script.wrong_auth, 0);
    pthread_mutex_unlock(&script.mu);
    forget(&a);
    forget(&b);
}

static void test_404_on_the_pool_path_re_resolves(void **state)
{
    struct fx *fx = *state;
    struct seen a = {0}, b = {0};

    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    run_until(fx, &a);
    forget(&a);
    pthread_mutex_lock(&script.mu);
    script.jobs_status = 404;
    script.jobs_body = "{\"message\":\"pool gone\"}";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    run_until(fx, &a);
    assert_string_equal(a.res.verdict.reason, "PoolNotFound");

    /* The pool was re-created: the next call looks the id up again. */
    pthread_mutex_lock(&script.mu);
    script.jobs_status = 200;
    script.jobs_body = "{\"value\":[]}";
    script.pool_body = "{\"count\":1,\"value\":[{\"id\":43,\"name\":\"my-pool\"}]}";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &b, NULL), 0);
    run_until(fx, &b);
    assert_int_equal(b.res.pool_id, 43);
    assert_int_equal(fake_http_count(fx->fake, "GET", NULL, "/pools?"), 2);
    forget(&a);
    forget(&b);
}

static void test_bad_shape_is_an_error_naming_the_place(void **state)
{
    struct fx *fx = *state;
    struct seen a = {0};

    pthread_mutex_lock(&script.mu);
    script.jobs_body = "{\"value\":[{\"requestId\":\"x\"}]}";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    run_until(fx, &a);
    assert_int_equal(a.res.verdict.outcome, AZDO_BAD_RESPONSE);
    assert_string_equal(a.res.verdict.reason, "BadShape");
    assert_string_equal(a.res.err.msg, "jobrequests: value[0].requestId: expected an integer");
    assert_int_equal(a.res.jobs.len, 0);
    forget(&a);
}

static void test_refusals_and_free_with_calls_in_flight(void **state)
{
    struct fx *fx = *state;
    struct seen a = {0};
    struct azdo_target t = fx->target;
    struct err err = {0};

    t.pat = " \n";
    assert_int_equal(azdo_list_jobs(fx->client, &t, on_done, &a, &err), -EINVAL);
    t = fx->target;
    t.pool_name = NULL;
    assert_int_equal(azdo_list_jobs(fx->client, &t, on_done, &a, &err), -EINVAL);

    /* Freed with a call in flight: its callback never runs (teardown frees a fresh client). */
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    azdo_client_free(fx->client);
    assert_int_equal(azdo_client_new(fx->loop, fx->http, NULL, &fx->client, NULL), 0);
    bool never = false;
    loop_run_until(fx->loop, &never, 200);
    assert_int_equal(a.calls, 0);
}

static void test_pat_never_reaches_logs_or_errors(void **state)
{
    struct fx *fx = *state;
    struct seen a = {0}, b = {0};

    pthread_mutex_lock(&script.mu);
    script.jobs_status = 500;
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    run_until(fx, &a);
    assert_int_equal(a.res.verdict.outcome, AZDO_UNREACHABLE);
    assert_null(strstr(a.res.err.msg, OLD_PAT));
    assert_null(strstr(a.res.verdict.detail, OLD_PAT));
    azdo_client_reset_backoff(fx->client, &fx->target);
    assert_int_equal(
        azdo_register_agent(fx->client, &fx->target, "tpl", "3.248.0", NULL, on_done, &b, NULL), 0);
    run_until(fx, &b);
    assert_true(log_contains(fx, "\"org\"")); /* the log did get lines */
    assert_false(log_contains(fx, OLD_PAT));
    assert_false(log_contains(fx, "OnBhdC1vbGQtMTIz"));
    forget(&a);
    forget(&b);
}

/* Headers beyond Retry-After reach the classifier: a delayed 200 pauses the org's gate (field
 * report #15), and a 401's X-TFS-ServiceError names the expired token (field report #13). */
static void test_rate_limit_and_service_error_headers_are_read(void **state)
{
    struct fx *fx = *state;
    struct seen a = {0};

    pthread_mutex_lock(&script.mu);
    script.jobs_headers = "X-RateLimit-Delay: 20\r\nX-RateLimit-Resource: Illustrative\r\n";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &a, NULL), 0);
    run_until(fx, &a);
    assert_int_equal(a.res.verdict.outcome, AZDO_OK);
    assert_int_equal(a.res.verdict.wait_ms, 20000);
    assert_true(azdo_client_wait_ms(fx->client, &fx->target) > 10000);
    forget(&a);
}

static void test_service_error_header_names_an_expired_token(void **state)
{
    struct fx *fx = *state;
    struct seen b = {0};

    pthread_mutex_lock(&script.mu);
    script.jobs_status = 401;
    script.jobs_headers = "X-TFS-ServiceError: The%20Personal%20Access%20Token%20used%20has%20"
                          "expired.\r\n";
    script.jobs_body = "";
    pthread_mutex_unlock(&script.mu);
    assert_int_equal(azdo_list_jobs(fx->client, &fx->target, on_done, &b, NULL), 0);
    run_until(fx, &b);
    assert_int_equal(b.res.verdict.outcome, AZDO_AUTH_FAILED);
    assert_string_equal(b.res.verdict.reason, "TokenExpired");
    assert_non_null(strstr(b.res.verdict.detail, "has expired"));
    forget(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_poll_resolves_pool_once_and_sends_the_right_requests,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_changes_send_the_documented_bodies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_missing_and_sign_in_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_and_service_error_headers_are_read,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_error_header_names_an_expired_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_429_shuts_only_that_orgs_gate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_back_off_and_rotation_resets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_404_on_the_pool_path_re_resolves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_shape_is_an_error_naming_the_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals_and_free_with_calls_in_flight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pat_never_reaches_logs_or_errors, setup, teardown),
    };
    return cmocka_run_group_tests_name("azdo_client", tests, NULL, NULL);
}
