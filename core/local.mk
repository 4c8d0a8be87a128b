# The core: everything but the Lua API.  No Lua include path and no Lua
# symbol (tests/integration/layering.t checks with nm); the executor runs
# tasks through the task_runner the `ember` command hands it.
noinst_LIBRARIES += core/libember_core.a
core_libember_core_a_CFLAGS = $(AM_CFLAGS) $(ZMQ_CFLAGS) $(LZ4_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS) -fPIC
core_libember_core_a_SOURCES = \
	core/util/err.c core/util/err.h \
	core/util/buf.c core/util/buf.h \
	core/util/log.c core/util/log.h \
	core/util/fsutil.c core/util/fsutil.h \
	core/util/crc32c.c core/util/crc32c.h core/util/crc32c_impl.h \
	core/config.c core/config.h core/conf_keys.c \
	core/conf_doc.c core/conf_doc.h \
	core/data/batch.c core/data/batch.h \
	core/codec/blockcodec.c core/codec/blockcodec.h \
	core/codec/spillfile.c core/codec/spillfile.h \
	core/shuffle/shuffle_file.c core/shuffle/shuffle_file.h \
	core/rpc/msg.c core/rpc/msg.h \
	core/plugin/plugins.c core/plugin/plugins.h \
	core/sched/jobspec.h core/sched/dag.c core/sched/dag.h \
	core/sched/taskset.c core/sched/taskset.h \
	core/sched/eventlog.c core/sched/eventlog.h \
	core/sched/driver.c core/sched/driver.h core/sched/driver_int.h \
	core/sched/loop.c core/sched/jobs.c core/sched/offers.c \
	core/sched/status.c core/sched/executors.c core/sched/fetcher.c \
	core/sched/bcast.c core/sched/bcast.h \
	core/exec/executor.c core/exec/executor.h core/exec/exec_ctx.h \
	core/exec/task_runner.h \
	core/exec/blockfetch.c core/exec/blockfetch.h \
	core/exec/blockmgr.c core/exec/blockmgr.h \
	core/exec/memmgr.c core/exec/memmgr.h \
	core/sec/sec.c core/sec/sec.h
EMBER_CORE_LIBS = core/libember_core.a $(LZ4_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) $(LTDL_LIBS) $(PTHREAD_LIBS) -lm
ARFLAGS = cr

# The reference section of docs/configuration.md is generated from the key
# table (core/conf_keys.c): `make conf-doc` rewrites it in the source tree;
# tests/unit/test_conf_keys checks that it agrees with the table.
noinst_PROGRAMS += core/conf-doc
core_conf_doc_SOURCES = core/conf_doc_main.c
core_conf_doc_LDADD = $(EMBER_CORE_LIBS)
conf-doc: core/conf-doc$(EXEEXT)
	core/conf-doc$(EXEEXT) --update $(top_srcdir)/docs/configuration.md
.PHONY: conf-doc
