/*
 * rel_fmt.c -- values as text, shared by the operators that print them
 * (write.c's CSV/JSON sinks, expr.c's casts to string): integers, doubles
 * as Java's Double.toString (what Spark prints), dates and timestamps as
 * Spark casts them to strings.  Formatting is by hand into the caller's
 * buffer, without NUL terminator (see rel.h).  Integers and doubles are
 * core/util/numfmt.h's, header-only, so the driver's show() prints the
 * same digits (the plugin links nothing of ember's).
 *
 * Threads: pure functions.
 */
#include "rel.h"

#include "util/numfmt.h"

size_t rel_fmt_i64(int64_t v, char *o)
{
    return numfmt_i64(v, o);
}

size_t rel_fmt_double(double d, char *o)
{
    return numfmt_java_double(d, o);
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
