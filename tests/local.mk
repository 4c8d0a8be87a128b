# Tests: TAP through automake's tap-driver.  C unit tests are programs;
# Lua and integration tests are scripts run by tests/run-test.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
LOG_COMPILER = $(top_srcdir)/tests/run-test
AM_TESTS_ENVIRONMENT = top_builddir='$(abs_top_builddir)' top_srcdir='$(abs_top_srcdir)' EMBER='$(abs_top_builddir)/cli/ember'; export top_builddir top_srcdir EMBER;
if SANITIZERS
AM_TESTS_ENVIRONMENT += EMBER_SANITIZED=1; export EMBER_SANITIZED;
endif
EXTRA_DIST += tests/run-test tests/tap/tap.h tests/tap/tap.lua tests/tap/json.lua tests/unit/fake_host.h \
	tests/integration/lib.sh $(LUA_TESTS) $(INTEGRATION_TESTS) \
	$(wildcard $(srcdir)/tests/fuzz/*.c) tests/fuzz/run-fuzz.sh \
	$(wildcard $(srcdir)/tests/fuzz/corpus/*/*)

UNIT_TESTS = tests/unit/test_blockcodec tests/unit/test_shuffle_file \
	tests/unit/test_config tests/unit/test_serialize tests/unit/test_msg \
	tests/unit/test_plugins tests/unit/test_transport_zmq tests/unit/test_cm_local \
	tests/unit/test_transport_shm \
	tests/unit/test_taskset tests/unit/test_blockfetch
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)
# A unit test of the core links the core only; one of the Lua API adds
# lua/libember_lua.a, the Lua include paths and Lua itself.
UNIT_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/tests
tests_unit_test_blockcodec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_blockcodec_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_shuffle_file_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_shuffle_file_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_serialize_CPPFLAGS = $(LUA_API_CPPFLAGS)
tests_unit_test_serialize_CFLAGS = $(UNIT_CFLAGS) $(LUA_CFLAGS)
tests_unit_test_serialize_LDADD = $(EMBER_LUA_LIBS)
tests_unit_test_taskset_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_taskset_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_blockfetch_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_blockfetch_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_msg_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_msg_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_plugins_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_plugins_LDADD = $(EMBER_CORE_LIBS)

# plugins built against another ABI major and against the previous minor,
# for the loader test
check_LTLIBRARIES += tests/unit/op_badabi.la tests/unit/op_oldminor.la
tests_unit_op_badabi_la_SOURCES = tests/unit/op_badabi.c
tests_unit_op_badabi_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
tests_unit_op_oldminor_la_SOURCES = tests/unit/op_oldminor.c
tests_unit_op_oldminor_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)

tests_unit_test_transport_zmq_CFLAGS = $(UNIT_CFLAGS) \
	-DFAKE_DEFAULT_PLUGIN='"$(abs_top_builddir)/plugins/transport/zmq/.libs/transport_zmq.so"'
tests_unit_test_transport_zmq_LDADD = -ldl $(PTHREAD_LIBS)
tests_unit_test_transport_shm_CFLAGS = $(UNIT_CFLAGS) $(SODIUM_CFLAGS) \
	-I$(top_srcdir)/plugins/transport/shm \
	-DFAKE_DEFAULT_PLUGIN='"$(abs_top_builddir)/plugins/transport/shm/.libs/transport_shm.so"'
tests_unit_test_transport_shm_LDADD = $(SODIUM_LIBS) -ldl $(PTHREAD_LIBS)
tests_unit_test_cm_local_CFLAGS = $(UNIT_CFLAGS) \
	-DFAKE_DEFAULT_PLUGIN='"$(abs_top_builddir)/plugins/clustermgr/local/.libs/clustermgr_local.so"'
tests_unit_test_cm_local_LDADD = -ldl $(PTHREAD_LIBS)

TEST_EXTENSIONS = .lua .t
LUA_LOG_DRIVER = $(LOG_DRIVER)
LUA_LOG_COMPILER = $(LOG_COMPILER)
T_LOG_DRIVER = $(LOG_DRIVER)
T_LOG_COMPILER = $(LOG_COMPILER)
LUA_TESTS = tests/lua/rdd_api.lua tests/lua/rdd_count.lua tests/lua/rdd_sort.lua tests/lua/scheduler.lua tests/lua/speculation.lua tests/lua/storage.lua tests/lua/memory.lua tests/lua/rdd_spill.lua \
	tests/lua/sqlexpr.lua tests/lua/df_sqlite.lua tests/lua/df_output.lua \
	tests/lua/df_storage.lua tests/lua/df_plans.lua tests/lua/df_spill.lua \
	tests/lua/df_modules.lua tests/lua/df_agree.lua tests/lua/df_settings.lua
INTEGRATION_TESTS = tests/integration/wordcount.t tests/integration/driver_kill.t tests/integration/cli.t tests/integration/format.t tests/integration/sdk.t tests/integration/faults.t tests/integration/shm_suite.t \
	tests/integration/layering.t tests/integration/conf.t
TESTS += $(LUA_TESTS) $(INTEGRATION_TESTS)

# operators' spill files, plain and sealed (io.encryption.enabled)
UNIT_TESTS += tests/unit/test_spillfile
tests_unit_test_spillfile_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_spillfile_LDADD = $(EMBER_CORE_LIBS)

# the key table against the doc, its readers and every call site
UNIT_TESTS += tests/unit/test_conf_keys
tests_unit_test_conf_keys_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_conf_keys_LDADD = $(EMBER_CORE_LIBS)

# the real driver against simulated executors and a fake clock
UNIT_TESTS += tests/unit/test_dag
tests_unit_test_dag_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_dag_LDADD = $(EMBER_CORE_LIBS)
# the DAG scheduler's outcomes, without a driver; the event log's JSON
EXTRA_DIST += tests/unit/dag_plans.h
UNIT_TESTS += tests/unit/test_dag_outcomes tests/unit/test_eventlog
tests_unit_test_dag_outcomes_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_dag_outcomes_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_eventlog_CFLAGS = $(UNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_eventlog_LDADD = $(EMBER_CORE_LIBS)

# op_relational: each test compiles rel.c and the operator files it tests
# and registers the plugin statically (tests/unit/rel_harness.h)
REL_TEST_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/plugins/operators/relational
UNIT_TESTS += tests/unit/test_rel_expr tests/unit/test_rel_scan \
	tests/unit/test_rel_agg tests/unit/test_rel_join tests/unit/test_rel_sort \
	tests/unit/test_rel_colfile
EXTRA_DIST += tests/unit/rel_harness.h tests/lua/df_helpers.lua
tests_unit_test_rel_expr_SOURCES = tests/unit/test_rel_expr.c plugins/operators/relational/rel.c \
	plugins/operators/relational/rel_fmt.c plugins/operators/relational/expr_int.h \
	plugins/operators/relational/expr_compile.c plugins/operators/relational/expr_eval.c \
	plugins/operators/relational/expr_func.c plugins/operators/relational/rowwise.c \
	plugins/operators/relational/explode.c plugins/operators/relational/partition.c
tests_unit_test_rel_expr_CFLAGS = $(REL_TEST_CFLAGS)
tests_unit_test_rel_expr_LDADD = $(EMBER_CORE_LIBS) -lm
tests_unit_test_rel_scan_SOURCES = tests/unit/test_rel_scan.c plugins/operators/relational/rel.c \
	plugins/operators/relational/rel_files.c plugins/operators/relational/rel_fmt.c \
	plugins/operators/relational/scan.h plugins/operators/relational/scan.c \
	plugins/operators/relational/scan_csv.c plugins/operators/relational/scan_json.c plugins/operators/relational/write.c
tests_unit_test_rel_scan_CFLAGS = $(REL_TEST_CFLAGS)
tests_unit_test_rel_scan_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_rel_agg_SOURCES = tests/unit/test_rel_agg.c plugins/operators/relational/rel.c \
	plugins/operators/relational/agg_int.h plugins/operators/relational/agg.c \
	plugins/operators/relational/agg_table.c plugins/operators/relational/agg_spill.c \
	plugins/operators/relational/rel_spill.c
tests_unit_test_rel_agg_CFLAGS = $(REL_TEST_CFLAGS)
tests_unit_test_rel_agg_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_rel_join_SOURCES = tests/unit/test_rel_join.c plugins/operators/relational/rel.c \
	plugins/operators/relational/join.c
tests_unit_test_rel_join_CFLAGS = $(REL_TEST_CFLAGS)
tests_unit_test_rel_join_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_rel_sort_SOURCES = tests/unit/test_rel_sort.c plugins/operators/relational/rel.c \
	plugins/operators/relational/sort.c plugins/operators/relational/rel_spill.c
tests_unit_test_rel_sort_CFLAGS = $(REL_TEST_CFLAGS)
tests_unit_test_rel_sort_LDADD = $(EMBER_CORE_LIBS)
tests_unit_test_rel_colfile_SOURCES = tests/unit/test_rel_colfile.c \
	plugins/operators/relational/rel.c plugins/operators/relational/rel_files.c \
	plugins/operators/relational/ecol.h plugins/operators/relational/ecol.c \
	plugins/operators/relational/colfile.c
tests_unit_test_rel_colfile_CFLAGS = $(REL_TEST_CFLAGS)
tests_unit_test_rel_colfile_LDADD = $(EMBER_CORE_LIBS) $(LZ4_LIBS)

# authenticated sockets (ABI 1.3), the same checks for every transport
UNIT_TESTS += tests/unit/test_transport_sec_zmq
tests_unit_test_transport_sec_zmq_SOURCES = tests/unit/test_transport_sec.c
tests_unit_test_transport_sec_zmq_CFLAGS = $(UNIT_CFLAGS) $(SODIUM_CFLAGS) \
	-DFAKE_DEFAULT_PLUGIN='"$(abs_top_builddir)/plugins/transport/zmq/.libs/transport_zmq.so"'
tests_unit_test_transport_sec_zmq_LDADD = $(SODIUM_LIBS) -ldl $(PTHREAD_LIBS)
UNIT_TESTS += tests/unit/test_transport_sec_shm
tests_unit_test_transport_sec_shm_SOURCES = tests/unit/test_transport_sec.c
tests_unit_test_transport_sec_shm_CFLAGS = $(UNIT_CFLAGS) $(SODIUM_CFLAGS) \
	-DFAKE_DEFAULT_PLUGIN='"$(abs_top_builddir)/plugins/transport/shm/.libs/transport_shm.so"' \
	-DSEC_TEST_ENDPOINT='"shm://sec-XXXXXXXXXXXX"'
tests_unit_test_transport_sec_shm_LDADD = $(SODIUM_LIBS) -ldl $(PTHREAD_LIBS)
UNIT_TESTS += tests/unit/test_sec
tests_unit_test_sec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sec_LDADD = $(EMBER_CORE_LIBS)

# security (issue 12): an outsider speaking the wire format, and the attacks
# it makes on a real job
check_PROGRAMS += tests/integration/rogue
tests_integration_rogue_CPPFLAGS = $(LUA_API_CPPFLAGS)
tests_integration_rogue_CFLAGS = $(UNIT_CFLAGS) $(LUA_CFLAGS) $(ZMQ_CFLAGS)
tests_integration_rogue_LDADD = $(EMBER_LUA_LIBS) $(ZMQ_LIBS)
INTEGRATION_TESTS += tests/integration/security.t tests/integration/security_keys.t
# data at rest sealed with the application's io key (io.encryption.enabled)
INTEGRATION_TESTS += tests/integration/io_encryption.t
