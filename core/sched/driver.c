/*
 * driver.c -- the driver's event loop: executors, DAG scheduler, task
 * scheduler and map-output tracker.
 *
 * How it works.  driver_new() listens on the control endpoint through the
 * transport plugin and asks the cluster-manager plugin for executors, which
 * register with a REGISTER message.  driver_run_job() (Lua main thread)
 * puts a job in the submission slot, wakes the loop and waits on a condition
 * variable.  The loop thread cuts the job into stages at shuffle nodes
 * (a map stage per shuffle, kept across jobs so a later job reuses shuffle
 * output that still exists), submits parents first, turns runnable stages
 * into tasks (one per missing partition), and hands tasks to executors with
 * free slots.  Status updates register map outputs or collect result
 * blocks; failures are retried up to task.maxFailures; a fetch failure
 * unregisters the missing output and resubmits the parent stage; an executor
 * silent for network.timeout is declared lost (its tasks are re-queued and
 * its map outputs forgotten) and a replacement is requested.
 *
 * Threads: every field below the "loop thread only" line is touched only
 * by the loop thread.  The submission slot and `stopping` are guarded by
 * `mu`; the loop is woken through the transport's wake().
 */
#include "driver.h"

#include "config.h"
#include "plugin/plugins.h"
#include "rpc/msg.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ types */

typedef struct exec_rec {
    char *id;
    ember_peer peer;
    char *host;
    int64_t pid;
    int cores;
    int free_cores;
    char *endpoint;
    int alive;
    int64_t last_seen;
    int *stages_sent;
    int nsent;
} exec_rec;

typedef struct map_output {
    int valid;
    int exec;             /* index into d->execs */
    uint64_t map_task_id; /* = the TID that wrote it */
} map_output;

typedef struct shuffle_rec {
    int shuffle_id;
    int nmaps;
    int nreduce;
    map_output *outs;
} shuffle_rec;

enum { T_PENDING = 0, T_RUNNING = 1, T_DONE = 2 };
enum { ST_IDLE = 0, ST_WAITING = 1, ST_RUNNING = 2, ST_DONE = 3 };

typedef struct task_rec {
    int partition;
    int state;
    int attempts;
    int failures;
} task_rec;

typedef struct stage {
    int id;
    int attempt;
    int is_map;
    int shuffle_id; /* map stage: the shuffle it writes */
    int nparts;     /* partitions of the stage's root */
    int out_parts;  /* map stage: reduce partitions */
    uint8_t *bin;
    size_t bin_len;
    int ninputs;
    int *inputs; /* shuffle ids read */
    int state;
    int ntasks;
    task_rec *tasks; /* result stage: one per requested partition */
    int remaining;
    int consecutive_failures;
    struct job *job; /* job that currently drives it */
} stage;

typedef struct running {
    uint64_t tid;
    stage *st; /* NULL once its job ended */
    int task;  /* index in st->tasks */
    int attempt;
    int stage_attempt;
    int exec;
    int64_t start_us;
} running;

typedef struct job {
    int id;
    const job_spec *spec;
    job_result *res;
    stage *result;
    int done;
    int rc;
    char *errmsg;
    int64_t start_us;
    uint64_t result_bytes;
    int ntasks;
} job;

struct driver {
    const conf *conf;
    char app_id[64];
    char master[256];
    const ember_transport_desc *tp;
    void *tctx;
    ember_tsock *sock;
    char endpoint[256];
    const ember_cm_desc *cm;
    void *cm_state;
    int expected_execs;
    pthread_t thread;
    int thread_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *submitted; /* guarded by mu */
    int stopping;   /* guarded by mu */
    int total_cores_hint;

    /* ---- loop thread only ---- */
    exec_rec *execs;
    int nexecs;
    int ever_registered;
    shuffle_rec *shuffles;
    int nshuffles;
    stage **stages; /* map stages (kept) and the live result stage */
    int nstages;
    running *run;
    int nrun;
    job *cur;
    int next_job;
    int next_stage;
    uint64_t next_tid;
    int64_t job_wait_since;
    /* settings */
    int64_t heartbeat_ms;
    int64_t timeout_ms;
    int64_t max_failures;
    int64_t max_stage_attempts;
    uint64_t max_result_size;
    int64_t max_wait_ms;
    char plugins_sig[2048];
};

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

static int exec_find(driver *d, const ember_peer *p)
{
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].peer.len == p->len &&
            memcmp(d->execs[i].peer.id, p->id, p->len) == 0)
            return i;
    return -1;
}

static shuffle_rec *shuffle_get(driver *d, int id)
{
    for (int i = 0; i < d->nshuffles; i++)
        if (d->shuffles[i].shuffle_id == id)
            return &d->shuffles[i];
    return NULL;
}

static int shuffle_available(const shuffle_rec *s)
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

static stage *map_stage_for(driver *d, int shuffle_id)
{
    for (int i = 0; i < d->nstages; i++)
        if (d->stages[i]->is_map && d->stages[i]->shuffle_id == shuffle_id)
            return d->stages[i];
    return NULL;
}

static void job_fail(driver *d, job *j, const char *fmt, ...)
    EMBER_PRINTF(3, 4);

static void job_fail(driver *d, job *j, const char *fmt, ...)
{
    char msg[16384];
    va_list ap;
    (void)d;
    if (j->done)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->rc = EMBER_ETASK;
    j->errmsg = strdup(msg);
    j->done = 1;
}

/* ----------------------------------------------------------- stage build */

/* Collect the nodes of a stage: from root down to sources and shuffle
 * nodes (boundaries, included but not descended). */
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
}

static stage *stage_build(driver *d, const job_spec *spec, int root, int is_map,
                          const plan_node *shuffle, job *j);

static void stage_free(stage *st)
{
    if (!st)
        return;
    free(st->bin);
    free(st->inputs);
    free(st->tasks);
    free(st);
}

/* The map stage writing `shuffle_node`, created on first use. */
static stage *get_map_stage(driver *d, const job_spec *spec,
                            const plan_node *sn, job *j)
{
    stage *st = map_stage_for(d, sn->id);
    if (st)
        return st;
    if (sn->nparents != 1)
        return NULL;
    return stage_build(d, spec, sn->parents[0], 1, sn, j);
}

static stage *stage_build(driver *d, const job_spec *spec, int root, int is_map,
                          const plan_node *sn, job *j)
{
    int max = spec->nnodes + 1, n = 0, ninputs = 0;
    int *ids = calloc((size_t)max, sizeof *ids);
    int *inputs = calloc((size_t)max, sizeof *inputs);
    const plan_node *rn = node_get(spec, root);
    stage *st = NULL;
    buf b;
    buf_init(&b);
    if (!ids || !inputs || !rn)
        goto fail;
    if (collect_nodes(spec, root, ids, &n, max, inputs, &ninputs, 1))
        goto fail;
    /* the root of a result stage may itself be a shuffle node: it is then
       read, not written */
    if (rn->kind == NODE_SHUFFLE) {
        inputs[ninputs++] = rn->id;
    }
    st = calloc(1, sizeof *st);
    if (!st)
        goto fail;
    st->is_map = is_map;
    st->shuffle_id = is_map ? sn->id : -1;
    st->nparts = rn->nparts;
    st->out_parts = is_map ? sn->nparts : 0;
    st->inputs = inputs;
    st->ninputs = ninputs;
    inputs = NULL;
    /* parents first: every input shuffle needs its map stage */
    for (int i = 0; i < st->ninputs; i++) {
        const plan_node *in = node_get(spec, st->inputs[i]);
        if (!in || !get_map_stage(d, spec, in, j))
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
        if (!sr) {
            shuffle_rec *ns =
                realloc(d->shuffles, (size_t)(d->nshuffles + 1) * sizeof *ns);
            if (!ns)
                goto fail;
            d->shuffles = ns;
            sr = &d->shuffles[d->nshuffles++];
            sr->shuffle_id = sn->id;
            sr->nmaps = st->nparts;
            sr->nreduce = sn->nparts;
            sr->outs = calloc((size_t)st->nparts + 1, sizeof *sr->outs);
            if (!sr->outs) {
                d->nshuffles--;
                goto fail;
            }
        }
        stage **nv = realloc(d->stages, (size_t)(d->nstages + 1) * sizeof *nv);
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

/* ------------------------------------------------------------ submission */

static int stage_missing_parents(driver *d, stage *st)
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
    st->state = ST_RUNNING;
    st->remaining = 0;
    if (st->is_map) {
        shuffle_rec *sr = shuffle_get(d, st->shuffle_id);
        if (!st->tasks) {
            st->tasks = calloc((size_t)st->nparts + 1, sizeof *st->tasks);
            st->ntasks = st->nparts;
            if (!st->tasks) {
                job_fail(d, st->job, "out of memory");
                return;
            }
        }
        for (int p = 0; p < st->nparts; p++) {
            task_rec *t = &st->tasks[p];
            t->partition = p;
            if (sr->outs[p].valid) {
                t->state = T_DONE;
            } else if (t->state != T_RUNNING) {
                t->state = T_PENDING;
                st->remaining++;
            } else {
                st->remaining++;
            }
        }
        if (st->remaining == 0)
            st->state = ST_DONE;
    } else {
        for (int i = 0; i < st->ntasks; i++)
            if (st->tasks[i].state != T_DONE) {
                if (st->tasks[i].state != T_RUNNING)
                    st->tasks[i].state = T_PENDING;
                st->remaining++;
            }
    }
    LOG_INFO("submitting stage %d (attempt %d, %s) with %d tasks", st->id,
             st->attempt, st->is_map ? "shuffle map" : "result", st->remaining);
}

static void submit_stage(driver *d, stage *st, job *j)
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

/* A stage finished (or inputs came back): start waiting stages. */
static void wake_waiting(driver *d, job *j)
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

static void job_start(driver *d, job *j)
{
    const job_spec *spec = j->spec;
    stage *rs;
    j->id = d->next_job++;
    j->start_us = now_us();
    rs = stage_build(d, spec, spec->root, 0, NULL, j);
    if (!rs) {
        job_fail(d, j, "cannot plan job %d: bad plan or out of memory", j->id);
        return;
    }
    rs->ntasks = spec->npartitions > 0 ? spec->npartitions : rs->nparts;
    rs->tasks = calloc((size_t)rs->ntasks + 1, sizeof *rs->tasks);
    j->res->nparts = rs->ntasks;
    j->res->blocks = calloc((size_t)rs->ntasks + 1, sizeof(uint8_t *));
    j->res->lens = calloc((size_t)rs->ntasks + 1, sizeof(size_t));
    if (!rs->tasks || !j->res->blocks || !j->res->lens) {
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
        rs->tasks[i].partition = p;
    }
    j->result = rs;
    LOG_INFO("job %d: %s, %d result partitions", j->id,
             spec->description ? spec->description : "action", rs->ntasks);
    if (rs->ntasks == 0) {
        j->done = 1;
        return;
    }
    submit_stage(d, rs, j);
    d->job_wait_since = now_ms();
}

static void job_finish(driver *d, job *j)
{
    /* tasks still running for this job: forget their stage */
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
        }
    }
    if (j->res) {
        j->res->job_id = j->id;
        j->res->elapsed_us = now_us() - j->start_us;
        j->res->ntasks = j->ntasks;
    }
    stage_free(j->result);
    j->result = NULL;
    pthread_mutex_lock(&d->mu);
    d->cur = NULL;
    j->done = 2; /* seen by driver_run_job */
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* ------------------------------------------------------------ scheduling */

static int exec_has_stage(exec_rec *e, int stage_id)
{
    for (int i = 0; i < e->nsent; i++)
        if (e->stages_sent[i] == stage_id)
            return 1;
    return 0;
}

static int launch(driver *d, stage *st, int ti, int ei)
{
    exec_rec *e = &d->execs[ei];
    task_rec *t = &st->tasks[ti];
    msg_launch m;
    buf b;
    int rc = 0;
    running *nr;

    memset(&m, 0, sizeof m);
    m.task_id = d->next_tid++;
    m.job_id = st->job ? st->job->id : -1;
    m.stage_id = st->id;
    m.stage_attempt = st->attempt;
    m.partition = t->partition;
    m.attempt = t->attempts;
    m.kind = st->is_map ? TASK_SHUFFLE_MAP : TASK_RESULT;
    m.out_partitions = st->out_parts;
    if (!exec_has_stage(e, st->id)) {
        m.stage_bin = st->bin;
        m.stage_len = st->bin_len;
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
    nr[d->nrun].tid = m.task_id;
    nr[d->nrun].st = st;
    nr[d->nrun].task = ti;
    nr[d->nrun].attempt = t->attempts;
    nr[d->nrun].stage_attempt = st->attempt;
    nr[d->nrun].exec = ei;
    nr[d->nrun].start_us = now_us();
    d->nrun++;
    t->state = T_RUNNING;
    t->attempts++;
    e->free_cores--;
    if (st->job)
        st->job->ntasks++;
    LOG_DEBUG("launch task %d.%d in stage %d.%d (TID %llu) on executor %s",
              t->partition, m.attempt, st->id, st->attempt,
              (unsigned long long)m.task_id, e->id);
    return 0;
}

/* Runnable stages in order: map stages by id, then the result stage. */
static stage *next_runnable(driver *d, int *idx)
{
    while (*idx < d->nstages) {
        stage *st = d->stages[(*idx)++];
        if (st->state == ST_RUNNING)
            return st;
    }
    if (*idx == d->nstages) {
        (*idx)++;
        if (d->cur && d->cur->result && d->cur->result->state == ST_RUNNING)
            return d->cur->result;
    }
    return NULL;
}

static void schedule(driver *d)
{
    int progress = 1;
    if (!d->cur || d->cur->done)
        return;
    while (progress) {
        progress = 0;
        for (int ei = 0; ei < d->nexecs; ei++) {
            exec_rec *e = &d->execs[ei];
            int idx = 0;
            stage *st;
            if (!e->alive || e->free_cores <= 0)
                continue;
            while ((st = next_runnable(d, &idx)) != NULL) {
                int found = -1;
                if (stage_missing_parents(d, st)) {
                    /* an input went missing (executor lost): recompute it */
                    st->state = ST_IDLE;
                    submit_stage(d, st, d->cur);
                    continue;
                }
                for (int ti = 0; ti < st->ntasks; ti++)
                    if (st->tasks[ti].state == T_PENDING) {
                        found = ti;
                        break;
                    }
                if (found < 0)
                    continue;
                if (launch(d, st, found, ei) == 0)
                    progress = 1;
                break;
            }
        }
    }
}

/* --------------------------------------------------------- status update */

static void run_remove(driver *d, int i)
{
    d->run[i] = d->run[--d->nrun];
}

static int exec_by_id(driver *d, const char *id)
{
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].id && id && strcmp(d->execs[i].id, id) == 0)
            return i;
    return -1;
}

/* Forget map outputs held by executor ei (all shuffles). */
static void lose_outputs(driver *d, int ei)
{
    for (int s = 0; s < d->nshuffles; s++) {
        shuffle_rec *sr = &d->shuffles[s];
        int lost = 0;
        for (int m = 0; m < sr->nmaps; m++)
            if (sr->outs[m].valid && sr->outs[m].exec == ei) {
                sr->outs[m].valid = 0;
                lost++;
            }
        if (lost) {
            stage *ms = map_stage_for(d, sr->shuffle_id);
            LOG_INFO("lost %d map outputs of shuffle %d on executor %s", lost,
                     sr->shuffle_id, d->execs[ei].id);
            if (ms && ms->state == ST_DONE)
                ms->state = ST_IDLE;
            if (ms && ms->tasks)
                for (int m = 0; m < sr->nmaps; m++)
                    if (!sr->outs[m].valid && ms->tasks[m].state == T_DONE)
                        ms->tasks[m].state = T_PENDING;
        }
    }
}

static void fmt_failure(driver *d, char *out, size_t n, const running *r,
                        const msg_status *m)
{
    const stage *st = r->st;
    const exec_rec *e = &d->execs[r->exec];
    snprintf(out, n,
             "task %d.%d in stage %d.%d (TID %llu) failed on executor %s "
             "(host %s, pid %lld): %s%s%s",
             st->tasks[r->task].partition, r->attempt, st->id, r->stage_attempt,
             (unsigned long long)r->tid, e->id, e->host, (long long)e->pid,
             m->message ? m->message : "(no message)",
             m->traceback && *m->traceback ? "\n" : "",
             m->traceback ? m->traceback : "");
}

static void on_status(driver *d, int ei, const msg_status *m)
{
    int ri = -1;
    running r;
    stage *st;
    task_rec *t;
    for (int i = 0; i < d->nrun; i++)
        if (d->run[i].tid == m->task_id) {
            ri = i;
            break;
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
    st = r.st;
    if (!st || !st->job || st->job->done)
        return; /* its job ended */
    t = &st->tasks[r.task];
    if (m->state == TASK_FINISHED) {
        if (t->state == T_DONE)
            return;
        if (st->is_map) {
            shuffle_rec *sr = shuffle_get(d, st->shuffle_id);
            if (m->nsizes != sr->nreduce) {
                job_fail(
                    d, st->job,
                    "task %llu reported %d shuffle partitions, expected %d",
                    (unsigned long long)m->task_id, m->nsizes, sr->nreduce);
                return;
            }
            sr->outs[t->partition].valid = 1;
            sr->outs[t->partition].exec = r.exec;
            sr->outs[t->partition].map_task_id = m->task_id;
        } else {
            job *j = st->job;
            j->result_bytes += m->result_len;
            if (d->max_result_size > 0 &&
                j->result_bytes > d->max_result_size) {
                job_fail(d, j,
                         "Total size of serialized results of %d tasks (%llu "
                         "bytes) is bigger than driver.maxResultSize (%llu "
                         "bytes); write the data to storage (for example "
                         "save_as_text_file) instead of collecting it, or "
                         "raise driver.maxResultSize",
                         st->ntasks - st->remaining + 1,
                         (unsigned long long)j->result_bytes,
                         (unsigned long long)d->max_result_size);
                return;
            }
            j->res->blocks[r.task] = malloc(m->result_len ? m->result_len : 1);
            if (!j->res->blocks[r.task]) {
                job_fail(d, j, "out of memory storing a task result");
                return;
            }
            memcpy(j->res->blocks[r.task], m->result, m->result_len);
            j->res->lens[r.task] = m->result_len;
        }
        t->state = T_DONE;
        st->consecutive_failures = 0;
        if (--st->remaining <= 0) {
            st->state = ST_DONE;
            LOG_INFO("stage %d finished", st->id);
            if (st->is_map)
                wake_waiting(d, st->job);
            else
                st->job->done = 1;
        }
        return;
    }
    /* failed or killed */
    if (r.stage_attempt != st->attempt) {
        /* an older attempt of a stage that was already retried */
        if (t->state == T_RUNNING)
            t->state = T_PENDING;
        return;
    }
    if (m->fail_kind == FAIL_FETCH) {
        int oe = exec_by_id(d, m->fetch_exec);
        shuffle_rec *sr = shuffle_get(d, m->fetch_shuffle);
        LOG_WARN("fetch failure in stage %d: output of map task %llu of "
                 "shuffle %d on executor %s is missing (%s)",
                 st->id, (unsigned long long)m->fetch_map_task,
                 m->fetch_shuffle, m->fetch_exec ? m->fetch_exec : "?",
                 m->message ? m->message : "");
        if (sr)
            for (int k = 0; k < sr->nmaps; k++)
                if (sr->outs[k].map_task_id == m->fetch_map_task)
                    sr->outs[k].valid = 0;
        if (oe >= 0)
            lose_outputs(d, oe);
        {
            stage *ms = map_stage_for(d, m->fetch_shuffle);
            if (ms && ms->state == ST_DONE)
                ms->state = ST_IDLE;
            if (ms && ms->tasks && sr)
                for (int k = 0; k < sr->nmaps; k++)
                    if (!sr->outs[k].valid && ms->tasks[k].state == T_DONE)
                        ms->tasks[k].state = T_PENDING;
        }
        if (++st->consecutive_failures >= d->max_stage_attempts) {
            char why[8192];
            fmt_failure(d, why, sizeof why, &r, m);
            job_fail(d, st->job,
                     "Job %d aborted: stage %d has failed the maximum "
                     "allowable number of times: %lld. Most recent failure "
                     "reason: %s",
                     st->job->id, st->id, (long long)d->max_stage_attempts,
                     why);
            return;
        }
        st->attempt++;
        t->state = T_PENDING;
        st->state = ST_IDLE;
        for (int k = 0; k < st->ntasks; k++)
            if (st->tasks[k].state == T_RUNNING)
                st->tasks[k].state = T_PENDING;
        submit_stage(d, st, st->job);
        return;
    }
    t->failures++;
    {
        char why[12288];
        fmt_failure(d, why, sizeof why, &r, m);
        LOG_WARN("%s", why);
        if (t->failures >= d->max_failures) {
            job_fail(d, st->job,
                     "Job %d (%s) aborted due to stage failure: task %d in "
                     "stage %d.%d failed %d times, most recent failure: %s",
                     st->job->id,
                     st->job->spec->description ? st->job->spec->description
                                                : "action",
                     t->partition, st->id, st->attempt, t->failures, why);
            return;
        }
    }
    t->state = T_PENDING;
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
        exec_rec *ne = realloc(d->execs, (size_t)(d->nexecs + 1) * sizeof *ne);
        if (!ne) {
            snprintf(why, sizeof why, "driver out of memory");
        } else {
            d->execs = ne;
            exec_rec *e = &d->execs[d->nexecs++];
            memset(e, 0, sizeof *e);
            e->id = m.exec_id;
            e->host = m.host;
            e->endpoint = m.data_endpoint;
            m.exec_id = m.host = m.data_endpoint = NULL;
            e->peer = *peer;
            e->pid = m.pid;
            e->cores = e->free_cores = m.cores;
            e->alive = 1;
            e->last_seen = now_ms();
            d->ever_registered = 1;
            LOG_INFO("executor %s registered (host %s, pid %lld, %d cores, "
                     "blocks at %s)",
                     e->id, e->host, (long long)e->pid, e->cores, e->endpoint);
        }
    }
    reply.ok = why[0] == '\0';
    reply.message = why;
    reply.heartbeat_ms = d->heartbeat_ms;
    reply.timeout_ms = d->timeout_ms;
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
        LOG_WARN("%s message from an unknown or lost executor ignored",
                 msg_type_name(type));
        if (ei < 0 || !d->execs[ei].alive) {
            buf b;
            buf_init(&b);
            msg_simple_encode(&b, MSG_STOP, "", 0);
            send_buf(d, peer, &b);
            buf_free(&b);
        }
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
        char *id;
        uint64_t n;
        buf b;
        if (msg_simple_decode(data, len, MSG_HEARTBEAT, &id, &n, &err)) {
            LOG_WARN("bad heartbeat: %s", err.msg);
            return;
        }
        free(id);
        buf_init(&b);
        msg_simple_encode(&b, MSG_HEARTBEAT_ACK, "", n);
        send_buf(d, peer, &b);
        buf_free(&b);
        break;
    }
    default:
        LOG_WARN("unexpected %s message from executor %s", msg_type_name(type),
                 d->execs[ei].id);
    }
}

static void lose_executor(driver *d, int ei, const char *reason)
{
    exec_rec *e = &d->execs[ei];
    ember_error err = {0, ""};
    if (!e->alive)
        return;
    LOG_WARN("lost executor %s (host %s, pid %lld): %s", e->id, e->host,
             (long long)e->pid, reason);
    e->alive = 0;
    for (int i = 0; i < d->nrun;) {
        if (d->run[i].exec == ei) {
            running r = d->run[i];
            run_remove(d, i);
            if (r.st && r.st->tasks[r.task].state == T_RUNNING)
                r.st->tasks[r.task].state = T_PENDING;
        } else {
            i++;
        }
    }
    lose_outputs(d, ei);
    if (d->cm && d->cm->request_executor && d->cm_state &&
        d->cm->request_executor(d->cm_state, &err) != 0)
        LOG_WARN("cannot request a replacement executor: %s", err.msg);
}

static void check_timeouts(driver *d)
{
    int64_t now = now_ms();
    int alive = 0;
    for (int i = 0; i < d->nexecs; i++) {
        if (!d->execs[i].alive)
            continue;
        if (now - d->execs[i].last_seen > d->timeout_ms) {
            char why[128];
            snprintf(why, sizeof why,
                     "no heartbeat for %lld ms (network.timeout is %lld ms)",
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
        schedule(d);
        if (d->cur && d->cur->done == 1)
            job_finish(d, d->cur);

        rc = d->tp->recv(d->sock, 200, &peer, &msg, &err);
        if (rc == 0) {
            on_message(d, &peer, msg.data, msg.len);
            d->tp->msg_release(&msg);
            /* drain what is queued before scheduling again */
            while (d->tp->recv(d->sock, 0, &peer, &msg, &err) == 0) {
                on_message(d, &peer, msg.data, msg.len);
                d->tp->msg_release(&msg);
            }
        } else if (rc != EMBER_EAGAIN && rc != EMBER_EWOKEN) {
            LOG_WARN("receive failed: %s", err.msg);
        }
        if (now_ms() - last_check >= 200) {
            check_timeouts(d);
            last_check = now_ms();
        }
        if (d->cur && d->cur->done == 1)
            job_finish(d, d->cur);
    }
    /* tell executors to stop */
    for (int i = 0; i < d->nexecs; i++)
        if (d->execs[i].alive) {
            buf b;
            buf_init(&b);
            msg_simple_encode(&b, MSG_STOP, "", 0);
            send_buf(d, &d->execs[i].peer, &b);
            buf_free(&b);
        }
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
    int64_t cores;
    int rc;

    if (!d) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    d->conf = c;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    snprintf(d->master, sizeof d->master, "%s",
             master && *master ? master : "local[*]");
    snprintf(d->app_id, sizeof d->app_id, "app-%lld-%d",
             (long long)(wall_ms() / 1000), (int)getpid());
    (void)app_name;
    if (conf_get_duration_ms(c, "executor.heartbeatInterval", 1000, 10000,
                             &d->heartbeat_ms, err) ||
        conf_get_duration_ms(c, "network.timeout", 1000, 120000, &d->timeout_ms,
                             err) ||
        conf_get_int(c, "task.maxFailures", 4, &d->max_failures, err) ||
        conf_get_int(c, "stage.maxConsecutiveAttempts", 4,
                     &d->max_stage_attempts, err) ||
        conf_get_size(c, "driver.maxResultSize", 1, 1u << 30,
                      &d->max_result_size, err) ||
        conf_get_duration_ms(c, "scheduler.maxRegisteredResourcesWaitingTime",
                             1000, 30000, &d->max_wait_ms, err) ||
        conf_get_size(c, "executor.memory", 1u << 20, 1u << 30, &mem, err) ||
        conf_get_int(c, "executor.cores", 1, &cores, err))
        goto fail;
    if (d->max_failures < 1)
        d->max_failures = 1;
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
        job_result_free(res);
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
    memset(r, 0, sizeof *r);
}

void driver_destroy(driver **dp)
{
    driver *d = dp ? *dp : NULL;
    if (!d)
        return;
    if (d->thread_started) {
        pthread_mutex_lock(&d->mu);
        d->stopping = 1;
        pthread_mutex_unlock(&d->mu);
        d->tp->wake(d->sock);
        pthread_join(d->thread, NULL);
    }
    if (d->cm && d->cm_state)
        d->cm->stop(d->cm_state);
    if (d->sock)
        d->tp->sock_close(d->sock);
    if (d->tctx)
        d->tp->close(d->tctx);
    for (int i = 0; i < d->nexecs; i++) {
        free(d->execs[i].id);
        free(d->execs[i].host);
        free(d->execs[i].endpoint);
        free(d->execs[i].stages_sent);
    }
    free(d->execs);
    for (int i = 0; i < d->nshuffles; i++)
        free(d->shuffles[i].outs);
    free(d->shuffles);
    for (int i = 0; i < d->nstages; i++)
        stage_free(d->stages[i]);
    free(d->stages);
    free(d->run);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
    *dp = NULL;
}

int driver_total_cores(driver *d)
{
    /* expected cores: from the master URL through the manager's count */
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
