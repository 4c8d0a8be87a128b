pkgplugin_LTLIBRARIES += plugins/clustermgr/local/clustermgr_local.la
plugins_clustermgr_local_clustermgr_local_la_SOURCES = plugins/clustermgr/local/cm_local.c
plugins_clustermgr_local_clustermgr_local_la_LDFLAGS = -module -avoid-version $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
