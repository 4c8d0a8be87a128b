/*
 * blockcodec.h -- self-checking, optionally LZ4-compressed frames.
 *
 * A frame is a 20-byte header followed by the stored bytes:
 *
 *     magic u32 = 0x4B424D45 ("EMBK" on disk), version u8 = 1,
 *     flags u8 (bit 0: body is LZ4 block-compressed), reserved u16 = 0,
 *     raw_len u32, stored_len u32, crc32c u32 of the raw bytes
 *     (util/crc32c.h)
 *
 * all little-endian (docs/formats.md).  Frames concatenate: a shuffle block
 * or a task result is a sequence of frames.  The decoder treats its input as
 * untrusted: it never reads out of bounds and never allocates more than the
 * (bounded) raw_len of the frame it is decoding.
 *
 * Threads: no shared state; every function is safe from any thread.
 */
#ifndef EMBER_CODEC_BLOCKCODEC_H
#define EMBER_CODEC_BLOCKCODEC_H

#include "util/buf.h"
#include <ember/plugin.h>

#include <stddef.h>
#include <stdint.h>

#define BLOCKCODEC_MAGIC 0x4B424D45u
#define BLOCKCODEC_VERSION 1
#define BLOCKCODEC_FLAG_LZ4 0x01u
#define BLOCKCODEC_MAX_RAW (1u << 30)
#define BLOCKCODEC_HEADER 20

/* Append one frame holding raw[0..len) to out.  compress=1 uses
 * LZ4_compress_default; if compression does not shrink the data the frame
 * stores it raw (flag clear).  Returns 0, EMBER_ENOMEM (out keeps its old
 * length) or EMBER_EINVAL (len > BLOCKCODEC_MAX_RAW, or raw NULL with
 * len > 0). */
int blockcodec_encode(buf *out, const void *raw, size_t len, int compress);

/* Decode the frame at the start of data[0..len): append its raw bytes to
 * out and set *consumed to the frame's total size (header + stored bytes).
 * Returns 0, EMBER_ENOMEM, or EMBER_ECORRUPT with a message in err saying
 * what is wrong.  On failure out keeps its old length and *consumed is not
 * touched. */
int blockcodec_decode(const void *data, size_t len, buf *out, size_t *consumed,
                      ember_error *err);

/* Decode a sequence of frames that fills data[0..len) exactly (len 0 is an
 * empty sequence).  Errors as blockcodec_decode, the message prefixed with
 * the frame's byte offset; on failure out keeps its old length. */
int blockcodec_decode_all(const void *data, size_t len, buf *out,
                          ember_error *err);

#endif
