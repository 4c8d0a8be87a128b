/*
 * agg_spill.c -- spill files of rel.hash_agg (see agg_int.h).
 *
 * When complete or final mode is refused execution memory, agg.c spills
 * every group in partial-state form to one of NPART run files in
 * ti->local_dir, chosen by the top bits of the group's hash, and starts
 * over; finish() then reads the partitions back one at a time (agg.c
 * merges each as final-mode input), so results stay exact.  Spill files
 * are unlinked as soon as they are created and closed in close(), so
 * nothing is left behind even on a crash.
 *
 * A run is one batch of groups: magic, rows, columns, then per column:
 * type, nulls, [validity], [offsets, data length], data, in host byte
 * order (the files never leave the task).
 *
 * Threads: an instance belongs to one task thread; no globals.
 */
#include "agg_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define RUN_MAGIC 0x52474145u /* "EAGR" */

/* --------------------------------------------------------------- runs */

static int wr(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n ? 0 : EMBER_EIO;
}

/* One run: magic, rows, columns, then per column: type, nulls,
 * [validity], [offsets, data length], data. */
static int write_run(FILE *f, rel_col *cols, int ncols)
{
    uint32_t magic = RUN_MAGIC;
    int64_t n = cols[0].n;
    int32_t nc = ncols;
    int rc = wr(f, &magic, 4) || wr(f, &n, 8) || wr(f, &nc, 4);
    for (int i = 0; i < ncols && !rc; i++) {
        ember_column v;
        int32_t t;
        int64_t dl;
        relcol_view(&cols[i], &v);
        t = (int32_t)v.type;
        rc = wr(f, &t, 4) || wr(f, &v.null_count, 8);
        if (!rc && v.null_count)
            rc = wr(f, v.validity, (size_t)(n + 7) / 8);
        if (!rc && rel_type_varwidth(v.type)) {
            dl = v.offsets[n];
            rc = wr(f, v.offsets, (size_t)(n + 1) * 4) || wr(f, &dl, 8) ||
                 wr(f, v.data, (size_t)dl);
        } else if (!rc) {
            rc = wr(f, v.data, (size_t)n * (size_t)rel_type_width(v.type));
        }
    }
    return rc ? EMBER_EIO : 0;
}

void agg_run_free(agg_run *r)
{
    for (int i = 0; r->bufs && i < 3 * r->ncols; i++)
        free(r->bufs[i]);
    free(r->bufs);
    free(r->cols);
    memset(r, 0, sizeof *r);
}

static void *rd_alloc(FILE *f, size_t n, int *rc)
{
    void *p;
    if (*rc)
        return NULL;
    p = malloc(n ? n : 1);
    if (!p)
        *rc = EMBER_ENOMEM;
    else if (n && fread(p, 1, n, f) != n)
        *rc = EMBER_ECORRUPT;
    return p;
}

/* 1 = a run was read, 0 = end of file, <0 = error */
static int read_run(FILE *f, agg_run *r)
{
    uint32_t magic;
    int32_t nc;
    int rc = 0;
    size_t got = fread(&magic, 1, 4, f);
    if (got == 0 && feof(f))
        return 0;
    if (got != 4 || magic != RUN_MAGIC || fread(&r->n, 1, 8, f) != 8 ||
        fread(&nc, 1, 4, f) != 4 || nc <= 0 || nc > 100000 || r->n < 0 ||
        r->n > ((int64_t)1 << 31))
        return EMBER_ECORRUPT;
    r->cols = calloc((size_t)nc, sizeof *r->cols);
    r->bufs = calloc((size_t)nc * 3, sizeof *r->bufs);
    r->ncols = nc;
    if (!r->cols || !r->bufs)
        return EMBER_ENOMEM;
    for (int i = 0; i < nc && !rc; i++) {
        ember_column *c = &r->cols[i];
        int32_t t;
        if (fread(&t, 1, 4, f) != 4 || fread(&c->null_count, 1, 8, f) != 8 ||
            t < 0 || t > EMBER_TYPE_LUAVALUE)
            return EMBER_ECORRUPT;
        c->type = (ember_type)t;
        c->length = r->n;
        if (c->null_count)
            c->validity = r->bufs[3 * i] =
                rd_alloc(f, (size_t)(r->n + 7) / 8, &rc);
        if (rel_type_varwidth(c->type)) {
            int64_t dl = 0;
            c->offsets = r->bufs[3 * i + 1] =
                rd_alloc(f, (size_t)(r->n + 1) * 4, &rc);
            if (!rc &&
                (fread(&dl, 1, 8, f) != 8 || dl < 0 || dl != c->offsets[r->n]))
                rc = EMBER_ECORRUPT;
            c->data = r->bufs[3 * i + 2] = rd_alloc(f, (size_t)dl, &rc);
        } else {
            c->data = r->bufs[3 * i + 2] = rd_alloc(
                f, (size_t)r->n * (size_t)rel_type_width(c->type), &rc);
        }
    }
    return rc ? rc : 1;
}

/* ---------------------------------------------------- partition files */

static int open_parts(agg *s, ember_error *err)
{
    for (int p = 0; p < NPART; p++) {
        char path[4200];
        int fd;
        if (s->part[p])
            continue;
        snprintf(path, sizeof path, "%s/ember-agg-spill-XXXXXX", s->local_dir);
        fd = mkstemp(path);
        if (fd < 0) {
            rel_host->seterr(err, EMBER_EIO,
                             OPNAME ": cannot create a spill file in %s: %s",
                             s->local_dir, strerror(errno));
            return EMBER_EIO;
        }
        unlink(path); /* gone when closed, whatever happens */
        s->part[p] = fdopen(fd, "w+b");
        if (!s->part[p]) {
            close(fd);
            rel_host->seterr(err, EMBER_EIO, OPNAME ": fdopen: %s",
                             strerror(errno));
            return EMBER_EIO;
        }
    }
    return 0;
}

/* Write every group to its partition's run file, then reset the table. */
int agg_spill_all(agg *s, ember_error *err)
{
    int64_t cnt[NPART + 1] = {0};
    int32_t *sel = NULL;
    rel_col *cols = NULL;
    const char **names = NULL;
    int ncols = 0, rc;
    long before = 0, after = 0;
    if (s->ng == 0)
        return 0;
    rc = open_parts(s, err);
    if (rc)
        return rc;
    sel = malloc(sizeof *sel * (size_t)s->ng);
    cols = agg_cols_new(s, 1, &ncols, &names);
    if (!sel || !cols) {
        rc = EMBER_ENOMEM;
        rel_host->seterr(err, rc, OPNAME ": out of memory while spilling");
        goto out;
    }
    for (int p = 0; p < NPART; p++) /* spilled bytes: file growth */
        before += ftell(s->part[p]);
    for (int64_t g = 0; g < s->ng; g++)
        cnt[(s->ghash[g] >> 60) + 1]++;
    for (int p = 1; p <= NPART; p++)
        cnt[p] += cnt[p - 1];
    for (int64_t g = 0; g < s->ng; g++)
        sel[cnt[s->ghash[g] >> 60]++] = (int32_t)g;
    /* cnt[p] is now the end of partition p */
    for (int p = 0; p < NPART && !rc; p++) {
        int64_t b = p ? cnt[p - 1] : 0, e = cnt[p];
        for (int64_t g0 = b; g0 < e && !rc; g0 += OUT_ROWS) {
            int64_t n = e - g0 < OUT_ROWS ? e - g0 : OUT_ROWS;
            rc = agg_build_groups(s, sel + g0, n, 1, cols);
            if (rc) {
                rel_host->seterr(err, rc, OPNAME ": out of memory");
                break;
            }
            rc = write_run(s->part[p], cols, ncols);
            if (rc)
                rel_host->seterr(err, rc,
                                 OPNAME ": cannot write a spill "
                                        "file: %s",
                                 strerror(errno));
            for (int i = 0; i < ncols; i++)
                relcol_reset(&cols[i]);
        }
    }
    s->spilled = 1;
    agg_table_reset(s);
out:
    if (!rc && s->ti && s->ti->add_counter) {
        for (int p = 0; p < NPART; p++) {
            fflush(s->part[p]);
            after += ftell(s->part[p]);
        }
        if (after > before)
            s->ti->add_counter(s->ti->ctx, "spill_bytes",
                               (int64_t)(after - before));
    }
    free(sel);
    agg_cols_free(cols, ncols, names);
    return rc;
}

int agg_spill_rewind(agg *s, int p, ember_error *err)
{
    FILE *f = s->part[p];
    if (fflush(f) || fseek(f, 0, SEEK_SET)) {
        rel_host->seterr(err, EMBER_EIO, OPNAME ": spill file: %s",
                         strerror(errno));
        return EMBER_EIO;
    }
    return 0;
}

int agg_spill_read(agg *s, int p, agg_run *r)
{
    return read_run(s->part[p], r);
}
