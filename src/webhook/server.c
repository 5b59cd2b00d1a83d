/* server.c - HTTPS admission endpoints and the plain HTTP health/metrics endpoints (see
 * server.h), on the caller's h2o evloop.
 *
 * Each listener has its own h2o global configuration, context and accept context, because the
 * two differ in what matters: TLS or not, and the request-body cap (h2o applies
 * max_request_entity_size per configuration and answers 413 itself, before any handler runs).
 * Invariants: (1) https.actx.ssl_ctx is NULL or the SSL_CTX this server owns one reference to;
 * (2) handlers answer every request they match (they never return -1 after matching), so h2o's
 * own 404 is only ever sent for paths we do not serve. */
#include "webhook/server.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"

#define METRICS_MAX_BODY_BYTES (64 * 1024)
#define ACCEPT_BURST 16

enum route_kind { ROUTE_MUTATE, ROUTE_VALIDATE, ROUTE_HEALTHZ, ROUTE_READYZ, ROUTE_METRICS };

struct listener {
    struct webhook_server *server;
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t actx;
    h2o_socket_t *sock; /* the listening socket, NULL once closed */
    int port;
    bool tls;
    bool conf_inited, ctx_inited;
};

struct webhook_server {
    h2o_evloop_t *loop;
    struct webhook_server_config cfg;
    struct listener https, http;
};

/* h2o_handler_t first: h2o hands our handlers back as h2o_handler_t *. */
struct route {
    h2o_handler_t super;
    struct webhook_server *server;
    enum route_kind kind;
    const char *path;
};

/* ---------------------------------------------------------------- responses */

static const char *reason_for(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Request Entity Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* Sends 'body' (copied into the request's pool by h2o_send_inline). */
static void respond(h2o_req_t *req, int status, const char *content_type, const char *body,
                    size_t len)
{
    req->res.status = status;
    req->res.reason = reason_for(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

/* A Kubernetes-style Status for errors on the JSON port: callers parse JSON there. */
static void respond_status(h2o_req_t *req, int status, const char *message)
{
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:i}", "apiVersion", "v1", "kind", "Status",
                            "status", "Failure", "message", message, "code", status);
    char *text = doc == NULL ? NULL : json_dumps(doc, JSON_COMPACT);

    json_decref(doc);
    if (text == NULL) {
        respond(req, 500, "text/plain; charset=utf-8", H2O_STRLIT("out of memory\n"));
        return;
    }
    respond(req, status, "application/json", text, strlen(text));
    free(text);
}

static bool method_is(const h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* Routing in h2o 2.2 is a prefix match on a segment boundary; we serve exact paths only. The
 * query string (?timeout=10s from the API server) is not part of path_normalized. */
static bool path_is(const h2o_req_t *req, const char *path)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, path, strlen(path));
}

/* ---------------------------------------------------------------- handlers */

static void count_admission(struct webhook_server *s, enum route_kind kind, const char *result)
{
    metric_inc(s->cfg.admission_counter, 1, kind == ROUTE_MUTATE ? "mutate" : "validate", result);
}

static int on_admission(h2o_handler_t *self, h2o_req_t *req)
{
    struct route *r = (struct route *)self;
    struct webhook_server *s = r->server;
    struct admission_reply reply;
    const char *body;
    const char *result;
    int rc;

    if (!path_is(req, r->path))
        return -1;
    if (!method_is(req, "POST")) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        respond_status(req, 405, "admission endpoints accept POST only");
        count_admission(s, r->kind, "bad_request");
        return 0;
    }

    /* h2o buffered the whole body (already capped by max_request_entity_size). */
    body = req->entity.base != NULL ? req->entity.base : "";
    rc = admission_handle(r->kind == ROUTE_MUTATE ? ADMISSION_MUTATE : ADMISSION_VALIDATE,
                          s->cfg.policy, body, req->entity.base != NULL ? req->entity.len : 0,
                          &reply);
    if (rc < 0) {
        respond_status(req, 500, "out of memory");
        count_admission(s, r->kind, "error");
        return 0;
    }
    result = reply.http_status != 200 ? "bad_request" : reply.allowed ? "allowed" : "denied";
    count_admission(s, r->kind, result);
    log_event(LOG_DEBUG, "webhook", "admission request answered", "{s:s, s:i, s:s, s:i}", "path",
              r->path, "http_status", reply.http_status, "result", result, "status_code",
              reply.status_code);
    respond(req, reply.http_status, "application/json", reply.body, reply.body_len);
    admission_reply_clear(&reply);
    return 0;
}

static bool default_ready(struct webhook_server *s, char *why, size_t size)
{
    if (s->https.conf_inited && s->https.actx.ssl_ctx == NULL) {
        snprintf(why, size, "no serving certificate yet");
        return false;
    }
    return true;
}

static int on_http(h2o_handler_t *self, h2o_req_t *req)
{
    static const char text_type[] = "text/plain; charset=utf-8";
    struct route *r = (struct route *)self;
    struct webhook_server *s = r->server;
    char why[200] = "", line[256];
    char *text = NULL;
    size_t len = 0;
    bool ready;

    if (!path_is(req, r->path))
        return -1;
    if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        respond(req, 405, text_type, H2O_STRLIT("method not allowed\n"));
        return 0;
    }
    switch (r->kind) {
    case ROUTE_HEALTHZ:
        /* Alive means the loop runs: this answer is produced by it. */
        respond(req, 200, text_type, H2O_STRLIT("ok\n"));
        break;
    case ROUTE_READYZ:
        ready = s->cfg.ready != NULL ? s->cfg.ready(s->cfg.ready_data, why, sizeof(why))
                                     : default_ready(s, why, sizeof(why));
        if (ready && s->cfg.ready != NULL)
            ready = default_ready(s, why, sizeof(why));
        snprintf(line, sizeof(line), ready ? "ok\n" : "not ready: %s\n", why);
        respond(req, ready ? 200 : 503, text_type, line, strlen(line));
        break;
    default:
        if (s->cfg.metrics != NULL && metrics_render(s->cfg.metrics, &text, &len) < 0) {
            respond(req, 500, text_type, H2O_STRLIT("out of memory\n"));
            break;
        }
        respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", text != NULL ? text : "",
                len);
        free(text);
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- listeners */

static void on_accept(h2o_socket_t *listener_sock, const char *err)
{
    struct listener *l = listener_sock->data;

    if (err != NULL)
        return;
    for (int i = 0; i < ACCEPT_BURST; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener_sock);
        if (sock == NULL)
            return;
        if (l->tls && l->actx.ssl_ctx == NULL) {
            /* No certificate yet: a plain close makes the client retry, which is what we want
             * from the API server until the certificate is in place. */
            h2o_socket_close(sock);
            continue;
        }
        h2o_accept(&l->actx, sock);
    }
}

/* A non-blocking listening socket on addr:port ('addr' numeric). Returns the fd or -errno. */
static int open_socket(const char *addr, int port, int *bound_port, struct err *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char port_text[16];
    int fd = -1, one = 1, rc;

    snprintf(port_text, sizeof(port_text), "%d", port);
    rc = getaddrinfo(addr, port_text, &hints, &res);
    if (rc != 0)
        return err_set(err, -EINVAL, "invalid listen address '%s': %s", addr, gai_strerror(rc));
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = err_set(err, -errno, "cannot create socket for %s:%d: %s", addr, port, strerror(errno));
        goto out;
    }
    /* SO_REUSEADDR: a restarted operator must not wait out TIME_WAIT to bind again. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        rc = err_set(err, -errno, "cannot bind %s:%d: %s", addr, port, strerror(errno));
        close(fd);
        fd = -1;
        goto out;
    }
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    rc = fd;
out:
    freeaddrinfo(res);
    return rc;
}

static void add_route(h2o_hostconf_t *host, struct webhook_server *s, const char *path,
                      enum route_kind kind, int (*on_req)(h2o_handler_t *, h2o_req_t *))
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, path, 0);
    struct route *r = (struct route *)h2o_create_handler(pathconf, sizeof(*r));

    r->super.on_req = on_req;
    r->server = s;
    r->kind = kind;
    r->path = path;
}

static int listener_open(struct webhook_server *s, struct listener *l, bool tls, const char *addr,
                         int port, size_t max_body, struct err *err)
{
    h2o_hostconf_t *host;
    int fd;

    l->server = s;
    l->tls = tls;
    fd = open_socket(addr != NULL ? addr : "0.0.0.0", port, &l->port, err);
    if (fd < 0)
        return fd;

    h2o_config_init(&l->conf);
    l->conf_inited = true;
    /* h2o 2.2 buffers the whole body before the handler runs: this cap is the memory bound. */
    l->conf.max_request_entity_size = max_body;
    l->conf.server_name = h2o_iovec_init(H2O_STRLIT("azdo-operator"));
    host = h2o_config_register_host(&l->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (tls) {
        add_route(host, s, "/mutate-runnerpool", ROUTE_MUTATE, on_admission);
        add_route(host, s, "/validate-runnerpool", ROUTE_VALIDATE, on_admission);
    } else {
        add_route(host, s, "/healthz", ROUTE_HEALTHZ, on_http);
        add_route(host, s, "/readyz", ROUTE_READYZ, on_http);
        add_route(host, s, "/metrics", ROUTE_METRICS, on_http);
    }
    h2o_context_init(&l->ctx, s->loop, &l->conf);
    l->ctx_inited = true;
    l->actx.ctx = &l->ctx;
    l->actx.hosts = l->conf.hosts;
    l->actx.ssl_ctx = NULL;

    l->sock = h2o_evloop_socket_create(s->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    l->sock->data = l;
    h2o_socket_read_start(l->sock, on_accept);
    return 0;
}

static void listener_close(struct listener *l)
{
    if (l->sock == NULL)
        return;
    h2o_socket_read_stop(l->sock);
    h2o_socket_close(l->sock);
    l->sock = NULL;
}

static size_t listener_connections(const struct listener *l)
{
    size_t n = 0;

    if (!l->ctx_inited)
        return 0;
    for (const h2o_linklist_t *node = l->ctx.http1._conns.next; node != &l->ctx.http1._conns;
         node = node->next)
        n++;
    return n;
}

/* Returns false when the context had to be leaked (see webhook_server_free). */
static bool listener_dispose(struct listener *l)
{
    listener_close(l);
    if (listener_connections(l) > 0)
        return false;
    if (l->ctx_inited)
        h2o_context_dispose(&l->ctx);
    if (l->conf_inited)
        h2o_config_dispose(&l->conf);
    if (l->actx.ssl_ctx != NULL)
        SSL_CTX_free(l->actx.ssl_ctx);
    l->actx.ssl_ctx = NULL;
    l->ctx_inited = l->conf_inited = false;
    return true;
}

/* ---------------------------------------------------------------- public */

int webhook_server_start(struct st_h2o_evloop_t *loop, const struct webhook_server_config *cfg,
                         struct webhook_server **out, struct err *err)
{
    struct webhook_server *s;
    int rc = 0;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    s->loop = loop;
    s->cfg = *cfg;
    if (s->cfg.policy == NULL)
        s->cfg.policy = admission_runnerpool_policy();
    if (s->cfg.max_body_bytes == 0)
        s->cfg.max_body_bytes = WEBHOOK_DEFAULT_MAX_BODY_BYTES;

    if (cfg->webhook_port >= 0)
        rc = listener_open(s, &s->https, true, cfg->webhook_addr, cfg->webhook_port,
                           s->cfg.max_body_bytes, err);
    if (rc == 0 && cfg->metrics_port >= 0)
        rc = listener_open(s, &s->http, false, cfg->metrics_addr, cfg->metrics_port,
                           METRICS_MAX_BODY_BYTES, err);
    if (rc < 0) {
        webhook_server_free(s);
        return rc;
    }
    log_event(LOG_INFO, "webhook", "listening", "{s:i, s:i}", "webhook_port", s->https.port,
              "metrics_port", s->http.port);
    *out = s;
    return 0;
}

int webhook_server_set_tls(struct webhook_server *s, const struct cert_pair *serving,
                           struct err *err)
{
    SSL_CTX *ssl;
    char serial[64] = "";

    if (!s->https.ctx_inited)
        return err_set(err, -EINVAL, "cannot install certificate: HTTPS listener is off");
    if (serving == NULL || serving->cert == NULL || serving->key == NULL)
        return err_set(err, -EINVAL, "cannot install certificate: none given");
    ssl = SSL_CTX_new(TLS_server_method());
    if (ssl == NULL)
        return err_set(err, -ENOMEM, "cannot create TLS context");
    if (SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(ssl, serving->cert) != 1 ||
        SSL_CTX_use_PrivateKey(ssl, serving->key) != 1 || SSL_CTX_check_private_key(ssl) != 1) {
        SSL_CTX_free(ssl);
        ERR_clear_error();
        return err_set(err, -EINVAL, "cannot install serving certificate: key and certificate "
                                     "do not form a usable pair");
    }

    /* Connections accepted from now on use 'ssl'; each earlier connection's SSL object holds its
     * own reference to the old context, so freeing ours here drops nothing in flight. */
    if (s->https.actx.ssl_ctx != NULL)
        SSL_CTX_free(s->https.actx.ssl_ctx);
    s->https.actx.ssl_ctx = ssl;

    certs_serial_hex(serving->cert, serial, sizeof(serial));
    log_event(LOG_INFO, "webhook", "serving certificate installed", "{s:s, s:I}", "serial", serial,
              "not_after", (json_int_t)certs_not_after(serving->cert));
    return 0;
}

bool webhook_server_has_tls(const struct webhook_server *s)
{
    return s->https.actx.ssl_ctx != NULL;
}

int webhook_server_webhook_port(const struct webhook_server *s)
{
    return s->https.port;
}

int webhook_server_metrics_port(const struct webhook_server *s)
{
    return s->http.port;
}

void webhook_server_stop(struct webhook_server *s)
{
    listener_close(&s->https);
    listener_close(&s->http);
}

size_t webhook_server_connections(const struct webhook_server *s)
{
    return listener_connections(&s->https) + listener_connections(&s->http);
}

void webhook_server_free(struct webhook_server *s)
{
    bool clean;

    if (s == NULL)
        return;
    clean = listener_dispose(&s->https);
    clean = listener_dispose(&s->http) && clean;
    if (!clean) {
        /* Live connections point into the contexts inside 's': keep it allocated. */
        log_event(LOG_WARN, "webhook", "connections still open at shutdown, not freeing server",
                  "{s:i}", "connections", (int)webhook_server_connections(s));
        return;
    }
    free(s);
}
