/*
 * exec_ctx.h -- what every task thread of an executor may read.
 * Filled by the control thread before task threads start; read-only after.
 */
#ifndef EMBER_EXEC_CTX_H
#define EMBER_EXEC_CTX_H

#include "blockmgr.h"

#include <ember/plugin.h>
#include <stdint.h>

struct conf;
struct sec_creds;

typedef struct exec_ctx {
    const char *exec_id;
    const char *app_id;
    const char *local_dir;
    const char *block_endpoint; /* our own block server */
    const ember_transport_desc *tp;
    void *tctx;
    const struct conf *conf;
    int compress;
    uint64_t max_direct_result;        /* task.maxDirectResultSize */
    blockmgr *bm;                      /* cached partitions */
    memmgr *mm;                        /* the unified memory pool */
    const char *driver_block_endpoint; /* broadcasts are fetched there */
    /* transport.data (e.g. shm) for bulk data between executors of this
       host, or NULL: block endpoints then read "tcp://...;shm://..." */
    const ember_transport_desc *data_tp;
    void *data_tctx;
    /* this executor's credentials (docs/security.md), or NULL when the
       application runs without authentication: block servers and their
       clients then use plain sockets */
    const struct sec_creds *creds;
} exec_ctx;

#endif
