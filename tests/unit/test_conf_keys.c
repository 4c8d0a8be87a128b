/*
 * test_conf_keys.c -- the key table (core/conf_keys.c) against the rest
 * of the tree:
 *
 *   1. every entry is well formed: its default and bounds parse as its
 *      type, enum defaults are among the values, fallbacks exist and end;
 *   2. docs/configuration.md's reference section is what the table
 *      generates (core/conf_doc.c);
 *   3. every key has a reader: each file named in its readers field reads
 *      it (contains the key, or a key that falls back on it, as a string
 *      literal);
 *   4. every key a call site reads by literal name (conf_get*, conf_int,
 *      ... in C; sc._s:conf_value("key") in Lua) is in the table, with the
 *      accessor of its type; plugins (host->conf_get) read only their
 *      open subtrees;
 *   5. log.level's values are in EMBER_LOG_* order, as its readers assume.
 *
 * Sources are read from $top_srcdir (set by make check).
 */
#include "conf_doc.h"
#include "config.h"
#include "util/fsutil.h"
#include "util/log.h"

#include "tap/tap.h"

#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *srcdir;

/* ------------------------------------------------------------ sources */

typedef struct src {
    char *path; /* relative to srcdir */
    char *text;
} src;

static src *srcs;
static size_t nsrcs;

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Collect the .c, .h and .lua files below srcdir/rel. */
static void collect(const char *rel)
{
    char full[4096];
    DIR *d;
    struct dirent *de;
    snprintf(full, sizeof full, "%s/%s", srcdir, rel);
    if (!(d = opendir(full)))
        return;
    while ((de = readdir(d)) != NULL) {
        char r[4096];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(r, sizeof r, "%s/%s", rel, de->d_name);
        snprintf(full, sizeof full, "%s/%s", srcdir, r);
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            collect(r);
        } else if (has_suffix(r, ".c") || has_suffix(r, ".h") ||
                   has_suffix(r, ".lua")) {
            /* generated files (lua/ember_*_lua.c in a srcdir build) are
             * copies of the .lua files */
            if (has_suffix(r, "_lua.c"))
                continue;
            srcs = realloc(srcs, (nsrcs + 1) * sizeof *srcs);
            if (!srcs)
                bail("out of memory");
            srcs[nsrcs].path = strdup(r);
            srcs[nsrcs].text = NULL;
            read_file(full, &srcs[nsrcs].text, NULL, NULL);
            if (!srcs[nsrcs].path || !srcs[nsrcs].text)
                bail("cannot read %s", full);
            nsrcs++;
        }
    }
    closedir(d);
}

static const src *find_src(const char *path)
{
    for (size_t i = 0; i < nsrcs; i++)
        if (strcmp(srcs[i].path, path) == 0)
            return &srcs[i];
    return NULL;
}

/* Does text contain key as a string literal ("key")? */
static int reads_literal(const char *text, const char *key)
{
    char q[256];
    snprintf(q, sizeof q, "\"%s\"", key);
    return strstr(text, q) != NULL;
}

/* Does text read key: name it, or a key whose fallback chain reaches it
 * (locality.wait.node is read in place of locality.wait when unset)? */
static int reads_key(const char *text, const char *key)
{
    size_t n;
    const conf_keydef *kd = conf_known_keys(&n);
    if (reads_literal(text, key))
        return 1;
    for (size_t i = 0; i < n; i++) {
        const conf_keydef *f = &kd[i];
        for (int hops = 0; f && f->fallback && hops < 8; hops++) {
            if (strcmp(f->fallback, key) == 0 && reads_literal(text, kd[i].key))
                return 1;
            f = conf_keydef_find(f->fallback);
        }
    }
    return 0;
}

/* The files defining the table and the accessors name keys without
 * reading them. */
static int is_table_file(const char *path)
{
    return strcmp(path, "core/conf_keys.c") == 0 ||
           strcmp(path, "core/config.c") == 0 ||
           strcmp(path, "core/config.h") == 0;
}

/* Which files outside the table files read key (reads_key). */
static void where_read(const char *key, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < nsrcs && len < n; i++)
        if (!is_table_file(srcs[i].path) && reads_key(srcs[i].text, key))
            len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "",
                                    srcs[i].path);
}

/* ------------------------------------------------------ 1. well formed */

static int value_ok(const conf_keydef *kd, const char *value)
{
    conf *c = conf_new();
    ember_error err = {0, ""};
    int rc;
    if (!c)
        bail("out of memory");
    conf_set(c, kd->key, value, CONF_SRC_SCRIPT, "test");
    rc = conf_validate(c, &err);
    if (rc)
        diag("     %s", err.msg);
    conf_destroy(&c);
    return rc == 0;
}

static int enum_has(const char *values, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = values; p && *p;) {
        size_t m = strcspn(p, "|,");
        if (m == n && strncmp(p, v, n) == 0)
            return 1;
        p += m + (p[m] != '\0');
    }
    return 0;
}

static void test_entries(void)
{
    size_t n;
    const conf_keydef *kd = conf_known_keys(&n);
    ok(n > 0, "the table has keys");
    for (size_t i = 0; i < n; i++) {
        const conf_keydef *k = &kd[i], *f;
        const char *why = NULL;
        int numeric = k->type == CONF_INT || k->type == CONF_DOUBLE ||
                      k->type == CONF_SIZE || k->type == CONF_DURATION;
        int hops = 0;
        size_t dl = strlen(k->doc ? k->doc : "");

        for (size_t j = 0; j < i; j++)
            if (strcmp(kd[j].key, k->key) == 0)
                why = "listed twice";
        if (conf_keydef_find(k->key) != k)
            why = why ? why : "conf_keydef_find does not find it";
        if (k->type < CONF_STRING || k->type > CONF_DURATION)
            why = "no type";
        else if (!k->doc || !dl || strchr(k->doc, '\n') ||
                 strchr(k->doc, '|') || k->doc[dl - 1] == '.')
            why = "doc must be one line, no '|', no final period";
        else if (k->notes && (!k->notes[0] || strchr(k->notes, '\n') ||
                              strchr(k->notes, '|') ||
                              k->notes[strlen(k->notes) - 1] != '.'))
            why = "notes must be sentences on one line, no '|'";
        else if (!k->readers || !k->readers[0])
            why = "no readers";
        else if (!k->default_value)
            why = "NULL default";
        else if (!k->default_value[0] && k->type != CONF_STRING &&
                 !k->fallback && !strstr(k->doc, "empty"))
            why = "an empty default (computed) must be explained in the doc";
        else if (k->default_value[0] && !value_ok(k, k->default_value))
            why = "default is not valid";
        else if (!numeric && (k->min || k->max))
            why = "bounds on a non-numeric key";
        else if (k->min && !value_ok(k, k->min))
            why = "min is not valid";
        else if (k->max && !value_ok(k, k->max))
            why = "max is not valid (or below min)";
        else if ((k->type == CONF_ENUM) != (k->values != NULL))
            why = "values go with ENUM and only with it";
        else if (k->type == CONF_ENUM && k->default_value[0] &&
                 !enum_has(k->values, k->default_value))
            why = "default not among the values";
        else if ((k->type == CONF_SIZE || k->type == CONF_DURATION) !=
                 (k->unit > 0))
            why = "a unit goes with SIZE and DURATION and only with them";
        else if (k->type == CONF_SIZE && k->min && !strcmp(k->min, "0"))
            why = "sizes are >= 0 anyway: no min \"0\"";
        for (f = k; !why && f && f->fallback; f = conf_keydef_find(f->fallback))
            if (!conf_keydef_find(f->fallback))
                why = "fallback is not in the table";
            else if (conf_keydef_find(f->fallback)->type != k->type ||
                     conf_keydef_find(f->fallback)->unit != k->unit)
                why = "fallback has another type or unit";
            else if (++hops > 4)
                why = "fallback chain does not end";
        if (!ok(why == NULL, "table entry %s is well formed", k->key))
            diag("     %s", why);
    }
}

/* ------------------------------------------------------------- 2. doc */

static void test_doc(void)
{
    char path[4096];
    ember_error err = {0, ""};
    int rc;
    snprintf(path, sizeof path, "%s/docs/configuration.md", srcdir);
    rc = conf_doc_check(path, &err);
    if (!ok(rc == 0, "docs/configuration.md's reference is the table's"))
        diag("     %s", err.msg);
}

/* ---------------------------------------------------------- 3. readers */

static void test_readers(void)
{
    size_t n;
    const conf_keydef *kd = conf_known_keys(&n);
    char where[1024];

    for (size_t i = 0; i < n; i++) {
        char list[512], *save = NULL;
        int all = 1;
        where_read(kd[i].key, where, sizeof where);
        snprintf(list, sizeof list, "%s", kd[i].readers);
        for (char *r = strtok_r(list, " ", &save); r;
             r = strtok_r(NULL, " ", &save)) {
            const src *s = find_src(r);
            if (!s || !reads_key(s->text, kd[i].key)) {
                all = 0;
                diag("     %s %s \"%s\"", r,
                     s ? "does not read" : "is not a source file of the tree",
                     kd[i].key);
            }
        }
        if (!ok(all && where[0], "%s is read by %s", kd[i].key, kd[i].readers))
            diag("     the key is read by: %s",
                 where[0] ? where : "nothing at all");
    }
}

/* ------------------------------------------------------- 4. call sites */

/* The type a table-driven accessor reads, or 0 for the older getters
 * (conf_get, conf_get_int, ...) and the Lua helpers. */
static conf_type accessor_type(const char *name, size_t len)
{
    static const struct {
        const char *name;
        conf_type t;
    } acc[] = {{"conf_int", CONF_INT},
               {"conf_bool", CONF_BOOL},
               {"conf_double", CONF_DOUBLE},
               {"conf_size", CONF_SIZE},
               {"conf_duration_ms", CONF_DURATION},
               {"conf_string", CONF_STRING},
               {"conf_enum", CONF_ENUM}};
    for (size_t i = 0; i < N(acc); i++)
        if (strlen(acc[i].name) == len && strncmp(acc[i].name, name, len) == 0)
            return acc[i].t;
    return (conf_type)0;
}

static void count_warning(void *ud, const char *key, const char *origin,
                          const char *suggestion)
{
    (void)key;
    (void)origin;
    (void)suggestion;
    ++*(int *)ud;
}

typedef struct scan_stats {
    int sites, bad;
} scan_stats;

static void check_site(const src *s, const char *acc, size_t acclen,
                       const char *key, size_t keylen, int plugin,
                       scan_stats *st)
{
    char k[256], a[64];
    const conf_keydef *kd;
    conf_type want;
    snprintf(k, sizeof k, "%.*s", (int)keylen, key);
    snprintf(a, sizeof a, "%.*s", (int)acclen, acc);
    st->sites++;
    kd = conf_keydef_find(k);
    if (plugin) {
        /* a plugin reads its own subtree, which conf_check_unknown leaves
         * to it: neither a key of the table nor one warned about */
        conf *c = conf_new();
        int warned = 0;
        if (!c)
            bail("out of memory");
        conf_set(c, k, "x", CONF_SRC_SCRIPT, NULL);
        conf_check_unknown(c, count_warning, &warned);
        conf_destroy(&c);
        if (kd || warned) {
            st->bad++;
            diag("     %s: a plugin reads %s, outside the plugin subtrees",
                 s->path, k);
        }
        return;
    }
    if (!kd) {
        st->bad++;
        diag("     %s: %s(..., \"%s\") reads a key that is not in "
             "core/conf_keys.c",
             s->path, a, k);
        return;
    }
    want = accessor_type(acc, acclen);
    if (want && want != kd->type &&
        !(want == CONF_STRING && kd->type == CONF_ENUM)) {
        st->bad++;
        diag("     %s: %s reads %s, which is a%s %s", s->path, a, k,
             kd->type == CONF_INT || kd->type == CONF_ENUM ? "n" : "",
             conf_type_name(kd->type));
    }
}

/* Run pattern over the C (lua = 0) or Lua sources; group ga is the
 * accessor's name, group gk the key. */
static void scan(const char *pattern, int ga, int gk, int lua, int plugin,
                 scan_stats *st)
{
    regex_t re;
    regmatch_t m[8];
    if (regcomp(&re, pattern, REG_EXTENDED) != 0)
        bail("bad pattern %s", pattern);
    for (size_t i = 0; i < nsrcs; i++) {
        const src *s = &srcs[i];
        const char *p = s->text;
        if (is_table_file(s->path) || has_suffix(s->path, ".lua") != lua)
            continue;
        while (regexec(&re, p, 8, m, p == s->text ? 0 : REG_NOTBOL) == 0) {
            check_site(s, p + m[ga].rm_so, (size_t)(m[ga].rm_eo - m[ga].rm_so),
                       p + m[gk].rm_so, (size_t)(m[gk].rm_eo - m[gk].rm_so),
                       plugin, st);
            p += m[0].rm_eo;
        }
    }
    regfree(&re);
}

static void test_call_sites(void)
{
    scan_stats core = {0, 0}, lua = {0, 0}, plug = {0, 0};
    /* core accessors: conf_get(c, "key"), conf_get_int(c, "key", ...),
     * conf_int(c, "key", ...); not host->conf_get or fake_conf_get */
    scan("(^|[^A-Za-z0-9_.>])(conf_(get|get_int|get_bool|get_double|get_"
         "size|get_duration_ms|int|bool|double|size|duration_ms|string|"
         "enum))[[:space:]]*\\([^,()\"]*,[[:space:]]*\"([^\"]*)\"",
         2, 4, 0, 0, &core);
    ok(core.sites > 0 && core.bad == 0,
       "every key the C call sites read (%d sites) is in the table, read "
       "with its type",
       core.sites);
    /* Lua: sc._s:conf_value("key") */
    scan("(conf[A-Za-z_]*)[[:space:]]*\\(([^,()\"]*,)?[[:space:]]*\"([^\"]*)"
         "\"",
         1, 3, 1, 0, &lua);
    ok(lua.sites > 0 && lua.bad == 0,
       "every key the Lua call sites read (%d sites) is in the table",
       lua.sites);
    /* plugins: host->conf_get("transport.shm.ring_size") */
    scan("(->conf_get)[[:space:]]*\\([[:space:]]*\"([^\"]*)\"", 1, 2, 0, 1,
         &plug);
    ok(plug.sites > 0 && plug.bad == 0,
       "plugins read only their own subtrees (%d sites)", plug.sites);
}

/* ----------------------------------------------------- 5. log.level */

static void test_log_level(void)
{
    const conf_keydef *kd = conf_keydef_find("log.level");
    int all = 1;
    if (!ok(kd && kd->type == CONF_ENUM, "log.level is an enum"))
        return;
    for (const char *p = kd->values; *p;) {
        char v[32];
        size_t m = strcspn(p, "|,");
        int idx = -1;
        conf *c = conf_new();
        if (!c)
            bail("out of memory");
        snprintf(v, sizeof v, "%.*s", (int)m, p);
        conf_set(c, "log.level", v, CONF_SRC_SCRIPT, "test");
        if (conf_enum(c, "log.level", &idx, NULL) != 0 ||
            idx != log_level_parse(v)) {
            all = 0;
            diag("     log.level %s: index %d, log_level_parse %d", v, idx,
                 log_level_parse(v));
        }
        conf_destroy(&c);
        p += m + (p[m] != '\0');
    }
    ok(all, "log.level's values are in EMBER_LOG_* order");
}

int main(void)
{
    static const char *const dirs[] = {"core", "cli", "lua", "plugins"};
    test_entries();
    test_log_level();
    srcdir = getenv("top_srcdir");
    if (!srcdir || !*srcdir) {
        skip("top_srcdir is not set (run through make check): no sources");
        return done_testing();
    }
    for (size_t i = 0; i < N(dirs); i++)
        collect(dirs[i]);
    if (!ok(find_src("core/conf_keys.c") != NULL, "sources found in %s",
            srcdir))
        return done_testing();
    test_doc();
    test_readers();
    test_call_sites();
    for (size_t i = 0; i < nsrcs; i++) {
        free(srcs[i].path);
        free(srcs[i].text);
    }
    free(srcs);
    return done_testing();
}
