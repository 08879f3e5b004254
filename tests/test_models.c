/* test_models.c - the seed models' own invariants, computed independently:
 *
 *   NICE   x -> z -> x inverts within 1e-5 (D = 784, 4 couplings, random
 *          weights and scales); log|det dz/dx| from a finite-difference
 *          Jacobian (D = 8, Gaussian elimination in double) equals sum(s);
 *          the model's NLL equals -(sum log p(z) + sum s) recomputed here
 *          from z for both priors; sampling is seeded.
 *   flow   the loss is the per-element MSE to (x1 - x0) averaged over rows,
 *          recomputed here from the same row keys; N-independence: the loss
 *          of a batch split in two equals the whole batch's.
 *   CNN    the sequential parser's shape inference matches the forward pass;
 *          relu then max-pool, which the model runs as max-pool then relu,
 *          gives the written order's logits and gradients, bit for bit.
 *   heads  each keypoint head's loss (L1 regression; SimCC's log-softmax and
 *          KL; RLE's Laplace term, sigmoid scale and RealNVP with its
 *          log-determinant) against central differences, for the features
 *          and entries of every parameter tensor; and the RLE flow's
 *          log-density alone against central differences in e.
 *
 * Output: "ok ..."/"FAIL ..." lines and "N passed, M failed". */
#include "../src/models/heads.h"
#include "ringtrain/blas.h"
#include "ringtrain/ops.h"
#include "ringtrain/common.h"
#include "report.h"
#include "ringtrain/config.h"
#include "ringtrain/model.h"
#include "ringtrain/rng.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static rt_model *make(const char *json) {
    rt_config *c = NULL;
    int rc = rt_config_parse(json, "test", NULL, 0, &c);
    RT_CHECK(rc == RT_OK, "config: %s", rt_errmsg());
    rt_model *m = rt_model_create(c);
    rt_config_free(c);
    return m;
}

/* Random log-scales, so the scaling layer is not the identity. */
static void randomise_scale(rt_model *m, rt_rng *r, float amp) {
    rt_params *p = rt_model_params(m);
    int i = rt_params_find(p, "scale");
    RT_CHECK(i >= 0, "no scale parameter");
    for (int64_t k = 0; k < p->items[i].t.numel; k++) p->items[i].t.data[k] = amp * rt_rng_normal(r);
}

/* ---- NICE ---- */

static void nice_inversion(void) {
    rt_model *m = make("{\"model\":{\"type\":\"nice\",\"input\":[784],\"couplings\":4,\"hidden\":200,"
                       "\"hidden_layers\":3}}");
    rt_rng r;
    rt_rng_seed(&r, 7, 1);
    randomise_scale(m, &r, 0.5f);
    int64_t n = 16, D = 784;
    float *x = rt_malloc((size_t)(n * D) * sizeof(float)), *z = rt_malloc((size_t)(n * D) * sizeof(float));
    float *back = rt_malloc((size_t)(n * D) * sizeof(float));
    for (int64_t i = 0; i < n * D; i++) x[i] = rt_rng_uniform(&r);
    rt_graph *g = rt_graph_create(1 << 20, 256);
    rt_model_nice_transform(m, g, n, x, z, false);
    rt_model_nice_transform(m, g, n, z, back, true);
    double err = 0.0, moved = 0.0;
    for (int64_t i = 0; i < n * D; i++) {
        err = fmax(err, fabs((double)back[i] - (double)x[i]));
        moved = fmax(moved, fabs((double)z[i] - (double)x[i]));
    }
    report(err <= 1e-5 && moved > 0.1, "nice inversion x->z->x D=784 4 couplings: max|x'-x|=%.2g (tol 1e-5), max|z-x|=%.3g",
           err, moved);

    /* sampling is z ~ prior pushed through the inverse: seeded, finite */
    float *s1 = rt_malloc((size_t)(4 * D) * sizeof(float)), *s2 = rt_malloc((size_t)(4 * D) * sizeof(float));
    rt_model_sample(m, g, 4, 42, 0, s1);
    rt_model_sample(m, g, 4, 42, 0, s2);
    bool finite = true;
    for (int64_t i = 0; i < 4 * D; i++) finite = finite && isfinite(s1[i]);
    report(finite && memcmp(s1, s2, (size_t)(4 * D) * sizeof(float)) == 0,
           "nice sample seeded: same seed, same bits; all finite");
    rt_free(s1);
    rt_free(s2);
    rt_graph_destroy(g);
    rt_free(x);
    rt_free(z);
    rt_free(back);
    rt_model_destroy(m);
}

/* log|det A| of an n x n matrix (double, partial pivoting). */
static double log_abs_det(double *a, int n) {
    double s = 0.0;
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c])) p = r;
        for (int k = 0; k < n; k++) {
            double t = a[c * n + k];
            a[c * n + k] = a[p * n + k];
            a[p * n + k] = t;
        }
        s += log(fabs(a[c * n + c]));
        for (int r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (int k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
        }
    }
    return s;
}

static void nice_logdet(void) {
    enum { D = 8 };
    rt_model *m = make("{\"model\":{\"type\":\"nice\",\"input\":[8],\"couplings\":4,\"hidden\":16,"
                       "\"hidden_layers\":2,\"prior\":\"normal\"}}");
    rt_rng r;
    rt_rng_seed(&r, 9, 2);
    randomise_scale(m, &r, 0.7f);
    rt_graph *g = rt_graph_create(1 << 16, 256);
    float x[D], zp[D], zm[D];
    for (int i = 0; i < D; i++) x[i] = rt_rng_uniform(&r);
    double J[D * D];
    const double eps = 1e-3; /* the couplings are piecewise linear (ReLU): differences are exact off kinks */
    for (int j = 0; j < D; j++) {
        float keep = x[j];
        x[j] = (float)(keep + eps);
        double xp = x[j];
        rt_model_nice_transform(m, g, 1, x, zp, false);
        x[j] = (float)(keep - eps);
        double xm = x[j];
        rt_model_nice_transform(m, g, 1, x, zm, false);
        x[j] = keep;
        for (int i = 0; i < D; i++) J[i * D + j] = ((double)zp[i] - (double)zm[i]) / (xp - xm);
    }
    double num = log_abs_det(J, D), ana = rt_model_nice_logdet(m);
    report(fabs(num - ana) <= 1e-2 * fmax(1.0, fabs(ana)),
           "nice log-det: finite-difference Jacobian log|det| %.5f vs sum(s) %.5f (tol 1e-2)", num, ana);

    /* the NLL the model trains on, recomputed from z here (normal prior) */
    float xb[3 * D], z[3 * D];
    for (int i = 0; i < 3 * D; i++) xb[i] = rt_rng_uniform(&r);
    rt_model_nice_transform(m, g, 3, xb, z, false);
    double want = 0.0;
    for (int i = 0; i < 3 * D; i++) want += 0.5 * (double)z[i] * z[i] + 0.5 * log(2.0 * M_PI);
    want -= 3.0 * ana;
    rt_graph_reset(g);
    rt_graph_set_grad(g, false);
    int shape[2] = {3, D};
    rt_tensor *xt = rt_graph_tensor(g, 2, shape, false);
    memcpy(xt->data, xb, sizeof xb);
    uint64_t keys[3] = {1, 2, 3};
    rt_model_batch b = {.x = xt, .keys = keys, .quantized = false, .train = false};
    rt_batch_stats st = {0};
    rt_model_loss(m, g, &b, 1.0f, &st);
    report(fabs(st.loss_sum - want) <= 1e-4 * fabs(want) + 1e-3 && st.count == 3,
           "nice NLL (normal prior) %.6f vs -(sum log N(z) + 3 sum s) from z %.6f", st.loss_sum, want);
    rt_graph_destroy(g);
    rt_model_destroy(m);
}

static void nice_logistic_nll(void) {
    enum { D = 6 };
    rt_model *m = make("{\"model\":{\"type\":\"nice\",\"input\":[6],\"couplings\":3,\"hidden\":8,"
                       "\"hidden_layers\":1}}");
    rt_rng r;
    rt_rng_seed(&r, 11, 3);
    randomise_scale(m, &r, 0.3f);
    rt_graph *g = rt_graph_create(1 << 16, 256);
    float xb[2 * D], z[2 * D];
    for (int i = 0; i < 2 * D; i++) xb[i] = rt_rng_uniform(&r);
    rt_model_nice_transform(m, g, 2, xb, z, false);
    double want = -2.0 * rt_model_nice_logdet(m);
    for (int i = 0; i < 2 * D; i++) want += log1p(exp((double)z[i])) + log1p(exp(-(double)z[i]));
    rt_graph_reset(g);
    rt_graph_set_grad(g, false);
    int shape[2] = {2, D};
    rt_tensor *xt = rt_graph_tensor(g, 2, shape, false);
    memcpy(xt->data, xb, sizeof xb);
    uint64_t keys[2] = {5, 6};
    rt_model_batch b = {.x = xt, .keys = keys, .quantized = false, .train = false};
    rt_batch_stats st = {0};
    rt_model_loss(m, g, &b, 1.0f, &st);
    report(fabs(st.loss_sum - want) <= 1e-4 * fabs(want) + 1e-4,
           "nice NLL (logistic prior) %.6f vs sum softplus(z)+softplus(-z) - 2 sum s from z %.6f",
           st.loss_sum, want);
    rt_graph_destroy(g);
    rt_model_destroy(m);
}

/* ---- rectified flow ---- */

static double flow_loss(rt_model *m, rt_graph *g, const float *x, const uint64_t *keys, int n, int D) {
    rt_graph_reset(g);
    rt_graph_set_grad(g, false);
    int shape[2] = {n, D};
    rt_tensor *xt = rt_graph_tensor(g, 2, shape, false);
    memcpy(xt->data, x, (size_t)(n * D) * sizeof(float));
    rt_model_batch b = {.x = xt, .keys = keys, .train = false};
    rt_batch_stats st = {0};
    rt_model_loss(m, g, &b, 1.0f, &st);
    return st.loss_sum;
}

static void flow_split(void) {
    enum { N = 12, D = 2 };
    rt_model *m = make("{\"model\":{\"type\":\"rectified_flow\",\"input\":[2],\"hidden\":32,"
                       "\"hidden_layers\":2,\"time_embed\":8}}");
    rt_rng r;
    rt_rng_seed(&r, 13, 4);
    float x[N * D];
    uint64_t keys[N];
    for (int i = 0; i < N * D; i++) x[i] = rt_rng_normal(&r);
    for (int i = 0; i < N; i++) keys[i] = rt_row_key(0, 0, i);
    rt_graph *g = rt_graph_create(1 << 16, 256);
    double whole = flow_loss(m, g, x, keys, N, D);
    double parts = flow_loss(m, g, x, keys, 5, D) + flow_loss(m, g, x + 5 * D, keys + 5, N - 5, D);
    report(fabs(whole - parts) <= 1e-5 * fabs(whole),
           "flow loss of 12 rows %.7f = rows 0-4 + rows 5-11 %.7f (row keys, not ranks, pick the noise)",
           whole, parts);
    /* a different key changes the draw */
    keys[0] ^= 1;
    double other = flow_loss(m, g, x, keys, N, D);
    report(other != whole, "flow loss changes with a row key: %.7f vs %.7f", other, whole);

    float s1[8 * D], s2[8 * D];
    rt_model_sample(m, g, 8, 3, 10, s1);
    rt_model_sample(m, g, 8, 3, 10, s2);
    bool finite = true;
    for (int i = 0; i < 8 * D; i++) finite = finite && isfinite(s1[i]);
    report(finite && memcmp(s1, s2, sizeof s1) == 0, "flow sample (10 Euler steps) seeded and finite");
    rt_graph_destroy(g);
    rt_model_destroy(m);
}

/* ---- sequential CNN shapes ---- */

static void cnn_shapes(void) {
    rt_model *m = make("{\"model\":{\"input\":[1,28,28],\"layers\":["
                       "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":4,\"kernel\":3,\"padding\":1},"
                       "{\"type\":\"relu\"},{\"type\":\"maxpool2d\",\"kernel\":2},"
                       "{\"name\":\"c2\",\"type\":\"conv2d\",\"out\":6,\"kernel\":[3,2],\"stride\":2},"
                       "{\"type\":\"avgpool2d\",\"kernel\":3,\"stride\":1,\"padding\":1},"
                       "{\"type\":\"upsample\",\"scale\":2,\"mode\":\"bilinear\"},"
                       "{\"type\":\"pixel_unshuffle\",\"factor\":2},{\"type\":\"pixel_shuffle\",\"factor\":2},"
                       "{\"type\":\"layernorm\",\"name\":\"ln\"},{\"type\":\"dropout\",\"p\":0.2},"
                       "{\"type\":\"flatten\"},{\"name\":\"fc\",\"type\":\"linear\",\"out\":10}]}}");
    /* 28x28 -> conv pad 1: 28x28 -> pool: 14x14 -> conv (3,2) stride 2: 6x7 -> avg 3/1/1: 6x7
     * -> up x2: 12x14 -> unshuffle: 24 x 6x7 -> shuffle: 6 x 12x14 -> layernorm over 14 */
    rt_params *p = rt_model_params(m);
    int fc = rt_params_find(p, "fc.weight"), c2 = rt_params_find(p, "c2.weight"), ln = rt_params_find(p, "ln.weight");
    bool ok = fc >= 0 && c2 >= 0 && ln >= 0 && p->items[fc].t.shape[1] == 6 * 12 * 14 &&
              p->items[c2].t.shape[0] == 6 && p->items[c2].t.shape[1] == 4 &&
              p->items[c2].t.shape[2] == 3 && p->items[c2].t.shape[3] == 2 && p->items[ln].t.shape[0] == 14;
    rt_graph *g = rt_graph_create(1 << 20, 256);
    int shape[2] = {2, 784};
    rt_tensor *x = rt_graph_tensor(g, 2, shape, false);
    for (int i = 0; i < 2 * 784; i++) x->data[i] = (float)(i % 17) / 17.0f;
    rt_tensor *logits = rt_model_forward(m, g, x);
    ok = ok && logits->ndim == 2 && logits->shape[0] == 2 && logits->shape[1] == 10;
    report(ok, "cnn parser shapes: fc.weight [10, %d] (want 1008), c2.weight (6,4,3,2), logits (2,10)",
           fc >= 0 ? p->items[fc].t.shape[1] : -1);
    rt_graph_destroy(g);
    rt_model_destroy(m);
}

/* The sequential model runs relu then max-pool as max-pool then relu: the
 * logits and every parameter gradient must be bit-identical to the layers
 * applied in the written order through the functional ops. Inputs include
 * exact zeros and windows with no positive value. */
static void cnn_relu_pool_order(void) {
    rt_model *m = make("{\"model\":{\"input\":[2,9,10],\"layers\":["
                       "{\"name\":\"c\",\"type\":\"conv2d\",\"out\":5,\"kernel\":3,\"padding\":1},"
                       "{\"type\":\"relu\"},{\"type\":\"maxpool2d\",\"kernel\":2},"
                       "{\"type\":\"flatten\"},{\"name\":\"fc\",\"type\":\"linear\",\"out\":3}]}}");
    rt_params *p = rt_model_params(m);
    rt_rng r;
    rt_rng_seed(&r, 7, 0);
    for (size_t i = 0; i < p->total; i++) p->data[i] = 0.5f * rt_rng_normal(&r);
    int b = 3, in = 2 * 9 * 10;
    float *xs = rt_malloc((size_t)(b * in) * sizeof *xs);
    for (int i = 0; i < b * in; i++) xs[i] = i % 11 == 0 ? 0.0f : rt_rng_normal(&r) - 0.3f;
    float *logits[2], *grads[2];
    rt_graph *g = rt_graph_create(1 << 20, 64);
    for (int pass = 0; pass < 2; pass++) {
        rt_graph_reset(g);
        rt_graph_set_grad(g, true);
        rt_params_zero_grad(p);
        int shape[4] = {b, 2, 9, 10};
        rt_tensor *x = rt_graph_tensor(g, pass ? 4 : 2, pass ? shape : (int[]){b, in}, false);
        memcpy(x->data, xs, (size_t)(b * in) * sizeof *xs);
        rt_tensor *y;
        if (pass == 0) {
            y = rt_model_forward(m, g, x);
        } else {
            rt_conv2d_args a = {.stride = {1, 1}, .pad = {1, 1}, .dilation = {1, 1}};
            rt_tensor *h = rt_conv2d(g, x, &p->items[rt_params_find(p, "c.weight")].t,
                                     &p->items[rt_params_find(p, "c.bias")].t, &a);
            h = rt_flatten(g, rt_maxpool2d(g, rt_relu(g, h), 2, 2, 0));
            y = rt_linear(g, h, &p->items[rt_params_find(p, "fc.weight")].t,
                          &p->items[rt_params_find(p, "fc.bias")].t);
        }
        rt_graph_backward(g, rt_sum(g, rt_mul(g, y, y)));
        logits[pass] = rt_malloc((size_t)y->numel * sizeof(float));
        memcpy(logits[pass], y->data, (size_t)y->numel * sizeof(float));
        grads[pass] = rt_malloc(p->total * sizeof(float));
        memcpy(grads[pass], p->grad, p->total * sizeof(float));
    }
    double gnorm = 0.0;
    for (size_t i = 0; i < p->total; i++) gnorm += (double)grads[1][i] * grads[1][i];
    bool same = memcmp(logits[0], logits[1], (size_t)(b * 3) * sizeof(float)) == 0 &&
                memcmp(grads[0], grads[1], p->total * sizeof(float)) == 0;
    report(same && gnorm > 0.0, "cnn relu then max-pool: logits and %zu parameter gradients bit-identical "
           "to the written order (gradient norm %.4g)", p->total, sqrt(gnorm));
    for (int pass = 0; pass < 2; pass++) {
        rt_free(logits[pass]);
        rt_free(grads[pass]);
    }
    rt_free(xs);
    rt_graph_destroy(g);
    rt_model_destroy(m);
}

/* ---- keypoint heads ---- */

enum { KP_N = 3, KP_K = 2, KP_W = 4, KP_H = 3, KP_F = KP_W * KP_H };

typedef struct kp_case {
    const kp_head_def *head;
    void *state;
    rt_params p;
    rt_graph *g;
    float feat[KP_N * KP_F], kp[KP_N * KP_K * 2], pred[KP_N * KP_K * 2];
} kp_case;

/* The head's loss at scale 1/N; with grad, the gradients too (feat's into fgrad). */
static double kp_eval(kp_case *c, bool grad, float *fgrad) {
    rt_graph_reset(c->g);
    rt_graph_set_grad(c->g, grad);
    int shape[2] = {KP_N, KP_F};
    rt_tensor *ft = rt_graph_tensor(c->g, 2, shape, grad);
    memcpy(ft->data, c->feat, sizeof c->feat);
    kp_batch b = {.feat = ft, .kp = c->kp, .scale = 1.0f / KP_N, .pred = c->pred};
    rt_tensor *loss = c->head->loss(c->g, c->state, &b);
    if (grad) {
        rt_params_zero_grad(&c->p);
        rt_graph_backward(c->g, loss);
        memcpy(fgrad, ft->grad, sizeof c->feat);
    }
    return loss->data[0];
}

/* 1e-4 + 1e-3 |num|, plus the float rounding of a loss of size |loss| over 2 eps */
static double fd_tol(double num, double loss, double eps) {
    return 1e-4 + 1e-3 * fabs(num) + 8.0 * fabs(loss) * FLT_EPSILON / (2.0 * eps);
}

/* Central differences of the loss in v[k] against the analytic a. */
static void kp_fd(kp_case *c, float *v, int64_t k, double a, double eps, double *worst, int *bad) {
    float x0 = v[k];
    v[k] = (float)(x0 + eps);
    double lp = kp_eval(c, false, NULL);
    v[k] = (float)(x0 - eps);
    double lm = kp_eval(c, false, NULL);
    v[k] = x0;
    double num = (lp - lm) / (2.0 * eps), err = fabs(num - a) / fd_tol(num, lp, eps);
    *worst = err > *worst ? err : *worst;
    *bad += err > 1.0;
}

static void kp_head_gradcheck(const kp_head_def *head) {
    kp_case c = {.head = head, .g = rt_graph_create(4u << 20, 256)};
    kp_arch a = {.keypoints = KP_K, .simcc_split = 2.0, .simcc_sigma = 1.5};
    rt_params_init(&c.p, head->nparams);
    c.state = head->declare(&c.p, KP_F, KP_W, KP_H, &a);
    rt_params_finalize(&c.p);
    rt_rng r;
    rt_rng_seed(&r, 7, 0x6b70);
    for (int i = 0; i < c.p.count; i++) { /* N(0, 1 / fan_in) weights, N(0, 0.1^2) biases */
        const rt_tensor *t = &c.p.items[i].t;
        float amp = t->ndim == 2 ? 0.5f / sqrtf((float)t->shape[1]) : 0.1f;
        for (int64_t k = 0; k < t->numel; k++) t->data[k] = amp * rt_rng_normal(&r);
        /* the flow's hidden units: half well above their LeakyReLU kink and half
         * well below, so central differences never straddle one (1,536 of them
         * a row otherwise lie within reach of eps) */
        const char *name = c.p.items[i].name;
        size_t len = strlen(name);
        if (strncmp(name, "head.flow.", 10) == 0 && len > 7 && strcmp(name + len - 7, ".4.bias") != 0 &&
            strcmp(name + len - 5, ".bias") == 0)
            for (int64_t k = 0; k < t->numel; k++) t->data[k] = k % 2 ? 4.0f : -4.0f;
    }
    for (int i = 0; i < KP_N * KP_F; i++) c.feat[i] = rt_rng_normal(&r);
    /* targets away from the prediction, so no |.| is near its kink within eps */
    kp_eval(&c, false, NULL);
    for (int i = 0; i < KP_N * KP_K * 2; i++) {
        float side = i % 2 ? KP_H : KP_W, off = (0.15f + 0.3f * rt_rng_uniform(&r)) * side;
        c.kp[i] = c.pred[i] + (rt_rng_uniform(&r) < 0.5f ? -off : off);
    }
    float fgrad[KP_N * KP_F];
    double loss = kp_eval(&c, true, fgrad), worst = 0.0;
    float *pgrad = rt_malloc(c.p.total * sizeof(float));
    memcpy(pgrad, c.p.grad, c.p.total * sizeof(float));
    int bad = 0, checked = 0;
    for (int64_t k = 0; k < KP_N * KP_F; k++, checked++) kp_fd(&c, c.feat, k, fgrad[k], 3e-3, &worst, &bad);
    for (int i = 0; i < c.p.count; i++) { /* 4 entries of every tensor */
        const rt_param *it = &c.p.items[i];
        for (int j = 0; j < 4; j++, checked++) {
            int64_t k = (int64_t)it->offset + (int64_t)(rt_rng_uniform(&r) * (float)it->t.numel) % it->t.numel;
            kp_fd(&c, c.p.data, k, pgrad[k], 3e-3, &worst, &bad);
        }
    }
    report(bad == 0 && isfinite(loss), "%s head: loss %.4g; %d central differences (features and every one of "
           "%d parameter tensors) within 1e-4+1e-3*|num| (+ the loss's rounding): worst err/tol %.3f", head->name, loss, checked,
           c.p.count, worst);
    if (strcmp(head->name, "rle") == 0) {
        /* the flow alone: d sum log G(e) / d e */
        int shape[2] = {8, 2};
        float e[16], eg[16];
        for (int i = 0; i < 16; i++) e[i] = 1.5f * rt_rng_normal(&r);
        double wd = 0.0;
        int bd = 0;
        for (int k = -1; k < 16; k++) {
            for (int s = -1; s <= 1; s += 2) {
                rt_graph_reset(c.g);
                rt_graph_set_grad(c.g, k < 0);
                rt_tensor *et = rt_graph_tensor(c.g, 2, shape, k < 0);
                memcpy(et->data, e, sizeof e);
                if (k >= 0) et->data[k] += (float)(s * 1e-2);
                rt_tensor *lp = rt_sum(c.g, kp_rle_log_prob(c.g, c.state, et));
                if (k < 0) {
                    rt_graph_backward(c.g, lp);
                    memcpy(eg, et->grad, sizeof eg);
                    break;
                }
                static double up;
                if (s < 0) {
                    up = lp->data[0];
                } else {
                    double num = ((double)lp->data[0] - up) / 2e-2;
                    double err = fabs(num - eg[k]) / fd_tol(num, up, 1e-2);
                    wd = err > wd ? err : wd;
                    bd += err > 1.0;
                }
            }
        }
        report(bd == 0, "rle flow: d log G(e) / d e (6 couplings and their log-det) against 16 central differences: "
               "worst err/tol %.3f", wd);
    }
    rt_free(pgrad);
    rt_free(c.state);
    rt_params_free(&c.p);
    rt_graph_destroy(c.g);
}

int main(int argc, char **argv) {
    (void)argc;
    rt_blas_pick_kernels(argv); /* the kernels the trainer runs */
    setvbuf(stdout, NULL, _IOLBF, 0);
    nice_inversion();
    nice_logdet();
    nice_logistic_nll();
    flow_split();
    cnn_shapes();
    cnn_relu_pool_order();
    for (int i = 1; i < rt_kp_nheads; i++) kp_head_gradcheck(rt_kp_heads[i]);
    return report_finish();
}
