/* test_http.c - the libcurl-multi client on the event loop (src/http.c), against a fake server
 * on 127.0.0.1 (tests/test_http_fake.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "test_http_fake.h"

/* ---- fake server script ---- */

static void handler(struct fake_conn *c, const struct fake_req *req, void *data)
{
    (void)data;
    if (strcmp(req->target, "/hello") == 0) {
        fake_respond(c, 200, "X-Test: 1\r\n", "{\"hello\":\"world\"}");
    } else if (strcmp(req->target, "/throttled") == 0) {
        fake_respond(c, 429, "Retry-After: 7\r\n", "{}");
    } else if (strcmp(req->target, "/echo") == 0) {
        char body[512];

        snprintf(body, sizeof(body), "{\"method\":\"%s\",\"len\":%zu,\"basic\":%s,\"bearer\":%s}",
                 req->method, req->body_len,
                 /* base64("user:s3cret") */
                 strstr(req->headers, "Authorization: Basic dXNlcjpzM2NyZXQ=") ? "true" : "false",
                 strstr(req->headers, "Authorization: Bearer tok-123") ? "true" : "false");
        fake_respond(c, 200, NULL, body);
    } else if (strcmp(req->target, "/hang") == 0) {
        fake_wait_stop(c, 30000);
        fake_drop(c);
    } else if (strcmp(req->target, "/stream") == 0) {
        /* Events cut at awkward places, a blank keep-alive line, CRLF, then a clean end. */
        static const char *const parts[] = {"{\"a\":1}\n{\"b\"", ":2}\n", "\n{\"c\":3}\r", "\n",
                                            "{\"d\":4}"};
        fake_stream_begin(c, 200);
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
            fake_stream_send(c, parts[i], strlen(parts[i]));
            usleep(5000); /* let each part arrive in its own read */
        }
        fake_stream_end(c);
    } else if (strcmp(req->target, "/stream-forever") == 0) {
        fake_stream_begin(c, 200);
        fake_stream_send(c, "{\"first\":1}\n", 12);
        while (!fake_wait_stop(c, 20))
            fake_stream_send(c, "{\"more\":1}\n", 11);
        fake_drop(c);
    } else if (strcmp(req->target, "/stream-gone") == 0) {
        fake_respond(c, 410, NULL, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}");
    } else {
        fake_respond(c, 404, NULL, "{}");
    }
}

struct fixture {
    struct fake_http *fake;
    struct loop *loop;
    struct http *http;
    struct http_stats stats;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    fx->fake = fake_http_start(handler, NULL);
    assert_int_equal(loop_new(&fx->loop, NULL), 0);
    assert_int_equal(http_new(fx->loop, &fx->http, NULL), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    http_free(fx->http);
    fake_http_stop(fx->fake);
    loop_free(fx->loop);
    free(fx);
    return 0;
}

/* ---- a recorder for completions ---- */

struct result {
    bool done;
    int n_done;
    long status;
    int retry_after_s;
    int err_code;
    char content_type[128];
    char body[1024];
    char lines[8][64];
    int n_lines;
    struct http_call *call;
    bool cancel_after_first_line;
};

static void on_done(const struct http_response *res, void *cb_data)
{
    struct result *r = cb_data;

    r->done = true;
    r->n_done++;
    r->status = res->status;
    r->retry_after_s = res->retry_after_s;
    r->err_code = res->err.code;
    snprintf(r->content_type, sizeof(r->content_type), "%s",
             res->content_type != NULL ? res->content_type : "");
    snprintf(r->body, sizeof(r->body), "%s", res->body);
}

static void on_line(const char *line, size_t len, void *cb_data)
{
    struct result *r = cb_data;

    assert_int_equal(strlen(line), len);
    if (r->n_lines < 8)
        snprintf(r->lines[r->n_lines], sizeof(r->lines[0]), "%s", line);
    r->n_lines++;
    if (r->cancel_after_first_line && r->n_lines == 1) {
        http_cancel(r->call);
        r->done = true;
    }
}

static void start(struct fixture *fx, struct http_request *req, const char *path,
                  struct result *r)
{
    char url[256];
    struct err err = {0};

    snprintf(url, sizeof(url), "%s%s", fake_http_url(fx->fake), path);
    req->url = url;
    req->stats = &fx->stats;
    assert_int_equal(http_start(fx->http, req, on_done, r, &r->call, &err), 0);
    /* Never synchronously: the completion comes on a later turn. */
    assert_false(r->done);
}

/* ---- tests ---- */

static void test_get_reports_status_content_type_and_body(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {0};
    struct result r = {0};

    start(fx, &req, "/hello", &r);
    assert_int_equal(loop_run_until(fx->loop, &r.done, 10000), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.err_code, 0);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(r.body, "{\"hello\":\"world\"}");
    assert_int_equal(r.retry_after_s, -1);
    assert_int_equal(fx->stats.started, 1);
    assert_int_equal(fx->stats.completed, 1);
    assert_int_equal(fx->stats.status_2xx, 1);
    assert_int_equal(fx->stats.in_flight, 0);
    assert_int_equal(http_in_flight(fx->http), 0);
}

static void test_429_carries_retry_after(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {0};
    struct result r = {0};

    start(fx, &req, "/throttled", &r);
    assert_int_equal(loop_run_until(fx->loop, &r.done, 10000), 0);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.retry_after_s, 7);
    assert_int_equal(fx->stats.status_4xx, 1);
    assert_int_equal(fx->stats.status_429, 1);
}

static void test_method_body_basic_auth_and_bearer_are_sent(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {.method = "PATCH", .body = "{\"x\":1}", .body_len = 7,
                               .username = "user", .password = "s3cret"};
    struct http_request req2 = {.method = "DELETE", .bearer_token = "tok-123"};
    struct result r = {0}, r2 = {0};
    const char *const headers[] = {"Content-Type: application/merge-patch+json", NULL};

    req.headers = headers;
    start(fx, &req, "/echo", &r);
    start(fx, &req2, "/echo", &r2);
    assert_int_equal(loop_run_until(fx->loop, &r.done, 10000), 0);
    assert_int_equal(loop_run_until(fx->loop, &r2.done, 10000), 0);
    assert_string_equal(r.body, "{\"method\":\"PATCH\",\"len\":7,\"basic\":true,\"bearer\":false}");
    assert_string_equal(r2.body, "{\"method\":\"DELETE\",\"len\":0,\"basic\":false,\"bearer\":true}");
}

static void test_timeout_is_a_transport_error(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {.timeout_ms = 200};
    struct result r = {0};

    start(fx, &req, "/hang", &r);
    assert_int_equal(loop_run_until(fx->loop, &r.done, 10000), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.err_code, -ETIMEDOUT);
    assert_int_equal(fx->stats.transport_errors, 1);
}

static void test_connection_refused_is_a_transport_error(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {.timeout_ms = 5000};
    struct result r = {0};
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t alen = sizeof(addr);
    char url[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    /* A port that was just free and has no listener. */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(addr.sin_port));
    req.url = url;
    assert_int_equal(http_start(fx->http, &req, on_done, &r, NULL, NULL), 0);
    assert_int_equal(loop_run_until(fx->loop, &r.done, 10000), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.err_code, -ECONNREFUSED);
}

static void test_stream_delivers_whole_lines_across_chunks(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {.on_line = on_line};
    struct result r = {0};

    start(fx, &req, "/stream", &r);
    assert_int_equal(loop_run_until(fx->loop, &r.done, 10000), 0);
    assert_int_equal(r.err_code, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.n_lines, 4);
    assert_string_equal(r.lines[0], "{\"a\":1}");
    assert_string_equal(r.lines[1], "{\"b\":2}");
    assert_string_equal(r.lines[2], "{\"c\":3}");
    assert_string_equal(r.lines[3], "{\"d\":4}"); /* unterminated, flushed at the clean end */
    assert_string_equal(r.body, "");
}

static void test_stream_with_error_status_buffers_the_body(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {.on_line = on_line};
    struct result r = {0};

    start(fx, &req, "/stream-gone", &r);
    assert_int_equal(loop_run_until(fx->loop, &r.done, 10000), 0);
    assert_int_equal(r.status, 410);
    assert_int_equal(r.n_lines, 0);
    assert_string_equal(r.body, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}");
}

static void test_cancel_inside_line_callback_stops_everything(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {.on_line = on_line};
    struct result r = {.cancel_after_first_line = true};

    start(fx, &req, "/stream-forever", &r);
    assert_int_equal(loop_run_until(fx->loop, &r.done, 10000), 0);
    /* Give the loop turns in which further lines or a completion could (wrongly) arrive. */
    for (int i = 0; i < 20; i++)
        loop_run_once(fx->loop, 5);
    assert_int_equal(r.n_lines, 1);
    assert_int_equal(r.n_done, 0);
    assert_int_equal(http_in_flight(fx->http), 0);
    assert_int_equal(fx->stats.cancelled, 1);
    assert_int_equal(fx->stats.in_flight, 0);
}

static void test_cancel_outside_callbacks_never_completes(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {0};
    struct result r = {0};

    start(fx, &req, "/hang", &r);
    http_cancel(r.call);
    for (int i = 0; i < 10; i++)
        loop_run_once(fx->loop, 5);
    assert_int_equal(r.n_done, 0);
    assert_int_equal(http_in_flight(fx->http), 0);
}

static void test_free_with_calls_in_flight_runs_no_callback(void **state)
{
    struct fixture *fx = *state;
    struct http_request req = {0};
    struct result r = {0};

    start(fx, &req, "/hang", &r);
    loop_run_once(fx->loop, 5);
    http_free(fx->http);
    fx->http = NULL;
    assert_int_equal(r.n_done, 0);
    assert_int_equal(fx->stats.cancelled, 1);
}

static void test_retry_after_parses_both_forms(void **state)
{
    /* 2015-10-21T07:28:00Z */
    time_t now = 1445412480;
    (void)state;

    assert_int_equal(http_parse_retry_after("120", now), 120);
    assert_int_equal(http_parse_retry_after(" 0 ", now), 0);
    assert_int_equal(http_parse_retry_after("99999999999", now), 86400);
    assert_int_equal(http_parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), 30);
    assert_int_equal(http_parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now), 60);
    assert_int_equal(http_parse_retry_after("Wed Oct 21 07:28:05 2015", now), 5);
    assert_int_equal(http_parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
    assert_int_equal(http_parse_retry_after("soon", now), -1);
    assert_int_equal(http_parse_retry_after("-5", now), -1);
    assert_int_equal(http_parse_retry_after("", now), -1);
    assert_int_equal(http_parse_retry_after("12abc", now), -1);
}

/* ---- TLS ---- */

struct tls_fixture {
    char *server_cert, *server_key, *client_cert, *client_key;
};

static void tls_get(struct fixture *fx, struct fake_http *srv, const struct http_tls *tls,
                    struct result *r)
{
    char url[128];
    struct http_request req = {.tls = tls, .timeout_ms = 10000};

    snprintf(url, sizeof(url), "%s/hello", fake_http_url(srv));
    req.url = url;
    assert_int_equal(http_start(fx->http, &req, on_done, r, NULL, NULL), 0);
    assert_int_equal(loop_run_until(fx->loop, &r->done, 10000), 0);
}

static void test_tls_verifies_against_ca_data_file_or_skips_when_told(void **state)
{
    struct fixture *fx = *state;
    struct tls_fixture t;
    struct fake_http *srv;
    struct result by_pem = {0}, by_file = {0}, untrusted = {0}, insecure = {0};
    char ca_path[] = "/tmp/test_http_ca.XXXXXX";
    int fd;

    fake_make_cert("api-server", &t.server_cert, &t.server_key);
    srv = fake_https_start(handler, NULL, t.server_cert, t.server_key, NULL);
    fd = mkstemp(ca_path);
    assert_true(write(fd, t.server_cert, strlen(t.server_cert)) > 0);
    close(fd);

    tls_get(fx, srv, &(struct http_tls){.ca_pem = t.server_cert}, &by_pem);
    tls_get(fx, srv, &(struct http_tls){.ca_file = ca_path}, &by_file);
    tls_get(fx, srv, NULL, &untrusted); /* system store does not know our CA */
    tls_get(fx, srv, &(struct http_tls){.insecure_skip_verify = true}, &insecure);

    assert_int_equal(by_pem.status, 200);
    assert_string_equal(by_pem.body, "{\"hello\":\"world\"}");
    assert_int_equal(by_file.status, 200);
    assert_int_equal(untrusted.status, 0);
    assert_int_equal(untrusted.err_code, -EPROTO);
    assert_int_equal(insecure.status, 200);

    unlink(ca_path);
    fake_http_stop(srv);
    free(t.server_cert);
    free(t.server_key);
}

static void test_tls_client_certificate_from_pem_data(void **state)
{
    struct fixture *fx = *state;
    struct tls_fixture t;
    struct fake_http *srv;
    struct result with = {0}, without = {0};

    fake_make_cert("api-server", &t.server_cert, &t.server_key);
    fake_make_cert("operator", &t.client_cert, &t.client_key);
    srv = fake_https_start(handler, NULL, t.server_cert, t.server_key, t.client_cert);

    tls_get(fx, srv,
            &(struct http_tls){.ca_pem = t.server_cert, .client_cert_pem = t.client_cert,
                               .client_key_pem = t.client_key},
            &with);
    tls_get(fx, srv, &(struct http_tls){.ca_pem = t.server_cert}, &without);

    assert_int_equal(with.status, 200);
    assert_int_equal(without.status, 0); /* the server refused the handshake */
    assert_int_not_equal(without.err_code, 0);

    fake_http_stop(srv);
    free(t.server_cert);
    free(t.server_key);
    free(t.client_cert);
    free(t.client_key);
}

/* ---- line splitting without a network ---- */

struct collected {
    char text[512];
    int n;
};

static void collect(const char *line, size_t len, void *cb_data)
{
    struct collected *c = cb_data;
    size_t used = strlen(c->text);

    assert_int_equal(strlen(line), len);
    snprintf(c->text + used, sizeof(c->text) - used, "[%s]", line);
    c->n++;
}

static void test_linebuf_same_lines_at_every_split_point(void **state)
{
    static const char stream[] = "{\"type\":\"ADDED\"}\n\n{\"type\":\"MODIFIED\",\"x\":\"a\\nb\"}\r\n"
                                 "{\"type\":\"BOOKMARK\"}\n";
    size_t len = strlen(stream);
    (void)state;

    for (size_t cut1 = 0; cut1 <= len; cut1++) {
        for (size_t cut2 = cut1; cut2 <= len; cut2 += 7) {
            struct http_linebuf lb = {0};
            struct collected got = {{0}, 0};

            assert_int_equal(http_linebuf_feed(&lb, stream, cut1, collect, &got), 0);
            assert_int_equal(http_linebuf_feed(&lb, stream + cut1, cut2 - cut1, collect, &got), 0);
            assert_int_equal(http_linebuf_feed(&lb, stream + cut2, len - cut2, collect, &got), 0);
            assert_int_equal(got.n, 3);
            assert_string_equal(got.text, "[{\"type\":\"ADDED\"}][{\"type\":\"MODIFIED\",\"x\":\"a\\nb\"}]"
                                          "[{\"type\":\"BOOKMARK\"}]");
            http_linebuf_free(&lb);
        }
    }
}

static void test_linebuf_refuses_overlong_line(void **state)
{
    struct http_linebuf lb = {.max_line = 8};
    struct collected got = {{0}, 0};
    (void)state;

    assert_int_equal(http_linebuf_feed(&lb, "1234", 4, collect, &got), 0);
    assert_int_equal(http_linebuf_feed(&lb, "56789", 5, collect, &got), -EFBIG);
    assert_int_equal(http_linebuf_feed(&lb, "ok\n", 3, collect, &got), 0);
    assert_string_equal(got.text, "[ok]");
    http_linebuf_free(&lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_reports_status_content_type_and_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_429_carries_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_body_basic_auth_and_bearer_are_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeout_is_a_transport_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused_is_a_transport_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stream_delivers_whole_lines_across_chunks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stream_with_error_status_buffers_the_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_inside_line_callback_stops_everything, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_outside_callbacks_never_completes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_with_calls_in_flight_runs_no_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls_verifies_against_ca_data_file_or_skips_when_told,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_certificate_from_pem_data, setup,
                                        teardown),
        cmocka_unit_test(test_retry_after_parses_both_forms),
        cmocka_unit_test(test_linebuf_same_lines_at_every_split_point),
        cmocka_unit_test(test_linebuf_refuses_overlong_line),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
