/*
 * blockcodec.c -- frame encoder/decoder (see blockcodec.h).
 *
 * Owns the frame format of docs/formats.md.  Encoding reserves room for the
 * header plus LZ4_compressBound(len), compresses in place behind the header
 * and falls back to a raw copy when LZ4 does not shrink the data.  Decoding
 * validates the whole header before it allocates anything: a compressed
 * body must be non-empty and cannot expand more than 255-fold (LZ4's format
 * limit), a raw body must be exactly raw_len bytes, and the body must be
 * present in the input.  Only then does it reserve raw_len bytes in out,
 * decompress with LZ4_decompress_safe (bounds-checked on both sides) and
 * compare the checksum (CRC-32C, util/crc32c.h).
 *
 * Threads: no state; safe from any thread.
 */
#include "codec/blockcodec.h"

#include "util/crc32c.h"
#include "util/err.h"

#include <lz4.h>
#include <string.h>

/* LZ4 emits at most 255 output bytes per input byte (a 0xFF length
 * extension byte), so a valid compressed body of n bytes decodes to at most
 * 255 * n bytes. */
#define LZ4_MAX_RATIO 255u

/* ------------------------------------------------------------------ header */

typedef struct header {
    uint32_t magic;
    uint8_t version;
    uint8_t flags;
    uint16_t reserved;
    uint32_t raw_len;
    uint32_t stored_len;
    uint32_t crc;
} header;

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void write_header(uint8_t *p, uint8_t flags, uint32_t raw_len,
                         uint32_t stored_len, uint32_t crc)
{
    put_le32(p, BLOCKCODEC_MAGIC);
    p[4] = BLOCKCODEC_VERSION;
    p[5] = flags;
    p[6] = p[7] = 0;
    put_le32(p + 8, raw_len);
    put_le32(p + 12, stored_len);
    put_le32(p + 16, crc);
}

/* Parse and check the header at data[0..len); on success the stored body
 * data[HEADER .. HEADER + stored_len) is known to be inside the input. */
static int check_header(const uint8_t *data, size_t len, header *h,
                        ember_error *err)
{
    rd r;
    if (len < BLOCKCODEC_HEADER)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "truncated frame header: %zu of %d bytes", len,
                            BLOCKCODEC_HEADER);
    rd_init(&r, data, BLOCKCODEC_HEADER);
    h->magic = rd_u32(&r);
    h->version = rd_u8(&r);
    h->flags = rd_u8(&r);
    h->reserved = rd_u8(&r);
    h->reserved |= (uint16_t)(rd_u8(&r) << 8);
    h->raw_len = rd_u32(&r);
    h->stored_len = rd_u32(&r);
    h->crc = rd_u32(&r);
    if (h->magic != BLOCKCODEC_MAGIC)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "bad frame magic 0x%08x (expected 0x%08x)",
                            (unsigned)h->magic, BLOCKCODEC_MAGIC);
    if (h->version != BLOCKCODEC_VERSION)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "unknown frame version %u (expected %d)",
                            (unsigned)h->version, BLOCKCODEC_VERSION);
    if (h->flags & ~BLOCKCODEC_FLAG_LZ4)
        return ember_seterr(err, EMBER_ECORRUPT, "unknown frame flags 0x%02x",
                            (unsigned)h->flags);
    if (h->reserved != 0)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "nonzero reserved frame field 0x%04x",
                            (unsigned)h->reserved);
    if (h->raw_len > BLOCKCODEC_MAX_RAW)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "frame raw_len %u over the maximum %u",
                            (unsigned)h->raw_len, BLOCKCODEC_MAX_RAW);
    if (h->flags & BLOCKCODEC_FLAG_LZ4) {
        if (h->stored_len == 0 ||
            (uint64_t)h->raw_len > (uint64_t)h->stored_len * LZ4_MAX_RATIO)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "impossible compressed frame: stored_len %u "
                                "for raw_len %u",
                                (unsigned)h->stored_len, (unsigned)h->raw_len);
    } else if (h->stored_len != h->raw_len) {
        return ember_seterr(err, EMBER_ECORRUPT,
                            "uncompressed frame with stored_len %u != "
                            "raw_len %u",
                            (unsigned)h->stored_len, (unsigned)h->raw_len);
    }
    if (h->stored_len > len - BLOCKCODEC_HEADER)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "truncated frame body: %zu of %u bytes",
                            len - BLOCKCODEC_HEADER, (unsigned)h->stored_len);
    return 0;
}

/* ------------------------------------------------------------------ encode */

int blockcodec_encode(buf *out, const void *raw, size_t len, int compress)
{
    size_t start = out->len, room = len;
    uint8_t *dst;
    uint8_t flags = 0;
    int stored = (int)len;
    if (len > BLOCKCODEC_MAX_RAW || (!raw && len > 0))
        return EMBER_EINVAL;
    if (compress && len > 0)
        room = (size_t)LZ4_compressBound((int)len);
    if (buf_reserve(out, BLOCKCODEC_HEADER + room))
        return EMBER_ENOMEM;
    dst = out->data + start + BLOCKCODEC_HEADER;
    if (compress && len > 0) {
        int n = LZ4_compress_default(raw, (char *)dst, (int)len, (int)room);
        if (n > 0 && (size_t)n < len) {
            flags = BLOCKCODEC_FLAG_LZ4;
            stored = n;
        }
    }
    if (!flags && len > 0)
        memcpy(dst, raw, len);
    write_header(out->data + start, flags, (uint32_t)len, (uint32_t)stored,
                 crc32c(0, raw, len));
    out->len = start + BLOCKCODEC_HEADER + (size_t)stored;
    return 0;
}

/* ------------------------------------------------------------------ decode */

int blockcodec_decode(const void *data, size_t len, buf *out, size_t *consumed,
                      ember_error *err)
{
    const uint8_t *body = (const uint8_t *)data + BLOCKCODEC_HEADER;
    size_t start = out->len;
    uint8_t *dst;
    uint32_t crc;
    header h = {0};
    int rc;
    if (!data && len > 0)
        return ember_seterr(err, EMBER_EINVAL, "NULL frame data");
    if ((rc = check_header(data, len, &h, err)))
        return rc;
    if (buf_reserve(out, (size_t)h.raw_len + 1))
        return ember_seterr(err, EMBER_ENOMEM,
                            "out of memory for a %u-byte frame",
                            (unsigned)h.raw_len);
    dst = out->data + start;
    if (h.flags & BLOCKCODEC_FLAG_LZ4) {
        int n = LZ4_decompress_safe((const char *)body, (char *)dst,
                                    (int)h.stored_len, (int)h.raw_len);
        if (n < 0)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "LZ4 decode failure in a frame of %u stored "
                                "bytes (raw_len %u)",
                                (unsigned)h.stored_len, (unsigned)h.raw_len);
        if ((uint32_t)n != h.raw_len)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "decoded size mismatch: frame says %u bytes, "
                                "LZ4 produced %d",
                                (unsigned)h.raw_len, n);
    } else if (h.raw_len > 0) {
        memcpy(dst, body, h.raw_len);
    }
    crc = crc32c(0, dst, h.raw_len);
    if (crc != h.crc)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "frame checksum mismatch: stored 0x%08x, "
                            "computed 0x%08x",
                            (unsigned)h.crc, (unsigned)crc);
    out->len = start + h.raw_len;
    if (consumed)
        *consumed = BLOCKCODEC_HEADER + (size_t)h.stored_len;
    return 0;
}

int blockcodec_decode_all(const void *data, size_t len, buf *out,
                          ember_error *err)
{
    const uint8_t *p = data;
    size_t start = out->len, off = 0, n = 0;
    int rc;
    while (off < len) {
        if ((rc = blockcodec_decode(p + off, len - off, out, &n, err))) {
            out->len = start;
            ember_error_prefix(err, "frame at byte %zu of %zu: ", off, len);
            return rc;
        }
        off += n;
    }
    return 0;
}
