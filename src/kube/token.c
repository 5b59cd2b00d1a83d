/* kube/token.c - bearer token with re-read on file change (see token.h).
 * Owns one heap copy of the token; every copy it drops is zeroed first. */
#include "kube/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* client-go re-reads at least this often even when the file looks unchanged. */
#define TOKEN_MAX_AGE_MS 60000u
#define TOKEN_MAX_BYTES (64u * 1024)

struct kube_token {
    char *value;  /* current token or NULL */
    char *path;   /* NULL for a fixed token */
    struct stat seen; /* identity of the file we read */
    uint64_t read_at_ms;
    bool have_seen;
};

static void drop_value(struct kube_token *t)
{
    if (t->value != NULL) {
        explicit_bzero(t->value, strlen(t->value));
        free(t->value);
        t->value = NULL;
    }
}

/* Reads 't->path' into a new string with surrounding whitespace removed. */
static int read_file(const char *path, char **out, struct stat *st, struct err *err)
{
    char *buf;
    ssize_t n;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return err_set(err, -errno, "cannot open token file '%s': %s", path, strerror(errno));
    if (fstat(fd, st) != 0) {
        int rc = -errno;
        close(fd);
        return err_set(err, rc, "cannot stat token file '%s'", path);
    }
    buf = malloc(TOKEN_MAX_BYTES + 1);
    if (buf == NULL) {
        close(fd);
        return err_set(err, -ENOMEM, "cannot allocate token buffer");
    }
    while (len < TOKEN_MAX_BYTES && (n = read(fd, buf + len, TOKEN_MAX_BYTES - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = -errno;
            explicit_bzero(buf, len);
            free(buf);
            close(fd);
            return err_set(err, rc, "cannot read token file '%s'", path);
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    while (len > 0 && strchr(" \t\r\n", buf[len - 1]) != NULL)
        buf[--len] = '\0';
    if (len == 0) {
        free(buf);
        return err_set(err, -ENODATA, "token file '%s' is empty", path);
    }
    *out = buf;
    return 0;
}

int kube_token_reload(struct kube_token *t, struct err *err)
{
    char *fresh = NULL;
    struct stat st;
    bool changed;
    int rc;

    if (t->path == NULL)
        return 0;
    rc = read_file(t->path, &fresh, &st, err);
    if (rc != 0)
        return rc;
    changed = t->value == NULL || strcmp(t->value, fresh) != 0;
    drop_value(t);
    t->value = fresh;
    t->seen = st;
    t->have_seen = true;
    return changed ? 1 : 0;
}

int kube_token_new(const char *value, const char *path, struct kube_token **out,
                   struct err *err)
{
    struct kube_token *t = calloc(1, sizeof(*t));
    int rc;

    if (t == NULL)
        return err_set(err, -ENOMEM, "cannot allocate token");
    if (value != NULL)
        t->value = strdup(value);
    if (path != NULL)
        t->path = strdup(path);
    if ((value != NULL && t->value == NULL) || (path != NULL && t->path == NULL)) {
        kube_token_free(t);
        return err_set(err, -ENOMEM, "cannot allocate token");
    }
    if (t->path != NULL) {
        rc = kube_token_reload(t, err);
        if (rc < 0) {
            kube_token_free(t);
            return rc;
        }
    }
    *out = t;
    return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

const char *kube_token_get(struct kube_token *t, uint64_t now_ms)
{
    struct stat st;

    if (t->path == NULL)
        return t->value;
    /* stat() follows the kubelet's ..data symlink, so a swap shows up as a new inode. */
    if (now_ms - t->read_at_ms >= TOKEN_MAX_AGE_MS || !t->have_seen ||
        stat(t->path, &st) != 0 || !same_file(&st, &t->seen)) {
        /* On failure keep the old token: it may still be valid (see token.h). */
        if (kube_token_reload(t, NULL) >= 0)
            t->read_at_ms = now_ms;
    }
    return t->value;
}

void kube_token_free(struct kube_token *t)
{
    if (t == NULL)
        return;
    drop_value(t);
    free(t->path);
    free(t);
}
