/*
 * batch.h -- columnar batches (Arrow-compatible layout), see plugin.h.
 */
#ifndef EMBER_DATA_BATCH_H
#define EMBER_DATA_BATCH_H

#include <ember/plugin.h>

ember_batch *batch_new(void);
void batch_destroy(ember_batch **b);
int batch_add_column(ember_batch *b, const char *name, ember_type t);
int batch_append_str(ember_batch *b, int col, const char *s, size_t len);
int batch_append_null(ember_batch *b, int col);
int batch_append_i64(ember_batch *b, int col, int64_t v);
int batch_append_f64(ember_batch *b, int col, double v);
void batch_clear(ember_batch *b);
int64_t batch_num_rows(const ember_batch *b);
int batch_num_columns(const ember_batch *b);
int batch_column(const ember_batch *b, int i, ember_column *out);
const char *batch_column_name(const ember_batch *b, int i);
/* Bytes held by the batch's buffers. */
size_t batch_bytes(const ember_batch *b);
/* A whole column from Arrow-layout buffers (copied); see ember_host. */
int batch_add_column_data(ember_batch *b, const char *name, ember_type t,
                          int64_t length, const uint8_t *validity,
                          const int32_t *offsets, const void *data);

/* A deep copy. */
ember_batch *batch_clone(const ember_batch *b);
/* A new batch of the first ncols columns of b, rows sel[0..n). */
ember_batch *batch_gather(const ember_batch *b, int ncols, const int32_t *sel,
                          int64_t n);

struct buf;
/* Append the batch's wire form to out (for shuffle records, cached blocks
 * and results). */
int batch_encode(const ember_batch *b, struct buf *out);
/* Decode one record, fully bounds-checked: EMBER_ECORRUPT names the
 * problem in err; *out is a new batch on success. */
int batch_decode(const void *p, size_t len, ember_batch **out,
                 ember_error *err);

#endif
