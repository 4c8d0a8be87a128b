/*
 * rt_shuffle_read.c -- rt.read_shuffle: a reduce task's input, the map
 * outputs of one shuffle for one reduce partition, into Lua.
 *
 * For each map output in the task's locations (msg_launch inputs) the
 * block is fetched through the thread's block client (core/exec/
 * blockfetch.c: local file, or the map executor's block server), then its
 * records are decoded one by one -- Lua values for RDDs, batches for
 * DataFrames -- and passed to the consumer under rt_pcall.  A block that
 * cannot be fetched raises a fetch-failure error table naming the shuffle,
 * the map task and the executor, so the driver resubmits the map stage
 * instead of retrying the task.
 *
 * Threads: the task thread that owns the lua_State.
 */
#include "rt_int.h"

#include "data/batch.h"
#include "lbatch.h"
#include "serialize.h"
#include "shuffle/shuffle_file.h"
#include "util/err.h"

#include <lauxlib.h>

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
    if (rt_pcall(c->L, 1) != 0) {
        c->failed = 1;
        return 1;
    }
    return 0;
}

/* rt.read_shuffle(shuffle_id, reduce_id, consumer [, batches]) */
int rt_read_shuffle(lua_State *L)
{
    task_env *te = rt_env(L);
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
        return rt_raise(L, "task has no locations for shuffle %d", sid);
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
                return rt_raise(L, "%s", lua_tostring(L, -1));
            return rt_raise(L, "shuffle %d from executor %s: %s", sid,
                            loc->exec_id, err.msg);
        }
    }
    buf_free(&block);
    return 0;
}
