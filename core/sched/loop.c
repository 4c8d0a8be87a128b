/*
 * loop.c -- the driver's event loop: one thread that owns all scheduling
 * state, waits for messages and timers, and hands each to its handler.
 *
 * A turn: take a submitted job (jobs.c), fetched results (fetcher.c),
 * unpersist requests (executors.c); run the timers (speculation checks,
 * queued tasks taken back, resource offers: offers.c); finish the job if
 * it is done; then wait up to 100 ms for a message and dispatch it (and
 * every message already queued): registrations and heartbeats to
 * executors.c, status updates to status.c.  Every 100 ms it also looks for
 * lost executors.  The main thread and the fetcher wake it through the
 * transport's wake().
 *
 * Threads: the loop thread (started by driver_new, joined by
 * driver_destroy).
 */
#include "driver_int.h"

#include "util/fsutil.h"
#include "util/log.h"

#include <string.h>

#define TURN_MS 100 /* the longest wait for a message; the timeout check */

static void on_message(driver *d, const ember_peer *peer, const ember_tmsg *msg)
{
    ember_error err = {0, ""};
    const void *data = msg->data;
    size_t len = msg->len;
    char name[SEC_ID_MAX] = "";
    int type = msg_peek_type(data, len, &err);
    int ei = exec_find(d, peer);
    if (type < 0) {
        LOG_WARN("dropping malformed message from a peer: %s", err.msg);
        return;
    }
    /* with authentication, the transport names every message by the
       executor whose key proved it (or "*" for keys derived from a shared
       secret); a message may not speak for another executor */
    if (d->sec && d->tp->peer_name(msg, name, sizeof name) != 0) {
        LOG_WARN("dropping a %s message without an authenticated sender",
                 msg_type_name(type));
        return;
    }
    if (type == MSG_REGISTER) {
        exec_on_register(d, peer, name, data, len);
        return;
    }
    if (d->sec && ei >= 0 && strcmp(name, "*") != 0 &&
        strcmp(name, d->execs[ei].id) != 0) {
        LOG_WARN("dropping a %s message from executor %s on executor %s's "
                 "connection",
                 msg_type_name(type), name, d->execs[ei].id);
        return;
    }
    if (ei < 0 || !d->execs[ei].alive) {
        buf b;
        LOG_WARN("%s message from an unknown or lost executor: telling it to "
                 "stop",
                 msg_type_name(type));
        buf_init(&b);
        msg_simple_encode(&b, MSG_STOP, "", 0);
        exec_send(d, peer, &b);
        buf_free(&b);
        return;
    }
    d->execs[ei].last_seen = now_ms();
    switch (type) {
    case MSG_STATUS: {
        msg_status m;
        if (msg_status_decode(data, len, &m, &err) != 0) {
            LOG_WARN("bad status message from executor %s: %s", d->execs[ei].id,
                     err.msg);
            return;
        }
        status_on_task(d, ei, &m);
        msg_status_free(&m);
        break;
    }
    case MSG_HEARTBEAT: {
        msg_heartbeat hb;
        if (msg_heartbeat_decode(data, len, &hb, &err)) {
            LOG_WARN("bad heartbeat from executor %s: %s", d->execs[ei].id,
                     err.msg);
            return;
        }
        exec_on_heartbeat(d, ei, &hb);
        msg_heartbeat_free(&hb);
        break;
    }
    default:
        LOG_WARN("unexpected %s message from executor %s", msg_type_name(type),
                 d->execs[ei].id);
    }
}

void *loop_main(void *arg)
{
    driver *d = arg;
    int64_t last_check = now_ms();
    log_set_who("driver");
    for (;;) {
        ember_peer peer;
        ember_tmsg msg;
        ember_error err = {0, ""};
        int stopping, rc;
        job *nj;

        pthread_mutex_lock(&d->mu);
        stopping = d->stopping;
        nj = d->submitted;
        d->submitted = NULL;
        pthread_mutex_unlock(&d->mu);
        if (stopping)
            break;
        if (nj) {
            d->cur = nj;
            job_start(d, nj);
        }
        fetcher_drain(d);
        exec_drain_unpersist(d);
        offers_check_speculation(d);
        offers_recall_queued(d);
        offers_schedule(d);
        job_finish_if_done(d);

        rc = d->tp->recv(d->sock, TURN_MS, &peer, &msg, &err);
        if (rc == 0) {
            on_message(d, &peer, &msg);
            d->tp->msg_release(&msg);
            while (d->tp->recv(d->sock, 0, &peer, &msg, &err) == 0) {
                on_message(d, &peer, &msg);
                d->tp->msg_release(&msg);
            }
        } else if (rc != EMBER_EAGAIN && rc != EMBER_EWOKEN) {
            LOG_WARN("receive failed: %s", err.msg);
        }
        if (now_ms() - last_check >= TURN_MS) {
            exec_check_timeouts(d);
            last_check = now_ms();
        }
        fetcher_drain(d);
        job_finish_if_done(d);
    }
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].alive)
            exec_send_simple(d, i, MSG_STOP, 0);
    return NULL;
}
