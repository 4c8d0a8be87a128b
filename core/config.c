/*
 * config.c -- ember's configuration store and its parsers.
 *
 * Owns: the conf type (a sorted array of {key, value, source, origin}
 * entries, every string heap-copied), the parser of spark-defaults-style
 * files, the EMBER_CONF_* environment mapping, --conf arguments,
 * Spark-compatible size and duration syntax, and the typed accessors that
 * read a key as the table in conf_keys.c describes it (type, default,
 * fallback, bounds, unit of a bare number).
 *
 * How it works: lookups are binary searches over the sorted array, so
 * conf_foreach walks keys in strcmp order for free.  conf_set replaces a
 * value only when the new source ranks at least as high as the current
 * one, which makes the result independent of load order.  Loaders that can
 * fail half-way (a bad line 7 after six good ones) work on a copy and swap
 * it in only on success, so a failed load leaves the conf as it was.
 *
 * Threads: no locks and no global mutable state; see config.h.
 */
#include "config.h"

#include "util/err.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define LINE_MAX_BYTES 4096
#define ENV_PREFIX "EMBER_CONF_"
#define ENV_CONF_DIR "EMBER_CONF_DIR"

typedef struct entry {
    char *key;
    char *value;
    char *origin; /* may be NULL */
    conf_source src;
} entry;

struct conf {
    entry *v; /* sorted by key, strcmp order */
    size_t n;
    size_t cap;
};

/* ------------------------------------------------------------ names */

const char *conf_source_name(conf_source s)
{
    switch (s) {
    case CONF_SRC_DEFAULT:
        return "default";
    case CONF_SRC_FILE:
        return "file";
    case CONF_SRC_CONFD:
        return "conf.d";
    case CONF_SRC_ENV:
        return "env";
    case CONF_SRC_CMDLINE:
        return "--conf";
    case CONF_SRC_SCRIPT:
        return "script";
    }
    return "unknown";
}

/* ------------------------------------------------------------ the store */

static int is_key_char(int ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

/* The first invalid character of key, or NULL if key is valid. */
static const char *bad_key_char(const char *key)
{
    for (const char *p = key; *p; p++)
        if (!is_key_char((unsigned char)*p))
            return p;
    return NULL;
}

static int valid_key(const char *key)
{
    return key && *key && !bad_key_char(key);
}

/* strcmp(a, p || k) without building the concatenation. */
static int cmp_cat(const char *a, const char *p, const char *k)
{
    for (; *p; a++, p++)
        if (*a != *p)
            return (unsigned char)*a - (unsigned char)*p;
    return strcmp(a, k);
}

/* Binary search for prefix||key: 1 and its index if present, else 0 and
 * the index where it would be inserted. */
static int find_cat(const conf *c, const char *prefix, const char *key,
                    size_t *pos)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = cmp_cat(c->v[mid].key, prefix, key);
        if (r == 0) {
            *pos = mid;
            return 1;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

static const entry *lookup(const conf *c, const char *key)
{
    size_t pos;
    if (!c || !key)
        return NULL;
    return find_cat(c, "", key, &pos) ? &c->v[pos] : NULL;
}

static void free_entries(conf *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].value);
        free(c->v[i].origin);
    }
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* Exchange the contents of two confs (used to commit a loaded copy). */
static void swap_conf(conf *a, conf *b)
{
    conf t = *a;
    *a = *b;
    *b = t;
}

int conf_set(conf *c, const char *key, const char *value, conf_source src,
             const char *origin)
{
    size_t pos;
    char *v, *o = NULL;
    if (!c || !value || !valid_key(key) || (int)src < CONF_SRC_DEFAULT ||
        src > CONF_SRC_SCRIPT)
        return EMBER_EINVAL;
    int found = find_cat(c, "", key, &pos);
    if (found && src < c->v[pos].src)
        return 0;
    v = strdup(value);
    if (origin)
        o = strdup(origin);
    if (!v || (origin && !o))
        goto oom;
    if (found) {
        entry *e = &c->v[pos];
        free(e->value);
        free(e->origin);
        e->value = v;
        e->origin = o;
        e->src = src;
        return 0;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        entry *nv = realloc(c->v, ncap * sizeof *nv);
        if (!nv)
            goto oom;
        c->v = nv;
        c->cap = ncap;
    }
    char *k = strdup(key);
    if (!k)
        goto oom;
    memmove(&c->v[pos + 1], &c->v[pos], (c->n - pos) * sizeof *c->v);
    c->v[pos] = (entry){k, v, o, src};
    c->n++;
    return 0;
oom:
    free(v);
    free(o);
    return EMBER_ENOMEM;
}

conf *conf_new(void)
{
    conf *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t n;
    const conf_keydef *kd = conf_known_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (!kd[i].default_value[0])
            continue;
        if (conf_set(c, kd[i].key, kd[i].default_value, CONF_SRC_DEFAULT,
                     NULL) != 0) {
            conf_destroy(&c);
            return NULL;
        }
    }
    return c;
}

void conf_destroy(conf **c)
{
    if (!c || !*c)
        return;
    free_entries(*c);
    free(*c);
    *c = NULL;
}

conf *conf_dup(const conf *c)
{
    conf *d;
    if (!c)
        return NULL;
    d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (c->n) {
        d->v = calloc(c->n, sizeof *d->v);
        if (!d->v)
            goto oom;
        d->cap = c->n;
    }
    for (size_t i = 0; i < c->n; i++) {
        const entry *s = &c->v[i];
        entry *e = &d->v[i];
        d->n = i + 1; /* so the oom path frees this slot too */
        e->src = s->src;
        e->key = strdup(s->key);
        e->value = strdup(s->value);
        e->origin = s->origin ? strdup(s->origin) : NULL;
        if (!e->key || !e->value || (s->origin && !e->origin))
            goto oom;
    }
    return d;
oom:
    conf_destroy(&d);
    return NULL;
}

const char *conf_get(const conf *c, const char *key)
{
    const entry *e = lookup(c, key);
    return e ? e->value : NULL;
}

int conf_get_source(const conf *c, const char *key, conf_source *src,
                    const char **origin)
{
    const entry *e = lookup(c, key);
    if (!e)
        return EMBER_ENOTFOUND;
    if (src)
        *src = e->src;
    if (origin)
        *origin = e->origin;
    return 0;
}

const char *conf_get_sub(const conf *c, const char *prefix, const char *key)
{
    size_t pos;
    if (!c || !prefix || !key)
        return NULL;
    return find_cat(c, prefix, key, &pos) ? c->v[pos].value : NULL;
}

void conf_foreach(const conf *c, conf_visit_fn fn, void *ud)
{
    if (!c || !fn)
        return;
    for (size_t i = 0; i < c->n; i++)
        fn(ud, c->v[i].key, c->v[i].value, c->v[i].src, c->v[i].origin);
}

/* ---------------------------------------------------------- file parser */

static int is_ws(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f' ||
           ch == '\n';
}

/* Describe a byte for an error message: 'x' or \xNN. */
static void show_char(char *out, size_t n, unsigned char ch)
{
    if (isprint(ch))
        snprintf(out, n, "'%c'", ch);
    else
        snprintf(out, n, "'\\x%02x'", ch);
}

/* Parse one line (NUL-terminated, newline removed) in place.  Returns 0 for
 * a blank or comment line, 1 with *key and *value pointing into line, or
 * -1 with a description of the problem in why. */
static int parse_line(char *line, char **key, char **value, char *why,
                      size_t whylen)
{
    char *p, *k, *ke, *v, *ve, cbuf[16];
    /* A '#' at the start or after whitespace starts a comment. */
    for (p = line; *p; p++) {
        if (*p == '#' && (p == line || is_ws((unsigned char)p[-1]))) {
            *p = '\0';
            break;
        }
    }
    for (p = line; is_ws((unsigned char)*p); p++)
        ;
    if (!*p)
        return 0;
    k = p;
    while (*p && !is_ws((unsigned char)*p) && *p != '=')
        p++;
    ke = p;
    if (ke == k) {
        snprintf(why, whylen, "missing key before '='");
        return -1;
    }
    for (char *q = k; q < ke; q++) {
        if (!is_key_char((unsigned char)*q)) {
            show_char(cbuf, sizeof cbuf, (unsigned char)*q);
            snprintf(why, whylen,
                     "invalid character %s in key \"%.*s\" (keys are "
                     "[A-Za-z0-9_.-]+)",
                     cbuf, (int)(ke - k > 64 ? 64 : ke - k), k);
            return -1;
        }
    }
    while (is_ws((unsigned char)*p))
        p++;
    if (*p == '=') {
        p++;
        while (is_ws((unsigned char)*p))
            p++;
    }
    v = p;
    ve = v + strlen(v);
    while (ve > v && is_ws((unsigned char)ve[-1]))
        ve--;
    *ke = '\0';
    if (ve == v) {
        snprintf(why, whylen, "missing value for key \"%.64s\"", k);
        return -1;
    }
    *ve = '\0';
    *key = k;
    *value = v;
    return 1;
}

/* Read path into c directly (the public wrappers commit atomically). */
static int load_file_into(conf *c, const char *path, conf_source src,
                          ember_error *err)
{
    FILE *f;
    char *line = NULL, why[256], origin[4096 + 32];
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;

    f = fopen(path, "r");
    if (!f) {
        int e = errno;
        if (e == ENOENT)
            return ember_seterr(err, EMBER_ENOTFOUND, "%s: %s", path,
                                strerror(e));
        return ember_seterr(err, EMBER_EIO, "%s: %s", path, strerror(e));
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        char *key, *value, *text = line;
        int r;
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
            text += 3; /* UTF-8 byte order mark */
            len -= 3;
        }
        if (len > LINE_MAX_BYTES) {
            rc = ember_seterr(err, EMBER_EINVAL,
                              "%s:%ld: line too long (%zd bytes, limit %d)",
                              path, lineno, len, LINE_MAX_BYTES);
            goto out;
        }
        if (strlen(text) != (size_t)len) {
            rc = ember_seterr(err, EMBER_EINVAL, "%s:%ld: NUL byte in line",
                              path, lineno);
            goto out;
        }
        r = parse_line(text, &key, &value, why, sizeof why);
        if (r < 0) {
            rc = ember_seterr(err, EMBER_EINVAL, "%s:%ld: %s", path, lineno,
                              why);
            goto out;
        }
        if (r == 0)
            continue;
        snprintf(origin, sizeof origin, "%s:%ld", path, lineno);
        rc = conf_set(c, key, value, src, origin);
        if (rc) {
            ember_seterr(err, rc, "%s:%ld: %s", path, lineno,
                         ember_strerror(rc));
            goto out;
        }
    }
    if (ferror(f)) {
        int e = errno;
        rc = ember_seterr(err, EMBER_EIO, "%s: read error: %s", path,
                          strerror(e));
    }
out:
    free(line);
    fclose(f);
    return rc;
}

int conf_load_file(conf *c, const char *path, conf_source src, ember_error *err)
{
    conf *tmp;
    int rc;
    if (!c || !path)
        return ember_seterr(err, EMBER_EINVAL, "conf_load_file: no path");
    tmp = conf_dup(c);
    if (!tmp)
        return ember_seterr(err, EMBER_ENOMEM, "%s: out of memory", path);
    rc = load_file_into(tmp, path, src, err);
    if (rc == 0)
        swap_conf(c, tmp);
    conf_destroy(&tmp);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_conf_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

int conf_load_dir(conf *c, const char *dir, conf_source src, ember_error *err)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL, *path = NULL;
    size_t n = 0, cap = 0;
    conf *tmp = NULL;
    int rc = 0;

    if (!c || !dir)
        return ember_seterr(err, EMBER_EINVAL, "conf_load_dir: no dir");
    d = opendir(dir);
    if (!d) {
        int e = errno;
        if (e == ENOENT)
            return 0;
        return ember_seterr(err, e == ENOTDIR ? EMBER_EINVAL : EMBER_EIO,
                            "%s: %s", dir, strerror(e));
    }
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (!is_conf_name(de->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn)
                goto oom;
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name)))
            goto oom;
        n++;
    }
    if (errno) {
        int e = errno;
        rc = ember_seterr(err, EMBER_EIO, "%s: %s", dir, strerror(e));
        goto out;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    if (!(tmp = conf_dup(c)))
        goto oom;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        size_t plen = strlen(dir) + strlen(names[i]) + 2;
        free(path);
        if (!(path = malloc(plen)))
            goto oom;
        snprintf(path, plen, "%s/%s", dir, names[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* a dangling link or a directory named x.conf */
        rc = load_file_into(tmp, path, src, err);
        if (rc)
            goto out;
    }
    swap_conf(c, tmp);
    goto out;
oom:
    rc = ember_seterr(err, EMBER_ENOMEM, "%s: out of memory", dir);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(path);
    conf_destroy(&tmp);
    closedir(d);
    return rc;
}

/* -------------------------------------------------- environment, --conf */

int conf_load_env(conf *c, char *const *envp)
{
    const size_t plen = sizeof ENV_PREFIX - 1;
    conf *tmp;
    int rc = 0;
    if (!c)
        return EMBER_EINVAL;
    if (!envp)
        envp = environ;
    if (!envp)
        return 0;
    if (!(tmp = conf_dup(c)))
        return EMBER_ENOMEM;
    for (size_t i = 0; envp[i] && rc == 0; i++) {
        const char *e = envp[i], *eq;
        char *name, *key;
        if (strncmp(e, ENV_PREFIX, plen) != 0 || !(eq = strchr(e, '=')))
            continue;
        /* the configuration directory (cli/ember.c), not a key "DIR" */
        if (strncmp(e, ENV_CONF_DIR "=", sizeof ENV_CONF_DIR) == 0)
            continue;
        if (!(name = strndup(e, (size_t)(eq - e)))) {
            rc = EMBER_ENOMEM;
            break;
        }
        key = name + plen;
        for (char *p = key; *p; p++)
            if (*p == '_')
                *p = '.';
        if (valid_key(key)) {
            /* the origin is the variable's name, as spelled */
            char *origin = strndup(e, (size_t)(eq - e));
            rc = origin ? conf_set(tmp, key, eq + 1, CONF_SRC_ENV, origin)
                        : EMBER_ENOMEM;
            free(origin);
        }
        free(name);
    }
    if (rc == 0)
        swap_conf(c, tmp);
    conf_destroy(&tmp);
    return rc;
}

int conf_parse_arg(conf *c, const char *kv, conf_source src, ember_error *err)
{
    const char *eq, *k, *ke, *v, *ve, *bad;
    char *key = NULL, *value = NULL, cbuf[16];
    int rc;
    if (!c || !kv)
        return ember_seterr(err, EMBER_EINVAL, "--conf: missing argument");
    eq = strchr(kv, '=');
    if (!eq)
        return ember_seterr(err, EMBER_EINVAL,
                            "--conf \"%.200s\": expected key=value", kv);
    for (k = kv; k < eq && is_ws((unsigned char)*k); k++)
        ;
    for (ke = eq; ke > k && is_ws((unsigned char)ke[-1]); ke--)
        ;
    if (ke == k)
        return ember_seterr(err, EMBER_EINVAL,
                            "--conf \"%.200s\": missing key before '='", kv);
    for (v = eq + 1; is_ws((unsigned char)*v); v++)
        ;
    for (ve = v + strlen(v); ve > v && is_ws((unsigned char)ve[-1]); ve--)
        ;
    key = strndup(k, (size_t)(ke - k));
    value = strndup(v, (size_t)(ve - v));
    if (!key || !value) {
        rc = ember_seterr(err, EMBER_ENOMEM, "--conf: out of memory");
        goto out;
    }
    if ((bad = bad_key_char(key)) != NULL) {
        show_char(cbuf, sizeof cbuf, (unsigned char)*bad);
        rc = ember_seterr(err, EMBER_EINVAL,
                          "--conf \"%.200s\": invalid character %s in key "
                          "(keys are [A-Za-z0-9_.-]+)",
                          kv, cbuf);
        goto out;
    }
    rc = conf_set(c, key, value, src, "--conf");
    if (rc)
        ember_seterr(err, rc, "--conf \"%.200s\": %s", kv, ember_strerror(rc));
out:
    free(key);
    free(value);
    return rc;
}

/* -------------------------------------------------------- typed getters */

/* Copy s without surrounding whitespace into out; 0, or -1 if too long. */
static int trimmed(const char *s, char *out, size_t n)
{
    const char *e;
    while (is_ws((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && is_ws((unsigned char)e[-1]))
        e--;
    if ((size_t)(e - s) >= n)
        return -1;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    return 0;
}

/* Split "  123unit  " into a number and a lowercase unit (<= 3 letters). */
static int split_num_unit(const char *s, uint64_t *num, char unit[4])
{
    char t[64];
    const char *p;
    uint64_t n = 0;
    size_t ul = 0;
    if (!s || trimmed(s, t, sizeof t) != 0)
        return EMBER_EINVAL;
    p = t;
    if (!isdigit((unsigned char)*p))
        return EMBER_EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return EMBER_EINVAL;
        n = n * 10 + d;
    }
    for (; *p; p++) {
        if (!isalpha((unsigned char)*p) || ul == 3)
            return EMBER_EINVAL;
        unit[ul++] = (char)tolower((unsigned char)*p);
    }
    unit[ul] = '\0';
    *num = n;
    return 0;
}

int conf_parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
    static const char letters[] = "bkmgtp";
    uint64_t n, mul;
    char unit[4];
    const char *l;
    if (!out || split_num_unit(s, &n, unit) != 0)
        return EMBER_EINVAL;
    if (!unit[0]) {
        mul = default_unit ? default_unit : 1;
    } else {
        if (!(l = strchr(letters, unit[0])))
            return EMBER_EINVAL;
        /* "b" alone; otherwise x, xb or xib */
        if (unit[0] == 'b' ? unit[1] != '\0'
                           : !(unit[1] == '\0' || strcmp(unit + 1, "b") == 0 ||
                               strcmp(unit + 1, "ib") == 0))
            return EMBER_EINVAL;
        mul = (uint64_t)1 << (10 * (l - letters));
    }
    if (n > UINT64_MAX / mul)
        return EMBER_EINVAL;
    *out = n * mul;
    return 0;
}

int conf_parse_duration_ms(const char *s, int64_t default_unit_ms, int64_t *out)
{
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"ms", 1},      {"s", 1000},    {"m", 60000},
                 {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
    uint64_t n;
    int64_t mul = 0;
    char unit[4];
    if (!out || split_num_unit(s, &n, unit) != 0)
        return EMBER_EINVAL;
    if (strcmp(unit, "us") == 0) {
        *out = (int64_t)(n / 1000);
        return 0;
    }
    if (!unit[0]) {
        mul = default_unit_ms;
    } else {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcmp(unit, units[i].name) == 0)
                mul = units[i].ms;
    }
    if (mul < 1 || n > (uint64_t)(INT64_MAX / mul))
        return EMBER_EINVAL;
    *out = (int64_t)n * mul;
    return 0;
}

/* Text parsers shared by both kinds of getter: 0, or -1 if s is not a
 * value of the type. */

static int parse_int_text(const char *s, int64_t *out)
{
    char t[64], *end;
    long long v;
    if (trimmed(s, t, sizeof t) != 0)
        return -1;
    errno = 0;
    v = strtoll(t, &end, 10);
    if (end == t || *end || errno == ERANGE)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int parse_bool_text(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    char t[16];
    if (trimmed(s, t, sizeof t) != 0)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(t, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(t, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_double_text(const char *s, double *out)
{
    char t[128], *end;
    double v;
    if (trimmed(s, t, sizeof t) != 0)
        return -1;
    v = strtod(t, &end);
    if (end == t || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* The index of s's value in an ENUM's values ("a,b|bee,c"), letters
 * compared case-insensitively, or -1. */
static int enum_index(const char *values, const char *s)
{
    char t[64];
    int idx = 0;
    size_t tl;
    if (!values || trimmed(s, t, sizeof t) != 0 || !t[0])
        return -1;
    tl = strlen(t);
    for (const char *p = values; *p; idx++) {
        size_t n = strcspn(p, ",");
        for (const char *q = p; q < p + n;) {
            size_t m = strcspn(q, "|,");
            if (m == tl && strncasecmp(q, t, tl) == 0)
                return idx;
            q += m + (q[m] == '|');
        }
        p += n + (p[n] == ',');
    }
    return -1;
}

/* The value to parse for key, or NULL (use the default) if unset/empty. */
static const entry *typed_lookup(const conf *c, const char *key)
{
    const entry *e = lookup(c, key);
    const char *p;
    if (!e)
        return NULL;
    for (p = e->value; is_ws((unsigned char)*p); p++)
        ;
    return *p ? e : NULL;
}

static int bad_text(ember_error *err, const char *value, const char *key,
                    const char *origin, const char *expected)
{
    return ember_seterr(err, EMBER_EINVAL,
                        "invalid value \"%.200s\" for %.200s (from %.300s): "
                        "expected %s",
                        value, key, origin, expected);
}

static const char *origin_of(const entry *e)
{
    return e->origin ? e->origin : conf_source_name(e->src);
}

static int bad_value(ember_error *err, const entry *e, const char *expected)
{
    return bad_text(err, e->value, e->key, origin_of(e), expected);
}

#define EXPECT_BOOL "a boolean (true/false, yes/no, on/off, 1/0)"
#define EXPECT_SIZE "a size such as 512m or 2g"
#define EXPECT_DURATION "a duration such as 200ms or 3s"

/* For the getters with a caller's default: a key of the table read as its
 * own type must also pass the table's checks (bounds), which the
 * table-driven accessor applies to the same value. */
static int table_check(const conf *c, const char *key, conf_type t,
                       ember_error *err)
{
    const conf_keydef *kd = conf_keydef_find(key);
    int64_t i;
    double d;
    if (!kd || kd->type != t)
        return 0;
    switch (t) {
    case CONF_INT:
        return conf_int(c, key, &i, err);
    case CONF_DOUBLE:
        return conf_double(c, key, &d, err);
    case CONF_SIZE:
        return conf_size(c, key, &i, err);
    case CONF_DURATION:
        return conf_duration_ms(c, key, &i, err);
    default:
        return 0;
    }
}

int conf_get_int(const conf *c, const char *key, int64_t def, int64_t *out,
                 ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    int64_t v;
    if (!e) {
        *out = def;
        return 0;
    }
    if (parse_int_text(e->value, &v) != 0)
        return bad_value(err, e, "an integer");
    if (table_check(c, key, CONF_INT, err))
        return EMBER_EINVAL;
    *out = v;
    return 0;
}

int conf_get_bool(const conf *c, const char *key, int def, int *out,
                  ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    if (!e) {
        *out = def;
        return 0;
    }
    if (parse_bool_text(e->value, out) != 0)
        return bad_value(err, e, EXPECT_BOOL);
    return 0;
}

int conf_get_double(const conf *c, const char *key, double def, double *out,
                    ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    double v;
    if (!e) {
        *out = def;
        return 0;
    }
    if (parse_double_text(e->value, &v) != 0)
        return bad_value(err, e, "a number");
    if (table_check(c, key, CONF_DOUBLE, err))
        return EMBER_EINVAL;
    *out = v;
    return 0;
}

int conf_get_size(const conf *c, const char *key, uint64_t default_unit,
                  uint64_t def, uint64_t *out, ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    uint64_t v;
    if (!e) {
        *out = def;
        return 0;
    }
    if (conf_parse_size(e->value, default_unit, &v) != 0)
        return bad_value(err, e, EXPECT_SIZE);
    if (table_check(c, key, CONF_SIZE, err))
        return EMBER_EINVAL;
    *out = v;
    return 0;
}

int conf_get_duration_ms(const conf *c, const char *key,
                         int64_t default_unit_ms, int64_t def, int64_t *out,
                         ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    int64_t v;
    if (!e) {
        *out = def;
        return 0;
    }
    if (conf_parse_duration_ms(e->value, default_unit_ms, &v) != 0)
        return bad_value(err, e, EXPECT_DURATION);
    if (table_check(c, key, CONF_DURATION, err))
        return EMBER_EINVAL;
    *out = v;
    return 0;
}

/* ----------------------------------------- table-driven typed accessors */

/* Each type's name and the accessor that reads it. */
static const struct {
    conf_type type;
    const char *name, *accessor;
} types[] = {
    {CONF_STRING, "string", "conf_string"},
    {CONF_ENUM, "enum", "conf_enum or conf_string"},
    {CONF_BOOL, "boolean", "conf_bool"},
    {CONF_INT, "integer", "conf_int"},
    {CONF_DOUBLE, "number", "conf_double"},
    {CONF_SIZE, "size", "conf_size"},
    {CONF_DURATION, "duration", "conf_duration_ms"},
};

const char *conf_type_name(conf_type t)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == t)
            return types[i].name;
    return "unknown";
}

static const char *accessor_of(conf_type t)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == t)
            return types[i].accessor;
    return "?";
}

/* A value of one of the table's types. */
typedef struct tval {
    int64_t i; /* INT, SIZE, DURATION; ENUM: the index */
    double d;  /* DOUBLE */
    int b;     /* BOOL */
} tval;

/* A bound of kd as a number (table bounds are checked by
 * tests/unit/test_conf_keys.c, so they parse). */
static int64_t bound_i(const conf_keydef *kd, const char *b)
{
    int64_t v = 0;
    uint64_t u = 0;
    switch (kd->type) {
    case CONF_SIZE:
        if (strcmp(b, "-1") == 0)
            return -1;
        if (conf_parse_size(b, (uint64_t)kd->unit, &u) != 0 || u > INT64_MAX)
            u = INT64_MAX;
        return (int64_t)u;
    case CONF_DURATION:
        if (conf_parse_duration_ms(b, kd->unit, &v) != 0)
            v = INT64_MAX;
        return v;
    default:
        if (parse_int_text(b, &v) != 0)
            v = INT64_MAX;
        return v;
    }
}

static double bound_d(const char *b)
{
    double d = 0;
    parse_double_text(b, &d);
    return d;
}

static int in_bounds(const conf_keydef *kd, const tval *v)
{
    if (kd->type == CONF_DOUBLE)
        return (!kd->min || v->d >= bound_d(kd->min)) &&
               (!kd->max || v->d <= bound_d(kd->max));
    if (kd->type == CONF_SIZE && v->i == -1)
        return kd->min && strcmp(kd->min, "-1") == 0;
    return (!kd->min || v->i >= bound_i(kd, kd->min)) &&
           (!kd->max || v->i <= bound_i(kd, kd->max));
}

/* What a valid value of kd is, for messages.  With range, the bounds: "a
 * duration of at least 1ms", "a number from 0.0 to 1.0"; without, the
 * syntax: "a size such as 512m or 2g".  "one of error, warn, info, debug"
 * for an ENUM. */
static void describe(const conf_keydef *kd, int range, char *out, size_t n)
{
    const char *noun;
    int bounded = range && (kd->min || kd->max) &&
                  !(kd->type == CONF_SIZE && kd->min && !kd->max &&
                    strcmp(kd->min, "-1") == 0);
    switch (kd->type) {
    case CONF_ENUM: {
        size_t len = (size_t)snprintf(out, n, "one of ");
        const char *p = kd->values ? kd->values : "";
        while (*p && len < n) {
            size_t m = strcspn(p, "|,");
            len += (size_t)snprintf(out + len, n - len, "%s%.*s",
                                    p == kd->values ? "" : ", ", (int)m, p);
            p += strcspn(p, ",");
            p += *p == ',';
        }
        return;
    }
    case CONF_BOOL:
        snprintf(out, n, EXPECT_BOOL);
        return;
    case CONF_INT:
        noun = "an integer";
        break;
    case CONF_DOUBLE:
        noun = "a number";
        break;
    case CONF_SIZE:
        noun = bounded ? "a size" : EXPECT_SIZE;
        break;
    case CONF_DURATION:
        noun = bounded ? "a duration" : EXPECT_DURATION;
        break;
    default:
        snprintf(out, n, "a string");
        return;
    }
    if (!bounded)
        snprintf(out, n, "%s%s", noun,
                 kd->type == CONF_SIZE && kd->min && strcmp(kd->min, "-1") == 0
                     ? ", or -1"
                     : "");
    else if (kd->min && kd->max)
        snprintf(out, n, "%s from %s to %s", noun, kd->min, kd->max);
    else if (kd->min)
        snprintf(out, n, "%s of at least %s", noun, kd->min);
    else
        snprintf(out, n, "%s of at most %s", noun, kd->max);
}

/* Parse text as kd's type within its bounds: 0, or EMBER_EINVAL naming
 * key (the key whose value text is), text and origin. */
static int parse_as(const conf_keydef *kd, const char *text, const char *key,
                    const char *origin, tval *v, ember_error *err)
{
    char want[160];
    uint64_t u;
    int bad = 0;
    switch (kd->type) {
    case CONF_STRING:
        return 0;
    case CONF_ENUM:
        bad = (v->i = enum_index(kd->values, text)) < 0;
        break;
    case CONF_BOOL:
        bad = parse_bool_text(text, &v->b) != 0;
        break;
    case CONF_INT:
        bad = parse_int_text(text, &v->i) != 0;
        break;
    case CONF_DOUBLE:
        bad = parse_double_text(text, &v->d) != 0;
        break;
    case CONF_SIZE: {
        char t[8];
        if (kd->min && strcmp(kd->min, "-1") == 0 &&
            trimmed(text, t, sizeof t) == 0 && strcmp(t, "-1") == 0) {
            v->i = -1;
            break;
        }
        bad =
            conf_parse_size(text, (uint64_t)kd->unit, &u) != 0 || u > INT64_MAX;
        v->i = (int64_t)u;
        break;
    }
    case CONF_DURATION:
        bad = conf_parse_duration_ms(text, kd->unit, &v->i) != 0;
        break;
    }
    if (bad || !in_bounds(kd, v)) {
        describe(kd, !bad, want, sizeof want);
        return bad_text(err, text, key, origin, want);
    }
    return 0;
}

/* Find the text key means (its value, its fallback's, or its default) and
 * parse it as type t.  Returns 0 with *v set, 1 if there is nothing to
 * parse (an empty default), or EMBER_EINVAL; *text (may be NULL) gets the
 * text. */
static int table_get(const conf *c, const char *key, conf_type t,
                     const char *fn, tval *v, const char **text,
                     ember_error *err)
{
    const conf_keydef *kd = conf_keydef_find(key), *at = kd;
    const entry *e = NULL;
    if (!kd)
        return ember_seterr(err, EMBER_EINVAL,
                            "%s: \"%.200s\" is not in the key table "
                            "(core/conf_keys.c)",
                            fn, key ? key : "(null)");
    if (kd->type != t && !(t == CONF_STRING && kd->type == CONF_ENUM))
        return ember_seterr(
            err, EMBER_EINVAL, "%s: %s is a%s %s key; read it with %s", fn, key,
            kd->type == CONF_ENUM || kd->type == CONF_INT ? "n" : "",
            conf_type_name(kd->type), accessor_of(kd->type));
    /* the key's value, else its fallback's, else the default (the chain is
     * at most a few keys; the test checks it ends) */
    for (int hops = 0; at && hops < 8; hops++) {
        if ((e = typed_lookup(c, at->key)) != NULL || !at->fallback)
            break;
        at = conf_keydef_find(at->fallback);
    }
    if (e) {
        if (text)
            *text = e->value;
        return parse_as(kd, e->value, e->key, origin_of(e), v, err);
    }
    if (!at || !at->default_value[0]) {
        if (text)
            *text = "";
        return 1;
    }
    if (text)
        *text = at->default_value;
    return parse_as(kd, at->default_value, at->key, "default", v, err);
}

int conf_int(const conf *c, const char *key, int64_t *out, ember_error *err)
{
    tval v;
    int rc = table_get(c, key, CONF_INT, "conf_int", &v, NULL, err);
    if (rc == 0)
        *out = v.i;
    return rc < 0 ? rc : 0;
}

int conf_bool(const conf *c, const char *key, int *out, ember_error *err)
{
    tval v;
    int rc = table_get(c, key, CONF_BOOL, "conf_bool", &v, NULL, err);
    if (rc == 0)
        *out = v.b;
    return rc < 0 ? rc : 0;
}

int conf_double(const conf *c, const char *key, double *out, ember_error *err)
{
    tval v;
    int rc = table_get(c, key, CONF_DOUBLE, "conf_double", &v, NULL, err);
    if (rc == 0)
        *out = v.d;
    return rc < 0 ? rc : 0;
}

int conf_size(const conf *c, const char *key, int64_t *out, ember_error *err)
{
    tval v;
    int rc = table_get(c, key, CONF_SIZE, "conf_size", &v, NULL, err);
    if (rc == 0)
        *out = v.i;
    return rc < 0 ? rc : 0;
}

int conf_duration_ms(const conf *c, const char *key, int64_t *out,
                     ember_error *err)
{
    tval v;
    int rc =
        table_get(c, key, CONF_DURATION, "conf_duration_ms", &v, NULL, err);
    if (rc == 0)
        *out = v.i;
    return rc < 0 ? rc : 0;
}

int conf_string(const conf *c, const char *key, const char **out,
                ember_error *err)
{
    tval v;
    const char *text = "";
    int rc = table_get(c, key, CONF_STRING, "conf_string", &v, &text, err);
    if (rc < 0)
        return rc;
    *out = text;
    return 0;
}

int conf_enum(const conf *c, const char *key, int *out, ember_error *err)
{
    tval v;
    int rc = table_get(c, key, CONF_ENUM, "conf_enum", &v, NULL, err);
    if (rc == 0)
        *out = (int)v.i;
    return rc < 0 ? rc : 0;
}

int conf_computed(const conf *c, const char *key)
{
    const conf_keydef *kd = conf_keydef_find(key);
    tval v;
    return kd && kd->type != CONF_STRING &&
           table_get(c, key, kd->type, "conf_computed", &v, NULL, NULL) == 1;
}

int conf_validate(const conf *c, ember_error *err)
{
    if (!c)
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        const entry *e = typed_lookup(c, c->v[i].key);
        const conf_keydef *kd = e ? conf_keydef_find(e->key) : NULL;
        tval v;
        int rc;
        if (kd &&
            (rc = parse_as(kd, e->value, e->key, origin_of(e), &v, err)) != 0)
            return rc;
    }
    return 0;
}

/* -------------------------------------------------------- unknown keys */

/* Keys below these prefixes belong to plugins, which check them. */
static int in_open_subtree(const char *key)
{
    static const char *const named[] = {"transport.", "clustermgr.", "op."};
    if (strncmp(key, "plugins.", 8) == 0 && key[8])
        return 1;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t n = strlen(named[i]);
        const char *name = key + n, *dot;
        if (strncmp(key, named[i], n) != 0)
            continue;
        dot = strchr(name, '.');
        if (dot && dot > name && dot[1])
            return 1;
    }
    return 0;
}

#define EDIT_MAX 3
#define EDIT_COLS 64 /* longer than any known key */

/* Levenshtein distance, letters compared case-insensitively; returns
 * EDIT_MAX + 1 for anything further than EDIT_MAX. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[EDIT_COLS], prev;
    if (lb >= EDIT_COLS || (la > lb ? la - lb : lb - la) > EDIT_MAX)
        return EDIT_MAX + 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t best;
        prev = row[0];
        row[0] = i;
        best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) !=
                          tolower((unsigned char)b[j - 1]);
            size_t d = prev + cost, up = row[j] + 1, left = row[j - 1] + 1;
            if (up < d)
                d = up;
            if (left < d)
                d = left;
            prev = row[j];
            row[j] = d;
            if (d < best)
                best = d;
        }
        if (best > EDIT_MAX)
            return EDIT_MAX + 1;
    }
    return row[lb] > EDIT_MAX ? EDIT_MAX + 1 : row[lb];
}

void conf_check_unknown(const conf *c, conf_warn_fn warn, void *ud)
{
    size_t nk;
    const conf_keydef *known = conf_known_keys(&nk);
    if (!c || !warn)
        return;
    for (size_t i = 0; i < c->n; i++) {
        const entry *e = &c->v[i];
        const char *suggestion = NULL;
        size_t best = EDIT_MAX + 1;
        if (conf_keydef_find(e->key) || in_open_subtree(e->key))
            continue;
        for (size_t k = 0; k < nk; k++) {
            size_t d = edit_distance(e->key, known[k].key);
            if (d < best) {
                best = d;
                suggestion = known[k].key;
            }
        }
        warn(ud, e->key, e->origin, suggestion);
    }
}
