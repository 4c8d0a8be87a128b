# The Lua modules embedded in the binary (lua/embed.sh, lua/lmodules.h):
# lua/ember.lua is require("ember"), lua/NAME.lua require("ember.NAME"),
# lua/df/NAME.lua require("ember.df.NAME").  Executors load ember.exec and
# ember.keyorder only (lua/task_runtime.c).
EMBER_LUA_SOURCES = lua/ember.lua lua/rdd.lua lua/keyorder.lua lua/dates.lua \
	lua/sqlexpr.lua lua/exec.lua \
	lua/df/expr.lua lua/df/column.lua lua/df/logical.lua lua/df/frame.lua \
	lua/df/read.lua lua/df/optimizer.lua lua/df/physical.lua \
	lua/df/compile.lua lua/df/actions.lua lua/df/write.lua
EMBEDDED_LUA = lua/ember_lua_modules.c
BUILT_SOURCES += $(EMBEDDED_LUA)
CLEANFILES += $(EMBEDDED_LUA)
# plan_kind.h and numfmt.h are header-only (lua/lmodules.c includes both,
# core/sched/driver.h and op_relational's rel_fmt.c one each)
EXTRA_DIST += $(EMBER_LUA_SOURCES) lua/embed.sh core/sched/plan_kind.h \
	core/util/numfmt.h

lua/ember_lua_modules.c: $(EMBER_LUA_SOURCES) lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh $(top_srcdir) $(EMBER_LUA_SOURCES) > $@.tmp && mv $@.tmp $@
