/*
 * jobs.c -- the driver's side of the DAG scheduler: a job starts, fails,
 * ends; the outcomes of dag_* calls are written to the event log and acted
 * on here.
 *
 * The DAG (dag.c) decides which stage attempts run and when a job must
 * fail; it sees the cluster through a dag_env built here from the
 * executor table and the block-manager master.  Every dag_* call the
 * driver makes is followed by job_apply(), which writes the stage events
 * in the order the DAG recorded them, fails the job if the DAG said so,
 * marks it done when its result stage is complete and no result is still
 * being fetched, and asks for resource offers when a stage was submitted.
 *
 * Threads: the loop thread.
 */
#include "driver_int.h"

#include "util/fsutil.h"
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

job *job_of(driver *d, const dag_stage *st)
{
    return st && st->active ? d->cur : NULL;
}

/* ----------------------------------------------------------- the view */

const dag_env *job_env(driver *d)
{
    dag_env *env = &d->env;
    if (d->nexecs > d->env_execs_cap) {
        dag_exec *ex = realloc(d->env_execs, (size_t)d->nexecs * sizeof *ex);
        if (ex) {
            d->env_execs = ex;
            d->env_execs_cap = d->nexecs;
        }
    }
    env->nexecs = d->nexecs <= d->env_execs_cap ? d->nexecs : 0;
    for (int i = 0; i < env->nexecs; i++) {
        d->env_execs[i].id = d->execs[i].id;
        d->env_execs[i].host = d->execs[i].host;
        d->env_execs[i].rack = d->execs[i].rack;
        d->env_execs[i].alive = d->execs[i].alive;
    }
    env->execs = d->env_execs;
    /* the main thread drops entries (unpersist): copy under mu */
    pthread_mutex_lock(&d->mu);
    if (d->ncblocks > d->env_cached_cap) {
        dag_cached *cb =
            realloc(d->env_cached, (size_t)d->ncblocks * sizeof *cb);
        if (cb) {
            d->env_cached = cb;
            d->env_cached_cap = d->ncblocks;
        }
    }
    env->ncached = d->ncblocks <= d->env_cached_cap ? d->ncblocks : 0;
    for (int i = 0; i < env->ncached; i++) {
        d->env_cached[i].node = d->cblocks[i].node;
        d->env_cached[i].part = d->cblocks[i].part;
        d->env_cached[i].exec = d->cblocks[i].exec;
    }
    pthread_mutex_unlock(&d->mu);
    env->cached = d->env_cached;
    env->driver_host = d->host;
    env->now_ms = now_ms();
    env->wall_ms = wall_ms();
    return env;
}

void job_live_changed(driver *d)
{
    dag_set_executors(d->dag, job_env(d));
}

/* ------------------------------------------------------------ outcomes */

void job_apply(driver *d, dag_outcome *out)
{
    for (int i = 0; i < out->nnotes; i++) {
        const dag_stage_info *si = &out->notes[i].info;
        int bc = si->bin_len > d->bin_bcast_threshold;
        if (out->notes[i].kind == DAG_SUBMITTED) {
            eventlog_stage_submitted(d->elog, si, bc);
            d->revive = 1; /* new tasks: offer slots */
        } else {
            eventlog_stage_completed(d->elog, si, bc);
        }
    }
    if (out->fail)
        job_fail(d, d->cur, "%s", out->fail);
    else if (out->result_done && d->cur && d->cur->pending_fetches == 0)
        d->cur->done = 1;
    dag_outcome_free(out);
}

/* ------------------------------------------------------- start and end */

void job_start(driver *d, job *j)
{
    const job_spec *spec = j->spec;
    dag_outcome out = {0};
    dag_job_stage *stages;
    dag_stage *rs;
    int n;
    j->id = d->next_job++;
    j->start_us = now_us();
    if (dag_job_start(d->dag, spec, j->id, &out)) {
        job_apply(d, &out);
        return;
    }
    rs = dag_result(d->dag);
    j->res->nparts = rs->ntasks;
    j->res->blocks = calloc((size_t)rs->ntasks + 1, sizeof(uint8_t *));
    j->res->lens = calloc((size_t)rs->ntasks + 1, sizeof(size_t));
    if (!j->res->blocks || !j->res->lens) {
        job_fail(d, j, "out of memory");
        return;
    }
    stages = dag_job_stages(d->dag, &n);
    eventlog_job_start(d->elog, j->id, spec->description, stages, n);
    free(stages);
    dag_job_submit(d->dag, job_env(d), &out);
    job_apply(d, &out);
    if (rs->ntasks > 0)
        d->job_wait_since = now_ms();
    exec_check_cpus(d);
}

static void job_finish(driver *d, job *j)
{
    dag_stage *rs = dag_result(d->dag);
    for (int i = 0; i < d->nrun; i++)
        if (d->run[i].st &&
            (d->run[i].st == rs || (job_of(d, d->run[i].st) == j && j->rc)))
            d->run[i].st = NULL;
    if (j->res) {
        j->res->job_id = j->id;
        j->res->elapsed_us = now_us() - j->start_us;
        j->res->ntasks = j->ntasks;
    }
    eventlog_job_end(d->elog, j->id, j->rc ? j->errmsg : NULL);
    if (rs && rs->bin_bcast)
        bcast_remove(d->bcast, rs->bin_bcast);
    dag_job_end(d->dag);
    pthread_mutex_lock(&d->mu);
    d->cur = NULL;
    j->done = 2;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void job_finish_if_done(driver *d)
{
    if (d->cur && d->cur->done == 1 && d->cur->pending_fetches == 0)
        job_finish(d, d->cur);
}

/* --------------------------------------------------------------- tasks */

void job_ev_task(driver *d, const running *r, ev_task *t)
{
    const exec_rec *e = &d->execs[r->exec];
    memset(t, 0, sizeof *t);
    t->stage_id = r->st ? r->st->id : -1;
    t->stage_attempt = r->stage_attempt;
    t->is_map = r->st ? r->st->is_map : 0;
    t->tid = r->tid;
    t->index = r->task;
    t->attempt = r->attempt;
    t->partition = r->st ? r->st->part_of[r->task] : -1;
    t->launch_ms = r->launch_ms;
    t->exec_id = e->id;
    t->host = e->host;
    t->locality = r->level;
    t->speculative = r->speculative;
}
