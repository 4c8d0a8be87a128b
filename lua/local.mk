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
