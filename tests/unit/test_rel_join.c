/*
 * test_rel_join.c -- rel.hash_join: every join type with NULL keys and
 * duplicates on both sides, multi-column keys, empty sides, right/full
 * unmatched rows, a large join against a reference, output split into
 * batches, and bad parameters.
 */
#include "tap/tap.h"
#include "rel_harness.h"

/* ------------------------------------------------------------ helpers */

#define mkb rh_batch

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All output rows joined by '|', sorted, rows joined by ';'. */
static const char *all_rows(const rh_op *o)
{
    static char out[16384];
    int64_t nr = rh_rows(o);
    int nc = o->nout ? batch_num_columns(o->out[0]) : 0;
    char **rows = calloc((size_t)nr + 1, sizeof *rows);
    size_t len = 0;
    for (int64_t r = 0; r < nr; r++) {
        char line[1024];
        size_t l = 0;
        line[0] = 0;
        for (int c = 0; c < nc && l < sizeof line - 1; c++)
            l += (size_t)snprintf(line + l, sizeof line - l, "%s%.*s",
                                  c ? "|" : "", 200, rh_cell(o, r, c));
        rows[r] = strdup(line);
    }
    qsort(rows, (size_t)nr, sizeof *rows, cmp_str);
    out[0] = 0;
    for (int64_t r = 0; r < nr; r++) {
        if (len < sizeof out - 1)
            len += (size_t)snprintf(out + len, sizeof out - len, "%s%s",
                                    r ? ";" : "", rows[r]);
        free(rows[r]);
    }
    free(rows);
    return out;
}

static rh_op *jopen(const char *how, const char *lk, const char *rk,
                    const char *rtypes, const char *ltypes)
{
    return rh_open("rel.hash_join",
                   (const char *[]){"how", how, "left_keys", lk, "right_keys",
                                    rk, "right_types", rtypes, "left_types",
                                    ltypes, NULL},
                   NULL);
}

static ember_type out_type(const rh_op *o, int c)
{
    ember_column col;
    if (o->nout == 0 || batch_column(o->out[0], c, &col))
        return (ember_type)-1;
    return col.type;
}

/* ---------------------------------------------------------- small joins */

static const char *const ln[] = {"id", "lv"};
static const ember_type lt[] = {EMBER_TYPE_INT64, EMBER_TYPE_STRING};
static const char *const rn[] = {"rid", "rv"};
static const ember_type rt[] = {EMBER_TYPE_INT64, EMBER_TYPE_DOUBLE};
static const char *const RT = "((\"rid\" bigint) (\"rv\" double))";
static const char *const LT = "((\"id\" bigint) (\"lv\" string))";

static rh_op *run_small(const char *how)
{
    const char *l1[] = {"1", "a", "2", "b", "2", "b2"};
    const char *l2[] = {"~", "n", "3", "c", "5", "e"};
    const char *r1[] = {"2", "20", "2", "21", "3", "30"};
    const char *r2[] = {"~", "99", "4", "40", "4", "41"};
    ember_batch *bl1 = mkb(2, ln, lt, 3, l1), *bl2 = mkb(2, ln, lt, 3, l2);
    ember_batch *br1 = mkb(2, rn, rt, 3, r1), *br2 = mkb(2, rn, rt, 3, r2);
    rh_op *o = jopen(how, "(0)", "(0)", RT, "()");
    int rc = 0;
    if (o) {
        rc |= rh_push_input(o, 1, br1);
        rc |= rh_push_input(o, 1, br2);
        rc |= rh_push(o, bl1);
        rc |= rh_push(o, bl2);
        rc |= rh_finish(o);
    }
    ok(o && rc == 0, "%s join runs", how);
    batch_destroy(&bl1);
    batch_destroy(&bl2);
    batch_destroy(&br1);
    batch_destroy(&br2);
    return o;
}

static void test_small(void)
{
    rh_op *o = run_small("inner");
    is_int(4, batch_num_columns(o->out[0]), "inner: left + right columns");
    is_string("rid", batch_column_name(o->out[0], 2), "right names kept");
    is_int(EMBER_TYPE_DOUBLE, out_type(o, 3), "right types kept");
    is_string("2|b2|2|20;2|b2|2|21;2|b|2|20;2|b|2|21;3|c|3|30", all_rows(o),
              "inner: many-to-many, NULL keys never match");
    rh_close(o);

    o = run_small("left");
    is_string("1|a|null|null;2|b2|2|20;2|b2|2|21;2|b|2|20;2|b|2|21;3|c|3|30;"
              "5|e|null|null;null|n|null|null",
              all_rows(o), "left: unmatched left rows with NULL right");
    rh_close(o);

    o = run_small("right");
    is_string("2|b2|2|20;2|b2|2|21;2|b|2|20;2|b|2|21;3|c|3|30;"
              "null|null|4|40;null|null|4|41;null|null|null|99",
              all_rows(o), "right: unmatched right rows (NULL key too)");
    rh_close(o);

    o = run_small("full");
    is_string("1|a|null|null;2|b2|2|20;2|b2|2|21;2|b|2|20;2|b|2|21;3|c|3|30;"
              "5|e|null|null;null|null|4|40;null|null|4|41;null|null|null|99;"
              "null|n|null|null",
              all_rows(o), "full: both sides' unmatched rows");
    rh_close(o);

    o = run_small("semi");
    is_int(2, batch_num_columns(o->out[0]), "semi: left columns only");
    is_string("2|b;2|b2;3|c", all_rows(o), "semi: each matching left row once");
    rh_close(o);

    o = run_small("anti");
    is_int(2, batch_num_columns(o->out[0]), "anti: left columns only");
    is_string("1|a;5|e;null|n", all_rows(o),
              "anti: unmatched left rows, NULL key included");
    rh_close(o);
}

static void test_multi_key(void)
{
    static const char *const n1[] = {"a", "s", "x"};
    static const ember_type t1[] = {EMBER_TYPE_INT32, EMBER_TYPE_STRING,
                                    EMBER_TYPE_INT64};
    static const char *const n2[] = {"s", "y", "a"};
    static const ember_type t2[] = {EMBER_TYPE_STRING, EMBER_TYPE_INT64,
                                    EMBER_TYPE_INT64};
    const char *lc[] = {"1", "p", "10", "1", "q", "11", "2", "p", "12",
                        "1", "",  "13", "~", "p", "14", "1", "~", "15"};
    const char *rc[] = {"p", "100", "1", "p", "101", "2", "",  "102", "1",
                        "q", "103", "2", "~", "104", "1", "p", "105", "1"};
    ember_batch *l = mkb(3, n1, t1, 6, lc), *r = mkb(3, n2, t2, 6, rc);
    rh_op *o = jopen("inner", "(1 0)", "(0 2)", "()", "()");
    rh_push_input(o, 1, r);
    rh_push(o, l);
    rh_finish(o);
    is_string("1|p|10|p|100|1;1|p|10|p|105|1;1||13||102|1;2|p|12|p|101|2",
              all_rows(o),
              "two-column key (string, int vs bigint), empty string matches");
    rh_close(o);
    o = jopen("anti", "(1 0)", "(0 2)", "()", "()");
    rh_push_input(o, 1, r);
    rh_push(o, l);
    rh_finish(o);
    is_string("1|null|15;1|q|11;null|p|14", all_rows(o),
              "multi-key anti: partial NULL keys never match");
    rh_close(o);
    batch_destroy(&l);
    batch_destroy(&r);
}

static void test_double_keys(void)
{
    static const char *const n[] = {"d"};
    static const ember_type t[] = {EMBER_TYPE_DOUBLE};
    const char *lc[] = {"nan", "0", "1.5", "~"};
    const char *rc[] = {"-nan", "-0.0", "2.5", "~"};
    ember_batch *l = mkb(1, n, t, 4, lc), *r = mkb(1, n, t, 4, rc);
    rh_op *o = jopen("inner", "(0)", "(0)", "()", "()");
    rh_push_input(o, 1, r);
    rh_push(o, l);
    rh_finish(o);
    is_int(2, rh_rows(o), "double keys: NaN = NaN, 0.0 = -0.0, NULL no match");
    rh_close(o);
    batch_destroy(&l);
    batch_destroy(&r);
}

/* ----------------------------------------------------------- empty sides */

static void test_empty_sides(void)
{
    const char *l1[] = {"1", "a", "~", "n"};
    const char *r1[] = {"1", "10", "~", "11", "2", "12"};
    ember_batch *bl = mkb(2, ln, lt, 2, l1), *br = mkb(2, rn, rt, 3, r1);
    ember_batch *bl0 = mkb(2, ln, lt, 0, NULL);
    const char *hows[] = {"inner", "left", "right", "full", "semi", "anti"};
    const char *want_noright[] = {"", "1|a|null|null;null|n|null|null",
                                  "", "1|a|null|null;null|n|null|null",
                                  "", "1|a;null|n"};
    const char *want_noleft[] = {"",
                                 "",
                                 "null|null|1|10;null|null|2|12;"
                                 "null|null|null|11",
                                 "null|null|1|10;null|null|2|12;"
                                 "null|null|null|11",
                                 "",
                                 ""};
    for (int i = 0; i < 6; i++) {
        rh_op *o = jopen(hows[i], "(0)", "(0)", RT, LT);
        int rc = rh_push(o, bl) | rh_finish(o);
        ok(rc == 0, "%s: no right batch at all runs", hows[i]);
        is_string(want_noright[i], all_rows(o), "%s: no right batch", hows[i]);
        if (i == 1) {
            is_int(4, batch_num_columns(o->out[0]),
                   "left, no right batch: right columns from right_types");
            is_string("rv", batch_column_name(o->out[0], 3),
                      "right_types names");
            is_int(EMBER_TYPE_DOUBLE, out_type(o, 3), "right_types types");
        }
        rh_close(o);

        o = jopen(hows[i], "(0)", "(0)", RT, LT);
        rc = rh_push_input(o, 1, br) | rh_finish(o);
        ok(rc == 0, "%s: no left batch at all runs", hows[i]);
        is_string(want_noleft[i], all_rows(o), "%s: no left batch", hows[i]);
        if (i == 2) {
            is_string("lv", batch_column_name(o->out[0], 1),
                      "right, no left batch: left columns from left_types");
            is_int(EMBER_TYPE_STRING, out_type(o, 1), "left_types types");
        }
        rh_close(o);

        o = jopen(hows[i], "(0)", "(0)", RT, "()");
        rc = rh_push_input(o, 1, br) | rh_push(o, bl0) | rh_finish(o);
        ok(rc == 0, "%s: an empty left batch", hows[i]);
        is_string(want_noleft[i], all_rows(o), "%s: empty left batch", hows[i]);
        rh_close(o);
    }
    {
        rh_op *o = jopen("left", "(0)", "(0)", "()", "()");
        ok(rh_push(o, bl) == EMBER_EINVAL,
           "left join, no right batch, no right_types: error");
        like(o->err.msg, "right_types", "message names right_types");
        rh_close(o);
        o = jopen("right", "(0)", "(0)", "()", "()");
        rh_push_input(o, 1, br);
        ok(rh_finish(o) == EMBER_EINVAL,
           "right join, no left batch, no left_types: error");
        like(o->err.msg, "left_types", "message names left_types");
        rh_close(o);
    }
    batch_destroy(&bl);
    batch_destroy(&bl0);
    batch_destroy(&br);
}

/* -------------------------------------------------------- bigger joins */

static void test_split_output(void)
{
    static const char *const n[] = {"k", "i"};
    static const ember_type t[] = {EMBER_TYPE_STRING, EMBER_TYPE_INT64};
    ember_batch *l = batch_new(), *r = batch_new();
    rh_op *o = jopen("inner", "(0)", "(0)", "()", "()");
    int64_t maxb = 0, sum = 0, want = 0;
    batch_add_column(l, n[0], t[0]);
    batch_add_column(l, n[1], t[1]);
    batch_add_column(r, n[0], t[0]);
    batch_add_column(r, n[1], t[1]);
    for (int i = 0; i < 100; i++) {
        batch_append_str(l, 0, "key", 3);
        batch_append_i64(l, 1, i);
    }
    for (int i = 0; i < 200; i++) {
        batch_append_str(r, 0, "key", 3);
        batch_append_i64(r, 1, 1000 + i);
    }
    rh_push_input(o, 1, r);
    rh_push(o, l);
    rh_finish(o);
    is_int(20000, rh_rows(o), "100 x 200 on one key: 20000 rows");
    for (int i = 0; i < o->nout; i++) {
        ember_column a, b;
        int64_t nr = batch_num_rows(o->out[i]);
        if (nr > maxb)
            maxb = nr;
        batch_column(o->out[i], 1, &a);
        batch_column(o->out[i], 3, &b);
        for (int64_t k = 0; k < nr; k++)
            sum += ((const int64_t *)a.data)[k] * 100000 +
                   ((const int64_t *)b.data)[k];
    }
    for (int i = 0; i < 100; i++)
        for (int j = 0; j < 200; j++)
            want += (int64_t)i * 100000 + 1000 + j;
    ok(o->nout >= 3 && maxb <= 8192, "split into %d batches of <= 8192 rows",
       o->nout);
    is_int(want, sum, "every (left, right) pair exactly once");
    rh_close(o);
    batch_destroy(&l);
    batch_destroy(&r);
}

#define NL 100000
#define NR 50000

static int64_t lkey(int i)
{
    return (int64_t)((i * 7u) % 60000);
}
static int64_t rkey(int i)
{
    return (int64_t)(i % 40000) * 2; /* keys past 60000 never match */
}

static void test_large(const char *how, int64_t mem_limit)
{
    static int cnt[80000];
    static int seen[NL];
    static uint8_t rseen[NR];
    rh_op *o = rh_open_ex("rel.hash_join",
                          (const char *[]){"how", how, "left_keys", "(0)",
                                           "right_keys", "(1)", NULL},
                          NULL, mem_limit, NULL);
    int64_t want = 0, bad = 0, maxb = 0, nullr = 0, nulll = 0;
    int full = strcmp(how, "full") == 0;
    int lo = full || strcmp(how, "left") == 0;
    memset(cnt, 0, sizeof cnt);
    memset(seen, 0, sizeof seen);
    memset(rseen, 0, sizeof rseen);
    for (int i = 0; i < NR; i++)
        cnt[rkey(i)]++;
    for (int b0 = 0; b0 < NR; b0 += 10000) {
        ember_batch *b = batch_new();
        batch_add_column(b, "rpay", EMBER_TYPE_INT32);
        batch_add_column(b, "rkey", EMBER_TYPE_INT64);
        for (int i = b0; i < b0 + 10000; i++) {
            batch_append_i64(b, 0, i);
            batch_append_i64(b, 1, rkey(i));
        }
        rh_push_input(o, 1, b);
        batch_destroy(&b);
    }
    for (int b0 = 0; b0 < NL; b0 += 8000) {
        ember_batch *b = batch_new();
        batch_add_column(b, "lkey", EMBER_TYPE_INT64);
        batch_add_column(b, "lpay", EMBER_TYPE_INT64);
        for (int i = b0; i < b0 + 8000 && i < NL; i++) {
            batch_append_i64(b, 0, lkey(i));
            batch_append_i64(b, 1, i);
        }
        rh_push(o, b);
        batch_destroy(&b);
    }
    rh_finish(o);
    for (int i = 0; i < NL; i++)
        want += cnt[lkey(i)];
    for (int i = 0; i < o->nout; i++) {
        ember_column lk, lp, rp, rk;
        int64_t n = batch_num_rows(o->out[i]);
        if (n > maxb)
            maxb = n;
        batch_column(o->out[i], 0, &lk);
        batch_column(o->out[i], 1, &lp);
        batch_column(o->out[i], 2, &rp);
        batch_column(o->out[i], 3, &rk);
        for (int64_t r = 0; r < n; r++) {
            int lnull = lk.validity && !((lk.validity[r / 8] >> (r % 8)) & 1);
            int rnull = rp.validity && !((rp.validity[r / 8] >> (r % 8)) & 1);
            int64_t l = ((const int64_t *)lp.data)[r];
            int32_t rr = ((const int32_t *)rp.data)[r];
            if (rnull && lnull) {
                bad++;
            } else if (rnull) {
                nullr++;
                if (l < 0 || l >= NL || cnt[lkey((int)l)] != 0)
                    bad++;
                else
                    seen[l]++;
            } else if (lnull) {
                nulll++;
                if (rr < 0 || rr >= NR || rseen[rr])
                    bad++;
                else
                    rseen[rr] = 2;
            } else {
                if (l < 0 || l >= NL || rr < 0 || rr >= NR ||
                    lkey((int)l) != rkey(rr) ||
                    ((const int64_t *)lk.data)[r] != lkey((int)l) ||
                    ((const int64_t *)rk.data)[r] != rkey(rr))
                    bad++;
                else {
                    seen[l]++;
                    if (!rseen[rr])
                        rseen[rr] = 1;
                }
            }
        }
    }
    for (int i = 0; i < NL; i++)
        if (seen[i] != (cnt[lkey(i)] ? cnt[lkey(i)] : lo))
            bad++;
    if (full)
        for (int i = 0; i < NR; i++)
            if (!rseen[i])
                bad++;
    is_int(want + (lo ? nullr : 0) + (full ? nulll : 0), rh_rows(o),
           "%s 100k x 50k: row count matches the reference", how);
    is_int(0, bad,
           "%s 100k x 50k: every pair correct, each left row matched "
           "as often as the reference says",
           how);
    ok(maxb <= 8192 && o->nout > 10, "%s: %d output batches of <= 8192 rows",
       how, o->nout);
    if (full)
        ok(nullr > 0 && nulll > 0,
           "full: unmatched on both sides (%lld, "
           "%lld)",
           (long long)nullr, (long long)nulll);
    rh_close(o);
}

/* ---------------------------------------------------------- bad params */

static void bad(const char *how, const char *lk, const char *rk,
                const char *rtypes, const char *want, const char *what)
{
    ember_error err = {0, ""};
    const char *kv[12];
    int n = 0;
    kv[n++] = "how";
    kv[n++] = how;
    if (lk) {
        kv[n++] = "left_keys";
        kv[n++] = lk;
    }
    if (rk) {
        kv[n++] = "right_keys";
        kv[n++] = rk;
    }
    kv[n++] = "right_types";
    kv[n++] = rtypes;
    kv[n] = NULL;
    rh_op *o = rh_open_ex("rel.hash_join", kv, NULL, -1, &err);
    ok(o == NULL, "rejected: %s", what);
    like(err.msg, want, "message for %s", what);
    rh_close(o);
}

static void test_bad(void)
{
    bad("outer", "(0)", "(0)", "()", "how", "unknown how");
    bad("inner", NULL, "(0)", "()", "left_keys", "missing left_keys");
    bad("inner", "(0)", NULL, "()", "right_keys", "missing right_keys");
    bad("inner", "(0 1)", "(0)", "()", "right_keys", "keys of unequal length");
    bad("inner", "()", "()", "()", "left_keys", "no keys");
    bad("inner", "(x)", "(0)", "()", "left_keys", "non-numeric key");
    bad("inner", "(0)", "(0)", "((\"a\" widget))", "right_types",
        "unknown type in right_types");
    bad("inner", "(0)", "(3)", "((\"a\" int))", "right_keys",
        "right key beyond right_types");
    {
        static const char *const n[] = {"s"};
        static const ember_type t[] = {EMBER_TYPE_STRING};
        const char *c[] = {"x"};
        ember_batch *l = mkb(1, n, t, 1, c);
        const char *r1[] = {"1", "2"};
        ember_batch *r = mkb(2, rn, rt, 1, r1);
        rh_op *o = jopen("inner", "(0)", "(0)", "()", "()");
        rh_push_input(o, 1, r);
        ok(rh_push(o, l) == EMBER_EINVAL, "string vs bigint key: error");
        like(o->err.msg, "compares string", "key type mismatch message");
        rh_close(o);
        o = jopen("inner", "(0)", "(0)", RT, "()");
        ok(rh_push_input(o, 1, l) == EMBER_EINVAL,
           "right batch not matching right_types: error");
        like(o->err.msg, "right batch has 1 columns", "schema message");
        rh_close(o);
        o = jopen("inner", "(0)", "(0)", "()", "()");
        rh_push_input(o, 1, r);
        rh_push(o, r);
        ok(rh_push_input(o, 1, r) == EMBER_EINVAL,
           "right batch after left batches: error");
        ok(rh_push(o, l) == EMBER_EINVAL, "left batch changing schema: error");
        rh_close(o);
        batch_destroy(&l);
        batch_destroy(&r);
    }
}

int main(void)
{
    rh_init();
    test_small();
    test_multi_key();
    test_double_keys();
    test_empty_sides();
    test_split_output();
    test_large("inner", -1);
    test_large("full", -1);
    test_large("left", 1 << 20); /* refused memory: goes on, warns */
    test_bad();
    return done_testing();
}
