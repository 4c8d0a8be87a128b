/*
 * blockfetch.c -- fetching blocks from block servers (see blockfetch.h).
 *
 * Owns a task thread's client sockets to block servers and the request /
 * answer exchange: a MSG_FETCH out, a MSG_BLOCK back (header + the block's
 * stored frames), waited for in slices of at most a second until
 * network.timeout.  A block of this executor is read from its local
 * directory without a socket.  Broadcasts are blocks of the driver, kept
 * in the executor's block manager under node -id once fetched.
 *
 * Threads: a blockfetch is used by one thread; blockfetch_broadcast also
 * takes a process-wide mutex so two threads do not fetch one value twice.
 */
#include "sec/sec.h"
#include "blockfetch.h"

#include "codec/blockcodec.h"
#include "config.h"
#include "shuffle/shuffle_file.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct peer_sock {
    char *endpoint; /* as advertised, both parts */
    ember_tsock *s;
    const ember_transport_desc *tp;
} peer_sock;

struct blockfetch {
    const exec_ctx *ctx;
    peer_sock *peers;
    int npeers;
    int64_t timeout_ms; /* network.timeout */
};

blockfetch *blockfetch_new(const exec_ctx *ctx, ember_error *err)
{
    blockfetch *bf = calloc(1, sizeof *bf);
    if (!bf) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    bf->ctx = ctx;
    if (conf_duration_ms(ctx->conf, "network.timeout", &bf->timeout_ms, err)) {
        free(bf);
        return NULL;
    }
    return bf;
}

void blockfetch_destroy(blockfetch **bfp)
{
    blockfetch *bf = bfp ? *bfp : NULL;
    if (!bf)
        return;
    for (int i = 0; i < bf->npeers; i++) {
        bf->peers[i].tp->sock_close(bf->peers[i].s);
        free(bf->peers[i].endpoint);
    }
    free(bf->peers);
    free(bf);
    *bfp = NULL;
}

/* The part of a block endpoint ("tcp://h:p" or "tcp://h:p;shm://name")
 * to use: the data transport's when the peer is on this host. */
static const ember_transport_desc *
pick_endpoint(blockfetch *bf, const char *eps, char *out, size_t n)
{
    const char *semi = strchr(eps, ';');
    size_t tl = semi ? (size_t)(semi - eps) : strlen(eps);
    if (semi && bf->ctx->data_tp) {
        /* same host: the tcp parts name the same address */
        const char *mine = bf->ctx->block_endpoint;
        size_t mtl = strcspn(mine, ";");
        const char *mc = memrchr(mine, ':', mtl), *pc = memrchr(eps, ':', tl);
        size_t ml = mc ? (size_t)(mc - mine) : 0;
        size_t pl = pc ? (size_t)(pc - eps) : 0;
        if (ml && ml == pl && strncmp(mine, eps, ml) == 0) {
            snprintf(out, n, "%s", semi + 1);
            return bf->ctx->data_tp;
        }
    }
    snprintf(out, n, "%.*s", (int)tl, eps);
    return bf->ctx->tp;
}

static ember_tsock *peer_get(blockfetch *bf, const char *eps,
                             const ember_transport_desc **tpp, ember_error *err)
{
    peer_sock *np;
    char ep[512];
    const ember_transport_desc *tp = pick_endpoint(bf, eps, ep, sizeof ep);
    *tpp = tp;
    for (int i = 0; i < bf->npeers; i++)
        if (strcmp(bf->peers[i].endpoint, eps) == 0)
            return bf->peers[i].s;
    np = realloc(bf->peers, (size_t)(bf->npeers + 1) * sizeof *np);
    if (!np) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    bf->peers = np;
    np[bf->npeers].endpoint = strdup(eps);
    np[bf->npeers].tp = tp;
    if (!np[bf->npeers].endpoint ||
        sec_data_connect(tp,
                         tp == bf->ctx->tp ? bf->ctx->tctx : bf->ctx->data_tctx,
                         bf->ctx->creds, ep, &np[bf->npeers].s, err)) {
        free(np[bf->npeers].endpoint);
        return NULL;
    }
    return np[bf->npeers++].s;
}

static void peer_drop(blockfetch *bf, const char *ep)
{
    for (int i = 0; i < bf->npeers; i++)
        if (strcmp(bf->peers[i].endpoint, ep) == 0) {
            bf->peers[i].tp->sock_close(bf->peers[i].s);
            free(bf->peers[i].endpoint);
            bf->peers[i] = bf->peers[--bf->npeers];
            return;
        }
}

int blockfetch_get(blockfetch *bf, const msg_maploc *loc, int shuffle_id,
                   int reduce_id, buf *out, int64_t *data_bytes,
                   ember_error *err)
{
    msg_fetch f = {shuffle_id, loc->map_task_id, reduce_id};
    ember_tsock *s;
    const ember_transport_desc *tp = bf->ctx->tp;
    buf req;
    ember_tmsg msg;
    msg_block blk;
    int rc;
    int64_t deadline;

    if (strcmp(loc->endpoint, bf->ctx->block_endpoint) == 0)
        return shuffle_read_block(bf->ctx->local_dir, shuffle_id,
                                  loc->map_task_id, reduce_id, out, err);
    if (!(s = peer_get(bf, loc->endpoint, &tp, err)))
        return err->code ? err->code : EMBER_EIO;
    buf_init(&req);
    msg_fetch_encode(&req, &f);
    {
        const void *parts[1] = {req.data};
        size_t lens[1] = {req.len};
        rc = tp->send(s, NULL, parts, lens, 1, err);
    }
    buf_free(&req);
    if (rc) {
        peer_drop(bf, loc->endpoint);
        return rc;
    }
    deadline = now_ms() + bf->timeout_ms;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            peer_drop(bf, loc->endpoint);
            return ember_seterr(err, EMBER_ETIMEOUT,
                                "no answer from executor %s (%s) within %lld "
                                "ms",
                                loc->exec_id, loc->endpoint,
                                (long long)bf->timeout_ms);
        }
        rc = tp->recv(s, (int)(left > 1000 ? 1000 : left), NULL, &msg, err);
        if (rc == EMBER_EAGAIN || rc == EMBER_EWOKEN)
            continue;
        if (rc) {
            peer_drop(bf, loc->endpoint);
            return rc;
        }
        break;
    }
    rc = msg_block_decode(msg.data, msg.len, &blk, err);
    if (rc == 0) {
        if (blk.status)
            rc = ember_seterr(err, blk.status, "%s", blk.message);
        else if (buf_put(out, blk.data, blk.len))
            rc = ember_seterr(err, EMBER_ENOMEM, "out of memory");
        else if (tp != bf->ctx->tp && data_bytes)
            *data_bytes += (int64_t)blk.len;
        msg_block_free(&blk);
    }
    tp->msg_release(&msg);
    return rc;
}

/* One fetch at a time per executor, so a value is fetched at most once. */
static pthread_mutex_t bcast_mu = PTHREAD_MUTEX_INITIALIZER;

int blockfetch_broadcast(blockfetch *bf, int64_t id, buf *raw, ember_error *err)
{
    const exec_ctx *ctx = bf->ctx;
    buf frames;
    int rc;
    pthread_mutex_lock(&bcast_mu);
    rc = blockmgr_get(ctx->bm, -(int)id, 0, raw, err);
    if (rc == EMBER_ENOTFOUND) {
        msg_maploc loc = {(uint64_t)id, (char *)"driver",
                          (char *)ctx->driver_block_endpoint};
        buf_init(&frames);
        rc = blockfetch_get(bf, &loc, MSG_FETCH_BCAST, 0, &frames, NULL, err);
        if (rc == 0)
            rc = blockcodec_decode_all(frames.data, frames.len, raw, err);
        buf_free(&frames);
        if (rc == 0 &&
            blockmgr_put(ctx->bm, -(int)id, 0, LEVEL_MEMORY_AND_DISK_SER,
                         raw->data, raw->len, err))
            LOG_WARN("cannot keep broadcast %d: %s", (int)id, err->msg);
    }
    pthread_mutex_unlock(&bcast_mu);
    return rc;
}
