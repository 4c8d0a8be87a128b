/*
 * task_runtime.c -- the Lua task runner: a task thread's lua_State, and
 * running one task in it (the task_runner of core/exec/task_runner.h).
 *
 * Each task thread owns one task_env: a lua_State with the standard
 * libraries, the `ember` table (null, strsplit), exec.lua loaded with the
 * `rt` table of C primitives, a cache of decoded stages, and the thread's
 * block client (borrowed from the executor).  The primitives live in the
 * runtime's other files, lua/rt_*.c, which share rt_int.h (its header lists
 * which file owns what); this file owns the task_env's life, the error
 * model, the rt table, the kill/progress hook, stage decoding and turning a
 * task's outcome into its status message.
 *
 * Errors: Lua errors raised by user code are turned into tables
 * {__ember_err = true, msg = ..., tb = ...} by rt.handler at the point they
 * are raised, so the traceback shows the user's frames.  C code that calls
 * back into Lua (sources, shuffle reads, plugin transforms) does so with
 * lua_pcall (rt_pcall), cleans up its own resources, then re-raises: no
 * longjmp ever crosses a plugin's frames.
 *
 * Threads: a task_env belongs to one task thread; task_env_kill and
 * task_env_progress may be called from the control thread (atomics, and
 * snap_mu for the accumulator snapshot).
 */
#include "rt_int.h"

#include "codec/blockcodec.h"
#include "exec/blockmgr.h"
#include "lcounter.h"
#include "lmodules.h"
#include "lsort.h"
#include "lsplit.h"
#include "lbatch.h"
#include "serialize.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------- kills and progress */

#define KILLED_MSG "task killed: another attempt of it finished first"

/* Count hook: stop a task that was killed (speculation losers). */
static void kill_hook(lua_State *L, lua_Debug *ar)
{
    task_env *te = rt_env(L);
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

/* -------------------------------------------------------------- errors */

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

int rt_pcall(lua_State *L, int nargs)
{
    int base = lua_gettop(L) - nargs;
    int rc;
    lua_getfield(L, LUA_REGISTRYINDEX, HANDLER_KEY);
    lua_insert(L, base);
    rc = lua_pcall(L, nargs, 0, base);
    lua_remove(L, base);
    return rc;
}

int rt_raise(lua_State *L, const char *fmt, ...)
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

/* ------------------------------------------------------------ the rt table */

/* exec.lua's `rt`: the C primitives of the executor-side runtime. */
static const luaL_Reg rt_funcs[] = {
    {"encode", rt_encode},
    {"decode", rt_decode},
    {"key", rt_key},
    {"partition", rt_partition},
    {"run_source", rt_run_source},
    {"read_shuffle", rt_read_shuffle},
    {"writer", rt_writer},
    {"sink_open", rt_sink_open},
    {"transform_open", rt_transform_open},
    {"cache_get", rt_cache_get},
    {"cache_put", rt_cache_put},
    {"checkpoint_write", rt_checkpoint_write},
    {"checkpoint_read", rt_checkpoint_read},
    {"bcast_get", rt_bcast_get},
    {"take_counter", rt_take_counter},
    {"keep", rt_keep},
    {"agg_memory", rt_agg_memory},
    {"counter", lcounter_new},
    {"sort_pairs", lsort_pairs},
    {"agg_spill", rt_agg_spill},
    {NULL, NULL},
};

/* ---------------------------------------------------------- the task_env */

/* print() on executors: to stderr, saying which executor and task. */
static int print_fwd(lua_State *L)
{
    task_env *te = rt_env(L);
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

/* the modules a task state may require (lmodules.c), then ember.exec */
static int l_open_exec(lua_State *L)
{
    static const char *const modules[] = {"ember.keyorder", "ember.exec", NULL};
    lmodules_preload(L, modules);
    lmodules_require(L, "ember.exec");
    return 1;
}

static task_env *task_env_new(const exec_ctx *ctx, blockfetch *bf,
                              ember_error *err)
{
    task_env *te = calloc(1, sizeof *te);
    lua_State *L;
    if (!te || !(L = lua_newstate(rt_pool_alloc, &te->alloc))) {
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

    rt_writer_register(L);
    rt_op_register(L);
    rt_agg_register(L);

    lua_newtable(L); /* STOP sentinel */
    lua_setfield(L, LUA_REGISTRYINDEX, STOP_KEY);
    lua_pushcfunction(L, l_handler);
    lua_setfield(L, LUA_REGISTRYINDEX, HANDLER_KEY);

    /* the executor runtime: exec.lua as require("ember.exec"), over the C
     * primitives above as require("ember.rt") */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    luaL_newlib(L, rt_funcs);
    lua_getfield(L, LUA_REGISTRYINDEX, STOP_KEY);
    lua_setfield(L, -2, "STOP");
    lua_pushcfunction(L, l_handler);
    lua_setfield(L, -2, "handler");
    lua_setfield(L, -2, "ember.rt");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_open_exec);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
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
    rt_pool_free_all(&te->alloc);
    pthread_mutex_destroy(&te->snap_mu);
    buf_free(&te->scratch);
    free(te);
    *tp = NULL;
}

/* ------------------------------------------------------------ one task */

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
            f = fopen_private(path, "wb");
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
    rt_agg_task_end(te); /* what a failed task's aggregations left */
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
