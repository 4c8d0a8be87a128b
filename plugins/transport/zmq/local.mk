pkgplugin_LTLIBRARIES += plugins/transport/zmq/transport_zmq.la
plugins_transport_zmq_transport_zmq_la_SOURCES = plugins/transport/zmq/transport_zmq.c
plugins_transport_zmq_transport_zmq_la_CFLAGS = $(AM_CFLAGS) $(ZMQ_CFLAGS)
plugins_transport_zmq_transport_zmq_la_LDFLAGS = -module -avoid-version $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_transport_zmq_transport_zmq_la_LIBADD = $(ZMQ_LIBS) $(PTHREAD_LIBS)
