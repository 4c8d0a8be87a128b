/*
 * ecol.c -- ember's own columnar file format (.ecol): writing a file's
 * header, chunks, footer and trailer, and reading them back with every
 * check (see ecol.h; used by rel.col_write and rel.col_scan, colfile.c).
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
 * Writing encodes one chunk at a time into reused raw and compressed
 * scratch buffers (LZ4 only when it shrinks the chunk) and keeps the
 * directory in memory until the footer.  Reading checks the footer in full
 * at open, then decodes one chunk at a time on request, checking its CRC,
 * its size, its validity bitmap against its null count and its offsets.
 *
 * State: only rel_host (rel.c) and constant tables; writers and readers
 * belong to one task thread.
 */
#include "ecol.h"

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
#define HEADER_LEN 8       /* "ECOL" + u32 version */
#define TRAILER_LEN 12     /* u32 footer length + "ECOL" + u32 version */
#define CHUNK_MIN_BYTES 30 /* footer bytes of a chunk without statistics */

enum { CODEC_NONE = 0, CODEC_LZ4 = 1 };

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

int ecol_supported_type(ember_type t)
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

/* ---------------------------------------------------------- statistics */

/* Min and max of the non-null values of v (NaNs are left out, and a chunk
 * holding a NaN gets no max: NaN sorts above everything in Spark). */
static void compute_stats(const ember_column *v, ecol_stat *st)
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
        st->flags = ECOL_ST_MIN | ECOL_ST_MAX;
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
            st->flags = ECOL_ST_MIN | (nan ? 0 : ECOL_ST_MAX);
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
            if (ecol_bytes_cmp(x, lx, d + o[imin],
                               (size_t)(o[imin + 1] - o[imin])) < 0)
                imin = i;
            else if (ecol_bytes_cmp(x, lx, d + o[imax],
                                    (size_t)(o[imax + 1] - o[imax])) > 0)
                imax = i;
        }
        /* min: a prefix is still a lower bound */
        s = d + o[imin];
        len = (size_t)(o[imin + 1] - o[imin]);
        st->flags |= ECOL_ST_MIN;
        if (len > ECOL_STAT_LEN) {
            len = ECOL_STAT_LEN;
            st->flags |= ECOL_ST_MIN_TRUNC;
        }
        memcpy(st->s[0], s, len);
        st->slen[0] = (uint8_t)len;
        /* max: a prefix is not an upper bound; bump its last byte that can
         * be bumped and cut after it, or store no max at all */
        s = d + o[imax];
        len = (size_t)(o[imax + 1] - o[imax]);
        if (len <= ECOL_STAT_LEN) {
            memcpy(st->s[1], s, len);
            st->slen[1] = (uint8_t)len;
            st->flags |= ECOL_ST_MAX;
        } else {
            int k = ECOL_STAT_LEN - 1;
            while (k >= 0 && s[k] == 0xff)
                k--;
            if (k >= 0) {
                memcpy(st->s[1], s, (size_t)k + 1);
                st->s[1][k]++;
                st->slen[1] = (uint8_t)(k + 1);
                st->flags |= ECOL_ST_MAX | ECOL_ST_MAX_INEXACT;
            }
        }
        return;
    }
    }
}

static void put_stat(wbuf *b, ember_type t, const ecol_stat *st, int k)
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

static int get_stat(rbuf *r, ember_type t, ecol_stat *st, int k)
{
    if (rel_type_varwidth(t)) {
        const uint8_t *q;
        st->slen[k] = (uint8_t)rb_le(r, 1);
        if (st->slen[k] > ECOL_STAT_LEN)
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

/* ------------------------------------------------------------- writing */

static int io_fail(const ecol_writer *w, ember_error *err)
{
    rel_host->seterr(err, EMBER_EIO, "rel.col_write: cannot write %s: %s",
                     w->path, strerror(errno));
    return EMBER_EIO;
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

int ecol_writer_begin(ecol_writer *w, FILE *f, const char *path, int ncols,
                      char *const *names, const ember_type *types,
                      ember_error *err)
{
    static const uint8_t header[HEADER_LEN] = {'E',          'C', 'O', 'L',
                                               ECOL_VERSION, 0,   0,   0};
    w->f = f;
    w->path = path;
    w->ncols = ncols;
    w->names = names;
    w->types = types;
    if (fwrite(header, 1, HEADER_LEN, w->f) != HEADER_LEN)
        return io_fail(w, err);
    w->pos = HEADER_LEN;
    return 0;
}

/* Encode, compress and write the chunk of column i of the current row
 * group; fill ch. */
static int write_chunk(ecol_writer *w, rel_col *c, int i, ecol_chunk *ch,
                       ember_error *err)
{
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

int ecol_writer_add_rg(ecol_writer *w, rel_col *cols, ember_error *err)
{
    uint32_t rows = (uint32_t)cols[0].n;
    int rc;
    if (rows == 0)
        return 0;
    if (w->nrg == w->cap_rg) {
        uint32_t nc = w->cap_rg ? w->cap_rg * 2 : 8;
        ecol_chunk *nch;
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
        rc = write_chunk(w, &cols[i], i,
                         &w->chunks[(size_t)w->nrg * w->ncols + i], err);
        if (rc)
            return rc;
        relcol_reset(&cols[i]);
    }
    w->rows[w->nrg++] = rows;
    w->total += rows;
    return 0;
oom:
    rel_host->seterr(err, EMBER_ENOMEM, "rel.col_write: out of memory");
    return EMBER_ENOMEM;
}

int ecol_writer_finish(ecol_writer *w, ember_error *err)
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
            const ecol_chunk *ch = &w->chunks[(size_t)g * w->ncols + i];
            wb_u64(&b, ch->offset);
            wb_u32(&b, ch->csize);
            wb_u32(&b, ch->usize);
            wb_u32(&b, ch->crc);
            wb_u32(&b, ch->rows);
            wb_u32(&b, ch->nulls);
            wb_u8(&b, ch->codec);
            wb_u8(&b, ch->st.flags);
            if (ch->st.flags & ECOL_ST_MIN)
                put_stat(&b, w->types[i], &ch->st, 0);
            if (ch->st.flags & ECOL_ST_MAX)
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

void ecol_writer_free(ecol_writer *w)
{
    free(w->chunks);
    free(w->rows);
    free(w->raw);
    free(w->comp);
    w->chunks = NULL;
    w->rows = NULL;
    w->raw = w->comp = NULL;
}

/* ------------------------------------------------------------- reading */

void ecol_close(ecol_file *cf)
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

static int corrupt(const ecol_file *cf, ember_error *err, const char *what)
{
    rel_host->seterr(err, EMBER_ECORRUPT,
                     "rel.col_scan: %s: corrupt .ecol file: %s", cf->path,
                     what);
    return EMBER_ECORRUPT;
}

static int read_at(const ecol_file *cf, void *buf, size_t n, int64_t off,
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
static int parse_footer(ecol_file *cf, rbuf *r, int64_t footer_start,
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
        if (t < 0 || !ecol_supported_type((ember_type)t))
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
        if (rows < 1 || rows > ECOL_MAX_RG_ROWS)
            return corrupt(cf, err, "bad row count of a row group");
        cf->rows[g] = rows;
        sum += rows;
        for (uint32_t i = 0; i < n; i++) {
            ecol_chunk *ch = &cf->chunks[(size_t)g * n + i];
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
                ((ch->st.flags & (ECOL_ST_MIN_TRUNC | ECOL_ST_MAX_INEXACT)) &&
                 !rel_type_varwidth(t)) ||
                ((ch->st.flags & ECOL_ST_MIN_TRUNC) &&
                 !(ch->st.flags & ECOL_ST_MIN)) ||
                ((ch->st.flags & ECOL_ST_MAX_INEXACT) &&
                 !(ch->st.flags & ECOL_ST_MAX)) ||
                (ch->nulls == rows &&
                 (ch->st.flags & (ECOL_ST_MIN | ECOL_ST_MAX))))
                return corrupt(cf, err, "bad statistics flags");
            if (((ch->st.flags & ECOL_ST_MIN) && get_stat(r, t, &ch->st, 0)) ||
                ((ch->st.flags & ECOL_ST_MAX) && get_stat(r, t, &ch->st, 1)))
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

int ecol_open(ecol_file *cf, const char *path, ember_error *err)
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

int ecol_read_chunk(const ecol_file *cf, uint32_t g, int i, ecol_dchunk *d,
                    uint8_t **scratch, size_t *scap, ember_error *err)
{
    const ecol_chunk *ch = &cf->chunks[(size_t)g * cf->ncols + i];
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
