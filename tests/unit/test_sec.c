/*
 * test_sec.c -- core/sec: minting, credentials text, admission, secrets on
 * disk.  Files live in a private temporary directory removed at the end.
 */
#include "tap/tap.h"

#include "sec/sec.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/ember-test-sec-XXXXXX";

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        bail("cannot write %s", path);
    fchmod(fd, mode);
    close(fd);
}

static void test_ids(void)
{
    ok(sec_id_valid("1") && sec_id_valid("exec-12") &&
           sec_id_valid("app-20261207.x_y"),
       "ordinary ids are valid");
    ok(!sec_id_valid("x/../../some/dir"), "a path is not an id");
    ok(!sec_id_valid("..") && !sec_id_valid("."), "dot and dot-dot are not");
    ok(!sec_id_valid("") && !sec_id_valid(NULL), "empty is not");
    ok(!sec_id_valid("a b") && !sec_id_valid("a\nb") &&
           !sec_id_valid("caf\xc3\xa9"),
       "spaces, newlines and non-ASCII are not");
    char longid[80];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    ok(!sec_id_valid(longid), "an id of 79 bytes is not");
    longid[64] = '\0';
    ok(!sec_id_valid(longid), "64 bytes is one too many");
    longid[63] = '\0';
    ok(sec_id_valid(longid), "63 bytes is an id");
}

static void test_mint_and_admit(void)
{
    ember_error err = {0};
    sec_app *app = NULL;
    int rc = sec_app_new("app-1", NULL, 1, &app, &err);
    if (!ok(rc == 0 && app, "mint an application's keys %s", err.msg))
        return;
    const sec_creds *drv = sec_app_creds(app);
    ok(drv->has_io_key, "with an io key when io encryption is on");

    char text[2048];
    rc = sec_app_mint(app, "1", text, sizeof text, &err);
    is_int(0, rc, "credentials for executor 1 %s", err.msg);
    like(text, "ember-credentials 1\n", "the text starts with its version");
    sec_creds c;
    rc = sec_creds_parse(text, strlen(text), &c, &err);
    is_int(0, rc, "the executor parses them %s", err.msg);
    is_string("app-1", c.app_id, "app id");
    is_string("1", c.exec_id, "executor id");
    ok(memcmp(c.driver_pub, drv->self.pub, 32) == 0, "the driver's public key");
    ok(memcmp(c.data.pub, drv->data.pub, 32) == 0 &&
           memcmp(c.data.sec, drv->data.sec, 32) == 0,
       "the application's data keypair");
    ok(c.has_io_key && memcmp(c.io_key, drv->io_key, 32) == 0, "the io key");
    ok(memcmp(c.self.pub, drv->self.pub, 32) != 0,
       "a keypair of its own, not the driver's");

    char name[64] = "";
    ok(sec_app_admit_control(app, c.self.pub, "127.0.0.1", name, sizeof name),
       "the driver admits the executor's key");
    is_string("1", name, "and names the connection by the executor id");
    ok(!sec_app_admit_control(app, c.data.pub, "", name, sizeof name),
       "the data key is not a control key");
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    ok(!sec_app_admit_control(app, pk, "", name, sizeof name),
       "a stranger's key is refused");
    ok(sec_admit_data((void *)drv, c.data.pub, "", name, sizeof name) &&
           !sec_admit_data((void *)drv, pk, "", name, sizeof name) &&
           !sec_admit_data((void *)drv, c.self.pub, "", name, sizeof name),
       "block servers admit the data key and nothing else");

    char text2[2048];
    sec_app_mint(app, "2", text2, sizeof text2, &err);
    sec_creds c2;
    sec_creds_parse(text2, strlen(text2), &c2, &err);
    ok(memcmp(c2.self.pub, c.self.pub, 32) != 0, "each executor its own key");
    sec_app_retire(app, "1");
    ok(!sec_app_admit_control(app, c.self.pub, "", name, sizeof name),
       "a retired executor's key is refused");
    ok(sec_app_admit_control(app, c2.self.pub, "", name, sizeof name),
       "the others are still admitted");
    /* minting again for an id gives a new key; the old one stays out */
    char text3[2048];
    sec_app_mint(app, "2", text3, sizeof text3, &err);
    sec_creds c3;
    sec_creds_parse(text3, strlen(text3), &c3, &err);
    ok(!sec_app_admit_control(app, c2.self.pub, "", name, sizeof name) &&
           sec_app_admit_control(app, c3.self.pub, "", name, sizeof name),
       "a re-minted id admits only its new key");

    is_int(EMBER_EINVAL,
           sec_app_mint(app, "x/../../some/dir", text, sizeof text, &err),
           "no credentials for an id that is a path");
    is_int(EMBER_ETOOBIG, sec_app_mint(app, "3", text, 100, &err),
           "too small a buffer is an error, not a cut text");
    ok(text[0] == '\0' && text[99] == '\0', "and what was written is wiped");
    sec_app_mint(app, "1", text, sizeof text, &err);

    /* parse errors name the line */
    struct {
        const char *why;
        const char *edit_from, *edit_to;
    } bad[] = {
        {"a wrong version", "ember-credentials 1", "ember-credentials 2"},
        {"an unknown field", "app app-1", "apq app-1"},
        {"a short key", "driver-public ", "driver-public 00"},
        {"a path as executor id", "executor 1", "executor ../1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[2100];
        const char *at = strstr(text, bad[i].edit_from);
        if (!at) {
            ok(0, "edit %s", bad[i].why);
            continue;
        }
        snprintf(t, sizeof t, "%.*s%s%s", (int)(at - text), text,
                 bad[i].edit_to, at + strlen(bad[i].edit_from));
        sec_creds x;
        is_int(EMBER_EINVAL, sec_creds_parse(t, strlen(t), &x, &err),
               "refused: %s (%s)", bad[i].why, err.msg);
    }
    {
        char t[4200];
        snprintf(t, sizeof t, "%sapp app-2\n", text);
        sec_creds x;
        is_int(EMBER_EINVAL, sec_creds_parse(t, strlen(t), &x, &err),
               "refused: a repeated field (%s)", err.msg);
        char *cut = strstr(text, "data-secret");
        snprintf(t, sizeof t, "%.*s", (int)(cut - text), text);
        is_int(EMBER_EINVAL, sec_creds_parse(t, strlen(t), &x, &err),
               "refused: a missing field (%s)", err.msg);
        /* swap the executor's secret for another valid key */
        char sk_hex[65];
        sodium_bin2hex(sk_hex, sizeof sk_hex, sk, 32);
        char *es = strstr(text, "executor-secret ") + 16;
        snprintf(t, sizeof t, "%.*s%s%s", (int)(es - text), text, sk_hex,
                 es + 64);
        is_int(EMBER_EINVAL, sec_creds_parse(t, strlen(t), &x, &err),
               "refused: a secret key that does not match its public key "
               "(%s)",
               err.msg);
    }

    /* through a pipe */
    int fds[2];
    if (pipe(fds) == 0) {
        ssize_t w = write(fds[1], text2, strlen(text2));
        close(fds[1]);
        sec_creds p;
        rc = sec_creds_read_fd(fds[0], &p, &err);
        ok(w > 0 && rc == 0 && strcmp(p.exec_id, "2") == 0,
           "credentials read from a pipe %s", err.msg);
        ok(fcntl(fds[0], F_GETFD) < 0, "and the pipe is closed");
    }
    sec_creds_wipe(&c);
    int zero = 1;
    for (size_t i = 0; i < sizeof c; i++)
        zero &= ((uint8_t *)&c)[i] == 0;
    ok(zero, "sec_creds_wipe zeroes the credentials");
    sec_app_destroy(&app);
    ok(app == NULL, "sec_app_destroy clears the pointer");
    sec_app_destroy(&app);
}

static void test_files(void)
{
    ember_error err = {0};
    sec_app *app = NULL;
    sec_app_new("app-1", NULL, 0, &app, &err);
    char text[2048], path[256], link[256];
    sec_app_mint(app, "5", text, sizeof text, &err);
    sec_creds c;

    snprintf(path, sizeof path, "%s/creds", dir);
    write_file(path, text, 0644);
    is_int(EMBER_EINVAL, sec_creds_read_file(path, &c, &err),
           "a credentials file others can read is refused (%s)", err.msg);
    chmod(path, 0600);
    snprintf(link, sizeof link, "%s/link", dir);
    if (symlink(path, link) != 0)
        bail("symlink");
    ok(sec_creds_read_file(link, &c, &err) != 0,
       "a symlink is not followed (%s)", err.msg);
    unlink(link);
    is_int(0, sec_creds_read_file(path, &c, &err),
           "a 0600 file of ours is read %s", err.msg);
    ok(access(path, F_OK) != 0, "and deleted once read");
    sec_app_destroy(&app);

    /* a secret file: driver and executor derive the same keys */
    char secret[256];
    snprintf(secret, sizeof secret, "%s/secret", dir);
    write_file(secret, "correct horse battery staple\n", 0644);
    is_int(EMBER_EINVAL, sec_app_new("app-9", secret, 0, &app, &err),
           "a secret file others can read is refused: %s", err.msg);
    like(err.msg, "chmod 600", "and the message says what to do");
    chmod(secret, 0600);
    is_int(0, sec_app_new("app-9", secret, 1, &app, &err),
           "a 0600 secret file is accepted %s", err.msg);
    sec_creds e;
    is_int(0, sec_creds_from_secret(secret, "app-9", "3", &e, &err),
           "an executor derives its credentials from the same file");
    const sec_creds *d = sec_app_creds(app);
    ok(memcmp(e.driver_pub, d->self.pub, 32) == 0 &&
           memcmp(e.data.pub, d->data.pub, 32) == 0 &&
           memcmp(e.io_key, d->io_key, 32) == 0,
       "both sides derive the same driver, data and io keys");
    sec_app_mint(app, "3", text, sizeof text, &err);
    char name[64] = "";
    ok(sec_app_admit_control(app, e.self.pub, "", name, sizeof name),
       "the driver admits the derived executor key");
    char other[256];
    snprintf(other, sizeof other, "%s/other", dir);
    write_file(other, "another secret, long enough", 0600);
    sec_creds f;
    sec_creds_from_secret(other, "app-9", "3", &f, &err);
    ok(!sec_app_admit_control(app, f.self.pub, "", name, sizeof name),
       "an executor with another secret is refused");
    write_file(other, "short", 0600);
    is_int(EMBER_EINVAL, sec_creds_from_secret(other, "app-9", "3", &f, &err),
           "a secret under 16 bytes is refused: %s", err.msg);
    sec_app_destroy(&app);
    unlink(secret);
    unlink(other);
}

int main(void)
{
    if (!mkdtemp(dir))
        bail("mkdtemp");
    test_ids();
    test_mint_and_admit();
    test_files();
    ok(rmdir(dir) == 0, "the temporary directory is left empty and removed");
    return done_testing();
}
