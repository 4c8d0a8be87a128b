/*
 * sort.c -- rel.sort: a stable multi-key sort of all input rows, with an
 * optional limit (top-N) and spilling to sorted run files under memory
 * pressure.
 *
 *   rel.sort  transform
 *     keys   string  required  ((I asc|desc nulls_first|nulls_last) ...)
 *     limit  int     -1        when >= 0, only the first `limit` rows
 *
 * How it works.  push() appends each input batch to one growable rel_col
 * per column (the buffer), accounting the bytes with ti->mem_acquire.  A
 * sort builds a permutation: rows whose first key is null are set aside
 * (their place is fixed by nulls_first/nulls_last), the others get an
 * order-preserving 64-bit key (integers with the sign bit flipped, doubles
 * in IEEE total order with -0.0 folded into 0.0 and NaN canonical so it
 * sorts last, strings as their first 8 bytes big-endian, all bits inverted
 * for desc) and are LSD-radix-sorted on it, which is stable.  Runs of equal
 * 64-bit keys that need more (further keys, or string keys longer than the
 * prefix) are merge-sorted with a comparator over the keys; the null group
 * likewise over keys 2..n.  The columns are then gathered once, 8192 rows
 * at a time, and emitted.
 *
 * Top-N: with a limit, the buffer is cut back to its first `limit` sorted
 * rows whenever it holds more than 2 * limit + 16384 rows; earlier rows
 * keep lower indices, so stability survives the cut.
 *
 * Spilling: when mem_acquire refuses, the buffer is sorted and written to a
 * run file (format below), its memory freed and released, and input goes
 * on.  Run files are the host's spill files when it offers them
 * (rel_spill.c: private, and encrypted with io.encryption.enabled), else
 * files of our own in ti->local_dir.  finish() merges the runs and the
 * in-memory rows with a heap over cursors that read runs one chunk (<= 8192
 * rows) at a time; on equal keys the earlier source wins, which keeps the sort
 * stable.  More than MAX_FANIN sources are first merged MAX_FANIN at a time
 * into new runs.  Run files are removed in close(), whatever happened.
 *
 * Run file: "EMBSRT01", int32 ncols, int32 type per column; then chunks:
 * int64 rows (0 ends the file), and per column: uint8 has_validity,
 * [(rows + 7) / 8 validity bytes], then for strings (rows + 1) int32
 * offsets from 0 and the bytes, for fixed-width types rows * width bytes,
 * nothing for the NULL type.  Native byte order: runs never leave the task.
 *
 * Threads: an instance is used by one task thread at a time.
 */
#include "rel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_ROWS 8192
#define ROW_OVERHEAD 40 /* key + index + scratch per row while sorting */
#define MAX_FANIN 64
#define ROW_CAP ((int64_t)INT32_MAX / 2)
#define RUN_MAGIC "EMBSRT01"

/* ------------------------------------------------------------ state */

typedef struct skey {
    int col;
    int desc;
    int nulls_first;
} skey;

typedef struct sorter {
    skey *keys;
    int nkeys;
    int64_t limit; /* -1: all rows */
    /* memory accounting and spilling (from ember_task_info) */
    char *dir;
    int (*acquire)(void *ctx, int64_t bytes);
    void (*counter)(void *ctx, const char *name, int64_t delta);
    void (*release)(void *ctx, int64_t bytes);
    void *ctx;
    int64_t held; /* bytes acquired and not released */
    /* schema, from the first batch */
    int have_schema;
    int ncols;
    char **names;
    ember_type *types;
    rel_col *buf; /* buffered rows */
    rel_col *out; /* output chunk being built */
    int64_t n;    /* rows in buf */
    /* run files, oldest first */
    rel_spill *runs;
    int nruns;
    const ember_task_info *ti; /* spill files */
    int finished;
} sorter;

static const ember_param_desc sort_params[] = {
    {"keys", EMBER_PARAM_STRING, NULL,
     "sort keys: ((I asc|desc nulls_first|nulls_last) ...), I a column "
     "index"},
    {"limit", EMBER_PARAM_INT, "-1",
     "when >= 0, only the first `limit` rows of the sorted output"},
};

/* ------------------------------------------------------ comparisons */

typedef struct cmpctx {
    const skey *keys;
    int from, nkeys;
    const ember_column *va, *vb;
} cmpctx;

/* Compare row a of columns va with row b of columns vb on keys
 * [from, nkeys). */
static int cmp_keys(const cmpctx *x, int64_t a, int64_t b)
{
    for (int k = x->from; k < x->nkeys; k++) {
        const skey *key = &x->keys[k];
        const ember_column *ca = &x->va[key->col], *cb = &x->vb[key->col];
        int na = rel_isnull(ca, a), nb = rel_isnull(cb, b), r;
        if (na || nb) {
            if (na && nb)
                continue;
            return (na ? -1 : 1) * (key->nulls_first ? 1 : -1);
        }
        r = rel_cmp_value(ca, a, cb, b);
        if (r)
            return key->desc ? -r : r;
    }
    return 0;
}

/* Stable merge sort of row indices. */
static void msort(int32_t *a, int32_t *tmp, size_t n, const cmpctx *x)
{
    size_t h, i, j, k;
    if (n <= 12) {
        for (i = 1; i < n; i++) {
            int32_t v = a[i];
            for (j = i; j > 0 && cmp_keys(x, a[j - 1], v) > 0; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    h = n / 2;
    msort(a, tmp, h, x);
    msort(a + h, tmp, n - h, x);
    if (cmp_keys(x, a[h - 1], a[h]) <= 0)
        return;
    memcpy(tmp, a, h * sizeof *a);
    i = 0;
    j = h;
    k = 0;
    while (i < h && j < n)
        a[k++] = cmp_keys(x, tmp[i], a[j]) <= 0 ? tmp[i++] : a[j++];
    while (i < h)
        a[k++] = tmp[i++];
}

/* ------------------------------------------------ normalized keys, radix */

typedef struct kv {
    uint64_t k;
    int32_t i;
} kv;

static inline uint64_t str_prefix(const uint8_t *p, size_t len)
{
    uint64_t k = 0;
    if (len >= 8) {
        memcpy(&k, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        k = __builtin_bswap64(k);
#endif
        return k;
    }
    for (size_t j = 0; j < len; j++)
        k |= (uint64_t)p[j] << (56 - 8 * j);
    return k;
}

static inline uint64_t f64_key(double d)
{
    uint64_t u;
    if (d == 0)
        d = 0; /* -0.0 -> 0.0 */
    memcpy(&u, &d, 8);
    if (d != d)
        u = 0x7ff8000000000000ULL; /* one NaN, above +inf */
    return (u >> 63) ? ~u : u ^ 0x8000000000000000ULL;
}

#define SIGN64 0x8000000000000000ULL

/* Split rows [0, n) of c into non-null rows with their normalized key
 * (a[0..*na)) and null rows (nulls[0..*nn)), both in row order. */
static void make_keys(const ember_column *c, int64_t n, kv *a, size_t *na,
                      int32_t *nulls, size_t *nn)
{
    size_t x = 0, y = 0;
    const uint8_t *vb = c->validity;
#define ROWLOOP(expr)                                                          \
    for (int64_t i = 0; i < n; i++) {                                          \
        if (vb && !((vb[i >> 3] >> (i & 7)) & 1)) {                            \
            nulls[y++] = (int32_t)i;                                           \
        } else {                                                               \
            a[x].k = (expr);                                                   \
            a[x++].i = (int32_t)i;                                             \
        }                                                                      \
    }
    switch (c->type) {
    case EMBER_TYPE_NULL:
        for (int64_t i = 0; i < n; i++)
            nulls[y++] = (int32_t)i;
        break;
    case EMBER_TYPE_BOOL: {
        const uint8_t *d = c->data;
        ROWLOOP((uint64_t)(d[i] != 0))
        break;
    }
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32: {
        const int32_t *d = c->data;
        ROWLOOP((uint64_t)(int64_t)d[i] ^ SIGN64)
        break;
    }
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP: {
        const int64_t *d = c->data;
        ROWLOOP((uint64_t)d[i] ^ SIGN64)
        break;
    }
    case EMBER_TYPE_DOUBLE: {
        const double *d = c->data;
        ROWLOOP(f64_key(d[i]))
        break;
    }
    default: {
        const uint8_t *d = c->data;
        const int32_t *o = c->offsets;
        ROWLOOP(str_prefix(d + o[i], (size_t)(o[i + 1] - o[i])))
        break;
    }
    }
#undef ROWLOOP
    *na = x;
    *nn = y;
}

/* LSD radix sort on kv.k (stable); skips digits that are all equal. */
static void radix_sort(kv *a, kv *tmp, size_t n)
{
    size_t(*cnt)[256];
    kv *src = a, *dst = tmp;
    if (n < 2)
        return;
    cnt = calloc(8, sizeof *cnt);
    if (!cnt) { /* cannot happen in practice: fall back to insertion */
        for (size_t i = 1; i < n; i++) {
            kv v = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1].k > v.k; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = a[i].k;
        for (int d = 0; d < 8; d++)
            cnt[d][(k >> (8 * d)) & 255]++;
    }
    for (int d = 0; d < 8; d++) {
        size_t sum = 0;
        int sh = 8 * d;
        kv *t;
        if (cnt[d][(a[0].k >> sh) & 255] == n)
            continue;
        for (int b = 0; b < 256; b++) {
            size_t c = cnt[d][b];
            cnt[d][b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[d][(src[i].k >> sh) & 255]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    free(cnt);
}

/* Sort the n rows of cols: *perm receives the row order (caller frees). */
static int sort_rows(const sorter *s, const rel_col *cols, int64_t n,
                     int32_t **perm_out, ember_error *err)
{
    ember_column *v = calloc((size_t)s->ncols, sizeof *v);
    int32_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    int32_t *nulls = NULL, *tmp = NULL;
    kv *a = NULL, *at = NULL;
    size_t na = 0, nn = 0;
    const skey *k0 = &s->keys[0];
    const ember_column *c0;
    cmpctx x;
    int rc = 0;

    if (!v || !perm)
        goto oom;
    for (int c = 0; c < s->ncols; c++)
        relcol_view(&cols[c], &v[c]);
    c0 = &v[k0->col];
    a = malloc((size_t)(n ? n : 1) * sizeof *a);
    at = malloc((size_t)(n ? n : 1) * sizeof *at);
    nulls = malloc((size_t)(n ? n : 1) * sizeof *nulls);
    tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!a || !at || !nulls || !tmp)
        goto oom;
    make_keys(c0, n, a, &na, nulls, &nn);
    if (k0->desc)
        for (size_t i = 0; i < na; i++)
            a[i].k = ~a[i].k;
    radix_sort(a, at, na);
    free(at);
    at = NULL;

    x.keys = s->keys;
    x.nkeys = s->nkeys;
    x.va = x.vb = v;
    {
        int32_t *pn = perm + (k0->nulls_first ? 0 : na);
        int32_t *pv = perm + (k0->nulls_first ? nn : 0);
        int need_ties = s->nkeys > 1 || rel_type_varwidth(c0->type);
        memcpy(pn, nulls, nn * sizeof *pn);
        for (size_t i = 0; i < na; i++)
            pv[i] = a[i].i;
        if (nn > 1 && s->nkeys > 1) {
            x.from = 1;
            msort(pn, tmp, nn, &x);
        }
        /* runs of equal normalized keys */
        x.from = rel_type_varwidth(c0->type) ? 0 : 1;
        for (size_t i = 0; need_ties && i < na;) {
            size_t j = i + 1;
            while (j < na && a[j].k == a[i].k)
                j++;
            if (j - i > 1)
                msort(pv + i, tmp, j - i, &x);
            i = j;
        }
    }
    *perm_out = perm;
    perm = NULL;
    goto done;
oom:
    rc = EMBER_ENOMEM;
    rel_host->seterr(err, rc, "rel.sort: out of memory sorting %lld rows",
                     (long long)n);
done:
    free(v);
    free(perm);
    free(a);
    free(at);
    free(nulls);
    free(tmp);
    return rc;
}

/* ----------------------------------------------------- buffering input */

/* Grow c's validity bitmap to cover `rows` rows; new bytes all valid. */
static int valid_reserve(rel_col *c, int64_t rows)
{
    size_t need = (size_t)((rows + 7) >> 3), nc;
    uint8_t *p;
    if (need <= c->valid_cap)
        return 0;
    nc = c->valid_cap ? c->valid_cap : 64;
    while (nc < need)
        nc *= 2;
    p = realloc(c->valid, nc);
    if (!p)
        return EMBER_ENOMEM;
    memset(p + c->valid_cap, 0xff, nc - c->valid_cap);
    c->valid = p;
    c->valid_cap = nc;
    return 0;
}

/* Append all rows of s (same type) to c with whole-column copies. */
static int append_column(rel_col *c, const ember_column *s)
{
    int64_t m = s->length;
    int rc;
    if (m == 0)
        return 0;
    if (c->type == EMBER_TYPE_NULL) {
        c->n += m;
        c->nulls += m;
        return 0;
    }
    if (rel_type_varwidth(c->type)) {
        size_t bytes = (size_t)(s->offsets[m] - s->offsets[0]);
        int32_t d;
        rc = relcol_reserve(c, m, bytes);
        if (rc)
            return rc;
        if (bytes)
            memcpy(c->data + c->data_len,
                   (const uint8_t *)s->data + s->offsets[0], bytes);
        d = (int32_t)c->data_len - s->offsets[0];
        for (int64_t i = 0; i < m; i++)
            c->off[c->n + 1 + i] = s->offsets[i + 1] + d;
        c->data_len += bytes;
    } else {
        size_t w = (size_t)rel_type_width(c->type);
        rc = relcol_reserve(c, m, 0);
        if (rc)
            return rc;
        memcpy(c->data + (size_t)c->n * w, s->data, (size_t)m * w);
    }
    /* once c has a bitmap it covers every row (rel.c's convention) */
    if ((s->validity || c->valid) && valid_reserve(c, c->n + m))
        return EMBER_ENOMEM;
    if (s->validity) {
        const uint8_t *vb = s->validity;
        for (int64_t i = 0; i < m; i++) {
            int64_t r;
            if (!(i & 7) && i + 8 <= m && vb[i >> 3] == 0xff) {
                i += 7;
                continue;
            }
            if ((vb[i >> 3] >> (i & 7)) & 1)
                continue;
            r = c->n + i;
            c->valid[r >> 3] &= (uint8_t) ~(1u << (r & 7));
            c->nulls++;
        }
    }
    c->n += m;
    return 0;
}

/* Drop rows [rows, n) of c (undoing a partial append). */
static void truncate_col(rel_col *c, int64_t rows)
{
    size_t b;
    if (c->n <= rows)
        return;
    if (rel_type_varwidth(c->type) && c->off)
        c->data_len = (size_t)c->off[rows];
    c->n = rows;
    c->nulls = 0;
    if (c->type == EMBER_TYPE_NULL) {
        c->nulls = rows;
        return;
    }
    if (!c->valid)
        return;
    for (int64_t i = 0; i < rows; i++)
        if (!((c->valid[i >> 3] >> (i & 7)) & 1))
            c->nulls++;
    b = (size_t)(rows >> 3);
    if (b < c->valid_cap) {
        c->valid[b] |= (uint8_t)(0xff << (rows & 7));
        memset(c->valid + b + 1, 0xff, c->valid_cap - b - 1);
    }
}

/* Bytes the buffer holds for these rows (accounting estimate). */
static int64_t batch_estimate(const ember_column *v, int ncols, int64_t m)
{
    int64_t b = m * ROW_OVERHEAD + m / 8 + 1;
    for (int c = 0; c < ncols; c++) {
        if (rel_type_varwidth(v[c].type))
            b += 4 * m + (v[c].offsets[m] - v[c].offsets[0]);
        else
            b += m * rel_type_width(v[c].type);
    }
    return b;
}

static int64_t buffer_estimate(const sorter *s)
{
    int64_t b = s->n * ROW_OVERHEAD;
    for (int c = 0; c < s->ncols; c++)
        b += (int64_t)relcol_bytes(&s->buf[c]);
    return b;
}

static void release_all(sorter *s)
{
    if (s->held > 0 && s->release)
        s->release(s->ctx, s->held);
    s->held = 0;
}

static void free_buffer(sorter *s)
{
    for (int c = 0; c < s->ncols; c++)
        relcol_free(&s->buf[c]);
    s->n = 0;
}

/* --------------------------------------------------------- run files */

/* Write one chunk (the built columns out[0..ncols), m rows). */
static int write_chunk(rel_spill *f, const sorter *s, const rel_col *out,
                       int64_t m, ember_error *err)
{
    int rc = rel_spill_write(f, &m, 8, err);
    for (int c = 0; c < s->ncols && !rc; c++) {
        const rel_col *col = &out[c];
        uint8_t hv = col->nulls > 0 && col->type != EMBER_TYPE_NULL;
        rc = rel_spill_write(f, &hv, 1, err);
        if (!rc && hv)
            rc = rel_spill_write(f, col->valid, (size_t)((m + 7) >> 3), err);
        if (rc)
            break;
        if (rel_type_varwidth(col->type)) {
            static const int32_t zero = 0;
            rc = rel_spill_write(f, col->off ? col->off : &zero,
                                 (size_t)(m + 1) * 4, err);
            if (!rc)
                rc = rel_spill_write(f, col->data, col->data_len, err);
        } else if (col->type != EMBER_TYPE_NULL) {
            rc = rel_spill_write(f, col->data,
                                 (size_t)m * (size_t)rel_type_width(col->type),
                                 err);
        }
    }
    return rc;
}

static int corrupt_run(const rel_spill *f, ember_error *err)
{
    rel_host->seterr(err, EMBER_ECORRUPT, "rel.sort: corrupt spill file%s%s",
                     f->path ? " " : "", f->path ? f->path : "");
    return EMBER_ECORRUPT;
}

static int oom(ember_error *err)
{
    rel_host->seterr(err, EMBER_ENOMEM, "rel.sort: out of memory");
    return EMBER_ENOMEM;
}

/* Read the next chunk into cols; *m = 0 at the end of the run. */
static int read_chunk(rel_spill *f, const sorter *s, rel_col *cols, int64_t *m,
                      ember_error *err)
{
    int64_t n;
    int rc = rel_spill_read(f, &n, 8, err);
    if (rc)
        return rc;
    if (n < 0 || n > OUT_ROWS * 4)
        return corrupt_run(f, err);
    *m = n;
    for (int c = 0; c < s->ncols && n > 0; c++) {
        rel_col *col = &cols[c];
        uint8_t hv;
        relcol_reset(col);
        if ((rc = rel_spill_read(f, &hv, 1, err)))
            return rc;
        if (hv > 1)
            return corrupt_run(f, err);
        if (hv) {
            size_t vb = (size_t)((n + 7) >> 3);
            if (valid_reserve(col, n))
                return oom(err);
            if ((rc = rel_spill_read(f, col->valid, vb, err)))
                return rc;
            if (n & 7)
                col->valid[vb - 1] |= (uint8_t)(0xff << (n & 7));
            for (int64_t i = 0; i < n; i++)
                if (!((col->valid[i >> 3] >> (i & 7)) & 1))
                    col->nulls++;
        }
        if (col->type == EMBER_TYPE_NULL) {
            col->nulls = n;
        } else if (rel_type_varwidth(col->type)) {
            int32_t bytes;
            if (relcol_reserve(col, n, 0))
                return oom(err);
            if ((rc = rel_spill_read(f, col->off, (size_t)(n + 1) * 4, err)))
                return rc;
            if (col->off[0] != 0)
                return corrupt_run(f, err);
            for (int64_t i = 0; i < n; i++)
                if (col->off[i + 1] < col->off[i])
                    return corrupt_run(f, err);
            bytes = col->off[n];
            if (relcol_reserve(col, n, (size_t)bytes))
                return oom(err);
            if ((rc = rel_spill_read(f, col->data, (size_t)bytes, err)))
                return rc;
            col->data_len = (size_t)bytes;
        } else {
            if (relcol_reserve(col, n, 0))
                return oom(err);
            if ((rc = rel_spill_read(
                     f, col->data,
                     (size_t)n * (size_t)rel_type_width(col->type), err)))
                return rc;
        }
        col->n = n;
    }
    return 0;
}

/* Create a new run file and write its header. */
static int run_create(const sorter *s, rel_spill *f, ember_error *err)
{
    int32_t nc = s->ncols;
    int rc = rel_spill_create(f, s->ti, s->dir, "rel.sort", err);
    if (!rc)
        rc = rel_spill_write(f, RUN_MAGIC, 8, err);
    if (!rc)
        rc = rel_spill_write(f, &nc, 4, err);
    for (int c = 0; c < s->ncols && !rc; c++) {
        int32_t t = (int32_t)s->types[c];
        rc = rel_spill_write(f, &t, 4, err);
    }
    if (rc)
        rel_spill_close(f);
    return rc;
}

/* End a run (the 0-row chunk) and finish its file. */
static int run_end(rel_spill *f, ember_error *err)
{
    int64_t end = 0;
    int rc = rel_spill_write(f, &end, 8, err);
    return rc ? rc : rel_spill_finish(f, err);
}

/* Open a run for reading and check its header. */
static int run_open(const sorter *s, rel_spill *f, ember_error *err)
{
    char magic[8];
    int32_t nc;
    int rc = rel_spill_rewind(f, err);
    if (!rc)
        rc = rel_spill_read(f, magic, 8, err);
    if (!rc)
        rc = rel_spill_read(f, &nc, 4, err);
    if (rc)
        return rc;
    if (memcmp(magic, RUN_MAGIC, 8) || nc != s->ncols)
        return corrupt_run(f, err);
    for (int c = 0; c < s->ncols; c++) {
        int32_t t;
        if ((rc = rel_spill_read(f, &t, 4, err)))
            return rc;
        if (t != (int32_t)s->types[c])
            return corrupt_run(f, err);
    }
    return 0;
}

static int add_run(sorter *s, rel_spill *f)
{
    rel_spill *nr = realloc(s->runs, (size_t)(s->nruns + 1) * sizeof *nr);
    if (!nr)
        return EMBER_ENOMEM;
    s->runs = nr;
    s->runs[s->nruns++] = *f;
    memset(f, 0, sizeof *f);
    return 0;
}

/* ------------------------------------------------ producing sorted rows */

/* Where sorted chunks go: emitted downstream or written to a run. */
typedef struct sink {
    rel_spill *f; /* run file, or NULL to emit */
    ember_emit_fn emit;
    void *ud;
} sink;

/* Hand s->out (m rows) to the sink; resets s->out. */
static int sink_chunk(sorter *s, const sink *k, int64_t m, ember_error *err)
{
    int rc;
    if (m == 0)
        return 0;
    if (!k->f)
        return rel_emit(s->out, (const char *const *)s->names, s->ncols,
                        k->emit, k->ud, err);
    rc = write_chunk(k->f, s, s->out, m, err);
    for (int c = 0; c < s->ncols; c++)
        relcol_reset(&s->out[c]);
    return rc;
}

/* Gather rows perm[0..n) of cols to the sink, OUT_ROWS at a time. */
static int gather_sorted(sorter *s, const rel_col *cols, const int32_t *perm,
                         int64_t n, const sink *k, ember_error *err)
{
    ember_column v;
    for (int64_t off = 0; off < n; off += OUT_ROWS) {
        int64_t m = n - off < OUT_ROWS ? n - off : OUT_ROWS;
        int rc;
        for (int c = 0; c < s->ncols; c++) {
            relcol_view(&cols[c], &v);
            if (relcol_gather(&s->out[c], &v, perm + off, m)) {
                rel_host->seterr(err, EMBER_ENOMEM,
                                 "rel.sort: out of memory building output");
                return EMBER_ENOMEM;
            }
        }
        rc = sink_chunk(s, k, m, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int64_t capped(const sorter *s, int64_t n)
{
    return s->limit >= 0 && s->limit < n ? s->limit : n;
}

/* Sort the buffer, write it as a new run, free and release its memory. */
static int spill(sorter *s, ember_error *err)
{
    int32_t *perm = NULL;
    rel_spill f;
    sink k = {NULL, NULL, NULL};
    int rc = sort_rows(s, s->buf, s->n, &perm, err);
    if (rc)
        return rc;
    rc = run_create(s, &f, err);
    if (rc) {
        free(perm);
        return rc;
    }
    k.f = &f;
    rc = gather_sorted(s, s->buf, perm, capped(s, s->n), &k, err);
    free(perm);
    if (!rc)
        rc = run_end(&f, err);
    if (!rc && s->counter && f.bytes > 0)
        s->counter(s->ctx, "spill_bytes", f.bytes);
    if (!rc && add_run(s, &f))
        rc = oom(err);
    if (rc) {
        rel_spill_close(&f);
        return rc;
    }
    free_buffer(s);
    release_all(s);
    return 0;
}

/* Top-N: keep only the first `limit` sorted rows of the buffer. */
static int compact(sorter *s, ember_error *err)
{
    int32_t *perm = NULL;
    rel_col *nb;
    ember_column v;
    int64_t est;
    int rc = sort_rows(s, s->buf, s->n, &perm, err);
    if (rc)
        return rc;
    nb = calloc((size_t)s->ncols, sizeof *nb);
    if (!nb)
        goto oom;
    for (int c = 0; c < s->ncols; c++) {
        relcol_init(&nb[c], s->types[c]);
        relcol_view(&s->buf[c], &v);
        if (relcol_gather(&nb[c], &v, perm, s->limit)) {
            for (int d = 0; d <= c; d++)
                relcol_free(&nb[d]);
            free(nb);
            goto oom;
        }
    }
    free(perm);
    free_buffer(s);
    free(s->buf);
    s->buf = nb;
    s->n = s->limit;
    est = buffer_estimate(s);
    if (est < s->held && s->release) {
        s->release(s->ctx, s->held - est);
        s->held = est;
    }
    return 0;
oom:
    free(perm);
    rel_host->seterr(err, EMBER_ENOMEM, "rel.sort: out of memory");
    return EMBER_ENOMEM;
}

/* ------------------------------------------------------------ merging */

typedef struct cursor {
    rel_spill *f;        /* run; NULL for the in-memory rows */
    rel_col *cols;       /* run: the current chunk */
    ember_column *v;     /* views of cols */
    const int32_t *perm; /* in-memory rows: the order */
    int64_t pos, n;
} cursor;

typedef struct merger {
    sorter *s;
    cursor *cur;
    int ncur;
    int *heap;
    int nheap;
    cmpctx x;
} merger;

static inline int64_t cur_row(const cursor *c)
{
    return c->perm ? c->perm[c->pos] : c->pos;
}

/* Is source a before source b (ties: the older source first)? */
static int before(merger *m, int a, int b)
{
    int r;
    m->x.va = m->cur[a].v;
    m->x.vb = m->cur[b].v;
    r = cmp_keys(&m->x, cur_row(&m->cur[a]), cur_row(&m->cur[b]));
    return r < 0 || (r == 0 && a < b);
}

static void sift_down(merger *m, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, best = i, t;
        if (l < m->nheap && before(m, m->heap[l], m->heap[best]))
            best = l;
        if (r < m->nheap && before(m, m->heap[r], m->heap[best]))
            best = r;
        if (best == i)
            return;
        t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

/* Load the next chunk of a run cursor (n = 0 at its end). */
static int cur_next_chunk(merger *m, cursor *c, ember_error *err)
{
    int rc = read_chunk(c->f, m->s, c->cols, &c->n, err);
    c->pos = 0;
    if (rc)
        return rc;
    for (int k = 0; k < m->s->ncols; k++)
        relcol_view(&c->cols[k], &c->v[k]);
    return 0;
}

static void merger_free(merger *m)
{
    for (int i = 0; i < m->ncur; i++) {
        cursor *c = &m->cur[i];
        if (!c->perm) { /* a run's chunk; the in-memory rows are s->buf */
            for (int k = 0; c->cols && k < m->s->ncols; k++)
                relcol_free(&c->cols[k]);
            free(c->cols);
        }
        free(c->v);
    }
    free(m->cur);
    free(m->heap);
}

/* Merge runs[0..nr) and, when perm, the nmem buffered rows in that order,
 * to the sink; at most `limit` rows (-1: all). */
static int merge(sorter *s, rel_spill *runs, int nr, const int32_t *perm,
                 int64_t nmem, int64_t limit, const sink *k, ember_error *err)
{
    merger m;
    int rc = 0;
    int64_t done = 0, chunk = 0;
    memset(&m, 0, sizeof m);
    m.s = s;
    m.x.keys = s->keys;
    m.x.nkeys = s->nkeys;
    m.cur = calloc((size_t)nr + 1, sizeof *m.cur);
    m.heap = calloc((size_t)nr + 1, sizeof *m.heap);
    if (!m.cur || !m.heap)
        goto oom;
    for (int i = 0; i < nr; i++) {
        cursor *c = &m.cur[m.ncur++];
        c->cols = calloc((size_t)s->ncols, sizeof *c->cols);
        c->v = calloc((size_t)s->ncols, sizeof *c->v);
        if (!c->cols || !c->v)
            goto oom;
        for (int j = 0; j < s->ncols; j++)
            relcol_init(&c->cols[j], s->types[j]);
        c->f = &runs[i];
        rc = run_open(s, c->f, err);
        if (rc)
            goto out;
        rc = cur_next_chunk(&m, c, err);
        if (rc)
            goto out;
        if (c->n > 0)
            m.heap[m.nheap++] = m.ncur - 1;
    }
    if (perm && nmem > 0) {
        cursor *c = &m.cur[m.ncur++];
        c->cols = s->buf;
        c->perm = perm;
        c->n = nmem;
        c->v = calloc((size_t)s->ncols, sizeof *c->v);
        if (!c->v)
            goto oom;
        for (int j = 0; j < s->ncols; j++)
            relcol_view(&s->buf[j], &c->v[j]);
        m.heap[m.nheap++] = m.ncur - 1;
    }
    for (int i = m.nheap / 2 - 1; i >= 0; i--)
        sift_down(&m, i);
    while (m.nheap > 0 && (limit < 0 || done < limit)) {
        cursor *c = &m.cur[m.heap[0]];
        int64_t row = cur_row(c);
        for (int j = 0; j < s->ncols; j++)
            if (relcol_append_from(&s->out[j], &c->v[j], row))
                goto oom;
        done++;
        if (++chunk == OUT_ROWS) {
            rc = sink_chunk(s, k, chunk, err);
            chunk = 0;
            if (rc)
                goto out;
        }
        if (++c->pos == c->n) {
            if (c->f) {
                rc = cur_next_chunk(&m, c, err);
                if (rc)
                    goto out;
            }
            if (c->pos == c->n) {
                m.heap[0] = m.heap[--m.nheap];
                if (m.nheap == 0)
                    break;
            }
        }
        sift_down(&m, 0);
    }
    rc = sink_chunk(s, k, chunk, err);
    goto out;
oom:
    rc = EMBER_ENOMEM;
    rel_host->seterr(err, rc, "rel.sort: out of memory merging runs");
out:
    for (int j = 0; j < s->ncols; j++)
        relcol_reset(&s->out[j]);
    merger_free(&m);
    return rc;
}

/* While there are too many runs to merge at once, merge the oldest
 * MAX_FANIN into one new run (it takes their place: still oldest). */
static int reduce_runs(sorter *s, ember_error *err)
{
    while (s->nruns + 1 > MAX_FANIN) {
        rel_spill f;
        sink k = {NULL, NULL, NULL};
        int rc = run_create(s, &f, err);
        if (rc)
            return rc;
        k.f = &f;
        rc = merge(s, s->runs, MAX_FANIN, NULL, 0, s->limit, &k, err);
        if (!rc)
            rc = run_end(&f, err);
        if (rc) {
            rel_spill_close(&f);
            return rc;
        }
        for (int i = 0; i < MAX_FANIN; i++)
            rel_spill_close(&s->runs[i]);
        s->runs[0] = f;
        memmove(s->runs + 1, s->runs + MAX_FANIN,
                (size_t)(s->nruns - MAX_FANIN) * sizeof *s->runs);
        s->nruns -= MAX_FANIN - 1;
    }
    return 0;
}

/* ------------------------------------------------------ the operator */

static int parse_keys(sorter *s, const char *text, ember_error *err)
{
    rel_sx *x = rel_sx_parse(text, err);
    const char *why = NULL;
    if (!x) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err ? err->msg : "parse error");
        rel_host->seterr(err, EMBER_EINVAL, "rel.sort: parameter keys: %s", m);
        return EMBER_EINVAL;
    }
    if (x->kind != SX_LIST || x->n == 0) {
        why = "expected a non-empty list of (column direction nulls)";
        goto bad;
    }
    s->keys = calloc((size_t)x->n, sizeof *s->keys);
    if (!s->keys) {
        rel_sx_free(x);
        rel_host->seterr(err, EMBER_ENOMEM, "rel.sort: out of memory");
        return EMBER_ENOMEM;
    }
    s->nkeys = x->n;
    for (int i = 0; i < x->n; i++) {
        const rel_sx *it = x->items[i];
        skey *k = &s->keys[i];
        if (it->kind != SX_LIST || it->n < 1 || it->n > 3) {
            why = "each key must be (column [asc|desc] [nulls_first|"
                  "nulls_last])";
            goto bad;
        }
        if (it->items[0]->kind != SX_INT || it->items[0]->i < 0 ||
            it->items[0]->i > 1000000) {
            why = "a key's column must be a column index >= 0";
            goto bad;
        }
        k->col = (int)it->items[0]->i;
        k->desc = 0;
        if (it->n >= 2) {
            if (rel_sx_is(it->items[1], "desc"))
                k->desc = 1;
            else if (!rel_sx_is(it->items[1], "asc")) {
                why = "direction must be asc or desc";
                goto bad;
            }
        }
        k->nulls_first = !k->desc; /* Spark's defaults */
        if (it->n == 3) {
            if (rel_sx_is(it->items[2], "nulls_first"))
                k->nulls_first = 1;
            else if (rel_sx_is(it->items[2], "nulls_last"))
                k->nulls_first = 0;
            else {
                why = "null placement must be nulls_first or nulls_last";
                goto bad;
            }
        }
    }
    rel_sx_free(x);
    return 0;
bad:
    rel_sx_free(x);
    rel_host->seterr(err, EMBER_EINVAL, "rel.sort: parameter keys: %s: %s", why,
                     text);
    return EMBER_EINVAL;
}

static void sort_close(void *state);

static int sort_open(const ember_host *host, const ember_params *p,
                     const ember_task_info *ti, void **state, ember_error *err)
{
    sorter *s = calloc(1, sizeof *s);
    const char *dir = NULL;
    int rc;
    if (!s) {
        host->seterr(err, EMBER_ENOMEM, "rel.sort: out of memory");
        return EMBER_ENOMEM;
    }
    rc = parse_keys(s, host->param_str(p, "keys"), err);
    if (rc) {
        sort_close(s);
        return rc;
    }
    s->limit = host->param_int(p, "limit");
    if (s->limit < -1) {
        host->seterr(err, EMBER_EINVAL,
                     "rel.sort: parameter limit must be >= 0 or -1 (all), "
                     "not %lld",
                     (long long)s->limit);
        sort_close(s);
        return EMBER_EINVAL;
    }
    if (ti && ti->struct_size >=
                  offsetof(ember_task_info, local_dir) + sizeof ti->local_dir)
        dir = ti->local_dir;
    if (ti &&
        ti->struct_size >= offsetof(ember_task_info, ctx) + sizeof ti->ctx &&
        ti->mem_acquire && ti->mem_release) {
        s->acquire = ti->mem_acquire;
        s->release = ti->mem_release;
        s->ctx = ti->ctx;
        s->counter = ti->add_counter; /* spilled bytes, for the task metrics */
    }
    s->ti = ti; /* its spill files, when it offers them (ABI 1.3) */
    s->dir = strdup(dir && *dir ? dir : "/tmp");
    if (!s->dir) {
        host->seterr(err, EMBER_ENOMEM, "rel.sort: out of memory");
        sort_close(s);
        return EMBER_ENOMEM;
    }
    *state = s;
    return 0;
}

static int set_schema(sorter *s, const ember_batch *in, ember_error *err)
{
    int nc = rel_host->batch_num_columns(in);
    for (int k = 0; k < s->nkeys; k++)
        if (s->keys[k].col >= nc) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.sort: key column %d out of range (the input "
                             "has %d columns)",
                             s->keys[k].col, nc);
            return EMBER_EINVAL;
        }
    s->names = calloc((size_t)(nc ? nc : 1), sizeof *s->names);
    s->types = calloc((size_t)(nc ? nc : 1), sizeof *s->types);
    s->buf = calloc((size_t)(nc ? nc : 1), sizeof *s->buf);
    s->out = calloc((size_t)(nc ? nc : 1), sizeof *s->out);
    if (!s->names || !s->types || !s->buf || !s->out)
        goto oom;
    s->ncols = nc;
    for (int c = 0; c < nc; c++) {
        ember_column v;
        const char *name = rel_host->batch_column_name(in, c);
        if (rel_host->batch_column(in, c, &v)) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.sort: cannot read input column %d", c);
            return EMBER_EINVAL;
        }
        s->types[c] = v.type;
        relcol_init(&s->buf[c], v.type);
        relcol_init(&s->out[c], v.type);
        s->names[c] = strdup(name ? name : "");
        if (!s->names[c])
            goto oom;
    }
    s->have_schema = 1;
    return 0;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.sort: out of memory");
    return EMBER_ENOMEM;
}

static int sort_push(void *state, const ember_batch *in, ember_emit_fn emit,
                     void *ud, ember_error *err)
{
    sorter *s = state;
    int64_t m = rel_host->batch_num_rows(in), need;
    ember_column *v;
    int rc = 0, full = 0;
    (void)emit;
    (void)ud;
    if (s->finished) {
        rel_host->seterr(err, EMBER_EINVAL, "rel.sort: push after finish");
        return EMBER_EINVAL;
    }
    if (!s->have_schema) {
        rc = set_schema(s, in, err);
        if (rc)
            return rc;
    } else if (rel_host->batch_num_columns(in) != s->ncols) {
        rel_host->seterr(err, EMBER_EINVAL,
                         "rel.sort: input batch has %d columns, earlier ones "
                         "had %d",
                         rel_host->batch_num_columns(in), s->ncols);
        return EMBER_EINVAL;
    }
    if (m == 0 || s->limit == 0)
        return 0;
    v = calloc((size_t)s->ncols, sizeof *v);
    if (!v) {
        rel_host->seterr(err, EMBER_ENOMEM, "rel.sort: out of memory");
        return EMBER_ENOMEM;
    }
    for (int c = 0; c < s->ncols; c++) {
        if (rel_host->batch_column(in, c, &v[c]) || v[c].type != s->types[c] ||
            v[c].length != m) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.sort: input column %d is %s, earlier "
                             "batches had %s",
                             c, rel_type_name(v[c].type),
                             rel_type_name(s->types[c]));
            free(v);
            return EMBER_EINVAL;
        }
        if (rel_type_varwidth(v[c].type) &&
            s->buf[c].data_len + (size_t)(v[c].offsets[m] - v[c].offsets[0]) >
                (size_t)INT32_MAX)
            full = 1;
    }
    if (s->n + m > ROW_CAP)
        full = 1;
    need = batch_estimate(v, s->ncols, m);
    if (full && s->n > 0)
        rc = spill(s, err);
    if (!rc && s->acquire) {
        if (s->acquire(s->ctx, need) == 0) {
            s->held += need;
        } else {
            if (s->n > 0)
                rc = spill(s, err);
            /* granted or not, go on: the next refusal spills again */
            if (!rc && s->acquire(s->ctx, need) == 0)
                s->held += need;
        }
    }
    for (int c = 0; c < s->ncols && !rc; c++) {
        rc = append_column(&s->buf[c], &v[c]);
        if (rc) {
            rel_host->seterr(err, rc, "rel.sort: cannot buffer input: %s",
                             rel_host->strerror(rc));
            /* keep the columns the same length: drop the partial batch */
            for (int d = 0; d < s->ncols; d++)
                truncate_col(&s->buf[d], s->n);
        }
    }
    free(v);
    if (rc)
        return rc;
    s->n += m;
    if (s->limit > 0 && s->limit < ROW_CAP / 4 && s->n > 2 * s->limit + 16384)
        rc = compact(s, err);
    return rc;
}

static int sort_finish(void *state, ember_emit_fn emit, void *ud,
                       ember_error *err)
{
    sorter *s = state;
    int32_t *perm = NULL;
    sink k = {NULL, emit, ud};
    int rc = 0;
    if (s->finished)
        return 0;
    s->finished = 1;
    if (!s->have_schema || s->limit == 0 || (s->n == 0 && s->nruns == 0))
        return 0;
    if (s->n > 0) {
        rc = sort_rows(s, s->buf, s->n, &perm, err);
        if (rc)
            return rc;
    }
    if (s->nruns == 0) {
        rc = gather_sorted(s, s->buf, perm, capped(s, s->n), &k, err);
    } else {
        rc = reduce_runs(s, err);
        if (!rc)
            rc = merge(s, s->runs, s->nruns, perm, s->n, s->limit, &k, err);
    }
    free(perm);
    free_buffer(s);
    release_all(s);
    return rc == EMBER_ESTOP ? 0 : rc;
}

static void sort_close(void *state)
{
    sorter *s = state;
    if (!s)
        return;
    for (int i = 0; i < s->nruns; i++)
        rel_spill_close(&s->runs[i]);
    free(s->runs);
    for (int c = 0; c < s->ncols; c++) {
        if (s->buf)
            relcol_free(&s->buf[c]);
        if (s->out)
            relcol_free(&s->out[c]);
        if (s->names)
            free(s->names[c]);
    }
    release_all(s);
    free(s->buf);
    free(s->out);
    free(s->names);
    free(s->types);
    free(s->keys);
    free(s->dir);
    free(s);
}

static const ember_op_desc sort_op = {
    sizeof(ember_op_desc),
    "rel.sort",
    "stable multi-key sort with optional limit, spilling sorted runs",
    EMBER_OP_TRANSFORM,
    sort_params,
    sizeof sort_params / sizeof sort_params[0],
    NULL,
    sort_open,
    NULL,
    sort_push,
    sort_finish,
    sort_close,
    NULL,
};

/* Register rel.sort with the host (called once from rel.c's init, on the
 * main thread).  Returns 0 or the host's error, with err filled. */
int rel_register_sort(ember_registry *reg, ember_error *err)
{
    int rc = rel_host->register_op(reg, &sort_op);
    if (rc)
        rel_host->seterr(err, rc, "rel.sort: cannot register: %s",
                         rel_host->strerror(rc));
    return rc;
}
