/*
 * test_dag_outcomes.c -- the DAG scheduler (core/sched/dag.c) alone: what
 * each dag_* call returns as its outcome, with no driver, no transport and
 * a clock passed in.  The driver's side (events, offers, retries) is
 * tested through the real driver in test_dag.c.
 */
#include "sched/dag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap/tap.h"
#include "unit/dag_plans.h"

static const dag_exec execs[] = {{"e0", "h0", NULL, 1}, {"e1", "h1", NULL, 1}};

static void env_init(dag_env *env)
{
    memset(env, 0, sizeof *env);
    env->execs = execs;
    env->nexecs = 2;
    env->driver_host = "h0";
    env->now_ms = 1000;
    env->wall_ms = 5000;
}

/* "S<id>.<attempt> C<id>.<attempt>..." of the outcome's notes */
static const char *notes(const dag_outcome *o)
{
    static char s[256];
    size_t n = 0;
    s[0] = '\0';
    for (int i = 0; i < o->nnotes && n < sizeof s - 16; i++)
        n += (size_t)snprintf(s + n, sizeof s - n, "%s%c%d.%d", i ? " " : "",
                              o->notes[i].kind == DAG_SUBMITTED ? 'S' : 'C',
                              o->notes[i].info.id, o->notes[i].info.attempt);
    return s;
}

/* Every task of st's attempt succeeds (map tasks on executor exec). */
static void run_stage(dag *g, dag_stage *st, int exec, const dag_env *env,
                      dag_outcome *out)
{
    uint64_t sizes[8] = {10, 10, 10, 10, 10, 10, 10, 10};
    for (int t = 0; t < st->ntasks; t++) {
        if (taskset_is_done(st->ts, t))
            continue;
        taskset_succeeded(st->ts, t, env->now_ms, 1);
        if (st->is_map)
            dag_map_output(g, st, t, exec, 100 + (uint64_t)t, sizes);
        else
            dag_result_held(st, t);
    }
    dag_stage_completed(g, st, env, out);
}

static void test_two_stages(void)
{
    ts_config cfg;
    job_spec spec;
    plan_node nodes[4];
    dag_outcome out = {0};
    dag_env env;
    dag_job_stage *js;
    dag_stage *ms, *rs;
    dag *g;
    int n;

    ts_config_default(&cfg);
    env_init(&env);
    g = dag_new(&cfg, 2);
    two_stage(&spec, nodes, 3, 2);
    is_int(0, dag_job_start(g, &spec, 7, &out), "a job is planned");
    rs = dag_result(g);
    ok(rs && !rs->is_map && rs->ntasks == 2 && rs->nparents == 1,
       "its result stage: 2 tasks, one parent");
    is_int(2, dag_nstages(g), "a map stage and the result stage");
    ms = dag_stage_at(g, 0);
    ok(ms->is_map && ms->shuffle_id == 2 && ms->ntasks == 3 &&
           rs->parents[0] == ms->id,
       "the map stage writes shuffle 2 with 3 tasks");
    js = dag_job_stages(g, &n);
    ok(n == 2 && js[0].id == ms->id && js[0].is_map && !js[0].skipped &&
           js[1].id == rs->id && !js[1].is_map,
       "the job-start list: the map stage (not skipped), then the result");
    free(js);

    dag_job_submit(g, &env, &out);
    is_string("S0.0", notes(&out), "submitting the job starts the map stage");
    ok(ms->state == DAG_RUNNING && ms->ts && rs->state == DAG_WAITING &&
           !rs->ts,
       "the result stage waits for it");
    ok(!out.result_done && !out.fail && out.notes[0].info.submitted_ms == 5000,
       "no failure, submitted at the wall clock given");
    dag_outcome_free(&out);

    run_stage(g, ms, 0, &env, &out);
    is_string("C0.0 S1.0", notes(&out),
              "the map stage completes; the result stage starts");
    ok(!strcmp(out.notes[1].info.description, "collect at test_dag.c"),
       "the result stage carries the job's description");
    dag_outcome_free(&out);

    /* result task 1 is held; task 0 cannot fetch map output 100 (on e0) */
    taskset_succeeded(rs->ts, 1, env.now_ms, 1);
    dag_result_held(rs, 1);
    dag_fetch_failed(g, rs, 2, 100, 0, "fetch failed", &env, &out);
    is_string("C1.0 S0.1", notes(&out),
              "a fetch failure: the result attempt fails, the map stage "
              "runs again as attempt 1");
    ok(out.notes[0].info.fail_reason &&
           !strcmp(out.notes[0].info.fail_reason, "fetch failed"),
       "the failed attempt says why");
    is_int(3, out.lost, "every output of e0 is forgotten (3)");
    ok(!dag_shuffle_get(g, 2)->outs[0].valid && !out.fail,
       "the map output is gone; the job goes on");
    is_int(3, taskset_remaining(ms->ts), "the new attempt runs 3 tasks");
    dag_outcome_free(&out);

    run_stage(g, ms, 1, &env, &out);
    is_string("C0.1 S1.1", notes(&out), "the result stage runs again");
    is_int(1, taskset_remaining(rs->ts), "only its partition 0 (1 is held)");
    dag_outcome_free(&out);

    dag_fetch_failed(g, rs, 2, 100, 1, "again", &env, &out);
    ok(out.fail &&
           strstr(out.fail, "Job 7 (collect at test_dag.c) aborted: stage 1 "
                            "has failed the maximum allowable number "
                            "of times: 2"),
       "the 2nd consecutive fetch failure fails the job (%s)",
       out.fail ? out.fail : "no failure");
    dag_outcome_free(&out);
    dag_job_end(g);
    ok(!dag_result(g) && ms->state == DAG_IDLE && !ms->ts && !ms->active,
       "the job's end frees the result stage and stops the map stage");

    /* a second job over the same shuffle: recompute what is missing */
    is_int(0, dag_job_start(g, &spec, 8, &out), "a second job");
    js = dag_job_stages(g, &n);
    ok(n == 2 && !js[0].skipped, "its map stage is not skipped (outputs lost)");
    free(js);
    dag_job_submit(g, &env, &out);
    is_string("S0.2", notes(&out), "the map stage runs as attempt 2");
    is_int(3, taskset_remaining(ms->ts), "for its 3 lost outputs");
    dag_outcome_free(&out);
    run_stage(g, ms, 1, &env, &out);
    dag_outcome_free(&out);
    rs = dag_result(g);
    run_stage(g, rs, 0, &env, &out);
    is_string("C2.0", notes(&out), "the result stage completes");
    ok(out.result_done, "and the outcome says the job's result is complete");
    dag_outcome_free(&out);
    dag_job_end(g);

    /* a third job: the shuffle output exists, the map stage is skipped */
    dag_job_start(g, &spec, 9, &out);
    js = dag_job_stages(g, &n);
    ok(n == 2 && js[0].skipped, "a third job skips the map stage");
    free(js);
    dag_job_submit(g, &env, &out);
    is_string("S3.0", notes(&out), "only its result stage is submitted");
    dag_outcome_free(&out);

    /* losing an executor forgets its outputs; the running result stage
       finds its parent missing and waits for it */
    dag_lose_outputs(g, 1, &env, &out);
    is_int(3, out.lost, "executor 1 held 3 map outputs");
    is_int(1, dag_parents_missing(g, dag_result(g)),
           "the result stage misses its input");
    dag_outcome_free(&out);
    dag_resubmit(g, dag_result(g), &env, &out);
    is_string("S0.3", notes(&out), "resubmitting it recomputes the map stage");
    is_int(DAG_WAITING, dag_result(g)->state, "while it waits");
    dag_outcome_free(&out);
    dag_job_end(g);
    dag_destroy(&g);
    ok(g == NULL, "dag_destroy clears the pointer");
}

static void test_bad_jobs(void)
{
    ts_config cfg;
    job_spec spec;
    plan_node nodes[4];
    dag_outcome out = {0};
    dag_env env;
    int parts[] = {5};
    dag *g;

    ts_config_default(&cfg);
    env_init(&env);
    g = dag_new(&cfg, 4);
    two_stage(&spec, nodes, 2, 2);
    spec.npartitions = 1;
    spec.partitions = parts;
    is_int(-1, dag_job_start(g, &spec, 1, &out),
           "a partition out of range fails the job");
    like(out.fail ? out.fail : "", "partition 5 out of range (0..1)",
         "saying which");
    ok(!dag_result(g), "and leaves no result stage");
    dag_outcome_free(&out);

    spec.npartitions = 0;
    spec.root = 42;
    is_int(-1, dag_job_start(g, &spec, 2, &out), "a root that is not a node");
    like(out.fail ? out.fail : "", "cannot plan job 2", "cannot be planned");
    dag_outcome_free(&out);

    /* an action over no partition: complete at once */
    memset(nodes, 0, sizeof nodes);
    nodes[0] = (plan_node){.id = 0, .kind = NODE_SOURCE, .nparts = 0};
    memset(&spec, 0, sizeof spec);
    spec.nnodes = 1;
    spec.nodes = nodes;
    is_int(0, dag_job_start(g, &spec, 3, &out), "a job over no partition");
    dag_job_submit(g, &env, &out);
    ok(out.result_done && out.nnotes == 0,
       "is complete without submitting a stage");
    dag_outcome_free(&out);
    dag_job_end(g);
    dag_destroy(&g);
    dag_destroy(&g);
    ok(1, "dag_destroy accepts NULL");
}

/* Preferences: a cached partition runs where it is cached; a source split
 * where its host is ("localhost": the driver's). */
static void test_preferences(void)
{
    ts_config cfg;
    job_spec spec;
    plan_node nodes[2];
    const char *prefs[] = {"localhost", "h1"};
    dag_cached cached[] = {{1, 1, 0}};
    dag_outcome out = {0};
    dag_env env;
    dag_stage *rs;
    ts_exec e0 = {"e0", "h0", NULL}, e1 = {"e1", "h1", NULL};
    int level, spec_copy;
    dag *g;

    ts_config_default(&cfg);
    env_init(&env);
    env.cached = cached;
    env.ncached = 1;
    g = dag_new(&cfg, 4);
    memset(nodes, 0, sizeof nodes);
    nodes[0] =
        (plan_node){.id = 0, .kind = NODE_SOURCE, .nparts = 2, .prefs = prefs};
    nodes[1] = (plan_node){.id = 1,
                           .kind = NODE_NARROW,
                           .nparts = 2,
                           .nparents = 1,
                           .parents = par0};
    memset(&spec, 0, sizeof spec);
    spec.nnodes = 2;
    spec.nodes = nodes;
    spec.root = 1;
    dag_job_start(g, &spec, 1, &out);
    dag_job_submit(g, &env, &out);
    rs = dag_result(g);
    is_string("S0.0", notes(&out), "a one-stage job starts at once");
    is_int(1,
           taskset_offer(rs->ts, &e0, LOC_PROCESS_LOCAL, env.now_ms, &level,
                         &spec_copy),
           "e0 holds partition 1 cached: PROCESS_LOCAL there");
    is_int(0,
           taskset_offer(rs->ts, &e0, LOC_NODE_LOCAL, env.now_ms, &level,
                         &spec_copy),
           "partition 0 (\"localhost\") is NODE_LOCAL on the driver's host");
    is_int(-1,
           taskset_offer(rs->ts, &e1, LOC_NODE_LOCAL, env.now_ms, &level,
                         &spec_copy),
           "nothing is left for h1 at NODE_LOCAL");
    dag_outcome_free(&out);
    dag_job_end(g);
    dag_destroy(&g);
}

int main(void)
{
    test_two_stages();
    test_bad_jobs();
    test_preferences();
    return done_testing();
}
