# The Lua API: the `ember` module's C bindings (driver side) and the task
# runtime that runs tasks in executors' lua_States (a task_runner for
# core/exec), with the embedded chunks of lua/*.lua.  Built on the core.
noinst_LIBRARIES += lua/libember_lua.a
LUA_API_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/lua
lua_libember_lua_a_CPPFLAGS = $(LUA_API_CPPFLAGS)
lua_libember_lua_a_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) $(LZ4_CFLAGS) -fPIC
lua_libember_lua_a_SOURCES = \
	lua/ser_null.c lua/ser_null.h \
	lua/serialize.c lua/serialize.h \
	lua/luaparams.c lua/luaparams.h \
	lua/lbatch.c lua/lbatch.h \
	lua/lcounter.c lua/lcounter.h \
	lua/lsplit.c lua/lsplit.h \
	lua/lsort.c lua/lsort.h \
	lua/task_runtime.c lua/task_runtime.h lua/rt_int.h \
	lua/rt_alloc.c lua/rt_values.c lua/rt_ops.c \
	lua/rt_shuffle_read.c lua/rt_shuffle_write.c \
	lua/rt_storage.c lua/rt_agg.c \
	lua/lua_ember.c lua/lua_ember.h \
	lua/lmodules.c lua/lmodules.h
nodist_lua_libember_lua_a_SOURCES = $(EMBEDDED_LUA)
# The Lua library first: it calls into the core and into Lua.
EMBER_LUA_LIBS = lua/libember_lua.a $(EMBER_CORE_LIBS) $(LUA_LIBS)


# The Lua modules embedded in the binary (lua/embed.sh, lua/lmodules.h):
# lua/ember.lua is require("ember"), lua/NAME.lua require("ember.NAME"),
# lua/df/NAME.lua require("ember.df.NAME").  Executors load ember.exec and
# ember.keyorder only (lua/task_runtime.c).
EMBER_LUA_MODULES = lua/ember.lua lua/rdd.lua lua/keyorder.lua lua/dates.lua \
	lua/sqlexpr.lua lua/exec.lua \
	lua/df/expr.lua lua/df/column.lua lua/df/logical.lua lua/df/frame.lua \
	lua/df/read.lua lua/df/optimizer.lua lua/df/physical.lua \
	lua/df/compile.lua lua/df/actions.lua lua/df/write.lua
EMBEDDED_LUA = lua/ember_lua_modules.c
BUILT_SOURCES += $(EMBEDDED_LUA)
CLEANFILES += $(EMBEDDED_LUA)
# plan_kind.h and numfmt.h are header-only (lua/lmodules.c includes both,
# core/sched/driver.h and op_relational's rel_fmt.c one each)
EXTRA_DIST += $(EMBER_LUA_MODULES) lua/embed.sh core/sched/plan_kind.h \
	core/util/numfmt.h

lua/ember_lua_modules.c: $(EMBER_LUA_MODULES) lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh $(top_srcdir) $(EMBER_LUA_MODULES) > $@.tmp && mv $@.tmp $@
