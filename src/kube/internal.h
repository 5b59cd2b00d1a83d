/* kube/internal.h - declarations shared inside src/kube/ only; other modules use client.h. */
#ifndef AZDO_KUBE_INTERNAL_H
#define AZDO_KUBE_INTERNAL_H

#include "kube/client.h"

/* A GET of a collection that follows 'continue' tokens (see kube_list). 'path_and_query' must
 * not carry a continue parameter. */
int kube_request_list(struct kube *k, const char *path_and_query, kube_done_cb cb, void *cb_data,
                      struct kube_call **out, struct err *err);

/* The loop the client runs on (borrowed). */
struct loop *kube_loop(const struct kube *k);

#endif
