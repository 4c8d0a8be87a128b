/*
 * buf.h -- growable byte buffers and bounds-checked readers.
 *
 * Every encoder in ember writes into a `buf`; every decoder of bytes that
 * crossed a process boundary reads through a `rd`, which never reads past
 * its end: a short or malformed input makes the reader "failed" (sticky) and
 * every later read returns zero values, so a decoder checks rd_ok() once at
 * the end.  Integers are little-endian; varints are LEB128 (u64), zigzag for
 * signed.
 *
 * Threads: none; a buf or rd belongs to one thread.
 */
#ifndef EMBER_UTIL_BUF_H
#define EMBER_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int oom; /* sticky: an allocation failed */
} buf;

void buf_init(buf *b);
void buf_free(buf *b);                 /* frees data, re-inits */
void buf_reset(buf *b);                /* len = 0, keeps memory */
int buf_reserve(buf *b, size_t extra); /* 0 or EMBER_ENOMEM */
int buf_put(buf *b, const void *p, size_t n);
int buf_put_u8(buf *b, uint8_t v);
int buf_put_u32(buf *b, uint32_t v);
int buf_put_u64(buf *b, uint64_t v);
int buf_put_f64(buf *b, double v);
int buf_put_varint(buf *b, uint64_t v);
int buf_put_svarint(buf *b, int64_t v);
int buf_put_str(buf *b, const char *s);            /* varint len + bytes */
int buf_put_lstr(buf *b, const void *s, size_t n); /* varint len + bytes */
/* Take ownership of the bytes: returns data (caller frees), resets b. */
uint8_t *buf_steal(buf *b, size_t *len);
void buf_put_u32_at(buf *b, size_t off, uint32_t v);

typedef struct rd {
    const uint8_t *p;
    const uint8_t *end;
    int failed;
} rd;

void rd_init(rd *r, const void *p, size_t n);
int rd_ok(const rd *r); /* 1 if nothing failed */
size_t rd_left(const rd *r);
uint8_t rd_u8(rd *r);
uint32_t rd_u32(rd *r);
uint64_t rd_u64(rd *r);
double rd_f64(rd *r);
uint64_t rd_varint(rd *r);
int64_t rd_svarint(rd *r);
/* Borrow n bytes; NULL (and failed) if fewer remain. */
const void *rd_bytes(rd *r, size_t n);
/* Borrow a length-prefixed string; *n receives its length.  Fails if the
 * length exceeds what remains. */
const char *rd_lstr(rd *r, size_t *n);
/* Copy a length-prefixed string into a fresh NUL-terminated heap string. */
char *rd_strdup(rd *r);

#endif
