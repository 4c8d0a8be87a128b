/*
 * conf_doc.c -- writes the key table (core/conf_keys.c) as the reference
 * section of docs/configuration.md, and checks or rewrites that section.
 *
 * Owns: the markdown form of a key (its row: key, default, type with
 * bounds and the unit of a bare number, meaning = doc + notes) and the
 * splicing of the table between the conf-doc markers.  How a key is typed,
 * bounded and documented is the table's business, not this file's.
 *
 * Threads: no shared state.
 */
#include "conf_doc.h"

#include "config.h"
#include "util/err.h"
#include "util/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------- rendering */

/* "bytes", "MiB", "s", ... for the unit of a bare number. */
static const char *unit_name(const conf_keydef *kd)
{
    static const struct {
        conf_type type;
        int64_t unit;
        const char *name;
    } names[] = {{CONF_SIZE, 1, "bytes"},
                 {CONF_SIZE, (int64_t)1 << 10, "KiB"},
                 {CONF_SIZE, (int64_t)1 << 20, "MiB"},
                 {CONF_SIZE, (int64_t)1 << 30, "GiB"},
                 {CONF_DURATION, 1, "ms"},
                 {CONF_DURATION, 1000, "s"},
                 {CONF_DURATION, 60000, "min"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].type == kd->type && names[i].unit == kd->unit)
            return names[i].name;
    return "?";
}

/* The type column: "integer ≥ 1", "number 0.0 to 1.0", "duration ≥ 1ms
 * (bare number: s)", "`error`, `warn`, `info` or `debug`". */
static void type_cell(FILE *f, const conf_keydef *kd)
{
    int neg1 = kd->type == CONF_SIZE && kd->min && strcmp(kd->min, "-1") == 0;
    if (kd->type == CONF_ENUM) {
        const char *p = kd->values ? kd->values : "";
        int n = 0, i = 0;
        for (const char *q = p; *q; q++)
            n += *q == ',';
        while (*p) {
            size_t m = strcspn(p, "|,");
            fprintf(f, "%s`%.*s`",
                    i == 0   ? ""
                    : i == n ? " or "
                             : ", ",
                    (int)m, p);
            p += strcspn(p, ",");
            p += *p == ',';
            i++;
        }
        return;
    }
    fputs(conf_type_name(kd->type), f);
    if (neg1)
        fputs(" or `-1`", f);
    else if (kd->min && kd->max)
        fprintf(f, " %s to %s", kd->min, kd->max);
    else if (kd->min)
        fprintf(f, " ≥ %s", kd->min);
    else if (kd->max)
        fprintf(f, " ≤ %s", kd->max);
    if (kd->type == CONF_SIZE || kd->type == CONF_DURATION)
        fprintf(f, " (bare number: %s)", unit_name(kd));
}

static void row(FILE *f, const conf_keydef *kd)
{
    size_t dl = strlen(kd->doc);
    fprintf(f, "| `%s` | ", kd->key);
    if (kd->default_value[0])
        fprintf(f, "`%s`", kd->default_value);
    else
        fputs("*(empty)*", f);
    fputs(" | ", f);
    type_cell(f, kd);
    fprintf(f, " | %s%s", kd->doc, dl && kd->doc[dl - 1] == '.' ? "" : ".");
    if (kd->notes && kd->notes[0])
        fprintf(f, " %s", kd->notes);
    fputs(" |\n", f);
}

char *conf_doc_table(void)
{
    size_t n, len = 0;
    const conf_keydef *kd = conf_known_keys(&n);
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fputs("| key | default | type | meaning |\n|---|---|---|---|\n", f);
    for (size_t i = 0; i < n; i++)
        row(f, &kd[i]);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ------------------------------------------------------------ splicing */

/* Find the generated section of doc: *body is the first byte after the
 * begin marker's line, *end the first byte of the end marker's line. */
static int find_section(const char *path, const char *doc, const char **body,
                        const char **end, ember_error *err)
{
    const char *b = strstr(doc, CONF_DOC_BEGIN "\n");
    const char *e = b ? strstr(b, "\n" CONF_DOC_END) : NULL;
    if (!b || !e)
        return ember_seterr(err, EMBER_EINVAL,
                            "%s: no generated section (the lines %s and %s)",
                            path, CONF_DOC_BEGIN, CONF_DOC_END);
    *body = b + strlen(CONF_DOC_BEGIN) + 1;
    *end = e + 1;
    return 0;
}

static long line_of(const char *doc, const char *p)
{
    long n = 1;
    for (; doc < p; doc++)
        n += *doc == '\n';
    return n;
}

int conf_doc_check(const char *path, ember_error *err)
{
    char *doc = NULL, *table = NULL;
    const char *body, *end, *d, *t;
    int rc;
    if ((rc = read_file(path, &doc, NULL, err)) != 0)
        return rc;
    if ((rc = find_section(path, doc, &body, &end, err)) != 0)
        goto out;
    if (!(table = conf_doc_table())) {
        rc = ember_seterr(err, EMBER_ENOMEM, "out of memory");
        goto out;
    }
    /* compare line by line, to name the first line that differs */
    for (d = body, t = table; d < end || *t;) {
        size_t dl = d < end ? strcspn(d, "\n") : 0;
        size_t tl = strcspn(t, "\n");
        if (d >= end || !*t || dl != tl || memcmp(d, t, dl) != 0) {
            rc = ember_seterr(err, EMBER_EINVAL,
                              "%s:%ld: the reference differs from the key "
                              "table (core/conf_keys.c): the doc has "
                              "\"%.*s\", the table gives \"%.*s\"; run `make "
                              "conf-doc`",
                              path, line_of(doc, d), (int)(dl > 160 ? 160 : dl),
                              d < end ? d : "", (int)(tl > 160 ? 160 : tl), t);
            goto out;
        }
        d += dl + 1;
        t += tl + (t[tl] == '\n');
    }
    rc = 0;
out:
    free(doc);
    free(table);
    return rc;
}

int conf_doc_update(const char *path, ember_error *err)
{
    char *doc = NULL, *table = NULL, *tmp = NULL;
    const char *body, *end;
    FILE *f = NULL;
    int rc;
    if ((rc = read_file(path, &doc, NULL, err)) != 0)
        return rc;
    if ((rc = find_section(path, doc, &body, &end, err)) != 0)
        goto out;
    table = conf_doc_table();
    if (!table || asprintf(&tmp, "%s.tmp", path) < 0) {
        tmp = NULL;
        rc = ember_seterr(err, EMBER_ENOMEM, "out of memory");
        goto out;
    }
    if (!(f = fopen(tmp, "w"))) {
        rc = ember_seterr(err, EMBER_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fwrite(doc, 1, (size_t)(body - doc), f);
    fputs(table, f);
    fputs(end, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        rc = ember_seterr(err, EMBER_EIO, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(doc);
    free(table);
    free(tmp);
    return rc;
}
