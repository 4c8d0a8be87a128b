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
 * Sealing (a key given, explicitly or as the process key).  The encoder
 * builds the body as above behind the header and a fresh random nonce,
 * writes the header (sealed flag, stored_len covering nonce and tag, crc
 * 0) and encrypts the body in place with XChaCha20-Poly1305, the header
 * as associated data, appending the tag.  The decoder checks the header
 * first, as for any frame, then verifies the tag before it writes a byte
 * of plaintext: a raw body is decrypted straight into out, a compressed
 * one into the room behind raw_len (bounded by the input) and then
 * decompressed into place.  Whether a key is present decides which frames
 * are acceptable: with a key only sealed ones, without only plain ones,
 * so a reader can neither be fed plaintext in place of sealed data nor
 * silently lose the protection.
 *
 * Threads: the process key is written by blockcodec_set_key before the
 * threads that use it start, and only read afterwards; everything else is
 * stateless.
 */
#include "codec/blockcodec.h"

#include "util/crc32c.h"
#include "util/err.h"

#include <lz4.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

/* LZ4 emits at most 255 output bytes per input byte (a 0xFF length
 * extension byte), so a valid compressed body of n bytes decodes to at most
 * 255 * n bytes. */
#define LZ4_MAX_RATIO 255u

/* ---------------------------------------------------------------- the key */

static uint8_t process_key[BLOCKCODEC_KEY_BYTES];
static int have_process_key;

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void sodium_start(void)
{
    sodium_ok = sodium_init() >= 0;
}

static int sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_start);
    return sodium_ok;
}

int blockcodec_set_key(const uint8_t *key, ember_error *err)
{
    if (!key) {
        sodium_memzero(process_key, sizeof process_key);
        have_process_key = 0;
        return 0;
    }
    if (!sodium_ready())
        return ember_seterr(err, EMBER_EIO, "cannot initialise libsodium");
    memcpy(process_key, key, sizeof process_key);
    have_process_key = 1;
    return 0;
}

const uint8_t *blockcodec_key(void)
{
    return have_process_key ? process_key : NULL;
}

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
    uint32_t body; /* the (compressed or raw) body inside the stored bytes */
    const char *what;
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
    if (h->flags & ~(BLOCKCODEC_FLAG_LZ4 | BLOCKCODEC_FLAG_SEALED))
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
    body = h->stored_len;
    if (h->flags & BLOCKCODEC_FLAG_SEALED) {
        if (h->stored_len < BLOCKCODEC_SEAL_OVERHEAD)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "sealed frame with stored_len %u, less than "
                                "its nonce and tag (%d bytes)",
                                (unsigned)h->stored_len,
                                BLOCKCODEC_SEAL_OVERHEAD);
        if (h->crc != 0)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "sealed frame with a nonzero checksum field "
                                "0x%08x",
                                (unsigned)h->crc);
        body -= BLOCKCODEC_SEAL_OVERHEAD;
    }
    what = h->flags & BLOCKCODEC_FLAG_SEALED ? "sealed body" : "stored_len";
    if (h->flags & BLOCKCODEC_FLAG_LZ4) {
        if (body == 0 ||
            (uint64_t)h->raw_len > (uint64_t)body * LZ4_MAX_RATIO ||
            body > (uint32_t)LZ4_compressBound((int)h->raw_len))
            return ember_seterr(err, EMBER_ECORRUPT,
                                "impossible compressed frame: %s %u for "
                                "raw_len %u",
                                what, (unsigned)body, (unsigned)h->raw_len);
    } else if (body != h->raw_len) {
        return ember_seterr(err, EMBER_ECORRUPT,
                            "uncompressed frame with %s %u != raw_len %u", what,
                            (unsigned)body, (unsigned)h->raw_len);
    }
    if (h->stored_len > len - BLOCKCODEC_HEADER)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "truncated frame body: %zu of %u bytes",
                            len - BLOCKCODEC_HEADER, (unsigned)h->stored_len);
    return 0;
}

/* ------------------------------------------------------------------ encode */

int blockcodec_encode_with(buf *out, const void *raw, size_t len, int compress,
                           const uint8_t *key)
{
    size_t start = out->len, room = len;
    size_t pre = key ? BLOCKCODEC_NONCE : 0, post = key ? BLOCKCODEC_TAG : 0;
    uint8_t *hdr, *dst;
    uint8_t flags = 0;
    size_t stored = len;
    if (len > BLOCKCODEC_MAX_RAW || (!raw && len > 0))
        return EMBER_EINVAL;
    if (key && !sodium_ready())
        return EMBER_EIO;
    if (compress && len > 0)
        room = (size_t)LZ4_compressBound((int)len);
    if (buf_reserve(out, BLOCKCODEC_HEADER + pre + room + post))
        return EMBER_ENOMEM;
    hdr = out->data + start;
    dst = hdr + BLOCKCODEC_HEADER + pre;
    if (compress && len > 0) {
        int n = LZ4_compress_default(raw, (char *)dst, (int)len, (int)room);
        if (n > 0 && (size_t)n < len) {
            flags = BLOCKCODEC_FLAG_LZ4;
            stored = (size_t)n;
        }
    }
    if (!key) {
        if (!flags && len > 0)
            memcpy(dst, raw, len);
        write_header(hdr, flags, (uint32_t)len, (uint32_t)stored,
                     crc32c(0, raw, len));
    } else {
        /* the header is the associated data: write it first */
        const uint8_t *m = flags ? dst : raw;
        flags |= BLOCKCODEC_FLAG_SEALED;
        write_header(hdr, flags, (uint32_t)len,
                     (uint32_t)(stored + BLOCKCODEC_SEAL_OVERHEAD), 0);
        randombytes_buf(hdr + BLOCKCODEC_HEADER, BLOCKCODEC_NONCE);
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            dst, dst + stored, NULL, stored ? m : dst, stored, hdr,
            BLOCKCODEC_HEADER, NULL, hdr + BLOCKCODEC_HEADER, key);
        stored += BLOCKCODEC_SEAL_OVERHEAD;
    }
    out->len = start + BLOCKCODEC_HEADER + stored;
    return 0;
}

int blockcodec_encode(buf *out, const void *raw, size_t len, int compress)
{
    return blockcodec_encode_with(out, raw, len, compress, blockcodec_key());
}

/* ------------------------------------------------------------------ decode */

/* A sealed frame's body, checked and decrypted: a raw body goes straight
 * to dst (raw_len bytes reserved), a compressed one to dst + raw_len
 * (raw_len + body bytes reserved) and is then decompressed to dst. */
static int open_sealed(const uint8_t *frame, const header *h, uint8_t *dst,
                       const uint8_t *key, ember_error *err)
{
    const uint8_t *nonce = frame + BLOCKCODEC_HEADER;
    const uint8_t *c = nonce + BLOCKCODEC_NONCE;
    size_t body = (size_t)h->stored_len - BLOCKCODEC_SEAL_OVERHEAD;
    uint8_t *m = h->flags & BLOCKCODEC_FLAG_LZ4 ? dst + h->raw_len : dst;
    uint8_t none[1];
    if (!sodium_ready())
        return ember_seterr(err, EMBER_EIO, "cannot initialise libsodium");
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            body ? m : none, NULL, c, body, c + body, frame, BLOCKCODEC_HEADER,
            nonce, key) != 0)
        return ember_seterr(err, EMBER_ECORRUPT,
                            "sealed frame fails authentication (%u stored "
                            "bytes): a different io key, or altered data",
                            (unsigned)h->stored_len);
    if (h->flags & BLOCKCODEC_FLAG_LZ4) {
        int n = LZ4_decompress_safe((const char *)m, (char *)dst, (int)body,
                                    (int)h->raw_len);
        if (n < 0 || (uint32_t)n != h->raw_len)
            return ember_seterr(err, EMBER_ECORRUPT,
                                "LZ4 decode failure in a sealed frame of %u "
                                "stored bytes (raw_len %u, got %d)",
                                (unsigned)h->stored_len, (unsigned)h->raw_len,
                                n);
    }
    return 0;
}

int blockcodec_decode_with(const void *data, size_t len, buf *out,
                           size_t *consumed, const uint8_t *key,
                           ember_error *err)
{
    const uint8_t *body = (const uint8_t *)data + BLOCKCODEC_HEADER;
    size_t start = out->len, need;
    uint8_t *dst;
    uint32_t crc;
    header h = {0};
    int rc;
    if (!data && len > 0)
        return ember_seterr(err, EMBER_EINVAL, "NULL frame data");
    if ((rc = check_header(data, len, &h, err)))
        return rc;
    if (key && !(h.flags & BLOCKCODEC_FLAG_SEALED))
        return ember_seterr(err, EMBER_ECORRUPT,
                            "unsealed frame refused: io.encryption.enabled is "
                            "on, so every frame must be sealed");
    if (!key && (h.flags & BLOCKCODEC_FLAG_SEALED))
        return ember_seterr(err, EMBER_ECORRUPT,
                            "sealed frame, but this process has no io key "
                            "(io.encryption.enabled is off here)");
    need = (size_t)h.raw_len + 1;
    if ((h.flags & BLOCKCODEC_FLAG_SEALED) && (h.flags & BLOCKCODEC_FLAG_LZ4))
        need += h.stored_len; /* room to decrypt into, bounded by the input */
    if (buf_reserve(out, need))
        return ember_seterr(err, EMBER_ENOMEM,
                            "out of memory for a %u-byte frame",
                            (unsigned)h.raw_len);
    dst = out->data + start;
    if (h.flags & BLOCKCODEC_FLAG_SEALED) {
        if ((rc = open_sealed(data, &h, dst, key, err)))
            return rc;
    } else {
        if (h.flags & BLOCKCODEC_FLAG_LZ4) {
            int n = LZ4_decompress_safe((const char *)body, (char *)dst,
                                        (int)h.stored_len, (int)h.raw_len);
            if (n < 0)
                return ember_seterr(err, EMBER_ECORRUPT,
                                    "LZ4 decode failure in a frame of %u "
                                    "stored bytes (raw_len %u)",
                                    (unsigned)h.stored_len,
                                    (unsigned)h.raw_len);
            if ((uint32_t)n != h.raw_len)
                return ember_seterr(err, EMBER_ECORRUPT,
                                    "decoded size mismatch: frame says %u "
                                    "bytes, LZ4 produced %d",
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
    }
    out->len = start + h.raw_len;
    if (consumed)
        *consumed = BLOCKCODEC_HEADER + (size_t)h.stored_len;
    return 0;
}

int blockcodec_decode(const void *data, size_t len, buf *out, size_t *consumed,
                      ember_error *err)
{
    return blockcodec_decode_with(data, len, out, consumed, blockcodec_key(),
                                  err);
}

int blockcodec_decode_all_with(const void *data, size_t len, buf *out,
                               const uint8_t *key, ember_error *err)
{
    const uint8_t *p = data;
    size_t start = out->len, off = 0, n = 0;
    int rc;
    while (off < len) {
        if ((rc = blockcodec_decode_with(p + off, len - off, out, &n, key,
                                         err))) {
            out->len = start;
            ember_error_prefix(err, "frame at byte %zu of %zu: ", off, len);
            return rc;
        }
        off += n;
    }
    return 0;
}

int blockcodec_decode_all(const void *data, size_t len, buf *out,
                          ember_error *err)
{
    return blockcodec_decode_all_with(data, len, out, blockcodec_key(), err);
}
