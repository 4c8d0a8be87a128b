/*
 * luaparams.c -- operator parameters from Lua tables (see luaparams.h).
 * Any thread, on its own lua_State.
 */
#include "luaparams.h"

#include "plugin/plugins.h"
#include "util/err.h"

ember_params *lua_params(lua_State *L, int idx, const ember_op_desc *op,
                         ember_error *err)
{
    ember_params *p = params_new(op);
    if (!p) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    idx = lua_absindex(L, idx);
    if (lua_istable(L, idx)) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            const char *k =
                lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            const char *v = NULL;
            if (lua_isboolean(L, -1))
                v = lua_toboolean(L, -1) ? "true" : "false";
            else if (lua_type(L, -1) == LUA_TSTRING ||
                     lua_type(L, -1) == LUA_TNUMBER)
                v = lua_tostring(L, -1);
            if (!k || !v) {
                ember_seterr(err, EMBER_EINVAL,
                             "operator %s: option names must be strings and "
                             "values strings, numbers or booleans",
                             op->name);
                lua_pop(L, 2);
                params_destroy(&p);
                return NULL;
            }
            if (params_set(p, k, v, err)) {
                lua_pop(L, 2);
                params_destroy(&p);
                return NULL;
            }
            lua_pop(L, 1);
        }
    }
    if (params_finish(p, err)) {
        params_destroy(&p);
        return NULL;
    }
    return p;
}
