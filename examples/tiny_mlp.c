/* tiny_mlp.c - a model defined in C against the installed libringtrain:
 * a two-layer MLP learns y = sin(3x) on synthetic points with AdamW, on the
 * same autograd core, modules and optimizer the trainer uses.
 * Build: make -C examples (or cc tiny_mlp.c $(pkg-config --cflags --libs ringtrain) -lm)
 * Prints the loss every 50 steps and exits 0 when it fell by 10x or more. */
#include <ringtrain/config.h>
#include <ringtrain/nn.h>
#include <ringtrain/ops.h>
#include <ringtrain/optim.h>

#include <math.h>
#include <stdio.h>

int main(void) {
    enum { N = 256, H = 64, STEPS = 300 };
    rt_params p;
    rt_params_init(&p, 4);
    rt_linear_mod l1, l2;
    rt_linear_mod_init(&l1, &p, "l1", 1, H, true);
    rt_linear_mod_init(&l2, &p, "l2", H, 1, true);
    rt_params_finalize(&p);
    rt_rng rng;
    rt_rng_seed(&rng, 42, 0);
    rt_linear_mod_reset(&l1, &rng);
    rt_linear_mod_reset(&l2, &rng);

    rt_config cfg = {0}; /* only the optimizer fields are read */
    cfg.optim.type = RT_OPTIM_ADAMW;
    cfg.optim.beta1 = 0.9;
    cfg.optim.beta2 = 0.999;
    cfg.optim.eps = 1e-8;
    cfg.optim.weight_decay = 0.0;
    rt_optim *opt = rt_optim_create(&cfg, p.total);
    rt_graph *g = rt_graph_create(1 << 20, 64);

    float xs[N], ys[N];
    for (int i = 0; i < N; i++) {
        xs[i] = 2.0f * rt_rng_uniform(&rng) - 1.0f;
        ys[i] = sinf(3.0f * xs[i]);
    }
    double first = 0, last = 0;
    for (int s = 0; s < STEPS; s++) {
        rt_graph_reset(g);
        int shape[2] = {N, 1};
        rt_tensor *x = rt_graph_tensor(g, 2, shape, false), *y = rt_graph_tensor(g, 2, shape, false);
        for (int i = 0; i < N; i++) x->data[i] = xs[i], y->data[i] = ys[i];
        rt_tensor *h = rt_tanh(g, rt_linear_mod_forward(g, &l1, x));
        rt_tensor *loss = rt_mse(g, rt_linear_mod_forward(g, &l2, h), y, 1.0f / N);
        rt_params_zero_grad(&p);
        rt_graph_backward(g, loss);
        rt_optim_step(opt, p.data, p.grad, 1e-2);
        if (s == 0) first = loss->data[0];
        last = loss->data[0];
        if (s % 50 == 0 || s == STEPS - 1) printf("step %3d loss %.5f\n", s, loss->data[0]);
    }
    printf("loss %.5f -> %.5f (%.0fx lower)\n", first, last, first / last);
    rt_graph_destroy(g);
    rt_optim_destroy(opt);
    rt_params_free(&p);
    return last * 10 <= first ? 0 : 1;
}
