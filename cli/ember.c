/*
 * ember.c -- the `ember` command: submit, executor, plugins, version.
 *
 *   ember submit [--master URL] [--conf k=v]... [--properties-file FILE]
 *                [--verbose] JOB.lua [args...]
 *   ember executor ...      (started by cluster managers)
 *   ember plugins           list plugins, their ABI, path and operators
 *
 * Configuration precedence (highest first): values set in the script,
 * --conf/--master, EMBER_CONF_* environment variables, conf.d/NAME.conf,
 * the properties file (default $EMBER_CONF_DIR/ember.conf), defaults.
 *
 * Options are parsed with getopt_long, stopping at the first non-option
 * ("+"): what follows the job script belongs to the script.  getopt prints
 * nothing (opterr = 0); each command reports a bad option in its own words.
 */
#include "config.h"
#include "exec/executor.h"
#include "lua_ember.h"
#include "plugin/plugins.h"
#include "task_runtime.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <getopt.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EMBER_VERSION
#define EMBER_VERSION "0"
#endif
#ifndef EMBER_SYSCONFDIR
#define EMBER_SYSCONFDIR "/etc/ember"
#endif

static void main_usage(FILE *f)
{
    fprintf(
        f, "usage: ember <command> [options]\n"
           "\n"
           "commands:\n"
           "  submit    run a Lua job script as the driver\n"
           "  plugins   list the plugins found, their ABI, path and operators\n"
           "  executor  run an executor (started by cluster managers)\n"
           "  version   print the version\n"
           "\n"
           "`ember submit --help` for the options of submit.\n");
}

static void submit_usage(FILE *f)
{
    fprintf(
        f,
        "usage: ember submit [options] JOB.lua [args...]\n"
        "\n"
        "Runs JOB.lua as the driver; the script's arguments are in `arg`.\n"
        "\n"
        "options:\n"
        "  --master URL            local, local[N], local[*] (default),\n"
        "                          local-cluster[E,C,M]: E executors with C\n"
        "                          cores and M MiB each\n"
        "  --conf key=value        set a configuration value (repeatable)\n"
        "  --properties-file FILE  read configuration from FILE instead of\n"
        "                          $EMBER_CONF_DIR/ember.conf\n"
        "  --verbose               print the resolved configuration and\n"
        "                          where each value came from\n"
        "  -h, --help              this help\n");
}

static void print_entry(void *ud, const char *key, const char *value,
                        conf_source src, const char *origin)
{
    (void)ud;
    fprintf(stderr, "  %-40s %-20s (%s%s%s)\n", key, value,
            conf_source_name(src), origin ? ": " : "", origin ? origin : "");
}

static void warn_unknown(void *ud, const char *key, const char *origin,
                         const char *suggestion)
{
    (void)ud;
    fprintf(stderr,
            "ember: warning: unknown configuration key '%s'%s%s%s%s%s\n", key,
            origin ? " (" : "", origin ? origin : "", origin ? ")" : "",
            suggestion ? "; did you mean " : "", suggestion ? suggestion : "");
}

/* Load ember.conf + conf.d + env into c; returns 0 or prints an error. */
static int load_conf(conf *c, const char *props)
{
    ember_error err = {0, ""};
    const char *dir = getenv("EMBER_CONF_DIR");
    char path[4096], confd[4096];
    if (!dir || !*dir)
        dir = EMBER_SYSCONFDIR;
    if (props) {
        if (conf_load_file(c, props, CONF_SRC_FILE, &err)) {
            fprintf(stderr, "ember: %s\n", err.msg);
            return -1;
        }
    } else {
        snprintf(path, sizeof path, "%s/ember.conf", dir);
        int rc = conf_load_file(c, path, CONF_SRC_FILE, &err);
        if (rc && rc != EMBER_ENOTFOUND) {
            fprintf(stderr, "ember: %s\n", err.msg);
            return -1;
        }
    }
    snprintf(confd, sizeof confd, "%s/conf.d", dir);
    if (conf_load_dir(c, confd, CONF_SRC_CONFD, &err)) {
        fprintf(stderr, "ember: %s\n", err.msg);
        return -1;
    }
    conf_load_env(c, NULL);
    return 0;
}

/* The script's error with a traceback of the user's frames only. */
static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1), *tb, *line, *nl;
    luaL_Buffer b;
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, NULL, 1);
    tb = lua_tostring(L, -1);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, msg);
    luaL_addstring(&b, "\ndriver stack traceback:");
    for (line = strchr(tb, '\n'); line; line = nl) {
        size_t n;
        line++;
        nl = strchr(line, '\n');
        n = nl ? (size_t)(nl - line) : strlen(line);
        if (memmem(line, n, "[ember]", 7) || memmem(line, n, "[C]: in", 7))
            continue;
        luaL_addchar(&b, '\n');
        luaL_addlstring(&b, line, n);
    }
    luaL_pushresult(&b);
    return 1;
}

/* The option getopt_long refused, as typed: the whole element for a long
 * option ("--bogus", "--verbose=1"), "-x" for a short one (which may sit
 * in a bundle, "-vx"). */
static const char *bad_option(const char *elem, char shortopt[3])
{
    if (strncmp(elem, "--", 2) == 0 || !optopt)
        return elem;
    shortopt[0] = '-';
    shortopt[1] = (char)optopt;
    shortopt[2] = '\0';
    return shortopt;
}

enum { OPT_MASTER = 256, OPT_CONF, OPT_PROPS };

static const struct option submit_opts[] = {
    {"master", required_argument, NULL, OPT_MASTER},
    {"conf", required_argument, NULL, OPT_CONF},
    {"properties-file", required_argument, NULL, OPT_PROPS},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* argv[0] is "submit"; options, then the job script and its arguments. */
static int cmd_submit(int argc, char **argv)
{
    conf *c = conf_new();
    const char *props = NULL, *script = NULL;
    int verbose = 0, i, rc = 1, lvl;
    lua_State *L = NULL;
    ember_error err = {0, ""};
    char **cmdline = calloc((size_t)argc + 1, sizeof *cmdline);
    int ncmd = 0;

    if (!c || !cmdline) {
        fprintf(stderr, "ember: out of memory\n");
        goto out;
    }
    opterr = 0;
    for (;;) {
        int at = optind, o;
        o = getopt_long(argc, argv, "+:hv", submit_opts, NULL);
        if (o == -1)
            break;
        if (o == 'h') {
            submit_usage(stdout);
            rc = 0;
            goto out;
        } else if (o == 'v') {
            verbose = 1;
        } else if (o == OPT_MASTER) {
            static char kv[4096];
            snprintf(kv, sizeof kv, "master=%s", optarg);
            cmdline[ncmd++] = kv;
        } else if (o == OPT_CONF) {
            cmdline[ncmd++] = optarg;
        } else if (o == OPT_PROPS) {
            props = optarg;
        } else if (o == ':') {
            fprintf(stderr, "ember submit: %s needs a value\n", argv[at]);
            goto out;
        } else {
            char shortopt[3];
            fprintf(stderr, "ember submit: unknown option '%s'\n",
                    bad_option(argv[at], shortopt));
            submit_usage(stderr);
            goto out;
        }
    }
    i = optind;
    if (i < argc)
        script = argv[i];
    if (!script) {
        fprintf(stderr, "ember submit: no job script given\n");
        submit_usage(stderr);
        goto out;
    }
    if (load_conf(c, props))
        goto out;
    for (int k = 0; k < ncmd; k++)
        if (conf_parse_arg(c, cmdline[k], CONF_SRC_CMDLINE, &err)) {
            fprintf(stderr, "ember submit: %s\n", err.msg);
            goto out;
        }
    conf_check_unknown(c, warn_unknown, NULL);
    /* a bad value is reported when the script starts a session, which
     * validates the whole configuration */
    if (conf_enum(c, "log.level", &lvl, NULL) == 0)
        log_set_level(lvl); /* the values are in EMBER_LOG_* order */
    log_set_who("driver");
    if (verbose) {
        fprintf(stderr, "ember %s: resolved configuration:\n", EMBER_VERSION);
        conf_foreach(c, print_entry, NULL);
    }
    if (!path_exists(script)) {
        fprintf(stderr, "ember submit: cannot open job script %s\n", script);
        goto out;
    }
    host_set_conf(c);
    ember_lua_set_base_conf(c);

    L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "ember: cannot create a Lua state\n");
        goto out;
    }
    luaL_openlibs(L);
    luaL_requiref(L, "ember", luaopen_ember, 0);
    lua_pop(L, 1);
    /* arg: arg[0] = script, arg[1..] = its arguments */
    lua_createtable(L, argc - i, 1);
    for (int k = i; k < argc; k++) {
        lua_pushstring(L, argv[k]);
        lua_rawseti(L, -2, k - i);
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, traceback);
    if (luaL_loadfile(L, script) != LUA_OK) {
        fprintf(stderr, "ember: %s\n", lua_tostring(L, -1));
        goto out;
    }
    for (int k = i + 1; k < argc; k++)
        lua_pushstring(L, argv[k]);
    if (lua_pcall(L, argc - i - 1, 0, 1) != LUA_OK) {
        fprintf(stderr, "ember: %s\n", lua_tostring(L, -1));
        goto out;
    }
    rc = 0;
out:
    if (L)
        lua_close(L); /* stops sessions left open: executors exit */
    plugins_shutdown();
    conf_destroy(&c);
    free(cmdline);
    return rc;
}

static void warn_plugin(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "ember: warning: %s\n", msg);
}

static const struct option plugins_opts[] = {
    {"conf", required_argument, NULL, OPT_CONF},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* argv[0] is "plugins". */
static int cmd_plugins(int argc, char **argv)
{
    conf *c = conf_new();
    ember_error err = {0, ""};
    int rc = 1;
    opterr = 0;
    for (;;) {
        int at = optind, o;
        o = getopt_long(argc, argv, "+:h", plugins_opts, NULL);
        if (o == -1)
            break;
        if (o == OPT_CONF) {
            if (conf_parse_arg(c, optarg, CONF_SRC_CMDLINE, &err)) {
                fprintf(stderr, "ember plugins: %s\n", err.msg);
                goto out;
            }
        } else if (o == 'h') {
            printf("usage: ember plugins [--conf plugins.path=DIR]...\n");
            rc = 0;
            goto out;
        } else { /* unknown, or --conf without its value */
            fprintf(stderr, "ember plugins: unknown argument '%s'\n", argv[at]);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ember plugins: unknown argument '%s'\n", argv[optind]);
        goto out;
    }
    if (load_conf(c, NULL))
        goto out;
    host_set_conf(c);
    if (plugins_init(c, &err)) {
        fprintf(stderr, "ember: %s\n", err.msg);
        goto out;
    }
    plugins_load_all(warn_plugin, NULL);
    printf("plugin search path: %s\n", plugins_search_path());
    for (int i = 0; i < plugins_count(); i++) {
        const plugin_info *pi = plugins_get(i);
        const ember_op_desc **ops;
        int n = plugins_ops(i, &ops);
        printf("\n%s %s  (ABI %d.%d, %s)\n  %s\n", pi->name, pi->version,
               pi->abi_major, pi->abi_minor, pi->kind, pi->path);
        for (int k = 0; k < n; k++) {
            char help[4096];
            static const char *kinds[] = {"?", "source", "transform", "sink"};
            printf("  operator %-16s %-9s %s\n", ops[k]->name,
                   ops[k]->kind >= 1 && ops[k]->kind <= 3 ? kinds[ops[k]->kind]
                                                          : "?",
                   ops[k]->doc ? ops[k]->doc : "");
            params_help(ops[k], help, sizeof help);
            fputs(help, stdout);
        }
    }
    rc = 0;
out:
    plugins_shutdown();
    conf_destroy(&c);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    self_exe();
    if (argc < 2) {
        main_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "submit"))
        return cmd_submit(argc - 1, argv + 1);
    if (!strcmp(argv[1], "executor"))
        return executor_main(argc - 1, argv + 1, &task_runtime_lua);
    if (!strcmp(argv[1], "plugins"))
        return cmd_plugins(argc - 1, argv + 1);
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("ember %s (plugin ABI %d.%d)\n", EMBER_VERSION, EMBER_ABI_MAJOR,
               EMBER_ABI_MINOR);
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        main_usage(stdout);
        return 0;
    }
    fprintf(stderr, "ember: unknown command '%s'\n\n", argv[1]);
    main_usage(stderr);
    return 2;
}
