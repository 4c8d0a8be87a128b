/*
 * test_taskset.c -- core/sched/taskset.c, the task-set scheduler (Spark's
 * TaskSetManager): valid locality levels, delay scheduling with exact
 * timing, retries, success bookkeeping, speculation, executor loss, and a
 * large task set.
 *
 * Deterministic: the clock is the `now` argument (ms), executors are plain
 * ts_exec values.  Every expected value below is derived from Spark's
 * semantics (docs: /work/shared/reference/spark-semantics.md §2.2-2.4;
 * code: TaskSetManager.{getAllowedLocalityLevel, dequeueTaskHelper,
 * resourceOffer, handleFailedTask, checkSpeculatableTasks,
 * recomputeLocality}), and the reasoning is written next to each check.
 *
 * The scheduler (driver.c) calls taskset_offer once per valid level, best
 * first, with max_level = that level; offer_round() below does the same
 * for one free slot.
 *
 * Known deviations from Spark are checked with TAP TODO tests (todo_ok):
 * they print "not ok N - ... # TODO ..." while the bug is present, so the
 * suite still passes, and turn into "ok ... # TODO" (unexpected success)
 * once it is fixed.
 */
#include "sched/taskset.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "tap/tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

#define NTESTS 175

/* ------------------------------------------------------------- helpers */

static ts_exec EX(const char *id, const char *host, const char *rack)
{
    ts_exec e = {id, host, rack};
    return e;
}

/* The valid levels as "PROCESS_LOCAL,NODE_LOCAL,ANY". */
static const char *levels_str(const taskset *ts)
{
    static char buf[128];
    int lv[LOC_NLEVELS], n = taskset_levels(ts, lv);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, locality_name(lv[i]));
    }
    return buf;
}

static taskset *new_ts(int n, const ts_config *cfg)
{
    taskset *ts = taskset_new(n, cfg, 0);
    if (!ts)
        bail("taskset_new(%d) failed", n);
    return ts;
}

/* One free slot on e at time now: one offer per valid level, best first,
 * max_level = that level, stopping at the first launch (as driver.c and
 * Spark's resourceOffers do).  Returns the task or -1; *level gets the
 * task's locality, *pass the max_level of the pass that launched it. */
static int offer_round(taskset *ts, const ts_exec *e, int64_t now, int *level,
                       int *pass, int *spec)
{
    int lv[LOC_NLEVELS], n = taskset_levels(ts, lv);
    int l = -1, s = 0;
    *level = *pass = -1;
    if (spec)
        *spec = 0;
    for (int i = 0; i < n; i++) {
        int t = taskset_offer(ts, e, lv[i], now, &l, &s);
        if (t >= 0) {
            *level = l;
            *pass = lv[i];
            if (spec)
                *spec = s;
            return t;
        }
    }
    return -1;
}

/* A single offer at max_level; returns the task or -1. */
static int offer1(taskset *ts, const ts_exec *e, int max_level, int64_t now,
                  int *level, int *spec)
{
    int l = -1, s = -1, t = taskset_offer(ts, e, max_level, now, &l, &s);
    if (level)
        *level = l;
    if (spec)
        *spec = s;
    return t;
}

/* Offer e a slot every ms in [from, to) and record the first launch and
 * the first time the allowed level differs from expect(t).  Returns the
 * time of the first launch or -1. */
typedef int (*level_fn)(int64_t t);
static int64_t first_bad_level_t;
static int first_bad_level_seen;
static int64_t offer_every_ms(taskset *ts, const ts_exec *e, int64_t from,
                              int64_t to, level_fn expect)
{
    int level, pass;
    int64_t launched = -1;
    first_bad_level_t = -1;
    for (int64_t t = from; t < to; t++) {
        int a;
        if (launched < 0 && offer_round(ts, e, t, &level, &pass, NULL) >= 0)
            launched = t;
        a = taskset_allowed_level(ts, t);
        if (expect && first_bad_level_t < 0 && a != expect(t)) {
            first_bad_level_t = t;
            first_bad_level_seen = a;
        }
    }
    return launched;
}

static void check_levels_over(const char *what)
{
    if (!ok(first_bad_level_t < 0, "%s", what))
        diag("     first wrong at now=%lld: allowed %s",
             (long long)first_bad_level_t, locality_name(first_bad_level_seen));
}

/* ----------------------------------------------------- 1. valid levels */

static void test_valid_levels(void)
{
    taskset *ts;
    ts_exec ex[3];

    /* Spark computeValidLocalityLevels: PROCESS_LOCAL if a pending task
     * prefers a live executor, NODE_LOCAL if one prefers a host with a
     * live executor, NO_PREF if a task has no preference, RACK_LOCAL if
     * one prefers a rack where a live executor is; ANY always, last.
     * t0 -> exec a (live), t1 -> host h2 (c lives there), t2 -> nothing,
     * t3 -> rack r1 (a's rack): all five levels, in TaskLocality order. */
    ts = new_ts(4, NULL);
    taskset_prefer_exec(ts, 0, "a");
    taskset_prefer_host(ts, 1, "h2");
    taskset_prefer_rack(ts, 3, "r1");
    ex[0] = EX("a", "h1", "r1");
    ex[1] = EX("c", "h2", "r2");
    taskset_set_executors(ts, ex, 2);
    is_string("PROCESS_LOCAL,NODE_LOCAL,NO_PREF,RACK_LOCAL,ANY", levels_str(ts),
              "levels: exec, host, no-pref and rack prefs "
              "with live executors give all five, ANY last");
    taskset_destroy(&ts);
    ok(ts == NULL, "taskset_destroy clears the pointer");

    /* Only a host preference (h1, a lives there), no executor preference
     * and every task has one: NODE_LOCAL, ANY. */
    ts = new_ts(2, NULL);
    taskset_prefer_host(ts, 0, "h1");
    taskset_prefer_host(ts, 1, "h1");
    ex[0] = EX("a", "h1", NULL);
    taskset_set_executors(ts, ex, 1);
    is_string("NODE_LOCAL,ANY", levels_str(ts),
              "levels: only host prefs -> NODE_LOCAL,ANY");
    taskset_destroy(&ts);

    /* A preferred executor that is not live ("zz") does not make
     * PROCESS_LOCAL valid (sched.isExecutorAlive); its host h1 has the
     * live executor a, so NODE_LOCAL is. */
    ts = new_ts(1, NULL);
    taskset_prefer_exec(ts, 0, "zz");
    ex[0] = EX("a", "h1", NULL);
    taskset_set_executors(ts, ex, 1);
    is_string("ANY", levels_str(ts),
              "levels: dead preferred executor alone -> ANY only");
    taskset_destroy(&ts);

    ts = new_ts(1, NULL);
    taskset_prefer_exec(ts, 0, "zz");
    taskset_prefer_host(ts, 0, "h1");
    ex[0] = EX("a", "h1", NULL);
    taskset_set_executors(ts, ex, 1);
    is_string("NODE_LOCAL,ANY", levels_str(ts),
              "levels: dead preferred executor on a live host -> "
              "NODE_LOCAL,ANY");
    /* ... and once zz registers, PROCESS_LOCAL becomes valid
     * (recomputed on executor add). */
    ex[1] = EX("zz", "h1", NULL);
    taskset_set_executors(ts, ex, 2);
    is_string("PROCESS_LOCAL,NODE_LOCAL,ANY", levels_str(ts),
              "levels: preferred executor registers -> PROCESS_LOCAL "
              "valid");
    taskset_destroy(&ts);

    /* Racks: RACK_LOCAL only when a live executor's rack matches a
     * preferred rack.  Unknown rack (NULL) or another rack: no. */
    ts = new_ts(1, NULL);
    taskset_prefer_rack(ts, 0, "r9");
    ex[0] = EX("a", "h1", NULL);
    taskset_set_executors(ts, ex, 1);
    is_string("ANY", levels_str(ts),
              "levels: rack pref, executor rack "
              "unknown -> ANY only");
    ex[0] = EX("a", "h1", "r1");
    taskset_set_executors(ts, ex, 1);
    is_string("ANY", levels_str(ts),
              "levels: rack pref r9, live rack r1 "
              "-> ANY only");
    ex[1] = EX("d", "h4", "r9");
    taskset_set_executors(ts, ex, 2);
    is_string("RACK_LOCAL,ANY", levels_str(ts),
              "levels: executor on r9 registers -> RACK_LOCAL,ANY");
    taskset_destroy(&ts);

    /* Tasks already done (mark_done) are not pending: their preference
     * does not make a level valid.  t0 -> exec a but done; t1 -> host
     * h1: NODE_LOCAL, ANY. */
    ts = new_ts(2, NULL);
    taskset_prefer_exec(ts, 0, "a");
    taskset_prefer_host(ts, 1, "h1");
    taskset_mark_done(ts, 0);
    ex[0] = EX("a", "h1", NULL);
    taskset_set_executors(ts, ex, 1);
    is_string("NODE_LOCAL,ANY", levels_str(ts),
              "levels: a done task's executor pref does not count");
    taskset_destroy(&ts);
}

/* -------------------------------------------- 2. delay scheduling timing */

static int lv_proc_until_3000(int64_t t)
{
    return t < 3000 ? LOC_PROCESS_LOCAL : LOC_NODE_LOCAL;
}

static int lv_proc_node_6000(int64_t t)
{
    return t < 3000 ? LOC_PROCESS_LOCAL : t < 6000 ? LOC_NODE_LOCAL : LOC_ANY;
}

static int lv_proc_any_3000(int64_t t)
{
    return t < 3000 ? LOC_PROCESS_LOCAL : LOC_ANY;
}

static void test_delay_fresh_taskset(void)
{
    /* The literal scenario on a fresh task set: task 0 prefers executor a
     * on host h1 (a cached location: executor and host, as Spark's
     * ExecutorCacheTaskLocation adds the task to forExecutor(a) and
     * forHost(h1)); a and b live on h1; only b offers.
     *
     * Spark: the TaskSetManager computes its levels from the live
     * executors ([PROCESS_LOCAL, NODE_LOCAL, ANY]) with
     * currentLocalityIndex 0 and lastLaunchTime = creation time (0).
     * (Even if the executors were added after creation, recomputeLocality
     * shifts to the new most local level, SPARK-31837.)  So
     * getAllowedLocalityLevel(t) is PROCESS_LOCAL for t < 3000: b, which
     * has no executor-local task, gets nothing in any pass; at 3000 the
     * level relaxes to NODE_LOCAL and b gets task 0 in its NODE pass.
     *
     * ember: taskset_new starts with levels [ANY] and taskset_set_executors
     * keeps the *previous level* (ANY) -> the current level is ANY at once
     * and delay scheduling is skipped for every new task set. */
    taskset *ts = new_ts(1, NULL);
    ts_exec ex[2] = {EX("a", "h1", NULL), EX("b", "h1", NULL)};
    int64_t when;
    int level, pass, t;

    taskset_prefer_exec(ts, 0, "a");
    taskset_prefer_host(ts, 0, "h1");
    taskset_set_executors(ts, ex, 2);
    is_string("PROCESS_LOCAL,NODE_LOCAL,ANY", levels_str(ts),
              "fresh: levels PROCESS_LOCAL,NODE_LOCAL,ANY");
    ok(taskset_allowed_level(ts, 0) == LOC_PROCESS_LOCAL,
       "fresh: allowed level at now=0 is PROCESS_LOCAL");
    when = offer_every_ms(ts, &ex[1], 0, 3000, NULL);
    ok(when < 0,
       "fresh: b (same host, not the preferred executor) gets nothing "
       "for now in 0..2999");
    t = offer_round(ts, &ex[1], 3000, &level, &pass, NULL);
    ok(t == 0 && level == LOC_NODE_LOCAL && pass == LOC_NODE_LOCAL,
       "fresh: at now=3000 b gets task 0 NODE_LOCAL in the NODE pass");
    if (when >= 0)
        diag("b launched a task at now=%lld", (long long)when);
    taskset_destroy(&ts);
}

static void test_delay_timing(void)
{
    taskset *ts;
    ts_exec ex[3];
    int64_t when;
    int level, pass, t;

    /* 2a.  Tasks 0 and 1 both prefer executor a on host h1; a and b live
     * on h1.  a takes task 0 at now=0 in its PROCESS pass: a
     * PROCESS_LOCAL launch sets currentLocalityIndex to PROCESS_LOCAL and
     * the timer to 0 (resourceOffer, legacy reset).  Task 1 is still
     * pending at PROCESS_LOCAL, so getAllowedLocalityLevel(t) is
     * PROCESS_LOCAL while t - 0 < 3000 and b gets nothing; at 3000 it
     * relaxes to NODE_LOCAL (lastLaunchTime += 3000) and b gets task 1
     * NODE_LOCAL in its NODE pass (the PROCESS pass yields nothing). */
    ts = new_ts(2, NULL);
    for (int i = 0; i < 2; i++) {
        taskset_prefer_exec(ts, i, "a");
        taskset_prefer_host(ts, i, "h1");
    }
    ex[0] = EX("a", "h1", NULL);
    ex[1] = EX("b", "h1", NULL);
    taskset_set_executors(ts, ex, 2);
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL);
    ok(t == 0 && level == LOC_PROCESS_LOCAL,
       "2a: a gets task 0 PROCESS_LOCAL at now=0 (got %d, %s)", t,
       locality_name(level));
    is_int(LOC_PROCESS_LOCAL, taskset_allowed_level(ts, 0),
           "2a: allowed level after the PROCESS_LOCAL launch: PROCESS_LOCAL");
    when = offer_every_ms(ts, &ex[1], 0, 3000, lv_proc_until_3000);
    is_int(-1, when, "2a: b gets nothing for now in 0..2999");
    check_levels_over("2a: allowed level PROCESS_LOCAL at every now in "
                      "0..2999");
    is_int(LOC_PROCESS_LOCAL, taskset_allowed_level(ts, 2999),
           "2a: allowed level at 2999: PROCESS_LOCAL");
    is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 3000),
           "2a: allowed level at 3000: NODE_LOCAL");
    is_int(-1, offer1(ts, &ex[1], LOC_PROCESS_LOCAL, 3000, NULL, NULL),
           "2a: b's PROCESS pass at 3000 finds nothing");
    t = offer1(ts, &ex[1], LOC_NODE_LOCAL, 3000, &level, NULL);
    ok(t == 1 && level == LOC_NODE_LOCAL,
       "2a: b's NODE pass at 3000 gets task 1 NODE_LOCAL (got %d, %s)", t,
       locality_name(level));
    is_int(0, taskset_pending(ts), "2a: nothing pending afterwards");
    taskset_destroy(&ts);

    /* 2b.  Tasks 0 and 1 prefer executor a and host h2 (c lives on h2);
     * b lives on h1 and offers.  Levels PROCESS_LOCAL, NODE_LOCAL, ANY.
     * After a's launch at 0: PROCESS_LOCAL for t < 3000, then NODE_LOCAL
     * (timer 3000) for t < 6000 -- b is not on h2, so its NODE pass finds
     * nothing -- then ANY at 6000 (timer 6000), where b gets task 1 ANY
     * in its ANY pass. */
    ts = new_ts(2, NULL);
    for (int i = 0; i < 2; i++) {
        taskset_prefer_exec(ts, i, "a");
        taskset_prefer_host(ts, i, "h2");
    }
    ex[0] = EX("a", "h1", NULL);
    ex[1] = EX("b", "h1", NULL);
    ex[2] = EX("c", "h2", NULL);
    taskset_set_executors(ts, ex, 3);
    is_string("PROCESS_LOCAL,NODE_LOCAL,ANY", levels_str(ts),
              "2b: levels PROCESS_LOCAL,NODE_LOCAL,ANY");
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL);
    ok(t == 0 && level == LOC_PROCESS_LOCAL,
       "2b: a gets task 0 PROCESS_LOCAL at now=0");
    when = offer_every_ms(ts, &ex[1], 0, 6000, lv_proc_node_6000);
    is_int(-1, when, "2b: b gets nothing for now in 0..5999");
    check_levels_over("2b: allowed PROCESS_LOCAL in 0..2999, NODE_LOCAL in "
                      "3000..5999");
    is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 5999),
           "2b: allowed level at 5999: NODE_LOCAL");
    is_int(LOC_ANY, taskset_allowed_level(ts, 6000),
           "2b: allowed level at 6000: ANY");
    t = offer_round(ts, &ex[1], 6000, &level, &pass, NULL);
    ok(t == 1 && level == LOC_ANY && pass == LOC_ANY,
       "2b: at 6000 b gets task 1 ANY in its ANY pass (got %d, %s, pass %s)", t,
       locality_name(level), locality_name(pass));
    taskset_destroy(&ts);

    /* 2c.  Executor preference only (no host): levels PROCESS_LOCAL, ANY;
     * the level goes straight from PROCESS_LOCAL to ANY at 3000. */
    ts = new_ts(2, NULL);
    taskset_prefer_exec(ts, 0, "a");
    taskset_prefer_exec(ts, 1, "a");
    ex[0] = EX("a", "h1", NULL);
    ex[1] = EX("b", "h1", NULL);
    taskset_set_executors(ts, ex, 2);
    is_string("PROCESS_LOCAL,ANY", levels_str(ts),
              "2c: levels PROCESS_LOCAL,ANY");
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL);
    ok(t == 0 && level == LOC_PROCESS_LOCAL,
       "2c: a gets task 0 PROCESS_LOCAL at now=0");
    when = offer_every_ms(ts, &ex[1], 0, 3000, lv_proc_any_3000);
    is_int(-1, when, "2c: b gets nothing for now in 0..2999");
    check_levels_over("2c: allowed PROCESS_LOCAL at every now in 0..2999");
    t = offer_round(ts, &ex[1], 3000, &level, &pass, NULL);
    ok(t == 1 && level == LOC_ANY && pass == LOC_ANY,
       "2c: at 3000 b gets task 1 ANY (got %d, %s)", t, locality_name(level));
    taskset_destroy(&ts);

    /* 2d.  The timer advances by the wait, not to the time of the query
     * (lastLaunchTime += wait): as 2b, but nothing asks between 0 and
     * 4000.  allowed(4000) relaxes once (timer 0 -> 3000): NODE_LOCAL;
     * ANY at 6000 (3000 + 3000), not 7000.  A fresh copy queried first at
     * 6500 relaxes twice in one call: ANY. */
    for (int k = 0; k < 2; k++) {
        ts = new_ts(2, NULL);
        for (int i = 0; i < 2; i++) {
            taskset_prefer_exec(ts, i, "a");
            taskset_prefer_host(ts, i, "h2");
        }
        ex[0] = EX("a", "h1", NULL);
        ex[1] = EX("b", "h1", NULL);
        ex[2] = EX("c", "h2", NULL);
        taskset_set_executors(ts, ex, 3);
        if (offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL) != 0)
            bail("2d: a did not get task 0");
        if (k == 0) {
            is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 4000),
                   "2d: first query at 4000: NODE_LOCAL");
            is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 5999),
                   "2d: NODE_LOCAL at 5999 (timer 3000)");
            is_int(LOC_ANY, taskset_allowed_level(ts, 6000), "2d: ANY at 6000");
        } else {
            is_int(LOC_ANY, taskset_allowed_level(ts, 6500),
                   "2d: first query at 6500 relaxes two levels: ANY");
        }
        taskset_destroy(&ts);
    }
}

/* ------------------------------------- 3. empty level skipped at once */

static void test_skip_empty_level(void)
{
    /* t0 prefers executor a, t1 prefers host h2 (c).  a takes t0 at 0
     * (PROCESS_LOCAL, timer 0).  PROCESS_LOCAL now has no pending task, so
     * getAllowedLocalityLevel(10) moves on at once (SPARK-4939) and sets
     * lastLaunchTime = 10: NODE_LOCAL at 10 (not after 3000), and the
     * NODE_LOCAL wait runs from 10: NODE_LOCAL at 3009, ANY at 3010. */
    taskset *ts = new_ts(2, NULL);
    ts_exec ex[2] = {EX("a", "h1", NULL), EX("c", "h2", NULL)};
    int level, t;

    taskset_prefer_exec(ts, 0, "a");
    taskset_prefer_host(ts, 1, "h2");
    taskset_set_executors(ts, ex, 2);
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL);
    ok(t == 0 && level == LOC_PROCESS_LOCAL,
       "3: a gets task 0 PROCESS_LOCAL at 0");
    is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 10),
           "3: PROCESS_LOCAL has nothing pending -> NODE_LOCAL at 10 "
           "without waiting");
    is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 3009),
           "3: NODE_LOCAL wait counted from the skip: NODE_LOCAL at 3009");
    is_int(LOC_ANY, taskset_allowed_level(ts, 3010), "3: ... and ANY at 3010");
    taskset_destroy(&ts);
}

/* ----------------------------------------- 4. reset on a better launch */

static void test_reset_on_launch(void)
{
    /* t0, t1, t2 prefer executor a; t3 prefers host h2 (c).  a takes t0
     * at 0.  At 3500 the level has relaxed to NODE_LOCAL (timer 3000).
     * a offers again at 4000 (PROCESS pass: allowed = min(NODE, PROCESS)
     * = PROCESS) and gets t1 PROCESS_LOCAL: currentLocalityIndex goes back
     * to PROCESS_LOCAL and the timer to 4000.  So c, whose NODE pass at
     * 4000 would have found t3 a moment before, finds nothing; the level
     * stays PROCESS_LOCAL until 6999 and is NODE_LOCAL at 7000, when c
     * gets t3 NODE_LOCAL. */
    taskset *ts = new_ts(4, NULL);
    ts_exec ex[2] = {EX("a", "h1", NULL), EX("c", "h2", NULL)};
    int level, t;

    for (int i = 0; i < 3; i++)
        taskset_prefer_exec(ts, i, "a");
    taskset_prefer_host(ts, 3, "h2");
    taskset_set_executors(ts, ex, 2);
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL);
    ok(t == 0 && level == LOC_PROCESS_LOCAL,
       "4: a gets task 0 PROCESS_LOCAL at 0");
    is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 3500),
           "4: relaxed to NODE_LOCAL at 3500");
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 4000, &level, NULL);
    ok(t == 1 && level == LOC_PROCESS_LOCAL,
       "4: a gets task 1 PROCESS_LOCAL at 4000 (got %d, %s)", t,
       locality_name(level));
    is_int(LOC_PROCESS_LOCAL, taskset_allowed_level(ts, 4000),
           "4: the launch moved the level back to PROCESS_LOCAL");
    is_int(-1, offer1(ts, &ex[1], LOC_NODE_LOCAL, 4000, NULL, NULL),
           "4: c's NODE pass at 4000 finds nothing");
    is_int(LOC_PROCESS_LOCAL, taskset_allowed_level(ts, 6999),
           "4: wait restarted at the launch: PROCESS_LOCAL at 6999");
    is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 7000),
           "4: NODE_LOCAL at 7000");
    t = offer1(ts, &ex[1], LOC_NODE_LOCAL, 7000, &level, NULL);
    ok(t == 3 && level == LOC_NODE_LOCAL,
       "4: c's NODE pass at 7000 gets task 3 NODE_LOCAL (got %d)", t);
    taskset_destroy(&ts);
}

/* --------------------------------------------------------- 5. NO_PREF */

static void test_no_pref(void)
{
    /* t0, t1, t3 prefer executor a on host h1; t2 has no preference.
     * a and a2 live on h1, b on h2.  Levels PROCESS_LOCAL, NODE_LOCAL,
     * NO_PREF, ANY.  a takes t0 at 0 (timer 0, level PROCESS_LOCAL).
     *
     * Spark's dequeueTaskHelper looks at noPrefs only if
     * isAllowed(maxLocality, NO_PREF), and resourceOffer caps the allowed
     * level at the pass's maxLocality: a no-pref task is therefore NOT
     * launched in a PROCESS_LOCAL (or NODE_LOCAL) pass while delay
     * scheduling holds PROCESS_LOCAL; it is launched in the NO_PREF pass
     * (which bypasses delay scheduling) and reported as PROCESS_LOCAL.
     * The NO_PREF pass also serves node-local tasks (forHost is looked at
     * before noPrefs) regardless of the delay, and a launch in a NO_PREF
     * pass leaves the delay-scheduling state alone. */
    taskset *ts = new_ts(4, NULL);
    ts_exec ex[3] = {EX("a", "h1", NULL), EX("a2", "h1", NULL),
                     EX("b", "h2", NULL)};
    int level, spec, t;

    taskset_prefer_exec(ts, 0, "a");
    taskset_prefer_host(ts, 0, "h1");
    taskset_prefer_exec(ts, 1, "a");
    taskset_prefer_host(ts, 1, "h1");
    taskset_prefer_exec(ts, 3, "a");
    taskset_prefer_host(ts, 3, "h1");
    taskset_set_executors(ts, ex, 3);
    is_string("PROCESS_LOCAL,NODE_LOCAL,NO_PREF,ANY", levels_str(ts),
              "5: levels PROCESS_LOCAL,NODE_LOCAL,NO_PREF,ANY");
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL);
    ok(t == 0 && level == LOC_PROCESS_LOCAL, "5: a gets task 0 at 0");

    is_int(-1, offer1(ts, &ex[2], LOC_PROCESS_LOCAL, 500, NULL, NULL),
           "5: b's PROCESS pass at 500 does not take the no-pref task");
    is_int(-1, offer1(ts, &ex[2], LOC_NODE_LOCAL, 500, NULL, NULL),
           "5: b's NODE pass at 500 gets nothing (delay holds PROCESS)");
    t = offer1(ts, &ex[2], LOC_NO_PREF, 500, &level, &spec);
    ok(t == 2 && level == LOC_PROCESS_LOCAL && spec == 0,
       "5: b's NO_PREF pass gets no-pref task 2, reported PROCESS_LOCAL "
       "(got %d, %s, spec %d)",
       t, locality_name(level), spec);

    is_int(-1, offer1(ts, &ex[1], LOC_NODE_LOCAL, 1000, NULL, NULL),
           "5: a2's NODE pass at 1000 gets nothing (delay holds PROCESS)");
    t = offer1(ts, &ex[1], LOC_NO_PREF, 1000, &level, &spec);
    ok(t == 1 && level == LOC_NODE_LOCAL,
       "5: a2's NO_PREF pass at 1000 bypasses the delay: task 1 NODE_LOCAL "
       "(got %d, %s)",
       t, locality_name(level));
    /* Had either NO_PREF-pass launch reset the timer, PROCESS_LOCAL would
     * hold until 3500 or 4000; t3 is still pending at PROCESS_LOCAL. */
    is_int(LOC_PROCESS_LOCAL, taskset_allowed_level(ts, 2999),
           "5: NO_PREF-pass launches did not touch the timer: "
           "PROCESS_LOCAL at 2999");
    is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 3000),
           "5: ... NODE_LOCAL at 3000 (timer from a's launch at 0)");
    taskset_destroy(&ts);
}

/* ------------------------------------------------- 6. per-level waits */

static int lv_per_level(int64_t t)
{
    return t < 1000   ? LOC_PROCESS_LOCAL
           : t < 6000 ? LOC_NODE_LOCAL
                      : LOC_RACK_LOCAL;
}

static void test_per_level_waits(void)
{
    /* wait.process 1000, wait.node 5000, wait.rack 2000.  t0, t1, t2 prefer
     * executor a, host h2 and rack r2; a(h1,r1), b(h1,r1), c(h2,r2),
     * d(h3,r2).  Levels PROCESS, NODE, RACK, ANY.  a takes t0 at 0.
     * b (wrong host, wrong rack) offers every ms:
     *   PROCESS_LOCAL for t < 1000; NODE_LOCAL at 1000 (timer 1000) for
     *   t < 6000; RACK_LOCAL at 6000 (timer 6000).
     * d (rack r2) offers at 6500: its RACK pass gets t1 RACK_LOCAL, which
     * resets the timer to 6500 at RACK_LOCAL; so ANY comes at 8500 (not
     * 8000), when b gets t2 ANY. */
    ts_config cfg;
    taskset *ts;
    ts_exec ex[4] = {EX("a", "h1", "r1"), EX("b", "h1", "r1"),
                     EX("c", "h2", "r2"), EX("d", "h3", "r2")};
    int64_t when;
    int level, pass, t;

    ts_config_default(&cfg);
    cfg.wait_ms[LOC_PROCESS_LOCAL] = 1000;
    cfg.wait_ms[LOC_NODE_LOCAL] = 5000;
    cfg.wait_ms[LOC_RACK_LOCAL] = 2000;
    ts = new_ts(3, &cfg);
    for (int i = 0; i < 3; i++) {
        taskset_prefer_exec(ts, i, "a");
        taskset_prefer_host(ts, i, "h2");
        taskset_prefer_rack(ts, i, "r2");
    }
    taskset_set_executors(ts, ex, 4);
    is_string("PROCESS_LOCAL,NODE_LOCAL,RACK_LOCAL,ANY", levels_str(ts),
              "6: levels PROCESS_LOCAL,NODE_LOCAL,RACK_LOCAL,ANY");
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL);
    ok(t == 0 && level == LOC_PROCESS_LOCAL, "6: a gets task 0 at 0");
    when = offer_every_ms(ts, &ex[1], 0, 6500, lv_per_level);
    is_int(-1, when, "6: b gets nothing for now in 0..6499");
    check_levels_over("6: allowed PROCESS <1000, NODE <6000, RACK <6500");
    is_int(LOC_RACK_LOCAL, taskset_allowed_level(ts, 6499),
           "6: allowed level at 6499: RACK_LOCAL");
    is_int(-1, offer1(ts, &ex[3], LOC_NODE_LOCAL, 6500, NULL, NULL),
           "6: d's NODE pass at 6500 gets nothing (not on h2)");
    t = offer_round(ts, &ex[3], 6500, &level, &pass, NULL);
    ok(t == 1 && level == LOC_RACK_LOCAL && pass == LOC_RACK_LOCAL,
       "6: d gets task 1 RACK_LOCAL in its RACK pass at 6500 (got %d, %s)", t,
       locality_name(level));
    is_int(LOC_RACK_LOCAL, taskset_allowed_level(ts, 8499),
           "6: rack wait restarted at 6500: RACK_LOCAL at 8499");
    is_int(-1, offer_round(ts, &ex[1], 8499, &level, &pass, NULL),
           "6: b gets nothing at 8499");
    is_int(LOC_ANY, taskset_allowed_level(ts, 8500), "6: ANY at 8500");
    t = offer_round(ts, &ex[1], 8500, &level, &pass, NULL);
    ok(t == 2 && level == LOC_ANY, "6: b gets task 2 ANY at 8500 (got %d, %s)",
       t, locality_name(level));
    taskset_destroy(&ts);
}

/* ----------------------------------------------------------- 7. retries */

static void test_retries(void)
{
    /* spark.task.maxFailures = 4, counted per task index: failures 1..3
     * re-queue the task (offerable again, handleFailedTask returns
     * normally), the 4th aborts.  Failures not caused by the task
     * (counted=0: executor lost, killed) never count.  Each launch is a
     * new attempt. */
    taskset *ts = new_ts(1, NULL);
    ts_exec e = EX("e0", "h0", NULL);
    int level, t, r, bad;

    taskset_set_executors(ts, &e, 1);
    for (int k = 1; k <= 3; k++) {
        t = offer1(ts, &e, LOC_ANY, k * 10, &level, NULL);
        is_int(0, t, "7: launch %d offers task 0", k);
        is_int(k, taskset_attempts(ts, 0), "7: attempts after launch %d", k);
        r = taskset_failed(ts, 0, 1);
        is_int(0, r, "7: counted failure %d of 4 does not abort", k);
        ok(taskset_failures(ts, 0) == k && taskset_pending(ts) == 1 &&
               taskset_running(ts) == 0,
           "7: after failure %d: failures %d, task pending again", k,
           taskset_failures(ts, 0));
    }
    t = offer1(ts, &e, LOC_ANY, 40, &level, NULL);
    is_int(0, t, "7: the task is offered a 4th time");
    is_int(4, taskset_attempts(ts, 0), "7: attempts 4");
    is_int(1, taskset_failed(ts, 0, 1), "7: 4th counted failure aborts");
    is_int(4, taskset_failures(ts, 0), "7: failures 4");
    taskset_destroy(&ts);

    /* Not counted: 10 not-counted failures and 10 lost attempts, each
     * after a launch, never abort and leave failures at 0; the task is
     * offered every time (20 attempts).  Then it still takes 4 counted
     * failures to abort. */
    ts = new_ts(1, NULL);
    taskset_set_executors(ts, &e, 1);
    bad = 0;
    for (int k = 0; k < 20; k++) {
        t = offer1(ts, &e, LOC_ANY, k, &level, NULL);
        if (t != 0)
            bad++;
        if (k < 10) {
            if (taskset_failed(ts, 0, 0) != 0)
                bad++;
        } else {
            taskset_attempt_lost(ts, 0);
        }
    }
    is_int(0, bad,
           "7: 10 not-counted failures + 10 lost attempts: task "
           "re-offered each time, never abort");
    is_int(0, taskset_failures(ts, 0), "7: not-counted failures count 0");
    is_int(20, taskset_attempts(ts, 0), "7: 20 launches -> 20 attempts");
    ok(taskset_pending(ts) == 1 && taskset_remaining(ts) == 1,
       "7: task pending again and remaining after a lost attempt");
    bad = 0;
    for (int k = 1; k <= 3; k++) {
        offer1(ts, &e, LOC_ANY, 100 + k, &level, NULL);
        bad += taskset_failed(ts, 0, 1) != 0;
    }
    offer1(ts, &e, LOC_ANY, 200, &level, NULL);
    ok(bad == 0 && taskset_failed(ts, 0, 1) == 1,
       "7: after them, counted failures still abort at exactly the 4th");
    taskset_destroy(&ts);

    /* Pending lists are stacks: a failed task goes back on top (Spark:
     * "it is put back at the head of the stack"), before untried tasks. */
    ts = new_ts(3, NULL);
    taskset_set_executors(ts, &e, 1);
    ok(offer1(ts, &e, LOC_ANY, 0, NULL, NULL) == 0 &&
           offer1(ts, &e, LOC_ANY, 0, NULL, NULL) == 1,
       "7: tasks are offered in index order");
    taskset_failed(ts, 1, 1);
    is_int(1, offer1(ts, &e, LOC_ANY, 1, NULL, NULL),
           "7: the failed task 1 is offered before untried task 2");
    is_int(2, offer1(ts, &e, LOC_ANY, 1, NULL, NULL), "7: then task 2");
    taskset_destroy(&ts);
}

/* ----------------------------------------------------------- 8. success */

static void test_success(void)
{
    taskset *ts = new_ts(4, NULL);
    ts_exec e = EX("e0", "h0", NULL);
    char seq[64] = "";
    int t;

    taskset_set_executors(ts, &e, 1);
    is_int(4, taskset_remaining(ts), "8: remaining 4 at start");
    taskset_mark_done(ts, 1);
    taskset_mark_done(ts, 1);
    is_int(3, taskset_remaining(ts),
           "8: mark_done(1) twice -> remaining 3 (once)");
    ok(taskset_is_done(ts, 1) && !taskset_is_done(ts, 0),
       "8: task 1 done, task 0 not");
    is_int(3, taskset_pending(ts), "8: 3 tasks pending");

    /* Only 0, 2, 3 are ever offered, in index order, then nothing. */
    for (int k = 0; k < 6; k++) {
        int lv, pass;
        t = offer_round(ts, &e, 0, &lv, &pass, NULL);
        if (t < 0)
            break;
        snprintf(seq + strlen(seq), sizeof seq - strlen(seq), "%s%d",
                 seq[0] ? "," : "", t);
    }
    is_string("0,2,3", seq, "8: offers 0,2,3 and never the done task 1");
    is_int(3, taskset_running(ts), "8: 3 running copies");

    is_int(1, taskset_succeeded(ts, 0, 10, 10),
           "8: first success of task 0 returns 1");
    is_int(2, taskset_remaining(ts), "8: remaining 2");
    is_int(0, taskset_succeeded(ts, 0, 11, 11),
           "8: a later success of task 0 returns 0");
    is_int(2, taskset_remaining(ts), "8: remaining still 2");
    ok(taskset_is_done(ts, 0), "8: task 0 done");
    is_int(1, taskset_succeeded(ts, 2, 12, 12), "8: task 2 succeeds");
    is_int(1, taskset_succeeded(ts, 3, 13, 13), "8: task 3 succeeds");
    is_int(0, taskset_remaining(ts), "8: remaining 0");
    ok(taskset_pending(ts) == 0 && taskset_running(ts) == 0,
       "8: nothing pending or running");
    is_int(-1, offer1(ts, &e, LOC_ANY, 20, NULL, NULL),
           "8: nothing offered when all are done");

    /* Resubmit (map output lost): done -> pending, remaining +1; it is
     * offered again; resubmitting a task that is not done does nothing. */
    taskset_resubmit(ts, 0);
    ok(taskset_remaining(ts) == 1 && !taskset_is_done(ts, 0) &&
           taskset_pending(ts) == 1,
       "8: resubmit(0): remaining 1, task 0 pending");
    is_int(0, offer1(ts, &e, LOC_ANY, 30, NULL, NULL),
           "8: the resubmitted task 0 is offered");
    taskset_resubmit(ts, 0);
    is_int(1, taskset_remaining(ts),
           "8: resubmit of a running (not done) task changes nothing");
    is_int(1, taskset_succeeded(ts, 0, 40, 10),
           "8: the rerun's success is the first since the resubmit -> 1");
    is_int(0, taskset_remaining(ts), "8: remaining 0 again");
    taskset_resubmit(ts, 1);
    is_int(1, taskset_remaining(ts), "8: resubmit a mark_done'd task");
    is_int(1, offer1(ts, &e, LOC_ANY, 50, NULL, NULL),
           "8: ... and it is offered now");
    is_int(1, taskset_succeeded(ts, 1, 60, 10), "8: task 1 succeeds");
    is_int(0, taskset_remaining(ts), "8: all done");
    taskset_destroy(&ts);
}

/* ------------------------------------------------------- 9. speculation */

/* 4 tasks without preferences, launched at 0 on e0..e3 (hosts h0..h3);
 * tasks 0..nsucc-1 succeed at 100 with run_ms 100. */
static taskset *spec_fixture(const ts_config *cfg, ts_exec *ex, int nexec,
                             int nsucc)
{
    taskset *ts = new_ts(4, cfg);
    taskset_set_executors(ts, ex, nexec);
    for (int i = 0; i < 4; i++) {
        int lv, pass, t = offer_round(ts, &ex[i], 0, &lv, &pass, NULL);
        if (t != i)
            bail("spec fixture: e%d got task %d", i, t);
    }
    for (int i = 0; i < nsucc; i++)
        if (taskset_succeeded(ts, i, 100, 100) != 1)
            bail("spec fixture: success of %d", i);
    return ts;
}

static void spec_config(ts_config *cfg)
{
    ts_config_default(cfg);
    cfg->speculation = 1;
    cfg->spec_quantile = 0.75;
    cfg->spec_multiplier = 1.5;
    cfg->spec_min_ms = 100;
}

static void test_speculation(void)
{
    ts_config cfg;
    ts_exec ex[6] = {EX("e0", "h0", NULL), EX("e1", "h1", NULL),
                     EX("e2", "h2", NULL), EX("e3", "h3", NULL),
                     EX("e4", "h4", NULL), EX("e3b", "h3", NULL)};
    taskset *ts;
    int level, spec, t;

    /* quantile 0.75 of 4 tasks: floor(3) successes needed.  Median of
     * {100,100,100} = 100, threshold = max(1.5 * 100, 100) = 150; a task
     * is speculatable when its single copy has run > 150 ms (strict). */
    spec_config(&cfg);
    ts = spec_fixture(&cfg, ex, 5, 2);
    is_int(0, taskset_check_speculation(ts, 1000),
           "9: 2 of 4 done (< floor(0.75*4)=3): nothing marked even at "
           "1000");
    if (taskset_succeeded(ts, 2, 100, 100) != 1)
        bail("success of task 2");
    is_int(0, taskset_check_speculation(ts, 140),
           "9: 3 done; task 3 has run 140 <= 150: not marked");
    is_int(0, taskset_check_speculation(ts, 150),
           "9: at 150 (not > 150): not marked");
    is_int(1, taskset_check_speculation(ts, 200),
           "9: at 200 (> 150): task 3 marked");
    is_int(0, taskset_check_speculation(ts, 300),
           "9: already marked: not counted again");

    /* The copy: never on the executor running the task, only in an ANY
     * pass (ember's design: speculative copies are placed at ANY), and
     * reported as speculative. */
    is_int(-1, offer_round(ts, &ex[3], 200, &level, &t, NULL),
           "9: e3 (running task 3) gets no copy in any pass");
    is_int(-1, offer1(ts, &ex[4], LOC_NO_PREF, 200, NULL, NULL),
           "9: e4's NO_PREF pass gets no copy");
    t = offer1(ts, &ex[4], LOC_ANY, 200, &level, &spec);
    ok(t == 3 && spec == 1 && level == LOC_ANY,
       "9: e4's ANY pass gets a speculative copy of task 3 (got %d, spec "
       "%d, %s)",
       t, spec, locality_name(level));
    ok(taskset_running_copies(ts, 3) == 2 && taskset_running(ts) == 2,
       "9: task 3 has 2 running copies");
    is_int(-1, offer1(ts, &ex[0], LOC_ANY, 210, NULL, NULL),
           "9: no second copy");
    is_int(0, taskset_check_speculation(ts, 1000),
           "9: 2 copies running: not speculatable again");
    is_int(1, taskset_succeeded(ts, 3, 250, 50),
           "9: the copy succeeds first -> 1");
    ok(taskset_running_copies(ts, 3) == 1 && taskset_remaining(ts) == 0,
       "9: the original copy is still running (to be killed); remaining 0");
    is_int(0, taskset_succeeded(ts, 3, 300, 300),
           "9: the original's later success -> 0");
    is_int(0, taskset_running_copies(ts, 3), "9: no copy running");
    taskset_destroy(&ts);

    /* A copy that ends without success leaves one copy running; the
     * speculatable mark was consumed by the launch (Spark removes the
     * index from speculatableTasks when the copy is dequeued), so no new
     * copy until check_speculation marks it again. */
    spec_config(&cfg);
    ts = spec_fixture(&cfg, ex, 5, 3);
    if (taskset_check_speculation(ts, 200) != 1 ||
        offer1(ts, &ex[4], LOC_ANY, 200, NULL, NULL) != 3)
        bail("9: speculative copy not launched");
    taskset_attempt_lost(ts, 3);
    ok(taskset_running_copies(ts, 3) == 1 && taskset_pending(ts) == 0,
       "9: one of 2 copies lost: 1 still running, not pending");
    is_int(-1, offer1(ts, &ex[0], LOC_ANY, 210, NULL, NULL),
           "9: no new copy before the next check");
    is_int(1, taskset_check_speculation(ts, 1000),
           "9: the remaining copy is marked again at 1000");
    t = offer1(ts, &ex[0], LOC_ANY, 1000, &level, &spec);
    ok(t == 3 && spec == 1, "9: ... and a new copy goes to e0");
    taskset_destroy(&ts);

    /* The threshold's floor, minTaskRuntime: durations of 10 ms ->
     * 1.5 * 10 = 15 < 100 -> threshold 100: task 3 (launched at 0) is not
     * marked at 100, is at 101. */
    spec_config(&cfg);
    ts = spec_fixture(&cfg, ex, 5, 0);
    for (int i = 0; i < 3; i++)
        taskset_succeeded(ts, i, 10, 10);
    is_int(0, taskset_check_speculation(ts, 100),
           "9: durations 10 ms: threshold floored at 100 -> not at 100");
    is_int(1, taskset_check_speculation(ts, 101), "9: ... marked at 101");
    taskset_destroy(&ts);

    /* Median of an odd count is the middle value: durations 400, 50, 100
     * (in that order) -> median 100 -> threshold 150: not at 150, marked
     * at 151 (a median of 50 would mark at 120, of 400 only after 600). */
    spec_config(&cfg);
    ts = spec_fixture(&cfg, ex, 5, 0);
    taskset_succeeded(ts, 0, 400, 400);
    taskset_succeeded(ts, 1, 50, 50);
    taskset_succeeded(ts, 2, 100, 100);
    is_int(0, taskset_check_speculation(ts, 120),
           "9: durations {400,50,100}: median 100, threshold 150: not at "
           "120");
    is_int(0, taskset_check_speculation(ts, 150), "9: ... nor at 150");
    is_int(1, taskset_check_speculation(ts, 151), "9: ... marked at 151");
    taskset_destroy(&ts);

    /* Without speculation nothing is ever marked or copied. */
    spec_config(&cfg);
    cfg.speculation = 0;
    ts = spec_fixture(&cfg, ex, 5, 3);
    is_int(0, taskset_check_speculation(ts, 10000),
           "9: speculation off: nothing marked at 10000");
    is_int(-1, offer1(ts, &ex[4], LOC_ANY, 10000, NULL, NULL),
           "9: speculation off: no copy offered");
    taskset_destroy(&ts);

    /* Spark never places a speculative copy on a *host* that already ran
     * an attempt of the task (dequeueTaskFromList: !(speculative &&
     * hasAttemptOnHost(index, host))).  ember deliberately checks the
     * executor instead (docs/configuration.md, speculation.minTaskRuntime),
     * so that speculation works with local-cluster on one machine: e3b
     * lives on h3 with e3, which runs task 3, and gets the copy; e3 itself
     * never does. */
    spec_config(&cfg);
    ts = spec_fixture(&cfg, ex, 6, 3);
    is_int(1, taskset_check_speculation(ts, 200), "9: task 3 marked");
    t = offer1(ts, &ex[5], LOC_ANY, 200, &level, &spec);
    ok(t == 3 && spec == 1,
       "9: e3b (another executor on host h3) gets the speculative copy "
       "(ember checks executors, not hosts; got %d)",
       t);
    taskset_destroy(&ts);

    /* Spark's median of successful durations is MedianHeap.median: for an
     * even count the mean of the two middle values.  quantile 0.5 of 4
     * -> 2 successes needed; durations 100 and 300 -> median 200,
     * threshold max(1.5 * 200, 100) = 300; at 400 tasks 2 and 3 (running
     * 400 ms) are both marked.  ember takes the upper middle (300) ->
     * threshold 450 -> none. */
    spec_config(&cfg);
    cfg.spec_quantile = 0.5;
    ts = spec_fixture(&cfg, ex, 5, 0);
    taskset_succeeded(ts, 0, 100, 100);
    taskset_succeeded(ts, 1, 300, 300);
    t = taskset_check_speculation(ts, 400);
    ok(t == 2,
       "9: durations {100,300}: threshold 300, 2 tasks marked at 400 "
       "(got %d)",
       t);
    taskset_destroy(&ts);

    /* Spark's TaskSet holds only the missing partitions, so
     * minFinishedForSpeculation = max(floor(0.75 * 2), 1) = 1 for a stage
     * rerun with 2 missing tasks.  ember's task set holds all 10, 8 of
     * them mark_done'd, and needs floor(0.75 * 10) = 7 successes of this
     * attempt -- never reached, so a rerun never speculates.  Task 8
     * succeeds (100 ms) -> threshold 150; task 9 at 200 is a straggler. */
    spec_config(&cfg);
    ts = new_ts(10, &cfg);
    for (int i = 0; i < 8; i++)
        taskset_mark_done(ts, i);
    taskset_set_executors(ts, ex, 5);
    ok(offer1(ts, &ex[0], LOC_ANY, 0, NULL, NULL) == 8 &&
           offer1(ts, &ex[1], LOC_ANY, 0, NULL, NULL) == 9,
       "9: rerun with 8 of 10 done elsewhere launches tasks 8 and 9");
    taskset_succeeded(ts, 8, 100, 100);
    t = taskset_check_speculation(ts, 200);
    ok(t == 1,
       "9: 1 of the 2 missing tasks done, the other at 200 > 150 is "
       "marked (got %d)",
       t);
    taskset_destroy(&ts);
}

/* Durations are stored in an array of ntasks+1 entries, appended on every
 * first success -- including successes after taskset_resubmit.  Two tasks:
 * 2 successes + 2 resubmit/rerun successes write durations[3] (heap
 * overflow).  Run in a child so the ASan report does not stop the suite. */
static void test_durations_overflow(void)
{
#ifdef HAVE_ASAN
    pid_t pid;
    int st = 0;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        ts_exec e = EX("e0", "h0", NULL);
        taskset *ts;
        if (fd >= 0)
            dup2(fd, 2);
        ts = new_ts(2, NULL);
        taskset_set_executors(ts, &e, 1);
        for (int i = 0; i < 2; i++) {
            offer1(ts, &e, LOC_ANY, 0, NULL, NULL);
            taskset_succeeded(ts, i, 10, 10);
        }
        for (int k = 0; k < 2; k++) {
            taskset_resubmit(ts, 0);
            offer1(ts, &e, LOC_ANY, 20, NULL, NULL);
            taskset_succeeded(ts, 0, 30, 10);
        }
        taskset_destroy(&ts);
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        bail("fork/waitpid failed");
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "resubmit + rerun successes beyond ntasks+1 stay in bounds "
       "(child %s %d)",
       WIFEXITED(st) ? "exit" : "signal",
       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
#else
    skip("durations overflow check needs AddressSanitizer");
#endif
}

/* ----------------------------------------------- 10. executor lost */

static void test_executor_lost(void)
{
    /* t0, t1, t2 prefer executor a on h1; a and b live on h1.  a takes
     * t0 at 0 (timer 0, PROCESS_LOCAL).  At 1000 b still gets nothing.
     * Then a is lost: recomputeLocality drops PROCESS_LOCAL (no live
     * preferred executor), and the current level PROCESS_LOCAL maps to
     * the next valid one, NODE_LOCAL (getLocalityIndex); the timer is
     * not touched.  So at 1000 -- long before the 3000 ms process wait --
     * b's NODE pass gets a task.  t0's attempt on a is lost (not
     * counted) and goes back on top of the stacks: b gets t0 first, then
     * t1. */
    taskset *ts = new_ts(3, NULL);
    ts_exec ex[2] = {EX("a", "h1", NULL), EX("b", "h1", NULL)};
    int level, pass, t;

    for (int i = 0; i < 3; i++) {
        taskset_prefer_exec(ts, i, "a");
        taskset_prefer_host(ts, i, "h1");
    }
    taskset_set_executors(ts, ex, 2);
    is_string("PROCESS_LOCAL,NODE_LOCAL,ANY", levels_str(ts),
              "10: levels with a live");
    t = offer1(ts, &ex[0], LOC_PROCESS_LOCAL, 0, &level, NULL);
    ok(t == 0 && level == LOC_PROCESS_LOCAL, "10: a gets task 0 at 0");
    is_int(-1, offer_round(ts, &ex[1], 1000, &level, &pass, NULL),
           "10: b gets nothing at 1000 while a lives");
    is_int(LOC_PROCESS_LOCAL, taskset_allowed_level(ts, 1000),
           "10: allowed PROCESS_LOCAL at 1000");

    taskset_set_executors(ts, &ex[1], 1);
    taskset_attempt_lost(ts, 0);
    is_string("NODE_LOCAL,ANY", levels_str(ts),
              "10: a lost -> PROCESS_LOCAL no longer valid");
    is_int(LOC_NODE_LOCAL, taskset_allowed_level(ts, 1000),
           "10: allowed NODE_LOCAL at 1000 without the process wait");
    t = offer_round(ts, &ex[1], 1000, &level, &pass, NULL);
    ok(t == 0 && level == LOC_NODE_LOCAL && pass == LOC_NODE_LOCAL,
       "10: b gets the lost task 0 NODE_LOCAL at 1000 (got %d, %s)", t,
       locality_name(level));
    ok(taskset_failures(ts, 0) == 0 && taskset_attempts(ts, 0) == 2,
       "10: the lost attempt is not a failure; task 0 has 2 attempts");
    t = offer_round(ts, &ex[1], 1001, &level, &pass, NULL);
    ok(t == 1 && level == LOC_NODE_LOCAL, "10: then task 1 NODE_LOCAL (got %d)",
       t);
    taskset_destroy(&ts);
}

/* --------------------------------------------------------- 11. large */

static void test_large(void)
{
    /* 10,000 tasks without preferences on one executor, offered at ANY:
     * the stacks give 0, 1, ..., 9999, each exactly once, each reported
     * PROCESS_LOCAL (a no-pref task is served as PROCESS_LOCAL). */
    enum { N = 10000 };
    taskset *ts = new_ts(N, NULL);
    ts_exec e = EX("e0", "h0", NULL);
    int order_bad = -1, level_bad = 0, dup = 0, once_bad = 0;
    unsigned char *seen = calloc(N, 1);

    if (!seen)
        bail("out of memory");
    taskset_set_executors(ts, &e, 1);
    is_string("NO_PREF,ANY", levels_str(ts), "11: levels NO_PREF,ANY");
    for (int i = 0; i < N; i++) {
        int level, t = offer1(ts, &e, LOC_ANY, i, &level, NULL);
        if (t != i && order_bad < 0)
            order_bad = i;
        if (level != LOC_PROCESS_LOCAL)
            level_bad++;
        if (t >= 0 && t < N && seen[t]++)
            dup++;
    }
    if (!ok(order_bad < 0, "11: 10,000 offers at ANY give tasks 0..9999 in "
                           "index order"))
        diag("first out of order at offer %d", order_bad);
    is_int(0, level_bad, "11: every no-pref task reported PROCESS_LOCAL");
    is_int(0, dup, "11: no task offered twice");
    is_int(-1, offer1(ts, &e, LOC_ANY, N, NULL, NULL),
           "11: the 10,001st offer gets nothing");
    for (int i = 0; i < N; i++)
        if (!seen[i] || taskset_attempts(ts, i) != 1)
            once_bad++;
    is_int(0, once_bad, "11: each task launched exactly once");
    ok(taskset_pending(ts) == 0 && taskset_running(ts) == N,
       "11: nothing pending, 10,000 running");
    for (int i = N - 1; i >= 0; i--)
        taskset_succeeded(ts, i, N + 1, 1);
    is_int(0, taskset_remaining(ts), "11: all 10,000 succeeded");
    free(seen);
    taskset_destroy(&ts);
}

/* ------------------------------------------------------------- misc */

static void test_misc(void)
{
    ts_config c;
    taskset *ts;

    /* Spark's defaults: locality.wait 3s for process/node/rack, NO_PREF
     * and ANY 0; task.maxFailures 4; speculation off, quantile 0.9,
     * multiplier 3 (4.x), minTaskRuntime 100 ms. */
    ts_config_default(&c);
    ok(c.wait_ms[LOC_PROCESS_LOCAL] == 3000 &&
           c.wait_ms[LOC_NODE_LOCAL] == 3000 &&
           c.wait_ms[LOC_RACK_LOCAL] == 3000 && c.wait_ms[LOC_NO_PREF] == 0 &&
           c.wait_ms[LOC_ANY] == 0,
       "defaults: waits 3000/3000/0/3000/0");
    ok(c.max_failures == 4 && c.speculation == 0 && c.spec_quantile == 0.9 &&
           c.spec_multiplier == 3.0 && c.spec_min_ms == 100,
       "defaults: maxFailures 4, speculation off, 0.9, 3, 100 ms");
    is_string("NODE_LOCAL", locality_name(LOC_NODE_LOCAL),
              "locality_name(NODE_LOCAL)");
    is_string("UNKNOWN", locality_name(LOC_NLEVELS),
              "locality_name(out of range)");

    ts = new_ts(2, NULL);
    ok(taskset_prefer_exec(ts, 2, "a") == -1 &&
           taskset_prefer_host(ts, -1, "h") == -1 &&
           taskset_prefer_rack(ts, 0, NULL) == -1 &&
           taskset_prefer_exec(ts, 1, "a") == 0,
       "prefer_*: bad index or NULL rejected, a good one accepted");
    is_int(2, taskset_ntasks(ts), "ntasks 2");
    taskset_destroy(&ts);
    taskset_destroy(&ts); /* NULL: no-op */
}

int main(void)
{
    plan(NTESTS);
    test_valid_levels();
    test_delay_fresh_taskset();
    test_delay_timing();
    test_skip_empty_level();
    test_reset_on_launch();
    test_no_pref();
    test_per_level_waits();
    test_retries();
    test_success();
    test_speculation();
    test_durations_overflow();
    test_executor_lost();
    test_large();
    test_misc();
    return done_testing();
}
