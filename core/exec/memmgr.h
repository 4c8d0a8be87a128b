/*
 * memmgr.h -- an executor's unified memory (Spark's UnifiedMemoryManager):
 * one pool of executor.memory x memory.fraction shared by storage (cached
 * blocks) and execution (shuffle write buffers).  Execution may evict
 * storage down to memory.storageFraction of the pool; storage never takes
 * memory execution holds.  A task gets at most 1/cores of the pool for
 * execution; refused memory means "spill".
 *
 * Threads: any; one mutex.
 */
#ifndef EMBER_EXEC_MEMMGR_H
#define EMBER_EXEC_MEMMGR_H

#include <stdint.h>

typedef struct memmgr memmgr;

/* evict(ud, bytes): free at least `bytes` of storage if possible (called
 * without the manager's lock held). */
typedef void (*memmgr_evict_fn)(void *ud, uint64_t bytes);

memmgr *memmgr_new(uint64_t pool, double storage_fraction, int cores);
void memmgr_destroy(memmgr **mm);
void memmgr_set_evictor(memmgr *mm, memmgr_evict_fn fn, void *ud);

/* Execution: grant up to want bytes to a task (0 if none can be had). */
uint64_t memmgr_acquire_execution(memmgr *mm, uint64_t want);
void memmgr_release_execution(memmgr *mm, uint64_t n);

/* Storage: 1 if n bytes are free for a block now (they are then taken),
 * else 0 (the block manager evicts or gives up). */
int memmgr_acquire_storage(memmgr *mm, uint64_t n);
void memmgr_release_storage(memmgr *mm, uint64_t n);

uint64_t memmgr_pool(const memmgr *mm);
void memmgr_usage(memmgr *mm, uint64_t *execution, uint64_t *storage);

#endif
