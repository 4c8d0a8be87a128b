/* q1.c -- single-threaded TPC-H Q1 shape over bench/gen lineitem, the lower
 * bound for W2.
 *
 *   q1 LINEITEM_CSV
 *
 * Reads the file in 16 MiB chunks and parses each line by hand, relying on
 * the generator's format (header line; prices and rates with exactly two
 * decimals; dates yyyy-mm-dd).  Money is kept in exact integers (cents,
 * and cents x hundredths for the discounted price and the charge), so the
 * sums are exact; the groups (l_returnflag, l_linestatus) live in a
 * 256 x 256 array.  Prints the normalized answer, one line per group in key
 * order:
 *   R FLAG STATUS sum_qty sum_base_price sum_disc_price sum_charge
 *     avg_qty avg_price avg_disc count_order
 * sums with 2 decimals (rounded half away from zero from the exact value),
 * averages with 4.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t count, qty, base; /* base: cents */
    int64_t disc;             /* hundredths */
    int64_t disc_price;       /* cents * hundredths (1e-4) */
    __int128 charge;          /* cents * hundredths * hundredths (1e-6) */
} group;

static group g[256][256];

static const char cutoff[] = "1998-09-02";

static inline int64_t
num(const char **p) /* digits, optional '.dd' -> x100 if frac */
{
    int64_t v = 0;
    const char *s = *p;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    *p = s;
    return v;
}

static inline int64_t cents(const char **p)
{
    int64_t v = num(p) * 100;
    const char *s = *p;
    if (*s == '.') {
        s++;
        v += (s[0] - '0') * 10 + (s[1] - '0');
        s += 2;
    }
    *p = s;
    return v;
}

static void line(const char *s, const char *end)
{
    for (int i = 0; i < 4; i++) { /* orderkey, partkey, suppkey, linenumber */
        s = memchr(s, ',', (size_t)(end - s));
        if (!s)
            return;
        s++;
    }
    int64_t qty = num(&s);
    s++;
    int64_t ext = cents(&s);
    s++;
    int64_t disc = cents(&s);
    s++;
    int64_t tax = cents(&s);
    s++;
    unsigned char rf = (unsigned char)s[0], ls = (unsigned char)s[2];
    s += 4;
    if (end - s < 10 || memcmp(s, cutoff, 10) > 0)
        return;
    group *x = &g[rf][ls];
    x->count++;
    x->qty += qty;
    x->base += ext;
    x->disc += disc;
    int64_t dp = ext * (100 - disc);
    x->disc_price += dp;
    x->charge += (__int128)dp * (100 + tax);
}

/* v / 10^scale rounded half away from zero to 2 decimals */
static void print_fixed2(__int128 v, int scale)
{
    __int128 div = 1;
    for (int i = 2; i < scale; i++)
        div *= 10;
    __int128 q = (v + div / 2) / div; /* hundredths; v >= 0 */
    printf(" %lld.%02lld", (long long)(q / 100), (long long)(q % 100));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: q1 LINEITEM_CSV\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 16 << 20, have = 0;
    char *buf = malloc(cap + 1);
    int header = 1;
    for (;;) {
        size_t n = fread(buf + have, 1, cap - have, f);
        have += n;
        if (have == 0)
            break;
        char *s = buf, *e = buf + have, *nl;
        while ((nl = memchr(s, '\n', (size_t)(e - s)))) {
            if (header)
                header = 0;
            else
                line(s, nl);
            s = nl + 1;
        }
        if (n == 0) { /* last line without '\n' */
            if (s < e && !header)
                line(s, e);
            break;
        }
        have = (size_t)(e - s);
        memmove(buf, s, have);
    }
    fclose(f);
    for (int rf = 0; rf < 256; rf++)
        for (int ls = 0; ls < 256; ls++) {
            group *x = &g[rf][ls];
            if (!x->count)
                continue;
            printf("R %c %c", rf, ls);
            print_fixed2(x->qty * 100, 2);
            print_fixed2(x->base, 2);
            print_fixed2(x->disc_price, 4);
            print_fixed2(x->charge, 6);
            printf(" %.4f %.4f %.4f %lld\n", (double)x->qty / x->count,
                   (double)x->base / 100.0 / x->count,
                   (double)x->disc / 100.0 / x->count, (long long)x->count);
        }
    free(buf);
    return 0;
}
