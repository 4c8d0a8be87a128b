/*
 * blockmgr.c -- cached partitions of one executor (see blockmgr.h).
 *
 * A small table of blocks, each with an in-memory copy (blockcodec frames)
 * and/or a file in <dir>/blocks/.  Memory use is the sum of the frames'
 * sizes and stays under the budget: storing a block first evicts the least
 * recently used blocks of other datasets (Spark never evicts a dataset's
 * own blocks to make room for it).  Every change is queued for the driver's
 * block-manager master.
 */
#include "blockmgr.h"

#include "codec/blockcodec.h"
#include "util/err.h"
#include "util/fsutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

typedef struct block {
    int node;
    int part;
    int level;
    uint8_t *mem; /* frames, or NULL */
    size_t mem_len;
    size_t disk_len; /* 0: not on disk */
    uint64_t last_use;
    int used; /* slot in use */
} block;

struct blockmgr {
    pthread_mutex_t mu;
    char dir[4096];
    memmgr *mm;
    uint64_t used;
    uint64_t clock;
    block *v;
    int n;
    buf updates;
    int nupdates;
};

const char *level_name(int level)
{
    static const char *names[] = {"NONE",
                                  "MEMORY_ONLY",
                                  "MEMORY_AND_DISK",
                                  "MEMORY_ONLY_SER",
                                  "MEMORY_AND_DISK_SER",
                                  "DISK_ONLY"};
    return level >= 0 && level <= LEVEL_MAX ? names[level] : "UNKNOWN";
}

int level_parse(const char *name)
{
    for (int i = 0; i <= LEVEL_MAX; i++)
        if (name && strcmp(name, level_name(i)) == 0)
            return i;
    return -1;
}

static int use_mem(int level)
{
    return level >= LEVEL_MEMORY_ONLY && level <= LEVEL_MEMORY_AND_DISK_SER;
}

static int use_disk(int level)
{
    return level == LEVEL_MEMORY_AND_DISK ||
           level == LEVEL_MEMORY_AND_DISK_SER || level == LEVEL_DISK_ONLY;
}

static int serialized(int level)
{
    return level == LEVEL_MEMORY_ONLY_SER ||
           level == LEVEL_MEMORY_AND_DISK_SER || level == LEVEL_DISK_ONLY;
}

static void evict_cb(void *ud, uint64_t bytes)
{
    blockmgr_evict(ud, bytes);
}

blockmgr *blockmgr_new(const char *dir, memmgr *mm)
{
    blockmgr *bm = calloc(1, sizeof *bm);
    if (!bm)
        return NULL;
    pthread_mutex_init(&bm->mu, NULL);
    snprintf(bm->dir, sizeof bm->dir, "%s/blocks", dir);
    bm->mm = mm;
    buf_init(&bm->updates);
    memmgr_set_evictor(mm, evict_cb, bm);
    return bm;
}

void blockmgr_destroy(blockmgr **bmp)
{
    blockmgr *bm = bmp ? *bmp : NULL;
    if (!bm)
        return;
    for (int i = 0; i < bm->n; i++)
        free(bm->v[i].mem);
    free(bm->v);
    buf_free(&bm->updates);
    pthread_mutex_destroy(&bm->mu);
    free(bm);
    *bmp = NULL;
}

static void path_of(const blockmgr *bm, const block *b, char *out, size_t n)
{
    snprintf(out, n, "%s/rdd_%d_%d", bm->dir, b->node, b->part);
}

static void note(blockmgr *bm, const block *b)
{
    buf_put_svarint(&bm->updates, b->node);
    buf_put_svarint(&bm->updates, b->part);
    buf_put_svarint(&bm->updates,
                    (b->mem || b->disk_len) && b->used ? b->level : 0);
    buf_put_varint(&bm->updates, b->used ? b->mem_len : 0);
    buf_put_varint(&bm->updates, b->used ? b->disk_len : 0);
    bm->nupdates++;
}

static block *find(blockmgr *bm, int node, int part)
{
    for (int i = 0; i < bm->n; i++)
        if (bm->v[i].used && bm->v[i].node == node && bm->v[i].part == part)
            return &bm->v[i];
    return NULL;
}

static int write_disk(blockmgr *bm, block *b, const uint8_t *frames, size_t len,
                      ember_error *err)
{
    char path[4200];
    FILE *f;
    if (mkdir_p(bm->dir, err))
        return EMBER_EIO;
    path_of(bm, b, path, sizeof path);
    f = fopen_private(path, "wb");
    if (!f || fwrite(frames, 1, len, f) != len || fclose(f) != 0) {
        if (f)
            fclose(f);
        unlink(path);
        return ember_seterr(err, EMBER_EIO, "cannot write block %s: %s", path,
                            strerror(errno));
    }
    b->disk_len = len;
    return 0;
}

static void drop(blockmgr *bm, block *b)
{
    char path[4200];
    if (b->mem) {
        bm->used -= b->mem_len;
        memmgr_release_storage(bm->mm, b->mem_len);
        free(b->mem);
        b->mem = NULL;
        b->mem_len = 0;
    }
    if (b->disk_len) {
        path_of(bm, b, path, sizeof path);
        unlink(path);
        b->disk_len = 0;
    }
    b->used = 0;
    note(bm, b);
}

/* Move the LRU in-memory block (not of dataset `keep`) out of memory: to
 * disk if its level allows, else drop it.  Returns the bytes freed. */
static uint64_t evict_one(blockmgr *bm, int keep)
{
    block *victim = NULL;
    uint64_t freed;
    for (int i = 0; i < bm->n; i++) {
        block *b = &bm->v[i];
        if (b->used && b->mem && b->node != keep &&
            (!victim || b->last_use < victim->last_use))
            victim = b;
    }
    if (!victim)
        return 0;
    freed = victim->mem_len;
    {
        if (use_disk(victim->level) && !victim->disk_len) {
            ember_error err = {0, ""};
            if (write_disk(bm, victim, victim->mem, victim->mem_len, &err) !=
                0) {
                drop(bm, victim); /* releases its memory */
                return freed;
            }
        }
        bm->used -= victim->mem_len;
        memmgr_release_storage(bm->mm, victim->mem_len);
        free(victim->mem);
        victim->mem = NULL;
        victim->mem_len = 0;
        if (!victim->disk_len)
            victim->used = 0; /* dropped: recomputed when needed */
        note(bm, victim);
    }
    return freed;
}

/* Take need bytes of storage memory, evicting LRU blocks of other
 * datasets as long as that helps.  Returns 1 if the room is there. */
static int make_room(blockmgr *bm, uint64_t need, int node)
{
    while (!memmgr_acquire_storage(bm->mm, need))
        if (evict_one(bm, node) == 0)
            return 0;
    return 1;
}

void blockmgr_evict(blockmgr *bm, uint64_t bytes)
{
    uint64_t freed = 0, f;
    pthread_mutex_lock(&bm->mu);
    while (freed < bytes && (f = evict_one(bm, INT32_MIN)) > 0)
        freed += f;
    pthread_mutex_unlock(&bm->mu);
}

int blockmgr_put(blockmgr *bm, int node, int part, int level, const void *raw,
                 size_t len, ember_error *err)
{
    buf frames;
    block *b;
    int rc = 0;
    if (level <= LEVEL_NONE || level > LEVEL_MAX)
        return ember_seterr(err, EMBER_EINVAL, "bad storage level %d", level);
    buf_init(&frames);
    if (blockcodec_encode(&frames, raw, len, serialized(level))) {
        buf_free(&frames);
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&bm->mu);
    if ((b = find(bm, node, part)) != NULL)
        drop(bm, b); /* replace */
    b = NULL;
    for (int i = 0; i < bm->n; i++)
        if (!bm->v[i].used)
            b = &bm->v[i];
    if (!b) {
        block *nv = realloc(bm->v, (size_t)(bm->n + 1) * sizeof *nv);
        if (!nv) {
            rc = ember_seterr(err, EMBER_ENOMEM, "out of memory");
            goto out;
        }
        bm->v = nv;
        b = &bm->v[bm->n++];
    }
    memset(b, 0, sizeof *b);
    b->node = node;
    b->part = part;
    b->level = level;
    b->used = 1;
    b->last_use = ++bm->clock;
    if (use_mem(level) && make_room(bm, frames.len, node)) {
        b->mem = buf_steal(&frames, &b->mem_len);
        bm->used += b->mem_len;
    } else if (use_disk(level)) {
        rc = write_disk(bm, b, frames.data, frames.len, err);
    }
    if (!b->mem && !b->disk_len)
        b->used = 0; /* fits nowhere: not cached */
    else
        note(bm, b);
out:
    pthread_mutex_unlock(&bm->mu);
    buf_free(&frames);
    return rc;
}

int blockmgr_get(blockmgr *bm, int node, int part, buf *out, ember_error *err)
{
    block *b;
    int rc;
    pthread_mutex_lock(&bm->mu);
    b = find(bm, node, part);
    if (!b) {
        pthread_mutex_unlock(&bm->mu);
        return EMBER_ENOTFOUND;
    }
    b->last_use = ++bm->clock;
    if (b->mem) {
        rc = blockcodec_decode_all(b->mem, b->mem_len, out, err);
    } else {
        char path[4200];
        char *data = NULL;
        size_t n = 0;
        path_of(bm, b, path, sizeof path);
        rc = read_file(path, &data, &n, err);
        if (rc == 0)
            rc = blockcodec_decode_all(data, n, out, err);
        free(data);
    }
    pthread_mutex_unlock(&bm->mu);
    return rc;
}

void blockmgr_remove_node(blockmgr *bm, int node)
{
    pthread_mutex_lock(&bm->mu);
    for (int i = 0; i < bm->n; i++)
        if (bm->v[i].used && bm->v[i].node == node)
            drop(bm, &bm->v[i]);
    pthread_mutex_unlock(&bm->mu);
}

void blockmgr_drain_updates(blockmgr *bm, buf *out)
{
    pthread_mutex_lock(&bm->mu);
    buf_put_varint(out, (uint64_t)bm->nupdates);
    buf_put(out, bm->updates.data, bm->updates.len);
    buf_reset(&bm->updates);
    bm->nupdates = 0;
    pthread_mutex_unlock(&bm->mu);
}

uint64_t blockmgr_memory_used(blockmgr *bm)
{
    uint64_t u;
    pthread_mutex_lock(&bm->mu);
    u = bm->used;
    pthread_mutex_unlock(&bm->mu);
    return u;
}
