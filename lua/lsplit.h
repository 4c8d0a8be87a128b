/*
 * lsplit.h -- ember.strsplit (see lsplit.c): a Lua C function, registered in
 * the driver's and the executors' ember tables.
 */
#ifndef EMBER_LSPLIT_H
#define EMBER_LSPLIT_H

#include <lua.h>

/* ember.strsplit(s [, sep [, max]]) -> array of fields; raises on bad
 * arguments. */
int lsplit_strsplit(lua_State *L);

#endif
