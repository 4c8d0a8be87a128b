/*
 * test_rel_colfile.c -- rel.col_write and rel.col_scan (.ecol files):
 * round trips of every type with nulls, row groups, column selection,
 * statistics-based row-group skipping, splits, schema inference, commit
 * and cleanup, damaged files and bad parameters.
 */
#include "tap/tap.h"
#include "rel_harness.h"
#include "rel.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* ------------------------------------------------------------ data */

enum { NCOLS = 10 };
static const char *const col_names[NCOLS] = {"b",  "i",  "l",   "d", "s",
                                             "dt", "ts", "bin", "n", "e"};
static const ember_type col_types[NCOLS] = {
    EMBER_TYPE_BOOL,      EMBER_TYPE_INT32,  EMBER_TYPE_INT64,
    EMBER_TYPE_DOUBLE,    EMBER_TYPE_STRING, EMBER_TYPE_DATE32,
    EMBER_TYPE_TIMESTAMP, EMBER_TYPE_BINARY, EMBER_TYPE_INT64,
    EMBER_TYPE_STRING};

/* The expected cell (as rh_cell prints it) of row r, column c. */
static const char *expect(int64_t r, int c)
{
    static char s[128];
    switch (c) {
    case 0:
        return r % 3 == 0 ? "null" : r % 2 == 0 ? "true" : "false";
    case 1:
        if (r % 5 == 0)
            return "null";
        snprintf(s, sizeof s, "%d", (int)(r * 7 - 100));
        return s;
    case 2:
        if (r % 7 == 3)
            return "null";
        snprintf(s, sizeof s, "%lld",
                 (long long)(r * 1000000007LL - 5000000000000LL));
        return s;
    case 3:
        if (r % 4 == 1)
            return "null";
        snprintf(s, sizeof s, "%.17g", (double)r * 0.25 - 3);
        return s;
    case 4:
        if (r % 6 == 2)
            return "null";
        if (r % 10 == 0)
            return "";
        snprintf(s, sizeof s, "str%lld", (long long)r);
        return s;
    case 5:
        if (r % 8 == 0)
            return "null";
        snprintf(s, sizeof s, "%lld", (long long)(18000 + r));
        return s;
    case 6:
        if (r % 9 == 0)
            return "null";
        snprintf(s, sizeof s, "%lld",
                 (long long)(1600000000000000LL + r * 1000));
        return s;
    case 7:
        if (r % 11 == 4)
            return "null";
        snprintf(s, sizeof s, "bin-%lld", (long long)(r * 3));
        return s;
    case 8:
        return "null";
    default:
        return r % 2 ? "" : "null";
    }
}

/* A batch of rows [from, to) of the table above, built with rel_col. */
static ember_batch *make_batch(int64_t from, int64_t to)
{
    ember_batch *b = batch_new();
    for (int c = 0; c < NCOLS; c++) {
        rel_col col;
        ember_column v;
        relcol_init(&col, col_types[c]);
        for (int64_t r = from; r < to; r++) {
            const char *e = expect(r, c);
            if (strcmp(e, "null") == 0 && c != 4 && c != 9 && c != 7) {
                relcol_append_null(&col);
                continue;
            }
            switch (col_types[c]) {
            case EMBER_TYPE_BOOL:
                relcol_append_bool(&col, strcmp(e, "true") == 0);
                break;
            case EMBER_TYPE_INT32:
            case EMBER_TYPE_DATE32:
                relcol_append_i32(&col, (int32_t)atol(e));
                break;
            case EMBER_TYPE_INT64:
            case EMBER_TYPE_TIMESTAMP:
                relcol_append_i64(&col, atoll(e));
                break;
            case EMBER_TYPE_DOUBLE:
                relcol_append_f64(&col, strtod(e, NULL));
                break;
            default:
                if (strcmp(e, "null") == 0)
                    relcol_append_null(&col);
                else
                    relcol_append_str(&col, e, strlen(e));
            }
        }
        relcol_view(&col, &v);
        batch_add_column_data(b, col_names[c], v.type, v.length, v.validity,
                              v.offsets, v.data);
        relcol_free(&col);
    }
    return b;
}

/* ------------------------------------------------------------ helpers */

static void path_of(char *out, size_t n, const char *dir, int part)
{
    snprintf(out, n, "%s/%s/part-%05d.ecol", tmpdir, dir, part);
}

static void mkdir_in(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, dir);
    mkdir(p, 0700);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* rh_open_ex with a chosen partition and attempt (open() reads them). */
static rh_op *open_writer(const char *dir, const char *rg_rows, int part,
                          int attempt)
{
    char p[512];
    rh_op *o = calloc(1, sizeof *o);
    snprintf(p, sizeof p, "%s/%s", tmpdir, dir);
    o->desc = plugins_find_op("rel.col_write", NULL);
    o->params = params_new(o->desc);
    o->mem_limit = -1;
    if (params_set(o->params, "path", p, &o->err) ||
        params_set(o->params, "row_group_rows", rg_rows, &o->err) ||
        params_finish(o->params, &o->err))
        goto fail;
    o->ti.struct_size = sizeof o->ti;
    o->ti.executor_id = "test";
    o->ti.partition = part;
    o->ti.attempt = attempt;
    if (o->desc->open(host_table(), o->params, &o->ti, &o->state, &o->err))
        goto fail;
    return o;
fail:
    diag("open rel.col_write: %s", o->err.msg);
    params_destroy(&o->params);
    free(o);
    return NULL;
}

/* Write rows [0, nrows) in `pieces` batches to <tmpdir>/<dir> as
 * partition `part`.  Returns 0 or the failing code. */
static int write_rows(const char *dir, int part, int64_t nrows, int pieces,
                      const char *rg_rows)
{
    rh_op *op = open_writer(dir, rg_rows, part, 0);
    int rc = 0;
    if (!op)
        return -100;
    for (int k = 0; k < pieces && !rc; k++) {
        ember_batch *b =
            make_batch(nrows * k / pieces, nrows * (k + 1) / pieces);
        rc = rh_push(op, b);
        batch_destroy(&b);
    }
    if (!rc)
        rc = rh_finish(op);
    rh_close(op);
    return rc;
}

static const ember_op_desc *scan_desc(void)
{
    return plugins_find_op("rel.col_scan", NULL);
}

/* Plan path with the given max_partition_bytes; returns the split list. */
static ember_split_list *plan_scan(const char *path, const char *maxb,
                                   ember_error *err)
{
    const ember_op_desc *d = scan_desc();
    ember_params *p = params_new(d);
    ember_split_list *l = splits_new();
    int rc = params_set(p, "path", path, err);
    if (!rc && maxb)
        rc = params_set(p, "max_partition_bytes", maxb, err);
    if (!rc)
        rc = params_finish(p, err);
    if (!rc)
        rc = d->plan(host_table(), p, 1, l, err);
    params_destroy(&p);
    if (rc)
        splits_destroy(&l);
    return l;
}

/* Scan one split (or the whole file when split is NULL) with columns and
 * filter; runs it; *rc gets run()'s code.  NULL if open failed. */
static rh_op *scan(const char *path, const ember_split *split,
                   const char *columns, const char *filter, int infer, int *rc)
{
    ember_split whole;
    rh_op *op;
    if (!split) {
        whole.path = path;
        whole.offset = 0;
        whole.length = file_size(path);
        split = &whole;
    }
    op = rh_open("rel.col_scan",
                 (const char *[]){"path", path, "columns", columns, "filter",
                                  filter, "infer", infer ? "true" : "false",
                                  NULL},
                 split);
    if (!op) {
        *rc = -100;
        return NULL;
    }
    *rc = rh_run(op);
    return op;
}

/* Scan silently for an expected failure; returns the code, message in
 * msg. */
static int scan_fail(const char *path, char *msg, size_t n)
{
    int rc;
    rh_op *op;
    ember_split sp = {path, 0, file_size(path)};
    op = rh_open("rel.col_scan", (const char *[]){"path", path, NULL}, &sp);
    if (!op)
        return -100;
    rc = rh_run(op);
    snprintf(msg, n, "%s", op->err.msg);
    rh_close(op);
    return rc;
}

/* Every cell of op's output equals the table's rows [from, ...), columns
 * cols[0..ncols). Returns the number of mismatches (with a diag). */
static int check_cells(const rh_op *op, int64_t from, int64_t nrows,
                       const int *cols, int ncols)
{
    int bad = 0;
    for (int64_t r = 0; r < nrows; r++)
        for (int j = 0; j < ncols; j++) {
            char want[128];
            snprintf(want, sizeof want, "%s", expect(from + r, cols[j]));
            if (strcmp(want, rh_cell(op, r, j)) != 0) {
                if (bad++ < 5)
                    diag("row %lld col %d: want '%s' got '%s'",
                         (long long)(from + r), cols[j], want,
                         rh_cell(op, r, j));
            }
        }
    return bad;
}

static int copy_file(const char *from, const char *to, int64_t len,
                     int64_t flip_at, uint8_t flip)
{
    FILE *f = fopen(from, "rb");
    FILE *g = fopen(to, "wb");
    int rc = 0;
    for (int64_t i = 0; f && g && i < len; i++) {
        int c = fgetc(f);
        if (c == EOF) {
            rc = -1;
            break;
        }
        if (i == flip_at)
            c ^= flip;
        fputc(c, g);
    }
    if (!f || !g)
        rc = -1;
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    return rc;
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        char p[1024];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ------------------------------------------------------- round trips */

static void test_roundtrip(void)
{
    char p[512], dir[512];
    ember_error err = {0, ""};
    ember_split_list *l;
    rh_op *op;
    int rc, all[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        all[c] = c;
    mkdir_in("rt");
    is_int(0, write_rows("rt", 0, 1000, 3, "64"),
           "write 1000 rows in 3 pieces");
    path_of(p, sizeof p, "rt", 0);
    ok(exists(p), "part-00000.ecol exists");
    snprintf(dir, sizeof dir, "%s/rt/part-00000-0.ecol.tmp", tmpdir);
    ok(!exists(dir), "temporary file renamed away");

    snprintf(dir, sizeof dir, "%s/rt", tmpdir);
    l = plan_scan(dir, NULL, &err);
    ok(l && splits_count(l) == 1, "plan of a directory: one split");
    if (l) {
        const ember_split *sp = splits_get(l, 0);
        is_string(p, sp->path, "split path");
        is_int(0, sp->offset, "split offset");
        is_int(file_size(p), sp->length, "split length = file size");
        op = scan(dir, sp, "()", "()", 0, &rc);
        is_int(0, rc, "scan ok");
        if (op) {
            is_int(1000, rh_rows(op), "1000 rows back");
            is_int(1, op->nout, "small row groups gathered in one batch");
            is_int(0, check_cells(op, 0, 1000, all, NCOLS),
                   "every cell of every type equal, nulls included");
            is_int(NCOLS, batch_num_columns(op->out[0]), "all columns");
            {
                int names_ok = 1, types_ok = 1;
                for (int c = 0; c < NCOLS; c++) {
                    ember_column v;
                    batch_column(op->out[0], c, &v);
                    names_ok &= strcmp(batch_column_name(op->out[0], c),
                                       col_names[c]) == 0;
                    types_ok &= v.type == col_types[c];
                }
                ok(names_ok, "column names kept");
                ok(types_ok, "column types kept");
            }
            is_string("null", rh_cell(op, 5, 8), "all-null column reads null");
            is_string("", rh_cell(op, 10, 4), "empty string kept");
            is_string("", rh_cell(op, 1, 9), "empty string column kept");
            is_string("null", rh_cell(op, 2, 9), "null in string column");
        }
        rh_close(op);
    }
    splits_destroy(&l);

    /* big row groups are emitted in 8192-row batches */
    mkdir_in("big");
    is_int(0, write_rows("big", 0, 20000, 1, "65536"), "write 20000 rows");
    path_of(p, sizeof p, "big", 0);
    op = scan(p, NULL, "()", "()", 0, &rc);
    is_int(0, rc, "scan 20000 rows");
    if (op) {
        is_int(3, op->nout, "three batches");
        is_int(8192, batch_num_rows(op->out[0]), "first batch 8192 rows");
        is_int(3616, batch_num_rows(op->out[2]), "last batch the rest");
        is_int(0, check_cells(op, 0, 20000, all, NCOLS), "20000 rows equal");
    }
    rh_close(op);
    /* downstream stop */
    {
        ember_split sp = {p, 0, file_size(p)};
        op = rh_open("rel.col_scan", (const char *[]){"path", p, NULL}, &sp);
        if (op) {
            op->stop_after = 1;
            is_int(0, rh_run(op), "EMBER_ESTOP from downstream ends run");
            is_int(1, op->nout, "no batch after the stop");
        }
        rh_close(op);
    }

    /* column selection and order */
    path_of(p, sizeof p, "rt", 0);
    op = scan(p, NULL, "(4 0 2)", "()", 0, &rc);
    is_int(0, rc, "scan columns (4 0 2)");
    if (op) {
        int cols[3] = {4, 0, 2};
        is_int(3, batch_num_columns(op->out[0]), "three columns");
        is_string("s", batch_column_name(op->out[0], 0), "first is s");
        is_string("b", batch_column_name(op->out[0], 1), "second is b");
        is_string("l", batch_column_name(op->out[0], 2), "third is l");
        is_int(0, check_cells(op, 0, 1000, cols, 3), "selected cells equal");
    }
    rh_close(op);
    op = scan(p, NULL, "(7 7)", "()", 0, &rc);
    is_int(0, rc, "a column selected twice");
    if (op) {
        int cols[2] = {7, 7};
        is_int(0, check_cells(op, 0, 1000, cols, 2), "both copies equal");
    }
    rh_close(op);
}

/* ---------------------------------------------------- filter skipping */

/* 100 rows, row groups of 10: a bigint r, b int r, c double r/2,
 * d date 1000+r, e timestamp r*1e6, f boolean r>=50, g string k%03d,
 * h bigint r/10, nn bigint (null for r < 20, else r) */
static ember_batch *make_mono(int64_t from, int64_t to)
{
    static const char *const names[9] = {"a", "b", "c", "d", "e",
                                         "f", "g", "h", "nn"};
    static const ember_type types[9] = {
        EMBER_TYPE_INT64,  EMBER_TYPE_INT32,     EMBER_TYPE_DOUBLE,
        EMBER_TYPE_DATE32, EMBER_TYPE_TIMESTAMP, EMBER_TYPE_BOOL,
        EMBER_TYPE_STRING, EMBER_TYPE_INT64,     EMBER_TYPE_INT64};
    ember_batch *b = batch_new();
    rel_col c[9];
    for (int k = 0; k < 9; k++)
        relcol_init(&c[k], types[k]);
    for (int64_t r = from; r < to; r++) {
        char s[16];
        snprintf(s, sizeof s, "k%03d", (int)r);
        relcol_append_i64(&c[0], r);
        relcol_append_i32(&c[1], (int32_t)r);
        relcol_append_f64(&c[2], (double)r * 0.5);
        relcol_append_i32(&c[3], (int32_t)(1000 + r));
        relcol_append_i64(&c[4], r * 1000000);
        relcol_append_bool(&c[5], r >= 50);
        relcol_append_str(&c[6], s, strlen(s));
        relcol_append_i64(&c[7], r / 10);
        if (r < 20)
            relcol_append_null(&c[8]);
        else
            relcol_append_i64(&c[8], r);
    }
    for (int k = 0; k < 9; k++) {
        ember_column v;
        relcol_view(&c[k], &v);
        batch_add_column_data(b, names[k], v.type, v.length, v.validity,
                              v.offsets, v.data);
        relcol_free(&c[k]);
    }
    return b;
}

static void test_filter(void)
{
    static const struct {
        const char *filter;
        const char *kept; /* row groups 0..9 */
    } cases[] = {
        {"((ge 0 (lit bigint 35)))", "0001111111"},
        {"((gt 0 (lit bigint 39)))", "0000111111"},
        {"((lt 1 (lit int 30)))", "1110000000"},
        {"((le 1 (lit int 30)))", "1111000000"},
        {"((eq 2 (lit double 12.5)))", "0010000000"},
        {"((ne 2 (lit double 12.5)))", "1111111111"},
        {"((le 3 (lit date 1004)))", "1000000000"},
        {"((gt 4 (lit timestamp 89000000)))", "0000000001"},
        {"((ge 4 (lit timestamp 89000000)))", "0000000011"},
        {"((eq 5 (lit boolean true)))", "0000011111"},
        {"((eq 5 (lit boolean false)))", "1111100000"},
        {"((ne 5 (lit boolean false)))", "0000011111"},
        {"((eq 6 (lit string \"k055\")))", "0000010000"},
        {"((lt 6 (lit string \"k010\")))", "1000000000"},
        {"((ge 6 (lit string \"k09\")))", "0000000001"},
        {"((ne 7 (lit bigint 3)))", "1110111111"},
        {"((ge 0 (lit bigint 35)) (lt 0 (lit bigint 60)))", "0001110000"},
        {"((ge 8 (lit bigint 0)))", "0011111111"},
        {"((eq 0 (lit bigint null)))", "1111111111"},
        {"((gt 0 (lit double 89.5)))", "0000000001"},
        {"((lt 0 (lit int 10)))", "1000000000"},
        {"((eq 2 (lit double nan)))", "1111111111"},
        {"(ge 0 (lit bigint 35))", "0001111111"},
        {"(and (ge 0 (lit bigint 35)) (le 0 (lit bigint 35)))", "0001000000"},
        {"((eq 0 (lit bigint 1000)))", "0000000000"},
        {"()", "1111111111"},
    };
    char p[512];
    rh_op *w;
    mkdir_in("flt");
    w = open_writer("flt", "10", 0, 0);
    if (!w)
        bail("cannot open writer");
    for (int k = 0; k < 3; k++) { /* pieces crossing row groups */
        ember_batch *b = make_mono(k * 33, k == 2 ? 100 : (k + 1) * 33);
        rh_push(w, b);
        batch_destroy(&b);
    }
    is_int(0, rh_finish(w), "filter data written");
    rh_close(w);
    path_of(p, sizeof p, "flt", 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc, nkept = 0, good = 1;
        int64_t k = 0;
        rh_op *op = scan(p, NULL, "()", cases[i].filter, 0, &rc);
        for (int g = 0; g < 10; g++)
            nkept += cases[i].kept[g] == '1';
        if (!op) {
            ok(0, "open with filter %s", cases[i].filter);
            continue;
        }
        is_int(0, rc, "scan with %s", cases[i].filter);
        is_int(10 - nkept, op->counters, "%s: %d row groups skipped",
               cases[i].filter, 10 - nkept);
        /* exactly the rows of the kept groups, in order */
        for (int g = 0; g < 10; g++) {
            if (cases[i].kept[g] != '1')
                continue;
            for (int r = g * 10; r < g * 10 + 10; r++, k++) {
                char want[16];
                snprintf(want, sizeof want, "%d", r);
                if (strcmp(want, rh_cell(op, k, 0)) != 0)
                    good = 0;
            }
        }
        ok(good && k == rh_rows(op), "%s: every row of the kept groups",
           cases[i].filter);
        if (strcmp(cases[i].filter, "()") == 0)
            is_string("", op->counter_name, "no filter: no counter");
        else
            is_string("row_groups_skipped", op->counter_name, "counter name");
        rh_close(op);
    }
}

#define L40(ch)                                                                \
    ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch \
        ch ch ch ch ch ch ch ch ch ch ch ch ch ch ch

static void test_string_stats(void)
{
    static const char *const vals[16] = {
        "a",          "m",          L40("z"),     "b",         "c", "d",
        "e",          "f",          L40("\xff"),  "x",         "y", NULL,
        L40("b") "1", L40("b") "2", L40("b") "3", L40("b") "4"};
    static const struct {
        const char *filter;
        const char *kept;
    } cases[] = {
        {"((gt 0 (lit string \""
         "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
         "\")))",
         "1010"},
        {"((eq 0 (lit string \"" L40("z") "\")))", "1010"},
        {"((eq 0 (lit string \"" L40("b") "3\")))", "1001"},
        {"((lt 0 (lit string \"" L40("b") "\")))", "1001"},
        {"((ge 0 (lit string \"\xff\xff\")))", "0010"},
        {"((gt 0 (lit string \"" L40("b") "4\")))", "1111"},
        {"((ne 0 (lit string \"c\")))", "1111"},
    };
    char p[512];
    rh_op *w;
    rel_col c;
    ember_column v;
    ember_batch *b = batch_new();
    relcol_init(&c, EMBER_TYPE_STRING);
    for (int i = 0; i < 16; i++)
        if (vals[i])
            relcol_append_str(&c, vals[i], strlen(vals[i]));
        else
            relcol_append_null(&c);
    relcol_view(&c, &v);
    batch_add_column_data(b, "s", v.type, v.length, v.validity, v.offsets,
                          v.data);
    relcol_free(&c);
    mkdir_in("str");
    w = open_writer("str", "4", 0, 0);
    if (w) {
        rh_push(w, b);
        is_int(0, rh_finish(w), "long strings written");
    }
    rh_close(w);
    batch_destroy(&b);
    path_of(p, sizeof p, "str", 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc, nkept = 0, good = 1;
        int64_t k = 0;
        rh_op *op = scan(p, NULL, "()", cases[i].filter, 0, &rc);
        for (int g = 0; g < 4; g++)
            nkept += cases[i].kept[g] == '1';
        if (!op) {
            ok(0, "open string filter %zu", i);
            continue;
        }
        is_int(4 - nkept, op->counters, "string filter %zu: %d skipped", i,
               4 - nkept);
        for (int g = 0; g < 4; g++)
            for (int r = g * 4; cases[i].kept[g] == '1' && r < g * 4 + 4;
                 r++, k++)
                if (strcmp(vals[r] ? vals[r] : "null", rh_cell(op, k, 0)))
                    good = 0;
        ok(rc == 0 && good && k == rh_rows(op),
           "string filter %zu: rows of kept groups exact", i);
        rh_close(op);
    }
}

/* ------------------------------------------------------------- splits */

static void test_splits(void)
{
    char p[512], maxb[32];
    ember_error err = {0, ""};
    ember_split_list *l;
    int64_t size, covered = 0, row = 0;
    int all[NCOLS], bad = 0, nonempty = 0, n;
    for (int c = 0; c < NCOLS; c++)
        all[c] = c;
    mkdir_in("spl");
    is_int(0, write_rows("spl", 3, 5000, 4, "100"), "5000 rows in 50 groups");
    path_of(p, sizeof p, "spl", 3);
    size = file_size(p);
    snprintf(maxb, sizeof maxb, "%lld", (long long)(size / 7));
    l = plan_scan(p, maxb, &err);
    n = l ? splits_count(l) : 0;
    ok(n >= 6, "a large file is planned as several splits (%d)", n);
    for (int i = 0; i < n; i++) {
        const ember_split *sp = splits_get(l, i);
        int rc;
        rh_op *op;
        if (sp->offset != covered)
            bad++;
        covered += sp->length;
        op = scan(p, sp, "()", "()", 0, &rc);
        if (!op || rc) {
            bad++;
            rh_close(op);
            continue;
        }
        /* splits in order hold consecutive row groups */
        bad += check_cells(op, row, rh_rows(op), all, NCOLS);
        row += rh_rows(op);
        nonempty += rh_rows(op) > 0;
        rh_close(op);
    }
    is_int(size, covered, "splits cover the file");
    is_int(5000, row, "every row read exactly once over the splits");
    is_int(0, bad, "split outputs are the right rows");
    ok(nonempty >= 5, "row groups spread over the splits (%d)", nonempty);
    splits_destroy(&l);

    /* tiny splits: many without a row group start */
    l = plan_scan(p, "997", &err);
    n = l ? splits_count(l) : 0;
    row = 0;
    bad = 0;
    for (int i = 0; i < n; i++) {
        int rc;
        rh_op *op = scan(p, splits_get(l, i), "(1)", "()", 0, &rc);
        if (!op || rc)
            bad++;
        else
            row += rh_rows(op);
        rh_close(op);
    }
    ok(n > 50, "997-byte splits: %d of them", n);
    is_int(5000, row, "997-byte splits: every row once");
    is_int(0, bad, "997-byte splits: no errors");
    splits_destroy(&l);
}

/* --------------------------------------------------------------- infer */

static void test_infer(void)
{
    char p[512];
    int rc, good = 1;
    rh_op *op;
    path_of(p, sizeof p, "rt", 0);
    op = scan(p, NULL, "(1)", "((eq 0 (lit boolean true)))", 1, &rc);
    is_int(0, rc, "infer runs");
    if (op) {
        static const char *const tn[NCOLS] = {
            "boolean", "int",       "bigint", "double", "string",
            "date",    "timestamp", "binary", "bigint", "string"};
        is_int(1, op->nout, "infer: one batch");
        is_int(NCOLS, rh_rows(op), "infer: one row per column");
        is_string("name", batch_column_name(op->out[0], 0), "column name");
        is_string("type", batch_column_name(op->out[0], 1), "column type");
        for (int c = 0; c < NCOLS; c++)
            good &= strcmp(rh_cell(op, c, 0), col_names[c]) == 0 &&
                    strcmp(rh_cell(op, c, 1), tn[c]) == 0;
        ok(good, "infer: names and type names");
    }
    rh_close(op);
}

/* ----------------------------------------------------- commit, cleanup */

static int count_files(const char *dir)
{
    char p[512];
    DIR *d;
    struct dirent *e;
    int n = 0;
    snprintf(p, sizeof p, "%s/%s", tmpdir, dir);
    if (!(d = opendir(p)))
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_commit(void)
{
    char tmp[512], fin[512];
    ember_batch *b = make_batch(0, 50), *other = batch_new();
    rh_op *w;
    int rc;
    rh_op *op;
    mkdir_in("cm");
    w = open_writer("cm", "10", 7, 3);
    snprintf(tmp, sizeof tmp, "%s/cm/part-00007-3.ecol.tmp", tmpdir);
    path_of(fin, sizeof fin, "cm", 7);
    is_int(0, w ? rh_push(w, b) : -1, "push");
    ok(exists(tmp), "temporary file part-00007-3.ecol.tmp while writing");
    ok(!exists(fin), "no final file before finish");
    rh_close(w);
    ok(!exists(tmp) && !exists(fin), "close without finish removes it");

    w = open_writer("cm", "10", 8, 0);
    is_int(0, w ? rh_finish(w) : -1, "finish without batches");
    rh_close(w);
    is_int(0, count_files("cm"), "a task without batches writes nothing");

    w = open_writer("cm", "10", 9, 1);
    if (w) {
        rh_push(w, b);
        is_int(0, rh_finish(w), "commit");
    }
    rh_close(w);
    path_of(fin, sizeof fin, "cm", 9);
    ok(exists(fin), "part-00009.ecol after finish");

    /* a later batch with another schema */
    batch_add_column(other, "x", EMBER_TYPE_INT64);
    batch_append_i64(other, 0, 5);
    w = open_writer("cm", "10", 10, 0);
    if (w) {
        rh_push(w, b);
        rc = rh_push(w, other);
        is_int(EMBER_EINVAL, rc, "a different schema is refused");
        like(w->err.msg, "schema", "message says schema");
        ok(rh_finish(w) < 0, "finish after an error fails");
    }
    rh_close(w);
    path_of(fin, sizeof fin, "cm", 10);
    ok(!exists(fin), "failed task leaves no file");

    /* an empty first batch: a file with a schema and no rows */
    batch_destroy(&b);
    b = make_batch(0, 0);
    w = open_writer("cm", "10", 11, 0);
    if (w) {
        rh_push(w, b);
        is_int(0, rh_finish(w), "empty batch committed");
    }
    rh_close(w);
    path_of(fin, sizeof fin, "cm", 11);
    op = scan(fin, NULL, "()", "((eq 0 (lit boolean true)))", 0, &rc);
    ok(op && rc == 0 && rh_rows(op) == 0, "empty file scans to no rows");
    rh_close(op);
    op = scan(fin, NULL, "()", "()", 1, &rc);
    ok(op && rc == 0 && rh_rows(op) == NCOLS, "empty file keeps its schema");
    rh_close(op);
    is_int(2, count_files("cm"), "only committed files remain");
    batch_destroy(&b);
    batch_destroy(&other);
}

/* ---------------------------------------------------------- corruption */

static void test_corruption(void)
{
    char src[512], dst[512], msg[1024];
    int64_t size;
    int flips = 0, caught = 0, truncs = 0, tcaught = 0, named = 1;
    mkdir_in("bad");
    is_int(0, write_rows("bad", 0, 40, 2, "16"), "small file for damage");
    path_of(src, sizeof src, "bad", 0);
    snprintf(dst, sizeof dst, "%s/bad/damaged.ecol", tmpdir);
    size = file_size(src);
    ok(size > 100, "file of %lld bytes", (long long)size);
    {
        int rc = scan_fail(src, msg, sizeof msg);
        is_int(0, rc, "the undamaged file reads");
    }
    for (int64_t at = 0; at < size; at++) {
        for (int m = 0; m < 2; m++) {
            uint8_t x = m ? 0xA5 : (uint8_t)(1u << (at % 8));
            int rc;
            if (m && at % 3)
                continue;
            copy_file(src, dst, size, at, x);
            rc = scan_fail(dst, msg, sizeof msg);
            flips++;
            if (rc == EMBER_ECORRUPT && strstr(msg, dst) &&
                strstr(msg, "corrupt"))
                caught++;
            else if (flips - caught <= 3)
                diag("flip at %lld (^%02x): rc %d: %s", (long long)at, x, rc,
                     msg);
        }
    }
    is_int(flips, caught, "every flipped byte is reported as corrupt");
    for (int64_t len = 0; len < size; len++) {
        int rc;
        copy_file(src, dst, len, -1, 0);
        rc = scan_fail(dst, msg, sizeof msg);
        truncs++;
        if (rc == EMBER_ECORRUPT && msg[0])
            tcaught++;
        else if (truncs - tcaught <= 3)
            diag("truncated to %lld: rc %d: %s", (long long)len, rc, msg);
        named &= strstr(msg, dst) != NULL;
    }
    is_int(truncs, tcaught, "every truncation is reported as corrupt");
    ok(named, "messages name the file");

    copy_file(src, dst, size, 0, 'E' ^ 'X');
    is_int(EMBER_ECORRUPT, scan_fail(dst, msg, sizeof msg), "bad magic");
    like(msg, "magic", "message says magic");
    copy_file(src, dst, size, 4, 1 ^ 2);
    is_int(EMBER_ECORRUPT, scan_fail(dst, msg, sizeof msg), "header version 2");
    like(msg, "version", "message says version");
    copy_file(src, dst, size, size - 4, 1 ^ 3);
    is_int(EMBER_ECORRUPT, scan_fail(dst, msg, sizeof msg),
           "trailer version 3");
    like(msg, "version", "message says version");
    copy_file(src, dst, size, size - 6, 'O' ^ 'o');
    is_int(EMBER_ECORRUPT, scan_fail(dst, msg, sizeof msg), "trailer magic");
    like(msg, "magic", "message says magic");
    {
        FILE *f = fopen(dst, "wb");
        fputs("hello, world: not an ecol file at all\n", f);
        fclose(f);
    }
    is_int(EMBER_ECORRUPT, scan_fail(dst, msg, sizeof msg), "a text file");
    {
        FILE *f;
        copy_file(src, dst, size, -1, 0);
        f = fopen(dst, "ab");
        fputs("tail", f);
        fclose(f);
    }
    is_int(EMBER_ECORRUPT, scan_fail(dst, msg, sizeof msg),
           "bytes appended after the trailer");
    unlink(dst);
}

static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

/* Damage the footer but give it a valid CRC: the reader's own checks must
 * catch what matters, and nothing may crash (valgrind, ASan). */
static void test_footer_fuzz(void)
{
    char src[512], dst[512], msg[1024];
    uint8_t *img, *mut;
    int64_t size;
    uint32_t flen, fstart;
    int runs = 0, sane = 0, corrupt = 0;
    uint32_t seed = 12345;
    FILE *f;
    path_of(src, sizeof src, "bad", 0);
    snprintf(dst, sizeof dst, "%s/bad/fuzzed.ecol", tmpdir);
    size = file_size(src);
    img = malloc((size_t)size);
    mut = malloc((size_t)size);
    f = fopen(src, "rb");
    if (!img || !mut || !f || fread(img, 1, (size_t)size, f) != (size_t)size)
        bail("cannot read %s", src);
    fclose(f);
    flen = (uint32_t)img[size - 12] | (uint32_t)img[size - 11] << 8 |
           (uint32_t)img[size - 10] << 16 | (uint32_t)img[size - 9] << 24;
    fstart = (uint32_t)(size - 12 - flen);
    for (uint32_t at = fstart; at < (uint32_t)size - 16; at++) {
        for (int m = 0; m < 3; m++) {
            uint32_t crc;
            int rc;
            memcpy(mut, img, (size_t)size);
            seed = seed * 1103515245u + 12345u;
            mut[at] = m == 0   ? (uint8_t)(mut[at] ^ 1)
                      : m == 1 ? 0xFF
                               : (uint8_t)(seed >> 16);
            crc = crc32c_bitwise(mut + fstart, flen - 4);
            for (int k = 0; k < 4; k++)
                mut[size - 16 + k] = (uint8_t)(crc >> (8 * k));
            f = fopen(dst, "wb");
            fwrite(mut, 1, (size_t)size, f);
            fclose(f);
            rc = scan_fail(dst, msg, sizeof msg);
            runs++;
            sane += rc == 0 || rc == EMBER_ECORRUPT;
            corrupt += rc == EMBER_ECORRUPT;
        }
    }
    is_int(runs, sane, "footer damage with a valid CRC: ok or corrupt");
    ok(corrupt > runs / 2, "most of it detected (%d of %d)", corrupt, runs);
    unlink(dst);
    free(img);
    free(mut);
}

/* --------------------------------------------------------- parameters */

static void test_params(void)
{
    char p[512], dir[512], msg[1024];
    ember_error err = {0, ""};
    ember_split_list *l;
    ember_split sp;
    rh_op *op;
    int rc;
    static const char *const bad_cols[] = {"(0", "(a b)", "(-1)", "5"};
    static const char *const bad_filters[] = {"((foo 0 (lit bigint 1)))",
                                              "((eq 0 (lit bigint \"x\")))",
                                              "((eq 0 5))",
                                              "((eq x (lit bigint 1)))",
                                              "((eq 0 (lit blob 1)))",
                                              "((eq 0 (lit boolean maybe)))",
                                              "((eq 0 (lit string 5)))",
                                              "(((eq 0 (lit bigint 1)))"};
    path_of(p, sizeof p, "rt", 0);
    sp.path = p;
    sp.offset = 0;
    sp.length = file_size(p);
    for (size_t i = 0; i < sizeof bad_cols / sizeof bad_cols[0]; i++) {
        memset(&err, 0, sizeof err);
        op = rh_open_ex(
            "rel.col_scan",
            (const char *[]){"path", p, "columns", bad_cols[i], NULL}, &sp, -1,
            &err);
        ok(!op && strstr(err.msg, "rel.col_scan") && strstr(err.msg, "columns"),
           "columns %s refused: %s", bad_cols[i], err.msg);
        rh_close(op);
    }
    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
        memset(&err, 0, sizeof err);
        op = rh_open_ex(
            "rel.col_scan",
            (const char *[]){"path", p, "filter", bad_filters[i], NULL}, &sp,
            -1, &err);
        ok(!op && strstr(err.msg, "rel.col_scan") && strstr(err.msg, "filter"),
           "filter %s refused: %s", bad_filters[i], err.msg);
        rh_close(op);
    }
    op = scan(p, NULL, "(99)", "()", 0, &rc);
    is_int(EMBER_EINVAL, rc, "column 99 out of range");
    if (op)
        like(op->err.msg, "columns", "message names the parameter");
    rh_close(op);
    op = scan(p, NULL, "()", "((eq 99 (lit bigint 1)))", 0, &rc);
    is_int(EMBER_EINVAL, rc, "filter column 99 out of range");
    rh_close(op);
    op = scan(p, NULL, "()", "((eq 4 (lit bigint 1)))", 0, &rc);
    is_int(EMBER_EINVAL, rc, "filter: bigint literal for a string column");
    if (op)
        like(op->err.msg, "filter", "message names the parameter");
    rh_close(op);

    snprintf(dir, sizeof dir, "%s/nothing-here", tmpdir);
    l = plan_scan(dir, NULL, &err);
    ok(!l && err.code == EMBER_ENOTFOUND, "plan of a missing path fails");
    like(err.msg, "nothing-here", "message names the path");
    mkdir_in("empty");
    snprintf(dir, sizeof dir, "%s/empty", tmpdir);
    {
        /* files a directory scan must ignore */
        static const char *const ignored[] = {
            ".hidden.ecol", "_meta.ecol", "notes.txt", "part-00000-0.ecol.tmp"};
        for (size_t i = 0; i < 4; i++) {
            char f[600];
            FILE *fp;
            snprintf(f, sizeof f, "%s/%s", dir, ignored[i]);
            fp = fopen(f, "w");
            fclose(fp);
        }
    }
    l = plan_scan(dir, NULL, &err);
    ok(!l && err.code == EMBER_ENOTFOUND,
       "a directory without .ecol files fails");
    snprintf(dir, sizeof dir, "%s/*/part-0000[03].ecol", tmpdir);
    l = plan_scan(dir, NULL, &err);
    ok(l && splits_count(l) == 6, "a glob: %d files", l ? splits_count(l) : -1);
    splits_destroy(&l);
    l = plan_scan(p, "0", &err);
    ok(!l && strstr(err.msg, "max_partition_bytes"),
       "max_partition_bytes 0 refused");
    l = plan_scan(p, NULL, &err);
    splits_destroy(&l);

    memset(&err, 0, sizeof err);
    snprintf(dir, sizeof dir, "%s/rt", tmpdir);
    op = rh_open_ex("rel.col_write",
                    (const char *[]){"path", dir, "row_group_rows", "0", NULL},
                    NULL, -1, &err);
    ok(!op && strstr(err.msg, "row_group_rows"), "row_group_rows 0 refused");
    rh_close(op);
    snprintf(dir, sizeof dir, "%s/no/such/dir", tmpdir);
    op = rh_open_ex("rel.col_write", (const char *[]){"path", dir, NULL}, NULL,
                    -1, &err);
    ok(!op && strstr(err.msg, "rel.col_write") && strstr(err.msg, dir),
       "a missing output directory is refused");
    rh_close(op);
    snprintf(dir, sizeof dir, "%s/nope.ecol", tmpdir);
    is_int(EMBER_ENOTFOUND, scan_fail(dir, msg, sizeof msg),
           "scan of a vanished file");
}

int main(void)
{
    char tmpl[] = "/tmp/test_rel_colfile.XXXXXX";
    const char *t = getenv("TMPDIR");
    if (t && *t)
        snprintf(tmpdir, sizeof tmpdir, "%s/test_rel_colfile.XXXXXX", t);
    else
        snprintf(tmpdir, sizeof tmpdir, "%s", tmpl);
    if (!mkdtemp(tmpdir))
        bail("mkdtemp failed");
    rh_init();
    test_roundtrip();
    test_filter();
    test_string_stats();
    test_splits();
    test_infer();
    test_commit();
    test_corruption();
    test_footer_fuzz();
    test_params();
    rm_tree(tmpdir);
    ok(!exists(tmpdir), "temporary directory removed");
    return done_testing();
}
