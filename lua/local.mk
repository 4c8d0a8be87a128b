BUILT_SOURCES += lua/ember_lua.c lua/ember_exec_lua.c
CLEANFILES += lua/ember_lua.c lua/ember_exec_lua.c
EXTRA_DIST += lua/ember.lua lua/exec.lua lua/embed.sh

lua/ember_lua.c: $(top_srcdir)/lua/ember.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_lua $(top_srcdir)/lua/ember.lua > $@.tmp && mv $@.tmp $@
lua/ember_exec_lua.c: $(top_srcdir)/lua/exec.lua $(top_srcdir)/lua/embed.sh
	$(AM_V_GEN)$(MKDIR_P) lua && sh $(top_srcdir)/lua/embed.sh ember_exec_lua $(top_srcdir)/lua/exec.lua > $@.tmp && mv $@.tmp $@
