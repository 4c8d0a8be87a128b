/*
 * config.h -- ember's configuration: spark-defaults-style files, conf.d,
 * environment, --conf and script settings, merged by source precedence.
 *
 * A conf maps keys (Spark's names without "spark.", [A-Za-z0-9_.-]+) to
 * string values.  Every value remembers the source that set it and an
 * optional origin ("/etc/ember.conf:12") for --verbose and error messages.
 * A higher source always wins, whatever the order things are loaded in:
 *
 *     SCRIPT > CMDLINE (--conf) > ENV (EMBER_CONF_*) > CONFD > FILE > DEFAULT
 *
 * Values stay strings; the typed getters parse them on each call, so a bad
 * value is reported by whoever reads it, naming the key, value and origin.
 * An empty value counts as unset for the typed getters (their def is used).
 *
 * Threads: a conf has no lock.  Concurrent readers of a conf that nobody
 * modifies are safe; any writer needs exclusive access.  No global state.
 * The file format and every known key are described in
 * docs/configuration.md.
 */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <ember/plugin.h>
#include <stddef.h>
#include <stdint.h>

typedef enum conf_source {
    CONF_SRC_DEFAULT = 0,
    CONF_SRC_FILE,
    CONF_SRC_CONFD,
    CONF_SRC_ENV,
    CONF_SRC_CMDLINE,
    CONF_SRC_SCRIPT
} conf_source;

/* "default", "file", "conf.d", "env", "--conf", "script"; "unknown" for a
 * value outside the enum.  Never NULL; static storage. */
const char *conf_source_name(conf_source s);

typedef struct conf conf;

/* A new conf holding the built-in default of every known key that has a
 * non-empty default (source DEFAULT, origin NULL); keys whose default is
 * empty ("auto") are left unset.  Returns NULL when out of memory; the
 * caller owns the result. */
conf *conf_new(void);

/* Free *c and set *c = NULL.  Accepts NULL and a NULL *c. */
void conf_destroy(conf **c);

/* A deep copy, owned by the caller; NULL when out of memory. */
conf *conf_dup(const conf *c);

/* Set key to value if src >= the source of the current value (a lower
 * source is silently ignored and still returns 0).  key, value and origin
 * (may be NULL; e.g. "/etc/ember.conf:12") are copied.
 * Returns 0, EMBER_EINVAL (NULL argument, empty key or a character outside
 * [A-Za-z0-9_.-] in key) or EMBER_ENOMEM (c unchanged). */
int conf_set(conf *c, const char *key, const char *value, conf_source src,
             const char *origin);

/* The current value of key, borrowed until the next change of that key;
 * NULL if unset. */
const char *conf_get(const conf *c, const char *key);

/* Source and origin (borrowed, may be NULL) of key's value; either output
 * may be NULL.  Returns 0 or EMBER_ENOTFOUND if key is unset. */
int conf_get_source(const conf *c, const char *key, conf_source *src,
                    const char **origin);

/* Load a spark-defaults-style file: `key value` or `key = value` per line,
 * `#` comments (at line start or after whitespace), blank lines ignored,
 * lines of at most 4096 bytes.  Each value's origin is "path:LINE".
 * All or nothing: on any error c is left unchanged.
 * Returns 0, EMBER_ENOTFOUND (no such file), EMBER_EIO (cannot read),
 * EMBER_EINVAL ("path:LINE: what is wrong") or EMBER_ENOMEM. */
int conf_load_file(conf *c, const char *path, conf_source src,
                   ember_error *err);

/* Load every regular file named *.conf (not starting with '.') in dir, in
 * byte-wise lexical order, so later files override earlier ones.  A missing
 * dir is not an error (returns 0).  All or nothing, as conf_load_file;
 * errors as conf_load_file, plus EMBER_EINVAL if dir is not a directory. */
int conf_load_dir(conf *c, const char *dir, conf_source src, ember_error *err);

/* Apply every EMBER_CONF_<name>=<value> in envp (NULL: the process
 * environment) at source ENV: the key is <name> with each '_' written as
 * '.', case preserved (EMBER_CONF_task_maxFailures -> task.maxFailures).
 * Names that do not map to a valid key are skipped.  Origin is the
 * variable's name.  Returns 0 or EMBER_ENOMEM (c unchanged). */
int conf_load_env(conf *c, char *const *envp);

/* Apply one "key=value" argument of --conf (split at the first '=',
 * whitespace around key and value trimmed; an empty value is allowed and
 * means "unset" to the typed getters).  Origin is "--conf".
 * Returns 0, EMBER_EINVAL with a message naming the argument, or
 * EMBER_ENOMEM. */
int conf_parse_arg(conf *c, const char *kv, conf_source src, ember_error *err);

/* Typed getters.  Parse key's current value into *out, or store def if the
 * key is unset or empty.  A value that does not parse gives EMBER_EINVAL
 * with a message naming the key, the value and its origin (*out is then
 * untouched).  err may be NULL. */

/* Decimal integer, full int64_t range. */
int conf_get_int(const conf *c, const char *key, int64_t def, int64_t *out,
                 ember_error *err);
/* true/false, yes/no, on/off, 1/0, case-insensitive; *out is 1 or 0. */
int conf_get_bool(const conf *c, const char *key, int def, int *out,
                  ember_error *err);
/* A finite decimal floating-point number. */
int conf_get_double(const conf *c, const char *key, double def, double *out,
                    ember_error *err);

/* A size as Spark writes it: a non-negative integer and an optional unit,
 * case-insensitive: b, k, m, g, t, p (powers of 1024), each also accepted
 * with a "b" or "ib" suffix ("512mb", "2GiB").  A bare number is in units
 * of default_unit bytes (1 for bytes, 1<<20 when a bare number means MiB;
 * 0 is taken as 1).  Returns 0 or EMBER_EINVAL (garbage, negative,
 * overflow of uint64_t); *out is set only on success. */
int conf_parse_size(const char *s, uint64_t default_unit, uint64_t *out);
int conf_get_size(const conf *c, const char *key, uint64_t default_unit,
                  uint64_t def, uint64_t *out, ember_error *err);

/* A duration as Spark writes it: a non-negative integer and an optional
 * unit, case-insensitive: us, ms, s, m or min, h, d.  A bare number is in
 * units of default_unit_ms milliseconds (1000 for keys documented in
 * seconds; must be >= 1).  The result is in milliseconds, truncated
 * ("500us" -> 0), like Spark's timeStringAsMs.  Returns 0 or EMBER_EINVAL
 * (garbage, negative, overflow of int64_t); *out is set only on success. */
int conf_parse_duration_ms(const char *s, int64_t default_unit_ms,
                           int64_t *out);
int conf_get_duration_ms(const conf *c, const char *key,
                         int64_t default_unit_ms, int64_t def, int64_t *out,
                         ember_error *err);

/* Call fn for every set key (defaults included) in strcmp order.  The
 * strings are borrowed for the duration of the call; fn must not modify
 * c. */
typedef void (*conf_visit_fn)(void *ud, const char *key, const char *value,
                              conf_source src, const char *origin);
void conf_foreach(const conf *c, conf_visit_fn fn, void *ud);

/* The known keys, in a fixed order (static storage): for docs, --verbose
 * and unknown-key warnings.  default_value is "" when the default is
 * computed ("auto"); the doc says how. */
typedef struct conf_key_doc {
    const char *key;
    const char *default_value;
    const char *doc;
} conf_key_doc;
const conf_key_doc *conf_known_keys(size_t *n);

/* Call warn(ud, key, origin, suggestion) for each set key, in sorted
 * order, that is not a known key, unless it lies in an open subtree:
 * "transport.<name>.<sub>", "clustermgr.<name>.<sub>", "op.<name>.<sub>"
 * and "plugins.<sub>" are accepted.  suggestion is the known key closest
 * by edit distance (letters compared case-insensitively; at most 3), or
 * NULL.  All strings are borrowed for the duration of the call. */
typedef void (*conf_warn_fn)(void *ud, const char *key, const char *origin,
                             const char *suggestion);
void conf_check_unknown(const conf *c, conf_warn_fn warn, void *ud);

/* The value of prefix+key, e.g. conf_get_sub(c, "transport.zmq.",
 * "linger") is the value of "transport.zmq.linger"; NULL if unset. */
const char *conf_get_sub(const conf *c, const char *prefix, const char *key);

#endif
