/*
 * plugins.h -- the plugin loader and registry (host side of plugin.h).
 *
 * Plugins are found with libltdl on a search path made of, in order:
 * `plugins.path` (colon- or comma-separated), $EMBER_PLUGIN_PATH, the build
 * tree's plugin directories when ember runs from its build tree, and the
 * installed plugin directory.  They are loaded on the main thread before any
 * other thread starts and never unloaded; the registry is then read-only.
 */
#ifndef EMBER_PLUGIN_PLUGINS_H
#define EMBER_PLUGIN_PLUGINS_H

#include <ember/plugin.h>

struct conf;

typedef struct plugin_info {
    char *name;
    char *version;
    char *path;
    int abi_major;
    int abi_minor;
    int nops;
    const char *kind; /* "operators", "transport", "cluster manager" */
} plugin_info;

/* The host table handed to plugins. */
const ember_host *host_table(void);
/* Give plugins a configuration to read through host->conf_get (borrowed;
 * must outlive the plugins' use). */
void host_set_conf(const struct conf *c);

int plugins_init(const struct conf *c, ember_error *err);
void plugins_shutdown(void);
const char *plugins_search_path(void);
/* Load a plugin by module name ("transport_zmq") on the search path, or by
 * file path if name contains '/'.  Loading twice is a no-op. */
int plugins_load(const char *name, ember_error *err);
/* Load ember's own operator plugins (op_text, op_relational: the list is
 * in plugins.c), which the driver and every executor load before those
 * named in plugins.load.  Errors as plugins_load, for the first that
 * fails. */
int plugins_load_builtin(ember_error *err);
/* What the driver and every executor load, in this order: the search
 * path from c (plugins_init; c may be NULL), ember's own operator plugins
 * (plugins_load_builtin), then each plugin named in c's plugins.load
 * (separated by commas or spaces).  Errors as plugins_init and
 * plugins_load, for the first that fails. */
int plugins_load_configured(const struct conf *c, ember_error *err);
/* Load every plugin file found on the search path (for `ember plugins` and
 * for finding a cluster manager that accepts a master URL).  Files that
 * fail are reported through warn (may be NULL) and skipped. */
int plugins_load_all(void (*warn)(void *ud, const char *msg), void *ud);
/* Register a plugin compiled into the program (a static build, or a test's
 * fake transport or cluster manager): the descriptor (borrowed, must live
 * until plugins_shutdown) gets the same checks as a loaded module's, then
 * its init() runs with the host table.  path_label is what `ember plugins`
 * shows as its file (NULL: "(static)").  Once registered, plugins_load() of
 * the descriptor's name is a no-op, so name it after the module it stands
 * for ("transport_sim" is what driver_new loads for transport=sim).
 * Registering a name already present is a no-op returning 0.  Errors:
 * EMBER_EABI (bad descriptor), EMBER_ENOMEM, or init()'s code, with err
 * saying which; nothing stays registered on failure.  Main thread only,
 * like plugins_load; plugins_shutdown() calls its fini() and never tries
 * to unload it. */
int plugins_register_static(const ember_plugin *desc, const char *path_label,
                            ember_error *err);

int plugins_count(void);
const plugin_info *plugins_get(int i);
/* The operator plugins loaded, in load order, as "name version" joined by
 * ';' (truncated to fit n bytes, NUL-terminated): an executor sends it
 * when it registers, and the driver refuses one whose operators differ
 * from its own. */
void plugins_signature(char *out, size_t n);
/* Operators registered by plugin i, or all when i < 0. */
int plugins_ops(int plugin, const ember_op_desc ***ops);

const ember_op_desc *plugins_find_op(const char *name,
                                     const plugin_info **owner);
const ember_transport_desc *plugins_find_transport(const char *name);
const ember_cm_desc *plugins_find_cm(const char *master_url,
                                     const plugin_info **owner);

/* Parameters of operators (validated against the op's declaration). */
ember_params *params_new(const ember_op_desc *op);
void params_destroy(ember_params **p);
/* Set a value given as text; errors name the operator, the parameter and
 * the valid parameters. */
int params_set(ember_params *p, const char *name, const char *value,
               ember_error *err);
/* Fill defaults, check required ones. */
int params_finish(ember_params *p, ember_error *err);
/* Help text for an operator: one line per parameter. */
void params_help(const ember_op_desc *op, char *out, size_t n);

/* Split lists (sources). */
ember_split_list *splits_new(void);
void splits_destroy(ember_split_list **l);
int splits_count(const ember_split_list *l);
const ember_split *splits_get(const ember_split_list *l, int i);

#endif
