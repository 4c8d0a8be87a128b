/*
 * memmgr.c -- an executor's unified memory pool (see memmgr.h).
 */
#include "memmgr.h"

#include <pthread.h>
#include <stdlib.h>

struct memmgr {
    pthread_mutex_t mu;
    uint64_t pool;
    uint64_t storage_floor; /* storage below this is immune to eviction */
    uint64_t per_task;      /* execution cap of one task */
    uint64_t exec_used;
    uint64_t storage_used;
    memmgr_evict_fn evict;
    void *evict_ud;
};

memmgr *memmgr_new(uint64_t pool, double storage_fraction, int cores)
{
    memmgr *mm = calloc(1, sizeof *mm);
    if (!mm)
        return NULL;
    pthread_mutex_init(&mm->mu, NULL);
    mm->pool = pool;
    if (storage_fraction < 0)
        storage_fraction = 0;
    if (storage_fraction > 1)
        storage_fraction = 1;
    mm->storage_floor = (uint64_t)((double)pool * storage_fraction);
    mm->per_task = pool / (uint64_t)(cores > 0 ? cores : 1);
    return mm;
}

void memmgr_destroy(memmgr **mmp)
{
    memmgr *mm = mmp ? *mmp : NULL;
    if (!mm)
        return;
    pthread_mutex_destroy(&mm->mu);
    free(mm);
    *mmp = NULL;
}

void memmgr_set_evictor(memmgr *mm, memmgr_evict_fn fn, void *ud)
{
    pthread_mutex_lock(&mm->mu);
    mm->evict = fn;
    mm->evict_ud = ud;
    pthread_mutex_unlock(&mm->mu);
}

static uint64_t free_bytes(const memmgr *mm)
{
    uint64_t used = mm->exec_used + mm->storage_used;
    return used >= mm->pool ? 0 : mm->pool - used;
}

uint64_t memmgr_acquire_execution(memmgr *mm, uint64_t want)
{
    uint64_t grant, need_evict = 0;
    memmgr_evict_fn evict;
    void *ud;
    if (want > mm->per_task)
        want = mm->per_task;
    pthread_mutex_lock(&mm->mu);
    if (free_bytes(mm) < want && mm->storage_used > mm->storage_floor) {
        need_evict = want - free_bytes(mm);
        if (need_evict > mm->storage_used - mm->storage_floor)
            need_evict = mm->storage_used - mm->storage_floor;
    }
    evict = mm->evict;
    ud = mm->evict_ud;
    pthread_mutex_unlock(&mm->mu);
    if (need_evict && evict)
        evict(ud, need_evict); /* takes the block manager's lock */
    pthread_mutex_lock(&mm->mu);
    grant = free_bytes(mm) < want ? free_bytes(mm) : want;
    mm->exec_used += grant;
    pthread_mutex_unlock(&mm->mu);
    return grant;
}

void memmgr_release_execution(memmgr *mm, uint64_t n)
{
    pthread_mutex_lock(&mm->mu);
    mm->exec_used = n > mm->exec_used ? 0 : mm->exec_used - n;
    pthread_mutex_unlock(&mm->mu);
}

int memmgr_acquire_storage(memmgr *mm, uint64_t n)
{
    int ok;
    pthread_mutex_lock(&mm->mu);
    ok = free_bytes(mm) >= n;
    if (ok)
        mm->storage_used += n;
    pthread_mutex_unlock(&mm->mu);
    return ok;
}

void memmgr_release_storage(memmgr *mm, uint64_t n)
{
    pthread_mutex_lock(&mm->mu);
    mm->storage_used = n > mm->storage_used ? 0 : mm->storage_used - n;
    pthread_mutex_unlock(&mm->mu);
}

uint64_t memmgr_pool(const memmgr *mm)
{
    return mm->pool;
}

void memmgr_usage(memmgr *mm, uint64_t *execution, uint64_t *storage)
{
    pthread_mutex_lock(&mm->mu);
    if (execution)
        *execution = mm->exec_used;
    if (storage)
        *storage = mm->storage_used;
    pthread_mutex_unlock(&mm->mu);
}
