/*
 * colfile.c -- ember's own columnar file format (.ecol) and its two
 * operators:
 *
 *   rel.col_write  sink:   batches -> <dir>/part-NNNNN.ecol
 *   rel.col_scan   source: .ecol files -> batches (column pruning,
 *                          row-group skipping by min/max statistics)
 *
 * Format (docs/formats.md, "Columnar files (.ecol)"): a header magic, then
 * row groups of LZ4-compressed column chunks written back to back, then a
 * footer holding the schema, the row-group directory (offset, sizes,
 * CRC-32C, row and null counts, min/max statistics of every chunk) and a
 * CRC-32C of itself, then a 12-byte trailer (footer length, magic,
 * version).  Every byte of a file is covered by a magic, a version check, a
 * checksum or a layout rule, so the reader detects any damage and fails
 * with EMBER_ECORRUPT naming the file and the problem.
 *
 * Writing buffers one row group per column in rel_col builders and
 * flushes it when it holds row_group_rows rows (or a column holds more
 * than FLUSH_BYTES bytes).  Reading decodes the selected chunks of one row
 * group at a time into reused scratch buffers and emits batches of
 * EMIT_ROWS rows.
 *
 * State: only rel_host (rel.c) and constant tables; instances belong to
 * one task thread.
 */
#include "rel.h"

/* CRC-32C: the core's one implementation, header-only so this plugin,
 * which links nothing of ember's, compiles its own copy (SSE4.2 or table) */
#include "util/crc32c_impl.h"

#include <lz4.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ECOL_VERSION 1u
#define HEADER_LEN 8   /* "ECOL" + u32 version */
#define TRAILER_LEN 12 /* u32 footer length + "ECOL" + u32 version */
#define EMIT_ROWS 8192
#define STAT_LEN 32 /* longest string statistic */
#define MAX_RG_ROWS (1 << 24)
#define FLUSH_BYTES ((size_t)128 << 20)
#define CHUNK_MIN_BYTES 30 /* footer bytes of a chunk without statistics */

enum { CODEC_NONE = 0, CODEC_LZ4 = 1 };
enum {
    ST_MIN = 1,        /* min present */
    ST_MAX = 2,        /* max present */
    ST_MIN_TRUNC = 4,  /* string min is a prefix of the true min */
    ST_MAX_INEXACT = 8 /* string max is a bound above the true max */
};

/* -------------------------------------------------------- byte buffers */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} wbuf;

static void wb_put(wbuf *b, const void *v, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        uint8_t *np;
        while (nc < b->n + n)
            nc *= 2;
        np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void wb_u8(wbuf *b, uint8_t v)
{
    wb_put(b, &v, 1);
}

static void wb_u16(wbuf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    wb_put(b, x, 2);
}

static void wb_u32(wbuf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    wb_put(b, x, 4);
}

static void wb_u64(wbuf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    wb_put(b, x, 8);
}

/* A bounds-checked reader: an overrun sets bad and yields zeros. */
typedef struct rbuf {
    const uint8_t *p;
    size_t n, pos;
    int bad;
} rbuf;

static const uint8_t *rb_take(rbuf *r, size_t n)
{
    const uint8_t *q;
    if (r->bad || n > r->n - r->pos) {
        r->bad = 1;
        return NULL;
    }
    q = r->p + r->pos;
    r->pos += n;
    return q;
}

static uint64_t get_le(const uint8_t *q, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | q[i];
    return v;
}

static uint64_t rb_le(rbuf *r, int n)
{
    const uint8_t *q = rb_take(r, (size_t)n);
    return q ? get_le(q, n) : 0;
}

/* ------------------------------------------------------------- chunks */

/* Statistics of one chunk.  Integer-like types and booleans use i[],
 * doubles d[], strings and binaries s[]/slen[]; [0] = min, [1] = max. */
typedef struct cstat {
    uint8_t flags;
    uint8_t slen[2];
    int64_t i[2];
    double d[2];
    uint8_t s[2][STAT_LEN];
} cstat;

typedef struct chunk {
    uint64_t offset;
    uint32_t csize, usize, crc, rows, nulls;
    uint8_t codec;
    cstat st;
} chunk;

static int supported_type(ember_type t)
{
    switch (t) {
    case EMBER_TYPE_BOOL:
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_DOUBLE:
    case EMBER_TYPE_STRING:
    case EMBER_TYPE_BINARY:
    case EMBER_TYPE_DATE32:
    case EMBER_TYPE_TIMESTAMP:
        return 1;
    default:
        return 0;
    }
}

static int is_intlike(ember_type t)
{
    return t == EMBER_TYPE_INT32 || t == EMBER_TYPE_INT64 ||
           t == EMBER_TYPE_DATE32 || t == EMBER_TYPE_TIMESTAMP;
}

/* Bytes of the validity section of a chunk: padded to 8 so the sections
 * after it stay aligned. */
static size_t valid_len(uint32_t rows, uint32_t nulls)
{
    return nulls ? (((size_t)rows + 63) / 64) * 8 : 0;
}

static inline int bit_valid(const uint8_t *v, int64_t i)
{
    return (v[i >> 3] >> (i & 7)) & 1;
}

/* Append rows [from, from + k) of src (same type) to c in bulk. */
static int col_append_range(rel_col *c, const ember_column *src, int64_t from,
                            int64_t k)
{
    int w = rel_type_width(c->type);
    int var = rel_type_varwidth(c->type);
    size_t bytes = 0;
    int rc;
    if (k <= 0)
        return 0;
    if (var)
        bytes = (size_t)(src->offsets[from + k] - src->offsets[from]);
    if ((rc = relcol_reserve(c, k, bytes)) != 0)
        return rc;
    if (src->validity && src->null_count > 0) {
        size_t need = (size_t)((c->n + k + 7) >> 3);
        if (need > c->valid_cap) {
            size_t nc = c->valid_cap ? c->valid_cap : 64;
            uint8_t *nv;
            while (nc < need)
                nc *= 2;
            nv = realloc(c->valid, nc);
            if (!nv)
                return EMBER_ENOMEM;
            /* rows past n are valid until marked otherwise */
            memset(nv + c->valid_cap, 0xff, nc - c->valid_cap);
            c->valid = nv;
            c->valid_cap = nc;
        }
        for (int64_t i = 0; i < k; i++)
            if (!bit_valid(src->validity, from + i)) {
                int64_t r = c->n + i;
                c->valid[r >> 3] &= (uint8_t) ~(1u << (r & 7));
                c->nulls++;
            }
    }
    if (var) {
        const int32_t *so = src->offsets + from;
        int32_t base = (int32_t)c->data_len - so[0];
        int32_t *d = c->off + c->n + 1;
        if (bytes)
            memcpy(c->data + c->data_len, (const uint8_t *)src->data + so[0],
                   bytes);
        for (int64_t i = 0; i < k; i++)
            d[i] = so[i + 1] + base;
        c->data_len += bytes;
    } else if (c->type == EMBER_TYPE_BOOL) {
        const uint8_t *s = (const uint8_t *)src->data + from;
        uint8_t *d = c->data + c->n;
        for (int64_t i = 0; i < k; i++)
            d[i] = s[i] != 0;
    } else {
        memcpy(c->data + (size_t)c->n * (size_t)w,
               (const uint8_t *)src->data + (size_t)from * (size_t)w,
               (size_t)k * (size_t)w);
    }
    c->n += k;
    return 0;
}

/* ---------------------------------------------------------- statistics */

static int bytes_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
    int r = la && lb ? memcmp(a, b, la < lb ? la : lb) : 0;
    if (r)
        return r < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

/* Min and max of the non-null values of v (NaNs are left out, and a chunk
 * holding a NaN gets no max: NaN sorts above everything in Spark). */
static void compute_stats(const ember_column *v, cstat *st)
{
    int64_t n = v->length;
    const uint8_t *val = v->null_count > 0 ? v->validity : NULL;
    int64_t first = 0;
    memset(st, 0, sizeof *st);
    if (val)
        while (first < n && !bit_valid(val, first))
            first++;
    if (first >= n)
        return; /* no values: no statistics */
    switch (v->type) {
    case EMBER_TYPE_BOOL:
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP: {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
#define MINMAX_LOOP(T)                                                         \
    do {                                                                       \
        const T *d = v->data;                                                  \
        for (int64_t i = first; i < n; i++) {                                  \
            int64_t x = (int64_t)d[i];                                         \
            if (val && !bit_valid(val, i))                                     \
                continue;                                                      \
            lo = x < lo ? x : lo;                                              \
            hi = x > hi ? x : hi;                                              \
        }                                                                      \
    } while (0)
        if (v->type == EMBER_TYPE_BOOL)
            MINMAX_LOOP(uint8_t);
        else if (v->type == EMBER_TYPE_INT32 || v->type == EMBER_TYPE_DATE32)
            MINMAX_LOOP(int32_t);
        else
            MINMAX_LOOP(int64_t);
#undef MINMAX_LOOP
        if (v->type == EMBER_TYPE_BOOL) {
            lo = lo != 0;
            hi = hi != 0;
        }
        st->i[0] = lo;
        st->i[1] = hi;
        st->flags = ST_MIN | ST_MAX;
        return;
    }
    case EMBER_TYPE_DOUBLE: {
        const double *d = v->data;
        double lo = 0, hi = 0;
        int any = 0, nan = 0;
        for (int64_t i = first; i < n; i++) {
            double x = d[i];
            if (val && !bit_valid(val, i))
                continue;
            if (x != x) {
                nan = 1;
                continue;
            }
            if (!any) {
                lo = hi = x;
                any = 1;
            }
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        if (any) {
            st->d[0] = lo == 0 ? 0.0 : lo; /* no -0.0 in statistics */
            st->d[1] = hi == 0 ? 0.0 : hi;
            st->flags = ST_MIN | (nan ? 0 : ST_MAX);
        }
        return;
    }
    default: { /* STRING, BINARY: bytewise order */
        static const uint8_t none[1] = {0};
        const uint8_t *d = v->data ? (const uint8_t *)v->data : none;
        const int32_t *o = v->offsets;
        int64_t imin = first, imax = first;
        size_t len;
        const uint8_t *s;
        for (int64_t i = first + 1; i < n; i++) {
            const uint8_t *x = d + o[i];
            size_t lx = (size_t)(o[i + 1] - o[i]);
            if (val && !bit_valid(val, i))
                continue;
            if (bytes_cmp(x, lx, d + o[imin], (size_t)(o[imin + 1] - o[imin])) <
                0)
                imin = i;
            else if (bytes_cmp(x, lx, d + o[imax],
                               (size_t)(o[imax + 1] - o[imax])) > 0)
                imax = i;
        }
        /* min: a prefix is still a lower bound */
        s = d + o[imin];
        len = (size_t)(o[imin + 1] - o[imin]);
        st->flags |= ST_MIN;
        if (len > STAT_LEN) {
            len = STAT_LEN;
            st->flags |= ST_MIN_TRUNC;
        }
        memcpy(st->s[0], s, len);
        st->slen[0] = (uint8_t)len;
        /* max: a prefix is not an upper bound; bump its last byte that can
         * be bumped and cut after it, or store no max at all */
        s = d + o[imax];
        len = (size_t)(o[imax + 1] - o[imax]);
        if (len <= STAT_LEN) {
            memcpy(st->s[1], s, len);
            st->slen[1] = (uint8_t)len;
            st->flags |= ST_MAX;
        } else {
            int k = STAT_LEN - 1;
            while (k >= 0 && s[k] == 0xff)
                k--;
            if (k >= 0) {
                memcpy(st->s[1], s, (size_t)k + 1);
                st->s[1][k]++;
                st->slen[1] = (uint8_t)(k + 1);
                st->flags |= ST_MAX | ST_MAX_INEXACT;
            }
        }
        return;
    }
    }
}

static void put_stat(wbuf *b, ember_type t, const cstat *st, int k)
{
    if (rel_type_varwidth(t)) {
        wb_u8(b, st->slen[k]);
        wb_put(b, st->s[k], st->slen[k]);
    } else if (t == EMBER_TYPE_DOUBLE) {
        uint64_t u;
        memcpy(&u, &st->d[k], 8);
        wb_u64(b, u);
    } else {
        wb_u64(b, (uint64_t)st->i[k]);
    }
}

static int get_stat(rbuf *r, ember_type t, cstat *st, int k)
{
    if (rel_type_varwidth(t)) {
        const uint8_t *q;
        st->slen[k] = (uint8_t)rb_le(r, 1);
        if (st->slen[k] > STAT_LEN)
            return -1;
        q = rb_take(r, st->slen[k]);
        if (q && st->slen[k])
            memcpy(st->s[k], q, st->slen[k]);
    } else if (t == EMBER_TYPE_DOUBLE) {
        uint64_t u = rb_le(r, 8);
        memcpy(&st->d[k], &u, 8);
        if (st->d[k] != st->d[k])
            return -1;
    } else {
        st->i[k] = (int64_t)rb_le(r, 8);
        if (t == EMBER_TYPE_BOOL && (st->i[k] < 0 || st->i[k] > 1))
            return -1;
        if ((t == EMBER_TYPE_INT32 || t == EMBER_TYPE_DATE32) &&
            (st->i[k] < INT32_MIN || st->i[k] > INT32_MAX))
            return -1;
    }
    return r->bad ? -1 : 0;
}

/* ------------------------------------------------------- rel.col_write */

static const ember_param_desc write_params[] = {
    {"path", EMBER_PARAM_STRING, NULL, "output directory (must exist)"},
    {"row_group_rows", EMBER_PARAM_INT, "65536", "rows per row group"},
};

typedef struct cwriter {
    char tmp[PATH_MAX];
    char final[PATH_MAX];
    FILE *f;
    uint64_t pos; /* bytes written */
    int64_t rg_rows;
    int ncols;
    char **names;
    ember_type *types;
    rel_col *cols;
    chunk *chunks;  /* nrg * ncols */
    uint32_t *rows; /* per row group */
    uint32_t nrg, cap_rg;
    uint64_t total;
    uint8_t *raw, *comp;
    size_t raw_cap, comp_cap;
    int created;   /* the temporary file exists */
    int committed; /* renamed into place */
    int broken;    /* an earlier call failed */
} cwriter;

static void writer_free(cwriter *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->created && !w->committed)
        unlink(w->tmp);
    for (int i = 0; i < w->ncols; i++) {
        free(w->names[i]);
        relcol_free(&w->cols[i]);
    }
    free(w->names);
    free(w->types);
    free(w->cols);
    free(w->chunks);
    free(w->rows);
    free(w->raw);
    free(w->comp);
    free(w);
}

static int write_open(const ember_host *h, const ember_params *p,
                      const ember_task_info *ti, void **state, ember_error *err)
{
    const char *dir = h->param_str(p, "path");
    int64_t rg = h->param_int(p, "row_group_rows");
    struct stat st;
    cwriter *w;
    int n1, n2;
    if (rg < 1 || rg > MAX_RG_ROWS) {
        h->seterr(err, EMBER_EINVAL,
                  "rel.col_write: parameter row_group_rows must be between 1 "
                  "and %d, not %lld",
                  MAX_RG_ROWS, (long long)rg);
        return EMBER_EINVAL;
    }
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        h->seterr(err, EMBER_ENOTFOUND,
                  "rel.col_write: parameter path: %s is not a directory",
                  dir ? dir : "(null)");
        return EMBER_ENOTFOUND;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        h->seterr(err, EMBER_ENOMEM, "rel.col_write: out of memory");
        return EMBER_ENOMEM;
    }
    w->rg_rows = rg;
    n1 = snprintf(w->final, sizeof w->final, "%s/part-%05d.ecol", dir,
                  ti->partition);
    n2 = snprintf(w->tmp, sizeof w->tmp, "%s/part-%05d-%d.ecol.tmp", dir,
                  ti->partition, ti->attempt);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof w->final ||
        (size_t)n2 >= sizeof w->tmp) {
        free(w);
        h->seterr(err, EMBER_EINVAL, "rel.col_write: path too long: %s", dir);
        return EMBER_EINVAL;
    }
    *state = w; /* the file is created by the first push */
    return 0;
}

static int io_fail(cwriter *w, ember_error *err)
{
    rel_host->seterr(err, EMBER_EIO, "rel.col_write: cannot write %s: %s",
                     w->tmp, strerror(errno));
    return EMBER_EIO;
}

/* First batch: take its schema, create the temporary file. */
static int writer_start(cwriter *w, const ember_batch *in, ember_error *err)
{
    int n = rel_host->batch_num_columns(in);
    static const uint8_t header[HEADER_LEN] = {'E',          'C', 'O', 'L',
                                               ECOL_VERSION, 0,   0,   0};
    if (n < 1 || n > 65535) {
        rel_host->seterr(err, EMBER_EINVAL,
                         "rel.col_write: a batch with %d columns cannot be "
                         "written (1 to 65535)",
                         n);
        return EMBER_EINVAL;
    }
    w->names = calloc((size_t)n, sizeof *w->names);
    w->types = calloc((size_t)n, sizeof *w->types);
    w->cols = calloc((size_t)n, sizeof *w->cols);
    if (!w->names || !w->types || !w->cols)
        goto oom;
    w->ncols = n;
    for (int i = 0; i < n; i++) {
        ember_column c;
        const char *name = rel_host->batch_column_name(in, i);
        rel_host->batch_column(in, i, &c);
        relcol_init(&w->cols[i], c.type);
        if (!supported_type(c.type)) {
            rel_host->seterr(err, EMBER_EUNSUPPORTED,
                             "rel.col_write: column %d (%s) has type %s, "
                             "which .ecol files cannot hold",
                             i, name ? name : "?", rel_type_name(c.type));
            return EMBER_EUNSUPPORTED;
        }
        if (!name || strlen(name) > 65535) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_write: column %d has no usable name", i);
            return EMBER_EINVAL;
        }
        w->types[i] = c.type;
        if (!(w->names[i] = strdup(name)))
            goto oom;
    }
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        rel_host->seterr(err, EMBER_EIO, "rel.col_write: cannot create %s: %s",
                         w->tmp, strerror(errno));
        return EMBER_EIO;
    }
    w->created = 1;
    if (fwrite(header, 1, HEADER_LEN, w->f) != HEADER_LEN)
        return io_fail(w, err);
    w->pos = HEADER_LEN;
    return 0;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.col_write: out of memory");
    return EMBER_ENOMEM;
}

static int grow_buf(uint8_t **p, size_t *cap, size_t need)
{
    uint8_t *np;
    if (need <= *cap)
        return 0;
    np = realloc(*p, need);
    if (!np)
        return EMBER_ENOMEM;
    *p = np;
    *cap = need;
    return 0;
}

/* Encode, compress and write the chunk of column i of the current row
 * group; fill ch. */
static int write_chunk(cwriter *w, int i, chunk *ch, ember_error *err)
{
    rel_col *c = &w->cols[i];
    ember_column v;
    uint32_t rows = (uint32_t)c->n, nulls = (uint32_t)c->nulls;
    size_t vl = valid_len(rows, nulls), body, usize;
    const uint8_t *out;
    size_t osize;
    relcol_view(c, &v);
    compute_stats(&v, &ch->st);
    if (rel_type_varwidth(c->type))
        body = ((size_t)rows + 1) * 4 + c->data_len;
    else
        body = (size_t)rows * (size_t)rel_type_width(c->type);
    usize = vl + body;
    if (usize > (size_t)LZ4_MAX_INPUT_SIZE) {
        rel_host->seterr(err, EMBER_ETOOBIG,
                         "rel.col_write: column %s: chunk of %zu bytes is too "
                         "big (lower row_group_rows)",
                         w->names[i], usize);
        return EMBER_ETOOBIG;
    }
    if (grow_buf(&w->raw, &w->raw_cap, usize ? usize : 1) ||
        grow_buf(&w->comp, &w->comp_cap,
                 (size_t)LZ4_compressBound((int)usize) + 1))
        goto oom;
    if (vl) {
        size_t have = ((size_t)rows + 7) / 8;
        memcpy(w->raw, c->valid, have);
        memset(w->raw + have, 0, vl - have);
        if (rows & 7) /* bits past the last row are written as 0 */
            w->raw[have - 1] &= (uint8_t)((1u << (rows & 7)) - 1);
    }
    if (rel_type_varwidth(c->type)) {
        memcpy(w->raw + vl, v.offsets, ((size_t)rows + 1) * 4);
        if (c->data_len)
            memcpy(w->raw + vl + ((size_t)rows + 1) * 4, c->data, c->data_len);
    } else if (body) {
        memcpy(w->raw + vl, c->data, body);
    }
    {
        int cs =
            usize ? LZ4_compress_default((const char *)w->raw, (char *)w->comp,
                                         (int)usize, (int)w->comp_cap)
                  : 0;
        if (cs > 0 && (size_t)cs < usize) {
            ch->codec = CODEC_LZ4;
            out = w->comp;
            osize = (size_t)cs;
        } else {
            ch->codec = CODEC_NONE;
            out = w->raw;
            osize = usize;
        }
    }
    ch->offset = w->pos;
    ch->csize = (uint32_t)osize;
    ch->usize = (uint32_t)usize;
    ch->crc = crc32c_impl(0, out, osize);
    ch->rows = rows;
    ch->nulls = nulls;
    if (osize && fwrite(out, 1, osize, w->f) != osize)
        return io_fail(w, err);
    w->pos += osize;
    return 0;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.col_write: out of memory");
    return EMBER_ENOMEM;
}

static int flush_rg(cwriter *w, ember_error *err)
{
    uint32_t rows = (uint32_t)w->cols[0].n;
    int rc;
    if (rows == 0)
        return 0;
    if (w->nrg == w->cap_rg) {
        uint32_t nc = w->cap_rg ? w->cap_rg * 2 : 8;
        chunk *nch;
        uint32_t *nr;
        if (nc > UINT32_MAX / 2)
            goto oom;
        nch = realloc(w->chunks, (size_t)nc * (size_t)w->ncols * sizeof *nch);
        if (!nch)
            goto oom;
        w->chunks = nch;
        nr = realloc(w->rows, (size_t)nc * sizeof *nr);
        if (!nr)
            goto oom;
        w->rows = nr;
        w->cap_rg = nc;
    }
    for (int i = 0; i < w->ncols; i++) {
        rc = write_chunk(w, i, &w->chunks[(size_t)w->nrg * w->ncols + i], err);
        if (rc)
            return rc;
        relcol_reset(&w->cols[i]);
    }
    w->rows[w->nrg++] = rows;
    w->total += rows;
    return 0;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.col_write: out of memory");
    return EMBER_ENOMEM;
}

static int write_push(void *state, const ember_batch *in, ember_emit_fn emit,
                      void *ud, ember_error *err)
{
    cwriter *w = state;
    int64_t n = rel_host->batch_num_rows(in), pos = 0;
    int rc;
    (void)emit;
    (void)ud;
    if (w->committed || w->broken) {
        rel_host->seterr(err, EMBER_EINVAL, "rel.col_write: push after %s",
                         w->broken ? "an error" : "finish");
        return EMBER_EINVAL;
    }
    w->broken = 1; /* until this push succeeds */
    if (!w->created) {
        if ((rc = writer_start(w, in, err)) != 0)
            return rc;
    } else {
        int nc = rel_host->batch_num_columns(in);
        int same = nc == w->ncols;
        for (int i = 0; same && i < nc; i++) {
            ember_column c;
            const char *name = rel_host->batch_column_name(in, i);
            rel_host->batch_column(in, i, &c);
            same =
                c.type == w->types[i] && name && strcmp(name, w->names[i]) == 0;
        }
        if (!same) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_write: a batch's schema differs from "
                             "the first batch's (%d columns, first %s %s)",
                             w->ncols, w->names[0], rel_type_name(w->types[0]));
            return EMBER_EINVAL;
        }
    }
    while (pos < n) {
        int64_t k = w->rg_rows - w->cols[0].n;
        int full = 0;
        if (k > n - pos)
            k = n - pos;
        for (int i = 0; i < w->ncols; i++) {
            ember_column c;
            rel_host->batch_column(in, i, &c);
            rc = col_append_range(&w->cols[i], &c, pos, k);
            if (rc) {
                rel_host->seterr(err, rc, "rel.col_write: %s",
                                 rc == EMBER_ENOMEM ? "out of memory"
                                                    : "column data too big");
                return rc;
            }
            if (w->cols[i].data_len > FLUSH_BYTES)
                full = 1;
        }
        pos += k;
        if (full || w->cols[0].n >= w->rg_rows)
            if ((rc = flush_rg(w, err)) != 0)
                return rc;
    }
    w->broken = 0;
    return 0;
}

static int write_footer(cwriter *w, ember_error *err)
{
    wbuf b = {0};
    uint8_t trailer[TRAILER_LEN];
    int rc = 0;
    wb_u32(&b, (uint32_t)w->ncols);
    for (int i = 0; i < w->ncols; i++) {
        const char *tn = rel_type_name(w->types[i]);
        size_t len = strlen(w->names[i]);
        wb_u16(&b, (uint16_t)len);
        wb_put(&b, w->names[i], len);
        wb_u8(&b, (uint8_t)strlen(tn));
        wb_put(&b, tn, strlen(tn));
    }
    wb_u32(&b, w->nrg);
    for (uint32_t g = 0; g < w->nrg; g++) {
        wb_u32(&b, w->rows[g]);
        for (int i = 0; i < w->ncols; i++) {
            const chunk *ch = &w->chunks[(size_t)g * w->ncols + i];
            wb_u64(&b, ch->offset);
            wb_u32(&b, ch->csize);
            wb_u32(&b, ch->usize);
            wb_u32(&b, ch->crc);
            wb_u32(&b, ch->rows);
            wb_u32(&b, ch->nulls);
            wb_u8(&b, ch->codec);
            wb_u8(&b, ch->st.flags);
            if (ch->st.flags & ST_MIN)
                put_stat(&b, w->types[i], &ch->st, 0);
            if (ch->st.flags & ST_MAX)
                put_stat(&b, w->types[i], &ch->st, 1);
        }
    }
    wb_u64(&b, w->total);
    if (!b.oom)
        wb_u32(&b, crc32c_impl(0, b.p, b.n));
    if (b.oom || b.n > UINT32_MAX) {
        free(b.p);
        rel_host->seterr(err, EMBER_ENOMEM,
                         "rel.col_write: out of memory (footer)");
        return EMBER_ENOMEM;
    }
    memcpy(trailer + 4, "ECOL", 4);
    for (int i = 0; i < 4; i++) {
        trailer[i] = (uint8_t)(b.n >> (8 * i));
        trailer[8 + i] = (uint8_t)(ECOL_VERSION >> (8 * i));
    }
    if (fwrite(b.p, 1, b.n, w->f) != b.n ||
        fwrite(trailer, 1, TRAILER_LEN, w->f) != TRAILER_LEN)
        rc = io_fail(w, err);
    free(b.p);
    return rc;
}

static int write_finish(void *state, ember_emit_fn emit, void *ud,
                        ember_error *err)
{
    cwriter *w = state;
    int rc;
    (void)emit;
    (void)ud;
    if (w->broken) {
        rel_host->seterr(err, EMBER_EINVAL,
                         "rel.col_write: finish after an error");
        return EMBER_EINVAL;
    }
    if (!w->created || w->committed)
        return 0; /* no batch: no file */
    w->broken = 1;
    if ((rc = flush_rg(w, err)) != 0 || (rc = write_footer(w, err)) != 0)
        return rc;
    rc = fclose(w->f);
    w->f = NULL;
    if (rc != 0)
        return io_fail(w, err);
    if (rename(w->tmp, w->final) != 0) {
        rel_host->seterr(err, EMBER_EIO, "rel.col_write: cannot commit %s: %s",
                         w->final, strerror(errno));
        return EMBER_EIO;
    }
    w->committed = 1;
    w->broken = 0;
    return 0;
}

static void write_close(void *state)
{
    writer_free(state);
}

/* ------------------------------------------------------------- reading */

typedef struct cfile {
    const char *path; /* borrowed */
    int fd;
    int64_t size;
    int ncols;
    char **names;
    ember_type *types;
    uint32_t nrg;
    uint32_t *rows;
    chunk *chunks; /* nrg * ncols */
    uint64_t total;
} cfile;

static void cfile_close(cfile *cf)
{
    if (cf->fd >= 0)
        close(cf->fd);
    cf->fd = -1;
    for (int i = 0; cf->names && i < cf->ncols; i++)
        free(cf->names[i]);
    free(cf->names);
    free(cf->types);
    free(cf->rows);
    free(cf->chunks);
    cf->names = NULL;
    cf->types = NULL;
    cf->rows = NULL;
    cf->chunks = NULL;
}

static int corrupt(const cfile *cf, ember_error *err, const char *what)
{
    rel_host->seterr(err, EMBER_ECORRUPT,
                     "rel.col_scan: %s: corrupt .ecol file: %s", cf->path,
                     what);
    return EMBER_ECORRUPT;
}

static int read_at(const cfile *cf, void *buf, size_t n, int64_t off,
                   ember_error *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(cf->fd, (uint8_t *)buf + got, n - got,
                          (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rel_host->seterr(err, EMBER_EIO, "rel.col_scan: cannot read %s: %s",
                             cf->path, strerror(errno));
            return EMBER_EIO;
        }
        if (r == 0)
            return corrupt(cf, err, "file shorter than its footer says");
        got += (size_t)r;
    }
    return 0;
}

/* Parse and check the footer body r (its CRC already checked). */
static int parse_footer(cfile *cf, rbuf *r, int64_t footer_start,
                        ember_error *err)
{
    uint64_t expect = HEADER_LEN, sum = 0;
    uint32_t n = (uint32_t)rb_le(r, 4);
    if (r->bad || n < 1 || n > 65535 || n > (r->n - r->pos) / 3)
        return corrupt(cf, err, "bad column count");
    cf->names = calloc(n, sizeof *cf->names);
    cf->types = calloc(n, sizeof *cf->types);
    if (!cf->names || !cf->types)
        goto oom;
    cf->ncols = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        size_t ln = (size_t)rb_le(r, 2), lt;
        const uint8_t *name = rb_take(r, ln), *tn;
        int t;
        lt = (size_t)rb_le(r, 1);
        tn = rb_take(r, lt);
        if (r->bad)
            return corrupt(cf, err, "schema runs past the footer");
        if (memchr(name, 0, ln))
            return corrupt(cf, err, "column name holds a NUL byte");
        t = rel_type_from_name((const char *)tn, lt);
        if (t < 0 || !supported_type((ember_type)t))
            return corrupt(cf, err, "unknown column type");
        cf->types[i] = (ember_type)t;
        if (!(cf->names[i] = strndup((const char *)name, ln)))
            goto oom;
    }
    cf->nrg = (uint32_t)rb_le(r, 4);
    if (r->bad || cf->nrg > (r->n - r->pos) / (4 + n * CHUNK_MIN_BYTES))
        return corrupt(cf, err, "bad row group count");
    cf->rows = calloc(cf->nrg ? cf->nrg : 1, sizeof *cf->rows);
    cf->chunks = calloc(cf->nrg ? (size_t)cf->nrg * n : 1, sizeof *cf->chunks);
    if (!cf->rows || !cf->chunks)
        goto oom;
    for (uint32_t g = 0; g < cf->nrg; g++) {
        uint32_t rows = (uint32_t)rb_le(r, 4);
        if (rows < 1 || rows > MAX_RG_ROWS)
            return corrupt(cf, err, "bad row count of a row group");
        cf->rows[g] = rows;
        sum += rows;
        for (uint32_t i = 0; i < n; i++) {
            chunk *ch = &cf->chunks[(size_t)g * n + i];
            ember_type t = cf->types[i];
            size_t vl, fixed;
            ch->offset = rb_le(r, 8);
            ch->csize = (uint32_t)rb_le(r, 4);
            ch->usize = (uint32_t)rb_le(r, 4);
            ch->crc = (uint32_t)rb_le(r, 4);
            ch->rows = (uint32_t)rb_le(r, 4);
            ch->nulls = (uint32_t)rb_le(r, 4);
            ch->codec = (uint8_t)rb_le(r, 1);
            ch->st.flags = (uint8_t)rb_le(r, 1);
            if (r->bad)
                return corrupt(cf, err,
                               "row group directory runs past the "
                               "footer");
            if (ch->offset != expect)
                return corrupt(cf, err, "chunk offset out of place");
            if ((uint64_t)ch->csize > (uint64_t)footer_start - expect)
                return corrupt(cf, err, "chunk runs past the data area");
            expect += ch->csize;
            if (ch->rows != rows || ch->nulls > rows)
                return corrupt(cf, err, "bad row or null count of a chunk");
            vl = valid_len(rows, ch->nulls);
            if (rel_type_varwidth(t))
                fixed = vl + ((size_t)rows + 1) * 4;
            else
                fixed = vl + (size_t)rows * (size_t)rel_type_width(t);
            if (rel_type_varwidth(t) ? ch->usize < fixed : ch->usize != fixed)
                return corrupt(cf, err, "bad uncompressed size of a chunk");
            if (ch->codec == CODEC_NONE ? ch->csize != ch->usize
                : ch->codec == CODEC_LZ4
                    ? ch->csize < 1 ||
                          (uint64_t)ch->usize > (uint64_t)ch->csize * 256 + 64
                    : 1)
                return corrupt(cf, err, "bad codec or compressed size");
            if ((ch->st.flags & ~15u) ||
                ((ch->st.flags & (ST_MIN_TRUNC | ST_MAX_INEXACT)) &&
                 !rel_type_varwidth(t)) ||
                ((ch->st.flags & ST_MIN_TRUNC) && !(ch->st.flags & ST_MIN)) ||
                ((ch->st.flags & ST_MAX_INEXACT) && !(ch->st.flags & ST_MAX)) ||
                (ch->nulls == rows && (ch->st.flags & (ST_MIN | ST_MAX))))
                return corrupt(cf, err, "bad statistics flags");
            if (((ch->st.flags & ST_MIN) && get_stat(r, t, &ch->st, 0)) ||
                ((ch->st.flags & ST_MAX) && get_stat(r, t, &ch->st, 1)))
                return corrupt(cf, err, "bad statistics");
        }
    }
    cf->total = rb_le(r, 8);
    if (r->bad || cf->total != sum)
        return corrupt(cf, err, "bad total row count");
    if (r->pos != r->n)
        return corrupt(cf, err, "trailing bytes in the footer");
    if (expect != (uint64_t)footer_start)
        return corrupt(cf, err, "data area does not end at the footer");
    return 0;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
    return EMBER_ENOMEM;
}

/* Open path and read its footer.  cf is zeroed by the caller; call
 * cfile_close() whatever the result. */
static int cfile_open(cfile *cf, const char *path, ember_error *err)
{
    struct stat st;
    uint8_t head[HEADER_LEN], tr[TRAILER_LEN];
    uint8_t *foot = NULL;
    uint32_t flen;
    int64_t fstart;
    rbuf r;
    int rc;
    cf->path = path;
    cf->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (cf->fd < 0 || fstat(cf->fd, &st) != 0) {
        rel_host->seterr(err, errno == ENOENT ? EMBER_ENOTFOUND : EMBER_EIO,
                         "rel.col_scan: cannot open %s: %s", path,
                         strerror(errno));
        return errno == ENOENT ? EMBER_ENOTFOUND : EMBER_EIO;
    }
    cf->size = (int64_t)st.st_size;
    if (cf->size < HEADER_LEN + TRAILER_LEN + 4)
        return corrupt(cf, err, "too short");
    if ((rc = read_at(cf, head, HEADER_LEN, 0, err)) != 0 ||
        (rc = read_at(cf, tr, TRAILER_LEN, cf->size - TRAILER_LEN, err)) != 0)
        return rc;
    if (memcmp(head, "ECOL", 4) != 0)
        return corrupt(cf, err, "bad magic at the start");
    if (get_le(head + 4, 4) != ECOL_VERSION)
        return corrupt(cf, err, "unsupported format version in the header");
    if (memcmp(tr + 4, "ECOL", 4) != 0)
        return corrupt(cf, err, "bad magic at the end (truncated?)");
    if (get_le(tr + 8, 4) != ECOL_VERSION)
        return corrupt(cf, err, "unsupported format version in the trailer");
    flen = (uint32_t)get_le(tr, 4);
    if (flen < 4 || (int64_t)flen > cf->size - HEADER_LEN - TRAILER_LEN)
        return corrupt(cf, err, "footer length out of bounds");
    fstart = cf->size - TRAILER_LEN - (int64_t)flen;
    if (!(foot = malloc(flen))) {
        rel_host->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
        return EMBER_ENOMEM;
    }
    if ((rc = read_at(cf, foot, flen, fstart, err)) != 0)
        goto out;
    if (crc32c_impl(0, foot, flen - 4) !=
        (uint32_t)get_le(foot + flen - 4, 4)) {
        rc = corrupt(cf, err, "footer checksum mismatch");
        goto out;
    }
    r.p = foot;
    r.n = flen - 4;
    r.pos = 0;
    r.bad = 0;
    rc = parse_footer(cf, &r, fstart, err);
out:
    free(foot);
    return rc;
}

/* A decoded chunk: its buffer (reused) and a view into it. */
typedef struct dchunk {
    uint8_t *buf;
    size_t cap;
    ember_column v;
} dchunk;

/* Read, check and decompress chunk (g, i) into d. */
static int read_chunk(const cfile *cf, uint32_t g, int i, dchunk *d,
                      uint8_t **scratch, size_t *scap, ember_error *err)
{
    const chunk *ch = &cf->chunks[(size_t)g * cf->ncols + i];
    ember_type t = cf->types[i];
    size_t vl = valid_len(ch->rows, ch->nulls);
    uint8_t *stored;
    int rc;
    if (grow_buf(&d->buf, &d->cap, ch->usize ? ch->usize : 1) ||
        (ch->codec == CODEC_LZ4 &&
         grow_buf(scratch, scap, ch->csize ? ch->csize : 1))) {
        rel_host->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
        return EMBER_ENOMEM;
    }
    stored = ch->codec == CODEC_LZ4 ? *scratch : d->buf;
    if ((rc = read_at(cf, stored, ch->csize, (int64_t)ch->offset, err)) != 0)
        return rc;
    if (crc32c_impl(0, stored, ch->csize) != ch->crc)
        return corrupt(cf, err, "chunk checksum mismatch");
    if (ch->codec == CODEC_LZ4 &&
        LZ4_decompress_safe((const char *)stored, (char *)d->buf,
                            (int)ch->csize, (int)ch->usize) != (int)ch->usize)
        return corrupt(cf, err, "chunk does not decompress to its size");
    memset(&d->v, 0, sizeof d->v);
    d->v.type = t;
    d->v.length = ch->rows;
    d->v.null_count = ch->nulls;
    if (vl) {
        int64_t nulls = 0;
        uint32_t whole = ch->rows / 8;
        d->v.validity = d->buf;
        for (uint32_t k = 0; k < whole; k++)
            nulls += 8 - __builtin_popcount(d->buf[k]);
        for (uint32_t k = whole * 8; k < ch->rows; k++)
            nulls += !bit_valid(d->buf, k);
        if (nulls != ch->nulls)
            return corrupt(cf, err,
                           "validity bitmap disagrees with the "
                           "null count");
    }
    if (rel_type_varwidth(t)) {
        const int32_t *o = (const int32_t *)(d->buf + vl);
        size_t dl = ch->usize - vl - ((size_t)ch->rows + 1) * 4;
        int ok = o[0] == 0 && (size_t)o[ch->rows] == dl;
        for (uint32_t k = 0; ok && k < ch->rows; k++)
            ok = o[k] <= o[k + 1];
        if (!ok)
            return corrupt(cf, err,
                           "string offsets not monotonic or out of "
                           "bounds");
        d->v.offsets = o;
        d->v.data = d->buf + vl + ((size_t)ch->rows + 1) * 4;
    } else {
        d->v.data = d->buf + vl;
        if (t == EMBER_TYPE_BOOL)
            for (uint32_t k = 0; k < ch->rows; k++)
                if (d->buf[vl + k] > 1)
                    return corrupt(cf, err, "boolean value not 0 or 1");
    }
    return 0;
}

/* -------------------------------------------------------- rel.col_scan */

static const ember_param_desc scan_params[] = {
    {"path", EMBER_PARAM_STRING, NULL,
     "file, directory (its *.ecol files) or glob to read"},
    {"columns", EMBER_PARAM_STRING, "()",
     "schema column indices to output, in order; () = all"},
    {"filter", EMBER_PARAM_STRING, "()",
     "conjunction of (op col (lit T V)) used to skip row groups by stats"},
    {"infer", EMBER_PARAM_BOOL, "false",
     "emit the schema (name, type) instead of the data"},
    {"max_partition_bytes", EMBER_PARAM_INT, "134217728",
     "files larger than this are read by several tasks"},
};

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
static const char *const op_names[] = {"eq", "ne", "lt", "le", "gt", "ge"};

enum { LIT_NULL, LIT_INT, LIT_DBL, LIT_STR, LIT_BOOL };

typedef struct pred {
    int op, col, kind;
    int64_t i;
    double d;
    const char *s; /* into the parsed filter */
    size_t slen;
} pred;

typedef struct cscan {
    char *path;
    int64_t off, len;
    int infer;
    int all_cols; /* columns = () */
    int *sel;
    int nsel;
    pred *preds;
    int npreds;
    rel_sx *filter;
    void (*add_counter)(void *ctx, const char *name, int64_t delta);
    void *ctx;
} cscan;

static int bad_param(ember_error *err, const char *param, const char *what,
                     const char *detail)
{
    rel_host->seterr(err, EMBER_EINVAL, "rel.col_scan: parameter %s: %s%s%s",
                     param, what, detail && *detail ? ": " : "",
                     detail ? detail : "");
    return EMBER_EINVAL;
}

/* columns: ( i ... ) */
static int parse_columns(cscan *s, const char *text, ember_error *err)
{
    ember_error e2 = {0, ""};
    rel_sx *x = rel_sx_parse(text, &e2);
    int rc = 0;
    if (!x)
        return bad_param(err, "columns", "not an S-expression", e2.msg);
    if (x->kind != SX_LIST) {
        rel_sx_free(x);
        return bad_param(err, "columns", "want a list of column indices", text);
    }
    s->all_cols = x->n == 0;
    s->nsel = x->n;
    s->sel = calloc(x->n ? (size_t)x->n : 1, sizeof *s->sel);
    if (!s->sel)
        rc = bad_param(err, "columns", "out of memory", NULL);
    if (!rc && rel_sx_indices(x, 65535, s->sel))
        rc =
            bad_param(err, "columns", "want non-negative column indices", text);
    rel_sx_free(x);
    return rc;
}

static int parse_lit(const rel_sx *l, pred *p)
{
    const rel_sx *v;
    int t;
    if (!rel_sx_head(l, "lit") || l->n != 3 || l->items[1]->kind != SX_SYM)
        return -1;
    v = l->items[2];
    t = rel_type_from_name(l->items[1]->s, strlen(l->items[1]->s));
    if (rel_sx_is(v, "null") || t == EMBER_TYPE_NULL) {
        p->kind = LIT_NULL;
        return 0;
    }
    switch (t) {
    case EMBER_TYPE_BOOL:
        p->kind = LIT_BOOL;
        if (rel_sx_is(v, "true") || (v->kind == SX_INT && v->i == 1))
            p->i = 1;
        else if (rel_sx_is(v, "false") || (v->kind == SX_INT && v->i == 0))
            p->i = 0;
        else
            return -1;
        return 0;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_DATE32:
    case EMBER_TYPE_TIMESTAMP:
    case EMBER_TYPE_DOUBLE:
        if (v->kind == SX_INT) {
            p->kind = LIT_INT;
            p->i = v->i;
            p->d = v->d;
        } else if (v->kind == SX_NUM) {
            p->kind = LIT_DBL;
            p->d = v->d;
        } else {
            return -1;
        }
        return 0;
    case EMBER_TYPE_STRING:
    case EMBER_TYPE_BINARY:
        if (v->kind != SX_STR)
            return -1;
        p->kind = LIT_STR;
        p->s = v->s;
        p->slen = v->len;
        return 0;
    default:
        return -1;
    }
}

/* filter: ( (op col (lit T V)) ... ), also one bare predicate or (and ...) */
static int parse_filter(cscan *s, const char *text, ember_error *err)
{
    ember_error e2 = {0, ""};
    rel_sx *x = rel_sx_parse(text, &e2);
    const rel_sx *const *items;
    int n, first = 0;
    if (!x)
        return bad_param(err, "filter", "not an S-expression", e2.msg);
    s->filter = x;
    if (x->kind != SX_LIST)
        return bad_param(err, "filter", "want a list of predicates", text);
    items = (const rel_sx *const *)x->items;
    n = x->n;
    if (n > 0 && x->items[0]->kind == SX_SYM) {
        if (rel_sx_is(x->items[0], "and")) {
            first = 1;
        } else { /* one bare predicate */
            items = (const rel_sx *const *)&s->filter;
            n = 1;
        }
    }
    s->preds = calloc(n ? (size_t)n : 1, sizeof *s->preds);
    if (!s->preds)
        return bad_param(err, "filter", "out of memory", NULL);
    for (int k = first; k < n; k++) {
        const rel_sx *q = items[k];
        pred *p = &s->preds[s->npreds];
        int op = -1;
        for (int o = 0; q->kind == SX_LIST && q->n == 3 && o < 6; o++)
            if (rel_sx_is(q->items[0], op_names[o]))
                op = o;
        if (op < 0 || q->items[1]->kind != SX_INT || q->items[1]->i < 0 ||
            q->items[1]->i > 65535)
            return bad_param(err, "filter",
                             "want (op column (lit T V)) with op one of eq "
                             "ne lt le gt ge",
                             text);
        p->op = op;
        p->col = (int)q->items[1]->i;
        if (parse_lit(q->items[2], p))
            return bad_param(err, "filter",
                             "bad literal, want (lit T V) with T boolean int "
                             "bigint double string date timestamp",
                             text);
        s->npreds++;
    }
    return 0;
}

static void scan_free(cscan *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->sel);
    free(s->preds);
    rel_sx_free(s->filter);
    free(s);
}

static int scan_parse(cscan *s, const ember_host *h, const ember_params *p,
                      ember_error *err)
{
    int rc = parse_columns(s, h->param_str(p, "columns"), err);
    if (!rc)
        rc = parse_filter(s, h->param_str(p, "filter"), err);
    return rc;
}

/* --- planning */

static int scan_plan(const ember_host *h, const ember_params *p,
                     int min_partitions, ember_split_list *out,
                     ember_error *err)
{
    const char *pattern = h->param_str(p, "path");
    int64_t maxb = h->param_int(p, "max_partition_bytes");
    cscan chk = {0};
    rel_flist f = {0};
    int rc;
    (void)min_partitions; /* row groups are the unit of work */
    if (maxb < 1)
        return bad_param(err, "max_partition_bytes", "must be positive", NULL);
    rc = scan_parse(&chk, h, p, err); /* fail early on bad parameters */
    free(chk.sel);
    free(chk.preds);
    rel_sx_free(chk.filter);
    if (rc)
        return rc;
    rc = rel_flist_expand(&f, pattern, ".ecol", "rel.col_scan", err);
    if (!rc && f.n == 0) {
        h->seterr(err, EMBER_ENOTFOUND, "rel.col_scan: no .ecol files in %s",
                  pattern);
        rc = EMBER_ENOTFOUND;
    }
    for (int i = 0; i < f.n && !rc; i++) {
        int64_t off = 0, size = f.sizes[i];
        do {
            int64_t len = size - off;
            /* keep a short tail with the last split (Hadoop's slop) */
            if ((double)len > (double)maxb * 1.1)
                len = maxb;
            rc = h->split_add(out, f.paths[i], off, len);
            off += len;
        } while (!rc && off < size);
        if (rc)
            h->seterr(err, rc, "rel.col_scan: out of memory");
    }
    rel_flist_free(&f);
    return rc;
}

/* --- running */

static int scan_open(const ember_host *h, const ember_params *p,
                     const ember_task_info *ti, void **state, ember_error *err)
{
    cscan *s = calloc(1, sizeof *s);
    const char *path = ti->split.path;
    int rc;
    if (!s) {
        h->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
        return EMBER_ENOMEM;
    }
    if ((rc = scan_parse(s, h, p, err)) != 0) {
        scan_free(s);
        return rc;
    }
    s->infer = h->param_bool(p, "infer");
    s->off = ti->split.offset;
    s->len = ti->split.length;
    if (!path || !*path) { /* no split: the whole file named by path */
        path = h->param_str(p, "path");
        s->off = 0;
        s->len = INT64_MAX;
    }
    if (!(s->path = strdup(path ? path : ""))) {
        scan_free(s);
        h->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
        return EMBER_ENOMEM;
    }
    if (ti->struct_size >= offsetof(ember_task_info, ctx) + sizeof(void *)) {
        s->add_counter = ti->add_counter;
        s->ctx = ti->ctx;
    }
    *state = s;
    return 0;
}

/* Compare a statistic with a literal: -1, 0, 1, or 2 when unordered. */
static int cmp_stat(const cfile *cf, int col, const cstat *st, int k,
                    const pred *p)
{
    ember_type t = cf->types[col];
    if (rel_type_varwidth(t)) {
        int r =
            bytes_cmp(st->s[k], st->slen[k], (const uint8_t *)p->s, p->slen);
        return r;
    }
    if (t == EMBER_TYPE_DOUBLE || p->kind == LIT_DBL) {
        long double a = t == EMBER_TYPE_DOUBLE ? (long double)st->d[k]
                                               : (long double)st->i[k];
        long double b =
            p->kind == LIT_DBL ? (long double)p->d : (long double)p->i;
        if (a != a || b != b)
            return 2;
        return (a > b) - (a < b);
    }
    return (st->i[k] > p->i) - (st->i[k] < p->i);
}

/* Can predicate p match no row of chunk ch?  1 = skip. */
static int pred_skips(const cfile *cf, const chunk *ch, const pred *p)
{
    const cstat *st = &ch->st;
    int hmin = st->flags & ST_MIN, hmax = st->flags & ST_MAX, lo, hi;
    if (p->kind == LIT_NULL)
        return 0;
    if (ch->nulls == ch->rows)
        return 1; /* every row is NULL: no comparison is true */
    lo = hmin ? cmp_stat(cf, p->col, st, 0, p) : 2;
    hi = hmax ? cmp_stat(cf, p->col, st, 1, p) : 2;
    switch (p->op) {
    case OP_EQ:
        return (lo != 2 && lo > 0) || (hi != 2 && hi < 0);
    case OP_NE: /* every value equals the literal */
        return lo == 0 && hi == 0 &&
               !(st->flags & (ST_MIN_TRUNC | ST_MAX_INEXACT));
    case OP_LT:
        return lo != 2 && lo >= 0;
    case OP_LE:
        return lo != 2 && lo > 0;
    case OP_GT:
        return hi != 2 && hi <= 0;
    case OP_GE:
        return hi != 2 && hi < 0;
    }
    return 0;
}

/* Check the predicates against the file's schema. */
static int check_preds(cscan *s, const cfile *cf, ember_error *err)
{
    for (int k = 0; k < s->npreds; k++) {
        pred *p = &s->preds[k];
        ember_type t;
        int ok;
        if (p->col >= cf->ncols) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_scan: parameter filter: column %d out "
                             "of range (%s has %d columns)",
                             p->col, cf->path, cf->ncols);
            return EMBER_EINVAL;
        }
        t = cf->types[p->col];
        switch (p->kind) {
        case LIT_NULL:
            ok = 1;
            break;
        case LIT_BOOL:
            ok = t == EMBER_TYPE_BOOL;
            break;
        case LIT_STR:
            ok = rel_type_varwidth(t);
            break;
        default:
            ok = is_intlike(t) || t == EMBER_TYPE_DOUBLE;
        }
        if (!ok) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_scan: parameter filter: predicate %d "
                             "compares column %d (%s, %s) with a literal of "
                             "another type",
                             k + 1, p->col, cf->names[p->col],
                             rel_type_name(t));
            return EMBER_EINVAL;
        }
    }
    return 0;
}

static int emit_schema(const cfile *cf, ember_emit_fn emit, void *ud,
                       ember_error *err)
{
    static const char *const names[2] = {"name", "type"};
    rel_col c[2];
    int rc = 0;
    relcol_init(&c[0], EMBER_TYPE_STRING);
    relcol_init(&c[1], EMBER_TYPE_STRING);
    for (int i = 0; i < cf->ncols && !rc; i++) {
        const char *tn = rel_type_name(cf->types[i]);
        rc = relcol_append_str(&c[0], cf->names[i], strlen(cf->names[i]));
        if (!rc)
            rc = relcol_append_str(&c[1], tn, strlen(tn));
    }
    if (rc)
        rel_host->seterr(err, rc, "rel.col_scan: out of memory");
    else
        rc = rel_emit(c, names, 2, emit, ud, err);
    relcol_free(&c[0]);
    relcol_free(&c[1]);
    return rc == EMBER_ESTOP ? 0 : rc;
}

static int scan_run(void *state, ember_emit_fn emit, void *ud, ember_error *err)
{
    cscan *s = state;
    cfile cf;
    int nsel = 0, rc, stop = 0;
    const int *sel;
    int *all = NULL;
    const char **names = NULL;
    rel_col *out = NULL;
    dchunk *dec = NULL;
    uint8_t *scratch = NULL;
    size_t scap = 0;
    int64_t skipped = 0;
    char *want = NULL; /* row groups to read */

    memset(&cf, 0, sizeof cf);
    cf.fd = -1;
    if ((rc = cfile_open(&cf, s->path, err)) != 0)
        goto out;
    if (s->infer) {
        rc = emit_schema(&cf, emit, ud, err);
        goto out;
    }
    nsel = s->all_cols ? cf.ncols : s->nsel;
    sel = s->sel;
    if (s->all_cols) {
        if (!(all = malloc((size_t)cf.ncols * sizeof *all)))
            goto oom;
        for (int i = 0; i < cf.ncols; i++)
            all[i] = i;
        sel = all;
    }
    for (int j = 0; j < nsel; j++)
        if (sel[j] >= cf.ncols) {
            rel_host->seterr(err, EMBER_EINVAL,
                             "rel.col_scan: parameter columns: column %d "
                             "out of range (%s has %d columns)",
                             sel[j], cf.path, cf.ncols);
            rc = EMBER_EINVAL;
            goto out;
        }
    if ((rc = check_preds(s, &cf, err)) != 0)
        goto out;
    names = calloc((size_t)nsel + 1, sizeof *names);
    out = calloc((size_t)nsel + 1, sizeof *out);
    dec = calloc((size_t)cf.ncols, sizeof *dec);
    want = calloc((size_t)cf.nrg + 1, 1);
    if (!names || !out || !dec || !want)
        goto oom;
    for (int j = 0; j < nsel; j++) {
        names[j] = cf.names[sel[j]];
        relcol_init(&out[j], cf.types[sel[j]]);
    }
    /* the row groups of this split, minus those the statistics rule out */
    for (uint32_t g = 0; g < cf.nrg; g++) {
        const chunk *row = &cf.chunks[(size_t)g * cf.ncols];
        int64_t first = (int64_t)row[0].offset;
        if (first < s->off || first - s->off >= s->len)
            continue;
        want[g] = 1;
        for (int k = 0; k < s->npreds; k++)
            if (pred_skips(&cf, &row[s->preds[k].col], &s->preds[k])) {
                want[g] = 0;
                skipped++;
                break;
            }
    }
    if (s->npreds > 0 && s->add_counter)
        s->add_counter(s->ctx, "row_groups_skipped", skipped);
    for (uint32_t g = 0; g < cf.nrg && !stop; g++) {
        int64_t rows = cf.rows[g], at = 0;
        if (!want[g])
            continue;
        for (int j = 0; j < nsel; j++) {
            int c = sel[j], dup = 0;
            for (int q = 0; q < j; q++)
                dup |= sel[q] == c;
            if (!dup &&
                (rc = read_chunk(&cf, g, c, &dec[c], &scratch, &scap, err)))
                goto out;
        }
        while (at < rows && nsel > 0) {
            int64_t k = EMIT_ROWS - out[0].n;
            if (k > rows - at)
                k = rows - at;
            for (int j = 0; j < nsel; j++)
                if ((rc = col_append_range(&out[j], &dec[sel[j]].v, at, k)))
                    goto oom;
            at += k;
            if (out[0].n >= EMIT_ROWS) {
                rc = rel_emit(out, names, nsel, emit, ud, err);
                if (rc == EMBER_ESTOP) {
                    rc = 0;
                    stop = 1;
                    break;
                }
                if (rc)
                    goto out;
            }
        }
    }
    if (!stop && nsel > 0 && out[0].n > 0) {
        rc = rel_emit(out, names, nsel, emit, ud, err);
        if (rc == EMBER_ESTOP)
            rc = 0;
    }
    goto out;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.col_scan: out of memory");
    rc = EMBER_ENOMEM;
out:
    for (int j = 0; out && j < nsel; j++)
        relcol_free(&out[j]);
    for (int i = 0; dec && i < cf.ncols; i++)
        free(dec[i].buf);
    free(out);
    free(dec);
    free(names);
    free(want);
    free(all);
    free(scratch);
    cfile_close(&cf);
    return rc;
}

static void scan_close(void *state)
{
    scan_free(state);
}

/* ---------------------------------------------------------- registration */

static const ember_op_desc colfile_ops[] = {
    {sizeof(ember_op_desc), "rel.col_write",
     "write batches as a columnar .ecol file per task", EMBER_OP_SINK,
     write_params, sizeof write_params / sizeof write_params[0], NULL,
     write_open, NULL, write_push, write_finish, write_close, NULL},
    {sizeof(ember_op_desc), "rel.col_scan",
     "read columnar .ecol files (column pruning, row-group skipping)",
     EMBER_OP_SOURCE, scan_params, sizeof scan_params / sizeof scan_params[0],
     scan_plan, scan_open, scan_run, NULL, NULL, scan_close, NULL},
};

/* Register rel.col_write and rel.col_scan (called from rel.c's init). */
int rel_register_colfile(ember_registry *reg, ember_error *err)
{
    return rel_register_ops(reg, colfile_ops,
                            sizeof colfile_ops / sizeof colfile_ops[0], err);
}
