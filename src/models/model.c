/* model.c - creation and dispatch for the model families in src/models. */
#include "internal.h"
#include "ringtrain/common.h"

#include <math.h>
#include <string.h>

rt_model *rt_model_create(const rt_config *cfg) {
    rt_model *m = rt_calloc(1, sizeof *m);
    m->cfg = *cfg;
    m->cfg.model.layers = NULL; /* the sequential family keeps its own copy */
    m->cfg.resolved = NULL;
    m->input_ndim = cfg->model.input_ndim;
    memcpy(m->input, cfg->model.input, sizeof m->input);
    m->input_size = 1;
    for (int i = 0; i < m->input_ndim; i++) m->input_size *= m->input[i];
    rt_rng rng;
    rt_rng_seed(&rng, cfg->train.seed, 0x696e6974 /* "init" */);
    switch (cfg->model.type) {
    case RT_MODEL_SEQUENTIAL:
        m->task = RT_TASK_CLASSIFY;
        rt_seq_create(m, cfg, &rng);
        break;
    case RT_MODEL_NICE:
        m->task = RT_TASK_DENSITY;
        rt_nice_create(m, cfg, &rng);
        break;
    case RT_MODEL_RECTFLOW:
        m->task = RT_TASK_FLOW;
        rt_flow_create(m, cfg, &rng);
        break;
    }
    return m;
}

void rt_model_destroy(rt_model *m) {
    if (!m) return;
    rt_params_free(&m->params);
    rt_free(m->seq);
    rt_free(m->coupling);
    rt_free(m);
}

rt_params *rt_model_params(rt_model *m) { return &m->params; }
rt_task rt_model_task(const rt_model *m) { return m->task; }

int rt_model_tape_nodes(const rt_model *m) {
    switch (m->task) {
    case RT_TASK_CLASSIFY: return 2 * m->nlayers + 64; /* a layer and a reshape each, the loss */
    case RT_TASK_DENSITY: /* an MLP and an add per coupling, the scaling and the prior */
        return m->ncouplings * (2 * (int)m->cfg.model.hidden_layers + 3) + 64;
    case RT_TASK_FLOW: return 2 * (int)m->cfg.model.hidden_layers + 3 * RT_FLOW_CONVS + 64;
    }
    return 1024;
}
int64_t rt_model_input_size(const rt_model *m) { return m->input_size; }
int rt_model_num_classes(const rt_model *m) { return m->task == RT_TASK_CLASSIFY ? m->classes : 0; }

rt_tensor *rt_model_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                         rt_batch_stats *st) {
    RT_CHECK(b->x->ndim == 2 && b->x->shape[1] == m->input_size, "model: batch of %d-element rows",
             b->x->ndim == 2 ? b->x->shape[1] : -1);
    switch (m->task) {
    case RT_TASK_CLASSIFY: return rt_seq_loss(m, g, b, scale, st);
    case RT_TASK_DENSITY: return rt_nice_loss(m, g, b, scale, st);
    case RT_TASK_FLOW: return rt_flow_loss(m, g, b, scale, st);
    }
    return NULL;
}

double rt_model_bits_per_dim(const rt_model *m, double nll) {
    return (nll / (double)m->input_size + log(256.0)) / log(2.0);
}

int rt_model_sample(rt_model *m, rt_graph *g, int64_t n, uint64_t seed, int steps, float *out) {
    bool was = rt_graph_grad_enabled(g);
    rt_graph_set_grad(g, false);
    int rc = RT_OK;
    switch (m->task) {
    case RT_TASK_CLASSIFY:
        rc = rt_err(RT_EBADINPUT, "sampling needs a generative model (nice or rectified_flow)");
        break;
    case RT_TASK_DENSITY: rt_nice_sample(m, g, n, seed, out); break;
    case RT_TASK_FLOW:
        rt_flow_sample(m, g, n, seed, steps > 0 ? steps : (int)m->cfg.model.sample_steps, out);
        break;
    }
    rt_graph_set_grad(g, was);
    return rc;
}
