/*
 * op_oldminor.c -- a test plugin as built against ABI 1.0, the oldest minor
 * of major 1: a host with a newer minor must load it.
 *
 * Registers one transform, "oldminor.id", that emits each input batch
 * unchanged.  The descriptors carry the struct sizes of ABI 1.0 (the plugin
 * descriptor ends at fini, the operator descriptor at close), so when
 * fields are appended to either struct this plugin keeps looking like one
 * compiled before they existed.  The plugin descriptor is spelled out like
 * EMBER_PLUGIN_DEFINE's, but with abi_minor pinned at 0 rather than
 * EMBER_ABI_MINOR, which moves with the header.
 *
 * State: none (the identity needs no host functions).
 */
#include <ember/plugin.h>

#include <stddef.h>

/* Sizes as of ABI 1.0. */
#define V10_PLUGIN_SIZE                                                        \
    (offsetof(ember_plugin, fini) + sizeof(((ember_plugin *)0)->fini))
#define V10_OP_SIZE                                                            \
    (offsetof(ember_op_desc, close) + sizeof(((ember_op_desc *)0)->close))

static int id_open(const ember_host *host, const ember_params *p,
                   const ember_task_info *ti, void **state, ember_error *err)
{
    (void)host;
    (void)p;
    (void)ti;
    (void)err;
    *state = NULL;
    return 0;
}

static int id_push(void *state, const ember_batch *in, ember_emit_fn emit,
                   void *ud, ember_error *err)
{
    (void)state;
    (void)err;
    return emit(ud, in);
}

static int id_finish(void *state, ember_emit_fn emit, void *ud,
                     ember_error *err)
{
    (void)state;
    (void)emit;
    (void)ud;
    (void)err;
    return 0;
}

static void id_close(void *state)
{
    (void)state;
}

static const ember_op_desc id_op = {V10_OP_SIZE,
                                    "oldminor.id",
                                    "identity (a plugin built against ABI 1.0)",
                                    EMBER_OP_TRANSFORM,
                                    NULL,
                                    0,
                                    NULL,
                                    id_open,
                                    NULL,
                                    id_push,
                                    id_finish,
                                    id_close,
                                    NULL /* not in 1.0: past struct_size */};

static int oldminor_init(const ember_host *host, ember_registry *reg,
                         ember_error *err)
{
    int rc = host->register_op(reg, &id_op);
    if (rc)
        host->seterr(err, rc, "cannot register %s", id_op.name);
    return rc;
}

EMBER_EXPORT const ember_plugin *ember_plugin_entry(void);

EMBER_EXPORT const ember_plugin *ember_plugin_entry(void)
{
    static const ember_plugin desc = {
        V10_PLUGIN_SIZE, 1,   0, EMBER_ABI_SIG, "op_oldminor", "1.0.0",
        oldminor_init,   NULL};
    return &desc;
}
