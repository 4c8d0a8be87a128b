/*
 * fuzz_blockcodec.c -- libFuzzer target for core/codec/blockcodec.c and
 * shuffle_block_foreach() in core/shuffle/shuffle_file.c.
 *
 * Each input is decoded as a frame sequence and as a shuffle block.  What
 * decodes must re-encode and decode to the same bytes; the record callback
 * reads every byte it is given.  Failures must carry a message.
 *
 * Random bytes rarely carry a valid CRC, which would leave the record
 * parser of shuffle_block_foreach unexplored; so an input starting with 'R'
 * is instead taken as the raw content of frames: it is encoded (stored and
 * LZ4) and the frames, valid by construction, are walked as records.
 *
 * Sealed frames (io.encryption.enabled): every input is also decoded with
 * a fixed key, which must refuse it (random bytes cannot carry a valid
 * tag) or, for a genuine sealed frame, open it; an input starting with 'S'
 * is sealed with that key (stored and LZ4), must open again, and must be
 * refused once any one byte of the frame is changed.
 * Build and run with tests/fuzz/run-fuzz.sh.
 */
#include "codec/blockcodec.h"
#include "shuffle/shuffle_file.h"

#include <stdlib.h>
#include <string.h>

typedef struct tally {
    size_t records;
    size_t bytes;
    uint32_t mix;
} tally;

static int on_record(void *ud, const void *rec, size_t len)
{
    tally *t = ud;
    const uint8_t *p = rec;
    t->records++;
    t->bytes += len;
    for (size_t i = 0; i < len; i++) /* touch every byte for ASan */
        t->mix = t->mix * 31u + p[i];
    return 0;
}

static int stop_early(void *ud, const void *rec, size_t len)
{
    (void)rec;
    (void)len;
    return ++*(int *)ud >= 2 ? 7 : 0;
}

static const uint8_t fuzz_key[BLOCKCODEC_KEY_BYTES] =
    "a fixed key for fuzzing, 32 B..";

/* 'S' mode: raw bytes sealed, opened, and refused after any change. */
static void sealed_mode(const uint8_t *raw, size_t n)
{
    for (int compress = 0; compress <= 1; compress++) {
        buf frames, back;
        ember_error err;
        size_t consumed = 0, at;
        buf_init(&frames);
        buf_init(&back);
        if (blockcodec_encode_with(&frames, raw, n, compress, fuzz_key) ||
            blockcodec_decode_all_with(frames.data, frames.len, &back, fuzz_key,
                                       NULL) ||
            back.len != n || (n && memcmp(back.data, raw, n)))
            abort(); /* sealing and opening disagree */
        buf_reset(&back);
        /* one changed byte, chosen by the input */
        at = (n ? raw[0] * 257u + raw[n - 1] : 0) % frames.len;
        frames.data[at] ^= (uint8_t)(n > 1 ? raw[1] | 1 : 0x40);
        memset(&err, 0, sizeof err);
        if (blockcodec_decode_with(frames.data, frames.len, &back, &consumed,
                                   fuzz_key, &err) != EMBER_ECORRUPT ||
            back.len != 0 || !err.msg[0])
            abort(); /* a changed sealed frame was accepted */
        buf_free(&frames);
        buf_free(&back);
    }
}

/* 'R' mode: arbitrary raw bytes inside valid frames. */
static void raw_mode(const uint8_t *raw, size_t n)
{
    for (int compress = 0; compress <= 1; compress++) {
        buf frames, back;
        tally t = {0, 0, 0};
        ember_error err;
        int rc;
        buf_init(&frames);
        buf_init(&back);
        if (blockcodec_encode(&frames, raw, n, compress) ||
            blockcodec_decode_all(frames.data, frames.len, &back, NULL) ||
            back.len != n || (n && memcmp(back.data, raw, n)))
            abort(); /* encoder and decoder disagree */
        memset(&err, 0, sizeof err);
        rc =
            shuffle_block_foreach(frames.data, frames.len, on_record, &t, &err);
        if (rc != 0 && (rc != EMBER_ECORRUPT || !err.msg[0]))
            abort();
        if (rc == 0 && t.bytes > n)
            abort();
        /* well-formed record lists also go through shuffle_block_encode */
        if (rc == 0) {
            buf blk;
            tally t2 = {0, 0, 0};
            buf_init(&blk);
            if (shuffle_block_encode(&blk, raw, n, compress) ||
                shuffle_block_foreach(blk.data, blk.len, on_record, &t2,
                                      NULL) ||
                t2.records != t.records || t2.bytes != t.bytes ||
                t2.mix != t.mix)
                abort(); /* re-framing changed the records */
            buf_free(&blk);
        }
        buf_free(&frames);
        buf_free(&back);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ember_error err;
    buf out, again, re;
    tally t = {0, 0, 0};
    int rc, calls = 0;

    if (size > 0 && data[0] == 'R') {
        raw_mode(data + 1, size - 1);
        return 0;
    }
    if (size > 0 && data[0] == 'S') {
        sealed_mode(data + 1, size - 1);
        return 0;
    }
    buf_init(&out);
    buf_init(&again);
    buf_init(&re);

    /* one frame */
    {
        size_t consumed = 12345;
        memset(&err, 0, sizeof err);
        rc = blockcodec_decode(data, size, &out, &consumed, &err);
        if (rc == 0 && (consumed < BLOCKCODEC_HEADER || consumed > size))
            abort();
        if (rc != 0 && (consumed != 12345 || out.len != 0 || !err.msg[0]))
            abort();
        buf_reset(&out);
    }

    /* a frame sequence; on success it must survive a round trip */
    memset(&err, 0, sizeof err);
    buf_put(&out, "keep", 4); /* decode appends after what is there */
    rc = blockcodec_decode_all(data, size, &out, &err);
    if (rc != 0) {
        if (out.len != 4 || !err.msg[0] ||
            (rc != EMBER_ECORRUPT && rc != EMBER_ENOMEM))
            abort();
    } else {
        if (memcmp(out.data, "keep", 4) != 0)
            abort();
        for (int compress = 0; compress <= 1; compress++) {
            buf_reset(&re);
            buf_reset(&again);
            if (blockcodec_encode(&re, out.data + 4, out.len - 4, compress) ||
                blockcodec_decode_all(re.data, re.len, &again, NULL) ||
                again.len != out.len - 4 ||
                (again.len && memcmp(again.data, out.data + 4, again.len)))
                abort();
        }
    }

    /* with a key: refused (nothing appended, a message) or a genuine
       sealed sequence that seals and opens again */
    {
        buf opened;
        buf_init(&opened);
        memset(&err, 0, sizeof err);
        rc = blockcodec_decode_all_with(data, size, &opened, fuzz_key, &err);
        if (rc != 0) {
            if (opened.len != 0 || !err.msg[0] ||
                (rc != EMBER_ECORRUPT && rc != EMBER_ENOMEM))
                abort();
        } else {
            buf_reset(&re);
            buf_reset(&again);
            if (blockcodec_encode_with(&re, opened.data, opened.len, 1,
                                       fuzz_key) ||
                blockcodec_decode_all_with(re.data, re.len, &again, fuzz_key,
                                           NULL) ||
                again.len != opened.len ||
                (again.len && memcmp(again.data, opened.data, again.len)))
                abort();
        }
        buf_free(&opened);
    }

    /* the same bytes as a shuffle block */
    memset(&err, 0, sizeof err);
    rc = shuffle_block_foreach(data, size, on_record, &t, &err);
    if (rc != 0 && !err.msg[0])
        abort();
    if (rc == 0 && t.bytes > (out.len > 4 ? out.len - 4 : 0))
        abort(); /* records cannot hold more than the frames decode to */
    rc = shuffle_block_foreach(data, size, stop_early, &calls, NULL);
    if (rc == 7 && calls != 2)
        abort();

    buf_free(&out);
    buf_free(&again);
    buf_free(&re);
    return 0;
}
