/*
 * ecol.h -- the .ecol columnar file format of op_relational (ecol.c):
 * what rel.col_write and rel.col_scan (colfile.c) need to write one file
 * and to read one back.  Private to the plugin; the format itself is
 * specified in docs/formats.md ("Columnar files (.ecol)").
 *
 * Writing: the caller creates the file, then ecol_writer_begin (header),
 * ecol_writer_add_rg once per row group held in rel_col builders,
 * ecol_writer_finish (footer and trailer); it closes and commits the file
 * itself.  Reading: ecol_open checks everything but the chunks' contents
 * (magics, versions, footer checksum, every layout rule of the footer),
 * ecol_read_chunk reads, checks and decodes one chunk.  Errors name the
 * operator ("rel.col_write" / "rel.col_scan") and the file.
 *
 * Threads: no globals but constant tables; a writer or reader belongs to
 * one task thread.
 */
#ifndef EMBER_REL_ECOL_H
#define EMBER_REL_ECOL_H

#include "rel.h"

#include <stdio.h>

#define ECOL_STAT_LEN 32 /* longest string statistic */
#define ECOL_MAX_RG_ROWS (1 << 24)

enum {
    ECOL_ST_MIN = 1,        /* min present */
    ECOL_ST_MAX = 2,        /* max present */
    ECOL_ST_MIN_TRUNC = 4,  /* string min is a prefix of the true min */
    ECOL_ST_MAX_INEXACT = 8 /* string max is a bound above the true max */
};

/* Statistics of one chunk.  Integer-like types and booleans use i[],
 * doubles d[], strings and binaries s[]/slen[]; [0] = min, [1] = max. */
typedef struct ecol_stat {
    uint8_t flags;
    uint8_t slen[2];
    int64_t i[2];
    double d[2];
    uint8_t s[2][ECOL_STAT_LEN];
} ecol_stat;

/* One column chunk of a row group, as the footer describes it. */
typedef struct ecol_chunk {
    uint64_t offset;
    uint32_t csize, usize, crc, rows, nulls;
    uint8_t codec;
    ecol_stat st;
} ecol_chunk;

/* Can a column of type t be stored? */
int ecol_supported_type(ember_type t);

/* The order of string and binary statistics: bytewise, a prefix first
 * (-1, 0, 1). */
static inline int ecol_bytes_cmp(const uint8_t *a, size_t la, const uint8_t *b,
                                 size_t lb)
{
    int r = la && lb ? memcmp(a, b, la < lb ? la : lb) : 0;
    if (r)
        return r < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

/* ------------------------------------------------------------ writing */

typedef struct ecol_writer {
    FILE *f;                 /* borrowed: the caller opens and closes it */
    const char *path;        /* borrowed, for messages */
    char *const *names;      /* borrowed: ncols column names */
    const ember_type *types; /* borrowed: ncols column types */
    int ncols;
    uint64_t pos;       /* bytes written */
    ecol_chunk *chunks; /* nrg * ncols */
    uint32_t *rows;     /* per row group */
    uint32_t nrg, cap_rg;
    uint64_t total;
    uint8_t *raw, *comp; /* scratch of one chunk */
    size_t raw_cap, comp_cap;
} ecol_writer;

/* Set up w (zeroed by the caller) to write ncols columns to f, whose
 * position is 0, and write the header.  Returns 0 or EMBER_EIO (err set). */
int ecol_writer_begin(ecol_writer *w, FILE *f, const char *path, int ncols,
                      char *const *names, const ember_type *types,
                      ember_error *err);

/* Write the row group held in cols[0..ncols) (same row count each, types
 * as begun; nothing when it has no rows) and reset the columns.  Returns
 * 0, EMBER_ENOMEM, EMBER_ETOOBIG (a chunk LZ4 cannot take) or EMBER_EIO,
 * with err set. */
int ecol_writer_add_rg(ecol_writer *w, rel_col *cols, ember_error *err);

/* Write the footer and the trailer.  Returns 0, EMBER_ENOMEM or EMBER_EIO
 * (err set); the caller then closes the file. */
int ecol_writer_finish(ecol_writer *w, ember_error *err);

/* Free what w allocated (not the file, names or types). */
void ecol_writer_free(ecol_writer *w);

/* ------------------------------------------------------------ reading */

typedef struct ecol_file {
    const char *path; /* borrowed */
    int fd;
    int64_t size;
    int ncols;
    char **names;
    ember_type *types;
    uint32_t nrg;
    uint32_t *rows;
    ecol_chunk *chunks; /* nrg * ncols */
    uint64_t total;
} ecol_file;

/* Open path and read its footer.  cf is zeroed by the caller with fd -1;
 * call ecol_close() whatever the result.  Returns 0, EMBER_ENOTFOUND,
 * EMBER_EIO, EMBER_ENOMEM or EMBER_ECORRUPT (err names the file and the
 * problem). */
int ecol_open(ecol_file *cf, const char *path, ember_error *err);
void ecol_close(ecol_file *cf);

/* A decoded chunk: its buffer (reused from chunk to chunk) and a view
 * into it. */
typedef struct ecol_dchunk {
    uint8_t *buf;
    size_t cap;
    ember_column v;
} ecol_dchunk;

/* Read, check and decompress chunk (g, i) into d (*scratch, *scap: a
 * reused buffer for the compressed bytes).  d->v is valid until the next
 * call with d.  Returns 0, EMBER_ENOMEM, EMBER_EIO or EMBER_ECORRUPT. */
int ecol_read_chunk(const ecol_file *cf, uint32_t g, int i, ecol_dchunk *d,
                    uint8_t **scratch, size_t *scap, ember_error *err);

#endif /* EMBER_REL_ECOL_H */
