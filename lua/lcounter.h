/*
 * lcounter.h -- "ember.Counter" (see lcounter.c): counts of distinct Lua
 * values, kept in C, for count_by_value's map side.
 */
#ifndef EMBER_LCOUNTER_H
#define EMBER_LCOUNTER_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define LCOUNTER_MT "ember.Counter"

typedef struct lcounter lcounter;

/* Register the metatable and its methods (once per lua_State). */
void lcounter_open(lua_State *L);
/* rt.counter([what]): push a new, empty counter; what names the operation
 * in its error messages (default "count_by_value"). */
int lcounter_new(lua_State *L);
/* The open counter at idx, or a Lua error. */
lcounter *lcounter_check(lua_State *L, int idx);
/* Distinct values held, and the bytes their table takes. */
size_t lcounter_size(const lcounter *c);
size_t lcounter_bytes(const lcounter *c);
/* The values sit in slots 0 .. lcounter_slots(c) - 1, some empty. */
size_t lcounter_slots(const lcounter *c);
/* Push the value in slot i and set *count, returning 1; 0 (nothing pushed)
 * for an empty slot.  cidx is the counter's absolute stack index. */
int lcounter_push(lua_State *L, lcounter *c, int cidx, size_t slot,
                  int64_t *count);
/* Forget every value and give the memory back. */
void lcounter_clear(lua_State *L, lcounter *c, int cidx);

#endif
