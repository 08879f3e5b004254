/* cli/internal.h - the command line's one argument helper: each verb
 * declares its flags as a table of arg_opt, and arg_parse reads argv by it.
 * Not installed, never exported. */
#ifndef RINGTRAIN_CLI_INTERNAL_H
#define RINGTRAIN_CLI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#define ARG_MAX_SETS 256 /* values an ARG_LIST flag takes */
#define NOPTS(a) ((int)(sizeof a / sizeof a[0]))


typedef enum { ARG_FLAG, ARG_STR, ARG_LIST, ARG_INT, ARG_NUM, ARG_CHOICE } arg_kind;

/* One flag of a verb: where its value goes and what it accepts. */
typedef struct arg_opt {
    const char *name;     /* "--set" */
    const char *alias;    /* "-o", or NULL */
    arg_kind kind;
    void *out;            /* bool, const char *, const char *[ARG_MAX_SETS], long long, double, const char * */
    int *count;           /* ARG_LIST: values so far */
    long long lo, hi;     /* ARG_INT, ARG_NUM: the range */
    const char *what;     /* ARG_INT, ARG_NUM: "a count in [1, 1048576]"; ARG_CHOICE: "test or train" */
    const char *const *choices; /* ARG_CHOICE: NULL-terminated */
} arg_opt;

/* What a verb's command line holds besides its flags. */
typedef struct arg_spec {
    const char *verb, *usage;
    const arg_opt *opts;
    int nopts;
    const char **pos;     /* (maxpos) positional arguments, in order */
    int maxpos;
} arg_spec;

enum { ARGS_OK, ARGS_HELP, ARGS_BAD };

/* RT_EBADINPUT "<verb>: <fmt with arg> (see ringtrain <verb> --help)" */
int arg_usage_error(const char *verb, const char *fmt, const char *arg);
/* --help or -h */
bool arg_is_help(const char *a);
/* Reads argv by s: ARGS_OK, ARGS_HELP (--help given: the caller prints the
 * usage), or ARGS_BAD with the error recorded. */
int arg_parse(const arg_spec *s, int argc, char **argv);
/* arg_parse, printing the usage on --help (*help set; with mpi, on world rank
 * 0 only). Returns RT_OK, or RT_EBADINPUT with the error recorded. */
int arg_parse_or_help(const arg_spec *s, int argc, char **argv, bool mpi, bool *help);

/* The verbs that live in cli/: argc and argv from the verb on; RT_OK or an
 * error code with the error recorded. */
int cli_bench(int argc, char **argv);
int cli_bench_predict(int argc, char **argv); /* `bench predict`, argv after "predict" */
/* "4K,1M,64M" into sizes (at most MAX_SIZES, bytes, K/M/G suffixes): the
 * count, or -1 with a usage error recorded */
#define MAX_SIZES 64
int cli_parse_sizes(const char *list, size_t *sizes);

#endif
