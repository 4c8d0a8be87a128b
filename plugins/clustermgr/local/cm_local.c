/*
 * cm_local.c -- ember's local cluster manager (plugin "clustermgr_local",
 * registers the cluster manager "local").
 *
 * What it owns: the executor processes it forks on this machine, one record
 * (id, pid, alive) per executor, and a copy of the executor command line.
 *
 * Master URLs (no whitespace anywhere):
 *   local                  one executor, 1 core
 *   local[N]               one executor, N >= 1 cores
 *   local[*]               one executor, as many cores as online CPUs
 *   local-cluster[E,C,M]   E >= 1 executors, C >= 1 cores and M >= 32 MiB each
 * For local/local[N]/local[*] the memory is req->default_memory_mb.
 *
 * How it works: each executor is fork() + execv(exec_argv + "--executor-id"
 * ID "--cores" C "--memory" "<M>m"), ids "1", "2", ... in start order (also
 * across request_executor).  When the host hands over credentials (ABI
 * 1.3), the executor's credentials text is written into a fresh pipe before
 * fork() and the child gets the read end as fd 4 ("--credentials-fd 4"):
 * the secret never appears in argv or the environment, and only that child
 * ever holds the pipe.  Everything the child needs is built before
 * fork(), and the child only makes async-signal-safe calls: it asks for
 * SIGTERM when its parent dies (PR_SET_PDEATHSIG), exits if the parent is
 * already gone, unblocks all signals, closes every fd but 0, 1, 2 and a
 * close-on-exec error pipe, and execs.  If exec fails the child writes its
 * errno into the pipe (and a line to stderr) and exits 127, so start() and
 * request_executor() report "cannot execute ..." at once instead of the
 * driver waiting for a registration that never comes.
 *
 * Children are reaped here with waitpid(pid) on their own pids (never
 * waitpid(-1)): finished ones whenever request_executor/kill_executor/stop
 * run, killed ones at once.  stop() sends SIGTERM, waits up to 3 s, then
 * SIGKILLs and reaps the rest: no zombies, no orphans.
 *
 * Contracts with the host:
 *   - PR_SET_PDEATHSIG fires when the *thread* that forked exits, so start()
 *     and request_executor() must be called from a thread that lives as long
 *     as the executors (the driver's main or scheduler thread).
 *   - The host must not reap these children itself (no waitpid(-1) or
 *     SIGCHLD = SIG_IGN), or exit statuses are lost; ECHILD is tolerated.
 *   - A state is used by one thread at a time.
 *
 * Global state: none.
 */
#include <ember/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PLUGIN_NAME "clustermgr_local"
#define PLUGIN_VERSION "0.1.0"
#define WHO "clustermgr_local"

#define MIN_MEMORY_MB 32
#define MAX_MEMORY_MB ((int64_t)1 << 40)
#define STOP_GRACE_MS 3000
#define STOP_POLL_MS 10
#define ERRFD 3  /* the child's exec-error pipe */
#define CREDFD 4 /* the child's credentials pipe */
#define CREDS_MAX 8192

typedef struct url_spec {
    int executors;
    int cores;
    int64_t memory_mb; /* -1: use req->default_memory_mb */
} url_spec;

typedef struct executor {
    char id[16];
    pid_t pid;
    int alive;
    int status;   /* wait status once reaped */
    int reported; /* told the host through poll_exited */
} executor;

typedef struct cm_state {
    const ember_host *host;
    char **base_argv; /* copy of req->exec_argv, NULL-terminated */
    size_t nbase;
    char cores[16];
    char memory[32]; /* "<M>m" */
    int next_id;
    executor *execs;
    size_t nexecs, cap;
    int (*credentials)(void *ud, const char *executor_id, char *out,
                       size_t outlen, ember_error *err);
    void *credentials_ud;
} cm_state;

/* -------------------------------------------------------- URL parsing */

/* Digits only, at least one, value <= max. */
static int parse_num(const char **p, int64_t max, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    *p = s;
    *out = v;
    return 0;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

/* Parse a master URL.  Returns 0, or -1 with a reason in why. */
static int parse_url(const char *url, url_spec *sp, char *why, size_t whylen)
{
    static const char lc[] = "local-cluster[";
    const char *p;
    int64_t e, c, m;

    sp->executors = 1;
    sp->cores = 1;
    sp->memory_mb = -1;
    if (!url) {
        snprintf(why, whylen, "no master URL");
        return -1;
    }
    if (strcmp(url, "local") == 0)
        return 0;
    if (strcmp(url, "local[*]") == 0) {
        sp->cores = online_cpus();
        return 0;
    }
    if (strncmp(url, "local[", 6) == 0) {
        p = url + 6;
        if (parse_num(&p, INT_MAX, &c) != 0 || strcmp(p, "]") != 0) {
            snprintf(why, whylen,
                     "\"%s\": expected local[N] with N a number or *", url);
            return -1;
        }
        if (c < 1) {
            snprintf(why, whylen, "\"%s\": need at least 1 core", url);
            return -1;
        }
        sp->cores = (int)c;
        return 0;
    }
    if (strncmp(url, lc, sizeof lc - 1) == 0) {
        p = url + sizeof lc - 1;
        if (parse_num(&p, INT_MAX, &e) != 0 || *p++ != ',' ||
            parse_num(&p, INT_MAX, &c) != 0 || *p++ != ',' ||
            parse_num(&p, MAX_MEMORY_MB, &m) != 0 || strcmp(p, "]") != 0) {
            snprintf(
                why, whylen,
                "\"%s\": expected local-cluster[EXECUTORS,CORES,MEMORY_MB]",
                url);
            return -1;
        }
        if (e < 1 || c < 1 || m < MIN_MEMORY_MB) {
            snprintf(why, whylen,
                     "\"%s\": need >= 1 executor, >= 1 core and >= %d MiB", url,
                     MIN_MEMORY_MB);
            return -1;
        }
        sp->executors = (int)e;
        sp->cores = (int)c;
        sp->memory_mb = m;
        return 0;
    }
    snprintf(why, whylen, "\"%s\" is not a local master URL", url);
    return -1;
}

static int cm_accepts(const char *master_url)
{
    url_spec sp;
    char why[256];
    return parse_url(master_url, &sp, why, sizeof why) == 0;
}

/* ---------------------------------------------------------- processes */

/* Write a string to fd ignoring errors (async-signal-safe). */
static void put(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* The child between fork() and exec: async-signal-safe calls only. */
static _Noreturn void child_exec(char *const *argv, int errfd, int credfd,
                                 pid_t parent, int maxfd)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1); /* the driver died before we could ask */

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    static const int dfl[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof dfl / sizeof dfl[0]; i++)
        sigaction(dfl[i], &sa, NULL);

    /* both pipes are above CREDFD (fds 0-2 are taken and pipe2 gives the
       lowest free ones, so a pipe may sit on 3 or 4: move them up first) */
    int first = ERRFD;
    if (credfd >= 0) {
        if (credfd <= CREDFD && (credfd = fcntl(credfd, F_DUPFD, 16)) < 0)
            _exit(127);
        first = CREDFD;
    }
    if (errfd <= first && (errfd = fcntl(errfd, F_DUPFD, 16)) < 0)
        _exit(127);
    if (dup2(errfd, ERRFD) < 0)
        _exit(127);
    fcntl(ERRFD, F_SETFD, FD_CLOEXEC);
    if (credfd >= 0 && dup2(credfd, CREDFD) < 0) /* dup2 clears CLOEXEC */
        _exit(127);
    int closed = -1;
#ifdef SYS_close_range
    closed = (int)syscall(SYS_close_range, first + 1, ~0U, 0);
#endif
    if (closed != 0)
        for (int fd = first + 1; fd < maxfd; fd++)
            close(fd);

    execv(argv[0], argv);

    int e = errno;
    put(2, "ember: clustermgr_local: cannot execute ");
    put(2, argv[0]);
    put(2, ": ");
    const char *desc = strerrordesc_np(e);
    put(2, desc ? desc : "exec failed");
    put(2, "\n");
    while (write(ERRFD, &e, sizeof e) < 0 && errno == EINTR)
        ;
    _exit(127);
}

static void log_exit(cm_state *st, const executor *x, int status)
{
    if (WIFEXITED(status))
        st->host->log(WEXITSTATUS(status) == 0 ? EMBER_LOG_INFO
                                               : EMBER_LOG_WARN,
                      WHO, "executor %s (pid %ld) exited with status %d", x->id,
                      (long)x->pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        st->host->log(EMBER_LOG_INFO, WHO,
                      "executor %s (pid %ld) killed by signal %d", x->id,
                      (long)x->pid, WTERMSIG(status));
}

/* Reap x if it has finished (or block until it has, if `block`).
 * Returns 1 if x is no longer alive. */
static int reap(cm_state *st, executor *x, int block)
{
    if (!x->alive)
        return 1;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(x->pid, &status, block ? 0 : WNOHANG);
        if (r == x->pid) {
            log_exit(st, x, status);
            x->status = status;
            x->alive = 0;
            return 1;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) { /* ECHILD: someone else reaped it */
            x->alive = 0;
            return 1;
        }
        return 0;
    }
}

static void reap_finished(cm_state *st)
{
    for (size_t i = 0; i < st->nexecs; i++)
        reap(st, &st->execs[i], 0);
}

/* A pipe holding executor id's credentials, written and closed: *rfd is
 * its read end (close-on-exec; the child dups it onto CREDFD).  The text
 * (far below the pipe's capacity) is wiped from our memory at once. */
static int credentials_pipe(cm_state *st, const char *id, int *rfd,
                            ember_error *err)
{
    const ember_host *h = st->host;
    char *text = calloc(1, CREDS_MAX);
    int fds[2] = {-1, -1};
    int rc = 0;
    *rfd = -1;
    if (!text) {
        h->seterr(err, EMBER_ENOMEM, WHO ": out of memory");
        return EMBER_ENOMEM;
    }
    rc = st->credentials(st->credentials_ud, id, text, CREDS_MAX, err);
    if (rc == 0 && pipe2(fds, O_CLOEXEC) != 0) {
        rc = EMBER_EIO;
        h->seterr(err, rc, WHO ": pipe: %s", strerror(errno));
    }
    if (rc == 0) {
        size_t len = strnlen(text, CREDS_MAX), off = 0;
        while (off < len) {
            ssize_t w = write(fds[1], text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = EMBER_EIO;
                h->seterr(err, rc, WHO ": writing credentials: %s",
                          strerror(errno));
                break;
            }
            off += (size_t)w;
        }
        close(fds[1]);
        if (rc == 0)
            *rfd = fds[0];
        else
            close(fds[0]);
    }
    explicit_bzero(text, CREDS_MAX);
    free(text);
    return rc;
}

/* Fork and exec the next executor.  On failure nothing is left behind. */
static int spawn(cm_state *st, ember_error *err)
{
    const ember_host *h = st->host;
    if (st->nexecs == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 8;
        executor *n = realloc(st->execs, ncap * sizeof *n);
        if (!n) {
            h->seterr(err, EMBER_ENOMEM, WHO ": out of memory");
            return EMBER_ENOMEM;
        }
        st->execs = n;
        st->cap = ncap;
    }
    executor *x = &st->execs[st->nexecs];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%d", st->next_id);

    int cfd = -1;
    if (st->credentials) {
        int rc = credentials_pipe(st, x->id, &cfd, err);
        if (rc != 0)
            return rc;
    }
    char **argv = malloc((st->nbase + 9) * sizeof *argv);
    if (!argv) {
        if (cfd >= 0)
            close(cfd);
        h->seterr(err, EMBER_ENOMEM, WHO ": out of memory");
        return EMBER_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < st->nbase; i++)
        argv[k++] = st->base_argv[i];
    argv[k++] = "--executor-id";
    argv[k++] = x->id;
    argv[k++] = "--cores";
    argv[k++] = st->cores;
    argv[k++] = "--memory";
    argv[k++] = st->memory;
    if (cfd >= 0) {
        argv[k++] = "--credentials-fd";
        argv[k++] = "4"; /* CREDFD */
    }
    argv[k] = NULL;

    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536)
        maxfd = 65536;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        int e = errno;
        free(argv);
        if (cfd >= 0)
            close(cfd);
        h->seterr(err, EMBER_EIO, WHO ": pipe: %s", strerror(e));
        return EMBER_EIO;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, pfd[1], cfd, parent, (int)maxfd);
    int fork_errno = errno;
    close(pfd[1]);
    if (cfd >= 0)
        close(cfd);
    free(argv);
    if (pid < 0) {
        close(pfd[0]);
        h->seterr(err, EMBER_EIO, WHO ": fork: %s", strerror(fork_errno));
        return EMBER_EIO;
    }

    /* EOF: exec succeeded (the pipe was close-on-exec); an int: it failed. */
    int child_errno = 0;
    ssize_t n;
    do
        n = read(pfd[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(pfd[0]);
    x->pid = pid;
    x->alive = 1;
    if (n > 0) {
        reap(st, x, 1);
        h->seterr(err, EMBER_EIO, WHO ": cannot execute %s: %s",
                  st->base_argv[0], strerror(child_errno));
        return EMBER_EIO;
    }
    st->nexecs++;
    st->next_id++;
    h->log(EMBER_LOG_INFO, WHO, "started executor %s (pid %ld): %s cores, %s",
           x->id, (long)pid, st->cores, st->memory);
    return 0;
}

/* ------------------------------------------------------- the manager */

static void cm_stop(void *state)
{
    cm_state *st = state;
    if (!st)
        return;
    reap_finished(st);
    for (size_t i = 0; i < st->nexecs; i++)
        if (st->execs[i].alive)
            kill(st->execs[i].pid, SIGTERM);

    struct timespec tick = {0, STOP_POLL_MS * 1000000L};
    for (int waited = 0;; waited += STOP_POLL_MS) {
        size_t left = 0;
        for (size_t i = 0; i < st->nexecs; i++)
            left += !reap(st, &st->execs[i], 0);
        if (left == 0 || waited >= STOP_GRACE_MS)
            break;
        nanosleep(&tick, NULL);
    }
    for (size_t i = 0; i < st->nexecs; i++) {
        executor *x = &st->execs[i];
        if (x->alive) {
            st->host->log(EMBER_LOG_WARN, WHO,
                          "executor %s (pid %ld) ignored SIGTERM for %d ms, "
                          "killing it",
                          x->id, (long)x->pid, STOP_GRACE_MS);
            kill(x->pid, SIGKILL);
            reap(st, x, 1);
        }
    }
    for (size_t i = 0; st->base_argv && i < st->nbase; i++)
        free(st->base_argv[i]);
    free(st->base_argv);
    free(st->execs);
    free(st);
}

static int cm_start(const ember_host *host, const ember_cm_request *req,
                    void **state, int *expected, ember_error *err)
{
    *state = NULL;
    *expected = 0;
    if (!req ||
        req->struct_size < offsetof(ember_cm_request, default_memory_mb) +
                               sizeof req->default_memory_mb) {
        host->seterr(err, EMBER_EINVAL, WHO ": request struct too small");
        return EMBER_EINVAL;
    }
    if (!req->exec_argv || !req->exec_argv[0] || !*req->exec_argv[0]) {
        host->seterr(err, EMBER_EINVAL, WHO ": no executor command");
        return EMBER_EINVAL;
    }
    url_spec sp;
    char why[512];
    if (parse_url(req->master_url, &sp, why, sizeof why) != 0) {
        host->seterr(err, EMBER_EINVAL, WHO ": %s", why);
        return EMBER_EINVAL;
    }
    int64_t mem = sp.memory_mb >= 0 ? sp.memory_mb : req->default_memory_mb;
    if (mem < 1) {
        host->seterr(err, EMBER_EINVAL,
                     WHO ": executor memory must be positive, got %lld MiB",
                     (long long)mem);
        return EMBER_EINVAL;
    }

    cm_state *st = calloc(1, sizeof *st);
    if (!st)
        goto nomem;
    st->host = host;
    if (req->struct_size >= offsetof(ember_cm_request, credentials_ud) +
                                sizeof req->credentials_ud) {
        st->credentials = req->credentials;
        st->credentials_ud = req->credentials_ud;
    }
    st->next_id = 1;
    snprintf(st->cores, sizeof st->cores, "%d", sp.cores);
    snprintf(st->memory, sizeof st->memory, "%lldm", (long long)mem);
    while (req->exec_argv[st->nbase])
        st->nbase++;
    st->base_argv = calloc(st->nbase + 1, sizeof *st->base_argv);
    if (!st->base_argv)
        goto nomem;
    for (size_t i = 0; i < st->nbase; i++)
        if (!(st->base_argv[i] = strdup(req->exec_argv[i])))
            goto nomem;

    for (int i = 0; i < sp.executors; i++) {
        int rc = spawn(st, err);
        if (rc != 0) {
            cm_stop(st);
            return rc;
        }
    }
    *state = st;
    *expected = sp.executors;
    return 0;

nomem:
    host->seterr(err, EMBER_ENOMEM, WHO ": out of memory");
    cm_stop(st);
    return EMBER_ENOMEM;
}

static int cm_request_executor(void *state, ember_error *err)
{
    cm_state *st = state;
    reap_finished(st);
    return spawn(st, err);
}

static int cm_kill_executor(void *state, const char *executor_id)
{
    cm_state *st = state;
    if (!st || !executor_id)
        return EMBER_EINVAL;
    reap_finished(st);
    for (size_t i = 0; i < st->nexecs; i++) {
        executor *x = &st->execs[i];
        if (x->alive && strcmp(x->id, executor_id) == 0) {
            kill(x->pid, SIGKILL);
            reap(st, x, 1);
            return 0;
        }
    }
    return EMBER_ENOTFOUND;
}

static int cm_poll_exited(void *state,
                          void (*exited)(void *ud, const char *executor_id,
                                         const char *how),
                          void *ud)
{
    cm_state *st = state;
    char how[96];
    if (!st || !exited)
        return EMBER_EINVAL;
    reap_finished(st);
    for (size_t i = 0; i < st->nexecs; i++) {
        executor *x = &st->execs[i];
        if (x->alive || x->reported)
            continue;
        x->reported = 1;
        if (WIFSIGNALED(x->status))
            snprintf(how, sizeof how,
                     "executor process %ld killed by signal %d", (long)x->pid,
                     WTERMSIG(x->status));
        else
            snprintf(how, sizeof how,
                     "executor process %ld exited with status %d", (long)x->pid,
                     WEXITSTATUS(x->status));
        exited(ud, x->id, how);
    }
    return 0;
}

/* --------------------------------------------------------------- plugin */

static const ember_cm_desc local_cm = {
    .struct_size = sizeof(ember_cm_desc),
    .name = "local",
    .accepts = cm_accepts,
    .start = cm_start,
    .request_executor = cm_request_executor,
    .kill_executor = cm_kill_executor,
    .stop = cm_stop,
    .poll_exited = cm_poll_exited,
};

static int plugin_init(const ember_host *host, ember_registry *reg,
                       ember_error *err)
{
    int rc = host->register_clustermgr(reg, &local_cm);
    if (rc != 0)
        host->seterr(err, rc,
                     "%s: cannot register cluster manager "
                     "\"local\": %s",
                     PLUGIN_NAME, host->strerror(rc));
    return rc;
}

EMBER_PLUGIN_DEFINE(PLUGIN_NAME, PLUGIN_VERSION, plugin_init, NULL)
