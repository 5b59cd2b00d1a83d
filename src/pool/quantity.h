/* quantity.h - Kubernetes resource quantities ("10Gi", "500M", "1.5", "100m", "1e3").
 *
 * Grammar (apimachinery resource.Quantity):
 *   quantity ::= [+-] number suffix
 *   number   ::= digits | digits '.' digits | digits '.' | '.' digits
 *   suffix   ::= '' | binarySI | decimalSI | ('e' | 'E') [+-] digits
 *   binarySI ::= Ki | Mi | Gi | Ti | Pi | Ei         (powers of 1024)
 *   decimalSI::= n | u | m | k | M | G | T | P | E    (powers of 1000; m = 1/1000)
 * "1E" is one exa; "1E3" is one thousand. Nothing else is accepted: no whitespace, no "GB", no
 * hexadecimal, no "inf".
 *
 * The value is kept as a long double: exact for every integer below 2^64 and for every value a
 * storage request or CPU count uses in practice. LIMITATION: it is not arbitrary precision like
 * Go's inf.Dec, so two quantities that differ beyond the 19th significant digit compare equal;
 * nothing in this operator compares quantities that finely. */
#ifndef AZDO_POOL_QUANTITY_H
#define AZDO_POOL_QUANTITY_H

#include <stdint.h>

#include "err.h"

/* Longest text accepted; real quantities are a few characters. */
#define QUANTITY_TEXT_MAX 64

enum quantity_format {
    QUANTITY_DECIMAL_SI,       /* no suffix, n, u, m, k, M, G, T, P, E */
    QUANTITY_BINARY_SI,        /* Ki .. Ei */
    QUANTITY_DECIMAL_EXPONENT, /* e3, E-2 */
};

struct quantity {
    long double value; /* in base units: bytes for storage, cores for cpu */
    enum quantity_format format;
};

/* Parses 'text'. Returns 0 and fills 'out', or -EINVAL with a reason in 'err' ("invalid quantity
 * '10GB': unknown suffix 'GB' ..."), or -ERANGE when the exponent is out of range. 'out' is left
 * untouched on failure. */
int quantity_parse(const char *text, struct quantity *out, struct err *err);

/* -1, 0 or 1 as a is smaller than, equal to or larger than b. */
int quantity_cmp(const struct quantity *a, const struct quantity *b);

/* Rounds up to whole base units (Kubernetes rounds 0.1 bytes up to 1). Returns 0, or -ERANGE when
 * the result is negative or above INT64_MAX. */
int quantity_to_int64_ceil(const struct quantity *q, int64_t *out, struct err *err);

#endif
