/* test_http_fake.c - scripted HTTP/1.1 server for loop tests (see test_http_fake.h).
 * Deliberately minimal: no TLS, no pipelining, requests read whole before the handler runs. */
#include "test_http_fake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define FAKE_MAX_CONNS 64
#define FAKE_MAX_LOG 512

struct fake_conn {
    struct fake_http *f;
    int fd;
    SSL *ssl;   /* NULL for plain http */
    pthread_t thread;
    bool closed;
};

struct fake_log_entry {
    char method[16];
    char target[4096];
    char *body;
};

struct fake_http {
    int listen_fd;
    char url[64];
    fake_handler handler;
    void *data;
    SSL_CTX *ssl_ctx; /* NULL for plain http */
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    struct fake_conn *conns[FAKE_MAX_CONNS];
    int n_conns;
    struct fake_log_entry log[FAKE_MAX_LOG];
    int n_log;
};

static void die(const char *what)
{
    fprintf(stderr, "fake_http: %s: %s\n", what, strerror(errno));
    abort();
}

static void send_all(struct fake_conn *c, const char *data, size_t len)
{
    while (len > 0 && !c->closed) {
        ssize_t n = c->ssl != NULL ? SSL_write(c->ssl, data, (int)len)
                                   : send(c->fd, data, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->closed = true;
            return;
        }
        data += n;
        len -= (size_t)n;
    }
}

static const char *reason_for(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

void fake_respond(struct fake_conn *c, int status, const char *extra_headers, const char *body)
{
    char head[1024];
    size_t blen = body != NULL ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "%s\r\n",
                     status, reason_for(status), blen, extra_headers != NULL ? extra_headers : "");

    send_all(c, head, (size_t)n);
    if (blen > 0)
        send_all(c, body, blen);
}

void fake_stream_begin(struct fake_conn *c, int status)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n",
                     status, reason_for(status));

    send_all(c, head, (size_t)n);
}

void fake_stream_send(struct fake_conn *c, const char *data, size_t len)
{
    char size[32];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);

    send_all(c, size, (size_t)n);
    send_all(c, data, len);
    send_all(c, "\r\n", 2);
}

void fake_stream_end(struct fake_conn *c)
{
    send_all(c, "0\r\n\r\n", 5);
    shutdown(c->fd, SHUT_RDWR);
    c->closed = true;
}

void fake_drop(struct fake_conn *c)
{
    shutdown(c->fd, SHUT_RDWR);
    c->closed = true;
}

bool fake_wait_stop(struct fake_conn *c, int ms)
{
    struct fake_http *f = c->f;
    struct timespec until;
    bool stopping;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->mu);
    while (!f->stopping) {
        if (pthread_cond_timedwait(&f->cond, &f->mu, &until) == ETIMEDOUT)
            break;
    }
    stopping = f->stopping;
    pthread_mutex_unlock(&f->mu);
    return stopping;
}

static ssize_t conn_recv(struct fake_conn *c, char *buf, size_t len)
{
    if (c->ssl != NULL)
        return SSL_read(c->ssl, buf, (int)len);
    return recv(c->fd, buf, len, 0);
}

/* Reads one request into 'req' (body malloc'd). False on EOF or a malformed request. */
static bool read_request(struct fake_conn *c, struct fake_req *req)
{
    char buf[16384];
    size_t have = 0;
    char *end = NULL;
    size_t content_length = 0;
    const char *cl;

    while (end == NULL) {
        ssize_t n;

        if (have == sizeof(buf) - 1)
            return false;
        n = conn_recv(c, buf + have, sizeof(buf) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *end = '\0';
    if (sscanf(buf, "%15s %4095s", req->method, req->target) != 2)
        return false;
    snprintf(req->headers, sizeof(req->headers), "%s", strchr(buf, '\n') + 1);
    for (cl = req->headers; cl != NULL && *cl != '\0'; cl = strchr(cl, '\n')) {
        if (*cl == '\n')
            cl++;
        if (strncasecmp(cl, "Content-Length:", 15) == 0)
            content_length = strtoul(cl + 15, NULL, 10);
    }

    req->body = calloc(1, content_length + 1);
    req->body_len = content_length;
    {
        size_t already = have - (size_t)(end + 4 - buf);

        if (already > content_length)
            already = content_length; /* no pipelining: extra bytes are dropped */
        memcpy(req->body, end + 4, already);
        while (already < content_length) {
            ssize_t n = conn_recv(c, req->body + already, content_length - already);

            if (n <= 0) {
                free(req->body);
                return false;
            }
            already += (size_t)n;
        }
    }
    return true;
}

static void log_request(struct fake_http *f, struct fake_req *req)
{
    pthread_mutex_lock(&f->mu);
    req->seq = f->n_log + 1;
    if (f->n_log < FAKE_MAX_LOG) {
        struct fake_log_entry *e = &f->log[f->n_log];

        snprintf(e->method, sizeof(e->method), "%s", req->method);
        snprintf(e->target, sizeof(e->target), "%s", req->target);
        e->body = strdup(req->body);
    }
    f->n_log++;
    pthread_mutex_unlock(&f->mu);
}

static void *conn_main(void *arg)
{
    struct fake_conn *c = arg;
    struct fake_req *req = malloc(sizeof(*req));

    if (c->f->ssl_ctx != NULL) {
        c->ssl = SSL_new(c->f->ssl_ctx);
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_accept(c->ssl) != 1)
            c->closed = true; /* handshake refused (e.g. no client certificate) */
    }
    while (!c->closed) {
        memset(req, 0, sizeof(*req));
        if (!read_request(c, req))
            break;
        log_request(c->f, req);
        c->f->handler(c, req, c->f->data);
        free(req->body);
    }
    free(req);
    if (c->ssl != NULL)
        SSL_shutdown(c->ssl);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct fake_http *f = arg;

    for (;;) {
        int fd = accept(f->listen_fd, NULL, NULL);
        struct fake_conn *c;
        int one = 1;

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return NULL; /* listener shut down */
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        c->f = f;
        c->fd = fd;
        pthread_mutex_lock(&f->mu);
        if (f->stopping || f->n_conns == FAKE_MAX_CONNS) {
            pthread_mutex_unlock(&f->mu);
            close(fd);
            free(c);
            continue;
        }
        f->conns[f->n_conns++] = c;
        pthread_create(&c->thread, NULL, conn_main, c);
        pthread_mutex_unlock(&f->mu);
    }
}

static struct fake_http *start(fake_handler handler, void *data, SSL_CTX *ssl_ctx)
{
    struct fake_http *f = calloc(1, sizeof(*f));
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    int one = 1;

    /* A TLS close_notify to a peer that already left would raise SIGPIPE in the test. */
    signal(SIGPIPE, SIG_IGN);
    f->handler = handler;
    f->data = data;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->listen_fd < 0)
        die("socket");
    setsockopt(f->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        die("bind");
    if (listen(f->listen_fd, 64) != 0)
        die("listen");
    getsockname(f->listen_fd, (struct sockaddr *)&addr, &alen);
    f->ssl_ctx = ssl_ctx;
    snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%d", ssl_ctx != NULL ? "https" : "http",
             ntohs(addr.sin_port));
    pthread_create(&f->acceptor, NULL, accept_main, f);
    return f;
}

struct fake_http *fake_http_start(fake_handler handler, void *data)
{
    return start(handler, data, NULL);
}

static X509 *pem_cert(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

    BIO_free(bio);
    return x;
}

struct fake_http *fake_https_start(fake_handler handler, void *data, const char *cert_pem,
                                   const char *key_pem, const char *client_ca_pem)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    X509 *cert = pem_cert(cert_pem);
    BIO *bio = BIO_new_mem_buf(key_pem, -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

    BIO_free(bio);
    if (ctx == NULL || cert == NULL || key == NULL || SSL_CTX_use_certificate(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key) != 1)
        die("tls setup");
    if (client_ca_pem != NULL) {
        X509 *ca = pem_cert(client_ca_pem);

        X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
        X509_free(ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return start(handler, data, ctx);
}

static char *bio_text(BIO *bio)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t)len + 1);

    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    BIO_free(bio);
    return out;
}

void fake_make_cert(const char *common_name, char **cert_pem, char **key_pem)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    BIO *bio;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)getpid());
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)common_name, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(x, key, EVP_sha256()) == 0)
        die("X509_sign");

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    *cert_pem = bio_text(bio);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    *key_pem = bio_text(bio);
    X509_free(x);
    EVP_PKEY_free(key);
}

const char *fake_http_url(struct fake_http *f)
{
    return f->url;
}

void fake_http_stop(struct fake_http *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cond);
    for (int i = 0; i < f->n_conns; i++)
        shutdown(f->conns[i]->fd, SHUT_RDWR);
    pthread_mutex_unlock(&f->mu);

    shutdown(f->listen_fd, SHUT_RDWR);
    pthread_join(f->acceptor, NULL);
    close(f->listen_fd);
    for (int i = 0; i < f->n_conns; i++) {
        pthread_join(f->conns[i]->thread, NULL);
        SSL_free(f->conns[i]->ssl);
        close(f->conns[i]->fd);
        free(f->conns[i]);
    }
    for (int i = 0; i < f->n_log && i < FAKE_MAX_LOG; i++)
        free(f->log[i].body);
    SSL_CTX_free(f->ssl_ctx);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static bool entry_matches(const struct fake_log_entry *e, const char *method, const char *prefix,
                          const char *needle)
{
    if (method != NULL && strcmp(e->method, method) != 0)
        return false;
    if (prefix != NULL && strncmp(e->target, prefix, strlen(prefix)) != 0)
        return false;
    if (needle != NULL && strstr(e->target, needle) == NULL)
        return false;
    return true;
}

int fake_http_count(struct fake_http *f, const char *method, const char *prefix,
                    const char *needle)
{
    int n = 0;

    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n_log && i < FAKE_MAX_LOG; i++)
        n += entry_matches(&f->log[i], method, prefix, needle);
    pthread_mutex_unlock(&f->mu);
    return n;
}

static const struct fake_log_entry *nth(struct fake_http *f, const char *method,
                                        const char *prefix, int n)
{
    for (int i = 0; i < f->n_log && i < FAKE_MAX_LOG; i++) {
        if (entry_matches(&f->log[i], method, prefix, NULL) && --n == 0)
            return &f->log[i];
    }
    return NULL;
}

bool fake_http_target(struct fake_http *f, const char *method, const char *prefix, int n,
                      char *out, size_t out_len)
{
    const struct fake_log_entry *e;

    pthread_mutex_lock(&f->mu);
    e = nth(f, method, prefix, n);
    if (e != NULL)
        snprintf(out, out_len, "%s", e->target);
    pthread_mutex_unlock(&f->mu);
    return e != NULL;
}

bool fake_http_body(struct fake_http *f, const char *method, const char *prefix, int n, char *out,
                    size_t out_len)
{
    const struct fake_log_entry *e;

    pthread_mutex_lock(&f->mu);
    e = nth(f, method, prefix, n);
    if (e != NULL)
        snprintf(out, out_len, "%s", e->body != NULL ? e->body : "");
    pthread_mutex_unlock(&f->mu);
    return e != NULL;
}
