/*
 * test_config.c -- core/config.c: file format, precedence, environment,
 * --conf, typed getters (with a caller's default, and driven by the key
 * table), bounds, unknown-key warnings.  The table itself, the generated
 * doc and the readers of each key are tests/unit/test_conf_keys.c's.
 *
 * Files are written under a mkdtemp directory that is removed at the end.
 */
#include "config.h"

#include "tap/tap.h"

#include <ember/plugin.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLANNED 372

static char tmpdir[64];

/* ------------------------------------------------------------- helpers */

/* Write content to tmpdir/name; returns the path (caller frees). */
static char *write_file(const char *name, const char *content)
{
    size_t n = strlen(tmpdir) + strlen(name) + 2;
    char *path = malloc(n);
    FILE *f;
    if (!path)
        bail("out of memory");
    snprintf(path, n, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    if (!f)
        bail("cannot write %s", path);
    fputs(content, f);
    fclose(f);
    return path;
}

static char *make_dir(const char *name)
{
    size_t n = strlen(tmpdir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path)
        bail("out of memory");
    snprintf(path, n, "%s/%s", tmpdir, name);
    if (mkdir(path, 0700) != 0)
        bail("cannot mkdir %s", path);
    return path;
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* ok() that err->msg starts with prefix. */
static void msg_starts(const ember_error *err, const char *prefix,
                       const char *what)
{
    if (!ok(strncmp(err->msg, prefix, strlen(prefix)) == 0, "%s", what))
        diag("     wanted prefix: %s\n       seen: %s", prefix, err->msg);
}

static void is_source(const conf *c, const char *key, conf_source want,
                      const char *what)
{
    conf_source s = (conf_source)-1;
    int rc = conf_get_source(c, key, &s, NULL);
    ok(rc == 0 && s == want, "%s: source of %s is %s (saw %s)", what, key,
       conf_source_name(want), rc ? "unset" : conf_source_name(s));
}

/* --------------------------------------------------------------- tests */

static void test_defaults(void)
{
    conf *c = conf_new();
    size_t n = 0, nset = 0, bad = 0;
    const conf_keydef *kd = conf_known_keys(&n);
    const char *origin = "x";
    conf_source src = CONF_SRC_SCRIPT;

    ok(c != NULL, "conf_new");
    is_int(46, n, "46 known keys");
    is_string("local[*]", conf_get(c, "master"), "default master");
    is_string("1g", conf_get(c, "executor.memory"), "default executor.memory");
    is_string("8", conf_get(c, "sql.shuffle.partitions"),
              "default sql.shuffle.partitions");
    is_string("3s", conf_get(c, "locality.wait"), "default locality.wait");
    is_string("0.9", conf_get(c, "speculation.quantile"),
              "default speculation.quantile");
    ok(conf_get(c, "clustermgr") == NULL, "empty default (clustermgr) unset");
    ok(conf_get(c, "locality.wait.process") == NULL,
       "empty default (locality.wait.process) unset");
    ok(conf_get_source(c, "master", &src, &origin) == 0 &&
           src == CONF_SRC_DEFAULT && origin == NULL,
       "defaults have source DEFAULT and no origin");
    for (size_t i = 0; i < n; i++) {
        const char *v = conf_get(c, kd[i].key);
        if (!kd[i].doc || !kd[i].doc[0])
            bad++;
        if (kd[i].default_value[0]) {
            nset++;
            if (!v || strcmp(v, kd[i].default_value) != 0)
                bad++;
        } else if (v) {
            bad++;
        }
    }
    is_int(0, bad, "every known key has a doc and its default set");
    is_int(36, nset, "36 keys with a non-empty default");
    is_int(EMBER_ENOTFOUND, conf_get_source(c, "nope", NULL, NULL),
           "conf_get_source of an unset key");

    is_string("default", conf_source_name(CONF_SRC_DEFAULT), "name default");
    is_string("file", conf_source_name(CONF_SRC_FILE), "name file");
    is_string("conf.d", conf_source_name(CONF_SRC_CONFD), "name conf.d");
    is_string("env", conf_source_name(CONF_SRC_ENV), "name env");
    is_string("--conf", conf_source_name(CONF_SRC_CMDLINE), "name --conf");
    is_string("script", conf_source_name(CONF_SRC_SCRIPT), "name script");
    conf_destroy(&c);
    ok(c == NULL, "conf_destroy nulls the pointer");
    conf_destroy(&c);
    conf_destroy(NULL);
    ok(1, "conf_destroy accepts NULL");
}

static void test_set_get(void)
{
    conf *c = conf_new(), *d;
    const char *origin = NULL;
    conf_source src;

    is_int(0, conf_set(c, "k", "file", CONF_SRC_FILE, "f:1"), "set at FILE");
    is_int(0, conf_set(c, "k", "default", CONF_SRC_DEFAULT, NULL),
           "set at lower source returns 0");
    is_string("file", conf_get(c, "k"), "lower source ignored");
    is_int(0, conf_set(c, "k", "file2", CONF_SRC_FILE, "f:2"),
           "set again at same source");
    is_string("file2", conf_get(c, "k"), "same source: later wins");
    conf_get_source(c, "k", &src, &origin);
    is_string("f:2", origin, "origin kept");
    is_int(EMBER_EINVAL, conf_set(c, "bad key", "v", CONF_SRC_FILE, NULL),
           "space in key rejected");
    is_int(EMBER_EINVAL, conf_set(c, "", "v", CONF_SRC_FILE, NULL),
           "empty key rejected");
    is_int(EMBER_EINVAL, conf_set(c, "k", NULL, CONF_SRC_FILE, NULL),
           "NULL value rejected");
    is_int(0, conf_set(c, "Az09_.-", "ok", CONF_SRC_FILE, NULL),
           "every allowed key character accepted");

    d = conf_dup(c);
    ok(d != NULL, "conf_dup");
    conf_set(d, "k", "changed", CONF_SRC_SCRIPT, NULL);
    conf_set(d, "only.in.dup", "1", CONF_SRC_SCRIPT, NULL);
    is_string("file2", conf_get(c, "k"), "dup is independent (value)");
    ok(conf_get(c, "only.in.dup") == NULL, "dup is independent (keys)");
    is_string("changed", conf_get(d, "k"), "dup changed");
    is_string("1g", conf_get(d, "executor.memory"), "dup has defaults");

    conf_set(c, "transport.zmq.linger", "100", CONF_SRC_FILE, NULL);
    is_string("100", conf_get_sub(c, "transport.zmq.", "linger"),
              "conf_get_sub");
    is_string("100", conf_get_sub(c, "transport.", "zmq.linger"),
              "conf_get_sub, other split");
    ok(conf_get_sub(c, "transport.zmq.", "hwm") == NULL,
       "conf_get_sub of unset key");
    ok(conf_get_sub(c, "transport.shm.", "linger") == NULL,
       "conf_get_sub of another plugin's subtree");
    conf_destroy(&d);
    conf_destroy(&c);
}

static void test_file_format(void)
{
    conf *c = conf_new();
    ember_error err = {0};
    const char *origin = NULL;
    char want[512];
    char *path = write_file("forms.conf", "# a comment\n"
                                          "   # an indented comment\n"
                                          "\n"
                                          "a = b = c\n"
                                          "spaced   value with  spaces   \n"
                                          "eq=tight\n"
                                          "mixed =x\n"
                                          "trail = 3s  # trailing comment\n"
                                          "hash = a#b\n"
                                          "tab\tvalue\n"
                                          "   \t  \n"
                                          "crlf yes\r\n"
                                          "eqeq == x\n"
                                          "last no newline");

    is_int(0, conf_load_file(c, path, CONF_SRC_FILE, &err), "load forms.conf");
    is_string("b = c", conf_get(c, "a"), "'=' inside the value");
    is_string("value with  spaces", conf_get(c, "spaced"),
              "space form, inner spaces kept, trimmed");
    is_string("tight", conf_get(c, "eq"), "k=v without spaces");
    is_string("x", conf_get(c, "mixed"), "k =v");
    is_string("3s", conf_get(c, "trail"), "trailing comment after whitespace");
    is_string("a#b", conf_get(c, "hash"), "'#' not after whitespace is data");
    is_string("value", conf_get(c, "tab"), "tab separator");
    is_string("yes", conf_get(c, "crlf"), "CRLF line ending");
    is_string("= x", conf_get(c, "eqeq"), "only the first '=' separates");
    is_string("no newline", conf_get(c, "last"), "last line without newline");
    ok(conf_get(c, "#") == NULL && conf_get(c, "an") == NULL,
       "comment lines set nothing");
    conf_get_source(c, "a", NULL, &origin);
    snprintf(want, sizeof want, "%s:4", path);
    is_string(want, origin, "origin is path:line");
    is_source(c, "a", CONF_SRC_FILE, "file");
    free(path);
    conf_destroy(&c);
}

static void test_malformed(void)
{
    static const struct {
        const char *content;
        int line;
        const char *what;
    } cases[] = {
        {"ok 1\nnovalue\n", 2, "missing value"},
        {"x 1\n\n# c\nbad:key 1\n", 4, "invalid character ':'"},
        {"k =   # only a comment\n", 1, "missing value"},
        {"a 1\nb 2\n= v\n", 3, "missing key"},
        {"a 1\nk\xc3\xa9y 1\n", 2, "invalid character '\\xc3'"},
    };
    char want[512], name[32];
    ember_error err;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conf *c = conf_new();
        char *path;
        snprintf(name, sizeof name, "bad%zu.conf", i);
        path = write_file(name, cases[i].content);
        memset(&err, 0, sizeof err);
        is_int(EMBER_EINVAL, conf_load_file(c, path, CONF_SRC_FILE, &err),
               "%s: EINVAL", name);
        snprintf(want, sizeof want, "%s:%d: ", path, cases[i].line);
        msg_starts(&err, want, "exact path:LINE: prefix");
        like(err.msg, cases[i].what, "%s: says what is wrong", name);
        is_int(EMBER_EINVAL, err.code, "err.code set");
        free(path);
        conf_destroy(&c);
    }

    /* All or nothing: the good first line of bad0.conf was not applied. */
    {
        conf *c = conf_new();
        char *path = write_file("partial.conf", "good 1\nalso 2\nbroken\n");
        ok(conf_load_file(c, path, CONF_SRC_FILE, NULL) == EMBER_EINVAL &&
               conf_get(c, "good") == NULL && conf_get(c, "also") == NULL,
           "a failed load changes nothing");
        free(path);
        conf_destroy(&c);
    }

    /* Line length: 4096 bytes is fine, 4097 is not. */
    {
        conf *c = conf_new();
        size_t vlen = 4096 - 2; /* "k " + value */
        char *content = malloc(2 * 4200), *path;
        const char *v;
        memcpy(content, "k ", 2);
        memset(content + 2, 'v', vlen);
        strcpy(content + 2 + vlen, "\n");
        path = write_file("long_ok.conf", content);
        is_int(0, conf_load_file(c, path, CONF_SRC_FILE, NULL),
               "4096-byte line accepted");
        v = conf_get(c, "k");
        is_int(vlen, v ? strlen(v) : 0, "its value is complete");
        free(path);

        memcpy(content, "a 1\nk ", 6);
        memset(content + 6, 'v', vlen + 1);
        strcpy(content + 6 + vlen + 1, "\nb 2\n");
        path = write_file("long_bad.conf", content);
        memset(&err, 0, sizeof err);
        is_int(EMBER_EINVAL, conf_load_file(c, path, CONF_SRC_FILE, &err),
               "4097-byte line rejected");
        snprintf(want, sizeof want, "%s:2: ", path);
        msg_starts(&err, want, "long line: path:2: prefix");
        like(err.msg, "too long", "long line: says too long");
        free(path);
        free(content);
        conf_destroy(&c);
    }

    /* Unreadable file: EIO, not ENOTFOUND (root reads anything). */
    if (geteuid() == 0) {
        skip("running as root: permissions are not enforced");
    } else {
        conf *c = conf_new();
        char *path = write_file("noread.conf", "a 1\n");
        chmod(path, 0);
        memset(&err, 0, sizeof err);
        is_int(EMBER_EIO, conf_load_file(c, path, CONF_SRC_FILE, &err),
               "unreadable file: EIO");
        free(path);
        conf_destroy(&c);
    }

    /* A path through a regular file (ENOTDIR) is EIO, not ENOTFOUND. */
    {
        conf *c = conf_new();
        char *path = write_file("plain.conf", "a 1\n");
        char *through = malloc(strlen(path) + 3);
        sprintf(through, "%s/x", path);
        is_int(EMBER_EIO, conf_load_file(c, through, CONF_SRC_FILE, NULL),
               "path through a file: EIO");
        free(through);
        free(path);
        conf_destroy(&c);
    }

    /* Missing file. */
    {
        conf *c = conf_new();
        char *path = write_file("exists.conf", "");
        size_t n = strlen(path);
        path[n - 6] = 'X'; /* existX.conf: does not exist */
        memset(&err, 0, sizeof err);
        is_int(EMBER_ENOTFOUND, conf_load_file(c, path, CONF_SRC_FILE, &err),
               "missing file: ENOTFOUND");
        like(err.msg, path, "missing file: message names the path");
        free(path);
        conf_destroy(&c);
    }
}

/* Every key p.<src> is set by every source up to <src>, so it must end up
 * with the value of exactly that source, whatever the load order. */
static const char *const prec_keys[] = {"p.file", "p.confd", "p.env", "p.cmd",
                                        "p.script"};
static char *const prec_env[] = {"EMBER_CONF_p_env=env", "EMBER_CONF_p_cmd=env",
                                 "EMBER_CONF_p_script=env",
                                 "EMBER_CONF_executor_cores=6", NULL};

static void prec_file(conf *c, const char *path)
{
    ok(conf_load_file(c, path, CONF_SRC_FILE, NULL) == 0, "load file");
}
static void prec_dir(conf *c, const char *dir)
{
    ok(conf_load_dir(c, dir, CONF_SRC_CONFD, NULL) == 0, "load conf.d");
}
static void prec_env_load(conf *c)
{
    ok(conf_load_env(c, prec_env) == 0, "load env");
}
static void prec_cmd(conf *c)
{
    ok(conf_parse_arg(c, "p.cmd=cmd", CONF_SRC_CMDLINE, NULL) == 0 &&
           conf_parse_arg(c, "p.script=cmd", CONF_SRC_CMDLINE, NULL) == 0,
       "parse --conf");
}
static void prec_script(conf *c)
{
    ok(conf_set(c, "p.script", "script", CONF_SRC_SCRIPT, "test.lua:3") == 0,
       "set from script");
}

static void prec_check(const conf *c, const char *order)
{
    static const char *const want[] = {"file", "confd", "env", "cmd", "script"};
    static const conf_source srcs[] = {CONF_SRC_FILE, CONF_SRC_CONFD,
                                       CONF_SRC_ENV, CONF_SRC_CMDLINE,
                                       CONF_SRC_SCRIPT};
    for (size_t i = 0; i < 5; i++) {
        is_string(want[i], conf_get(c, prec_keys[i]), "%s: %s", order,
                  prec_keys[i]);
        is_source(c, prec_keys[i], srcs[i], order);
    }
    is_string("1g", conf_get(c, "executor.memory"),
              "%s: untouched default stays", order);
    is_string("6", conf_get(c, "executor.cores"),
              "%s: env beats file for executor.cores", order);
    is_string("3", conf_get(c, "task.cpus"),
              "%s: file beats default for task.cpus", order);
}

static void test_precedence(void)
{
    char *file = write_file("prec.conf", "p.file file\np.confd file\n"
                                         "p.env file\np.cmd file\n"
                                         "p.script file\n"
                                         "executor.cores 5\ntask.cpus 3\n");
    char *dir = make_dir("prec.d");
    char *f1 = write_file("prec.d/a.conf", "p.confd confd\np.env confd\n"
                                           "p.cmd confd\np.script confd\n");
    conf *c = conf_new();

    prec_file(c, file);
    prec_dir(c, dir);
    prec_env_load(c);
    prec_cmd(c);
    prec_script(c);
    prec_check(c, "low to high");
    conf_destroy(&c);

    c = conf_new();
    prec_script(c);
    prec_cmd(c);
    prec_env_load(c);
    prec_dir(c, dir);
    prec_file(c, file);
    prec_check(c, "high to low");
    conf_destroy(&c);

    free(f1);
    free(dir);
    free(file);
}

static void test_confd(void)
{
    char *dir = make_dir("conf.d");
    char *files[] = {
        write_file("conf.d/02-a.conf", "x two\ny two\n"),
        write_file("conf.d/10-b.conf", "x ten\nz ten\n"),
        write_file("conf.d/20-c.conf", "y twenty\n"),
        write_file("conf.d/9-z.conf", "z nine\n"),
        write_file("conf.d/README", "x readme\n"),
        write_file("conf.d/.hidden.conf", "x hidden\n"),
        write_file("conf.d/x.conf.bak", "x bak\n"),
    };
    char *sub = make_dir("conf.d/sub.conf");
    char *missing = make_dir("empty.d");
    char *bad = make_dir("bad.d");
    char *bfiles[] = {write_file("bad.d/a.conf", "early 1\n"),
                      write_file("bad.d/b.conf", "ok 1\n\n!oops 1\n")};
    conf *c = conf_new();
    const char *origin = NULL;
    char want[512];
    ember_error err = {0};

    is_int(0, conf_load_dir(c, dir, CONF_SRC_CONFD, &err), "load conf.d");
    is_string("ten", conf_get(c, "x"), "later file wins (10-b over 02-a)");
    is_string("twenty", conf_get(c, "y"), "later file wins (20-c over 02-a)");
    is_string("nine", conf_get(c, "z"), "lexical, not numeric: 9-z after 10-b");
    conf_get_source(c, "x", NULL, &origin);
    snprintf(want, sizeof want, "%s/10-b.conf:1", dir);
    is_string(want, origin, "origin names the conf.d file and line");
    is_source(c, "x", CONF_SRC_CONFD, "conf.d");

    /* A missing directory is fine; an empty one too. */
    missing[strlen(missing) - 1] = 'X';
    is_int(0, conf_load_dir(c, missing, CONF_SRC_CONFD, NULL),
           "missing conf.d is not an error");
    missing[strlen(missing) - 1] = 'd';
    is_int(0, conf_load_dir(c, missing, CONF_SRC_CONFD, NULL),
           "empty conf.d is fine");
    is_int(EMBER_EINVAL, conf_load_dir(c, files[0], CONF_SRC_CONFD, NULL),
           "a file as conf.d is EINVAL");

    /* A bad file anywhere: error names it, nothing is applied. */
    is_int(EMBER_EINVAL, conf_load_dir(c, bad, CONF_SRC_CONFD, &err),
           "bad conf.d file: EINVAL");
    snprintf(want, sizeof want, "%s/b.conf:3: ", bad);
    msg_starts(&err, want, "bad conf.d file: path:LINE: prefix");
    ok(conf_get(c, "early") == NULL && conf_get(c, "ok") == NULL,
       "bad conf.d: earlier files not applied either");

    conf_destroy(&c);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        free(files[i]);
    free(bfiles[0]);
    free(bfiles[1]);
    free(sub);
    free(missing);
    free(bad);
    free(dir);
}

static int count_keys_n;
static void count_keys(void *ud, const char *key, const char *value,
                       conf_source src, const char *origin)
{
    (void)ud;
    (void)key;
    (void)value;
    (void)src;
    (void)origin;
    count_keys_n++;
}

static void test_env(void)
{
    char *const envp[] = {"EMBER_CONF_executor_memory=2g",
                          "EMBER_CONF_task_maxFailures=7",
                          "PATH=/bin",
                          "EMBER_CONFX_y=1",
                          "EMBER_CONF_=empty name",
                          "EMBER_CONF_bad:name=1",
                          "EMBER_CONF_a_b_c=v w",
                          "EMBER_CONF_no_equals",
                          "EMBER_CONF_DIR=/etc/elsewhere",
                          NULL};
    conf *c = conf_new();
    const char *origin = NULL;
    int before, after;

    count_keys_n = 0;
    conf_foreach(c, count_keys, NULL);
    before = count_keys_n;
    is_int(0, conf_load_env(c, envp), "conf_load_env");
    is_string("2g", conf_get(c, "executor.memory"),
              "EMBER_CONF_executor_memory");
    is_string("7", conf_get(c, "task.maxFailures"),
              "case preserved: EMBER_CONF_task_maxFailures");
    is_string("v w", conf_get(c, "a.b.c"), "every '_' becomes '.'");
    is_source(c, "executor.memory", CONF_SRC_ENV, "env");
    conf_get_source(c, "executor.memory", NULL, &origin);
    is_string("EMBER_CONF_executor_memory", origin, "origin is the variable");
    count_keys_n = 0;
    conf_foreach(c, count_keys, NULL);
    after = count_keys_n;
    is_int(before + 1, after, "only a.b.c is a new key; others skipped");
    ok(conf_get(c, "DIR") == NULL,
       "EMBER_CONF_DIR is the configuration directory, not a key DIR");

    setenv("EMBER_CONF_test_fromProcess", "yes", 1);
    is_int(0, conf_load_env(c, NULL), "conf_load_env(NULL)");
    is_string("yes", conf_get(c, "test.fromProcess"),
              "NULL envp reads the process environment");
    unsetenv("EMBER_CONF_test_fromProcess");
    conf_destroy(&c);
}

static void test_cmdline(void)
{
    conf *c = conf_new();
    ember_error err;
    const char *origin = NULL;
    int64_t i = 0;

    is_int(0, conf_parse_arg(c, "executor.cores=3", CONF_SRC_CMDLINE, NULL),
           "--conf executor.cores=3");
    is_string("3", conf_get(c, "executor.cores"), "value set");
    is_source(c, "executor.cores", CONF_SRC_CMDLINE, "--conf");
    conf_get_source(c, "executor.cores", NULL, &origin);
    is_string("--conf", origin, "origin --conf");
    is_int(0, conf_parse_arg(c, " spaced.key = v v ", CONF_SRC_CMDLINE, NULL),
           "--conf with spaces");
    is_string("v v", conf_get(c, "spaced.key"), "key and value trimmed");
    is_int(0, conf_parse_arg(c, "a=b=c", CONF_SRC_CMDLINE, NULL), "a=b=c");
    is_string("b=c", conf_get(c, "a"), "split at the first '='");
    is_int(0, conf_parse_arg(c, "task.maxFailures=", CONF_SRC_CMDLINE, NULL),
           "empty value accepted");
    is_string("", conf_get(c, "task.maxFailures"), "empty value stored");
    ok(conf_get_int(c, "task.maxFailures", 9, &i, NULL) == 0 && i == 9,
       "empty value: typed getter uses def");

    memset(&err, 0, sizeof err);
    is_int(EMBER_EINVAL, conf_parse_arg(c, "novalue", CONF_SRC_CMDLINE, &err),
           "no '=': EINVAL");
    like(err.msg, "\"novalue\"", "error names the argument");
    like(err.msg, "key=value", "error says what is expected");
    memset(&err, 0, sizeof err);
    is_int(EMBER_EINVAL, conf_parse_arg(c, " =x", CONF_SRC_CMDLINE, &err),
           "empty key: EINVAL");
    like(err.msg, "missing key", "empty key: message");
    memset(&err, 0, sizeof err);
    is_int(EMBER_EINVAL, conf_parse_arg(c, "k:x=1", CONF_SRC_CMDLINE, &err),
           "bad key character: EINVAL");
    like(err.msg, "\"k:x=1\"", "bad key: names the argument");
    like(err.msg, "':'", "bad key: names the character");
    is_int(EMBER_EINVAL, conf_parse_arg(c, "bad key=1", CONF_SRC_CMDLINE, NULL),
           "space inside key: EINVAL");
    ok(conf_get(c, "k:x") == NULL && conf_get(c, "bad key") == NULL,
       "failed --conf sets nothing");
    conf_destroy(&c);
}

static void test_sizes(void)
{
    static const struct {
        const char *s;
        uint64_t unit, want;
    } good[] = {
        {"512m", 1, 512ull << 20},
        {"2g", 1, 2ull << 30},
        {"1k", 1, 1024},
        {"100b", 1, 100},
        {"1t", 1, 1ull << 40},
        {"3p", 1, 3ull << 50},
        {"512MB", 1, 512ull << 20},
        {"2GiB", 1, 2ull << 30},
        {"1kib", 1, 1024},
        {"7B", 1 << 20, 7},
        {"0", 1, 0},
        {"100", 1, 100},
        {"100", 1 << 20, 100ull << 20},
        {"100", 0, 100},
        {" 4k ", 1, 4096},
        {"16777215t", 1, 16777215ull << 40},
        {"18446744073709551615", 1, UINT64_MAX},
    };
    static const char *const bad[] = {
        "",    "abc",  "12x",       "1.5g",         "-1",
        "1 g", "g",    "1bb",       "1kbb",         "1gibx",
        "1mi", "0x10", "16777216t", "17179869184g", "18446744073709551616",
        NULL};
    uint64_t out;
    conf *c = conf_new();
    ember_error err;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        out = 12345;
        int rc = conf_parse_size(good[i].s, good[i].unit, &out);
        ok(rc == 0 && out == good[i].want,
           "size \"%s\" (unit %" PRIu64 ") = %" PRIu64 " (got rc %d, %" PRIu64
           ")",
           good[i].s, good[i].unit, good[i].want, rc, out);
    }
    for (size_t i = 0; bad[i]; i++) {
        out = 12345;
        int rc = conf_parse_size(bad[i], 1, &out);
        ok(rc == EMBER_EINVAL && out == 12345,
           "size \"%s\" rejected, out untouched", bad[i]);
    }
    out = 1;
    ok(conf_parse_size("18446744073709551615", 1024, &out) == EMBER_EINVAL,
       "bare number overflowing with its default unit rejected");
    ok(conf_parse_size(NULL, 1, &out) == EMBER_EINVAL, "NULL size rejected");

    ok(conf_get_size(c, "executor.memory", 1 << 20, 0, &out, NULL) == 0 &&
           out == 1ull << 30,
       "executor.memory default = 1 GiB");
    conf_set(c, "executor.memory", "2048", CONF_SRC_SCRIPT, NULL);
    ok(conf_get_size(c, "executor.memory", 1 << 20, 0, &out, NULL) == 0 &&
           out == 2048ull << 20,
       "bare executor.memory is MiB");
    ok(conf_get_size(c, "no.such", 1, 77, &out, NULL) == 0 && out == 77,
       "unset size uses def");
    conf_set(c, "files.maxPartitionBytes", "lots", CONF_SRC_FILE,
             "/etc/ember.conf:9");
    memset(&err, 0, sizeof err);
    out = 5;
    is_int(EMBER_EINVAL,
           conf_get_size(c, "files.maxPartitionBytes", 1, 0, &out, &err),
           "bad size: EINVAL");
    like(err.msg, "files.maxPartitionBytes", "bad size: names the key");
    like(err.msg, "\"lots\"", "bad size: names the value");
    like(err.msg, "/etc/ember.conf:9", "bad size: names the origin");
    is_int(5, out, "bad size: out untouched");
    conf_destroy(&c);
}

static void test_durations(void)
{
    static const struct {
        const char *s;
        int64_t unit, want;
    } good[] = {
        {"200ms", 1, 200},
        {"3s", 1, 3000},
        {"2min", 1, 120000},
        {"2m", 1, 120000},
        {"1h", 1, 3600000},
        {"1d", 1, 86400000},
        {"500us", 1, 0},
        {"1500us", 1, 1},
        {"5", 1000, 5000},
        {"5", 1, 5},
        {"3S", 1, 3000},
        {"10MIN", 1, 600000},
        {" 7ms ", 1, 7},
        {"0", 1000, 0},
        {"9223372036854775807ms", 1, INT64_MAX},
    };
    static const char *const bad[] = {
        "",    "s",    "3x",    "3 s", "3sec",
        "-1s", "1.5s", "3secs", "ms3", "9223372036854775808ms",
        NULL};
    char big[64];
    int64_t out;
    conf *c = conf_new();
    ember_error err;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        out = 12345;
        int rc = conf_parse_duration_ms(good[i].s, good[i].unit, &out);
        ok(rc == 0 && out == good[i].want,
           "duration \"%s\" (unit %" PRId64 ") = %" PRId64
           " ms (got rc %d, %" PRId64 ")",
           good[i].s, good[i].unit, good[i].want, rc, out);
    }
    for (size_t i = 0; bad[i]; i++) {
        out = 12345;
        int rc = conf_parse_duration_ms(bad[i], 1, &out);
        ok(rc == EMBER_EINVAL && out == 12345,
           "duration \"%s\" rejected, out untouched", bad[i]);
    }
    snprintf(big, sizeof big, "%" PRId64 "d", INT64_MAX / 86400000 + 1);
    ok(conf_parse_duration_ms(big, 1, &out) == EMBER_EINVAL,
       "duration %s overflows", big);
    snprintf(big, sizeof big, "%" PRId64 "d", INT64_MAX / 86400000);
    ok(conf_parse_duration_ms(big, 1, &out) == 0 &&
           out == INT64_MAX / 86400000 * 86400000,
       "duration %s fits", big);
    snprintf(big, sizeof big, "%" PRId64, INT64_MAX / 1000 + 1);
    ok(conf_parse_duration_ms(big, 1000, &out) == EMBER_EINVAL,
       "bare %s seconds overflows", big);

    ok(conf_get_duration_ms(c, "locality.wait", 1, 0, &out, NULL) == 0 &&
           out == 3000,
       "locality.wait default 3s");
    ok(conf_get_duration_ms(c, "locality.wait.process", 1, 42, &out, NULL) ==
               0 &&
           out == 42,
       "unset locality.wait.process uses def");
    conf_set(c, "network.timeout", "60", CONF_SRC_FILE, "f:2");
    ok(conf_get_duration_ms(c, "network.timeout", 1000, 0, &out, NULL) == 0 &&
           out == 60000,
       "bare network.timeout in seconds");
    conf_set(c, "speculation.interval", "soon", CONF_SRC_CMDLINE, NULL);
    memset(&err, 0, sizeof err);
    is_int(EMBER_EINVAL,
           conf_get_duration_ms(c, "speculation.interval", 1, 0, &out, &err),
           "bad duration: EINVAL");
    like(err.msg, "speculation.interval", "bad duration: names the key");
    like(err.msg, "\"soon\"", "bad duration: names the value");
    like(err.msg, "--conf", "bad duration: names the source");
    conf_destroy(&c);
}

static void test_scalars(void)
{
    static const struct {
        const char *s;
        int want;
    } bools[] = {{"true", 1}, {"false", 0}, {"yes", 1},  {"no", 0},
                 {"on", 1},   {"off", 0},   {"1", 1},    {"0", 0},
                 {"TRUE", 1}, {"Off", 0},   {" yes ", 1}};
    conf *c = conf_new();
    ember_error err;
    int b;
    int64_t i;
    double d;

    for (size_t k = 0; k < sizeof bools / sizeof bools[0]; k++) {
        b = -1;
        conf_set(c, "flag", bools[k].s, CONF_SRC_FILE, NULL);
        ok(conf_get_bool(c, "flag", !bools[k].want, &b, NULL) == 0 &&
               b == bools[k].want,
           "bool \"%s\" = %d", bools[k].s, bools[k].want);
    }
    conf_set(c, "flag", "maybe", CONF_SRC_FILE, "x.conf:3");
    memset(&err, 0, sizeof err);
    b = -1;
    is_int(EMBER_EINVAL, conf_get_bool(c, "flag", 1, &b, &err),
           "bool \"maybe\" rejected");
    like(err.msg, "\"maybe\"", "bad bool: names the value");
    like(err.msg, "flag", "bad bool: names the key");
    like(err.msg, "x.conf:3", "bad bool: names the origin");
    is_int(-1, b, "bad bool: out untouched");
    ok(conf_get_bool(c, "unset.flag", 1, &b, NULL) == 0 && b == 1,
       "unset bool uses def");
    ok(conf_get_bool(c, "eventLog.enabled", 1, &b, NULL) == 0 && b == 0,
       "eventLog.enabled default false");
    ok(conf_get_bool(c, "shuffle.compress", 0, &b, NULL) == 0 && b == 1,
       "shuffle.compress default true");

    ok(conf_get_int(c, "task.maxFailures", 0, &i, NULL) == 0 && i == 4,
       "task.maxFailures default 4");
    conf_set(c, "n", "-5", CONF_SRC_FILE, NULL);
    ok(conf_get_int(c, "n", 0, &i, NULL) == 0 && i == -5, "int -5");
    conf_set(c, "n", "9223372036854775807", CONF_SRC_FILE, NULL);
    ok(conf_get_int(c, "n", 0, &i, NULL) == 0 && i == INT64_MAX, "int max");
    conf_set(c, "n", "9223372036854775808", CONF_SRC_FILE, NULL);
    is_int(EMBER_EINVAL, conf_get_int(c, "n", 0, &i, NULL),
           "int overflow rejected");
    conf_set(c, "n", "12abc", CONF_SRC_FILE, NULL);
    is_int(EMBER_EINVAL, conf_get_int(c, "n", 0, &i, NULL),
           "int with trailing garbage rejected");
    conf_set(c, "n", "1.5", CONF_SRC_FILE, NULL);
    is_int(EMBER_EINVAL, conf_get_int(c, "n", 0, &i, NULL),
           "fractional int rejected");
    conf_set(c, "executor.cores", "many", CONF_SRC_SCRIPT, NULL);
    memset(&err, 0, sizeof err);
    is_int(EMBER_EINVAL, conf_get_int(c, "executor.cores", 0, &i, &err),
           "bad executor.cores");
    like(err.msg, "executor.cores", "bad int: names the key");
    like(err.msg, "\"many\"", "bad int: names the value");
    like(err.msg, "script", "bad int: names the source");

    ok(conf_get_double(c, "memory.fraction", 0, &d, NULL) == 0 && d == 0.6,
       "memory.fraction default 0.6");
    conf_set(c, "x", "1e-3", CONF_SRC_FILE, NULL);
    ok(conf_get_double(c, "x", 0, &d, NULL) == 0 && d == 0.001, "double 1e-3");
    conf_set(c, "x", "abc", CONF_SRC_FILE, NULL);
    is_int(EMBER_EINVAL, conf_get_double(c, "x", 0, &d, NULL),
           "double garbage rejected");
    conf_set(c, "x", "nan", CONF_SRC_FILE, NULL);
    is_int(EMBER_EINVAL, conf_get_double(c, "x", 0, &d, NULL),
           "double nan rejected");
    conf_set(c, "x", "1e999", CONF_SRC_FILE, NULL);
    is_int(EMBER_EINVAL, conf_get_double(c, "x", 0, &d, NULL),
           "double overflow rejected");
    ok(conf_get_double(c, "unset.x", 2.5, &d, NULL) == 0 && d == 2.5,
       "unset double uses def");
    conf_destroy(&c);
}

struct warning {
    char key[64], origin[64], suggestion[64];
};
struct warnings {
    struct warning w[32];
    int n;
};

static void collect_warning(void *ud, const char *key, const char *origin,
                            const char *suggestion)
{
    struct warnings *ws = ud;
    if (ws->n == 32)
        return;
    snprintf(ws->w[ws->n].key, 64, "%s", key);
    snprintf(ws->w[ws->n].origin, 64, "%s", origin ? origin : "(null)");
    snprintf(ws->w[ws->n].suggestion, 64, "%s",
             suggestion ? suggestion : "(null)");
    ws->n++;
}

static void test_unknown(void)
{
    /* Sorted by key, with the expected suggestion (or "(null)"). */
    static const struct {
        const char *key, *suggestion;
    } warned[] = {
        {"Task.MaxFailures", "task.maxFailures"},
        {"executor.memroy", "executor.memory"},
        {"locality.wiat", "locality.wait"},
        {"op.x", "(null)"},
        {"speculation.quantil", "speculation.quantile"},
        {"totally.unrelated.thing", "(null)"},
        {"transport..x", "transport"}, /* 3 edits away */
        {"transport.zmq", "(null)"},
    };
    static const char *const accepted[] = {
        "transport.zmq.linger", "clustermgr.slurm.partition",
        "op.geo.precision",     "plugins.foo",
        "plugins.op_geo.opt",   "executor.memory"};
    conf *c = conf_new();
    struct warnings ws = {0};
    size_t n = sizeof warned / sizeof warned[0];
    int order_ok = 1;

    for (size_t i = 0; i < n; i++)
        conf_set(c, warned[i].key, "1", CONF_SRC_FILE, "w.conf:1");
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++)
        conf_set(c, accepted[i], "1", CONF_SRC_FILE, "w.conf:2");
    conf_check_unknown(c, collect_warning, &ws);
    is_int(n, ws.n, "one warning per unknown key, none for subtrees");
    for (size_t i = 0; i < n && i < (size_t)ws.n; i++) {
        if (strcmp(ws.w[i].key, warned[i].key) != 0)
            order_ok = 0;
        is_string(warned[i].suggestion, ws.w[i].suggestion, "suggestion for %s",
                  warned[i].key);
    }
    ok(order_ok, "warnings in sorted key order");
    is_string("w.conf:1", ws.w[0].origin, "warning carries the origin");

    /* A fresh conf has only known keys. */
    conf_destroy(&c);
    c = conf_new();
    ws.n = 0;
    conf_check_unknown(c, collect_warning, &ws);
    is_int(0, ws.n, "defaults are all known");
    conf_destroy(&c);
}

struct seen {
    char prev[128];
    int n, sorted;
    int pos_aa, pos_mm, pos_zz;
};

static void check_sorted(void *ud, const char *key, const char *value,
                         conf_source src, const char *origin)
{
    struct seen *s = ud;
    (void)value;
    (void)src;
    (void)origin;
    if (s->n > 0 && strcmp(s->prev, key) >= 0)
        s->sorted = 0;
    snprintf(s->prev, sizeof s->prev, "%s", key);
    if (strcmp(key, "aa") == 0)
        s->pos_aa = s->n;
    if (strcmp(key, "mm") == 0)
        s->pos_mm = s->n;
    if (strcmp(key, "zz") == 0)
        s->pos_zz = s->n;
    s->n++;
}

static void test_foreach(void)
{
    conf *c = conf_new();
    struct seen s = {.sorted = 1, .pos_aa = -1, .pos_mm = -1, .pos_zz = -1};
    conf_set(c, "zz", "1", CONF_SRC_FILE, NULL);
    conf_set(c, "aa", "1", CONF_SRC_FILE, NULL);
    conf_set(c, "mm", "1", CONF_SRC_FILE, NULL);
    conf_set(c, "B", "1", CONF_SRC_FILE, NULL);
    conf_foreach(c, check_sorted, &s);
    ok(s.sorted, "conf_foreach visits keys in strcmp order");
    is_int(36 + 4, s.n, "conf_foreach visits every set key once");
    is_int(0, s.pos_aa < s.pos_mm && s.pos_mm < s.pos_zz ? 0 : 1,
           "keys inserted out of order come out sorted");
    conf_destroy(&c);
}

/* ok() that err->msg contains every one of the NULL-terminated needles. */
static void msg_has(const ember_error *err, const char *what, ...)
{
    va_list ap;
    const char *n;
    int all = 1;
    va_start(ap, what);
    while ((n = va_arg(ap, const char *)) != NULL)
        if (!strstr(err->msg, n)) {
            all = 0;
            diag("     missing \"%s\"", n);
        }
    va_end(ap);
    if (!ok(all, "%s", what))
        diag("     message: %s", err->msg);
}

static void test_table_accessors(void)
{
    conf *c = conf_new();
    ember_error err;
    int64_t i;
    double d;
    int b, e;
    const char *s;

    /* defaults come from the table */
    ok(conf_int(c, "task.maxFailures", &i, NULL) == 0 && i == 4,
       "conf_int: task.maxFailures default 4");
    ok(conf_duration_ms(c, "network.timeout", &i, NULL) == 0 && i == 120000,
       "conf_duration_ms: network.timeout default 120 s");
    ok(conf_size(c, "executor.memory", &i, NULL) == 0 && i == 1 << 30,
       "conf_size: executor.memory default 1 GiB");
    ok(conf_size(c, "sql.autoBroadcastJoinThreshold", &i, NULL) == 0 &&
           i == 10 << 20,
       "conf_size: sql.autoBroadcastJoinThreshold default 10 MiB");
    ok(conf_double(c, "memory.fraction", &d, NULL) == 0 && d == 0.6,
       "conf_double: memory.fraction default 0.6");
    ok(conf_bool(c, "shuffle.compress", &b, NULL) == 0 && b == 1,
       "conf_bool: shuffle.compress default true");
    ok(conf_string(c, "master", &s, NULL) == 0 && strcmp(s, "local[*]") == 0,
       "conf_string: master default local[*]");
    ok(conf_string(c, "clustermgr", &s, NULL) == 0 && strcmp(s, "") == 0,
       "conf_string: empty default is \"\"");
    ok(conf_enum(c, "log.level", &e, NULL) == 0 && e == 1,
       "conf_enum: log.level default warn (index 1)");
    ok(conf_int(NULL, "task.maxFailures", &i, NULL) == 0 && i == 4,
       "a NULL conf reads the defaults");

    /* values, and the unit of a bare number from the table */
    conf_set(c, "task.maxFailures", " 7 ", CONF_SRC_SCRIPT, NULL);
    ok(conf_int(c, "task.maxFailures", &i, NULL) == 0 && i == 7, "conf_int 7");
    conf_set(c, "network.timeout", "60", CONF_SRC_FILE, NULL);
    ok(conf_duration_ms(c, "network.timeout", &i, NULL) == 0 && i == 60000,
       "bare network.timeout is in seconds (table unit)");
    conf_set(c, "locality.wait", "250", CONF_SRC_FILE, NULL);
    ok(conf_duration_ms(c, "locality.wait", &i, NULL) == 0 && i == 250,
       "bare locality.wait is in milliseconds (table unit)");
    conf_set(c, "executor.memory", "2048", CONF_SRC_FILE, NULL);
    ok(conf_size(c, "executor.memory", &i, NULL) == 0 && i == 2048LL << 20,
       "bare executor.memory is in MiB (table unit)");
    conf_set(c, "sql.autoBroadcastJoinThreshold", " -1 ", CONF_SRC_SCRIPT,
             NULL);
    ok(conf_size(c, "sql.autoBroadcastJoinThreshold", &i, NULL) == 0 && i == -1,
       "-1 where the table allows it");
    conf_set(c, "shuffle.compress", "Off", CONF_SRC_SCRIPT, NULL);
    ok(conf_bool(c, "shuffle.compress", &b, NULL) == 0 && b == 0,
       "conf_bool Off");
    conf_set(c, "log.level", "WARNING", CONF_SRC_SCRIPT, NULL);
    ok(conf_enum(c, "log.level", &e, NULL) == 0 && e == 1,
       "conf_enum: another spelling of warn, any case");
    conf_set(c, "log.level", "debug", CONF_SRC_SCRIPT, NULL);
    ok(conf_enum(c, "log.level", &e, NULL) == 0 && e == 3, "conf_enum debug");
    ok(conf_string(c, "log.level", &s, NULL) == 0 && strcmp(s, "debug") == 0,
       "conf_string reads an enum key as written");

    /* fallback keys */
    ok(conf_duration_ms(c, "locality.wait.node", &i, NULL) == 0 && i == 250,
       "unset locality.wait.node takes locality.wait's value");
    conf_set(c, "locality.wait.node", "1s", CONF_SRC_FILE, NULL);
    ok(conf_duration_ms(c, "locality.wait.node", &i, NULL) == 0 && i == 1000,
       "set locality.wait.node is its own");
    conf_set(c, "locality.wait.node", "", CONF_SRC_SCRIPT, NULL);
    ok(conf_duration_ms(c, "locality.wait.node", &i, NULL) == 0 && i == 250,
       "empty locality.wait.node falls back again");
    ok(conf_duration_ms(NULL, "locality.wait.rack", &i, NULL) == 0 && i == 3000,
       "fallback to locality.wait's default");

    /* a default the reader computes */
    i = 77;
    ok(conf_int(c, "default.parallelism", &i, NULL) == 0 && i == 77,
       "unset default.parallelism leaves the caller's value");
    ok(conf_computed(c, "default.parallelism"),
       "conf_computed: unset default.parallelism");
    ok(!conf_computed(c, "task.maxFailures"),
       "conf_computed: not for a key with a default");
    ok(!conf_computed(c, "locality.wait.node"),
       "conf_computed: not for a key with a fallback");
    ok(!conf_computed(c, "clustermgr") && !conf_computed(c, "no.such.key"),
       "conf_computed: not for an empty string default (\"\"), nor a key "
       "outside the table");
    conf_set(c, "default.parallelism", "3", CONF_SRC_SCRIPT, NULL);
    ok(conf_int(c, "default.parallelism", &i, NULL) == 0 && i == 3,
       "set default.parallelism");
    ok(!conf_computed(c, "default.parallelism"), "conf_computed: not once set");

    /* programming errors */
    memset(&err, 0, sizeof err);
    i = 5;
    is_int(EMBER_EINVAL, conf_int(c, "no.such.key", &i, &err),
           "a key missing from the table: EINVAL");
    msg_has(&err, "message names the key and the table", "no.such.key",
            "core/conf_keys.c", (char *)NULL);
    is_int(5, (int)i, "out untouched");
    memset(&err, 0, sizeof err);
    is_int(EMBER_EINVAL, conf_int(c, "executor.memory", &i, &err),
           "the wrong accessor: EINVAL");
    msg_has(&err, "message says which accessor", "executor.memory", "size",
            "conf_size", (char *)NULL);
    is_int(EMBER_EINVAL, conf_string(c, "task.maxFailures", &s, NULL),
           "conf_string of an integer key: EINVAL");
    is_int(EMBER_EINVAL, conf_enum(c, "master", &e, NULL),
           "conf_enum of a string key: EINVAL");

    /* bad values */
    conf_set(c, "log.level", "loud", CONF_SRC_SCRIPT, "/etc/ember.conf:4");
    memset(&err, 0, sizeof err);
    e = 9;
    is_int(EMBER_EINVAL, conf_enum(c, "log.level", &e, &err),
           "an enum value outside the list: EINVAL");
    msg_has(&err, "enum message lists the values", "\"loud\"", "log.level",
            "/etc/ember.conf:4", "one of error, warn, info, debug",
            (char *)NULL);
    is_int(9, e, "out untouched");
    is_int(EMBER_EINVAL, conf_string(c, "log.level", &s, NULL),
           "conf_string checks an enum value too");
    conf_set(c, "executor.memory", "lots", CONF_SRC_FILE, "e.conf:3");
    memset(&err, 0, sizeof err);
    is_int(EMBER_EINVAL, conf_size(c, "executor.memory", &i, &err),
           "a size that does not parse: EINVAL");
    msg_has(&err, "syntax message", "\"lots\"", "executor.memory", "e.conf:3",
            "expected a size such as 512m or 2g", (char *)NULL);
    conf_destroy(&c);
}

static void test_bounds(void)
{
    static const struct {
        const char *key, *value, *range;
    } out_of_range[] = {
        {"network.timeout", "0", "a duration of at least 1ms"},
        {"network.timeout", "0s", "a duration of at least 1ms"},
        {"executor.heartbeatInterval", "500us", "a duration of at least 1ms"},
        {"task.maxFailures", "0", "an integer of at least 1"},
        {"executor.cores", "-2", "an integer of at least 1"},
        {"scheduler.launchAhead", "-1", "an integer of at least 0"},
        {"executor.memory", "512k", "a size of at least 1m"},
        {"memory.fraction", "1.5", "a number from 0.0 to 1.0"},
        {"speculation.quantile", "-0.1", "a number from 0.0 to 1.0"},
        {"speculation.multiplier", "0.5", "a number of at least 1"},
        {"sql.autoBroadcastJoinThreshold", "-2",
         "a size such as 512m or 2g, or -1"},
        {"executor.memory", "-1", "a size such as 512m or 2g"},
        {"files.maxPartitionBytes", "0", "a size of at least 1"},
    };
    conf *c = conf_new();
    ember_error err;
    int64_t i;
    uint64_t u;
    double d;

    for (size_t k = 0; k < sizeof out_of_range / sizeof out_of_range[0]; k++) {
        const conf_keydef *kd = conf_keydef_find(out_of_range[k].key);
        int rc = EMBER_EINVAL + 1;
        i = 12345;
        d = 0.25;
        conf_set(c, out_of_range[k].key, out_of_range[k].value,
                 CONF_SRC_CMDLINE, "--conf");
        memset(&err, 0, sizeof err);
        switch (kd ? kd->type : CONF_STRING) {
        case CONF_INT:
            rc = conf_int(c, out_of_range[k].key, &i, &err);
            break;
        case CONF_SIZE:
            rc = conf_size(c, out_of_range[k].key, &i, &err);
            break;
        case CONF_DURATION:
            rc = conf_duration_ms(c, out_of_range[k].key, &i, &err);
            break;
        case CONF_DOUBLE:
            rc = conf_double(c, out_of_range[k].key, &d, &err);
            break;
        default:
            break;
        }
        ok(rc == EMBER_EINVAL && i == 12345 && d == 0.25,
           "%s=%s rejected, out untouched", out_of_range[k].key,
           out_of_range[k].value);
        msg_has(&err, "message names key, value, origin and the range",
                out_of_range[k].key, out_of_range[k].value, "--conf",
                out_of_range[k].range, (char *)NULL);
    }
    conf_destroy(&c);

    /* the getters with a caller's default check the table's bounds too */
    c = conf_new();
    conf_set(c, "network.timeout", "0", CONF_SRC_CMDLINE, "--conf");
    memset(&err, 0, sizeof err);
    i = 12345;
    is_int(EMBER_EINVAL,
           conf_get_duration_ms(c, "network.timeout", 1000, 120000, &i, &err),
           "conf_get_duration_ms: network.timeout=0 rejected");
    msg_has(&err, "the same message",
            "invalid value \"0\" for network.timeout "
            "(from --conf): expected a duration of at least 1ms",
            (char *)NULL);
    is_int(12345, (int)i, "out untouched");
    conf_set(c, "task.maxFailures", "0", CONF_SRC_CMDLINE, "--conf");
    is_int(EMBER_EINVAL, conf_get_int(c, "task.maxFailures", 4, &i, NULL),
           "conf_get_int: task.maxFailures=0 rejected");
    conf_set(c, "memory.fraction", "2", CONF_SRC_CMDLINE, "--conf");
    is_int(EMBER_EINVAL, conf_get_double(c, "memory.fraction", 0.6, &d, NULL),
           "conf_get_double: memory.fraction=2 rejected");
    conf_set(c, "executor.memory", "100k", CONF_SRC_CMDLINE, "--conf");
    u = 7;
    is_int(EMBER_EINVAL,
           conf_get_size(c, "executor.memory", 1 << 20, 1 << 30, &u, NULL),
           "conf_get_size: executor.memory=100k rejected");
    is_int(7, (int)u, "conf_get_size: out untouched");
    conf_set(c, "n.unbounded", "-5", CONF_SRC_CMDLINE, NULL);
    ok(conf_get_int(c, "n.unbounded", 0, &i, NULL) == 0 && i == -5,
       "keys outside the table have no bounds");
    conf_destroy(&c);
}

static void test_validate(void)
{
    conf *c = conf_new();
    ember_error err;
    is_int(0, conf_validate(c, NULL), "conf_validate: the defaults are valid");
    conf_set(c, "whatever.unknown", "x", CONF_SRC_FILE, NULL);
    conf_set(c, "task.maxFailures", "", CONF_SRC_CMDLINE, NULL);
    is_int(0, conf_validate(c, NULL),
           "conf_validate: unknown keys and empty values are not its business");
    conf_set(c, "speculation.quantile", "2", CONF_SRC_FILE, "a.conf:1");
    conf_set(c, "network.timeout", "0", CONF_SRC_CMDLINE, "--conf");
    memset(&err, 0, sizeof err);
    is_int(EMBER_EINVAL, conf_validate(c, &err), "conf_validate: EINVAL");
    msg_has(&err, "the first bad key in key order", "network.timeout", "\"0\"",
            "--conf", "at least 1ms", (char *)NULL);
    conf_destroy(&c);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ember-test-config-XXXXXX");
    if (!mkdtemp(tmpdir))
        bail("mkdtemp failed");
    unsetenv("EMBER_CONF_test_fromProcess");
    plan(PLANNED);

    test_defaults();
    test_set_get();
    test_file_format();
    test_malformed();
    test_precedence();
    test_confd();
    test_env();
    test_cmdline();
    test_sizes();
    test_durations();
    test_scalars();
    test_unknown();
    test_foreach();
    test_table_accessors();
    test_bounds();
    test_validate();

    ok(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 &&
           access(tmpdir, F_OK) != 0,
       "temporary files removed");
    return done_testing();
}
