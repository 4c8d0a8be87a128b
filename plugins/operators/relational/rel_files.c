/*
 * rel_files.c -- input path expansion shared by the file sources of
 * op_relational (scan_csv.c's scan_plan for CSV, text and JSON;
 * colfile.c's rel.col_scan): a path names a regular file, a directory
 * (its regular files, not those starting with '.' or '_', by name) or a
 * glob pattern of those.  See rel.h.
 *
 * Threads: nothing global; a list belongs to its caller.
 */
#include "rel.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int rel_flist_add(rel_flist *f, const char *path, int64_t size)
{
    if (f->n == f->cap) {
        int nc = f->cap ? f->cap * 2 : 16;
        char **np = realloc(f->paths, (size_t)nc * sizeof *np);
        int64_t *ns;
        if (!np)
            return EMBER_ENOMEM;
        f->paths = np;
        ns = realloc(f->sizes, (size_t)nc * sizeof *ns);
        if (!ns)
            return EMBER_ENOMEM;
        f->sizes = ns;
        f->cap = nc;
    }
    if (!(f->paths[f->n] = strdup(path)))
        return EMBER_ENOMEM;
    f->sizes[f->n++] = size;
    return 0;
}

void rel_flist_free(rel_flist *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->paths[i]);
    free(f->paths);
    free(f->sizes);
    memset(f, 0, sizeof *f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a data file's name: not hidden ('.', '_') and ending with suffix */
static int listed(const char *name, const char *suffix)
{
    size_t n = strlen(name), ns = suffix ? strlen(suffix) : 0;
    if (name[0] == '.' || name[0] == '_')
        return 0;
    return !ns || (n > ns && strcmp(name + n - ns, suffix) == 0);
}

int rel_flist_add_dir(rel_flist *f, const char *dir, const char *suffix,
                      const char *op, ember_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    if (!d) {
        rel_host->seterr(err, EMBER_EIO, "%s: cannot read directory %s: %s", op,
                         dir, strerror(errno));
        return EMBER_EIO;
    }
    while ((e = readdir(d)) != NULL) {
        if (!listed(e->d_name, suffix))
            continue;
        if (n == cap) {
            char **nn;
            cap = cap ? cap * 2 : 16;
            nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) {
                rc = EMBER_ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = EMBER_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc && n > 1) /* names is NULL for an empty directory */
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && !rc; i++) {
        char sub[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, names[i]) >=
            sizeof sub)
            continue;
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode))
            rc = rel_flist_add(f, sub, (int64_t)st.st_size);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc)
        rel_host->seterr(err, rc, "%s: out of memory", op);
    return rc;
}

int rel_flist_add_path(rel_flist *f, const char *path, const char *suffix,
                       const char *op, ember_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode))
        return rel_flist_add_dir(f, path, suffix, op, err);
    if (S_ISREG(st.st_mode) && rel_flist_add(f, path, (int64_t)st.st_size)) {
        rel_host->seterr(err, EMBER_ENOMEM, "%s: out of memory", op);
        return EMBER_ENOMEM;
    }
    return 0;
}

int rel_flist_expand(rel_flist *f, const char *path, const char *suffix,
                     const char *op, ember_error *err)
{
    struct stat st;
    glob_t g;
    int rc = 0;
    if (path && stat(path, &st) == 0)
        return rel_flist_add_path(f, path, suffix, op, err);
    memset(&g, 0, sizeof g);
    if (!path || glob(path, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        globfree(&g);
        rel_host->seterr(err, EMBER_ENOTFOUND,
                         "%s: input path does not exist: %s", op,
                         path ? path : "(null)");
        return EMBER_ENOTFOUND;
    }
    for (size_t i = 0; i < g.gl_pathc && !rc; i++)
        rc = rel_flist_add_path(f, g.gl_pathv[i], suffix, op, err);
    globfree(&g);
    return rc;
}
