/*
 * blockmgr.h -- an executor's block manager: cached partitions in memory
 * or on disk, by storage level, with LRU eviction under a byte budget.
 *
 * Blocks are named rdd_<node>_<partition> and hold the partition's
 * elements encoded (ember's value codec) in blockcodec frames; the _SER
 * levels compress them with LZ4.  (Executors run one lua_State per task
 * thread, so a "deserialized" block cannot be shared between threads as
 * live objects: MEMORY_ONLY keeps uncompressed frames, cheap to decode.)
 *
 * Threads: every function takes the manager's mutex; any thread.
 */
#ifndef EMBER_EXEC_BLOCKMGR_H
#define EMBER_EXEC_BLOCKMGR_H

#include "memmgr.h"
#include "util/buf.h"

#include <ember/plugin.h>
#include <stdint.h>

enum {
    LEVEL_NONE = 0,
    LEVEL_MEMORY_ONLY = 1,
    LEVEL_MEMORY_AND_DISK = 2,
    LEVEL_MEMORY_ONLY_SER = 3,
    LEVEL_MEMORY_AND_DISK_SER = 4,
    LEVEL_DISK_ONLY = 5,
    LEVEL_MAX = 5
};

const char *level_name(int level);
int level_parse(const char *name); /* -1 if unknown */

typedef struct blockmgr blockmgr;

/* Memory for blocks comes from mm (storage side of the unified pool);
 * the manager registers itself as mm's evictor. */
blockmgr *blockmgr_new(const char *dir, memmgr *mm);
void blockmgr_destroy(blockmgr **bm);

/* Store raw (encoded elements) for block (node, part) at level.  Evicts
 * least-recently-used blocks of other datasets when memory is short (to
 * disk if their level allows, else dropped).  A block that fits nowhere is
 * not stored (it will be recomputed); returns 0 anyway.  Errors only for
 * I/O failures on disk levels. */
int blockmgr_put(blockmgr *bm, int node, int part, int level, const void *raw,
                 size_t len, ember_error *err);
/* Append the raw bytes of (node, part) to out; EMBER_ENOTFOUND if absent.
 * Marks the block recently used. */
int blockmgr_get(blockmgr *bm, int node, int part, buf *out, ember_error *err);
/* Drop every block of a dataset. */
void blockmgr_remove_node(blockmgr *bm, int node);

/* Changes since the last call, encoded for the driver: varint count, then
 * per block: svarint node, svarint part, svarint level (0 = removed),
 * varint memory bytes, varint disk bytes. */
void blockmgr_drain_updates(blockmgr *bm, buf *out);

uint64_t blockmgr_memory_used(blockmgr *bm);
/* Free at least `bytes` of memory by evicting least-recently-used blocks
 * (to disk when their level allows); execution memory calls this. */
void blockmgr_evict(blockmgr *bm, uint64_t bytes);

#endif
