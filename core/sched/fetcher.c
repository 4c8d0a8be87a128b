/*
 * fetcher.c -- the result fetcher: a thread that brings the results kept
 * in executors' block stores (larger than task.maxDirectResultSize) to the
 * driver, so a big result never blocks the loop.
 *
 * The loop thread queues a fetch_req (fetcher_submit) after checking
 * driver.maxResultSize; the thread sends a FETCH to the executor's block
 * endpoint over its own client sockets (one per endpoint, reused), waits
 * up to network.timeout for the block, and queues the completed request
 * back, waking the loop, which hands it to status_on_fetched.
 *
 * Threads: the fetcher thread owns its sockets; the two queues are
 * guarded by d->mu.
 */
#include "driver_int.h"

#include "util/err.h"
#include "util/fsutil.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SOCKS 64

void fetch_req_free(fetch_req *f)
{
    if (!f)
        return;
    free(f->data);
    free(f->error);
    free(f->endpoint);
    free(f->exec_id);
    free(f);
}

void fetcher_submit(driver *d, fetch_req *f)
{
    pthread_mutex_lock(&d->mu);
    f->next = d->fetch_in;
    d->fetch_in = f;
    pthread_cond_signal(&d->fetch_cv);
    pthread_mutex_unlock(&d->mu);
}

void fetcher_drain(driver *d)
{
    fetch_req *f;
    pthread_mutex_lock(&d->mu);
    f = d->fetch_out;
    d->fetch_out = NULL;
    pthread_mutex_unlock(&d->mu);
    while (f) {
        fetch_req *next = f->next;
        status_on_fetched(d, f);
        f = next;
    }
}

void fetcher_free_queues(driver *d)
{
    while (d->fetch_in || d->fetch_out) {
        fetch_req *f = d->fetch_in ? d->fetch_in : d->fetch_out;
        if (f == d->fetch_in)
            d->fetch_in = f->next;
        else
            d->fetch_out = f->next;
        fetch_req_free(f);
    }
}

/* Ask s for the result of f->tid and wait for the block. */
static int fetch_one(driver *d, ember_tsock *s, fetch_req *f, ember_error *err)
{
    msg_fetch fm;
    ember_tmsg msg;
    int64_t deadline;
    buf req;
    int rc;
    fm.shuffle_id = MSG_FETCH_RESULT;
    fm.map_task_id = f->tid;
    fm.reduce_id = 0;
    buf_init(&req);
    msg_fetch_encode(&req, &fm);
    {
        const void *parts[1] = {req.data};
        size_t lens[1] = {req.len};
        rc = d->tp->send(s, NULL, parts, lens, 1, err);
    }
    buf_free(&req);
    if (rc)
        return rc;
    deadline = now_ms() + d->timeout_ms;
    do {
        rc = d->tp->recv(s, 500, NULL, &msg, err);
    } while ((rc == EMBER_EAGAIN || rc == EMBER_EWOKEN) &&
             now_ms() < deadline && !d->stopping);
    if (rc == 0) {
        msg_block blk;
        rc = msg_block_decode(msg.data, msg.len, &blk, err);
        if (rc == 0 && blk.status)
            rc = ember_seterr(err, blk.status, "%s", blk.message);
        else if (rc == 0 && !(f->data = malloc(blk.len ? blk.len : 1)))
            rc = ember_seterr(err, EMBER_ENOMEM, "out of memory");
        else if (rc == 0) {
            memcpy(f->data, blk.data, blk.len);
            f->len = blk.len;
        }
        if (rc == 0 || blk.message)
            msg_block_free(&blk);
        d->tp->msg_release(&msg);
    } else if (rc == EMBER_EAGAIN) {
        rc = ember_seterr(err, EMBER_ETIMEOUT,
                          "no answer from executor %s within %lld ms",
                          f->exec_id, (long long)d->timeout_ms);
    }
    return rc;
}

static void *fetcher_main(void *arg)
{
    driver *d = arg;
    struct {
        char *ep;
        ember_tsock *s;
    } socks[MAX_SOCKS];
    int nsocks = 0;
    for (;;) {
        fetch_req *f;
        ember_error err = {0, ""};
        ember_tsock *s = NULL;
        int rc;
        pthread_mutex_lock(&d->mu);
        while (!d->stopping && !d->fetch_in)
            pthread_cond_wait(&d->fetch_cv, &d->mu);
        if (d->stopping) {
            pthread_mutex_unlock(&d->mu);
            break;
        }
        f = d->fetch_in;
        d->fetch_in = f->next;
        pthread_mutex_unlock(&d->mu);

        for (int i = 0; i < nsocks; i++)
            if (strcmp(socks[i].ep, f->endpoint) == 0)
                s = socks[i].s;
        int kept = s != NULL;
        if (!s &&
            sec_data_connect(d->tp, d->tctx,
                             d->sec ? sec_app_creds(d->sec) : NULL, f->endpoint,
                             &s, &err) == 0 &&
            nsocks < MAX_SOCKS) {
            socks[nsocks].ep = strdup(f->endpoint);
            socks[nsocks].s = s;
            nsocks++;
            kept = 1;
        }
        rc = s ? fetch_one(d, s, f, &err) : EMBER_EIO;
        if (s && !kept)
            d->tp->sock_close(s); /* past MAX_SOCKS: not kept, not leaked */
        f->rc = rc;
        if (rc)
            f->error = strdup(err.msg[0] ? err.msg : ember_strerror(rc));
        pthread_mutex_lock(&d->mu);
        f->next = d->fetch_out;
        d->fetch_out = f;
        pthread_mutex_unlock(&d->mu);
        d->tp->wake(d->sock);
    }
    for (int i = 0; i < nsocks; i++) {
        d->tp->sock_close(socks[i].s);
        free(socks[i].ep);
    }
    return NULL;
}

int fetcher_start(driver *d, ember_error *err)
{
    if (pthread_create(&d->fetcher, NULL, fetcher_main, d) != 0)
        return ember_seterr(err, EMBER_EIO, "cannot start the result fetcher");
    d->fetcher_started = 1;
    return 0;
}
