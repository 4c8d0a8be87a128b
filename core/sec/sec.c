/*
 * sec.c -- an application's keys, executors' credentials, admission.
 *
 * Keys are libsodium crypto_box (Curve25519) keypairs, the keys CurveZMQ
 * uses.  Derived keys (authenticate.secret.file) are crypto_box seed
 * keypairs from BLAKE2b(secret, salt = purpose), so the same secret gives
 * the same keys in every process.
 *
 * The credentials text an executor is launched with:
 *
 *     ember-credentials 1
 *     app APP_ID
 *     executor EXEC_ID
 *     driver-public HEX
 *     executor-public HEX
 *     executor-secret HEX
 *     data-public HEX
 *     data-secret HEX
 *     io-key HEX              (only with io.encryption.enabled)
 *
 * one field per line, each once, in any order after the first line.
 *
 * The admission table (executor id -> public key, retired or not) is
 * guarded by a mutex: the transport's authentication thread reads it while
 * the driver's loop mints and retires.
 */
#include "sec/sec.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CREDS_MAX 4096   /* the credentials text is far smaller */
#define SECRET_MAX 65536 /* authenticate.secret.file */

typedef struct admitted {
    char exec_id[SEC_ID_MAX];
    uint8_t pub[EMBER_KEY_BYTES];
    int retired;
} admitted;

struct sec_app {
    sec_creds self;          /* the driver's */
    int derived;             /* keys come from a secret file */
    sec_keypair exec_shared; /* derived mode: every executor's keypair */
    pthread_mutex_t mu;
    admitted *adm;
    int nadm, capadm;
};

int sec_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= SEC_ID_MAX || !strcmp(id, ".") || !strcmp(id, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int sec_init(ember_error *err)
{
    if (sodium_init() < 0)
        return ember_seterr(err, EMBER_EIO, "libsodium failed to initialise");
    return 0;
}

int sec_random_hex(char *out, size_t n, ember_error *err)
{
    static const char digits[] = "0123456789abcdef";
    int rc = sec_init(err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i + 1 < n; i++)
        out[i] = digits[randombytes_uniform(16)];
    if (n)
        out[n - 1] = '\0';
    return 0;
}

void sec_creds_wipe(sec_creds *c)
{
    if (c)
        sodium_memzero(c, sizeof *c);
}

/* ------------------------------------------------------ derived keys */

/* Read the secret file: a regular file of ours, not readable by others. */
static int read_secret(const char *path, uint8_t *buf, size_t *len,
                       ember_error *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ember_seterr(err, EMBER_EIO, "authenticate.secret.file %s: %s",
                            path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ember_seterr(err, EMBER_EINVAL,
                            "authenticate.secret.file %s: not a regular file",
                            path);
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        close(fd);
        return ember_seterr(err, EMBER_EINVAL,
                            "authenticate.secret.file %s: must belong to this "
                            "user and be readable by nobody else (mode %03o; "
                            "chmod 600 it)",
                            path, (unsigned)(st.st_mode & 0777));
    }
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, SECRET_MAX - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            return ember_seterr(err, EMBER_EIO,
                                "authenticate.secret.file %s: %s", path,
                                strerror(e));
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n == SECRET_MAX) {
            close(fd);
            return ember_seterr(err, EMBER_EINVAL,
                                "authenticate.secret.file %s: larger than %d "
                                "bytes",
                                path, SECRET_MAX);
        }
    }
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n < 16)
        return ember_seterr(err, EMBER_EINVAL,
                            "authenticate.secret.file %s: a secret needs at "
                            "least 16 bytes",
                            path);
    *len = n;
    return 0;
}

/* out = BLAKE2b-256(key = secret, message = purpose [+ app id]) */
static void derive(const uint8_t *secret, size_t len, const char *purpose,
                   const char *app_id, uint8_t out[EMBER_KEY_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, secret,
                            len > crypto_generichash_KEYBYTES_MAX
                                ? crypto_generichash_KEYBYTES_MAX
                                : len,
                            EMBER_KEY_BYTES);
    /* a long secret is hashed whole, not just its first 64 bytes */
    crypto_generichash_update(&st, secret, len);
    crypto_generichash_update(&st, (const uint8_t *)purpose,
                              strlen(purpose) + 1);
    if (app_id)
        crypto_generichash_update(&st, (const uint8_t *)app_id,
                                  strlen(app_id) + 1);
    crypto_generichash_final(&st, out, EMBER_KEY_BYTES);
}

static void derive_keypair(const uint8_t *secret, size_t len,
                           const char *purpose, sec_keypair *kp)
{
    uint8_t seed[EMBER_KEY_BYTES];
    derive(secret, len, purpose, NULL, seed);
    crypto_box_seed_keypair(kp->pub, kp->sec, seed);
    sodium_memzero(seed, sizeof seed);
}

/* Fill c (the driver's, or an executor's) from the secret. */
static void derive_all(const uint8_t *secret, size_t len, const char *app_id,
                       int io, sec_creds *c, sec_keypair *exec_kp)
{
    sec_keypair drv;
    derive_keypair(secret, len, "ember driver", &drv);
    derive_keypair(secret, len, "ember executor", exec_kp);
    derive_keypair(secret, len, "ember data", &c->data);
    memcpy(c->driver_pub, drv.pub, EMBER_KEY_BYTES);
    if (c->exec_id[0])
        c->self = *exec_kp;
    else
        c->self = drv;
    if (io) {
        derive(secret, len, "ember io", app_id, c->io_key);
        c->has_io_key = 1;
    }
    sodium_memzero(&drv, sizeof drv);
}

/* ------------------------------------------------------------- driver */

int sec_app_new(const char *app_id, const char *secret_file, int io_encryption,
                sec_app **out, ember_error *err)
{
    *out = NULL;
    int rc = sec_init(err);
    if (rc != 0)
        return rc;
    if (!sec_id_valid(app_id))
        return ember_seterr(err, EMBER_EINVAL, "bad application id '%s'",
                            app_id ? app_id : "");
    sec_app *a = calloc(1, sizeof *a);
    if (!a)
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    snprintf(a->self.app_id, sizeof a->self.app_id, "%s", app_id);
    if (secret_file && *secret_file) {
        uint8_t *secret = sodium_malloc(SECRET_MAX);
        size_t len = 0;
        rc = secret ? read_secret(secret_file, secret, &len, err)
                    : ember_seterr(err, EMBER_ENOMEM, "out of memory");
        if (rc == 0) {
            derive_all(secret, len, app_id, io_encryption, &a->self,
                       &a->exec_shared);
            a->derived = 1;
        }
        sodium_free(secret);
        if (rc != 0) {
            sec_app_destroy(&a);
            return rc;
        }
    } else {
        crypto_box_keypair(a->self.self.pub, a->self.self.sec);
        crypto_box_keypair(a->self.data.pub, a->self.data.sec);
        memcpy(a->self.driver_pub, a->self.self.pub, EMBER_KEY_BYTES);
        if (io_encryption) {
            randombytes_buf(a->self.io_key, sizeof a->self.io_key);
            a->self.has_io_key = 1;
        }
    }
    *out = a;
    return 0;
}

void sec_app_destroy(sec_app **ap)
{
    if (!ap || !*ap)
        return;
    sec_app *a = *ap;
    pthread_mutex_destroy(&a->mu);
    free(a->adm);
    sodium_memzero(a, sizeof *a);
    free(a);
    *ap = NULL;
}

const sec_creds *sec_app_creds(const sec_app *app)
{
    return &app->self;
}

static admitted *find_admitted(sec_app *a, const char *exec_id)
{
    for (int i = 0; i < a->nadm; i++)
        if (strcmp(a->adm[i].exec_id, exec_id) == 0)
            return &a->adm[i];
    return NULL;
}

static void hex(char *out, const uint8_t *key)
{
    sodium_bin2hex(out, 2 * EMBER_KEY_BYTES + 1, key, EMBER_KEY_BYTES);
}

int sec_app_mint(sec_app *a, const char *exec_id, char *text, size_t n,
                 ember_error *err)
{
    if (!sec_id_valid(exec_id))
        return ember_seterr(err, EMBER_EINVAL,
                            "bad executor id '%s' (1-63 characters of "
                            "A-Z a-z 0-9 . _ -)",
                            exec_id ? exec_id : "");
    sec_keypair kp;
    if (a->derived)
        kp = a->exec_shared;
    else
        crypto_box_keypair(kp.pub, kp.sec);
    char h[6][2 * EMBER_KEY_BYTES + 1];
    hex(h[0], a->self.driver_pub);
    hex(h[1], kp.pub);
    hex(h[2], kp.sec);
    hex(h[3], a->self.data.pub);
    hex(h[4], a->self.data.sec);
    hex(h[5], a->self.io_key);
    int w = snprintf(text, n,
                     "ember-credentials 1\napp %s\nexecutor %s\n"
                     "driver-public %s\nexecutor-public %s\n"
                     "executor-secret %s\ndata-public %s\ndata-secret %s\n"
                     "%s%s%s",
                     a->self.app_id, exec_id, h[0], h[1], h[2], h[3], h[4],
                     a->self.has_io_key ? "io-key " : "",
                     a->self.has_io_key ? h[5] : "",
                     a->self.has_io_key ? "\n" : "");
    sodium_memzero(h, sizeof h);
    if (w < 0 || (size_t)w >= n) {
        sodium_memzero(&kp, sizeof kp);
        if (n)
            sodium_memzero(text, n);
        return ember_seterr(err, EMBER_ETOOBIG,
                            "credentials do not fit in %zu bytes", n);
    }
    pthread_mutex_lock(&a->mu);
    admitted *ad = find_admitted(a, exec_id);
    if (!ad) {
        if (a->nadm == a->capadm) {
            int cap = a->capadm ? 2 * a->capadm : 16;
            admitted *na = realloc(a->adm, (size_t)cap * sizeof *na);
            if (!na) {
                pthread_mutex_unlock(&a->mu);
                sodium_memzero(&kp, sizeof kp);
                sodium_memzero(text, n);
                return ember_seterr(err, EMBER_ENOMEM, "out of memory");
            }
            a->adm = na;
            a->capadm = cap;
        }
        ad = &a->adm[a->nadm++];
        memset(ad, 0, sizeof *ad);
        snprintf(ad->exec_id, sizeof ad->exec_id, "%s", exec_id);
    }
    memcpy(ad->pub, kp.pub, EMBER_KEY_BYTES);
    ad->retired = 0;
    pthread_mutex_unlock(&a->mu);
    sodium_memzero(&kp, sizeof kp);
    return 0;
}

void sec_app_retire(sec_app *a, const char *exec_id)
{
    if (!a || !exec_id)
        return;
    pthread_mutex_lock(&a->mu);
    admitted *ad = find_admitted(a, exec_id);
    if (ad)
        ad->retired = 1;
    pthread_mutex_unlock(&a->mu);
}

int sec_app_admit_control(void *ud, const uint8_t key[EMBER_KEY_BYTES],
                          const char *address, char *name, size_t namelen)
{
    sec_app *a = ud;
    (void)address;
    int ok = 0;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->nadm; i++) {
        admitted *ad = &a->adm[i];
        if (!ad->retired && sodium_memcmp(ad->pub, key, EMBER_KEY_BYTES) == 0) {
            /* derived keys: all executors share one key; the connection is
               named "*" and the register message names the executor */
            snprintf(name, namelen, "%s", a->derived ? "*" : ad->exec_id);
            ok = 1;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

/* ------------------------------------------------------ every process */

int sec_admit_data(void *ud, const uint8_t key[EMBER_KEY_BYTES],
                   const char *address, char *name, size_t namelen)
{
    const sec_creds *c = ud;
    (void)address;
    if (sodium_memcmp(c->data.pub, key, EMBER_KEY_BYTES) != 0)
        return 0;
    snprintf(name, namelen, "data");
    return 1;
}

static int unhex(const char *s, size_t len, uint8_t out[EMBER_KEY_BYTES])
{
    size_t got = 0;
    if (len != 2 * EMBER_KEY_BYTES)
        return -1;
    if (sodium_hex2bin(out, EMBER_KEY_BYTES, s, len, NULL, &got, NULL) != 0 ||
        got != EMBER_KEY_BYTES)
        return -1;
    return 0;
}

enum {
    F_APP = 1 << 0,
    F_EXEC = 1 << 1,
    F_DRV = 1 << 2,
    F_EPUB = 1 << 3,
    F_ESEC = 1 << 4,
    F_DPUB = 1 << 5,
    F_DSEC = 1 << 6,
    F_IO = 1 << 7,
    F_REQUIRED = F_APP | F_EXEC | F_DRV | F_EPUB | F_ESEC | F_DPUB | F_DSEC
};

int sec_creds_parse(const char *text, size_t len, sec_creds *out,
                    ember_error *err)
{
    static const struct {
        const char *name;
        int flag;
    } fields[] = {{"app", F_APP},
                  {"executor", F_EXEC},
                  {"driver-public", F_DRV},
                  {"executor-public", F_EPUB},
                  {"executor-secret", F_ESEC},
                  {"data-public", F_DPUB},
                  {"data-secret", F_DSEC},
                  {"io-key", F_IO}};
    memset(out, 0, sizeof *out);
    if (len > CREDS_MAX)
        return ember_seterr(err, EMBER_EINVAL, "credentials: over %d bytes",
                            CREDS_MAX);
    int seen = 0, line = 0;
    size_t p = 0;
    while (p < len) {
        size_t e = p;
        while (e < len && text[e] != '\n')
            e++;
        line++;
        const char *l = text + p;
        size_t ll = e - p;
        p = e + 1;
        if (line == 1) {
            if (ll != 19 || memcmp(l, "ember-credentials 1", 19) != 0) {
                sec_creds_wipe(out);
                return ember_seterr(err, EMBER_EINVAL,
                                    "credentials: line 1 is not "
                                    "'ember-credentials 1'");
            }
            continue;
        }
        if (ll == 0)
            continue;
        const char *sp = memchr(l, ' ', ll);
        size_t kl = sp ? (size_t)(sp - l) : ll;
        int f = -1;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (strlen(fields[i].name) == kl &&
                memcmp(fields[i].name, l, kl) == 0)
                f = (int)i;
        if (f < 0 || !sp || (seen & fields[f].flag)) {
            sec_creds_wipe(out);
            return ember_seterr(err, EMBER_EINVAL,
                                "credentials: line %d: %s field", line,
                                f < 0 ? "unknown"
                                : !sp ? "empty"
                                      : "repeated");
        }
        seen |= fields[f].flag;
        const char *v = sp + 1;
        size_t vl = ll - kl - 1;
        int bad = 0;
        switch (fields[f].flag) {
        case F_APP:
        case F_EXEC: {
            char id[SEC_ID_MAX];
            if (vl >= sizeof id) {
                bad = 1;
                break;
            }
            memcpy(id, v, vl);
            id[vl] = '\0';
            bad = !sec_id_valid(id);
            if (!bad)
                memcpy(fields[f].flag == F_APP ? out->app_id : out->exec_id, id,
                       vl + 1);
            break;
        }
        case F_DRV:
            bad = unhex(v, vl, out->driver_pub);
            break;
        case F_EPUB:
            bad = unhex(v, vl, out->self.pub);
            break;
        case F_ESEC:
            bad = unhex(v, vl, out->self.sec);
            break;
        case F_DPUB:
            bad = unhex(v, vl, out->data.pub);
            break;
        case F_DSEC:
            bad = unhex(v, vl, out->data.sec);
            break;
        case F_IO:
            bad = unhex(v, vl, out->io_key);
            out->has_io_key = !bad;
            break;
        }
        if (bad) {
            sec_creds_wipe(out);
            return ember_seterr(err, EMBER_EINVAL,
                                "credentials: line %d: bad %s value", line,
                                fields[f].name);
        }
    }
    if ((seen & F_REQUIRED) != F_REQUIRED) {
        sec_creds_wipe(out);
        return ember_seterr(err, EMBER_EINVAL, "credentials: incomplete (%s)",
                            line == 0 ? "empty" : "a field is missing");
    }
    /* the keypairs must be keypairs */
    uint8_t pub[EMBER_KEY_BYTES];
    int mismatch = crypto_scalarmult_base(pub, out->self.sec) != 0 ||
                   sodium_memcmp(pub, out->self.pub, EMBER_KEY_BYTES) != 0 ||
                   crypto_scalarmult_base(pub, out->data.sec) != 0 ||
                   sodium_memcmp(pub, out->data.pub, EMBER_KEY_BYTES) != 0;
    if (mismatch) {
        sec_creds_wipe(out);
        return ember_seterr(err, EMBER_EINVAL,
                            "credentials: a secret key does not match its "
                            "public key");
    }
    return 0;
}

static int read_all(int fd, const char *what, sec_creds *out, ember_error *err)
{
    char *buf = sodium_malloc(CREDS_MAX + 1);
    if (!buf)
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    size_t n = 0;
    int rc = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, CREDS_MAX + 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = ember_seterr(err, EMBER_EIO, "reading credentials from %s: %s",
                              what, strerror(errno));
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n > CREDS_MAX) {
            rc = ember_seterr(err, EMBER_EINVAL,
                              "credentials from %s: over %d bytes", what,
                              CREDS_MAX);
            break;
        }
    }
    if (rc == 0) {
        rc = sec_creds_parse(buf, n, out, err);
        if (rc != 0)
            ember_error_prefix(err, "%s: ", what);
    }
    sodium_free(buf);
    return rc;
}

int sec_creds_read_fd(int fd, sec_creds *out, ember_error *err)
{
    int rc = sec_init(err);
    if (rc == 0) {
        char what[32];
        snprintf(what, sizeof what, "fd %d", fd);
        rc = read_all(fd, what, out, err);
    }
    close(fd);
    return rc;
}

int sec_creds_read_file(const char *path, sec_creds *out, ember_error *err)
{
    int rc = sec_init(err);
    if (rc != 0)
        return rc;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ember_seterr(err, EMBER_EIO, "credentials file %s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        close(fd);
        return ember_seterr(err, EMBER_EINVAL,
                            "credentials file %s: must be a regular file of "
                            "this user with mode 0600",
                            path);
    }
    rc = read_all(fd, path, out, err);
    close(fd);
    unlink(path);
    return rc;
}

int sec_creds_from_secret(const char *secret_file, const char *app_id,
                          const char *exec_id, sec_creds *out, ember_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = sec_init(err);
    if (rc != 0)
        return rc;
    if (!sec_id_valid(app_id) || !sec_id_valid(exec_id))
        return ember_seterr(err, EMBER_EINVAL,
                            "bad application or executor "
                            "id");
    uint8_t *secret = sodium_malloc(SECRET_MAX);
    if (!secret)
        return ember_seterr(err, EMBER_ENOMEM, "out of memory");
    size_t len = 0;
    rc = read_secret(secret_file, secret, &len, err);
    if (rc == 0) {
        sec_keypair exec_kp;
        snprintf(out->app_id, sizeof out->app_id, "%s", app_id);
        snprintf(out->exec_id, sizeof out->exec_id, "%s", exec_id);
        /* io.encryption with a secret: the io key is derived too; whether
           it is used is the configuration's business */
        derive_all(secret, len, app_id, 1, out, &exec_kp);
        sodium_memzero(&exec_kp, sizeof exec_kp);
    }
    sodium_free(secret);
    return rc;
}

int sec_transport_check(const ember_transport_desc *tp, ember_error *err)
{
    if (tp->struct_size <
            offsetof(ember_transport_desc, peer_name) + sizeof tp->peer_name ||
        !tp->listen_secure || !tp->connect_secure || !tp->peer_name)
        return ember_seterr(err, EMBER_EUNSUPPORTED,
                            "transport %s cannot authenticate its peers "
                            "(it needs plugin ABI 1.3): set authenticate=false "
                            "to run without authentication",
                            tp->name);
    return 0;
}

int sec_data_listen(const ember_transport_desc *tp, void *tctx,
                    const sec_creds *c, const char *endpoint,
                    int64_t max_message, ember_tsock **out, char *bound,
                    size_t boundlen, ember_error *err)
{
    ember_tsec t;
    if (!c)
        return tp->listen(tctx, endpoint, out, bound, boundlen, err);
    sec_tsec_server(&t, &c->data, sec_admit_data, (void *)c, max_message);
    int rc = tp->listen_secure(tctx, endpoint, &t, out, bound, boundlen, err);
    sodium_memzero(&t, sizeof t);
    return rc;
}

int sec_data_connect(const ember_transport_desc *tp, void *tctx,
                     const sec_creds *c, const char *endpoint,
                     ember_tsock **out, ember_error *err)
{
    ember_tsec t;
    if (!c)
        return tp->connect(tctx, endpoint, out, err);
    sec_tsec_client(&t, &c->data, c->data.pub);
    int rc = tp->connect_secure(tctx, endpoint, &t, out, err);
    sodium_memzero(&t, sizeof t);
    return rc;
}

void sec_tsec_server(ember_tsec *t, const sec_keypair *kp,
                     int (*admit)(void *, const uint8_t *, const char *, char *,
                                  size_t),
                     void *ud, int64_t max_message)
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->mechanism = EMBER_SEC_CURVE;
    memcpy(t->public_key, kp->pub, EMBER_KEY_BYTES);
    memcpy(t->secret_key, kp->sec, EMBER_KEY_BYTES);
    t->admit = admit;
    t->admit_ud = ud;
    t->max_message = max_message;
}

void sec_tsec_client(ember_tsec *t, const sec_keypair *kp,
                     const uint8_t server_pub[EMBER_KEY_BYTES])
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->mechanism = EMBER_SEC_CURVE;
    memcpy(t->public_key, kp->pub, EMBER_KEY_BYTES);
    memcpy(t->secret_key, kp->sec, EMBER_KEY_BYTES);
    memcpy(t->server_key, server_pub, EMBER_KEY_BYTES);
}
