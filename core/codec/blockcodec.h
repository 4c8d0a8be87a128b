/*
 * blockcodec.h -- self-checking, optionally LZ4-compressed and optionally
 * sealed (encrypted and authenticated) frames.
 *
 * A frame is a 20-byte header followed by the stored bytes:
 *
 *     magic u32 = 0x4B424D45 ("EMBK" on disk), version u8 = 1,
 *     flags u8 (bit 0: body is LZ4 block-compressed; bit 1: sealed),
 *     reserved u16 = 0, raw_len u32, stored_len u32,
 *     crc32c u32 of the raw bytes (util/crc32c.h), 0 when sealed
 *
 * all little-endian (docs/formats.md).  A sealed frame stores a random
 * 24-byte nonce, the body encrypted with XChaCha20-Poly1305 (the header as
 * associated data) and its 16-byte tag; the tag replaces the CRC.  Frames
 * concatenate: a shuffle block or a task result is a sequence of frames.
 * The decoder treats its input as untrusted: it never reads out of bounds
 * and never allocates more than the (bounded) raw_len of the frame it is
 * decoding plus, for a sealed compressed frame, the stored bytes.
 *
 * Keys (io.encryption.enabled, docs/security.md).  With a key, every frame
 * written is sealed and every frame read must be sealed with that key; an
 * unsealed frame is refused, as is a sealed frame without a key.  An
 * executor serves one application: it sets the process's key once, before
 * its threads start (blockcodec_set_key), and the plain functions use it.
 * A process that runs several applications at once (the driver, one per
 * session) passes each application's key to the *_with functions instead.
 *
 * Threads: no shared state but the process key, which is set before the
 * threads that use it start; every function is safe from any thread.
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
#define BLOCKCODEC_FLAG_SEALED 0x02u
#define BLOCKCODEC_MAX_RAW (1u << 30)
#define BLOCKCODEC_HEADER 20
#define BLOCKCODEC_KEY_BYTES 32
#define BLOCKCODEC_NONCE 24
#define BLOCKCODEC_TAG 16
/* stored bytes a sealed frame adds to its body */
#define BLOCKCODEC_SEAL_OVERHEAD (BLOCKCODEC_NONCE + BLOCKCODEC_TAG)

/* Append one frame holding raw[0..len) to out.  compress=1 uses
 * LZ4_compress_default; if compression does not shrink the data the frame
 * stores it raw (flag clear).  The frame is sealed with the process key
 * when one is set.  Returns 0, EMBER_ENOMEM (out keeps its old length),
 * EMBER_EINVAL (len > BLOCKCODEC_MAX_RAW, or raw NULL with len > 0) or
 * EMBER_EIO (sealing, and libsodium cannot be initialised). */
int blockcodec_encode(buf *out, const void *raw, size_t len, int compress);

/* Decode the frame at the start of data[0..len): append its raw bytes to
 * out and set *consumed to the frame's total size (header + stored bytes).
 * With the process key set the frame must be sealed with it; without, it
 * must not be sealed.  Returns 0, EMBER_ENOMEM, or EMBER_ECORRUPT with a
 * message in err saying what is wrong.  On failure out keeps its old
 * length and *consumed is not touched. */
int blockcodec_decode(const void *data, size_t len, buf *out, size_t *consumed,
                      ember_error *err);

/* Decode a sequence of frames that fills data[0..len) exactly (len 0 is an
 * empty sequence).  Errors as blockcodec_decode, the message prefixed with
 * the frame's byte offset; on failure out keeps its old length. */
int blockcodec_decode_all(const void *data, size_t len, buf *out,
                          ember_error *err);

/* The same with an explicit key (NULL: none), whatever the process key:
 * for a process that hosts several applications. */
int blockcodec_encode_with(buf *out, const void *raw, size_t len, int compress,
                           const uint8_t *key);
int blockcodec_decode_with(const void *data, size_t len, buf *out,
                           size_t *consumed, const uint8_t *key,
                           ember_error *err);
int blockcodec_decode_all_with(const void *data, size_t len, buf *out,
                               const uint8_t *key, ember_error *err);

/* Set the process key (BLOCKCODEC_KEY_BYTES bytes, copied), or clear it
 * with NULL.  Call before the threads that encode or decode start (an
 * executor, once its credentials are read; tests).  Returns 0 or EMBER_EIO
 * when libsodium cannot be initialised. */
int blockcodec_set_key(const uint8_t *key, ember_error *err);

/* The process key (borrowed; NULL when none is set). */
const uint8_t *blockcodec_key(void);

#endif
