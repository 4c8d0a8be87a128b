/*
 * op_upper.c -- an example out-of-tree operator plugin for ember.
 *
 *   upper.apply   transform: upper-cases the ASCII letters of every string
 *                 in column 0 and appends the `suffix` parameter (default
 *                 ""); NULLs stay NULL.  Emits one STRING column.
 *
 * Built only against the installed SDK header <ember/plugin.h> (see the
 * Makefile); it links nothing of ember's and calls the host only through
 * the ember_host table it is given in init().
 *
 * State: the host-table pointer (set once in init) and constant tables.
 * Each operator instance owns its output batch, reused for every input
 * batch, and a scratch buffer; an instance is used by one task thread at a
 * time, so nothing here needs a lock.
 */
#include <ember/plugin.h>

#include <stdlib.h>
#include <string.h>

static const ember_host *H;

static const ember_param_desc upper_params[] = {
    {"suffix", EMBER_PARAM_STRING, "", "appended to every value"},
};

typedef struct upper {
    char *suffix;
    size_t suffix_len;
    ember_batch *out; /* reused: cleared after each emit */
    char *scratch;    /* one output value */
    size_t cap;
} upper;

static void upper_close(void *state)
{
    upper *u = state;
    if (!u)
        return;
    H->batch_free(&u->out);
    free(u->scratch);
    free(u->suffix);
    free(u);
}

static int upper_open(const ember_host *host, const ember_params *p,
                      const ember_task_info *ti, void **state, ember_error *err)
{
    const char *suffix = host->param_str(p, "suffix");
    upper *u = calloc(1, sizeof *u);
    (void)ti;
    if (!u)
        goto oom;
    if (!suffix)
        suffix = "";
    u->suffix_len = strlen(suffix);
    u->suffix = malloc(u->suffix_len + 1);
    u->out = host->batch_new();
    if (!u->suffix || !u->out)
        goto oom;
    memcpy(u->suffix, suffix, u->suffix_len + 1);
    if (host->batch_add_column(u->out, "value", EMBER_TYPE_STRING) < 0)
        goto oom;
    *state = u;
    return 0;
oom:
    upper_close(u);
    host->seterr(err, EMBER_ENOMEM, "upper.apply: out of memory");
    return EMBER_ENOMEM;
}

/* Grow the scratch buffer to hold n bytes. */
static int reserve(upper *u, size_t n)
{
    char *p;
    size_t cap = u->cap ? u->cap : 64;
    if (n <= u->cap)
        return 0;
    while (cap < n)
        cap *= 2;
    if (!(p = realloc(u->scratch, cap)))
        return EMBER_ENOMEM;
    u->scratch = p;
    u->cap = cap;
    return 0;
}

static int upper_push(void *state, const ember_batch *in, ember_emit_fn emit,
                      void *ud, ember_error *err)
{
    upper *u = state;
    const char *data;
    ember_column c;
    int rc = 0;

    if (H->batch_num_columns(in) < 1 || H->batch_column(in, 0, &c) != 0) {
        H->seterr(err, EMBER_EINVAL, "upper.apply: input has no column 0");
        return EMBER_EINVAL;
    }
    if (c.type != EMBER_TYPE_STRING) {
        H->seterr(err, EMBER_EINVAL,
                  "upper.apply: column 0 must hold strings (type %d)",
                  (int)c.type);
        return EMBER_EINVAL;
    }
    data = c.data;
    for (int64_t i = 0; i < c.length && rc == 0; i++) {
        size_t len;
        const char *s;
        if (c.validity && !(c.validity[i >> 3] & (1u << (i & 7)))) {
            rc = H->batch_append_null(u->out, 0);
            continue;
        }
        s = data + c.offsets[i];
        len = (size_t)(c.offsets[i + 1] - c.offsets[i]);
        if ((rc = reserve(u, len + u->suffix_len + 1)) != 0)
            break;
        for (size_t k = 0; k < len; k++) {
            char ch = s[k];
            u->scratch[k] =
                (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
        }
        memcpy(u->scratch + len, u->suffix, u->suffix_len);
        rc = H->batch_append_str(u->out, 0, u->scratch, len + u->suffix_len);
    }
    if (rc == 0 && H->batch_num_rows(u->out) > 0)
        rc = emit(ud, u->out); /* EMBER_ESTOP passes through */
    else if (rc != 0)
        H->seterr(err, rc, "upper.apply: %s", H->strerror(rc));
    H->batch_clear(u->out);
    return rc;
}

static int upper_finish(void *state, ember_emit_fn emit, void *ud,
                        ember_error *err)
{
    (void)state; /* nothing is buffered between pushes */
    (void)emit;
    (void)ud;
    (void)err;
    return 0;
}

static const ember_op_desc upper_op = {
    sizeof(ember_op_desc),
    "upper.apply",
    "upper-case ASCII letters of strings and append a suffix",
    EMBER_OP_TRANSFORM,
    upper_params,
    sizeof upper_params / sizeof upper_params[0],
    NULL, /* plan: sources only */
    upper_open,
    NULL, /* run: sources only */
    upper_push,
    upper_finish,
    upper_close,
    NULL, /* push_input: single input */
};

static int upper_init(const ember_host *host, ember_registry *reg,
                      ember_error *err)
{
    int rc;
    H = host;
    if ((rc = host->register_op(reg, &upper_op)) != 0)
        host->seterr(err, rc, "cannot register %s", upper_op.name);
    return rc;
}

EMBER_PLUGIN_DEFINE("op_upper", "1.0.0", upper_init, NULL)
