noinst_LIBRARIES += core/libember_core.a
core_libember_core_a_CFLAGS = $(AM_CFLAGS) $(LUA_CFLAGS) $(ZMQ_CFLAGS) $(LZ4_CFLAGS) $(SODIUM_CFLAGS) -fPIC
core_libember_core_a_SOURCES = \
	core/util/err.c core/util/err.h \
	core/util/buf.c core/util/buf.h \
	core/util/log.c core/util/log.h \
	core/util/fsutil.c core/util/fsutil.h \
	core/config.c core/config.h \
	core/data/batch.c core/data/batch.h \
	core/codec/blockcodec.c core/codec/blockcodec.h \
	core/shuffle/shuffle_file.c core/shuffle/shuffle_file.h \
	core/rpc/msg.c core/rpc/msg.h \
	core/plugin/plugins.c core/plugin/plugins.h \
	core/sched/driver.c core/sched/driver.h core/sched/driver_int.h \
	core/sched/dag.c core/sched/taskset.c core/sched/taskset.h \
	core/sched/eventlog.c core/sched/eventlog.h \
	core/sched/bcast.c core/sched/bcast.h \
	core/exec/executor.c core/exec/exec_ctx.h \
	core/exec/blockmgr.c core/exec/blockmgr.h \
	core/exec/memmgr.c core/exec/memmgr.h \
	lua/serialize.c lua/serialize.h \
	lua/luaparams.c lua/luaparams.h \
	lua/lbatch.c lua/lbatch.h \
	lua/lcounter.c lua/lcounter.h \
	lua/lsplit.c lua/lsplit.h \
	lua/lsort.c lua/lsort.h \
	lua/task_runtime.c lua/task_runtime.h \
	lua/lua_ember.c lua/lua_ember.h
nodist_core_libember_core_a_SOURCES = $(EMBEDDED_LUA)
EMBER_CORE_LIBS = core/libember_core.a $(LUA_LIBS) $(LZ4_LIBS) $(SODIUM_LIBS) $(LTDL_LIBS) $(PTHREAD_LIBS) -lm
ARFLAGS = cr
core_libember_core_a_SOURCES += core/sec/sec.c core/sec/sec.h
