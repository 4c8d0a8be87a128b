/* rsswatch.c -- run a command, measure its wall time and the peak RSS of its
 * process tree, and leave no process behind.
 *
 *   rsswatch REPORT -- CMD [ARGS...]
 *
 * Owns: one child and everything it starts.  rsswatch makes itself a child
 * subreaper (PR_SET_CHILD_SUBREAPER), so processes that daemonize or lose
 * their parent are re-parented to it and stay in the tree.  Every ~50 ms (5 ms
 * in the first half second; and at once when a child exits, through
 * sigtimedwait on SIGCHLD) it walks /proc, collects all descendants and sums
 * their RSS (statm resident pages): the largest single process and the largest
 * sum seen are the peaks.  The largest ru_maxrss of reaped children is folded
 * into the single-process peak, so processes too short-lived to be sampled
 * still count.  When the command exits, the remaining descendants get SIGTERM,
 * then SIGKILL after 3 s; how many there were is reported as "leftover".
 *
 * REPORT gets one line: wall_s=... max_rss_kb=... total_rss_kb=... status=...
 * leftover=...; the exit status of rsswatch is the command's.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXP 65536

static pid_t self;
static long page_kb;
static long max_one, max_total;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* descendants of self; returns count, fills pids */
static int descendants(pid_t *out, int max)
{
    static pid_t pid[MAXP], ppid[MAXP];
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAXP) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *rp = strrchr(buf, ')');
        if (!rp)
            continue;
        char st;
        int pp;
        if (sscanf(rp + 1, " %c %d", &st, &pp) != 2)
            continue;
        pid[n] = atoi(e->d_name);
        ppid[n] = pp;
        n++;
    }
    closedir(d);
    /* breadth-first from self */
    int m = 0;
    pid_t frontier_start = 0;
    out[m++] = self;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            if (ppid[j] == out[i] && m < max)
                out[m++] = pid[j];
    (void)frontier_start;
    /* drop self */
    memmove(out, out + 1, (size_t)(m - 1) * sizeof *out);
    return m - 1;
}

static void sample(void)
{
    static pid_t ps[MAXP];
    int n = descendants(ps, MAXP);
    long total = 0;
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/statm", (int)ps[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        long size, res;
        if (fscanf(f, "%ld %ld", &size, &res) == 2) {
            long kb = res * page_kb;
            total += kb;
            if (kb > max_one)
                max_one = kb;
        }
        fclose(f);
    }
    if (total > max_total)
        max_total = total;
}

static void reap(pid_t child, int *status, int *done)
{
    int st;
    struct rusage ru;
    pid_t p;
    while ((p = wait4(-1, &st, WNOHANG, &ru)) > 0) {
        if (ru.ru_maxrss > max_one)
            max_one = ru.ru_maxrss;
        if (p == child) {
            *status = st;
            *done = 1;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: rsswatch REPORT -- CMD [ARGS...]\n");
        return 2;
    }
    self = getpid();
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    /* pass SIGINT/SIGTERM on to the tree: handled by killing below */
    double t0 = now();
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        execvp(argv[3], argv + 3);
        perror(argv[3]);
        _exit(127);
    }
    int status = 0, done = 0;
    while (!done) {
        sample();
        reap(child, &status, &done);
        if (done)
            break;
        /* 5 ms during the first half second (start-up runs are short), then 50
         * ms */
        struct timespec ts = {0, (now() - t0 < 0.5 ? 5 : 50) * 1000 * 1000};
        sigtimedwait(&set, NULL, &ts);
        reap(child, &status, &done);
    }
    double wall = now() - t0;
    /* clean up whatever is left */
    static pid_t ps[MAXP];
    int left = descendants(ps, MAXP);
    for (int i = 0; i < left; i++)
        kill(ps[i], SIGTERM);
    for (int k = 0; k < 60; k++) {
        reap(-2, &(int){0}, &(int){0});
        if (descendants(ps, MAXP) == 0)
            break;
        usleep(50000);
    }
    int n = descendants(ps, MAXP);
    for (int i = 0; i < n; i++)
        kill(ps[i], SIGKILL);
    while (wait(NULL) > 0)
        ;
    FILE *r = fopen(argv[1], "w");
    if (r) {
        fprintf(r,
                "wall_s=%.6f max_rss_kb=%ld total_rss_kb=%ld status=%d "
                "leftover=%d\n",
                wall, max_one, max_total,
                WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status),
                left);
        fclose(r);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
