/*
 * lsort.h -- rt.sort_pairs (see lsort.c): sorting a range of
 * {key, value} pairs in C when the keys allow it.
 */
#ifndef EMBER_LSORT_H
#define EMBER_LSORT_H

#include <lua.h>

/* rt.sort_pairs(pairs, ascending) -> a new array of the pairs in key
 * order, or nil when the keys are not all strings or all numbers without
 * NaN (the caller then sorts in Lua).  Equal keys keep their input order
 * (descending: reversed). */
int lsort_pairs(lua_State *L);

#endif
