/*
 * offers.c -- the task scheduler's side of the driver: free slots are
 * offered to the running stages' task sets, one locality level at a time,
 * best level first, as Spark's TaskSchedulerImpl does; what a task set
 * takes is launched on the executor.
 *
 * When offers are made (Spark's reviveOffers).  Whenever something
 * changed that may let a task run: a stage was submitted, a task ended, a
 * result was fetched, an executor registered or was lost, speculation
 * marked a straggler, a queued task was taken back (d->revive); and every
 * scheduler.revive.interval besides (Spark's periodic ReviveOffers, 1 s by
 * default), which is when delay scheduling moves to a less local level and
 * a wait for registrations ends.
 *
 * Slots.  A task occupies task.cpus cores of its executor.  Beyond its
 * free slots, an executor may hold up to scheduler.launchAhead queued
 * tasks per core, so a task thread starts the next task without a round
 * trip to the driver; but only while everything it runs is short, so a
 * task never waits behind a long one while another executor idles, and
 * only with task.cpus = 1 (an executor's task threads take queued tasks as
 * soon as they are free, which would run more than cores / task.cpus at
 * once).  A queued task whose executor turned out busy with long tasks is
 * taken back when another executor has a free slot.
 *
 * Speculation: every speculation.interval the running task sets look for
 * stragglers; the next offers launch copies.
 *
 * Threads: the loop thread.
 */
#include "driver_int.h"

#include "util/fsutil.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

#define LAUNCH_AHEAD_US 20000

void run_remove(driver *d, int i)
{
    d->run[i] = d->run[--d->nrun];
}

static int exec_has_stage(const exec_rec *e, int stage_id)
{
    for (int i = 0; i < e->nsent; i++)
        if (e->stages_sent[i] == stage_id)
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- launch */

/* The launch message's stage part: the binary the first time an executor
 * sees the stage (or, when large, the broadcast it is fetched from). */
static void launch_binary(driver *d, dag_stage *st, const exec_rec *e,
                          msg_launch *m)
{
    if (exec_has_stage(e, st->id))
        return;
    if (st->bin_len > d->bin_bcast_threshold) {
        /* a large stage (parallelize of much data, big closures):
           executors fetch it like a broadcast, off the control path */
        if (!st->bin_bcast) {
            ember_error err = {0, ""};
            if (bcast_put(d->bcast, st->bin, st->bin_len, &st->bin_bcast, &err))
                LOG_WARN("stage %d binary not broadcast: %s", st->id, err.msg);
        }
        m->stage_bcast = (uint64_t)st->bin_bcast;
    }
    if (!m->stage_bcast) {
        m->stage_bin = st->bin;
        m->stage_len = st->bin_len;
    }
}

/* Where the map outputs a task reads are. */
static int launch_inputs(driver *d, const dag_stage *st, msg_launch *m)
{
    m->ninputs = st->ninputs;
    m->inputs = calloc((size_t)st->ninputs + 1, sizeof *m->inputs);
    if (!m->inputs)
        return EMBER_ENOMEM;
    for (int i = 0; i < st->ninputs; i++) {
        const dag_shuffle *sr = dag_shuffle_get(d->dag, st->inputs[i]);
        m->inputs[i].shuffle_id = st->inputs[i];
        m->inputs[i].nmaps = sr->nmaps;
        m->inputs[i].maps = calloc((size_t)sr->nmaps + 1, sizeof(msg_maploc));
        if (!m->inputs[i].maps)
            return EMBER_ENOMEM;
        for (int k = 0; k < sr->nmaps; k++) {
            const exec_rec *oe = &d->execs[sr->outs[k].exec];
            m->inputs[i].maps[k].map_task_id = sr->outs[k].map_task_id;
            m->inputs[i].maps[k].exec_id = oe->id;
            m->inputs[i].maps[k].endpoint = oe->endpoint;
        }
    }
    return 0;
}

static int launch(driver *d, dag_stage *st, int ti, int ei, int level,
                  int speculative)
{
    exec_rec *e = &d->execs[ei];
    job *j = job_of(d, st);
    msg_launch m;
    ev_task et;
    buf b;
    int rc;
    running *nr;

    memset(&m, 0, sizeof m);
    m.task_id = d->next_tid++;
    m.job_id = j ? j->id : -1;
    m.stage_id = st->id;
    m.stage_attempt = st->attempt;
    m.partition = st->part_of[ti];
    m.attempt = taskset_attempts(st->ts, ti) - 1;
    m.kind = st->is_map ? TASK_SHUFFLE_MAP : TASK_RESULT;
    m.out_partitions = st->out_parts;
    launch_binary(d, st, e, &m);
    rc = launch_inputs(d, st, &m);
    if (!rc) {
        buf_init(&b);
        rc = msg_launch_encode(&b, &m);
        if (!rc)
            exec_send(d, &e->peer, &b);
        buf_free(&b);
    }
    for (int i = 0; m.inputs && i < st->ninputs; i++)
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
    e->free_cores -= (int)d->task_cpus;
    if (j)
        j->ntasks++;
    LOG_DEBUG("launch task %d.%d in stage %d.%d (TID %llu) on executor %s, "
              "%s%s",
              m.partition, m.attempt, st->id, st->attempt,
              (unsigned long long)m.task_id, e->id, locality_name(level),
              speculative ? ", speculative" : "");
    job_ev_task(d, nr, &et);
    eventlog_task_start(d->elog, &et);
    return 0;
}

/* ---------------------------------------------------------------- slots */

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

static int alive_execs(const driver *d)
{
    int n = 0;
    for (int i = 0; i < d->nexecs; i++)
        n += d->execs[i].alive != 0;
    return n;
}

/* May executor ei take one more task? */
static int can_take(driver *d, int ei, int64_t now)
{
    const exec_rec *e = &d->execs[ei];
    if (!e->alive)
        return 0;
    if (e->free_cores >= d->task_cpus)
        return 1;
    if (d->launch_ahead <= 0 || d->task_cpus != 1 ||
        e->free_cores <= -d->launch_ahead * e->cores)
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

/* Tasks launched ahead wait in an executor's queue.  When the tasks in
 * front of them turn out long while another executor has a free slot,
 * take the newest queued task back (a kill drops it from the executor's
 * queue) and schedule it again; not counted as a failure. */
void offers_recall_queued(driver *d)
{
    int64_t now = now_us();
    int idle = 0;
    if (d->launch_ahead <= 0 || !d->cur)
        return;
    for (int ei = 0; ei < d->nexecs; ei++)
        if (d->execs[ei].alive && d->execs[ei].free_cores > 0)
            idle += d->execs[ei].free_cores / (int)d->task_cpus;
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
            exec_send_simple(d, ei, MSG_KILL, r.tid);
            run_remove(d, newest);
            e->free_cores += (int)d->task_cpus;
            idle--;
            d->revive = 1;
            if (r.st && r.st->ts) {
                ev_task et;
                job_ev_task(d, &r, &et);
                eventlog_task_end(d->elog, &et, "TaskKilled",
                                  "queued behind a long task: rescheduled",
                                  NULL);
                taskset_attempt_lost(r.st->ts, r.task);
            }
        }
    }
}

/* ---------------------------------------------------------------- offers */

/* One round of offers: every running stage, every valid level. */
static void offer_all(driver *d)
{
    int64_t now = now_ms();
    for (int si = 0; si < dag_nstages(d->dag); si++) {
        dag_stage *st = dag_stage_at(d->dag, si);
        int levels[LOC_NLEVELS], nl;
        if (!st || st->state != DAG_RUNNING || !st->ts)
            continue;
        if (dag_parents_missing(d->dag, st)) {
            /* an input went missing (executor lost): recompute it first */
            dag_outcome out = {0};
            dag_resubmit(d->dag, st, job_env(d), &out);
            job_apply(d, &out);
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

void offers_schedule(driver *d)
{
    int64_t now = now_ms();
    if (now >= d->next_revive) {
        /* scheduler.revive.interval: on a fixed grid from the start */
        d->revive = 1;
        d->next_revive = now - (now - d->started_ms) % d->revive_interval_ms +
                         d->revive_interval_ms;
    }
    if (!d->revive || !d->cur || d->cur->done || !resources_ready(d))
        return;
    d->revive = 0;
    offer_all(d);
}

/* Speculation: mark stragglers; the next offers launch copies. */
void offers_check_speculation(driver *d)
{
    int64_t now = now_ms();
    if (!d->tscfg.speculation || !d->cur ||
        now - d->last_spec_check < d->spec_interval_ms)
        return;
    d->last_spec_check = now;
    for (int si = 0; si < dag_nstages(d->dag); si++) {
        dag_stage *st = dag_stage_at(d->dag, si);
        if (st && st->state == DAG_RUNNING && st->ts &&
            taskset_check_speculation(st->ts, now) > 0) {
            LOG_INFO("stage %d.%d: speculating stragglers", st->id,
                     st->attempt);
            d->revive = 1;
        }
    }
}
