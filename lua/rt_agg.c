/*
 * rt_agg.c -- RDD aggregations within execution memory: rt.agg_memory and
 * rt.agg_spill.
 *
 * reduce_by_key, group_by_key and distinct keep one hash table per task in
 * the Lua heap (exec.lua).  Two primitives make them live within execution
 * memory:
 *
 * rt.agg_memory() -> an "ember.AggMemory" account.  It measures the Lua
 * heap (lua_gc COUNT: every byte the task's allocator handed to Lua, live or
 * garbage) against a base taken after a full collection when it is opened,
 * and reserves the growth from the executor's execution memory in
 * AGG_CHUNK pieces, leaving one chunk of the pool free for the task's other
 * consumers (its shuffle writer).  m:grow([extra]) -> false when the growth
 * (plus extra bytes about to be allocated, e.g. a table doubling) cannot be had
 * even after a full collection: the caller spills or flushes its table, then
 * m:reset() collects, takes a new base and gives everything back.
 *
 * rt.agg_spill(nparts, level) -> an "ember.AggSpill": run files in the
 * executor's local directory, one per sub-partition, chosen by a hash of the
 * key salted with level (so a sub-partition can be split again).  s:add(k, v)
 * appends both values to the sub-partition's buffer, written out as a
 * blockcodec frame (LZ4) every AGG_FRAME_RAW bytes; s:finish() writes the
 * rest; s:read(p, fn) calls fn(k, v) for every record of sub-partition p
 * in the order added, frame by frame; s:drop(p) removes a file.
 *
 * Both kinds of userdata give back what they hold on close(), __gc and
 * __close; rt_agg_task_end() (the task epilogue) does it for whatever a
 * failed task left open, without waiting for the collector.  Bytes written to
 * run files count as the task's spilled bytes.
 *
 * Threads: the task thread that owns the lua_State.
 */
#include "rt_int.h"

#include "codec/blockcodec.h"
#include "exec/memmgr.h"
#include "serialize.h"
#include "util/err.h"
#include "util/fsutil.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AGGMEM_MT "ember.AggMemory"
#define AGGSPILL_MT "ember.AggSpill"
#define AGG_CHUNK (4u << 20)
#define AGG_FRAME_RAW (64u << 10)
/* least growth between forced collections, and the least table spilled */
#define AGG_QUIET (1u << 20)
#define AGG_MAX_PARTS 64

typedef struct aggmem {
    task_env *te;
    uint64_t base;     /* heap bytes that are not the table's */
    uint64_t granted;  /* execution memory held */
    uint64_t quiet_to; /* no forced collection below this heap size */
    int open;
    struct aggmem *next, **pprev;
} aggmem;

typedef struct aggspill {
    task_env *te;
    int nparts, level, open, finished;
    unsigned long long task_id, seq; /* name the files */
    FILE *f[AGG_MAX_PARTS];
    unsigned char made[AGG_MAX_PARTS]; /* the file exists */
    buf raw[AGG_MAX_PARTS];            /* records not yet framed */
    buf frame, dec;                    /* scratch for writing / reading */
    FILE *rf;                          /* the file being read */
    struct aggspill *next, **pprev;
} aggspill;

static uint64_t heap_bytes(lua_State *L)
{
    return (uint64_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024u +
           (uint64_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

static void am_give_back(aggmem *m)
{
    if (m->granted && m->te->ctx->mm)
        memmgr_release_execution(m->te->ctx->mm, m->granted);
    m->granted = 0;
}

static void am_close_(aggmem *m)
{
    if (!m->open)
        return;
    am_give_back(m);
    *m->pprev = m->next;
    if (m->next)
        m->next->pprev = m->pprev;
    m->open = 0;
}

int rt_agg_memory(lua_State *L)
{
    task_env *te = rt_env(L);
    aggmem *m = lua_newuserdatauv(L, sizeof *m, 0);
    memset(m, 0, sizeof *m);
    luaL_setmetatable(L, AGGMEM_MT);
    m->te = te;
    lua_gc(L, LUA_GCCOLLECT, 0); /* garbage of earlier work is not ours */
    m->base = heap_bytes(L);
    m->open = 1;
    m->next = te->aggmems;
    m->pprev = &te->aggmems;
    if (te->aggmems)
        te->aggmems->pprev = &m->next;
    te->aggmems = m;
    return 1;
}

static uint64_t am_used(lua_State *L, const aggmem *m)
{
    uint64_t h = heap_bytes(L);
    return h > m->base ? h - m->base : 0;
}

/* m:grow([extra]) -> true if the table may grow, false: spill */
static int am_grow(lua_State *L)
{
    aggmem *m = luaL_checkudata(L, 1, AGGMEM_MT);
    lua_Integer extra = luaL_optinteger(L, 2, 0);
    memmgr *mm = m->te->ctx->mm;
    uint64_t need, want;
    if (!m->open || !mm) {
        lua_pushboolean(L, 1);
        return 1;
    }
    need = am_used(L, m) + (extra > 0 ? (uint64_t)extra : 0);
    if (need <= m->granted) {
        lua_pushboolean(L, 1);
        return 1;
    }
    want = (need - m->granted + AGG_CHUNK - 1) / AGG_CHUNK * AGG_CHUNK;
    m->granted += memmgr_acquire_execution(mm, want);
    {
        /* leave one chunk of the pool to the task's other consumers (its
         * shuffle writer, fed from this table): a writer that gets nothing
         * spills at every record */
        uint64_t ex, st, cap = memmgr_pool(mm), freeb;
        memmgr_usage(mm, &ex, &st);
        freeb = ex + st >= cap ? 0 : cap - ex - st;
        if (freeb < AGG_CHUNK) {
            uint64_t back = AGG_CHUNK - freeb;
            if (back > m->granted)
                back = m->granted;
            memmgr_release_execution(mm, back);
            m->granted -= back;
        }
    }
    if (need <= m->granted) {
        lua_pushboolean(L, 1);
        return 1;
    }
    /* refused.  A table smaller than AGG_QUIET may grow anyway: spilling
     * or flushing one (and the collection that follows) would cost more
     * than it frees */
    if (need <= AGG_QUIET) {
        lua_pushboolean(L, 1);
        return 1;
    }
    /* perhaps most of the growth is garbage.  A forced collection
     * costs a walk of the heap, so one is allowed per quarter of the grant
     * (at least AGG_QUIET) of growth, and the table must fit in 3/4 of the
     * grant after it.  Otherwise: spill. */
    if (heap_bytes(L) >= m->quiet_to) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        need = am_used(L, m) + (extra > 0 ? (uint64_t)extra : 0);
        m->quiet_to = heap_bytes(L) +
                      (m->granted / 4 > AGG_QUIET ? m->granted / 4 : AGG_QUIET);
        if (need <= m->granted - m->granted / 4) {
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* m:reset(): the table was emptied; collect, rebase, give memory back */
static int am_reset(lua_State *L)
{
    aggmem *m = luaL_checkudata(L, 1, AGGMEM_MT);
    if (!m->open)
        return 0;
    lua_gc(L, LUA_GCCOLLECT, 0);
    m->base = heap_bytes(L);
    m->quiet_to = 0;
    am_give_back(m);
    return 0;
}

static int am_close(lua_State *L)
{
    am_close_(luaL_checkudata(L, 1, AGGMEM_MT));
    return 0;
}

static void spill_path(char *out, size_t n, const aggspill *s, int p)
{
    snprintf(out, n, "%s/aggspill_%llu_%llu_%d", s->te->ctx->local_dir,
             s->task_id, s->seq, p);
}

static void as_close_(aggspill *s)
{
    char path[4096];
    if (!s->open)
        return;
    if (s->rf)
        fclose(s->rf);
    s->rf = NULL;
    for (int p = 0; p < s->nparts; p++) {
        if (s->f[p])
            fclose(s->f[p]);
        s->f[p] = NULL;
        if (s->made[p]) {
            spill_path(path, sizeof path, s, p);
            unlink(path);
        }
        s->made[p] = 0;
        buf_free(&s->raw[p]);
    }
    buf_free(&s->frame);
    buf_free(&s->dec);
    *s->pprev = s->next;
    if (s->next)
        s->next->pprev = s->pprev;
    s->open = 0;
}

/* rt.agg_spill(nparts, level) */
int rt_agg_spill(lua_State *L)
{
    task_env *te = rt_env(L);
    int n = (int)luaL_checkinteger(L, 1);
    int level = (int)luaL_checkinteger(L, 2);
    aggspill *s;
    if (n < 1 || n > AGG_MAX_PARTS)
        return rt_raise(L, "bad spill partition count %d", n);
    s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, AGGSPILL_MT);
    s->te = te;
    s->nparts = n;
    s->level = level;
    s->task_id = te->task ? (unsigned long long)te->task->task_id : 0;
    s->seq = te->agg_seq++;
    for (int p = 0; p < n; p++)
        buf_init(&s->raw[p]);
    buf_init(&s->frame);
    buf_init(&s->dec);
    s->open = 1;
    s->next = te->aggspills;
    s->pprev = &te->aggspills;
    if (te->aggspills)
        te->aggspills->pprev = &s->next;
    te->aggspills = s;
    return 1;
}

static aggspill *as_check(lua_State *L)
{
    aggspill *s = luaL_checkudata(L, 1, AGGSPILL_MT);
    if (!s->open)
        luaL_error(L, "ember.AggSpill is closed");
    return s;
}

/* Frame sub-partition p's buffered records and append them to its file. */
static int as_write(lua_State *L, aggspill *s, int p)
{
    char path[4096];
    buf *r = &s->raw[p];
    if (r->len == 0)
        return 0;
    spill_path(path, sizeof path, s, p);
    if (!s->f[p]) {
        if (!(s->f[p] = fopen_private(path, s->made[p] ? "ab" : "wb")))
            return rt_raise(L, "cannot write spill file %s: %s", path,
                            strerror(errno));
        s->made[p] = 1;
    }
    buf_reset(&s->frame);
    if (blockcodec_encode(&s->frame, r->data, r->len, 1))
        return rt_raise(L, "spill: out of memory");
    if (fwrite(s->frame.data, 1, s->frame.len, s->f[p]) != s->frame.len)
        return rt_raise(L, "cannot write spill file %s: %s", path,
                        strerror(errno));
    s->te->spilled += (int64_t)r->len;
    buf_reset(r);
    return 0;
}

/* s:add(k, v) */
static int as_add(lua_State *L)
{
    aggspill *s = as_check(L);
    ember_error err = {0, ""};
    uint64_t h;
    size_t before;
    int p;
    lua_settop(L, 3);
    if (s->finished)
        return rt_raise(L, "spill already finished");
    if (lua_type(L, 2) == LUA_TNUMBER && !lua_isinteger(L, 2) &&
        lua_tonumber(L, 2) != lua_tonumber(L, 2))
        h = 0x7ff8000000000000ull; /* every NaN is one key */
    else if (ser_hash(L, 2, &h, &err))
        return rt_raise(L, "cannot use this value as a key: %s", err.msg);
    /* salt with the level: sub-partitions of a sub-partition differ */
    h += (uint64_t)(s->level + 1) * 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    p = (int)(h % (uint64_t)s->nparts);
    before = s->raw[p].len;
    if (ser_encode(L, 2, &s->raw[p], &err) ||
        ser_encode(L, 3, &s->raw[p], &err)) {
        s->raw[p].len = before;
        return rt_raise(L, "cannot spill this value: %s", err.msg);
    }
    if (s->raw[p].len >= AGG_FRAME_RAW)
        return as_write(L, s, p);
    return 0;
}

/* s:finish(): write what is buffered and close the files */
static int as_finish(lua_State *L)
{
    aggspill *s = as_check(L);
    char path[4096];
    if (s->finished)
        return 0;
    for (int p = 0; p < s->nparts; p++) {
        as_write(L, s, p);
        buf_free(&s->raw[p]);
        if (s->f[p]) {
            int bad = fclose(s->f[p]) != 0;
            s->f[p] = NULL;
            if (bad) {
                spill_path(path, sizeof path, s, p);
                return rt_raise(L, "cannot write spill file %s: %s", path,
                                strerror(errno));
            }
        }
    }
    s->finished = 1;
    return 0;
}

/* s:read(p, fn): fn(k, v) for every record of sub-partition p */
static int as_read(lua_State *L)
{
    aggspill *s = as_check(L);
    int p = (int)luaL_checkinteger(L, 2);
    char path[4096];
    ember_error err = {0, ""};
    luaL_checktype(L, 3, LUA_TFUNCTION);
    lua_settop(L, 3);
    if (p < 0 || p >= s->nparts)
        return rt_raise(L, "spill partition %d out of range", p);
    if (!s->finished) {
        lua_pushcfunction(L, as_finish);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 0);
    }
    if (!s->made[p])
        return 0;
    spill_path(path, sizeof path, s, p);
    if (s->rf)
        fclose(s->rf);
    if (!(s->rf = fopen(path, "rb")))
        return rt_raise(L, "cannot read spill file %s: %s", path,
                        strerror(errno));
    for (;;) {
        uint8_t hdr[BLOCKCODEC_HEADER];
        size_t got = fread(hdr, 1, sizeof hdr, s->rf), used;
        uint32_t stored;
        rd r;
        if (got == 0 && feof(s->rf))
            break;
        if (got != sizeof hdr)
            return rt_raise(L, "spill file %s is truncated", path);
        stored = (uint32_t)hdr[12] | (uint32_t)hdr[13] << 8 |
                 (uint32_t)hdr[14] << 16 | (uint32_t)hdr[15] << 24;
        buf_reset(&s->frame);
        buf_reset(&s->dec);
        if (stored > BLOCKCODEC_MAX_RAW ||
            buf_put(&s->frame, hdr, sizeof hdr) ||
            buf_reserve(&s->frame, stored))
            return rt_raise(L, "spill file %s: bad frame", path);
        if (fread(s->frame.data + s->frame.len, 1, stored, s->rf) != stored)
            return rt_raise(L, "spill file %s is truncated", path);
        s->frame.len += stored;
        if (blockcodec_decode(s->frame.data, s->frame.len, &s->dec, &used,
                              &err))
            return rt_raise(L, "spill file %s: %s", path, err.msg);
        rd_init(&r, s->dec.data, s->dec.len);
        while (rd_left(&r) > 0) {
            lua_pushvalue(L, 3);
            if (ser_decode(L, &r, 0, &err))
                return rt_raise(L, "spill file %s: %s", path, err.msg);
            if (ser_decode(L, &r, 0, &err))
                return rt_raise(L, "spill file %s: %s", path, err.msg);
            if (rt_pcall(L, 2) != 0)
                return lua_error(L); /* closed with the spill */
        }
    }
    fclose(s->rf);
    s->rf = NULL;
    return 0;
}

/* s:drop(p): remove sub-partition p's file */
static int as_drop(lua_State *L)
{
    aggspill *s = as_check(L);
    int p = (int)luaL_checkinteger(L, 2);
    char path[4096];
    if (p >= 0 && p < s->nparts && s->made[p] && !s->f[p]) {
        spill_path(path, sizeof path, s, p);
        unlink(path);
        s->made[p] = 0;
    }
    return 0;
}

static int as_close(lua_State *L)
{
    as_close_(luaL_checkudata(L, 1, AGGSPILL_MT));
    return 0;
}

/* Task epilogue: what the task's aggregations still hold. */
void rt_agg_task_end(task_env *te)
{
    while (te->aggmems)
        am_close_(te->aggmems);
    while (te->aggspills)
        as_close_(te->aggspills);
}

void rt_agg_register(lua_State *L)
{
    static const luaL_Reg mem_methods[] = {
        {"grow", am_grow},
        {"reset", am_reset},
        {"close", am_close},
        {NULL, NULL},
    };
    static const luaL_Reg spill_methods[] = {
        {"add", as_add},   {"finish", as_finish}, {"read", as_read},
        {"drop", as_drop}, {"close", as_close},   {NULL, NULL},
    };
    luaL_newmetatable(L, AGGMEM_MT);
    lua_pushcfunction(L, am_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, am_close);
    lua_setfield(L, -2, "__close");
    luaL_newlib(L, mem_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, AGGSPILL_MT);
    lua_pushcfunction(L, as_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, as_close);
    lua_setfield(L, -2, "__close");
    luaL_newlib(L, spill_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
