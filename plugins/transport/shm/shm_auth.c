/*
 * shm_auth.c -- the authenticated sockets of the shm transport (ABI 1.3:
 * listen_secure, connect_secure, peer_name), with the model of
 * transport_zmq's CurveZMQ: a secure listener admits a client only after
 * the client proved it holds the secret half of a public key that admit()
 * accepts; a secure client talks to a server only after the server proved
 * it holds the secret half of the server_key the client expects.
 *
 * What it owns: the handshake of a secure connection -- the key derivation
 * and the proofs, the client's side (run by the client's own connect(),
 * send() and recv()), and per secure listener one handshake thread that
 * runs the server's side and calls admit().
 *
 * The handshake, in the connection object's shm_hs block (shm_int.h):
 *   1. hello: the client writes its public key C and a fresh random nonce
 *      Nc, then announces the connection (its slot becomes READY).
 *   2. challenge: the handshake thread accepts the object (owner, mode,
 *      name and layout checked by transport_shm.c), computes
 *      K from X25519(its secret key, C), picks a fresh nonce Ns and writes
 *      Ns and its proof Ps = MAC_K("server", Nc, Ns, names).
 *   3. proof: the client computes K from X25519(its secret key, S) with
 *      the server key S it expects.  If Ps is not what it computes, the
 *      server could not prove S and the client gives up; else it writes
 *      Pc = MAC_K("client", Nc, Ns, names).  connect_secure() waits for
 *      this step (up to transport.shm.send_timeout_ms), so no handshake
 *      waits on an idle client.
 *   4. verdict: the thread checks Pc (the client holds the secret half of
 *      C), then asks admit(C, "", name, ...), and writes ADMITTED or
 *      REFUSED.
 * K = BLAKE2b-256("ember-shm-v2 key", X25519, C, S) and MAC_K is BLAKE2b-
 * 256 keyed with K (libsodium's crypto_generichash) over a direction
 * label, both nonces, the control object's and the connection object's
 * names, each length-prefixed; proofs are compared in constant time.
 * Fresh nonces on both sides make an old proof useless, the labels keep a
 * proof from being reflected, the names bind it to this connection.  All
 * fields are copied out of shared memory before they are used.
 *
 * Until the verdict nothing of a connection is read on either side: the
 * server takes a connection into its socket only once admitted, so a
 * refused or unproven client never gets a message through; the client's
 * send() waits for the verdict and its recv() only advances the handshake.
 * A client that failed learns it at once: recv() and send() return
 * EMBER_EDENIED with a message saying which side could not prove itself.
 * A client without security connecting to a secure listener is refused
 * like an unknown key; a secure client refuses a plain listener at
 * connect_secure() (EMBER_EDENIED).  The listener logs each refused pid
 * once per socket ("refused a peer (pid N): unknown key"); the peer learns
 * only that it was refused.  admit() gets "" for the address: shared
 * memory has none (the log names the pid instead).
 *
 * Not encrypted: messages cross in clear, in objects of mode 0600 that
 * only this user (and root) can open.  The proof tells the processes of
 * one application from the other processes of the same user (another
 * application, a misconfigured executor); it is no defence against a
 * hostile process of the same uid, which can open the objects or ptrace.
 *
 * max_message: a secure listener accepts messages up to the smaller of
 * transport.shm.max_message and ember_tsec.max_message; a peer sending
 * more is disconnected (recv() returns EMBER_EPROTO once, the client sees
 * the connection closed).
 *
 * Threads: admit() runs on the listener's handshake thread, never on the
 * caller's, concurrently with the socket's own thread, and with no lock of
 * the transport held: the control object's mutex is released before any
 * handshake step, and the socket's mutex is taken only to hand an admitted
 * connection over.  It may take its time but must return: sock_close()
 * joins the thread.  The thread blocks all signals.  Its pending list and
 * the socket's logged pids are its alone; the socket's thread takes the
 * admitted connections under s->mu.
 */
#include "shm_int.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#define LABEL_KEY "ember-shm-v2 key"
#define LABEL_SERVER "ember-shm-v2 server proof"
#define LABEL_CLIENT "ember-shm-v2 client proof"
#define KEY_BYTES 32 /* the proofs' key */

_Static_assert(EMBER_KEY_BYTES == crypto_scalarmult_BYTES, "X25519 keys");
_Static_assert(EMBER_KEY_BYTES == crypto_scalarmult_SCALARBYTES, "X25519");
_Static_assert(sizeof(((pend *)0)->key) == KEY_BYTES, "key size");

/* ---------------------------------------------------------- the proofs */

static void hash_part(crypto_generichash_state *st, const void *p, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                      (uint8_t)n};
    crypto_generichash_update(st, len, sizeof len);
    crypto_generichash_update(st, p, n);
}

/* The proofs' key of a connection between client_key and server_key, from
 * our secret key and the other side's public key.  -1 if the public key
 * gives no shared secret (a low-order point). */
static int derive_key(uint8_t key[KEY_BYTES], const uint8_t *own_secret,
                      const uint8_t *other_public, const uint8_t *client_key,
                      const uint8_t *server_key)
{
    uint8_t dh[crypto_scalarmult_BYTES];
    if (crypto_scalarmult(dh, own_secret, other_public) != 0)
        return -1;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, KEY_BYTES);
    hash_part(&st, LABEL_KEY, sizeof LABEL_KEY - 1);
    hash_part(&st, dh, sizeof dh);
    hash_part(&st, client_key, EMBER_KEY_BYTES);
    hash_part(&st, server_key, EMBER_KEY_BYTES);
    crypto_generichash_final(&st, key, KEY_BYTES);
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(&st, sizeof st);
    return 0;
}

static void make_proof(uint8_t out[PROOF_BYTES], const uint8_t key[KEY_BYTES],
                       const char *label, const uint8_t *client_nonce,
                       const uint8_t *server_nonce, const char *ctl_obj,
                       const char *conn_obj)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, KEY_BYTES, PROOF_BYTES);
    hash_part(&st, label, strlen(label));
    hash_part(&st, client_nonce, NONCE_BYTES);
    hash_part(&st, server_nonce, NONCE_BYTES);
    hash_part(&st, ctl_obj, strlen(ctl_obj));
    hash_part(&st, conn_obj, strlen(conn_obj));
    crypto_generichash_final(&st, out, PROOF_BYTES);
    sodium_memzero(&st, sizeof st);
}

/* Is pub the public half of secret? */
static int keypair_ok(const uint8_t *pub, const uint8_t *secret)
{
    uint8_t p[crypto_scalarmult_BYTES];
    return crypto_scalarmult_base(p, secret) == 0 &&
           sodium_memcmp(p, pub, sizeof p) == 0;
}

int shm_sec_check(const ember_host *h, const ember_tsec *sec, int listener,
                  ember_error *err)
{
    if (!sec || sec->struct_size < sizeof(ember_tsec) ||
        sec->mechanism != EMBER_SEC_CURVE) {
        h->seterr(err, EMBER_EINVAL,
                  "shm: a secure socket needs an ember_tsec with mechanism "
                  "EMBER_SEC_CURVE");
        return EMBER_EINVAL;
    }
    if (listener && !sec->admit) {
        h->seterr(err, EMBER_EINVAL, "shm: a secure listener needs admit()");
        return EMBER_EINVAL;
    }
    if (sec->max_message < 0) {
        h->seterr(err, EMBER_EINVAL, "shm: negative max_message");
        return EMBER_EINVAL;
    }
    if (!keypair_ok(sec->public_key, sec->secret_key)) {
        h->seterr(err, EMBER_EINVAL,
                  "shm: public_key is not the public half of secret_key");
        return EMBER_EINVAL;
    }
    return 0;
}

void shm_sec_wipe(ember_tsock *s)
{
    sodium_memzero(&s->sec, sizeof s->sec);
    sodium_memzero(s->key, sizeof s->key);
    if (s->mu_ready) {
        pthread_mutex_destroy(&s->mu);
        s->mu_ready = 0;
    }
}

/* ------------------------------------------------------ the client side */

int shm_client_begin(ember_tsock *s, const ember_tsec *sec, ember_error *err)
{
    memcpy(&s->sec, sec, sizeof s->sec);
    s->sec.struct_size = sizeof s->sec;
    s->sec.admit = NULL;
    s->sec.admit_ud = NULL;
    s->secure = 1;
    if (derive_key(s->key, sec->secret_key, sec->server_key, sec->public_key,
                   sec->server_key) != 0) {
        s->host->seterr(err, EMBER_EINVAL,
                        "shm connect to %s: server_key is not a usable "
                        "public key",
                        s->endpoint);
        return EMBER_EINVAL;
    }
    sodium_memzero(s->sec.secret_key, sizeof s->sec.secret_key); /* done */
    randombytes_buf(s->nonce, sizeof s->nonce);
    s->cstate = CS_WAIT_CHALLENGE;
    s->hs_since = shm_now_ms();
    return 0;
}

void shm_client_hello(ember_tsock *s)
{
    shm_hs *hs = &s->cli->shm->hs;
    memcpy(hs->client_key, s->sec.public_key, EMBER_KEY_BYTES);
    memcpy(hs->client_nonce, s->nonce, NONCE_BYTES);
    atomic_store(&hs->state, HS_HELLO);
}

static int deny(ember_tsock *s, ember_error *err, const char *fmt, ...)
    EMBER_PRINTF(3, 4);
static int deny(ember_tsock *s, ember_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->denied_msg, sizeof s->denied_msg, fmt, ap);
    va_end(ap);
    s->cstate = CS_DENIED;
    sodium_memzero(s->key, sizeof s->key);
    s->host->seterr(err, EMBER_EDENIED, "shm: %s", s->denied_msg);
    return EMBER_EDENIED;
}

int shm_client_step(ember_tsock *s, ember_error *err)
{
    if (s->cstate == CS_OPEN)
        return 0;
    if (s->cstate == CS_DENIED) {
        s->host->seterr(err, EMBER_EDENIED, "shm: %s", s->denied_msg);
        return EMBER_EDENIED;
    }
    shm_hs *hs = &s->cli->shm->hs;
    uint32_t st = atomic_load(&hs->state);
    if (st == HS_REFUSED)
        return deny(s, err,
                    "%s refused this process's key: it is not a key of this "
                    "application",
                    s->endpoint);
    if (s->cstate == CS_WAIT_CHALLENGE) {
        if (st == HS_HELLO)
            return 1;
        if (st != HS_CHALLENGE)
            return deny(s, err,
                        "the handshake with %s failed: the server did not "
                        "prove the key this process expects (it answered "
                        "out of turn)",
                        s->endpoint);
        uint8_t ns[NONCE_BYTES], got[PROOF_BYTES], want[PROOF_BYTES];
        char ctl_obj[OBJ_NAME_MAX];
        memcpy(ns, hs->server_nonce, sizeof ns);
        memcpy(got, hs->server_proof, sizeof got);
        snprintf(ctl_obj, sizeof ctl_obj, "/ember-%s", s->name);
        make_proof(want, s->key, LABEL_SERVER, s->nonce, ns, ctl_obj,
                   s->objname);
        if (sodium_memcmp(got, want, sizeof want) != 0) {
            atomic_store(&hs->state, HS_CLIENT_FAIL);
            shm_ring_bell(&s->ctl->hs_bell, &s->ctl->hs_waiting);
            return deny(s, err,
                        "%s could not prove the server key this process "
                        "expects (shm handshake failed): not a server of "
                        "this application, or a wrong key",
                        s->endpoint);
        }
        make_proof(want, s->key, LABEL_CLIENT, s->nonce, ns, ctl_obj,
                   s->objname);
        memcpy(hs->client_proof, want, sizeof want);
        atomic_store(&hs->state, HS_PROOF);
        shm_ring_bell(&s->ctl->hs_bell, &s->ctl->hs_waiting);
        s->cstate = CS_WAIT_VERDICT;
        sodium_memzero(s->key, sizeof s->key);
        return 1;
    }
    /* CS_WAIT_VERDICT */
    if (st == HS_PROOF)
        return 1;
    if (st == HS_ADMITTED) {
        s->cstate = CS_OPEN;
        return 0;
    }
    return deny(s, err,
                "the handshake with %s failed: the server answered out of "
                "turn",
                s->endpoint);
}

int shm_client_wait(ember_tsock *s, int until, const char *what,
                    ember_error *err)
{
    shm_conn *sc = s->cli->shm;
    int64_t last_check = 0;
    for (;;) {
        uint32_t seq = atomic_load(s->bell);
        /* read before the state: a server that refuses says so before it
           closes the connection */
        int closed = atomic_load(&sc->server_closed) != 0 ||
                     atomic_load(&s->ctl->closed) != 0;
        int rc = shm_client_step(s, err);
        if (rc < 0 || s->cstate >= until)
            return rc < 0 ? rc : 0;
        int64_t t = shm_now_ms();
        int dead = 0;
        if (t - last_check >= CHECK_MS) {
            last_check = t;
            dead = shm_pid_dead(s->cli->peer_pid);
        }
        if (closed || dead) {
            s->host->seterr(err, EMBER_ECLOSED,
                            "shm %s %s: the server %s during the handshake",
                            what, s->endpoint, closed ? "closed" : "died");
            return EMBER_ECLOSED;
        }
        if (t - s->hs_since >= s->ctx->send_timeout_ms) {
            s->host->seterr(err, EMBER_ECLOSED,
                            "shm %s %s: the server did not answer the "
                            "handshake within %d ms",
                            what, s->endpoint, s->ctx->send_timeout_ms);
            return EMBER_ECLOSED;
        }
        atomic_store(s->bell_waiting, 1);
        shm_futex_wait(s->bell, seq, CHECK_MS);
        atomic_store(s->bell_waiting, 0);
    }
}

/* ------------------------------------------------------ the server side */

int shm_hs_add(ember_tsock *s, conn *c, const char *obj)
{
    pend *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->c = c;
    snprintf(p->obj, sizeof p->obj, "%s", obj);
    p->since = shm_now_ms();
    p->next = s->pending;
    s->pending = p;
    s->npending++;
    return 0;
}

/* Tell p's client its connection is gone and free it. */
static void drop(pend *p)
{
    shm_conn *sc = p->c->shm;
    atomic_store(&sc->server_closed, 1);
    shm_ring_bell(&sc->s2c.bell, NULL);
    shm_ring_bell(&sc->c2s.space, NULL);
    shm_conn_free(p->c);
    p->c = NULL;
}

/* Refuse p's client: log it (once per pid, before the client can learn
 * it), tell it, drop it.  Returns -1. */
static int refuse(ember_tsock *s, pend *p, const char *why)
{
    shm_refused(s, p->c->peer_pid, why);
    atomic_store(&p->c->shm->hs.state, HS_REFUSED);
    drop(p);
    return -1;
}

/* Hand an admitted connection to the socket's thread. */
static void hand_over(ember_tsock *s, conn *c)
{
    pthread_mutex_lock(&s->mu);
    c->next = NULL;
    *s->admitted_tail = c;
    s->admitted_tail = &c->next;
    atomic_fetch_add(&s->nadmitted, 1);
    pthread_mutex_unlock(&s->mu);
    shm_ring_bell(&s->ctl->bell, &s->ctl->waiting);
}

/* Advance p's handshake.  Returns 0 while it goes on, 1 when the
 * connection was handed over, -1 when it was dropped. */
static int hs_step(ember_tsock *s, pend *p, int check)
{
    shm_conn *sc = p->c->shm;
    shm_hs *hs = &sc->hs;
    if (atomic_load(&sc->client_closed) ||
        (check && shm_pid_dead(p->c->peer_pid))) {
        drop(p);
        return -1;
    }
    char ctl_obj[OBJ_NAME_MAX];
    snprintf(ctl_obj, sizeof ctl_obj, "/ember-%s", s->name);
    uint32_t st = atomic_load(&hs->state);
    if (p->step == 0) {
        if (st == HS_PLAIN)
            return refuse(s, p, "it does not authenticate");
        if (st != HS_HELLO)
            return refuse(s, p, "a malformed handshake");
        memcpy(p->client_key, hs->client_key, sizeof p->client_key);
        memcpy(p->client_nonce, hs->client_nonce, sizeof p->client_nonce);
        if (derive_key(p->key, s->sec.secret_key, p->client_key, p->client_key,
                       s->sec.public_key) != 0)
            return refuse(s, p, "an unusable public key");
        randombytes_buf(p->server_nonce, sizeof p->server_nonce);
        uint8_t proof[PROOF_BYTES];
        make_proof(proof, p->key, LABEL_SERVER, p->client_nonce,
                   p->server_nonce, ctl_obj, p->obj);
        memcpy(hs->server_nonce, p->server_nonce, sizeof p->server_nonce);
        memcpy(hs->server_proof, proof, sizeof proof);
        atomic_store(&hs->state, HS_CHALLENGE);
        shm_ring_bell(&sc->s2c.bell, &sc->s2c.cwaiting);
        p->step = 1;
        return 0;
    }
    if (st == HS_CHALLENGE) {
        if (shm_now_ms() - p->since < s->ctx->send_timeout_ms)
            return 0;
        return refuse(s, p, "no answer to the handshake in time");
    }
    if (st == HS_CLIENT_FAIL) { /* it did not take our key; it says so */
        drop(p);
        return -1;
    }
    if (st != HS_PROOF)
        return refuse(s, p, "a malformed handshake");
    uint8_t got[PROOF_BYTES], want[PROOF_BYTES];
    memcpy(got, hs->client_proof, sizeof got);
    make_proof(want, p->key, LABEL_CLIENT, p->client_nonce, p->server_nonce,
               ctl_obj, p->obj);
    if (sodium_memcmp(got, want, sizeof want) != 0)
        return refuse(s, p, "it could not prove its key");
    char name[PEER_NAME_MAX] = "";
    int yes = s->sec.admit(s->sec.admit_ud, p->client_key, "", name,
                           sizeof name) == 1;
    if (!yes)
        return refuse(s, p, "unknown key");
    name[sizeof name - 1] = '\0';
    memcpy(p->c->name, name, sizeof name);
    atomic_store(&hs->state, HS_ADMITTED);
    shm_ring_bell(&sc->s2c.bell, &sc->s2c.cwaiting);
    hand_over(s, p->c); /* the socket's thread owns it now */
    p->c = NULL;
    return 1;
}

static void pend_free(pend *p)
{
    sodium_memzero(p, sizeof *p);
    free(p);
}

static void *hs_main(void *arg)
{
    ember_tsock *s = arg;
    shm_ctl *ctl = s->ctl;
    int64_t last = 0;
    while (!atomic_load(&s->hs_stop)) {
        uint32_t seq = atomic_load(&ctl->hs_bell);
        int64_t t = shm_now_ms();
        int check = t - last >= CHECK_MS;
        if (check)
            last = t;
        shm_accept_pending(s, check);
        for (pend **pp = &s->pending; *pp;) {
            pend *p = *pp;
            if (hs_step(s, p, check) == 0) {
                pp = &p->next;
                continue;
            }
            *pp = p->next;
            s->npending--;
            pend_free(p);
        }
        if (atomic_load(&s->hs_stop))
            break;
        atomic_store(&ctl->hs_waiting, 1);
        shm_futex_wait(&ctl->hs_bell, seq, CHECK_MS);
        atomic_store(&ctl->hs_waiting, 0);
    }
    while (s->pending) {
        pend *p = s->pending;
        s->pending = p->next;
        drop(p);
        pend_free(p);
    }
    s->npending = 0;
    return NULL;
}

int shm_hs_start(ember_tsock *s, ember_error *err)
{
    int e = pthread_mutex_init(&s->mu, NULL);
    if (e != 0) {
        s->host->seterr(err, EMBER_EIO, "shm listen on %s: mutex: %s",
                        s->endpoint, strerror(e));
        return EMBER_EIO;
    }
    s->mu_ready = 1;
    /* the thread blocks every signal: the host's handlers stay on its own
       threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&s->hs_thread, NULL, hs_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        s->host->seterr(err, EMBER_EIO,
                        "shm listen on %s: cannot start the handshake "
                        "thread: %s",
                        s->endpoint, strerror(e));
        return EMBER_EIO;
    }
    s->hs_running = 1;
    return 0;
}

void shm_hs_stop(ember_tsock *s)
{
    if (!s->hs_running)
        return;
    atomic_store(&s->hs_stop, 1);
    shm_ring_bell(&s->ctl->hs_bell, NULL);
    pthread_join(s->hs_thread, NULL);
    s->hs_running = 0;
}

/* ---------------------------------------------------- transport entries */

int shm_listen_secure(void *ctx, const char *endpoint, const ember_tsec *sec,
                      ember_tsock **out, char *bound, size_t boundlen,
                      ember_error *err)
{
    tctx *c = ctx;
    *out = NULL;
    int rc = shm_sec_check(c->host, sec, 1, err);
    if (rc != 0)
        return rc;
    return shm_listen(c, endpoint, sec, out, bound, boundlen, err);
}

int shm_connect_secure(void *ctx, const char *endpoint, const ember_tsec *sec,
                       ember_tsock **out, ember_error *err)
{
    tctx *c = ctx;
    *out = NULL;
    int rc = shm_sec_check(c->host, sec, 0, err);
    if (rc != 0)
        return rc;
    return shm_connect(c, endpoint, sec, out, err);
}

int shm_peer_name(const ember_tmsg *msg, char *out, size_t outlen)
{
    if (!msg || !msg->handle || !out || outlen == 0)
        return EMBER_EINVAL;
    const qmsg *m = msg->handle;
    if (!m->peer[0])
        return EMBER_ENOTFOUND;
    snprintf(out, outlen, "%.*s", (int)sizeof m->peer - 1, m->peer);
    return 0;
}
