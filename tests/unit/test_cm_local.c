/*
 * test_cm_local.c -- unit test of the clustermgr_local plugin.
 *
 * Loads the plugin .so (argv[1] or $EMBER_TEST_PLUGIN), checks its
 * descriptor and registration through the fake host, checks which master
 * URLs it accepts, then runs a fake executor -- /bin/sh appending its pid,
 * whether it inherited a stray fd, and its arguments to a file in a temporary
 * directory, then exec'ing sleep -- through start, kill_executor,
 * request_executor and stop.  Every wait is bounded; at the end no child
 * process (running or zombie) and no file is left.
 */
#include "tap/tap.h"
#include "fake_host.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STRAY_FD 50 /* opened without O_CLOEXEC: executors must not see it */
#define MAXLINES 16

static const ember_cm_desc *CM;

typedef struct exline {
    long pid;
    char fds[16]; /* "clean" or "leak" */
    char id[16];
    char cores[16];
    char memory[16];
} exline;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Read the fake executors' log; returns the number of lines parsed. */
static int read_lines(const char *path, exline *out, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[512];
    int n = 0;
    while (n < max && fgets(buf, sizeof buf, f)) {
        exline *l = &out[n];
        if (sscanf(buf,
                   "%ld %15s --executor-id %15s --cores %15s --memory %15s",
                   &l->pid, l->fds, l->id, l->cores, l->memory) == 5)
            n++;
    }
    fclose(f);
    return n;
}

/* Wait (at most 10 s) until the log has `want` lines. */
static int wait_lines(const char *path, exline *out, int want)
{
    int n = 0;
    for (int64_t end = now_ms() + 10000; now_ms() < end; sleep_ms(20))
        if ((n = read_lines(path, out, MAXLINES)) >= want)
            break;
    return n;
}

static const exline *find_id(const exline *l, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(l[i].id, id) == 0)
            return &l[i];
    return NULL;
}

static int gone(long pid)
{
    return pid > 0 && kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* 'Z' if pid is a zombie, its state letter otherwise, 0 if gone. */
static char proc_state(long pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char st = 0;
    if (fgets(buf, sizeof buf, f)) {
        char *p = strrchr(buf, ')');
        if (p && p[1] == ' ')
            st = p[2];
    }
    fclose(f);
    return st;
}

static int no_children(void)
{
    return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* ------------------------------------------------------------ loading */

static void *load(int argc, char **argv)
{
    void *handle;
    fake_load_checked(argc, argv, "test_cm_local", "clustermgr_local", &handle);
    CM = fake_host_st.clustermgr;
    if (!ok(CM != NULL, "init registered a cluster manager"))
        bail("no cluster manager");
    is_string("local", CM->name, "cluster manager name");
    ok(CM->struct_size >= sizeof(ember_cm_desc),
       "descriptor struct_size covers the whole struct");
    ok(CM->accepts && CM->start && CM->request_executor && CM->kill_executor &&
           CM->stop,
       "all functions are set");
    ok(fake_host_st.transport == NULL && fake_host_st.nops == 0,
       "nothing else registered");
    return handle;
}

/* ------------------------------------------------------------ accepts */

static void test_accepts(void)
{
    static const char *const good[] = {
        "local",
        "local[1]",
        "local[2]",
        "local[*]",
        "local[64]",
        "local-cluster[3,1,512]",
        "local-cluster[1,1,32]",
        "local-cluster[2,4,1024]",
    };
    static const char *const bad[] = {
        "local[0]",
        "local[]",
        "local[x]",
        "local-cluster[1,1]",
        "local-cluster[0,1,512]",
        "yarn",
        "local[2]x",
        "",
        " local",
        "local ",
        "local[ 2]",
        "local[-1]",
        "local[+1]",
        "local[*]x",
        "local[**]",
        "local-cluster[1,0,64]",
        "local-cluster[1,1,31]",
        "local-cluster[1,1,64,1]",
        "local-cluster[1, 1,64]",
        "local-cluster[,1,64]",
        "local[99999999999999999999]",
        "LOCAL",
        "local-cluster",
        "local-cluster[1,1,64",
        "spark://host:7077",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        is_int(1, CM->accepts(good[i]), "accepts \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        is_int(0, CM->accepts(bad[i]), "refuses \"%s\"", bad[i]);
    is_int(0, CM->accepts(NULL), "refuses NULL");
}

/* ------------------------------------------------------- start errors */

static void test_start_errors(void)
{
    ember_error err = {0};
    void *st = &err;
    int expected = -1;
    const char *argv_ok[] = {"/bin/true", NULL};
    ember_cm_request req = {sizeof req, "yarn", "app-test", argv_ok,
                            1,          256,    NULL,       NULL};

    int rc = CM->start(&fake_host, &req, &st, &expected, &err);
    is_int(EMBER_EINVAL, rc, "start with a foreign URL fails");
    like(err.msg, "\"yarn\"", "... naming the URL: %s", err.msg);
    ok(st == NULL && expected == 0, "... and returns no state");

    const char *argv_bad[] = {"/nonexistent/ember", "executor", NULL};
    req.master_url = "local-cluster[2,1,64]";
    req.exec_argv = argv_bad;
    memset(&err, 0, sizeof err);
    rc = CM->start(&fake_host, &req, &st, &expected, &err);
    is_int(EMBER_EIO, rc, "start with a missing executable fails at once");
    like(err.msg, "cannot execute /nonexistent/ember", "... saying so: %s",
         err.msg);
    like(err.msg, "No such file", "... with the reason");
    ok(st == NULL, "... returns no state");
    ok(no_children(), "... and leaves no child behind");

    req.exec_argv = argv_ok;
    req.master_url = "local";
    req.default_memory_mb = 0;
    rc = CM->start(&fake_host, &req, &st, &expected, &err);
    is_int(EMBER_EINVAL, rc, "start with executor.memory 0 fails");
    like(err.msg, "memory", "... saying why: %s", err.msg);
}

/* ------------------------------------------------------ the lifecycle */

static void test_lifecycle(const char *dir)
{
    char log[512], script[1024];
    snprintf(log, sizeof log, "%s/executors.log", dir);
    snprintf(script, sizeof script,
             "if [ -e /proc/$$/fd/%d ]; then f=leak; else f=clean; fi; "
             "echo $$ $f \"$@\" >> '%s'; exec sleep 30",
             STRAY_FD, log);
    const char *argv[] = {"/bin/sh", "-c", script, "sh", NULL};
    ember_cm_request req = {
        sizeof req, "local-cluster[3,1,64]", "app-test", argv, 2, 256, NULL,
        NULL};
    ember_error err = {0};
    void *st = NULL;
    int expected = 0;

    int rc = CM->start(&fake_host, &req, &st, &expected, &err);
    is_int(0, rc, "start local-cluster[3,1,64] %s", err.msg);
    is_int(3, expected, "expects 3 executors");
    if (rc != 0)
        bail("cannot start executors");

    exline l[MAXLINES];
    int n = wait_lines(log, l, 3);
    is_int(3, n, "3 executors started");
    int args_ok = n == 3, fds_ok = n == 3;
    for (int i = 0; i < n; i++) {
        args_ok &=
            strcmp(l[i].cores, "1") == 0 && strcmp(l[i].memory, "64m") == 0;
        fds_ok &= strcmp(l[i].fds, "clean") == 0;
    }
    ok(find_id(l, n, "1") && find_id(l, n, "2") && find_id(l, n, "3"),
       "executor ids are 1, 2, 3");
    ok(args_ok, "each got --cores 1 --memory 64m");
    ok(fds_ok, "no executor inherited a stray fd");
    long pid1 = find_id(l, n, "1") ? find_id(l, n, "1")->pid : -1;
    long pid2 = find_id(l, n, "2") ? find_id(l, n, "2")->pid : -1;
    long pid3 = find_id(l, n, "3") ? find_id(l, n, "3")->pid : -1;
    ok(!gone(pid1) && !gone(pid2) && !gone(pid3), "all 3 are running");

    is_int(0, CM->kill_executor(st, "2"), "kill_executor(\"2\")");
    ok(gone(pid2), "executor 2 is gone and reaped");
    ok(!gone(pid1) && !gone(pid3), "the others still run");
    is_int(EMBER_ENOTFOUND, CM->kill_executor(st, "2"),
           "killing it again: EMBER_ENOTFOUND");
    is_int(EMBER_ENOTFOUND, CM->kill_executor(st, "99"),
           "unknown executor: EMBER_ENOTFOUND");

    rc = CM->request_executor(st, &err);
    is_int(0, rc, "request_executor %s", rc ? err.msg : "");
    n = wait_lines(log, l, 4);
    const exline *x4 = find_id(l, n, "4");
    ok(x4 != NULL, "executor 4 started");
    ok(x4 && strcmp(x4->cores, "1") == 0 && strcmp(x4->memory, "64m") == 0,
       "... with the same cores and memory");
    long pid4 = x4 ? x4->pid : -1;

    /* An executor that ends on its own is reaped by the next call. */
    kill((pid_t)pid3, SIGTERM);
    char state = 0;
    for (int64_t end = now_ms() + 10000; now_ms() < end; sleep_ms(10))
        if ((state = proc_state(pid3)) == 'Z')
            break;
    is_int('Z', state, "executor 3 exited on its own (a zombie for now)");
    rc = CM->request_executor(st, &err);
    is_int(0, rc, "request_executor again");
    ok(gone(pid3), "... reaped executor 3");
    n = wait_lines(log, l, 5);
    const exline *x5 = find_id(l, n, "5");
    ok(x5 != NULL, "executor 5 started");
    long pid5 = x5 ? x5->pid : -1;
    is_int(EMBER_ENOTFOUND, CM->kill_executor(st, "3"),
           "a finished executor cannot be killed");

    int64_t t0 = now_ms();
    CM->stop(st);
    ok(now_ms() - t0 < 2500, "stop is quick when executors obey SIGTERM");
    ok(gone(pid1) && gone(pid2) && gone(pid3) && gone(pid4) && gone(pid5),
       "stop: every executor is gone");
    ok(no_children(), "stop: no child and no zombie left");
    unlink(log);
}

/* An executor that ignores SIGTERM is killed after the grace period. */
static void test_stubborn(const char *dir)
{
    char log[512], script[1024];
    snprintf(log, sizeof log, "%s/stubborn.log", dir);
    snprintf(script, sizeof script,
             "trap '' TERM; echo $$ clean \"$@\" >> '%s'; exec sleep 30", log);
    const char *argv[] = {"/bin/sh", "-c", script, "sh", NULL};
    ember_cm_request req = {sizeof req, "local[*]", "app-test", argv,
                            2,          300,        NULL,       NULL};
    ember_error err = {0};
    void *st = NULL;
    int expected = 0;

    int rc = CM->start(&fake_host, &req, &st, &expected, &err);
    is_int(0, rc, "start local[*] %s", err.msg);
    is_int(1, expected, "local[*] expects 1 executor");
    if (rc != 0)
        return;
    exline l[MAXLINES];
    int n = wait_lines(log, l, 1);
    char cores[16];
    snprintf(cores, sizeof cores, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    ok(n == 1 && strcmp(l[0].cores, cores) == 0, "local[*] gets all %s cores",
       cores);
    ok(n == 1 && strcmp(l[0].memory, "300m") == 0, "... and executor.memory");
    long pid = n == 1 ? l[0].pid : -1;

    int64_t t0 = now_ms();
    CM->stop(st);
    int64_t took = now_ms() - t0;
    ok(took >= 2500, "stop waited for the grace period (%lld ms)",
       (long long)took);
    ok(gone(pid), "... then killed the executor");
    ok(no_children(), "... and reaped it");
    unlink(log);
}

/* Credentials (ABI 1.3) reach each executor through a pipe on fd 4, named
 * by --credentials-fd, never through argv or the environment. */
static int cred_calls;
static int give_credentials(void *ud, const char *executor_id, char *out,
                            size_t outlen, ember_error *err)
{
    (void)err;
    cred_calls++;
    snprintf(out, outlen, "SECRET-%s-%s", (const char *)ud, executor_id);
    return 0;
}
static int refuse_credentials(void *ud, const char *executor_id, char *out,
                              size_t outlen, ember_error *err)
{
    (void)ud;
    (void)out;
    (void)outlen;
    fake_seterr(err, EMBER_EINVAL, "no credentials for %s", executor_id);
    return EMBER_EINVAL;
}

static void test_credentials(const char *dir)
{
    char log[512], script[1024];
    snprintf(log, sizeof log, "%s/creds.log", dir);
    /* each executor logs its argv, what fd 4 holds, and whether the secret
       shows in its argv or environment */
    snprintf(script, sizeof script,
             "s=$(cat <&4); "
             "if grep -qF \"$s\" /proc/$$/cmdline /proc/$$/environ; then "
             "w=exposed; else w=hidden; fi; "
             "echo \"$s $w $*\" >> '%s'; exec sleep 30",
             log);
    const char *argv[] = {"/bin/sh", "-c", script, "sh", NULL};
    ember_cm_request req = {
        sizeof req, "local-cluster[2,1,64]", "app-test",        argv, 2,
        256,        give_credentials,        (void *)"app-test"};
    ember_error err = {0};
    void *st = NULL;
    int expected = 0;
    int rc = CM->start(&fake_host, &req, &st, &expected, &err);
    is_int(0, rc, "start with credentials %s", err.msg);
    if (rc != 0)
        return;
    is_int(2, cred_calls, "credentials asked for once per executor");
    char buf[4096] = "";
    for (int64_t end = now_ms() + 10000; now_ms() < end; sleep_ms(20)) {
        FILE *f = fopen(log, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        int lines = 0;
        for (char *p = buf; *p; p++)
            lines += *p == '\n';
        if (lines >= 2)
            break;
    }
    like(buf, "SECRET-app-test-1 hidden",
         "executor 1 read its own "
         "credentials on fd 4");
    like(buf, "SECRET-app-test-2 hidden", "executor 2 read its own");
    ok(!strstr(buf, "exposed"), "no executor has them in argv or environ");
    like(buf, "--credentials-fd 4", "argv names the fd");
    CM->stop(st);
    unlink(log);

    /* a credentials failure fails the start, leaving nothing behind */
    req.credentials = refuse_credentials;
    rc = CM->start(&fake_host, &req, &st, &expected, &err);
    is_int(EMBER_EINVAL, rc, "start fails when credentials cannot be made");
    like(err.msg, "no credentials for 1", "... with the host's reason");
    ok(no_children(), "... and no executor was started");
}

int main(int argc, char **argv)
{
    plan(99);
    void *handle = load(argc, argv);

    /* A stray inheritable fd the executors must not get. */
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0 || dup2(fd, STRAY_FD) < 0)
        bail("cannot open a stray fd: %s", strerror(errno));
    close(fd);

    char dir[] = "/tmp/ember-tcm-XXXXXX";
    if (!mkdtemp(dir))
        bail("mkdtemp: %s", strerror(errno));

    test_accepts();
    test_start_errors();
    test_lifecycle(dir);
    test_credentials(dir);
    if (getenv("EMBER_TEST_QUICK"))
        for (int i = 0; i < 7; i++)
            skip("EMBER_TEST_QUICK: no 3 s SIGTERM grace test");
    else
        test_stubborn(dir);

    CM->stop(NULL);
    ok(1, "stop(NULL) is harmless");
    is_int(0, rmdir(dir), "temporary directory removed");
    close(STRAY_FD);
    dlclose(handle);
    return done_testing();
}
