/* http.c - libcurl multi on the h2o event loop (STYLE.md §5).
 *
 * h2o owns the poll; curl tells us, through two callbacks, which sockets to watch and when to
 * call it back:
 *   - socket callback: the first time curl names a socket we wrap a dup() of it as an h2o socket
 *     (DONT_READ: h2o only reports readiness; the dup because closing an h2o socket closes its fd
 *     and curl owns the original). Readiness calls curl_multi_socket_action() for that fd.
 *   - timer callback: only records the deadline by arming a loop timer; libcurl may not be called
 *     from inside it. The loop timer then calls socket_action(CURL_SOCKET_TIMEOUT).
 * After every socket_action we drain curl_multi_info_read() and complete finished calls.
 *
 * Invariants: (1) a call is in h->calls iff its easy handle is in the multi or waits to be added
 * (pending_add); (2) on_done runs
 * at most once, from drain_completed(), never from inside a curl callback; (3) a cancelled call's
 * callbacks never run again.
 *
 * Secrets: the bearer token goes in a header list we own and free; the password goes to curl
 * via CURLOPT_PASSWORD. Neither is logged; CURLOPT_VERBOSE stays off. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HTTP_DEFAULT_MAX_BODY (64u * 1024 * 1024)
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define HTTP_RETRY_AFTER_MAX_S 86400

struct http {
    struct loop *loop;
    CURLM *multi;
    struct loop_timer curl_timer; /* armed while curl wants a timeout callback */
    struct http_call *calls;      /* in flight (invariant 1) */
    size_t n_calls;
    struct sock_watch *watches;   /* every socket curl asked us to poll */
    struct loop_timer service_timer; /* deferred adds and reaps (see on_service_due) */
    bool in_curl_callback;        /* inside curl_multi_socket_action: no add/remove_handle */
    http_observe_cb observe;      /* metrics hook, or NULL */
    void *observe_data;
};

/* One socket curl asked us to watch. */
struct sock_watch {
    struct http *h;
    struct sock_watch *prev, *next;
    curl_socket_t fd;      /* curl's socket (we poll a dup of it) */
    h2o_socket_t *sock;    /* wraps the dup */
    int what;              /* last CURL_POLL_* curl asked for */
    bool write_armed;      /* h2o_socket_notify_write is one-shot: pending or not */
};

struct http_call {
    struct http *h;
    struct http_call *prev, *next;
    CURL *easy;
    struct curl_slist *headers;
    http_done_cb on_done;
    http_line_cb on_line;
    void *cb_data;
    struct http_stats *stats;
    char *body;          /* response body (non-stream, or non-2xx stream) */
    size_t body_len, body_cap, max_body;
    struct http_linebuf lines;
    int retry_after_s;
    uint64_t started_ms;
    bool cancelled;      /* http_cancel() ran inside a curl callback: reap on the next turn */
    bool pending_add;    /* started inside a curl callback: add to the multi on the next turn */
    bool in_on_line;
    char errbuf[CURL_ERROR_SIZE];
    int write_error;     /* why the write callback aborted (-EFBIG, -ENOMEM), 0 if it did not */
    char method[8];      /* for the observer: "GET", "PATCH", ... */
};

/* ---- socket and timer glue ------------------------------------------------------------------- */

static void drain_completed(struct http *h);
static void on_service_due(struct loop_timer *t, void *cb_data);
static void complete(struct http_call *c, CURLcode result, const char *errbuf);

static void arm_write(struct sock_watch *w);

static void socket_action(struct http *h, curl_socket_t fd, int ev_bitmask)
{
    int running = 0;

    h->in_curl_callback = true;
    curl_multi_socket_action(h->multi, fd, ev_bitmask, &running);
    h->in_curl_callback = false;
    drain_completed(h);
    /* The write notification is one-shot and curl does not repeat an unchanged CURL_POLL_OUT:
     * re-arm it on every socket that still wants to write. */
    for (struct sock_watch *w = h->watches; w != NULL; w = w->next)
        arm_write(w);
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
    struct sock_watch *w = sock->data;

    /* Copy before the call: socket_action may re-enter on_socket and free 'w'. */
    struct http *h = w->h;
    curl_socket_t fd = w->fd;

    socket_action(h, fd, err != NULL ? CURL_CSELECT_ERR : CURL_CSELECT_IN);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    struct sock_watch *w = sock->data;
    struct http *h = w->h;
    curl_socket_t fd = w->fd;

    w->write_armed = false;
    /* curl may have stopped wanting OUT while the notification was pending. */
    if ((w->what & CURL_POLL_OUT) == 0 && err == NULL)
        return;
    socket_action(h, fd, err != NULL ? CURL_CSELECT_ERR : CURL_CSELECT_OUT);
}

/* Arms the one-shot write notification while curl wants OUT and none is pending. */
static void arm_write(struct sock_watch *w)
{
    if ((w->what & CURL_POLL_OUT) != 0 && !w->write_armed) {
        w->write_armed = true;
        h2o_socket_notify_write(w->sock, on_writable);
    }
}

static void watch_close(struct sock_watch *w)
{
    struct http *h = w->h;

    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        h->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    h2o_socket_read_stop(w->sock);
    h2o_socket_close(w->sock); /* closes only the dup; curl closes its own fd */
    free(w);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct http *h = userp;
    struct sock_watch *w = socketp;
    (void)easy;

    if (what == CURL_POLL_REMOVE) {
        if (w != NULL) {
            watch_close(w);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }

    if (w == NULL) {
        int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

        w = calloc(1, sizeof(*w));
        if (w == NULL || dupfd < 0) {
            free(w);
            if (dupfd >= 0)
                close(dupfd);
            return -1; /* curl fails the transfer */
        }
        w->h = h;
        w->fd = fd;
        w->next = h->watches;
        if (h->watches != NULL)
            h->watches->prev = w;
        h->watches = w;
        w->sock = h2o_evloop_socket_create(loop_h2o(h->loop), dupfd, H2O_SOCKET_FLAG_DONT_READ);
        w->sock->data = w;
        curl_multi_assign(h->multi, fd, w);
    }

    w->what = what;
    if ((what & CURL_POLL_IN) != 0)
        h2o_socket_read_start(w->sock, on_readable);
    else
        h2o_socket_read_stop(w->sock);
    arm_write(w);
    return 0;
}

static void on_curl_timer_due(struct loop_timer *t, void *cb_data)
{
    struct http *h = cb_data;
    (void)t;

    socket_action(h, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: records the deadline only (libcurl may not be called from here). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http *h = userp;
    (void)multi;

    if (timeout_ms < 0)
        loop_timer_stop(h->loop, &h->curl_timer);
    else
        loop_timer_start(h->loop, &h->curl_timer, (uint64_t)timeout_ms);
    return 0;
}

/* ---- client lifetime ------------------------------------------------------------------------- */

int http_new(struct loop *loop, struct http **out, struct err *err)
{
    static bool global_done;
    struct http *h;

    /* curl_global_init is not thread-safe, but everything here runs on the loop thread. */
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return err_set(err, -EIO, "cannot initialise libcurl");
        global_done = true;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return err_set(err, -ENOMEM, "cannot allocate http client");
    h->loop = loop;
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        free(h);
        return err_set(err, -ENOMEM, "cannot create curl multi handle");
    }
    loop_timer_init(&h->curl_timer, on_curl_timer_due, h);
    loop_timer_init(&h->service_timer, on_service_due, h);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    *out = h;
    return 0;
}

static void call_free(struct http_call *c)
{
    if (c == NULL)
        return;
    if (c->easy != NULL)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->body);
    http_linebuf_free(&c->lines);
    free(c);
}

/* Removes 'c' from the multi and the list; the caller frees it. */
static void call_detach(struct http_call *c)
{
    struct http *h = c->h;

    curl_multi_remove_handle(h->multi, c->easy);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    h->n_calls--;
}

void http_free(struct http *h)
{
    if (h == NULL)
        return;
    while (h->calls != NULL) {
        struct http_call *c = h->calls;

        call_detach(c);
        if (c->stats != NULL) {
            c->stats->cancelled++;
            c->stats->in_flight--;
        }
        call_free(c);
    }
    loop_timer_stop(h->loop, &h->curl_timer);
    loop_timer_stop(h->loop, &h->service_timer);
    curl_multi_cleanup(h->multi);
    /* Cached connections may close without a CURL_POLL_REMOVE; close what is left. */
    while (h->watches != NULL)
        watch_close(h->watches);
    free(h);
}

size_t http_in_flight(const struct http *h)
{
    return h->n_calls;
}

/* ---- deferred work --------------------------------------------------------------------------- */

/* Runs on the next loop turn: adds calls started from inside a curl callback and reaps calls
 * cancelled there (curl forbids add/remove_handle from its own callbacks). */
static void on_service_due(struct loop_timer *t, void *cb_data)
{
    struct http *h = cb_data;
    struct http_call *c, *next;
    (void)t;

    for (c = h->calls; c != NULL; c = next) {
        next = c->next;
        if (c->cancelled) {
            call_detach(c);
            call_free(c);
        } else if (c->pending_add) {
            c->pending_add = false;
            if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK) {
                /* on_done must still run exactly once: report it as a transport failure. */
                call_detach(c);
                snprintf(c->errbuf, sizeof(c->errbuf), "cannot add deferred request");
                complete(c, CURLE_FAILED_INIT, c->errbuf);
                call_free(c);
            }
        }
    }
}

/* ---- curl data callbacks --------------------------------------------------------------------- */

static void line_trampoline(const char *line, size_t len, void *cb_data)
{
    struct http_call *c = cb_data;

    /* A cancel inside an earlier line of the same chunk stops delivery at once (invariant 3). */
    if (!c->cancelled)
        c->on_line(line, len, c->cb_data);
}

static int body_append(struct http_call *c, const char *data, size_t len)
{
    if (c->body_len + len > c->max_body)
        return -EFBIG;
    if (c->body_len + len + 1 > c->body_cap) {
        size_t cap = c->body_cap != 0 ? c->body_cap : 4096;
        char *grown;

        while (cap < c->body_len + len + 1)
            cap *= 2;
        grown = realloc(c->body, cap);
        if (grown == NULL)
            return -ENOMEM;
        c->body = grown;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, len);
    c->body_len += len;
    c->body[c->body_len] = '\0';
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_call *c = userdata;
    size_t len = size * nmemb;
    long status = 0;
    int rc;

    if (c->cancelled)
        return 0; /* aborts the transfer; the service timer or drain reaps it */
    if (c->stats != NULL)
        c->stats->bytes_received += len;

    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (c->on_line != NULL && status >= 200 && status < 300) {
        c->in_on_line = true;
        rc = http_linebuf_feed(&c->lines, data, len, line_trampoline, c);
        c->in_on_line = false;
    } else {
        rc = body_append(c, data, len);
    }
    if (c->cancelled)
        return 0;
    if (rc < 0) {
        c->write_error = rc;
        return 0;
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_call *c = userdata;
    size_t len = size * nmemb;
    static const char name[] = "retry-after:";
    char value[128];

    /* A new status line (after a 100 Continue) starts a new header block. */
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
        c->retry_after_s = -1;
    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        size_t vlen = len - (sizeof(name) - 1);

        if (vlen >= sizeof(value))
            vlen = sizeof(value) - 1;
        memcpy(value, data + sizeof(name) - 1, vlen);
        value[vlen] = '\0';
        c->retry_after_s = http_parse_retry_after(value, time(NULL));
    }
    return len;
}

/* ---- completion ------------------------------------------------------------------------------ */

static int map_curl_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return -EPROTO;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return -ECONNRESET;
    default:
        return -EIO;
    }
}

static void complete(struct http_call *c, CURLcode result, const char *errbuf)
{
    struct http_response res;
    curl_off_t total_us = 0;
    char *ct = NULL;

    memset(&res, 0, sizeof(res));
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.status);
    curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct);
    curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    res.content_type = ct;
    res.priv = c->easy;
    res.retry_after_s = c->retry_after_s;
    res.total_ms = (uint64_t)total_us / 1000;
    res.body = c->body != NULL ? c->body : "";
    res.body_len = c->body_len;

    if (result == CURLE_WRITE_ERROR && c->write_error != 0) {
        err_set(&res.err, c->write_error, "response body too large or out of memory");
    } else if (result != CURLE_OK) {
        err_set(&res.err, map_curl_error(result), "%s",
                errbuf[0] != '\0' ? errbuf : curl_easy_strerror(result));
    } else if (c->on_line != NULL && c->lines.len > 0 && res.status >= 200 && res.status < 300) {
        /* A clean end right after an unterminated last line: deliver it. */
        c->lines.buf[c->lines.len] = '\0';
        c->on_line(c->lines.buf, c->lines.len, c->cb_data);
    }

    if (c->h->observe != NULL)
        c->h->observe(c->h->observe_data, c->stats, c->method, res.status, res.total_ms);
    if (c->stats != NULL) {
        struct http_stats *s = c->stats;

        s->completed++;
        s->in_flight--;
        if (res.status == 0)
            s->transport_errors++;
        else if (res.status < 300)
            s->status_2xx++;
        else if (res.status < 400)
            s->status_3xx++;
        else if (res.status < 500)
            s->status_4xx++;
        else
            s->status_5xx++;
        if (res.status == 429)
            s->status_429++;
    }
    c->on_done(&res, c->cb_data);
}

static void drain_completed(struct http *h)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct http_call *c = NULL;
        CURLcode result = msg->data.result;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        /* Detach first (invariant 1): on_done may start or cancel other calls. */
        call_detach(c);
        if (!c->cancelled)
            complete(c, result, c->errbuf);
        call_free(c);
    }
}

/* ---- starting and cancelling ----------------------------------------------------------------- */

static int set_tls(CURL *e, const struct http_tls *tls)
{
    CURLcode rc = CURLE_OK;

    if (tls == NULL)
        return 0;
    if (tls->ca_pem != NULL) {
        struct curl_blob blob = {(void *)tls->ca_pem, strlen(tls->ca_pem), CURL_BLOB_COPY};
        rc = curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    } else if (tls->ca_file != NULL) {
        rc = curl_easy_setopt(e, CURLOPT_CAINFO, tls->ca_file);
    }
    if (rc == CURLE_OK && tls->client_cert_pem != NULL) {
        struct curl_blob blob = {(void *)tls->client_cert_pem, strlen(tls->client_cert_pem),
                                 CURL_BLOB_COPY};
        rc = curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
    } else if (rc == CURLE_OK && tls->client_cert_file != NULL) {
        rc = curl_easy_setopt(e, CURLOPT_SSLCERT, tls->client_cert_file);
    }
    if (rc == CURLE_OK && tls->client_key_pem != NULL) {
        struct curl_blob blob = {(void *)tls->client_key_pem, strlen(tls->client_key_pem),
                                 CURL_BLOB_COPY};
        rc = curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
    } else if (rc == CURLE_OK && tls->client_key_file != NULL) {
        rc = curl_easy_setopt(e, CURLOPT_SSLKEY, tls->client_key_file);
    }
    if (rc == CURLE_OK && tls->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return rc == CURLE_OK ? 0 : -EINVAL;
}

static int build_headers(struct http_call *c, const struct http_request *req)
{
    struct curl_slist *next;

    /* curl would otherwise wait for "100 Continue" before sending larger bodies. */
    next = curl_slist_append(c->headers, "Expect:");
    if (next == NULL)
        return -ENOMEM;
    c->headers = next;
    for (const char *const *hp = req->headers; hp != NULL && *hp != NULL; hp++) {
        next = curl_slist_append(c->headers, *hp);
        if (next == NULL)
            return -ENOMEM;
        c->headers = next;
    }
    if (req->bearer_token != NULL) {
        size_t len = strlen("Authorization: Bearer ") + strlen(req->bearer_token) + 1;
        char *line = malloc(len);

        if (line == NULL)
            return -ENOMEM;
        snprintf(line, len, "Authorization: Bearer %s", req->bearer_token);
        next = curl_slist_append(c->headers, line);
        explicit_bzero(line, len);
        free(line);
        if (next == NULL)
            return -ENOMEM;
        c->headers = next;
    }
    return 0;
}

static int setup_easy(struct http_call *c, const struct http_request *req, struct err *err)
{
    CURL *e = c->easy;
    const char *method = req->method != NULL ? req->method : "GET";
    uint32_t connect_ms = req->connect_timeout_ms != 0 ? req->connect_timeout_ms
                                                       : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;

    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK)
        return err_set(err, -EINVAL, "invalid url '%s'", req->url);

    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (req->body != NULL) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body) != CURLE_OK)
            return err_set(err, -ENOMEM, "cannot copy request body");
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    }

    if (req->username != NULL || req->password != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, req->username != NULL ? req->username : "");
        curl_easy_setopt(e, CURLOPT_PASSWORD, req->password != NULL ? req->password : "");
    }
    if (set_tls(e, req->tls) != 0)
        return err_set(err, -EINVAL, "cannot apply tls settings for '%s'", req->url);
    if (build_headers(c, req) != 0)
        return err_set(err, -ENOMEM, "cannot build request headers");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    return 0;
}

int http_start(struct http *h, const struct http_request *req, http_done_cb on_done,
               void *cb_data, struct http_call **out, struct err *err)
{
    struct http_call *c;
    int rc;

    if (req->url == NULL || on_done == NULL)
        return err_set(err, -EINVAL, "http request needs a url and a completion callback");
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return err_set(err, -ENOMEM, "cannot allocate http call");
    c->h = h;
    c->on_done = on_done;
    c->on_line = req->on_line;
    c->cb_data = cb_data;
    c->stats = req->stats;
    snprintf(c->method, sizeof(c->method), "%.7s", req->method != NULL ? req->method : "GET");
    c->retry_after_s = -1;
    c->max_body = req->max_body_bytes != 0 ? req->max_body_bytes : HTTP_DEFAULT_MAX_BODY;
    c->lines.max_line = c->max_body;
    c->easy = curl_easy_init();
    if (c->easy == NULL) {
        rc = err_set(err, -ENOMEM, "cannot create curl easy handle");
        goto fail;
    }
    rc = setup_easy(c, req, err);
    if (rc != 0)
        goto fail;

    /* curl forbids adding handles from inside its callbacks (an on_line that starts a call). */
    if (h->in_curl_callback) {
        c->pending_add = true;
        loop_timer_start(h->loop, &h->service_timer, 0);
    } else if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK) {
        rc = err_set(err, -EIO, "cannot add request for '%s'", req->url);
        goto fail;
    }
    c->next = h->calls;
    if (h->calls != NULL)
        h->calls->prev = c;
    h->calls = c;
    h->n_calls++;
    if (c->stats != NULL) {
        c->stats->started++;
        c->stats->in_flight++;
    }
    if (out != NULL)
        *out = c;
    return 0;

fail:
    call_free(c);
    return rc;
}

void http_cancel(struct http_call *c)
{
    struct http *h;

    if (c == NULL || c->cancelled)
        return;
    h = c->h;
    c->cancelled = true;
    if (c->stats != NULL) {
        c->stats->cancelled++;
        c->stats->in_flight--;
    }
    if (h->in_curl_callback) {
        loop_timer_start(h->loop, &h->service_timer, 0);
        return;
    }
    call_detach(c);
    call_free(c);
}

/* ---- Retry-After ----------------------------------------------------------------------------- */

void http_set_observer(struct http *h, http_observe_cb cb, void *data)
{
    h->observe = cb;
    h->observe_data = data;
}

const char *http_response_header(const struct http_response *res, const char *name)
{
    struct curl_header *h = NULL;

    if (res == NULL || res->priv == NULL || name == NULL)
        return NULL;
    /* -1: the last request of the transfer (after redirects and 100 Continue). */
    if (curl_easy_header((CURL *)res->priv, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
        h == NULL)
        return NULL;
    return h->value;
}

int http_parse_retry_after(const char *value, time_t now)
{
    static const char *const date_forms[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate, the preferred form */
        "%A, %d-%b-%y %H:%M:%S GMT", /* obsolete RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* obsolete asctime() */
    };
    char buf[128];
    size_t len;
    const char *p = value;

    while (*p == ' ' || *p == '\t')
        p++;
    len = strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' ||
                       p[len - 1] == '\n'))
        len--;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';

    if (strspn(buf, "0123456789") == len) {
        /* delta-seconds; anything absurd is capped rather than trusted */
        if (len > 9)
            return HTTP_RETRY_AFTER_MAX_S;
        long secs = strtol(buf, NULL, 10);
        return secs > HTTP_RETRY_AFTER_MAX_S ? HTTP_RETRY_AFTER_MAX_S : (int)secs;
    }
    for (size_t i = 0; i < sizeof(date_forms) / sizeof(date_forms[0]); i++) {
        struct tm tm;
        const char *end;
        time_t at;

        memset(&tm, 0, sizeof(tm));
        end = strptime(buf, date_forms[i], &tm);
        if (end == NULL || *end != '\0')
            continue;
        at = timegm(&tm);
        if (at == (time_t)-1)
            return -1;
        if (at <= now)
            return 0;
        return at - now > HTTP_RETRY_AFTER_MAX_S ? HTTP_RETRY_AFTER_MAX_S : (int)(at - now);
    }
    return -1;
}

/* ---- line splitting -------------------------------------------------------------------------- */

int http_linebuf_feed(struct http_linebuf *lb, const char *data, size_t len, http_line_cb on_line,
                      void *cb_data)
{
    size_t max_line = lb->max_line != 0 ? lb->max_line : HTTP_DEFAULT_MAX_BODY;
    const char *p = data;
    const char *end = data + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t seg = (size_t)((nl != NULL ? nl : end) - p);

        if (lb->len + seg > max_line) {
            lb->len = 0;
            return -EFBIG;
        }
        if (lb->len + seg + 1 > lb->cap) {
            size_t cap = lb->cap != 0 ? lb->cap : 1024;
            char *grown;

            while (cap < lb->len + seg + 1)
                cap *= 2;
            grown = realloc(lb->buf, cap);
            if (grown == NULL) {
                lb->len = 0;
                return -ENOMEM;
            }
            lb->buf = grown;
            lb->cap = cap;
        }
        memcpy(lb->buf + lb->len, p, seg);
        lb->len += seg;
        if (nl == NULL)
            break;

        /* A complete line: strip a CR from CRLF endings, skip blank keep-alive lines. */
        if (lb->len > 0 && lb->buf[lb->len - 1] == '\r')
            lb->len--;
        lb->buf[lb->len] = '\0';
        if (lb->len > 0) {
            size_t line_len = lb->len;

            lb->len = 0; /* before the call, so a callback that feeds again starts clean */
            on_line(lb->buf, line_len, cb_data);
        }
        lb->len = 0;
        p = nl + 1;
    }
    return 0;
}

void http_linebuf_free(struct http_linebuf *lb)
{
    if (lb == NULL)
        return;
    free(lb->buf);
    lb->buf = NULL;
    lb->len = lb->cap = 0;
}
