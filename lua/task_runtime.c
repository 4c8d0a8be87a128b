/*
 * task_runtime.c -- the C primitives behind exec.lua, and running a task.
 *
 * Each task thread owns one task_env: a lua_State with the standard
 * libraries, the `ember` table (null), exec.lua loaded, a cache of decoded
 * stages, and client sockets to other executors' block servers.
 *
 * Errors: Lua errors raised by user code are turned into tables
 * {__ember_err = true, msg = ..., tb = ...} by rt.handler at the point they
 * are raised, so the traceback shows the user's frames.  C code that calls
 * back into Lua (sources, shuffle reads, plugin transforms) does so with
 * lua_pcall, cleans up its own resources, then re-raises: no longjmp ever
 * crosses a plugin's frames.
 *
 * Threads: a task_env belongs to one task thread.
 */
#include "task_runtime.h"

#include "codec/blockcodec.h"
#include "data/batch.h"
#include "plugin/plugins.h"
#include "lbatch.h"
#include "lcounter.h"
#include "lsort.h"
#include "lsplit.h"
#include "luaparams.h"
#include "serialize.h"
#include "shuffle/shuffle_file.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const char ember_keyorder_lua[];
extern const size_t ember_keyorder_lua_len;
extern const char ember_exec_lua[];
extern const size_t ember_exec_lua_len;

#define STOP_KEY "ember.STOP"
#define HANDLER_KEY "ember.handler"
#define BATCH_ROWS 4096

/* ---------------------------------------------------------- allocator */

/* Lua allocates and frees many small objects per element (strings, pair
 * tables, closures).  A task thread's lua_State is used by that thread only,
 * so small blocks are recycled through per-size free lists without locks;
 * larger ones go to malloc. */
#define POOL_CLASSES 16 /* 16-byte classes up to 256 bytes */
#define POOL_CHUNK (64u << 10)

typedef struct pool {
    void *free[POOL_CLASSES];
    void **chunks;
    size_t nchunks;
    char *bump;
    size_t bump_left;
} pool;

static void *pool_get(pool *p, int c)
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

static void pool_put(pool *p, int c, void *b)
{
    *(void **)b = p->free[c];
    p->free[c] = b;
}

static int pool_class(size_t n)
{
    return n == 0 || n > POOL_CLASSES * 16 ? -1 : (int)((n - 1) / 16);
}

static void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    pool *p = ud;
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

static void pool_free_all(pool *p)
{
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    memset(p, 0, sizeof *p);
}

struct task_env {
    const exec_ctx *ctx;
    lua_State *L;
    int run_ref;    /* exec.lua's run_task */
    int stages_ref; /* stage id -> decoded stage */
    blockfetch *bf; /* the thread's block client (borrowed) */
    const msg_launch *task;
    int64_t shuffle_read_bytes;
    int64_t shuffle_write_bytes;
    int64_t records_in;
    int64_t spilled;    /* bytes this task spilled to disk */
    int64_t data_bytes; /* shuffle bytes fetched over transport.data */
    buf scratch;
    pool alloc;                /* the lua_State's small-object pool */
    _Atomic uint64_t current;  /* task id running now, 0 = none */
    _Atomic uint64_t kill_tid; /* task id asked to stop */
    /* progress, published for heartbeats */
    _Atomic int64_t prog_records;
    _Atomic int64_t prog_memory;
    _Atomic int64_t prog_start_ms;
    /* numeric accumulator partials, snapshotted by the hook */
    pthread_mutex_t snap_mu;
    int snap_n;
    int64_t snap_id[MSG_MAX_ACC];
    double snap_val[MSG_MAX_ACC];
    int64_t snap_ms;
    /* operator counters of this task (ember_task_info.add_counter) */
    int ncounters;
    char counter_name[8][32];
    int64_t counter_val[8];
    /* RDD aggregations' memory accounts and spill files still open */
    struct aggmem *aggmems;
    struct aggspill *aggspills;
    unsigned long long agg_seq;
};

/* What an operator instance's ember_task_info.ctx points to. */
typedef struct opctx {
    task_env *te;
    uint64_t held; /* execution memory granted to the operator */
} opctx;

static void oc_add_counter(void *ctx, const char *name, int64_t d)
{
    task_env *te = ((opctx *)ctx)->te;
    int i;
    if (strcmp(name, "spill_bytes") == 0) { /* an operator spilled */
        te->spilled += d;
        return;
    }
    for (i = 0; i < te->ncounters; i++)
        if (strcmp(te->counter_name[i], name) == 0)
            break;
    if (i == te->ncounters) {
        if (i == 8)
            return;
        snprintf(te->counter_name[i], sizeof te->counter_name[i], "%s", name);
        te->counter_val[i] = 0;
        te->ncounters++;
    }
    te->counter_val[i] += d;
}

static int oc_mem_acquire(void *ctx, int64_t bytes)
{
    opctx *oc = ctx;
    memmgr *mm = oc->te->ctx->mm;
    uint64_t got;
    if (bytes <= 0)
        return 0;
    if (!mm)
        return 0;
    got = memmgr_acquire_execution(mm, (uint64_t)bytes);
    if (got < (uint64_t)bytes) {
        memmgr_release_execution(mm, got);
        return EMBER_EAGAIN;
    }
    oc->held += got;
    return 0;
}

static void oc_mem_release(void *ctx, int64_t bytes)
{
    opctx *oc = ctx;
    uint64_t n = bytes < 0 ? 0 : (uint64_t)bytes;
    if (n > oc->held)
        n = oc->held;
    if (n && oc->te->ctx->mm)
        memmgr_release_execution(oc->te->ctx->mm, n);
    oc->held -= n;
}

static void oc_release_all(opctx *oc)
{
    oc_mem_release(oc, (int64_t)oc->held);
}

static void task_info_fill(task_env *te, ember_task_info *ti, int partition,
                           opctx *oc)
{
    memset(ti, 0, sizeof *ti);
    ti->struct_size = sizeof *ti;
    ti->job_id = te->task->job_id;
    ti->stage_id = te->task->stage_id;
    ti->partition = partition;
    ti->attempt = te->task->attempt;
    ti->executor_id = te->ctx->exec_id;
    ti->local_dir = te->ctx->local_dir;
    oc->te = te;
    oc->held = 0;
    ti->add_counter = oc_add_counter;
    ti->mem_acquire = oc_mem_acquire;
    ti->mem_release = oc_mem_release;
    ti->ctx = oc;
}

#define KILLED_MSG "task killed: another attempt of it finished first"

/* Count hook: stop a task that was killed (speculation losers). */
static void kill_hook(lua_State *L, lua_Debug *ar)
{
    task_env *te = *(task_env **)lua_getextraspace(L);
    (void)ar;
    atomic_store(&te->prog_records, te->records_in);
    atomic_store(&te->prog_memory, (int64_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024);
    if (now_ms() - te->snap_ms >= 100) {
        /* a snapshot of the task's numeric accumulator updates */
        int n = 0;
        int64_t ids[MSG_MAX_ACC];
        double vals[MSG_MAX_ACC];
        te->snap_ms = now_ms();
        lua_getfield(L, LUA_REGISTRYINDEX, "ember.acc_current");
        if (lua_isfunction(L, -1) && lua_pcall(L, 0, 1, 0) == LUA_OK &&
            lua_istable(L, -1)) {
            lua_pushnil(L);
            while (n < MSG_MAX_ACC && lua_next(L, -2)) {
                if (lua_isinteger(L, -2) && lua_type(L, -1) == LUA_TNUMBER) {
                    ids[n] = lua_tointeger(L, -2);
                    vals[n++] = lua_tonumber(L, -1);
                }
                lua_pop(L, 1);
            }
            if (n == MSG_MAX_ACC)
                lua_pop(L, 1); /* the key left by the early stop */
        }
        lua_pop(L, 1);
        pthread_mutex_lock(&te->snap_mu);
        te->snap_n = n;
        memcpy(te->snap_id, ids, sizeof ids);
        memcpy(te->snap_val, vals, sizeof vals);
        pthread_mutex_unlock(&te->snap_mu);
    }
    if (atomic_load(&te->kill_tid) != 0 &&
        atomic_load(&te->kill_tid) == atomic_load(&te->current))
        luaL_error(L, KILLED_MSG);
}

static int task_env_progress(task_env *te, msg_task_metrics *out)
{
    uint64_t tid = te ? atomic_load(&te->current) : 0;
    if (!tid)
        return 0;
    out->task_id = tid;
    out->run_ms = now_ms() - atomic_load(&te->prog_start_ms);
    out->records_in = atomic_load(&te->prog_records);
    out->memory = atomic_load(&te->prog_memory);
    pthread_mutex_lock(&te->snap_mu);
    out->nacc = te->snap_n;
    memcpy(out->acc_id, te->snap_id, sizeof out->acc_id);
    memcpy(out->acc_value, te->snap_val, sizeof out->acc_value);
    pthread_mutex_unlock(&te->snap_mu);
    return 1;
}

static void task_env_kill(task_env *te, uint64_t tid)
{
    if (te)
        atomic_store(&te->kill_tid, tid);
}

static task_env *env_of(lua_State *L)
{
    return *(task_env **)lua_getextraspace(L);
}

/* ------------------------------------------------------------ the handler */

static int is_processed(lua_State *L, int idx)
{
    int r = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, STOP_KEY);
    if (lua_rawequal(L, idx, -1))
        r = 1;
    lua_pop(L, 1);
    if (!r && lua_type(L, idx) == LUA_TTABLE) {
        lua_getfield(L, idx, "__ember_err");
        r = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    return r;
}

/* Drop the runtime's own frames from a traceback: users see their code. */
static void push_user_traceback(lua_State *L, int level)
{
    luaL_Buffer b;
    const char *tb, *line, *nl;
    luaL_traceback(L, L, NULL, level);
    tb = lua_tostring(L, -1);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "stack traceback:");
    line = strchr(tb, '\n');
    while (line) {
        line++;
        nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (!memmem(line, n, "[ember", 6) && !memmem(line, n, "[C]: in ?", 9) &&
            !memmem(line, n, "in function 'xpcall'", 20) &&
            !memmem(line, n, "in function 'pcall'", 19)) {
            luaL_addchar(&b, '\n');
            luaL_addlstring(&b, line, n);
        }
        line = nl;
    }
    luaL_pushresult(&b);
    lua_remove(L, -2);
}

static int l_handler(lua_State *L)
{
    if (is_processed(L, 1)) {
        lua_settop(L, 1);
        return 1;
    }
    lua_createtable(L, 0, 3);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__ember_err");
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
        lua_pushvalue(L, 1);
    else
        luaL_tolstring(L, 1, NULL);
    lua_setfield(L, -2, "msg");
    push_user_traceback(L, 2);
    lua_setfield(L, -2, "tb");
    return 1;
}

/* Call the function at the top with nargs args under the handler.
 * Returns 0 or the pcall status with the processed error at the top. */
static int pcall_h(lua_State *L, int nargs)
{
    int base = lua_gettop(L) - nargs;
    int rc;
    lua_getfield(L, LUA_REGISTRYINDEX, HANDLER_KEY);
    lua_insert(L, base);
    rc = lua_pcall(L, nargs, 0, base);
    lua_remove(L, base);
    return rc;
}

/* Raise an error that is already a processed ember error table. */
static int raise_internal(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    lua_createtable(L, 0, 3);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__ember_err");
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_setfield(L, -2, "msg");
    push_user_traceback(L, 1);
    lua_setfield(L, -2, "tb");
    return lua_error(L);
}

/* ------------------------------------------------------------ encode etc */

static int l_encode(lua_State *L)
{
    task_env *te = env_of(L);
    ember_error err = {0, ""};
    buf_reset(&te->scratch);
    if (ser_encode(L, 1, &te->scratch, &err))
        return raise_internal(L, "%s", err.msg);
    lua_pushlstring(L, (const char *)te->scratch.data, te->scratch.len);
    return 1;
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    ember_error err = {0, ""};
    if (ser_decode_buf(L, s, n, 0, &err))
        return raise_internal(L, "%s", err.msg);
    return 1;
}

static int l_key(lua_State *L)
{
    ember_error err = {0, ""};
    if (ser_key(L, 1, &err))
        return raise_internal(L, "cannot use this value as a key: %s", err.msg);
    return 1;
}

static int l_partition(lua_State *L)
{
    ember_error err = {0, ""};
    uint64_t h;
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < 1)
        return raise_internal(L, "bad partition count %d", (int)n);
    if (ser_hash(L, 1, &h, &err))
        return raise_internal(L, "cannot use this value as a key: %s", err.msg);
    lua_pushinteger(L, (lua_Integer)(h % (uint64_t)n));
    return 1;
}

/* --------------------------------------------------------------- sources */

typedef struct emit_ctx {
    lua_State *L;
    int fn_idx; /* consumer on the stack */
    int failed; /* a Lua error is at the top of the stack */
    int64_t rows;
} emit_ctx;

/* Under one pcall per batch (emit_to_lua): call the consumer with each
 * row's value.  Upvalues: the emit_ctx and the batch (light userdata), the
 * consumer. */
static int emit_rows(lua_State *L)
{
    emit_ctx *e = lua_touserdata(L, lua_upvalueindex(1));
    const ember_batch *b = lua_touserdata(L, lua_upvalueindex(2));
    ember_column c;
    if (batch_column(b, 0, &c))
        return raise_internal(L, "operator produced a batch without columns");
    for (int64_t i = 0; i < c.length; i++) {
        lua_pushvalue(L, lua_upvalueindex(3));
        if (c.validity && !(c.validity[i / 8] & (1u << (i % 8)))) {
            ser_push_null(L);
        } else if (c.type == EMBER_TYPE_LUAVALUE) {
            ember_error err = {0, ""};
            if (ser_decode_buf(L, (const char *)c.data + c.offsets[i],
                               (size_t)(c.offsets[i + 1] - c.offsets[i]), 0,
                               &err))
                return raise_internal(L, "bad value from operator: %s",
                                      err.msg);
        } else if (c.type == EMBER_TYPE_INT64) {
            lua_pushinteger(L, ((const int64_t *)c.data)[i]);
        } else if (c.type == EMBER_TYPE_DOUBLE) {
            lua_pushnumber(L, ((const double *)c.data)[i]);
        } else if (c.type == EMBER_TYPE_STRING || c.type == EMBER_TYPE_BINARY) {
            lua_pushlstring(L, (const char *)c.data + c.offsets[i],
                            (size_t)(c.offsets[i + 1] - c.offsets[i]));
        } else {
            return raise_internal(L, "operator produced a column type the RDD "
                                     "API cannot read");
        }
        e->rows++;
        lua_call(L, 1, 0);
    }
    return 0;
}

/* Rows for the RDD API: one consumer call per row, all of a batch under
 * one protected call (the operator's frames are below: no error may cross
 * them). */
static int emit_to_lua(void *ud, const ember_batch *b)
{
    emit_ctx *e = ud;
    lua_State *L = e->L;
    lua_pushlightuserdata(L, e);
    lua_pushlightuserdata(L, (void *)b);
    lua_pushvalue(L, e->fn_idx);
    lua_pushcclosure(L, emit_rows, 3);
    if (pcall_h(L, 0) != 0) {
        e->failed = 1;
        return EMBER_ESTOP;
    }
    return 0;
}

/* Batches for DataFrames: one Lua value per batch (a copy: the emitted
 * batch is borrowed). */
static int emit_batch_to_lua(void *ud, const ember_batch *b)
{
    emit_ctx *e = ud;
    lua_State *L = e->L;
    void *h;
    int rc;
    if (batch_num_rows(b) == 0)
        return 0;
    e->rows += batch_num_rows(b);
    lua_pushvalue(L, e->fn_idx);
    /* no copy: whoever keeps the batch beyond this call copies it
     * (rt.keep) */
    h = lbatch_push_borrowed(L, b);
    rc = pcall_h(L, 1);
    lbatch_unborrow(h);
    if (rc != 0) {
        e->failed = 1;
        return EMBER_ESTOP;
    }
    return 0;
}

/* rt.run_source(op, params, split, partition, consumer [, batches]) */
static int l_run_source(lua_State *L)
{
    task_env *te = env_of(L);
    const char *name = luaL_checkstring(L, 1);
    const plugin_info *pi = NULL;
    const ember_op_desc *op = plugins_find_op(name, &pi);
    ember_error err = {0, ""};
    ember_params *p;
    ember_task_info ti;
    emit_ctx e;
    opctx oc;
    void *state = NULL;
    int rc;
    int batches = lua_toboolean(L, 6);

    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TFUNCTION);
    if (!op || op->kind != EMBER_OP_SOURCE)
        return raise_internal(L, "no source operator '%s' on executor %s", name,
                              te->ctx->exec_id);
    if (!(p = lua_params(L, 2, op, &err)))
        return raise_internal(L, "%s", err.msg);
    task_info_fill(te, &ti, (int)luaL_checkinteger(L, 4), &oc);
    lua_getfield(L, 3, "path");
    ti.split.path = lua_tostring(L, -1);
    lua_getfield(L, 3, "offset");
    ti.split.offset = lua_tointeger(L, -1);
    lua_getfield(L, 3, "length");
    ti.split.length = lua_tointeger(L, -1);
    lua_pop(L, 2); /* keep path on the stack */
    memset(&e, 0, sizeof e);
    e.L = L;
    e.fn_idx = 5;
    rc = op->open(host_table(), p, &ti, &state, &err);
    if (rc == 0) {
        rc =
            op->run(state, batches ? emit_batch_to_lua : emit_to_lua, &e, &err);
        op->close(state);
    }
    oc_release_all(&oc);
    params_destroy(&p);
    te->records_in += e.rows;
    if (e.failed)
        return lua_error(L); /* the consumer's error, already processed */
    if (rc && rc != EMBER_ESTOP)
        return raise_internal(L, "%s: %s", name,
                              err.msg[0] ? err.msg : ember_strerror(rc));
    return 0;
}

/* ---------------------------------------------------------- shuffle read */

typedef struct rec_ctx {
    lua_State *L;
    int fn_idx;
    int failed;
    int64_t n;
    int batches;
} rec_ctx;

static int rec_to_lua(void *ud, const void *rec, size_t len)
{
    rec_ctx *c = ud;
    ember_error err = {0, ""};
    lua_pushvalue(c->L, c->fn_idx);
    if (c->batches) {
        ember_batch *b = NULL;
        if (batch_decode(rec, len, &b, &err)) {
            lua_pop(c->L, 1);
            lua_pushfstring(c->L, "corrupt shuffle record: %s", err.msg);
            c->failed = 2;
            return 1;
        }
        lbatch_push(c->L, b);
    } else if (ser_decode_buf(c->L, rec, len, 0, &err)) {
        lua_pop(c->L, 1);
        lua_pushfstring(c->L, "corrupt shuffle record: %s", err.msg);
        c->failed = 2;
        return 1;
    }
    c->n++;
    if (pcall_h(c->L, 1) != 0) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

/* rt.read_shuffle(shuffle_id, reduce_id, consumer [, batches]) */
static int l_read_shuffle(lua_State *L)
{
    task_env *te = env_of(L);
    int sid = (int)luaL_checkinteger(L, 1);
    int rid = (int)luaL_checkinteger(L, 2);
    const msg_shuffle_in *in = NULL;
    ember_error err = {0, ""};
    buf block;
    luaL_checktype(L, 3, LUA_TFUNCTION);
    for (int i = 0; i < te->task->ninputs; i++)
        if (te->task->inputs[i].shuffle_id == sid)
            in = &te->task->inputs[i];
    if (!in)
        return raise_internal(L, "task has no locations for shuffle %d", sid);
    buf_init(&block);
    for (int m = 0; m < in->nmaps; m++) {
        const msg_maploc *loc = &in->maps[m];
        rec_ctx rc_ = {L, 3, 0, 0, lua_toboolean(L, 4)};
        int rc;
        buf_reset(&block);
        rc = blockfetch_get(te->bf, loc, sid, rid, &block, &te->data_bytes,
                            &err);
        if (rc) {
            buf_free(&block);
            /* a fetch failure: tell the driver which output is missing */
            lua_createtable(L, 0, 6);
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "__ember_err");
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "fetch_failed");
            lua_pushinteger(L, sid);
            lua_setfield(L, -2, "shuffle");
            lua_pushinteger(L, (lua_Integer)loc->map_task_id);
            lua_setfield(L, -2, "map_task");
            lua_pushstring(L, loc->exec_id);
            lua_setfield(L, -2, "exec");
            lua_pushfstring(L,
                            "cannot fetch shuffle %d map output %d (reduce "
                            "%d) from executor %s: %s",
                            sid, (int)loc->map_task_id, rid, loc->exec_id,
                            err.msg);
            lua_setfield(L, -2, "msg");
            return lua_error(L);
        }
        te->shuffle_read_bytes += (int64_t)block.len;
        rc = shuffle_block_foreach(block.data, block.len, rec_to_lua, &rc_,
                                   &err);
        te->records_in += rc_.n;
        if (rc_.failed == 1) {
            buf_free(&block);
            return lua_error(L);
        }
        if (rc_.failed == 2 || rc) {
            buf_free(&block);
            if (rc_.failed == 2)
                return raise_internal(L, "%s", lua_tostring(L, -1));
            return raise_internal(L, "shuffle %d from executor %s: %s", sid,
                                  loc->exec_id, err.msg);
        }
    }
    buf_free(&block);
    return 0;
}

/* --------------------------------------------------------- shuffle write */

#define WRITER_MT "ember.ShuffleWriter"

typedef struct lwriter {
    shuffle_writer *w;
    int nparts;
    uint64_t granted; /* execution memory held for the buffers */
    memmgr *mm;
} lwriter;

#define WRITER_CHUNK (4u << 20)

static int l_writer(lua_State *L)
{
    task_env *te = env_of(L);
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
        return raise_internal(L, "%s", err.msg);
    return 1;
}

static int w_put(lua_State *L, task_env *te, lwriter *w, int p);

static int w_add(lua_State *L)
{
    task_env *te = env_of(L);
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    lua_Integer p = luaL_checkinteger(L, 2);
    ember_error err = {0, ""};
    if (!w->w)
        return raise_internal(L, "shuffle writer is closed");
    if (p < 0 || p >= w->nparts)
        return raise_internal(L, "partition %d out of range", (int)p);
    buf_reset(&te->scratch);
    if (ser_encode(L, 3, &te->scratch, &err))
        return raise_internal(L, "cannot shuffle this value: %s", err.msg);
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
                return raise_internal(L, "%s", err.msg);
            te->spilled += had;
        }
    }
    if (shuffle_writer_add(w->w, p, te->scratch.data, te->scratch.len, &err))
        return raise_internal(L, "%s", err.msg);
    return 0;
}

/* w:add_batch(batch): the last column (int32 "__part", from
 * rel.partition) names each row's reduce partition; the rows of each
 * partition, without that column, become one record. */
static int w_add_batch(lua_State *L)
{
    task_env *te = env_of(L);
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    ember_batch *b = lbatch_check(L, 2);
    int nc = batch_num_columns(b);
    int64_t n = batch_num_rows(b);
    ember_column pc;
    int32_t *sel = NULL;
    int64_t *count = NULL, *start = NULL;
    const int32_t *part;
    if (!w->w)
        return raise_internal(L, "shuffle writer is closed");
    if (n == 0)
        return 0;
    if (nc < 1 || batch_column(b, nc - 1, &pc) || pc.type != EMBER_TYPE_INT32 ||
        pc.null_count)
        return raise_internal(L, "shuffled batch lacks its partition column");
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
            return raise_internal(L, "partition %d out of range", part[i]);
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
            return raise_internal(L, "out of memory shuffling a batch");
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
    task_env *te = env_of(L);
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    lcounter *c = lcounter_check(L, 2);
    size_t n = lcounter_slots(c);
    if (!w->w)
        return raise_internal(L, "shuffle writer is closed");
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
            return raise_internal(L, "cannot use this value as a key: %s",
                                  err.msg);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, (lua_Integer)cnt);
        lua_rawseti(L, -2, 2);
        buf_reset(&te->scratch);
        if (ser_encode(L, -1, &te->scratch, &err))
            return raise_internal(L, "cannot shuffle this value: %s", err.msg);
        lua_pop(L, 1);
        w_put(L, te, w, (int)(h % (uint64_t)w->nparts));
    }
    lcounter_clear(L, c, 2);
    return 0;
}

static int w_commit(lua_State *L)
{
    task_env *te = env_of(L);
    lwriter *w = luaL_checkudata(L, 1, WRITER_MT);
    ember_error err = {0, ""};
    uint64_t *sizes = calloc((size_t)w->nparts + 1, sizeof *sizes);
    if (!sizes || !w->w) {
        free(sizes);
        return raise_internal(L, "cannot commit shuffle output");
    }
    if (shuffle_writer_commit(&w->w, sizes, &err)) {
        free(sizes);
        memmgr_release_execution(w->mm, w->granted);
        w->granted = 0;
        return raise_internal(L, "%s", err.msg);
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

/* ------------------------------------------------- plugin sinks/transforms */

#define OP_MT "ember.Operator"

typedef struct lop {
    const ember_op_desc *op;
    void *state;
    ember_batch *in;
    int open;
    opctx oc;
    ember_task_info ti; /* valid until close: operators may keep a pointer */
} lop;

static int op_gc(lua_State *L)
{
    lop *o = luaL_checkudata(L, 1, OP_MT);
    if (o->open && o->op->close)
        o->op->close(o->state);
    if (o->open)
        oc_release_all(&o->oc);
    o->open = 0;
    batch_destroy(&o->in);
    return 0;
}

/* rt.sink_open(name, params, partition) / rt.transform_open(...) */
static int op_open(lua_State *L, int kind)
{
    task_env *te = env_of(L);
    const char *name = luaL_checkstring(L, 1);
    const ember_op_desc *op = plugins_find_op(name, NULL);
    ember_error err = {0, ""};
    ember_params *p;
    lop *o;
    int rc;
    if (!op || op->kind != kind)
        return raise_internal(L, "no %s operator '%s' on executor %s",
                              kind == EMBER_OP_SINK ? "sink" : "transform",
                              name, te->ctx->exec_id);
    o = lua_newuserdatauv(L, sizeof *o, 0);
    memset(o, 0, sizeof *o);
    luaL_setmetatable(L, OP_MT);
    o->op = op;
    o->in = batch_new();
    if (!o->in || batch_add_column(o->in, "value", EMBER_TYPE_STRING) < 0)
        return raise_internal(L, "out of memory");
    if (!(p = lua_params(L, 2, op, &err)))
        return raise_internal(L, "%s", err.msg);
    task_info_fill(te, &o->ti, (int)luaL_checkinteger(L, 3), &o->oc);
    rc = op->open(host_table(), p, &o->ti, &o->state, &err);
    params_destroy(&p);
    if (rc)
        return raise_internal(L, "%s: %s", name,
                              err.msg[0] ? err.msg : ember_strerror(rc));
    o->open = 1;
    return 1;
}

static int l_sink_open(lua_State *L)
{
    return op_open(L, EMBER_OP_SINK);
}

static int l_transform_open(lua_State *L)
{
    return op_open(L, EMBER_OP_TRANSFORM);
}

/* push the buffered batch through the op; outputs go to the consumer at
 * down_idx (0 = none) */
static int op_flush(lua_State *L, lop *o, int down_idx, int finish)
{
    ember_error err = {0, ""};
    emit_ctx e = {L, down_idx, 0, 0};
    int rc = 0;
    if (batch_num_rows(o->in) > 0) {
        rc = o->op->push(o->state, o->in, emit_to_lua, &e, &err);
        batch_clear(o->in);
    }
    if (!rc && !e.failed && finish && o->op->finish)
        rc = o->op->finish(o->state, emit_to_lua, &e, &err);
    if (e.failed)
        return lua_error(L);
    if (rc && rc != EMBER_ESTOP)
        return raise_internal(L, "%s: %s", o->op->name,
                              err.msg[0] ? err.msg : ember_strerror(rc));
    return 0;
}

/* o:push(value [, down]) */
static int op_push(lua_State *L)
{
    lop *o = luaL_checkudata(L, 1, OP_MT);
    size_t n;
    const char *s;
    if (!o->open)
        return raise_internal(L, "operator is closed");
    if (lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER) {
        s = lua_tolstring(L, 2, &n);
    } else {
        s = luaL_tolstring(L, 2, &n);
        lua_replace(L, 2);
    }
    if (batch_append_str(o->in, 0, s, n))
        return raise_internal(L, "out of memory");
    if (batch_num_rows(o->in) >= BATCH_ROWS)
        return op_flush(L, o, lua_isfunction(L, 3) ? 3 : 0, 0);
    return 0;
}

/* o:finish([down]) */
static int op_finish(lua_State *L)
{
    lop *o = luaL_checkudata(L, 1, OP_MT);
    if (!o->open)
        return raise_internal(L, "operator is closed");
    return op_flush(L, o, lua_isfunction(L, 2) ? 2 : 0, 1);
}

/* Batches (DataFrames).  Each returns true when the operator wants no
 * more input (a limit reached), else nothing. */
static int op_batch_result(lua_State *L, lop *o, emit_ctx *e, int rc,
                           ember_error *err)
{
    if (e->failed)
        return lua_error(L);
    if (rc == EMBER_ESTOP) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (rc)
        return raise_internal(L, "%s: %s", o->op->name,
                              err->msg[0] ? err->msg : ember_strerror(rc));
    return 0;
}

/* o:push_batch(batch [, down]) */
static int op_push_batch(lua_State *L)
{
    lop *o = luaL_checkudata(L, 1, OP_MT);
    ember_batch *b = lbatch_check(L, 2);
    ember_error err = {0, ""};
    emit_ctx e = {L, lua_isfunction(L, 3) ? 3 : 0, 0, 0};
    int rc;
    if (!o->open)
        return raise_internal(L, "operator is closed");
    rc = o->op->push(o->state, b, emit_batch_to_lua, &e, &err);
    return op_batch_result(L, o, &e, rc, &err);
}

/* o:push_input(input, batch [, down]): input >= 1 (joins' build side) */
static int op_push_input(lua_State *L)
{
    lop *o = luaL_checkudata(L, 1, OP_MT);
    int input = (int)luaL_checkinteger(L, 2);
    ember_batch *b = lbatch_check(L, 3);
    ember_error err = {0, ""};
    emit_ctx e = {L, lua_isfunction(L, 4) ? 4 : 0, 0, 0};
    int rc;
    if (!o->open)
        return raise_internal(L, "operator is closed");
    if (o->op->struct_size <= offsetof(ember_op_desc, push_input) ||
        !o->op->push_input)
        return raise_internal(L, "operator %s has a single input", o->op->name);
    rc = o->op->push_input(o->state, input, b, emit_batch_to_lua, &e, &err);
    return op_batch_result(L, o, &e, rc, &err);
}

/* o:finish_batch([down]) */
static int op_finish_batch(lua_State *L)
{
    lop *o = luaL_checkudata(L, 1, OP_MT);
    ember_error err = {0, ""};
    emit_ctx e = {L, lua_isfunction(L, 2) ? 2 : 0, 0, 0};
    int rc = 0;
    if (!o->open)
        return raise_internal(L, "operator is closed");
    if (o->op->finish)
        rc = o->op->finish(o->state, emit_batch_to_lua, &e, &err);
    return op_batch_result(L, o, &e, rc, &err);
}

/* o:close(): close now rather than at garbage collection (releases the
 * operator's memory and files) */
static int op_close(lua_State *L)
{
    return op_gc(L);
}

/* rt.keep(x) -> x; a batch lent by an operator becomes an owned copy */
static int l_keep(lua_State *L)
{
    lua_settop(L, 1);
    lbatch_keep(L, 1);
    return 1;
}

/* rt.take_counter(name) -> value of the task's operator counter, reset */
static int l_take_counter(lua_State *L)
{
    task_env *te = env_of(L);
    const char *name = luaL_checkstring(L, 1);
    int64_t v = 0;
    for (int i = 0; i < te->ncounters; i++)
        if (strcmp(te->counter_name[i], name) == 0) {
            v = te->counter_val[i];
            te->counter_val[i] = 0;
        }
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* ------------------------------------------------------------- caching */

/* rt.cache_get(node, part) -> array of the partition's elements, or nil */
static int l_cache_get(lua_State *L)
{
    task_env *te = env_of(L);
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
static int l_cache_put(lua_State *L)
{
    task_env *te = env_of(L);
    int node = (int)luaL_checkinteger(L, 1);
    int part = (int)luaL_checkinteger(L, 2);
    int level = (int)luaL_checkinteger(L, 3);
    ember_error err = {0, ""};
    luaL_checktype(L, 4, LUA_TTABLE);
    buf_reset(&te->scratch);
    if (ser_encode(L, 4, &te->scratch, &err))
        return raise_internal(L, "cannot cache this partition: %s", err.msg);
    if (blockmgr_put(te->ctx->bm, node, part, level, te->scratch.data,
                     te->scratch.len, &err))
        LOG_WARN("cannot cache rdd_%d_%d: %s", node, part, err.msg);
    return 0;
}

/* ----------------------------------------------------------- broadcasts */

/* rt.bcast_get(id) -> the broadcast value: from this executor's block
 * manager, else fetched once from the driver and kept */
static int l_bcast_get(lua_State *L)
{
    task_env *te = env_of(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    ember_error err = {0, ""};
    int rc;
    buf_reset(&te->scratch);
    rc = blockfetch_broadcast(te->bf, id, &te->scratch, &err);
    if (rc)
        return raise_internal(L, "cannot read broadcast %d: %s", (int)id,
                              err.msg);
    if (ser_decode_buf(L, te->scratch.data, te->scratch.len, 0, &err))
        return raise_internal(L, "corrupt broadcast %d: %s", (int)id, err.msg);
    return 1;
}

/* ---------------------------------------------------------- checkpoints */

static void ckpt_path(char *out, size_t n, const char *dir, int part)
{
    snprintf(out, n, "%s/part-%05d", dir, part);
}

/* rt.checkpoint_write(dir, part, array): one file per partition, written
 * to a temporary name and renamed (a failed attempt leaves nothing) */
static int l_checkpoint_write(lua_State *L)
{
    task_env *te = env_of(L);
    const char *dir = luaL_checkstring(L, 1);
    int part = (int)luaL_checkinteger(L, 2);
    ember_error err = {0, ""};
    char path[4096], tmp[4200];
    buf frames;
    FILE *f;
    luaL_checktype(L, 3, LUA_TTABLE);
    buf_reset(&te->scratch);
    if (ser_encode(L, 3, &te->scratch, &err))
        return raise_internal(L, "cannot checkpoint this partition: %s",
                              err.msg);
    buf_init(&frames);
    if (blockcodec_encode(&frames, te->scratch.data, te->scratch.len, 1)) {
        buf_free(&frames);
        return raise_internal(L, "out of memory");
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
        return raise_internal(L, "cannot write checkpoint %s: %s", path,
                              strerror(e));
    }
    buf_free(&frames);
    return 0;
}

/* rt.checkpoint_read(dir, part) -> array */
static int l_checkpoint_read(lua_State *L)
{
    task_env *te = env_of(L);
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
        return raise_internal(L, "cannot read checkpoint %s: %s", path,
                              err.msg);
    }
    free(data);
    return 1;
}

/* ------------------------------------ RDD aggregations: memory and spills */

/* reduce_by_key, group_by_key and distinct keep one hash table per task in
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
 * __close; agg_task_end() (the task epilogue) does it for whatever a failed
 * task left open, without waiting for the collector.  Bytes written to run
 * files count as the task's spilled bytes. */

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

static int l_agg_memory(lua_State *L)
{
    task_env *te = env_of(L);
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
static int l_agg_spill(lua_State *L)
{
    task_env *te = env_of(L);
    int n = (int)luaL_checkinteger(L, 1);
    int level = (int)luaL_checkinteger(L, 2);
    aggspill *s;
    if (n < 1 || n > AGG_MAX_PARTS)
        return raise_internal(L, "bad spill partition count %d", n);
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
        if (!(s->f[p] = fopen(path, s->made[p] ? "ab" : "wb")))
            return raise_internal(L, "cannot write spill file %s: %s", path,
                                  strerror(errno));
        s->made[p] = 1;
    }
    buf_reset(&s->frame);
    if (blockcodec_encode(&s->frame, r->data, r->len, 1))
        return raise_internal(L, "spill: out of memory");
    if (fwrite(s->frame.data, 1, s->frame.len, s->f[p]) != s->frame.len)
        return raise_internal(L, "cannot write spill file %s: %s", path,
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
        return raise_internal(L, "spill already finished");
    if (lua_type(L, 2) == LUA_TNUMBER && !lua_isinteger(L, 2) &&
        lua_tonumber(L, 2) != lua_tonumber(L, 2))
        h = 0x7ff8000000000000ull; /* every NaN is one key */
    else if (ser_hash(L, 2, &h, &err))
        return raise_internal(L, "cannot use this value as a key: %s", err.msg);
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
        return raise_internal(L, "cannot spill this value: %s", err.msg);
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
                return raise_internal(L, "cannot write spill file %s: %s", path,
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
        return raise_internal(L, "spill partition %d out of range", p);
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
        return raise_internal(L, "cannot read spill file %s: %s", path,
                              strerror(errno));
    for (;;) {
        uint8_t hdr[BLOCKCODEC_HEADER];
        size_t got = fread(hdr, 1, sizeof hdr, s->rf), used;
        uint32_t stored;
        rd r;
        if (got == 0 && feof(s->rf))
            break;
        if (got != sizeof hdr)
            return raise_internal(L, "spill file %s is truncated", path);
        stored = (uint32_t)hdr[12] | (uint32_t)hdr[13] << 8 |
                 (uint32_t)hdr[14] << 16 | (uint32_t)hdr[15] << 24;
        buf_reset(&s->frame);
        buf_reset(&s->dec);
        if (stored > BLOCKCODEC_MAX_RAW ||
            buf_put(&s->frame, hdr, sizeof hdr) ||
            buf_reserve(&s->frame, stored))
            return raise_internal(L, "spill file %s: bad frame", path);
        if (fread(s->frame.data + s->frame.len, 1, stored, s->rf) != stored)
            return raise_internal(L, "spill file %s is truncated", path);
        s->frame.len += stored;
        if (blockcodec_decode(s->frame.data, s->frame.len, &s->dec, &used,
                              &err))
            return raise_internal(L, "spill file %s: %s", path, err.msg);
        rd_init(&r, s->dec.data, s->dec.len);
        while (rd_left(&r) > 0) {
            lua_pushvalue(L, 3);
            if (ser_decode(L, &r, 0, &err))
                return raise_internal(L, "spill file %s: %s", path, err.msg);
            if (ser_decode(L, &r, 0, &err))
                return raise_internal(L, "spill file %s: %s", path, err.msg);
            if (pcall_h(L, 2) != 0)
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
static void agg_task_end(task_env *te)
{
    while (te->aggmems)
        am_close_(te->aggmems);
    while (te->aggspills)
        as_close_(te->aggspills);
}

static void agg_register(lua_State *L)
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

/* ----------------------------------------------------------------- setup */

static const luaL_Reg rt_funcs[] = {
    {"encode", l_encode},
    {"decode", l_decode},
    {"key", l_key},
    {"partition", l_partition},
    {"run_source", l_run_source},
    {"read_shuffle", l_read_shuffle},
    {"writer", l_writer},
    {"sink_open", l_sink_open},
    {"transform_open", l_transform_open},
    {"cache_get", l_cache_get},
    {"cache_put", l_cache_put},
    {"checkpoint_write", l_checkpoint_write},
    {"checkpoint_read", l_checkpoint_read},
    {"bcast_get", l_bcast_get},
    {"take_counter", l_take_counter},
    {"keep", l_keep},
    {"agg_memory", l_agg_memory},
    {"counter", lcounter_new},
    {"sort_pairs", lsort_pairs},
    {"agg_spill", l_agg_spill},
    {NULL, NULL},
};

static int print_fwd(lua_State *L)
{
    task_env *te = env_of(L);
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_addvalue(&b);
        (void)s;
    }
    luaL_pushresult(&b);
    fprintf(stderr, "(executor %s, task %llu) %s\n", te->ctx->exec_id,
            te->task ? (unsigned long long)te->task->task_id : 0ULL,
            lua_tostring(L, -1));
    return 0;
}

static void task_env_destroy(task_env **tp);

static task_env *task_env_new(const exec_ctx *ctx, blockfetch *bf,
                              ember_error *err)
{
    task_env *te = calloc(1, sizeof *te);
    lua_State *L;
    if (!te || !(L = lua_newstate(pool_alloc, &te->alloc))) {
        free(te);
        ember_seterr(err, EMBER_ENOMEM, "cannot create a Lua state");
        return NULL;
    }
    te->ctx = ctx;
    te->bf = bf;
    te->L = L;
    pthread_mutex_init(&te->snap_mu, NULL);
    buf_init(&te->scratch);
    *(task_env **)lua_getextraspace(L) = te;
    luaL_openlibs(L);
    lua_pushcfunction(L, print_fwd);
    lua_setglobal(L, "print");
    /* the ember table on executors: what functions shipped from the
     * driver may use of the module (serialize.c ships the module itself
     * as a reference to this table) */
    lua_createtable(L, 0, 2);
    ser_push_null(L);
    lua_setfield(L, -2, "null");
    lua_pushcfunction(L, lsplit_strsplit);
    lua_setfield(L, -2, "strsplit");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SER_MODULE_KEY);
    lua_setglobal(L, "ember");
    lbatch_open(L);
    lcounter_open(L);

    luaL_newmetatable(L, WRITER_MT);
    lua_pushcfunction(L, w_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, w_add);
    lua_setfield(L, -2, "add");
    lua_pushcfunction(L, w_commit);
    lua_setfield(L, -2, "commit");
    lua_pushcfunction(L, w_add_batch);
    lua_setfield(L, -2, "add_batch");
    lua_pushcfunction(L, w_add_counts);
    lua_setfield(L, -2, "add_counts");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newmetatable(L, OP_MT);
    lua_pushcfunction(L, op_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, op_push);
    lua_setfield(L, -2, "push");
    lua_pushcfunction(L, op_finish);
    lua_setfield(L, -2, "finish");
    lua_pushcfunction(L, op_push_batch);
    lua_setfield(L, -2, "push_batch");
    lua_pushcfunction(L, op_push_input);
    lua_setfield(L, -2, "push_input");
    lua_pushcfunction(L, op_finish_batch);
    lua_setfield(L, -2, "finish_batch");
    lua_pushcfunction(L, op_close);
    lua_setfield(L, -2, "close");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    agg_register(L);

    lua_newtable(L); /* STOP sentinel */
    lua_setfield(L, LUA_REGISTRYINDEX, STOP_KEY);
    lua_pushcfunction(L, l_handler);
    lua_setfield(L, LUA_REGISTRYINDEX, HANDLER_KEY);

    if (luaL_loadbufferx(L, ember_exec_lua, ember_exec_lua_len, "=[ember exec]",
                         "t") != LUA_OK) {
        ember_seterr(err, EMBER_ELUA, "cannot load the executor runtime: %s",
                     lua_tostring(L, -1));
        task_env_destroy(&te);
        return NULL;
    }
    luaL_newlib(L, rt_funcs);
    lua_getfield(L, LUA_REGISTRYINDEX, STOP_KEY);
    lua_setfield(L, -2, "STOP");
    /* the order of sort keys, as the driver has it (core.key_lt) */
    ser_push_null(L);
    if (luaL_loadbufferx(L, ember_keyorder_lua, ember_keyorder_lua_len,
                         "=[ember keyorder]", "t") != LUA_OK ||
        (lua_insert(L, -2), lua_pcall(L, 1, 1, 0)) != LUA_OK) {
        ember_seterr(err, EMBER_ELUA, "cannot load the key order: %s",
                     lua_tostring(L, -1));
        task_env_destroy(&te);
        return NULL;
    }
    lua_setfield(L, -2, "key_lt");
    lua_pushcfunction(L, l_handler);
    lua_setfield(L, -2, "handler");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        ember_seterr(err, EMBER_ELUA, "cannot start the executor runtime: %s",
                     lua_tostring(L, -1));
        task_env_destroy(&te);
        return NULL;
    }
    lua_getfield(L, -1, "run_task");
    te->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_sethook(L, kill_hook, LUA_MASKCOUNT, 10000);
    lua_pop(L, 1);
    lua_newtable(L);
    te->stages_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return te;
}

static void task_env_destroy(task_env **tp)
{
    task_env *te = tp ? *tp : NULL;
    if (!te)
        return;
    if (te->L)
        lua_close(te->L);
    pool_free_all(&te->alloc);
    pthread_mutex_destroy(&te->snap_mu);
    buf_free(&te->scratch);
    free(te);
    *tp = NULL;
}

/* Decode a stage binary into the table exec.lua expects; pushes it. */
static int push_stage(lua_State *L, const uint8_t *bin, size_t len,
                      ember_error *err)
{
    rd r;
    uint64_t nnodes;
    size_t plen;
    const char *pl;
    int top = lua_gettop(L);
    rd_init(&r, bin, len);
    lua_createtable(L, 0, 6);
    lua_pushboolean(L, rd_u8(&r));
    lua_setfield(L, -2, "is_map");
    lua_pushinteger(L, rd_svarint(&r));
    lua_setfield(L, -2, "root");
    lua_pushinteger(L, rd_svarint(&r));
    lua_setfield(L, -2, "shuffle_id");
    lua_pushinteger(L, rd_svarint(&r));
    lua_setfield(L, -2, "out_parts");
    pl = rd_lstr(&r, &plen);
    if (!pl || ser_decode_buf(L, pl, plen, 0, err))
        goto bad;
    lua_setfield(L, -2, "out");
    nnodes = rd_varint(&r);
    if (!rd_ok(&r) || nnodes > rd_left(&r))
        goto bad;
    lua_createtable(L, 0, (int)nnodes);
    for (uint64_t i = 0; i < nnodes; i++) {
        lua_Integer id = rd_svarint(&r);
        uint64_t np;
        lua_createtable(L, 0, 5);
        lua_pushinteger(L, id);
        lua_setfield(L, -2, "id");
        lua_pushinteger(L, rd_svarint(&r));
        lua_setfield(L, -2, "kind");
        lua_pushinteger(L, rd_svarint(&r));
        lua_setfield(L, -2, "nparts");
        np = rd_varint(&r);
        if (!rd_ok(&r) || np > rd_left(&r))
            goto bad;
        lua_createtable(L, (int)np, 0);
        for (uint64_t k = 0; k < np; k++) {
            lua_pushinteger(L, rd_svarint(&r));
            lua_rawseti(L, -2, (lua_Integer)k + 1);
        }
        lua_setfield(L, -2, "parents");
        pl = rd_lstr(&r, &plen);
        if (!pl || ser_decode_buf(L, pl, plen, 0, err))
            goto bad;
        lua_setfield(L, -2, "payload");
        lua_pushinteger(L, rd_svarint(&r));
        lua_setfield(L, -2, "cache");
        lua_rawseti(L, -2, id);
    }
    lua_setfield(L, -2, "nodes");
    if (!rd_ok(&r))
        goto bad;
    return 0;
bad:
    lua_settop(L, top);
    if (!err || !err->code)
        ember_seterr(err, EMBER_ECORRUPT, "malformed stage description");
    return EMBER_ECORRUPT;
}

static void task_env_run(task_env *te, const msg_launch *task,
                         const uint8_t *stage, size_t stage_len, msg_status *st)
{
    lua_State *L = te->L;
    ember_error err = {0, ""};
    int64_t t0 = now_us();
    int top = lua_gettop(L);
    te->task = task;
    te->shuffle_read_bytes = te->shuffle_write_bytes = te->records_in = 0;
    te->spilled = 0;
    te->ncounters = 0;
    te->data_bytes = 0;
    st->task_id = task->task_id;

    lua_getfield(L, LUA_REGISTRYINDEX, HANDLER_KEY);
    lua_rawgeti(L, LUA_REGISTRYINDEX, te->run_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, te->stages_ref);
    lua_rawgeti(L, -1, task->stage_id);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (push_stage(L, stage, stage_len, &err)) {
            st->state = TASK_FAILED;
            st->fail_kind = FAIL_INTERNAL;
            st->message = strdup(err.msg);
            lua_settop(L, top);
            te->task = NULL;
            return;
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, task->stage_id);
    }
    lua_remove(L, -2); /* stages table */
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, task->partition);
    lua_setfield(L, -2, "partition");
    lua_pushinteger(L, task->attempt);
    lua_setfield(L, -2, "attempt");
    lua_pushinteger(L, (lua_Integer)task->task_id);
    lua_setfield(L, -2, "task_id");
    lua_pushinteger(L, task->stage_id);
    lua_setfield(L, -2, "stage_id");
    atomic_store(&te->prog_start_ms, now_ms());
    pthread_mutex_lock(&te->snap_mu);
    te->snap_n = 0;
    pthread_mutex_unlock(&te->snap_mu);
    atomic_store(&te->prog_records, 0);
    atomic_store(&te->current, task->task_id);
    if (lua_pcall(L, 2, 2, top + 1) != LUA_OK) {
        st->state = TASK_FAILED;
        st->fail_kind = FAIL_USER;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "msg");
            st->message =
                strdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error)");
            lua_pop(L, 1);
            lua_getfield(L, -1, "tb");
            st->traceback =
                strdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
            lua_pop(L, 1);
            lua_getfield(L, -1, "fetch_failed");
            if (lua_toboolean(L, -1)) {
                st->fail_kind = FAIL_FETCH;
                lua_getfield(L, -2, "shuffle");
                st->fetch_shuffle = (int)lua_tointeger(L, -1);
                lua_getfield(L, -3, "map_task");
                st->fetch_map_task = (uint64_t)lua_tointeger(L, -1);
                lua_getfield(L, -4, "exec");
                st->fetch_exec =
                    strdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
                lua_pop(L, 3);
            }
            lua_pop(L, 1);
        } else {
            st->message = strdup(lua_tostring(L, -1) ? lua_tostring(L, -1)
                                                     : "(error object)");
        }
        if (st->message && strstr(st->message, KILLED_MSG))
            st->state = TASK_KILLED;
    } else {
        /* accumulator updates: the second result */
        if (lua_istable(L, -1) && lua_rawlen(L, -1) > 0) {
            buf ab;
            buf_init(&ab);
            if (ser_encode(L, -1, &ab, &err) == 0)
                st->accum = buf_steal(&ab, &st->accum_len);
            buf_free(&ab);
        }
        lua_pop(L, 1);
    }
    if (st->state == TASK_FAILED || st->state == TASK_KILLED) {
        /* nothing more */
    } else if (task->kind == TASK_SHUFFLE_MAP) {
        int n = (int)lua_rawlen(L, -1);
        st->state = TASK_FINISHED;
        st->sizes = calloc((size_t)n + 1, sizeof *st->sizes);
        st->nsizes = st->sizes ? n : 0;
        for (int i = 0; i < st->nsizes; i++) {
            lua_rawgeti(L, -1, i + 1);
            st->sizes[i] = (uint64_t)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
    } else {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        buf b;
        buf_init(&b);
        st->state = TASK_FINISHED;
        st->result_raw_size = n;
        if (!s || blockcodec_encode(&b, s, n, te->ctx->compress)) {
            st->state = TASK_FAILED;
            st->fail_kind = FAIL_INTERNAL;
            st->message = strdup("cannot encode the task result");
        } else if (te->ctx->max_direct_result > 0 &&
                   b.len > te->ctx->max_direct_result) {
            /* too big to travel with the status: keep it in the block
               store; the driver fetches it from the block server */
            char path[4096];
            FILE *f;
            task_result_path(path, sizeof path, te->ctx->local_dir,
                             task->task_id);
            f = fopen(path, "wb");
            if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
                if (f)
                    fclose(f);
                st->state = TASK_FAILED;
                st->fail_kind = FAIL_INTERNAL;
                st->message = strdup("cannot store the task result");
            } else {
                st->indirect_size = b.len;
            }
        } else {
            st->result = buf_steal(&b, &st->result_len);
        }
        buf_free(&b);
    }
    atomic_store(&te->current, 0);
    atomic_store(&te->kill_tid, 0);
    agg_task_end(te); /* what a failed task's aggregations left */
    {
        /* cached-block changes made by this task (or evictions) */
        buf ub;
        buf_init(&ub);
        blockmgr_drain_updates(te->ctx->bm, &ub);
        if (ub.len > 1 && !ub.oom)
            st->blocks = buf_steal(&ub, &st->blocks_len);
        buf_free(&ub);
    }
    st->peak_memory = (int64_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024;
    lua_settop(L, top);
    st->run_us = now_us() - t0;
    st->records_in = te->records_in;
    st->shuffle_read_bytes = te->shuffle_read_bytes;
    st->shuffle_write_bytes = te->shuffle_write_bytes;
    st->spill_bytes = te->spilled;
    st->data_transport_bytes = te->data_bytes;
    te->task = NULL;
    lua_gc(L, LUA_GCSTEP, 0);
}

const task_runner task_runtime_lua = {
    .env_new = task_env_new,
    .env_destroy = task_env_destroy,
    .run = task_env_run,
    .kill = task_env_kill,
    .progress = task_env_progress,
};
