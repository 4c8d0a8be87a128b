pkgplugin_LTLIBRARIES += plugins/operators/relational/op_relational.la
plugins_operators_relational_op_relational_la_SOURCES = \
	plugins/operators/relational/rel.h \
	plugins/operators/relational/rel.c \
	plugins/operators/relational/rel_files.c \
	plugins/operators/relational/rel_fmt.c \
	plugins/operators/relational/rel_spill.c \
	plugins/operators/relational/expr_int.h \
	plugins/operators/relational/expr_compile.c \
	plugins/operators/relational/expr_eval.c \
	plugins/operators/relational/expr_func.c \
	plugins/operators/relational/rowwise.c \
	plugins/operators/relational/explode.c \
	plugins/operators/relational/partition.c \
	plugins/operators/relational/scan.h \
	plugins/operators/relational/scan.c \
	plugins/operators/relational/scan_csv.c \
	plugins/operators/relational/scan_json.c \
	plugins/operators/relational/write.c \
	plugins/operators/relational/agg_int.h \
	plugins/operators/relational/agg.c \
	plugins/operators/relational/agg_table.c \
	plugins/operators/relational/agg_spill.c \
	plugins/operators/relational/join.c \
	plugins/operators/relational/sort.c \
	plugins/operators/relational/ecol.h \
	plugins/operators/relational/ecol.c \
	plugins/operators/relational/colfile.c
plugins_operators_relational_op_relational_la_CFLAGS = $(AM_CFLAGS) $(LZ4_CFLAGS)
plugins_operators_relational_op_relational_la_LDFLAGS = -module -avoid-version $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_operators_relational_op_relational_la_LIBADD = $(LZ4_LIBS) -lm
