pkgplugin_LTLIBRARIES += plugins/operators/text/op_text.la
plugins_operators_text_op_text_la_SOURCES = plugins/operators/text/op_text.c
plugins_operators_text_op_text_la_LDFLAGS = -module -avoid-version $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
