/*
 * scan.h -- private helpers shared by the file sources of op_relational
 * (scan_csv.c: rel.csv_scan and rel.text_scan; scan_json.c: rel.json_scan).
 *
 * What lives here:
 *   - planning: expand a path (file, directory, glob) into byte-range
 *     splits (scan_plan);
 *   - a mapped input file and the line-split rule (scan_file);
 *   - typed value parsers shared by CSV and JSON (booleans, integers,
 *     doubles with a hand-written fast path, dates, timestamps; the
 *     calendar arithmetic is rel.h's);
 *   - parameter parsing: Spark DDL schemas and `columns` lists;
 *   - fast appends into rel_col for the hot loops;
 *   - the common parameter list and the malformed-record modes.
 *
 * Implemented in scan.c.  Threads: nothing global; instances belong
 * to one task thread.
 */
#ifndef EMBER_REL_SCAN_H
#define EMBER_REL_SCAN_H

#include "rel.h"

#include <stddef.h>
#include <stdint.h>

#define SCAN_BATCH_ROWS 8192
/* flush a batch early when a string column holds this many bytes */
#define SCAN_BATCH_BYTES (32u << 20)

enum { MODE_PERMISSIVE = 0, MODE_DROPMALFORMED = 1, MODE_FAILFAST = 2 };

/* ---------------------------------------------------------- planning */

/* List the files of param "path" (file, directory, glob) and add splits of
 * at most max_partition_bytes; `op` names the operator in messages. */
int scan_plan(const ember_host *h, const ember_params *p, int min_partitions,
              ember_split_list *out, ember_error *err, const char *op);

/* ---------------------------------------------------------- input files */

typedef struct scan_file {
    char *path;
    const char *base; /* the whole file, mapped (NULL when empty) */
    size_t size;
    const char *pos, *end; /* first record of the split; split end */
    const char *lim;       /* base + size */
} scan_file;

/* Map the split's file and position pos at the split's first record. */
int scan_file_open(scan_file *f, const ember_split *sp, const char *op,
                   ember_error *err);
void scan_file_close(scan_file *f);
/* 1-based line number of the byte at p (counts newlines; slow). */
int64_t scan_line_of(const scan_file *f, const char *p);

/* ------------------------------------------------------- value parsers */

/* Each returns 1 when [s, s+n) is a complete value of the type. */
int scan_parse_bool(const char *s, size_t n, int *out);
int scan_parse_i64(const char *s, size_t n, int64_t *out);
int scan_parse_i32(const char *s, size_t n, int32_t *out);
int scan_parse_f64(const char *s, size_t n, double *out);
int scan_parse_date(const char *s, size_t n, int32_t *out);
int scan_parse_ts(const char *s, size_t n, int64_t *out);

/* ------------------------------------------------------------ params */

typedef struct scan_schema {
    int n;
    char **names;
    ember_type *types;
} scan_schema;

/* Parse Spark DDL "a int, `b c` string"; an empty text gives n = 0. */
int scan_schema_parse(scan_schema *s, const char *text, const char *op,
                      ember_error *err);
void scan_schema_free(scan_schema *s);

/* Parse `columns` ("()" or "(3 0)"): *idx gets n indices (NULL for all).
 * ncols >= 0 checks the range.  Duplicates are refused. */
int scan_columns_parse(const char *text, int ncols, int **idx, int *n,
                       const char *op, ember_error *err);
/* The options every file source reads alike: infer, infer_rows (must not
 * be negative), mode (PERMISSIVE, DROPMALFORMED or FAILFAST, any case:
 * MODE_*) and schema (scan_schema_parse; the caller frees *sch, also on
 * failure).  Errors are EMBER_EINVAL (ENOMEM from the schema) set in err
 * prefixed with `op`. */
int scan_read_opts(const ember_host *h, const ember_params *p, const char *op,
                   int *infer, int64_t *infer_rows, int *mode, scan_schema *sch,
                   ember_error *err);
/* Check a list of indices against ncols (run time, schema-less CSV). */
int scan_columns_check(const int *idx, int n, int ncols, const char *op,
                       ember_error *err);

/* The add_counter hook of a task, if it has one. */
typedef struct scan_counter {
    void (*add)(void *ctx, const char *name, int64_t delta);
    void *ctx;
} scan_counter;
void scan_counter_init(scan_counter *c, const ember_task_info *ti);
void scan_counter_add(const scan_counter *c, int64_t n);

/* Infer-result emission: one batch of (name, type) string columns. */
int scan_emit_infer(char *const *names, const size_t *name_lens,
                    const char *const *types, int n, ember_emit_fn emit,
                    void *ud, ember_error *err);

/* Remove the last row of c (appended after the state n0/nulls0). */
void scan_col_truncate(rel_col *c, int64_t n0, int64_t nulls0);

/* The descriptor of rel.json_scan (scan_json.c), registered by
 * rel_register_scan. */
extern const ember_op_desc rel_json_scan_desc;

/* ------------------------------------------------------- fast appends */

/* Inline appends of a valid value; fall back to rel.c when the buffers
 * (or the validity bitmap, once it exists) need to grow. */
static inline int scan_put_i64(rel_col *c, int64_t v)
{
    if ((size_t)(c->n + 1) * 8 > c->data_cap ||
        (c->valid && (size_t)(c->n >> 3) >= c->valid_cap))
        return relcol_append_i64(c, v);
    memcpy(c->data + (size_t)c->n * 8, &v, 8);
    c->n++;
    return 0;
}
static inline int scan_put_i32(rel_col *c, int32_t v)
{
    if ((size_t)(c->n + 1) * 4 > c->data_cap ||
        (c->valid && (size_t)(c->n >> 3) >= c->valid_cap))
        return relcol_append_i32(c, v);
    memcpy(c->data + (size_t)c->n * 4, &v, 4);
    c->n++;
    return 0;
}
static inline int scan_put_f64(rel_col *c, double v)
{
    if ((size_t)(c->n + 1) * 8 > c->data_cap ||
        (c->valid && (size_t)(c->n >> 3) >= c->valid_cap))
        return relcol_append_f64(c, v);
    memcpy(c->data + (size_t)c->n * 8, &v, 8);
    c->n++;
    return 0;
}
static inline int scan_put_str(rel_col *c, const char *s, size_t n)
{
    if (!c->off || (size_t)(c->n + 2) > c->off_cap ||
        c->data_len + n > c->data_cap ||
        (c->valid && (size_t)(c->n >> 3) >= c->valid_cap))
        return relcol_append_str(c, s, n);
    if (n)
        memcpy(c->data + c->data_len, s, n);
    c->data_len += n;
    c->off[c->n + 1] = (int32_t)c->data_len;
    c->n++;
    return 0;
}

#endif /* EMBER_REL_SCAN_H */
