/* optim.c - AdamW, SGD, schedules, clipping. */
#include "ringtrain/optim.h"

#include "ringtrain/common.h"

#include <fnmatch.h>
#include <math.h>
#include <string.h>

/* a run of elements [previous end, end) under one learning-rate scale and weight decay */
typedef struct seg {
    size_t end;
    double lr_scale, wd;
} seg;

struct rt_optim {
    rt_optim_kind type;
    size_t n;
    double beta1, beta2, eps, wd, momentum;
    bool nesterov;
    int64_t t;  /* steps taken */
    float *m;   /* (n) AdamW first moment / SGD momentum buffer */
    float *v;   /* (n) AdamW second moment; NULL for SGD */
    double ema_decay;
    float *ema; /* (n) EMA of the parameters; NULL when train.ema_decay is 0 */
    bool ema_ready; /* ema holds a value (from the first step, or a checkpoint) */
    int nseg;
    seg *segs;  /* (nseg) covering [0, n) in order: optim.groups, or one run */
};

rt_optim *rt_optim_create(const rt_config *cfg, size_t n) {
    rt_optim *o = rt_calloc(1, sizeof *o);
    o->type = cfg->optim.type;
    o->n = n;
    o->beta1 = cfg->optim.beta1;
    o->beta2 = cfg->optim.beta2;
    o->eps = cfg->optim.eps;
    o->wd = cfg->optim.weight_decay;
    o->momentum = cfg->optim.momentum;
    o->nesterov = cfg->optim.nesterov;
    size_t bytes = rt_mul_size(n ? n : 1, sizeof(float));
    o->m = rt_alloc_aligned(bytes);
    memset(o->m, 0, bytes);
    if (o->type == RT_OPTIM_ADAMW) {
        o->v = rt_alloc_aligned(bytes);
        memset(o->v, 0, bytes);
    }
    o->nseg = 1;
    o->segs = rt_calloc(1, sizeof *o->segs);
    o->segs[0] = (seg){.end = n, .lr_scale = 1.0, .wd = o->wd};
    o->ema_decay = cfg->train.ema_decay;
    if (o->ema_decay > 0.0) o->ema = rt_alloc_aligned(bytes);
    return o;
}

void rt_optim_destroy(rt_optim *o) {
    if (!o) return;
    rt_free(o->m);
    rt_free(o->v);
    rt_free(o->ema);
    rt_free(o->segs);
    rt_free(o);
}

float *rt_optim_m(rt_optim *o) { return o->m; }
float *rt_optim_v(rt_optim *o) { return o->v; }
int64_t rt_optim_t(const rt_optim *o) { return o->t; }
void rt_optim_set_t(rt_optim *o, int64_t t) { o->t = t; }
rt_optim_kind rt_optim_type(const rt_optim *o) { return o->type; }
const char *rt_optim_name(const rt_optim *o) { return o->type == RT_OPTIM_ADAMW ? "adamw" : "sgd"; }

/* ---- AdamW: float arithmetic in the order torch's single-tensor path uses ---- */

/* The hot loops are built twice, for AVX2 and for the baseline, and picked at
 * load time (GCC target_clones): the same IEEE operations per element in the
 * same order (ISO C mode keeps floating-point contraction off), so both give
 * the same bits; AVX2 does 8 at a time where SSE does 4. */
#if defined(__GNUC__) && !defined(__clang__)
#define RT_HOT __attribute__((target_clones("avx2", "default")))
#else /* clang (the fuzzers' build) links multiversioned globals differently: one version */
#define RT_HOT
#endif

/* With zero, each g[i] is cleared once read (a loop-invariant test: the
 * compiler makes two loops of it). */
RT_HOT static void adamw_range(rt_optim *o, float *restrict p, float *restrict g, double lr, double wd,
                               size_t lo, size_t hi, bool zero) {
    const float decay = (float)(1.0 - lr * wd);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float omb1 = (float)(1.0 - o->beta1), omb2 = (float)(1.0 - o->beta2);
    const double bc1 = 1.0 - pow(o->beta1, (double)o->t);
    const double bc2 = 1.0 - pow(o->beta2, (double)o->t);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)o->eps;
    float *restrict m = o->m, *restrict v = o->v;
    for (size_t i = lo; i < hi; i++) {
        p[i] *= decay;
        m[i] = m[i] * b1 + g[i] * omb1;
        v[i] = v[i] * b2 + omb2 * (g[i] * g[i]);
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] += -step_size * (m[i] / denom);
        if (zero) g[i] = 0.0f;
    }
}

RT_HOT static void sgd_range(rt_optim *o, float *restrict p, float *restrict g, double lr, double wdd,
                             size_t lo, size_t hi, bool zero) {
    const float wd = (float)wdd, mu = (float)o->momentum, flr = (float)lr;
    float *restrict buf = o->m;
    bool first = o->t == 1; /* t counts this step already */
    for (size_t i = lo; i < hi; i++) {
        float d = g[i];
        if (wd != 0.0f) d += wd * p[i];
        if (mu != 0.0f) {
            buf[i] = first ? d : buf[i] * mu + d;
            d = o->nesterov ? d + mu * buf[i] : buf[i];
        }
        p[i] += -flr * d;
        if (zero) g[i] = 0.0f;
    }
}

void rt_optim_begin(rt_optim *o) { o->t++; }

static void apply(rt_optim *o, float *param, float *grad, double lr, size_t lo, size_t hi,
                  bool zero) {
    RT_CHECK(o->t > 0 && lo <= hi && hi <= o->n, "optim: range [%zu, %zu) of %zu at t = %lld", lo,
             hi, o->n, (long long)o->t);
    for (int s = 0; s < o->nseg && lo < hi; s++) { /* each group's part of [lo, hi) */
        const seg *r = &o->segs[s];
        if (r->end <= lo) continue;
        size_t b = r->end < hi ? r->end : hi;
        if (o->type == RT_OPTIM_ADAMW)
            adamw_range(o, param, grad, lr * r->lr_scale, r->wd, lo, b, zero);
        else
            sgd_range(o, param, grad, lr * r->lr_scale, r->wd, lo, b, zero);
        lo = b;
    }
}

int rt_optim_set_groups(rt_optim *o, const rt_params *p, const rt_config *cfg) {
    int ng = cfg->optim.ngroups;
    if (ng == 0) return RT_OK;
    bool used[RT_MAX_PARAM_GROUPS] = {false};
    seg *segs = rt_calloc((size_t)p->count + 1, sizeof *segs);
    int nseg = 0;
    for (int i = 0; i < p->count; i++) {
        const rt_param *pr = &p->items[i];
        RT_CHECK(i == 0 || pr->offset >= p->items[i - 1].offset, "optim: parameters out of arena order");
        int g = -1;
        for (int k = 0; k < ng && g < 0; k++)
            if (fnmatch(cfg->optim.groups[k].match, pr->name, 0) == 0) g = k;
        seg r = {.end = pr->offset + (size_t)pr->t.numel, .lr_scale = 1.0, .wd = o->wd};
        if (g >= 0) {
            used[g] = true;
            r.lr_scale = cfg->optim.groups[g].lr_scale, r.wd = cfg->optim.groups[g].weight_decay;
        }
        if (nseg > 0 && segs[nseg - 1].lr_scale == r.lr_scale && segs[nseg - 1].wd == r.wd)
            segs[nseg - 1].end = r.end;
        else
            segs[nseg++] = r;
    }
    for (int k = 0; k < ng; k++)
        if (!used[k]) {
            rt_free(segs);
            return rt_err(RT_EBADINPUT, "%s: optim.groups[%d].match: \"%s\" matches no parameter of this model "
                          "(its first is %s)", cfg->path, k, cfg->optim.groups[k].match,
                          p->count ? p->items[0].name : "none");
        }
    segs[nseg - 1].end = o->n; /* the last run reaches the end of the arena */
    rt_free(o->segs);
    o->segs = segs, o->nseg = nseg;
    return RT_OK;
}

/* grad is only read without zero: the cast does not lead to a write */
void rt_optim_apply(rt_optim *o, float *param, const float *grad, double lr, size_t lo, size_t hi) {
    apply(o, param, (float *)grad, lr, lo, hi, false);
}

void rt_optim_apply_zero(rt_optim *o, float *param, float *grad, double lr, size_t lo, size_t hi) {
    apply(o, param, grad, lr, lo, hi, true);
}

void rt_optim_step(rt_optim *o, float *param, const float *grad, double lr) {
    rt_optim_begin(o);
    rt_optim_apply(o, param, grad, lr, 0, o->n);
}

/* ---- EMA of the parameters ---- */

float *rt_optim_ema(rt_optim *o) { return o->ema; }
void rt_optim_ema_loaded(rt_optim *o) { o->ema_ready = o->ema != NULL; }

void rt_optim_ema_start(rt_optim *o, const float *param) {
    if (!o->ema || o->ema_ready) return;
    memcpy(o->ema, param, o->n * sizeof(float));
    o->ema_ready = true;
}

/* float arithmetic, one rounding per operation, the same on every rank */
RT_HOT static void ema_range(float *restrict e, const float *restrict param, size_t n, float d, float omd) {
    for (size_t i = 0; i < n; i++) e[i] = e[i] * d + param[i] * omd;
}

void rt_optim_ema_update(rt_optim *o, const float *param) {
    if (o->ema) ema_range(o->ema, param, o->n, (float)o->ema_decay, (float)(1.0 - o->ema_decay));
}

/* ---- schedules ---- */

double rt_lr_at(const rt_config *cfg, int64_t step, int64_t total) {
    double lr0 = cfg->optim.lr;
    int64_t warm = cfg->optim.schedule.warmup_steps;
    if (step < warm) return lr0 * (double)(step + 1) / (double)warm;
    double t = (double)(step - warm);
    switch (cfg->optim.schedule.type) {
    case RT_SCHED_CONSTANT: return lr0;
    case RT_SCHED_COSINE: {
        double span = total > warm ? (double)(total - warm) : 1.0;
        double frac = t / span;
        if (frac > 1.0) frac = 1.0;
        double lo = cfg->optim.schedule.min_lr;
        return lo + 0.5 * (lr0 - lo) * (1.0 + cos(M_PI * frac));
    }
    case RT_SCHED_STEP:
        return lr0 * pow(cfg->optim.schedule.gamma, floor(t / (double)cfg->optim.schedule.step_size));
    case RT_SCHED_INVERSE_TIME: return lr0 / (1.0 + t / cfg->optim.schedule.tau);
    }
    return lr0;
}

/* ---- clipping ---- */

/* Eight fixed lanes (element i goes to lane i % 8), summed in lane order at the
 * end: vectorisable without reassociating, and the same bits on every ISA. */
RT_HOT static double grad_sumsq(const float *g, size_t n) {
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)g[i + k] * (double)g[i + k];
    for (int k = 0; i < n; i++, k++) lane[k] += (double)g[i] * (double)g[i];
    double s = 0.0;
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

double rt_grad_norm(const float *g, size_t n) { return sqrt(grad_sumsq(g, n)); }

float rt_clip_grad(float *g, size_t n, double norm, double max_norm) {
    float coef = (float)(max_norm / (norm + 1e-6));
    if (coef >= 1.0f) return 1.0f;
    for (size_t i = 0; i < n; i++) g[i] *= coef;
    return coef;
}
