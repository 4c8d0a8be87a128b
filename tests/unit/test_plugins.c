/*
 * test_plugins.c -- core/plugin/plugins.c: loading real plugin modules with
 * libltdl, the registry, parameter validation, and refusals: a plugin of a
 * foreign ABI major (op_badabi, whose init aborts if it is ever run), a
 * plugin built against the oldest minor (op_oldminor, which must load), and
 * a plugin that does not exist.
 *
 * Environment: top_builddir (absolute) locates op_text in
 * $top_builddir/plugins/operators/text; the test plugins are taken from
 * $EMBER_TEST_PLUGIN_DIR, by default $top_builddir/tests/unit (libtool
 * puts op_badabi.la there and the module in .libs/).  Without top_builddir
 * the whole test is skipped.
 */
#include "plugin/plugins.h"

#include <stdio.h>

#include "config.h"
#include "data/batch.h"
#include "tap/tap.h"

static char plugin_dir[4096];
static char text_dir[4096];

/* ------------------------------------------------------------ op_text */

static void test_op_text(void)
{
    ember_error err = {0, ""};
    const plugin_info *owner = NULL, *pi;
    const ember_op_desc *op;
    int n;

    is_int(0, plugins_load("op_text", &err), "op_text loads");
    if (err.msg[0])
        diag("%s", err.msg);
    n = plugins_count();
    is_int(1, n, "one plugin loaded");
    pi = plugins_get(0);
    ok(pi != NULL, "plugins_get(0)");
    if (pi) {
        is_string("op_text", pi->name, "info: name");
        is_int(EMBER_ABI_MAJOR, pi->abi_major, "info: ABI major");
        ok(pi->nops >= 2, "info: registers at least 2 operators (%d)",
           pi->nops);
        is_string("operators", pi->kind, "info: kind");
        like(pi->path, "plugins/operators/text/", "info: path (%s)", pi->path);
    } else {
        for (int i = 0; i < 5; i++)
            skip("no plugin info");
    }
    ok(plugins_get(1) == NULL, "plugins_get past the end is NULL");

    op = plugins_find_op("text.scan", &owner);
    ok(op != NULL, "text.scan is registered");
    ok(owner != NULL, "... with an owner");
    is_string("op_text", owner ? owner->name : NULL, "... owned by op_text");
    ok(op && op->kind == EMBER_OP_SOURCE, "... and is a source");
    ok(plugins_find_op("text.write", NULL) != NULL, "text.write too");
    owner = NULL;
    ok(plugins_find_op("text.nope", &owner) == NULL && owner == NULL,
       "an unknown operator is not found");

    is_int(0, plugins_load("op_text", &err), "loading op_text again is fine");
    is_int(n, plugins_count(), "... and a no-op");
}

/* -------------------------------------------------------------- params */

static void test_params(void)
{
    const ember_op_desc *op = plugins_find_op("text.scan", NULL);
    const ember_host *h = host_table();
    ember_params *p;
    ember_error err = {0, ""};

    if (!op) {
        for (int i = 0; i < 17; i++)
            skip("text.scan not loaded");
        return;
    }
    p = params_new(op);
    ok(p != NULL, "params_new");

    is_int(EMBER_EINVAL, params_set(p, "pth", "/tmp", &err),
           "unknown option is refused");
    like(err.msg, "text.scan", "... naming the operator");
    like(err.msg, "'pth'", "... and the option");
    like(err.msg, "path", "... listing 'path'");
    like(err.msg, "max_partition_bytes", "... and 'max_partition_bytes'");

    err.msg[0] = '\0';
    is_int(EMBER_EINVAL, params_set(p, "max_partition_bytes", "abc", &err),
           "a non-integer for an integer option is refused");
    like(err.msg, "max_partition_bytes", "... naming the option");
    like(err.msg, "'abc'", "... and the value");
    like(err.msg, "integer", "... and the wanted type");
    is_int(EMBER_EINVAL, params_set(p, "max_partition_bytes", "", &err),
           "an empty integer is refused");
    is_int(EMBER_EINVAL, params_set(p, "max_partition_bytes", "12x", &err),
           "trailing garbage after an integer is refused");

    err.msg[0] = '\0';
    is_int(EMBER_EINVAL, params_finish(p, &err),
           "finish without the required 'path' fails");
    like(err.msg, "'path' is required", "... saying path is required");

    is_int(0, params_set(p, "path", "/data/in/*.txt", &err), "set path");
    is_int(0, params_finish(p, &err), "finish with path succeeds");
    is_string("/data/in/*.txt", h->param_str(p, "path"),
              "param_str(path) through the host table");
    is_int(134217728, h->param_int(p, "max_partition_bytes"),
           "the default of max_partition_bytes was filled in");
    params_destroy(&p);
    ok(p == NULL, "params_destroy nulls the pointer");
    params_destroy(&p); /* NULL is fine */

    p = params_new(op);
    params_set(p, "max_partition_bytes", "1024", &err);
    params_set(p, "path", "a", &err);
    params_set(p, "path", "b", &err); /* last one wins, no leak */
    params_finish(p, &err);
    is_int(1024, h->param_int(p, "max_partition_bytes"),
           "an explicit value is kept over the default");
    is_string("b", h->param_str(p, "path"), "a value set twice: last wins");
    ok(h->param_str(p, "nope") == NULL, "param_str of an unknown name: NULL");
    params_destroy(&p);
}

/* ------------------------------------------------------------- refusals */

static void test_badabi(void)
{
    ember_error err = {0, ""};
    char host_abi[32];
    int n = plugins_count();

    snprintf(host_abi, sizeof host_abi, "ABI %d.%d", EMBER_ABI_MAJOR,
             EMBER_ABI_MINOR);
    /* op_badabi's init() aborts: surviving this call proves it never ran */
    is_int(EMBER_EABI, plugins_load("op_badabi", &err),
           "op_badabi (ABI 2.0) is refused with EMBER_EABI");
    is_int(EMBER_EABI, err.code, "... err.code too");
    like(err.msg, "op_badabi", "... the message names the plugin");
    like(err.msg, "tests/unit/", "... and its path");
    like(err.msg, "ABI 2.0", "... and its ABI");
    like(err.msg, host_abi, "... and the host's ABI");
    is_int(n, plugins_count(), "... and nothing was added");
    ok(plugins_find_op("badabi.x", NULL) == NULL, "... nor registered");
    is_int(EMBER_EABI, plugins_load("op_badabi", NULL),
           "refused again on a second try (err may be NULL)");
}

static int id_emit_calls;
static const ember_batch *id_emitted;

static int id_emit(void *ud, const ember_batch *b)
{
    (void)ud;
    id_emit_calls++;
    id_emitted = b;
    return 0;
}

static void test_oldminor(void)
{
    ember_error err = {0, ""};
    const plugin_info *owner = NULL;
    const ember_op_desc *op;
    ember_batch *in;
    void *state = NULL;
    int n = plugins_count();

    is_int(0, plugins_load("op_oldminor", &err),
           "op_oldminor (built against ABI 1.0) loads");
    if (err.msg[0])
        diag("%s", err.msg);
    is_int(n + 1, plugins_count(), "... and is listed");
    op = plugins_find_op("oldminor.id", &owner);
    ok(op != NULL, "oldminor.id is registered");
    is_string("op_oldminor", owner ? owner->name : NULL,
              "... owned by op_oldminor");
    ok(owner && owner->abi_major == 1 && owner->abi_minor == 0,
       "... which reports ABI 1.0");
    if (!op) {
        for (int i = 0; i < 3; i++)
            skip("oldminor.id not loaded");
        return;
    }
    ok(op->kind == EMBER_OP_TRANSFORM, "oldminor.id is a transform");

    /* run it once through the real host: it must hand back its input */
    in = batch_new();
    if (!in || batch_add_column(in, "value", EMBER_TYPE_STRING) ||
        batch_append_str(in, 0, "x", 1))
        bail("cannot build a batch");
    is_int(0, op->open(host_table(), NULL, NULL, &state, &err),
           "oldminor.id opens");
    is_int(0,
           op->push(state, in, id_emit, NULL, &err) ||
               op->finish(state, id_emit, NULL, &err),
           "push + finish succeed");
    ok(id_emit_calls == 1 && id_emitted == in,
       "the identity emitted its input batch once");
    op->close(state);
    batch_destroy(&in);
}

static void test_notfound(void)
{
    ember_error err = {0, ""};
    int n = plugins_count();
    is_int(EMBER_ENOTFOUND, plugins_load("no_such_plugin", &err),
           "a missing plugin: EMBER_ENOTFOUND");
    like(err.msg, "no_such_plugin", "... naming it");
    like(err.msg, "search path", "... mentioning the search path");
    like(err.msg, plugin_dir, "... which includes the test plugin dir");
    like(plugins_search_path(), text_dir,
         "plugins_search_path() starts from plugins.path");
    is_int(n, plugins_count(), "... and nothing was added");
}

int main(void)
{
    const char *top = getenv("top_builddir");
    const char *pdir = getenv("EMBER_TEST_PLUGIN_DIR");
    char path[sizeof text_dir + sizeof plugin_dir + 2];
    ember_error err = {0, ""};
    conf *c;

    if (!top || !*top) {
        printf("1..0 # SKIP top_builddir is not set\n");
        return 0;
    }
    snprintf(text_dir, sizeof text_dir, "%s/plugins/operators/text", top);
    if (pdir && *pdir)
        snprintf(plugin_dir, sizeof plugin_dir, "%s", pdir);
    else
        snprintf(plugin_dir, sizeof plugin_dir, "%s/tests/unit", top);
    snprintf(path, sizeof path, "%s:%s", text_dir, plugin_dir);

    c = conf_new();
    if (!c || conf_set(c, "plugins.path", path, CONF_SRC_CMDLINE, NULL))
        bail("cannot build the configuration");
    is_int(0, plugins_init(c, &err), "plugins_init");
    if (err.msg[0])
        diag("%s", err.msg);
    is_int(0, plugins_count(), "no plugin loaded yet");

    test_op_text();
    test_params();
    test_badabi();
    test_oldminor();
    test_notfound();

    plugins_shutdown();
    is_int(0, plugins_count(), "plugins_shutdown empties the registry");
    ok(plugins_find_op("text.scan", NULL) == NULL,
       "... and the operator table");
    conf_destroy(&c);
    return done_testing();
}
