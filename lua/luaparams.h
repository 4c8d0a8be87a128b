/*
 * luaparams.h -- operator parameters from a Lua table of options, validated
 * against the operator's declaration (driver and executors alike).
 */
#ifndef EMBER_LUA_LUAPARAMS_H
#define EMBER_LUA_LUAPARAMS_H

#include <ember/plugin.h>
#include <lua.h>

/* The options table at idx (or none if idx is not a table): values may be
 * strings, numbers or booleans.  Returns validated params (the caller's,
 * free with params_destroy) or NULL with err filled.  Never raises. */
ember_params *lua_params(lua_State *L, int idx, const ember_op_desc *op,
                         ember_error *err);

#endif
