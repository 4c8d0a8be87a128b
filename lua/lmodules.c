/*
 * lmodules.c -- ember's Lua modules in package.preload (see lmodules.h).
 *
 * Each embedded module gets a C closure as its loader, holding its
 * lmodule_src: require(name) compiles the text (mode "t") under the chunk
 * name "=[name]" and calls it with the module name, as Lua's own loaders
 * do.  The C modules ("ember.null", "ember.plan_kind", "ember.numfmt")
 * build their tables when first required.
 *
 * Threads: none; each call uses only the lua_State it is given.
 */
#include "lmodules.h"

#include "sched/plan_kind.h"
#include "serialize.h"
#include "util/numfmt.h"

#include <lauxlib.h>
#include <string.h>

/* package.preload[name](name): compile and run the embedded module */
static int load_embedded(lua_State *L)
{
    const lmodule_src *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbufferx(L, m->code, m->len, m->chunkname, "t") != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, m->name);
    lua_call(L, 1, 1);
    return 1;
}

/* require("ember.null"): the sentinel that stands for NULL in arrays */
static int open_null(lua_State *L)
{
    ser_push_null(L);
    return 1;
}

/* require("ember.plan_kind"): {SOURCE = 1, NARROW = 2, ...} */
static int open_plan_kind(lua_State *L)
{
    lua_newtable(L);
#define PUSH_KIND(name, value)                                                 \
    lua_pushinteger(L, value);                                                 \
    lua_setfield(L, -2, #name);
    PLAN_NODE_KINDS(PUSH_KIND)
#undef PUSH_KIND
    return 1;
}

/* numfmt.java_double(x) -> Java's Double.toString of x (a number) */
static int l_java_double(lua_State *L)
{
    char o[NUMFMT_MAX];
    size_t n = numfmt_java_double((double)luaL_checknumber(L, 1), o);
    lua_pushlstring(L, o, n);
    return 1;
}

static int open_numfmt(lua_State *L)
{
    static const luaL_Reg fns[] = {{"java_double", l_java_double},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}

void lmodules_preload(lua_State *L, const char *const *names)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open_null);
    lua_setfield(L, -2, "ember.null");
    lua_pushcfunction(L, open_plan_kind);
    lua_setfield(L, -2, "ember.plan_kind");
    lua_pushcfunction(L, open_numfmt);
    lua_setfield(L, -2, "ember.numfmt");
    for (const lmodule_src *m = lmodules_lua; m->name; m++) {
        if (names) {
            const char *const *n = names;
            while (*n && strcmp(*n, m->name) != 0)
                n++;
            if (!*n)
                continue;
        }
        lua_pushlightuserdata(L, (void *)m);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, m->name);
    }
    for (const char *const *n = names; n && *n; n++) {
        lua_getfield(L, -1, *n);
        if (lua_isnil(L, -1))
            luaL_error(L, "no embedded Lua module '%s'", *n);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void lmodules_require(lua_State *L, const char *name)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
}
