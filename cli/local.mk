bin_PROGRAMS += cli/ember
cli_ember_SOURCES = cli/ember.c
cli_ember_CPPFLAGS = $(LUA_API_CPPFLAGS)
cli_ember_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) -DEMBER_SYSCONFDIR='"$(sysconfdir)/ember"'
cli_ember_LDADD = $(EMBER_LUA_LIBS)
