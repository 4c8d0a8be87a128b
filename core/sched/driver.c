/*
 * driver.c -- the driver's event loop: executors, task launch, status
 * updates, executor loss, result fetching, the event log.
 *
 * How it works.  driver_new() listens on the control endpoint through the
 * transport plugin and asks the cluster-manager plugin for executors, which
 * register with a REGISTER message.  driver_run_job() (Lua main thread)
 * puts a job in the submission slot, wakes the loop and waits on a condition
 * variable.  The loop thread plans it (dag.c), then offers free slots to the
 * running stages' task sets (taskset.c) one locality level at a time, best
 * level first, as Spark's TaskSchedulerImpl does.  Status updates register
 * map outputs or collect result blocks; a result larger than
 * task.maxDirectResultSize stays in the executor's block store and is
 * fetched by the fetcher thread (after checking driver.maxResultSize, so the
 * driver never loads what it would refuse).  Failures are retried up to
 * task.maxFailures; a fetch failure unregisters the missing output and
 * resubmits the parent stage; an executor whose process ended (reported by
 * the cluster manager) or that is silent for network.timeout is lost: its
 * tasks are re-queued without counting, its map outputs forgotten, and a
 * replacement requested.
 *
 * Threads: fields below "loop thread only" in driver_int.h are touched only
 * by the loop thread.  The submission slot, `stopping` and the fetcher's
 * queues are guarded by `mu`; the loop is woken through the transport's
 * wake().  The fetcher thread owns its own client sockets.
 */
#include "driver_int.h"

#include "config.h"
#include "plugin/plugins.h"
#include "rpc/msg.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --------------------------------------------------------------- helpers */

static void send_buf(driver *d, const ember_peer *to, buf *b)
{
    ember_error err = {0, ""};
    const void *parts[1] = {b->data};
    size_t lens[1] = {b->len};
    if (b->oom)
        return;
    if (d->tp->send(d->sock, to, parts, lens, 1, &err) != 0)
        LOG_WARN("send to executor failed: %s", err.msg);
}

static void send_simple(driver *d, int ei, int type, uint64_t n)
{
    buf b;
    buf_init(&b);
    msg_simple_encode(&b, type, "", n);
    send_buf(d, &d->execs[ei].peer, &b);
    buf_free(&b);
}

static int exec_find(driver *d, const ember_peer *p)
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

void job_fail(driver *d, job *j, const char *fmt, ...)
{
    char msg[16384];
    va_list ap;
    (void)d;
    if (!j || j->done)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->rc = EMBER_ETASK;
    j->errmsg = strdup(msg);
    j->done = 1;
}

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

/* The live executors changed: tell every running task set. */
void driver_live_changed(driver *d)
{
    ts_exec *v = calloc((size_t)d->nexecs + 1, sizeof *v);
    int n = 0;
    if (!v)
        return;
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].alive) {
            v[n].id = d->execs[i].id;
            v[n].host = d->execs[i].host;
            v[n].rack = d->execs[i].rack;
            n++;
        }
    for (int i = 0; i < d->nstages + 1; i++) {
        stage *st =
            i < d->nstages ? d->stages[i] : (d->cur ? d->cur->result : NULL);
        if (st && st->ts)
            taskset_set_executors(st->ts, v, n);
    }
    free(v);
}

/* ------------------------------------------------------------ event log */

static void ev_executor(driver *d, const exec_rec *e, int added,
                        const char *reason)
{
    jw w;
    if (!d->elog)
        return;
    jw_begin(&w, added ? "SparkListenerExecutorAdded"
                       : "SparkListenerExecutorRemoved");
    jw_int(&w, "Timestamp", wall_ms());
    jw_str(&w, "Executor ID", e->id);
    if (added) {
        jw_obj(&w, "Executor Info");
        jw_str(&w, "Host", e->host);
        jw_int(&w, "Total Cores", e->cores);
        jw_int(&w, "Process ID", e->pid);
        jw_str(&w, "Block Endpoint", e->endpoint);
        jw_end(&w);
    } else {
        jw_str(&w, "Removed Reason", reason);
    }
    eventlog_write(d->elog, &w);
}

/* What a heartbeat said: executor memory and running tasks' progress. */
static void ev_metrics(driver *d, const exec_rec *e, const msg_heartbeat *hb)
{
    jw w;
    if (!d->elog)
        return;
    jw_begin(&w, "SparkListenerExecutorMetricsUpdate");
    jw_str(&w, "Executor ID", e->id);
    jw_obj(&w, "Executor Metrics");
    jw_int(&w, "ProcessTreeRSS", hb->rss);
    jw_int(&w, "PeakRSS", hb->peak_rss);
    jw_end(&w);
    jw_arr(&w, "Metrics Updated");
    for (int i = 0; i < hb->ntasks; i++) {
        jw_obj(&w, NULL);
        jw_int(&w, "Task ID", (int64_t)hb->tasks[i].task_id);
        jw_int(&w, "Executor Run Time", hb->tasks[i].run_ms);
        jw_int(&w, "Records Read", hb->tasks[i].records_in);
        jw_int(&w, "Memory", hb->tasks[i].memory);
        if (hb->tasks[i].nacc > 0) {
            jw_arr(&w, "Accumulator Updates");
            for (int k = 0; k < hb->tasks[i].nacc; k++) {
                jw_obj(&w, NULL);
                jw_int(&w, "ID", hb->tasks[i].acc_id[k]);
                jw_double(&w, "Value", hb->tasks[i].acc_value[k]);
                jw_end(&w);
            }
            jw_end(&w);
        }
        jw_end(&w);
    }
    jw_end(&w);
    eventlog_write(d->elog, &w);
}

static void task_info(jw *w, driver *d, const running *r, int failed,
                      int killed)
{
    const exec_rec *e = &d->execs[r->exec];
    jw_obj(w, "Task Info");
    jw_int(w, "Task ID", (int64_t)r->tid);
    jw_int(w, "Index", r->task);
    jw_int(w, "Attempt", r->attempt);
    jw_int(w, "Partition ID", r->st ? r->st->part_of[r->task] : -1);
    jw_int(w, "Launch Time", r->launch_ms);
    jw_str(w, "Executor ID", e->id);
    jw_str(w, "Host", e->host);
    jw_str(w, "Locality", locality_name(r->level));
    jw_bool(w, "Speculative", r->speculative);
    if (failed >= 0) {
        jw_int(w, "Finish Time", wall_ms());
        jw_bool(w, "Failed", failed);
        jw_bool(w, "Killed", killed);
    }
    jw_end(w);
}

static void ev_task_start(driver *d, const running *r)
{
    jw w;
    if (!d->elog)
        return;
    jw_begin(&w, "SparkListenerTaskStart");
    jw_int(&w, "Stage ID", r->st->id);
    jw_int(&w, "Stage Attempt ID", r->stage_attempt);
    task_info(&w, d, r, -1, 0);
    eventlog_write(d->elog, &w);
}

static void ev_task_end(driver *d, const running *r, const msg_status *m,
                        const char *reason, const char *desc)
{
    jw w;
    if (!d->elog || !r->st)
        return;
    jw_begin(&w, "SparkListenerTaskEnd");
    jw_int(&w, "Stage ID", r->st->id);
    jw_int(&w, "Stage Attempt ID", r->stage_attempt);
    jw_str(&w, "Task Type", r->st->is_map ? "ShuffleMapTask" : "ResultTask");
    jw_obj(&w, "Task End Reason");
    jw_str(&w, "Reason", reason);
    if (desc)
        jw_str(&w, "Description", desc);
    if (m && m->traceback && *m->traceback)
        jw_str(&w, "Full Stack Trace", m->traceback);
    jw_end(&w);
    task_info(&w, d, r, strcmp(reason, "Success") != 0,
              strcmp(reason, "TaskKilled") == 0);
    if (m) {
        jw_obj(&w, "Task Metrics");
        jw_int(&w, "Executor Run Time", m->run_us / 1000);
        jw_int(&w, "Result Size",
               (int64_t)(m->indirect_size ? m->indirect_size : m->result_len));
        jw_str(&w, "Result Path", m->indirect_size ? "indirect" : "direct");
        jw_int(&w, "Peak Execution Memory", m->peak_memory);
        jw_obj(&w, "Input Metrics");
        jw_int(&w, "Records Read", m->records_in);
        jw_end(&w);
        jw_obj(&w, "Shuffle Read Metrics");
        jw_int(&w, "Remote Bytes Read", m->shuffle_read_bytes);
        jw_int(&w, "Data Transport Bytes Read", m->data_transport_bytes);
        jw_end(&w);
        jw_obj(&w, "Shuffle Write Metrics");
        jw_int(&w, "Shuffle Bytes Written", m->shuffle_write_bytes);
        jw_end(&w);
        jw_int(&w, "Memory Bytes Spilled", m->spill_bytes);
        jw_end(&w);
    }
    eventlog_write(d->elog, &w);
}

/* ------------------------------------------------------------ scheduling */

static int exec_has_stage(exec_rec *e, int stage_id)
{
    for (int i = 0; i < e->nsent; i++)
        if (e->stages_sent[i] == stage_id)
            return 1;
    return 0;
}

static int launch(driver *d, stage *st, int ti, int ei, int level,
                  int speculative)
{
    exec_rec *e = &d->execs[ei];
    msg_launch m;
    buf b;
    int rc = 0;
    running *nr;

    memset(&m, 0, sizeof m);
    m.task_id = d->next_tid++;
    m.job_id = st->job ? st->job->id : -1;
    m.stage_id = st->id;
    m.stage_attempt = st->attempt;
    m.partition = st->part_of[ti];
    m.attempt = taskset_attempts(st->ts, ti) - 1;
    m.kind = st->is_map ? TASK_SHUFFLE_MAP : TASK_RESULT;
    m.out_partitions = st->out_parts;
    if (!exec_has_stage(e, st->id)) {
        if (st->bin_len > d->bin_bcast_threshold) {
            /* a large stage (parallelize of much data, big closures):
               executors fetch it like a broadcast, off the control path */
            if (!st->bin_bcast) {
                ember_error err = {0, ""};
                if (bcast_put(d->bcast, st->bin, st->bin_len, &st->bin_bcast,
                              &err))
                    LOG_WARN("stage %d binary not broadcast: %s", st->id,
                             err.msg);
            }
            m.stage_bcast = (uint64_t)st->bin_bcast;
        }
        if (!m.stage_bcast) {
            m.stage_bin = st->bin;
            m.stage_len = st->bin_len;
        }
    }
    m.ninputs = st->ninputs;
    m.inputs = calloc((size_t)st->ninputs + 1, sizeof *m.inputs);
    if (!m.inputs)
        return EMBER_ENOMEM;
    for (int i = 0; i < st->ninputs && !rc; i++) {
        shuffle_rec *sr = shuffle_get(d, st->inputs[i]);
        m.inputs[i].shuffle_id = st->inputs[i];
        m.inputs[i].nmaps = sr->nmaps;
        m.inputs[i].maps = calloc((size_t)sr->nmaps + 1, sizeof(msg_maploc));
        if (!m.inputs[i].maps) {
            rc = EMBER_ENOMEM;
            break;
        }
        for (int k = 0; k < sr->nmaps; k++) {
            exec_rec *oe = &d->execs[sr->outs[k].exec];
            m.inputs[i].maps[k].map_task_id = sr->outs[k].map_task_id;
            m.inputs[i].maps[k].exec_id = oe->id;
            m.inputs[i].maps[k].endpoint = oe->endpoint;
        }
    }
    if (!rc) {
        buf_init(&b);
        rc = msg_launch_encode(&b, &m);
        if (!rc)
            send_buf(d, &e->peer, &b);
        buf_free(&b);
    }
    for (int i = 0; i < st->ninputs; i++)
        free(m.inputs[i].maps);
    free(m.inputs);
    if (rc)
        return rc;
    if (!exec_has_stage(e, st->id)) {
        int *ns = realloc(e->stages_sent, (size_t)(e->nsent + 1) * sizeof *ns);
        if (ns) {
            e->stages_sent = ns;
            ns[e->nsent++] = st->id;
        }
    }
    nr = realloc(d->run, (size_t)(d->nrun + 1) * sizeof *nr);
    if (!nr)
        return EMBER_ENOMEM;
    d->run = nr;
    nr = &d->run[d->nrun++];
    memset(nr, 0, sizeof *nr);
    nr->tid = m.task_id;
    nr->st = st;
    nr->task = ti;
    nr->attempt = m.attempt;
    nr->stage_attempt = st->attempt;
    nr->exec = ei;
    nr->level = level;
    nr->speculative = speculative;
    nr->start_us = now_us();
    nr->launch_ms = wall_ms();
    e->free_cores--;
    if (st->job)
        st->job->ntasks++;
    LOG_DEBUG("launch task %d.%d in stage %d.%d (TID %llu) on executor %s, "
              "%s%s",
              m.partition, m.attempt, st->id, st->attempt,
              (unsigned long long)m.task_id, e->id, locality_name(level),
              speculative ? ", speculative" : "");
    ev_task_start(d, nr);
    return 0;
}

/* Registered resources are enough to start scheduling
 * (scheduler.minRegisteredResourcesRatio / ...MaxRegisteredResources...). */
static int resources_ready(driver *d)
{
    int cores = 0;
    if (d->min_registered_ratio <= 0)
        return 1;
    if (now_ms() - d->started_ms >= d->max_wait_ms)
        return 1;
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].alive)
            cores += d->execs[i].cores;
    return (double)cores >= d->min_registered_ratio * d->expected_cores;
}

/* May executor ei take one more task?  Beyond its free cores, up to
 * scheduler.launchAhead tasks per core wait in its queue, so a task thread
 * starts the next task without a round trip to the driver; but only while
 * everything it runs is short (started less than LAUNCH_AHEAD_US ago), so
 * a task never waits behind a long one while another executor idles. */
#define LAUNCH_AHEAD_US 20000
static int alive_execs(const driver *d)
{
    int n = 0;
    for (int i = 0; i < d->nexecs; i++)
        n += d->execs[i].alive != 0;
    return n;
}

static int can_take(driver *d, int ei, int64_t now)
{
    const exec_rec *e = &d->execs[ei];
    if (!e->alive)
        return 0;
    if (e->free_cores > 0)
        return 1;
    if (d->launch_ahead <= 0 || e->free_cores <= -d->launch_ahead * e->cores)
        return 0;
    /* while executors are still registering, queuing on the first ones
     * would leave the later ones without work */
    if (alive_execs(d) < d->expected_execs)
        return 0;
    for (int i = 0; i < d->nrun; i++)
        if (d->run[i].exec == ei && now - d->run[i].start_us > LAUNCH_AHEAD_US)
            return 0;
    return 1;
}

static void run_remove(driver *d, int i);

/* Tasks launched ahead wait in an executor's queue.  When the tasks in
 * front of them turn out long while another executor has a free core, take
 * the newest queued task back (a kill drops it from the executor's queue)
 * and schedule it again; not counted as a failure. */
static void recall_queued(driver *d)
{
    int64_t now = now_us();
    int idle = 0;
    if (d->launch_ahead <= 0 || !d->cur)
        return;
    for (int ei = 0; ei < d->nexecs; ei++)
        if (d->execs[ei].alive && d->execs[ei].free_cores > 0)
            idle += d->execs[ei].free_cores;
    for (int ei = 0; ei < d->nexecs && idle > 0; ei++) {
        exec_rec *e = &d->execs[ei];
        while (idle > 0 && e->alive && e->free_cores < 0) {
            int newest = -1;
            int64_t oldest = now;
            running r;
            for (int i = 0; i < d->nrun; i++) {
                if (d->run[i].exec != ei)
                    continue;
                if (d->run[i].start_us < oldest)
                    oldest = d->run[i].start_us;
                if (newest < 0 || d->run[i].start_us >= d->run[newest].start_us)
                    newest = i;
            }
            if (newest < 0 || now - oldest <= LAUNCH_AHEAD_US)
                break;
            r = d->run[newest];
            LOG_DEBUG("taking TID %llu back from executor %s: queued behind "
                      "a long task",
                      (unsigned long long)r.tid, e->id);
            send_simple(d, ei, MSG_KILL, r.tid);
            run_remove(d, newest);
            e->free_cores++;
            idle--;
            if (r.st && r.st->ts) {
                ev_task_end(d, &r, NULL, "TaskKilled",
                            "queued behind a long task: rescheduled");
                taskset_attempt_lost(r.st->ts, r.task);
            }
        }
    }
}

static void schedule(driver *d)
{
    int64_t now = now_ms();
    if (!d->cur || d->cur->done || !resources_ready(d))
        return;
    for (int si = 0; si <= d->nstages; si++) {
        stage *st = si < d->nstages ? d->stages[si] : d->cur->result;
        int levels[LOC_NLEVELS], nl;
        if (!st || st->state != ST_RUNNING || !st->ts)
            continue;
        if (stage_missing_parents(d, st)) {
            /* an input went missing (executor lost): recompute it first */
            st->state = ST_IDLE;
            submit_stage(d, st, d->cur);
            continue;
        }
        nl = taskset_levels(st->ts, levels);
        for (int li = 0; li < nl; li++) {
            int launched = 1;
            while (launched) {
                launched = 0;
                for (int ei = 0; ei < d->nexecs; ei++) {
                    exec_rec *e = &d->execs[ei];
                    ts_exec te = {e->id, e->host, e->rack};
                    int level, spec, ti;
                    if (!can_take(d, ei, now_us()))
                        continue;
                    ti = taskset_offer(st->ts, &te, levels[li], now, &level,
                                       &spec);
                    if (ti < 0)
                        continue;
                    if (launch(d, st, ti, ei, level, spec) == 0)
                        launched = 1;
                    else
                        taskset_attempt_lost(st->ts, ti);
                }
            }
        }
    }
}

/* Speculation: mark stragglers; the next offers launch copies. */
static void check_speculation(driver *d)
{
    int64_t now = now_ms();
    if (!d->tscfg.speculation || !d->cur || now - d->last_spec_check < 100)
        return;
    d->last_spec_check = now;
    for (int si = 0; si <= d->nstages; si++) {
        stage *st = si < d->nstages ? d->stages[si] : d->cur->result;
        if (st && st->state == ST_RUNNING && st->ts &&
            taskset_check_speculation(st->ts, now) > 0)
            LOG_INFO("stage %d.%d: speculating stragglers", st->id,
                     st->attempt);
    }
}

/* --------------------------------------------------------- status update */

static void run_remove(driver *d, int i)
{
    d->run[i] = d->run[--d->nrun];
}

static void fmt_failure(driver *d, char *out, size_t n, const running *r,
                        const msg_status *m)
{
    const stage *st = r->st;
    const exec_rec *e = &d->execs[r->exec];
    snprintf(out, n,
             "task %d.%d in stage %d.%d (TID %llu) failed on executor %s "
             "(host %s, pid %lld): %s%s%s",
             st->part_of[r->task], r->attempt, st->id, r->stage_attempt,
             (unsigned long long)r->tid, e->id, e->host, (long long)e->pid,
             m && m->message ? m->message : "(no message)",
             m && m->traceback && *m->traceback ? "\n" : "",
             m && m->traceback ? m->traceback : "");
}

/* Keep accumulator updates of the first successful attempt per task. */
static void take_accum(driver *d, stage *st, int ti, const msg_status *m)
{
    job_result *res;
    uint8_t **na;
    size_t *nl;
    (void)d;
    if (!m->accum || !m->accum_len || !st->job || st->acc_applied[ti])
        return;
    st->acc_applied[ti] = 1;
    res = st->job->res;
    na = realloc(res->accum, (size_t)(res->naccum + 1) * sizeof *na);
    if (!na)
        return;
    res->accum = na;
    nl = realloc(res->accum_lens, (size_t)(res->naccum + 1) * sizeof *nl);
    if (!nl)
        return;
    res->accum_lens = nl;
    if (!(na[res->naccum] = malloc(m->accum_len)))
        return;
    memcpy(na[res->naccum], m->accum, m->accum_len);
    nl[res->naccum++] = m->accum_len;
}

/* Kill the other running copies of a task that just succeeded. */
static void kill_copies(driver *d, stage *st, int ti, uint64_t winner)
{
    for (int i = 0; i < d->nrun; i++)
        if (d->run[i].st == st && d->run[i].task == ti &&
            d->run[i].tid != winner && d->execs[d->run[i].exec].alive) {
            LOG_INFO("killing TID %llu: TID %llu finished first",
                     (unsigned long long)d->run[i].tid,
                     (unsigned long long)winner);
            send_simple(d, d->run[i].exec, MSG_KILL, d->run[i].tid);
        }
}

static void task_succeeded(driver *d, stage *st, int ti, const running *r,
                           const msg_status *m, uint8_t *block, size_t len)
{
    if (!taskset_succeeded(st->ts, ti, now_ms(),
                           r ? (now_us() - r->start_us) / 1000 : 0)) {
        free(block);
        return; /* another attempt won */
    }
    if (m)
        take_accum(d, st, ti, m);
    if (st->is_map) {
        shuffle_rec *sr = shuffle_get(d, st->shuffle_id);
        map_output *o = &sr->outs[st->part_of[ti]];
        free(o->sizes);
        o->sizes = calloc((size_t)sr->nreduce + 1, sizeof *o->sizes);
        if (o->sizes)
            memcpy(o->sizes, m->sizes, (size_t)sr->nreduce * sizeof *o->sizes);
        o->valid = 1;
        o->exec = r->exec;
        o->map_task_id = r->tid;
    } else {
        st->job->res->blocks[ti] = block;
        st->job->res->lens[ti] = len;
    }
    if (r)
        kill_copies(d, st, ti, r->tid);
    if (taskset_remaining(st->ts) == 0)
        stage_completed(d, st);
}

static void fetcher_submit(driver *d, fetch_req *f)
{
    pthread_mutex_lock(&d->mu);
    f->next = d->fetch_in;
    d->fetch_in = f;
    pthread_cond_signal(&d->fetch_cv);
    pthread_mutex_unlock(&d->mu);
}

/* A result task finished: check the result-size budget before touching
 * the bytes, then keep a direct result or fetch an indirect one. */
static void result_finished(driver *d, stage *st, int ti, running *r,
                            const msg_status *m)
{
    job *j = st->job;
    /* account decoded bytes: what collecting them will cost the driver */
    uint64_t size = m->result_raw_size ? m->result_raw_size
                    : m->indirect_size ? m->indirect_size
                                       : m->result_len;
    if (taskset_is_done(st->ts, ti)) {
        taskset_succeeded(st->ts, ti, now_ms(), 0); /* a losing copy */
        return;
    }
    j->result_bytes += size;
    if (d->max_result_size > 0 && j->result_bytes > d->max_result_size) {
        job_fail(d, j,
                 "Job %d (%s) aborted: total size of serialized results of "
                 "%d tasks (%llu bytes) is bigger than driver.maxResultSize "
                 "(%llu bytes). Write the data to storage (for example with "
                 "save_as_text_file) instead of collecting it to the driver, "
                 "or raise driver.maxResultSize",
                 j->id, j->spec->description ? j->spec->description : "action",
                 st->ntasks - taskset_remaining(st->ts) + 1,
                 (unsigned long long)j->result_bytes,
                 (unsigned long long)d->max_result_size);
        return;
    }
    if (m->indirect_size) {
        fetch_req *f = calloc(1, sizeof *f);
        exec_rec *e = &d->execs[r->exec];
        /* the driver fetches over the control transport: the tcp part */
        if (!f ||
            !(f->endpoint = strndup(e->endpoint, strcspn(e->endpoint, ";"))) ||
            !(f->exec_id = strdup(e->id))) {
            if (f)
                free(f->endpoint);
            free(f);
            job_fail(d, j, "out of memory");
            return;
        }
        f->tid = r->tid;
        f->size = m->indirect_size;
        f->raw_size = size;
        take_accum(d, st, ti, m);
        j->pending_fetches++;
        /* keep a running entry for the fetch, so the result finds its task */
        {
            running *nr = realloc(d->run, (size_t)(d->nrun + 1) * sizeof *nr);
            if (nr) {
                d->run = nr;
                d->run[d->nrun] = *r;
                d->run[d->nrun].exec = -1 - r->exec; /* marks "fetching" */
                d->nrun++;
            }
        }
        LOG_INFO("TID %llu: fetching its %llu-byte result from executor %s",
                 (unsigned long long)r->tid,
                 (unsigned long long)m->indirect_size, e->id);
        fetcher_submit(d, f);
        return;
    }
    {
        uint8_t *copy = malloc(m->result_len ? m->result_len : 1);
        if (!copy) {
            job_fail(d, j, "out of memory storing a task result");
            return;
        }
        memcpy(copy, m->result, m->result_len);
        task_succeeded(d, st, ti, r, m, copy, m->result_len);
    }
}

/* Apply an executor's cached-block changes to the master's table. */
static void apply_blocks(driver *d, int ei, const msg_status *m)
{
    rd r;
    uint64_t n;
    if (!m->blocks || !m->blocks_len)
        return;
    rd_init(&r, m->blocks, m->blocks_len);
    n = rd_varint(&r);
    pthread_mutex_lock(&d->mu);
    for (uint64_t k = 0; k < n && rd_ok(&r); k++) {
        int node = (int)rd_svarint(&r), part = (int)rd_svarint(&r);
        int level = (int)rd_svarint(&r);
        uint64_t mem = rd_varint(&r), disk = rd_varint(&r);
        int found = -1;
        if (!rd_ok(&r))
            break;
        for (int i = 0; i < d->ncblocks; i++)
            if (d->cblocks[i].node == node && d->cblocks[i].part == part &&
                d->cblocks[i].exec == ei)
                found = i;
        if (level == 0) {
            if (found >= 0)
                d->cblocks[found] = d->cblocks[--d->ncblocks];
            continue;
        }
        if (found < 0) {
            cached_block *nb =
                realloc(d->cblocks, (size_t)(d->ncblocks + 1) * sizeof *nb);
            if (!nb)
                break;
            d->cblocks = nb;
            found = d->ncblocks++;
        }
        d->cblocks[found] = (cached_block){node, part, ei, level, mem, disk};
    }
    pthread_mutex_unlock(&d->mu);
    if (!rd_ok(&r))
        LOG_WARN("bad block report from executor %s", d->execs[ei].id);
}

/* A success reported by an older attempt of a stage: keep the map output
 * or the result block (Spark does), so the new attempt need not run that
 * partition again. */
static void keep_old_success(driver *d, stage *st, running *r,
                             const msg_status *m)
{
    if (st->ts) {
        /* the new attempt is running: its task set settles duplicates */
        if (st->is_map && m->nsizes == shuffle_get(d, st->shuffle_id)->nreduce)
            task_succeeded(d, st, r->task, r, m, NULL, 0);
        else if (!st->is_map)
            result_finished(d, st, r->task, r, m);
        return;
    }
    if (st->is_map) {
        shuffle_rec *sr = shuffle_get(d, st->shuffle_id);
        map_output *o = &sr->outs[st->part_of[r->task]];
        if (o->valid || m->nsizes != sr->nreduce)
            return;
        o->sizes = calloc((size_t)sr->nreduce + 1, sizeof *o->sizes);
        if (!o->sizes)
            return;
        memcpy(o->sizes, m->sizes, (size_t)sr->nreduce * sizeof *o->sizes);
        o->valid = 1;
        o->exec = r->exec;
        o->map_task_id = r->tid;
        take_accum(d, st, r->task, m);
    } else if (!st->job->res->blocks[r->task] && !m->indirect_size &&
               m->result) {
        uint8_t *copy = malloc(m->result_len ? m->result_len : 1);
        if (!copy)
            return;
        memcpy(copy, m->result, m->result_len);
        st->job->result_bytes +=
            m->result_raw_size ? m->result_raw_size : m->result_len;
        st->job->res->blocks[r->task] = copy;
        st->job->res->lens[r->task] = m->result_len;
        take_accum(d, st, r->task, m);
    }
}

static void on_status(driver *d, int ei, const msg_status *m)
{
    int ri = -1;
    running r;
    stage *st;
    char desc[12288] = "";
    for (int i = 0; i < d->nrun; i++)
        if (d->run[i].tid == m->task_id && d->run[i].exec >= 0) {
            ri = i;
            break;
        }
    if (ri < 0 && m->state == TASK_KILLED) {
        /* a task taken back from a queue (recall_queued) or a
         * speculation loser, already forgotten */
        return;
    }
    if (ri < 0) {
        LOG_WARN("status for unknown task %llu from executor %s",
                 (unsigned long long)m->task_id, d->execs[ei].id);
        return;
    }
    r = d->run[ri];
    run_remove(d, ri);
    if (r.exec >= 0 && r.exec < d->nexecs && d->execs[r.exec].alive)
        d->execs[r.exec].free_cores++;
    apply_blocks(d, ei, m);
    st = r.st;
    if (!st || !st->job || st->job->done)
        return; /* its job ended */
    if (r.stage_attempt != st->attempt || !st->ts) {
        /* a task of an older attempt of this stage: its failures are
           ignored (Spark), its successes kept */
        if (m->state == TASK_FINISHED)
            keep_old_success(d, st, &r, m);
        return;
    }
    if (m->state == TASK_FINISHED) {
        ev_task_end(d, &r, m, "Success", NULL);
        if (st->is_map) {
            shuffle_rec *sr = shuffle_get(d, st->shuffle_id);
            if (m->nsizes != sr->nreduce) {
                job_fail(d, st->job,
                         "task %llu reported %d shuffle partitions, expected "
                         "%d",
                         (unsigned long long)m->task_id, m->nsizes,
                         sr->nreduce);
                return;
            }
            task_succeeded(d, st, r.task, &r, m, NULL, 0);
        } else {
            result_finished(d, st, r.task, &r, m);
        }
        return;
    }
    if (m->state == TASK_KILLED) {
        ev_task_end(d, &r, m, "TaskKilled", "another attempt finished first");
        taskset_failed(st->ts, r.task, 0);
        return;
    }
    fmt_failure(d, desc, sizeof desc, &r, m);
    if (m->fail_kind == FAIL_FETCH) {
        int oe = exec_index(d, m->fetch_exec);
        ev_task_end(d, &r, m, "FetchFailed", m->message);
        LOG_WARN("fetch failure in stage %d: map output %llu of shuffle %d "
                 "on executor %s is missing (%s)",
                 st->id, (unsigned long long)m->fetch_map_task,
                 m->fetch_shuffle, m->fetch_exec ? m->fetch_exec : "?",
                 m->message ? m->message : "");
        unregister_output(d, m->fetch_shuffle, m->fetch_map_task);
        if (oe >= 0)
            lose_outputs(d, oe);
        free(st->fail_reason);
        st->fail_reason = strdup(desc);
        ev_stage_completed(d, st);
        if (++st->consecutive_failures >= d->max_stage_attempts) {
            job_fail(d, st->job,
                     "Job %d (%s) aborted: stage %d has failed the maximum "
                     "allowable number of times: %lld. Most recent failure "
                     "reason: %s",
                     st->job->id,
                     st->job->spec->description ? st->job->spec->description
                                                : "action",
                     st->id, (long long)d->max_stage_attempts, desc);
            return;
        }
        /* a new attempt of this stage once its parents are whole again
           (stage_start numbers it) */
        free(st->fail_reason);
        st->fail_reason = NULL;
        st->state = ST_IDLE;
        taskset_destroy(&st->ts);
        submit_stage(d, st, st->job);
        return;
    }
    ev_task_end(d, &r, m, "ExceptionFailure", m->message);
    LOG_WARN("%s", desc);
    if (taskset_failed(st->ts, r.task, 1)) {
        job_fail(d, st->job,
                 "Job %d (%s) aborted due to stage failure: task %d in stage "
                 "%d.%d failed %d times, most recent failure: %s",
                 st->job->id,
                 st->job->spec->description ? st->job->spec->description
                                            : "action",
                 st->part_of[r.task], st->id, st->attempt,
                 taskset_failures(st->ts, r.task), desc);
    }
}

/* The fetcher delivered an indirect result (or failed to). */
static void on_fetched(driver *d, fetch_req *f)
{
    int ri = -1;
    running r;
    stage *st;
    for (int i = 0; i < d->nrun; i++)
        if (d->run[i].tid == f->tid && d->run[i].exec < 0) {
            ri = i;
            break;
        }
    if (ri < 0)
        goto done;
    r = d->run[ri];
    run_remove(d, ri);
    r.exec = -1 - r.exec;
    st = r.st;
    if (!st || !st->job || !st->ts)
        goto done;
    st->job->pending_fetches--;
    if (st->job->done)
        goto done;
    if (f->rc) {
        /* TaskResultLost: run the task again */
        LOG_WARN("lost the result of TID %llu: %s", (unsigned long long)f->tid,
                 f->error ? f->error : "fetch failed");
        st->job->result_bytes -= f->raw_size;
        if (taskset_failed(st->ts, r.task, 1))
            job_fail(d, st->job,
                     "Job %d aborted: the result of task %d "
                     "could not be fetched: %s",
                     st->job->id, st->part_of[r.task],
                     f->error ? f->error : "fetch failed");
        goto done;
    }
    task_succeeded(d, st, r.task, &r, NULL, f->data, f->len);
    f->data = NULL;
    if (taskset_remaining(st->ts) == 0 && st->job->pending_fetches == 0)
        st->job->done = 1;
done:
    free(f->data);
    free(f->error);
    free(f->endpoint);
    free(f->exec_id);
    free(f);
}

/* --------------------------------------------------------- result fetcher */

static void *fetcher_main(void *arg)
{
    driver *d = arg;
    struct {
        char *ep;
        ember_tsock *s;
    } socks[64];
    int nsocks = 0;
    for (;;) {
        fetch_req *f;
        ember_error err = {0, ""};
        ember_tsock *s = NULL;
        buf req;
        msg_fetch fm;
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
        if (!s && d->tp->connect(d->tctx, f->endpoint, &s, &err) == 0 &&
            nsocks < 64) {
            socks[nsocks].ep = strdup(f->endpoint);
            socks[nsocks].s = s;
            nsocks++;
        }
        rc = s ? 0 : EMBER_EIO;
        if (s) {
            fm.shuffle_id = MSG_FETCH_RESULT;
            fm.map_task_id = f->tid;
            fm.reduce_id = 0;
            buf_init(&req);
            msg_fetch_encode(&req, &fm);
            {
                const void *parts[1] = {req.data};
                size_t lens[1] = {req.len};
                rc = d->tp->send(s, NULL, parts, lens, 1, &err);
            }
            buf_free(&req);
        }
        if (!rc) {
            ember_tmsg msg;
            int64_t deadline = now_ms() + d->timeout_ms;
            do {
                rc = d->tp->recv(s, 500, NULL, &msg, &err);
            } while ((rc == EMBER_EAGAIN || rc == EMBER_EWOKEN) &&
                     now_ms() < deadline && !d->stopping);
            if (rc == 0) {
                msg_block blk;
                rc = msg_block_decode(msg.data, msg.len, &blk, &err);
                if (rc == 0 && blk.status)
                    rc = ember_seterr(&err, blk.status, "%s", blk.message);
                else if (rc == 0 && !(f->data = malloc(blk.len ? blk.len : 1)))
                    rc = ember_seterr(&err, EMBER_ENOMEM, "out of memory");
                else if (rc == 0) {
                    memcpy(f->data, blk.data, blk.len);
                    f->len = blk.len;
                }
                if (rc == 0 || blk.message)
                    msg_block_free(&blk);
                d->tp->msg_release(&msg);
            } else if (rc == EMBER_EAGAIN) {
                rc = ember_seterr(&err, EMBER_ETIMEOUT,
                                  "no answer from executor %s within %lld ms",
                                  f->exec_id, (long long)d->timeout_ms);
            }
        }
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

/* --------------------------------------------------------------- messages */

static void on_register(driver *d, const ember_peer *peer, const void *data,
                        size_t len)
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
    if (strcmp(m.plugins, d->plugins_sig) != 0)
        snprintf(why, sizeof why,
                 "executor %s has plugins [%s] but the driver has [%s]",
                 m.exec_id, m.plugins, d->plugins_sig);
    for (int i = 0; i < d->nexecs && !why[0]; i++)
        if (d->execs[i].alive && strcmp(d->execs[i].id, m.exec_id) == 0)
            snprintf(why, sizeof why, "duplicate executor id %s", m.exec_id);
    if (!why[0]) {
        exec_rec *ne;
        /* storage_info reads execs[] from the main thread under mu */
        pthread_mutex_lock(&d->mu);
        ne = realloc(d->execs, (size_t)(d->nexecs + 1) * sizeof *ne);
        if (ne) {
            d->execs = ne;
            memset(&d->execs[d->nexecs], 0, sizeof *ne);
            d->execs[d->nexecs].id = m.exec_id;
            d->nexecs++;
            m.exec_id = NULL;
        }
        pthread_mutex_unlock(&d->mu);
        if (!ne) {
            snprintf(why, sizeof why, "driver out of memory");
        } else {
            const char *rack;
            exec_rec *e = &d->execs[d->nexecs - 1];
            e->host = m.host;
            e->endpoint = m.data_endpoint;
            m.host = m.data_endpoint = NULL;
            rack = rack_of(d, e->host);
            e->rack = rack ? strdup(rack) : NULL;
            e->peer = *peer;
            e->pid = m.pid;
            e->cores = e->free_cores = m.cores;
            e->alive = 1;
            e->last_seen = now_ms();
            e->added_ms = wall_ms();
            d->ever_registered = 1;
            LOG_INFO("executor %s registered (host %s, pid %lld, %d cores, "
                     "blocks at %s)",
                     e->id, e->host, (long long)e->pid, e->cores, e->endpoint);
            ev_executor(d, e, 1, NULL);
            driver_live_changed(d);
        }
    }
    reply.ok = why[0] == '\0';
    reply.message = why;
    reply.heartbeat_ms = d->heartbeat_ms;
    reply.timeout_ms = d->timeout_ms;
    reply.block_endpoint = (char *)bcast_server_endpoint(d->bcast);
    if (msg_registered_encode(&b, &reply) == 0)
        send_buf(d, peer, &b);
    if (why[0])
        LOG_WARN("refused executor: %s", why);
    buf_free(&b);
    msg_register_free(&m);
}

static void on_message(driver *d, const ember_peer *peer, const void *data,
                       size_t len)
{
    ember_error err = {0, ""};
    int type = msg_peek_type(data, len, &err);
    int ei = exec_find(d, peer);
    if (type < 0) {
        LOG_WARN("dropping malformed message from a peer: %s", err.msg);
        return;
    }
    if (type == MSG_REGISTER) {
        on_register(d, peer, data, len);
        return;
    }
    if (ei < 0 || !d->execs[ei].alive) {
        buf b;
        LOG_WARN("%s message from an unknown or lost executor: telling it to "
                 "stop",
                 msg_type_name(type));
        buf_init(&b);
        msg_simple_encode(&b, MSG_STOP, "", 0);
        send_buf(d, peer, &b);
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
        on_status(d, ei, &m);
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
        send_simple(d, ei, MSG_HEARTBEAT_ACK, hb.seq);
        ev_metrics(d, &d->execs[ei], &hb);
        msg_heartbeat_free(&hb);
        break;
    }
    default:
        LOG_WARN("unexpected %s message from executor %s", msg_type_name(type),
                 d->execs[ei].id);
    }
}

/* An executor on this host that died without cleaning up (kill -9)
 * leaves its local directory: remove it. */
static void remove_exec_dir(driver *d, const exec_rec *e)
{
    const char *base = conf_get(d->conf, "local.dir");
    char dir[4096];
    if (strcmp(e->host, d->host) != 0 && strcmp(e->host, "127.0.0.1") != 0)
        return;
    snprintf(dir, sizeof dir, "%s/ember-%s-exec-%s",
             base && *base ? base : "/tmp", d->app_id, e->id);
    rm_rf(dir);
}

static void lose_executor(driver *d, int ei, const char *reason)
{
    exec_rec *e = &d->execs[ei];
    ember_error err = {0, ""};
    int crashed;
    if (!e->alive)
        return;
    LOG_WARN("lost executor %s (host %s, pid %lld): %s", e->id, e->host,
             (long long)e->pid, reason);
    e->alive = 0;
    ev_executor(d, e, 0, reason);
    /* an executor that crashed (a signal, an exit status) while running
     * tasks counts as a failure of each of them, as Spark's
     * ExecutorLostFailure with exitCausedByApp: a task that kills every
     * executor it lands on fails the job after task.maxFailures instead of
     * consuming executors forever */
    crashed =
        strstr(reason, "killed by signal") || strstr(reason, "exited with");
    for (int i = 0; i < d->nrun;) {
        if (d->run[i].exec == ei) {
            running r = d->run[i];
            stage *st = r.st;
            run_remove(d, i);
            if (!st || !st->ts)
                continue;
            ev_task_end(d, &r, NULL, "ExecutorLostFailure", reason);
            if (!crashed) {
                taskset_attempt_lost(st->ts, r.task); /* not counted */
            } else if (taskset_failed(st->ts, r.task, 1) && st->job &&
                       !st->job->done) {
                job_fail(d, st->job,
                         "Job %d (%s) aborted due to stage failure: task %d "
                         "in stage %d.%d failed %d times, most recent "
                         "failure: executor %s (host %s) lost while running "
                         "it: %s",
                         st->job->id,
                         st->job->spec->description ? st->job->spec->description
                                                    : "action",
                         st->part_of[r.task], st->id, st->attempt,
                         taskset_failures(st->ts, r.task), e->id, e->host,
                         reason);
            }
        } else {
            i++;
        }
    }
    lose_outputs(d, ei);
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->ncblocks;)
        if (d->cblocks[i].exec == ei)
            d->cblocks[i] = d->cblocks[--d->ncblocks]; /* lost with it */
        else
            i++;
    pthread_mutex_unlock(&d->mu);
    driver_live_changed(d);
    if (strstr(reason, "killed by signal") || strstr(reason, "exited with"))
        remove_exec_dir(d, e);
    if (d->cm && d->cm->request_executor && d->cm_state &&
        d->cm->request_executor(d->cm_state, &err) != 0)
        LOG_WARN("cannot request a replacement executor: %s", err.msg);
}

static void on_exited(void *ud, const char *exec_id, const char *how)
{
    driver *d = ud;
    int ei = exec_index(d, exec_id);
    if (ei >= 0)
        lose_executor(d, ei, how);
}

static void check_timeouts(driver *d)
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
            lose_executor(d, i, why);
        } else {
            alive++;
        }
    }
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

/* ------------------------------------------------------------------ loop */

/* Datasets the script unpersisted: tell every executor, forget them. */
static void drain_unpersist(driver *d)
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
                send_simple(d, i, q[k] > 0 ? MSG_REMOVE_RDD : MSG_REMOVE_BCAST,
                            (uint64_t)(q[k] > 0 ? q[k] : -q[k]));
    free(q);
}

static void drain_fetched(driver *d)
{
    fetch_req *f;
    pthread_mutex_lock(&d->mu);
    f = d->fetch_out;
    d->fetch_out = NULL;
    pthread_mutex_unlock(&d->mu);
    while (f) {
        fetch_req *next = f->next;
        on_fetched(d, f);
        f = next;
    }
}

static void *loop_main(void *arg)
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
        drain_fetched(d);
        drain_unpersist(d);
        check_speculation(d);
        recall_queued(d);
        schedule(d);
        if (d->cur && d->cur->done == 1 && d->cur->pending_fetches == 0)
            job_finish(d, d->cur);

        rc = d->tp->recv(d->sock, 100, &peer, &msg, &err);
        if (rc == 0) {
            on_message(d, &peer, msg.data, msg.len);
            d->tp->msg_release(&msg);
            while (d->tp->recv(d->sock, 0, &peer, &msg, &err) == 0) {
                on_message(d, &peer, msg.data, msg.len);
                d->tp->msg_release(&msg);
            }
        } else if (rc != EMBER_EAGAIN && rc != EMBER_EWOKEN) {
            LOG_WARN("receive failed: %s", err.msg);
        }
        if (now_ms() - last_check >= 100) {
            check_timeouts(d);
            last_check = now_ms();
        }
        drain_fetched(d);
        if (d->cur && d->cur->done == 1 && d->cur->pending_fetches == 0)
            job_finish(d, d->cur);
    }
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].alive)
            send_simple(d, i, MSG_STOP, 0);
    return NULL;
}

/* ----------------------------------------------------------------- API */

typedef struct argv_b {
    char **v;
    int n;
    int cap;
} argv_b;

static void argv_push(argv_b *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        int nc = a->cap ? a->cap * 2 : 32;
        char **nv = realloc(a->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = strdup(s);
    a->v[a->n] = NULL;
}

static void collect_conf(void *ud, const char *key, const char *value,
                         conf_source src, const char *origin)
{
    argv_b *a = ud;
    char kv[4096];
    (void)origin;
    if (src == CONF_SRC_DEFAULT)
        return;
    snprintf(kv, sizeof kv, "%s=%s", key, value);
    argv_push(a, "--conf");
    argv_push(a, kv);
}

static void plugins_signature(char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < plugins_count() && len < n; i++) {
        const plugin_info *pi = plugins_get(i);
        if (strcmp(pi->kind, "operators") != 0)
            continue;
        len += (size_t)snprintf(out + len, n - len, "%s%s %s", len ? ";" : "",
                                pi->name, pi->version);
    }
}

void driver_plugins_signature(char *out, size_t n);
void driver_plugins_signature(char *out, size_t n)
{
    plugins_signature(out, n);
}

driver *driver_new(const conf *c, const char *app_name, ember_error *err)
{
    driver *d = calloc(1, sizeof *d);
    const char *tname = conf_get(c, "transport");
    const char *master = conf_get(c, "master");
    const char *host = conf_get(c, "driver.bindAddress");
    const plugin_info *cmp = NULL;
    char ep[300];
    argv_b av = {0};
    ember_cm_request req;
    uint64_t mem;
    int64_t cores, max_failures = 4, wait = 3000;
    int rc, evlog = 0;

    if (!d) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    d->conf = c;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    snprintf(d->master, sizeof d->master, "%s",
             master && *master ? master : "local[*]");
    {
        /* a process may run several sessions, one after another or at
         * once: each gets its own id (and so its own local directories) */
        static _Atomic int seq;
        int n = atomic_fetch_add(&seq, 1);
        if (n == 0)
            snprintf(d->app_id, sizeof d->app_id, "app-%lld-%d",
                     (long long)(wall_ms() / 1000), (int)getpid());
        else
            snprintf(d->app_id, sizeof d->app_id, "app-%lld-%d-%d",
                     (long long)(wall_ms() / 1000), (int)getpid(), n);
    }
    snprintf(d->app_name, sizeof d->app_name, "%s",
             app_name && *app_name ? app_name : "ember");
    snprintf(d->host, sizeof d->host, "%s", host && *host ? host : "127.0.0.1");
    d->started_ms = now_ms();
    pthread_cond_init(&d->fetch_cv, NULL);
    ts_config_default(&d->tscfg);
    if (conf_get_duration_ms(c, "executor.heartbeatInterval", 1000, 10000,
                             &d->heartbeat_ms, err) ||
        conf_get_duration_ms(c, "network.timeout", 1000, 120000, &d->timeout_ms,
                             err) ||
        conf_get_int(c, "task.maxFailures", 4, &max_failures, err) ||
        conf_get_int(c, "stage.maxConsecutiveAttempts", 4,
                     &d->max_stage_attempts, err) ||
        conf_get_size(c, "driver.maxResultSize", 1, 1u << 30,
                      &d->max_result_size, err) ||
        conf_get_duration_ms(c, "scheduler.maxRegisteredResourcesWaitingTime",
                             1000, 30000, &d->max_wait_ms, err) ||
        conf_get_size(c, "executor.memory", 1u << 20, 1u << 30, &mem, err) ||
        conf_get_int(c, "executor.cores", 1, &cores, err) ||
        conf_get_double(c, "scheduler.minRegisteredResourcesRatio", 0.0,
                        &d->min_registered_ratio, err) ||
        conf_get_bool(c, "speculation", 0, &d->tscfg.speculation, err) ||
        conf_get_double(c, "speculation.multiplier", 3.0,
                        &d->tscfg.spec_multiplier, err) ||
        conf_get_double(c, "speculation.quantile", 0.9, &d->tscfg.spec_quantile,
                        err) ||
        conf_get_duration_ms(c, "speculation.minTaskRuntime", 1, 100,
                             &d->tscfg.spec_min_ms, err) ||
        conf_get_duration_ms(c, "locality.wait", 1, 3000, &wait, err) ||
        conf_get_duration_ms(c, "locality.wait.process", 1, wait,
                             &d->tscfg.wait_ms[LOC_PROCESS_LOCAL], err) ||
        conf_get_duration_ms(c, "locality.wait.node", 1, wait,
                             &d->tscfg.wait_ms[LOC_NODE_LOCAL], err) ||
        conf_get_duration_ms(c, "locality.wait.rack", 1, wait,
                             &d->tscfg.wait_ms[LOC_RACK_LOCAL], err) ||
        conf_get_bool(c, "eventLog.enabled", 0, &evlog, err) ||
        conf_get_size(c, "task.binaryBroadcastThreshold", 1, 1u << 20,
                      &d->bin_bcast_threshold, err) ||
        conf_get_int(c, "scheduler.launchAhead", 2, &d->launch_ahead, err))
        goto fail;
    d->tscfg.max_failures = max_failures < 1 ? 1 : (int)max_failures;
    {
        const char *topo = conf_get(c, "scheduler.topology");
        d->topology = topo && *topo ? strdup(topo) : NULL;
    }
    if (evlog) {
        const char *dir = conf_get(c, "eventLog.dir");
        d->elog = eventlog_open(dir && *dir ? dir : "/tmp/ember-events",
                                d->app_id, err);
        if (!d->elog)
            goto fail;
        {
            jw w;
            jw_begin(&w, "SparkListenerApplicationStart");
            jw_str(&w, "App Name", d->app_name);
            jw_str(&w, "App ID", d->app_id);
            jw_int(&w, "Timestamp", wall_ms());
            jw_str(&w, "User", getenv("USER") ? getenv("USER") : "");
            jw_str(&w, "Master", d->master);
            eventlog_write(d->elog, &w);
        }
    }
    plugins_signature(d->plugins_sig, sizeof d->plugins_sig);

    /* transport */
    if (!tname || !*tname)
        tname = "zmq";
    {
        char mod[128];
        snprintf(mod, sizeof mod, "transport_%s", tname);
        if ((rc = plugins_load(mod, err)) != 0)
            goto fail;
    }
    d->tp = plugins_find_transport(tname);
    if (!d->tp) {
        ember_seterr(err, EMBER_ENOTFOUND, "no transport named '%s'", tname);
        goto fail;
    }
    if (d->tp->open(host_table(), &d->tctx, err))
        goto fail;
    snprintf(ep, sizeof ep, "tcp://%s:*", host && *host ? host : "127.0.0.1");
    if (d->tp->listen(d->tctx, ep, &d->sock, d->endpoint, sizeof d->endpoint,
                      err))
        goto fail;
    if (!(d->bcast = bcast_server_new(d->tp, d->tctx, d->host, err)))
        goto fail;

    /* cluster manager */
    {
        const char *cmname = conf_get(c, "clustermgr");
        if (cmname && *cmname) {
            char mod[128];
            snprintf(mod, sizeof mod, "clustermgr_%s", cmname);
            if (plugins_load(mod, err))
                goto fail;
        } else if (plugins_load("clustermgr_local", NULL) != 0) {
            plugins_load_all(NULL, NULL);
        }
        d->cm = plugins_find_cm(d->master, &cmp);
        if (!d->cm) {
            plugins_load_all(NULL, NULL);
            d->cm = plugins_find_cm(d->master, &cmp);
        }
        if (!d->cm) {
            ember_seterr(err, EMBER_ENOTFOUND,
                         "no cluster manager accepts master URL '%s' (valid "
                         "with the local manager: local, local[N], local[*], "
                         "local-cluster[E,C,M])",
                         d->master);
            goto fail;
        }
    }
    argv_push(&av, self_exe());
    argv_push(&av, "executor");
    argv_push(&av, "--driver");
    argv_push(&av, d->endpoint);
    argv_push(&av, "--app-id");
    argv_push(&av, d->app_id);
    conf_foreach(c, collect_conf, &av);
    if (!av.v) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        goto fail;
    }
    memset(&req, 0, sizeof req);
    req.struct_size = sizeof req;
    req.master_url = d->master;
    req.app_id = d->app_id;
    req.exec_argv = (const char *const *)av.v;
    req.default_cores = (int)cores;
    req.default_memory_mb = (int64_t)(mem >> 20);
    rc =
        d->cm->start(host_table(), &req, &d->cm_state, &d->expected_execs, err);
    for (int i = 0; i < av.n; i++)
        free(av.v[i]);
    free(av.v);
    if (rc) {
        ember_error_prefix(err, "cluster manager %s: ", d->cm->name);
        goto fail;
    }
    d->expected_cores = driver_total_cores(d);
    if (pthread_create(&d->fetcher, NULL, fetcher_main, d) != 0) {
        ember_seterr(err, EMBER_EIO, "cannot start the result fetcher");
        goto fail;
    }
    d->fetcher_started = 1;
    if (pthread_create(&d->thread, NULL, loop_main, d) != 0) {
        ember_seterr(err, EMBER_EIO, "cannot start the driver thread");
        goto fail;
    }
    d->thread_started = 1;
    LOG_INFO("driver %s listening on %s, master %s (%s)", d->app_id,
             d->endpoint, d->master, d->cm->name);
    return d;
fail:
    driver_destroy(&d);
    return NULL;
}

int driver_run_job(driver *d, const job_spec *spec, job_result *res,
                   ember_error *err)
{
    job j;
    memset(&j, 0, sizeof j);
    memset(res, 0, sizeof *res);
    j.spec = spec;
    j.res = res;
    pthread_mutex_lock(&d->mu);
    d->submitted = &j;
    pthread_mutex_unlock(&d->mu);
    d->tp->wake(d->sock);
    pthread_mutex_lock(&d->mu);
    while (j.done != 2)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    if (j.rc) {
        ember_seterr(err, j.rc, "%s", j.errmsg ? j.errmsg : "job failed");
        free(j.errmsg);
        /* keep the accumulator updates of the tasks that succeeded */
        for (int i = 0; i < res->nparts && res->blocks; i++)
            free(res->blocks[i]);
        free(res->blocks);
        free(res->lens);
        res->blocks = NULL;
        res->lens = NULL;
        res->nparts = 0;
        return j.rc;
    }
    free(j.errmsg);
    return 0;
}

void job_result_free(job_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nparts && r->blocks; i++)
        free(r->blocks[i]);
    free(r->blocks);
    free(r->lens);
    for (int i = 0; i < r->naccum; i++)
        free(r->accum[i]);
    free(r->accum);
    free(r->accum_lens);
    memset(r, 0, sizeof *r);
}

void driver_destroy(driver **dp)
{
    driver *d = dp ? *dp : NULL;
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    pthread_cond_broadcast(&d->fetch_cv);
    pthread_mutex_unlock(&d->mu);
    if (d->thread_started) {
        d->tp->wake(d->sock);
        pthread_join(d->thread, NULL);
    }
    if (d->fetcher_started)
        pthread_join(d->fetcher, NULL);
    if (d->cm && d->cm_state)
        d->cm->stop(d->cm_state);
    for (int i = 0; i < d->nexecs; i++)
        remove_exec_dir(d, &d->execs[i]); /* whatever a killed one left */
    bcast_server_destroy(&d->bcast);
    if (d->sock)
        d->tp->sock_close(d->sock);
    if (d->tctx)
        d->tp->close(d->tctx);
    if (d->elog) {
        jw w;
        jw_begin(&w, "SparkListenerApplicationEnd");
        jw_int(&w, "Timestamp", wall_ms());
        eventlog_write(d->elog, &w);
        eventlog_close(&d->elog);
    }
    while (d->fetch_in || d->fetch_out) {
        fetch_req *f = d->fetch_in ? d->fetch_in : d->fetch_out;
        if (f == d->fetch_in)
            d->fetch_in = f->next;
        else
            d->fetch_out = f->next;
        free(f->data);
        free(f->error);
        free(f->endpoint);
        free(f->exec_id);
        free(f);
    }
    for (int i = 0; i < d->nexecs; i++) {
        free(d->execs[i].id);
        free(d->execs[i].host);
        free(d->execs[i].rack);
        free(d->execs[i].endpoint);
        free(d->execs[i].stages_sent);
    }
    free(d->execs);
    for (int i = 0; i < d->nshuffles; i++) {
        for (int m = 0; m < d->shuffles[i].nmaps; m++)
            free(d->shuffles[i].outs[m].sizes);
        free(d->shuffles[i].outs);
    }
    free(d->shuffles);
    for (int i = 0; i < d->nstages; i++)
        stage_free(d->stages[i]);
    free(d->stages);
    free(d->run);
    free(d->topology);
    free(d->cblocks);
    free(d->unpersist_q);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    pthread_cond_destroy(&d->fetch_cv);
    free(d);
    *dp = NULL;
}

int driver_total_cores(driver *d)
{
    const char *m = d->master;
    int e, c, mem, n;
    if (sscanf(m, "local-cluster[%d,%d,%d]", &e, &c, &mem) == 3)
        return e * c;
    if (sscanf(m, "local[%d]", &n) == 1)
        return n;
    if (strcmp(m, "local") == 0)
        return 1;
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

const char *driver_app_id(const driver *d)
{
    return d->app_id;
}

const char *driver_master(const driver *d)
{
    return d->master;
}

void driver_storage_info(driver *d,
                         void (*fn)(void *ud, int node, int part,
                                    const char *exec, int level, uint64_t mem,
                                    uint64_t disk),
                         void *ud)
{
    /* execs[] only grows on the loop thread; ids never change once set */
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->ncblocks; i++) {
        const cached_block *b = &d->cblocks[i];
        fn(ud, b->node, b->part, d->execs[b->exec].id, b->level, b->mem,
           b->disk);
    }
    pthread_mutex_unlock(&d->mu);
}

void driver_unpersist(driver *d, int node)
{
    int *nq;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->ncblocks;)
        if (d->cblocks[i].node == node)
            d->cblocks[i] = d->cblocks[--d->ncblocks];
        else
            i++;
    nq = realloc(d->unpersist_q, (size_t)(d->nunpersist + 1) * sizeof *nq);
    if (nq) {
        d->unpersist_q = nq;
        nq[d->nunpersist++] = node;
    }
    pthread_mutex_unlock(&d->mu);
    d->tp->wake(d->sock);
}

int driver_broadcast_put(driver *d, const void *raw, size_t len, int64_t *id,
                         ember_error *err)
{
    return bcast_put(d->bcast, raw, len, id, err);
}

static void queue_removal(driver *d, int v)
{
    int *nq;
    pthread_mutex_lock(&d->mu);
    nq = realloc(d->unpersist_q, (size_t)(d->nunpersist + 1) * sizeof *nq);
    if (nq) {
        d->unpersist_q = nq;
        nq[d->nunpersist++] = v;
    }
    pthread_mutex_unlock(&d->mu);
    d->tp->wake(d->sock);
}

void driver_broadcast_unpersist(driver *d, int64_t id)
{
    queue_removal(d, -(int)id);
}

void driver_broadcast_destroy(driver *d, int64_t id)
{
    bcast_remove(d->bcast, id);
    queue_removal(d, -(int)id);
}

int64_t driver_broadcast_fetches(driver *d, int64_t id)
{
    return bcast_fetches(d->bcast, id);
}

const char *driver_eventlog_path(const driver *d)
{
    return eventlog_path(d->elog);
}
