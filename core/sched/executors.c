/*
 * executors.c -- the driver's executor registry: registration,
 * heartbeats, loss, and the messages the driver sends executors.
 *
 * An executor registers with a REGISTER message and is refused when its
 * operator plugins differ from the driver's, its id is taken, or it has
 * fewer cores than task.cpus (it could run no task).  An executor whose
 * process ended (reported by the cluster manager) or that is silent for
 * network.timeout is lost: its running tasks are re-queued (counted as
 * failures only when the process crashed, as Spark's ExecutorLostFailure
 * with exitCausedByApp), its map outputs and cached blocks forgotten, and
 * a replacement requested.
 *
 * Threads: the loop thread; execs[] grows under mu (the main thread reads
 * ids for storage_info).
 */
#include "driver_int.h"

#include "config.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ messages */

void exec_send(driver *d, const ember_peer *to, buf *b)
{
    ember_error err = {0, ""};
    const void *parts[1] = {b->data};
    size_t lens[1] = {b->len};
    if (b->oom)
        return;
    if (d->tp->send(d->sock, to, parts, lens, 1, &err) != 0)
        LOG_WARN("send to executor failed: %s", err.msg);
}

void exec_send_simple(driver *d, int ei, int type, uint64_t n)
{
    buf b;
    buf_init(&b);
    msg_simple_encode(&b, type, "", n);
    exec_send(d, &d->execs[ei].peer, &b);
    buf_free(&b);
}

/* Datasets the script unpersisted: tell every executor, forget them. */
void exec_drain_unpersist(driver *d)
{
    int *q, n;
    pthread_mutex_lock(&d->mu);
    q = d->unpersist_q;
    n = d->nunpersist;
    d->unpersist_q = NULL;
    d->nunpersist = 0;
    pthread_mutex_unlock(&d->mu);
    for (int k = 0; k < n; k++)
        for (int i = 0; i < d->nexecs; i++)
            if (d->execs[i].alive)
                exec_send_simple(d, i,
                                 q[k] > 0 ? MSG_REMOVE_RDD : MSG_REMOVE_BCAST,
                                 (uint64_t)(q[k] > 0 ? q[k] : -q[k]));
    free(q);
}

int exec_find(driver *d, const ember_peer *p)
{
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].peer.len == p->len &&
            memcmp(d->execs[i].peer.id, p->id, p->len) == 0)
            return i;
    return -1;
}

int exec_index(driver *d, const char *id)
{
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].id && id && strcmp(d->execs[i].id, id) == 0)
            return i;
    return -1;
}

/* -------------------------------------------------------- registration */

static const char *rack_of(driver *d, const char *host)
{
    /* topology: "host=rack,host=rack" */
    static char rack[128];
    const char *t = d->topology;
    size_t hl = strlen(host);
    while (t && *t) {
        const char *eq = strchr(t, '='), *comma = strchr(t, ',');
        if (!eq)
            break;
        if ((size_t)(eq - t) == hl && strncmp(t, host, hl) == 0) {
            size_t n = comma ? (size_t)(comma - eq - 1) : strlen(eq + 1);
            if (n >= sizeof rack)
                n = sizeof rack - 1;
            memcpy(rack, eq + 1, n);
            rack[n] = '\0';
            return rack;
        }
        t = comma ? comma + 1 : NULL;
    }
    return NULL;
}

/* Why executor m may not join, or "" (why: a buffer of n bytes). */
static void refusal(driver *d, const msg_register *m, char *why, size_t n)
{
    if (strcmp(m->plugins, d->plugins_sig) != 0)
        snprintf(why, n, "executor %s has plugins [%s] but the driver has [%s]",
                 m->exec_id, m->plugins, d->plugins_sig);
    for (int i = 0; i < d->nexecs && !why[0]; i++)
        if (d->execs[i].alive && strcmp(d->execs[i].id, m->exec_id) == 0)
            snprintf(why, n, "duplicate executor id %s", m->exec_id);
    if (!why[0] && m->cores < d->task_cpus) {
        snprintf(why, n,
                 "executor %s has %d cores, fewer than task.cpus (%lld): it "
                 "cannot run any task. Give executors at least task.cpus "
                 "cores (executor.cores, or the master URL) or lower "
                 "task.cpus",
                 m->exec_id, m->cores, (long long)d->task_cpus);
        snprintf(d->cpus_refused, sizeof d->cpus_refused, "%s", why);
        d->ncpus_refused++;
    }
}

/* A job is running, no executor is alive, and as many executors as the
 * cluster manager started were refused for having fewer cores than
 * task.cpus: none will run a task; fail the job now, saying why. */
void exec_check_cpus(driver *d)
{
    if (!d->cur || d->cur->done || !d->ncpus_refused ||
        d->ncpus_refused < d->expected_execs)
        return;
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].alive)
            return;
    job_fail(d, d->cur, "no executor can run a task: %s", d->cpus_refused);
}

static int exec_add(driver *d, msg_register *m, const ember_peer *peer)
{
    exec_rec *ne, *e;
    const char *rack;
    /* storage_info reads execs[] from the main thread under mu */
    pthread_mutex_lock(&d->mu);
    ne = realloc(d->execs, (size_t)(d->nexecs + 1) * sizeof *ne);
    if (ne) {
        d->execs = ne;
        memset(&d->execs[d->nexecs], 0, sizeof *ne);
        d->execs[d->nexecs].id = m->exec_id;
        d->nexecs++;
        m->exec_id = NULL;
    }
    pthread_mutex_unlock(&d->mu);
    if (!ne)
        return EMBER_ENOMEM;
    e = &d->execs[d->nexecs - 1];
    e->host = m->host;
    e->endpoint = m->data_endpoint;
    m->host = m->data_endpoint = NULL;
    rack = rack_of(d, e->host);
    e->rack = rack ? strdup(rack) : NULL;
    e->peer = *peer;
    e->pid = m->pid;
    e->cores = e->free_cores = m->cores;
    e->alive = 1;
    e->last_seen = now_ms();
    e->added_ms = wall_ms();
    d->ever_registered = 1;
    LOG_INFO("executor %s registered (host %s, pid %lld, %d cores, "
             "blocks at %s)",
             e->id, e->host, (long long)e->pid, e->cores, e->endpoint);
    eventlog_executor_added(d->elog, e->id, e->host, e->cores, e->pid,
                            e->endpoint);
    job_live_changed(d);
    d->revive = 1;
    return 0;
}

void exec_on_register(driver *d, const ember_peer *peer, const char *name,
                      const void *data, size_t len)
{
    msg_register m;
    msg_registered reply = {0};
    ember_error err = {0, ""};
    buf b;
    char why[512] = "";
    buf_init(&b);
    if (msg_register_decode(data, len, &m, &err) != 0) {
        LOG_WARN("bad register message: %s", err.msg);
        return;
    }
    if (d->sec && strcmp(name, "*") != 0 && strcmp(name, m.exec_id) != 0) {
        /* a key minted for one executor registering as another: say
           nothing more than "refused" to it */
        LOG_WARN("refused a registration as executor %s from executor %s's "
                 "key",
                 m.exec_id, name);
        msg_register_free(&m);
        reply.ok = 0;
        reply.message = "refused";
        reply.block_endpoint = "";
        if (msg_registered_encode(&b, &reply) == 0)
            exec_send(d, peer, &b);
        buf_free(&b);
        return;
    }
    refusal(d, &m, why, sizeof why);
    if (!why[0] && exec_add(d, &m, peer))
        snprintf(why, sizeof why, "driver out of memory");
    reply.ok = why[0] == '\0';
    reply.message = why;
    reply.heartbeat_ms = d->heartbeat_ms;
    reply.timeout_ms = d->timeout_ms;
    /* the driver's block server only for executors it admitted */
    reply.block_endpoint =
        reply.ok ? (char *)bcast_server_endpoint(d->bcast) : (char *)"";
    if (msg_registered_encode(&b, &reply) == 0)
        exec_send(d, peer, &b);
    if (why[0])
        LOG_WARN("refused executor: %s", why);
    buf_free(&b);
    msg_register_free(&m);
    exec_check_cpus(d);
}

void exec_on_heartbeat(driver *d, int ei, const msg_heartbeat *hb)
{
    exec_send_simple(d, ei, MSG_HEARTBEAT_ACK, hb->seq);
    eventlog_metrics(d->elog, d->execs[ei].id, hb);
}

/* ---------------------------------------------------------------- loss */

/* An executor on this host that died without cleaning up (kill -9)
 * leaves its local directory: remove it. */
void exec_remove_dir(driver *d, const exec_rec *e)
{
    const char *base = NULL;
    char dir[4096];
    if (strcmp(e->host, d->host) != 0 && strcmp(e->host, "127.0.0.1") != 0)
        return;
    if (conf_string(d->conf, "local.dir", &base, NULL))
        return;
    snprintf(dir, sizeof dir, "%s/ember-%s-exec-%s", base, d->app_id, e->id);
    rm_rf(dir);
}

/* The tasks running on a lost executor: again elsewhere, counted as
 * failures when the executor crashed. */
static void requeue_tasks(driver *d, int ei, const char *reason, int crashed)
{
    const exec_rec *e = &d->execs[ei];
    for (int i = 0; i < d->nrun;) {
        running r = d->run[i];
        dag_stage *st = r.st;
        job *j = job_of(d, st);
        ev_task et;
        if (r.exec != ei) {
            i++;
            continue;
        }
        run_remove(d, i);
        if (!st || !st->ts)
            continue;
        job_ev_task(d, &r, &et);
        eventlog_task_end(d->elog, &et, "ExecutorLostFailure", reason, NULL);
        if (!crashed) {
            taskset_attempt_lost(st->ts, r.task); /* not counted */
        } else if (taskset_failed(st->ts, r.task, 1) && j && !j->done) {
            job_fail(d, j,
                     "Job %d (%s) aborted due to stage failure: task %d "
                     "in stage %d.%d failed %d times, most recent "
                     "failure: executor %s (host %s) lost while running "
                     "it: %s",
                     j->id,
                     j->spec->description ? j->spec->description : "action",
                     st->part_of[r.task], st->id, st->attempt,
                     taskset_failures(st->ts, r.task), e->id, e->host, reason);
        }
    }
}

void exec_lose(driver *d, int ei, const char *reason)
{
    exec_rec *e = &d->execs[ei];
    ember_error err = {0, ""};
    dag_outcome out = {0};
    int crashed;
    if (!e->alive)
        return;
    LOG_WARN("lost executor %s (host %s, pid %lld): %s", e->id, e->host,
             (long long)e->pid, reason);
    e->alive = 0;
    /* its key is no longer admitted: a stale executor cannot come back */
    sec_app_retire(d->sec, e->id);
    d->revive = 1;
    eventlog_executor_removed(d->elog, e->id, reason);
    /* an executor that crashed (a signal, an exit status) while running
     * tasks counts as a failure of each of them, as Spark's
     * ExecutorLostFailure with exitCausedByApp: a task that kills every
     * executor it lands on fails the job after task.maxFailures instead of
     * consuming executors forever */
    crashed =
        strstr(reason, "killed by signal") || strstr(reason, "exited with");
    requeue_tasks(d, ei, reason, crashed);
    dag_lose_outputs(d->dag, ei, job_env(d), &out);
    job_apply(d, &out);
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->ncblocks;)
        if (d->cblocks[i].exec == ei)
            d->cblocks[i] = d->cblocks[--d->ncblocks]; /* lost with it */
        else
            i++;
    pthread_mutex_unlock(&d->mu);
    job_live_changed(d);
    if (crashed)
        exec_remove_dir(d, e);
    if (d->cm && d->cm->request_executor && d->cm_state &&
        d->cm->request_executor(d->cm_state, &err) != 0)
        LOG_WARN("cannot request a replacement executor: %s", err.msg);
}

static void on_exited(void *ud, const char *exec_id, const char *how)
{
    driver *d = ud;
    int ei = exec_index(d, exec_id);
    if (ei >= 0)
        exec_lose(d, ei, how);
}

void exec_check_timeouts(driver *d)
{
    int64_t now = now_ms();
    int alive = 0;
    if (d->cm && d->cm_state &&
        d->cm->struct_size >=
            offsetof(ember_cm_desc, poll_exited) + sizeof(d->cm->poll_exited) &&
        d->cm->poll_exited)
        d->cm->poll_exited(d->cm_state, on_exited, d);
    for (int i = 0; i < d->nexecs; i++) {
        if (!d->execs[i].alive)
            continue;
        if (now - d->execs[i].last_seen > d->timeout_ms) {
            char why[160];
            snprintf(why, sizeof why,
                     "Executor heartbeat timed out after %lld ms "
                     "(network.timeout is %lld ms)",
                     (long long)(now - d->execs[i].last_seen),
                     (long long)d->timeout_ms);
            exec_lose(d, i, why);
        } else {
            alive++;
        }
    }
    exec_check_cpus(d);
    if (d->cur && !d->cur->done && alive == 0 &&
        now - d->job_wait_since > d->max_wait_ms) {
        job_fail(d, d->cur,
                 "no executor %s within %lld ms (master %s); check the "
                 "executor errors above",
                 d->ever_registered ? "is alive" : "registered",
                 (long long)d->max_wait_ms, d->master);
    }
    if (alive)
        d->job_wait_since = now;
}
