/*
 * conf_doc.h -- the reference section of docs/configuration.md, written
 * from the key table (core/conf_keys.c).
 *
 * The generated section lies between two marker lines of the document:
 *
 *     <!-- conf-doc: begin ... -->
 *     | key | default | type | meaning |
 *     ...
 *     <!-- conf-doc: end -->
 *
 * Everything outside the markers is hand-written and left alone.  `make
 * conf-doc` rewrites the section (core/conf_doc_main.c);
 * tests/unit/test_conf_keys.c fails when it differs from the table.
 *
 * Threads: no shared state.
 */
#ifndef EMBER_CONF_DOC_H
#define EMBER_CONF_DOC_H

#include <ember/plugin.h>

#define CONF_DOC_BEGIN                                                         \
    "<!-- conf-doc: begin (generated from core/conf_keys.c by `make "          \
    "conf-doc`; edit the table there, not here) -->"
#define CONF_DOC_END "<!-- conf-doc: end -->"

/* The table as markdown (header, then one row per key, each line ending in
 * '\n'), without the markers; the caller frees it.  NULL when out of
 * memory. */
char *conf_doc_table(void);

/* Compare the generated section of the document at path with
 * conf_doc_table().  Returns 0 when they agree; EMBER_EINVAL when they do
 * not, or when the markers are missing, with err naming the first line
 * that differs ("path:LINE: ..."); EMBER_ENOTFOUND or EMBER_EIO if path
 * cannot be read; EMBER_ENOMEM. */
int conf_doc_check(const char *path, ember_error *err);

/* Rewrite the generated section of the document at path from the table
 * (through path.tmp and rename, so a failure leaves the file as it was).
 * Returns 0, EMBER_EINVAL (markers missing), EMBER_ENOTFOUND, EMBER_EIO or
 * EMBER_ENOMEM, with err saying what went wrong. */
int conf_doc_update(const char *path, ember_error *err);

#endif
