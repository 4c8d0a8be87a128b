/*
 * test_rel_sort.c -- rel.sort through the real host: every key type,
 * directions and null placements, multiple keys, stability, NaN and -0.0,
 * strings sharing long prefixes, empty input, many small batches, limits,
 * a large random input checked for order and permutation, and the spill
 * path (runs written under a memory limit, merged back identically, files
 * removed on close).
 */
#include "tap/tap.h"
#include "rel_harness.h"
#include "rel.h"

#include <dirent.h>
#include <math.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* Build a batch from "name:type=v,v,v|name:type=v,..." ("null" is NULL,
 * an empty item is the empty string).  Type "null" makes a NULL column
 * whose length is that of the other columns. */
static ember_batch *mk(const char *spec)
{
    ember_batch *b = batch_new();
    char *dup = strdup(spec), *save = NULL;
    int64_t rows = -1;
    int null_cols = 0;
    char null_names[8][32];
    for (char *part = strtok_r(dup, "|", &save); part;
         part = strtok_r(NULL, "|", &save)) {
        char *colon = strchr(part, ':'), *eq = strchr(part, '=');
        char name[64], tname[32];
        rel_col c;
        int t;
        ember_column v;
        snprintf(name, sizeof name, "%.*s", (int)(colon - part), part);
        snprintf(tname, sizeof tname, "%.*s", (int)(eq - colon - 1), colon + 1);
        t = rel_type_from_name(tname, strlen(tname));
        if (t == EMBER_TYPE_NULL) {
            snprintf(null_names[null_cols++], 32, "%s", name);
            continue;
        }
        relcol_init(&c, (ember_type)t);
        for (char *p = eq + 1;;) {
            char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char item[256];
            if (eq[1] == 0)
                break; /* no rows */
            snprintf(item, sizeof item, "%.*s", (int)len, p);
            if (strcmp(item, "null") == 0)
                relcol_append_null(&c);
            else if (t == EMBER_TYPE_BOOL)
                relcol_append_bool(&c, strcmp(item, "true") == 0);
            else if (t == EMBER_TYPE_INT32 || t == EMBER_TYPE_DATE32)
                relcol_append_i32(&c, (int32_t)strtol(item, NULL, 10));
            else if (t == EMBER_TYPE_INT64 || t == EMBER_TYPE_TIMESTAMP)
                relcol_append_i64(&c, strtoll(item, NULL, 10));
            else if (t == EMBER_TYPE_DOUBLE)
                relcol_append_f64(&c, strtod(item, NULL));
            else
                relcol_append_str(&c, item, len);
            if (!e)
                break;
            p = e + 1;
        }
        relcol_view(&c, &v);
        rows = v.length;
        batch_add_column_data(b, name, v.type, v.length, v.validity, v.offsets,
                              v.data);
        relcol_free(&c);
    }
    for (int i = 0; i < null_cols; i++)
        batch_add_column_data(b, null_names[i], EMBER_TYPE_NULL,
                              rows < 0 ? 0 : rows, NULL, NULL, NULL);
    free(dup);
    return b;
}

static char *joined;

/* Column c of all output rows joined with ','. */
static const char *col(const rh_op *o, int c)
{
    size_t cap = 256, len = 0;
    int64_t n = rh_rows(o);
    free(joined);
    joined = malloc(cap);
    joined[0] = 0;
    for (int64_t r = 0; r < n; r++) {
        const char *s = rh_cell(o, r, c);
        size_t l = strlen(s);
        while (len + l + 2 > cap)
            joined = realloc(joined, cap *= 2);
        if (r)
            joined[len++] = ',';
        memcpy(joined + len, s, l + 1);
        len += l;
    }
    return joined;
}

/* Open rel.sort, push the batches (taken), finish.  NULL on failure. */
static rh_op *sort_batches(const char *keys, const char *limit,
                           ember_batch **bs, int nb)
{
    const char *kv[] = {"keys", keys, "limit", limit ? limit : "-1", NULL};
    rh_op *o = rh_open("rel.sort", kv, NULL);
    int rc = o ? 0 : -1;
    for (int i = 0; i < nb; i++) {
        if (!rc)
            rc = rh_push(o, bs[i]);
        batch_destroy(&bs[i]);
    }
    if (!rc)
        rc = rh_finish(o);
    if (rc) {
        diag("sort failed: %s", o ? o->err.msg : "open");
        rh_close(o);
        return NULL;
    }
    return o;
}

static rh_op *sort1(const char *keys, const char *limit, const char *spec)
{
    ember_batch *b = mk(spec);
    return sort_batches(keys, limit, &b, 1);
}

/* Sort `spec` and compare output column `c` with `want`. */
static void check(const char *keys, const char *limit, const char *spec, int c,
                  const char *want, const char *what)
{
    rh_op *o = sort1(keys, limit, spec);
    if (!o) {
        ok(0, "%s (sort failed)", what);
        return;
    }
    is_string(want, col(o, c), "%s", what);
    rh_close(o);
}

/* ------------------------------------------------------------- tests */

static void test_types(void)
{
    const char *ints = "k:bigint=3,null,1,2,null,-5|p:int=0,1,2,3,4,5";
    check("((0 asc nulls_first))", NULL, ints, 0, "null,null,-5,1,2,3",
          "bigint asc nulls_first");
    check("((0 asc nulls_first))", NULL, ints, 1, "1,4,5,2,3,0",
          "bigint asc: nulls keep input order");
    check("((0 desc nulls_last))", NULL, ints, 0, "3,2,1,-5,null,null",
          "bigint desc nulls_last");
    check("((0 asc nulls_last))", NULL, ints, 0, "-5,1,2,3,null,null",
          "bigint asc nulls_last");
    check("((0 desc nulls_first))", NULL, ints, 0, "null,null,3,2,1,-5",
          "bigint desc nulls_first");
    check("((0 asc nulls_first))", NULL,
          "k:bigint=9223372036854775807,-9223372036854775808,0,-1,1", 0,
          "-9223372036854775808,-1,0,1,9223372036854775807", "bigint extremes");
    check("((0 asc nulls_first))", NULL,
          "k:int=2147483647,-2147483648,0,-1,null,1,-70000", 0,
          "null,-2147483648,-70000,-1,0,1,2147483647", "int asc");
    check("((0 desc nulls_last))", NULL, "k:int=5,-3,null,5,7|p:int=0,1,2,3,4",
          1, "4,0,3,1,2", "int desc, stable on ties");
    check("((0 asc nulls_first))", NULL, "k:date=19000,-365,0,null,18000", 0,
          "null,-365,0,18000,19000", "date asc");
    check("((0 desc nulls_last))", NULL,
          "k:timestamp=1700000000000000,-1,0,null,1600000000000000", 0,
          "1700000000000000,1600000000000000,0,-1,null", "timestamp desc");
    check("((0 asc nulls_first))", NULL,
          "k:boolean=true,false,null,true,false|p:int=0,1,2,3,4", 1,
          "2,1,4,0,3", "boolean asc: null, false, true; stable");
    check("((0 desc nulls_last))", NULL, "k:boolean=true,false,null,true", 0,
          "true,true,false,null", "boolean desc");
}

static void test_doubles(void)
{
    const char *d = "k:double=1.5,nan,-0,inf,null,0,-inf,-2.25,nan,3|"
                    "p:int=0,1,2,3,4,5,6,7,8,9";
    check("((0 asc nulls_first))", NULL, d, 1, "4,6,7,2,5,0,9,3,1,8",
          "double asc: -inf < -2.25 < -0 = 0 < ... < inf < NaN, stable");
    check("((0 desc nulls_last))", NULL, d, 1, "1,8,3,9,0,2,5,7,6,4",
          "double desc: NaN first, -0 and 0 equal keep order");
    check("((0 asc nulls_last))", NULL, "k:double=0,-0,0,-0|p:int=0,1,2,3", 1,
          "0,1,2,3", "-0.0 equals 0.0 (stable)");
    check("((0 asc nulls_last))", NULL, "k:double=1e300,-1e-300,1e-300,-1e300",
          0, "-1.0000000000000001e+300,-1e-300,1e-300,1.0000000000000001e+300",
          "double extremes");
}

static void test_strings(void)
{
    const char *s = "k:string=abcdefghij,abcdefghi,abcdefgh,,abcdefghij1,b,"
                    "abcdefgha,null,\xc3\xa9,z,abcdefghij,";
    check("((0 asc nulls_first))", NULL, s, 0,
          "null,,,abcdefgh,abcdefgha,abcdefghi,abcdefghij,abcdefghij,"
          "abcdefghij1,b,z,\xc3\xa9",
          "string asc: shared prefixes > 8 bytes, empty strings, UTF-8");
    check("((0 desc nulls_last))", NULL, s, 0,
          "\xc3\xa9,z,b,abcdefghij1,abcdefghij,abcdefghij,abcdefghi,"
          "abcdefgha,abcdefgh,,,null",
          "string desc");
    check("((0 asc nulls_first))", NULL,
          "k:string=prefix_long_0002,prefix_long_0001,prefix_long_0002,"
          "prefix_long_000,prefix_long_0001|p:int=0,1,2,3,4",
          1, "3,1,4,0,2", "long equal prefixes: order and stability");
    check("((0 asc nulls_last))", NULL, "k:string=ab,a,,abc,a", 0,
          ",a,a,ab,abc", "short strings and empty string");
}

static void test_multikey(void)
{
    const char *s = "a:string=x,y,x,y,x,null,x|b:double=1,2,3,null,3,0,1|"
                    "c:bigint=0,1,2,3,4,5,6";
    check("((0 asc nulls_first) (1 desc nulls_last))", NULL, s, 2,
          "5,2,4,0,6,1,3", "string asc, double desc");
    check("((0 desc nulls_last) (1 asc nulls_first))", NULL, s, 2,
          "3,1,0,6,2,4,5", "string desc, double asc nulls_first");
    check("((1 asc nulls_last) (0 asc nulls_first) (2 desc nulls_last))", NULL,
          s, 2, "5,6,0,1,4,2,3", "three keys");
    check("((0 asc nulls_first) (1 asc nulls_first))", NULL,
          "a:bigint=null,null,null,1|b:string=c,a,b,z|c:int=0,1,2,3", 2,
          "1,2,0,3", "null first-key group sorted by second key");
    check("((0 asc nulls_last) (1 asc))", NULL,
          "a:int=2,1,2,1,2|b:int=5,6,4,null,5|c:int=0,1,2,3,4", 2, "3,1,2,0,4",
          "defaults: asc is nulls_first; ties kept stable");
    check("((1 desc))", NULL, "a:int=1,2,3,4|b:int=1,null,3,null", 0, "3,1,2,4",
          "desc defaults to nulls_last");
}

static void test_shape(void)
{
    rh_op *o = sort1("((1 asc nulls_first))", NULL,
                     "name:string=b,a|n:int=2,1|f:boolean=true,false|"
                     "d:date=1,2|t:timestamp=null,5");
    ember_column c;
    ok(o != NULL, "five columns");
    if (!o)
        return;
    is_int(1, o->nout, "one output batch");
    is_int(5, batch_num_columns(o->out[0]), "all columns kept");
    is_string("name", batch_column_name(o->out[0], 0), "names kept");
    is_string("t", batch_column_name(o->out[0], 4), "names kept (last)");
    batch_column(o->out[0], 3, &c);
    is_int(EMBER_TYPE_DATE32, c.type, "types kept");
    batch_column(o->out[0], 4, &c);
    is_int(EMBER_TYPE_TIMESTAMP, c.type, "timestamp type kept");
    is_string("a,b", col(o, 0), "rows moved with the key");
    is_string("false,true", col(o, 2), "bools moved with the key");
    is_string("5,null", col(o, 4), "nulls move with their rows");
    rh_close(o);

    check("((0 desc nulls_last))", NULL, "k:bigint=null,null,null|p:int=3,1,2",
          1, "3,1,2", "all-null key: input order");
    check("((1 asc nulls_first))", NULL, "k:string=,,b,|p:int=3,1,2,0", 0,
          ",,b,", "empty strings as payload");
}

static void test_empty(void)
{
    rh_op *o = sort_batches("((0 asc nulls_first))", NULL, NULL, 0);
    ok(o && o->nout == 0, "no input: no output");
    rh_close(o);
    o = sort1("((0 asc nulls_first))", NULL, "k:bigint=|p:string=");
    ok(o && o->nout == 0, "empty batch: no output");
    rh_close(o);
    {
        ember_batch *bs[3] = {mk("k:bigint=|p:string="),
                              mk("k:bigint=2,1|p:string=x,y"),
                              mk("k:bigint=|p:string=")};
        o = sort_batches("((0 asc nulls_first))", NULL, bs, 3);
        ok(o && strcmp(col(o, 1), "y,x") == 0, "empty batches around rows");
        rh_close(o);
    }
}

static void test_many_batches(void)
{
    enum { NB = 200, PER = 7 };
    ember_batch *bs[NB];
    rh_op *o;
    int good = 1, maxb = 0;
    for (int i = 0; i < NB; i++) {
        char spec[512];
        int len = snprintf(spec, sizeof spec, "k:int=");
        for (int j = 0; j < PER; j++)
            len += snprintf(spec + len, sizeof spec - (size_t)len, "%s%d",
                            j ? "," : "", (i * 37 + j * 11) % 50);
        len += snprintf(spec + len, sizeof spec - (size_t)len, "|p:int=");
        for (int j = 0; j < PER; j++)
            len += snprintf(spec + len, sizeof spec - (size_t)len, "%s%d",
                            j ? "," : "", i * PER + j);
        bs[i] = mk(spec);
    }
    o = sort_batches("((0 asc nulls_first))", NULL, bs, NB);
    ok(o != NULL, "many small batches sorted");
    if (!o)
        return;
    is_int(NB * PER, rh_rows(o), "all rows out");
    for (int64_t r = 1; r < rh_rows(o); r++) {
        int k0 = atoi(rh_cell(o, r - 1, 0)), k1 = atoi(rh_cell(o, r, 0));
        int p0 = atoi(rh_cell(o, r - 1, 1)), p1 = atoi(rh_cell(o, r, 1));
        if (k0 > k1 || (k0 == k1 && p0 >= p1))
            good = 0;
    }
    ok(good, "sorted and stable across batches");
    for (int i = 0; i < o->nout; i++)
        if (batch_num_rows(o->out[i]) > maxb)
            maxb = (int)batch_num_rows(o->out[i]);
    is_int(1, o->nout, "1400 rows come out as one batch");
    rh_close(o);
}

static void test_limit(void)
{
    const char *s = "k:bigint=5,3,null,1,4,2,3|p:int=0,1,2,3,4,5,6";
    rh_op *o = sort1("((0 asc nulls_last))", "0", s);
    ok(o && o->nout == 0, "limit 0: no output");
    rh_close(o);
    check("((0 asc nulls_last))", "3", s, 1, "3,5,1", "limit 3 (asc)");
    check("((0 asc nulls_last))", "4", s, 1, "3,5,1,6",
          "limit cuts ties stably");
    check("((0 desc nulls_first))", "2", s, 1, "2,0", "limit 2 (desc)");
    check("((0 asc nulls_last))", "100", s, 1, "3,5,1,6,4,0,2",
          "limit larger than the input");
    check("((0 asc nulls_last))", "7", s, 1, "3,5,1,6,4,0,2",
          "limit equal to the input");
    {
        /* top-N over many batches: compaction kicks in, stability holds */
        enum { NB = 60, PER = 1000 };
        ember_batch *bs[NB];
        int good = 1;
        for (int i = 0; i < NB; i++) {
            rel_col k, p;
            ember_column v;
            bs[i] = batch_new();
            relcol_init(&k, EMBER_TYPE_INT64);
            relcol_init(&p, EMBER_TYPE_INT64);
            for (int j = 0; j < PER; j++) {
                relcol_append_i64(&k, (i * PER + j) % 97);
                relcol_append_i64(&p, i * PER + j);
            }
            relcol_view(&k, &v);
            batch_add_column_data(bs[i], "k", v.type, v.length, v.validity,
                                  v.offsets, v.data);
            relcol_view(&p, &v);
            batch_add_column_data(bs[i], "p", v.type, v.length, v.validity,
                                  v.offsets, v.data);
            relcol_free(&k);
            relcol_free(&p);
        }
        o = sort_batches("((0 asc nulls_first))", "1000", bs, NB);
        ok(o && rh_rows(o) == 1000, "top-1000 of 60000 rows");
        /* key 0 appears at rows p = 0, 97, 194, ... : 619 of them; then 1 */
        for (int64_t r = 0; o && r < 1000; r++) {
            int64_t want = r < 619 ? r * 97 : 1 + (r - 619) * 97;
            if (atoll(rh_cell(o, r, 1)) != want)
                good = 0;
        }
        ok(good, "top-N keeps the first rows of each key in input order");
        rh_close(o);
    }
}

static void test_bad_params(void)
{
    static const char *bad[] = {
        "",
        "()",
        "(0 asc nulls_first)",
        "((0 up nulls_first))",
        "((0 asc nulls_middle))",
        "((-1 asc nulls_first))",
        "((x asc nulls_first))",
        "((0 asc nulls_first extra))",
        "((0 asc nulls_first)",
        "((1.5 asc))",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ember_error e = {0, ""};
        const char *kv[] = {"keys", bad[i], NULL};
        rh_op *o = rh_open_ex("rel.sort", kv, NULL, -1, &e);
        ok(o == NULL, "bad keys rejected at open: '%s'", bad[i]);
        like(e.msg, "keys", "error names the parameter: %s", e.msg);
        rh_close(o);
    }
    {
        ember_error e = {0, ""};
        const char *kv[] = {"keys", "((0 asc nulls_first))", "limit", "-5",
                            NULL};
        rh_op *o = rh_open_ex("rel.sort", kv, NULL, -1, &e);
        ok(o == NULL, "limit -5 rejected");
        like(e.msg, "limit", "error names limit");
        rh_close(o);
    }
    {
        ember_error e = {0, ""};
        rh_op *o = rh_open_ex("rel.sort", NULL, NULL, -1, &e);
        ok(o == NULL, "keys is required");
        rh_close(o);
    }
    {
        const char *kv[] = {"keys", "((0 asc nulls_first) (5 desc nulls_last))",
                            NULL};
        rh_op *o = rh_open("rel.sort", kv, NULL);
        ember_batch *b = mk("a:int=1,2|b:int=3,4");
        int rc;
        ok(o != NULL, "key column 5 opens (checked at push)");
        rc = rh_push(o, b);
        ok(rc < 0, "key column out of range fails push");
        like(o->err.msg, "out of range", "error says out of range");
        like(o->err.msg, "rel.sort", "error names the operator");
        rh_close(o);
        batch_destroy(&b);
    }
    {
        const char *kv[] = {"keys", "((0 asc nulls_first))", NULL};
        rh_op *o = rh_open("rel.sort", kv, NULL);
        ember_batch *b1 = mk("a:int=1,2|b:int=3,4");
        ember_batch *b2 = mk("a:string=x|b:int=3");
        ember_batch *b3 = mk("a:int=1");
        is_int(0, rh_push(o, b1), "first batch ok");
        ok(rh_push(o, b2) < 0, "batch with another column type fails");
        like(o->err.msg, "string", "error names the type");
        ok(rh_push(o, b3) < 0, "batch with fewer columns fails");
        is_int(0, rh_finish(o), "finish after rejected batches");
        is_string("1,2", col(o, 0), "the good batch survives");
        rh_close(o);
        batch_destroy(&b1);
        batch_destroy(&b2);
        batch_destroy(&b3);
    }
}

/* ----------------------------------------------- large input, spilling */

enum { BIG = 300000, BIG_PER = 3000 };

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* BIG rows in batches of BIG_PER: k string (10 bytes from a small
 * alphabet, sometimes 9 or empty or null), id bigint, v double (some
 * null), payload string. */
static ember_batch **big_input(int *nb)
{
    int n = BIG / BIG_PER;
    ember_batch **bs = calloc((size_t)n, sizeof *bs);
    int64_t id = 0;
    for (int i = 0; i < n; i++) {
        rel_col k, p, v, pl;
        ember_column w;
        relcol_init(&k, EMBER_TYPE_STRING);
        relcol_init(&p, EMBER_TYPE_INT64);
        relcol_init(&v, EMBER_TYPE_DOUBLE);
        relcol_init(&pl, EMBER_TYPE_STRING);
        for (int j = 0; j < BIG_PER; j++, id++) {
            uint64_t r = next_rand();
            char key[10], pay[64];
            int kl = r % 97 == 0 ? 0 : r % 13 == 0 ? 9 : 10;
            for (int q = 0; q < 10; q++)
                key[q] =
                    (char)('a' + (next_rand() >> 60) % 4 + (q < 6 ? 0 : 0));
            if (r % 1009 == 0)
                relcol_append_null(&k);
            else
                relcol_append_str(&k, key, (size_t)kl);
            relcol_append_i64(&p, id);
            if (r % 7 == 0)
                relcol_append_null(&v);
            else
                relcol_append_f64(&v, (double)(int64_t)(r >> 40) / 8.0);
            snprintf(pay, sizeof pay, "payload-%lld-xxxxxxxxxxxxxxxxxxxxxxxx",
                     (long long)id);
            relcol_append_str(&pl, pay, strlen(pay));
        }
        bs[i] = batch_new();
        relcol_view(&k, &w);
        batch_add_column_data(bs[i], "k", w.type, w.length, w.validity,
                              w.offsets, w.data);
        relcol_view(&p, &w);
        batch_add_column_data(bs[i], "id", w.type, w.length, w.validity,
                              w.offsets, w.data);
        relcol_view(&v, &w);
        batch_add_column_data(bs[i], "v", w.type, w.length, w.validity,
                              w.offsets, w.data);
        relcol_view(&pl, &w);
        batch_add_column_data(bs[i], "payload", w.type, w.length, w.validity,
                              w.offsets, w.data);
        relcol_free(&k);
        relcol_free(&p);
        relcol_free(&v);
        relcol_free(&pl);
    }
    *nb = n;
    return bs;
}

static void free_input(ember_batch **bs, int nb)
{
    for (int i = 0; i < nb; i++)
        batch_destroy(&bs[i]);
    free(bs);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Run rel.sort over bs; *files_before_finish: files in TMPDIR then. */
static rh_op *sort_big(ember_batch **bs, int nb, const char *keys,
                       const char *limit, int64_t mem_limit, int *files)
{
    const char *kv[] = {"keys", keys, "limit", limit, NULL};
    rh_op *o = rh_open_ex("rel.sort", kv, NULL, mem_limit, NULL);
    int rc = o ? 0 : -1;
    for (int i = 0; i < nb && !rc; i++)
        rc = rh_push(o, bs[i]);
    if (files)
        *files = getenv("TMPDIR") ? count_files(getenv("TMPDIR")) : -1;
    if (!rc)
        rc = rh_finish(o);
    if (rc) {
        diag("big sort failed: %s", o ? o->err.msg : "open");
        rh_close(o);
        return NULL;
    }
    return o;
}

/* Do two outputs hold the same rows (all columns) in the same order? */
static int same_output(const rh_op *a, const rh_op *b, int ncols)
{
    int64_t n = rh_rows(a);
    int ia = 0, ib = 0;
    int64_t ra = 0, rb = 0;
    if (n != rh_rows(b))
        return 0;
    for (int64_t r = 0; r < n; r++, ra++, rb++) {
        ember_column ca, cb;
        while (ra >= batch_num_rows(a->out[ia]))
            ia++, ra = 0;
        while (rb >= batch_num_rows(b->out[ib]))
            ib++, rb = 0;
        for (int c = 0; c < ncols; c++) {
            int na, nb;
            batch_column(a->out[ia], c, &ca);
            batch_column(b->out[ib], c, &cb);
            na = rel_isnull(&ca, ra);
            nb = rel_isnull(&cb, rb);
            if (na != nb)
                return 0;
            if (!na && rel_cmp_value(&ca, ra, &cb, rb) != 0)
                return 0;
            if (c == 1 && rel_i64(&ca, ra) != rel_i64(&cb, rb))
                return 0;
        }
    }
    return 1;
}

/* k asc nulls_first, then v desc nulls_last, then id ascending (stable) */
static int check_big_order(const rh_op *o, int64_t want_rows)
{
    int64_t n = rh_rows(o), r = 0, pr = 0;
    unsigned char *seen = calloc(BIG, 1);
    ember_column pk, pv, pi;
    int have = 0, good = 1, bi = 0;
    int64_t sum = 0;
    if (n != want_rows)
        good = 0;
    for (bi = 0; bi < o->nout && good; bi++) {
        const ember_batch *b = o->out[bi];
        ember_column k, v, id;
        int64_t m = batch_num_rows(b);
        if (m > 8192 || (bi < o->nout - 1 && m < 4096))
            good = 0;
        batch_column(b, 0, &k);
        batch_column(b, 2, &v);
        batch_column(b, 1, &id);
        for (int64_t i = 0; i < m && good; i++, r++) {
            int64_t x = rel_i64(&id, i);
            if (x < 0 || x >= BIG || seen[x])
                good = 0;
            else
                seen[x] = 1;
            sum += x;
            if (have) {
                int c = 0, nk = rel_isnull(&pk, pr), nk2 = rel_isnull(&k, i);
                if (nk != nk2)
                    c = nk ? -1 : 1;
                else if (!nk)
                    c = rel_cmp_value(&pk, pr, &k, i);
                if (c == 0) {
                    int nv = rel_isnull(&pv, pr), nv2 = rel_isnull(&v, i);
                    if (nv != nv2)
                        c = nv ? 1 : -1;
                    else if (!nv)
                        c = -rel_cmp_value(&pv, pr, &v, i);
                }
                if (c == 0)
                    c = rel_i64(&pi, pr) < x ? -1 : 1;
                if (c > 0) {
                    diag("out of order at row %lld", (long long)r);
                    good = 0;
                }
            }
            pk = k;
            pv = v;
            pi = id;
            pr = i;
            have = 1;
        }
    }
    if (want_rows == BIG && sum != (int64_t)BIG * (BIG - 1) / 2)
        good = 0;
    free(seen);
    return good;
}

static void test_big_and_spill(void)
{
    int nb, files = 0;
    ember_batch **bs = big_input(&nb);
    const char *keys = "((0 asc nulls_first) (2 desc nulls_last))";
    char tmpl[] = "/tmp/test_rel_sort.XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    rh_op *full, *sp;

    ok(dir != NULL, "scratch dir");
    setenv("TMPDIR", dir, 1);
    full = sort_big(bs, nb, keys, "-1", -1, &files);
    ok(full != NULL, "300k rows sorted in memory");
    is_int(0, files, "no spill without a memory limit");
    ok(full && check_big_order(full, BIG),
       "300k: sorted by (k asc, v desc), stable, a permutation, ~8192-row "
       "batches");

    sp = sort_big(bs, nb, keys, "-1", 4 << 20, &files);
    ok(sp != NULL, "300k rows sorted with a 4 MiB memory limit");
    ok(files >= 3, "several runs were written (%d files)", files);
    ok(sp && full && same_output(full, sp, 4),
       "spilled output identical to the in-memory one");
    is_int(0, sp ? sp->mem_used : -1, "all memory released after finish");
    rh_close(sp);
    is_int(0, count_files(dir), "run files removed on close");

    /* every batch refused: one run per batch, > 64 runs: multi-pass merge */
    sp = sort_big(bs, nb, keys, "-1", 0, &files);
    ok(files > 64, "one run per batch (%d files)", files);
    ok(sp && full && same_output(full, sp, 4),
       "multi-pass merge output identical");
    rh_close(sp);
    is_int(0, count_files(dir), "run files removed (multi-pass)");

    /* spill with a limit */
    sp = sort_big(bs, nb, keys, "123456", 4 << 20, &files);
    ok(files >= 1, "spilled with a limit");
    ok(sp && rh_rows(sp) == 123456, "limit 123456 after spilling");
    if (sp && full) {
        int good = 1;
        for (int64_t r = 0; r < 123456 && good; r += 997)
            if (strcmp(rh_cell(sp, r, 1), rh_cell(full, r, 1)) != 0)
                good = 0;
        ok(good &&
               strcmp(rh_cell(sp, 123455, 1), rh_cell(full, 123455, 1)) == 0,
           "limited spill output is the prefix of the full one");
    } else {
        ok(0, "limited spill output is the prefix of the full one");
    }
    rh_close(sp);
    is_int(0, count_files(dir), "run files removed (limit)");

    /* close without finish after spilling (failed task) */
    {
        const char *kv[] = {"keys", keys, NULL};
        rh_op *o = rh_open_ex("rel.sort", kv, NULL, 1 << 20, NULL);
        for (int i = 0; i < 20 && o; i++)
            rh_push(o, bs[i]);
        ok(count_files(dir) > 0, "runs exist before close");
        rh_close(o);
        is_int(0, count_files(dir), "close without finish removes runs");
    }

    /* a spill directory that cannot be written: a clear error */
    {
        const char *kv[] = {"keys", keys, NULL};
        rh_op *o;
        int rc = 0;
        setenv("TMPDIR", "/nonexistent/test_rel_sort", 1);
        o = rh_open_ex("rel.sort", kv, NULL, 0, NULL);
        for (int i = 0; i < 3 && o && !rc; i++)
            rc = rh_push(o, bs[i]);
        ok(rc < 0, "spilling to a missing directory fails push");
        like(o ? o->err.msg : "", "cannot create a spill file",
             "error says why: %s", o ? o->err.msg : "");
        rh_close(o);
        setenv("TMPDIR", dir, 1);
    }

    /* downstream stops early */
    {
        const char *kv[] = {"keys", keys, NULL};
        rh_op *o = rh_open_ex("rel.sort", kv, NULL, 4 << 20, NULL);
        int rc = 0;
        o->stop_after = 2;
        for (int i = 0; i < nb && !rc; i++)
            rc = rh_push(o, bs[i]);
        is_int(0, rh_finish(o), "finish returns 0 when downstream stops");
        is_int(2, o->nout, "no batch after EMBER_ESTOP");
        rh_close(o);
        is_int(0, count_files(dir), "runs removed after an early stop");
    }

    /* desc on the string key, in memory vs spilled */
    {
        rh_op *a = sort_big(bs, nb, "((0 desc nulls_last))", "-1", -1, NULL);
        rh_op *b =
            sort_big(bs, nb, "((0 desc nulls_last))", "-1", 3 << 20, NULL);
        int good = a && b;
        for (int64_t r = 1; a && r < BIG && good; r += 1)
            if (strcmp(rh_cell(a, r, 0), "null") != 0) {
                char prev[64];
                snprintf(prev, sizeof prev, "%s", rh_cell(a, r - 1, 0));
                if (strcmp(prev, rh_cell(a, r, 0)) < 0)
                    good = 0;
            }
        ok(good, "string desc sorted");
        ok(a && b && same_output(a, b, 4), "string desc: spilled identical");
        rh_close(a);
        rh_close(b);
    }

    /* the host's spill files sealed (io.encryption.enabled), and files of
       the operator's own when the host offers none */
    {
        static const uint8_t key[32] = "rel.sort test io key, 32 bytes";
        rh_spill_key = key;
        sp = sort_big(bs, nb, keys, "-1", 4 << 20, &files);
        rh_spill_key = NULL;
        ok(files >= 3 && sp && full && same_output(full, sp, 4),
           "sealed spill files: %d runs, output identical", files);
        rh_close(sp);
        is_int(0, count_files(dir), "sealed run files removed");
        rh_spill_hosted = 0;
        sp = sort_big(bs, nb, keys, "-1", 0, &files);
        rh_spill_hosted = 1;
        ok(files > 64 && sp && full && same_output(full, sp, 4),
           "run files of its own (no host spill files): %d runs, multi-pass "
           "merge identical",
           files);
        rh_close(sp);
        is_int(0, count_files(dir), "its own run files removed");
    }

    rh_close(full);
    if (old) {
        setenv("TMPDIR", old, 1);
        free(old);
    } else {
        unsetenv("TMPDIR");
    }
    is_int(0, count_files(dir), "scratch dir empty");
    rmdir(dir);
    free_input(bs, nb);
}

int main(void)
{
    rh_init();
    test_types();
    test_doubles();
    test_strings();
    test_multikey();
    test_shape();
    test_empty();
    test_many_batches();
    test_limit();
    test_bad_params();
    test_big_and_spill();
    free(joined);
    return done_testing();
}
