/* autograd.c - the tape, the op table and the backward walk. */
#include "ringtrain/autograd.h"

#include "ops/internal.h"
#include "ringtrain/common.h"
#include "ringtrain/flight.h"

#include <string.h>

#define OP(e, n) [RT_OP_##e] = {#n, rt_fwd_##n, rt_bwd_##n, false}
/* an elementwise op of one input and no arguments: rt_unary takes it by id */
#define UNARY(e, n) [RT_OP_##e] = {#n, rt_fwd_##n, rt_bwd_##n, true}
const rt_op_def rt_op_table[RT_OP_COUNT] = {
    OP(MATMUL, matmul),
    OP(LINEAR, linear),
    OP(ADD, add),
    OP(MUL, mul),
    OP(BIAS_ADD, bias_add),
    UNARY(RELU, relu),
    UNARY(GELU, gelu),
    UNARY(GELU_TANH, gelu_tanh),
    UNARY(TANH, tanh),
    UNARY(SIGMOID, sigmoid),
    UNARY(SILU, silu),
    OP(RESHAPE, reshape),
    OP(SUM, sum),
    OP(MEAN, mean),
    OP(SOFTMAX_CE, softmax_ce),
    OP(MSE, mse),
    OP(CONV2D, conv2d),
    OP(MAXPOOL2D, maxpool2d),
    OP(AVGPOOL2D, avgpool2d),
    OP(UPSAMPLE_NEAREST, upsample_nearest),
    OP(UPSAMPLE_BILINEAR, upsample_bilinear),
    OP(PIXEL_SHUFFLE, pixel_shuffle),
    OP(PIXEL_UNSHUFFLE, pixel_unshuffle),
    OP(LAYERNORM, layernorm),
    OP(DROPOUT, dropout),
    OP(CONCAT, concat),
    OP(SLICE, slice),
    UNARY(EXP, exp),
    UNARY(LOG, log),
    UNARY(SOFTPLUS, softplus),
    OP(SUM_AXIS, sum_axis),
    OP(SCALE, scale),
    OP(AFFINE, affine),
    OP(BMM, bmm),
    OP(SOFTMAX, softmax),
    OP(ATTENTION, attention),
    OP(PERMUTE, permute),
    OP(PATCHIFY, patchify),
    OP(UNPATCHIFY, unpatchify),
    OP(RMSNORM, rmsnorm),
    OP(MODULATE, modulate),
    OP(GATE_ADD, gate_add),
    OP(EMBEDDING, embedding),
    UNARY(ABS, abs),
    OP(LEAKY_RELU, leaky_relu),
    OP(DIV, div),
    OP(LOG_SOFTMAX, log_softmax),
    OP(KL_DIV, kl_div),
};
#undef OP
#undef UNARY
_Static_assert(sizeof rt_op_table / sizeof rt_op_table[0] == RT_OP_COUNT,
               "rt_op_table must have one entry per rt_op");

struct rt_graph {
    rt_arena *arena;  /* activations, gradients and saved scratch of one step */
    rt_node *nodes;   /* (max_nodes) the tape; it grows while warming up */
    int nnodes;
    int max_nodes;
    bool grad;        /* recording on */
    rt_param_hook hook;
    void *hook_ctx;
    int nparams;
    int uses_cap;
    int *uses;        /* (uses_cap) tape nodes still to run that read each parameter */
    const rt_node *released; /* the node whose backward called rt_graph_params_final */
};

rt_graph *rt_graph_create(size_t arena_bytes, int max_nodes) {
    rt_graph *g = rt_calloc(1, sizeof *g);
    g->arena = rt_arena_create(arena_bytes);
    g->max_nodes = max_nodes > 16 ? max_nodes : 16;
    g->nodes = rt_calloc((size_t)g->max_nodes, sizeof *g->nodes);
    g->grad = true;
    return g;
}

void rt_graph_destroy(rt_graph *g) {
    if (!g) return;
    rt_arena_destroy(g->arena);
    rt_free(g->nodes);
    rt_free(g->uses);
    rt_free(g);
}

void rt_graph_reset(rt_graph *g) {
    g->nnodes = 0;
    rt_arena_reset(g->arena);
}

void rt_graph_set_grad(rt_graph *g, bool enabled) { g->grad = enabled; }
bool rt_graph_grad_enabled(const rt_graph *g) { return g->grad; }
int rt_graph_num_nodes(const rt_graph *g) { return g->nnodes; }
const rt_arena *rt_graph_arena(const rt_graph *g) { return g->arena; }

void *rt_graph_scratch(rt_graph *g, size_t bytes) { return rt_arena_alloc(g->arena, bytes); }

rt_tensor *rt_graph_tensor(rt_graph *g, int ndim, const int *shape, bool with_grad) {
    rt_tensor *t = rt_arena_alloc(g->arena, sizeof *t);
    memset(t, 0, sizeof *t);
    rt_tensor_set_shape(t, ndim, shape);
    size_t bytes = rt_mul_size((size_t)t->numel, sizeof(float));
    t->data = rt_arena_alloc(g->arena, bytes);
    t->grad = (with_grad && g->grad) ? rt_arena_calloc(g->arena, bytes) : NULL;
    return t;
}

rt_tensor *rt_graph_apply(rt_graph *g, rt_op op, rt_tensor *const *in, int nin,
                          const rt_op_params *p, int ndim, const int *shape) {
    RT_CHECK(op >= 0 && op < RT_OP_COUNT, "bad op %d", (int)op);
    RT_CHECK(nin >= 1 && nin <= 3, "op %s: bad input count %d", rt_op_table[op].name, nin);
    bool need_grad = false;
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->grad) need_grad = true;
    need_grad = need_grad && g->grad;

    rt_node local = {0};
    rt_node *n = &local;
    if (need_grad) {
        if (g->nnodes == g->max_nodes) { /* the first steps size the tape; no node is held across */
            g->max_nodes *= 2;
            g->nodes = rt_realloc(g->nodes, rt_mul_size((size_t)g->max_nodes, sizeof *g->nodes));
        }
        n = &g->nodes[g->nnodes++];
        memset(n, 0, sizeof *n);
    }
    n->op = op;
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    if (p) n->p = *p;

    if (op == RT_OP_RESHAPE) {
        /* a view: same buffers, new shape */
        rt_tensor *t = rt_arena_alloc(g->arena, sizeof *t);
        *t = *in[0];
        rt_tensor_set_shape(t, ndim, shape);
        if (!need_grad) t->grad = NULL;
        t->param_id = 0; /* a view is not the parameter itself */
        n->out = t;
    } else {
        n->out = rt_graph_tensor(g, ndim, shape, need_grad);
    }
    rt_op_table[op].forward(g, n);
    return n->out;
}

void rt_graph_set_param_hook(rt_graph *g, int nparams, rt_param_hook fn, void *ctx) {
    if (fn && nparams > g->uses_cap) { /* grows once; toggling the hook never allocates */
        rt_free(g->uses);
        g->uses = rt_calloc((size_t)nparams, sizeof *g->uses);
        g->uses_cap = nparams;
    }
    g->nparams = fn ? nparams : 0;
    g->hook = fn;
    g->hook_ctx = ctx;
}

/* Parameters read by node n (each at most once per node). */
static void count_uses(rt_graph *g, const rt_node *n, int delta) {
    for (int k = 0; k < n->nin; k++) {
        const rt_tensor *t = n->in[k];
        if (!t || t->param_id <= 0 || t->param_id > g->nparams) continue;
        bool seen = false;
        for (int j = 0; j < k; j++) seen = seen || n->in[j] == t;
        if (seen) continue;
        int idx = t->param_id - 1;
        g->uses[idx] += delta;
        if (delta < 0 && g->uses[idx] == 0) g->hook(g->hook_ctx, idx);
    }
}

void rt_graph_backward(rt_graph *g, rt_tensor *loss) {
    rt_flight_phase_only(RT_PHASE_BACKWARD);
    RT_CHECK(loss->numel == 1, "backward needs a scalar loss, got %lld elements",
             (long long)loss->numel);
    if (g->hook) {
        memset(g->uses, 0, (size_t)g->nparams * sizeof *g->uses);
        for (int i = 0; i < g->nnodes; i++) count_uses(g, &g->nodes[i], +1);
        for (int i = 0; i < g->nparams; i++) /* never read by this tape: final already */
            if (g->uses[i] == 0) g->hook(g->hook_ctx, i);
    }
    if (!loss->grad) return; /* nothing requires a gradient */
    loss->grad[0] = 1.0f;
    g->released = NULL;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        rt_node *n = &g->nodes[i];
        rt_op_table[n->op].backward(g, n);
        if (g->hook && g->released != n) count_uses(g, n, -1);
    }
}

void rt_graph_params_final(rt_graph *g, const rt_node *n) {
    if (!g->hook || g->released == n) return;
    count_uses(g, n, -1);
    g->released = n;
}
