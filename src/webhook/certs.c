/* certs.c - issuing, encoding and checking the webhook's CA and serving certificate.
 *
 * Only OpenSSL 3 APIs that are not deprecated: EVP_EC_gen for keys, X509_* for certificates,
 * GENERAL_NAME for SANs (built field by field, never through a "DNS:a,IP:b" config string, so a
 * comma in a flag value cannot inject another name). Nothing here reads the clock. */
#include "webhook/certs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* ---------------------------------------------------------------- helpers */

/* Copies the first OpenSSL error into 'err' after 'what', then empties OpenSSL's queue so a later
 * caller does not see stale errors. */
static int ssl_fail(struct err *err, int code, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[160] = "";

    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    if (buf[0] != '\0')
        return err_set(err, code, "%s: %s", what, buf);
    return err_set(err, code, "%s", what);
}

void cert_pair_clear(struct cert_pair *pair)
{
    if (pair == NULL)
        return;
    X509_free(pair->cert);
    EVP_PKEY_free(pair->key);
    pair->cert = NULL;
    pair->key = NULL;
}

void certs_free_secret(char *text)
{
    if (text == NULL)
        return;
    OPENSSL_cleanse(text, strlen(text));
    free(text);
}

static time_t asn1_to_unix(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

time_t certs_not_before(const X509 *cert)
{
    return cert == NULL ? 0 : asn1_to_unix(X509_get0_notBefore(cert));
}

time_t certs_not_after(const X509 *cert)
{
    return cert == NULL ? 0 : asn1_to_unix(X509_get0_notAfter(cert));
}

time_t certs_due_at(const X509 *cert)
{
    time_t nb = certs_not_before(cert);
    time_t na = certs_not_after(cert);

    return na - (na - nb) / 3;
}

bool certs_same(const X509 *a, const X509 *b)
{
    if (a == NULL || b == NULL)
        return false;
    return X509_cmp(a, b) == 0;
}

bool certs_signed_by(const X509 *cert, const X509 *ca)
{
    EVP_PKEY *pub;
    bool ok;

    if (cert == NULL || ca == NULL)
        return false;
    /* X509_check_issued compares names and key identifiers; X509_verify checks the signature. */
    if (X509_check_issued((X509 *)ca, (X509 *)cert) != X509_V_OK) {
        ERR_clear_error();
        return false;
    }
    pub = X509_get0_pubkey(ca);
    ok = pub != NULL && X509_verify((X509 *)cert, pub) == 1;
    ERR_clear_error();
    return ok;
}

int certs_serial_hex(const X509 *cert, char *buf, size_t size)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn == NULL ? NULL : BN_bn2hex(bn);
    int rc = 0;

    if (hex == NULL) {
        rc = -ENOMEM;
    } else if (strlen(hex) + 1 > size) {
        rc = -ENOSPC;
    } else {
        for (size_t i = 0; hex[i] != '\0'; i++)
            buf[i] = (char)tolower((unsigned char)hex[i]);
        buf[strlen(hex)] = '\0';
    }
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

/* ---------------------------------------------------------------- issuance */

/* A DNS SAN as RFC 1123 allows it, plus a leading "*." wildcard label. Anything else (spaces,
 * commas, empty labels) is refused so a typo in --webhook-san fails at start, not at handshake. */
static bool dns_name_ok(const char *s)
{
    size_t label = 0, n = strlen(s);

    if (n == 0 || n > 253)
        return false;
    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '.') {
            if (label == 0 || s[-1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!(isalnum(c) || (c == '-' && label > 0)) || ++label > 63)
            return false;
    }
    return label > 0 && s[-1] != '-';
}

/* Builds the subjectAltName extension value. 'out' is new (GENERAL_NAMES_free). */
static int build_sans(const char *const *sans, size_t n, GENERAL_NAMES **out, struct err *err)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int rc = 0;

    if (n == 0)
        rc = err_set(err, -EINVAL, "cannot issue serving certificate: no subject alternative names");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(sans[i]);

        ERR_clear_error(); /* a2i_IPADDRESS leaves an error for every non-IP name */
        if (g == NULL) {
            ASN1_OCTET_STRING_free(ip);
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        if (ip != NULL) {
            GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
        } else if (dns_name_ok(sans[i])) {
            ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
            if (dns == NULL || ASN1_STRING_set(dns, sans[i], (int)strlen(sans[i])) != 1) {
                ASN1_IA5STRING_free(dns);
                GENERAL_NAME_free(g);
                rc = err_set(err, -ENOMEM, "out of memory");
                break;
            }
            GENERAL_NAME_set0_value(g, GEN_DNS, dns);
        } else {
            GENERAL_NAME_free(g);
            rc = err_set(err, -EINVAL, "invalid subject alternative name '%s': "
                         "want a DNS name or an IP address", sans[i]);
            break;
        }
        sk_GENERAL_NAME_push(gens, g);
    }
    if (rc < 0) {
        GENERAL_NAMES_free(gens);
        return rc;
    }
    *out = gens;
    return 0;
}

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value, struct err *err)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    if (!ok)
        return ssl_fail(err, -EIO, "cannot add certificate extension");
    return 0;
}

/* Fills the parts common to both certificates: version, random positive serial, validity,
 * subject, public key. */
static int fill_common(X509 *x, EVP_PKEY *key, const struct certs_issue *issue, time_t not_after,
                       const char *cn, struct err *err)
{
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    X509_NAME *name = X509_get_subject_name(x);
    int ok;

    /* 127 random bits, top bit clear: RFC 5280 wants a positive serial of at most 20 octets. */
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        return ssl_fail(err, -EIO, "cannot draw certificate serial");
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    ok = ok && X509_set_version(x, X509_VERSION_3) == 1;
    ok = ok && ASN1_TIME_set(X509_getm_notBefore(x), issue->now - issue->backdate_s) != NULL;
    ok = ok && ASN1_TIME_set(X509_getm_notAfter(x), not_after) != NULL;
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                          -1, -1, 0) == 1;
    ok = ok && X509_set_pubkey(x, key) == 1;
    if (!ok)
        return ssl_fail(err, -EIO, "cannot fill certificate fields");
    return 0;
}

static int check_issue(const struct certs_issue *issue, struct err *err)
{
    if (issue->lifetime_s <= 0)
        return err_set(err, -EINVAL, "certificate lifetime must be positive, got %lld s",
                       (long long)issue->lifetime_s);
    if (issue->backdate_s < 0)
        return err_set(err, -EINVAL, "certificate backdate must not be negative");
    return 0;
}

int certs_make_ca(const struct certs_issue *issue, struct cert_pair *out, struct err *err)
{
    struct cert_pair p = {NULL, NULL};
    X509V3_CTX v3;
    int rc;

    out->cert = NULL;
    out->key = NULL;
    rc = check_issue(issue, err);
    if (rc < 0)
        return rc;
    p.key = EVP_EC_gen("P-256");
    p.cert = X509_new();
    if (p.key == NULL || p.cert == NULL) {
        rc = ssl_fail(err, -ENOMEM, "cannot create CA key");
        goto out;
    }
    rc = fill_common(p.cert, p.key, issue, issue->now + issue->lifetime_s,
                     issue->common_name != NULL ? issue->common_name : "azdo-runner-operator webhook CA",
                     err);
    if (rc < 0)
        goto out;
    if (X509_set_issuer_name(p.cert, X509_get_subject_name(p.cert)) != 1) {
        rc = ssl_fail(err, -EIO, "cannot set CA issuer");
        goto out;
    }
    X509V3_set_ctx(&v3, p.cert, p.cert, NULL, NULL, 0);
    rc = add_ext(p.cert, &v3, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err);
    if (rc == 0)
        rc = add_ext(p.cert, &v3, NID_key_usage, "critical,keyCertSign,cRLSign", err);
    if (rc == 0)
        rc = add_ext(p.cert, &v3, NID_subject_key_identifier, "hash", err);
    if (rc < 0)
        goto out;
    if (X509_sign(p.cert, p.key, EVP_sha256()) <= 0) {
        rc = ssl_fail(err, -EIO, "cannot sign CA certificate");
        goto out;
    }
    *out = p;
    return 0;
out:
    cert_pair_clear(&p);
    return rc;
}

int certs_make_serving(const struct cert_pair *ca, const struct certs_issue *issue,
                       const char *const *sans, size_t n_sans, struct cert_pair *out,
                       struct err *err)
{
    struct cert_pair p = {NULL, NULL};
    GENERAL_NAMES *gens = NULL;
    X509V3_CTX v3;
    time_t not_after, ca_not_after;
    int rc;

    out->cert = NULL;
    out->key = NULL;
    rc = check_issue(issue, err);
    if (rc < 0)
        return rc;
    if (ca == NULL || ca->cert == NULL || ca->key == NULL)
        return err_set(err, -EINVAL, "cannot issue serving certificate: no CA");
    rc = build_sans(sans, n_sans, &gens, err);
    if (rc < 0)
        return rc;

    /* A certificate outliving its issuer would fail verification after the CA expires anyway. */
    not_after = issue->now + issue->lifetime_s;
    ca_not_after = certs_not_after(ca->cert);
    if (ca_not_after != 0 && not_after > ca_not_after)
        not_after = ca_not_after;

    p.key = EVP_EC_gen("P-256");
    p.cert = X509_new();
    if (p.key == NULL || p.cert == NULL) {
        rc = ssl_fail(err, -ENOMEM, "cannot create serving key");
        goto out;
    }
    /* The subject must differ from the CA's: a leaf whose subject equals its issuer's name looks
     * self-issued to verifiers, and chain building fails. Default: the first SAN. */
    rc = fill_common(p.cert, p.key, issue, not_after,
                     issue->common_name != NULL ? issue->common_name : sans[0], err);
    if (rc < 0)
        goto out;
    if (X509_set_issuer_name(p.cert, X509_get_subject_name(ca->cert)) != 1) {
        rc = ssl_fail(err, -EIO, "cannot set serving certificate issuer");
        goto out;
    }
    X509V3_set_ctx(&v3, ca->cert, p.cert, NULL, NULL, 0);
    rc = add_ext(p.cert, &v3, NID_basic_constraints, "critical,CA:FALSE", err);
    if (rc == 0)
        rc = add_ext(p.cert, &v3, NID_key_usage, "critical,digitalSignature", err);
    if (rc == 0)
        rc = add_ext(p.cert, &v3, NID_ext_key_usage, "serverAuth", err);
    if (rc == 0)
        rc = add_ext(p.cert, &v3, NID_authority_key_identifier, "keyid:always", err);
    if (rc < 0)
        goto out;
    if (X509_add1_ext_i2d(p.cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1) {
        rc = ssl_fail(err, -EIO, "cannot add subject alternative names");
        goto out;
    }
    if (X509_sign(p.cert, ca->key, EVP_sha256()) <= 0) {
        rc = ssl_fail(err, -EIO, "cannot sign serving certificate");
        goto out;
    }
    GENERAL_NAMES_free(gens);
    *out = p;
    return 0;
out:
    GENERAL_NAMES_free(gens);
    cert_pair_clear(&p);
    return rc;
}

/* ---------------------------------------------------------------- PEM */

/* Moves a memory BIO's content into a new NUL-terminated string. */
static int bio_to_string(BIO *bio, char **out, struct err *err)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s;

    if (n <= 0)
        return err_set(err, -EIO, "empty PEM output");
    s = malloc((size_t)n + 1);
    if (s == NULL)
        return err_set(err, -ENOMEM, "out of memory");
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *out = s;
    return 0;
}

int certs_cert_to_pem(const X509 *cert, char **out, struct err *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc;

    *out = NULL;
    if (bio == NULL || cert == NULL || PEM_write_bio_X509(bio, (X509 *)cert) != 1)
        rc = ssl_fail(err, -EIO, "cannot encode certificate as PEM");
    else
        rc = bio_to_string(bio, out, err);
    BIO_free(bio);
    return rc;
}

int certs_key_to_pem(EVP_PKEY *key, char **out, struct err *err)
{
    /* BIO_s_secmem would keep the copy out of swap; the buffer is small and wiped on free. */
    BIO *bio = BIO_new(BIO_s_mem());
    int rc;

    *out = NULL;
    if (bio == NULL || key == NULL ||
        PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
        rc = ssl_fail(err, -EIO, "cannot encode private key as PEM");
    } else {
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        rc = bio_to_string(bio, out, err);
        if (n > 0)
            OPENSSL_cleanse(data, (size_t)n);
    }
    BIO_free(bio);
    return rc;
}

int certs_pair_from_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
                        size_t key_len, struct cert_pair *out, struct err *err)
{
    struct cert_pair p = {NULL, NULL};
    BIO *bio = NULL;
    int rc = 0;

    out->cert = NULL;
    out->key = NULL;
    if (cert_pem == NULL || cert_len == 0 || cert_len > INT32_MAX)
        return err_set(err, -EINVAL, "no certificate PEM");
    bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
    p.cert = bio == NULL ? NULL : PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (p.cert == NULL) {
        rc = ssl_fail(err, -EINVAL, "cannot parse certificate PEM");
        goto out;
    }
    if (key_pem != NULL) {
        if (key_len == 0 || key_len > INT32_MAX) {
            rc = err_set(err, -EINVAL, "no private key PEM");
            goto out;
        }
        bio = BIO_new_mem_buf(key_pem, (int)key_len);
        /* An empty passphrase callback: an encrypted key is an error, never a prompt on a tty. */
        p.key = bio == NULL ? NULL : PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
        BIO_free(bio);
        if (p.key == NULL) {
            /* No OpenSSL detail here: it could quote part of the key. */
            ERR_clear_error();
            rc = err_set(err, -EINVAL, "cannot parse private key PEM");
            goto out;
        }
        if (X509_check_private_key(p.cert, p.key) != 1) {
            ERR_clear_error();
            rc = err_set(err, -EINVAL, "private key does not match certificate");
            goto out;
        }
    }
    *out = p;
    return 0;
out:
    cert_pair_clear(&p);
    return rc;
}

void certs_free_list(X509 **certs, size_t n)
{
    if (certs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        X509_free(certs[i]);
    free(certs);
}

/* True when only whitespace remains in [p, end). */
static bool only_space(const char *p, const char *end)
{
    for (; p < end; p++) {
        if (!isspace((unsigned char)*p))
            return false;
    }
    return true;
}

int certs_list_from_pem(const char *pem, size_t len, X509 ***out, size_t *n_out, struct err *err)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end_mark[] = "-----END CERTIFICATE-----";
    X509 **list = NULL;
    size_t n = 0;
    const char *p = pem, *end = pem + len;
    int rc = 0;

    *out = NULL;
    *n_out = 0;
    /* Walk block by block ourselves: PEM_read_bio_X509 silently skips text between blocks, and
     * a caBundle with junk in it is something a user should hear about. */
    while (pem != NULL && p < end && !only_space(p, end)) {
        const char *b = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1);
        const char *e = b == NULL ? NULL : memmem(b, (size_t)(end - b), end_mark, sizeof(end_mark) - 1);
        struct cert_pair one;
        X509 **grown;

        if (b == NULL || e == NULL || !only_space(p, b)) {
            rc = err_set(err, -EINVAL, "certificate bundle has text outside PEM blocks");
            break;
        }
        e += sizeof(end_mark) - 1;
        rc = certs_pair_from_pem(b, (size_t)(e - b), NULL, 0, &one, err);
        if (rc < 0)
            break;
        grown = realloc(list, (n + 1) * sizeof(*list));
        if (grown == NULL) {
            X509_free(one.cert);
            rc = err_set(err, -ENOMEM, "out of memory");
            break;
        }
        list = grown;
        list[n++] = one.cert;
        p = e;
    }
    if (rc < 0) {
        certs_free_list(list, n);
        return rc;
    }
    *out = list;
    *n_out = n;
    return 0;
}

/* ---------------------------------------------------------------- checks */

static bool valid_at(const X509 *cert, time_t now)
{
    time_t nb = certs_not_before(cert), na = certs_not_after(cert);

    return nb != 0 && na != 0 && nb <= now && now < na;
}

unsigned certs_check_ca(const struct cert_pair *ca, time_t now)
{
    unsigned problems = 0;

    if (ca == NULL || ca->cert == NULL || ca->key == NULL)
        return CERTS_MISSING;
    if (X509_check_private_key(ca->cert, ca->key) != 1)
        problems |= CERTS_KEY_MISMATCH;
    if (X509_check_ca((X509 *)ca->cert) != 1)
        problems |= CERTS_NOT_CA;
    if (!valid_at(ca->cert, now))
        problems |= CERTS_NOT_VALID_NOW;
    else if (now >= certs_due_at(ca->cert))
        problems |= CERTS_DUE;
    ERR_clear_error();
    return problems;
}

/* Does one certificate name equal one wanted SAN? DNS names compare case-insensitively, IP
 * addresses by their bytes (so "::1" and "0:0::1" are the same). */
static bool name_matches(const GENERAL_NAME *g, const char *want)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(want);
    bool match = false;

    ERR_clear_error();
    if (g->type == GEN_IPADD && ip != NULL) {
        match = ASN1_STRING_cmp(ip, g->d.iPAddress) == 0;
    } else if (g->type == GEN_DNS && ip == NULL) {
        size_t n = strlen(want);
        match = (size_t)ASN1_STRING_length(g->d.dNSName) == n &&
                strncasecmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), want, n) == 0;
    }
    ASN1_OCTET_STRING_free(ip);
    return match;
}

/* Does 'cert' carry exactly the names in 'sans', as sets (duplicates in 'sans' count once)? */
static bool sans_equal(const X509 *cert, const char *const *sans, size_t n_sans)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int count = gens == NULL ? 0 : sk_GENERAL_NAME_num(gens);
    bool equal = true;

    for (int i = 0; equal && i < count; i++) {
        bool found = false;
        for (size_t j = 0; !found && j < n_sans; j++)
            found = name_matches(sk_GENERAL_NAME_value(gens, i), sans[j]);
        equal = found;
    }
    for (size_t j = 0; equal && j < n_sans; j++) {
        bool found = false;
        for (int i = 0; !found && i < count; i++)
            found = name_matches(sk_GENERAL_NAME_value(gens, i), sans[j]);
        equal = found;
    }
    GENERAL_NAMES_free(gens);
    ERR_clear_error();
    return equal;
}

unsigned certs_check_serving(const struct cert_pair *serving, const X509 *ca,
                             const char *const *sans, size_t n_sans, time_t now)
{
    unsigned problems = 0;

    if (serving == NULL || serving->cert == NULL || serving->key == NULL)
        return CERTS_MISSING;
    if (X509_check_private_key(serving->cert, serving->key) != 1)
        problems |= CERTS_KEY_MISMATCH;
    if (!valid_at(serving->cert, now)) {
        problems |= CERTS_NOT_VALID_NOW;
    } else if (now >= certs_due_at(serving->cert)) {
        /* Clamped to the CA's end: a reissue from this CA would get the same notAfter. The CA is
         * due by then (a third of the rest of its life is left at most), and its rotation
         * brings a fresh serving certificate. */
        if (ca == NULL || certs_not_after(serving->cert) < certs_not_after(ca))
            problems |= CERTS_DUE;
    }
    if (!sans_equal(serving->cert, sans, n_sans))
        problems |= CERTS_SANS_DIFFER;
    if (ca != NULL && !certs_signed_by(serving->cert, ca))
        problems |= CERTS_WRONG_ISSUER;
    ERR_clear_error();
    return problems;
}

const char *certs_problem_text(unsigned problems, char *buf, size_t size)
{
    static const struct {
        unsigned bit;
        const char *text;
    } names[] = {
        {CERTS_MISSING, "missing"},           {CERTS_NOT_VALID_NOW, "not valid now"},
        {CERTS_DUE, "due for rotation"},      {CERTS_KEY_MISMATCH, "key mismatch"},
        {CERTS_NOT_CA, "not a CA"},           {CERTS_SANS_DIFFER, "sans differ"},
        {CERTS_WRONG_ISSUER, "wrong issuer"},
    };
    size_t used = 0;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((problems & names[i].bit) == 0)
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used > 0 ? ", " : "", names[i].text);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, size, "ok");
    return buf;
}

int certs_default_sans(const char *service, const char *ns, char *out[4], struct err *err)
{
    static const char *const fmts[4] = {"%s", "%s.%s", "%s.%s.svc", "%s.%s.svc.cluster.local"};

    if (service == NULL || ns == NULL || service[0] == '\0' || ns[0] == '\0')
        return err_set(err, -EINVAL, "webhook service name and namespace are required for SANs");
    for (int i = 0; i < 4; i++) {
        if (asprintf(&out[i], fmts[i], service, ns) < 0) {
            while (i-- > 0)
                free(out[i]);
            return err_set(err, -ENOMEM, "out of memory");
        }
    }
    return 4;
}
