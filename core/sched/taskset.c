/*
 * taskset.c -- one stage attempt's tasks: locality, delay scheduling,
 * retries, speculation (see taskset.h).
 *
 * How it works (after Spark's TaskSetManager).  Every task is pushed onto
 * pending lists: one per preferred executor, host and rack, a list of tasks
 * without preferences, and the list of all tasks.  Lists are stacks filled
 * in reverse, so task 0 comes out first; entries are removed lazily (a
 * popped task that is running or done is skipped).  The valid locality
 * levels are those with pending tasks and a live executor, host or rack;
 * ANY is always valid.
 *
 * Delay scheduling: the task set sits at a current level.  An offer may
 * launch tasks at that level or better.  The level relaxes to the next one
 * when it has no pending tasks left (at once) or when no task launched at it
 * for its wait (locality.wait.*); launching a task moves the current level
 * back to that task's level and restarts the wait.
 *
 * Threads: the driver's loop thread only.
 */
#include "taskset.h"

#include <stdlib.h>
#include <string.h>

const char *locality_name(int level)
{
    static const char *names[] = {"PROCESS_LOCAL", "NODE_LOCAL", "NO_PREF",
                                  "RACK_LOCAL", "ANY"};
    return level >= 0 && level < LOC_NLEVELS ? names[level] : "UNKNOWN";
}

void ts_config_default(ts_config *c)
{
    memset(c, 0, sizeof *c);
    c->wait_ms[LOC_PROCESS_LOCAL] = 3000;
    c->wait_ms[LOC_NODE_LOCAL] = 3000;
    c->wait_ms[LOC_RACK_LOCAL] = 3000;
    c->max_failures = 4;
    c->spec_multiplier = 3.0;
    c->spec_quantile = 0.9;
    c->spec_min_ms = 100;
}

typedef struct ilist {
    int *v;
    int n;
    int cap;
} ilist;

typedef struct keyed {
    char *key;
    ilist l;
} keyed;

typedef struct kmap {
    keyed *v;
    int n;
} kmap;

typedef struct strs {
    char **v;
    int n;
} strs;

typedef struct tinfo {
    strs execs, hosts, racks;
    int done;
    int failures;
    int attempts;
    int running;
    int64_t launch_ms;
    int speculatable;
    char *run_exec[2]; /* executors running a copy */
} tinfo;

struct taskset {
    int n;
    tinfo *t;
    ts_config cfg;
    kmap for_exec, for_host, for_rack;
    ilist no_prefs, all;
    ts_exec *live;
    int nlive;
    int levels[LOC_NLEVELS];
    int nlevels;
    int cur;
    int64_t last_reset;
    int remaining;
    int64_t *durations;
    int ndur;
    int dirty;        /* preferences changed: rebuild the lists */
    int levels_known; /* levels computed from live executors once */
    int dur_cap;
    int premarked; /* tasks done elsewhere when the set was created */
};

/* ------------------------------------------------------------- helpers */

static int ilist_push(ilist *l, int x)
{
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 8;
        int *nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = x;
    return 0;
}

static ilist *kmap_get(kmap *m, const char *key, int create)
{
    keyed *nv;
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->v[i].key, key) == 0)
            return &m->v[i].l;
    if (!create)
        return NULL;
    nv = realloc(m->v, (size_t)(m->n + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    m->v = nv;
    memset(&nv[m->n], 0, sizeof nv[m->n]);
    if (!(nv[m->n].key = strdup(key)))
        return NULL;
    return &m->v[m->n++].l;
}

static void kmap_free(kmap *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].l.v);
    }
    free(m->v);
}

static int strs_add(strs *s, const char *x)
{
    char **nv = realloc(s->v, (size_t)(s->n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    s->v = nv;
    if (!(nv[s->n] = strdup(x)))
        return -1;
    s->n++;
    return 0;
}

static void strs_free(strs *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static int is_pending(const taskset *ts, int i)
{
    return !ts->t[i].done && ts->t[i].running == 0;
}

/* Pop the next pending task of l (lazy removal); -1 if none. */
static int pop_pending(taskset *ts, ilist *l)
{
    while (l && l->n > 0) {
        int i = l->v[--l->n];
        if (is_pending(ts, i))
            return i;
    }
    return -1;
}

/* Does l still hold a pending task?  Drops stale entries from the top. */
static int has_pending(taskset *ts, ilist *l)
{
    while (l && l->n > 0) {
        if (is_pending(ts, l->v[l->n - 1]))
            return 1;
        l->n--;
    }
    return 0;
}

static int kmap_has_pending(taskset *ts, kmap *m)
{
    for (int i = 0; i < m->n; i++)
        if (has_pending(ts, &m->v[i].l))
            return 1;
    return 0;
}

/* Put task i on every list it belongs to. */
static void add_pending(taskset *ts, int i)
{
    tinfo *t = &ts->t[i];
    for (int k = 0; k < t->execs.n; k++)
        ilist_push(kmap_get(&ts->for_exec, t->execs.v[k], 1), i);
    for (int k = 0; k < t->hosts.n; k++)
        ilist_push(kmap_get(&ts->for_host, t->hosts.v[k], 1), i);
    for (int k = 0; k < t->racks.n; k++)
        ilist_push(kmap_get(&ts->for_rack, t->racks.v[k], 1), i);
    if (t->execs.n == 0 && t->hosts.n == 0 && t->racks.n == 0)
        ilist_push(&ts->no_prefs, i);
    ilist_push(&ts->all, i);
}

static void rebuild_lists(taskset *ts)
{
    for (int i = 0; i < ts->for_exec.n; i++)
        ts->for_exec.v[i].l.n = 0;
    for (int i = 0; i < ts->for_host.n; i++)
        ts->for_host.v[i].l.n = 0;
    for (int i = 0; i < ts->for_rack.n; i++)
        ts->for_rack.v[i].l.n = 0;
    ts->no_prefs.n = ts->all.n = 0;
    for (int i = ts->n - 1; i >= 0; i--)
        add_pending(ts, i);
}

/* --------------------------------------------------------------- API */

taskset *taskset_new(int ntasks, const ts_config *cfg, int64_t now)
{
    taskset *ts = calloc(1, sizeof *ts);
    if (!ts)
        return NULL;
    ts->t = calloc((size_t)ntasks + 1, sizeof *ts->t);
    ts->durations = calloc((size_t)ntasks + 1, sizeof *ts->durations);
    if (!ts->t || !ts->durations) {
        free(ts->t);
        free(ts->durations);
        free(ts);
        return NULL;
    }
    ts->n = ntasks;
    ts->remaining = ntasks;
    ts->dur_cap = ntasks + 1;
    if (cfg)
        ts->cfg = *cfg;
    else
        ts_config_default(&ts->cfg);
    if (ts->cfg.max_failures < 1)
        ts->cfg.max_failures = 1;
    ts->last_reset = now;
    rebuild_lists(ts);
    ts->levels[0] = LOC_ANY;
    ts->nlevels = 1;
    return ts;
}

void taskset_destroy(taskset **tsp)
{
    taskset *ts = tsp ? *tsp : NULL;
    if (!ts)
        return;
    for (int i = 0; i < ts->n; i++) {
        strs_free(&ts->t[i].execs);
        strs_free(&ts->t[i].hosts);
        strs_free(&ts->t[i].racks);
        free(ts->t[i].run_exec[0]);
        free(ts->t[i].run_exec[1]);
    }
    free(ts->t);
    kmap_free(&ts->for_exec);
    kmap_free(&ts->for_host);
    kmap_free(&ts->for_rack);
    free(ts->no_prefs.v);
    free(ts->all.v);
    for (int i = 0; i < ts->nlive; i++) {
        free((char *)ts->live[i].id);
        free((char *)ts->live[i].host);
        free((char *)ts->live[i].rack);
    }
    free(ts->live);
    free(ts->durations);
    free(ts);
    *tsp = NULL;
}

static int prefer(taskset *ts, int task, strs *which, const char *v)
{
    if (task < 0 || task >= ts->n || !v)
        return -1;
    if (strs_add(which, v))
        return -1;
    ts->dirty = 1;
    return 0;
}

int taskset_prefer_exec(taskset *ts, int task, const char *exec_id)
{
    return task < 0 || task >= ts->n
               ? -1
               : prefer(ts, task, &ts->t[task].execs, exec_id);
}

int taskset_prefer_host(taskset *ts, int task, const char *host)
{
    return task < 0 || task >= ts->n
               ? -1
               : prefer(ts, task, &ts->t[task].hosts, host);
}

int taskset_prefer_rack(taskset *ts, int task, const char *rack)
{
    return task < 0 || task >= ts->n
               ? -1
               : prefer(ts, task, &ts->t[task].racks, rack);
}

static void sync(taskset *ts)
{
    if (ts->dirty) {
        ts->dirty = 0;
        rebuild_lists(ts);
    }
}

static int live_has(const taskset *ts, int what, const char *key)
{
    for (int i = 0; i < ts->nlive; i++) {
        const char *v = what == 0   ? ts->live[i].id
                        : what == 1 ? ts->live[i].host
                                    : ts->live[i].rack;
        if (v && strcmp(v, key) == 0)
            return 1;
    }
    return 0;
}

static int kmap_has_live(taskset *ts, kmap *m, int what)
{
    for (int i = 0; i < m->n; i++)
        if (has_pending(ts, &m->v[i].l) && live_has(ts, what, m->v[i].key))
            return 1;
    return 0;
}

/* index of the first valid level >= level */
static int level_index(const taskset *ts, int level)
{
    int i = 0;
    while (i < ts->nlevels - 1 && level > ts->levels[i])
        i++;
    return i;
}

static void compute_levels(taskset *ts)
{
    int prev = ts->levels[ts->cur < ts->nlevels ? ts->cur : 0];
    int prev_index = ts->cur, old[LOC_NLEVELS], nold = ts->nlevels;
    memcpy(old, ts->levels, sizeof old);
    ts->nlevels = 0;
    if (kmap_has_live(ts, &ts->for_exec, 0))
        ts->levels[ts->nlevels++] = LOC_PROCESS_LOCAL;
    if (kmap_has_live(ts, &ts->for_host, 1))
        ts->levels[ts->nlevels++] = LOC_NODE_LOCAL;
    if (has_pending(ts, &ts->no_prefs))
        ts->levels[ts->nlevels++] = LOC_NO_PREF;
    if (kmap_has_live(ts, &ts->for_rack, 2))
        ts->levels[ts->nlevels++] = LOC_RACK_LOCAL;
    ts->levels[ts->nlevels++] = LOC_ANY;
    if (!ts->levels_known) {
        /* a new task set starts at its most local level */
        ts->levels_known = 1;
        ts->cur = 0;
        return;
    }
    ts->cur = level_index(ts, prev);
    if (ts->cur > prev_index) {
        /* SPARK-31837: a more local level appeared (an executor joined):
           move to the first new level */
        for (int i = 0; i < ts->nlevels; i++) {
            int seen = 0;
            for (int k = 0; k < nold; k++)
                seen |= old[k] == ts->levels[i];
            if (!seen) {
                ts->cur = i;
                break;
            }
        }
    }
}

void taskset_set_executors(taskset *ts, const ts_exec *execs, int n)
{
    sync(ts);
    for (int i = 0; i < ts->nlive; i++) {
        free((char *)ts->live[i].id);
        free((char *)ts->live[i].host);
        free((char *)ts->live[i].rack);
    }
    free(ts->live);
    ts->live = calloc((size_t)n + 1, sizeof *ts->live);
    ts->nlive = 0;
    for (int i = 0; ts->live && i < n; i++) {
        ts->live[i].id = strdup(execs[i].id);
        ts->live[i].host = strdup(execs[i].host ? execs[i].host : "");
        ts->live[i].rack = execs[i].rack ? strdup(execs[i].rack) : NULL;
        ts->nlive++;
    }
    compute_levels(ts);
}

void taskset_mark_done(taskset *ts, int task)
{
    if (task < 0 || task >= ts->n || ts->t[task].done)
        return;
    ts->t[task].done = 1;
    ts->remaining--;
    ts->premarked++;
}

int taskset_levels(const taskset *ts, int *levels)
{
    memcpy(levels, ts->levels, (size_t)ts->nlevels * sizeof *levels);
    return ts->nlevels;
}

static int more_at(taskset *ts, int level)
{
    switch (level) {
    case LOC_PROCESS_LOCAL:
        return kmap_has_pending(ts, &ts->for_exec);
    case LOC_NODE_LOCAL:
        return kmap_has_pending(ts, &ts->for_host);
    case LOC_NO_PREF:
        return has_pending(ts, &ts->no_prefs);
    case LOC_RACK_LOCAL:
        return kmap_has_pending(ts, &ts->for_rack);
    default:
        return has_pending(ts, &ts->all);
    }
}

int taskset_allowed_level(taskset *ts, int64_t now)
{
    sync(ts);
    while (ts->cur < ts->nlevels - 1) {
        int level = ts->levels[ts->cur];
        int64_t wait = ts->cfg.wait_ms[level];
        if (!more_at(ts, level)) {
            /* nothing left at this level: move on without waiting */
            ts->last_reset = now;
            ts->cur++;
        } else if (now - ts->last_reset >= wait) {
            ts->last_reset += wait;
            ts->cur++;
        } else {
            break;
        }
    }
    return ts->levels[ts->cur];
}

static int dequeue(taskset *ts, const ts_exec *e, int allowed, int *level)
{
    int i;
    if ((i = pop_pending(ts, kmap_get(&ts->for_exec, e->id, 0))) >= 0) {
        *level = LOC_PROCESS_LOCAL;
        return i;
    }
    if (allowed >= LOC_NODE_LOCAL && e->host &&
        (i = pop_pending(ts, kmap_get(&ts->for_host, e->host, 0))) >= 0) {
        *level = LOC_NODE_LOCAL;
        return i;
    }
    if (allowed >= LOC_NO_PREF && (i = pop_pending(ts, &ts->no_prefs)) >= 0) {
        *level = LOC_PROCESS_LOCAL; /* as Spark: no preference is met */
        return i;
    }
    if (allowed >= LOC_RACK_LOCAL && e->rack &&
        (i = pop_pending(ts, kmap_get(&ts->for_rack, e->rack, 0))) >= 0) {
        *level = LOC_RACK_LOCAL;
        return i;
    }
    if (allowed >= LOC_ANY && (i = pop_pending(ts, &ts->all)) >= 0) {
        *level = LOC_ANY;
        return i;
    }
    return -1;
}

static int runs_on(const tinfo *t, const char *exec)
{
    for (int k = 0; k < 2; k++)
        if (t->run_exec[k] && strcmp(t->run_exec[k], exec) == 0)
            return 1;
    return 0;
}

static void note_running(tinfo *t, const char *exec)
{
    for (int k = 0; k < 2; k++)
        if (!t->run_exec[k]) {
            t->run_exec[k] = strdup(exec);
            return;
        }
}

int taskset_offer(taskset *ts, const ts_exec *exec, int max_level, int64_t now,
                  int *level, int *speculative)
{
    int allowed = max_level, i, lvl = LOC_ANY;
    *speculative = 0;
    if (max_level != LOC_NO_PREF) {
        int a = taskset_allowed_level(ts, now);
        if (a < allowed)
            allowed = a;
    }
    i = dequeue(ts, exec, allowed, &lvl);
    if (i < 0 && allowed >= LOC_ANY) {
        /* a speculative copy of a straggler, never where a copy runs */
        for (int k = 0; k < ts->n; k++) {
            tinfo *t = &ts->t[k];
            if (t->speculatable && !t->done && t->running == 1 &&
                !runs_on(t, exec->id)) {
                t->speculatable = 0;
                i = k;
                lvl = LOC_ANY;
                *speculative = 1;
                break;
            }
        }
    }
    if (i < 0)
        return -1;
    if (!*speculative && max_level != LOC_NO_PREF) {
        ts->cur = level_index(ts, lvl);
        ts->last_reset = now;
    }
    ts->t[i].attempts++;
    if (ts->t[i].running++ == 0)
        ts->t[i].launch_ms = now;
    note_running(&ts->t[i], exec->id);
    *level = lvl;
    return i;
}

static void clear_running(tinfo *t)
{
    if (t->running > 0)
        t->running--;
    if (t->running == 0) {
        free(t->run_exec[0]);
        free(t->run_exec[1]);
        t->run_exec[0] = t->run_exec[1] = NULL;
    }
}

int taskset_succeeded(taskset *ts, int task, int64_t now, int64_t run_ms)
{
    tinfo *t;
    (void)now;
    if (task < 0 || task >= ts->n)
        return 0;
    t = &ts->t[task];
    clear_running(t);
    if (t->done)
        return 0;
    t->done = 1;
    t->speculatable = 0;
    ts->remaining--;
    if (ts->ndur == ts->dur_cap) {
        int nc = ts->dur_cap * 2 + 8;
        int64_t *nd = realloc(ts->durations, (size_t)nc * sizeof *nd);
        if (!nd)
            return 1; /* the duration is only for speculation */
        ts->durations = nd;
        ts->dur_cap = nc;
    }
    ts->durations[ts->ndur++] = run_ms;
    return 1;
}

int taskset_failed(taskset *ts, int task, int counted)
{
    tinfo *t;
    if (task < 0 || task >= ts->n)
        return 0;
    t = &ts->t[task];
    clear_running(t);
    if (t->done)
        return 0;
    if (counted && ++t->failures >= ts->cfg.max_failures)
        return 1;
    if (t->running == 0)
        add_pending(ts, task);
    return 0;
}

void taskset_attempt_lost(taskset *ts, int task)
{
    taskset_failed(ts, task, 0);
}

void taskset_resubmit(taskset *ts, int task)
{
    if (task < 0 || task >= ts->n || !ts->t[task].done)
        return;
    ts->t[task].done = 0;
    ts->remaining++;
    add_pending(ts, task);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int taskset_check_speculation(taskset *ts, int64_t now)
{
    int need, marked = 0;
    int64_t median, threshold;
    if (!ts->cfg.speculation || ts->n == 0)
        return 0;
    /* Spark's task set holds only the tasks that were missing */
    need = (int)(ts->cfg.spec_quantile * (ts->n - ts->premarked));
    if (need < 1)
        need = 1;
    if (ts->ndur < need)
        return 0;
    qsort(ts->durations, (size_t)ts->ndur, sizeof *ts->durations, cmp_i64);
    median =
        ts->ndur % 2
            ? ts->durations[ts->ndur / 2]
            : (ts->durations[ts->ndur / 2 - 1] + ts->durations[ts->ndur / 2]) /
                  2;
    threshold = (int64_t)(ts->cfg.spec_multiplier * (double)median);
    if (threshold < ts->cfg.spec_min_ms)
        threshold = ts->cfg.spec_min_ms;
    for (int i = 0; i < ts->n; i++) {
        tinfo *t = &ts->t[i];
        if (!t->done && t->running == 1 && !t->speculatable &&
            now - t->launch_ms > threshold) {
            t->speculatable = 1;
            marked++;
        }
    }
    return marked;
}

int taskset_ntasks(const taskset *ts)
{
    return ts->n;
}

int taskset_pending(const taskset *ts)
{
    int n = 0;
    for (int i = 0; i < ts->n; i++)
        n += is_pending(ts, i);
    return n;
}

int taskset_running(const taskset *ts)
{
    int n = 0;
    for (int i = 0; i < ts->n; i++)
        n += ts->t[i].running;
    return n;
}

int taskset_remaining(const taskset *ts)
{
    return ts->remaining;
}

int taskset_failures(const taskset *ts, int task)
{
    return task >= 0 && task < ts->n ? ts->t[task].failures : 0;
}

int taskset_attempts(const taskset *ts, int task)
{
    return task >= 0 && task < ts->n ? ts->t[task].attempts : 0;
}

int taskset_is_done(const taskset *ts, int task)
{
    return task >= 0 && task < ts->n && ts->t[task].done;
}

int taskset_running_copies(const taskset *ts, int task)
{
    return task >= 0 && task < ts->n ? ts->t[task].running : 0;
}
