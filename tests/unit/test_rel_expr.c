/*
 * test_rel_expr.c -- the expression evaluator and the row-wise operators
 * of op_relational (expr_int.h: expr_compile.c, expr_eval.c, expr_func.c,
 * rowwise.c, explode.c, partition.c): rel.filter, rel.project,
 * rel.explode, rel.partition, rel.limit, driven through the real host.
 *
 * Expected values are worked out by hand from Spark's semantics (see
 * docs/dataframe-internals.md), never by running the code under test.
 */
#include "tap/tap.h"
#include "rel_harness.h"

#include <math.h>

/* ------------------------------------------------------------ helpers */

#define KV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* the table most expression tests run on: five rows, one of them
 * (row 2) NULL in every column */
static ember_batch *tbatch(void)
{
    ember_batch *b = batch_new();
    batch_add_column(b, "i", EMBER_TYPE_INT32);
    batch_add_column(b, "l", EMBER_TYPE_INT64);
    batch_add_column(b, "d", EMBER_TYPE_DOUBLE);
    batch_add_column(b, "s", EMBER_TYPE_STRING);
    batch_add_column(b, "b", EMBER_TYPE_BOOL);
    batch_add_column(b, "dt", EMBER_TYPE_DATE32);
    batch_add_column(b, "ts", EMBER_TYPE_TIMESTAMP);
    /* row 0 */
    batch_append_i64(b, 0, 1);
    batch_append_i64(b, 1, 10);
    batch_append_f64(b, 2, 1.5);
    batch_append_str(b, 3, "Hello", 5);
    batch_append_i64(b, 4, 1);
    batch_append_i64(b, 5, 0);
    batch_append_i64(b, 6, 0);
    /* row 1 */
    batch_append_i64(b, 0, -2);
    batch_append_i64(b, 1, 20);
    batch_append_f64(b, 2, NAN);
    batch_append_str(b, 3, "", 0);
    batch_append_i64(b, 4, 0);
    batch_append_i64(b, 5, -1);
    batch_append_i64(b, 6, -1);
    /* row 2: all null */
    for (int c = 0; c < 7; c++)
        if (c != 1)
            batch_append_null(b, c);
    batch_append_i64(b, 1, 30);
    /* row 3 */
    batch_append_i64(b, 0, 2147483647);
    batch_append_null(b, 1);
    batch_append_f64(b, 2, -0.0);
    batch_append_str(b, 3, "  pad  ", 7);
    batch_append_i64(b, 4, 1);
    batch_append_i64(b, 5, 18262); /* 2020-01-01 */
    batch_append_i64(b, 6, 1577836800123456LL);
    /* row 4 */
    batch_append_i64(b, 0, 0);
    batch_append_i64(b, 1, INT64_MAX);
    batch_append_f64(b, 2, 1e10);
    batch_append_str(b, 3, "h\xc3\xa9llo", 6);
    batch_append_i64(b, 4, 0);
    batch_append_i64(b, 5, 11016); /* 2000-02-29 */
    batch_append_i64(b, 6, 86400000000LL);
    return b;
}

/* one string column */
static ember_batch *sbatch(const char *const *v, int n)
{
    ember_batch *b = batch_new();
    batch_add_column(b, "s", EMBER_TYPE_STRING);
    for (int i = 0; i < n; i++)
        if (v[i])
            batch_append_str(b, 0, v[i], strlen(v[i]));
        else
            batch_append_null(b, 0);
    return b;
}

static char joined[65536];

/* column c of every emitted row, joined with ',' */
static const char *join_col(const rh_op *o, int c)
{
    int64_t n = rh_rows(o);
    size_t len = 0;
    joined[0] = 0;
    for (int64_t r = 0; r < n; r++) {
        const char *cell = rh_cell(o, r, c);
        len += (size_t)snprintf(joined + len, sizeof joined - len, "%s%s",
                                r ? "," : "", cell);
        if (len >= sizeof joined)
            break;
    }
    return joined;
}

/* evaluate EXPR over b with rel.project; the result column joined, or
 * "ERR: message" */
static const char *ev(const ember_batch *b, const char *expr)
{
    char exprs[4096];
    ember_error e = {0, ""};
    rh_op *o;
    snprintf(exprs, sizeof exprs, "((as \"r\" %s))", expr);
    o = rh_open_ex("rel.project", KV("exprs", exprs), NULL, -1, &e);
    if (!o) {
        snprintf(joined, sizeof joined, "ERR: %s", e.msg);
        return joined;
    }
    if (rh_push(o, b)) {
        snprintf(joined, sizeof joined, "ERR: %s", o->err.msg);
        rh_close(o);
        return joined;
    }
    join_col(o, 0);
    rh_close(o);
    return joined;
}

static ember_batch *ONE; /* one row: int 1 */

static const char *ev1(const char *expr)
{
    return ev(ONE, expr);
}

/* evaluate on the standard table */
static const char *evt(const char *expr)
{
    ember_batch *b = tbatch();
    const char *r = ev(b, expr);
    batch_destroy(&b);
    return r;
}

/* the type of the result column of EXPR over the table */
static ember_type evtype(const char *expr)
{
    char exprs[4096];
    ember_batch *b = tbatch();
    rh_op *o;
    ember_column c = {0};
    snprintf(exprs, sizeof exprs, "((as \"r\" %s))", expr);
    o = rh_open("rel.project", KV("exprs", exprs), NULL);
    if (o && rh_push(o, b) == 0 && o->nout > 0)
        batch_column(o->out[0], 0, &c);
    rh_close(o);
    batch_destroy(&b);
    return c.type;
}

/* the error message opening op with kv, or "(opened)" */
static const char *open_err(const char *op, const char *const *kv)
{
    static char msg[1100];
    ember_error e = {0, ""};
    rh_op *o = rh_open_ex(op, kv, NULL, -1, &e);
    if (o) {
        rh_close(o);
        return "(opened)";
    }
    snprintf(msg, sizeof msg, "%s", e.msg);
    return msg;
}

/* ------------------------------------------------------- arithmetic */

static void test_arith(void)
{
    is_string("2,-1,null,-2147483648,1", evt("(add int (col 0) (lit int 1))"),
              "add int wraps");
    is_string("5,15,25,null,9223372036854775802",
              evt("(sub bigint (col 1) (lit bigint 5))"), "sub bigint");
    is_string("20,40,60,null,-2", evt("(mul bigint (col 1) (lit bigint 2))"),
              "mul bigint wraps");
    is_string("null,null,null,null,null", evt("(mod int (col 0) (lit int 0))"),
              "mod by literal 0");
    is_string("1,0,null,1,0", evt("(mod int (col 0) (lit int 2))"), "mod");
    is_string("0,1,null,7,null", evt("(mod int (lit int 7) (col 0))"),
              "mod by a column with a zero");
    is_string("-1", ev1("(mod int (lit int -7) (lit int 2))"),
              "mod keeps the dividend's sign");
    is_string("0", ev1("(mod int (lit int -2147483648) (lit int -1))"),
              "INT_MIN mod -1");
    is_string("null,null,null,null,null",
              evt("(div double (col 2) (lit double 0))"), "x / 0 is null");
    {
        const char *r = evt("(div double (lit double 3) (col 2))");
        like(r, "2,", "3 / 1.5");
        like(r, ",null,null,3", "3 / null and 3 / -0.0 are null");
    }
    is_string("-1,2,null,-2147483647,0", evt("(neg int (col 0))"), "neg");
    is_string("-2147483648", ev1("(neg int (lit int -2147483648))"),
              "neg INT_MIN wraps");
    is_string("1,2,null,2147483647,0", evt("(abs int (col 0))"), "abs");
    is_string("-9223372036854775808",
              ev1("(abs bigint (lit bigint -9223372036854775808))"),
              "abs LONG_MIN wraps");
    {
        const char *r = evt("(add double (col 2) (lit double 1))");
        like(r, "2.5,", "add double");
        like(r, ",null,1,10000000001", "add double with -0.0 and null");
    }
    is_string("3", ev1("(add int (lit int 1) (lit int 2))"),
              "scalar-only arithmetic materializes");
    is_string("2,-4,null,-2,0", evt("(add int (col 0) (col 0))"),
              "column + column");
    is_string("4",
              ev1("(div double (lit double 10) "
                  "(lit double 2.5))"),
              "div");
    is_string("1.5",
              ev1("(mod double (lit double 7.5) "
                  "(lit double 2))"),
              "mod double");
}

/* ---------------------------------------------------- comparisons */

static void test_compare(void)
{
    is_string("true,false,null,true,false",
              evt("(gt boolean (col 0) (lit int 0))"), "gt int");
    is_string("true,true,null,true,true", evt("(le boolean (col 0) (col 0))"),
              "le column with itself");
    is_string("false,true,null,false,false",
              evt("(eq boolean (col 2) (lit double nan))"), "NaN = NaN");
    is_string("false,true,null,false,false",
              evt("(gt boolean (col 2) (lit double 1e300))"),
              "NaN is greater than everything");
    is_string("true,false,null,true,true",
              evt("(lt boolean (col 2) (lit double nan))"),
              "numbers are less than NaN");
    is_string("false,false,null,true,false",
              evt("(eq boolean (col 2) (lit double 0))"), "-0.0 = 0.0");
    is_string("false,true,null,true,false",
              evt("(lt boolean (col 3) (lit string \"Hello\"))"),
              "strings compare bytewise");
    is_string("false,true,null,false,false",
              evt("(eq boolean (col 3) (lit string \"\"))"), "eq empty string");
    is_string("true,false,null,true,true",
              evt("(ne boolean (col 3) (lit string \"\"))"), "ne string");
    is_string("true,true,null,true,false",
              evt("(ge boolean (lit string \"Hello\") (col 3))"),
              "scalar on the left");
    is_string("false,true,null,false,true",
              evt("(lt boolean (col 4) (lit boolean true))"), "booleans");
    is_string("true,false,null,true,true",
              evt("(ge boolean (col 5) (lit date 0))"), "dates");
    is_string("false,false,null,true,false",
              evt("(eq boolean (col 5) (lit date \"2020-01-01\"))"),
              "date literal written as a string");
    is_string("false,true,null,false,false",
              evt("(lt boolean (col 6) (lit timestamp 0))"), "timestamps");
    is_string("false,false,true,false,false",
              evt("(eqns boolean (col 0) (lit int null))"), "eqns with NULL");
    is_string("true,true,true,true,true", evt("(eqns boolean (col 3) (col 3))"),
              "eqns never NULL");
    is_string("false,false,true,false,false",
              evt("(eqns boolean (col 2) (lit null null))"),
              "eqns with an untyped NULL");
    is_string("null,null,null,null,null",
              evt("(eq boolean (col 0) (lit int null))"),
              "eq with NULL is NULL");
    is_string("false,false,false,null,true",
              evt("(eq boolean (col 1) (lit bigint 9223372036854775807))"),
              "bigint max");
}

/* ----------------------------------------------------------- logic */

static void test_logic(void)
{
    is_string("null,false,null,null,false",
              evt("(and boolean (col 4) (lit boolean null))"),
              "and with NULL: false wins");
    is_string("true,null,null,true,null",
              evt("(or boolean (col 4) (lit boolean null))"),
              "or with NULL: true wins");
    is_string("true,true,true,true,true",
              evt("(or boolean (col 4) (lit boolean true))"),
              "or true covers NULL");
    is_string("false,false,false,false,false",
              evt("(and boolean (lit boolean false) (col 4))"),
              "and false covers NULL");
    is_string("true,false,null,true,false",
              evt("(and boolean (col 4) (gt boolean (col 0) (lit int 0)))"),
              "and of columns");
    is_string("true,false,false,true,false",
              evt("(and boolean (col 4) (lit boolean true) "
                  "(is_not_null boolean (col 3)))"),
              "and with three arguments");
    is_string("false,true,null,false,true", evt("(not boolean (col 4))"),
              "not");
    is_string("false,false,true,false,false", evt("(is_null boolean (col 3))"),
              "is_null");
    is_string("true,true,false,true,true", evt("(is_not_null boolean (col 2))"),
              "is_not_null");
    is_string("true,true,true,true,true",
              evt("(is_null boolean (lit string null))"), "is_null of NULL");
}

static void test_in_like(void)
{
    is_string("true,false,null,false,true",
              evt("(in boolean (col 0) (lit int 1) (lit int 0))"), "in");
    is_string("true,null,null,null,null",
              evt("(in boolean (col 0) (lit int 1) (lit int null))"),
              "in with a NULL in the list");
    is_string("true,true,null,false,false",
              evt("(in boolean (col 3) (lit string \"\") "
                  "(lit string \"Hello\"))"),
              "in strings");
    is_string("false,true,null,false,false",
              evt("(in boolean (col 2) (lit double nan))"), "in NaN");
    is_string("true,false,null,false,false",
              evt("(like boolean (col 3) (lit string \"H%\"))"), "like H%%");
    is_string("true,false,null,false,true",
              evt("(like boolean (col 3) (lit string \"%llo\"))"),
              "like %%llo");
    is_string("false,false,null,false,true",
              evt("(like boolean (col 3) (lit string \"h_llo\"))"),
              "_ is one UTF-8 character");
    is_string("true,false,null,false,true",
              evt("(like boolean (col 3) (lit string \"%ll%\"))"),
              "like %%ll%%");
    is_string("false,true,null,false,false",
              evt("(like boolean (col 3) (lit string \"\"))"), "like ''");
    is_string("true,true,null,true,true",
              evt("(like boolean (col 3) (lit string \"%\"))"), "like %%");
    is_string("false,false,null,true,false",
              evt("(like boolean (col 3) (lit string \"%a%d%\"))"),
              "like with inner %%");
    is_string("true,false,null,false,false",
              evt("(like boolean (col 3) (lit string \"_e%o\"))"),
              "like _e%%o");
    is_string("true",
              ev1("(like boolean (lit string \"a%b\") "
                  "(lit string \"a\\\\%b\"))"),
              "escaped %% matches %%");
    is_string("false",
              ev1("(like boolean (lit string \"axb\") "
                  "(lit string \"a\\\\%b\"))"),
              "escaped %% is not a wildcard");
    is_string("true",
              ev1("(like boolean (lit string \"aXbXc\") "
                  "(lit string \"a%b%c\"))"),
              "backtracking");
    is_string("false",
              ev1("(like boolean (lit string \"abcb\") "
                  "(lit string \"a%b_\"))"),
              "backtracking fails");
    like(open_err("rel.project", KV("exprs", "((as \"r\" (like boolean (col 0) "
                                             "(lit string \"ab\\\\\"))))")),
         "escape", "pattern ending in an escape is refused");
}

/* ------------------------------------------------------------ casts */

static void test_cast(void)
{
    static const char *ints[] = {" 42 ",       "-7",  "+3",          "abc", "",
                                 "2147483648", "1.9", "-2147483648", "12a"};
    static const char *dbls[] = {"1.5",  " -2e3 ", "NaN", "Infinity",
                                 "-inf", "x",      ""};
    static const char *bools[] = {"true", "FALSE", "t",  "f",    "1",
                                  "0",    "yes",   "no", "maybe"};
    static const char *dates[] = {
        "2020-02-29",          "2019-02-29",       "1969-12-31", "2020-1-5",
        "2020-01-01 12:34:56", "2020-01-01T10:00", "20200101",   "",
        "2020-13-01"};
    static const char *tss[] = {"2020-01-01 00:00:00",
                                "2020-01-01 00:00:00.5",
                                "1969-12-31 23:59:59",
                                "2020-01-01",
                                "2020-01-01T01:02:03.123456789",
                                "bad",
                                "2020-01-01 25:00:00"};
    ember_batch *b;

    is_string("1,-2,null,2147483647,0", evt("(cast string (col 0))"),
              "int to string");
    is_string("1.5,NaN,null,-0.0,1.0E10", evt("(cast string (col 2))"),
              "double to string, Java style");
    is_string("0.1", ev1("(cast string (lit double 0.1))"), "0.1");
    is_string("1.0E7", ev1("(cast string (lit double 1e7))"), "1e7");
    is_string("1234567.0", ev1("(cast string (lit double 1234567))"),
              "below 1e7 is plain");
    is_string("0.001", ev1("(cast string (lit double 0.001))"), "0.001");
    is_string("1.0E-4", ev1("(cast string (lit double 0.0001))"), "1e-4");
    is_string("100.0", ev1("(cast string (lit double 100))"), "100.0");
    is_string("-1.25E-5", ev1("(cast string (lit double -1.25e-5))"),
              "negative small");
    is_string("Infinity", ev1("(cast string (lit double inf))"), "inf");
    is_string("-Infinity", ev1("(cast string (lit double -inf))"), "-inf");
    is_string("0.3333333333333333",
              ev1("(cast string (div double (lit double 1) (lit double 3)))"),
              "shortest round-trip digits");
    is_string("1.23456789E8", ev1("(cast string (lit double 123456789))"),
              "large with fraction digits");
    is_string("true,false,null,true,false", evt("(cast string (col 4))"),
              "boolean to string");
    is_string("1970-01-01,1969-12-31,null,2020-01-01,2000-02-29",
              evt("(cast string (col 5))"), "date to string");
    is_string("1970-01-01 00:00:00,1969-12-31 23:59:59.999999,null,"
              "2020-01-01 00:00:00.123456,1970-01-02 00:00:00",
              evt("(cast string (col 6))"), "timestamp to string");
    is_string("1900-01-01", ev1("(cast string (lit date -25567))"),
              "date before 1970");
    is_string("0001-01-01", ev1("(cast string (lit date -719162))"), "year 1");
    is_string("2020-01-01 00:00:00.5",
              ev1("(cast string (lit timestamp 1577836800500000))"),
              "fraction trailing zeros stripped");

    b = sbatch(ints, 9);
    is_string("42,-7,3,null,null,null,1,-2147483648,null",
              ev(b, "(cast int (col 0))"), "string to int");
    is_string("42,-7,3,null,null,2147483648,1,-2147483648,null",
              ev(b, "(cast bigint (col 0))"), "string to bigint");
    batch_destroy(&b);
    b = sbatch(dbls, 7);
    is_string("1.5,-2000,nan,inf,-inf,null,null",
              ev(b, "(cast double (col 0))"), "string to double");
    batch_destroy(&b);
    b = sbatch(bools, 9);
    is_string("true,false,true,false,true,false,true,false,null",
              ev(b, "(cast boolean (col 0))"), "string to boolean");
    batch_destroy(&b);
    b = sbatch(dates, 9);
    is_string("18321,null,-1,18266,18262,18262,null,null,null",
              ev(b, "(cast date (col 0))"), "string to date");
    is_string("18321,null,-1,18266,18262,18262,null,null,null",
              ev(b, "(to_date date (col 0))"), "to_date");
    batch_destroy(&b);
    b = sbatch(tss, 7);
    is_string("1577836800000000,1577836800500000,-1000000,1577836800000000,"
              "1577840523123456,null,null",
              ev(b, "(cast timestamp (col 0))"), "string to timestamp");
    batch_destroy(&b);

    is_string("1,null,null,0,null", evt("(cast int (col 2))"),
              "double to int: truncation, NaN and overflow are NULL");
    is_string("1,null,null,0,10000000000", evt("(cast bigint (col 2))"),
              "double to bigint");
    is_string("-1", ev1("(cast int (lit double -1.9))"),
              "truncation toward zero");
    is_string("10,20,30,null,-1", evt("(cast int (col 1))"),
              "bigint to int wraps");
    is_string("1", ev1("(cast int (lit bigint 4294967297))"), "wrap 2^32+1");
    is_string("true,true,null,true,false", evt("(cast boolean (col 0))"),
              "int to boolean");
    is_string("1,0,null,1,0", evt("(cast int (col 4))"), "boolean to int");
    is_string("1,-2,null,2147483647,0", evt("(cast bigint (col 0))"),
              "int to bigint");
    is_string("1,-2,null,2147483647,0", evt("(cast double (col 0))"),
              "int to double");
    is_string("0,-86400000000,null,1577836800000000,951782400000000",
              evt("(cast timestamp (col 5))"), "date to timestamp");
    is_string("0,-1,null,18262,1", evt("(cast date (col 6))"),
              "timestamp to date floors");
    is_string("0,-1,null,1577836800,86400", evt("(cast bigint (col 6))"),
              "timestamp to bigint seconds, floored");
    is_string("1000000", ev1("(cast timestamp (lit int 1))"),
              "int seconds to timestamp");
    is_string("1500000", ev1("(cast timestamp (lit double 1.5))"),
              "double seconds to timestamp");
    is_string("null,null,null,null,null", evt("(cast int (lit string null))"),
              "cast NULL");
    is_string("1,-2,null,2147483647,0", evt("(cast int (col 0))"),
              "cast to the same type");
    like(open_err("rel.project",
                  KV("exprs", "((as \"r\" (cast int (lit date 1))))")),
         "cannot cast date to int", "date to int is refused");
    is_int(EMBER_TYPE_STRING, evtype("(cast string (col 0))"),
           "cast result type");
}

/* ---------------------------------------------------- case, coalesce */

static void test_case(void)
{
    is_string("pos,neg,zero,pos,zero",
              evt("(case string (gt boolean (col 0) (lit int 0)) "
                  "(lit string \"pos\") (lt boolean (col 0) (lit int 0)) "
                  "(lit string \"neg\") (lit string \"zero\"))"),
              "case with else (NULL condition falls through)");
    is_string("100,null,null,null,null",
              evt("(case int (eq boolean (col 0) (lit int 1)) "
                  "(lit int 100))"),
              "case without else");
    is_string("10,-1,-1,null,-1",
              evt("(case bigint (col 4) (col 1) (lit bigint -1))"),
              "case picking a column with nulls");
    is_string("1,-2,99,2147483647,0",
              evt("(coalesce int (col 0) (lit int 99))"), "coalesce");
    is_string("Hello,,x,  pad  ,h\xc3\xa9llo",
              evt("(coalesce string (col 3) (lit string \"x\"))"),
              "coalesce strings");
    {
        const char *r = evt("(coalesce double (lit double null) (col 2) "
                            "(lit double null))");
        like(r, "1.5,", "coalesce skips NULL literals");
        like(r, ",null,-0,10000000000", "coalesce: NULL when all are NULL");
    }
    {
        const char *r = evt("(coalesce double (lit double null) (col 2))");
        like(r, "1.5,", "coalesce row 0");
        like(r, ",null,-0,10000000000", "coalesce NULL stays NULL");
    }
    is_string("null,null,null,null,null",
              evt("(coalesce int (lit int null) (lit int null))"),
              "coalesce of NULLs");
}

/* ----------------------------------------------------------- strings */

static void test_strings(void)
{
    is_string("HELLO,,null,  PAD  ,H\xc3\xa9LLO", evt("(upper string (col 3))"),
              "upper is ASCII only");
    is_string("hello,,null,  pad  ,h\xc3\xa9llo", evt("(lower string (col 3))"),
              "lower");
    is_string("5,0,null,7,5", evt("(length int (col 3))"),
              "length counts code points");
    is_string("Hello,,null,pad,h\xc3\xa9llo", evt("(trim string (col 3))"),
              "trim");
    is_string("Hello,,null,pad  ,h\xc3\xa9llo", evt("(ltrim string (col 3))"),
              "ltrim");
    is_string("Hello,,null,  pad,h\xc3\xa9llo", evt("(rtrim string (col 3))"),
              "rtrim");
    is_string("k",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int 5) (lit int 1))"),
              "substring 5,1");
    is_string("Spa",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int 0) (lit int 3))"),
              "substring pos 0 acts as 1");
    is_string("SQ",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int -3) (lit int 2))"),
              "substring negative pos");
    is_string("Sp",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int -10) (lit int 3))"),
              "substring before the start");
    is_string("",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int -100) (lit int 5))"),
              "substring far before the start");
    is_string("Spark SQL",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int 1) (lit int 100))"),
              "substring past the end");
    is_string("",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int 10) (lit int 2))"),
              "substring starting past the end");
    is_string("",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int 1) (lit int -1))"),
              "substring negative length");
    is_string("park SQL",
              ev1("(substring string (lit string \"Spark SQL\") "
                  "(lit int 2))"),
              "substring without length");
    is_string("ell,,null, pa,\xc3\xa9ll",
              evt("(substring string (col 3) (lit int 2) (lit int 3))"),
              "substring counts UTF-8 characters");
    is_string("null,null,null,null,null",
              evt("(substring string (col 3) (lit int null) (lit int 1))"),
              "substring NULL pos");
    is_string("Hello!,!,null,  pad  !,h\xc3\xa9llo!",
              evt("(concat string (col 3) (lit string \"!\"))"), "concat");
    is_string("<Hello>,<>,null,<  pad  >,<h\xc3\xa9llo>",
              evt("(concat string (lit string \"<\") (col 3) "
                  "(lit string \">\"))"),
              "concat of three");
    is_string("null",
              ev1("(concat string (lit string \"a\") "
                  "(lit string null))"),
              "concat with NULL");
    {
        static const char *allnull[] = {NULL, NULL, NULL};
        ember_batch *b = sbatch(allnull, 3);
        is_string("null,null,null", ev(b, "(upper string (col 0))"),
                  "all-NULL column: upper");
        is_string("null,null,null", ev(b, "(length int (col 0))"),
                  "all-NULL column: length");
        is_string("null,null,null",
                  ev(b, "(like boolean (col 0) (lit string \"%\"))"),
                  "all-NULL column: like is NULL");
        is_string("true,true,true", ev(b, "(is_null boolean (col 0))"),
                  "all-NULL column: is_null");
        batch_destroy(&b);
    }
}

/* ------------------------------------------------------------- dates */

static void test_dates(void)
{
    is_string("1970,1969,null,2020,2000", evt("(year int (col 5))"), "year");
    is_string("1,12,null,1,2", evt("(month int (col 5))"), "month");
    is_string("1,31,null,1,29", evt("(day int (col 5))"), "day (leap)");
    is_string("1970,1969,null,2020,1970", evt("(year int (col 6))"),
              "year of timestamp");
    is_string("1,31,null,1,2", evt("(day int (col 6))"), "day of timestamp");
    is_string("1", ev1("(year int (lit date -719162))"), "year 1");
    is_string("2024-02-29",
              ev1("(cast string (date_add date (lit date \"2024-02-28\") "
                  "(lit int 1)))"),
              "date_add into Feb 29");
    is_string("2024-03-01",
              ev1("(cast string (date_add date (lit date \"2024-02-28\") "
                  "(lit int 2)))"),
              "date_add past Feb 29");
    is_string("1900-03-01",
              ev1("(cast string (date_add date (lit date \"1900-02-28\") "
                  "(lit int 1)))"),
              "1900 is not a leap year");
    is_string("-1", ev1("(date_sub date (lit date 0) (lit int 1))"),
              "date_sub before 1970");
    is_string("1,0,null,18263,11017",
              evt("(date_add date (col 5) (lit int 1))"), "date_add column");
    is_string("18690",
              ev1("(to_date date (lit string "
                  "\"2021-03-04 05:06:07\"))"),
              "to_date keeps the date part");
    is_string("null", ev1("(to_date date (lit string \"2021-02-30\"))"),
              "to_date of an invalid date");
    is_string("null,null,null,null,null",
              evt("(date_add date (col 5) (lit int null))"),
              "date_add NULL days");
}

/* ------------------------------------------------------------ filter */

static void test_filter(void)
{
    ember_batch *b = tbatch(), *e = batch_new();
    rh_op *o;
    ember_column c;

    o = rh_open("rel.filter", KV("cond", "(gt boolean (col 0) (lit int 0))"),
                NULL);
    ok(o != NULL, "filter opens");
    is_int(0, rh_push(o, b), "filter push");
    is_int(0, rh_finish(o), "filter finish");
    is_int(2, rh_rows(o), "two rows pass (NULL is not true)");
    is_int(7, batch_num_columns(o->out[0]), "all columns kept");
    is_string("ts", batch_column_name(o->out[0], 6), "names kept");
    batch_column(o->out[0], 5, &c);
    is_int(EMBER_TYPE_DATE32, c.type, "types kept");
    is_string("1,2147483647", join_col(o, 0), "filtered int");
    is_string("10,null", join_col(o, 1), "filtered bigint with a null");
    is_string("1.5,-0", join_col(o, 2), "filtered double");
    is_string("Hello,  pad  ", join_col(o, 3), "filtered strings");
    is_string("true,true", join_col(o, 4), "filtered booleans");
    is_string("0,18262", join_col(o, 5), "filtered dates");
    rh_close(o);

    o = rh_open("rel.filter", KV("cond", "(is_not_null boolean (col 3))"),
                NULL);
    rh_push(o, b);
    rh_push(o, b);
    is_int(8, rh_rows(o), "filter over two batches");
    is_int(2, o->nout, "one output batch per input batch");
    is_string("Hello,,  pad  ,h\xc3\xa9llo,Hello,,  pad  ,h\xc3\xa9llo",
              join_col(o, 3), "strings with an empty one survive");
    is_string("10,20,null,9223372036854775807,10,20,null,9223372036854775807",
              join_col(o, 1), "bigint column with null gathered");
    rh_close(o);

    o = rh_open("rel.filter", KV("cond", "(col 4)"), NULL);
    rh_push(o, b);
    is_string("1,2147483647", join_col(o, 0), "a boolean column as condition");
    rh_close(o);

    o = rh_open("rel.filter", KV("cond", "(lit boolean true)"), NULL);
    rh_push(o, b);
    is_int(5, rh_rows(o), "constant true passes all");
    is_string("Hello,,null,  pad  ,h\xc3\xa9llo", join_col(o, 3),
              "constant true: values");
    rh_close(o);

    o = rh_open("rel.filter", KV("cond", "(lt boolean (col 0) (lit int -5))"),
                NULL);
    rh_push(o, b);
    is_int(0, o->nout, "no surviving rows: nothing emitted");
    batch_add_column(e, "i", EMBER_TYPE_INT32);
    is_int(0, rh_push(o, e), "empty batch");
    is_int(0, o->nout, "empty batch: nothing emitted");
    rh_close(o);

    o = rh_open("rel.filter", KV("cond", "(gt boolean (col 9) (lit int 0))"),
                NULL);
    is_int(EMBER_EINVAL, rh_push(o, b), "column out of range at push");
    like(o->err.msg, "column 9 out of range", "out of range message");
    rh_close(o);

    o = rh_open("rel.filter", KV("cond", "(col 0)"), NULL);
    is_int(EMBER_EINVAL, rh_push(o, b), "int condition refused at push");
    like(o->err.msg, "not boolean", "condition type message");
    rh_close(o);

    o = rh_open("rel.filter", KV("cond", "(gt boolean (col 1) (lit int 0))"),
                NULL);
    is_int(EMBER_EINVAL, rh_push(o, b), "type mismatch found at push");
    like(o->err.msg, "differ in type", "mismatch message");
    rh_close(o);

    o = rh_open("rel.filter", KV("cond", "(gt boolean (col 0) (lit int 0))"),
                NULL);
    o->stop_after = 1;
    is_int(EMBER_ESTOP, rh_push(o, b), "ESTOP from downstream passes up");
    rh_close(o);

    batch_destroy(&b);
    batch_destroy(&e);
}

/* ----------------------------------------------------------- project */

static void test_project(void)
{
    ember_batch *b = tbatch();
    rh_op *o;
    ember_column c;
    o = rh_open("rel.project",
                KV("exprs", "((as \"x\" (col 3)) "
                            "(as \"y\" (add bigint (col 1) (lit bigint 1))) "
                            "(as \"k\" (lit int 7)) "
                            "(as \"n\" (lit string null)) "
                            "(as \"z\" (cast string (col 0))) "
                            "(as w (upper string (trim string (col 3)))) "
                            "(as \"u\" (lit null null)))"),
                NULL);
    ok(o != NULL, "project opens");
    is_int(0, rh_push(o, b), "project push");
    is_int(0, rh_push(o, b), "project second push");
    is_int(2, o->nout, "one batch per input");
    is_int(10, rh_rows(o), "rows");
    is_int(7, batch_num_columns(o->out[0]), "columns");
    is_string("y", batch_column_name(o->out[0], 1), "name from a string");
    is_string("w", batch_column_name(o->out[0], 5), "name from a symbol");
    is_string("Hello,,null,  pad  ,h\xc3\xa9llo,Hello,,null,  pad  ,"
              "h\xc3\xa9llo",
              join_col(o, 0), "column copied");
    is_string("11,21,31,null,-9223372036854775808,11,21,31,null,"
              "-9223372036854775808",
              join_col(o, 1), "computed column");
    is_string("7,7,7,7,7,7,7,7,7,7", join_col(o, 2), "literal materialized");
    is_string("null,null,null,null,null,null,null,null,null,null",
              join_col(o, 3), "NULL literal materialized");
    batch_column(o->out[0], 3, &c);
    is_int(EMBER_TYPE_STRING, c.type, "typed NULL keeps its type");
    is_string("1,-2,null,2147483647,0,1,-2,null,2147483647,0", join_col(o, 4),
              "cast column");
    is_string("HELLO,,null,PAD,H\xc3\xa9LLO,HELLO,,null,PAD,H\xc3\xa9LLO",
              join_col(o, 5), "nested functions");
    batch_column(o->out[0], 6, &c);
    is_int(5, c.length, "untyped NULL column has the batch's rows");
    rh_close(o);

    {
        /* a batch arriving in pieces: values stay per batch */
        ember_batch *p1 = batch_new(), *p2 = batch_new();
        batch_add_column(p1, "v", EMBER_TYPE_INT64);
        batch_add_column(p2, "v", EMBER_TYPE_INT64);
        for (int i = 0; i < 3; i++)
            batch_append_i64(p1, 0, i);
        batch_append_null(p2, 0);
        batch_append_i64(p2, 0, 100);
        o = rh_open("rel.project",
                    KV("exprs", "((as \"v2\" (mul bigint (col 0) "
                                "(lit bigint 2))))"),
                    NULL);
        rh_push(o, p1);
        rh_push(o, p2);
        is_string("0,2,4,null,200", join_col(o, 0), "pieces");
        rh_close(o);
        batch_destroy(&p1);
        batch_destroy(&p2);
    }
    batch_destroy(&b);
}

/* ----------------------------------------------------------- explode */

static rh_op *explode(const char *pattern, const char *keep,
                      const ember_batch *b)
{
    char expr[256];
    rh_op *o;
    snprintf(expr, sizeof expr, "(split (col 0) \"%s\")", pattern);
    o = rh_open("rel.explode", KV("expr", expr, "keep", keep, "name", "w"),
                NULL);
    if (o) {
        rh_push(o, b);
        rh_finish(o);
    }
    return o;
}

static void test_explode(void)
{
    static const char *lines[] = {"a b  c", "", NULL, " lead", "trail ", "x"};
    ember_batch *b = sbatch(lines, 6);
    rh_op *o;
    batch_add_column(b, "n", EMBER_TYPE_INT64);
    for (int i = 0; i < 6; i++)
        if (i == 5)
            batch_append_null(b, 1);
        else
            batch_append_i64(b, 1, i);

    o = explode(" ", "(1)", b);
    is_int(10, rh_rows(o), "plain separator: rows");
    is_string("a,b,,c,,,lead,trail,,x", join_col(o, 1),
              "plain separator keeps empty strings (Java split -1)");
    is_string("0,0,0,0,1,3,3,4,4,null", join_col(o, 0), "kept column");
    is_string("n", batch_column_name(o->out[0], 0), "kept column name");
    is_string("w", batch_column_name(o->out[0], 1), "output column name");
    rh_close(o);

    o = explode("\\\\s+", "()", b);
    is_string("a,b,c,,,lead,trail,,x", join_col(o, 0),
              "\\s+ collapses runs, leading/trailing empties kept");
    is_int(1, batch_num_columns(o->out[0]), "keep () gives one column");
    rh_close(o);

    o = explode(" +", "(1 0)", b);
    is_string("a,b,c,,,lead,trail,,x", join_col(o, 2), "\" +\" fast path");
    is_string("a b  c,a b  c,a b  c,, lead, lead,trail ,trail ,x",
              join_col(o, 1), "kept string column");
    rh_close(o);

    {
        static const char *v[] = {"a,b;c", "1a", "a1", "a1b22c", ",", "ab"};
        ember_batch *r = sbatch(v, 6);
        o = explode("[,;]", "()", r);
        is_string("a,b,c,1a,a1,a1b22c,,,ab", join_col(o, 0),
                  "regex class separator");
        rh_close(o);
        o = explode("[0-9]+", "()", r);
        is_string("a,b;c,,a,a,,a,b,c,,,ab", join_col(o, 0), "regex [0-9]+");
        rh_close(o);
        o = explode("\\\\d", "()", r);
        is_string("a,b;c,,a,a,,a,b,,c,,,ab", join_col(o, 0),
                  "\\d without +: each digit separates");
        rh_close(o);
        o = explode("", "()", r);
        is_string("a,,,b,;,c,,1,a,,a,1,,a,1,b,2,2,c,,,,,a,b,", join_col(o, 0),
                  "empty pattern splits characters");
        rh_close(o);
        o = explode("b|;", "()", r);
        is_string("a,,,c,1a,a1,a1,22c,,,a,", join_col(o, 0), "alternation");
        rh_close(o);
        o = explode("x*", "()", r);
        is_string("a,,,b,;,c,,1,a,,a,1,,a,1,b,2,2,c,,,,,a,b,", join_col(o, 0),
                  "zero-width regex matches like Java");
        rh_close(o);
        batch_destroy(&r);
    }
    {
        static const char *v[] = {"xabyab", "a.b.c", "ab", "\xc3\xa9t\xc3\xa9"};
        ember_batch *r = sbatch(v, 4);
        o = explode("ab", "()", r);
        is_string("x,y,,a.b.c,,,\xc3\xa9t\xc3\xa9", join_col(o, 0),
                  "multi-byte literal separator");
        rh_close(o);
        o = explode("\\\\.", "()", r);
        is_string("xabyab,a,b,c,ab,\xc3\xa9t\xc3\xa9", join_col(o, 0),
                  "escaped dot is a plain separator");
        rh_close(o);
        o = explode("", "()", r);
        like(join_col(o, 0), ",\xc3\xa9,t,\xc3\xa9,", "UTF-8 characters");
        rh_close(o);
        batch_destroy(&r);
    }
    {
        /* many rows: several output batches of about 8192 rows */
        ember_batch *big = batch_new();
        int64_t rows;
        batch_add_column(big, "line", EMBER_TYPE_STRING);
        batch_add_column(big, "id", EMBER_TYPE_INT32);
        for (int i = 0; i < 3000; i++) {
            batch_append_str(big, 0, "a bb ccc dddd", 13);
            if (i % 7 == 0)
                batch_append_null(big, 1);
            else
                batch_append_i64(big, 1, i);
        }
        o = rh_open("rel.explode",
                    KV("expr", "(split (col 0) \" \")", "keep", "(1)"), NULL);
        rh_push(o, big);
        rh_push(o, big);
        rh_finish(o);
        rows = rh_rows(o);
        is_int(24000, rows, "3000 lines x 4 words x 2 batches");
        ok(o->nout >= 2 && o->nout <= 4, "a few large batches (%d)", o->nout);
        ok(batch_num_rows(o->out[0]) >= 8192 &&
               batch_num_rows(o->out[0]) < 8200,
           "about 8192 rows per batch");
        is_string("col", batch_column_name(o->out[0], 1), "default name");
        is_string("dddd", rh_cell(o, 23999, 1), "last word");
        is_string("2999", rh_cell(o, 23999, 0), "last kept value");
        is_string("null", rh_cell(o, 12000 + 7 * 4, 0),
                  "kept NULL in the second batch");
        is_string("8", rh_cell(o, 12000 + 8 * 4 + 3, 0),
                  "kept value after a NULL");
        is_string("ccc", rh_cell(o, 8194, 1), "across the batch boundary");
        rh_close(o);
        batch_destroy(&big);
    }

    o = rh_open("rel.explode",
                KV("expr", "(split (col 0) \" \")", "keep", "(7)"), NULL);
    is_int(EMBER_EINVAL, rh_push(o, b), "keep out of range at push");
    like(o->err.msg, "out of range", "keep message");
    rh_close(o);
    like(open_err("rel.explode", KV("expr", "(split (col 0) \"(\")")),
         "bad regex", "bad regex refused at open");
    like(open_err("rel.explode", KV("expr", "(col 0)")), "expected (split S",
         "expr must be a split");
    like(open_err("rel.explode",
                  KV("expr", "(split (col 0) \" \")", "keep", "(a)")),
         "not a column index", "bad keep list");
    batch_destroy(&b);
}

/* --------------------------------------------------------- partition */

static int part_of(const rh_op *o, int64_t row)
{
    int nc = batch_num_columns(o->out[0]);
    return atoi(rh_cell(o, row, nc - 1));
}

static rh_op *partition(const char *const *kv, ember_batch *b1, ember_batch *b2)
{
    rh_op *o = rh_open("rel.partition", kv, NULL);
    if (!o)
        return NULL;
    if (b1)
        rh_push(o, b1);
    if (b2)
        rh_push(o, b2);
    return o;
}

static ember_batch *i64batch(ember_type t, const char *const *v, int n)
{
    ember_batch *b = batch_new();
    batch_add_column(b, "k", t);
    for (int i = 0; i < n; i++) {
        if (!v[i])
            batch_append_null(b, 0);
        else if (t == EMBER_TYPE_DOUBLE)
            batch_append_f64(b, 0, strtod(v[i], NULL));
        else if (t == EMBER_TYPE_STRING)
            batch_append_str(b, 0, v[i], strlen(v[i]));
        else
            batch_append_i64(b, 0, strtoll(v[i], NULL, 10));
    }
    return b;
}

static void test_partition(void)
{
    static const char *k1[] = {"1", "2", "3", NULL, "1"};
    static const char *k2[] = {"3", "2", "1", NULL};
    static const char *r1[] = {"5", "10", "11", "20", "21", NULL};
    ember_batch *b1 = i64batch(EMBER_TYPE_INT64, k1, 5);
    ember_batch *b2 = i64batch(EMBER_TYPE_INT32, k2, 4);
    ember_batch *r = i64batch(EMBER_TYPE_INT64, r1, 6);
    rh_op *o;
    char got[64];
    int inrange = 1;

    o = partition(KV("keys", "(0)", "n", "7"), b1, b2);
    ok(o != NULL, "hash partition opens");
    is_int(9, rh_rows(o), "all rows pass");
    is_string("__part", batch_column_name(o->out[0], 1), "__part is last");
    is_string("k", batch_column_name(o->out[0], 0), "input column kept");
    is_string("1,2,3,null,1,3,2,1,null", join_col(o, 0), "input values kept");
    for (int i = 0; i < 9; i++)
        inrange &= part_of(o, i) >= 0 && part_of(o, i) < 7;
    ok(inrange, "partitions in [0, n)");
    is_int(part_of(o, 0), part_of(o, 4), "same key, same partition");
    is_int(part_of(o, 0), part_of(o, 7), "bigint 1 and int 1 agree");
    is_int(part_of(o, 1), part_of(o, 6), "2 across batches");
    is_int(part_of(o, 2), part_of(o, 5), "3 across batches");
    is_int(part_of(o, 3), part_of(o, 8), "NULLs together");
    rh_close(o);
    {
        ember_batch *many = batch_new();
        int count[4] = {0, 0, 0, 0};
        batch_add_column(many, "k", EMBER_TYPE_INT64);
        for (int i = 0; i < 1000; i++)
            batch_append_i64(many, 0, i);
        o = partition(KV("keys", "(0)", "n", "4"), many, NULL);
        for (int i = 0; i < 1000; i++)
            count[part_of(o, i)]++;
        ok(count[0] > 150 && count[1] > 150 && count[2] > 150 && count[3] > 150,
           "hash spreads keys (%d %d %d %d)", count[0], count[1], count[2],
           count[3]);
        rh_close(o);
        batch_destroy(&many);
    }
    {
        static const char *s1[] = {"x", "y", "", NULL};
        static const char *s2[] = {"y", "x", ""};
        ember_batch *a = i64batch(EMBER_TYPE_STRING, s1, 4);
        ember_batch *c = i64batch(EMBER_TYPE_STRING, s2, 3);
        o = partition(KV("keys", "(0)", "n", "16"), a, c);
        ok(part_of(o, 0) == part_of(o, 5) && part_of(o, 1) == part_of(o, 4) &&
               part_of(o, 2) == part_of(o, 6),
           "string keys agree across batches");
        rh_close(o);
        batch_destroy(&a);
        batch_destroy(&c);
    }

    o = partition(KV("mode", "range", "keys", "(0)", "n", "3", "bounds",
                     "(((lit bigint 10)) ((lit bigint 20)))"),
                  r, NULL);
    snprintf(got, sizeof got, "%s", join_col(o, 1));
    is_string("0,0,1,1,2,0", got, "range asc nulls first (default)");
    rh_close(o);
    o = partition(KV("mode", "range", "keys", "(0)", "n", "3", "bounds",
                     "(((lit bigint 10)) ((lit bigint 20)))", "orders",
                     "((asc nulls_last))"),
                  r, NULL);
    is_string("0,0,1,1,2,2", join_col(o, 1), "range asc nulls last");
    rh_close(o);
    o = partition(KV("mode", "range", "keys", "(0)", "n", "3", "bounds",
                     "(((lit bigint 20)) ((lit bigint 10)))", "orders",
                     "((desc nulls_last))"),
                  r, NULL);
    is_string("2,1,1,0,0,2", join_col(o, 1), "range desc nulls last");
    rh_close(o);
    o = partition(KV("mode", "range", "keys", "(0)", "n", "3", "bounds",
                     "(((lit bigint 20)) ((lit bigint 10)))", "orders",
                     "((desc nulls_first))"),
                  r, NULL);
    is_string("2,1,1,0,0,0", join_col(o, 1), "range desc nulls first");
    rh_close(o);
    o = partition(KV("mode", "range", "keys", "(0)", "n", "3", "bounds",
                     "(((lit int 10)) ((lit int 20)))"),
                  b2, NULL);
    is_string("0,0,0,0", join_col(o, 1), "range on an int column");
    rh_close(o);
    {
        ember_batch *m = batch_new();
        static const int64_t kk[] = {10, 10, 10, 5, 11};
        static const char *ss[] = {"a", "m", "z", "z", "a"};
        batch_add_column(m, "k", EMBER_TYPE_INT64);
        batch_add_column(m, "s", EMBER_TYPE_STRING);
        for (int i = 0; i < 5; i++) {
            batch_append_i64(m, 0, kk[i]);
            batch_append_str(m, 1, ss[i], 1);
        }
        o = partition(KV("mode", "range", "keys", "(0 1)", "n", "2", "bounds",
                         "(((lit bigint 10) (lit string \"m\")))"),
                      m, NULL);
        is_string("0,0,1,0,1", join_col(o, 2), "range on two keys");
        rh_close(o);
        o = partition(KV("mode", "range", "keys", "(0)", "n", "2", "bounds",
                         "(((lit string \"m\")))"),
                      m, NULL);
        is_int(EMBER_EINVAL, rh_push(o, m), "bound type mismatch at push");
        rh_close(o);
        batch_destroy(&m);
    }
    {
        static const char *dv[] = {"0.5", "nan", "1.0"};
        ember_batch *d = i64batch(EMBER_TYPE_DOUBLE, dv, 3);
        o = partition(KV("mode", "range", "keys", "(0)", "n", "2", "bounds",
                         "(((lit double 1.0)))"),
                      d, NULL);
        is_string("0,1,0", join_col(o, 1), "range: NaN sorts last");
        rh_close(o);
        batch_destroy(&d);
    }

    o = partition(KV("mode", "single", "n", "5"), b1, NULL);
    is_string("0,0,0,0,0", join_col(o, 1), "single");
    rh_close(o);
    o = partition(KV("mode", "roundrobin", "n", "4"), b1, b2);
    is_string("0,1,2,3,0,1,2,3,0", join_col(o, 1),
              "roundrobin continues across batches");
    rh_close(o);

    like(open_err("rel.partition", KV("mode", "bogus", "n", "2")),
         "unknown mode 'bogus'", "bad mode");
    like(open_err("rel.partition", KV("keys", "(0)", "n", "0")), ">= 1",
         "n must be positive");
    like(open_err("rel.partition", KV("n", "2")), "at least one key",
         "hash needs keys");
    like(open_err("rel.partition",
                  KV("mode", "range", "keys", "(0)", "n", "2", "bounds",
                     "(((lit int 1)) ((lit int 2)))")),
         "at most 1", "too many bounds");
    like(open_err("rel.partition", KV("mode", "range", "keys", "(0)", "n", "2",
                                      "orders", "((asc) (desc))")),
         "2 orders for 1 keys", "orders per key");
    like(open_err("rel.partition", KV("mode", "range", "keys", "(0)", "n", "2",
                                      "orders", "((sideways))")),
         "expected (asc|desc", "bad order");
    ok(strcmp(open_err("rel.partition", KV("keys", "(0)")), "(opened)") != 0,
       "n is required");
    o = rh_open("rel.partition", KV("keys", "(3)", "n", "2"), NULL);
    is_int(EMBER_EINVAL, rh_push(o, b1), "key out of range at push");
    like(o->err.msg, "column 3 out of range", "key range message");
    rh_close(o);
    batch_destroy(&b1);
    batch_destroy(&b2);
    batch_destroy(&r);
}

/* ------------------------------------------------------------- limit */

static void test_limit(void)
{
    static const char *v1[] = {"a", "b", "c"};
    static const char *v2[] = {NULL, "e", "f"};
    static const char *v3[] = {"g", "h", "i"};
    ember_batch *b1 = sbatch(v1, 3), *b2 = sbatch(v2, 3), *b3 = sbatch(v3, 3);
    ember_batch *e = batch_new();
    rh_op *o;
    batch_add_column(e, "s", EMBER_TYPE_STRING);

    o = rh_open("rel.limit", KV("n", "5"), NULL);
    is_int(0, rh_push(o, e), "empty batch");
    is_int(0, o->nout, "empty batch emits nothing");
    is_int(0, rh_push(o, b1), "first batch fits");
    is_int(EMBER_ESTOP, rh_push(o, b2), "limit reached: ESTOP");
    is_int(EMBER_ESTOP, rh_push(o, b3), "past the limit: ESTOP");
    is_int(2, o->nout, "two batches out");
    is_int(5, rh_rows(o), "five rows");
    is_string("a,b,c,null,e", join_col(o, 0), "sliced values with a NULL");
    is_int(0, rh_finish(o), "finish");
    rh_close(o);

    o = rh_open("rel.limit", KV("n", "3"), NULL);
    is_int(EMBER_ESTOP, rh_push(o, b1), "exact fit stops");
    is_string("a,b,c", join_col(o, 0), "exact fit values");
    rh_close(o);

    o = rh_open("rel.limit", KV("n", "1"), NULL);
    is_int(EMBER_ESTOP, rh_push(o, b2), "slice of one NULL row");
    is_string("null", join_col(o, 0), "the NULL row");
    rh_close(o);

    o = rh_open("rel.limit", KV("n", "0"), NULL);
    is_int(EMBER_ESTOP, rh_push(o, b1), "n = 0 stops at once");
    is_int(0, o->nout, "n = 0 emits nothing");
    rh_close(o);

    like(open_err("rel.limit", KV("n", "-1")), ">= 0", "negative n refused");
    batch_destroy(&b1);
    batch_destroy(&b2);
    batch_destroy(&b3);
    batch_destroy(&e);
}

/* ------------------------------------------------- bad expressions */

static void test_errors(void)
{
    const char *m;
    m = open_err("rel.filter", KV("cond", "(frob boolean (col 0))"));
    like(m, "unknown function 'frob'", "unknown function");
    like(m, "rel.filter", "message names the operator");
    like(m, "cond", "message names the parameter");
    like(open_err("rel.filter", KV("cond", "(add int (col 0))")),
         "add takes 2 arguments, got 1", "wrong arity");
    like(open_err("rel.filter", KV("cond", "(not boolean)")),
         "not takes 1 argument, got 0", "missing argument");
    like(open_err("rel.filter", KV("cond", "(gt boolean (col 0) (lit int 1)")),
         "missing ')'", "unbalanced parentheses");
    like(open_err("rel.filter", KV("cond", "(col 0))")), "trailing text",
         "extra parenthesis");
    like(open_err("rel.filter", KV("cond", "")), "unexpected end",
         "empty expression");
    like(open_err("rel.project",
                  KV("exprs", "((as \"r\" (add int (lit bigint 1) "
                              "(lit int 2))))")),
         "argument 1 has type bigint", "argument type checked at open");
    like(
        open_err("rel.filter", KV("cond", "(add int (lit int 1) (lit int 2))")),
        "not boolean", "non-boolean condition at open");
    like(open_err("rel.filter", KV("cond", "(lit integer 5)")),
         "unknown type 'integer'", "unknown literal type");
    like(open_err("rel.filter", KV("cond", "(eq boolean (lit int 5000000000) "
                                           "(col 0))")),
         "out of range", "int literal out of range");
    like(open_err("rel.filter", KV("cond", "(col -1)")), "col needs",
         "negative column");
    like(open_err("rel.filter", KV("cond", "(in boolean (col 0) (col 1))")),
         "must hold literals", "in needs literals");
    like(open_err("rel.filter", KV("cond", "(like boolean (col 0) (col 1))")),
         "string lit", "like needs a literal pattern");
    like(open_err("rel.filter", KV("cond", "(eq (col 0) (col 1))")),
         "result type", "missing result type");
    like(open_err("rel.filter", KV("cond", "(div int (col 0) (col 1))")),
         "double", "div result must be double");
    like(open_err("rel.filter", KV("cond", "5")), "expected an expression",
         "bare number");
    like(open_err("rel.project", KV("exprs", "((col 0))")),
         "expected (as \"name\" EXPR)", "project item without as");
    like(open_err("rel.project", KV("exprs", "()")), "non-empty",
         "empty project");
    like(open_err("rel.filter", KV("cond", "(lit boolean maybe)")),
         "true or false", "bad boolean literal");
    ok(strcmp(open_err("rel.filter", NULL), "(opened)") != 0,
       "cond is required");
    {
        ember_batch *b = tbatch();
        is_string("ERR: rel.project: add int: argument 1 has type bigint",
                  ev(b, "(add int (col 1) (lit int 1))"),
                  "column type mismatch found at push");
        like(ev(b, "(upper string (col 0))"), "argument 1 has type int",
             "string function on an int column");
        batch_destroy(&b);
    }
}

int main(void)
{
    rh_init();
    ONE = batch_new();
    batch_add_column(ONE, "one", EMBER_TYPE_INT32);
    batch_append_i64(ONE, 0, 1);
    test_arith();
    test_compare();
    test_logic();
    test_in_like();
    test_cast();
    test_case();
    test_strings();
    test_dates();
    test_filter();
    test_project();
    test_explode();
    test_partition();
    test_limit();
    test_errors();
    batch_destroy(&ONE);
    return done_testing();
}
