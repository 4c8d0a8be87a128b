/*
 * test_rel_agg.c -- rel.hash_agg: every aggregate with NULLs, NULL and
 * NaN keys, multi-column keys, global aggregation, partial -> final
 * equivalence, count_distinct, a large input against a reference, the
 * spill path under a small memory limit, and bad parameters.
 */
#include "tap/tap.h"
#include "rel_harness.h"

#include <dirent.h>
#include <math.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

#define mkb rh_batch

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All output rows as "c0|c1|..." sorted; *n rows. */
static char **rows_of(const rh_op *o, int64_t *n)
{
    int64_t nr = rh_rows(o);
    int nc = o->nout ? batch_num_columns(o->out[0]) : 0;
    char **rows = calloc((size_t)nr + 1, sizeof *rows);
    for (int64_t r = 0; r < nr; r++) {
        char line[8192] = "";
        size_t len = 0;
        for (int c = 0; c < nc && len < sizeof line - 1; c++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%.*s",
                                    c ? "|" : "", 1000, rh_cell(o, r, c));
        rows[r] = strdup(line);
    }
    qsort(rows, (size_t)nr, sizeof *rows, cmp_str);
    *n = nr;
    return rows;
}

static void rows_free(char **rows, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        free(rows[i]);
    free(rows);
}

/* Are the outputs of a and b the same multiset of rows? */
static int same_rows(const rh_op *a, const rh_op *b, const char *what)
{
    int64_t na, nb;
    char **ra = rows_of(a, &na), **rb = rows_of(b, &nb);
    int same = na == nb;
    for (int64_t i = 0; same && i < na; i++)
        if (strcmp(ra[i], rb[i]) != 0) {
            diag("%s: row %lld differs: %s vs %s", what, (long long)i, ra[i],
                 rb[i]);
            same = 0;
        }
    if (na != nb)
        diag("%s: %lld rows vs %lld", what, (long long)na, (long long)nb);
    rows_free(ra, na);
    rows_free(rb, nb);
    return same;
}

/* the sorted row i, as text (static) */
static const char *row(const rh_op *o, int64_t i)
{
    static char line[8192];
    int64_t n;
    char **rows = rows_of(o, &n);
    snprintf(line, sizeof line, "%s", i < n ? rows[i] : "<none>");
    rows_free(rows, n);
    return line;
}

static rh_op *agg(const char *keys, const char *aggs, const char *mode)
{
    return rh_open(
        "rel.hash_agg",
        (const char *[]){"keys", keys, "aggs", aggs, "mode", mode, NULL}, NULL);
}

static ember_type out_type(const rh_op *o, int c)
{
    ember_column col;
    if (o->nout == 0 || batch_column(o->out[0], c, &col))
        return (ember_type)-1;
    return col.type;
}

/* fds of this process open on (deleted) files under dir */
static int spill_fds(const char *dir)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        char p[300], t[4096];
        ssize_t l;
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        l = readlink(p, t, sizeof t - 1);
        if (l <= 0)
            continue;
        t[l] = 0;
        if (strncmp(t, dir, strlen(dir)) == 0 && strstr(t, "spill"))
            n++;
    }
    closedir(d);
    return n;
}

static int dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n == 0;
}

/* --------------------------------------------------------- basic tests */

static const char *const bn[] = {"k", "v", "d", "s", "i", "b", "dt"};
static const ember_type bt[] = {
    EMBER_TYPE_STRING, EMBER_TYPE_INT64, EMBER_TYPE_DOUBLE, EMBER_TYPE_STRING,
    EMBER_TYPE_INT32,  EMBER_TYPE_BOOL,  EMBER_TYPE_DATE32};

static void test_every_agg(void)
{
    const char *r1[] = {
        "a", "1", "1.5", "x",   "10", "t", "100", /**/
        "a", "~", "2.5", "abc", "~",  "f", "~",   /**/
        "b", "~", "~",   "~",   "~",  "~", "~",   /**/
    };
    const char *r2[] = {
        "~", "5", "-1",   "",   "3",  "t", "-5", /**/
        "a", "3", "~",    "ab", "-4", "~", "7",  /**/
        "~", "7", "0.25", "zz", "8",  "f", "~",  /**/
    };
    ember_batch *b1 = mkb(7, bn, bt, 3, r1), *b2 = mkb(7, bn, bt, 3, r2);
    ember_batch *b0 = mkb(7, bn, bt, 0, NULL);
    rh_op *o = agg("(0)",
                   "((as \"sv\" (sum 1)) (as \"cv\" (count 1)) "
                   "(as \"n\" (count_star)) (as \"av\" (avg 1)) "
                   "(as \"mnv\" (min 1)) (as \"mxv\" (max 1)) "
                   "(as \"sd\" (sum 2)) (as \"mns\" (min 3)) "
                   "(as \"mxs\" (max 3)) (as \"si\" (sum 4)) "
                   "(as \"mni\" (min 4)) (as \"mnb\" (min 5)) "
                   "(as \"mxb\" (max 5)) (as \"mxdt\" (max 6)) "
                   "(as \"ad\" (avg 2)))",
                   "complete");
    ok(o != NULL, "open complete with 15 aggregates");
    if (!o)
        return;
    is_int(0, rh_push(o, b1), "push batch 1");
    is_int(0, rh_push(o, b0), "push an empty batch");
    is_int(0, rh_push(o, b2), "push batch 2");
    is_int(0, rh_finish(o), "finish");
    is_int(3, rh_rows(o), "three groups (a, b, NULL)");
    is_int(16, batch_num_columns(o->out[0]), "key + 15 aggregate columns");
    is_string("k", batch_column_name(o->out[0], 0), "key keeps its name");
    is_string("sv", batch_column_name(o->out[0], 1), "agg named by as");
    is_int(EMBER_TYPE_STRING, out_type(o, 0), "key type string");
    is_int(EMBER_TYPE_INT64, out_type(o, 1), "sum(bigint) is bigint");
    is_int(EMBER_TYPE_INT64, out_type(o, 2), "count is bigint");
    is_int(EMBER_TYPE_DOUBLE, out_type(o, 4), "avg is double");
    is_int(EMBER_TYPE_INT64, out_type(o, 5), "min(bigint) is bigint");
    is_int(EMBER_TYPE_DOUBLE, out_type(o, 7), "sum(double) is double");
    is_int(EMBER_TYPE_STRING, out_type(o, 8), "min(string) is string");
    is_int(EMBER_TYPE_INT64, out_type(o, 10), "sum(int) is bigint");
    is_int(EMBER_TYPE_INT32, out_type(o, 11), "min(int) is int");
    is_int(EMBER_TYPE_BOOL, out_type(o, 12), "min(boolean) is boolean");
    is_int(EMBER_TYPE_DATE32, out_type(o, 14), "max(date) is date");
    /* sorted rows: "a|...", "b|...", "null|..." */
    is_string("a|4|2|3|2|1|3|4|ab|x|6|-4|false|true|100|2", row(o, 0),
              "group a: every aggregate");
    is_string("b|null|0|1|null|null|null|null|null|null|null|null|null|null|"
              "null|null",
              row(o, 1), "group b: only NULLs -> NULL sums, zero counts");
    is_string("null|12|2|2|6|5|7|-0.75||zz|11|3|false|true|-5|-0.375",
              row(o, 2), "NULL key group, empty string min");
    rh_close(o);
    batch_destroy(&b0);
    batch_destroy(&b1);
    batch_destroy(&b2);
}

static void test_multi_key(void)
{
    static const char *const n[] = {"id", "name", "x"};
    static const ember_type t[] = {EMBER_TYPE_INT32, EMBER_TYPE_STRING,
                                   EMBER_TYPE_DOUBLE};
    const char *cells[] = {
        "1", "a", "1", /**/
        "1", "b", "2", /**/
        "1", "a", "3", /**/
        "~", "a", "4", /**/
        "~", "~", "5", /**/
        "2", "~", "6", /**/
        "~", "~", "7", /**/
        "1", "",  "8", /**/
        "2", "~", "~", /**/
    };
    ember_batch *b = mkb(3, n, t, 9, cells);
    rh_op *o = agg("(1 0)", "((as \"s\" (sum 2)) (as \"c\" (count_star)))",
                   "complete");
    rh_push(o, b);
    rh_finish(o);
    is_int(6, rh_rows(o), "multi-key: six groups");
    is_string("name", batch_column_name(o->out[0], 0), "keys in keys order");
    is_int(EMBER_TYPE_INT32, out_type(o, 1), "int key stays int");
    is_string("a|1|4|2", row(o, 0), "(a, 1)");
    is_string("a|null|4|1", row(o, 1), "(a, NULL)");
    is_string("b|1|2|1", row(o, 2), "(b, 1)");
    is_string("null|2|6|2", row(o, 3), "(NULL, 2): sum ignores NULL");
    is_string("null|null|12|2", row(o, 4), "(NULL, NULL) is one group");
    is_string("|1|8|1", row(o, 5), "empty string is not NULL");
    rh_close(o);
    batch_destroy(&b);
}

static void test_nan_keys(void)
{
    static const char *const n[] = {"d"};
    static const ember_type t[] = {EMBER_TYPE_DOUBLE};
    const char *cells[] = {"nan", "-nan", "0", "-0.0", "1", "~", "~"};
    ember_batch *b = mkb(1, n, t, 7, cells);
    rh_op *o =
        agg("(0)", "((as \"c\" (count_star)) (as \"m\" (max 0)))", "complete");
    rh_push(o, b);
    rh_finish(o);
    is_int(4, rh_rows(o), "NaN, 0, 1, NULL groups");
    like(row(o, 2), "nan|2|nan", "NaN = NaN (both signs) in one group");
    ok(strcmp(row(o, 0), "0|2|0") == 0 || strcmp(row(o, 0), "-0|2|-0") == 0,
       "-0.0 and 0.0 group together (%s)", row(o, 0));
    is_string("1|1|1", row(o, 1), "group 1");
    is_string("null|2|null", row(o, 3), "NULL key group");
    rh_close(o);
    batch_destroy(&b);
}

static void test_double_minmax_nan(void)
{
    static const char *const n[] = {"k", "d"};
    static const ember_type t[] = {EMBER_TYPE_INT64, EMBER_TYPE_DOUBLE};
    const char *cells[] = {"1", "nan", "1", "5", "1", "-2",
                           "2", "nan", "2", "~", "3", "-0.5"};
    ember_batch *b = mkb(2, n, t, 6, cells);
    rh_op *o =
        agg("(0)", "((as \"mn\" (min 1)) (as \"mx\" (max 1)))", "complete");
    rh_push(o, b);
    rh_finish(o);
    is_string("1|-2|nan", row(o, 0), "NaN is the largest double");
    is_string("2|nan|nan", row(o, 1), "only NaN: min is NaN");
    is_string("3|-0.5|-0.5", row(o, 2), "single value");
    rh_close(o);
    batch_destroy(&b);
}

static void test_global_empty(void)
{
    const char *aggs = "((as \"c\" (count 0)) (as \"n\" (count_star)) "
                       "(as \"s\" (sum 0)) (as \"a\" (avg 0)) "
                       "(as \"m\" (min 0)))";
    rh_op *o = agg("()", aggs, "complete");
    is_int(0, rh_finish(o), "global complete, no input");
    is_int(1, rh_rows(o), "complete: exactly one row without input");
    is_string("0|0|null|null|null", row(o, 0), "count 0, sums NULL");
    rh_close(o);

    o = agg("()",
            "((as \"c\" (count 0)) (as \"n\" (count_star 1)) "
            "(as \"s\" (sum 2)) (as \"a\" (avg 3)) (as \"m\" (min 5)))",
            "final");
    is_int(0, rh_finish(o), "global final, no input");
    is_int(1, rh_rows(o), "final: exactly one row without input");
    is_string("0|0|null|null|null", row(o, 0), "final: count 0, sums NULL");
    rh_close(o);

    o = agg("()", aggs, "partial");
    is_int(0, rh_finish(o), "global partial, no input");
    is_int(0, rh_rows(o), "partial: nothing without rows");
    rh_close(o);

    /* an empty batch binds the types */
    {
        static const char *const n[] = {"v"};
        static const ember_type t[] = {EMBER_TYPE_INT32};
        ember_batch *b = mkb(1, n, t, 0, NULL);
        o = agg("()", aggs, "complete");
        rh_push(o, b);
        rh_finish(o);
        is_int(1, rh_rows(o), "empty batch: one row");
        is_int(EMBER_TYPE_INT64, out_type(o, 2), "sum(int) typed bigint");
        is_int(EMBER_TYPE_INT32, out_type(o, 4), "min(int) typed int");
        rh_close(o);
        o = agg("()", aggs, "partial");
        rh_push(o, b);
        rh_finish(o);
        is_int(0, rh_rows(o), "partial with an empty batch: nothing");
        rh_close(o);
        o = agg("(0)", aggs, "complete");
        rh_push(o, b);
        rh_finish(o);
        is_int(0, rh_rows(o), "grouped, no rows: nothing");
        rh_close(o);
        batch_destroy(&b);
    }
    /* input_types types the row when nothing arrives */
    o = rh_open("rel.hash_agg",
                (const char *[]){"aggs",
                                 "((as \"s\" (sum 0)) (as \"m\" (max 1)))",
                                 "input_types", "(int string)", NULL},
                NULL);
    rh_finish(o);
    is_int(EMBER_TYPE_INT64, out_type(o, 0), "input_types: sum is bigint");
    is_int(EMBER_TYPE_STRING, out_type(o, 1), "input_types: max is string");
    is_string("null|null", row(o, 0), "input_types: NULL values");
    rh_close(o);
}

static void test_partial_layout(void)
{
    static const char *const n[] = {"k", "v"};
    static const ember_type t[] = {EMBER_TYPE_INT64, EMBER_TYPE_INT32};
    const char *cells[] = {"1", "4", "1", "~", "2", "~", "1", "6"};
    ember_batch *b = mkb(2, n, t, 4, cells);
    rh_op *o = agg("(0)",
                   "((as \"s\" (sum 1)) (as \"c\" (count 1)) "
                   "(as \"n\" (count_star)) (as \"a\" (avg 1)) "
                   "(as \"m\" (max 1)))",
                   "partial");
    rh_push(o, b);
    rh_finish(o);
    is_int(7, batch_num_columns(o->out[0]), "partial: key + 6 state columns");
    is_string("a_sum", batch_column_name(o->out[0], 4), "avg state _sum");
    is_string("a_count", batch_column_name(o->out[0], 5), "avg state _count");
    is_string("m", batch_column_name(o->out[0], 6), "max state named m");
    is_int(EMBER_TYPE_DOUBLE, out_type(o, 4), "avg sum state is double");
    is_int(EMBER_TYPE_INT32, out_type(o, 6), "max state has the input type");
    is_string("1|10|2|3|10|2|6", row(o, 0), "partial state of group 1");
    is_string("2|null|0|1|0|0|null", row(o, 1),
              "partial state: NULL sum while no value");
    rh_close(o);
    batch_destroy(&b);
}

static void test_count_distinct(void)
{
    static const char *const n[] = {"k", "s", "v"};
    static const ember_type t[] = {EMBER_TYPE_INT32, EMBER_TYPE_STRING,
                                   EMBER_TYPE_DOUBLE};
    const char *cells[] = {
        "1", "a", "1",   "1", "b", "1",   "1", "a", "2",
        "1", "~", "~",   "2", "",  "0",   "2", "",  "-0.0",
        "2", "~", "nan", "2", "x", "nan", "3", "~", "~",
    };
    ember_batch *b = mkb(3, n, t, 9, cells);
    rh_op *o = agg("(0)",
                   "((as \"ds\" (count_distinct 1)) "
                   "(as \"dv\" (count_distinct 2)))",
                   "complete");
    rh_push(o, b);
    rh_push(o, b); /* the same rows again change nothing */
    rh_finish(o);
    is_string("1|2|2", row(o, 0), "count_distinct ignores NULL");
    is_string("2|2|2", row(o, 1), "empty string counted; 0 = -0, NaN = NaN");
    is_string("3|0|0", row(o, 2), "all NULL: zero");
    rh_close(o);
    batch_destroy(&b);
}

static void test_wrap(void)
{
    static const char *const n[] = {"v"};
    static const ember_type t[] = {EMBER_TYPE_INT64};
    const char *cells[] = {"9223372036854775807", "1"};
    ember_batch *b = mkb(1, n, t, 2, cells);
    rh_op *o = agg("()", "((as \"s\" (sum 0)))", "complete");
    rh_push(o, b);
    rh_finish(o);
    is_string("-9223372036854775808", row(o, 0), "integer sum wraps");
    rh_close(o);
    batch_destroy(&b);
}

/* -------------------------------------------- generated, larger inputs */

#define NG 50000
#define NR 200000

static int64_t gkey(int r)
{
    return (int64_t)((r * 7919u) % NG) * 3 - 20000;
}

/* columns: key bigint, v int (NULL every 7th), d double, s string,
 * key2 string (NULL every 11th) */
static ember_batch *gen_batch(int from, int to)
{
    ember_batch *b = batch_new();
    batch_add_column(b, "key", EMBER_TYPE_INT64);
    batch_add_column(b, "v", EMBER_TYPE_INT32);
    batch_add_column(b, "d", EMBER_TYPE_DOUBLE);
    batch_add_column(b, "s", EMBER_TYPE_STRING);
    batch_add_column(b, "k2", EMBER_TYPE_STRING);
    for (int r = from; r < to; r++) {
        char s[32];
        batch_append_i64(b, 0, gkey(r));
        if (r % 7 == 3)
            batch_append_null(b, 1);
        else
            batch_append_i64(b, 1, (r * 31) % 1000 - 500);
        batch_append_f64(b, 2, (double)(r % 100) / 4);
        snprintf(s, sizeof s, "w%d", (r * 13) % 997);
        batch_append_str(b, 3, s, strlen(s));
        if (r % 11 == 5) {
            batch_append_null(b, 4);
        } else {
            snprintf(s, sizeof s, "g%d", r % 5);
            batch_append_str(b, 4, s, strlen(s));
        }
    }
    return b;
}

static const char *const big_aggs =
    "((as \"s\" (sum 1)) (as \"c\" (count 1)) (as \"n\" (count_star)) "
    "(as \"a\" (avg 2)) (as \"mn\" (min 3)) (as \"mx\" (max 1)) "
    "(as \"sd\" (sum 2)))";

/* push rows [0, NR) in batches of `step` */
static int feed(rh_op *o, int step)
{
    int rc = 0;
    for (int r = 0; r < NR && !rc; r += step) {
        ember_batch *b = gen_batch(r, r + step < NR ? r + step : NR);
        rc = rh_push(o, b);
        batch_destroy(&b);
    }
    return rc;
}

static void test_large_reference(void)
{
    static int64_t sum[NG], cnt[NG], star[NG], mx[NG];
    rh_op *o = agg("(0)", big_aggs, "complete");
    int64_t n, bad = 0, maxbatch = 0;
    for (int g = 0; g < NG; g++)
        mx[g] = INT64_MIN;
    for (int r = 0; r < NR; r++) {
        int g = (int)((r * 7919u) % NG);
        star[g]++;
        if (r % 7 != 3) {
            int64_t v = (r * 31) % 1000 - 500;
            sum[g] += v;
            cnt[g]++;
            if (v > mx[g])
                mx[g] = v;
        }
    }
    is_int(0, feed(o, 5000), "large: push 200k rows in 40 batches");
    is_int(0, rh_finish(o), "large: finish");
    n = rh_rows(o);
    is_int(NG, n, "large: 50k groups");
    for (int i = 0; i < o->nout; i++)
        if (batch_num_rows(o->out[i]) > maxbatch)
            maxbatch = batch_num_rows(o->out[i]);
    ok(o->nout >= 6 && maxbatch <= 8192,
       "output in batches of <= 8192 rows "
       "(%d batches)",
       o->nout);
    for (int i = 0; i < o->nout; i++) {
        ember_column k, s, c, st, m;
        batch_column(o->out[i], 0, &k);
        batch_column(o->out[i], 1, &s);
        batch_column(o->out[i], 2, &c);
        batch_column(o->out[i], 3, &st);
        batch_column(o->out[i], 6, &m);
        for (int64_t r = 0; r < k.length; r++) {
            int64_t key = ((const int64_t *)k.data)[r];
            int g = (int)((key + 20000) / 3);
            int64_t want_s = sum[g];
            int snull = s.validity && !((s.validity[r / 8] >> (r % 8)) & 1);
            if (g < 0 || g >= NG ||
                (cnt[g] ? (snull || ((const int64_t *)s.data)[r] != want_s)
                        : !snull) ||
                ((const int64_t *)c.data)[r] != cnt[g] ||
                ((const int64_t *)st.data)[r] != star[g] ||
                (cnt[g] && ((const int32_t *)m.data)[r] != mx[g]))
                bad++;
        }
    }
    is_int(0, bad, "large: sums, counts, maxima match the reference");
    rh_close(o);
}

/* several partial instances over different batches, then one final */
static rh_op *partial_then_final(const char *keys, const char *aggs,
                                 const char *final_keys, const char *final_aggs,
                                 int64_t mem_limit, int64_t partial_limit,
                                 int *nspill)
{
    rh_op *parts[3];
    rh_op *fin;
    ember_error err;
    for (int p = 0; p < 3; p++)
        parts[p] = rh_open_ex("rel.hash_agg",
                              (const char *[]){"keys", keys, "aggs", aggs,
                                               "mode", "partial", NULL},
                              NULL, partial_limit, NULL);
    for (int r = 0, i = 0; r < NR; r += 7000, i++) {
        ember_batch *b = gen_batch(r, r + 7000 < NR ? r + 7000 : NR);
        rh_push(parts[i % 3], b);
        batch_destroy(&b);
    }
    fin = rh_open_ex("rel.hash_agg",
                     (const char *[]){"keys", final_keys, "aggs", final_aggs,
                                      "mode", "final", NULL},
                     NULL, mem_limit, &err);
    for (int p = 0; p < 3; p++) {
        rh_finish(parts[p]);
        for (int i = 0; i < parts[p]->nout; i++)
            rh_push(fin, parts[p]->out[i]);
        rh_close(parts[p]);
    }
    if (nspill)
        *nspill = spill_fds(getenv("TMPDIR"));
    rh_finish(fin);
    return fin;
}

static void test_partial_final(const char *tmpdir)
{
    /* keys (0 4): bigint + string with NULLs; partial layout:
     * 0 key, 1 k2, 2 s, 3 c, 4 n, 5 a_sum, 6 a_count, 7 mn, 8 mx, 9 sd */
    const char *final_aggs =
        "((as \"s\" (sum 2)) (as \"c\" (count 3)) (as \"n\" (count_star 4)) "
        "(as \"a\" (avg 5)) (as \"mn\" (min 7)) (as \"mx\" (max 8)) "
        "(as \"sd\" (sum 9)))";
    rh_op *c = agg("(0 4)", big_aggs, "complete"), *f, *cs;
    int nspill = 0;
    feed(c, 3000);
    rh_finish(c);
    ok(rh_rows(c) > NG, "two keys: more groups than one key (%lld)",
       (long long)rh_rows(c));
    f = partial_then_final("(0 4)", big_aggs, "(0 1)", final_aggs, -1, -1,
                           NULL);
    ok(same_rows(c, f, "final"), "3 partials -> final == complete");
    rh_close(f);

    /* partial under a memory limit flushes early; final still exact */
    f = partial_then_final("(0 4)", big_aggs, "(0 1)", final_aggs, -1, 1 << 20,
                           NULL);
    ok(same_rows(c, f, "final after flushing partials"),
       "partials flushed under a 1 MiB limit -> final == complete");
    rh_close(f);

    /* final spills under a small limit */
    f = partial_then_final("(0 4)", big_aggs, "(0 1)", final_aggs, 2 << 20, -1,
                           &nspill);
    ok(nspill > 0, "final spilled (%d spill files open before finish)", nspill);
    ok(same_rows(c, f, "spilled final"), "spilled final == complete");
    rh_close(f);
    is_int(0, spill_fds(tmpdir), "spill files closed after close()");

    /* complete spills under a small limit */
    cs = rh_open_ex("rel.hash_agg",
                    (const char *[]){"keys", "(0 4)", "aggs", big_aggs, "mode",
                                     "complete", NULL},
                    NULL, 2 << 20, NULL);
    is_int(0, feed(cs, 3000), "complete under a 2 MiB limit: push");
    nspill = spill_fds(tmpdir);
    ok(nspill > 0, "complete spilled (%d spill files)", nspill);
    is_int(0, rh_finish(cs), "complete under a limit: finish");
    ok(same_rows(c, cs, "spilled complete"), "spilled complete == unlimited");
    ok(cs->mem_used <= 2 << 20, "memory stayed within the limit (%lld)",
       (long long)cs->mem_used);
    rh_close(cs);

    /* a string key only, limit small enough to spill repeatedly */
    {
        rh_op *a = agg("(3)", big_aggs, "complete");
        rh_op *b =
            rh_open_ex("rel.hash_agg",
                       (const char *[]){"keys", "(3)", "aggs", big_aggs, NULL},
                       NULL, 0, NULL);
        feed(a, 10000);
        rh_finish(a);
        is_int(0, feed(b, 10000), "limit 0: every chunk spills");
        is_int(0, rh_finish(b), "limit 0: finish");
        is_int(997, rh_rows(b), "string key: 997 groups");
        ok(same_rows(a, b, "limit 0"), "limit 0 result == unlimited");
        rh_close(b);
        /* sealed spill files (io.encryption.enabled), and files of the
           operator's own when the host offers none */
        for (int mode = 0; mode < 2; mode++) {
            static const uint8_t key[32] = "rel.hash_agg test io key, 32 B";
            rh_spill_key = mode == 0 ? key : NULL;
            rh_spill_hosted = mode == 1 ? 0 : 1;
            b = rh_open_ex(
                "rel.hash_agg",
                (const char *[]){"keys", "(3)", "aggs", big_aggs, NULL}, NULL,
                0, NULL);
            is_int(0, feed(b, 10000), "%s: every chunk spills",
                   mode ? "own files" : "sealed");
            ok(spill_fds(tmpdir) > 0, "%s: spill files open",
               mode ? "own files" : "sealed");
            is_int(0, rh_finish(b), "%s: finish",
                   mode ? "own files" : "sealed");
            ok(same_rows(a, b, "limit 0"), "%s: result == unlimited",
               mode ? "own files" : "sealed");
            rh_close(b);
            rh_spill_key = NULL;
            rh_spill_hosted = 1;
        }
        rh_close(a);
    }
    rh_close(c);
    is_int(0, spill_fds(tmpdir), "no spill file open at the end");
    ok(dir_empty(tmpdir), "TMPDIR empty at the end");
}

/* ------------------------------------------------------------- first() */

/* first(): the first row's values of each group, NULLs included, in every
 * mode, and the same after spilling */
static void test_first(void)
{
    const char *r1[] = {
        "a", "1", "1.5", "x",   "10", "t", "100", /**/
        "c", "~", "~",   "~",   "~",  "~", "~",   /**/
        "a", "~", "2.5", "abc", "~",  "f", "~",   /**/
    };
    const char *r2[] = {
        "c", "9", "9.5", "q",  "9",  "t", "9",  /**/
        "~", "5", "-1",  "",   "3",  "t", "-5", /**/
        "a", "3", "~",   "ab", "-4", "~", "7",  /**/
    };
    const char *aggs = "((as \"v\" (first 1)) (as \"d\" (first 2)) "
                       "(as \"s\" (first 3)) (as \"i\" (first 4)) "
                       "(as \"b\" (first 5)) (as \"dt\" (first 6)))";
    const char *faggs = "((as \"v\" (first 1)) (as \"d\" (first 2)) "
                        "(as \"s\" (first 3)) (as \"i\" (first 4)) "
                        "(as \"b\" (first 5)) (as \"dt\" (first 6)))";
    ember_batch *b1 = mkb(7, bn, bt, 3, r1), *b2 = mkb(7, bn, bt, 3, r2);
    rh_op *o = agg("(0)", aggs, "complete"), *p1, *p2, *f;
    ok(o != NULL, "open complete with first() of every type");
    if (!o)
        return;
    rh_push(o, b1);
    rh_push(o, b2);
    is_int(0, rh_finish(o), "first: finish");
    is_int(EMBER_TYPE_INT64, out_type(o, 1), "first(bigint) is bigint");
    is_int(EMBER_TYPE_STRING, out_type(o, 3), "first(string) is string");
    is_int(EMBER_TYPE_BOOL, out_type(o, 5), "first(boolean) is boolean");
    is_string("a|1|1.5|x|10|true|100", row(o, 0),
              "group a: the first row, not the least values");
    is_string("c|null|null|null|null|null|null", row(o, 1),
              "group c: a first row of NULLs stays NULL");
    is_string("null|5|-1||3|true|-5", row(o, 2), "NULL key group");

    /* partial over each batch, final over both: the first partial wins */
    p1 = agg("(0)", aggs, "partial");
    p2 = agg("(0)", aggs, "partial");
    f = agg("(0)", faggs, "final");
    rh_push(p1, b1);
    rh_push(p2, b2);
    rh_finish(p1);
    rh_finish(p2);
    for (int i = 0; i < p1->nout; i++)
        rh_push(f, p1->out[i]);
    for (int i = 0; i < p2->nout; i++)
        rh_push(f, p2->out[i]);
    is_int(0, rh_finish(f), "first: final finish");
    ok(same_rows(o, f, "first partial/final"),
       "partial then final == complete (NULL states kept)");
    rh_close(p1);
    rh_close(p2);
    rh_close(f);
    rh_close(o);
    batch_destroy(&b1);
    batch_destroy(&b2);

    /* 200k rows, 50k groups: against a reference, and spilling every chunk
     * keeps the first rows */
    {
        static int first_r[NG];
        const char *big = "((as \"v\" (first 1)) (as \"s\" (first 3)) "
                          "(as \"k2\" (first 4)))";
        rh_op *a = agg("(0)", big, "complete");
        rh_op *z = rh_open_ex("rel.hash_agg",
                              (const char *[]){"keys", "(0)", "aggs", big,
                                               "mode", "complete", NULL},
                              NULL, 0, NULL);
        int64_t bad = 0;
        for (int g = 0; g < NG; g++)
            first_r[g] = -1;
        for (int r = 0; r < NR; r++) {
            int g = (int)((r * 7919u) % NG);
            if (first_r[g] < 0)
                first_r[g] = r;
        }
        feed(a, 5000);
        rh_finish(a);
        is_int(0, feed(z, 5000), "first, limit 0: push");
        is_int(0, rh_finish(z), "first, limit 0: finish");
        for (int i = 0; i < a->nout; i++) {
            ember_column k, v, sc;
            batch_column(a->out[i], 0, &k);
            batch_column(a->out[i], 1, &v);
            batch_column(a->out[i], 2, &sc);
            for (int64_t r = 0; r < k.length; r++) {
                int64_t key = ((const int64_t *)k.data)[r];
                int fr = first_r[(key + 20000) / 3];
                int vnull = v.validity && !((v.validity[r / 8] >> (r % 8)) & 1);
                char want[32];
                snprintf(want, sizeof want, "w%d", (fr * 13) % 997);
                if ((fr % 7 == 3) != vnull ||
                    (!vnull &&
                     ((const int32_t *)v.data)[r] != (fr * 31) % 1000 - 500) ||
                    (size_t)(sc.offsets[r + 1] - sc.offsets[r]) !=
                        strlen(want) ||
                    memcmp((const char *)sc.data + sc.offsets[r], want,
                           strlen(want)) != 0)
                    bad++;
            }
        }
        is_int(NG, rh_rows(a), "first: 50k groups");
        is_int(0, bad, "first: every group's first row, NULLs included");
        ok(same_rows(a, z, "first spilled"), "spilled every chunk: same rows");
        rh_close(a);
        rh_close(z);
    }
}

/* ---------------------------------------------------------- bad params */

static void bad(const char *keys, const char *aggs, const char *mode,
                const char *want, const char *what)
{
    ember_error err = {0, ""};
    rh_op *o = rh_open_ex(
        "rel.hash_agg",
        (const char *[]){"keys", keys, "aggs", aggs, "mode", mode, NULL}, NULL,
        -1, &err);
    ok(o == NULL, "rejected: %s", what);
    like(err.msg, want, "message for %s", what);
    rh_close(o);
}

static void test_bad_params(void)
{
    bad("()", "((as \"x\" (median 0)))", "complete", "unknown aggregate",
        "unknown function");
    bad("()", "((as \"x\" (sum)))", "complete", "sum takes one column",
        "sum without argument");
    bad("()", "((as \"x\" (sum 0 1)))", "complete", "argument",
        "sum with two arguments");
    bad("()", "((as \"x\" (count_star 0)))", "complete", "count_star takes",
        "count_star with an argument");
    bad("()", "((as \"x\" (count_distinct 0)))", "partial",
        "count_distinct is only allowed", "count_distinct in partial");
    bad("()", "((as \"x\" (count_distinct 0)))", "final",
        "count_distinct is only allowed", "count_distinct in final");
    bad("()", "((sum 0))", "complete", "parameter aggs", "missing as");
    bad("()", "((as \"x\" (sum 0))", "complete", "parameter aggs",
        "unbalanced parentheses");
    bad("(a)", "()", "complete", "parameter keys", "non-numeric key");
    bad("(-1)", "()", "complete", "parameter keys", "negative key");
    bad("()", "()", "streaming", "parameter mode", "unknown mode");
    {
        static const char *const n[] = {"s"};
        static const ember_type t[] = {EMBER_TYPE_STRING};
        const char *cells[] = {"x"};
        ember_batch *b = mkb(1, n, t, 1, cells);
        rh_op *o = agg("()", "((as \"x\" (sum 0)))", "complete");
        ok(rh_push(o, b) == EMBER_EINVAL, "sum over a string fails at push");
        like(o->err.msg, "needs a number", "sum over string: message");
        rh_close(o);
        o = agg("(3)", "()", "complete");
        ok(rh_push(o, b) == EMBER_EINVAL, "key index out of range fails");
        like(o->err.msg, "out of range", "key out of range: message");
        rh_close(o);
        batch_destroy(&b);
    }
}

/* One string key: keys of every length around the in-slot limits (7, 8,
 * 11, 12 bytes), shared prefixes, NUL bytes, empty strings and NULLs, over
 * many batches; counts checked against a direct tally. */
static void test_string_keys(void)
{
    enum { NK = 64, NB = 40, PER = 500 };
    char keys[NK][32];
    size_t lens[NK];
    int64_t want[NK + 1] = {0}; /* [NK]: NULL */
    rh_op *o = agg("(0)", "((as \"n\" (count_star)))", "complete");
    uint64_t x = 88172645463325252ULL;
    int bad = 0, seen = 0;
    for (int k = 0; k < NK; k++) { /* unique: the first two bytes name k */
        lens[k] = k == 0 ? 0 : k == 1 ? 1 : (size_t)(2 + k % 19); /* 0..20 */
        memset(keys[k], 'q', sizeof keys[k]);
        if (lens[k] >= 2) {
            keys[k][0] = (char)('A' + k / 26);
            keys[k][1] = (char)('a' + k % 26);
        }
        if (k % 5 == 3 && lens[k] > 2)
            keys[k][lens[k] - 1] = '\0'; /* a NUL inside */
    }
    for (int b = 0; b < NB && o; b++) {
        ember_batch *in = batch_new();
        batch_add_column(in, "k", EMBER_TYPE_STRING);
        for (int r = 0; r < PER; r++) {
            int k;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            k = (int)(x % (NK + 1));
            if (k == NK)
                batch_append_null(in, 0);
            else
                batch_append_str(in, 0, keys[k], lens[k]);
            want[k]++;
        }
        if (rh_push(o, in))
            bad++;
        batch_destroy(&in);
    }
    if (o && rh_finish(o))
        bad++;
    ok(o && !bad, "string keys: pushed and finished");
    for (int64_t i = 0; o && i < rh_rows(o); i++) {
        ember_column kc, nc;
        int64_t r = i;
        int bi = 0;
        while (r >= batch_num_rows(o->out[bi]))
            r -= batch_num_rows(o->out[bi++]);
        batch_column(o->out[bi], 0, &kc);
        batch_column(o->out[bi], 1, &nc);
        seen++;
        if (kc.validity && !((kc.validity[r / 8] >> (r % 8)) & 1)) {
            if (((const int64_t *)nc.data)[r] != want[NK])
                bad++;
            want[NK] = -1;
            continue;
        }
        {
            size_t l = (size_t)(kc.offsets[r + 1] - kc.offsets[r]);
            const char *v = (const char *)kc.data + kc.offsets[r];
            int found = -1;
            for (int k = 0; k < NK; k++)
                if (lens[k] == l && memcmp(keys[k], v, l) == 0)
                    found = k;
            if (found < 0 || ((const int64_t *)nc.data)[r] != want[found])
                bad++;
            else
                want[found] = -1;
        }
    }
    {
        int distinct = 0;
        for (int k = 0; k < NK; k++)
            for (int j = 0; j < k; j++)
                if (lens[j] == lens[k] &&
                    memcmp(keys[j], keys[k], lens[k]) == 0)
                    goto dup;
        distinct = NK + 1;
    dup:
        ok(distinct == 0 || seen == distinct,
           "string keys: one group per distinct key and NULL (%d)", seen);
    }
    is_int(0, bad, "string keys: every count right");
    rh_close(o);
}

int main(void)
{
    char tmpl[] = "/tmp/test_rel_agg.XXXXXX";
    char *tmpdir = mkdtemp(tmpl);
    if (!tmpdir)
        bail("mkdtemp failed");
    setenv("TMPDIR", tmpdir, 1);
    rh_init();
    test_every_agg();
    test_multi_key();
    test_nan_keys();
    test_double_minmax_nan();
    test_global_empty();
    test_partial_layout();
    test_count_distinct();
    test_wrap();
    test_string_keys();
    test_large_reference();
    test_partial_final(tmpdir);
    test_first();
    test_bad_params();
    rmdir(tmpdir);
    return done_testing();
}
