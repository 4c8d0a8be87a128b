/*
 * ser_null.c -- the ember.null sentinel (see ser_null.h).
 *
 * Owns the sentinel's creation and identity test; nothing else.  The
 * sentinel is created lazily by the first ser_push_null() of a lua_State
 * and compared by raw identity, so a value that merely prints "null" is not
 * null.
 *
 * Threads: none; each call uses only its lua_State.
 */
#include "ser_null.h"

#include <lauxlib.h>

int ser_is_null(lua_State *L, int idx)
{
    int r;
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, SER_NULL_KEY);
    r = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return r;
}

static int null_tostring(lua_State *L)
{
    lua_pushliteral(L, "null");
    return 1;
}

void ser_push_null(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, SER_NULL_KEY) == LUA_TUSERDATA)
        return;
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
    if (luaL_newmetatable(L, SER_NULL_KEY)) { /* sets __name */
        lua_pushcfunction(L, null_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SER_NULL_KEY);
}
