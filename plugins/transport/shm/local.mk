# transport_shm: ember's transport over POSIX shared memory (docs/transport-shm.md).
# bench_shm.c is a stand-alone benchmark, shipped but not built.
pkgplugin_LTLIBRARIES += plugins/transport/shm/transport_shm.la
plugins_transport_shm_transport_shm_la_SOURCES = plugins/transport/shm/transport_shm.c \
	plugins/transport/shm/shm_auth.c plugins/transport/shm/shm_obj.c \
	plugins/transport/shm/shm_int.h
plugins_transport_shm_transport_shm_la_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
plugins_transport_shm_transport_shm_la_LDFLAGS = -module -avoid-version $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_transport_shm_transport_shm_la_LIBADD = $(SODIUM_LIBS) $(PTHREAD_LIBS) -lrt
EXTRA_DIST += plugins/transport/shm/bench_shm.c
