/*
 * err.h -- ember_error helpers for the core.
 * Codes come from EMBER_ERRNO_MAP in <ember/plugin.h>.
 */
#ifndef EMBER_UTIL_ERR_H
#define EMBER_UTIL_ERR_H

#include <ember/plugin.h>

/* Text for an EMBER_E* code; never NULL. */
const char *ember_strerror(int code);

/* Fill err (may be NULL) and return code, so callers can write
 * `return ember_seterr(err, EMBER_EINVAL, "bad %s", x);`. */
int ember_seterr(ember_error *err, int code, const char *fmt, ...)
    EMBER_PRINTF(3, 4);
int ember_vseterr(ember_error *err, int code, const char *fmt, va_list ap);

/* Prefix the existing message of err with more context ("file:3: ..."). */
void ember_error_prefix(ember_error *err, const char *fmt, ...)
    EMBER_PRINTF(2, 3);

void ember_error_clear(ember_error *err);

#endif
