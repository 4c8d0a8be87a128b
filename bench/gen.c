/* gen.c -- deterministic, seeded data generator for the ember benchmarks.
 *
 *   gen [--seed N] text SIZE_MB OUT      Zipf-like text corpus, ~80-char lines
 *   gen [--seed N] lineitem ROWS OUT     TPC-H-shaped lineitem CSV (header)
 *   gen [--seed N] orders ROWS OUT       TPC-H-shaped orders CSV (header)
 *   gen [--seed N] sort RECORDS OUT      100-byte TeraSort-shaped records
 *   gen [--seed N] points N OUT          2-D points around 5 centres (CSV
 * "x,y")
 *
 * Owns: nothing global but the output buffer.  Everything derives from one
 * 64-bit seed through splitmix64/xoshiro256**, so the same seed gives the same
 * bytes on every machine (no floating point reaches the output except through
 * integer cent arithmetic).  Single-threaded; writes through a 4 MiB buffer.
 *
 * text: 100,000 distinct lowercase words (ranks 1..100000, shorter words at
 *   lower ranks, as in natural language), drawn with probability ~ 1/rank
 *   through a Walker alias table.  Words are separated by one space; a line
 * ends before it would pass 80 characters. lineitem/orders: order keys 1..N;
 * order k has 1..7 line items.  Everything about order k comes from an RNG
 * seeded by (seed, k), so the two files agree: lineitem stops after ROWS rows
 * (about ROWS/4 orders), orders writes ROWS orders.  o_totalprice is the sum of
 * extendedprice*(1+tax)*(1-disc) of the order's items, o_orderstatus F/O/P from
 * the items' linestatus. sort: key = 10 random characters from [0-9A-Za-z],
 * then ' ', the record number as 32 hex digits, ' ', 55 filler letters, '\n'.
 * points: header "x,y", then N lines "x,y" with 3 decimals, both in
 *   [5, 95]: each point picks one of 5 seeded centres (in [15, 85]^2) and
 *   adds, per coordinate, the sum of 4 uniform offsets in [-2.5, 2.5]
 *   (roughly normal, sd ~2.9).  Integer thousandths throughout, so the
 *   bytes are exact.  For k-means (W5); the first 5 points are the
 *   initial centroids.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- rng */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t s[4];
} rng;

static void rng_seed(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

/* uniform in [0, n) (multiply-shift; bias is negligible for our n) */
static inline uint64_t rng_below(rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* ---------------------------------------------------------------- output */

static FILE *out;
static char obuf[1 << 22];
static size_t olen;

static void flush_out(void)
{
    if (olen && fwrite(obuf, 1, olen, out) != olen) {
        perror("gen: write");
        exit(1);
    }
    olen = 0;
}

static inline void need(size_t n)
{
    if (olen + n > sizeof obuf)
        flush_out();
}

static inline void put(const char *s, size_t n)
{
    need(n);
    memcpy(obuf + olen, s, n);
    olen += n;
}

static inline void put_u64(uint64_t v)
{
    char tmp[24];
    int i = 24;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(tmp + i, (size_t)(24 - i));
}

/* cents as d.dd */
static inline void put_cents(uint64_t c)
{
    put_u64(c / 100);
    char t[3] = {'.', (char)('0' + c / 10 % 10), (char)('0' + c % 10)};
    put(t, 3);
}

/* ---------------------------------------------------------------- text */

#define NWORDS 100000

static char *words[NWORDS];
static uint8_t wlen[NWORDS];

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static void make_words(rng *r)
{
    size_t cap = 1 << 18; /* open addressing set of word hashes */
    uint32_t *set = calloc(cap, sizeof *set);
    if (!set)
        abort();
    for (int i = 0; i < NWORDS; i++) {
        /* length grows with log(rank): rank 1 ~ 2-3 letters, rank 1e5 ~ 7-11 */
        int base = 2 + (int)(log10((double)(i + 1)) * 1.2);
        for (;;) {
            int len = base + (int)rng_below(r, 4);
            char w[32];
            for (int j = 0; j < len; j++)
                w[j] = (char)('a' + rng_below(r, 26));
            uint64_t h = hash_str(w, (size_t)len);
            size_t p = h & (cap - 1);
            int dup = 0;
            while (set[p]) {
                uint32_t k = set[p] - 1;
                if (wlen[k] == len && memcmp(words[k], w, (size_t)len) == 0) {
                    dup = 1;
                    break;
                }
                p = (p + 1) & (cap - 1);
            }
            if (dup)
                continue;
            words[i] = malloc((size_t)len + 1);
            memcpy(words[i], w, (size_t)len);
            words[i][len] = ' ';
            wlen[i] = (uint8_t)len;
            set[p] = (uint32_t)i + 1;
            break;
        }
    }
    free(set);
}

static void gen_text(uint64_t seed, uint64_t size_mb)
{
    rng r;
    rng_seed(&r, seed ^ 0x7465787400000000ULL);
    make_words(&r);
    /* Walker/Vose alias table for p(rank) ~ 1/rank: one draw picks a column
     * (high bits) and a 32-bit threshold (low bits).  800 KB, cache-friendly.
     */
    double hsum = 0;
    for (int i = 0; i < NWORDS; i++)
        hsum += 1.0 / (i + 1);
    static double pr[NWORDS];
    static uint32_t thr[NWORDS], alias[NWORDS];
    static int small[NWORDS], large[NWORDS];
    int ns = 0, nl = 0;
    for (int i = 0; i < NWORDS; i++) {
        pr[i] = NWORDS / (hsum * (i + 1));
        if (pr[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        int s = small[--ns], l = large[nl - 1];
        thr[s] = (uint32_t)(pr[s] * 4294967295.0);
        alias[s] = (uint32_t)l;
        pr[l] -= 1.0 - pr[s];
        if (pr[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl) {
        int l = large[--nl];
        thr[l] = UINT32_MAX;
        alias[l] = (uint32_t)l;
    }
    while (ns) {
        int l = small[--ns];
        thr[l] = UINT32_MAX;
        alias[l] = (uint32_t)l;
    }
    /* words packed in 16-byte slots */
    char(*wp)[16] = malloc(sizeof(char[16]) * NWORDS);
    for (int i = 0; i < NWORDS; i++)
        memcpy(wp[i], words[i], (size_t)wlen[i] + 1);
    uint64_t target = size_mb * 1000000ULL, written = 0;
    char line[128 + 16];
    while (written < target) {
        size_t n = 0;
        for (;;) {
            uint64_t x = rng_next(&r);
            uint32_t k = (uint32_t)(((x >> 32) * NWORDS) >> 32);
            if ((uint32_t)x > thr[k])
                k = alias[k];
            size_t l = wlen[k];
            if (n && n + 1 + l > 80)
                break;
            memcpy(line + n, wp[k], 16); /* word + ' ' */
            n += l + 1;
        }
        line[n - 1] = '\n'; /* replace the trailing space */
        put(line, n);
        written += n;
    }
    free(wp);
}

/* ---------------------------------------------------------------- tpc-h */

/* day number 0 = 1992-01-01 .. ; dates as strings, precomputed */
#define NDAYS (7 * 366 + 200)
static char datestr[NDAYS][16];

static void make_dates(void)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    int y = 1992, m = 0, d = 1;
    for (int i = 0; i < NDAYS; i++) {
        snprintf(datestr[i], sizeof datestr[i], "%04d-%02d-%02d", y % 10000,
                 (m + 1) % 100, d % 100);
        int ml = mdays[m] + (m == 1 && y % 4 == 0 ? 1 : 0);
        if (++d > ml) {
            d = 1;
            if (++m == 12) {
                m = 0;
                y++;
            }
        }
    }
}

#define CURRENTDATE 1263    /* 1995-06-17 = day 1263 from 1992-01-01 */
#define ORDERDATE_SPAN 2405 /* 1992-01-01 .. 1998-08-02 */

typedef struct {
    uint64_t key, custkey, totalcents;
    int orderdate, nitems, nF, nO;
} order;

static uint64_t partprice_cents(uint64_t partkey)
{
    /* TPC-H retail price formula, in cents */
    return 90000 + (partkey / 10) % 20001 + 100 * (partkey % 1000);
}

/* Generates order k; if li is non-NULL, writes its lineitems (at most
 * *budget rows, decremented). */
static void make_order(uint64_t seed, uint64_t k, order *o, uint64_t *budget,
                       int write_li)
{
    rng r;
    rng_seed(&r, seed ^ (k * 0xd6e8feb86659fd93ULL) ^ 0x6f72646572000000ULL);
    o->key = k;
    o->custkey = 1 + rng_below(&r, 150000);
    o->orderdate = (int)rng_below(&r, ORDERDATE_SPAN - 151);
    o->nitems = 1 + (int)rng_below(&r, 7);
    o->nF = o->nO = 0;
    o->totalcents = 0;
    for (int i = 1; i <= o->nitems; i++) {
        uint64_t partkey = 1 + rng_below(&r, 200000);
        uint64_t suppkey = 1 + rng_below(&r, 10000);
        uint64_t qty = 1 + rng_below(&r, 50);
        uint64_t disc = rng_below(&r, 11); /* hundredths */
        uint64_t tax = rng_below(&r, 9);
        int ship = o->orderdate + 1 + (int)rng_below(&r, 121);
        int receipt = ship + 1 + (int)rng_below(&r, 30);
        uint64_t ext = qty * partprice_cents(partkey);
        char rf = receipt <= CURRENTDATE ? (rng_below(&r, 2) ? 'R' : 'A') : 'N';
        char ls = ship > CURRENTDATE ? 'O' : 'F';
        if (ls == 'F')
            o->nF++;
        else
            o->nO++;
        o->totalcents += ext * (100 + tax) * (100 - disc) / 10000;
        if (write_li && *budget) {
            (*budget)--;
            put_u64(k);
            put(",", 1);
            put_u64(partkey);
            put(",", 1);
            put_u64(suppkey);
            put(",", 1);
            put_u64((uint64_t)i);
            put(",", 1);
            put_u64(qty);
            put(",", 1);
            put_cents(ext);
            char t[32];
            int n = snprintf(t, sizeof t, ",0.%02u,0.%02u,%c,%c,",
                             (unsigned)disc, (unsigned)tax, rf, ls);
            put(t, (size_t)n);
            put(datestr[ship], 10);
            put("\n", 1);
        }
    }
}

static void gen_lineitem(uint64_t seed, uint64_t rows)
{
    make_dates();
    static const char hdr[] =
        "l_orderkey,l_partkey,l_suppkey,l_linenumber,l_quantity,"
        "l_extendedprice,l_discount,l_tax,l_returnflag,"
        "l_linestatus,l_shipdate\n";
    put(hdr, sizeof hdr - 1);
    uint64_t budget = rows;
    order o;
    for (uint64_t k = 1; budget; k++)
        make_order(seed, k, &o, &budget, 1);
}

static void gen_orders(uint64_t seed, uint64_t rows)
{
    make_dates();
    static const char hdr[] =
        "o_orderkey,o_custkey,o_orderstatus,o_totalprice,o_orderdate\n";
    put(hdr, sizeof hdr - 1);
    order o;
    for (uint64_t k = 1; k <= rows; k++) {
        make_order(seed, k, &o, NULL, 0);
        put_u64(k);
        put(",", 1);
        put_u64(o.custkey);
        char st = o.nO == 0 ? 'F' : o.nF == 0 ? 'O' : 'P';
        char t[4] = {',', st, ',', 0};
        put(t, 3);
        put_cents(o.totalcents);
        put(",", 1);
        put(datestr[o.orderdate], 10);
        put("\n", 1);
    }
}

/* ---------------------------------------------------------------- sort */

static void gen_sort(uint64_t seed, uint64_t records)
{
    static const char alpha[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static const char hex[] = "0123456789ABCDEF";
    rng r;
    rng_seed(&r, seed ^ 0x736f727400000000ULL);
    char rec[100];
    for (uint64_t i = 0; i < records; i++) {
        uint64_t x = rng_next(&r), y = rng_next(&r);
        /* 10 chars of base 62 from two 64-bit draws (5 each, 6 bits apart) */
        for (int j = 0; j < 5; j++) {
            rec[j] = alpha[((x >> (j * 12)) & 0xfff) % 62];
            rec[5 + j] = alpha[((y >> (j * 12)) & 0xfff) % 62];
        }
        rec[10] = ' ';
        for (int j = 0; j < 32; j++)
            rec[11 + 31 - j] = j < 16 ? hex[(i >> (4 * j)) & 0xf] : '0';
        rec[43] = ' ';
        for (int j = 0; j < 55; j++)
            rec[44 + j] = (char)('A' + (i + (uint64_t)j) % 26);
        rec[99] = '\n';
        put(rec, 100);
    }
}

/* ---------------------------------------------------------------- points */

static void put_milli(uint64_t m)
{
    put_u64(m / 1000);
    char t[4] = {'.', (char)('0' + m / 100 % 10), (char)('0' + m / 10 % 10),
                 (char)('0' + m % 10)};
    put(t, 4);
}

static void gen_points(uint64_t seed, uint64_t n)
{
    rng r;
    rng_seed(&r, seed ^ 0x706f696e74730000ULL);
    uint64_t cx[5], cy[5];
    for (int i = 0; i < 5; i++) {
        cx[i] = 15000 + rng_below(&r, 70001);
        cy[i] = 15000 + rng_below(&r, 70001);
    }
    static const char hdr[] = "x,y\n";
    put(hdr, sizeof hdr - 1);
    for (uint64_t i = 0; i < n; i++) {
        int c = (int)rng_below(&r, 5);
        int64_t dx = 0, dy = 0;
        for (int j = 0; j < 4; j++) {
            dx += (int64_t)rng_below(&r, 5001) - 2500;
            dy += (int64_t)rng_below(&r, 5001) - 2500;
        }
        put_milli((uint64_t)((int64_t)cx[c] + dx));
        put(",", 1);
        put_milli((uint64_t)((int64_t)cy[c] + dy));
        put("\n", 1);
    }
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr, "usage: gen [--seed N] text SIZE_MB OUT\n"
                    "       gen [--seed N] lineitem ROWS OUT\n"
                    "       gen [--seed N] orders ROWS OUT\n"
                    "       gen [--seed N] sort RECORDS OUT\n"
                    "       gen [--seed N] points N OUT\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t seed = 42;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--seed") == 0) {
        seed = strtoull(argv[a + 1], NULL, 0);
        a += 2;
    }
    if (argc - a != 3)
        usage();
    const char *kind = argv[a];
    char *end;
    errno = 0;
    uint64_t n = strtoull(argv[a + 1], &end, 10);
    if (errno || *end || end == argv[a + 1])
        usage();
    const char *path = argv[a + 2];
    out = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!out) {
        perror(path);
        return 1;
    }
    if (strcmp(kind, "text") == 0)
        gen_text(seed, n);
    else if (strcmp(kind, "lineitem") == 0)
        gen_lineitem(seed, n);
    else if (strcmp(kind, "orders") == 0)
        gen_orders(seed, n);
    else if (strcmp(kind, "sort") == 0)
        gen_sort(seed, n);
    else if (strcmp(kind, "points") == 0)
        gen_points(seed, n);
    else
        usage();
    flush_out();
    if (fclose(out) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}
