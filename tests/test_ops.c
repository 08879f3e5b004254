/* test_ops.c - every op in rt_op_table against central differences and a
 * double-precision reference (STYLE.md items 6 and 7).
 *
 * For each case the inputs live in buffers this file owns (host[i]); every
 * evaluation resets the graph, creates fresh arena tensors and copies the host
 * data in, so rt_graph_reset never takes the inputs with it.
 *
 *   analytic:  L = sum(out * R) through rt_mul + rt_sum (or L = out for ops
 *              with a scalar output), rt_graph_backward, read in[i]->grad.
 *   numeric:   recording off (rt_graph_set_grad(g, false)), L(x +- eps)
 *              accumulated in double from out->data, num = (L+ - L-) / (x+ - x-)
 *              with x+- the float values actually fed.
 *   check:     |num - ana| <= atol + rtol * |num|, per op and printed.
 *
 * Error budget behind the tolerances: outputs are float, so each L carries a
 * rounding error of about u * |out| (u = 6e-8) per perturbed output, which the
 * difference quotient divides by 2 eps; smooth activations add the truncation
 * term eps^2/6 * |f'''|. Central differences are exact for polynomials of
 * degree <= 2, so matmul, linear, add, mul, bias_add, reshape, sum, mean and
 * mse (each at most quadratic in any one input) have no truncation error at
 * all: they use eps = 1e-1, which only divides the rounding noise by 10. Kinks
 * are avoided by construction (relu inputs have |x| >= 0.1 and eps = 1e-2),
 * never by loosening a tolerance.
 *
 * Besides the gradcheck each case checks the forward against a double
 * reference, the tape and gradient-buffer contract (inputs without a buffer
 * keep grad == NULL), that recording off records nothing and gives the same
 * forward bit for bit, and that backward accumulates (+=) into pre-filled
 * buffers. Negative controls prove compare() fails on a 5% error and on NaN.
 * Data is seeded (TEST_OPS_SEED); the tolerances hold with >= 3x margin over
 * 100 seeds.
 *
 * Output: one line per check, "ok   <op> <case> ..." or "FAIL <op> <case> ...",
 * numeric checks carrying "maxerr=... tol=atol+rtol*|ref|"; the last line is
 * "N passed, M failed" and the exit code is 1 when anything failed.
 */
#include "ringtrain/autograd.h"
#include "ringtrain/blas.h"
#include "ringtrain/common.h"
#include "report.h"
#include "ringtrain/h5util.h"
#include "ringtrain/ops.h"
#include "ringtrain/rng.h"
#include "ringtrain/tensor.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TEST_OPS_SEED
#define TEST_OPS_SEED 0x5eed0f0b5ULL /* -DTEST_OPS_SEED=n to sweep seeds */
#endif
#define SEED ((uint64_t)(TEST_OPS_SEED))
#define MAXIN 3
#define MAXROWS 8

/* ---- reporting ---- */


/* Records the first contract violation of a run in why (kept when already set). */
static void note(char *why, size_t len, const char *fmt, ...) RT_PRINTF(3, 4);
static void note(char *why, size_t len, const char *fmt, ...) {
    if (why[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* The comparison every numeric check goes through: counts entries with
 * |ref - got| > atol + rtol*|ref| (a NaN anywhere counts as a mismatch) and
 * returns that count. *maxerr is the largest |ref - got| and *ratio the largest
 * |ref - got| / (atol + rtol*|ref|) (both NaN if any entry is NaN). */
static int64_t compare(const double *ref, const double *got, int64_t n, double atol, double rtol,
                       double *maxerr, double *ratio) {
    int64_t bad = 0;
    *maxerr = 0.0;
    *ratio = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double err = fabs(ref[i] - got[i]), tol = atol + rtol * fabs(ref[i]);
        double r = tol > 0.0 ? err / tol : (err == 0.0 ? 0.0 : INFINITY);
        if (!(err <= tol)) bad++;
        if (!isnan(*maxerr) && !(err <= *maxerr)) *maxerr = err;
        if (!isnan(*ratio) && !(r <= *ratio)) *ratio = r;
    }
    return bad;
}

/* ---- test cases ---- */

enum dist {
    DIST_NORMAL,   /* amp * N(0,1) */
    DIST_AWAY0,    /* sign * (0.1 + amp*|N(0,1)|): never within 0.1 of a relu kink */
    DIST_ROWSHIFT, /* amp * N(0,1) + 100 on even rows, -100 on odd rows (2-D only) */
    DIST_DISTINCT  /* a random permutation of amp * 0.01 * (k - (n-1)/2): no two values
                      closer than amp * 0.01, so no max-pool tie by construction */
};

typedef struct tin {
    const char *name;
    int ndim;
    int shape[RT_MAX_DIMS];
    bool grad;       /* created with a gradient buffer */
    enum dist dist;
    float amp;       /* 0 means 1 */
} tin;

typedef struct tcase tcase;
/* Runs the op(s) under test on arena tensors in[0..nin). */
typedef rt_tensor *(*build_fn)(rt_graph *g, rt_tensor *const *in, const tcase *c);
/* Independent double-precision forward: x[i] (input i, float), y (out numel). */
typedef void (*ref_fn)(const tcase *c, const float *const *x, double *y);

struct tcase {
    rt_op op;                  /* the table entry this case gradchecks */
    const char *name;          /* no spaces */
    int nin;
    tin in[MAXIN];
    int out_ndim;
    int out_shape[RT_MAX_DIMS];
    int nodes;                 /* tape nodes build() records when gradients flow */
    build_fn build;
    ref_fn ref;                /* NULL: no forward check */
    double fwd_atol, fwd_rtol;
    double eps, atol, rtol;    /* gradcheck */
    float scale;               /* softmax_ce, mse */
    int32_t labels[MAXROWS];   /* (rows) softmax_ce, drawn in main */
    bool negctl;               /* also run the negative controls on this case */
    int arg[8];                /* op arguments the builder passes on (see each group) */
    float f, f2;
};

static int64_t numel_of(int ndim, const int *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* ---- builders ---- */

static rt_tensor *build_matmul(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_matmul(g, in[0], in[1]);
}

static rt_tensor *build_linear(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_linear(g, in[0], in[1], c->nin > 2 ? in[2] : NULL);
}

static rt_tensor *build_add(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_add(g, in[0], in[1]);
}

/* nin == 1: x * x, the same tensor on both sides */
static rt_tensor *build_mul(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_mul(g, in[0], c->nin > 1 ? in[1] : in[0]);
}

static rt_tensor *build_bias_add(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_bias_add(g, in[0], in[1]);
}

static rt_tensor *build_unary(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    switch (c->op) {
    case RT_OP_RELU: return rt_relu(g, in[0]);
    case RT_OP_GELU: return rt_gelu(g, in[0]);
    case RT_OP_GELU_TANH: return rt_gelu_tanh(g, in[0]);
    case RT_OP_TANH: return rt_tanh(g, in[0]);
    case RT_OP_SIGMOID: return rt_sigmoid(g, in[0]);
    case RT_OP_SILU: return rt_silu(g, in[0]);
    case RT_OP_SUM: return rt_sum(g, in[0]);
    case RT_OP_MEAN: return rt_mean(g, in[0]);
    default: rt_fatal(__FILE__, __LINE__, "build_unary: op %d is not unary", (int)c->op);
    }
}

/* a (2,6) viewed as (-1,4) = (3,4), then @ b (4,3) */
static rt_tensor *build_reshape_matmul(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    const int shape[2] = {-1, 4};
    return rt_matmul(g, rt_reshape(g, in[0], 2, shape), in[1]);
}

/* x (2,3,4) flattened to (2,12), then linear */
static rt_tensor *build_flatten_linear(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_linear(g, rt_flatten(g, in[0]), in[1], c->nin > 2 ? in[2] : NULL);
}

static rt_tensor *build_softmax_ce(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_softmax_ce(g, in[0], c->labels, c->scale);
}

static rt_tensor *build_mse(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_mse(g, in[0], in[1], c->scale);
}

/* ---- double-precision references ---- */

/* C (m,n) = A (m,k) @ B (k,n); m and n from the output, so a reshaped A works too */
static void ref_matmul(const tcase *c, const float *const *x, double *y) {
    int m = c->out_shape[0], n = c->out_shape[1];
    int64_t k = numel_of(c->in[0].ndim, c->in[0].shape) / m;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int64_t p = 0; p < k; p++) s += (double)x[0][i * k + p] * (double)x[1][p * n + j];
            y[i * n + j] = s;
        }
}

/* y (b,out) = x (b,in) W^T + bias, W (out,in) as torch.nn.Linear; x may be N-D (flattened) */
static void ref_linear(const tcase *c, const float *const *x, double *y) {
    int b = c->in[0].shape[0], out = c->in[1].shape[0];
    int64_t in = numel_of(c->in[0].ndim, c->in[0].shape) / b;
    for (int i = 0; i < b; i++)
        for (int o = 0; o < out; o++) {
            double s = c->nin > 2 ? (double)x[2][o] : 0.0;
            for (int64_t p = 0; p < in; p++) s += (double)x[0][i * in + p] * (double)x[1][o * in + p];
            y[i * out + o] = s;
        }
}

static void ref_add(const tcase *c, const float *const *x, double *y) {
    int64_t n = numel_of(c->in[0].ndim, c->in[0].shape);
    for (int64_t i = 0; i < n; i++) y[i] = (double)x[0][i] + (double)x[1][i];
}

static void ref_mul(const tcase *c, const float *const *x, double *y) {
    int64_t n = numel_of(c->in[0].ndim, c->in[0].shape);
    const float *b = c->nin > 1 ? x[1] : x[0];
    for (int64_t i = 0; i < n; i++) y[i] = (double)x[0][i] * (double)b[i];
}

static void ref_bias_add(const tcase *c, const float *const *x, double *y) {
    int64_t n = numel_of(c->in[0].ndim, c->in[0].shape), ch = c->in[1].shape[0];
    for (int64_t i = 0; i < n; i++) y[i] = (double)x[0][i] + (double)x[1][i % ch];
}

static void ref_unary(const tcase *c, const float *const *x, double *y) {
    int64_t n = numel_of(c->in[0].ndim, c->in[0].shape);
    const double pi = 3.14159265358979323846;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double v = (double)x[0][i];
        switch (c->op) {
        case RT_OP_RELU: y[i] = v > 0.0 ? v : 0.0; break;
        case RT_OP_GELU: y[i] = 0.5 * v * (1.0 + erf(v / sqrt(2.0))); break;
        case RT_OP_GELU_TANH:
            y[i] = 0.5 * v * (1.0 + tanh(sqrt(2.0 / pi) * (v + 0.044715 * v * v * v)));
            break;
        case RT_OP_TANH: y[i] = tanh(v); break;
        case RT_OP_SIGMOID: y[i] = 1.0 / (1.0 + exp(-v)); break;
        case RT_OP_SILU: y[i] = v / (1.0 + exp(-v)); break;
        case RT_OP_SUM:
        case RT_OP_MEAN: s += v; break;
        default: rt_fatal(__FILE__, __LINE__, "ref_unary: op %d", (int)c->op);
        }
    }
    if (c->op == RT_OP_SUM) y[0] = s;
    if (c->op == RT_OP_MEAN) y[0] = s / (double)n;
}

/* scale * sum_i (logsumexp(x_i) - x_i[y_i]) */
static void ref_softmax_ce(const tcase *c, const float *const *x, double *y) {
    int b = c->in[0].shape[0], ncls = c->in[0].shape[1];
    double total = 0.0;
    for (int i = 0; i < b; i++) {
        const float *row = x[0] + (int64_t)i * ncls;
        double mx = row[0];
        for (int j = 1; j < ncls; j++) mx = fmax(mx, (double)row[j]);
        double z = 0.0;
        for (int j = 0; j < ncls; j++) z += exp((double)row[j] - mx);
        total += mx + log(z) - (double)row[c->labels[i]];
    }
    y[0] = (double)c->scale * total;
}

static void ref_mse(const tcase *c, const float *const *x, double *y) {
    int64_t n = numel_of(c->in[0].ndim, c->in[0].shape);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[0][i] - (double)x[1][i];
        s += d * d;
    }
    y[0] = (double)c->scale * s;
}

/* ---- the case table ----
 * Tolerances (see the top of the file): at eps 1e-1 the polynomial ops see
 * only output rounding, <= ~2e-5 here, against atol 1e-4 + rtol 1e-4. The
 * smooth ops at eps 1e-2 add eps^2/6*|f'''|*|R| <= ~3e-5*|R|, covered by
 * rtol 1e-3 where f' is large and by atol 1e-4 where it is not. Both are far
 * below the 5% corruption the negative controls plant (>= 1e-2 here). */

#define X2(a, b) 2, {a, b}
#define X3(a, b, c) 3, {a, b, c}
#define X1(a) 1, {a}

static tcase cases[] = {
    /* ---- matmul ---- */
    {.op = RT_OP_MATMUL, .name = "a(3,5)@b(5,4)", .nin = 2,
     .in = {{"a", X2(3, 5), true, DIST_NORMAL, 1}, {"b", X2(5, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_matmul, .ref = ref_matmul,
     .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_MATMUL, .name = "a(2,6)nograd@b(6,1)", .nin = 2,
     .in = {{"a", X2(2, 6), false, DIST_NORMAL, 1}, {"b", X2(6, 1), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {2, 1}, .nodes = 1, .build = build_matmul, .ref = ref_matmul,
     .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    /* ---- linear ---- */
    {.op = RT_OP_LINEAR, .name = "bias:x(4,5)w(3,5)b(3)", .nin = 3,
     .in = {{"x", X2(4, 5), true, DIST_NORMAL, 1}, {"w", X2(3, 5), true, DIST_NORMAL, 1},
            {"b", X1(3), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {4, 3}, .nodes = 1, .build = build_linear, .ref = ref_linear,
     .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .negctl = true},
    {.op = RT_OP_LINEAR, .name = "nobias:x(4,5)w(3,5)", .nin = 2,
     .in = {{"x", X2(4, 5), true, DIST_NORMAL, 1}, {"w", X2(3, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {4, 3}, .nodes = 1, .build = build_linear, .ref = ref_linear,
     .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_LINEAR, .name = "first-layer:x(2,7)nograd,w(3,7),b(3)", .nin = 3,
     .in = {{"x", X2(2, 7), false, DIST_NORMAL, 1}, {"w", X2(3, 7), true, DIST_NORMAL, 1},
            {"b", X1(3), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {2, 3}, .nodes = 1, .build = build_linear, .ref = ref_linear,
     .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_LINEAR, .name = "narrow:x(7,2)w(9,2)b(9)", .nin = 3, /* dx in a loop, not sgemm */
     .in = {{"x", X2(7, 2), true, DIST_NORMAL, 1}, {"w", X2(9, 2), true, DIST_NORMAL, 1},
            {"b", X1(9), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {7, 9}, .nodes = 1, .build = build_linear, .ref = ref_linear,
     .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    /* ---- add, mul ---- */
    {.op = RT_OP_LINEAR, .name = "frozen:x(3,4),w(2,4)nograd,b(2)nograd", .nin = 3,
     .in = {{"x", X2(3, 4), true, DIST_NORMAL, 1}, {"w", X2(2, 4), false, DIST_NORMAL, 1},
            {"b", X1(2), false, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 2}, .nodes = 1, .build = build_linear, .ref = ref_linear,
     .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_ADD, .name = "a(3,4)+b(3,4)", .nin = 2,
     .in = {{"a", X2(3, 4), true, DIST_NORMAL, 1}, {"b", X2(3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_add, .ref = ref_add,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_ADD, .name = "a(2,5)nograd+b(2,5)", .nin = 2,
     .in = {{"a", X2(2, 5), false, DIST_NORMAL, 1}, {"b", X2(2, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {2, 5}, .nodes = 1, .build = build_add, .ref = ref_add,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_MUL, .name = "a(3,4)*b(3,4)", .nin = 2,
     .in = {{"a", X2(3, 4), true, DIST_NORMAL, 1}, {"b", X2(3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_mul, .ref = ref_mul,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_MUL, .name = "a(2,3,2)*b(2,3,2)nograd", .nin = 2,
     .in = {{"a", X3(2, 3, 2), true, DIST_NORMAL, 1}, {"b", X3(2, 3, 2), false, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 2}, .nodes = 1, .build = build_mul, .ref = ref_mul,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_MUL, .name = "x(3,4)*x(same-tensor)", .nin = 1,
     .in = {{"x", X2(3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_mul, .ref = ref_mul,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    /* ---- bias_add ---- */
    {.op = RT_OP_BIAS_ADD, .name = "x(2,3,4)+b(4)", .nin = 2,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}, {"b", X1(4), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 4}, .nodes = 1, .build = build_bias_add,
     .ref = ref_bias_add, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4},
    /* ---- activations ---- */
    {.op = RT_OP_BIAS_ADD, .name = "x(5,3)nograd+b(3)", .nin = 2,
     .in = {{"x", X2(5, 3), false, DIST_NORMAL, 1}, {"b", X1(3), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {5, 3}, .nodes = 1, .build = build_bias_add,
     .ref = ref_bias_add, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4},
    {.op = RT_OP_RELU, .name = "x(4,6)|x|>=0.1", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_AWAY0, 1}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_unary, .ref = ref_unary,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_GELU, .name = "erf:x(4,6)", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_NORMAL, 2}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_unary, .ref = ref_unary,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3},
    {.op = RT_OP_GELU_TANH, .name = "tanh-approx:x(4,6)", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_NORMAL, 2}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_unary, .ref = ref_unary,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3},
    {.op = RT_OP_TANH, .name = "x(4,6)", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_NORMAL, 1.5f}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_unary, .ref = ref_unary,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3,
     .negctl = true},
    {.op = RT_OP_SIGMOID, .name = "x(4,6)", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_NORMAL, 3}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_unary, .ref = ref_unary,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3},
    {.op = RT_OP_SILU, .name = "x(4,6)", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_NORMAL, 3}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_unary, .ref = ref_unary,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3},
    /* ---- reshape (a view; checked through the op after it) ---- */
    {.op = RT_OP_RESHAPE, .name = "a(2,6)->(-1,4)@b(4,3)", .nin = 2,
     .in = {{"a", X2(2, 6), true, DIST_NORMAL, 1}, {"b", X2(4, 3), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 3}, .nodes = 2, .build = build_reshape_matmul,
     .ref = ref_matmul, .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4},
    {.op = RT_OP_RESHAPE, .name = "flatten:x(2,3,4)->linear:w(5,12)b(5)", .nin = 3,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}, {"w", X2(5, 12), true, DIST_NORMAL, 1},
            {"b", X1(5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {2, 5}, .nodes = 2, .build = build_flatten_linear,
     .ref = ref_linear, .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4},
    /* ---- reductions (scalar output: L = out) ---- */
    {.op = RT_OP_SUM, .name = "x(3,5)", .nin = 1, .in = {{"x", X2(3, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 0, .nodes = 1, .build = build_unary, .ref = ref_unary, .fwd_atol = 1e-6,
     .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_MEAN, .name = "x(3,5)", .nin = 1, .in = {{"x", X2(3, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 0, .nodes = 1, .build = build_unary, .ref = ref_unary, .fwd_atol = 1e-6,
     .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    /* ---- losses ---- */
    {.op = RT_OP_SOFTMAX_CE, .name = "logits(4,5),scale=1/4", .nin = 1,
     .in = {{"x", X2(4, 5), true, DIST_NORMAL, 2}},
     .out_ndim = 0, .nodes = 1, .build = build_softmax_ce, .ref = ref_softmax_ce,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3,
     .scale = 0.25f},
    {.op = RT_OP_SOFTMAX_CE, .name = "logits(6,3)+-100,scale=1/6", .nin = 1,
     .in = {{"x", X2(6, 3), true, DIST_ROWSHIFT, 2}},
     .out_ndim = 0, .nodes = 1, .build = build_softmax_ce, .ref = ref_softmax_ce,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3,
     .scale = 1.0f / 6.0f},
    {.op = RT_OP_MSE, .name = "a(3,4),b(3,4),scale=0.25", .nin = 2,
     .in = {{"a", X2(3, 4), true, DIST_NORMAL, 1}, {"b", X2(3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 0, .nodes = 1, .build = build_mse, .ref = ref_mse, .fwd_atol = 1e-6,
     .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .scale = 0.25f},
    {.op = RT_OP_MSE, .name = "a(2,3),target(2,3)nograd,scale=1/6", .nin = 2,
     .in = {{"a", X2(2, 3), true, DIST_NORMAL, 1}, {"target", X2(2, 3), false, DIST_NORMAL, 1}},
     .out_ndim = 0, .nodes = 1, .build = build_mse, .ref = ref_mse, .fwd_atol = 1e-6,
     .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .scale = 1.0f / 6.0f},
    {.op = RT_OP_MSE, .name = "a(4,2)nograd,b(4,2),scale=1/8", .nin = 2,
     .in = {{"a", X2(4, 2), false, DIST_NORMAL, 1}, {"b", X2(4, 2), true, DIST_NORMAL, 1}},
     .out_ndim = 0, .nodes = 1, .build = build_mse, .ref = ref_mse, .fwd_atol = 1e-6,
     .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .scale = 0.125f},
};
#define X4(a, b, c, d) 4, {a, b, c, d}

/* The ops of the seed models, one file per group (src/ops/conv.c, resample.c,
 * misc.c); each table ends with an entry whose name is NULL. */
#include "ops_cases_conv.h"
#include "ops_cases_resample.h"
#include "ops_cases_misc.h"
#include "ops_cases_attn.h"
#include "ops_cases_kp.h"

#undef X1
#undef X2
#undef X3
#undef X4
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static struct {
    tcase *cases;
    int n; /* counted in main */
} groups[] = {{cases, NCASES}, {cases_conv, -1}, {cases_resample, -1}, {cases_misc, -1}, {cases_attn, -1}, {cases_kp, -1}};
#define NGROUPS ((int)(sizeof groups / sizeof groups[0]))

/* ---- running one case ---- */

static void fill(rt_rng *r, const tin *t, float *buf) {
    int64_t n = numel_of(t->ndim, t->shape);
    float amp = t->amp != 0.0f ? t->amp : 1.0f;
    if (t->dist == DIST_DISTINCT) {
        int64_t *perm = rt_malloc((size_t)n * sizeof *perm);
        rt_rng_permutation(r, perm, n);
        for (int64_t i = 0; i < n; i++) buf[i] = amp * 0.01f * ((float)perm[i] - 0.5f * (float)(n - 1));
        rt_free(perm);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float v = amp * rt_rng_normal(r);
        switch (t->dist) {
        case DIST_NORMAL: break;
        case DIST_AWAY0: v = (v < 0.0f ? -1.0f : 1.0f) * (0.1f + fabsf(v)); break;
        case DIST_ROWSHIFT: v += (i / t->shape[1]) % 2 ? -100.0f : 100.0f; break;
        case DIST_DISTINCT: break; /* handled above */
        }
        buf[i] = v;
    }
}

/* Fresh arena tensors holding the host data. */
static void make_inputs(rt_graph *g, const tcase *c, float *const *host, rt_tensor **in) {
    for (int i = 0; i < c->nin; i++) {
        in[i] = rt_graph_tensor(g, c->in[i].ndim, c->in[i].shape, c->in[i].grad);
        memcpy(in[i]->data, host[i], (size_t)in[i]->numel * sizeof(float));
    }
}

/* Recording run: forward values into fwd (out numel), analytic gradients into
 * grad[i] for inputs with a gradient. prefill[i], when given, is written into
 * the fresh gradient buffers first (to prove backward accumulates). Returns
 * false with a reason in why when a contract is broken. */
static bool analytic(rt_graph *g, const tcase *c, float *const *host, const float *R,
                     float *const *prefill, float *const *grad, float *fwd, char *why,
                     size_t whylen) {
    why[0] = '\0';
    rt_graph_reset(g);
    rt_graph_set_grad(g, true);
    rt_tensor *in[MAXIN] = {0};
    make_inputs(g, c, host, in);
    for (int i = 0; i < c->nin; i++) {
        if ((in[i]->grad != NULL) != c->in[i].grad)
            note(why, whylen, "input %s: gradient buffer %s", c->in[i].name,
                 in[i]->grad ? "present" : "missing");
        if (in[i]->grad && prefill && prefill[i])
            memcpy(in[i]->grad, prefill[i], (size_t)in[i]->numel * sizeof(float));
    }
    rt_tensor *out = c->build(g, in, c);
    bool shape_ok = out->ndim == c->out_ndim;
    for (int d = 0; shape_ok && d < c->out_ndim; d++) shape_ok = out->shape[d] == c->out_shape[d];
    if (!shape_ok) {
        char s[64];
        rt_tensor_shape_str(out, s, sizeof s);
        note(why, whylen, "output shape %s is wrong", s);
        return false;
    }
    if (!out->grad) note(why, whylen, "output has no gradient buffer while recording");
    memcpy(fwd, out->data, (size_t)out->numel * sizeof(float));

    rt_tensor *loss = out;
    int want_nodes = c->nodes;
    if (out->ndim != 0) {
        rt_tensor *r = rt_graph_tensor(g, out->ndim, out->shape, false);
        memcpy(r->data, R, (size_t)out->numel * sizeof(float));
        loss = rt_sum(g, rt_mul(g, out, r));
        want_nodes += 2;
    }
    if (rt_graph_num_nodes(g) != want_nodes)
        note(why, whylen, "tape has %d nodes, want %d", rt_graph_num_nodes(g), want_nodes);
    rt_graph_backward(g, loss);

    for (int i = 0; i < c->nin; i++) {
        size_t bytes = (size_t)in[i]->numel * sizeof(float);
        if (c->in[i].grad && in[i]->grad)
            memcpy(grad[i], in[i]->grad, bytes);
        else if (!c->in[i].grad && in[i]->grad)
            note(why, whylen, "input %s without gradient got a buffer", c->in[i].name);
        if (memcmp(in[i]->data, host[i], bytes) != 0)
            note(why, whylen, "input %s was modified by forward/backward", c->in[i].name);
    }
    return why[0] == '\0';
}

/* Evaluation mode, as a trainer's eval loop sees it: the inputs are created
 * while recording (those with c->in[i].grad own zeroed gradient buffers, like
 * parameters), then recording is turned off and the op runs. Returns
 * L = sum(out * R) (or out) accumulated in double. Clears *tape_ok when a node
 * is recorded, the output gets a gradient buffer or an input's gradient is
 * written; copies the output to fwd when fwd is non-NULL. */
static double eval_loss(rt_graph *g, const tcase *c, float *const *host, const float *R,
                        float *fwd, bool *tape_ok) {
    rt_graph_reset(g);
    rt_graph_set_grad(g, true);
    rt_tensor *in[MAXIN] = {0};
    make_inputs(g, c, host, in);
    rt_graph_set_grad(g, false);
    rt_tensor *out = c->build(g, in, c);
    if (rt_graph_num_nodes(g) != 0 || out->grad) *tape_ok = false;
    for (int i = 0; i < c->nin; i++)
        for (int64_t k = 0; in[i]->grad && k < in[i]->numel; k++)
            if (in[i]->grad[k] != 0.0f) *tape_ok = false;
    if (fwd) memcpy(fwd, out->data, (size_t)out->numel * sizeof(float));
    double L = 0.0;
    if (out->ndim == 0)
        L = (double)out->data[0];
    else
        for (int64_t i = 0; i < out->numel; i++) L += (double)out->data[i] * (double)R[i];
    rt_graph_set_grad(g, true);
    return L;
}

/* Negative controls on one analytic gradient: a 5% error on its largest entry
 * and a NaN must both be reported as mismatches by compare(). */
static void negative_controls(const char *op, const tcase *c, int i, const double *num,
                              const double *ana, int64_t n) {
    double *bad = rt_malloc((size_t)n * sizeof *bad);
    int64_t j = 0;
    for (int64_t k = 1; k < n; k++)
        if (fabs(ana[k]) > fabs(ana[j])) j = k;
    double maxerr, ratio;

    memcpy(bad, ana, (size_t)n * sizeof *bad);
    bad[j] *= 1.05;
    int64_t nbad = compare(num, bad, n, c->atol, c->rtol, &maxerr, &ratio);
    report(nbad == 1, "%s %s/negctl:d%s[%lld]*1.05-detected mismatches=%lld maxerr=%.3g tol=%.0e+%.0e*|num|",
           op, c->name, c->in[i].name, (long long)j, (long long)nbad, maxerr, c->atol, c->rtol);

    memcpy(bad, ana, (size_t)n * sizeof *bad);
    bad[n - 1] = NAN;
    nbad = compare(num, bad, n, c->atol, c->rtol, &maxerr, &ratio);
    report(nbad == 1 && isnan(maxerr),
           "%s %s/negctl:d%s[%lld]=NaN-detected mismatches=%lld maxerr=%.3g tol=%.0e+%.0e*|num|", op,
           c->name, c->in[i].name, (long long)(n - 1), (long long)nbad, maxerr, c->atol, c->rtol);
    rt_free(bad);
}

static void run_case(rt_graph *g, const tcase *c, int idx) {
    const char *op = rt_op_table[c->op].name;
    rt_rng rng;
    rt_rng_seed(&rng, SEED, (uint64_t)idx + 1);

    float *host[MAXIN] = {0}, *grad[MAXIN] = {0}, *pre[MAXIN] = {0}, *grad2[MAXIN] = {0};
    int64_t n[MAXIN] = {0};
    for (int i = 0; i < c->nin; i++) {
        if (c->in[i].dist == DIST_AWAY0 && !(c->eps < 0.1))
            report(false, "%s %s/setup eps %.0e would step over the kink at 0", op, c->name, c->eps);
        n[i] = numel_of(c->in[i].ndim, c->in[i].shape);
        host[i] = rt_malloc((size_t)n[i] * sizeof(float));
        fill(&rng, &c->in[i], host[i]);
        if (c->in[i].grad) {
            grad[i] = rt_malloc((size_t)n[i] * sizeof(float));
            grad2[i] = rt_malloc((size_t)n[i] * sizeof(float));
            pre[i] = rt_malloc((size_t)n[i] * sizeof(float));
            for (int64_t k = 0; k < n[i]; k++) pre[i][k] = rt_rng_normal(&rng);
        }
    }
    int64_t nout = numel_of(c->out_ndim, c->out_shape);
    float *R = rt_malloc((size_t)nout * sizeof(float));
    for (int64_t k = 0; k < nout; k++) R[k] = rt_rng_normal(&rng);
    float *fwd = rt_malloc((size_t)nout * sizeof(float));
    float *fwd_off = rt_malloc((size_t)nout * sizeof(float));
    double *ref = rt_malloc((size_t)nout * sizeof(double));
    double *got = rt_malloc((size_t)nout * sizeof(double));

    /* contract: shapes, gradient buffers, tape length, inputs untouched */
    char why[256];
    bool ok = analytic(g, c, host, R, NULL, grad, fwd, why, sizeof why);
    report(ok, "%s %s/contract %s", op, c->name, ok ? "shape, grad buffers, tape, inputs untouched" : why);
    if (!ok) goto done;

    /* forward against the double-precision reference */
    if (c->ref) {
        c->ref(c, (const float *const *)host, ref);
        for (int64_t k = 0; k < nout; k++) got[k] = (double)fwd[k];
        double maxerr, ratio;
        int64_t bad = compare(ref, got, nout, c->fwd_atol, c->fwd_rtol, &maxerr, &ratio);
        report(bad == 0, "%s %s/forward-vs-double maxerr=%.3g tol=%.0e+%.0e*|ref| err/tol=%.2f", op,
               c->name, maxerr, c->fwd_atol, c->fwd_rtol, ratio);
    }

    /* recording off (inputs keep their buffers): no tape, no output gradient,
     * input gradients untouched, and the same forward values bit for bit */
    bool tape_ok = true;
    (void)eval_loss(g, c, host, R, fwd_off, &tape_ok);
    bool same = memcmp(fwd, fwd_off, (size_t)nout * sizeof(float)) == 0;
    report(tape_ok && same, "%s %s/recording-off %s", op, c->name,
           !tape_ok ? "recorded a node, gave the output a gradient or wrote an input gradient"
           : same   ? "no tape, no output gradient, input gradients untouched, forward identical"
                    : "forward differs from the recording run");

    /* gradcheck, one line per input with a gradient */
    for (int i = 0; i < c->nin; i++) {
        if (!c->in[i].grad) continue;
        double *num = rt_malloc((size_t)n[i] * sizeof *num);
        double *ana = rt_malloc((size_t)n[i] * sizeof *ana);
        for (int64_t k = 0; k < n[i]; k++) {
            float x0 = host[i][k];
            float xp = (float)((double)x0 + c->eps), xm = (float)((double)x0 - c->eps);
            host[i][k] = xp;
            double lp = eval_loss(g, c, host, R, NULL, &tape_ok);
            host[i][k] = xm;
            double lm = eval_loss(g, c, host, R, NULL, &tape_ok);
            host[i][k] = x0;
            num[k] = (lp - lm) / ((double)xp - (double)xm);
            ana[k] = (double)grad[i][k];
        }
        double maxerr, ratio;
        int64_t bad = compare(num, ana, n[i], c->atol, c->rtol, &maxerr, &ratio);
        report(bad == 0, "%s %s/d%s maxerr=%.3g tol=%.0e+%.0e*|num| err/tol=%.2f eps=%.0e", op,
               c->name, c->in[i].name, maxerr, c->atol, c->rtol, ratio, c->eps);
        if (c->negctl && i == 0) negative_controls(op, c, i, num, ana, n[i]);
        rt_free(num);
        rt_free(ana);
    }

    /* backward accumulates: pre-filled buffers end as prefill + gradient */
    ok = analytic(g, c, host, R, pre, grad2, fwd_off, why, sizeof why);
    double worst = 0.0;
    int64_t bad = 0;
    for (int i = 0; ok && i < c->nin; i++) {
        if (!c->in[i].grad) continue;
        double *want = rt_malloc((size_t)n[i] * sizeof *want);
        double *have = rt_malloc((size_t)n[i] * sizeof *have);
        for (int64_t k = 0; k < n[i]; k++) {
            want[k] = (double)grad[i][k];
            have[k] = (double)grad2[i][k] - (double)pre[i][k];
        }
        double maxerr, ratio;
        bad += compare(want, have, n[i], 1e-6, 1e-6, &maxerr, &ratio);
        if (!(maxerr <= worst)) worst = maxerr;
        rt_free(want);
        rt_free(have);
    }
    report(ok && bad == 0, "%s %s/accumulates maxerr=%.3g tol=1e-06+1e-06*|grad|%s%s", op, c->name,
           worst, ok ? "" : " ", ok ? "" : why);

done:
    for (int i = 0; i < MAXIN; i++) {
        rt_free(host[i]);
        rt_free(grad[i]);
        rt_free(grad2[i]);
        rt_free(pre[i]);
    }
    rt_free(R);
    rt_free(fwd);
    rt_free(fwd_off);
    rt_free(ref);
    rt_free(got);
}

/* ---- checks outside the case table ---- */

static void check_table(void) {
    for (int op = 0; op < RT_OP_COUNT; op++) {
        const rt_op_def *d = &rt_op_table[op];
        bool ok = d->name && d->name[0] && d->forward && d->backward;
        for (int k = 0; ok && k < op; k++) ok = strcmp(rt_op_table[k].name, d->name) != 0;
        report(ok, "%s table[%d] name, forward, backward set; name unique", d->name ? d->name : "(null)",
               op);
    }
}

static void check_coverage(void) {
    int covered = 0;
    for (int op = 0; op < RT_OP_COUNT; op++) {
        bool hit = false;
        for (int gi = 0; gi < NGROUPS; gi++)
            for (int k = 0; k < groups[gi].n; k++) hit = hit || groups[gi].cases[k].op == (rt_op)op;
        if (hit)
            covered++;
        else
            report(false, "%s table/coverage no gradcheck case", rt_op_table[op].name);
    }
    report(covered == RT_OP_COUNT, "table coverage %d/%d ops have a gradcheck case", covered,
           RT_OP_COUNT);
}

/* reshape is a view: same data and grad, new shape and strides, no copy */
static void check_reshape_view(rt_graph *g) {
    rt_graph_reset(g);
    rt_graph_set_grad(g, true);
    const int xs[3] = {2, 3, 4}, vs[2] = {-1, 6};
    rt_tensor *x = rt_graph_tensor(g, 3, xs, true);
    rt_tensor *v = rt_reshape(g, x, 2, vs);
    bool ok = v->data == x->data && v->grad == x->grad && v->ndim == 2 && v->shape[0] == 4 &&
              v->shape[1] == 6 && v->numel == 24 && v->stride[0] == 6 && v->stride[1] == 1 &&
              rt_graph_num_nodes(g) == 1;
    rt_tensor *f = rt_flatten(g, x);
    ok = ok && f->data == x->data && f->ndim == 2 && f->shape[0] == 2 && f->shape[1] == 12;
    report(ok, "reshape view(2,3,4)->(-1,6),flatten shares data and grad, strides (6,1), recorded");

    rt_tensor *xn = rt_graph_tensor(g, 3, xs, false);
    int before = rt_graph_num_nodes(g);
    rt_tensor *vn = rt_reshape(g, xn, 2, vs);
    report(vn->grad == NULL && vn->data == xn->data && rt_graph_num_nodes(g) == before,
           "reshape view-of-nograd no gradient buffer, no tape node");

    rt_graph_set_grad(g, false); /* x owns a gradient buffer, but recording is off */
    rt_tensor *ve = rt_reshape(g, x, 2, vs);
    report(ve->grad == NULL && ve->data == x->data && rt_graph_num_nodes(g) == before,
           "reshape view-recording-off no gradient on the view, no tape node");
    rt_graph_set_grad(g, true);
}

/* inputs without gradient buffers: nothing is recorded, backward is a no-op */
static void check_no_grad_inputs(rt_graph *g) {
    rt_graph_reset(g);
    rt_graph_set_grad(g, true);
    const int s[2] = {2, 3};
    rt_tensor *a = rt_graph_tensor(g, 2, s, false), *b = rt_graph_tensor(g, 2, s, false);
    for (int i = 0; i < 6; i++) {
        a->data[i] = (float)i - 2.5f;
        b->data[i] = 0.5f * (float)i;
    }
    rt_tensor *y = rt_mul(g, a, b);
    rt_tensor *loss = rt_sum(g, y);
    bool ok = y->grad == NULL && loss->grad == NULL && rt_graph_num_nodes(g) == 0;
    rt_graph_backward(g, loss);
    ok = ok && a->grad == NULL && b->grad == NULL;
    report(ok, "mul both-inputs-nograd no tape node, no gradient buffers, backward is a no-op");
}

/* ---- PyTorch parity: `test_ops --dump FILE.h5` writes every case's inputs,
 * R, forward output and analytic input gradients (same seeds as the
 * gradcheck); tests/reference/parity_ops.py recomputes them in torch. ---- */

static void dump_f32(hid_t grp, const char *name, const float *v, int ndim, const int *shape) {
    hsize_t dims[RT_MAX_DIMS + 1];
    for (int d = 0; d < ndim; d++) dims[d] = (hsize_t)shape[d];
    hid_t sp = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(grp, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    RT_CHECK(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0,
             "dump: cannot write %s", name);
    H5Dclose(ds);
    H5Sclose(sp);
}

static void dump_case(rt_graph *g, hid_t file, const tcase *c, int gi, int idx) {
    rt_rng rng;
    rt_rng_seed(&rng, SEED, (uint64_t)idx + 1 + 1000u * (uint64_t)gi);
    float *host[MAXIN] = {0}, *grad[MAXIN] = {0};
    for (int i = 0; i < c->nin; i++) {
        int64_t n = numel_of(c->in[i].ndim, c->in[i].shape);
        host[i] = rt_malloc((size_t)n * sizeof(float));
        grad[i] = rt_malloc((size_t)n * sizeof(float));
        fill(&rng, &c->in[i], host[i]);
        if (c->in[i].grad)
            for (int64_t k = 0; k < n; k++) (void)rt_rng_normal(&rng); /* as run_case's prefill */
    }
    int64_t nout = numel_of(c->out_ndim, c->out_shape);
    float *R = rt_malloc((size_t)nout * sizeof(float)), *fwd = rt_malloc((size_t)nout * sizeof(float));
    for (int64_t k = 0; k < nout; k++) R[k] = rt_rng_normal(&rng);
    char why[256];
    bool ok = analytic(g, c, host, R, NULL, grad, fwd, why, sizeof why);
    RT_CHECK(ok, "dump: %s %s: %s", rt_op_table[c->op].name, c->name, why);

    char gname[32];
    snprintf(gname, sizeof gname, "g%d_%03d", gi, idx);
    hid_t grp = H5Gcreate2(file, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    RT_CHECK(grp >= 0, "dump: cannot create %s", gname);
    rt_h5_attr_write_str(grp, "op", rt_op_table[c->op].name);
    rt_h5_attr_write_str(grp, "case", c->name);
    char args[160];
    snprintf(args, sizeof args, "[%d,%d,%d,%d,%d,%d,%d,%d]", c->arg[0], c->arg[1], c->arg[2],
             c->arg[3], c->arg[4], c->arg[5], c->arg[6], c->arg[7]);
    rt_h5_attr_write_str(grp, "arg", args);
    char fl[96];
    snprintf(fl, sizeof fl, "[%.9g,%.9g,%.9g]", (double)c->f, (double)c->f2, (double)c->scale);
    rt_h5_attr_write_str(grp, "f_f2_scale", fl);
    rt_h5_attr_write_int(grp, "nin", c->nin);
    for (int i = 0; i < c->nin; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "in%d", i);
        dump_f32(grp, nm, host[i], c->in[i].ndim, c->in[i].shape);
        rt_h5_attr_write_int(grp, nm, c->in[i].grad);
        if (c->in[i].grad) {
            snprintf(nm, sizeof nm, "grad%d", i);
            dump_f32(grp, nm, grad[i], c->in[i].ndim, c->in[i].shape);
        }
    }
    if (c->op == RT_OP_SOFTMAX_CE || c->op == RT_OP_EMBEDDING) {
        float lab[MAXROWS];
        int rows = c->op == RT_OP_SOFTMAX_CE ? c->in[0].shape[0] : c->out_shape[0];
        for (int i = 0; i < rows; i++) lab[i] = (float)c->labels[i];
        dump_f32(grp, "labels", lab, 1, &rows);
    }
    dump_f32(grp, "R", R, c->out_ndim, c->out_shape);
    dump_f32(grp, "out", fwd, c->out_ndim, c->out_shape);
    H5Gclose(grp);
    for (int i = 0; i < MAXIN; i++) {
        rt_free(host[i]);
        rt_free(grad[i]);
    }
    rt_free(R);
    rt_free(fwd);
}

static int dump_all(const char *path) {
    rt_h5_init();
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        fprintf(stderr, "test_ops: cannot create %s\n", path);
        return 1;
    }
    rt_graph *g = rt_graph_create(1 << 16, 16);
    int n = 0;
    for (int gi = 0; gi < NGROUPS; gi++)
        for (int k = 0; k < groups[gi].n; k++, n++) dump_case(g, file, &groups[gi].cases[k], gi, k);
    rt_graph_destroy(g);
    H5Fclose(file);
    printf("dumped %d cases to %s\n", n, path);
    return 0;
}

int main(int argc, char **argv) {
    rt_blas_pick_kernels(argv); /* the kernels the trainer runs */
    setvbuf(stdout, NULL, _IOLBF, 0);
    rt_rng rng;
    rt_rng_seed(&rng, SEED, 0);
    for (int gi = 0; gi < NGROUPS; gi++) {
        if (groups[gi].n < 0)
            for (groups[gi].n = 0; groups[gi].cases[groups[gi].n].name;) groups[gi].n++;
        for (int k = 0; k < groups[gi].n; k++) {
            tcase *c = &groups[gi].cases[k];
            /* softmax_ce: a class per row of logits; embedding: a table row per output row */
            if (c->op != RT_OP_SOFTMAX_CE && c->op != RT_OP_EMBEDDING) continue;
            bool ce = c->op == RT_OP_SOFTMAX_CE;
            int rows = ce ? c->in[0].shape[0] : c->out_shape[0], range = c->in[0].shape[ce ? 1 : 0];
            RT_CHECK(rows <= MAXROWS, "test: too many rows");
            for (int i = 0; i < rows; i++) c->labels[i] = (int32_t)rt_rng_below(&rng, (uint64_t)range);
        }
    }
    if (argc == 3 && strcmp(argv[1], "--dump") == 0) return dump_all(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_ops [--dump FILE.h5]\n");
        return 2;
    }

    check_table();
    rt_graph *g = rt_graph_create(1 << 12, 16); /* small on purpose: exercises arena growth */
    for (int gi = 0; gi < NGROUPS; gi++)
        for (int k = 0; k < groups[gi].n; k++)
            run_case(g, &groups[gi].cases[k], k + 1000 * gi);
    check_coverage();
    check_reshape_view(g);
    check_no_grad_inputs(g);
    rt_graph_destroy(g);

    return report_finish();
}
