/*
 * config.c -- ember's configuration store and its parsers.
 *
 * Owns: the conf type (a sorted array of {key, value, source, origin}
 * entries, every string heap-copied), the known-keys table, the parser of
 * spark-defaults-style files, the EMBER_CONF_* environment mapping, --conf
 * arguments, and Spark-compatible size and duration syntax.
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

/* ------------------------------------------------------------ known keys */

static const conf_key_doc known_keys[] = {
    {"master", "local[*]",
     "where to run: local, local[N], local[*] or a cluster manager URL"},
    {"app.name", "ember", "application name, shown in logs and the event log"},
    {"transport", "zmq", "transport plugin used between driver and executors"},
    {"clustermgr", "",
     "cluster manager plugin; empty = chosen from the master URL"},
    {"plugins.path", "", "where to look for plugins, e.g. /opt/ember/plugins"},
    {"plugins.load", "", "comma-separated plugins to load at startup"},
    {"executor.memory", "1g",
     "memory per executor process (a bare number is in MiB)"},
    {"executor.cores", "1", "cores (task slots) per executor"},
    {"executor.instances", "2", "number of executors to start"},
    {"driver.host", "127.0.0.1", "address executors use to reach the driver"},
    {"driver.bindAddress", "127.0.0.1", "address the driver's sockets bind to"},
    {"driver.maxResultSize", "1g",
     "limit on the total size of one action's results per stage (0 = "
     "unlimited)"},
    {"task.maxFailures", "4", "failures of one task before its job is aborted"},
    {"task.maxDirectResultSize", "1m",
     "larger task results go through the block manager, not the reply"},
    {"task.cpus", "1", "cores reserved for each task"},
    {"stage.maxConsecutiveAttempts", "4",
     "consecutive fetch-failure attempts of a stage before it is aborted"},
    {"locality.wait", "3s",
     "how long to wait for a more local slot before relaxing locality"},
    {"locality.wait.process", "",
     "locality wait for process-local slots; empty = locality.wait"},
    {"locality.wait.node", "",
     "locality wait for node-local slots; empty = locality.wait"},
    {"locality.wait.rack", "",
     "locality wait for rack-local slots; empty = locality.wait"},
    {"executor.heartbeatInterval", "10s",
     "interval of executor heartbeats to the driver"},
    {"network.timeout", "120s",
     "default timeout for network interactions and lost executors"},
    {"scheduler.minRegisteredResourcesRatio", "0.0",
     "fraction of expected resources registered before scheduling starts"},
    {"scheduler.maxRegisteredResourcesWaitingTime", "30s",
     "longest wait for resources to register before scheduling starts"},
    {"scheduler.topology", "",
     "racks of hosts for RACK_LOCAL scheduling: host=rack,host=rack"},
    {"scheduler.launchAhead", "2",
     "tasks per core queued on an executor beyond its free cores while its "
     "tasks are short (0 = never, as Spark)"},
    {"scheduler.revive.interval", "1s",
     "interval of periodic resource offers to the task scheduler"},
    {"default.parallelism", "",
     "default number of partitions of distributed operations; empty = total "
     "executor cores"},
    {"local.dir", "/tmp", "directory for shuffle files and spilled data"},
    {"eventLog.enabled", "false", "write an event log of the application"},
    {"eventLog.dir", "/tmp/ember-events", "directory of event logs"},
    {"speculation", "false", "re-launch slow tasks speculatively"},
    {"speculation.interval", "100ms", "how often to look for slow tasks"},
    {"transport.data", "",
     "transport for bulk data between executors on one host (shm)"},
    {"task.binaryBroadcastThreshold", "1m",
     "stage binaries larger than this reach executors as broadcasts"},
    {"speculation.minTaskRuntime", "100ms",
     "a task runs at least this long before it may be speculated"},
    {"speculation.multiplier", "3",
     "how many times slower than the median a task must be to be "
     "speculated"},
    {"speculation.quantile", "0.9",
     "fraction of tasks that must finish before speculation starts"},
    {"memory.fraction", "0.6",
     "fraction of executor memory shared by execution and storage"},
    {"memory.storageFraction", "0.5",
     "part of memory.fraction where cached blocks are immune to eviction"},
    {"shuffle.compress", "true", "compress shuffle output"},
    {"io.compression.codec", "lz4",
     "codec for shuffle, spill and broadcast data"},
    {"sql.shuffle.partitions", "8",
     "reduce-side partitions of DataFrame aggregations, joins and sorts "
     "(Spark: 200; 8 suits a small machine)"},
    {"sql.autoBroadcastJoinThreshold", "10m",
     "a join side estimated below this size is broadcast to every task "
     "(-1 disables)"},
    {"log.level", "warn", "logging threshold, e.g. error, warn, info, debug"},
    {"log.toDriver", "true", "forward executor log lines to the driver"},
    {"ui.showConsoleProgress", "true",
     "show a stage progress bar on the console (stderr)"},
    {"files.maxPartitionBytes", "128m",
     "largest number of bytes packed into one partition when reading files"},
};

#define N_KNOWN (sizeof known_keys / sizeof known_keys[0])

const conf_key_doc *conf_known_keys(size_t *n)
{
    if (n)
        *n = N_KNOWN;
    return known_keys;
}

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
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (!known_keys[i].default_value[0])
            continue;
        if (conf_set(c, known_keys[i].key, known_keys[i].default_value,
                     CONF_SRC_DEFAULT, NULL) != 0) {
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

static int bad_value(ember_error *err, const entry *e, const char *expected)
{
    return ember_seterr(err, EMBER_EINVAL,
                        "invalid value \"%.200s\" for %.200s (from %.300s): "
                        "expected %s",
                        e->value, e->key,
                        e->origin ? e->origin : conf_source_name(e->src),
                        expected);
}

int conf_get_int(const conf *c, const char *key, int64_t def, int64_t *out,
                 ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    char t[64], *end;
    long long v;
    if (!e) {
        *out = def;
        return 0;
    }
    if (trimmed(e->value, t, sizeof t) != 0)
        return bad_value(err, e, "an integer");
    errno = 0;
    v = strtoll(t, &end, 10);
    if (end == t || *end || errno == ERANGE)
        return bad_value(err, e, "an integer");
    *out = (int64_t)v;
    return 0;
}

int conf_get_bool(const conf *c, const char *key, int def, int *out,
                  ember_error *err)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    const entry *e = typed_lookup(c, key);
    char t[16];
    if (!e) {
        *out = def;
        return 0;
    }
    if (trimmed(e->value, t, sizeof t) == 0) {
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
    }
    return bad_value(err, e, "a boolean (true/false, yes/no, on/off, 1/0)");
}

int conf_get_double(const conf *c, const char *key, double def, double *out,
                    ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    char t[128], *end;
    double v;
    if (!e) {
        *out = def;
        return 0;
    }
    if (trimmed(e->value, t, sizeof t) != 0)
        return bad_value(err, e, "a number");
    v = strtod(t, &end);
    if (end == t || *end || !isfinite(v))
        return bad_value(err, e, "a number");
    *out = v;
    return 0;
}

int conf_get_size(const conf *c, const char *key, uint64_t default_unit,
                  uint64_t def, uint64_t *out, ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    if (!e) {
        *out = def;
        return 0;
    }
    if (conf_parse_size(e->value, default_unit, out) != 0)
        return bad_value(err, e, "a size such as 512m or 2g");
    return 0;
}

int conf_get_duration_ms(const conf *c, const char *key,
                         int64_t default_unit_ms, int64_t def, int64_t *out,
                         ember_error *err)
{
    const entry *e = typed_lookup(c, key);
    if (!e) {
        *out = def;
        return 0;
    }
    if (conf_parse_duration_ms(e->value, default_unit_ms, out) != 0)
        return bad_value(err, e, "a duration such as 200ms or 3s");
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

static int is_known(const char *key)
{
    for (size_t i = 0; i < N_KNOWN; i++)
        if (strcmp(key, known_keys[i].key) == 0)
            return 1;
    return 0;
}

void conf_check_unknown(const conf *c, conf_warn_fn warn, void *ud)
{
    if (!c || !warn)
        return;
    for (size_t i = 0; i < c->n; i++) {
        const entry *e = &c->v[i];
        const char *suggestion = NULL;
        size_t best = EDIT_MAX + 1;
        if (is_known(e->key) || in_open_subtree(e->key))
            continue;
        for (size_t k = 0; k < N_KNOWN; k++) {
            size_t d = edit_distance(e->key, known_keys[k].key);
            if (d < best) {
                best = d;
                suggestion = known_keys[k].key;
            }
        }
        warn(ud, e->key, e->origin, suggestion);
    }
}
