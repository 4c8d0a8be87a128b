/*
 * fsutil.c -- file-system and time helpers used by every process.
 * No shared state except self_exe()'s cache (filled on the main thread at
 * start-up by main()) and the clock override (tests only; an atomic
 * pointer, so any thread may read the clock while a test swaps it).
 */
#include "fsutil.h"

#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int64_t (*clock_fn)(void);
static _Atomic(clock_fn) clock_override_fn;

void clock_override(int64_t (*now_ms_fn)(void))
{
    atomic_store_explicit(&clock_override_fn, now_ms_fn, memory_order_release);
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_fn fn =
        atomic_load_explicit(&clock_override_fn, memory_order_acquire);
    if (fn)
        return fn();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_us(void)
{
    struct timespec ts;
    clock_fn fn =
        atomic_load_explicit(&clock_override_fn, memory_order_acquire);
    if (fn)
        return fn() * 1000;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mkdir_p(const char *path, ember_error *err)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return ember_seterr(err, EMBER_EINVAL, "bad directory path '%s'", path);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return ember_seterr(err, EMBER_EIO, "mkdir %s: %s", tmp,
                                strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return ember_seterr(err, EMBER_EIO, "mkdir %s: %s", tmp,
                            strerror(errno));
    return 0;
}

int mkdir_private(const char *path, ember_error *err)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return ember_seterr(err, EMBER_EINVAL, "bad directory path '%s'", path);
    memcpy(tmp, path, n + 1);
    while (n > 1 && tmp[n - 1] == '/')
        tmp[--n] = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return ember_seterr(err, EMBER_EIO, "mkdir %s: %s", tmp,
                                strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0) {
        if (errno == EEXIST)
            return ember_seterr(err, EMBER_EEXISTS,
                                "%s exists already: refusing to use a "
                                "directory this process did not create",
                                tmp);
        return ember_seterr(err, EMBER_EIO, "mkdir %s: %s", tmp,
                            strerror(errno));
    }
    /* whatever the umask, 0700 exactly */
    if (chmod(tmp, 0700) != 0)
        return ember_seterr(err, EMBER_EIO, "chmod %s: %s", tmp,
                            strerror(errno));
    return 0;
}

int open_private(const char *path, const char *mode)
{
    int flags = O_CREAT | O_NOFOLLOW | O_CLOEXEC;
    if (strcmp(mode, "w") == 0 || strcmp(mode, "wb") == 0)
        flags |= O_WRONLY | O_TRUNC;
    else if (strcmp(mode, "a") == 0 || strcmp(mode, "ab") == 0)
        flags |= O_WRONLY | O_APPEND;
    else if (strcmp(mode, "w+") == 0 || strcmp(mode, "w+b") == 0)
        flags |= O_RDWR | O_TRUNC;
    else {
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, flags, 0600);
    if (fd >= 0 && fchmod(fd, 0600) != 0) { /* an existing file of ours */
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

FILE *fopen_private(const char *path, const char *mode)
{
    int fd = open_private(path, mode);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, mode);
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

int rm_rf(const char *path)
{
    struct stat st;
    int rc = 0;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        if (!d)
            return -1;
        while ((e = readdir(d)) != NULL) {
            char sub[PATH_MAX];
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >=
                (int)sizeof sub) {
                rc = -1;
                continue;
            }
            if (rm_rf(sub))
                rc = -1;
        }
        closedir(d);
        if (rmdir(path) != 0)
            rc = -1;
    } else if (unlink(path) != 0) {
        rc = -1;
    }
    return rc;
}

const char *self_exe(void)
{
    static char exe[PATH_MAX];
    if (!exe[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n < 0)
            n = 0;
        exe[n] = '\0';
    }
    return exe;
}

int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static int strv_push(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (*n + 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return EMBER_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    if (!((*v)[*n] = strdup(s)))
        return EMBER_ENOMEM;
    (*n)++;
    (*v)[*n] = NULL;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hidden(const char *name)
{
    return name[0] == '.' || name[0] == '_';
}

int expand_input(const char *pattern, char ***out, ember_error *err)
{
    glob_t g;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    *out = NULL;
    memset(&g, 0, sizeof g);
    int grc = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (grc == GLOB_NOMATCH || (grc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        return ember_seterr(err, EMBER_ENOTFOUND,
                            "input path does not exist: %s", pattern);
    }
    if (grc != 0) {
        globfree(&g);
        return ember_seterr(err, EMBER_EIO, "cannot expand %s", pattern);
    }
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        const char *p = g.gl_pathv[i];
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(p);
            struct dirent *e;
            if (!d) {
                rc = ember_seterr(err, EMBER_EIO, "cannot open %s: %s", p,
                                  strerror(errno));
                break;
            }
            while ((e = readdir(d)) != NULL && rc == 0) {
                char sub[PATH_MAX];
                struct stat s2;
                if (hidden(e->d_name))
                    continue;
                snprintf(sub, sizeof sub, "%s/%s", p, e->d_name);
                if (stat(sub, &s2) == 0 && S_ISREG(s2.st_mode))
                    rc = strv_push(&v, &n, &cap, sub);
            }
            closedir(d);
        } else if (S_ISREG(st.st_mode)) {
            rc = strv_push(&v, &n, &cap, p);
        }
    }
    globfree(&g);
    if (rc) {
        strv_free(v);
        return rc == EMBER_ENOMEM ? ember_seterr(err, rc, "out of memory") : rc;
    }
    if (n == 0) {
        strv_free(v);
        return ember_seterr(err, EMBER_ENOTFOUND, "input path has no files: %s",
                            pattern);
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return (int)n;
}

int read_file(const char *path, char **data, size_t *len, ember_error *err)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return ember_seterr(err, errno == ENOENT ? EMBER_ENOTFOUND : EMBER_EIO,
                            "cannot open %s: %s", path, strerror(errno));
    for (;;) {
        if (cap - n < 65536) {
            char *np = realloc(p, cap ? cap * 2 : 65536 + 1);
            if (!np) {
                free(p);
                fclose(f);
                return ember_seterr(err, EMBER_ENOMEM, "out of memory");
            }
            p = np;
            cap = cap ? cap * 2 : 65536 + 1;
        }
        size_t r = fread(p + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(p);
        fclose(f);
        return ember_seterr(err, EMBER_EIO, "cannot read %s", path);
    }
    fclose(f);
    p[n] = '\0';
    *data = p;
    if (len)
        *len = n;
    return 0;
}
