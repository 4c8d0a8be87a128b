/*
 * rt_ops.c -- plugin operators in a task: sources, sinks and transforms
 * driven from exec.lua, and what a task lends each operator instance.
 *
 * An operator gets an ember_task_info whose ctx is an opctx: its counters
 * go to the task (rt.take_counter reads them; "spill_bytes" adds to the
 * task's spilled bytes), the execution memory it acquires is tracked so
 * that closing the operator gives back whatever it still holds, and its
 * spill files (codec/spillfile.h) go to the executor's local directory,
 * sealed with the process's io key when io.encryption.enabled.
 *
 * Rows or batches.  The RDD API sees one Lua value per row: each emitted
 * batch is walked under one protected call (emit_to_lua).  DataFrames see
 * one "ember.Batch" per emitted batch, borrowed for the call (no copy;
 * rt.keep makes an owned copy of one that must outlive it).  An operator's
 * frames are below every callback, so a Lua error in the consumer is caught
 * (rt_pcall), the operator is told to stop (EMBER_ESTOP) and the error is
 * raised again once the operator has returned: no longjmp crosses a
 * plugin.
 *
 * Sinks and transforms are "ember.Operator" userdata: rows pushed one by
 * one are gathered into a one-column string batch of BATCH_ROWS rows
 * before the operator sees them; batches go through as they are.
 *
 * Threads: the task thread that owns the lua_State.
 */
#include "rt_int.h"

#include "codec/blockcodec.h"
#include "codec/spillfile.h"
#include "data/batch.h"
#include "lbatch.h"
#include "luaparams.h"
#include "plugin/plugins.h"
#include "serialize.h"
#include "util/err.h"

#include <lauxlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define BATCH_ROWS 4096

/* ----------------------------------------- what a task lends an operator */

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

static int oc_spill_create(void *ctx, ember_spill **out, ember_error *err)
{
    task_env *te = ((opctx *)ctx)->te;
    return spillfile_create(te->ctx->local_dir, blockcodec_key(), out, err);
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
    spillfile_task_info(ti, oc_spill_create);
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
        return rt_raise(L, "operator produced a batch without columns");
    for (int64_t i = 0; i < c.length; i++) {
        lua_pushvalue(L, lua_upvalueindex(3));
        if (c.validity && !(c.validity[i / 8] & (1u << (i % 8)))) {
            ser_push_null(L);
        } else if (c.type == EMBER_TYPE_LUAVALUE) {
            ember_error err = {0, ""};
            if (ser_decode_buf(L, (const char *)c.data + c.offsets[i],
                               (size_t)(c.offsets[i + 1] - c.offsets[i]), 0,
                               &err))
                return rt_raise(L, "bad value from operator: %s", err.msg);
        } else if (c.type == EMBER_TYPE_INT64) {
            lua_pushinteger(L, ((const int64_t *)c.data)[i]);
        } else if (c.type == EMBER_TYPE_DOUBLE) {
            lua_pushnumber(L, ((const double *)c.data)[i]);
        } else if (c.type == EMBER_TYPE_STRING || c.type == EMBER_TYPE_BINARY) {
            lua_pushlstring(L, (const char *)c.data + c.offsets[i],
                            (size_t)(c.offsets[i + 1] - c.offsets[i]));
        } else {
            return rt_raise(L, "operator produced a column type the RDD "
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
    if (rt_pcall(L, 0) != 0) {
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
    rc = rt_pcall(L, 1);
    lbatch_unborrow(h);
    if (rc != 0) {
        e->failed = 1;
        return EMBER_ESTOP;
    }
    return 0;
}

/* rt.run_source(op, params, split, partition, consumer [, batches]) */
int rt_run_source(lua_State *L)
{
    task_env *te = rt_env(L);
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
        return rt_raise(L, "no source operator '%s' on executor %s", name,
                        te->ctx->exec_id);
    if (!(p = lua_params(L, 2, op, &err)))
        return rt_raise(L, "%s", err.msg);
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
        return rt_raise(L, "%s: %s", name,
                        err.msg[0] ? err.msg : ember_strerror(rc));
    return 0;
}

/* -------------------------------------------------- sinks and transforms */

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
    task_env *te = rt_env(L);
    const char *name = luaL_checkstring(L, 1);
    const ember_op_desc *op = plugins_find_op(name, NULL);
    ember_error err = {0, ""};
    ember_params *p;
    lop *o;
    int rc;
    if (!op || op->kind != kind)
        return rt_raise(L, "no %s operator '%s' on executor %s",
                        kind == EMBER_OP_SINK ? "sink" : "transform", name,
                        te->ctx->exec_id);
    o = lua_newuserdatauv(L, sizeof *o, 0);
    memset(o, 0, sizeof *o);
    luaL_setmetatable(L, OP_MT);
    o->op = op;
    o->in = batch_new();
    if (!o->in || batch_add_column(o->in, "value", EMBER_TYPE_STRING) < 0)
        return rt_raise(L, "out of memory");
    if (!(p = lua_params(L, 2, op, &err)))
        return rt_raise(L, "%s", err.msg);
    task_info_fill(te, &o->ti, (int)luaL_checkinteger(L, 3), &o->oc);
    rc = op->open(host_table(), p, &o->ti, &o->state, &err);
    params_destroy(&p);
    if (rc)
        return rt_raise(L, "%s: %s", name,
                        err.msg[0] ? err.msg : ember_strerror(rc));
    o->open = 1;
    return 1;
}

int rt_sink_open(lua_State *L)
{
    return op_open(L, EMBER_OP_SINK);
}

int rt_transform_open(lua_State *L)
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
        return rt_raise(L, "%s: %s", o->op->name,
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
        return rt_raise(L, "operator is closed");
    if (lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER) {
        s = lua_tolstring(L, 2, &n);
    } else {
        s = luaL_tolstring(L, 2, &n);
        lua_replace(L, 2);
    }
    if (batch_append_str(o->in, 0, s, n))
        return rt_raise(L, "out of memory");
    if (batch_num_rows(o->in) >= BATCH_ROWS)
        return op_flush(L, o, lua_isfunction(L, 3) ? 3 : 0, 0);
    return 0;
}

/* o:finish([down]) */
static int op_finish(lua_State *L)
{
    lop *o = luaL_checkudata(L, 1, OP_MT);
    if (!o->open)
        return rt_raise(L, "operator is closed");
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
        return rt_raise(L, "%s: %s", o->op->name,
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
        return rt_raise(L, "operator is closed");
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
        return rt_raise(L, "operator is closed");
    if (o->op->struct_size <= offsetof(ember_op_desc, push_input) ||
        !o->op->push_input)
        return rt_raise(L, "operator %s has a single input", o->op->name);
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
        return rt_raise(L, "operator is closed");
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

/* The "ember.Operator" metatable: push, finish (rows), push_batch,
 * push_input, finish_batch (batches), close; __gc closes. */
void rt_op_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"push", op_push},
        {"finish", op_finish},
        {"push_batch", op_push_batch},
        {"push_input", op_push_input},
        {"finish_batch", op_finish_batch},
        {"close", op_close},
        {NULL, NULL},
    };
    luaL_newmetatable(L, OP_MT);
    lua_pushcfunction(L, op_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* ---------------------------------------------- rt.keep, rt.take_counter */

/* rt.keep(x) -> x; a batch lent by an operator becomes an owned copy */
int rt_keep(lua_State *L)
{
    lua_settop(L, 1);
    lbatch_keep(L, 1);
    return 1;
}

/* rt.take_counter(name) -> value of the task's operator counter, reset */
int rt_take_counter(lua_State *L)
{
    task_env *te = rt_env(L);
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
