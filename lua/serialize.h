/*
 * serialize.h -- encode Lua values (records, task results, closures with
 * their upvalues) in one process and decode them in another's lua_State.
 *
 * Wire format (one value = one tag byte + payload; integers are LEB128
 * varints, zigzag for signed; see serialize.c for the tag table):
 *   nil, false, true, ember.null    tag only
 *   integer                         svarint
 *   float                           8 bytes, IEEE-754 little-endian
 *   string                          varint length + bytes
 *   table                           varint narr, narr values (keys 1..narr),
 *                                   varint nhash, nhash key/value pairs
 *   Lua function                    varint length + lua_dump bytecode (with
 *                                   debug info), varint nups, nups upvalues
 *   function back-reference         varint function number in this value
 *   standard C function             its name ("string.format")
 * An upvalue is a value, the _ENV marker (the global table, rebound on the
 * decoding side), or a reference to an upvalue of an earlier function that
 * shares it (lua_upvaluejoin).
 *
 * Limits: nesting of tables/functions deeper than SER_MAX_DEPTH is refused on
 * both sides.  Metatables are not shipped.  Tables that contain themselves
 * are refused; a sub-table reachable twice is encoded twice.
 *
 * Decoding is bounds-checked and never trusts a length; it allocates nothing
 * but Lua values (memory errors are raised as Lua errors, as by any Lua API
 * call).  Function bodies go through lua_load in mode "b", which Lua itself
 * does not harden against hostile bytecode: both ends must be ember.
 *
 * Threads: none; every call uses only the lua_State it is given.
 */
#ifndef EMBER_LUA_SERIALIZE_H
#define EMBER_LUA_SERIALIZE_H

#include <lua.h>
#include <stdint.h>

#include "ser_null.h"
#include "util/buf.h"
#include <ember/plugin.h>

#define SER_MAX_DEPTH 200

/* Append the encoding of the value at idx. Supported: nil, booleans,
 * integers, floats, strings, tables (array + hash parts, nested; cycles are
 * an error, shared non-cyclic sub-tables are encoded twice), the ember.null
 * sentinel (the value stored in the registry under key "ember.null" if
 * present), Lua functions (closures: bytecode via lua_dump WITHOUT stripping
 * debug info so tracebacks keep file:line, plus every upvalue encoded
 * recursively; the upvalue named "_ENV" that holds the global table is
 * encoded as a special ENV marker), and C functions of the standard library
 * that are reachable by name from the global table (_G's own functions and
 * those of string, table, math, utf8; encoded by name "string.format").
 * Anything else is EMBER_EINVAL whose message names where it was found and
 * its type, e.g. "cannot ship upvalue 'conn' (userdata ember.Socket) of
 * function at job.lua:12: create it inside the function, or pass plain
 * data".  Floats (NaN, inf, -0.0) and the integer/float subtype round trip.
 * On error out is left as it was (its length restored); EMBER_ENOMEM if out
 * cannot grow.  The Lua stack is left as it was. */
int ser_encode(lua_State *L, int idx, buf *out, ember_error *err);

/* Decode one value from r and push it.  env_idx: stack index of the value to
 * use as _ENV for decoded functions (0 = the global table).  Returns 0, or
 * EMBER_ECORRUPT with a message (nothing pushed; stack balanced; r is left
 * failed or wherever decoding stopped). */
int ser_decode(lua_State *L, rd *r, int env_idx, ember_error *err);

/* Convenience: decode a whole buffer that must hold exactly one value
 * (trailing bytes are EMBER_ECORRUPT). */
int ser_decode_buf(lua_State *L, const void *p, size_t n, int env_idx,
                   ember_error *err);

/* Grouping/partitioning keys: ember groups by value.  Push a Lua string that
 * is equal for equal keys: numbers with an integral value compare equal to
 * the integer (1 and 1.0 give the same key, as Lua table keys do), strings,
 * booleans, nil, ember.null, and tables compared by content (canonical:
 * pairs outside the array part sorted).  Returns 0 or EMBER_EINVAL (nothing
 * pushed) for unsupported values (functions, userdata except ember.null,
 * coroutines, cyclic or too deeply nested tables). */
int ser_key(lua_State *L, int idx, ember_error *err);

/* 64-bit hash of a key consistent with ser_key equality: the hash of the
 * same canonical bytes (FNV-1a-64 + a final mix), without allocating for
 * strings and numbers.  Same value -> same hash on every process and
 * platform.  Returns 0 or EMBER_EINVAL as ser_key. */
int ser_hash(lua_State *L, int idx, uint64_t *h, ember_error *err);

/* Registry key of the ember module table of this lua_State (the driver's
 * module, an executor's table of task helpers).  A function's upvalue that
 * is this table ships as a reference to the decoding side's, and the C
 * functions in it ship by name ("ember.strsplit"). */
#define SER_MODULE_KEY "ember.module"

/* The 64-bit finaliser ser_hash ends with (MurmurHash3's fmix64): spreads
 * any 64-bit value over all bits.  Pure. */
uint64_t ser_mix64(uint64_t k);

/* The ember.null sentinel (ser_push_null, ser_is_null) is declared in
 * ser_null.h, included here for the callers of this header. */

#endif
