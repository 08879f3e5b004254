/* infer.c - load a ringtrain checkpoint and classify with it.
 *
 * The checkpoint carries its resolved config, so the model is rebuilt from
 * it (rt_ckpt_config, rt_model_create) and its weights are loaded by name
 * and shape (rt_ckpt_load_params). The test split is then run through the
 * model on a tape with gradients off, a batch at a time; the program prints
 * the accuracy and the mean cross-entropy, and the first rows' predictions.
 * Any classifier checkpoint works: one from `ringtrain train`, or one that
 * the custom_mlp example saved. No MPI launcher is needed.
 *
 * usage: infer CHECKPOINT.h5 [DATA.h5] [--show N]
 */
#include <ringtrain/ringtrain.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 500 };

static int fail(const char *what) {
    fprintf(stderr, "infer: error: %s\n", what);
    return 2;
}

/* Row r's class: the first largest logit. */
static int argmax(const float *logits, int classes) {
    int best = 0;
    for (int c = 1; c < classes; c++)
        if (logits[c] > logits[best]) best = c;
    return best;
}

int main(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL;
    int show = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--show") && i + 1 < argc) show = atoi(argv[++i]);
        else if (!ckpt) ckpt = argv[i];
        else if (!data) data = argv[i];
    }
    if (!ckpt) {
        fprintf(stderr, "usage: infer CHECKPOINT.h5 [DATA.h5] [--show N]\n");
        return 2;
    }
    rt_config *cfg;
    if (rt_ckpt_config(ckpt, &cfg)) return fail(rt_errmsg());
    rt_model *m = rt_model_create(cfg);
    if (rt_model_task(m) != RT_TASK_CLASSIFY)
        return fail("the checkpoint's model is not a classifier");
    if (rt_ckpt_load_params(ckpt, rt_model_params(m))) return fail(rt_errmsg());
    rt_dataset *d;
    if (rt_feed_open_split(cfg, m, data ? data : cfg->data.test, "test", &d)) return fail(rt_errmsg());

    int classes = rt_model_num_classes(m);
    int64_t in = rt_model_input_size(m), rows = rt_dataset_rows(d), correct = 0;
    rt_graph *g = rt_graph_create(256u << 20, 256);
    rt_graph_set_grad(g, false);
    int64_t *idx = malloc(BATCH * sizeof *idx);
    int32_t *y = malloc(BATCH * sizeof *y);
    double loss = 0;
    for (int64_t r0 = 0; r0 < rows; r0 += BATCH) {
        int n = (int)(rows - r0 < BATCH ? rows - r0 : BATCH);
        for (int i = 0; i < n; i++) idx[i] = r0 + i;
        rt_graph_reset(g);
        rt_tensor *x = rt_graph_tensor(g, 2, (const int[]){n, (int)in}, false);
        if (rt_dataset_read(d, idx, n, x->data, y)) return fail(rt_errmsg());
        rt_tensor *logits = rt_model_forward(m, g, x);
        loss += rt_softmax_ce(g, logits, y, 1.0f)->data[0];
        for (int i = 0; i < n; i++) {
            int pred = argmax(logits->data + (size_t)i * classes, classes);
            correct += pred == y[i];
            if (r0 + i < show) printf("row %lld: class %d, label %d\n", (long long)(r0 + i), pred, y[i]);
        }
    }
    printf("infer: %s on %lld test rows: accuracy %.6f, loss %.6f\n", ckpt, (long long)rows,
           (double)correct / (double)rows, loss / (double)rows);
    free(idx);
    free(y);
    rt_graph_destroy(g);
    rt_dataset_close(d);
    rt_model_destroy(m);
    rt_config_free(cfg);
    return 0;
}
