/*
 * lua_ember.h -- the `ember` Lua module (driver side).
 */
#ifndef EMBER_LUA_EMBER_H
#define EMBER_LUA_EMBER_H

#include <lua.h>

struct conf;

/* The configuration sessions start from (set by `ember submit`); borrowed. */
void ember_lua_set_base_conf(const struct conf *c);
int luaopen_ember(lua_State *L);

#endif
