/*
 * op_badabi.c -- a test plugin built for a future, incompatible ABI (2.0).
 *
 * The descriptor is written out by hand (not with EMBER_PLUGIN_DEFINE) so
 * it can claim abi_major 2.  The loader must refuse it after reading the
 * descriptor and before running any of its code: init() aborts, so a
 * loader that called it kills test_plugins.
 *
 * State: none.
 */
#include <ember/plugin.h>

#include <stdlib.h>

static int badabi_init(const ember_host *host, ember_registry *reg,
                       ember_error *err)
{
    (void)host;
    (void)reg;
    (void)err;
    abort(); /* must never run: the ABI check comes first */
}

EMBER_EXPORT const ember_plugin *ember_plugin_entry(void);

EMBER_EXPORT const ember_plugin *ember_plugin_entry(void)
{
    static const ember_plugin desc = {
        sizeof(ember_plugin),
        2, /* abi_major: not this host's */
        0, /* abi_minor */
        EMBER_ABI_SIG,
        "op_badabi",
        "9.9.9",
        badabi_init,
        NULL,
    };
    return &desc;
}
