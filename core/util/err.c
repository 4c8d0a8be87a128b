/*
 * err.c -- error codes and messages.
 *
 * Owns the text of EMBER_ERRNO_MAP and the fill/prefix helpers.  No state;
 * safe from any thread.
 */
#include "err.h"

#include <stdio.h>
#include <string.h>

const char *ember_strerror(int code)
{
    switch (code) {
#define X(name, val, text)                                                     \
    case (val):                                                                \
        return text;
        EMBER_ERRNO_MAP(X)
#undef X
    default:
        return "unknown error";
    }
}

int ember_vseterr(ember_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        if (fmt)
            vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        else
            snprintf(err->msg, sizeof err->msg, "%s", ember_strerror(code));
    }
    return code;
}

int ember_seterr(ember_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ember_vseterr(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void ember_error_prefix(ember_error *err, const char *fmt, ...)
{
    char pre[512];
    size_t pl, ol;
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    pl = strlen(pre);
    if (pl >= sizeof err->msg)
        pl = sizeof err->msg - 1;
    ol = strnlen(err->msg, sizeof err->msg - 1);
    if (pl + ol >= sizeof err->msg)
        ol = sizeof err->msg - 1 - pl;
    memmove(err->msg + pl, err->msg, ol);
    memcpy(err->msg, pre, pl);
    err->msg[pl + ol] = '\0';
}

void ember_error_clear(ember_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
