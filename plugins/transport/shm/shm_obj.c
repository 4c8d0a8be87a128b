/*
 * shm_obj.c -- the names and modes of the shm transport's objects in
 * /dev/shm: creating them private (O_EXCL, O_NOFOLLOW, mode 0600 whatever
 * the umask, checked with fstat), opening existing ones only if they are
 * ours (lstat first, then fstat after an O_NOFOLLOW|O_NONBLOCK open), and
 * the random names of connection objects.  Why: see "Private on disk" in
 * transport_shm.c's header and docs/transport-shm.md.
 *
 * Global state: none.  Threads: any.
 */
#include "shm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define SHM_DIR "/dev/shm" /* where glibc keeps the objects (for lstat) */

/* A regular file of our effective uid with mode 0600? */
int shm_obj_private(const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_uid == geteuid() &&
           (st->st_mode & 07777) == 0600;
}

/* Describe an object that is not private, for error messages. */
void shm_obj_describe(const struct stat *st, char *buf, size_t n)
{
    const char *kind = S_ISREG(st->st_mode)    ? "a regular file"
                       : S_ISFIFO(st->st_mode) ? "a FIFO"
                       : S_ISDIR(st->st_mode)  ? "a directory"
                       : S_ISLNK(st->st_mode)  ? "a symbolic link"
                                               : "a special file";
    snprintf(buf, n,
             "%s of uid %u with mode %04o; we are uid %u and want a "
             "regular file with mode 0600",
             kind, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777),
             (unsigned)geteuid());
}

/* Create the object `name`: O_EXCL, mode 0600 whatever the umask, checked
 * with fstat.  Returns the fd, or -1 with errno (EEXIST: name taken). */
int shm_obj_create(const char *name)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    struct stat st;
    int e = 0;
    if (fstat(fd, &st) != 0)
        e = errno;
    else if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0)
        e = errno;
    else if (fstat(fd, &st) != 0)
        e = errno;
    else if (!shm_obj_private(&st))
        e = EPERM;
    if (e) {
        close(fd);
        shm_unlink(name);
        errno = e;
        return -1;
    }
    return fd;
}

/* Open an existing object, if it is ours: lstat() its name first, so that
 * an object that is not (another user's, a symlink, a FIFO, another mode)
 * is not even opened: -1 with errno EPERM and *st describing it.  Then
 * open it without following a symlink or blocking on a FIFO, and fstat
 * it: the caller checks that again (the name may have changed hands in
 * between).  Returns the fd, or -1 with errno. */
int shm_obj_open(const char *name, struct stat *st)
{
    char path[sizeof SHM_DIR + OBJ_NAME_MAX];
    snprintf(path, sizeof path, "%s%s", SHM_DIR, name);
    if (lstat(path, st) == 0 && !shm_obj_private(st)) {
        errno = EPERM;
        return -1;
    }
    int fd = shm_open(name, O_RDWR | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Is `name` a connection object name of the server `srv`:
 * "/ember-SRV+c<pid>.<32 lowercase hex>" and nothing else? */
int shm_conn_name_ok(const char *name, const char *srv)
{
    size_t n = strlen(srv);
    if (strncmp(name, "/ember-", 7) != 0 || strncmp(name + 7, srv, n) != 0 ||
        strncmp(name + 7 + n, "+c", 2) != 0)
        return 0;
    const char *p = name + 7 + n + 2;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (digits < 1 || digits > 10 || *p++ != '.')
        return 0;
    int hex = 0;
    for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        hex++;
    return hex == 2 * OBJ_RANDOM_BYTES && *p == '\0';
}

/* A connection object's name: "/ember-NAME+c<pid>.<32 random hex>". */
void shm_conn_obj_name(char *out, size_t n, const char *name)
{
    unsigned char rnd[OBJ_RANDOM_BYTES];
    char hex[2 * OBJ_RANDOM_BYTES + 1];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(out, n, "/ember-%s+c%ld.%s", name, (long)getpid(), hex);
}
