/* custom_mlp.c - a model of your own, trained data-parallel with libringtrain.
 *
 * A two-layer perceptron on Fashion-MNIST (784 -> 128 -> ReLU -> 10), written
 * twice, as PyTorch lets you write it twice:
 *   - with modules: rt_linear_mod owns its weight and bias and their init,
 *     as torch.nn.Linear does;
 *   - with functional ops: rt_linear on tensors this program declares and
 *     initialises itself, as torch.nn.functional.linear.
 * Both record on the same tape and run the same kernels, so the two give
 * the same losses, bit for bit.
 *
 * Each rank reads its share of every global batch. The gradients are summed
 * by ringtrain's ring all-reduce, AdamW then takes the same step on every
 * replica, and rank 0 saves a ringtrain checkpoint that `ringtrain inspect`,
 * `ringtrain eval` and the infer example read.
 *
 * usage: mpirun -np N custom_mlp DATA.h5 OUT.h5 [--functional] [--steps S]
 */
#include <ringtrain/ringtrain.h>

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 784, HIDDEN = 128, CLASSES = 10, BATCH = 128 /* global */ };

/* The run as a ringtrain config: it sets AdamW and its schedule here, and,
 * stored in the checkpoint, lets every ringtrain verb rebuild this model
 * (a sequential model with the same parameter names and shapes). */
static const char *const config_fmt =
    "{\"model\": {\"type\": \"sequential\", \"input\": [784], \"layers\": ["
    " {\"name\": \"fc1\", \"type\": \"linear\", \"out\": 128}, {\"type\": \"relu\"},"
    " {\"name\": \"fc2\", \"type\": \"linear\", \"out\": 10}]},"
    " \"data\": {\"train\": \"%s\", \"test\": \"%s\", \"mean\": 0.2860, \"std\": 0.3530},"
    " \"optim\": {\"type\": \"adamw\", \"lr\": 1e-3, \"weight_decay\": 0.01,"
    "  \"schedule\": {\"type\": \"cosine\", \"warmup_steps\": 10}},"
    " \"train\": {\"global_batch\": 128, \"steps\": %d, \"seed\": 0}}";

typedef struct net {
    rt_params p;                  /* both forms keep their tensors in one arena */
    int functional;
    rt_linear_mod fc1, fc2;       /* the module form */
    rt_tensor *w1, *b1, *w2, *b2; /* the functional form: (128,784) (128) (10,128) (10) */
} net;

/* torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)), element by element. */
static void uniform_init(rt_tensor *t, int fan_in, rt_rng *rng) {
    float bound = 1.0f / sqrtf((float)fan_in);
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = (2.0f * rt_rng_uniform(rng) - 1.0f) * bound;
}

static void net_init(net *n, int functional, uint64_t seed) {
    rt_rng rng;
    rt_rng_seed(&rng, seed, 0);
    rt_params_init(&n->p, 4);
    n->functional = functional;
    if (!functional) {
        rt_linear_mod_init(&n->fc1, &n->p, "fc1", IN, HIDDEN, true);
        rt_linear_mod_init(&n->fc2, &n->p, "fc2", HIDDEN, CLASSES, true);
        rt_params_finalize(&n->p);
        rt_linear_mod_reset(&n->fc1, &rng);
        rt_linear_mod_reset(&n->fc2, &rng);
        return;
    }
    n->w1 = rt_params_add(&n->p, "fc1.weight", 2, (const int[]){HIDDEN, IN});
    n->b1 = rt_params_add(&n->p, "fc1.bias", 1, (const int[]){HIDDEN});
    n->w2 = rt_params_add(&n->p, "fc2.weight", 2, (const int[]){CLASSES, HIDDEN});
    n->b2 = rt_params_add(&n->p, "fc2.bias", 1, (const int[]){CLASSES});
    rt_params_finalize(&n->p);
    uniform_init(n->w1, IN, &rng);
    uniform_init(n->b1, IN, &rng);
    uniform_init(n->w2, HIDDEN, &rng);
    uniform_init(n->b2, HIDDEN, &rng);
}

/* x (b, 784) -> logits (b, 10) */
static rt_tensor *net_forward(const net *n, rt_graph *g, rt_tensor *x) {
    if (!n->functional)
        return rt_linear_mod_forward(g, &n->fc2, rt_relu(g, rt_linear_mod_forward(g, &n->fc1, x)));
    return rt_linear(g, rt_relu(g, rt_linear(g, x, n->w1, n->b1)), n->w2, n->b2);
}

static int by_row(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what) {
    fprintf(stderr, "custom_mlp: error: %s\n", what);
    MPI_Abort(MPI_COMM_WORLD, 2);
    return 2;
}

/* Trains `steps` steps; rank 0 prints each step's global mean loss. */
static int train(net *n, rt_config *cfg, rt_dataset *d, int steps, rt_optim *o) {
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    rt_ring *ring = rt_ring_create(MPI_COMM_WORLD, 100, n->p.train_total, 256 << 10, 60.0);
    rt_graph *g = rt_graph_create(64u << 20, 64);
    int64_t lo, hi, rows = rt_dataset_rows(d), per_epoch = rows / BATCH, epoch = -1;
    rt_shard_range(BATCH, rank, world, &lo, &hi);
    int64_t *perm = malloc((size_t)rows * sizeof *perm), *mine = malloc((size_t)(hi - lo) * sizeof *mine);
    int32_t *y = malloc((size_t)(hi - lo) * sizeof *y);
    double *scratch = malloc((size_t)world * sizeof *scratch);
    int rc = RT_OK;
    for (int s = 0; s < steps && rc == RT_OK; s++) {
        if (s / per_epoch != epoch) rt_epoch_order(perm, rows, 0, epoch = s / per_epoch, true);
        rt_graph_reset(g);
        rt_tensor *x = rt_graph_tensor(g, 2, (const int[]){(int)(hi - lo), IN}, false);
        /* this rank's rows of the step's batch, in file order (rt_dataset_read's rule) */
        memcpy(mine, perm + (s % per_epoch) * BATCH + lo, (size_t)(hi - lo) * sizeof *mine);
        qsort(mine, (size_t)(hi - lo), sizeof *mine, by_row);
        rc = rt_dataset_read(d, mine, hi - lo, x->data, y);
        if (rc) break;
        /* each rank's sum over its rows / the global batch: the ring's sum is the mean */
        rt_tensor *loss = rt_softmax_ce(g, net_forward(n, g, x), y, 1.0f / BATCH);
        rt_params_zero_grad(&n->p);
        rt_graph_backward(g, loss);
        double l = loss->data[0];
        rc = rt_ring_allreduce(ring, n->p.grad, n->p.train_total);
        if (!rc) rc = rt_ring_sum_f64(ring, &l, 1, scratch);
        if (!rc) rt_optim_step(o, n->p.data, n->p.grad, rt_lr_at(cfg, s, steps));
        if (!rc && rank == 0) printf("step %d loss %.9g (%a)\n", s + 1, l, l);
    }
    free(perm);
    free(mine);
    free(y);
    free(scratch);
    rt_graph_destroy(g);
    rt_ring_destroy(ring);
    return rc;
}

int main(int argc, char **argv) {
    const char *data = NULL, *out = NULL;
    int functional = 0, steps = 60;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--functional")) functional = 1;
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!data) data = argv[i];
        else if (!out) out = argv[i];
    }
    MPI_Init(&argc, &argv);
    if (!data || !out || steps < 1) {
        fprintf(stderr, "usage: mpirun -np N custom_mlp DATA.h5 OUT.h5 [--functional] [--steps S]\n");
        MPI_Finalize();
        return 2;
    }
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    char json[2048];
    snprintf(json, sizeof json, config_fmt, data, data, steps);
    rt_config *cfg;
    rt_dataset *d;
    if (rt_config_parse(json, "custom_mlp", NULL, 0, &cfg)) return fail(rt_errmsg());
    if (rt_dataset_open(data, "train", IN, CLASSES, &d)) return fail(rt_errmsg());
    rt_dataset_set_normalize(d, 0.2860f, 0.3530f);

    net n;
    net_init(&n, functional, 0);
    rt_optim *o = rt_optim_create(cfg, n.p.train_total);
    if (rank == 0)
        printf("custom_mlp: %s form, %zu parameters, %d ranks, %d steps of %d rows\n",
               functional ? "functional" : "module", n.p.train_total, world, steps, BATCH);
    int rc = train(&n, cfg, d, steps, o);
    if (rc) return fail(rt_errmsg());
    if (rank == 0) {
        char *resolved = rt_config_to_json(cfg);
        rt_ckpt_meta meta = {.step = steps, .epoch = steps / (rt_dataset_rows(d) / BATCH),
                             .world_size = world, .seed = 0, .optim_t = rt_optim_t(o),
                             .optim_type = "adamw", .config_json = resolved, .job_id = ""};
        rc = rt_ckpt_save(out, &n.p, rt_optim_m(o), rt_optim_v(o), &meta);
        rt_free(resolved);
        if (rc) return fail(rt_errmsg());
        printf("custom_mlp: saved %s\n", out);
    }
    rt_optim_destroy(o);
    rt_params_free(&n.p);
    rt_dataset_close(d);
    rt_config_free(cfg);
    MPI_Finalize();
    return 0;
}
