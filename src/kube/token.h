/* kube/token.h - the bearer token, re-read when its file changes.
 *
 * Projected service-account tokens expire (about an hour) and the kubelet rewrites the file
 * (an atomic symlink swap). We stat the file before each use and re-read it when its identity
 * (device, inode, size, mtime) changed, and at least every minute as client-go does; on a 401
 * the client forces a re-read and retries once. */
#ifndef AZDO_KUBE_TOKEN_H
#define AZDO_KUBE_TOKEN_H

#include <stdint.h>

#include "err.h"

struct kube_token;

/* Either a fixed token ('value') or a file ('path'); both NULL gives a token that is always
 * NULL (no Authorization header). Copies its arguments. A file that cannot be read now is an
 * error (-errno). '*out' is new: free with kube_token_free(). */
int kube_token_new(const char *value, const char *path, struct kube_token **out,
                   struct err *err);

/* The current token (borrowed: valid until the next call on 't'), or NULL when none.
 * 'now_ms' is a monotonic clock. When a re-read fails the previous token is kept (the old one
 * may still be valid; the API server will say 401 if not). */
const char *kube_token_get(struct kube_token *t, uint64_t now_ms);

/* Re-reads the file now (after a 401). 1 if the token changed, 0 if not (or no file), or
 * -errno with text. */
int kube_token_reload(struct kube_token *t, struct err *err);

/* Frees 't', zeroing the token. Accepts NULL. */
void kube_token_free(struct kube_token *t);

#endif
