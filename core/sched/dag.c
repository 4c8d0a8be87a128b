/*
 * dag.c -- the DAG scheduler: jobs, stages, the map-output tracker.
 *
 * A job's plan is cut at shuffle nodes: the result stage computes the
 * action's node; every shuffle node it (transitively) reads gets a map
 * stage, kept across jobs, so a later action whose shuffle output still
 * exists skips that stage.  Stages are submitted parents first; a stage
 * whose inputs are all available becomes a task set (taskset.c) with one
 * task per missing partition, with locality preferences: the host of a
 * source split, or the executors holding at least 20% of a reduce
 * partition's input (Spark's REDUCER_PREF_LOCS_FRACTION).
 *
 * Threads: the driver's loop thread only.
 */
#include "driver_int.h"

#include "util/log.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDUCER_PREF_FRACTION 0.2

shuffle_rec *shuffle_get(driver *d, int id)
{
    for (int i = 0; i < d->nshuffles; i++)
        if (d->shuffles[i].shuffle_id == id)
            return &d->shuffles[i];
    return NULL;
}

int shuffle_available(const shuffle_rec *s)
{
    for (int i = 0; i < s->nmaps; i++)
        if (!s->outs[i].valid)
            return 0;
    return 1;
}

const plan_node *node_get(const job_spec *spec, int id)
{
    for (int i = 0; i < spec->nnodes; i++)
        if (spec->nodes[i].id == id)
            return &spec->nodes[i];
    return NULL;
}

stage *map_stage_for(driver *d, int shuffle_id)
{
    for (int i = 0; i < d->nstages; i++)
        if (d->stages[i]->is_map && d->stages[i]->shuffle_id == shuffle_id)
            return d->stages[i];
    return NULL;
}

void stage_free(stage *st)
{
    if (!st)
        return;
    taskset_destroy(&st->ts);
    free(st->bin);
    free(st->inputs);
    free(st->part_of);
    free(st->acc_applied);
    free(st->fail_reason);
    free(st);
}

/* ----------------------------------------------------------- building */

/* Collect the nodes of a stage: from root down to sources and shuffle
 * nodes (boundaries: included, not descended). */
static int collect_nodes(const job_spec *spec, int id, int *ids, int *n,
                         int max, int *inputs, int *ninputs, int top)
{
    const plan_node *nd = node_get(spec, id);
    for (int i = 0; i < *n; i++)
        if (ids[i] == id)
            return 0;
    if (!nd || *n >= max)
        return EMBER_EINVAL;
    ids[(*n)++] = id;
    if (nd->kind == NODE_SHUFFLE && !top) {
        inputs[(*ninputs)++] = id;
        return 0;
    }
    if (nd->kind == NODE_SHUFFLE) /* a result stage reading a shuffle */
        return 0;
    for (int i = 0; i < nd->nparents; i++) {
        int rc = collect_nodes(spec, nd->parents[i], ids, n, max, inputs,
                               ninputs, 0);
        if (rc)
            return rc;
    }
    return 0;
}

static void put_node(buf *b, const plan_node *nd)
{
    buf_put_svarint(b, nd->id);
    buf_put_svarint(b, nd->kind);
    buf_put_svarint(b, nd->nparts);
    buf_put_varint(b, (uint64_t)nd->nparents);
    for (int i = 0; i < nd->nparents; i++)
        buf_put_svarint(b, nd->parents[i]);
    buf_put_lstr(b, nd->payload, nd->payload_len);
    buf_put_svarint(b, nd->cache_level);
}

static stage *stage_build(driver *d, const job_spec *spec, int root, int is_map,
                          const plan_node *sn);

/* The map stage writing shuffle node sn, created on first use. */
static stage *get_map_stage(driver *d, const job_spec *spec,
                            const plan_node *sn)
{
    stage *st = map_stage_for(d, sn->id);
    if (st)
        return st;
    if (sn->nparents != 1)
        return NULL;
    return stage_build(d, spec, sn->parents[0], 1, sn);
}

static stage *stage_build(driver *d, const job_spec *spec, int root, int is_map,
                          const plan_node *sn)
{
    int max = spec->nnodes + 1, n = 0, ninputs = 0;
    int *ids = calloc((size_t)max, sizeof *ids);
    int *inputs = calloc((size_t)max + 1, sizeof *inputs);
    const plan_node *rn = node_get(spec, root);
    stage *st = NULL;
    buf b;
    buf_init(&b);
    if (!ids || !inputs || !rn)
        goto fail;
    if (collect_nodes(spec, root, ids, &n, max, inputs, &ninputs, 1))
        goto fail;
    if (rn->kind == NODE_SHUFFLE)
        inputs[ninputs++] = rn->id; /* read, not written */
    st = calloc(1, sizeof *st);
    if (!st)
        goto fail;
    st->is_map = is_map;
    st->shuffle_id = is_map ? sn->id : -1;
    st->root = root;
    st->nparts = rn->nparts;
    st->out_parts = is_map ? sn->nparts : 0;
    st->inputs = inputs;
    st->ninputs = ninputs;
    inputs = NULL;
    for (int i = 0; i < st->ninputs; i++) {
        const plan_node *in = node_get(spec, st->inputs[i]);
        if (!in || !get_map_stage(d, spec, in))
            goto fail;
    }
    buf_put_u8(&b, (uint8_t)is_map);
    buf_put_svarint(&b, root);
    buf_put_svarint(&b, st->shuffle_id);
    buf_put_svarint(&b, st->out_parts);
    if (is_map)
        buf_put_lstr(&b, sn->payload, sn->payload_len);
    else
        buf_put_lstr(&b, spec->action, spec->action_len);
    buf_put_varint(&b, (uint64_t)n);
    for (int i = 0; i < n; i++)
        put_node(&b, node_get(spec, ids[i]));
    if (b.oom)
        goto fail;
    st->bin = buf_steal(&b, &st->bin_len);
    st->id = d->next_stage++;
    if (is_map) {
        shuffle_rec *sr = shuffle_get(d, sn->id);
        stage **nv;
        st->ntasks = st->nparts;
        st->part_of = calloc((size_t)st->ntasks + 1, sizeof *st->part_of);
        st->acc_applied = calloc((size_t)st->ntasks + 1, 1);
        if (!st->part_of || !st->acc_applied)
            goto fail;
        for (int p = 0; p < st->ntasks; p++)
            st->part_of[p] = p;
        if (!sr) {
            shuffle_rec *ns =
                realloc(d->shuffles, (size_t)(d->nshuffles + 1) * sizeof *ns);
            if (!ns)
                goto fail;
            d->shuffles = ns;
            sr = &d->shuffles[d->nshuffles];
            sr->shuffle_id = sn->id;
            sr->nmaps = st->nparts;
            sr->nreduce = sn->nparts;
            sr->outs = calloc((size_t)st->nparts + 1, sizeof *sr->outs);
            if (!sr->outs)
                goto fail;
            d->nshuffles++;
        }
        nv = realloc(d->stages, (size_t)(d->nstages + 1) * sizeof *nv);
        if (!nv)
            goto fail;
        d->stages = nv;
        d->stages[d->nstages++] = st;
    }
    free(ids);
    return st;
fail:
    buf_free(&b);
    free(ids);
    free(inputs);
    stage_free(st);
    return NULL;
}

/* --------------------------------------------------------- preferences */

/* Where partition p of node id would like to run. */
static void node_prefs(driver *d, const job_spec *spec, int id, int p,
                       taskset *ts, int task, int depth)
{
    const plan_node *nd = node_get(spec, id);
    int cached = 0;
    if (!nd || depth > 64)
        return;
    /* a cached partition runs where it is cached (PROCESS_LOCAL) */
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->ncblocks; i++) {
        const cached_block *b = &d->cblocks[i];
        if (b->node == id && b->part == p && d->execs[b->exec].alive) {
            taskset_prefer_exec(ts, task, d->execs[b->exec].id);
            cached = 1;
        }
    }
    pthread_mutex_unlock(&d->mu);
    if (cached)
        return;
    switch (nd->kind) {
    case NODE_NARROW:
        if (nd->nparents == 1)
            node_prefs(d, spec, nd->parents[0], p, ts, task, depth + 1);
        break;
    case NODE_UNION:
        for (int i = 0; i < nd->nparents; i++) {
            const plan_node *c = node_get(spec, nd->parents[i]);
            if (!c)
                return;
            if (p < c->nparts) {
                node_prefs(d, spec, c->id, p, ts, task, depth + 1);
                return;
            }
            p -= c->nparts;
        }
        break;
    case NODE_SOURCE:
        if (nd->prefs && p < nd->nparts && nd->prefs[p]) {
            const char *h = nd->prefs[p];
            taskset_prefer_host(ts, task,
                                strcmp(h, "localhost") == 0 ? d->host : h);
        }
        break;
    case NODE_SHUFFLE: {
        /* reduce side: the executors holding >= 20% of this partition */
        shuffle_rec *sr = shuffle_get(d, nd->id);
        uint64_t total = 0, *per;
        if (!sr || !shuffle_available(sr) || p >= sr->nreduce)
            return;
        per = calloc((size_t)d->nexecs + 1, sizeof *per);
        if (!per)
            return;
        for (int m = 0; m < sr->nmaps; m++)
            if (sr->outs[m].sizes) {
                per[sr->outs[m].exec] += sr->outs[m].sizes[p];
                total += sr->outs[m].sizes[p];
            }
        for (int e = 0; e < d->nexecs && total > 0; e++)
            if (d->execs[e].alive &&
                (double)per[e] >= REDUCER_PREF_FRACTION * (double)total)
                taskset_prefer_exec(ts, task, d->execs[e].id);
        free(per);
        break;
    }
    }
}

/* ---------------------------------------------------------- submission */

int stage_missing_parents(driver *d, stage *st)
{
    int missing = 0;
    for (int i = 0; i < st->ninputs; i++) {
        shuffle_rec *sr = shuffle_get(d, st->inputs[i]);
        if (!sr || !shuffle_available(sr))
            missing++;
    }
    return missing;
}

static void stage_start(driver *d, stage *st)
{
    shuffle_rec *sr = st->is_map ? shuffle_get(d, st->shuffle_id) : NULL;
    int todo = 0;
    if (st->ever_started)
        st->attempt++; /* every submission is a new stage attempt */
    st->ever_started = 1;
    taskset_destroy(&st->ts);
    st->ts = taskset_new(st->ntasks, &d->tscfg, now_ms());
    if (!st->ts) {
        job_fail(d, st->job, "out of memory");
        return;
    }
    for (int t = 0; t < st->ntasks; t++) {
        if (sr && sr->outs[t].valid) {
            taskset_mark_done(st->ts, t);
            continue;
        }
        if (!sr && st->job && st->job->res->blocks[t]) {
            taskset_mark_done(st->ts, t);
            continue;
        }
        node_prefs(d, st->job->spec, st->root, st->part_of[t], st->ts, t, 0);
        todo++;
    }
    st->state = todo ? ST_RUNNING : ST_DONE;
    st->submitted_ms = wall_ms();
    driver_live_changed(d);
    LOG_INFO("submitting stage %d.%d (%s) with %d tasks", st->id, st->attempt,
             st->is_map ? "shuffle map" : "result", todo);
    ev_stage_submitted(d, st);
    if (!todo)
        stage_completed(d, st);
}

void submit_stage(driver *d, stage *st, job *j)
{
    if (st->state == ST_RUNNING || st->state == ST_WAITING)
        return;
    st->job = j;
    if (stage_missing_parents(d, st) == 0) {
        stage_start(d, st);
        return;
    }
    st->state = ST_WAITING;
    for (int i = 0; i < st->ninputs; i++) {
        shuffle_rec *sr = shuffle_get(d, st->inputs[i]);
        stage *ps = map_stage_for(d, st->inputs[i]);
        if (sr && !shuffle_available(sr) && ps) {
            if (ps->state == ST_DONE)
                ps->state = ST_IDLE;
            submit_stage(d, ps, j);
        }
    }
}

void wake_waiting(driver *d, job *j)
{
    for (int i = 0; i < d->nstages; i++) {
        stage *st = d->stages[i];
        if (st->state == ST_WAITING && stage_missing_parents(d, st) == 0)
            stage_start(d, st);
    }
    if (j && j->result && j->result->state == ST_WAITING &&
        stage_missing_parents(d, j->result) == 0)
        stage_start(d, j->result);
}

void stage_completed(driver *d, stage *st)
{
    st->state = ST_DONE;
    st->consecutive_failures = 0;
    LOG_INFO("stage %d.%d finished", st->id, st->attempt);
    ev_stage_completed(d, st);
    if (st->is_map)
        wake_waiting(d, st->job);
    else if (st->job && st->job->pending_fetches == 0)
        st->job->done = 1;
}

/* every stage of a job, for the job-start event: ids, and whether each map
 * stage is skipped (its output exists) */
static void ev_job_start(driver *d, job *j)
{
    jw w;
    jw_begin(&w, "SparkListenerJobStart");
    jw_int(&w, "Job ID", j->id);
    jw_int(&w, "Submission Time", wall_ms());
    jw_arr(&w, "Stage Infos");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < d->nstages + 1; i++) {
            stage *st = i < d->nstages ? d->stages[i] : j->result;
            int used = st == j->result;
            if (pass != (st == j->result) || !st)
                continue;
            for (int k = 0; !used && k < j->spec->nnodes; k++)
                if (j->spec->nodes[k].id == st->shuffle_id)
                    used = 1;
            if (!used)
                continue;
            jw_obj(&w, NULL);
            jw_int(&w, "Stage ID", st->id);
            jw_str(&w, "Stage Name",
                   st->is_map ? "shuffle map" : j->spec->description);
            jw_int(&w, "Number of Tasks", st->ntasks);
            jw_bool(&w, "Skipped",
                    st->is_map && shuffle_get(d, st->shuffle_id) &&
                        shuffle_available(shuffle_get(d, st->shuffle_id)));
            jw_end(&w);
        }
    }
    jw_end(&w);
    jw_obj(&w, "Properties");
    jw_str(&w, "callSite.short", j->spec->description);
    jw_end(&w);
    eventlog_write(d->elog, &w);
}

void job_start(driver *d, job *j)
{
    const job_spec *spec = j->spec;
    stage *rs;
    j->id = d->next_job++;
    j->start_us = now_us();
    rs = stage_build(d, spec, spec->root, 0, NULL);
    if (!rs) {
        job_fail(d, j, "cannot plan job %d: bad plan or out of memory", j->id);
        return;
    }
    rs->ntasks = spec->npartitions > 0 ? spec->npartitions : rs->nparts;
    rs->part_of = calloc((size_t)rs->ntasks + 1, sizeof *rs->part_of);
    rs->acc_applied = calloc((size_t)rs->ntasks + 1, 1);
    j->res->nparts = rs->ntasks;
    j->res->blocks = calloc((size_t)rs->ntasks + 1, sizeof(uint8_t *));
    j->res->lens = calloc((size_t)rs->ntasks + 1, sizeof(size_t));
    if (!rs->part_of || !rs->acc_applied || !j->res->blocks || !j->res->lens) {
        stage_free(rs);
        job_fail(d, j, "out of memory");
        return;
    }
    for (int i = 0; i < rs->ntasks; i++) {
        int p = spec->npartitions > 0 ? spec->partitions[i] : i;
        if (p < 0 || p >= rs->nparts) {
            int np = rs->nparts;
            stage_free(rs);
            job_fail(d, j, "partition %d out of range (0..%d)", p, np - 1);
            return;
        }
        rs->part_of[i] = p;
    }
    j->result = rs;
    LOG_INFO("job %d: %s, %d result partitions", j->id,
             spec->description ? spec->description : "action", rs->ntasks);
    ev_job_start(d, j);
    if (rs->ntasks == 0) {
        j->done = 1;
        return;
    }
    submit_stage(d, rs, j);
    d->job_wait_since = now_ms();
}

void job_finish(driver *d, job *j)
{
    jw w;
    for (int i = 0; i < d->nrun; i++)
        if (d->run[i].st == j->result ||
            (d->run[i].st && d->run[i].st->job == j && j->rc))
            d->run[i].st = NULL;
    for (int i = 0; i < d->nstages; i++) {
        stage *st = d->stages[i];
        if (st->job == j) {
            st->job = NULL;
            if (st->state != ST_DONE)
                st->state = ST_IDLE;
            taskset_destroy(&st->ts);
        }
    }
    if (j->res) {
        j->res->job_id = j->id;
        j->res->elapsed_us = now_us() - j->start_us;
        j->res->ntasks = j->ntasks;
    }
    jw_begin(&w, "SparkListenerJobEnd");
    jw_int(&w, "Job ID", j->id);
    jw_int(&w, "Completion Time", wall_ms());
    jw_obj(&w, "Job Result");
    jw_str(&w, "Result", j->rc ? "JobFailed" : "JobSucceeded");
    if (j->rc) {
        jw_obj(&w, "Exception");
        jw_str(&w, "Message", j->errmsg);
        jw_end(&w);
    }
    jw_end(&w);
    eventlog_write(d->elog, &w);
    if (j->result && j->result->bin_bcast)
        bcast_remove(d->bcast, j->result->bin_bcast);
    stage_free(j->result);
    j->result = NULL;
    pthread_mutex_lock(&d->mu);
    d->cur = NULL;
    j->done = 2;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* ------------------------------------------------- map-output tracker */

static void forget_output(driver *d, shuffle_rec *sr, int m)
{
    stage *ms = map_stage_for(d, sr->shuffle_id);
    sr->outs[m].valid = 0;
    free(sr->outs[m].sizes);
    sr->outs[m].sizes = NULL;
    if (ms && ms->state == ST_DONE)
        ms->state = ST_IDLE;
    if (ms && ms->ts)
        taskset_resubmit(ms->ts, m);
}

void lose_outputs(driver *d, int ei)
{
    for (int s = 0; s < d->nshuffles; s++) {
        shuffle_rec *sr = &d->shuffles[s];
        int lost = 0;
        for (int m = 0; m < sr->nmaps; m++)
            if (sr->outs[m].valid && sr->outs[m].exec == ei) {
                forget_output(d, sr, m);
                lost++;
            }
        if (lost)
            LOG_INFO("lost %d map outputs of shuffle %d on executor %s", lost,
                     sr->shuffle_id, d->execs[ei].id);
    }
}

void unregister_output(driver *d, int shuffle_id, uint64_t map_task_id)
{
    shuffle_rec *sr = shuffle_get(d, shuffle_id);
    if (!sr)
        return;
    for (int m = 0; m < sr->nmaps; m++)
        if (sr->outs[m].valid && sr->outs[m].map_task_id == map_task_id)
            forget_output(d, sr, m);
}

/* ------------------------------------------------------- event helpers */

static void stage_info(jw *w, driver *d, const stage *st)
{
    jw_obj(w, "Stage Info");
    jw_int(w, "Stage ID", st->id);
    jw_int(w, "Stage Attempt ID", st->attempt);
    jw_str(w, "Stage Name",
           st->is_map ? "shuffle map"
                      : (st->job && st->job->spec->description
                             ? st->job->spec->description
                             : "result"));
    jw_int(w, "Number of Tasks", st->ntasks);
    jw_str(w, "Stage Type", st->is_map ? "ShuffleMapStage" : "ResultStage");
    jw_arr(w, "Parent IDs");
    for (int i = 0; i < st->ninputs; i++) {
        stage *p = map_stage_for(d, st->inputs[i]);
        if (p)
            jw_elem_int(w, p->id);
    }
    jw_end(w);
    jw_int(w, "Submission Time", st->submitted_ms);
    jw_int(w, "Binary Size", (int64_t)st->bin_len);
    jw_bool(w, "Binary Broadcast", st->bin_len > d->bin_bcast_threshold);
}

void ev_stage_submitted(driver *d, const stage *st)
{
    jw w;
    if (!d->elog)
        return;
    jw_begin(&w, "SparkListenerStageSubmitted");
    stage_info(&w, d, st);
    jw_end(&w);
    eventlog_write(d->elog, &w);
}

void ev_stage_completed(driver *d, const stage *st)
{
    jw w;
    if (!d->elog)
        return;
    jw_begin(&w, "SparkListenerStageCompleted");
    stage_info(&w, d, st);
    jw_int(&w, "Completion Time", wall_ms());
    if (st->fail_reason)
        jw_str(&w, "Failure Reason", st->fail_reason);
    jw_end(&w);
    eventlog_write(d->elog, &w);
}
