/*
 * bench_shm.c -- throughput of an ember transport plugin between two
 * processes: a forked client sends TOTAL bytes in MSG-byte messages to a
 * server in the parent, which acknowledges the last one.  Not built by make;
 * works with any transport plugin (shm, zmq):
 *
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Itests -Itests/unit \
 *       plugins/transport/shm/bench_shm.c -ldl -lpthread -o /tmp/bench
 *   /tmp/bench /tmp/transport_shm.so shm://bench [MiB total] [KiB per msg]
 *   /tmp/bench /tmp/transport_zmq.so tcp://127.0.0.1:*
 */
#include "fake_host.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PLUGIN.so ENDPOINT [MiB] [KiB/msg]\n",
                argv[0]);
        return 2;
    }
    size_t total = (size_t)(argc > 3 ? atol(argv[3]) : 1024) << 20;
    size_t msg = (size_t)(argc > 4 ? atol(argv[4]) : 1024) << 10;
    size_t n = total / msg;
    ember_error err = {0};
    void *handle;
    const ember_plugin *p = fake_load_plugin(argv[1], &handle, &err);
    if (!p || p->init(&fake_host, FAKE_REGISTRY, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const ember_transport_desc *T = fake_host_st.transport;
    void *ctx;
    ember_tsock *srv;
    char bound[256];
    if (T->open(&fake_host, &ctx, &err) != 0 ||
        T->listen(ctx, argv[2], &srv, bound, sizeof bound, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        void *c;
        ember_tsock *s;
        ember_tmsg m;
        if (T->open(&fake_host, &c, &err) != 0 ||
            T->connect(c, bound, &s, &err) != 0)
            _exit(1);
        char *buf = malloc(msg);
        memset(buf, 'x', msg);
        const void *parts[1] = {buf};
        for (size_t i = 0; i < n; i++)
            if (T->send(s, NULL, parts, &msg, 1, &err) != 0)
                _exit(3);
        int rc = T->recv(s, 60000, NULL, &m, &err); /* the ack */
        T->msg_release(&m);
        T->sock_close(s);
        T->close(c);
        free(buf);
        _exit(rc == 0 ? 0 : 4);
    }
    ember_peer from;
    ember_tmsg m;
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        if (T->recv(srv, 60000, &from, &m, &err) != 0) {
            fprintf(stderr, "recv: %s\n", err.msg);
            break;
        }
        got += m.len;
        T->msg_release(&m);
    }
    const void *ack[1] = {"ok"};
    size_t acklen = 2;
    T->send(srv, &from, ack, &acklen, 1, &err);
    int st;
    waitpid(pid, &st, 0);
    double dt = now_s() - t0;
    printf("%s %s: %zu MiB in %zu KiB messages: %.3f s, %.0f MiB/s "
           "(child status %d)\n",
           T->name, bound, got >> 20, msg >> 10, dt,
           (double)got / dt / 1048576.0, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    T->sock_close(srv);
    T->close(ctx);
    dlclose(handle);
    return got == total ? 0 : 1;
}
