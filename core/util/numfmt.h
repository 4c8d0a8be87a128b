/*
 * numfmt.h -- numbers as text, the one implementation of Java's
 * Double.toString in ember.
 *
 * Spark prints doubles as Java does ("1.0", "0.001", "1.0E7", "NaN"), and
 * ember prints them in two places that must agree: the op_relational
 * plugin (casts to string, CSV and JSON sinks: plugins/operators/
 * relational/rel_fmt.c) and the driver's show()/explain() text (lua/df/,
 * through core.java_double in lua/lmodules.c).  Plugins link nothing of
 * ember's (-Wl,-z,defs), so this is header-only: every function is static
 * inline and writes by hand into the caller's buffer, without a NUL.
 *
 * Threads: pure functions.
 */
#ifndef EMBER_UTIL_NUMFMT_H
#define EMBER_UTIL_NUMFMT_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* room enough for any text below */
#define NUMFMT_MAX 48

/* Decimal digits of v with a '-' for negatives; returns the length. */
static inline size_t numfmt_i64(int64_t v, char *o)
{
    char t[24];
    int n = 0;
    size_t k = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        t[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        o[k++] = '-';
    while (n)
        o[k++] = t[--n];
    return k;
}

/* Java's Double.toString: the shortest digits that read back as d, plain
 * for 1e-3 <= |d| < 1e7 ("1.0", "0.001", "9999999.999999998"), else
 * scientific with one digit before the point ("1.0E7", "1.0E-4",
 * "4.9E-324"); "NaN", "Infinity", "-Infinity", "-0.0".  Returns the
 * length (at most NUMFMT_MAX). */
static inline size_t numfmt_java_double(double d, char *o)
{
    char tmp[40], dig[24];
    int nd = 0, exp, prec;
    size_t k = 0;
    if (isnan(d)) {
        memcpy(o, "NaN", 3);
        return 3;
    }
    if (isinf(d)) {
        if (d < 0) {
            memcpy(o, "-Infinity", 9);
            return 9;
        }
        memcpy(o, "Infinity", 8);
        return 8;
    }
    if (d == 0) {
        if (signbit(d)) {
            memcpy(o, "-0.0", 4);
            return 4;
        }
        memcpy(o, "0.0", 3);
        return 3;
    }
    /* fast path for plain notation: the fewest decimals k such that
     * round(|d| * 10^k) / 10^k reads back as |d|, while that needs at
     * most 15 digits (so the product's rounding cannot mislead us) */
    if (fabs(d) >= 1e-3 && fabs(d) < 1e7) {
        static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                     1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                     1e14, 1e15, 1e16, 1e17, 1e18};
        double ad = fabs(d);
        for (int dec = 0; dec <= 18; dec++) {
            double x = ad * p10[dec];
            uint64_t m;
            if (x >= 1e15)
                break;
            m = (uint64_t)(x + 0.5);
            if ((double)m / p10[dec] == ad) {
                char t[24];
                int n = 0;
                if (d < 0)
                    o[k++] = '-';
                do {
                    t[n++] = (char)('0' + m % 10);
                    m /= 10;
                } while (m);
                if (n <= dec) {
                    o[k++] = '0';
                    o[k++] = '.';
                    for (int i = 0; i < dec - n; i++)
                        o[k++] = '0';
                    while (n)
                        o[k++] = t[--n];
                } else {
                    while (n > dec)
                        o[k++] = t[--n];
                    o[k++] = '.';
                    if (dec == 0)
                        o[k++] = '0';
                    while (n)
                        o[k++] = t[--n];
                }
                return k;
            }
        }
    }
    /* a 15-digit rendering that reads back is the shortest once its
     * trailing zeros go (DBL_DIG); otherwise 16 or 17 digits are needed.
     * Subnormals carry fewer bits: search up from two digits (Java always
     * shows one digit after the point). */
    for (prec = fabs(d) < DBL_MIN ? 2 : 15;; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    {
        const char *p = tmp;
        if (*p == '-') {
            o[k++] = '-';
            p++;
        }
        for (; *p != 'e'; p++)
            if (*p != '.')
                dig[nd++] = *p;
        exp = atoi(p + 1);
    }
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    if (exp >= -3 && exp < 7) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++)
                o[k++] = i < nd ? dig[i] : '0';
            o[k++] = '.';
            if (nd > exp + 1)
                for (int i = exp + 1; i < nd; i++)
                    o[k++] = dig[i];
            else
                o[k++] = '0';
        } else {
            o[k++] = '0';
            o[k++] = '.';
            for (int i = 0; i < -exp - 1; i++)
                o[k++] = '0';
            for (int i = 0; i < nd; i++)
                o[k++] = dig[i];
        }
    } else {
        o[k++] = dig[0];
        o[k++] = '.';
        if (nd > 1)
            for (int i = 1; i < nd; i++)
                o[k++] = dig[i];
        else
            o[k++] = '0';
        o[k++] = 'E';
        k += numfmt_i64(exp, o + k);
    }
    return k;
}

#endif
