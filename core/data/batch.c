/*
 * batch.c -- columnar batches.
 *
 * A batch owns its columns; each column owns a validity bitmap (allocated
 * lazily on the first null), int32 offsets for variable-width types and a
 * data buffer.  The number of rows is that of the longest column; builders
 * keep columns the same length.  One thread at a time.
 */
#include "batch.h"

#include "util/buf.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

typedef struct column {
    char *name;
    ember_type type;
    int64_t length;
    int64_t null_count;
    buf validity; /* empty until the first null */
    buf offsets;  /* int32, length + 1 entries for var-width */
    buf data;
} column;

struct ember_batch {
    column *cols;
    int ncols;
};

static int varwidth(ember_type t)
{
    return t == EMBER_TYPE_STRING || t == EMBER_TYPE_BINARY ||
           t == EMBER_TYPE_LUAVALUE;
}

static size_t fixed_width(ember_type t)
{
    switch (t) {
    case EMBER_TYPE_BOOL:
        return 1;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32:
        return 4;
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_DOUBLE:
    case EMBER_TYPE_TIMESTAMP:
        return 8;
    default:
        return 0;
    }
}

ember_batch *batch_new(void)
{
    return calloc(1, sizeof(ember_batch));
}

void batch_destroy(ember_batch **bp)
{
    ember_batch *b = bp ? *bp : NULL;
    if (!b)
        return;
    for (int i = 0; i < b->ncols; i++) {
        free(b->cols[i].name);
        buf_free(&b->cols[i].validity);
        buf_free(&b->cols[i].offsets);
        buf_free(&b->cols[i].data);
    }
    free(b->cols);
    free(b);
    *bp = NULL;
}

int batch_add_column(ember_batch *b, const char *name, ember_type t)
{
    column *nc = realloc(b->cols, (size_t)(b->ncols + 1) * sizeof *nc);
    column *c;
    if (!nc)
        return EMBER_ENOMEM;
    b->cols = nc;
    c = &b->cols[b->ncols];
    memset(c, 0, sizeof *c);
    c->name = strdup(name ? name : "value");
    if (!c->name)
        return EMBER_ENOMEM;
    c->type = t;
    buf_init(&c->validity);
    buf_init(&c->offsets);
    buf_init(&c->data);
    if (varwidth(t)) {
        int32_t zero = 0;
        if (buf_put(&c->offsets, &zero, 4)) {
            free(c->name);
            return EMBER_ENOMEM;
        }
    }
    return b->ncols++;
}

static column *col_get(ember_batch *b, int i)
{
    return (i >= 0 && i < b->ncols) ? &b->cols[i] : NULL;
}

/* Mark row c->length valid or not; grows the bitmap. */
static int set_valid(column *c, int valid)
{
    int64_t row = c->length;
    if (valid && c->validity.len == 0)
        return 0; /* still all valid */
    if (c->validity.len == 0 && !valid) {
        /* materialise: all previous rows valid */
        size_t nbytes = (size_t)(row / 8 + 1);
        if (buf_reserve(&c->validity, nbytes + 64))
            return EMBER_ENOMEM;
        memset(c->validity.data, 0xff, nbytes);
        c->validity.len = nbytes;
    }
    while ((size_t)(row / 8) >= c->validity.len)
        if (buf_put_u8(&c->validity, 0xff))
            return EMBER_ENOMEM;
    if (valid)
        c->validity.data[row / 8] |= (uint8_t)(1u << (row % 8));
    else
        c->validity.data[row / 8] &= (uint8_t) ~(1u << (row % 8));
    return 0;
}

int batch_append_str(ember_batch *b, int col, const char *s, size_t len)
{
    column *c = col_get(b, col);
    int32_t off;
    if (!c || !varwidth(c->type))
        return EMBER_EINVAL;
    if (c->data.len + len > INT32_MAX)
        return EMBER_ETOOBIG;
    if (buf_put(&c->data, s, len))
        return EMBER_ENOMEM;
    off = (int32_t)c->data.len;
    if (buf_put(&c->offsets, &off, 4) || set_valid(c, 1))
        return EMBER_ENOMEM;
    c->length++;
    return 0;
}

int batch_append_null(ember_batch *b, int col)
{
    column *c = col_get(b, col);
    if (!c)
        return EMBER_EINVAL;
    if (set_valid(c, 0))
        return EMBER_ENOMEM;
    if (varwidth(c->type)) {
        int32_t off = (int32_t)c->data.len;
        if (buf_put(&c->offsets, &off, 4))
            return EMBER_ENOMEM;
    } else {
        uint8_t zero[8] = {0};
        if (buf_put(&c->data, zero, fixed_width(c->type)))
            return EMBER_ENOMEM;
    }
    c->null_count++;
    c->length++;
    return 0;
}

int batch_append_i64(ember_batch *b, int col, int64_t v)
{
    column *c = col_get(b, col);
    int rc;
    if (!c)
        return EMBER_EINVAL;
    switch (c->type) {
    case EMBER_TYPE_INT64:
    case EMBER_TYPE_TIMESTAMP:
        rc = buf_put(&c->data, &v, 8);
        break;
    case EMBER_TYPE_INT32:
    case EMBER_TYPE_DATE32: {
        int32_t x = (int32_t)v;
        rc = buf_put(&c->data, &x, 4);
        break;
    }
    case EMBER_TYPE_BOOL: {
        uint8_t x = v != 0;
        rc = buf_put(&c->data, &x, 1);
        break;
    }
    default:
        return EMBER_EINVAL;
    }
    if (rc || set_valid(c, 1))
        return EMBER_ENOMEM;
    c->length++;
    return 0;
}

int batch_append_f64(ember_batch *b, int col, double v)
{
    column *c = col_get(b, col);
    if (!c || c->type != EMBER_TYPE_DOUBLE)
        return EMBER_EINVAL;
    if (buf_put(&c->data, &v, 8) || set_valid(c, 1))
        return EMBER_ENOMEM;
    c->length++;
    return 0;
}

void batch_clear(ember_batch *b)
{
    for (int i = 0; i < b->ncols; i++) {
        column *c = &b->cols[i];
        c->length = c->null_count = 0;
        buf_reset(&c->validity);
        buf_reset(&c->data);
        buf_reset(&c->offsets);
        if (varwidth(c->type)) {
            int32_t zero = 0;
            buf_put(&c->offsets, &zero, 4);
        }
    }
}

int64_t batch_num_rows(const ember_batch *b)
{
    int64_t n = 0;
    for (int i = 0; i < b->ncols; i++)
        if (b->cols[i].length > n)
            n = b->cols[i].length;
    return n;
}

int batch_num_columns(const ember_batch *b)
{
    return b->ncols;
}

int batch_column(const ember_batch *b, int i, ember_column *out)
{
    const column *c;
    if (i < 0 || i >= b->ncols)
        return EMBER_EINVAL;
    c = &b->cols[i];
    out->type = c->type;
    out->length = c->length;
    out->null_count = c->null_count;
    out->validity = c->validity.len ? c->validity.data : NULL;
    out->offsets = varwidth(c->type) ? (const int32_t *)c->offsets.data : NULL;
    out->data = c->data.data;
    return 0;
}

const char *batch_column_name(const ember_batch *b, int i)
{
    return (i >= 0 && i < b->ncols) ? b->cols[i].name : NULL;
}

size_t batch_bytes(const ember_batch *b)
{
    size_t n = 0;
    for (int i = 0; i < b->ncols; i++)
        n += b->cols[i].data.cap + b->cols[i].offsets.cap +
             b->cols[i].validity.cap;
    return n;
}

/* ------------------------------------------------ whole columns, codec */

static int64_t count_nulls(const uint8_t *validity, int64_t n)
{
    int64_t valid = 0;
    if (!validity)
        return 0;
    for (int64_t i = 0; i < n / 8; i++)
        valid += __builtin_popcount(validity[i]);
    for (int64_t i = n / 8 * 8; i < n; i++)
        valid += (validity[i / 8] >> (i % 8)) & 1;
    return n - valid;
}

int batch_add_column_data(ember_batch *b, const char *name, ember_type t,
                          int64_t length, const uint8_t *validity,
                          const int32_t *offsets, const void *data)
{
    int64_t rows = batch_num_rows(b);
    int ci;
    column *c;
    size_t nbytes;
    if (length < 0 || length > INT32_MAX || (b->ncols > 0 && rows != length))
        return EMBER_EINVAL;
    if (t < EMBER_TYPE_NULL || t > EMBER_TYPE_LUAVALUE)
        return EMBER_EINVAL;
    if (varwidth(t) && length > 0 && (!offsets || offsets[0] != 0))
        return EMBER_EINVAL;
    ci = batch_add_column(b, name, t);
    if (ci < 0)
        return ci;
    c = &b->cols[ci];
    c->length = length;
    if (varwidth(t)) {
        nbytes = length > 0 ? (size_t)offsets[length] : 0;
        buf_reset(&c->offsets);
        if (length > 0 ? buf_put(&c->offsets, offsets, (size_t)(length + 1) * 4)
                       : buf_put(&c->offsets, &(int32_t){0}, 4))
            goto oom;
    } else {
        nbytes = (size_t)length * fixed_width(t);
    }
    if (nbytes && buf_put(&c->data, data, nbytes))
        goto oom;
    c->null_count =
        t == EMBER_TYPE_NULL ? length : count_nulls(validity, length);
    if (c->null_count > 0 && t == EMBER_TYPE_NULL) {
        /* every row null: an all-zero bitmap */
        size_t vb = (size_t)(length + 7) / 8;
        if (buf_reserve(&c->validity, vb))
            goto oom;
        memset(c->validity.data, 0, vb);
        c->validity.len = vb;
    } else if (c->null_count > 0) {
        size_t vb = (size_t)(length + 7) / 8;
        if (buf_put(&c->validity, validity, vb))
            goto oom;
        if (length % 8) /* bits past the end stay set, as set_valid does */
            c->validity.data[vb - 1] |= (uint8_t)(0xff << (length % 8));
    }
    return ci;
oom:
    b->ncols--;
    free(c->name);
    buf_free(&c->validity);
    buf_free(&c->offsets);
    buf_free(&c->data);
    return EMBER_ENOMEM;
}

#define BATCH_MAGIC 0x45u /* 'E' */
#define BATCH_VERSION 1u

/* Layout (little-endian): u8 magic, u8 version, varint ncols, varint nrows,
 * then per column: lstr name, u8 type, u8 has_validity, [validity
 * (nrows+7)/8 bytes], [var-width: (nrows+1) u32 offsets], lstr data. */
int batch_encode(const ember_batch *b, buf *out)
{
    int64_t n = batch_num_rows(b);
    buf_put_u8(out, BATCH_MAGIC);
    buf_put_u8(out, BATCH_VERSION);
    buf_put_varint(out, (uint64_t)b->ncols);
    buf_put_varint(out, (uint64_t)n);
    for (int i = 0; i < b->ncols; i++) {
        const column *c = &b->cols[i];
        size_t nb =
            varwidth(c->type) ? c->data.len : (size_t)n * fixed_width(c->type);
        if (c->length != n)
            return EMBER_EINVAL;
        buf_put_str(out, c->name);
        buf_put_u8(out, (uint8_t)c->type);
        buf_put_u8(out, c->null_count > 0);
        if (c->null_count > 0)
            buf_put(out, c->validity.data, (size_t)(n + 7) / 8);
        if (varwidth(c->type))
            buf_put(out, c->offsets.data, (size_t)(n + 1) * 4);
        buf_put_lstr(out, c->data.data, nb);
    }
    return out->oom ? EMBER_ENOMEM : 0;
}

int batch_decode(const void *p, size_t len, ember_batch **out, ember_error *err)
{
    rd r;
    uint64_t ncols, nrows;
    ember_batch *b = NULL;
    rd_init(&r, p, len);
    *out = NULL;
    if (rd_u8(&r) != BATCH_MAGIC || rd_u8(&r) != BATCH_VERSION || !rd_ok(&r))
        goto corrupt;
    ncols = rd_varint(&r);
    nrows = rd_varint(&r);
    if (!rd_ok(&r) || ncols > 65536 || nrows > INT32_MAX)
        goto corrupt;
    b = batch_new();
    if (!b)
        goto oom;
    for (uint64_t i = 0; i < ncols; i++) {
        char *name = rd_strdup(&r);
        unsigned type = rd_u8(&r), hasv = rd_u8(&r);
        const uint8_t *valid = NULL;
        const int32_t *offs = NULL;
        const void *data;
        size_t dlen;
        int rc;
        if (!name || !rd_ok(&r) || type > EMBER_TYPE_LUAVALUE || hasv > 1) {
            free(name);
            goto corrupt;
        }
        /* a NULL column carries its (all-zero) bitmap, so that the rows a
         * record claims are paid for by its bytes */
        if (type == EMBER_TYPE_NULL && nrows > 0 && !hasv) {
            free(name);
            goto corrupt;
        }
        if (hasv)
            valid = rd_bytes(&r, (size_t)(nrows + 7) / 8);
        if (varwidth((ember_type)type))
            offs = rd_bytes(&r, (size_t)(nrows + 1) * 4);
        data = rd_lstr(&r, &dlen);
        if (!rd_ok(&r)) {
            free(name);
            goto corrupt;
        }
        if (varwidth((ember_type)type)) {
            int32_t prev = 0, o;
            for (uint64_t k = 0; k <= nrows; k++) {
                memcpy(&o, (const uint8_t *)offs + k * 4, 4);
                if ((k == 0 && o != 0) || o < prev) {
                    free(name);
                    goto corrupt;
                }
                prev = o;
            }
            if ((size_t)prev != dlen) {
                free(name);
                goto corrupt;
            }
        } else if (dlen != nrows * fixed_width((ember_type)type)) {
            free(name);
            goto corrupt;
        }
        /* offsets may be unaligned in the record: copy them aligned */
        if (offs && ((uintptr_t)offs % 4)) {
            int32_t *al = malloc((size_t)(nrows + 1) * 4);
            if (!al) {
                free(name);
                goto oom;
            }
            memcpy(al, offs, (size_t)(nrows + 1) * 4);
            rc = batch_add_column_data(b, name, (ember_type)type,
                                       (int64_t)nrows, valid, al, data);
            free(al);
        } else {
            rc = batch_add_column_data(b, name, (ember_type)type,
                                       (int64_t)nrows, valid, offs, data);
        }
        free(name);
        if (rc == EMBER_ENOMEM)
            goto oom;
        if (rc < 0)
            goto corrupt;
    }
    if (rd_left(&r) != 0)
        goto corrupt;
    *out = b;
    return 0;
corrupt:
    batch_destroy(&b);
    if (err) {
        err->code = EMBER_ECORRUPT;
        snprintf(err->msg, sizeof err->msg, "corrupt batch record (%zu bytes)",
                 len);
    }
    return EMBER_ECORRUPT;
oom:
    batch_destroy(&b);
    if (err) {
        err->code = EMBER_ENOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory decoding a batch");
    }
    return EMBER_ENOMEM;
}

ember_batch *batch_clone(const ember_batch *b)
{
    ember_batch *c = batch_new();
    if (!c)
        return NULL;
    for (int i = 0; i < b->ncols; i++) {
        ember_column v;
        batch_column(b, i, &v);
        if (batch_add_column_data(c, b->cols[i].name, v.type, v.length,
                                  v.validity, v.offsets, v.data) < 0) {
            batch_destroy(&c);
            return NULL;
        }
    }
    return c;
}

ember_batch *batch_gather(const ember_batch *b, int ncols, const int32_t *sel,
                          int64_t n)
{
    ember_batch *c = batch_new();
    if (!c)
        return NULL;
    if (ncols > b->ncols)
        ncols = b->ncols;
    for (int i = 0; i < ncols; i++) {
        const column *s = &b->cols[i];
        column *d;
        int ci = batch_add_column(c, s->name, s->type);
        if (ci < 0)
            goto fail;
        d = &c->cols[ci];
        if (varwidth(s->type)) {
            const int32_t *so = (const int32_t *)s->offsets.data;
            size_t bytes = 0;
            int32_t off = 0;
            for (int64_t k = 0; k < n; k++)
                bytes += (size_t)(so[sel[k] + 1] - so[sel[k]]);
            if (bytes > INT32_MAX || buf_reserve(&d->data, bytes) ||
                buf_reserve(&d->offsets, (size_t)n * 4))
                goto fail;
            for (int64_t k = 0; k < n; k++) {
                size_t l = (size_t)(so[sel[k] + 1] - so[sel[k]]);
                if (l) /* all-empty strings: no data buffer at all */
                    memcpy(d->data.data + off, s->data.data + so[sel[k]], l);
                off += (int32_t)l;
                memcpy(d->offsets.data + 4 + k * 4, &off, 4);
            }
            d->data.len = (size_t)off;
            d->offsets.len = (size_t)(n + 1) * 4;
        } else {
            size_t w = fixed_width(s->type);
            if (w) {
                if (buf_reserve(&d->data, (size_t)n * w))
                    goto fail;
                for (int64_t k = 0; k < n; k++)
                    memcpy(d->data.data + k * (int64_t)w,
                           s->data.data + (size_t)sel[k] * w, w);
                d->data.len = (size_t)n * w;
            }
        }
        d->length = n;
        if (s->null_count > 0 || s->type == EMBER_TYPE_NULL) {
            size_t vb = (size_t)(n + 7) / 8 + 1;
            if (buf_reserve(&d->validity, vb))
                goto fail;
            memset(d->validity.data, 0xff, vb);
            d->validity.len = vb;
            for (int64_t k = 0; k < n; k++) {
                int64_t r = sel[k];
                int valid = s->type != EMBER_TYPE_NULL &&
                            (!s->validity.len ||
                             ((s->validity.data[r / 8] >> (r % 8)) & 1));
                if (!valid) {
                    d->validity.data[k / 8] &= (uint8_t) ~(1u << (k % 8));
                    d->null_count++;
                }
            }
            if (d->null_count == 0)
                buf_reset(&d->validity);
        }
    }
    return c;
fail:
    batch_destroy(&c);
    return NULL;
}
