/*
 * status.c -- what executors report about tasks: status updates (success,
 * failure, kill, fetch failure) and results fetched by the fetcher thread.
 *
 * A map task's success registers its output with the DAG; a result task's
 * success is checked against driver.maxResultSize before its bytes are
 * touched, then kept (direct result) or fetched (a result larger than
 * task.maxDirectResultSize stays in the executor's block store and
 * fetcher.c brings it).  Accumulator updates count once per task, from its
 * first successful attempt.  Failures are retried up to task.maxFailures
 * (taskset.c counts); a fetch failure goes to the DAG, which forgets the
 * missing outputs and resubmits the stages; a success of an older stage
 * attempt is kept (Spark does), its failures ignored.  Cached-block
 * changes a status carries update the block-manager master.
 *
 * Threads: the loop thread.
 */
#include "driver_int.h"

#include "util/fsutil.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The report of a failed task: what, where, and the user's error. */
static void fmt_failure(driver *d, char *out, size_t n, const running *r,
                        const msg_status *m)
{
    const dag_stage *st = r->st;
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

static void task_end(driver *d, const running *r, const msg_status *m,
                     const char *reason, const char *desc)
{
    ev_task et;
    if (!r->st)
        return;
    job_ev_task(d, r, &et);
    eventlog_task_end(d->elog, &et, reason, desc, m);
}

/* Keep accumulator updates of the first successful attempt per task. */
static void take_accum(driver *d, dag_stage *st, int ti, const msg_status *m)
{
    job *j = job_of(d, st);
    job_result *res;
    uint8_t **na;
    size_t *nl;
    if (!m->accum || !m->accum_len || !j || st->acc_applied[ti])
        return;
    st->acc_applied[ti] = 1;
    res = j->res;
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
static void kill_copies(driver *d, dag_stage *st, int ti, uint64_t winner)
{
    for (int i = 0; i < d->nrun; i++)
        if (d->run[i].st == st && d->run[i].task == ti &&
            d->run[i].tid != winner && d->execs[d->run[i].exec].alive) {
            LOG_INFO("killing TID %llu: TID %llu finished first",
                     (unsigned long long)d->run[i].tid,
                     (unsigned long long)winner);
            exec_send_simple(d, d->run[i].exec, MSG_KILL, d->run[i].tid);
        }
}

/* The result block of result task ti is the driver's now. */
static void hold_result(job *j, dag_stage *st, int ti, uint8_t *block,
                        size_t len)
{
    j->res->blocks[ti] = block;
    j->res->lens[ti] = len;
    if (block)
        dag_result_held(st, ti);
}

static void task_succeeded(driver *d, dag_stage *st, int ti, const running *r,
                           const msg_status *m, uint8_t *block, size_t len)
{
    if (!taskset_succeeded(st->ts, ti, now_ms(),
                           r ? (now_us() - r->start_us) / 1000 : 0)) {
        free(block);
        return; /* another attempt won */
    }
    if (m)
        take_accum(d, st, ti, m);
    if (st->is_map)
        dag_map_output(d->dag, st, ti, r->exec, r->tid, m->sizes);
    else
        hold_result(job_of(d, st), st, ti, block, len);
    if (r)
        kill_copies(d, st, ti, r->tid);
    if (taskset_remaining(st->ts) == 0) {
        dag_outcome out = {0};
        dag_stage_completed(d->dag, st, job_env(d), &out);
        job_apply(d, &out);
    }
}

/* A result task finished: check the result-size budget before touching
 * the bytes, then keep a direct result or fetch an indirect one. */
static void result_finished(driver *d, dag_stage *st, int ti, running *r,
                            const msg_status *m)
{
    job *j = job_of(d, st);
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
        running *nr;
        /* the driver fetches over the control transport: the tcp part */
        if (!f ||
            !(f->endpoint = strndup(e->endpoint, strcspn(e->endpoint, ";"))) ||
            !(f->exec_id = strdup(e->id))) {
            fetch_req_free(f);
            job_fail(d, j, "out of memory");
            return;
        }
        f->tid = r->tid;
        f->size = m->indirect_size;
        f->raw_size = size;
        take_accum(d, st, ti, m);
        j->pending_fetches++;
        /* keep a running entry for the fetch, so the result finds its task */
        nr = realloc(d->run, (size_t)(d->nrun + 1) * sizeof *nr);
        if (nr) {
            d->run = nr;
            d->run[d->nrun] = *r;
            d->run[d->nrun].exec = -1 - r->exec; /* marks "fetching" */
            d->nrun++;
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
static void keep_old_success(driver *d, dag_stage *st, running *r,
                             const msg_status *m)
{
    const dag_shuffle *sr =
        st->is_map ? dag_shuffle_get(d->dag, st->shuffle_id) : NULL;
    job *j = job_of(d, st);
    if (st->ts) {
        /* the new attempt is running: its task set settles duplicates */
        if (st->is_map && m->nsizes == sr->nreduce)
            task_succeeded(d, st, r->task, r, m, NULL, 0);
        else if (!st->is_map)
            result_finished(d, st, r->task, r, m);
        return;
    }
    if (st->is_map) {
        if (sr->outs[st->part_of[r->task]].valid || m->nsizes != sr->nreduce)
            return;
        dag_map_output(d->dag, st, r->task, r->exec, r->tid, m->sizes);
        take_accum(d, st, r->task, m);
    } else if (!j->res->blocks[r->task] && !m->indirect_size && m->result) {
        uint8_t *copy = malloc(m->result_len ? m->result_len : 1);
        if (!copy)
            return;
        memcpy(copy, m->result, m->result_len);
        j->result_bytes +=
            m->result_raw_size ? m->result_raw_size : m->result_len;
        hold_result(j, st, r->task, copy, m->result_len);
        take_accum(d, st, r->task, m);
    }
}

/* A fetch failure: the DAG forgets the missing outputs and resubmits. */
static void fetch_failed(driver *d, dag_stage *st, const running *r,
                         const msg_status *m, const char *desc)
{
    dag_outcome out = {0};
    task_end(d, r, m, "FetchFailed", m->message);
    LOG_WARN("fetch failure in stage %d: map output %llu of shuffle %d "
             "on executor %s is missing (%s)",
             st->id, (unsigned long long)m->fetch_map_task, m->fetch_shuffle,
             m->fetch_exec ? m->fetch_exec : "?", m->message ? m->message : "");
    dag_fetch_failed(d->dag, st, m->fetch_shuffle, m->fetch_map_task,
                     exec_index(d, m->fetch_exec), desc, job_env(d), &out);
    job_apply(d, &out);
}

void status_on_task(driver *d, int ei, const msg_status *m)
{
    int ri = -1;
    running r;
    dag_stage *st;
    job *j;
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
    if (d->run[ri].exec != ei) {
        /* only the executor a task was launched on may report it */
        LOG_WARN("status for task %llu from executor %s, which does not run "
                 "it: ignored",
                 (unsigned long long)m->task_id, d->execs[ei].id);
        return;
    }
    r = d->run[ri];
    run_remove(d, ri);
    if (r.exec >= 0 && r.exec < d->nexecs && d->execs[r.exec].alive)
        d->execs[r.exec].free_cores += (int)d->task_cpus;
    d->revive = 1; /* a slot is free */
    apply_blocks(d, ei, m);
    st = r.st;
    j = job_of(d, st);
    if (!j || j->done)
        return; /* its job ended */
    if (r.stage_attempt != st->attempt || !st->ts) {
        /* a task of an older attempt of this stage: its failures are
           ignored (Spark), its successes kept */
        if (m->state == TASK_FINISHED)
            keep_old_success(d, st, &r, m);
        return;
    }
    if (m->state == TASK_FINISHED) {
        task_end(d, &r, m, "Success", NULL);
        if (st->is_map) {
            const dag_shuffle *sr = dag_shuffle_get(d->dag, st->shuffle_id);
            if (m->nsizes != sr->nreduce) {
                job_fail(d, j,
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
        task_end(d, &r, m, "TaskKilled", "another attempt finished first");
        taskset_failed(st->ts, r.task, 0);
        return;
    }
    fmt_failure(d, desc, sizeof desc, &r, m);
    if (m->fail_kind == FAIL_FETCH) {
        fetch_failed(d, st, &r, m, desc);
        return;
    }
    task_end(d, &r, m, "ExceptionFailure", m->message);
    LOG_WARN("%s", desc);
    if (taskset_failed(st->ts, r.task, 1)) {
        job_fail(d, j,
                 "Job %d (%s) aborted due to stage failure: task %d in stage "
                 "%d.%d failed %d times, most recent failure: %s",
                 j->id, j->spec->description ? j->spec->description : "action",
                 st->part_of[r.task], st->id, st->attempt,
                 taskset_failures(st->ts, r.task), desc);
    }
}

/* The fetcher delivered an indirect result (or failed to). */
void status_on_fetched(driver *d, fetch_req *f)
{
    int ri = -1;
    running r;
    dag_stage *st;
    job *j;
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
    j = job_of(d, st);
    if (!j || !st->ts)
        goto done;
    j->pending_fetches--;
    d->revive = 1;
    if (j->done)
        goto done;
    if (f->rc) {
        /* TaskResultLost: run the task again */
        LOG_WARN("lost the result of TID %llu: %s", (unsigned long long)f->tid,
                 f->error ? f->error : "fetch failed");
        j->result_bytes -= f->raw_size;
        if (taskset_failed(st->ts, r.task, 1))
            job_fail(d, j,
                     "Job %d aborted: the result of task %d "
                     "could not be fetched: %s",
                     j->id, st->part_of[r.task],
                     f->error ? f->error : "fetch failed");
        goto done;
    }
    task_succeeded(d, st, r.task, &r, NULL, f->data, f->len);
    f->data = NULL;
    if (taskset_remaining(st->ts) == 0 && j->pending_fetches == 0)
        j->done = 1;
done:
    fetch_req_free(f);
}
