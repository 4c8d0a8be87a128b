/*
 * test_eventlog.c -- the event log (core/sched/eventlog.c) writes valid
 * JSON whatever the values: NaN and infinities, bytes that are not UTF-8,
 * control characters; and Spark's event and field names.  Every line of a
 * log written here is parsed back with jansson's strict decoder.
 */
#include "sched/eventlog.h"
#include "util/fsutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap/tap.h"

static void is_json(const char *want, char *got, const char *what)
{
    is_string(want, got ? got : "(null)", "%s", what);
    free(got);
}

static void test_values(void)
{
    is_json("\"plain\"", eventlog_json_string("plain"), "a string");
    is_json("\"q\\\"b\\\\n\\n\\u0001\"", eventlog_json_string("q\"b\\n\n\x01"),
            "quotes, backslashes and control characters are escaped");
    is_json("\"a\xEF\xBF\xBD"
            "b\"",
            eventlog_json_string("a\xFF"
                                 "b"),
            "a byte that is not UTF-8 becomes U+FFFD");
    is_json("\"\xEF\xBF\xBD\xEF\xBF\xBD/\"", eventlog_json_string("\xC0\xAF/"),
            "an overlong form: U+FFFD per byte");
    is_json("\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"",
            eventlog_json_string("\xED\xA0\x80"),
            "a surrogate: U+FFFD per byte");
    is_json("\"x\xEF\xBF\xBD\xEF\xBF\xBD\"", eventlog_json_string("x\xE2\x82"),
            "a truncated sequence at the end: U+FFFD per byte");
    is_json("\"\xC3\xA9\xF0\x9F\x98\x80\"",
            eventlog_json_string("\xC3\xA9\xF0\x9F\x98\x80"),
            "valid UTF-8 is kept as it is");
    is_json("null", eventlog_json_string(NULL), "NULL is null");
    is_json("\"NaN\"", eventlog_json_double(NAN), "NaN is the string \"NaN\"");
    is_json("\"Infinity\"", eventlog_json_double(INFINITY),
            "+inf is \"Infinity\"");
    is_json("\"-Infinity\"", eventlog_json_double(-INFINITY),
            "-inf is \"-Infinity\"");
    is_json("1.5", eventlog_json_double(1.5), "a finite double is a number");
    is_json("0.10000000000000001", eventlog_json_double(0.1),
            "with 17 significant digits (round-trips)");
}

/* The lines of path, each parsed strictly; returns how many parsed. */
static int parse_log(const char *path, json_t **evs, int max, int *lines)
{
    FILE *f = fopen(path, "r");
    char line[65536];
    int n = 0;
    *lines = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *v = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
        (*lines)++;
        if (!v) {
            diag("line %d: %s", *lines, jerr.text);
            continue;
        }
        if (n < max)
            evs[n++] = v;
        else
            json_decref(v);
    }
    fclose(f);
    return n;
}

static json_t *path_get(json_t *v, const char *a, const char *b, const char *c)
{
    v = json_object_get(v, a);
    if (v && b)
        v = json_object_get(v, b);
    if (v && c)
        v = json_object_get(v, c);
    return v;
}

static void test_log(void)
{
    char dir[] = "/tmp/ember-test-eventlog-XXXXXX";
    char path[512];
    ember_error err = {0, ""};
    eventlog *el;
    msg_heartbeat hb;
    msg_task_metrics tm;
    msg_status st;
    ev_task t;
    json_t *evs[16];
    int n, lines;

    if (!mkdtemp(dir))
        bail("mkdtemp");
    el = eventlog_open(dir, "app-test", &err);
    ok(el != NULL, "eventlog_open (%s)", err.msg);
    if (!el)
        bail("no event log");
    snprintf(path, sizeof path, "%s/app-test", dir);
    is_string(path, eventlog_path(el), "its final path");

    eventlog_app_start(el, "name\xFF", "app-test", "user", "local[2]");
    memset(&hb, 0, sizeof hb);
    memset(&tm, 0, sizeof tm);
    tm.task_id = 3;
    tm.nacc = 3;
    tm.acc_id[0] = 1;
    tm.acc_value[0] = NAN;
    tm.acc_id[1] = 2;
    tm.acc_value[1] = -INFINITY;
    tm.acc_id[2] = 3;
    tm.acc_value[2] = 2.5;
    hb.rss = 100;
    hb.ntasks = 1;
    hb.tasks = &tm;
    eventlog_metrics(el, "exec-1", &hb);
    memset(&t, 0, sizeof t);
    t.stage_id = 4;
    t.tid = 3;
    t.partition = 2;
    t.exec_id = "exec-1";
    t.host = "h";
    t.locality = LOC_ANY;
    memset(&st, 0, sizeof st);
    st.message = "bad \xC3 byte";
    st.traceback = "line\n\ttab\x7f \x80";
    st.indirect_size = 7;
    eventlog_task_end(el, &t, "ExceptionFailure", st.message, &st);
    eventlog_job_end(el, 1, "job \xFE failed");
    eventlog_app_end(el);
    eventlog_close(&el);
    ok(el == NULL, "eventlog_close clears the pointer");

    n = parse_log(path, evs, 16, &lines);
    is_int(5, lines, "five events, one per line");
    is_int(5, n, "every line is valid JSON (jansson, strict)");
    if (n == 5) {
        json_t *acc = json_array_get(
            path_get(json_array_get(
                         path_get(evs[1], "Metrics Updated", NULL, NULL), 0),
                     "Accumulator Updates", NULL, NULL),
            0);
        json_t *accs =
            json_array_get(path_get(evs[1], "Metrics Updated", NULL, NULL), 0);
        accs = json_object_get(accs, "Accumulator Updates");
        is_string("SparkListenerApplicationStart",
                  json_string_value(json_object_get(evs[0], "Event")),
                  "Spark's event names");
        is_string("name\xEF\xBF\xBD",
                  json_string_value(json_object_get(evs[0], "App Name")),
                  "the app name with U+FFFD for its bad byte");
        is_string("NaN", json_string_value(json_object_get(acc, "Value")),
                  "a NaN accumulator value is \"NaN\"");
        is_string("-Infinity",
                  json_string_value(
                      json_object_get(json_array_get(accs, 1), "Value")),
                  "-inf is \"-Infinity\"");
        ok(json_real_value(json_object_get(json_array_get(accs, 2), "Value")) ==
               2.5,
           "a finite value stays a number");
        is_string("bad \xEF\xBF\xBD byte",
                  json_string_value(
                      path_get(evs[2], "Task End Reason", "Description", NULL)),
                  "the task's error message keeps its valid text");
        is_string("line\n\ttab\x7f \xEF\xBF\xBD",
                  json_string_value(path_get(evs[2], "Task End Reason",
                                             "Full Stack Trace", NULL)),
                  "and so does its traceback (control characters escaped)");
        is_string("indirect",
                  json_string_value(
                      path_get(evs[2], "Task Metrics", "Result Path", NULL)),
                  "task metrics as before");
        ok(json_is_true(path_get(evs[2], "Task Info", "Failed", NULL)) &&
               json_is_false(path_get(evs[2], "Task Info", "Killed", NULL)),
           "a failed task: Failed true, Killed false");
        is_string("job \xEF\xBF\xBD failed",
                  json_string_value(
                      path_get(evs[3], "Job Result", "Exception", "Message")),
                  "the job's error");
    }
    for (int i = 0; i < n; i++)
        json_decref(evs[i]);
    rm_rf(dir);
}

int main(void)
{
    test_values();
    test_log();
    /* a disabled log: every call is a no-op */
    eventlog_app_end(NULL);
    eventlog_close(NULL);
    ok(eventlog_path(NULL) == NULL, "a NULL event log does nothing");
    return done_testing();
}
