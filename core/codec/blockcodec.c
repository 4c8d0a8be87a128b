/*
 * blockcodec.c -- frame encoder/decoder and CRC-32C (see blockcodec.h).
 *
 * Owns the frame format of docs/formats.md.  Encoding reserves room for the
 * header plus LZ4_compressBound(len), compresses in place behind the header
 * and falls back to a raw copy when LZ4 does not shrink the data.  Decoding
 * validates the whole header before it allocates anything: a compressed
 * body must be non-empty and cannot expand more than 255-fold (LZ4's format
 * limit), a raw body must be exactly raw_len bytes, and the body must be
 * present in the input.  Only then does it reserve raw_len bytes in out,
 * decompress with LZ4_decompress_safe (bounds-checked on both sides) and
 * compare the checksum.
 *
 * Threads: no state but a constant table; safe from any thread.
 */
#include "codec/blockcodec.h"

#include "util/err.h"

#include <lz4.h>
#include <string.h>

/* LZ4 emits at most 255 output bytes per input byte (a 0xFF length
 * extension byte), so a valid compressed body of n bytes decodes to at most
 * 255 * n bytes. */
#define LZ4_MAX_RATIO 255u

/* ------------------------------------------------------------------ crc32c */

/* Reflected CRC-32C table, polynomial 0x82F63B78. */
static const uint32_t crc_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu,
    0x35f1141cu, 0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu,
    0x6be22838u, 0x9989ab3bu, 0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u,
    0x5e133c24u, 0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu,
    0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u, 0x9a879fa0u,
    0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u,
    0x33ed7d2au, 0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u,
    0xaa64d611u, 0x580f5512u, 0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu,
    0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau, 0x30e349b1u, 0xc288cab2u,
    0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu, 0x1642ae59u,
    0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu,
    0xb3109ebfu, 0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u,
    0x67dafa54u, 0x95b17957u, 0xcba24573u, 0x39c9c670u, 0x2a993584u,
    0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu, 0xed03a29bu, 0x1f682198u,
    0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u, 0x96bf4dccu,
    0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u,
    0x0f36e6f7u, 0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u,
    0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u, 0xeb1fcbadu,
    0x197448aeu, 0x0a24bb5au, 0xf84f3859u, 0x2c855cb2u, 0xdeeedfb1u,
    0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu, 0x90a324fau,
    0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu,
    0xceb018deu, 0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu,
    0x63cd4b8fu, 0x91a6c88cu, 0x456cac67u, 0xb7072f64u, 0xa457dc90u,
    0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
    0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu, 0x92a8fc17u,
    0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu,
    0x0b21572cu, 0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u,
    0xa24bb5a6u, 0x502036a5u, 0x4370c551u, 0xb11b4652u, 0x65d122b9u,
    0x97baa1bau, 0x84ea524eu, 0x7681d14du, 0x2892ed69u, 0xdaf96e6au,
    0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u, 0x0e330a81u,
    0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u,
    0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au,
    0x1e6dcdeeu, 0xec064eedu, 0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u,
    0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu,
    0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu, 0x8ecee914u,
    0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u,
    0x07198540u, 0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u,
    0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au,
    0x115b2b19u, 0x020bd8edu, 0xf0605beeu, 0x24aa3f05u, 0xd6c1bc06u,
    0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u,
    0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au,
    0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u,
    0x988c474du, 0x6ae7c44eu, 0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u,
    0xad7d5351u,
};

static uint32_t crc32c_table(uint32_t crc, const uint8_t *s, size_t n)
{
    while (n--)
        crc = crc_table[(crc ^ *s++) & 0xffu] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define HAVE_CRC32C_HW 1
/* SSE4.2's crc32 instruction computes the same reflected CRC-32C, 8 bytes
 * per instruction (the table does one byte per lookup: shuffle blocks are
 * checksummed on write and on read, so this is on every byte moved). */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const uint8_t *s, size_t n)
{
    uint64_t c = crc;
    while (n && ((uintptr_t)s & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *s++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = _mm_crc32_u64(c, w);
        s += 8;
        n -= 8;
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *s++);
    return (uint32_t)c;
}
#endif

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
#ifdef HAVE_CRC32C_HW
    static int hw = -1; /* racy but idempotent: every thread finds the same */
    if (hw < 0) {
        __builtin_cpu_init();
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    if (hw)
        return ~crc32c_hw(~crc, p, n);
#endif
    return ~crc32c_table(~crc, p, n);
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
