/* sequential.c - "sequential" classifiers: the config's layers in order,
 * softmax cross-entropy on the last linear layer's logits. */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <string.h>

void rt_seq_create(rt_model *m, const rt_config *cfg, rt_rng *rng) {
    m->nlayers = cfg->model.nlayers;
    m->seq = rt_calloc((size_t)m->nlayers, sizeof *m->seq);
    rt_params_init(&m->params, 2 * m->nlayers);
    int width = (int)m->input_size;
    for (int i = 0; i < m->nlayers; i++) {
        rt_seq_layer *s = &m->seq[i];
        const rt_layer_cfg *l = &cfg->model.layers[i];
        s->cfg = *l;
        switch (l->kind) {
        case RT_LAYER_LINEAR:
            /* the parser checked the input is flat: its size is the product */
            width = 1;
            for (int d = 0; d < l->in_ndim; d++) width *= l->in_shape[d];
            rt_linear_mod_init(&s->linear, &m->params, l->name, width, l->out, l->bias);
            width = l->out;
            break;
        case RT_LAYER_CONV2D: {
            rt_conv2d_args a;
            for (int k = 0; k < 2; k++) {
                a.stride[k] = l->stride[k];
                a.pad[k] = l->pad[k];
                a.dilation[k] = l->dilation[k];
            }
            rt_conv2d_mod_init(&s->conv, &m->params, l->name, l->in_shape[0], l->out, l->kernel[0],
                               l->kernel[1], &a, l->bias);
            break;
        }
        case RT_LAYER_LAYERNORM:
            rt_layernorm_mod_init(&s->norm, &m->params, l->name, l->in_shape[l->in_ndim - 1],
                                  (float)l->eps, l->bias);
            break;
        default: break;
        }
    }
    m->classes = width;
    rt_params_finalize(&m->params);
    for (int i = 0; i < m->nlayers; i++) {
        const rt_seq_layer *s = &m->seq[i];
        if (s->cfg.kind == RT_LAYER_LINEAR) rt_linear_mod_reset(&s->linear, rng);
        if (s->cfg.kind == RT_LAYER_CONV2D) rt_conv2d_mod_reset(&s->conv, rng);
        if (s->cfg.kind == RT_LAYER_LAYERNORM) rt_layernorm_mod_reset(&s->norm);
    }
}

/* x (b, input size) through the layers; keys and train drive dropout. */
static rt_tensor *seq_forward(rt_model *m, rt_graph *g, rt_tensor *x, const uint64_t *keys,
                              bool train) {
    rt_tensor *h = x;
    for (int i = 0; i < m->nlayers; i++) {
        const rt_seq_layer *s = &m->seq[i];
        const rt_layer_cfg *l = &s->cfg;
        /* give the layer its input shape: (b, c, h, w) images or (b, d) */
        if (h->ndim != l->in_ndim + 1) {
            int shape[RT_MAX_DIMS] = {h->shape[0]};
            for (int d = 0; d < l->in_ndim; d++) shape[d + 1] = l->in_shape[d];
            h = rt_reshape(g, h, l->in_ndim + 1, shape);
        }
        switch (l->kind) {
        case RT_LAYER_LINEAR: h = rt_linear_mod_forward(g, &s->linear, h); break;
        case RT_LAYER_CONV2D: h = rt_conv2d_mod_forward(g, &s->conv, h); break;
        case RT_LAYER_LAYERNORM: h = rt_layernorm_mod_forward(g, &s->norm, h); break;
        case RT_LAYER_RELU:
            if (i + 1 < m->nlayers && m->seq[i + 1].cfg.kind == RT_LAYER_MAXPOOL2D) {
                /* relu then max-pool is max-pool then relu: relu is monotone and
                 * keeps a window's winner, and padding never wins. The same
                 * values and gradients (a NaN still wins and passes), with the
                 * relu on a quarter of the elements for a 2x2 pool */
                l = &m->seq[++i].cfg;
                h = rt_maxpool2d(g, h, l->kernel[0], l->stride[0], l->pad[0]);
                h = rt_activation(g, RT_LAYER_RELU, false, h);
                break;
            }
            /* fall through */
        case RT_LAYER_GELU:
        case RT_LAYER_TANH:
        case RT_LAYER_SIGMOID:
        case RT_LAYER_SOFTPLUS: h = rt_activation(g, l->kind, l->tanh_approx, h); break;
        case RT_LAYER_FLATTEN: h = rt_flatten(g, h); break;
        case RT_LAYER_MAXPOOL2D: h = rt_maxpool2d(g, h, l->kernel[0], l->stride[0], l->pad[0]); break;
        case RT_LAYER_AVGPOOL2D: h = rt_avgpool2d(g, h, l->kernel[0], l->stride[0], l->pad[0]); break;
        case RT_LAYER_UPSAMPLE:
            h = l->bilinear ? rt_upsample_bilinear(g, h, l->scale[0], l->scale[1], l->align_corners)
                            : rt_upsample_nearest(g, h, l->scale[0], l->scale[1]);
            break;
        case RT_LAYER_PIXEL_SHUFFLE: h = rt_pixel_shuffle(g, h, l->factor); break;
        case RT_LAYER_PIXEL_UNSHUFFLE: h = rt_pixel_unshuffle(g, h, l->factor); break;
        case RT_LAYER_DROPOUT: {
            /* every dropout layer draws its own mask from the row keys */
            uint64_t seed = m->cfg.train.seed ^ (0x64726f70ULL + 0x9e3779b97f4a7c15ULL * (uint64_t)i);
            h = rt_dropout(g, h, (float)l->p, seed, keys, train && keys);
            break;
        }
        case RT_LAYER_KIND_COUNT: RT_CHECK(0, "bad layer kind"); break;
        }
    }
    return h;
}

rt_tensor *rt_model_forward(rt_model *m, rt_graph *g, rt_tensor *x) {
    RT_CHECK(m->task == RT_TASK_CLASSIFY, "rt_model_forward: not a sequential model");
    return seq_forward(m, g, x, NULL, false);
}

rt_tensor *rt_seq_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                       rt_batch_stats *st) {
    rt_tensor *logits = seq_forward(m, g, b->x, b->keys, b->train);
    rt_tensor *loss = rt_softmax_ce(g, logits, b->y, scale);
    int rows = logits->shape[0], c = logits->shape[1];
    for (int i = 0; i < rows; i++) {
        const float *row = logits->data + (int64_t)i * c;
        int best = 0;
        for (int j = 1; j < c; j++)
            if (row[j] > row[best]) best = j;
        st->correct += best == b->y[i];
    }
    st->count += rows;
    /* the unscaled sum; scale may be 1/B of a larger global batch */
    st->loss_sum += scale != 0.0f ? (double)loss->data[0] / (double)scale : 0.0;
    return loss;
}
