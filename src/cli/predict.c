/* cli/predict.c - `ringtrain bench predict`: a config's step time on H hosts
 * of R ranks from the ring's fitted cost model (costmodel.h), flat ring and
 * hierarchical, with and without overlap; --sweep over 2..1024 ranks. */
#include "internal.h"

#include "../bf16.h"

#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/costmodel.h"
#include "ringtrain/gradsync.h"
#include "ringtrain/model.h"
#include "ringtrain/train.h"

#include <ftw.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const usage_predict =
    "usage: ringtrain bench predict --model CONFIG.json --fit FIT.json --link GBIT\n"
    "                               [--hosts H] [--ranks-per-host R] [--latency US]\n"
    "                               [--compute-ms MS] [--per-rank-batch B] [--sweep]\n"
    "                               [--compress none|bf16] [--intra-link GBIT] [--reduce-gbs GBS]\n"
    "       ringtrain bench predict --sizes 1M,64M --fit FIT.json --link GBIT [--hosts H]\n"
    "                               [--ranks-per-host R] [--latency US] [--compress none|bf16]\n"
    "                               [--intra-link GBIT] [--reduce-gbs GBS]\n"
    "\n"
    "Predicts a training step of CONFIG on H hosts of R ranks (weak scaling: every rank\n"
    "keeps its batch) from the ring's cost model: per bucket, the all-reduce on the flat\n"
    "host-major ring and on the hierarchical stages, and the step with the buckets after\n"
    "backward and with them overlapping it.\n"
    "  --fit FILE        a fit from `ringtrain bench allreduce --fit` (the intra-host\n"
    "                    class, and the inter-host one if it has it)\n"
    "  --link GBIT       the links between hosts, Gbit/s: the fit's inter-host beta scaled\n"
    "                    to it (the fit's own efficiency kept), or the wire rate alone\n"
    "  --latency US      the links' latency per ring step (default: the fit's inter-host\n"
    "                    alpha, or 10); the fit's sigma per segment scales with it\n"
    "  --hosts H, --ranks-per-host R   the job (default 2 and 1)\n"
    "  --compute-ms MS   forward and backward of one step per rank (default: timed here,\n"
    "                    a few steps of CONFIG on one rank)\n"
    "  --per-rank-batch B  each rank's batch (default: train.global_batch / 2, the\n"
    "                    configs' np=2)\n"
    "  --sweep           a table for 2, 4, ..., 1024 ranks, R per host\n"
    "  --compress bf16   gradients on the wire as bf16 (dist.compress): half the bytes\n"
    "                    on every link, and the encoding, decoding and error feedback\n"
    "                    (timed here) in place of the float32 add\n"
    "  --intra-link GBIT the links within a host at this wire rate instead of the fit's\n"
    "                    (for hosts whose ranks are joined by a faster fabric than this\n"
    "                    machine's memory)\n"
    "  --reduce-gbs GBS  the float32 add at this rate in GB/s instead of the fit's gamma\n"
    "                    (hardware that reduces faster or slower than this machine)\n"
    "  --sizes LIST      instead of a config: one JSON line per all-reduce size with\n"
    "                    the model's seconds, flat ring and hierarchical (as `bench\n"
    "                    allreduce --json` measures them)\n";

/* Backward is taken as 2/3 of a step's compute (twice forward's products);
 * the update as the measured or given share below. */
#define BWD_SHARE (2.0 / 3.0)

typedef struct job {
    rt_cost_fit fit;
    int nb;
    double *bucket_bytes, *ready;  /* (nb) */
    double compute_s, opt_s;       /* per rank, one step */
} job;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* Seconds of one step of cfg alone, the median of steps 3..8 (the first
 * ones warm up), in a scratch run directory removed afterwards. */
static int time_steps(rt_config *cfg, double *secs) {
    char dir[] = "/tmp/rt_predict.XXXXXX";
    if (!mkdtemp(dir)) return rt_err(RT_ERUNTIME, "bench predict: cannot make a scratch directory");
    char run[sizeof dir + 8];
    snprintf(run, sizeof run, "%s/run", dir);
    rt_train_opts o = {.run_dir = run, .quiet = true};
    rt_trainer *t = NULL;
    int rc = rt_trainer_create(cfg, &o, MPI_COMM_SELF, &t);
    double s[8];
    for (int i = 0; i < 8 && !rc; i++) {
        double loss, t0 = rt_now();
        rc = rt_trainer_step(t, &loss);
        s[i] = rt_now() - t0;
    }
    rt_trainer_destroy(t);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (rc) return rc;
    for (int i = 2; i < 8; i++) /* sort steps 3..8 */
        for (int j = i + 1; j < 8; j++)
            if (s[j] < s[i]) {
                double x = s[i];
                s[i] = s[j], s[j] = x;
            }
    *secs = 0.5 * (s[4] + s[5]);
    return RT_OK;
}

/* The buckets of cfg's model and when each is final in backward. */
static void plan_buckets(const rt_config *cfg, job *j) {
    rt_model *m = rt_model_create(cfg);
    rt_params *p = rt_model_params(m);
    size_t cap = (size_t)(p->count ? p->count : 1), *lo = rt_calloc(cap, sizeof *lo), *hi = rt_calloc(cap, sizeof *hi);
    j->nb = rt_gradsync_plan(p, cfg->dist.bucket_mb, lo, hi, NULL);
    j->bucket_bytes = rt_calloc((size_t)j->nb, sizeof(double));
    j->ready = rt_calloc((size_t)j->nb, sizeof(double));
    double total = (double)p->train_total, done = 0.0;
    for (int i = 0; i < j->nb; i++) { /* bucket 0 holds the last parameters: backward's first */
        j->bucket_bytes[i] = (double)(hi[i] - lo[i]) * sizeof(float);
        done += (double)(hi[i] - lo[i]);
        j->ready[i] = total > 0 ? done / total : 1.0;
    }
    rt_free(lo);
    rt_free(hi);
    rt_model_destroy(m);
}

/* One line: the step at H x R on the flat ring and hierarchically, with and
 * without overlap; or, detail, every bucket first. */
static void predict(const job *j, int H, int R, bool detail, bool header) {
    int N = H * R;
    double *flat = rt_calloc((size_t)j->nb, sizeof(double)), *hier = rt_calloc((size_t)j->nb, sizeof(double));
    double sum_f = 0, sum_h = 0;
    for (int i = 0; i < j->nb; i++) {
        flat[i] = rt_cost_flat(&j->fit, H, R, j->bucket_bytes[i]);
        hier[i] = H > 1 && R > 1 ? rt_cost_hierarchical(&j->fit, H, R, j->bucket_bytes[i]) : flat[i];
        sum_f += flat[i], sum_h += hier[i];
        if (detail)
            printf("bucket %d: %.0f bytes, final at %.0f%% of backward: ring %.3f ms, hierarchical %.3f ms\n", i,
                   j->bucket_bytes[i], 100.0 * j->ready[i], 1e3 * flat[i], 1e3 * hier[i]);
    }
    double fwd = j->compute_s * (1.0 - BWD_SHARE), bwd = j->compute_s * BWD_SHARE, opt = j->opt_s / N;
    double t[4] = {rt_cost_step(flat, j->ready, j->nb, fwd, bwd, opt, false),
                   rt_cost_step(flat, j->ready, j->nb, fwd, bwd, opt, true),
                   rt_cost_step(hier, j->ready, j->nb, fwd, bwd, opt, false),
                   rt_cost_step(hier, j->ready, j->nb, fwd, bwd, opt, true)};
    double alone = fwd + bwd + opt, best = fmin(fmin(t[0], t[1]), fmin(t[2], t[3]));
    if (header)
        printf("%6s %5s %5s %10s %10s %10s %10s %10s %10s %8s %s\n", "ranks", "hosts", "R", "ring ms", "hier ms",
               "step ms", "+overlap", "hier step", "+overlap", "eff", "hidden");
    /* efficiency (weak scaling): the step without communication over the best
     * step with it; hidden: overlap brings the step within 5% of that */
    printf("%6d %5d %5d %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f %7.1f%% %s\n", N, H, R, 1e3 * sum_f, 1e3 * sum_h,
           1e3 * t[0], 1e3 * t[1], 1e3 * t[2], 1e3 * t[3], 100.0 * alone / best,
           fmin(t[1], t[3]) <= alone * 1.05 ? "yes" : "no");
    rt_free(flat);
    rt_free(hier);
}

/* The inter-host class at `link` Gbit/s and `latency_us` (< 0: the fit's).
 * σ, what each further segment of a step costs, is a handshake across the
 * link (a rendezvous per segment), so a latency given scales it with α. */
static void set_link(rt_cost_fit *f, double link, double latency_us) {
    rt_link_fit *e = &f->inter;
    double wire = 8.0 / (link * 1e9); /* seconds per byte at the wire rate */
    if (e->present && e->link_gbit > 0) e->beta_s *= e->link_gbit / link;
    else e->beta_s = wire, e->sigma_s = 0.0;
    if (latency_us >= 0) {
        e->sigma_s = e->alpha_s > 0 ? e->sigma_s * latency_us * 1e-6 / e->alpha_s : 0.0;
        e->alpha_s = latency_us * 1e-6;
    } else if (!e->present)
        e->alpha_s = 10e-6;
    e->present = true;
    e->link_gbit = link;
}

/* dist.compress bf16: half the bytes on each link, and per float32 byte the
 * sender's encoding (with the residual), the receiver's add and the
 * all-gather's decoding in place of the float32 add: the kernels timed
 * here, the best of 5 over 16 MiB. */
static void set_bf16(rt_cost_fit *f) {
    size_t n = (16u << 20) / sizeof(float);
    float *x = rt_alloc_aligned(n * sizeof *x), *r = rt_alloc_aligned(n * sizeof *r);
    float *d = rt_alloc_aligned(n * sizeof *d);
    uint16_t *w = rt_alloc_aligned(n * sizeof *w);
    for (size_t i = 0; i < n; i++) x[i] = (float)(i % 97) * 0.01f, r[i] = 0.0f, d[i] = 1.0f;
    double best = 1e30;
    for (int k = 0; k < 5; k++) {
        double t0 = rt_now();
        rt_bf16_encode(w, x, r, n, 0);
        rt_bf16_add(d, w, n);
        rt_bf16_decode(x, w, n);
        best = fmin(best, rt_now() - t0);
    }
    rt_free(x), rt_free(r), rt_free(d), rt_free(w);
    f->gamma_s = best / (double)(n * sizeof(float));
    f->intra.beta_s *= 0.5;
    f->inter.beta_s *= 0.5;
}

/* --intra-link: the within-host class at that wire rate, the fit's latency kept. */
static void set_intra(rt_cost_fit *f, double gbit) {
    f->intra.beta_s = 8.0 / (gbit * 1e9);
    f->intra.sigma_s = 0.0;
    if (!f->intra.present) f->intra.alpha_s = 1e-6;
    f->intra.present = true;
    f->intra.link_gbit = gbit;
}

/* --sizes: the model's all-reduce seconds per size, one JSON line each. */
static int predict_sizes(const rt_cost_fit *f, const char *list, int H, int R, const char *compress) {
    size_t sizes[MAX_SIZES];
    int n = cli_parse_sizes(list, sizes);
    if (n < 0) return RT_EBADINPUT;
    for (int i = 0; i < n; i++) {
        double bytes = (double)(sizes[i] / sizeof(float) * sizeof(float));
        double flat = rt_cost_flat(f, H, R, bytes), hier = H > 1 && R > 1 ? rt_cost_hierarchical(f, H, R, bytes) : flat;
        printf("{\"bench\":\"predict\",\"compress\":\"%s\",\"hosts\":%d,\"ranks_per_host\":%d,\"bytes\":%.0f,"
               "\"ring_s\":%.9f,\"hierarchical_s\":%.9f,\"link_gbit\":%g,\"gamma_s_per_byte\":%.9g}\n",
               compress, H, R, bytes, flat, hier, f->inter.link_gbit, f->gamma_s);
    }
    return RT_OK;
}

int cli_bench_predict(int argc, char **argv) {
    const char *model = NULL, *fit = NULL, *list = NULL, *compress = "none";
    double link = 0, latency = -1, compute_ms = 0, intra = -1, reduce_gbs = -1; /* < 0: not given */
    long long hosts = 2, rph = 1, batch = 0;
    bool sweep = false;
    const arg_opt o[] = {
        {.name = "--model", .kind = ARG_STR, .out = &model},
        {.name = "--fit", .kind = ARG_STR, .out = &fit},
        {.name = "--link", .kind = ARG_NUM, .out = &link, .lo = 0, .hi = 100000, .what = "a rate in Gbit/s"},
        {.name = "--latency", .kind = ARG_NUM, .out = &latency, .lo = 0, .hi = 1e7, .what = "microseconds"},
        {.name = "--hosts", .kind = ARG_INT, .out = &hosts, .lo = 1, .hi = 1 << 20, .what = "a count in [1, 1048576]"},
        {.name = "--ranks-per-host", .kind = ARG_INT, .out = &rph, .lo = 1, .hi = 1024, .what = "a count in [1, 1024]"},
        {.name = "--compute-ms", .kind = ARG_NUM, .out = &compute_ms, .lo = 0, .hi = 1e9, .what = "milliseconds"},
        {.name = "--per-rank-batch", .kind = ARG_INT, .out = &batch, .lo = 1, .hi = 1 << 24, .what = "a batch size"},
        {.name = "--sweep", .kind = ARG_FLAG, .out = &sweep},
        {.name = "--sizes", .kind = ARG_STR, .out = &list},
        {.name = "--compress", .kind = ARG_STR, .out = &compress},
        {.name = "--intra-link", .kind = ARG_NUM, .out = &intra, .lo = 0, .hi = 1000000, .what = "a rate in Gbit/s"},
        {.name = "--reduce-gbs", .kind = ARG_NUM, .out = &reduce_gbs, .lo = 0, .hi = 1000000, .what = "a rate in GB/s"},
    };
    arg_spec s = {"bench predict", usage_predict, o, NOPTS(o), NULL, 0};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, true, &help);
    if (rc || help) return rc;
    if (!model && !list) return arg_usage_error("bench predict", "--model: a config (or --sizes) is needed%s", "");
    if (!fit) return arg_usage_error("bench predict", "--fit: a fit is needed (make one with `bench allreduce --fit`)%s", "");
    if (!(link > 0)) return arg_usage_error("bench predict", "--link: a rate > 0 Gbit/s is needed%s", "");
    if (intra == 0) return arg_usage_error("bench predict", "--intra-link: a rate > 0 Gbit/s is needed%s", "");
    if (reduce_gbs == 0) return arg_usage_error("bench predict", "--reduce-gbs: a rate > 0 GB/s is needed%s", "");
    bool bf16 = strcmp(compress, "bf16") == 0;
    if (!bf16 && strcmp(compress, "none") != 0)
        return arg_usage_error("bench predict", "--compress: \"%s\" is not none or bf16", compress);
    job j = {0};
    if ((rc = rt_cost_fit_read(fit, &j.fit))) return rc;
    if (intra > 0) set_intra(&j.fit, intra);
    if (reduce_gbs > 0) j.fit.gamma_s = 1e-9 / reduce_gbs;
    if (!j.fit.intra.present && rph > 1)
        return rt_err(RT_EBADINPUT, "%s: intra: the fit has no intra-host class, and R = %lld", fit, rph);
    set_link(&j.fit, link, latency);
    double gamma32 = j.fit.gamma_s; /* AdamW's memory rate, below */
    if (bf16) set_bf16(&j.fit);
    if (list) return predict_sizes(&j.fit, list, (int)hosts, (int)rph, compress);
    rt_config *cfg = NULL;
    if ((rc = rt_config_load(model, NULL, 0, &cfg))) return rc;
    int64_t b = batch ? batch : (cfg->train.global_batch / 2 > 0 ? cfg->train.global_batch / 2 : 1);
    cfg->train.global_batch = b;
    plan_buckets(cfg, &j);
    double step = compute_ms * 1e-3;
    if (compute_ms <= 0) rc = time_steps(cfg, &step);
    if (!rc) {
        /* the update's share: AdamW's passes over the parameters, about 4 of
         * its arrays read or written at memory speed (gamma's rate) */
        double bytes = 0;
        for (int i = 0; i < j.nb; i++) bytes += j.bucket_bytes[i];
        j.opt_s = 6.0 * bytes * gamma32;
        j.compute_s = step > j.opt_s ? step - j.opt_s : step;
        printf("predict %s: per-rank batch %lld, %d buckets, compute %.3f ms a step (%s), update %.3f ms on one rank; "
               "links %.4g Gbit/s%s\n", cfg->name, (long long)b, j.nb, 1e3 * j.compute_s,
               compute_ms > 0 ? "given" : "timed here", 1e3 * j.opt_s, link, bf16 ? ", gradients as bf16" : "");
        if (sweep) {
            bool header = true;
            for (int N = 2; N <= 1024; N *= 2)
                if (N % rph == 0) predict(&j, N / (int)rph, (int)rph, false, header), header = false;
        } else {
            predict(&j, (int)hosts, (int)rph, true, true);
        }
    }
    rt_free(j.bucket_bytes);
    rt_free(j.ready);
    rt_config_free(cfg);
    return rc;
}
