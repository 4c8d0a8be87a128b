/*
 * rel_fmt.c -- values as text, shared by the operators that print them
 * (write.c's CSV/JSON sinks, expr.c's casts to string): integers, doubles
 * as Java's Double.toString (what Spark prints), dates and timestamps as
 * Spark casts them to strings.  Formatting is by hand into the caller's
 * buffer, without NUL terminator (see rel.h).
 *
 * Threads: pure functions.
 */
#include "rel.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

size_t rel_fmt_i64(int64_t v, char *o)
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

size_t rel_fmt_double(double d, char *o)
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
        k += rel_fmt_i64(exp, o + k);
    }
    return k;
}

static inline void two(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

size_t rel_fmt_date(int64_t days, char *o)
{
    int64_t y;
    int m, d;
    size_t k = 0;
    rel_civil_from_days(days, &y, &m, &d);
    if (y < 0 && y > -10000) { /* at least four digits after the sign */
        o[k++] = '-';
        y = -y;
    }
    if (y >= 0 && y <= 9999) {
        two(o + k, (int)(y / 100));
        two(o + k + 2, (int)(y % 100));
        k += 4;
    } else {
        k = rel_fmt_i64(y, o);
    }
    o[k++] = '-';
    two(o + k, m);
    k += 2;
    o[k++] = '-';
    two(o + k, d);
    return k + 2;
}

size_t rel_fmt_ts(int64_t us, char *o)
{
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    int64_t secs;
    int frac;
    size_t k;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
    secs = rem / 1000000;
    frac = (int)(rem % 1000000);
    k = rel_fmt_date(days, o);
    o[k++] = ' ';
    two(o + k, (int)(secs / 3600));
    o[k + 2] = ':';
    two(o + k + 3, (int)(secs / 60 % 60));
    o[k + 5] = ':';
    two(o + k + 6, (int)(secs % 60));
    k += 8;
    if (frac) {
        int nd = 6;
        o[k++] = '.';
        while (frac % 10 == 0) {
            frac /= 10;
            nd--;
        }
        for (int i = nd - 1; i >= 0; i--) {
            o[k + (size_t)i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        k += (size_t)nd;
    }
    return k;
}
