/*
 * rt_alloc.c -- the allocator of a task thread's lua_State.
 *
 * Lua allocates and frees many small objects per element (strings, pair
 * tables, closures).  A task thread's lua_State is used by that thread only,
 * so small blocks (up to 256 bytes, in 16-byte classes) are recycled through
 * per-size free lists without locks, carved from 64 KiB chunks with a bump
 * pointer; larger ones go to malloc.  Chunks are given back only when the
 * task_env is destroyed (rt_pool_free_all, after lua_close).  Under
 * AddressSanitizer every block goes to malloc, so ASan sees each one.
 *
 * Threads: a pool belongs to one lua_State, hence to one task thread.
 */
#include "rt_int.h"

#include <stdlib.h>
#include <string.h>

#define POOL_CHUNK (64u << 10)

static void *pool_get(rt_pool *p, int c)
{
    size_t sz = (size_t)(c + 1) * 16;
    void *b = p->free[c];
    if (b) {
        p->free[c] = *(void **)b;
        return b;
    }
    if (p->bump_left < sz) {
        void **nc = realloc(p->chunks, (p->nchunks + 1) * sizeof *nc);
        char *chunk;
        if (!nc)
            return NULL;
        p->chunks = nc;
        if (!(chunk = malloc(POOL_CHUNK)))
            return NULL;
        nc[p->nchunks++] = chunk;
        p->bump = chunk;
        p->bump_left = POOL_CHUNK;
    }
    b = p->bump;
    p->bump += sz;
    p->bump_left -= sz;
    return b;
}

static void pool_put(rt_pool *p, int c, void *b)
{
    *(void **)b = p->free[c];
    p->free[c] = b;
}

static int pool_class(size_t n)
{
    return n == 0 || n > RT_POOL_CLASSES * 16 ? -1 : (int)((n - 1) / 16);
}

void *rt_pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rt_pool *p = ud;
#if defined(__SANITIZE_ADDRESS__)
    /* let AddressSanitizer see every Lua block */
    (void)p;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
#endif
    int oc = ptr ? pool_class(osize) : -1, nc = pool_class(nsize);
    void *nb;
    if (nsize == 0) {
        if (ptr) {
            if (oc >= 0)
                pool_put(p, oc, ptr);
            else
                free(ptr);
        }
        return NULL;
    }
    if (ptr && oc == nc && oc >= 0)
        return ptr; /* same class: nothing to do */
    if (ptr && oc < 0 && nc < 0)
        return realloc(ptr, nsize);
    nb = nc >= 0 ? pool_get(p, nc) : malloc(nsize);
    if (!nb)
        return NULL;
    if (ptr) {
        memcpy(nb, ptr, osize < nsize ? osize : nsize);
        if (oc >= 0)
            pool_put(p, oc, ptr);
        else
            free(ptr);
    }
    return nb;
}

void rt_pool_free_all(rt_pool *p)
{
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    memset(p, 0, sizeof *p);
}
