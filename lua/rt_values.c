/*
 * rt_values.c -- rt.encode, rt.decode, rt.key, rt.partition: ember's value
 * codec (serialize.c) as exec.lua uses it on executors.
 *
 * encode writes into the task's scratch buffer, so it allocates nothing per
 * call but the resulting Lua string; a value that cannot ship or key is
 * raised as an ember error naming why.
 *
 * Threads: the task thread that owns the lua_State.
 */
#include "rt_int.h"

#include "serialize.h"
#include "util/err.h"

#include <lauxlib.h>

int rt_encode(lua_State *L)
{
    task_env *te = rt_env(L);
    ember_error err = {0, ""};
    buf_reset(&te->scratch);
    if (ser_encode(L, 1, &te->scratch, &err))
        return rt_raise(L, "%s", err.msg);
    lua_pushlstring(L, (const char *)te->scratch.data, te->scratch.len);
    return 1;
}

int rt_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    ember_error err = {0, ""};
    if (ser_decode_buf(L, s, n, 0, &err))
        return rt_raise(L, "%s", err.msg);
    return 1;
}

int rt_key(lua_State *L)
{
    ember_error err = {0, ""};
    if (ser_key(L, 1, &err))
        return rt_raise(L, "cannot use this value as a key: %s", err.msg);
    return 1;
}

int rt_partition(lua_State *L)
{
    ember_error err = {0, ""};
    uint64_t h;
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < 1)
        return rt_raise(L, "bad partition count %d", (int)n);
    if (ser_hash(L, 1, &h, &err))
        return rt_raise(L, "cannot use this value as a key: %s", err.msg);
    lua_pushinteger(L, (lua_Integer)(h % (uint64_t)n));
    return 1;
}
