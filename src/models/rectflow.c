/* rectflow.c - rectified flow / flow matching (Liu et al. 2022; SD3's
 * logit-normal timesteps, Esser et al. 2024).
 *
 *   x1 a data row, x0 ~ N(0, I), t in (0, 1)
 *   x_t = t x1 + (1 - t) x0         the straight path from noise (t=0) to data (t=1)
 *   loss = mean_d (v(x_t, t) - (x1 - x0))^2 per row
 *   t = sigmoid(m + s n), n ~ N(0, 1) (logit-normal, SD3 defaults m=0 s=1), or U(0, 1)
 *   sampling: x ~ N(0, I), then K Euler steps x += v(x, k/K) / K; with
 *   classes, guided: v = v(x, t, null) + w (v(x, t, y) - v(x, t, null))
 *
 * The velocity net is model.net, one row each (flow.h): mlp (flow_mlp.c),
 * conv (a U-Net, flow_unet.c) or dit (a diffusion transformer, flow_dit.c).
 * Each reads its own keys once model.net names it. */
#include "flow.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

#define FLOW_NOISE_STREAM 0x6e6f697365ULL /* "noise" */
#define CHUNK 256                          /* rows a sampler step runs at once: bounded activations */

/* model.net's rows, in the order of its choices */
#define NET_CHOICES "mlp|conv|dit"
static const flow_net *const nets[] = {&rt_flow_mlp, &rt_flow_unet, &rt_flow_dit};
#define NNETS ((int)(sizeof nets / sizeof nets[0]))

static const rt_key_table net_keys[] = {
    {"mlp", &rt_flow_mlp.keys, &rt_flow_mlp.nkeys},
    {"conv", &rt_flow_unet.keys, &rt_flow_unet.nkeys},
    {"dit", &rt_flow_dit.keys, &rt_flow_dit.nkeys},
};
_Static_assert(sizeof net_keys / sizeof net_keys[0] == NNETS, "one key table per net");

void rt_flow_time_embed(float t, int E, float *emb) {
    int half = E / 2;
    for (int i = 0; i < half; i++) {
        double f = exp(-log(10000.0) * (double)i / (double)half);
        emb[i] = (float)sin(1000.0 * (double)t * f);
        emb[half + i] = (float)cos(1000.0 * (double)t * f);
    }
}

/* ---- config ---- */

static const flow_net *net_of_arch(const flow_arch *a) { return nets[a->net]; }

/* The chosen net's keys (defaults into the tree), none of another net's, and its checks. */
static int flow_check(cJSON *model, rt_config *c, const char *origin) {
    flow_arch *a = c->model.arch;
    const flow_net *net = net_of_arch(a);
    a->net_arch = rt_calloc(1, net->arch_size);
    int rc = rt_family_read_part(model, net_keys, NNETS, a->net, "net", a->net_arch, origin);
    if (!rc && net->check) rc = net->check(c, a->net_arch, origin);
    return rc;
}

static void flow_free_arch(void *arch) { rt_free(((flow_arch *)arch)->net_arch); }

static const char *flow_size_keys(const rt_config *c) {
    return net_of_arch(c->model.arch)->size_keys;
}

static int64_t *flow_class_count(rt_config *c) {
    flow_arch *a = c->model.arch;
    const flow_net *net = net_of_arch(a);
    return net->class_count && a->net_arch ? net->class_count(a->net_arch) : NULL;
}

/* ---- the model ---- */

static void flow_build(rt_model *m, const rt_config *c) {
    flow_state *s = rt_calloc(1, sizeof *s);
    s->arch = *(const flow_arch *)c->model.arch;
    s->arch.net_arch = NULL; /* the config's; the net keeps what it needs */
    s->net = nets[s->arch.net];
    m->state = s;
    s->net_state = s->net->declare(m, ((const flow_arch *)c->model.arch)->net_arch);
}

static void flow_init(rt_model *m, rt_rng *rng) {
    flow_state *s = m->state;
    s->net->reset(s->net_state, rng);
}

static void flow_destroy(rt_model *m) {
    flow_state *s = m->state;
    if (s) s->net->destroy(s->net_state);
    rt_free(s);
    m->state = NULL;
}

static rt_tensor *flow_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                            rt_batch_stats *st) {
    const flow_state *s = m->state;
    const flow_arch *a = &s->arch;
    int64_t n = b->x->shape[0], D = m->input_size;
    const float *x1 = b->x->data;
    int shape[2] = {(int)n, (int)D};
    rt_tensor *target = rt_graph_tensor(g, 2, shape, false);
    float *xt = rt_graph_scratch(g, (size_t)(n * D) * sizeof(float));
    float *t = rt_graph_scratch(g, (size_t)n * sizeof(float));
    for (int64_t r = 0; r < n; r++) {
        rt_rng rng;
        rt_rng_seed(&rng, b->keys[r], FLOW_NOISE_STREAM);
        double u;
        if (a->timesteps == FLOW_LOGIT_NORMAL) {
            double z = a->logit_mean + a->logit_std * (double)rt_rng_normal(&rng);
            u = 1.0 / (1.0 + exp(-z));
        } else {
            u = (double)rt_rng_uniform(&rng);
        }
        float tr = (float)u;
        t[r] = tr;
        for (int64_t j = 0; j < D; j++) {
            float x0 = rt_rng_normal(&rng), x = x1[r * D + j];
            xt[r * D + j] = tr * x + (1.0f - tr) * x0;
            target->data[r * D + j] = x - x0;
        }
    }
    flow_cond cond = {.labels = m->classes ? b->y : NULL, .keys = b->keys, .train = b->train};
    rt_tensor *v = s->net->velocity(m, g, xt, t, &cond, n);
    rt_tensor *loss = rt_mse(g, v, target, scale / (float)D);
    st->count += n;
    st->loss_sum += scale != 0.0f ? (double)loss->data[0] / (double)scale : 0.0;
    return loss;
}

static rt_tensor *flow_velocity(rt_model *m, rt_graph *g, rt_tensor *xt, const float *t, const int32_t *labels) {
    const flow_state *s = m->state;
    flow_cond cond = {.labels = labels, .train = false};
    return s->net->velocity(m, g, xt->data, t, &cond, xt->shape[0]);
}

/* One Euler step of k rows at t = step / steps, guided when labels and cfg != 1:
 * the conditional and the null rows run as one batch of 2k. */
static void euler_step(rt_model *m, rt_graph *g, float *x, int64_t k, const int32_t *labels, double cfg, int step,
                       int steps) {
    const flow_state *s = m->state;
    int64_t D = m->input_size;
    bool guided = labels && cfg != 1.0;
    int64_t rows = guided ? 2 * k : k;
    rt_graph_reset(g);
    float *t = rt_graph_scratch(g, (size_t)rows * sizeof(float));
    for (int64_t i = 0; i < rows; i++) t[i] = (float)step / (float)steps;
    flow_cond cond = {.labels = labels};
    const float *in = x;
    if (guided) {
        float *x2 = rt_graph_scratch(g, (size_t)(rows * D) * sizeof(float));
        int32_t *y2 = rt_graph_scratch(g, (size_t)rows * sizeof(int32_t));
        memcpy(x2, x, (size_t)(k * D) * sizeof(float));
        memcpy(x2 + k * D, x, (size_t)(k * D) * sizeof(float));
        for (int64_t i = 0; i < k; i++) y2[i] = labels[i], y2[k + i] = m->classes; /* then the null class */
        in = x2;
        cond.labels = y2;
    }
    const float *v = s->net->velocity(m, g, in, t, &cond, rows)->data;
    float w = (float)cfg;
    for (int64_t i = 0; i < k * D; i++) {
        float vi = guided ? v[k * D + i] + w * (v[i] - v[k * D + i]) : v[i];
        x[i] += vi / (float)steps;
    }
}

static void flow_sample(rt_model *m, rt_graph *g, const rt_sample_opts *o, float *out) {
    const flow_state *s = m->state;
    int64_t D = m->input_size, n = o->n;
    int steps = o->steps > 0 ? o->steps : (int)s->arch.sample_steps;
    rt_rng rng;
    rt_rng_seed(&rng, o->seed, 0x666c6f77 /* "flow" */);
    for (int64_t i = 0; i < n * D; i++) out[i] = rt_rng_normal(&rng) * (float)o->temperature;
    if (o->noise) memcpy(o->noise, out, (size_t)(n * D) * sizeof(float));
    for (int64_t r = 0; r < n; r += CHUNK) {
        int64_t k = n - r < CHUNK ? n - r : CHUNK;
        for (int st = 0; st < steps; st++)
            euler_step(m, g, out + r * D, k, o->labels ? o->labels + r : NULL, o->cfg, st, steps);
    }
}

#define A flow_arch
static const rt_key flow_keys[] = {
    KENUM("net", A, net, "\"mlp\"", NET_CHOICES),
    KENUM("timesteps", A, timesteps, "\"logit_normal\"", "logit_normal|uniform"),
    KNUM("logit_mean", A, logit_mean, "0", -10, 10),
    KNUM_POS("logit_std", A, logit_std, "1", 0, 10),
    KINT("sample_steps", A, sample_steps, "50", 1, 100000),
};
#undef A

const rt_family rt_family_rectflow = {
    .name = "rectified_flow",
    .task = RT_TASK_FLOW,
    .keys = flow_keys,
    .nkeys = (int)(sizeof flow_keys / sizeof flow_keys[0]),
    .parts = net_keys,
    .nparts = NNETS,
    .arch_size = sizeof(flow_arch),
    .size_keys = flow_size_keys,
    .class_count = flow_class_count,
    .check = flow_check,
    .free_arch = flow_free_arch,
    .build = flow_build,
    .init = flow_init,
    .destroy = flow_destroy,
    .loss = flow_loss,
    .sample = flow_sample,
    .velocity = flow_velocity,
};
