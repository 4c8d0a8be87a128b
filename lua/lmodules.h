/*
 * lmodules.h -- ember's Lua modules as `require` finds them, in the
 * driver's lua_State and in every executor task state.
 *
 * The Lua modules (lua/NAME.lua, lua/df/NAME.lua) are embedded in the binary at
 * build time (lua/embed.sh writes lua/ember_lua_modules.c, the table
 * below); lmodules_preload() puts a loader for each into package.preload,
 * so a module names its dependencies with require() at its top and is
 * compiled the first time something requires it.  Three small C modules
 * are preloaded the same way, one definition of each fact for both
 * states: "ember.null" (the NULL sentinel, serialize.c), "ember.plan_kind"
 * (the plan-node kinds, core/sched/plan_kind.h) and "ember.numfmt"
 * (java_double: Java's Double.toString, core/util/numfmt.h).
 *
 * Threads: none; each call uses only the lua_State it is given.
 */
#ifndef EMBER_LUA_LMODULES_H
#define EMBER_LUA_LMODULES_H

#include <lua.h>
#include <stddef.h>

/* One embedded Lua module (generated table, ends with a NULL name). */
typedef struct lmodule_src {
    const char *name;      /* "ember.df.expr" */
    const char *chunkname; /* "=[ember.df.expr]", as tracebacks show it */
    const char *code;      /* the source text, NUL-terminated */
    size_t len;
} lmodule_src;

extern const lmodule_src lmodules_lua[];

/* Set package.preload[name] for the embedded Lua modules named in names
 * (a NULL-terminated list; NULL = all of them) and for the C modules
 * above.  Raises a Lua error for a name that is not embedded. */
void lmodules_preload(lua_State *L, const char *const *names);

/* Push the result of require(name); raises what require raises. */
void lmodules_require(lua_State *L, const char *name);

#endif
