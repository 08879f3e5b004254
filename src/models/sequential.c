/* sequential.c - "sequential" models: the config's layers in order
 * (layers.c). Without model.head a classifier: softmax cross-entropy on the
 * last linear layer's logits. With one, a keypoint model: the layers are its
 * backbone, and the head (heads.c) maps their flattened output to K keypoints
 * on the input's canvas (its last two sizes). */
#include "family.h"
#include "heads.h"
#include "layers.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct seq_arch {
    int nlayers;
    rt_layer_cfg *layers; /* (nlayers), owned */
    int head;             /* index into rt_kp_heads; 0: none */
    kp_arch kp;
    int64_t feat;         /* the backbone's output size per row */
} seq_arch;

typedef struct seq_state {
    int n;
    rt_layer *layers; /* (n) */
    const kp_head_def *head; /* NULL: a classifier */
    void *head_state;
    int K, W, H;
} seq_state;

/* ---- config ---- */

#define MAX_LAYERS 256

/* The layers in order: each one's keys, its name (written into the tree
 * when it has parameters, as nn.Sequential names them), its input shape, and
 * the parameters so far against the size bound. */
static int seq_check(cJSON *model, rt_config *c, const char *origin) {
    seq_arch *a = c->model.arch;
    cJSON *layers = cJSON_GetObjectItemCaseSensitive(model, "layers");
    int n = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : 0;
    if (n < 1) return rt_err(RT_EBADINPUT, "%s: model.layers: expected a non-empty array", origin);
    if (n > MAX_LAYERS) return rt_err(RT_EBADINPUT, "%s: model.layers: at most %d layers", origin, MAX_LAYERS);
    a->nlayers = n;
    a->layers = rt_calloc((size_t)n, sizeof *a->layers);
    rt_shape s = {.ndim = c->model.input_ndim};
    for (int d = 0; d < s.ndim; d++) s.s[d] = c->model.input[d];
    if (s.ndim == 2) { /* [h, w] images are one channel */
        s = (rt_shape){3, {1, s.s[0], s.s[1]}};
    }
    rt_params count;
    rt_params_init(&count, 2 * n);
    int rc = RT_OK;
    for (int i = 0; i < n && !rc; i++) {
        rt_layer_cfg *l = &a->layers[i];
        cJSON *lj = cJSON_GetArrayItem(layers, i);
        if ((rc = rt_layer_parse(lj, i, l, origin))) break;
        if (l->def->params && !cJSON_GetObjectItemCaseSensitive(lj, "name"))
            cJSON_AddStringToObject(lj, "name", l->name);
        for (int j = 0; l->def->params && j < i && !rc; j++)
            if (a->layers[j].def->params && strcmp(a->layers[j].name, l->name) == 0)
                rc = rt_err(RT_EBADINPUT, "%s: model.layers[%d].name: \"%s\" is used twice", origin, i, l->name);
        if (rc) break;
        l->in_ndim = s.ndim;
        for (int d = 0; d < s.ndim; d++) l->in_shape[d] = (int)s.s[d];
        if (l->def->declare) {
            rt_layer L = {.cfg = *l};
            l->def->declare(&L, &count);
            char where[64];
            snprintf(where, sizeof where, "model.layers[%d]", i);
            if ((rc = rt_family_check_size(&count, origin, where))) break;
        }
        rc = rt_layer_shape(l, i, &s, origin);
    }
    rt_params_free(&count);
    if (rc) return rc;
    a->feat = 1;
    for (int d = 0; d < s.ndim; d++) a->feat *= s.s[d];
    if ((rc = rt_family_read_part(model, rt_kp_head_keys, KP_NHEADS - 1, a->head - 1, "head", &a->kp, origin)))
        return rc;
    if (!a->head && !rt_layer_is(&a->layers[n - 1], "linear"))
        return rt_err(RT_EBADINPUT, "%s: model.layers[%d]: the last layer must be linear (logits)", origin, n - 1);
    if (a->head && c->model.input_ndim < 2)
        return rt_err(RT_EBADINPUT, "%s: model.input: a keypoint head needs an image input [c, h, w] or [h, w]",
                      origin);
    return RT_OK;
}

static void seq_free_arch(void *arch) { rt_free(((seq_arch *)arch)->layers); }

/* ---- the model ---- */

static void seq_build(rt_model *m, const rt_config *c) {
    const seq_arch *a = c->model.arch;
    seq_state *s = rt_calloc(1, sizeof *s);
    s->n = a->nlayers;
    s->layers = rt_calloc((size_t)s->n, sizeof *s->layers);
    rt_params_init(&m->params, 2 * s->n + (a->head ? rt_kp_heads[a->head]->nparams : 0));
    for (int i = 0; i < s->n; i++) {
        rt_layer *L = &s->layers[i];
        L->cfg = a->layers[i];
        if (L->cfg.def->declare) L->cfg.def->declare(L, &m->params);
    }
    m->state = s;
    if (!a->head) {
        m->classes = a->layers[s->n - 1].out; /* the last layer is linear: its outputs are the classes */
        return;
    }
    s->head = rt_kp_heads[a->head];
    s->K = (int)a->kp.keypoints;
    rt_model_keypoints(m, &s->W, &s->H);
    s->head_state = s->head->declare(&m->params, (int)a->feat, s->W, s->H, &a->kp);
    m->task = RT_TASK_KEYPOINT;
    m->keypoints = s->K;
}

static void seq_init(rt_model *m, rt_rng *rng) {
    seq_state *s = m->state;
    for (int i = 0; i < s->n; i++)
        if (s->layers[i].cfg.def->reset) s->layers[i].cfg.def->reset(&s->layers[i], rng);
    if (s->head) s->head->reset(s->head_state, rng);
}

static void seq_destroy(rt_model *m) {
    seq_state *s = m->state;
    if (s) {
        rt_free(s->layers);
        rt_free(s->head_state);
    }
    rt_free(s);
    m->state = NULL;
}

/* x (b, input size) through layers [0, stop); keys and train drive dropout. */
static rt_tensor *seq_forward_to(rt_model *m, rt_graph *g, rt_tensor *x, const uint64_t *keys, bool train,
                                 int stop) {
    const seq_state *s = m->state;
    rt_tensor *h = x;
    for (int i = 0; i < stop; i++) {
        const rt_layer *L = &s->layers[i];
        const rt_layer_cfg *l = &L->cfg;
        /* give the layer its input shape: (b, c, h, w) images or (b, d) */
        if (h->ndim != l->in_ndim + 1) {
            int shape[RT_MAX_DIMS] = {h->shape[0]};
            for (int d = 0; d < l->in_ndim; d++) shape[d + 1] = l->in_shape[d];
            h = rt_reshape(g, h, l->in_ndim + 1, shape);
        }
        rt_layer_run run = {.seed = m->seed ^ (0x64726f70ULL + 0x9e3779b97f4a7c15ULL * (uint64_t)i),
                            .keys = keys, .train = train};
        if (l->def->before_maxpool && i + 1 < stop && rt_layer_is(&s->layers[i + 1].cfg, "maxpool2d")) {
            /* the same values and gradients (a NaN still wins and passes), the
             * activation on a quarter of the elements for a 2x2 pool */
            const rt_layer *pool = &s->layers[++i];
            h = pool->cfg.def->forward(g, pool, h, &run);
        }
        h = l->def->forward(g, L, h, &run);
    }
    return h;
}

static rt_tensor *seq_forward(rt_model *m, rt_graph *g, rt_tensor *x, const uint64_t *keys, bool train) {
    return seq_forward_to(m, g, x, keys, train, ((const seq_state *)m->state)->n);
}

static rt_tensor *seq_plain_forward(rt_model *m, rt_graph *g, rt_tensor *x) {
    return seq_forward(m, g, x, NULL, false);
}

/* a classifier's input to its last linear layer, flattened */
static rt_tensor *seq_features(rt_model *m, rt_graph *g, rt_tensor *x) {
    const seq_state *s = m->state;
    int last = s->n - 1;
    while (last >= 0 && !rt_layer_is(&s->layers[last].cfg, "linear")) last--;
    if (s->head || last < 0) return NULL;
    rt_tensor *h = seq_forward_to(m, g, x, NULL, false, last);
    int flat[2] = {h->shape[0], (int)(h->numel / h->shape[0])};
    return h->ndim == 2 ? h : rt_reshape(g, h, 2, flat);
}

/* The head's loss on the flattened backbone output, and the pixel errors of its prediction. */
static rt_tensor *keypoint_loss(const seq_state *s, rt_graph *g, rt_tensor *h, const float *kp, float scale,
                                rt_batch_stats *st) {
    RT_CHECK(kp, "model: a keypoint model's batch has no keypoints");
    int rows = h->shape[0], flat[2] = {rows, (int)(h->numel / rows)}, pshape[2] = {rows, 2 * s->K};
    if (h->ndim != 2) h = rt_reshape(g, h, 2, flat);
    rt_tensor *pred = rt_graph_tensor(g, 2, pshape, false);
    kp_batch kb = {.feat = h, .kp = kp, .scale = scale, .pred = pred->data};
    rt_tensor *loss = s->head->loss(g, s->head_state, &kb);
    for (int64_t i = 0; i < pred->numel; i += 2) {
        double err = hypot((double)pred->data[i] - kp[i], (double)pred->data[i + 1] - kp[i + 1]);
        st->kp_err += err;
        st->kp_within2 += err <= 2.0;
        st->kp_within4 += err <= 4.0;
        st->kp_points++;
    }
    st->count += rows;
    st->loss_sum += scale != 0.0f ? (double)loss->data[0] / (double)scale : 0.0;
    return loss;
}

static rt_tensor *seq_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                           rt_batch_stats *st) {
    const seq_state *s = m->state;
    rt_tensor *logits = seq_forward(m, g, b->x, b->keys, b->train);
    if (s->head) return keypoint_loss(s, g, logits, b->kp, scale, st);
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

#define A seq_arch
static const rt_key seq_keys[] = {KNODE("layers"), KENUM("head", A, head, "\"none\"", KP_HEAD_CHOICES)};
#undef A

static const char *seq_size_keys(const rt_config *c) {
    (void)c;
    return "model.layers";
}

const rt_family rt_family_sequential = {
    .name = "sequential",
    .task = RT_TASK_CLASSIFY,
    .keys = seq_keys,
    .nkeys = (int)(sizeof seq_keys / sizeof seq_keys[0]),
    .parts = rt_kp_head_keys,
    .nparts = KP_NHEADS - 1,
    .arch_size = sizeof(seq_arch),
    .size_keys = seq_size_keys,
    .check = seq_check,
    .free_arch = seq_free_arch,
    .build = seq_build,
    .init = seq_init,
    .destroy = seq_destroy,
    .loss = seq_loss,
    .forward = seq_plain_forward,
    .features = seq_features,
};
