/*
 * test_blockcodec.c -- frames and CRC-32C: published CRC vectors on the
 * table and SSE4.2 paths of util/crc32c_impl.h and on crc32c(), round
 * trips of assorted sizes with both storage modes, frame headers parsed by
 * hand, multi-frame sequences, and hostile input (every byte flip, every
 * truncation, oversize raw_len, garbage) that must be rejected with
 * EMBER_ECORRUPT, never crash and leave the output buffer untouched.
 * Sealed frames (io.encryption.enabled): round trips with an explicit and
 * with the process key, the plaintext absent from the stored bytes, every
 * flip and truncation failing authentication, a wrong key, an unsealed
 * frame refused with a key and a sealed one without.
 */
#include "codec/blockcodec.h"
#include "tap/tap.h"
#include "util/buf.h"
#include "util/crc32c.h"
#include "util/crc32c_impl.h"

#include <ember/plugin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTESTS 233

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        bail("out of memory");
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
    return p;
}

/* Text-like data: lines drawn from a few words, so LZ4 shrinks it. */
static uint8_t *compressible_bytes(size_t n)
{
    static const char *words[] = {"alpha ",  "beta ",    "gamma ",
                                  "delta\n", "epsilon ", "zeta "};
    uint8_t *p = malloc(n ? n : 1);
    size_t i = 0;
    if (!p)
        bail("out of memory");
    while (i < n) {
        const char *w = words[rnd() % 6];
        for (size_t k = 0; w[k] && i < n; k++)
            p[i++] = (uint8_t)w[k];
    }
    return p;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* A header built by hand, independent of the encoder. */
static void make_header(uint8_t *h, uint32_t magic, uint8_t version,
                        uint8_t flags, uint16_t reserved, uint32_t raw_len,
                        uint32_t stored_len, uint32_t crc)
{
    uint32_t v[5] = {magic, 0, raw_len, stored_len, crc};
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < 4; i++)
            h[4 * k + i] = (uint8_t)(v[k] >> (8 * i));
    h[4] = version;
    h[5] = flags;
    h[6] = (uint8_t)reserved;
    h[7] = (uint8_t)(reserved >> 8);
}

/* Encode, check the header by hand, decode, compare.  want_lz4: 1 must be
 * compressed, 0 must be raw, -1 either. */
static void roundtrip(const char *name, const uint8_t *raw, size_t len,
                      int compress, int want_lz4)
{
    buf enc, dec;
    ember_error err = {0, ""};
    size_t consumed = 0;
    int rc, hdr_ok;
    buf_init(&enc);
    buf_init(&dec);
    rc = blockcodec_encode(&enc, raw, len, compress);
    is_int(0, rc, "%s: encode", name);
    if (rc || enc.len < BLOCKCODEC_HEADER) {
        buf_free(&enc);
        return;
    }
    {
        const uint8_t *h = enc.data;
        uint32_t stored = le32(h + 12);
        int lz4 = h[5] & 1;
        hdr_ok = memcmp(h, "EMBK", 4) == 0 && h[4] == 1 && (h[5] & ~1) == 0 &&
                 h[6] == 0 && h[7] == 0 && le32(h + 8) == len &&
                 enc.len == BLOCKCODEC_HEADER + (size_t)stored &&
                 le32(h + 16) == crc32c(0, raw, len) &&
                 (lz4 ? stored < len : stored == len) &&
                 (want_lz4 < 0 || lz4 == want_lz4);
        ok(hdr_ok, "%s: header (lz4=%d, raw %zu, stored %u)", name, lz4, len,
           (unsigned)stored);
    }
    rc = blockcodec_decode(enc.data, enc.len, &dec, &consumed, &err);
    is_int(0, rc, "%s: decode%s%s", name, rc ? ": " : "", rc ? err.msg : "");
    ok(consumed == enc.len && dec.len == len &&
           (len == 0 || memcmp(dec.data, raw, len) == 0),
       "%s: decoded bytes equal the input", name);
    buf_free(&enc);
    buf_free(&dec);
}

typedef uint32_t (*crc_fn)(uint32_t crc, const void *p, size_t n);

/* The check value of CRC-32C and the RFC 3720 B.4 vectors through fn. */
static void crc_vectors(const char *name, crc_fn fn)
{
    uint8_t zeros[32], ones[32], incr[32];
    const char *s = "123456789";
    memset(zeros, 0, 32);
    memset(ones, 0xff, 32);
    for (int i = 0; i < 32; i++)
        incr[i] = (uint8_t)i;
    is_int(0xE3069283u, fn(0, s, 9), "%s(\"123456789\")", name);
    is_int(0x8A9136AAu, fn(0, zeros, 32), "%s(32 x 0x00)", name);
    is_int(0x62A8AB43u, fn(0, ones, 32), "%s(32 x 0xff)", name);
    is_int(0x46DD794Eu, fn(0, incr, 32), "%s(0..31)", name);
    is_int(0, fn(0, NULL, 0), "%s of nothing is 0", name);
    is_int(fn(0, s, 9), fn(fn(0, s, 4), s + 4, 5), "%s chains across pieces",
           name);
}

static uint32_t crc_sw(uint32_t crc, const void *p, size_t n)
{
    return crc32c_impl_sw(crc, p, n);
}

#ifdef CRC32C_IMPL_HAVE_HW
static uint32_t crc_hw(uint32_t crc, const void *p, size_t n)
{
    return crc32c_impl_hw(crc, p, n);
}
#endif

/* Both paths of util/crc32c_impl.h and the core's crc32c() wrapper: the
 * published vectors, then agreement at every alignment and length. */
static void test_crc(void)
{
    enum { LONG = 100 * 1024 };
    uint64_t saved = rng; /* the later tests' data stay as they were */
    uint8_t *r = random_bytes(LONG);
    int hw = 0, agree = 1;
    crc_vectors("crc32c", crc32c);
    crc_vectors("table crc32c", crc_sw);
#ifdef CRC32C_IMPL_HAVE_HW
    hw = crc32c_impl_hw_usable();
    if (hw)
        crc_vectors("sse4.2 crc32c", crc_hw);
#endif
    if (!hw)
        for (int i = 0; i < 6; i++)
            skip("no SSE4.2 crc32 instruction on this CPU or compiler");
    /* the hardware path aligns to 8 bytes first: every start and length */
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 300; n++) {
            uint32_t want = crc32c_impl_sw(0, r + off, n);
            if (crc32c(0, r + off, n) != want)
                agree = 0;
#ifdef CRC32C_IMPL_HAVE_HW
            if (hw && crc32c_impl_hw(0, r + off, n) != want)
                agree = 0;
#endif
        }
    ok(agree, "every path agrees at offsets 0..7, lengths 0..300");
    is_int(crc32c_impl_sw(0, r, LONG), crc32c(0, r, LONG),
           "crc32c() equals the table over 100 KiB");
    is_int(crc32c_impl_sw(0, r, LONG),
           crc32c_impl_sw(crc32c(0, r, 12345), r + 12345, LONG - 12345),
           "a checksum started by crc32c() continues on the table");
    free(r);
    rng = saved;
}

static void test_roundtrips(void)
{
    static const size_t edges[] = {256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1,
                                   65536};
    uint8_t one = 'x';
    uint8_t *rand100 = random_bytes(100 * 1024);
    uint8_t *text1m = compressible_bytes(1024 * 1024);
    char name[64];

    roundtrip("empty, compress", (const uint8_t *)"", 0, 1, 0);
    roundtrip("empty, raw", NULL, 0, 0, 0);
    roundtrip("1 byte, compress", &one, 1, 1, 0);
    roundtrip("1 byte, raw", &one, 1, 0, 0);
    roundtrip("random 100 KiB, compress", rand100, 100 * 1024, 1, 0);
    roundtrip("random 100 KiB, raw", rand100, 100 * 1024, 0, 0);
    roundtrip("text 1 MiB, compress", text1m, 1024 * 1024, 1, 1);
    roundtrip("text 1 MiB, raw", text1m, 1024 * 1024, 0, 0);
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        snprintf(name, sizeof name, "text %zu bytes, compress", edges[i]);
        roundtrip(name, text1m, edges[i], 1, 1);
        snprintf(name, sizeof name, "random %zu bytes, compress", edges[i]);
        roundtrip(name, rand100, edges[i] < 100 * 1024 ? edges[i] : 1000, 1,
                  -1);
    }
    free(rand100);
    free(text1m);
}

static void test_limits(void)
{
    buf b;
    uint8_t x = 0;
    buf_init(&b);
    is_int(EMBER_EINVAL, blockcodec_encode(&b, &x, BLOCKCODEC_MAX_RAW + 1u, 1),
           "encode rejects len > BLOCKCODEC_MAX_RAW");
    is_int(EMBER_EINVAL, blockcodec_encode(&b, NULL, 5, 0),
           "encode rejects NULL data with len > 0");
    is_int(0, (long long)b.len, "failed encodes leave out empty");
    buf_free(&b);
}

static void test_decode_all(void)
{
    uint8_t *text = compressible_bytes(300000);
    uint8_t *rnd_ = random_bytes(5000);
    buf enc, dec;
    ember_error err = {0, ""};
    size_t pieces[][2] = {
        {0, 1000}, {1000, 0}, {1000, 100000}, {101000, 199000}};
    int rc, eq;
    buf_init(&enc);
    buf_init(&dec);
    /* five frames: text pieces (one empty) alternating storage modes, then
     * incompressible random bytes */
    for (int i = 0; i < 4; i++)
        blockcodec_encode(&enc, text + pieces[i][0], pieces[i][1], i & 1);
    blockcodec_encode(&enc, rnd_, 5000, 1);
    buf_put(&dec, "pre", 3);
    rc = blockcodec_decode_all(enc.data, enc.len, &dec, &err);
    is_int(0, rc, "decode_all of 5 frames");
    eq = dec.len == 3 + 300000 + 5000 && memcmp(dec.data, "pre", 3) == 0 &&
         memcmp(dec.data + 3, text, 300000) == 0 &&
         memcmp(dec.data + 3 + 300000, rnd_, 5000) == 0;
    ok(eq, "decode_all appends the concatenation after existing bytes");

    /* a torn last frame: rejected, out restored */
    rc = blockcodec_decode_all(enc.data, enc.len - 1, &dec, &err);
    is_int(EMBER_ECORRUPT, rc, "decode_all rejects a torn last frame");
    is_int(3 + 300000 + 5000, (long long)dec.len,
           "failed decode_all leaves out as it was");
    like(err.msg, "frame at byte", "the message names the frame offset");
    diag("torn sequence: %s", err.msg);

    /* trailing garbage after complete frames */
    buf_put(&enc, "junkjunkjunkjunkjunkjunk", 24);
    rc = blockcodec_decode_all(enc.data, enc.len, &dec, &err);
    is_int(EMBER_ECORRUPT, rc, "decode_all rejects trailing garbage");
    like(err.msg, "bad frame magic", "trailing garbage: bad magic");

    buf_reset(&dec);
    is_int(0, blockcodec_decode_all(NULL, 0, &dec, &err),
           "decode_all of nothing is an empty sequence");
    is_int(0, (long long)dec.len, "and appends nothing");
    buf_free(&enc);
    buf_free(&dec);
    free(text);
    free(rnd_);
}

/* Every single-byte change and every truncation of a frame is rejected. */
static void test_corruption(const char *name, const uint8_t *raw, size_t len,
                            int compress)
{
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
    buf enc, dec;
    ember_error err;
    uint8_t *copy;
    size_t consumed, flen;
    int all = 1, body_crc = 1, crashes_none = 1, untouched = 1;
    int n = 0, benign = 0;
    buf_init(&enc);
    buf_init(&dec);
    if (blockcodec_encode(&enc, raw, len, compress))
        bail("encode failed");
    flen = enc.len;
    ok(compress == ((enc.data[5] & 1) != 0), "%s: frame is %s", name,
       compress ? "LZ4" : "raw");
    copy = malloc(flen);
    buf_put(&dec, "keep", 4);
    for (size_t i = 0; i < flen; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            int rc;
            memcpy(copy, enc.data, flen);
            copy[i] ^= masks[m];
            consumed = 12345;
            err.msg[0] = '\0';
            rc = blockcodec_decode(copy, flen, &dec, &consumed, &err);
            n++;
            /* An LZ4 body may decode to the very same bytes after a flip
             * (a match offset moved to an identical earlier copy): the
             * checksum then rightly passes.  Anything else is an error. */
            if (rc == 0 && compress && i >= BLOCKCODEC_HEADER &&
                dec.len == 4 + len && consumed == flen &&
                memcmp(dec.data + 4, raw, len) == 0) {
                benign++;
                dec.len = 4;
                continue;
            }
            if (rc != EMBER_ECORRUPT) {
                all = 0;
                diag("byte %zu ^ 0x%02x: rc %d", i, masks[m], rc);
            }
            if (dec.len != 4 || consumed != 12345)
                untouched = 0;
            if (!compress && i >= BLOCKCODEC_HEADER &&
                !strstr(err.msg, "checksum mismatch"))
                body_crc = 0;
            if (!err.msg[0])
                crashes_none = 0;
        }
    }
    if (benign)
        diag("%s: %d body flips decoded to the original bytes", name, benign);
    ok(all,
       "%s: all %d single-byte flips rejected with EMBER_ECORRUPT "
       "(or harmless)",
       name, n);
    ok(crashes_none, "%s: every rejection carries a message", name);
    ok(untouched, "%s: rejections leave out and consumed untouched", name);
    if (!compress)
        ok(body_crc, "%s: body flips report a checksum mismatch", name);

    all = 1;
    for (size_t t = 0; t < flen; t++) {
        /* exact-size heap copies so ASan/valgrind see any over-read */
        uint8_t *tr = malloc(t ? t : 1);
        memcpy(tr, enc.data, t);
        if (blockcodec_decode(tr, t, &dec, &consumed, &err) != EMBER_ECORRUPT) {
            all = 0;
            diag("truncation to %zu accepted", t);
        }
        free(tr);
    }
    ok(all, "%s: every truncation 0..%zu rejected with EMBER_ECORRUPT", name,
       flen - 1);

    /* the checksum message carries both values in hex */
    memcpy(copy, enc.data, flen);
    copy[16] ^= 0x5a;
    blockcodec_decode(copy, flen, &dec, &consumed, &err);
    {
        char want[64];
        snprintf(want, sizeof want, "stored 0x%08x, computed 0x%08x",
                 (unsigned)le32(copy + 16), (unsigned)crc32c(0, raw, len));
        like(err.msg, want, "%s: checksum mismatch names both values", name);
        diag("%s", err.msg);
    }
    free(copy);
    buf_free(&enc);
    buf_free(&dec);
}

static void expect_corrupt_alloc(const uint8_t *p, size_t n, const char *needle,
                                 const char *what, size_t max_alloc)
{
    buf dec;
    ember_error err = {0, ""};
    size_t consumed;
    buf_init(&dec);
    is_int(EMBER_ECORRUPT, blockcodec_decode(p, n, &dec, &consumed, &err),
           "%s rejected", what);
    like(err.msg, needle, "%s: message", what);
    ok(dec.cap <= max_alloc, "%s: allocated %zu <= %zu bytes", what, dec.cap,
       max_alloc);
    buf_free(&dec);
}

static void expect_corrupt(const uint8_t *p, size_t n, const char *needle,
                           const char *what)
{
    expect_corrupt_alloc(p, n, needle, what, 0);
}

static void test_headers(void)
{
    uint8_t f[BLOCKCODEC_HEADER + 8];
    const uint8_t body[8] = "abcdefgh";
    uint32_t c = crc32c(0, body, 8);
    buf dec;
    ember_error err;
    size_t consumed = 0;

    /* a hand-made valid frame decodes: the format is what docs say */
    make_header(f, 0x4B424D45u, 1, 0, 0, 8, 8, c);
    memcpy(f + BLOCKCODEC_HEADER, body, 8);
    buf_init(&dec);
    is_int(0, blockcodec_decode(f, sizeof f, &dec, &consumed, &err),
           "hand-built raw frame decodes");
    ok(consumed == sizeof f && dec.len == 8 && !memcmp(dec.data, body, 8),
       "hand-built raw frame: bytes and size");
    buf_free(&dec);

    make_header(f, 0x4B424D46u, 1, 0, 0, 8, 8, c);
    expect_corrupt(f, sizeof f, "bad frame magic", "bad magic");
    make_header(f, 0x4B424D45u, 2, 0, 0, 8, 8, c);
    expect_corrupt(f, sizeof f, "unknown frame version 2", "version 2");
    make_header(f, 0x4B424D45u, 1, 0x04, 0, 8, 8, c);
    expect_corrupt(f, sizeof f, "unknown frame flags", "flag bit 2");
    make_header(f, 0x4B424D45u, 1, 0x80, 0, 8, 8, c);
    expect_corrupt(f, sizeof f, "unknown frame flags", "flag bit 7");
    make_header(f, 0x4B424D45u, 1, 0, 0x0100, 8, 8, c);
    expect_corrupt(f, sizeof f, "reserved", "nonzero reserved");
    make_header(f, 0x4B424D45u, 1, 0, 0, BLOCKCODEC_MAX_RAW + 1u,
                BLOCKCODEC_MAX_RAW + 1u, c);
    expect_corrupt(f, sizeof f, "over the maximum", "raw_len MAX+1, raw");
    make_header(f, 0x4B424D45u, 1, 1, 0, 0xffffffffu, 8, c);
    expect_corrupt(f, sizeof f, "over the maximum", "raw_len 0xffffffff, lz4");
    make_header(f, 0x4B424D45u, 1, 1, 0, BLOCKCODEC_MAX_RAW, 8, c);
    expect_corrupt(f, sizeof f, "impossible compressed frame",
                   "raw_len MAX from 8 compressed bytes");
    make_header(f, 0x4B424D45u, 1, 1, 0, 8, 0, c);
    expect_corrupt(f, sizeof f, "impossible compressed frame",
                   "empty compressed body");
    make_header(f, 0x4B424D45u, 1, 0, 0, 8, 9, c);
    expect_corrupt(f, sizeof f, "stored_len 9 != raw_len 8",
                   "raw frame with stored_len != raw_len");
    make_header(f, 0x4B424D45u, 1, 0, 0, 1000, 1000, c);
    expect_corrupt(f, sizeof f, "truncated frame body: 8 of 1000",
                   "body longer than the input");
    make_header(f, 0x4B424D45u, 1, 1, 0, 100, 8, c);
    /* only here has the header passed: raw_len bytes may be reserved
     * (buf rounds its capacity up to a power of two, at least 64) */
    expect_corrupt_alloc(f, sizeof f, "LZ4", "garbage LZ4 body", 128);
    expect_corrupt(f, 7, "truncated frame header: 7 of 20", "7-byte input");
    expect_corrupt(NULL, 0, "truncated frame header", "empty input");
    {
        buf d2;
        buf_init(&d2);
        blockcodec_decode(f, sizeof f, &d2, &consumed, &err);
        diag("garbage LZ4 body: %s", err.msg);
        buf_free(&d2);
    }

    /* an LZ4 body that decodes to fewer bytes than raw_len says */
    {
        buf enc;
        uint8_t *t = compressible_bytes(4096);
        buf_init(&enc);
        buf_init(&dec);
        blockcodec_encode(&enc, t, 4096, 1);
        enc.data[8] = 0x01;
        enc.data[9] = 0x20; /* raw_len 8193 > 4096 */
        is_int(EMBER_ECORRUPT,
               blockcodec_decode(enc.data, enc.len, &dec, &consumed, &err),
               "raw_len larger than the LZ4 output rejected");
        ok(strstr(err.msg, "size mismatch") || strstr(err.msg, "LZ4"),
           "raw_len larger than the LZ4 output: %s", err.msg);
        buf_free(&enc);
        buf_free(&dec);
        free(t);
    }
}

/* ------------------------------------------------------------ sealed */

static const uint8_t key1[BLOCKCODEC_KEY_BYTES] =
    "0123456789abcdef0123456789abcde";
static const uint8_t key2[BLOCKCODEC_KEY_BYTES] =
    "0123456789abcdef0123456789abcdX";

/* Seal raw with key1, check the header by hand and that none of the
 * plaintext's 16-byte windows appears in the frame, open it again. */
static void sealed_roundtrip(const char *name, const uint8_t *raw, size_t len,
                             int compress, int want_lz4)
{
    buf enc, dec;
    ember_error err = {0, ""};
    size_t consumed = 0;
    int leaks = 0;
    buf_init(&enc);
    buf_init(&dec);
    is_int(0, blockcodec_encode_with(&enc, raw, len, compress, key1),
           "sealed %s: encode", name);
    {
        const uint8_t *h = enc.data;
        uint32_t stored = le32(h + 12);
        int lz4 = h[5] & 1;
        ok(memcmp(h, "EMBK", 4) == 0 && h[4] == 1 &&
               (h[5] & ~1) == BLOCKCODEC_FLAG_SEALED && le32(h + 8) == len &&
               le32(h + 16) == 0 &&
               enc.len == BLOCKCODEC_HEADER + (size_t)stored &&
               (lz4 ? stored < len + BLOCKCODEC_SEAL_OVERHEAD
                    : stored == len + BLOCKCODEC_SEAL_OVERHEAD) &&
               lz4 == want_lz4,
           "sealed %s: header (flags 0x%02x, raw %zu, stored %u, crc 0)", name,
           h[5], len, (unsigned)stored);
    }
    for (size_t i = 0; i + 16 <= len && i < 4096; i += 7)
        for (size_t j = 0; j + 16 <= enc.len; j++)
            if (memcmp(enc.data + j, raw + i, 16) == 0) {
                leaks++;
                break;
            }
    ok(leaks == 0, "sealed %s: no 16-byte window of the plaintext is stored",
       name);
    is_int(
        0,
        blockcodec_decode_with(enc.data, enc.len, &dec, &consumed, key1, &err),
        "sealed %s: opens with its key%s%s", name, err.msg[0] ? ": " : "",
        err.msg);
    ok(consumed == enc.len && dec.len == len &&
           (len == 0 || memcmp(dec.data, raw, len) == 0),
       "sealed %s: the bytes come back", name);
    buf_free(&enc);
    buf_free(&dec);
}

/* Every byte flip and every truncation of a sealed frame is refused and
 * leaves out untouched; a flip past the header fails authentication. */
static void sealed_tamper(const char *name, const uint8_t *raw, size_t len,
                          int compress)
{
    buf enc, dec;
    ember_error err;
    uint8_t *copy;
    size_t consumed;
    int all = 1, authfail = 1, untouched = 1, n = 0;
    buf_init(&enc);
    buf_init(&dec);
    if (blockcodec_encode_with(&enc, raw, len, compress, key1))
        bail("sealed encode failed");
    copy = malloc(enc.len);
    buf_put(&dec, "keep", 4);
    for (size_t i = 0; i < enc.len; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            int rc;
            memcpy(copy, enc.data, enc.len);
            copy[i] ^= (uint8_t)(1u << bit);
            consumed = 12345;
            err.msg[0] = '\0';
            rc = blockcodec_decode_with(copy, enc.len, &dec, &consumed, key1,
                                        &err);
            n++;
            if (rc != EMBER_ECORRUPT || !err.msg[0])
                all = 0;
            if (dec.len != 4 || consumed != 12345)
                untouched = 0;
            /* header flips may fail the header's own checks first;
               anything behind it is caught by the tag */
            if (i >= BLOCKCODEC_HEADER &&
                !strstr(err.msg, "fails authentication"))
                authfail = 0;
        }
    ok(all, "sealed %s: all %d bit flips refused with EMBER_ECORRUPT", name, n);
    ok(authfail,
       "sealed %s: flips of nonce, body and tag fail "
       "authentication",
       name);
    ok(untouched, "sealed %s: refusals leave out and consumed untouched", name);
    /* the header is authenticated too: lengths that still agree */
    if (!compress && len > 0) {
        uint32_t r = le32(enc.data + 8) - 1, st = le32(enc.data + 12) - 1;
        memcpy(copy, enc.data, enc.len);
        for (int k = 0; k < 4; k++) {
            copy[8 + k] = (uint8_t)(r >> (8 * k));
            copy[12 + k] = (uint8_t)(st >> (8 * k));
        }
        is_int(
            EMBER_ECORRUPT,
            blockcodec_decode_with(copy, enc.len, &dec, &consumed, key1, &err),
            "sealed %s: a shorter but consistent header is refused", name);
        like(err.msg, "fails authentication", "sealed %s: %s", name, err.msg);
    }
    all = 1;
    for (size_t t = 0; t < enc.len; t++) {
        uint8_t *tr = malloc(t ? t : 1);
        memcpy(tr, enc.data, t);
        if (blockcodec_decode_with(tr, t, &dec, &consumed, key1, &err) !=
            EMBER_ECORRUPT)
            all = 0;
        free(tr);
    }
    ok(all, "sealed %s: every truncation refused", name);
    free(copy);
    buf_free(&enc);
    buf_free(&dec);
}

static void test_sealed(void)
{
    uint8_t *text = compressible_bytes(300000);
    uint8_t *noise = random_bytes(5000);
    buf a, b, dec;
    ember_error err = {0, ""};
    size_t consumed;

    sealed_roundtrip("empty", NULL, 0, 1, 0);
    sealed_roundtrip("1 byte", (const uint8_t *)"x", 1, 0, 0);
    sealed_roundtrip("text 300 KB, LZ4", text, 300000, 1, 1);
    sealed_roundtrip("text 300 KB, raw", text, 300000, 0, 0);
    sealed_roundtrip("random 5000 bytes", noise, 5000, 1, 0);
    sealed_tamper("100-byte LZ4", text, 100, 1);
    sealed_tamper("40-byte raw", noise, 40, 0);
    sealed_tamper("empty", noise, 0, 0);

    buf_init(&a);
    buf_init(&b);
    buf_init(&dec);
    blockcodec_encode_with(&a, text, 1000, 1, key1);
    blockcodec_encode_with(&b, text, 1000, 1, key1);
    ok(a.len == b.len &&
           memcmp(a.data + BLOCKCODEC_HEADER, b.data + BLOCKCODEC_HEADER,
                  a.len - BLOCKCODEC_HEADER) != 0,
       "two seals of the same bytes differ (a fresh nonce each)");

    is_int(EMBER_ECORRUPT,
           blockcodec_decode_with(a.data, a.len, &dec, &consumed, key2, &err),
           "a sealed frame refused under another key");
    like(err.msg, "fails authentication", "wrong key: %s", err.msg);
    is_int(EMBER_ECORRUPT,
           blockcodec_decode_with(a.data, a.len, &dec, &consumed, NULL, &err),
           "a sealed frame refused without a key");
    like(err.msg, "no io key", "sealed without a key: %s", err.msg);
    buf_reset(&b);
    blockcodec_encode_with(&b, text, 1000, 1, NULL);
    is_int(EMBER_ECORRUPT,
           blockcodec_decode_with(b.data, b.len, &dec, &consumed, key1, &err),
           "an unsealed frame refused with a key");
    like(err.msg, "unsealed frame refused", "unsealed with a key: %s", err.msg);
    is_int(0, (long long)dec.len, "refusals append nothing");

    /* a sequence of sealed frames, and one unsealed frame among them */
    buf_reset(&a);
    for (int i = 0; i < 4; i++)
        blockcodec_encode_with(&a, text + 1000 * i, 1000 + 500 * (size_t)i,
                               i & 1, key1);
    is_int(0, blockcodec_decode_all_with(a.data, a.len, &dec, key1, &err),
           "decode_all of 4 sealed frames");
    ok(dec.len == 1000 + 1500 + 2000 + 2500 &&
           memcmp(dec.data, text, 1000) == 0 &&
           memcmp(dec.data + 1000, text + 1000, 1500) == 0 &&
           memcmp(dec.data + 4500, text + 3000, 2500) == 0,
       "decode_all of sealed frames gives their concatenation");
    buf_reset(&dec);
    blockcodec_encode_with(&a, text, 10, 0, NULL);
    is_int(EMBER_ECORRUPT,
           blockcodec_decode_all_with(a.data, a.len, &dec, key1, &err),
           "an unsealed frame after sealed ones is refused");
    like(err.msg, "frame at byte", "... naming its offset: %s", err.msg);

    /* sealed headers the checks refuse before any crypto */
    {
        uint8_t f[BLOCKCODEC_HEADER + 39];
        memset(f, 0, sizeof f);
        make_header(f, 0x4B424D45u, 1, BLOCKCODEC_FLAG_SEALED, 0, 0, 39, 0);
        expect_corrupt(f, sizeof f, "less than its nonce and tag",
                       "sealed stored_len 39");
        make_header(f, 0x4B424D45u, 1, BLOCKCODEC_FLAG_SEALED, 0, 0, 40, 7);
        {
            buf d;
            buf_init(&d);
            is_int(EMBER_ECORRUPT,
                   blockcodec_decode_with(f, BLOCKCODEC_HEADER + 40, &d,
                                          &consumed, key1, &err),
                   "sealed frame with a checksum refused");
            like(err.msg, "nonzero checksum", "... %s", err.msg);
            buf_free(&d);
        }
    }

    /* the process key: the plain functions seal and open with it */
    ok(blockcodec_key() == NULL, "no process key at first");
    is_int(0, blockcodec_set_key(key2, &err), "set the process key");
    ok(blockcodec_key() != NULL &&
           memcmp(blockcodec_key(), key2, BLOCKCODEC_KEY_BYTES) == 0,
       "blockcodec_key() is it");
    buf_reset(&a);
    buf_reset(&dec);
    blockcodec_encode(&a, text, 5000, 1);
    ok(a.data[5] & BLOCKCODEC_FLAG_SEALED,
       "with a process key, blockcodec_encode seals");
    is_int(0, blockcodec_decode_all(a.data, a.len, &dec, &err),
           "and blockcodec_decode_all opens");
    ok(dec.len == 5000 && memcmp(dec.data, text, 5000) == 0,
       "... the same bytes");
    is_int(EMBER_ECORRUPT, blockcodec_decode_all(b.data, b.len, &dec, &err),
           "and refuses an unsealed frame");
    is_int(0, blockcodec_set_key(NULL, &err), "clear the process key");
    ok(blockcodec_key() == NULL, "blockcodec_key() is NULL again");
    is_int(EMBER_ECORRUPT, blockcodec_decode_all(a.data, a.len, &dec, &err),
           "without it a sealed frame is refused");
    buf_free(&a);
    buf_free(&b);
    buf_free(&dec);
    free(text);
    free(noise);
}

static void test_garbage(void)
{
    buf dec;
    ember_error err;
    size_t consumed;
    int all = 1, bounded = 1;
    buf_init(&dec);
    /* pure noise */
    for (int i = 0; i < 2000; i++) {
        size_t n = rnd() % 200;
        uint8_t *p = random_bytes(n);
        if (blockcodec_decode(p, n, &dec, &consumed, &err) != EMBER_ECORRUPT)
            all = 0;
        free(p);
    }
    ok(all, "2000 random inputs rejected");
    /* a plausible header over a random body: exercises LZ4 and the crc */
    all = 1;
    for (int i = 0; i < 3000; i++) {
        size_t body = rnd() % 300;
        uint8_t *p = random_bytes(BLOCKCODEC_HEADER + body);
        uint32_t raw_len = (i & 1) ? rnd() % 4096 : (uint32_t)body;
        uint32_t stored = body ? (uint32_t)(rnd() % (body + 1)) : 0;
        int lz4 = (i & 2) != 0;
        int rc;
        make_header(p, 0x4B424D45u, 1, (uint8_t)lz4, 0, raw_len,
                    lz4 ? stored : raw_len, rnd());
        rc = blockcodec_decode(p, BLOCKCODEC_HEADER + body, &dec, &consumed,
                               &err);
        if (rc != EMBER_ECORRUPT)
            all = 0;
        if (dec.cap > 2 * 4096 + 64)
            bounded = 0;
        free(p);
    }
    ok(all, "3000 plausible headers over random bodies rejected");
    ok(bounded, "allocations stay within the frames' raw_len");
    is_int(0, (long long)dec.len, "no rejected frame left bytes in out");
    buf_free(&dec);
}

int main(void)
{
    uint8_t *small = compressible_bytes(200);
    uint8_t *noise = random_bytes(40);
    (void)skip; /* tap.h helpers this test has no use for */
    plan(NTESTS);
    test_crc();
    test_roundtrips();
    test_limits();
    test_decode_all();
    test_corruption("200-byte LZ4 frame", small, 200, 1);
    test_corruption("40-byte raw frame", noise, 40, 0);
    test_corruption("empty raw frame", noise, 0, 0);
    test_headers();
    test_garbage();
    test_sealed();
    free(small);
    free(noise);
    return done_testing();
}
