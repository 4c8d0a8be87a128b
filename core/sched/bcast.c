/*
 * bcast.c -- broadcast variables on the driver: the values, and a block
 * server that hands them to executors.
 *
 * sc:broadcast(v) encodes v once; the bytes are kept here as LZ4 frames
 * (sealed with the application's io key when io.encryption.enabled) and
 * served on a socket of their own (bulk data never delays the control
 * loop).  Executors fetch a value at most once each and keep it in their
 * block manager; the server counts fetches so tests can check that.
 *
 * Threads: bcast_put/remove/fetches from the main thread, the server on its
 * own thread; one mutex guards the table.
 */
#include "bcast.h"

#include "codec/blockcodec.h"
#include "rpc/msg.h"
#include "sec/sec.h"
#include "util/err.h"
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bvalue {
    int64_t id;
    uint8_t *frames;
    size_t len;
    int64_t fetches;
} bvalue;

struct bcast_server {
    const ember_transport_desc *tp;
    ember_tsock *sock;
    char endpoint[256];
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    int stop;
    bvalue *v;
    int n;
    int64_t next_id;
    const uint8_t *io_key; /* the application's, or NULL (creds') */
};

static bvalue *find(bcast_server *bs, int64_t id)
{
    for (int i = 0; i < bs->n; i++)
        if (bs->v[i].id == id)
            return &bs->v[i];
    return NULL;
}

static void *serve(void *arg)
{
    bcast_server *bs = arg;
    for (;;) {
        ember_peer peer;
        ember_tmsg msg;
        ember_error err = {0, ""};
        msg_fetch f;
        buf hdr, out;
        int rc, stop;
        pthread_mutex_lock(&bs->mu);
        stop = bs->stop;
        pthread_mutex_unlock(&bs->mu);
        if (stop)
            break;
        if (bs->tp->recv(bs->sock, 1000, &peer, &msg, &err) != 0)
            continue;
        rc = msg_fetch_decode(msg.data, msg.len, &f, &err);
        bs->tp->msg_release(&msg);
        buf_init(&hdr);
        buf_init(&out);
        if (rc == 0 && f.shuffle_id != MSG_FETCH_BCAST)
            rc = ember_seterr(&err, EMBER_EINVAL,
                              "the driver serves only broadcast values");
        if (rc == 0) {
            bvalue *b;
            pthread_mutex_lock(&bs->mu);
            b = find(bs, (int64_t)f.map_task_id);
            if (!b)
                rc = ember_seterr(&err, EMBER_ENOTFOUND,
                                  "broadcast %llu was destroyed",
                                  (unsigned long long)f.map_task_id);
            else if (buf_put(&out, b->frames, b->len))
                rc = ember_seterr(&err, EMBER_ENOMEM, "out of memory");
            else
                b->fetches++;
            pthread_mutex_unlock(&bs->mu);
        }
        msg_block_encode_header(&hdr, rc, rc ? err.msg : "", out.len);
        {
            const void *parts[2] = {hdr.data, out.data};
            size_t lens[2] = {hdr.len, out.len};
            if (!hdr.oom &&
                bs->tp->send(bs->sock, &peer, parts, lens, 2, &err) != 0)
                LOG_WARN("cannot answer a broadcast request: %s", err.msg);
        }
        buf_free(&hdr);
        buf_free(&out);
    }
    return NULL;
}

bcast_server *bcast_server_new(const ember_transport_desc *tp, void *tctx,
                               const char *host, const sec_creds *creds,
                               ember_error *err)
{
    bcast_server *bs = calloc(1, sizeof *bs);
    char ep[300];
    if (!bs) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    bs->tp = tp;
    bs->next_id = 1;
    bs->io_key = creds && creds->has_io_key ? creds->io_key : NULL;
    pthread_mutex_init(&bs->mu, NULL);
    snprintf(ep, sizeof ep, "tcp://%s:*", host);
    if (sec_data_listen(tp, tctx, creds, ep, SEC_FETCH_MAX, &bs->sock,
                        bs->endpoint, sizeof bs->endpoint, err)) {
        bcast_server_destroy(&bs);
        return NULL;
    }
    if (pthread_create(&bs->thread, NULL, serve, bs) != 0) {
        ember_seterr(err, EMBER_EIO, "cannot start the broadcast server");
        bcast_server_destroy(&bs);
        return NULL;
    }
    bs->started = 1;
    return bs;
}

const char *bcast_server_endpoint(const bcast_server *bs)
{
    return bs->endpoint;
}

int bcast_put(bcast_server *bs, const void *raw, size_t len, int64_t *id,
              ember_error *err)
{
    buf frames;
    bvalue *nv;
    buf_init(&frames);
    if (blockcodec_encode_with(&frames, raw, len, 1, bs->io_key)) {
        buf_free(&frames);
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&bs->mu);
    nv = realloc(bs->v, (size_t)(bs->n + 1) * sizeof *nv);
    if (!nv) {
        pthread_mutex_unlock(&bs->mu);
        buf_free(&frames);
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    }
    bs->v = nv;
    nv[bs->n].id = bs->next_id++;
    nv[bs->n].frames = buf_steal(&frames, &nv[bs->n].len);
    nv[bs->n].fetches = 0;
    *id = nv[bs->n].id;
    bs->n++;
    pthread_mutex_unlock(&bs->mu);
    return 0;
}

void bcast_remove(bcast_server *bs, int64_t id)
{
    pthread_mutex_lock(&bs->mu);
    for (int i = 0; i < bs->n; i++)
        if (bs->v[i].id == id) {
            free(bs->v[i].frames);
            bs->v[i] = bs->v[--bs->n];
            break;
        }
    pthread_mutex_unlock(&bs->mu);
}

int64_t bcast_fetches(bcast_server *bs, int64_t id)
{
    int64_t n = -1;
    bvalue *b;
    pthread_mutex_lock(&bs->mu);
    if ((b = find(bs, id)) != NULL)
        n = b->fetches;
    pthread_mutex_unlock(&bs->mu);
    return n;
}

void bcast_server_destroy(bcast_server **bsp)
{
    bcast_server *bs = bsp ? *bsp : NULL;
    if (!bs)
        return;
    if (bs->started) {
        pthread_mutex_lock(&bs->mu);
        bs->stop = 1;
        pthread_mutex_unlock(&bs->mu);
        bs->tp->wake(bs->sock);
        pthread_join(bs->thread, NULL);
    }
    if (bs->sock)
        bs->tp->sock_close(bs->sock);
    for (int i = 0; i < bs->n; i++)
        free(bs->v[i].frames);
    free(bs->v);
    pthread_mutex_destroy(&bs->mu);
    free(bs);
    *bsp = NULL;
}
