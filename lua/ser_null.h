/*
 * ser_null.h -- ember.null, the NULL of DataFrame cells and RDD values.
 *
 * Lua's nil cannot sit in an array, so ember has a sentinel: one full
 * userdata per lua_State, kept in the registry under "ember.null", whose
 * metatable has __name "ember.null" and a __tostring returning "null".
 *
 * This file sits below every Lua value kind that needs the sentinel (the
 * Batch class of lbatch.c) and below the codec that ships it
 * (serialize.c), so neither has to include the other for it.  The names
 * keep serialize's prefix: the sentinel is one of the values serialize.h
 * defines on the wire.
 *
 * Threads: none; every call uses only the lua_State it is given.
 */
#ifndef EMBER_LUA_SER_NULL_H
#define EMBER_LUA_SER_NULL_H

#include <lua.h>

/* Registry key of the sentinel, and its metatable's name. */
#define SER_NULL_KEY "ember.null"

/* Push the ember.null sentinel, creating it and storing it in the registry
 * the first time. */
void ser_push_null(lua_State *L);
/* 1 if the value at idx is ember.null. */
int ser_is_null(lua_State *L, int idx);

#endif
