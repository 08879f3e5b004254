/* flow_mlp.c - the rectified flow's MLP velocity net:
 *   [x_t, emb(t)] (D + E) -> hidden x hidden_layers (GELU) -> D, named "net.<j>". */
#include "flow.h"
#include "ringtrain/common.h"

#include <string.h>

typedef struct mlp_arch {
    int64_t hidden, hidden_layers; /* width and depth */
    int64_t time_embed;            /* E, even */
} mlp_arch;

typedef struct mlp_state {
    mlp_arch a;
    rt_mlp net;
} mlp_state;

static int mlp_check(const rt_config *c, const void *arch, const char *origin) {
    (void)c;
    const mlp_arch *a = arch;
    if (a->time_embed % 2)
        return rt_err(RT_EBADINPUT, "%s: model.time_embed: must be even, got %lld", origin, (long long)a->time_embed);
    return RT_OK;
}

static void *mlp_declare(rt_model *m, const void *arch) {
    mlp_state *s = rt_calloc(1, sizeof *s);
    s->a = *(const mlp_arch *)arch;
    int D = (int)m->input_size;
    rt_params_init(&m->params, 2 * RT_MLP_MAX);
    rt_mlp_init(&s->net, &m->params, "net", D + (int)s->a.time_embed, (int)s->a.hidden, (int)s->a.hidden_layers, D,
                RT_OP_GELU);
    return s;
}

static void mlp_reset(void *state, rt_rng *rng) { rt_mlp_reset(&((mlp_state *)state)->net, rng); }

static rt_tensor *mlp_velocity(rt_model *m, rt_graph *g, const float *xt, const float *t, const flow_cond *c,
                               int64_t n) {
    (void)c;
    const mlp_state *s = flow_net_state(m);
    int64_t D = m->input_size, E = s->a.time_embed;
    int shape[2] = {(int)n, (int)(D + E)};
    rt_tensor *in = rt_graph_tensor(g, 2, shape, false);
    for (int64_t r = 0; r < n; r++) {
        memcpy(in->data + r * (D + E), xt + r * D, (size_t)D * sizeof(float));
        rt_flow_time_embed(t[r], (int)E, in->data + r * (D + E) + D);
    }
    return rt_mlp_forward(g, &s->net, in);
}

#define A mlp_arch
static const rt_key mlp_keys[] = {
    KINT("hidden", A, hidden, "1000", 1, 1 << 16),
    KINT("hidden_layers", A, hidden_layers, "5", 1, 32),
    KINT("time_embed", A, time_embed, "64", 2, 4096),
};
#undef A

const flow_net rt_flow_mlp = {
    .name = "mlp",
    .keys = mlp_keys,
    .nkeys = (int)(sizeof mlp_keys / sizeof mlp_keys[0]),
    .arch_size = sizeof(mlp_arch),
    .size_keys = "model.hidden",
    .check = mlp_check,
    .declare = mlp_declare,
    .reset = mlp_reset,
    .destroy = rt_free,
    .velocity = mlp_velocity,
};
