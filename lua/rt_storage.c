/*
 * rt_storage.c -- what a task keeps or reads beyond its own run: cached
 * partitions (rt.cache_get, rt.cache_put), broadcast values (rt.bcast_get)
 * and reliable checkpoints (rt.checkpoint_write, rt.checkpoint_read).
 *
 * Cached partitions go to the executor's block manager as encoded arrays;
 * a block that cannot be read is dropped and recomputed, never fatal.
 * Broadcasts come through the thread's block client, which keeps each in
 * the block manager so it is fetched once per executor.  A checkpoint is
 * one blockcodec-framed file per partition under a directory every
 * executor can read, written to a temporary name and renamed so a failed
 * attempt leaves nothing behind.
 *
 * Threads: the task thread that owns the lua_State.
 */
#include "rt_int.h"

#include "codec/blockcodec.h"
#include "exec/blockmgr.h"
#include "serialize.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------- cached partitions */

/* rt.cache_get(node, part) -> array of the partition's elements, or nil */
int rt_cache_get(lua_State *L)
{
    task_env *te = rt_env(L);
    int node = (int)luaL_checkinteger(L, 1);
    int part = (int)luaL_checkinteger(L, 2);
    ember_error err = {0, ""};
    int rc;
    buf_reset(&te->scratch);
    rc = blockmgr_get(te->ctx->bm, node, part, &te->scratch, &err);
    if (rc == EMBER_ENOTFOUND)
        return 0;
    if (rc || ser_decode_buf(L, te->scratch.data, te->scratch.len, 0, &err)) {
        /* a damaged block is recomputed, not fatal */
        LOG_WARN("cached block rdd_%d_%d unreadable (%s): recomputing", node,
                 part, err.msg);
        blockmgr_remove_node(te->ctx->bm, node);
        return 0;
    }
    return 1;
}

/* rt.cache_put(node, part, level, array) */
int rt_cache_put(lua_State *L)
{
    task_env *te = rt_env(L);
    int node = (int)luaL_checkinteger(L, 1);
    int part = (int)luaL_checkinteger(L, 2);
    int level = (int)luaL_checkinteger(L, 3);
    ember_error err = {0, ""};
    luaL_checktype(L, 4, LUA_TTABLE);
    buf_reset(&te->scratch);
    if (ser_encode(L, 4, &te->scratch, &err))
        return rt_raise(L, "cannot cache this partition: %s", err.msg);
    if (blockmgr_put(te->ctx->bm, node, part, level, te->scratch.data,
                     te->scratch.len, &err))
        LOG_WARN("cannot cache rdd_%d_%d: %s", node, part, err.msg);
    return 0;
}

/* ----------------------------------------------------------- broadcasts */

/* rt.bcast_get(id) -> the broadcast value: from this executor's block
 * manager, else fetched once from the driver and kept */
int rt_bcast_get(lua_State *L)
{
    task_env *te = rt_env(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    ember_error err = {0, ""};
    int rc;
    buf_reset(&te->scratch);
    rc = blockfetch_broadcast(te->bf, id, &te->scratch, &err);
    if (rc)
        return rt_raise(L, "cannot read broadcast %d: %s", (int)id, err.msg);
    if (ser_decode_buf(L, te->scratch.data, te->scratch.len, 0, &err))
        return rt_raise(L, "corrupt broadcast %d: %s", (int)id, err.msg);
    return 1;
}

/* ---------------------------------------------------------- checkpoints */

static void ckpt_path(char *out, size_t n, const char *dir, int part)
{
    snprintf(out, n, "%s/part-%05d", dir, part);
}

/* rt.checkpoint_write(dir, part, array): one file per partition, written
 * to a temporary name and renamed (a failed attempt leaves nothing) */
int rt_checkpoint_write(lua_State *L)
{
    task_env *te = rt_env(L);
    const char *dir = luaL_checkstring(L, 1);
    int part = (int)luaL_checkinteger(L, 2);
    ember_error err = {0, ""};
    char path[4096], tmp[4200];
    buf frames;
    FILE *f;
    luaL_checktype(L, 3, LUA_TTABLE);
    buf_reset(&te->scratch);
    if (ser_encode(L, 3, &te->scratch, &err))
        return rt_raise(L, "cannot checkpoint this partition: %s", err.msg);
    buf_init(&frames);
    if (blockcodec_encode(&frames, te->scratch.data, te->scratch.len, 1)) {
        buf_free(&frames);
        return rt_raise(L, "out of memory");
    }
    ckpt_path(path, sizeof path, dir, part);
    snprintf(tmp, sizeof tmp, "%s.tmp.%llu", path,
             (unsigned long long)te->task->task_id);
    f = fopen(tmp, "wb");
    if (!f || fwrite(frames.data, 1, frames.len, f) != frames.len ||
        fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        buf_free(&frames);
        unlink(tmp);
        return rt_raise(L, "cannot write checkpoint %s: %s", path, strerror(e));
    }
    buf_free(&frames);
    return 0;
}

/* rt.checkpoint_read(dir, part) -> array */
int rt_checkpoint_read(lua_State *L)
{
    task_env *te = rt_env(L);
    const char *dir = luaL_checkstring(L, 1);
    int part = (int)luaL_checkinteger(L, 2);
    ember_error err = {0, ""};
    char path[4096];
    char *data = NULL;
    size_t n = 0;
    ckpt_path(path, sizeof path, dir, part);
    buf_reset(&te->scratch);
    if (read_file(path, &data, &n, &err) ||
        blockcodec_decode_all(data, n, &te->scratch, &err) ||
        ser_decode_buf(L, te->scratch.data, te->scratch.len, 0, &err)) {
        free(data);
        return rt_raise(L, "cannot read checkpoint %s: %s", path, err.msg);
    }
    free(data);
    return 1;
}
