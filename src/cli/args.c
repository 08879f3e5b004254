/* cli/args.c - the command line's argument helper (cli/internal.h). */
#include "internal.h"

#include "ringtrain/common.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int arg_usage_error(const char *verb, const char *fmt, const char *arg) {
    char what[512];
    snprintf(what, sizeof what, fmt, arg);
    return rt_err(RT_EBADINPUT, "%s: %s (see ringtrain %s --help)", verb, what, verb);
}

int arg_parse_or_help(const arg_spec *s, int argc, char **argv, bool mpi, bool *help) {
    int r = arg_parse(s, argc, argv), rank = 0;
    *help = r == ARGS_HELP;
    if (*help && mpi) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (*help && rank == 0) fputs(s->usage, stdout);
    return r == ARGS_BAD ? RT_EBADINPUT : RT_OK;
}

bool arg_is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

/* The flag a names (alone, or as "--name=value": *inline_val then points
 * past the '='), or NULL. */
static const arg_opt *find_opt(const arg_spec *s, const char *a, const char **inline_val) {
    *inline_val = NULL;
    for (int i = 0; i < s->nopts; i++) {
        const arg_opt *o = &s->opts[i];
        size_t n = strlen(o->name);
        if (strcmp(a, o->name) == 0 || (o->alias && strcmp(a, o->alias) == 0)) return o;
        if (o->kind != ARG_FLAG && strncmp(a, o->name, n) == 0 && a[n] == '=') {
            *inline_val = a + n + 1;
            return o;
        }
    }
    return NULL;
}

static int set_value(const arg_spec *s, const arg_opt *o, const char *v) {
    switch (o->kind) {
    case ARG_FLAG: *(bool *)o->out = true; return RT_OK;
    case ARG_STR: *(const char **)o->out = v; return RT_OK;
    case ARG_LIST:
        if (*o->count == ARG_MAX_SETS) return arg_usage_error(s->verb, "too many --set (max %s)", "256");
        ((const char **)o->out)[(*o->count)++] = v;
        return RT_OK;
    case ARG_INT: {
        char *end, msg[160];
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!errno && end != v && !*end && x >= o->lo && x <= o->hi) {
            *(long long *)o->out = x;
            return RT_OK;
        }
        snprintf(msg, sizeof msg, "%s: expected %s, got %%s", o->name, o->what);
        return arg_usage_error(s->verb, msg, v);
    }
    case ARG_NUM: {
        char *end, msg[160];
        errno = 0;
        double x = strtod(v, &end);
        if (!errno && end != v && !*end && x >= (double)o->lo && x <= (double)o->hi) {
            *(double *)o->out = x;
            return RT_OK;
        }
        snprintf(msg, sizeof msg, "%s: expected %s, got %%s", o->name, o->what);
        return arg_usage_error(s->verb, msg, v);
    }
    case ARG_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (strcmp(v, o->choices[i]) == 0) {
                *(const char **)o->out = v;
                return RT_OK;
            }
        char msg[160];
        snprintf(msg, sizeof msg, "%s must be %s, got %%s", o->name, o->what);
        return arg_usage_error(s->verb, msg, v);
    }
    return RT_ERUNTIME;
}

int arg_parse(const arg_spec *s, int argc, char **argv) {
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (arg_is_help(a)) return ARGS_HELP;
        const arg_opt *o = a[0] == '-' ? find_opt(s, a, &v) : NULL;
        if (!o && a[0] == '-') return arg_usage_error(s->verb, "unknown or incomplete option %s", a), ARGS_BAD;
        if (!o) {
            if (npos == s->maxpos) return arg_usage_error(s->verb, "unexpected argument %s", a), ARGS_BAD;
            s->pos[npos++] = a;
            continue;
        }
        if (o->kind != ARG_FLAG && !v) {
            if (i + 1 == argc) return arg_usage_error(s->verb, "unknown or incomplete option %s", a), ARGS_BAD;
            v = argv[++i];
        }
        if (set_value(s, o, v)) return ARGS_BAD;
    }
    return ARGS_OK;
}
