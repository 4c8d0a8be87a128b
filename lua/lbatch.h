/*
 * lbatch.h -- columnar batches as Lua values ("ember.Batch" userdata).
 *
 * DataFrame partitions flow through exec.lua as batches, one Lua value per
 * batch (a few thousand rows), never one per row; they are cached, shuffled
 * and returned to the driver in the wire form of core/data/batch.c.
 */
#ifndef EMBER_LBATCH_H
#define EMBER_LBATCH_H

#include <ember/plugin.h>
#include <lua.h>

#define LBATCH_MT "ember.Batch"

/* Push a batch userdata owning b (b is destroyed on failure too). */
void lbatch_push(lua_State *L, ember_batch *b);
/* Push a batch borrowed from an operator's emit callback (no copy); call
 * lbatch_unborrow(handle) when the callback returns, after which the value
 * is dead unless lbatch_keep() made it an owned copy meanwhile. */
void *lbatch_push_borrowed(lua_State *L, const ember_batch *b);
void lbatch_unborrow(void *handle);
/* If the value at idx is a borrowed batch, make it an owned copy. */
int lbatch_keep(lua_State *L, int idx);
/* The batch at idx, or a Lua error naming the argument. */
ember_batch *lbatch_check(lua_State *L, int idx);
/* The batch at idx, or NULL when it is not one. */
ember_batch *lbatch_test(lua_State *L, int idx);
/* Register the metatable and its methods (once per lua_State). */
void lbatch_open(lua_State *L);

#endif
