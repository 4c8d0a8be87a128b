/*
 * tap.h -- a tiny TAP producer for ember's C tests, with c-tap-harness's
 * vocabulary: plan, ok, is_int, is_string, is_bytes, diag, skip, bail.
 * Header-only; include it from exactly one .c per test program.
 */
#ifndef EMBER_TAP_H
#define EMBER_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n_ = 0;
static int tap_failed_ = 0;
static int tap_planned_ = -1;

static __attribute__((unused)) void tap_vdesc_(const char *fmt, va_list ap)
{
    if (fmt && *fmt) {
        printf(" - ");
        vprintf(fmt, ap);
    }
    printf("\n");
}

static __attribute__((unused)) void plan(int n)
{
    tap_planned_ = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

static __attribute__((unused)) void diag(const char *fmt, ...)
{
    va_list ap;
    char line[4096];
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *s = line, *e; s && *s; s = e ? e + 1 : NULL) {
        e = strchr(s, '\n');
        if (e)
            *e = '\0';
        printf("# %s\n", s);
    }
    fflush(stdout);
}

static __attribute__((unused)) int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    tap_n_++;
    if (!cond)
        tap_failed_++;
    printf("%sok %d", cond ? "" : "not ", tap_n_);
    va_start(ap, fmt);
    tap_vdesc_(fmt, ap);
    va_end(ap);
    fflush(stdout);
    return cond;
}

#define is_int(want, got, ...)                                                 \
    do {                                                                       \
        long long w_ = (long long)(want), g_ = (long long)(got);               \
        if (!ok(w_ == g_, __VA_ARGS__))                                        \
            diag("     wanted: %lld\n       seen: %lld", w_, g_);              \
    } while (0)

#define is_string(want, got, ...)                                              \
    do {                                                                       \
        const char *w_ = (want), *g_ = (got);                                  \
        int eq_ = (w_ && g_) ? strcmp(w_, g_) == 0 : w_ == g_;                 \
        if (!ok(eq_, __VA_ARGS__))                                             \
            diag("     wanted: %s\n       seen: %s", w_ ? w_ : "(null)",       \
                 g_ ? g_ : "(null)");                                          \
    } while (0)

/* ok() on a substring match, showing both on failure */
#define like(hay, needle, ...)                                                 \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (!ok(h_ && n_ && strstr(h_, n_) != NULL, __VA_ARGS__))              \
            diag("     wanted substring: %s\n       in: %s", n_,               \
                 h_ ? h_ : "(null)");                                          \
    } while (0)

static __attribute__((unused)) void skip(const char *reason)
{
    tap_n_++;
    printf("ok %d # skip %s\n", tap_n_, reason);
    fflush(stdout);
}

static __attribute__((unused)) void bail(const char *fmt, ...)
{
    va_list ap;
    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(255);
}

/* Call at the end of main: returns the exit status. */
static __attribute__((unused)) int done_testing(void)
{
    if (tap_planned_ < 0)
        printf("1..%d\n", tap_n_);
    else if (tap_planned_ != tap_n_)
        diag("planned %d tests but ran %d", tap_planned_, tap_n_);
    fflush(stdout);
    return tap_failed_ || (tap_planned_ >= 0 && tap_planned_ != tap_n_);
}

#endif
