/*
 * plugins.c -- loading plugins with libltdl and keeping their registrations.
 *
 * How it works: plugins_load() opens the module, looks up the single entry
 * symbol, checks the descriptor (struct size, ABI major equal, minor not
 * newer than ours, signature of shared struct sizes) before running any of
 * the plugin's code, then calls init() with the host table and a registry
 * cursor that tags every registration with the plugin that made it.
 * plugins_register_static() does the same for a descriptor compiled into
 * the program (static builds, tests): no module, so no lt_dlclose().
 *
 * Threads: main thread only, before worker threads start.  Afterwards the
 * registry is read-only and may be read from any thread.
 */
#include "plugins.h"

#include "config.h"
#include "util/err.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EMBER_PLUGIN_DIR
#define EMBER_PLUGIN_DIR "/usr/local/lib/ember/plugins"
#endif

typedef struct loaded {
    plugin_info info;
    lt_dlhandle handle;
    const ember_plugin *desc;
} loaded;

typedef struct reg_op {
    const ember_op_desc *op;
    int plugin;
} reg_op;

struct ember_registry {
    int plugin; /* index of the plugin being initialised */
};

static loaded *plugins;
static int nplugins;
static reg_op *ops;
static int nops;
static const ember_op_desc **op_ptrs;
static struct {
    const ember_transport_desc *t;
    int plugin;
} * transports;
static int ntransports;
static struct {
    const ember_cm_desc *cm;
    int plugin;
} * cms;
static int ncms;
static char search_path[8192];
static int lt_ready;

/* ------------------------------------------------------------- registry */

static int reg_op_fn(ember_registry *reg, const ember_op_desc *op)
{
    reg_op *n;
    if (!reg || !op ||
        op->struct_size < offsetof(ember_op_desc, close) + sizeof(op->close) ||
        !op->name)
        return EMBER_EINVAL;
    for (int i = 0; i < nops; i++)
        if (strcmp(ops[i].op->name, op->name) == 0)
            return EMBER_EEXISTS;
    n = realloc(ops, (size_t)(nops + 1) * sizeof *n);
    if (!n)
        return EMBER_ENOMEM;
    ops = n;
    ops[nops].op = op;
    ops[nops].plugin = reg->plugin;
    nops++;
    plugins[reg->plugin].info.nops++;
    plugins[reg->plugin].info.kind = "operators";
    return 0;
}

static int reg_transport_fn(ember_registry *reg, const ember_transport_desc *t)
{
    void *n;
    if (!reg || !t || !t->name || t->struct_size < sizeof(ember_transport_desc))
        return EMBER_EINVAL;
    n = realloc(transports, (size_t)(ntransports + 1) * sizeof *transports);
    if (!n)
        return EMBER_ENOMEM;
    transports = n;
    transports[ntransports].t = t;
    transports[ntransports].plugin = reg->plugin;
    ntransports++;
    plugins[reg->plugin].info.kind = "transport";
    return 0;
}

static int reg_cm_fn(ember_registry *reg, const ember_cm_desc *cm)
{
    void *n;
    if (!reg || !cm || !cm->name || cm->struct_size < sizeof(ember_cm_desc))
        return EMBER_EINVAL;
    n = realloc(cms, (size_t)(ncms + 1) * sizeof *cms);
    if (!n)
        return EMBER_ENOMEM;
    cms = n;
    cms[ncms].cm = cm;
    cms[ncms].plugin = reg->plugin;
    ncms++;
    plugins[reg->plugin].info.kind = "cluster manager";
    return 0;
}

/* ------------------------------------------------------------ host table */

#include "data/batch.h"
#include "util/log.h"

static const struct conf *host_conf;

void host_set_conf(const struct conf *c)
{
    host_conf = c;
}

static void host_seterr(ember_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ember_vseterr(err, code, fmt, ap);
    va_end(ap);
}

static void host_log(int level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, who, fmt, ap);
    va_end(ap);
}

static const char *host_conf_get(const char *key)
{
    return host_conf ? conf_get(host_conf, key) : NULL;
}

/* params accessors are defined below */
static const char *p_str(const ember_params *p, const char *name);
static int64_t p_int(const ember_params *p, const char *name);
static double p_double(const ember_params *p, const char *name);
static int p_bool(const ember_params *p, const char *name);
static int split_add(ember_split_list *l, const char *path, int64_t off,
                     int64_t len);

static void host_batch_free(ember_batch **b)
{
    batch_destroy(b);
}

static const ember_host the_host = {
    sizeof(ember_host),
    EMBER_ABI_MAJOR,
    EMBER_ABI_MINOR,
    host_seterr,
    ember_strerror,
    host_log,
    reg_op_fn,
    reg_transport_fn,
    reg_cm_fn,
    p_str,
    p_int,
    p_double,
    p_bool,
    split_add,
    batch_num_rows,
    batch_num_columns,
    batch_column,
    batch_column_name,
    batch_new,
    host_batch_free,
    batch_add_column,
    batch_append_str,
    batch_append_null,
    batch_append_i64,
    batch_append_f64,
    batch_clear,
    host_conf_get,
    self_exe,
    batch_add_column_data,
};

const ember_host *host_table(void)
{
    return &the_host;
}

/* --------------------------------------------------------------- loading */

static void path_add(const char *dir)
{
    size_t n = strlen(search_path);
    if (!dir || !*dir)
        return;
    snprintf(search_path + n, sizeof search_path - n, "%s%s", n ? ":" : "",
             dir);
}

static void path_add_list(const char *list)
{
    char tmp[4096];
    if (!list)
        return;
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *save = NULL, *t = strtok_r(tmp, ":,", &save); t;
         t = strtok_r(NULL, ":,", &save))
        path_add(t);
}

int plugins_init(const struct conf *c, ember_error *err)
{
    const char *dirs = NULL;
    search_path[0] = '\0';
    if (conf_string(c, "plugins.path", &dirs, err))
        return EMBER_EINVAL;
    path_add_list(dirs);
    path_add_list(getenv("EMBER_PLUGIN_PATH"));
#ifdef EMBER_BUILDDIR
    {
        /* Running from the build tree: use the freshly built plugins. */
        const char *exe = self_exe();
        size_t bl = strlen(EMBER_BUILDDIR);
        if (strncmp(exe, EMBER_BUILDDIR "/", bl + 1) == 0) {
            path_add(EMBER_BUILDDIR "/plugins/transport/zmq");
            path_add(EMBER_BUILDDIR "/plugins/transport/shm");
            path_add(EMBER_BUILDDIR "/plugins/clustermgr/local");
            path_add(EMBER_BUILDDIR "/plugins/operators/text");
            path_add(EMBER_BUILDDIR "/plugins/operators/relational");
        }
    }
#endif
    path_add(EMBER_PLUGIN_DIR);
    if (!lt_ready) {
        if (lt_dlinit() != 0)
            return ember_seterr(err, EMBER_EIO, "lt_dlinit: %s", lt_dlerror());
        lt_ready = 1;
    }
    if (lt_dlsetsearchpath(search_path) != 0)
        return ember_seterr(err, EMBER_EIO, "lt_dlsetsearchpath: %s",
                            lt_dlerror());
    return 0;
}

const char *plugins_search_path(void)
{
    return search_path;
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* module name of a path: strip directory and extension */
static void module_name(const char *path, char *out, size_t n)
{
    char *dot;
    snprintf(out, n, "%s", basename_of(path));
    if ((dot = strchr(out, '.')) != NULL)
        *dot = '\0';
}

static int check_desc(const ember_plugin *d, const char *name, const char *path,
                      ember_error *err)
{
    if (!d)
        return ember_seterr(err, EMBER_EABI,
                            "plugin %s (%s): entry point returned NULL", name,
                            path);
    if (d->struct_size < offsetof(ember_plugin, fini))
        return ember_seterr(err, EMBER_EABI,
                            "plugin %s (%s): descriptor too small (%zu bytes)",
                            name, path, d->struct_size);
    if (d->abi_major != EMBER_ABI_MAJOR || d->abi_minor > EMBER_ABI_MINOR)
        return ember_seterr(
            err, EMBER_EABI,
            "plugin %s (%s) was built for ember plugin ABI %d.%d, but this "
            "ember provides ABI %d.%d (the major version must match and the "
            "minor must not be newer); rebuild the plugin against this "
            "ember's headers",
            d->name ? d->name : name, path, d->abi_major, d->abi_minor,
            EMBER_ABI_MAJOR, EMBER_ABI_MINOR);
    if (d->abi_sig != EMBER_ABI_SIG)
        return ember_seterr(err, EMBER_EABI,
                            "plugin %s (%s): ABI signature %08x does not match "
                            "the host's %08x (built with a different compiler "
                            "or struct layout)",
                            name, path, d->abi_sig, EMBER_ABI_SIG);
    if (!d->name || !d->version || !d->init)
        return ember_seterr(err, EMBER_EABI,
                            "plugin %s (%s): descriptor lacks name, version or "
                            "init",
                            name, path);
    return 0;
}

/* Add a checked descriptor to the registry and run its init().  h is the
 * module handle, NULL for a plugin compiled into the program.  On failure
 * every registration init() made is dropped and the handle is left to the
 * caller. */
static int add_plugin(lt_dlhandle h, const ember_plugin *d, const char *path,
                      ember_error *err)
{
    ember_registry reg;
    ember_error ierr = {0, ""};
    loaded *np;
    int rc;

    np = realloc(plugins, (size_t)(nplugins + 1) * sizeof *np);
    if (!np)
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    plugins = np;
    memset(&plugins[nplugins], 0, sizeof *plugins);
    plugins[nplugins].handle = h;
    plugins[nplugins].desc = d;
    plugins[nplugins].info.name = strdup(d->name);
    plugins[nplugins].info.version = strdup(d->version);
    plugins[nplugins].info.path = strdup(path);
    plugins[nplugins].info.abi_major = d->abi_major;
    plugins[nplugins].info.abi_minor = d->abi_minor;
    plugins[nplugins].info.kind = "none";
    if (!plugins[nplugins].info.name || !plugins[nplugins].info.version ||
        !plugins[nplugins].info.path) {
        free(plugins[nplugins].info.name);
        free(plugins[nplugins].info.version);
        free(plugins[nplugins].info.path);
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    }
    reg.plugin = nplugins;
    nplugins++;
    rc = d->init(&the_host, &reg, &ierr);
    if (rc) {
        ember_seterr(err, rc, "plugin %s (%s) failed to initialise: %s",
                     d->name, plugins[nplugins - 1].info.path,
                     ierr.msg[0] ? ierr.msg : ember_strerror(rc));
        /* registrations it made stay dangling otherwise: drop them */
        int me = nplugins - 1, j = 0;
        for (int i = 0; i < nops; i++)
            if (ops[i].plugin != me)
                ops[j++] = ops[i];
        nops = j;
        j = 0;
        for (int i = 0; i < ntransports; i++)
            if (transports[i].plugin != me)
                transports[j++] = transports[i];
        ntransports = j;
        j = 0;
        for (int i = 0; i < ncms; i++)
            if (cms[i].plugin != me)
                cms[j++] = cms[i];
        ncms = j;
        free(plugins[me].info.name);
        free(plugins[me].info.version);
        free(plugins[me].info.path);
        nplugins--;
        return rc;
    }
    return 0;
}

static int plugin_known(const char *modname)
{
    for (int i = 0; i < nplugins; i++)
        if (strcmp(plugins[i].info.name, modname) == 0)
            return 1;
    return 0;
}

int plugins_load(const char *name, ember_error *err)
{
    lt_dlhandle h;
    ember_plugin_entry_fn entry;
    const ember_plugin *d;
    const lt_dlinfo *li;
    char modname[256];
    int rc;

    if (!lt_ready && plugins_init(NULL, err))
        return EMBER_EIO;
    module_name(name, modname, sizeof modname);
    if (plugin_known(modname))
        return 0;
    h = strchr(name, '/') ? lt_dlopen(name) : lt_dlopenext(name);
    if (!h)
        return ember_seterr(err, EMBER_ENOTFOUND,
                            "cannot load plugin '%s': %s (search path: %s)",
                            name, lt_dlerror(), search_path);
    li = lt_dlgetinfo(h);
    entry = (ember_plugin_entry_fn)(uintptr_t)lt_dlsym(
        h, EMBER_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        rc = ember_seterr(
            err, EMBER_EABI, "plugin '%s' (%s) has no %s() entry point", name,
            li && li->filename ? li->filename : "?", EMBER_PLUGIN_ENTRY_SYMBOL);
        lt_dlclose(h);
        return rc;
    }
    d = entry();
    if ((rc = check_desc(d, modname, li && li->filename ? li->filename : name,
                         err))) {
        lt_dlclose(h);
        return rc;
    }
    rc = add_plugin(h, d, li && li->filename ? li->filename : name, err);
    if (rc)
        lt_dlclose(h);
    return rc;
}

/* ember's own operator plugins, loaded by every driver and executor so
 * that both have the same operators: the one list of them. */
static const char *const builtin_ops[] = {"op_text", "op_relational"};

int plugins_load_builtin(ember_error *err)
{
    for (size_t i = 0; i < sizeof builtin_ops / sizeof builtin_ops[0]; i++) {
        int rc = plugins_load(builtin_ops[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

int plugins_load_configured(const struct conf *c, ember_error *err)
{
    const char *names = NULL;
    char tmp[4096];
    int rc;
    if ((rc = plugins_init(c, err)) || (rc = plugins_load_builtin(err)))
        return rc;
    if (conf_string(c, "plugins.load", &names, err))
        return EMBER_EINVAL;
    snprintf(tmp, sizeof tmp, "%s", names);
    for (char *s = NULL, *t = strtok_r(tmp, ", ", &s); t;
         t = strtok_r(NULL, ", ", &s))
        if ((rc = plugins_load(t, err)))
            return rc;
    return 0;
}

int plugins_register_static(const ember_plugin *desc, const char *path_label,
                            ember_error *err)
{
    const char *label = path_label && *path_label ? path_label : "(static)";
    const char *name = desc && desc->name ? desc->name : "(unnamed)";
    int rc;
    if ((rc = check_desc(desc, name, label, err)))
        return rc;
    if (plugin_known(desc->name))
        return 0;
    return add_plugin(NULL, desc, label, err);
}

int plugins_load_all(void (*warn)(void *ud, const char *msg), void *ud)
{
    char tmp[sizeof search_path];
    int loaded_n = 0;
    snprintf(tmp, sizeof tmp, "%s", search_path);
    for (char *save = NULL, *dir = strtok_r(tmp, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        DIR *d = opendir(dir);
        struct dirent *e;
        if (!d)
            continue;
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            char full[4096];
            ember_error err = {0, ""};
            if (n > 3 && strcmp(e->d_name + n - 3, ".so") == 0) {
                /* a bare module (out-of-tree plugins): skip it when a
                   libtool .la of the same name sits beside it */
                char la[4096];
                snprintf(la, sizeof la, "%s/%.*s.la", dir, (int)(n - 3),
                         e->d_name);
                if (path_exists(la))
                    continue;
            } else if (n < 4 || strcmp(e->d_name + n - 3, ".la") != 0) {
                continue;
            }
            snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
            if (plugins_load(full, &err) == 0)
                loaded_n++;
            else if (warn)
                warn(ud, err.msg);
        }
        closedir(d);
    }
    return loaded_n;
}

void plugins_shutdown(void)
{
    for (int i = nplugins - 1; i >= 0; i--) {
        if (plugins[i].desc->fini)
            plugins[i].desc->fini();
        free(plugins[i].info.name);
        free(plugins[i].info.version);
        free(plugins[i].info.path);
        if (plugins[i].handle) /* NULL: compiled in (register_static) */
            lt_dlclose(plugins[i].handle);
    }
    free(plugins);
    free(ops);
    free(op_ptrs);
    free(transports);
    free(cms);
    plugins = NULL;
    ops = NULL;
    op_ptrs = NULL;
    transports = NULL;
    cms = NULL;
    nplugins = nops = ntransports = ncms = 0;
    if (lt_ready) {
        lt_dlexit();
        lt_ready = 0;
    }
}

int plugins_count(void)
{
    return nplugins;
}

const plugin_info *plugins_get(int i)
{
    return (i >= 0 && i < nplugins) ? &plugins[i].info : NULL;
}

void plugins_signature(char *out, size_t n)
{
    size_t len = 0;
    if (!n)
        return;
    out[0] = '\0';
    for (int i = 0; i < nplugins && len < n; i++) {
        const plugin_info *pi = &plugins[i].info;
        if (strcmp(pi->kind, "operators") != 0)
            continue;
        len += (size_t)snprintf(out + len, n - len, "%s%s %s", len ? ";" : "",
                                pi->name, pi->version);
    }
}

int plugins_ops(int plugin, const ember_op_desc ***out)
{
    int n = 0;
    const ember_op_desc **v = realloc(op_ptrs, (size_t)(nops + 1) * sizeof *v);
    if (!v)
        return 0;
    op_ptrs = v;
    for (int i = 0; i < nops; i++)
        if (plugin < 0 || ops[i].plugin == plugin)
            v[n++] = ops[i].op;
    *out = v;
    return n;
}

const ember_op_desc *plugins_find_op(const char *name,
                                     const plugin_info **owner)
{
    for (int i = 0; i < nops; i++)
        if (strcmp(ops[i].op->name, name) == 0) {
            if (owner)
                *owner = &plugins[ops[i].plugin].info;
            return ops[i].op;
        }
    return NULL;
}

const ember_transport_desc *plugins_find_transport(const char *name)
{
    for (int i = 0; i < ntransports; i++)
        if (strcmp(transports[i].t->name, name) == 0)
            return transports[i].t;
    return NULL;
}

const ember_cm_desc *plugins_find_cm(const char *url, const plugin_info **owner)
{
    for (int i = 0; i < ncms; i++)
        if (cms[i].cm->accepts && cms[i].cm->accepts(url)) {
            if (owner)
                *owner = &plugins[cms[i].plugin].info;
            return cms[i].cm;
        }
    return NULL;
}

/* ---------------------------------------------------------------- params */

struct ember_params {
    const ember_op_desc *op;
    char **values; /* one per declared param, NULL = unset */
};

ember_params *params_new(const ember_op_desc *op)
{
    ember_params *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->op = op;
    p->values = calloc(op->nparams + 1, sizeof(char *));
    if (!p->values) {
        free(p);
        return NULL;
    }
    return p;
}

void params_destroy(ember_params **pp)
{
    ember_params *p = pp ? *pp : NULL;
    if (!p)
        return;
    for (size_t i = 0; i < p->op->nparams; i++)
        free(p->values[i]);
    free(p->values);
    free(p);
    *pp = NULL;
}

static int param_index(const ember_params *p, const char *name)
{
    for (size_t i = 0; i < p->op->nparams; i++)
        if (strcmp(p->op->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no"))
        *out = 0;
    else
        return -1;
    return 0;
}

static const char *type_name(ember_param_type t)
{
    switch (t) {
    case EMBER_PARAM_STRING:
        return "string";
    case EMBER_PARAM_INT:
        return "integer";
    case EMBER_PARAM_DOUBLE:
        return "number";
    case EMBER_PARAM_BOOL:
        return "boolean";
    }
    return "?";
}

int params_set(ember_params *p, const char *name, const char *value,
               ember_error *err)
{
    int i = param_index(p, name);
    char *end;
    if (i < 0) {
        char valid[512] = "";
        for (size_t k = 0; k < p->op->nparams; k++) {
            size_t n = strlen(valid);
            snprintf(valid + n, sizeof valid - n, "%s%s", k ? ", " : "",
                     p->op->params[k].name);
        }
        return ember_seterr(err, EMBER_EINVAL,
                            "operator %s has no option '%s' (valid: %s)",
                            p->op->name, name, valid[0] ? valid : "none");
    }
    switch (p->op->params[i].type) {
    case EMBER_PARAM_INT:
        strtoll(value, &end, 10);
        if (!*value || *end)
            goto bad;
        break;
    case EMBER_PARAM_DOUBLE:
        strtod(value, &end);
        if (!*value || *end)
            goto bad;
        break;
    case EMBER_PARAM_BOOL: {
        int b;
        if (parse_bool(value, &b))
            goto bad;
        break;
    }
    case EMBER_PARAM_STRING:
        break;
    }
    free(p->values[i]);
    p->values[i] = strdup(value);
    return p->values[i] ? 0 : ember_seterr(err, EMBER_ENOMEM, "out of memory");
bad:
    return ember_seterr(
        err, EMBER_EINVAL, "operator %s: option '%s' wants a %s, got '%s'",
        p->op->name, name, type_name(p->op->params[i].type), value);
}

int params_finish(ember_params *p, ember_error *err)
{
    for (size_t i = 0; i < p->op->nparams; i++) {
        if (p->values[i])
            continue;
        if (!p->op->params[i].default_value)
            return ember_seterr(
                err, EMBER_EINVAL, "operator %s: option '%s' is required (%s)",
                p->op->name, p->op->params[i].name,
                p->op->params[i].doc ? p->op->params[i].doc : "");
        p->values[i] = strdup(p->op->params[i].default_value);
        if (!p->values[i])
            return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    }
    return 0;
}

void params_help(const ember_op_desc *op, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < op->nparams && len < n; i++) {
        const ember_param_desc *d = &op->params[i];
        len +=
            (size_t)snprintf(out + len, n - len, "      %-16s %-8s %s%s%s%s\n",
                             d->name, type_name(d->type), d->doc ? d->doc : "",
                             d->default_value ? " (default: " : " (required",
                             d->default_value ? d->default_value : "", ")");
    }
}

static const char *p_str(const ember_params *p, const char *name)
{
    int i = p ? param_index(p, name) : -1;
    return i >= 0 ? p->values[i] : NULL;
}

static int64_t p_int(const ember_params *p, const char *name)
{
    const char *s = p_str(p, name);
    return s ? strtoll(s, NULL, 10) : 0;
}

static double p_double(const ember_params *p, const char *name)
{
    const char *s = p_str(p, name);
    return s ? strtod(s, NULL) : 0.0;
}

static int p_bool(const ember_params *p, const char *name)
{
    const char *s = p_str(p, name);
    int b = 0;
    if (s)
        parse_bool(s, &b);
    return b;
}

/* ---------------------------------------------------------------- splits */

struct ember_split_list {
    ember_split *v;
    int n;
};

ember_split_list *splits_new(void)
{
    return calloc(1, sizeof(ember_split_list));
}

void splits_destroy(ember_split_list **lp)
{
    ember_split_list *l = lp ? *lp : NULL;
    if (!l)
        return;
    for (int i = 0; i < l->n; i++)
        free((char *)l->v[i].path);
    free(l->v);
    free(l);
    *lp = NULL;
}

static int split_add(ember_split_list *l, const char *path, int64_t off,
                     int64_t len)
{
    ember_split *n = realloc(l->v, (size_t)(l->n + 1) * sizeof *n);
    if (!n)
        return EMBER_ENOMEM;
    l->v = n;
    if (!(n[l->n].path = strdup(path)))
        return EMBER_ENOMEM;
    n[l->n].offset = off;
    n[l->n].length = len;
    l->n++;
    return 0;
}

int splits_count(const ember_split_list *l)
{
    return l->n;
}

const ember_split *splits_get(const ember_split_list *l, int i)
{
    return (i >= 0 && i < l->n) ? &l->v[i] : NULL;
}
