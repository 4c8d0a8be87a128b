/*
 * dag.c -- the DAG scheduler: jobs cut into stages, stage attempts, the
 * map-output tracker (see dag.h for the contract with the driver).
 *
 * A job's plan is cut at shuffle nodes: the result stage computes the
 * action's node; every shuffle node it (transitively) reads gets a map
 * stage, kept across jobs, so a later action whose shuffle output still
 * exists skips that stage.  Stages are submitted parents first; a stage
 * whose inputs are all available becomes a task set (taskset.c) with one
 * task per missing partition, with locality preferences: where the
 * partition is cached, else the host of a source split, or the executors
 * holding at least 20% of a reduce partition's input (Spark's
 * REDUCER_PREF_LOCS_FRACTION).  Every submission is a new stage attempt.
 *
 * Nothing here calls the driver: each entry point records what it did in
 * the caller's dag_outcome (stage attempts submitted and completed, the
 * job's result complete, the job failed and why), and the driver acts on
 * it.
 *
 * Threads: the driver's loop thread only.
 */
#include "dag.h"

#include "util/buf.h"
#include "util/log.h"

#include <ember/plugin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDUCER_PREF_FRACTION 0.2

struct dag {
    ts_config cfg;
    int64_t max_stage_attempts;
    dag_shuffle *shuffles;
    int nshuffles;
    dag_stage **stages; /* map stages, kept across jobs */
    int nstages;
    int next_stage;
    /* the current job */
    const job_spec *spec;
    int job_id;
    dag_stage *result;
};

/* ------------------------------------------------------------ outcomes */

void dag_outcome_free(dag_outcome *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->nnotes; i++)
        free(o->notes[i].info.fail_reason);
    free(o->notes);
    free(o->fail);
    memset(o, 0, sizeof *o);
}

static void fail_job(dag_outcome *out, const char *fmt, ...) EMBER_PRINTF(2, 3);

static void fail_job(dag_outcome *out, const char *fmt, ...)
{
    char msg[16384];
    va_list ap;
    if (out->fail)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    out->fail = strdup(msg);
    if (!out->fail)
        out->fail = strdup("out of memory");
}

static void note(dag *g, dag_outcome *out, int kind, const dag_stage *st,
                 const char *fail_reason)
{
    dag_note *nv = realloc(out->notes, (size_t)(out->nnotes + 1) * sizeof *nv);
    if (!nv)
        return; /* an event less, the scheduling goes on */
    out->notes = nv;
    nv[out->nnotes].kind = kind;
    dag_stage_describe(g, st, &nv[out->nnotes].info);
    nv[out->nnotes].info.fail_reason = fail_reason ? strdup(fail_reason) : NULL;
    out->nnotes++;
}

/* ------------------------------------------------------------- lookups */

static dag_shuffle *shuffle_get(const dag *g, int id)
{
    for (int i = 0; i < g->nshuffles; i++)
        if (g->shuffles[i].shuffle_id == id)
            return &g->shuffles[i];
    return NULL;
}

const dag_shuffle *dag_shuffle_get(const dag *g, int shuffle_id)
{
    return shuffle_get(g, shuffle_id);
}

static int shuffle_available(const dag_shuffle *s)
{
    for (int i = 0; i < s->nmaps; i++)
        if (!s->outs[i].valid)
            return 0;
    return 1;
}

static const plan_node *node_get(const job_spec *spec, int id)
{
    for (int i = 0; i < spec->nnodes; i++)
        if (spec->nodes[i].id == id)
            return &spec->nodes[i];
    return NULL;
}

static dag_stage *map_stage_for(const dag *g, int shuffle_id)
{
    for (int i = 0; i < g->nstages; i++)
        if (g->stages[i]->is_map && g->stages[i]->shuffle_id == shuffle_id)
            return g->stages[i];
    return NULL;
}

int dag_nstages(const dag *g)
{
    return g->nstages + (g->result != NULL);
}

dag_stage *dag_stage_at(const dag *g, int i)
{
    return i < g->nstages ? g->stages[i] : g->result;
}

dag_stage *dag_result(const dag *g)
{
    return g->result;
}

void dag_stage_describe(const dag *g, const dag_stage *st, dag_stage_info *info)
{
    memset(info, 0, sizeof *info);
    info->id = st->id;
    info->attempt = st->attempt;
    info->is_map = st->is_map;
    info->ntasks = st->ntasks;
    info->description = st->active && g->spec ? g->spec->description : NULL;
    info->parents = st->parents;
    info->nparents = st->nparents;
    info->submitted_ms = st->submitted_ms;
    info->bin_len = st->bin_len;
}

/* ------------------------------------------------------------ lifetime */

dag *dag_new(const ts_config *cfg, int64_t max_stage_attempts)
{
    dag *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->cfg = *cfg;
    g->max_stage_attempts = max_stage_attempts;
    return g;
}

static void stage_free(dag_stage *st)
{
    if (!st)
        return;
    taskset_destroy(&st->ts);
    free(st->bin);
    free(st->inputs);
    free(st->parents);
    free(st->part_of);
    free(st->acc_applied);
    free(st->finished);
    free(st);
}

void dag_destroy(dag **gp)
{
    dag *g = gp ? *gp : NULL;
    if (!g)
        return;
    for (int i = 0; i < g->nshuffles; i++) {
        for (int m = 0; m < g->shuffles[i].nmaps; m++)
            free(g->shuffles[i].outs[m].sizes);
        free(g->shuffles[i].outs);
    }
    free(g->shuffles);
    for (int i = 0; i < g->nstages; i++)
        stage_free(g->stages[i]);
    free(g->stages);
    stage_free(g->result);
    free(g);
    *gp = NULL;
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
        return -1;
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

static dag_stage *stage_build(dag *g, const job_spec *spec, int root,
                              int is_map, const plan_node *sn);

/* The map stage writing shuffle node sn, created on first use. */
static dag_stage *get_map_stage(dag *g, const job_spec *spec,
                                const plan_node *sn)
{
    dag_stage *st = map_stage_for(g, sn->id);
    if (st)
        return st;
    if (sn->nparents != 1)
        return NULL;
    return stage_build(g, spec, sn->parents[0], 1, sn);
}

/* A map stage's shuffle record, created on first use. */
static int shuffle_add(dag *g, const plan_node *sn, int nmaps)
{
    dag_shuffle *ns;
    if (shuffle_get(g, sn->id))
        return 0;
    ns = realloc(g->shuffles, (size_t)(g->nshuffles + 1) * sizeof *ns);
    if (!ns)
        return -1;
    g->shuffles = ns;
    ns = &g->shuffles[g->nshuffles];
    ns->shuffle_id = sn->id;
    ns->nmaps = nmaps;
    ns->nreduce = sn->nparts;
    ns->outs = calloc((size_t)nmaps + 1, sizeof *ns->outs);
    if (!ns->outs)
        return -1;
    g->nshuffles++;
    return 0;
}

static dag_stage *stage_build(dag *g, const job_spec *spec, int root,
                              int is_map, const plan_node *sn)
{
    int max = spec->nnodes + 1, n = 0, ninputs = 0;
    int *ids = calloc((size_t)max, sizeof *ids);
    int *inputs = calloc((size_t)max + 1, sizeof *inputs);
    const plan_node *rn = node_get(spec, root);
    dag_stage *st = NULL;
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
    st->parents = calloc((size_t)st->ninputs + 1, sizeof *st->parents);
    if (!st->parents)
        goto fail;
    for (int i = 0; i < st->ninputs; i++) {
        const plan_node *in = node_get(spec, st->inputs[i]);
        dag_stage *ps = in ? get_map_stage(g, spec, in) : NULL;
        if (!ps)
            goto fail;
        st->parents[st->nparents++] = ps->id;
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
    st->id = g->next_stage++;
    if (is_map) {
        dag_stage **nv;
        st->ntasks = st->nparts;
        st->part_of = calloc((size_t)st->ntasks + 1, sizeof *st->part_of);
        st->acc_applied = calloc((size_t)st->ntasks + 1, 1);
        if (!st->part_of || !st->acc_applied)
            goto fail;
        for (int p = 0; p < st->ntasks; p++)
            st->part_of[p] = p;
        if (shuffle_add(g, sn, st->nparts))
            goto fail;
        nv = realloc(g->stages, (size_t)(g->nstages + 1) * sizeof *nv);
        if (!nv)
            goto fail;
        g->stages = nv;
        g->stages[g->nstages++] = st;
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
static void node_prefs(const dag *g, const dag_env *env, int id, int p,
                       taskset *ts, int task, int depth)
{
    const plan_node *nd = node_get(g->spec, id);
    int cached = 0;
    if (!nd || depth > 64)
        return;
    /* a cached partition runs where it is cached (PROCESS_LOCAL) */
    for (int i = 0; i < env->ncached; i++) {
        const dag_cached *b = &env->cached[i];
        if (b->node == id && b->part == p && b->exec >= 0 &&
            b->exec < env->nexecs && env->execs[b->exec].alive) {
            taskset_prefer_exec(ts, task, env->execs[b->exec].id);
            cached = 1;
        }
    }
    if (cached)
        return;
    switch (nd->kind) {
    case NODE_NARROW:
        if (nd->nparents == 1)
            node_prefs(g, env, nd->parents[0], p, ts, task, depth + 1);
        break;
    case NODE_UNION:
        for (int i = 0; i < nd->nparents; i++) {
            const plan_node *c = node_get(g->spec, nd->parents[i]);
            if (!c)
                return;
            if (p < c->nparts) {
                node_prefs(g, env, c->id, p, ts, task, depth + 1);
                return;
            }
            p -= c->nparts;
        }
        break;
    case NODE_SOURCE:
        if (nd->prefs && p < nd->nparts && nd->prefs[p]) {
            const char *h = nd->prefs[p];
            taskset_prefer_host(
                ts, task, strcmp(h, "localhost") == 0 ? env->driver_host : h);
        }
        break;
    case NODE_SHUFFLE: {
        /* reduce side: the executors holding >= 20% of this partition */
        const dag_shuffle *sr = shuffle_get(g, nd->id);
        uint64_t total = 0, *per;
        if (!sr || !shuffle_available(sr) || p >= sr->nreduce)
            return;
        per = calloc((size_t)env->nexecs + 1, sizeof *per);
        if (!per)
            return;
        for (int m = 0; m < sr->nmaps; m++)
            if (sr->outs[m].sizes && sr->outs[m].exec < env->nexecs) {
                per[sr->outs[m].exec] += sr->outs[m].sizes[p];
                total += sr->outs[m].sizes[p];
            }
        for (int e = 0; e < env->nexecs && total > 0; e++)
            if (env->execs[e].alive &&
                (double)per[e] >= REDUCER_PREF_FRACTION * (double)total)
                taskset_prefer_exec(ts, task, env->execs[e].id);
        free(per);
        break;
    }
    }
}

/* ---------------------------------------------------------- submission */

void dag_set_executors(dag *g, const dag_env *env)
{
    ts_exec *v = calloc((size_t)env->nexecs + 1, sizeof *v);
    int n = 0;
    if (!v)
        return;
    for (int i = 0; i < env->nexecs; i++)
        if (env->execs[i].alive) {
            v[n].id = env->execs[i].id;
            v[n].host = env->execs[i].host;
            v[n].rack = env->execs[i].rack;
            n++;
        }
    for (int i = 0; i < dag_nstages(g); i++) {
        dag_stage *st = dag_stage_at(g, i);
        if (st->ts)
            taskset_set_executors(st->ts, v, n);
    }
    free(v);
}

int dag_parents_missing(const dag *g, const dag_stage *st)
{
    int missing = 0;
    for (int i = 0; i < st->ninputs; i++) {
        const dag_shuffle *sr = shuffle_get(g, st->inputs[i]);
        if (!sr || !shuffle_available(sr))
            missing++;
    }
    return missing;
}

static void stage_completed(dag *g, dag_stage *st, const dag_env *env,
                            dag_outcome *out);

/* A new attempt of st: a task set of its missing partitions. */
static void stage_start(dag *g, dag_stage *st, const dag_env *env,
                        dag_outcome *out)
{
    const dag_shuffle *sr = st->is_map ? shuffle_get(g, st->shuffle_id) : NULL;
    int todo = 0;
    if (st->ever_started)
        st->attempt++; /* every submission is a new stage attempt */
    st->ever_started = 1;
    taskset_destroy(&st->ts);
    st->ts = taskset_new(st->ntasks, &g->cfg, env->now_ms);
    if (!st->ts) {
        fail_job(out, "out of memory");
        return;
    }
    for (int t = 0; t < st->ntasks; t++) {
        if (sr && sr->outs[t].valid) {
            taskset_mark_done(st->ts, t);
            continue;
        }
        if (!sr && st->finished && st->finished[t]) {
            taskset_mark_done(st->ts, t);
            continue;
        }
        node_prefs(g, env, st->root, st->part_of[t], st->ts, t, 0);
        todo++;
    }
    st->state = todo ? DAG_RUNNING : DAG_DONE;
    st->submitted_ms = env->wall_ms;
    dag_set_executors(g, env);
    LOG_INFO("submitting stage %d.%d (%s) with %d tasks", st->id, st->attempt,
             st->is_map ? "shuffle map" : "result", todo);
    note(g, out, DAG_SUBMITTED, st, NULL);
    if (!todo)
        stage_completed(g, st, env, out);
}

static void submit_stage(dag *g, dag_stage *st, const dag_env *env,
                         dag_outcome *out)
{
    if (st->state == DAG_RUNNING || st->state == DAG_WAITING)
        return;
    st->active = 1;
    if (dag_parents_missing(g, st) == 0) {
        stage_start(g, st, env, out);
        return;
    }
    st->state = DAG_WAITING;
    for (int i = 0; i < st->ninputs; i++) {
        const dag_shuffle *sr = shuffle_get(g, st->inputs[i]);
        dag_stage *ps = map_stage_for(g, st->inputs[i]);
        if (sr && !shuffle_available(sr) && ps) {
            if (ps->state == DAG_DONE)
                ps->state = DAG_IDLE;
            submit_stage(g, ps, env, out);
        }
    }
}

/* Start the waiting stages whose parents are now complete. */
static void wake_waiting(dag *g, const dag_env *env, dag_outcome *out)
{
    for (int i = 0; i < g->nstages; i++) {
        dag_stage *st = g->stages[i];
        if (st->state == DAG_WAITING && dag_parents_missing(g, st) == 0)
            stage_start(g, st, env, out);
    }
    if (g->result && g->result->state == DAG_WAITING &&
        dag_parents_missing(g, g->result) == 0)
        stage_start(g, g->result, env, out);
}

static void stage_completed(dag *g, dag_stage *st, const dag_env *env,
                            dag_outcome *out)
{
    st->state = DAG_DONE;
    st->consecutive_failures = 0;
    LOG_INFO("stage %d.%d finished", st->id, st->attempt);
    note(g, out, DAG_COMPLETED, st, NULL);
    if (st->is_map)
        wake_waiting(g, env, out);
    else if (st->active)
        out->result_done = 1;
}

void dag_stage_completed(dag *g, dag_stage *st, const dag_env *env,
                         dag_outcome *out)
{
    stage_completed(g, st, env, out);
}

void dag_resubmit(dag *g, dag_stage *st, const dag_env *env, dag_outcome *out)
{
    st->state = DAG_IDLE;
    submit_stage(g, st, env, out);
}

/* ---------------------------------------------------------------- jobs */

int dag_job_start(dag *g, const job_spec *spec, int job_id, dag_outcome *out)
{
    dag_stage *rs;
    g->spec = spec;
    g->job_id = job_id;
    rs = stage_build(g, spec, spec->root, 0, NULL);
    if (!rs) {
        fail_job(out, "cannot plan job %d: bad plan or out of memory", job_id);
        return -1;
    }
    rs->ntasks = spec->npartitions > 0 ? spec->npartitions : rs->nparts;
    rs->part_of = calloc((size_t)rs->ntasks + 1, sizeof *rs->part_of);
    rs->acc_applied = calloc((size_t)rs->ntasks + 1, 1);
    rs->finished = calloc((size_t)rs->ntasks + 1, 1);
    if (!rs->part_of || !rs->acc_applied || !rs->finished) {
        stage_free(rs);
        fail_job(out, "out of memory");
        return -1;
    }
    for (int i = 0; i < rs->ntasks; i++) {
        int p = spec->npartitions > 0 ? spec->partitions[i] : i;
        if (p < 0 || p >= rs->nparts) {
            int np = rs->nparts;
            stage_free(rs);
            fail_job(out, "partition %d out of range (0..%d)", p, np - 1);
            return -1;
        }
        rs->part_of[i] = p;
    }
    g->result = rs;
    LOG_INFO("job %d: %s, %d result partitions", job_id,
             spec->description ? spec->description : "action", rs->ntasks);
    return 0;
}

dag_job_stage *dag_job_stages(const dag *g, int *n)
{
    dag_job_stage *v = calloc((size_t)g->nstages + 2, sizeof *v);
    *n = 0;
    if (!v || !g->result)
        return v;
    for (int i = 0; i < g->nstages; i++) {
        const dag_stage *st = g->stages[i];
        const dag_shuffle *sr = shuffle_get(g, st->shuffle_id);
        if (!node_get(g->spec, st->shuffle_id))
            continue; /* a map stage of another job */
        v[*n].id = st->id;
        v[*n].is_map = 1;
        v[*n].ntasks = st->ntasks;
        v[*n].skipped = sr && shuffle_available(sr);
        (*n)++;
    }
    v[*n].id = g->result->id;
    v[*n].ntasks = g->result->ntasks;
    (*n)++;
    return v;
}

void dag_job_submit(dag *g, const dag_env *env, dag_outcome *out)
{
    if (!g->result)
        return;
    if (g->result->ntasks == 0) {
        out->result_done = 1;
        return;
    }
    submit_stage(g, g->result, env, out);
}

void dag_job_end(dag *g)
{
    for (int i = 0; i < g->nstages; i++) {
        dag_stage *st = g->stages[i];
        if (st->active) {
            st->active = 0;
            if (st->state != DAG_DONE)
                st->state = DAG_IDLE;
            taskset_destroy(&st->ts);
        }
    }
    stage_free(g->result);
    g->result = NULL;
    g->spec = NULL;
}

/* ------------------------------------------------- map-output tracker */

void dag_map_output(dag *g, dag_stage *st, int task, int exec,
                    uint64_t map_task_id, const uint64_t *sizes)
{
    dag_shuffle *sr = shuffle_get(g, st->shuffle_id);
    dag_output *o;
    if (!sr)
        return;
    o = &sr->outs[st->part_of[task]];
    free(o->sizes);
    o->sizes = calloc((size_t)sr->nreduce + 1, sizeof *o->sizes);
    if (o->sizes)
        memcpy(o->sizes, sizes, (size_t)sr->nreduce * sizeof *o->sizes);
    o->valid = 1;
    o->exec = exec;
    o->map_task_id = map_task_id;
}

void dag_result_held(dag_stage *st, int task)
{
    if (st->finished && task >= 0 && task < st->ntasks)
        st->finished[task] = 1;
}

static void forget_output(dag *g, dag_shuffle *sr, int m)
{
    dag_stage *ms = map_stage_for(g, sr->shuffle_id);
    sr->outs[m].valid = 0;
    free(sr->outs[m].sizes);
    sr->outs[m].sizes = NULL;
    if (ms && ms->state == DAG_DONE)
        ms->state = DAG_IDLE;
    if (ms && ms->ts)
        taskset_resubmit(ms->ts, m);
}

void dag_lose_outputs(dag *g, int exec, const dag_env *env, dag_outcome *out)
{
    for (int s = 0; s < g->nshuffles; s++) {
        dag_shuffle *sr = &g->shuffles[s];
        int lost = 0;
        for (int m = 0; m < sr->nmaps; m++)
            if (sr->outs[m].valid && sr->outs[m].exec == exec) {
                forget_output(g, sr, m);
                lost++;
            }
        if (lost)
            LOG_INFO("lost %d map outputs of shuffle %d on executor %s", lost,
                     sr->shuffle_id,
                     exec < env->nexecs ? env->execs[exec].id : "?");
        out->lost += lost;
    }
}

void dag_fetch_failed(dag *g, dag_stage *st, int shuffle_id,
                      uint64_t map_task_id, int lost_exec, const char *reason,
                      const dag_env *env, dag_outcome *out)
{
    dag_shuffle *sr = shuffle_get(g, shuffle_id);
    for (int m = 0; sr && m < sr->nmaps; m++)
        if (sr->outs[m].valid && sr->outs[m].map_task_id == map_task_id) {
            forget_output(g, sr, m);
            out->lost++;
        }
    if (lost_exec >= 0)
        dag_lose_outputs(g, lost_exec, env, out);
    note(g, out, DAG_COMPLETED, st, reason);
    if (++st->consecutive_failures >= g->max_stage_attempts) {
        fail_job(out,
                 "Job %d (%s) aborted: stage %d has failed the maximum "
                 "allowable number of times: %lld. Most recent failure "
                 "reason: %s",
                 g->job_id,
                 g->spec && g->spec->description ? g->spec->description
                                                 : "action",
                 st->id, (long long)g->max_stage_attempts, reason);
        return;
    }
    /* a new attempt of this stage once its parents are whole again
       (stage_start numbers it) */
    st->state = DAG_IDLE;
    taskset_destroy(&st->ts);
    submit_stage(g, st, env, out);
}
