/*
 * rt_shuffle_write.c -- rt.writer: a map task's output, records sorted by
 * reduce partition into one data + one index file (core/shuffle).
 *
 * An "ember.ShuffleWriter" takes Lua values (w:add), batches split by their
 * partition column (w:add_batch) or a counter's (value, count) pairs
 * (w:add_counts).  Its buffers live in execution memory: the writer asks the
 * executor's memory manager for WRITER_CHUNK more whenever they would
 * outgrow what it holds, and spills them to disk when refused (the bytes
 * count as the task's spilled bytes).  w:commit() writes the files and
 * returns each partition's size; the memory is given back on commit, on
 * failure and at __gc.
 *
 * Threads: the task thread that owns the lua_State.
 */
#include "rt_int.h"

#include "data/batch.h"
#include "exec/memmgr.h"
#include "lbatch.h"
#include "lcounter.h"
#include "serialize.h"
#include "shuffle/shuffle_file.h"
#include "util/err.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_MT "ember.ShuffleWriter"

typedef struct lwriter {
    shuffle_writer *w;
    int nparts;
    uint64_t granted; /* execution memory held for the buffers */
    memmgr *mm;
} lwriter;

#define WRITER_CHUNK (4u << 20)

int rt_writer(lua_State *L)
{
    task_env *te = rt_env(L);
    int sid = (int)luaL_checkinteger(L, 1);
    uint64_t tid = (uint64_t)luaL_checkinteger(L, 2);
    int n = (int)luaL_checkinteger(L, 3);
    ember_error err = {0, ""};
    lwriter *w = lua_newuserdatauv(L, sizeof *w, 0);
    w->w = NULL;
    w->nparts = n;
    w->granted = 0;
    w->mm = te->ctx->mm;
    luaL_setmetatable(L, WRITER_MT);
    w->w = shuffle_writer_new(te->ctx->local_dir, sid, tid, n,
                              te->ctx->compress, &err);
    if (!w->w)
        return rt_raise(L, "%s", err.msg);
    return 1;
}

static int w_put(lua_State *L, task_env *te, lwriter *w, int p);

static int w_add(lua_State *L)
{
    task_env *te = rt_env(L);
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    lua_Integer p = luaL_checkinteger(L, 2);
    ember_error err = {0, ""};
    if (!w->w)
        return rt_raise(L, "shuffle writer is closed");
    if (p < 0 || p >= w->nparts)
        return rt_raise(L, "partition %d out of range", (int)p);
    buf_reset(&te->scratch);
    if (ser_encode(L, 3, &te->scratch, &err))
        return rt_raise(L, "cannot shuffle this value: %s", err.msg);
    return w_put(L, te, w, (int)p);
}

/* Add te->scratch as one record of partition p. */
static int w_put(lua_State *L, task_env *te, lwriter *w, int p)
{
    ember_error err = {0, ""};
    /* buffers live in execution memory: ask for more, spill if refused */
    if (shuffle_writer_buffered(w->w) + te->scratch.len + 16 > w->granted) {
        uint64_t want = te->scratch.len + 16 > WRITER_CHUNK
                            ? te->scratch.len + 16
                            : WRITER_CHUNK;
        w->granted += memmgr_acquire_execution(w->mm, want);
        if (shuffle_writer_buffered(w->w) + te->scratch.len + 16 > w->granted) {
            size_t had = shuffle_writer_buffered(w->w);
            if (shuffle_writer_spill(w->w, &err))
                return rt_raise(L, "%s", err.msg);
            te->spilled += had;
        }
    }
    if (shuffle_writer_add(w->w, p, te->scratch.data, te->scratch.len, &err))
        return rt_raise(L, "%s", err.msg);
    return 0;
}

/* w:add_batch(batch): the last column (int32 "__part", from
 * rel.partition) names each row's reduce partition; the rows of each
 * partition, without that column, become one record. */
static int w_add_batch(lua_State *L)
{
    task_env *te = rt_env(L);
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    ember_batch *b = lbatch_check(L, 2);
    int nc = batch_num_columns(b);
    int64_t n = batch_num_rows(b);
    ember_column pc;
    int32_t *sel = NULL;
    int64_t *count = NULL, *start = NULL;
    const int32_t *part;
    if (!w->w)
        return rt_raise(L, "shuffle writer is closed");
    if (n == 0)
        return 0;
    if (nc < 1 || batch_column(b, nc - 1, &pc) || pc.type != EMBER_TYPE_INT32 ||
        pc.null_count)
        return rt_raise(L, "shuffled batch lacks its partition column");
    part = pc.data;
    /* scratch arrays in a userdata: w_put may raise */
    {
        size_t np = (size_t)w->nparts + 1;
        uint8_t *mem = lua_newuserdatauv(
            L, np * 2 * sizeof(int64_t) + (size_t)n * sizeof *sel, 0);
        memset(mem, 0, np * 2 * sizeof(int64_t));
        count = (int64_t *)mem;
        start = count + np;
        sel = (int32_t *)(start + np);
    }
    for (int64_t i = 0; i < n; i++) {
        if (part[i] < 0 || part[i] >= w->nparts)
            return rt_raise(L, "partition %d out of range", part[i]);
        count[part[i]]++;
    }
    for (int p = 1; p <= w->nparts; p++)
        start[p] = start[p - 1] + count[p - 1];
    for (int64_t i = 0; i < n; i++)
        sel[start[part[i]]++] = (int32_t)i;
    for (int p = 0; p < w->nparts; p++) {
        int64_t from = start[p] - count[p];
        ember_batch *sub;
        if (count[p] == 0)
            continue;
        sub = batch_gather(b, nc - 1, sel + from, count[p]);
        buf_reset(&te->scratch);
        if (!sub || batch_encode(sub, &te->scratch)) {
            batch_destroy(&sub);
            return rt_raise(L, "out of memory shuffling a batch");
        }
        batch_destroy(&sub);
        w_put(L, te, w, p);
    }
    return 0;
}

/* w:add_counts(counter): one record {value, count} per value the counter
 * holds (count_by_value's map side), then the counter is emptied */
static int w_add_counts(lua_State *L)
{
    task_env *te = rt_env(L);
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    lcounter *c = lcounter_check(L, 2);
    size_t n = lcounter_slots(c);
    if (!w->w)
        return rt_raise(L, "shuffle writer is closed");
    for (size_t i = 0; i < n; i++) {
        ember_error err = {0, ""};
        uint64_t h;
        int64_t cnt;
        lua_createtable(L, 2, 0);
        if (!lcounter_push(L, c, 2, i, &cnt)) {
            lua_pop(L, 1);
            continue;
        }
        if (ser_hash(L, -1, &h, &err))
            return rt_raise(L, "cannot use this value as a key: %s", err.msg);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, (lua_Integer)cnt);
        lua_rawseti(L, -2, 2);
        buf_reset(&te->scratch);
        if (ser_encode(L, -1, &te->scratch, &err))
            return rt_raise(L, "cannot shuffle this value: %s", err.msg);
        lua_pop(L, 1);
        w_put(L, te, w, (int)(h % (uint64_t)w->nparts));
    }
    lcounter_clear(L, c, 2);
    return 0;
}

static int w_commit(lua_State *L)
{
    task_env *te = rt_env(L);
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    ember_error err = {0, ""};
    uint64_t *sizes = calloc((size_t)w->nparts + 1, sizeof *sizes);
    if (!sizes || !w->w) {
        free(sizes);
        return rt_raise(L, "cannot commit shuffle output");
    }
    if (shuffle_writer_commit(&w->w, sizes, &err)) {
        free(sizes);
        memmgr_release_execution(w->mm, w->granted);
        w->granted = 0;
        return rt_raise(L, "%s", err.msg);
    }
    memmgr_release_execution(w->mm, w->granted);
    w->granted = 0;
    lua_createtable(L, w->nparts, 0);
    for (int i = 0; i < w->nparts; i++) {
        te->shuffle_write_bytes += (int64_t)sizes[i];
        lua_pushinteger(L, (lua_Integer)sizes[i]);
        lua_rawseti(L, -2, i + 1);
    }
    free(sizes);
    return 1;
}

static int w_gc(lua_State *L)
{
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    shuffle_writer_abort(&w->w);
    if (w->granted && w->mm)
        memmgr_release_execution(w->mm, w->granted);
    w->granted = 0;
    return 0;
}

/* The "ember.ShuffleWriter" metatable: w:add(p, v), w:add_batch(batch),
 * w:add_counts(counter), w:commit(); __gc aborts an uncommitted writer. */
void rt_writer_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"add", w_add},
        {"commit", w_commit},
        {"add_batch", w_add_batch},
        {"add_counts", w_add_counts},
        {NULL, NULL},
    };
    luaL_newmetatable(L, WRITER_MT);
    lua_pushcfunction(L, w_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
