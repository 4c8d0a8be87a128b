/*
 * fake_host.h -- a minimal ember_host for unit tests of plugins, plus a
 * loader that dlopens a plugin .so and checks its descriptor.
 *
 * What it owns: one static fake_host_state per test program recording what
 * the plugin registered (operators, a transport, a cluster manager) and the
 * last log line.  Implemented: seterr, strerror, log, register_*, conf_get
 * (from fake_host_state.conf, a NULL-terminated key/value array), self_exe
 * (fake_host_state.self_exe).  Parameter, split and batch functions are NULL:
 * a plugin test that needs them must provide its own.
 *
 * Header-only; include from exactly one .c per test program.  Everything is
 * `static inline` so unused helpers do not warn.  Threads: seterr, strerror
 * and conf_get are thread-safe; log and register_* are not (tests log from
 * one thread at a time, registration happens in init()).
 */
#ifndef EMBER_FAKE_HOST_H
#define EMBER_FAKE_HOST_H

#include <ember/plugin.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_HOST_MAX_OPS 32

typedef struct fake_host_state {
    const ember_op_desc *ops[FAKE_HOST_MAX_OPS];
    int nops;
    const ember_transport_desc *transport;
    const ember_cm_desc *clustermgr;
    int nlogs;
    char last_log[1024];
    int verbose;             /* echo log lines as TAP comments */
    const char *const *conf; /* key, value, key, value, ..., NULL */
    const char *self_exe;
} fake_host_state;

static fake_host_state fake_host_st;

/* The registry handle given to init(): any non-NULL pointer the plugin
 * passes back to register_*. */
#define FAKE_REGISTRY ((ember_registry *)&fake_host_st)

static inline void fake_seterr(ember_error *err, int code, const char *fmt, ...)
    EMBER_PRINTF(3, 4);
static inline void fake_seterr(ember_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static inline const char *fake_strerror(int code)
{
    switch (code) {
#define FAKE_ERR_CASE_(name, val, text)                                        \
    case (val):                                                                \
        return text;
        EMBER_ERRNO_MAP(FAKE_ERR_CASE_)
#undef FAKE_ERR_CASE_
    default:
        return "unknown error";
    }
}

static inline void fake_log(int level, const char *who, const char *fmt, ...)
    EMBER_PRINTF(3, 4);
static inline void fake_log(int level, const char *who, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char line[sizeof fake_host_st.last_log];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fake_host_st.nlogs++;
    snprintf(fake_host_st.last_log, sizeof fake_host_st.last_log, "%s", line);
    if (fake_host_st.verbose)
        printf("# [%s] %s: %s\n", level >= 0 && level <= 3 ? names[level] : "?",
               who, line);
}

static inline int fake_register_op(ember_registry *reg, const ember_op_desc *op)
{
    if (reg != FAKE_REGISTRY || !op || !op->name)
        return EMBER_EINVAL;
    for (int i = 0; i < fake_host_st.nops; i++)
        if (strcmp(fake_host_st.ops[i]->name, op->name) == 0)
            return EMBER_EEXISTS;
    if (fake_host_st.nops == FAKE_HOST_MAX_OPS)
        return EMBER_ETOOBIG;
    fake_host_st.ops[fake_host_st.nops++] = op;
    return 0;
}

static inline int fake_register_transport(ember_registry *reg,
                                          const ember_transport_desc *t)
{
    if (reg != FAKE_REGISTRY || !t || !t->name)
        return EMBER_EINVAL;
    if (fake_host_st.transport)
        return EMBER_EEXISTS;
    fake_host_st.transport = t;
    return 0;
}

static inline int fake_register_clustermgr(ember_registry *reg,
                                           const ember_cm_desc *cm)
{
    if (reg != FAKE_REGISTRY || !cm || !cm->name)
        return EMBER_EINVAL;
    if (fake_host_st.clustermgr)
        return EMBER_EEXISTS;
    fake_host_st.clustermgr = cm;
    return 0;
}

static inline const char *fake_conf_get(const char *key)
{
    const char *const *kv = fake_host_st.conf;
    for (; kv && kv[0] && kv[1]; kv += 2)
        if (strcmp(kv[0], key) == 0)
            return kv[1];
    return NULL;
}

static inline const char *fake_self_exe(void)
{
    return fake_host_st.self_exe ? fake_host_st.self_exe : "/proc/self/exe";
}

static const ember_host fake_host = {
    .struct_size = sizeof(ember_host),
    .abi_major = EMBER_ABI_MAJOR,
    .abi_minor = EMBER_ABI_MINOR,
    .seterr = fake_seterr,
    .strerror = fake_strerror,
    .log = fake_log,
    .register_op = fake_register_op,
    .register_transport = fake_register_transport,
    .register_clustermgr = fake_register_clustermgr,
    .conf_get = fake_conf_get,
    .self_exe = fake_self_exe,
};

/* The plugin path: argv[1], else $EMBER_TEST_PLUGIN, else NULL. */
static inline const char *fake_plugin_path(int argc, char **argv)
{
    if (argc > 1 && argv[1][0])
        return argv[1];
    const char *e = getenv("EMBER_TEST_PLUGIN");
    if (e && *e)
        return e;
#ifdef FAKE_DEFAULT_PLUGIN
    /* under make check: the plugin freshly built in the build tree */
    return FAKE_DEFAULT_PLUGIN;
#else
    return NULL;
#endif
}

/* dlopen `path` and return its descriptor (NULL + message in err on
 * failure).  *handle receives the dlopen handle (dlclose it at the end). */
static inline const ember_plugin *
fake_load_plugin(const char *path, void **handle, ember_error *err)
{
    *handle = NULL;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fake_seterr(err, EMBER_EIO, "dlopen(%s): %s", path, dlerror());
        return NULL;
    }
    void *sym = dlsym(h, EMBER_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        fake_seterr(err, EMBER_ENOTFOUND, "%s: no %s", path,
                    EMBER_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return NULL;
    }
    ember_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer */
    const ember_plugin *p = entry();
    if (!p) {
        fake_seterr(err, EMBER_EABI, "%s: entry returned NULL", path);
        dlclose(h);
        return NULL;
    }
    *handle = h;
    return p;
}

#ifdef EMBER_TAP_H
/* Load the plugin under test (path from argv[1], $EMBER_TEST_PLUGIN or the
 * build tree), check its descriptor against the host's ABI and run its
 * init() with the fake host: the TAP checks every plugin test starts with.
 * Bails out when the plugin cannot be used.  *handle receives the dlopen
 * handle. */
static inline void fake_load_checked(int argc, char **argv, const char *test,
                                     const char *name, void **handle)
{
    const char *path = fake_plugin_path(argc, argv);
    ember_error err = {0};
    const ember_plugin *p;
    int rc;
    if (!path)
        bail("usage: %s PLUGIN.so (or set EMBER_TEST_PLUGIN)", test);
    p = fake_load_plugin(path, handle, &err);
    if (!ok(p != NULL, "plugin loads"))
        bail("%s", err.msg);
    is_int(sizeof(ember_plugin), p->struct_size, "descriptor struct_size");
    is_int(EMBER_ABI_MAJOR, p->abi_major, "abi_major");
    ok(p->abi_minor <= EMBER_ABI_MINOR, "abi_minor <= host minor");
    is_int(EMBER_ABI_SIG, p->abi_sig, "abi_sig");
    is_string(name, p->name, "plugin name");
    ok(p->version && *p->version, "plugin version is set");
    if (!ok(p->init != NULL, "init is set"))
        bail("no init");
    rc = p->init(&fake_host, FAKE_REGISTRY, &err);
    is_int(0, rc, "init succeeds %s", rc ? err.msg : "");
}
#endif

#endif
