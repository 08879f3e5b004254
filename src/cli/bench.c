/* cli/bench.c - `ringtrain bench`: the all-reduce against MPI_Allreduce on
 * this job's ranks, in the trainer's ring order or the launcher's, flat or
 * hierarchical. */
#include "internal.h"

#include "ringtrain/bench.h"
#include "ringtrain/common.h"
#include "ringtrain/dist.h"
#include "ringtrain/ring.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const usage_bench =
    "usage: ringtrain bench allreduce [--sizes 4K,1M,64M] [--segment-kb N] [--order topology|rank]\n"
    "                                 [--algorithm ring|hierarchical] [--compress none|bf16]\n"
    "                                 [--iters N] [--json]\n"
    "       ringtrain bench allreduce --fit FILE.json [--link GBIT] [--sizes ...] [--iters N]\n"
    "\n"
    "  --sizes LIST     buffer sizes in bytes, with K/M/G suffixes\n"
    "                   (default 4K,16K,64K,256K,1M,4M,16M,64M)\n"
    "  --segment-kb N   ring pipelining segment (default 512)\n"
    "  --order O        the ring's rank order: topology (host-major, as train runs it;\n"
    "                   the default) or rank (the launcher's)\n"
    "  --algorithm A    ring (default), or hierarchical: rings within hosts, then across\n"
    "  --compress C     none (default: the ring against MPI_Allreduce), or bf16: the ring\n"
    "                   with bf16 on the wire against the float32 ring (busbw in float32 bytes)\n"
    "  --iters N        timed calls per round at every size (default: 128 MiB of them;\n"
    "                   with --fit, 3, and at least 8 MiB of them)\n"
    "  --json           one JSON object per size instead of a table\n"
    "  --fit FILE       fit the ring's cost model instead (alpha per step, beta per byte,\n"
    "                   sigma per segment, gamma per byte reduced) within a host and between\n"
    "                   hosts, print each sample against it, and write it to FILE (JSON)\n"
    "  --link GBIT      with --fit: the links' nominal rate, kept in the fit so that\n"
    "                   predictions can scale it to another rate\n"
    "\n"
    "example:\n"
    "  mpirun -np 2 build/ringtrain bench allreduce --sizes 1M,64M\n";


/* "64M" -> 67108864; returns 0 on a malformed size. */
static size_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    double mult = 1;
    if (*end == 'K' || *end == 'k') mult = 1024, end++;
    else if (*end == 'M' || *end == 'm') mult = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g') mult = 1024.0 * 1024 * 1024, end++;
    if (*end || !(v > 0) || v * mult > 8.0 * 1024 * 1024 * 1024) return 0;
    return (size_t)(v * mult);
}

/* "4K,1M,64M" into sizes; returns how many, or -1 with the error recorded. */
int cli_parse_sizes(const char *list, size_t *sizes) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_SIZES) return arg_usage_error("bench", "--sizes: at most 64 sizes%s", ""), -1;
        if (!(sizes[n++] = parse_size(tok))) return arg_usage_error("bench", "--sizes: bad size \"%s\"", tok), -1;
    }
    if (!n) return arg_usage_error("bench", "--sizes: empty list%s", ""), -1;
    return n;
}

int cli_bench(int argc, char **argv) {
    if (argc > 0 && strcmp(argv[0], "predict") == 0) return cli_bench_predict(argc - 1, argv + 1);
    size_t sizes[MAX_SIZES] = {4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20};
    const char *what = NULL, *list = NULL, *order = "topology", *algo = "ring", *comp = "none", *fit = NULL;
    double link = 0.0;
    static const char *const orders[] = {"topology", "rank", NULL}, *const algos[] = {"ring", "hierarchical", NULL};
    static const char *const comps[] = {"none", "bf16", NULL};
    long long kb = 512, iters = 0;
    bool json = false;
    const arg_opt o[] = {
        {.name = "--sizes", .kind = ARG_STR, .out = &list},
        {.name = "--order", .kind = ARG_CHOICE, .out = &order, .what = "topology or rank", .choices = orders},
        {.name = "--algorithm", .kind = ARG_CHOICE, .out = &algo, .what = "ring or hierarchical", .choices = algos},
        {.name = "--compress", .kind = ARG_CHOICE, .out = &comp, .what = "none or bf16", .choices = comps},
        {.name = "--iters", .kind = ARG_INT, .out = &iters, .lo = 1, .hi = 100000, .what = "a count in [1, 100000]"},
        {.name = "--segment-kb", .kind = ARG_INT, .out = &kb, .lo = 1, .hi = 1 << 20, .what = "a size in [1, 1048576]"},
        {.name = "--json", .kind = ARG_FLAG, .out = &json},
        {.name = "--fit", .kind = ARG_STR, .out = &fit},
        {.name = "--link", .kind = ARG_NUM, .out = &link, .lo = 0, .hi = 1e4, .what = "a rate in Gbit/s in (0, 10000]"},
    };
    arg_spec s = {"bench", usage_bench, o, NOPTS(o), &what, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, true, &help);
    if (rc || help) return rc;
    int nsizes = list ? cli_parse_sizes(list, sizes) : 8;
    if (nsizes < 0) return RT_EBADINPUT;
    if (!what || strcmp(what, "allreduce") != 0)
        return arg_usage_error("bench", "unknown benchmark \"%s\" (supported: allreduce, predict)", what ? what : "");
    rt_topology topo;
    MPI_Comm comm; /* the trainer's ring order, or the world's */
    if ((rc = rt_dist_topology(MPI_COMM_WORLD, strcmp(order, "topology") == 0, &topo, &comm))) return rc;
    if (strcmp(algo, "hierarchical") == 0 && topo.min_local != topo.max_local) {
        MPI_Comm_free(&comm);
        return arg_usage_error("bench", "--algorithm hierarchical: the hosts hold unequal numbers of ranks%s", "");
    }
    size_t max = rt_bench_max_count(sizes, nsizes), seg = (size_t)kb << 10;
    if (fit) {
        static const size_t fit_sizes[] = {256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20};
        if (!list) nsizes = (int)(sizeof fit_sizes / sizeof fit_sizes[0]), memcpy(sizes, fit_sizes, sizeof fit_sizes);
        rt_cost_fit f;
        rc = rt_bench_fit(comm, &topo, sizes, nsizes, seg, iters > 0 ? (int)iters : 3, link, &f);
        int rank = 0;
        MPI_Comm_rank(comm, &rank);
        if (!rc && rank == 0 && !(rc = rt_cost_fit_write(fit, &f))) printf("fit: wrote %s\n", fit);
        MPI_Comm_free(&comm);
        return rc;
    }
    rt_ring *ring = strcmp(algo, "ring") == 0 ? rt_ring_create(comm, 202, max, seg, 300.0)
                    : rt_ring_create_hierarchical(comm, topo.host, topo.local_rank, 202, max, seg, 0, 300.0);
    rc = strcmp(comp, "bf16") == 0 ? rt_bench_allreduce_bf16_on(comm, ring, sizes, nsizes, seg, (int)iters, json)
                                   : rt_bench_allreduce_on(comm, ring, sizes, nsizes, seg, (int)iters, json);
    rt_ring_destroy(ring);
    MPI_Comm_free(&comm);
    return rc;
}
