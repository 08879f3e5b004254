/* model.c - models built from the config's "model" section. */
#include "ringtrain/common.h"
#include "ringtrain/model.h"
#include "ringtrain/ops.h"

#include <math.h>
#include <string.h>

struct rt_model {
    rt_params params;
    int nlayers;
    rt_layer_cfg *layers;     /* (nlayers) copy of the config's layers */
    rt_linear_mod *linear;    /* (nlayers) used where layers[i] is linear */
    int input_ndim;
    int input[RT_MAX_DIMS];
    int num_outputs;
};

rt_model *rt_model_create(const rt_config *cfg) {
    rt_model *m = rt_calloc(1, sizeof *m);
    m->nlayers = cfg->model.nlayers;
    m->layers = rt_calloc((size_t)m->nlayers, sizeof *m->layers);
    memcpy(m->layers, cfg->model.layers, (size_t)m->nlayers * sizeof *m->layers);
    m->linear = rt_calloc((size_t)m->nlayers, sizeof *m->linear);
    m->input_ndim = cfg->model.input_ndim;
    memcpy(m->input, cfg->model.input, sizeof m->input);

    rt_params_init(&m->params, 2 * m->nlayers);
    int width = m->input[m->input_ndim - 1];
    if (m->input_ndim > 1) width = (int)rt_model_input_size(m);
    for (int i = 0; i < m->nlayers; i++) {
        const rt_layer_cfg *l = &m->layers[i];
        if (l->kind != RT_LAYER_LINEAR) continue;
        rt_linear_mod_init(&m->linear[i], &m->params, l->name, width, l->out, l->bias);
        width = l->out;
    }
    m->num_outputs = width;
    rt_params_finalize(&m->params);

    rt_rng rng;
    rt_rng_seed(&rng, cfg->train.seed, 0x696e6974 /* "init" */);
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].kind == RT_LAYER_LINEAR) rt_linear_mod_reset(&m->linear[i], &rng);
    return m;
}

void rt_model_destroy(rt_model *m) {
    if (!m) return;
    rt_params_free(&m->params);
    rt_free(m->layers);
    rt_free(m->linear);
    rt_free(m);
}

rt_params *rt_model_params(rt_model *m) { return &m->params; }
int rt_model_num_outputs(const rt_model *m) { return m->num_outputs; }

int64_t rt_model_input_size(const rt_model *m) {
    int64_t n = 1;
    for (int i = 0; i < m->input_ndim; i++) n *= m->input[i];
    return n;
}

rt_tensor *rt_model_forward(rt_model *m, rt_graph *g, rt_tensor *x) {
    rt_tensor *h = x;
    if (m->input_ndim == 1 && h->ndim != 2) h = rt_flatten(g, h);
    for (int i = 0; i < m->nlayers; i++) {
        const rt_layer_cfg *l = &m->layers[i];
        switch (l->kind) {
        case RT_LAYER_LINEAR: h = rt_linear_mod_forward(g, &m->linear[i], h); break;
        case RT_LAYER_RELU: h = rt_relu(g, h); break;
        case RT_LAYER_GELU: h = l->tanh_approx ? rt_gelu_tanh(g, h) : rt_gelu(g, h); break;
        case RT_LAYER_TANH: h = rt_tanh(g, h); break;
        case RT_LAYER_SIGMOID: h = rt_sigmoid(g, h); break;
        case RT_LAYER_FLATTEN: h = rt_flatten(g, h); break;
        case RT_LAYER_KIND_COUNT: RT_CHECK(0, "bad layer kind"); break;
        }
    }
    return h;
}

rt_tensor *rt_model_loss(rt_model *m, rt_graph *g, rt_tensor *x, const int32_t *y, float scale,
                         rt_batch_stats *st) {
    rt_tensor *logits = rt_model_forward(m, g, x);
    rt_tensor *loss = rt_softmax_ce(g, logits, y, scale);
    int b = logits->shape[0], c = logits->shape[1];
    for (int i = 0; i < b; i++) {
        const float *row = logits->data + (int64_t)i * c;
        int best = 0;
        for (int j = 1; j < c; j++)
            if (row[j] > row[best]) best = j;
        st->correct += best == y[i];
    }
    st->count += b;
    /* the unscaled sum; scale may be 1/B of a larger global batch */
    st->loss_sum += scale != 0.0f ? (double)loss->data[0] / (double)scale : 0.0;
    return loss;
}
