/* test_http_fake.h - a tiny scripted HTTP/1.1 server on 127.0.0.1 for loop tests.
 *
 * It runs on its own threads (one acceptor, one per connection) so the code under test can drive
 * its event loop on the main thread. A test supplies one handler that answers each request; the
 * handler runs on a connection thread and may block (a watch stream held open) until the server
 * stops. Shared state between handler and test must be guarded (the handler's own mutex, or the
 * counters here, which lock). */
#ifndef TEST_HTTP_FAKE_H
#define TEST_HTTP_FAKE_H

#include <stdbool.h>
#include <stddef.h>

struct fake_http;
struct fake_conn;

struct fake_req {
    char method[16];
    char target[4096];  /* path and query as sent */
    char headers[8192]; /* raw header lines, "\r\n"-separated */
    char *body;         /* NUL-terminated, "" when none; borrowed for the handler call */
    size_t body_len;
    int seq;            /* 1-based order of arrival over the whole server */
};

typedef void (*fake_handler)(struct fake_conn *c, const struct fake_req *req, void *data);

/* Starts listening on 127.0.0.1 (ephemeral port). Fails the test on error. */
struct fake_http *fake_http_start(fake_handler handler, void *data);

/* The same over TLS: the server presents 'cert_pem'/'key_pem'; with 'client_ca_pem' non-NULL it
 * also requires a client certificate issued by that CA. The URL is then "https://...". */
struct fake_http *fake_https_start(fake_handler handler, void *data, const char *cert_pem,
                                   const char *key_pem, const char *client_ca_pem);

/* Makes a self-signed P-256 certificate for 127.0.0.1/localhost (usable as its own CA).
 * '*cert_pem' and '*key_pem' are new (free()). */
void fake_make_cert(const char *common_name, char **cert_pem, char **key_pem);

/* "http://127.0.0.1:<port>" or "https://..." (borrowed). */
const char *fake_http_url(struct fake_http *f);

/* Wakes blocked handlers, closes every connection, joins the threads, frees. Accepts NULL. */
void fake_http_stop(struct fake_http *f);

/* Requests seen so far whose method equals 'method' (NULL: any) and whose target starts with
 * 'prefix' (NULL: any), or contains 'needle' (NULL: ignored). */
int fake_http_count(struct fake_http *f, const char *method, const char *prefix,
                    const char *needle);

/* Copies the target of the n-th (1-based) matching request into 'out'; false if none. */
bool fake_http_target(struct fake_http *f, const char *method, const char *prefix, int n,
                      char *out, size_t out_len);

/* Copies the body of the n-th (1-based) matching request into 'out'; false if none. */
bool fake_http_body(struct fake_http *f, const char *method, const char *prefix, int n, char *out,
                    size_t out_len);

/* ---- for handlers ---- */

/* A complete response with Content-Length; the connection stays open for the next request.
 * 'extra_headers' is "Name: value\r\n" lines or NULL; 'body' may be NULL. */
void fake_respond(struct fake_conn *c, int status, const char *extra_headers, const char *body);

/* Starts a chunked response (a watch stream); then send chunks, and end or drop. */
void fake_stream_begin(struct fake_conn *c, int status);
void fake_stream_send(struct fake_conn *c, const char *data, size_t len);
void fake_stream_end(struct fake_conn *c);

/* Closes the connection abruptly (no terminating chunk): a dropped stream. */
void fake_drop(struct fake_conn *c);

/* Blocks until the server stops or 'ms' pass; true if the server is stopping. */
bool fake_wait_stop(struct fake_conn *c, int ms);

#endif
