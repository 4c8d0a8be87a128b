/*
 * test_transport_sec.c -- the authenticated sockets of a transport plugin
 * (listen_secure / connect_secure / peer_name, ABI 1.3), for any transport
 * that offers them: the plugin is argv[1] (or $EMBER_TEST_PLUGIN), the
 * endpoint to listen on argv[2] (default SEC_TEST_ENDPOINT, else
 * tcp://127.0.0.1:*).  A run of six or more X at the end of the endpoint is
 * replaced by random characters (mkstemp-style), so that names of
 * transports without wildcards ("shm://sec-XXXXXXXXXXXX") differ per run.
 *
 * A server admits one key and names it; then clients try it the way an
 * application's own process and an outsider would: the admitted key gets
 * through and is named on every message; an unknown key, a client that
 * expects another server key, and a client without security are refused
 * (the secure clients learn it at once as EMBER_EDENIED), nothing of
 * theirs reaches the server, and the refusal is logged once per address;
 * a message over max_message never arrives.  Keys come from libsodium
 * (crypto_box keys are CurveZMQ's keys).  Every wait is bounded.
 *
 * Where transports legitimately differ: shared memory (shm://) has no
 * network address, so admit() must get "" and the refusal's log line names
 * the peer by its pid instead ("pid N"); a network transport must pass
 * 127.0.0.1 to admit() and name it in the log.
 */
#include "tap/tap.h"
#include "fake_host.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const ember_transport_desc *T;
static void *ctx;

#ifndef SEC_TEST_ENDPOINT
#define SEC_TEST_ENDPOINT "tcp://127.0.0.1:*"
#endif

/* How the peer shows: admit()'s address, and what the refusal's log line
 * must contain (set in main from the endpoint's scheme). */
static int no_address;
static char log_peer[64];

#define WAIT_MS 10000
#define QUIET_MS 700 /* how long "nothing arrives" is watched */

typedef struct keypair {
    uint8_t pub[EMBER_KEY_BYTES], sec[EMBER_KEY_BYTES];
} keypair;

static keypair server_kp, good_kp, bad_kp;

/* admit(): only good_kp, named "exec-7"; records what it saw. */
static int admits, refusals;
static char last_address[128];

static int admit(void *ud, const uint8_t key[EMBER_KEY_BYTES],
                 const char *address, char *name, size_t namelen)
{
    (void)ud;
    snprintf(last_address, sizeof last_address, "%s", address);
    if (memcmp(key, good_kp.pub, EMBER_KEY_BYTES) == 0) {
        __atomic_add_fetch(&admits, 1, __ATOMIC_SEQ_CST);
        snprintf(name, namelen, "exec-7");
        return 1;
    }
    __atomic_add_fetch(&refusals, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static ember_tsec server_sec(int64_t max_message)
{
    ember_tsec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.mechanism = EMBER_SEC_CURVE;
    memcpy(s.public_key, server_kp.pub, EMBER_KEY_BYTES);
    memcpy(s.secret_key, server_kp.sec, EMBER_KEY_BYTES);
    s.admit = admit;
    s.max_message = max_message;
    return s;
}

static ember_tsec client_sec(const keypair *kp, const uint8_t *server_pub)
{
    ember_tsec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.mechanism = EMBER_SEC_CURVE;
    memcpy(s.public_key, kp->pub, EMBER_KEY_BYTES);
    memcpy(s.secret_key, kp->sec, EMBER_KEY_BYTES);
    memcpy(s.server_key, server_pub, EMBER_KEY_BYTES);
    return s;
}

static int send_bytes(ember_tsock *s, const ember_peer *to, const void *p,
                      size_t n, ember_error *err)
{
    const void *parts[1] = {p};
    size_t lens[1] = {n};
    return T->send(s, to, parts, lens, 1, err);
}

/* Is anything delivered on srv within QUIET_MS?  Releases it if so. */
static int server_gets_something(ember_tsock *srv)
{
    ember_tmsg m;
    ember_error err = {0};
    int rc = T->recv(srv, QUIET_MS, NULL, &m, &err);
    if (rc == 0)
        T->msg_release(&m);
    return rc == 0;
}

/* recv on a refused client: EMBER_EDENIED, within WAIT_MS. */
static int client_denied(ember_tsock *cli, ember_error *err)
{
    ember_tmsg m;
    int rc = T->recv(cli, WAIT_MS, NULL, &m, err);
    if (rc == 0)
        T->msg_release(&m);
    return rc;
}

static void test_admitted(ember_tsock *srv, const char *bound)
{
    ember_error err = {0};
    ember_tsock *cli = NULL;
    ember_tsec cs = client_sec(&good_kp, server_kp.pub);
    int rc = T->connect_secure(ctx, bound, &cs, &cli, &err);
    if (!ok(rc == 0 && cli, "an admitted key connects %s", err.msg))
        return;
    rc = send_bytes(cli, NULL, "register", 8, &err);
    is_int(0, rc, "it sends %s", err.msg);
    ember_tmsg m;
    ember_peer from;
    rc = T->recv(srv, WAIT_MS, &from, &m, &err);
    is_int(0, rc, "the server receives it %s", rc ? err.msg : "");
    if (rc == 0) {
        ok(m.len == 8 && memcmp(m.data, "register", 8) == 0, "intact");
        char name[64] = "?";
        is_int(0, T->peer_name(&m, name, sizeof name), "the message is named");
        is_string("exec-7", name, "by the name admit() gave the key");
        T->msg_release(&m);
        rc = send_bytes(srv, &from, "welcome", 7, &err);
        is_int(0, rc, "the server answers %s", err.msg);
        char buf[16] = "";
        rc = T->recv(cli, WAIT_MS, NULL, &m, &err);
        if (rc == 0) {
            memcpy(buf, m.data, m.len < 15 ? m.len : 15);
            T->msg_release(&m);
        }
        is_string("welcome", buf, "the client gets the answer");
    }
    ok(admits >= 1, "admit() saw the key");
    if (no_address)
        is_string("", last_address,
                  "admit() got \"\" for the address (the transport has "
                  "none)");
    else
        like(last_address, "127.0.0.1", "admit() got the peer's address (%s)",
             last_address);
    T->sock_close(cli);
}

static void test_unknown_key(ember_tsock *srv, const char *bound)
{
    ember_error err = {0};
    ember_tsock *cli = NULL;
    int logs0 = fake_host_st.nlogs, ref0 = refusals;
    ember_tsec cs = client_sec(&bad_kp, server_kp.pub);
    int rc = T->connect_secure(ctx, bound, &cs, &cli, &err);
    ok(rc == 0 && cli, "an unknown key may try to connect %s", err.msg);
    if (!cli)
        return;
    send_bytes(cli, NULL, "register as executor", 20, &err);
    memset(&err, 0, sizeof err);
    rc = client_denied(cli, &err);
    is_int(EMBER_EDENIED, rc, "the outsider learns it was refused");
    like(err.msg, "refused", "and is told so: %s", err.msg);
    ok(!server_gets_something(srv), "nothing of it reaches the server");
    ok(refusals > ref0, "admit() refused the key");
    ok(fake_host_st.nlogs > logs0, "the refusal is logged");
    like(fake_host_st.last_log, log_peer, "naming the peer (%s): %s", log_peer,
         fake_host_st.last_log);
    /* sending on a refused socket fails at once too */
    rc = send_bytes(cli, NULL, "again", 5, &err);
    is_int(EMBER_EDENIED, rc, "a refused client cannot send any more");
    T->sock_close(cli);

    /* a second attempt from the same address is refused, not logged again */
    int logs1 = fake_host_st.nlogs;
    cli = NULL;
    rc = T->connect_secure(ctx, bound, &cs, &cli, &err);
    if (rc == 0) {
        send_bytes(cli, NULL, "x", 1, &err);
        is_int(EMBER_EDENIED, client_denied(cli, &err),
               "a second attempt is refused");
        T->sock_close(cli);
    }
    is_int(logs1, fake_host_st.nlogs, "and not logged twice");
}

static void test_wrong_server_key(ember_tsock *srv, const char *bound)
{
    ember_error err = {0};
    ember_tsock *cli = NULL;
    /* an admitted client key, but it expects another server */
    ember_tsec cs = client_sec(&good_kp, bad_kp.pub);
    int rc = T->connect_secure(ctx, bound, &cs, &cli, &err);
    if (!ok(rc == 0 && cli, "connect expecting another server key"))
        return;
    send_bytes(cli, NULL, "secret task", 11, &err);
    memset(&err, 0, sizeof err);
    rc = client_denied(cli, &err);
    is_int(EMBER_EDENIED, rc,
           "a server that cannot prove the expected key is refused by the "
           "client");
    ok(strstr(err.msg, "prove") != NULL || strstr(err.msg, "handshake"),
       "the message says the server's proof failed: %s", err.msg);
    ok(!server_gets_something(srv), "nothing is delivered either way");
    T->sock_close(cli);
}

static void test_plain_client(ember_tsock *srv, const char *bound)
{
    ember_error err = {0};
    ember_tsock *cli = NULL;
    int rc = T->connect(ctx, bound, &cli, &err);
    if (!ok(rc == 0 && cli, "a client without security connects"))
        return;
    send_bytes(cli, NULL, "launch task", 11, &err);
    ok(!server_gets_something(srv), "its messages never reach a secure server");
    T->sock_close(cli);
}

static void test_max_message(const char *ep)
{
    ember_error err = {0};
    ember_tsock *srv = NULL, *cli = NULL, *cli2 = NULL;
    char bound[256] = "";
    ember_tsec ss = server_sec(1024);
    int rc = T->listen_secure(ctx, ep, &ss, &srv, bound, sizeof bound, &err);
    if (!ok(rc == 0, "listen with max_message 1024 %s", err.msg))
        return;
    ember_tsec cs = client_sec(&good_kp, server_kp.pub);
    T->connect_secure(ctx, bound, &cs, &cli, &err);
    static uint8_t big[64 << 10];
    memset(big, 'x', sizeof big);
    send_bytes(cli, NULL, big, sizeof big, &err);
    ok(!server_gets_something(srv),
       "a 64 KiB message to a 1 KiB listener is not delivered");
    T->connect_secure(ctx, bound, &cs, &cli2, &err);
    send_bytes(cli2, NULL, big, 1000, &err);
    ember_tmsg m;
    rc = T->recv(srv, WAIT_MS, NULL, &m, &err);
    ok(rc == 0 && m.len == 1000, "a 1000-byte message is (from a fresh "
                                 "connection)");
    if (rc == 0)
        T->msg_release(&m);
    T->sock_close(cli);
    T->sock_close(cli2);
    T->sock_close(srv);
}

static void test_bad_args(const char *ep)
{
    ember_error err = {0};
    ember_tsock *s = (ember_tsock *)&err;
    ember_tsec ss = server_sec(0);
    ss.admit = NULL;
    is_int(EMBER_EINVAL, T->listen_secure(ctx, ep, &ss, &s, NULL, 0, &err),
           "a secure listener without admit() is refused");
    ok(s == NULL, "and *out is NULL");
    ss = server_sec(0);
    ss.mechanism = EMBER_SEC_NONE;
    is_int(EMBER_EINVAL, T->listen_secure(ctx, ep, &ss, &s, NULL, 0, &err),
           "mechanism NONE is not a secure socket");
}

/* Replace a trailing run of at least six X by random [a-z0-9]. */
static void expand_template(char *ep)
{
    size_t n = strlen(ep), k = n;
    while (k > 0 && ep[k - 1] == 'X')
        k--;
    if (n - k < 6)
        return;
    for (; k < n; k++)
        ep[k] = "abcdefghijklmnopqrstuvwxyz0123456789"[randombytes_uniform(36)];
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        bail("sodium_init failed");
    crypto_box_keypair(server_kp.pub, server_kp.sec);
    crypto_box_keypair(good_kp.pub, good_kp.sec);
    crypto_box_keypair(bad_kp.pub, bad_kp.sec);
    char ep[256];
    snprintf(ep, sizeof ep, "%s", argc > 2 ? argv[2] : SEC_TEST_ENDPOINT);
    expand_template(ep);
    no_address = strncmp(ep, "shm://", 6) == 0;
    if (no_address)
        snprintf(log_peer, sizeof log_peer, "pid %ld", (long)getpid());
    else
        snprintf(log_peer, sizeof log_peer, "127.0.0.1");
    void *handle;
    const char *path = fake_plugin_path(argc, argv);
    const char *base = path ? strrchr(path, '/') : NULL;
    char name[64] = "";
    snprintf(name, sizeof name, "%s", base ? base + 1 : path ? path : "");
    if (strchr(name, '.'))
        *strchr(name, '.') = '\0';
    fake_load_checked(argc, argv, "test_transport_sec", name, &handle);
    T = fake_host_st.transport;
    if (!T || T->struct_size < sizeof(ember_transport_desc) ||
        !T->listen_secure || !T->connect_secure || !T->peer_name)
        bail("the transport offers no secure sockets");
    ember_error err = {0};
    if (T->open(&fake_host, &ctx, &err) != 0)
        bail("open: %s", err.msg);

    ember_tsock *srv = NULL;
    char bound[256] = "";
    ember_tsec ss = server_sec(0);
    int rc = T->listen_secure(ctx, ep, &ss, &srv, bound, sizeof bound, &err);
    if (!ok(rc == 0 && srv, "listen_secure on %s %s", ep, err.msg))
        bail("cannot listen");

    test_admitted(srv, bound);
    test_unknown_key(srv, bound);
    test_wrong_server_key(srv, bound);
    test_plain_client(srv, bound);
    T->sock_close(srv);
    test_max_message(ep);
    test_bad_args(ep);

    T->close(ctx);
    ok(1, "sockets and context closed without hanging");
    dlclose(handle);
    return done_testing();
}
