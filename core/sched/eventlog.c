/*
 * eventlog.c -- the event log (see eventlog.h): every event's fields, and
 * the JSON-lines file they go to.
 *
 * Each event is a jansson object, dumped compact on one line.  jansson
 * escapes strings per RFC 8259 and has no depth limit when encoding.  Two
 * values JSON cannot hold are written as follows (and documented in
 * docs/architecture.md, "The event log"):
 *
 *   - a double that is NaN or infinite is the string "NaN", "Infinity" or
 *     "-Infinity" (what Jackson writes for Spark by default);
 *   - a string with bytes that are not UTF-8 (a user's error message can
 *     hold anything) has each such byte replaced by U+FFFD, so the line
 *     stays valid JSON and the rest of the text is kept.
 *
 * Each event is written with one lock held and flushed, so a reader (or a
 * test) sees whole lines while the application runs.  An event that cannot
 * be built (out of memory) is dropped, never written in part.
 */
#include "eventlog.h"

#include "taskset.h"
#include "util/err.h"
#include "util/fsutil.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_FLAGS                                                             \
    (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))

struct eventlog {
    FILE *f;
    char tmp[4096];
    char final[4096];
    pthread_mutex_t mu;
};

eventlog *eventlog_open(const char *dir, const char *app_id, ember_error *err)
{
    eventlog *el;
    if (mkdir_p(dir, err))
        return NULL;
    el = calloc(1, sizeof *el);
    if (!el) {
        ember_seterr(err, EMBER_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(el->final, sizeof el->final, "%s/%s", dir, app_id);
    snprintf(el->tmp, sizeof el->tmp, "%s/%s.inprogress", dir, app_id);
    el->f = fopen(el->tmp, "w");
    if (!el->f) {
        ember_seterr(err, EMBER_EIO, "cannot create event log %s: %s", el->tmp,
                     strerror(errno));
        free(el);
        return NULL;
    }
    pthread_mutex_init(&el->mu, NULL);
    return el;
}

void eventlog_close(eventlog **elp)
{
    eventlog *el = elp ? *elp : NULL;
    if (!el)
        return;
    fclose(el->f);
    rename(el->tmp, el->final);
    pthread_mutex_destroy(&el->mu);
    free(el);
    *elp = NULL;
}

const char *eventlog_path(const eventlog *el)
{
    return el ? el->final : NULL;
}

/* ------------------------------------------------------------- values */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    if ((p[1] & 0xC0) != 0x80)
        return 0;
    if (c < 0xE0)
        return 2;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
        return 0;
    if ((p[2] & 0xC0) != 0x80)
        return 0;
    if (c < 0xF0)
        return 3;
    if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
        return 0;
    if ((p[3] & 0xC0) != 0x80)
        return 0;
    return 4;
}

/* A string value: NULL -> null; bytes that are not UTF-8 -> U+FFFD each. */
static json_t *jstr(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t bad = 0, n = 0;
    char *fixed, *o;
    json_t *v;
    if (!s)
        return json_null();
    for (size_t k; p[n]; n += k ? k : 1)
        if (!(k = utf8_seq(p + n)))
            bad++;
    if (!bad)
        return json_stringn(s, n);
    if (!(fixed = malloc(n + 2 * bad + 1)))
        return NULL;
    o = fixed;
    for (size_t i = 0, k; i < n; i += k ? k : 1) {
        if ((k = utf8_seq(p + i))) {
            memcpy(o, p + i, k);
            o += k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
    }
    v = json_stringn(fixed, (size_t)(o - fixed));
    free(fixed);
    return v;
}

/* A double: finite -> number; NaN and infinities -> strings. */
static json_t *jreal(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

static json_t *jint(int64_t v)
{
    return json_integer((json_int_t)v);
}

/* Add key: v to *o (stealing v, as jansson's _new calls do even when
 * they fail); on failure drop the whole event: *o becomes NULL. */
static void set(json_t **o, const char *key, json_t *v)
{
    if (*o && v && json_object_set_new(*o, key, v) == 0)
        return;
    if (!*o)
        json_decref(v);
    json_decref(*o);
    *o = NULL;
}

/* Append v to array *a (stealing v); on failure *a becomes NULL. */
static void push(json_t **a, json_t *v)
{
    if (*a && v && json_array_append_new(*a, v) == 0)
        return;
    if (!v || !*a)
        json_decref(v);
    json_decref(*a);
    *a = NULL;
}

static json_t *event(const char *name)
{
    json_t *o = json_object();
    set(&o, "Event", json_string(name));
    return o;
}

/* Write one event (taking it) as one line. */
static void emit(eventlog *el, json_t *ev)
{
    char *s;
    if (!ev)
        return;
    s = json_dumps(ev, DUMP_FLAGS);
    json_decref(ev);
    if (!s)
        return;
    pthread_mutex_lock(&el->mu);
    fputs(s, el->f);
    fputc('\n', el->f);
    fflush(el->f);
    pthread_mutex_unlock(&el->mu);
    free(s);
}

char *eventlog_json_string(const char *s)
{
    json_t *v = jstr(s);
    char *out = v ? json_dumps(v, DUMP_FLAGS | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return out;
}

char *eventlog_json_double(double d)
{
    json_t *v = jreal(d);
    char *out = v ? json_dumps(v, DUMP_FLAGS | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return out;
}

/* -------------------------------------------------------- application */

void eventlog_app_start(eventlog *el, const char *app_name, const char *app_id,
                        const char *user, const char *master)
{
    json_t *e;
    if (!el)
        return;
    e = event("SparkListenerApplicationStart");
    set(&e, "App Name", jstr(app_name));
    set(&e, "App ID", jstr(app_id));
    set(&e, "Timestamp", jint(wall_ms()));
    set(&e, "User", jstr(user));
    set(&e, "Master", jstr(master));
    emit(el, e);
}

void eventlog_app_end(eventlog *el)
{
    json_t *e;
    if (!el)
        return;
    e = event("SparkListenerApplicationEnd");
    set(&e, "Timestamp", jint(wall_ms()));
    emit(el, e);
}

/* --------------------------------------------------------------- jobs */

void eventlog_job_start(eventlog *el, int job_id, const char *description,
                        const dag_job_stage *stages, int nstages)
{
    json_t *e, *infos, *props;
    if (!el)
        return;
    e = event("SparkListenerJobStart");
    set(&e, "Job ID", jint(job_id));
    set(&e, "Submission Time", jint(wall_ms()));
    infos = json_array();
    for (int i = 0; i < nstages; i++) {
        const dag_job_stage *s = &stages[i];
        json_t *o = json_object();
        set(&o, "Stage ID", jint(s->id));
        set(&o, "Stage Name", jstr(s->is_map ? "shuffle map" : description));
        set(&o, "Number of Tasks", jint(s->ntasks));
        set(&o, "Skipped", json_boolean(s->skipped));
        push(&infos, o);
    }
    set(&e, "Stage Infos", infos);
    props = json_object();
    set(&props, "callSite.short", jstr(description));
    set(&e, "Properties", props);
    emit(el, e);
}

void eventlog_job_end(eventlog *el, int job_id, const char *error)
{
    json_t *e, *res;
    if (!el)
        return;
    e = event("SparkListenerJobEnd");
    set(&e, "Job ID", jint(job_id));
    set(&e, "Completion Time", jint(wall_ms()));
    res = json_object();
    set(&res, "Result", json_string(error ? "JobFailed" : "JobSucceeded"));
    if (error) {
        json_t *ex = json_object();
        set(&ex, "Message", jstr(error));
        set(&res, "Exception", ex);
    }
    set(&e, "Job Result", res);
    emit(el, e);
}

/* ------------------------------------------------------------- stages */

static json_t *stage_info(const dag_stage_info *st, int bin_broadcast)
{
    json_t *o = json_object(), *parents = json_array();
    set(&o, "Stage ID", jint(st->id));
    set(&o, "Stage Attempt ID", jint(st->attempt));
    set(&o, "Stage Name",
        jstr(st->is_map        ? "shuffle map"
             : st->description ? st->description
                               : "result"));
    set(&o, "Number of Tasks", jint(st->ntasks));
    set(&o, "Stage Type",
        json_string(st->is_map ? "ShuffleMapStage" : "ResultStage"));
    for (int i = 0; i < st->nparents; i++)
        push(&parents, jint(st->parents[i]));
    set(&o, "Parent IDs", parents);
    set(&o, "Submission Time", jint(st->submitted_ms));
    set(&o, "Binary Size", jint((int64_t)st->bin_len));
    set(&o, "Binary Broadcast", json_boolean(bin_broadcast));
    return o;
}

void eventlog_stage_submitted(eventlog *el, const dag_stage_info *st,
                              int bin_broadcast)
{
    json_t *e;
    if (!el)
        return;
    e = event("SparkListenerStageSubmitted");
    set(&e, "Stage Info", stage_info(st, bin_broadcast));
    emit(el, e);
}

void eventlog_stage_completed(eventlog *el, const dag_stage_info *st,
                              int bin_broadcast)
{
    json_t *e, *info;
    if (!el)
        return;
    e = event("SparkListenerStageCompleted");
    info = stage_info(st, bin_broadcast);
    set(&info, "Completion Time", jint(wall_ms()));
    if (st->fail_reason)
        set(&info, "Failure Reason", jstr(st->fail_reason));
    set(&e, "Stage Info", info);
    emit(el, e);
}

/* ---------------------------------------------------------- executors */

void eventlog_executor_added(eventlog *el, const char *exec_id,
                             const char *host, int cores, int64_t pid,
                             const char *block_endpoint)
{
    json_t *e, *info;
    if (!el)
        return;
    e = event("SparkListenerExecutorAdded");
    set(&e, "Timestamp", jint(wall_ms()));
    set(&e, "Executor ID", jstr(exec_id));
    info = json_object();
    set(&info, "Host", jstr(host));
    set(&info, "Total Cores", jint(cores));
    set(&info, "Process ID", jint(pid));
    set(&info, "Block Endpoint", jstr(block_endpoint));
    set(&e, "Executor Info", info);
    emit(el, e);
}

void eventlog_executor_removed(eventlog *el, const char *exec_id,
                               const char *reason)
{
    json_t *e;
    if (!el)
        return;
    e = event("SparkListenerExecutorRemoved");
    set(&e, "Timestamp", jint(wall_ms()));
    set(&e, "Executor ID", jstr(exec_id));
    set(&e, "Removed Reason", jstr(reason));
    emit(el, e);
}

void eventlog_metrics(eventlog *el, const char *exec_id,
                      const msg_heartbeat *hb)
{
    json_t *e, *mem, *tasks;
    if (!el)
        return;
    e = event("SparkListenerExecutorMetricsUpdate");
    set(&e, "Executor ID", jstr(exec_id));
    mem = json_object();
    set(&mem, "ProcessTreeRSS", jint(hb->rss));
    set(&mem, "PeakRSS", jint(hb->peak_rss));
    set(&e, "Executor Metrics", mem);
    tasks = json_array();
    for (int i = 0; i < hb->ntasks; i++) {
        const msg_task_metrics *t = &hb->tasks[i];
        json_t *o = json_object();
        set(&o, "Task ID", jint((int64_t)t->task_id));
        set(&o, "Executor Run Time", jint(t->run_ms));
        set(&o, "Records Read", jint(t->records_in));
        set(&o, "Memory", jint(t->memory));
        if (t->nacc > 0) {
            json_t *accs = json_array();
            for (int k = 0; k < t->nacc; k++) {
                json_t *a = json_object();
                set(&a, "ID", jint(t->acc_id[k]));
                set(&a, "Value", jreal(t->acc_value[k]));
                push(&accs, a);
            }
            set(&o, "Accumulator Updates", accs);
        }
        push(&tasks, o);
    }
    set(&e, "Metrics Updated", tasks);
    emit(el, e);
}

/* -------------------------------------------------------------- tasks */

/* failed < 0: the task is starting (no finish fields). */
static json_t *task_info(const ev_task *t, int failed, int killed)
{
    json_t *o = json_object();
    set(&o, "Task ID", jint((int64_t)t->tid));
    set(&o, "Index", jint(t->index));
    set(&o, "Attempt", jint(t->attempt));
    set(&o, "Partition ID", jint(t->partition));
    set(&o, "Launch Time", jint(t->launch_ms));
    set(&o, "Executor ID", jstr(t->exec_id));
    set(&o, "Host", jstr(t->host));
    set(&o, "Locality", jstr(locality_name(t->locality)));
    set(&o, "Speculative", json_boolean(t->speculative));
    if (failed >= 0) {
        set(&o, "Finish Time", jint(wall_ms()));
        set(&o, "Failed", json_boolean(failed));
        set(&o, "Killed", json_boolean(killed));
    }
    return o;
}

void eventlog_task_start(eventlog *el, const ev_task *t)
{
    json_t *e;
    if (!el)
        return;
    e = event("SparkListenerTaskStart");
    set(&e, "Stage ID", jint(t->stage_id));
    set(&e, "Stage Attempt ID", jint(t->stage_attempt));
    set(&e, "Task Info", task_info(t, -1, 0));
    emit(el, e);
}

static json_t *task_metrics(const msg_status *m)
{
    json_t *o = json_object(), *in = json_object(), *rdm = json_object(),
           *wr = json_object();
    set(&o, "Executor Run Time", jint(m->run_us / 1000));
    set(&o, "Result Size",
        jint((int64_t)(m->indirect_size ? m->indirect_size : m->result_len)));
    set(&o, "Result Path",
        json_string(m->indirect_size ? "indirect" : "direct"));
    set(&o, "Peak Execution Memory", jint(m->peak_memory));
    set(&in, "Records Read", jint(m->records_in));
    set(&o, "Input Metrics", in);
    set(&rdm, "Remote Bytes Read", jint(m->shuffle_read_bytes));
    set(&rdm, "Data Transport Bytes Read", jint(m->data_transport_bytes));
    set(&o, "Shuffle Read Metrics", rdm);
    set(&wr, "Shuffle Bytes Written", jint(m->shuffle_write_bytes));
    set(&o, "Shuffle Write Metrics", wr);
    set(&o, "Memory Bytes Spilled", jint(m->spill_bytes));
    return o;
}

void eventlog_task_end(eventlog *el, const ev_task *t, const char *reason,
                       const char *desc, const msg_status *m)
{
    json_t *e, *why;
    if (!el)
        return;
    e = event("SparkListenerTaskEnd");
    set(&e, "Stage ID", jint(t->stage_id));
    set(&e, "Stage Attempt ID", jint(t->stage_attempt));
    set(&e, "Task Type",
        json_string(t->is_map ? "ShuffleMapTask" : "ResultTask"));
    why = json_object();
    set(&why, "Reason", jstr(reason));
    if (desc)
        set(&why, "Description", jstr(desc));
    if (m && m->traceback && *m->traceback)
        set(&why, "Full Stack Trace", jstr(m->traceback));
    set(&e, "Task End Reason", why);
    set(&e, "Task Info",
        task_info(t, strcmp(reason, "Success") != 0,
                  strcmp(reason, "TaskKilled") == 0));
    if (m)
        set(&e, "Task Metrics", task_metrics(m));
    emit(el, e);
}
