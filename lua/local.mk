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
	lua/lua_ember.c lua/lua_ember.h
nodist_lua_libember_lua_a_SOURCES = $(EMBEDDED_LUA)
# The Lua library first: it calls into the core and into Lua.
EMBER_LUA_LIBS = lua/libember_lua.a $(EMBER_CORE_LIBS) $(LUA_LIBS)

EMBEDDED_LUA = lua/ember_lua.c lua/ember_exec_lua.c lua/ember_sqlexpr_lua.c \
	lua/ember_dataframe_lua.c lua/ember_dfplan_lua.c lua/ember_dfexec_lua.c \
	lua/ember_keyorder_lua.c
BUILT_SOURCES += $(EMBEDDED_LUA)
CLEANFILES += $(EMBEDDED_LUA)
EXTRA_DIST += lua/ember.lua lua/exec.lua lua/sqlexpr.lua lua/dataframe.lua \
	lua/dfplan.lua lua/dfexec.lua lua/keyorder.lua lua/embed.sh

lua/ember_lua.c: $(top_srcdir)/lua/ember.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_lua $(top_srcdir)/lua/ember.lua > $@.tmp && mv $@.tmp $@
lua/ember_exec_lua.c: $(top_srcdir)/lua/exec.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_exec_lua $(top_srcdir)/lua/exec.lua > $@.tmp && mv $@.tmp $@
lua/ember_sqlexpr_lua.c: $(top_srcdir)/lua/sqlexpr.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_sqlexpr_lua $(top_srcdir)/lua/sqlexpr.lua > $@.tmp && mv $@.tmp $@
lua/ember_dataframe_lua.c: $(top_srcdir)/lua/dataframe.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_dataframe_lua $(top_srcdir)/lua/dataframe.lua > $@.tmp && mv $@.tmp $@
lua/ember_dfplan_lua.c: $(top_srcdir)/lua/dfplan.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_dfplan_lua $(top_srcdir)/lua/dfplan.lua > $@.tmp && mv $@.tmp $@
lua/ember_dfexec_lua.c: $(top_srcdir)/lua/dfexec.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_dfexec_lua $(top_srcdir)/lua/dfexec.lua > $@.tmp && mv $@.tmp $@
lua/ember_keyorder_lua.c: $(top_srcdir)/lua/keyorder.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_keyorder_lua $(top_srcdir)/lua/keyorder.lua > $@.tmp && mv $@.tmp $@
