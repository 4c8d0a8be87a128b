/*
 * test_rel_scan.c -- rel.csv_scan, rel.json_scan, rel.text_scan,
 * rel.csv_write and rel.json_write through the real host: plan() splits,
 * each split run in its own operator instance, outputs compared cell by
 * cell; writers' files compared byte by byte.  Files live in a mkdtemp
 * directory removed at the end.
 */
#include "tap/tap.h"
#include "rel_harness.h"
#include "rel.h"

#include <math.h>

#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* ------------------------------------------------------------- helpers */

static const char *tpath(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) & 3;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static const char *wfile(const char *name, const char *text)
{
    const char *p = tpath(name);
    FILE *f = fopen(p, "wb");
    if (!f)
        bail("cannot write %s", p);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return p;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    s[n] = 0;
    fclose(f);
    return s;
}

static void rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        char p[1024];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rmtree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* a growable string */
typedef struct sb {
    char *s;
    size_t n, cap;
} sb;

static void sb_add(sb *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_str(sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* kv with extra pairs appended (static storage, up to 40 entries) */
static const char **kv_plus(const char *const *kv, const char *k1,
                            const char *v1)
{
    static const char *out[40];
    int n = 0;
    for (; kv && kv[n]; n++)
        out[n] = kv[n];
    if (k1) {
        out[n++] = k1;
        out[n++] = v1;
    }
    out[n] = NULL;
    return out;
}

typedef struct result {
    int rc;         /* first failure (plan, open or run), 0 if none */
    char err[1024]; /* its message */
    int nsplits;
    int64_t rows;
    int64_t counter;   /* sum of malformed_rows */
    int maxbatch;      /* largest emitted batch */
    char *text;        /* rows: cells joined by '|', one row per line */
    char header[1024]; /* name:type,... of the first batch */
} result;

static void result_free(result *r)
{
    free(r->text);
    memset(r, 0, sizeof *r);
}

/* plan `op` with kv (+ max_partition_bytes maxb when > 0), run every
 * split, collect all rows */
static void scan_all(result *r, const char *op, const char *const *kv,
                     int64_t maxb)
{
    const ember_op_desc *d = plugins_find_op(op, NULL);
    ember_params *p;
    ember_split_list *sl = splits_new();
    ember_error err = {0, ""};
    char mb[32];
    const char **kvs;
    sb text = {0};
    memset(r, 0, sizeof *r);
    sb_str(&text, "");
    snprintf(mb, sizeof mb, "%lld", (long long)maxb);
    kvs = kv_plus(kv, maxb > 0 ? "max_partition_bytes" : NULL, mb);
    p = params_new(d);
    for (int i = 0; kvs[i]; i += 2)
        if ((r->rc = params_set(p, kvs[i], kvs[i + 1], &err)) != 0)
            goto out;
    if ((r->rc = params_finish(p, &err)) != 0)
        goto out;
    if ((r->rc = d->plan(host_table(), p, 1, sl, &err)) != 0)
        goto out;
    r->nsplits = splits_count(sl);
    for (int i = 0; i < r->nsplits; i++) {
        const ember_split *sp = splits_get(sl, i);
        rh_op *o = rh_open_ex(op, kvs, sp, -1, &err);
        if (!o) {
            r->rc = err.code ? err.code : -1;
            goto out;
        }
        r->rc = rh_run(o);
        if (r->rc) {
            snprintf(err.msg, sizeof err.msg, "%s", o->err.msg);
            rh_close(o);
            goto out;
        }
        r->counter += o->counters;
        for (int b = 0; b < o->nout; b++) {
            int64_t n = batch_num_rows(o->out[b]);
            if (n > r->maxbatch)
                r->maxbatch = (int)n;
            if (!r->header[0]) {
                size_t k = 0;
                for (int c = 0; c < batch_num_columns(o->out[b]); c++) {
                    ember_column col;
                    batch_column(o->out[b], c, &col);
                    k += (size_t)snprintf(r->header + k, sizeof r->header - k,
                                          "%s%s:%s", c ? "," : "",
                                          batch_column_name(o->out[b], c),
                                          rel_type_name(col.type));
                }
            }
        }
        for (int64_t row = 0; row < rh_rows(o); row++) {
            int nc = batch_num_columns(o->out[0]);
            for (int c = 0; c < nc; c++) {
                if (c)
                    sb_str(&text, "|");
                sb_str(&text, rh_cell(o, row, c));
            }
            sb_str(&text, "\n");
        }
        r->rows += rh_rows(o);
        rh_close(o);
    }
out:
    if (r->rc)
        snprintf(r->err, sizeof r->err, "%s", err.msg);
    r->text = text.s;
    params_destroy(&p);
    splits_destroy(&sl);
}

/* error message of plan() or open() failing */
static int scan_err(const char *op, const char *const *kv, char *msg)
{
    result r;
    int rc;
    scan_all(&r, op, kv, 0);
    rc = r.rc;
    snprintf(msg, 1024, "%s", r.err);
    result_free(&r);
    return rc;
}

/* ---------------------------------------------------------------- CSV */

static void test_csv_types(void)
{
    result r;
    const char *p =
        wfile("types.csv",
              "id,big,price,ok,name,day,ts\n"
              "1,10000000000,1.5,true,alice,2024-03-15,2024-03-15 12:34:56.5\n"
              "-2,-3,2,FALSE,bob,1969-12-31,2024-03-15T00:00:00\n"
              ",,,,,,\n"
              "2147483647,9223372036854775807,-0.25,True,\"\",2000-02-29,"
              "1969-12-31 23:59:59.999999\n"
              "3,4,1e3,false,x y,2024-03-15,2024-03-15\n");
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "header", "true", "schema",
                              "id int, big bigint, price double, ok boolean, "
                              "name string, day date, ts timestamp",
                              NULL},
             0);
    is_int(0, r.rc, "csv typed scan runs (%s)", r.err);
    is_string("id:int,big:bigint,price:double,ok:boolean,name:string,"
              "day:date,ts:timestamp",
              r.header, "names and types from the schema");
    is_string("1|10000000000|1.5|true|alice|19797|1710506096500000\n"
              "-2|-3|2|false|bob|-1|1710460800000000\n"
              "null|null|null|null|null|null|null\n"
              "2147483647|9223372036854775807|-0.25|true||11016|-1\n"
              "3|4|1000|false|x y|19797|1710460800000000\n",
              r.text, "typed values, nulls, quoted empty string");
    is_int(0, r.counter, "no malformed rows");
    result_free(&r);
}

static void test_csv_noschema(void)
{
    result r;
    const char *p = wfile("plain.csv", "a,b\n1,2\n3,4\n");
    scan_all(&r, "rel.csv_scan", (const char *[]){"path", p, NULL}, 0);
    is_string("_c0:string,_c1:string", r.header, "no header: _c0, _c1");
    is_string("a|b\n1|2\n3|4\n", r.text, "all lines are data");
    result_free(&r);
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "header", "true", NULL}, 0);
    is_string("a:string,b:string", r.header, "header names the columns");
    is_string("1|2\n3|4\n", r.text, "header skipped");
    result_free(&r);
    /* header only: no rows */
    p = wfile("hdr_only.csv", "a,b\n");
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "header", "true", NULL}, 0);
    is_int(0, r.rc, "header-only file reads");
    is_int(0, r.rows, "header-only file: no rows");
    result_free(&r);
}

static void test_csv_quotes(void)
{
    result r;
    const char *p = wfile("quotes.csv", "k,v\r\n"
                                        "1,\"a,b\"\r\n"
                                        "2,\"say \"\"hi\"\"\"\r\n"
                                        "3,\"two\nlines\"\r\n"
                                        "4,\"esc \\\" quote\"\r\n"
                                        "5,\"\"\r\n"
                                        "6,\r\n"
                                        "\r\n"
                                        "7,plain \"inner\" text\r\n"
                                        "8,\"last\"");
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "header", "true", NULL}, 0);
    is_int(0, r.rc, "quoted csv reads (%s)", r.err);
    is_string("1|a,b\n2|say \"hi\"\n3|two\nlines\n4|esc \" quote\n5|\n"
              "6|null\n7|plain \"inner\" text\n8|last\n",
              r.text,
              "separators, doubled quotes, escapes, newlines in quotes, "
              "\\r\\n, blank line, no final newline");
    result_free(&r);
    /* tab separator, custom null value, no quoting */
    p = wfile("tabs.tsv", "a\tNA\t\"q\"\nNA\tb\t\n");
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "sep", "\\t", "null_value", "NA",
                              "quote", "", NULL},
             0);
    is_string("a|null|\"q\"\nnull|b|\n", r.text,
              "\\t separator, null_value NA, quoting off (empty stays "
              "empty)");
    result_free(&r);
    p = wfile("semi.csv", "x;'a;b';'it''s'\n");
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "sep", ";", "quote", "'", NULL}, 0);
    is_string("x|a;b|it's\n", r.text, "custom sep and quote");
    result_free(&r);
}

static void test_csv_modes(void)
{
    result r;
    const char *p = wfile("bad.csv", "id,qty,name\n"
                                     "1,10,a\n"
                                     "2,abc,b\n"
                                     "3,30\n"
                                     "\n"
                                     "4,40,d,extra\n"
                                     "5,50,e\n");
    const char *sch = "id int, qty int, name string";
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "header", "true", "schema", sch, NULL},
             0);
    is_int(0, r.rc, "PERMISSIVE runs");
    is_string("1|10|a\n2|null|b\n3|30|null\n4|40|d\n5|50|e\n", r.text,
              "PERMISSIVE: bad field NULL, missing NULL, extra ignored");
    is_int(3, r.counter, "PERMISSIVE counts 3 malformed rows");
    result_free(&r);
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "header", "true", "schema", sch,
                              "mode", "dropmalformed", NULL},
             0);
    is_string("1|10|a\n5|50|e\n", r.text, "DROPMALFORMED drops them");
    is_int(3, r.counter, "DROPMALFORMED counts 3 malformed rows");
    result_free(&r);
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "header", "true", "schema", sch,
                              "mode", "FAILFAST", NULL},
             0);
    is_int(EMBER_ECORRUPT, r.rc, "FAILFAST fails with ECORRUPT");
    like(r.err,
         "bad.csv:3: malformed record: field 'qty' (int): cannot "
         "parse 'abc'",
         "FAILFAST names file, line 3 and the field");
    result_free(&r);
    p = wfile("bad2.csv", "id,qty,name\n1,10,a\n\n3,30\n");
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "header", "true", "schema", sch,
                              "mode", "FAILFAST", NULL},
             0);
    like(r.err, "bad2.csv:4: malformed record: expected 3 fields, found 2",
         "FAILFAST field count, blank lines counted in the line number");
    result_free(&r);
    /* pruning: the bad column is not converted, so no malformed row */
    p = wfile("bad3.csv", "1,abc,x\n2,20,y\n");
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "schema", sch, "columns", "(2 0)",
                              "mode", "FAILFAST", NULL},
             0);
    is_int(0, r.rc, "pruned bad column is never parsed");
    is_string("name:string,id:int", r.header, "columns (2 0) in that order");
    is_string("x|1\ny|2\n", r.text, "pruned values");
    result_free(&r);
    /* unterminated quote */
    p = wfile("bad4.csv", "1,\"open\n2,b\n");
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", p, "schema", "a int, b string", "mode",
                              "FAILFAST", NULL},
             0);
    like(r.err, "bad4.csv:1: malformed record: unterminated quoted field",
         "unterminated quote reported");
    result_free(&r);
}

static void test_csv_splits(void)
{
    sb t = {0};
    result one, many;
    const char *p;
    const char *kv[] = {"path", NULL,     "header",
                        "true", "schema", "i int, s string, d double",
                        NULL};
    sb_str(&t, "i,s,d\n");
    for (int i = 0; i < 300; i++) {
        char line[128];
        if (i % 7 == 3)
            snprintf(line, sizeof line, "%d,\"q,%d\",%d.25\r\n", i, i, i);
        else if (i % 11 == 5)
            snprintf(line, sizeof line, "%d,,\n", i);
        else
            snprintf(line, sizeof line, "%d,s%d,%d.5\n", i, i, i);
        sb_str(&t, line);
    }
    p = wfile("split.csv", t.s);
    kv[1] = p;
    scan_all(&one, "rel.csv_scan", kv, 0);
    scan_all(&many, "rel.csv_scan", kv, 37);
    is_int(1, one.nsplits, "default: one split");
    is_int((int)((t.n + 36) / 37), many.nsplits,
           "max_partition_bytes 37: ceil(size / 37) splits");
    is_int(300, one.rows, "300 rows in one split");
    is_int(300, many.rows, "300 rows across splits, none twice");
    ok(one.text && many.text && strcmp(one.text, many.text) == 0,
       "union of small splits equals the single split");
    like(one.text, "3|q,3|3.25\n", "quoted field with \\r\\n");
    like(one.text, "5|null|null\n", "empty fields are NULL");
    result_free(&one);
    result_free(&many);
    /* schema-less with header: every split names columns from the header */
    kv[5] = "";
    scan_all(&many, "rel.csv_scan", kv, 37);
    is_string("i:string,s:string,d:string", many.header,
              "later splits take names from the file's header");
    is_int(300, many.rows, "schema-less split rows");
    result_free(&many);
    free(t.s);
    /* big file: batches of at most 8192 rows */
    {
        sb b = {0};
        for (int i = 0; i < 20000; i++) {
            char line[32];
            snprintf(line, sizeof line, "%d\n", i);
            sb_str(&b, line);
        }
        p = wfile("big.csv", b.s);
        scan_all(&one, "rel.csv_scan",
                 (const char *[]){"path", p, "schema", "n bigint", NULL}, 0);
        is_int(20000, one.rows, "20000 rows");
        is_int(8192, one.maxbatch, "batches of 8192 rows");
        like(one.text, "\n19999\n", "last row present");
        result_free(&one);
        /* downstream says stop after the first batch */
        {
            struct stat st;
            stat(p, &st);
            ember_split sp = {p, 0, st.st_size};
            rh_op *o =
                rh_open("rel.csv_scan", (const char *[]){"path", p, NULL}, &sp);
            o->stop_after = 1;
            is_int(0, rh_run(o), "EMBER_ESTOP ends the scan quietly");
            is_int(1, o->nout, "no batch after the stop");
            rh_close(o);
        }
        free(b.s);
    }
}

static void test_csv_infer(void)
{
    result r;
    const char *p =
        wfile("infer.csv", "i,l,d,b,dt,ts,s,mix,empty,num,dts\n"
                           "1,5000000000,1.5,true,2024-01-01,2024-01-01 "
                           "10:00:00,x,1,,1,2024-01-01\n"
                           "2,3,2,false,2024-01-02,2024-01-02T10:00:00,y,a,,"
                           "2.5,2024-01-02 01:00:00\n"
                           ",,,,,,,,,,\n");
    scan_all(
        &r, "rel.csv_scan",
        (const char *[]){"path", p, "header", "true", "infer", "true", NULL},
        0);
    is_int(0, r.rc, "csv infer runs");
    is_string("name:string,type:string", r.header, "infer emits (name, type)");
    is_string("i|int\nl|bigint\nd|double\nb|boolean\ndt|date\nts|timestamp\n"
              "s|string\nmix|string\nempty|string\nnum|double\n"
              "dts|timestamp\n",
              r.text, "inferred types");
    result_free(&r);
    scan_all(
        &r, "rel.csv_scan",
        (const char *[]){"path", p, "infer", "true", "infer_rows", "1", NULL},
        0);
    is_string("_c0|string\n_c1|string\n_c2|string\n_c3|string\n_c4|string\n"
              "_c5|string\n_c6|string\n_c7|string\n_c8|string\n_c9|string\n"
              "_c10|string\n",
              r.text, "no header: _cN; the header line sampled as data");
    result_free(&r);
}

/* --------------------------------------------------------------- JSON */

static void test_json(void)
{
    result r;
    const char *p = wfile(
        "a.json",
        "{\"id\": 1, \"name\": \"al\\\"ice\", \"score\": 1.5, \"ok\": true, "
        "\"day\": \"2024-03-15\", \"ts\": \"2024-03-15 12:34:56.5\", "
        "\"tags\": [1, {\"x\": \"y\"}], \"big\": 10000000000}\n"
        "\n"
        "{\"name\": \"\\u00e9\\ud83d\\ude00\\n\\t\\/\", \"id\": null, "
        "\"extra\": {\"deep\": [1,2]}}\n"
        "{\"id\": 3.0, \"score\": 7, \"tags\": \"plain\", \"ok\": false, "
        "\"name\": 42, \"big\": -5}\r\n"
        "  {}  \n"
        "{\"score\": \"NaN\", \"name\": \"\"}");
    const char *sch = "id int, name string, score double, ok boolean, "
                      "day date, ts timestamp, tags string, big bigint";
    scan_all(&r, "rel.json_scan",
             (const char *[]){"path", p, "schema", sch, NULL}, 0);
    is_int(0, r.rc, "json scan runs (%s)", r.err);
    is_string("id:int,name:string,score:double,ok:boolean,day:date,"
              "ts:timestamp,tags:string,big:bigint",
              r.header, "json columns from the schema");
    is_string("1|al\"ice|1.5|true|19797|1710506096500000|[1, {\"x\": "
              "\"y\"}]|10000000000\n"
              "null|\xc3\xa9\xf0\x9f\x98\x80\n\t/|null|null|null|null|null|"
              "null\n"
              "3|42|7|false|null|null|plain|-5\n"
              "null|null|null|null|null|null|null|null\n"
              "null||nan|null|null|null|null|null\n",
              r.text,
              "values, escapes, surrogate pairs, nested raw text, absent "
              "and null fields, integral 3.0 into int");
    is_int(0, r.counter, "no malformed json rows");
    result_free(&r);
    /* pruning */
    scan_all(
        &r, "rel.json_scan",
        (const char *[]){"path", p, "schema", sch, "columns", "(7 1)", NULL},
        0);
    is_string("big:bigint,name:string", r.header, "json pruning order");
    like(r.text, "10000000000|al\"ice\n", "json pruned values");
    result_free(&r);
}

static void test_json_modes(void)
{
    result r;
    const char *p = wfile("bad.json", "{\"a\": 1, \"b\": \"x\"}\n"
                                      "{\"a\": \"one\", \"b\": \"y\"}\n"
                                      "\n"
                                      "{\"a\": 2, \"b\": \n"
                                      "{\"a\": 1.5}\n"
                                      "{\"a\": 3000000000}\n"
                                      "[1,2]\n"
                                      "{\"a\": 4, \"b\": \"z\"}\n");
    const char *sch = "a int, b string";
    scan_all(&r, "rel.json_scan",
             (const char *[]){"path", p, "schema", sch, NULL}, 0);
    is_string("1|x\nnull|y\nnull|null\nnull|null\nnull|null\nnull|null\n"
              "4|z\n",
              r.text, "PERMISSIVE json: bad values NULL, bad lines all NULL");
    is_int(5, r.counter, "PERMISSIVE json counts 5");
    result_free(&r);
    scan_all(&r, "rel.json_scan",
             (const char *[]){"path", p, "schema", sch, "mode", "DROPMALFORMED",
                              NULL},
             0);
    is_string("1|x\n4|z\n", r.text, "DROPMALFORMED json");
    is_int(5, r.counter, "DROPMALFORMED json counts 5");
    result_free(&r);
    scan_all(
        &r, "rel.json_scan",
        (const char *[]){"path", p, "schema", sch, "mode", "FAILFAST", NULL},
        0);
    is_int(EMBER_ECORRUPT, r.rc, "FAILFAST json fails");
    like(r.err,
         "bad.json:2: malformed record: field 'a' (int): cannot "
         "parse '\"one\"'",
         "FAILFAST json message with line 2");
    result_free(&r);
    p = wfile("bad2.json", "{\"a\": 1}\n\n{\"a\": 2,}\n");
    scan_all(
        &r, "rel.json_scan",
        (const char *[]){"path", p, "schema", sch, "mode", "FAILFAST", NULL},
        0);
    like(r.err, "bad2.json:3: malformed record: invalid JSON",
         "FAILFAST json syntax error on line 3");
    result_free(&r);
}

static void test_json_infer_splits(void)
{
    result r, one;
    sb t = {0};
    const char *p =
        wfile("inf.json", "{\"z\": 1, \"a\": \"s\", \"n\": null, \"m\": 1}\n"
                          "{\"z\": 2, \"b\": true, \"o\": {\"k\": 1}, "
                          "\"m\": 2.5, \"x\": 1, \"big\": "
                          "123456789012345678901}\n"
                          "{\"x\": \"str\", \"q\\u0041\": [1]}\n");
    scan_all(&r, "rel.json_scan",
             (const char *[]){"path", p, "infer", "true", NULL}, 0);
    is_int(0, r.rc, "json infer runs");
    is_string("a|string\nb|boolean\nbig|double\nm|double\nn|string\n"
              "o|string\nqA|string\nx|string\nz|bigint\n",
              r.text, "json infer: sorted names and widened types");
    result_free(&r);
    for (int i = 0; i < 200; i++) {
        char line[128];
        snprintf(line, sizeof line, "{\"k\": %d, \"v\": \"v,%d\"}\n", i, i);
        sb_str(&t, line);
    }
    p = wfile("split.json", t.s);
    scan_all(&one, "rel.json_scan",
             (const char *[]){"path", p, "schema", "k bigint, v string", NULL},
             0);
    scan_all(&r, "rel.json_scan",
             (const char *[]){"path", p, "schema", "k bigint, v string", NULL},
             41);
    ok(r.nsplits > 50, "json file cut into %d splits", r.nsplits);
    is_int(200, r.rows, "json rows across splits");
    ok(one.text && r.text && strcmp(one.text, r.text) == 0,
       "json split union equals single split");
    result_free(&r);
    result_free(&one);
    free(t.s);
}

/* --------------------------------------------------------------- text */

static void test_text(void)
{
    result r, one;
    const char *p = wfile("t.txt", "one\r\n\ntwo\nthree");
    scan_all(&r, "rel.text_scan", (const char *[]){"path", p, NULL}, 0);
    is_string("value:string", r.header, "text: one column value");
    is_string("one\n\ntwo\nthree\n", r.text,
              "lines without terminators, blank kept");
    result_free(&r);
    scan_all(&one, "rel.text_scan", (const char *[]){"path", p, NULL}, 0);
    scan_all(&r, "rel.text_scan", (const char *[]){"path", p, NULL}, 3);
    is_int(5, r.nsplits, "15 bytes at 3 per split: 5 splits");
    ok(strcmp(one.text, r.text) == 0, "text split union");
    result_free(&r);
    result_free(&one);
}

/* ------------------------------------------------------ paths, params */

static void test_paths_params(void)
{
    result r;
    char msg[1024];
    char dir[512];
    snprintf(dir, sizeof dir, "%s/in", tmpdir);
    mkdir(dir, 0755);
    wfile("in/b.txt", "b1\nb2\n");
    wfile("in/a.txt", "a1\n");
    wfile("in/_SUCCESS", "");
    wfile("in/.hidden", "h\n");
    wfile("in/empty.txt", "");
    scan_all(&r, "rel.text_scan", (const char *[]){"path", dir, NULL}, 0);
    is_int(2, r.nsplits, "directory: two non-empty visible files");
    is_string("a1\nb1\nb2\n", r.text, "directory files sorted by name");
    result_free(&r);
    scan_all(&r, "rel.text_scan",
             (const char *[]){"path", tpath("in/b*.txt"), NULL}, 0);
    is_string("b1\nb2\n", r.text, "glob");
    result_free(&r);
    scan_all(&r, "rel.text_scan",
             (const char *[]){"path", tpath("in/empty.txt"), NULL}, 0);
    is_int(0, r.rc, "empty file plans");
    is_int(0, r.nsplits, "empty file: no split");
    result_free(&r);

    is_int(EMBER_ENOTFOUND,
           scan_err("rel.csv_scan",
                    (const char *[]){"path", tpath("nope.csv"), NULL}, msg),
           "missing path fails plan");
    like(msg, "nope.csv", "the message names the path");
    is_int(EMBER_ENOTFOUND,
           scan_err("rel.json_scan",
                    (const char *[]){"path", tpath("nope*.json"), "schema",
                                     "a int", NULL},
                    msg),
           "glob without match fails plan");
    ok(scan_err("rel.csv_scan", (const char *[]){NULL}, msg) != 0,
       "path is required");
    is_int(EMBER_EINVAL,
           scan_err("rel.csv_scan",
                    (const char *[]){"path", tpath("plain.csv"), "schema",
                                     "a int, b varchar", NULL},
                    msg),
           "unknown type in schema");
    like(msg, "rel.csv_scan: parameter 'schema': unknown type 'varchar'",
         "schema error names op, parameter and type");
    is_int(EMBER_EINVAL,
           scan_err("rel.csv_scan",
                    (const char *[]){"path", tpath("plain.csv"), "schema",
                                     "a int b string", NULL},
                    msg),
           "missing comma in schema");
    like(msg, "expected ','", "schema error says what");
    is_int(EMBER_EINVAL,
           scan_err(
               "rel.csv_scan",
               (const char *[]){"path", tpath("plain.csv"), "sep", ";;", NULL},
               msg),
           "sep longer than one byte");
    like(msg, "rel.csv_scan: parameter 'sep'", "sep error named");
    is_int(EMBER_EINVAL,
           scan_err("rel.csv_scan",
                    (const char *[]){"path", tpath("plain.csv"), "mode",
                                     "LENIENT", NULL},
                    msg),
           "unknown mode");
    like(msg, "parameter 'mode'", "mode error named");
    is_int(EMBER_EINVAL,
           scan_err("rel.csv_scan",
                    (const char *[]){"path", tpath("plain.csv"), "schema",
                                     "a int, b int", "columns", "(0 2)", NULL},
                    msg),
           "column index out of range");
    like(msg, "parameter 'columns': column index 2 out of range", "range");
    is_int(EMBER_EINVAL,
           scan_err("rel.csv_scan",
                    (const char *[]){"path", tpath("plain.csv"), "columns",
                                     "(a", NULL},
                    msg),
           "bad columns text");
    is_int(EMBER_EINVAL,
           scan_err("rel.json_scan",
                    (const char *[]){"path", tpath("a.json"), NULL}, msg),
           "json without schema or infer");
    like(msg, "rel.json_scan: parameter 'schema' is required", "named");
    /* backquoted names */
    scan_all(&r, "rel.csv_scan",
             (const char *[]){"path", tpath("plain.csv"), "header", "true",
                              "schema", "`my col` bigint,`b``q` long", NULL},
             0);
    is_string("my col:bigint,b`q:bigint", r.header, "backquoted DDL names");
    is_string("1|2\n3|4\n", r.text, "values under backquoted names");
    result_free(&r);
}

/* ------------------------------------------------------------ writers */

static ember_batch *sample_batch(void)
{
    ember_batch *b = batch_new();
    batch_add_column(b, "i", EMBER_TYPE_INT32);
    batch_add_column(b, "d", EMBER_TYPE_DOUBLE);
    batch_add_column(b, "s", EMBER_TYPE_STRING);
    batch_add_column(b, "ok", EMBER_TYPE_BOOL);
    batch_add_column(b, "day", EMBER_TYPE_DATE32);
    batch_add_column(b, "ts", EMBER_TYPE_TIMESTAMP);
    batch_add_column(b, "l", EMBER_TYPE_INT64);
    /* row 0 */
    batch_append_i64(b, 0, 1);
    batch_append_f64(b, 1, 1.0);
    batch_append_str(b, 2, "plain", 5);
    batch_append_i64(b, 3, 1);
    batch_append_i64(b, 4, 19797);
    batch_append_i64(b, 5, 1710506096500000LL);
    batch_append_i64(b, 6, INT64_MIN);
    /* row 1 */
    batch_append_i64(b, 0, -7);
    batch_append_f64(b, 1, 1e10);
    batch_append_str(b, 2, "a,\"b\"", 5);
    batch_append_i64(b, 3, 0);
    batch_append_i64(b, 4, -1);
    batch_append_i64(b, 5, -1);
    batch_append_i64(b, 6, 42);
    /* row 2: nulls and an empty string */
    batch_append_null(b, 0);
    batch_append_f64(b, 1, 0.001);
    batch_append_str(b, 2, "", 0);
    batch_append_null(b, 3);
    batch_append_null(b, 4);
    batch_append_null(b, 5);
    batch_append_null(b, 6);
    /* row 3 */
    batch_append_i64(b, 0, 0);
    batch_append_f64(b, 1, NAN);
    batch_append_null(b, 2);
    batch_append_i64(b, 3, 1);
    batch_append_i64(b, 4, 0);
    batch_append_i64(b, 5, 1710460800000000LL);
    batch_append_i64(b, 6, 0);
    /* row 4 */
    batch_append_i64(b, 0, 5);
    batch_append_f64(b, 1, 123456.789);
    batch_append_str(b, 2, "line\nbreak\t\x01", 12);
    batch_append_i64(b, 3, 0);
    batch_append_i64(b, 4, 11016);
    batch_append_i64(b, 5, 1000);
    batch_append_i64(b, 6, 9);
    return b;
}

static void test_doubles(void)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {1.0, "1.0"},
        {1e10, "1.0E10"},
        {0.001, "0.001"},
        {1e-4, "1.0E-4"},
        {123456.789, "123456.789"},
        {-0.0, "-0.0"},
        {1e7, "1.0E7"},
        {9999999.0, "9999999.0"},
        {0.1 + 0.2, "0.30000000000000004"},
        {-2.5e-10, "-2.5E-10"},
        {INFINITY, "Infinity"},
        {-INFINITY, "-Infinity"},
        {1.7976931348623157e308, "1.7976931348623157E308"},
        {100.0, "100.0"},
        {4.9e-324, "4.9E-324"},
        {1.11, "1.11"},
        {1234.5, "1234.5"},
        {-3.25, "-3.25"},
        {0.0123, "0.0123"},
        {9999999.999, "9999999.999"},
        {2.0 / 3.0, "0.6666666666666666"},
        {123e20, "1.23E22"},
    };
    char dir[512];
    snprintf(dir, sizeof dir, "%s/dbl", tmpdir);
    mkdir(dir, 0755);
    ember_batch *b = batch_new();
    batch_add_column(b, "d", EMBER_TYPE_DOUBLE);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        batch_append_f64(b, 0, cases[i].d);
    rh_op *o =
        rh_open("rel.csv_write", (const char *[]){"path", dir, NULL}, NULL);
    ok(o != NULL, "csv_write opens");
    is_int(0, rh_push(o, b), "push doubles");
    is_int(0, rh_finish(o), "finish");
    rh_close(o);
    char *txt = slurp(tpath("dbl/part-00000.csv"));
    char *line = txt;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && line; i++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        is_string(cases[i].want, line, "double %.17g as Java", cases[i].d);
        line = nl ? nl + 1 : NULL;
    }
    free(txt);
    batch_destroy(&b);
}

static void test_csv_write(void)
{
    char dir[512];
    struct stat st;
    ember_batch *b = sample_batch();
    rh_op *o;
    char *txt;
    snprintf(dir, sizeof dir, "%s/out", tmpdir);
    mkdir(dir, 0755);
    o = rh_open("rel.csv_write",
                (const char *[]){"path", dir, "header", "true", NULL}, NULL);
    ok(o != NULL, "csv_write opens");
    is_int(0, rh_push(o, b), "push a batch");
    is_int(0, rh_push(o, b), "push it again");
    ok(stat(tpath("out/part-00000-0.csv.tmp"), &st) == 0,
       "temp file while running");
    ok(stat(tpath("out/part-00000.csv"), &st) != 0, "no part file yet");
    is_int(0, rh_finish(o), "finish commits");
    ok(stat(tpath("out/part-00000-0.csv.tmp"), &st) != 0, "temp file gone");
    rh_close(o);
    txt = slurp(tpath("out/part-00000.csv"));
    {
        const char *rows =
            "1,1.0,plain,true,2024-03-15,2024-03-15 12:34:56.5,"
            "-9223372036854775808\n"
            "-7,1.0E10,\"a,\"\"b\"\"\",false,1969-12-31,1969-12-31 "
            "23:59:59.999999,42\n"
            ",0.001,\"\",,,,\n"
            "0,NaN,,true,1970-01-01,2024-03-15 00:00:00,0\n"
            "5,123456.789,\"line\nbreak\t\x01\",false,2000-02-29,1970-01-01 "
            "00:00:00.001,9\n";
        sb want = {0};
        sb_str(&want, "i,d,s,ok,day,ts,l\n");
        sb_str(&want, rows);
        sb_str(&want, rows);
        is_string(want.s, txt, "csv text: header once, values, quoting");
        free(want.s);
    }
    free(txt);

    /* round trip through csv_scan */
    {
        result r;
        scan_all(&r, "rel.csv_scan",
                 (const char *[]){"path", tpath("out/part-00000.csv"), "header",
                                  "true", "schema",
                                  "i int, d double, s string, ok boolean, "
                                  "day date, ts timestamp, l bigint",
                                  "mode", "FAILFAST", NULL},
                 0);
        is_int(0, r.rc, "written csv scans back (%s)", r.err);
        is_int(10, r.rows, "10 rows back");
        like(r.text,
             "1|1|plain|true|19797|1710506096500000|-9223372036854775808\n"
             "-7|10000000000|a,\"b\"|false|-1|-1|42\n"
             "null|0.001||null|null|null|null\n"
             "0|nan|null|true|0|1710460800000000|0\n"
             "5|123456.789|line\nbreak\t\x01|false|11016|1000|9\n",
             "round trip keeps values, NULL vs empty string");
        result_free(&r);
    }

    /* close without finish removes the temp file; options */
    o = rh_open(
        "rel.csv_write",
        (const char *[]){"path", dir, "sep", "\\t", "null_value", "NA", NULL},
        NULL);
    is_int(0, rh_push(o, b), "push tsv");
    ok(stat(tpath("out/part-00000-0.csv.tmp"), &st) == 0, "tsv temp exists");
    rh_close(o);
    ok(stat(tpath("out/part-00000-0.csv.tmp"), &st) != 0,
       "close without finish removes the temp file");
    {
        ember_batch *s = batch_new();
        char *t2;
        batch_add_column(s, "v", EMBER_TYPE_STRING);
        batch_append_str(s, 0, "NA", 2);
        batch_append_null(s, 0);
        batch_append_str(s, 0, "a\tb", 3);
        o = rh_open("rel.csv_write",
                    (const char *[]){"path", dir, "sep", "\\t", "null_value",
                                     "NA", NULL},
                    NULL);
        rh_push(o, s);
        rh_finish(o);
        rh_close(o);
        t2 = slurp(tpath("out/part-00000.csv"));
        is_string("\"NA\"\nNA\n\"a\tb\"\n", t2,
                  "a string equal to null_value is quoted; NULL is not");
        free(t2);
        batch_destroy(&s);
    }
    batch_destroy(&b);
}

static void test_json_write(void)
{
    char dir[512];
    ember_batch *b = sample_batch();
    rh_op *o;
    char *txt;
    snprintf(dir, sizeof dir, "%s/jout", tmpdir);
    mkdir(dir, 0755);
    o = rh_open_ex("rel.json_write", (const char *[]){"path", dir, NULL}, NULL,
                   -1, NULL);
    ok(o != NULL, "json_write opens");
    is_int(0, rh_push(o, b), "push json");
    is_int(0, rh_finish(o), "json finish");
    rh_close(o);
    txt = slurp(tpath("jout/part-00000.json"));
    is_string(
        "{\"i\":1,\"d\":1.0,\"s\":\"plain\",\"ok\":true,\"day\":\"2024-03-15\","
        "\"ts\":\"2024-03-15 12:34:56.5\",\"l\":-9223372036854775808}\n"
        "{\"i\":-7,\"d\":1.0E10,\"s\":\"a,\\\"b\\\"\",\"ok\":false,\"day\":"
        "\"1969-12-31\",\"ts\":\"1969-12-31 23:59:59.999999\",\"l\":42}\n"
        "{\"d\":0.001,\"s\":\"\"}\n"
        "{\"i\":0,\"d\":\"NaN\",\"ok\":true,\"day\":\"1970-01-01\",\"ts\":"
        "\"2024-03-15 00:00:00\",\"l\":0}\n"
        "{\"i\":5,\"d\":123456.789,\"s\":\"line\\u000abreak\\u0009\\u0001\","
        "\"ok\":false,\"day\":\"2000-02-29\",\"ts\":\"1970-01-01 "
        "00:00:00.001\",\"l\":9}\n",
        txt, "json text: nulls omitted, escapes, NaN as string");
    free(txt);
    /* round trip through json_scan */
    {
        result r;
        scan_all(&r, "rel.json_scan",
                 (const char *[]){"path", tpath("jout/part-00000.json"),
                                  "schema",
                                  "i int, d double, s string, ok boolean, "
                                  "day date, ts timestamp, l bigint",
                                  "mode", "FAILFAST", NULL},
                 0);
        is_int(0, r.rc, "written json scans back (%s)", r.err);
        is_string("1|1|plain|true|19797|1710506096500000|-9223372036854775808\n"
                  "-7|10000000000|a,\"b\"|false|-1|-1|42\n"
                  "null|0.001||null|null|null|null\n"
                  "0|nan|null|true|0|1710460800000000|0\n"
                  "5|123456.789|line\nbreak\t\x01|false|11016|1000|9\n",
                  r.text, "json round trip");
        result_free(&r);
    }
    /* unsupported column type */
    {
        ember_batch *bb = batch_new();
        batch_add_column(bb, "bin", EMBER_TYPE_BINARY);
        batch_append_str(bb, 0, "x", 1);
        o = rh_open("rel.json_write", (const char *[]){"path", dir, NULL},
                    NULL);
        is_int(EMBER_EUNSUPPORTED, rh_push(o, bb), "binary column refused");
        like(o->err.msg, "column 'bin' has type binary", "and named");
        rh_close(o);
        batch_destroy(&bb);
    }
    /* bad params of writers */
    {
        ember_error e = {0, ""};
        o = rh_open_ex("rel.csv_write",
                       (const char *[]){"path", dir, "sep", "ab", NULL}, NULL,
                       -1, &e);
        ok(o == NULL, "csv_write refuses a two-byte sep");
        like(e.msg, "rel.csv_write: parameter 'sep'", "named");
        o = rh_open_ex("rel.csv_write",
                       (const char *[]){"path", tpath("no/such/dir"), NULL},
                       NULL, -1, &e);
        ok(o == NULL, "csv_write into a missing directory fails");
        like(e.msg, "cannot create", "with a message");
    }
    batch_destroy(&b);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/rel_scan_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir))
        bail("mkdtemp failed");
    rh_init();
    test_csv_types();
    test_csv_noschema();
    test_csv_quotes();
    test_csv_modes();
    test_csv_splits();
    test_csv_infer();
    test_json();
    test_json_modes();
    test_json_infer_splits();
    test_text();
    test_paths_params();
    test_doubles();
    test_csv_write();
    test_json_write();
    rmtree(tmpdir);
    return done_testing();
}
