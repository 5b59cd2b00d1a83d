/* certs.h - the webhook's private CA and serving certificate, with OpenSSL 3.
 *
 * Everything here is pure with respect to time: functions that care about the clock take 'now'
 * (unix seconds) as a parameter, so tests can use lifetimes of a few seconds and move the clock
 * themselves. Keys are ECDSA P-256. Private keys never reach a log line: error texts name the
 * certificate, never its key material.
 *
 * Rotation policy (certs_check_ca / certs_check_serving):
 *   - a certificate is "due" once a third of its validity (notAfter - notBefore) is left;
 *   - the serving certificate is also replaced when its SANs differ from the wanted list, when
 *     its key does not match, or when it is not signed by the CA it is checked against;
 *   - a serving certificate clamped to its CA's notAfter is not reported due: reissuing it from
 *     the same CA could not extend it, and that CA is itself due by then (see certs_check_serving).
 */
#ifndef AZDO_WEBHOOK_CERTS_H
#define AZDO_WEBHOOK_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

/* A certificate and its private key. Both owned by the struct; cert_pair_clear frees them. */
struct cert_pair {
    X509 *cert;
    EVP_PKEY *key;
};

/* Frees both members and sets them to NULL (accepts NULL or an empty pair). */
void cert_pair_clear(struct cert_pair *pair);

/* Issuance parameters shared by the CA and serving certificate. */
struct certs_issue {
    time_t now;            /* unix seconds; notBefore = now - backdate_s */
    int64_t lifetime_s;    /* notAfter = now + lifetime_s (clamped to the CA's for serving) */
    int64_t backdate_s;    /* tolerance for clocks behind ours; 0 in tests with short lifetimes */
    const char *common_name; /* NULL: "azdo-runner-operator webhook CA", or the first SAN */
};

/* Creates a self-signed CA (basicConstraints critical CA:TRUE, keyUsage critical keyCertSign +
 * cRLSign). On success fills 'out' (new: free with cert_pair_clear) and returns 0; on failure
 * 'out' is left empty and a negative errno is returned with text in 'err'. */
int certs_make_ca(const struct certs_issue *issue, struct cert_pair *out, struct err *err);

/* Creates a serving certificate for 'sans' (n entries; each a DNS name or an IPv4/IPv6 literal),
 * signed by 'ca' (borrowed). Its notAfter never exceeds the CA's. extendedKeyUsage serverAuth.
 * 'out' as for certs_make_ca. -EINVAL for an empty or malformed SAN list. */
int certs_make_serving(const struct cert_pair *ca, const struct certs_issue *issue,
                       const char *const *sans, size_t n_sans, struct cert_pair *out,
                       struct err *err);

/* PEM encoding. certs_cert_to_pem: new NUL-terminated string (free()). certs_key_to_pem: new
 * PKCS#8 string holding key material: free it with certs_free_secret, which wipes it first. */
int certs_cert_to_pem(const X509 *cert, char **out, struct err *err);
int certs_key_to_pem(EVP_PKEY *key, char **out, struct err *err);
void certs_free_secret(char *text);

/* Parses one PEM certificate (the first in 'pem') and, when key_pem is not NULL, its PEM private
 * key; checks that the key matches the certificate. Fills 'out' (new) and returns 0; -EINVAL with
 * text in 'err' otherwise ('out' left empty). */
int certs_pair_from_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                        size_t key_len, struct cert_pair *out, struct err *err);

/* Parses every certificate in a PEM bundle (a caBundle). On success '*out' is a new array of
 * '*n_out' new certificates: free with certs_free_list. An empty bundle gives n_out 0, rc 0. A
 * bundle with garbage between or after certificates is -EINVAL. */
int certs_list_from_pem(const char *pem, size_t len, X509 ***out, size_t *n_out, struct err *err);
void certs_free_list(X509 **certs, size_t n);

/* Validity bounds as unix seconds, 0 when unreadable. */
time_t certs_not_before(const X509 *cert);
time_t certs_not_after(const X509 *cert);

/* When a third of the validity is left: notAfter - (notAfter - notBefore) / 3. */
time_t certs_due_at(const X509 *cert);

/* True when both are the same certificate (DER equality); false if either is NULL. */
bool certs_same(const X509 *a, const X509 *b);

/* True when 'cert' names 'ca' as issuer and carries a valid signature by its key. */
bool certs_signed_by(const X509 *cert, const X509 *ca);

/* Serial number as lowercase hex without separators, written to 'buf' (NUL-terminated).
 * Returns 0, or -ENOSPC if it does not fit. */
int certs_serial_hex(const X509 *cert, char *buf, size_t size);

/* Reasons a certificate should be replaced: a bit set; 0 means keep it. */
enum certs_problem {
    CERTS_MISSING = 1 << 0,      /* no certificate or no key */
    CERTS_NOT_VALID_NOW = 1 << 1,/* expired, or notBefore in the future */
    CERTS_DUE = 1 << 2,          /* a third or less of its validity left */
    CERTS_KEY_MISMATCH = 1 << 3, /* private key does not belong to the certificate */
    CERTS_NOT_CA = 1 << 4,       /* a CA without CA:TRUE (someone else's certificate) */
    CERTS_SANS_DIFFER = 1 << 5,  /* serving SANs are not exactly the wanted set */
    CERTS_WRONG_ISSUER = 1 << 6, /* serving certificate not signed by the CA checked against */
};

/* Checks a CA pair at 'now'. Returns a set of certs_problem bits. */
unsigned certs_check_ca(const struct cert_pair *ca, time_t now);

/* Checks a serving pair against the wanted SANs and the CA expected to have signed it ('ca' may
 * be NULL: then CERTS_WRONG_ISSUER is not checked and DUE is not clamped). */
unsigned certs_check_serving(const struct cert_pair *serving, const X509 *ca,
                             const char *const *sans, size_t n_sans, time_t now);

/* Human text for a problem set, e.g. "not valid now, sans differ", written into 'buf' for log
 * fields. Returns 'buf'. */
const char *certs_problem_text(unsigned problems, char *buf, size_t size);

/* Default SANs for a Service: <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local.
 * Writes up to 4 new strings into 'out' (free each), returns how many, or a negative errno. */
int certs_default_sans(const char *service, const char *ns, char *out[4], struct err *err);

#endif
