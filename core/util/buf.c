/*
 * buf.c -- growable byte buffers and bounds-checked readers (see buf.h).
 */
#include "buf.h"

#include <ember/plugin.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void buf_free(buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(buf *b)
{
    b->len = 0;
}

int buf_reserve(buf *b, size_t extra)
{
    size_t need, ncap;
    uint8_t *p;
    if (b->oom)
        return EMBER_ENOMEM;
    if (extra > SIZE_MAX - b->len)
        goto fail;
    need = b->len + extra;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    p = realloc(b->data, ncap);
    if (!p)
        goto fail;
    b->data = p;
    b->cap = ncap;
    return 0;
fail:
    b->oom = 1;
    return EMBER_ENOMEM;
}

int buf_put(buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return EMBER_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_put_u8(buf *b, uint8_t v)
{
    return buf_put(b, &v, 1);
}

int buf_put_u32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    return buf_put(b, x, 4);
}

void buf_put_u32_at(buf *b, size_t off, uint32_t v)
{
    if (off + 4 > b->len)
        return;
    b->data[off] = (uint8_t)v;
    b->data[off + 1] = (uint8_t)(v >> 8);
    b->data[off + 2] = (uint8_t)(v >> 16);
    b->data[off + 3] = (uint8_t)(v >> 24);
}

int buf_put_u64(buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    return buf_put(b, x, 8);
}

int buf_put_f64(buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return buf_put_u64(b, u);
}

int buf_put_varint(buf *b, uint64_t v)
{
    uint8_t x[10];
    int n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        x[n++] = c | (v ? 0x80 : 0);
    } while (v);
    return buf_put(b, x, (size_t)n);
}

int buf_put_svarint(buf *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    return buf_put_varint(b, z);
}

int buf_put_lstr(buf *b, const void *s, size_t n)
{
    if (buf_put_varint(b, n))
        return EMBER_ENOMEM;
    return buf_put(b, s, n);
}

int buf_put_str(buf *b, const char *s)
{
    return buf_put_lstr(b, s ? s : "", s ? strlen(s) : 0);
}

uint8_t *buf_steal(buf *b, size_t *len)
{
    uint8_t *d = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
    return d;
}

void rd_init(rd *r, const void *p, size_t n)
{
    static const uint8_t empty[1];
    r->p = p ? (const uint8_t *)p : empty;
    r->end = r->p + (p ? n : 0);
    r->failed = 0;
}

int rd_ok(const rd *r)
{
    return !r->failed;
}

size_t rd_left(const rd *r)
{
    return r->failed ? 0 : (size_t)(r->end - r->p);
}

const void *rd_bytes(rd *r, size_t n)
{
    const uint8_t *p;
    if (r->failed || (size_t)(r->end - r->p) < n) {
        r->failed = 1;
        return NULL;
    }
    p = r->p;
    r->p += n;
    return p;
}

uint8_t rd_u8(rd *r)
{
    const uint8_t *p = rd_bytes(r, 1);
    return p ? p[0] : 0;
}

uint32_t rd_u32(rd *r)
{
    const uint8_t *p = rd_bytes(r, 4);
    if (!p)
        return 0;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint64_t rd_u64(rd *r)
{
    const uint8_t *p = rd_bytes(r, 8);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

double rd_f64(rd *r)
{
    uint64_t u = rd_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

uint64_t rd_varint(rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t c = rd_u8(r);
        if (r->failed)
            return 0;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    r->failed = 1; /* over-long varint */
    return 0;
}

int64_t rd_svarint(rd *r)
{
    uint64_t z = rd_varint(r);
    return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

const char *rd_lstr(rd *r, size_t *n)
{
    uint64_t len = rd_varint(r);
    const char *p;
    if (r->failed || len > (uint64_t)(r->end - r->p)) {
        r->failed = 1;
        *n = 0;
        return NULL;
    }
    p = rd_bytes(r, (size_t)len);
    *n = (size_t)len;
    return p;
}

char *rd_strdup(rd *r)
{
    size_t n;
    const char *p = rd_lstr(r, &n);
    char *s;
    if (!p)
        return NULL;
    s = malloc(n + 1);
    if (!s) {
        r->failed = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}
