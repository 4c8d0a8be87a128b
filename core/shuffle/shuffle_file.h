/*
 * shuffle_file.h -- sort-based shuffle output files: one data file and one
 * index file per map task.
 *
 * In a directory, map task map_id of shuffle shuffle_id writes
 *
 *     shuffle_<shuffleId>_<mapId>_0.data    frames of every partition, in order
 *     shuffle_<shuffleId>_<mapId>_0.index   (num_partitions + 1) u64 LE
 *                                           cumulative offsets, first 0,
 *                                           then u32 LE crc32c of them
 *
 * Reduce partition r is the byte range [off[r], off[r+1]) of the data file:
 * zero or more blockcodec frames, each holding whole records of at most
 * SHUFFLE_FRAME_RAW raw bytes (a larger record gets a frame of its own).
 * A record is `varint length` (LEB128) + bytes; records never span frames.
 * The index file is renamed into place last, so its presence marks a
 * complete map output.  Byte-level layout: docs/formats.md.
 *
 * Threads: a shuffle_writer belongs to one thread; the other functions keep
 * no state and are safe from any thread.
 */
#ifndef EMBER_SHUFFLE_SHUFFLE_FILE_H
#define EMBER_SHUFFLE_SHUFFLE_FILE_H

#include "util/buf.h"
#include <ember/plugin.h>

#include <stddef.h>
#include <stdint.h>

/* Target raw size of one frame of shuffle data. */
#define SHUFFLE_FRAME_RAW (256u * 1024u)

typedef struct shuffle_writer shuffle_writer;

/* A writer for one map output; creates nothing on disk yet.  dir is copied.
 * num_partitions >= 1, shuffle_id >= 0.  Returns NULL with err set
 * (EMBER_EINVAL, EMBER_ENOMEM) on failure. */
shuffle_writer *shuffle_writer_new(const char *dir, int shuffle_id,
                                   uint64_t map_id, int num_partitions,
                                   int compress, ember_error *err);

/* Buffer one record (copied) for partition p, 0 <= p < num_partitions.
 * Records of a partition keep their order.  EMBER_EINVAL for a bad
 * partition, EMBER_ETOOBIG for a record that cannot fit one frame,
 * EMBER_ENOMEM; on failure nothing was added and the writer stays usable. */
int shuffle_writer_add(shuffle_writer *w, int partition, const void *rec,
                       size_t len, ember_error *err);

/* Records added so far, and the bytes buffered for them (memory
 * accounting: each record's varint length + bytes). */
uint64_t shuffle_writer_records(const shuffle_writer *w);
size_t shuffle_writer_buffered(const shuffle_writer *w);

/* Write what is buffered to a spill file and free the buffers (memory
 * pressure); commit merges spills with what is buffered then.  0 if there
 * was nothing to spill. */
int shuffle_writer_spill(shuffle_writer *w, ember_error *err);
int shuffle_writer_spills(const shuffle_writer *w);

/* Write data + index to `<final>.tmp.<pid>` files in dir, then rename both
 * into place, index last.  sizes (may be NULL) receives, on success,
 * num_partitions stored byte counts (what a reducer will fetch).  Takes the
 * writer: frees *w and sets it to NULL in every case.  On failure
 * (EMBER_EIO naming the path, EMBER_ENOMEM) removes its temp files and any
 * file it renamed into place. */
int shuffle_writer_commit(shuffle_writer **w, uint64_t *sizes,
                          ember_error *err);

/* Drop everything, remove temp files if any, free, *w = NULL.  Accepts NULL
 * and *w == NULL. */
void shuffle_writer_abort(shuffle_writer **w);

/* "<dir>/shuffle_<shuffle_id>_<map_id>_0.<ext>" into out[0..n) (snprintf:
 * truncated if n is too small).  ext is "data" or "index". */
void shuffle_file_path(char *out, size_t n, const char *dir, int shuffle_id,
                       uint64_t map_id, const char *ext);

/* Append the stored bytes (frames, exactly as on disk) of reduce partition
 * reduce_id to out.  Validates the index (size, checksum, first offset 0,
 * monotonic offsets, last offset == data file size) and reduce_id.  Returns
 * 0, EMBER_ENOTFOUND if a file does not exist, EMBER_EINVAL for a bad
 * reduce_id, EMBER_ECORRUPT or EMBER_EIO with a message naming the file,
 * EMBER_ENOMEM.  On failure out keeps its old length. */
int shuffle_read_block(const char *dir, int shuffle_id, uint64_t map_id,
                       int reduce_id, buf *out, ember_error *err);

/* Called once per record; rec is valid only during the call.  Non-zero
 * stops the iteration. */
typedef int (*shuffle_rec_fn)(void *ud, const void *rec, size_t len);

/* Decode every frame of block[0..len) (as returned by shuffle_read_block or
 * shuffle_block_encode) and call fn for each record in order.  Returns 0,
 * fn's non-zero value if it stopped, EMBER_ECORRUPT with a message for
 * corrupt frames or records, EMBER_ENOMEM. */
int shuffle_block_foreach(const void *block, size_t len, shuffle_rec_fn fn,
                          void *ud, ember_error *err);

/* Append a standalone block (same frames, split at record boundaries as
 * the writer does) made from records already concatenated as varint length
 * + bytes in raw[0..len); used for task results.  Returns 0, EMBER_EINVAL
 * if raw is not a well-formed record list, EMBER_ENOMEM; on failure out
 * keeps its old length. */
int shuffle_block_encode(buf *out, const void *raw, size_t len, int compress);

/* Remove the data and index files of one map output; missing files are
 * ignored. */
void shuffle_file_remove(const char *dir, int shuffle_id, uint64_t map_id);

#endif
