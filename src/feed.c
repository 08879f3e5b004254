/* feed.c - one rank's training data: row orders, micro-batch slices, read-ahead. */
#include "ringtrain/feed.h"

#include "ringtrain/autograd.h"
#include "ringtrain/common.h"
#include "ringtrain/flight.h"
#include "ringtrain/hooks.h"
#include "ringtrain/model.h"
#include "ringtrain/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rt_feed {
    const rt_config *cfg;
    int rank, world;
    rt_dataset *train, *test;
    int64_t sample;          /* input elements per row */
    int K;                   /* keypoints per row (keypoint models), else 0 */
    int64_t B, A;            /* global batch, micro-batches per step */
    int64_t steps_per_epoch, total_steps;
    int64_t *perm[2];        /* (train rows) orders of two consecutive epochs */
    int64_t perm_epoch[2];   /* which epoch each holds, -1 for none */
    rt_loader *loader;
    int64_t queued_step, queued_k; /* the micro-batch at the head of the loader's queue, or -1 */
    int64_t *rows;           /* (local_max) the rows of the micro-batch being queued */
    uint64_t *keys;          /* (local_max) the random key of each row handed out */
    float *kp;               /* (local_max, K, 2) the keypoints of the batch handed out, or NULL */
    double bytes;            /* resident memory of the data path */
    FILE *trace;             /* RINGTRAIN_TRACE_ROWS: the rows this rank reads, per step */
};

/* The samples stay in the file (each batch is read from it): what the data
 * path holds is per row, labels (4 B), keypoints (8 B each) and two epoch
 * orders (16 B), plus batch buffers: three loader slots, one evaluation
 * batch, the row lists and keys of each (16 B a row), and the uint8 staging
 * of the larger. */
static double path_bytes(const rt_feed *f, int64_t local_max, int64_t n_train, int64_t n_test) {
    int64_t eval_rows = f->cfg->train.eval_batch, xrows = local_max > eval_rows ? local_max : eval_rows;
    double row_bytes = (double)f->sample * sizeof(float), kp = 8.0 * f->K;
    return (20.0 + kp) * (double)n_train + (4.0 + kp) * (double)n_test +
           3.0 * (double)local_max * (row_bytes + 12.0) + (double)(local_max + eval_rows) * kp +
           (double)eval_rows * (row_bytes + 4.0) + 16.0 * (double)(local_max + eval_rows) +
           (double)xrows * (double)f->sample;
}

static int check_sizes(rt_feed *f, int64_t *local_max) {
    const rt_config *c = f->cfg;
    int64_t n = rt_dataset_rows(f->train), lo, hi;
    if (n < f->B)
        return rt_err(RT_EBADINPUT, "%s: train.global_batch: %lld is larger than the %lld training rows", c->path,
                      (long long)f->B, (long long)n);
    if (f->B < f->world * f->A)
        return rt_err(RT_EBADINPUT, "%s: train.global_batch: %lld rows cannot feed %d ranks x %lld micro-batches",
                      c->path, (long long)f->B, f->world, (long long)f->A);
    rt_shard_range(f->B, 0, f->world, &lo, &hi);
    *local_max = (hi - lo + f->A - 1) / f->A + 1;
    int64_t n_test = f->test ? rt_dataset_rows(f->test) : 0;
    f->bytes = path_bytes(f, *local_max, n, n_test);
    if (c->data.memory_budget_mb > 0 && f->bytes > c->data.memory_budget_mb * 1048576.0)
        return rt_err(RT_EBADINPUT,
                      "%s: data.memory_budget_mb: %g MB is less than the %.1f MB the data path needs per rank "
                      "(20 B per training row x %lld, 4 B per test row x %lld, batch buffers)",
                      c->path, c->data.memory_budget_mb, f->bytes / 1048576.0, (long long)n, (long long)n_test);
    return RT_OK;
}

int rt_feed_complete_config(rt_config *c) {
    int k = 0, rc = RT_OK;
    if (rt_model_cfg_needs_classes(c)) {
        rc = rt_dataset_num_classes(c->data.train, &k);
        if (!rc) rc = rt_model_cfg_set_classes(c, k, c->data.train);
    }
    return rc;
}

int rt_feed_open_split(const rt_config *c, const rt_model *m, const char *path, const char *split,
                       rt_dataset **out) {
    int w, h, K = rt_model_keypoints(m, &w, &h);
    int rc = rt_dataset_open(path, split, rt_model_input_size(m), rt_model_num_classes(m), out);
    if (!rc && K) rc = rt_dataset_load_keypoints(*out, K, w, h);
    if (rc) {
        rt_dataset_close(*out);
        *out = NULL;
        return rc;
    }
    rt_dataset_set_normalize(*out, (float)c->data.mean, (float)c->data.std);
    return RT_OK;
}

int rt_feed_create(const rt_config *c, const rt_model *m, int rank, int world, rt_feed **out) {
    *out = NULL;
    rt_feed *f = rt_calloc(1, sizeof *f);
    f->cfg = c;
    f->rank = rank;
    f->world = world;
    f->sample = rt_model_input_size(m);
    f->K = rt_model_keypoints(m, NULL, NULL);
    f->B = c->train.global_batch;
    f->A = c->optim.accum_steps;
    f->queued_step = f->queued_k = -1;
    f->perm_epoch[0] = f->perm_epoch[1] = -1;
    int64_t local_max = 0;
    int rc = rt_feed_open_split(c, m, c->data.train, "train", &f->train);
    if (!rc && c->data.test[0]) rc = rt_feed_open_split(c, m, c->data.test, "test", &f->test);
    if (!rc) rc = check_sizes(f, &local_max);
    if (rc) {
        rt_feed_destroy(f);
        return rc;
    }
    int64_t n = rt_dataset_rows(f->train);
    f->steps_per_epoch = n / f->B;
    f->total_steps = c->train.steps ? c->train.steps : c->train.epochs * f->steps_per_epoch;
    for (int i = 0; i < 2; i++) f->perm[i] = rt_malloc(rt_mul_size((size_t)n, sizeof(int64_t)));
    f->rows = rt_malloc(rt_mul_size((size_t)local_max, sizeof(int64_t)));
    f->keys = rt_malloc(rt_mul_size((size_t)local_max, sizeof(uint64_t)));
    if (f->K) f->kp = rt_malloc(rt_mul_size((size_t)local_max, 2 * sizeof(float) * (size_t)f->K));
    f->loader = rt_loader_create(f->train, local_max);
    const char *trace = rt_hooks_get()->trace_rows;
    if (trace) {
        char p[RT_PATH_MAX];
        rt_fmt(p, sizeof p, "%s.rank%d", trace, rank);
        f->trace = fopen(p, "w");
    }
    *out = f;
    return RT_OK;
}

void rt_feed_destroy(rt_feed *f) {
    if (!f) return;
    rt_loader_destroy(f->loader); /* first: it may still be reading */
    if (f->trace) {
        fprintf(f->trace, "rows_read %lld\n", (long long)rt_dataset_rows_read(f->train));
        fclose(f->trace);
    }
    rt_dataset_close(f->train);
    rt_dataset_close(f->test);
    rt_free(f->perm[0]);
    rt_free(f->perm[1]);
    rt_free(f->rows);
    rt_free(f->keys);
    rt_free(f->kp);
    rt_free(f);
}

int64_t rt_feed_steps_per_epoch(const rt_feed *f) { return f->steps_per_epoch; }
int64_t rt_feed_total_steps(const rt_feed *f) { return f->total_steps; }
rt_dataset *rt_feed_test(rt_feed *f) { return f->test; }
bool rt_feed_quantized(const rt_feed *f) { return rt_dataset_quantized(f->train); }
double rt_feed_bytes(const rt_feed *f) { return f->bytes; }

/* Epoch e's row order, computed once into one of two buffers (the loader may
 * already be reading the next epoch while this one finishes). */
static const int64_t *epoch_order(rt_feed *f, int64_t epoch) {
    int64_t *p = f->perm[epoch % 2];
    if (f->perm_epoch[epoch % 2] != epoch) {
        rt_epoch_order(p, rt_dataset_rows(f->train), f->cfg->train.seed, epoch, f->cfg->data.shuffle);
        f->perm_epoch[epoch % 2] = epoch;
    }
    return p;
}

/* Queues this rank's rows of micro-batch k of `step`: its slice [lo, hi) of
 * the step's B rows, split evenly into A parts. */
static void submit(rt_feed *f, int64_t step, int64_t k) {
    int64_t lo, hi;
    rt_shard_range(f->B, f->rank, f->world, &lo, &hi);
    int64_t n = hi - lo, a = lo + (k * n) / f->A, b = lo + ((k + 1) * n) / f->A;
    const int64_t *order = epoch_order(f, step / f->steps_per_epoch);
    int64_t base = (step % f->steps_per_epoch) * f->B;
    for (int64_t i = a; i < b; i++) f->rows[i - a] = order[base + i];
    if (f->trace) {
        fprintf(f->trace, "%lld %lld:", (long long)step, (long long)k);
        for (int64_t i = 0; i < b - a; i++) fprintf(f->trace, " %lld", (long long)f->rows[i]);
        fputc('\n', f->trace);
    }
    rt_loader_submit(f->loader, f->rows, b - a);
    f->queued_step = step;
    f->queued_k = k;
}

int rt_feed_next(rt_feed *f, int64_t step, int64_t k, rt_batch *b, const uint64_t **keys, double *wait) {
    rt_flight_phase(RT_PHASE_DATA, step + 1);
    if (f->queued_step != step || f->queued_k != k) submit(f, step, k);
    double w0 = rt_now();
    int rc = rt_loader_next(f->loader, b);
    *wait = rt_now() - w0;
    f->queued_step = f->queued_k = -1;
    /* read the next micro-batch, of this step or the next, while this one computes */
    if (k + 1 < f->A)
        submit(f, step, k + 1);
    else if (step + 1 < f->total_steps)
        submit(f, step + 1, 0);
    rt_flight_phase_only(RT_PHASE_FORWARD);
    const rt_hooks *h = rt_hooks_get();
    if (!rc && h->read_rank == f->rank && h->read_step == step + 1)
        rc = rt_err(RT_ERUNTIME, "%s: train/x: reading step %lld's rows failed (RINGTRAIN_FAULT_READ)",
                    f->cfg->data.train, (long long)step + 1);
    if (rc) return rc;
    uint64_t epoch = (uint64_t)(step / f->steps_per_epoch);
    for (int64_t i = 0; i < b->n; i++) f->keys[i] = rt_row_key(f->cfg->train.seed, epoch, b->rows[i]);
    *keys = f->keys;
    if (f->kp) {
        rt_dataset_keypoints(f->train, b->rows, b->n, f->kp);
        b->kp = f->kp;
    }
    return RT_OK;
}

static int cmp_row(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int rt_feed_data_init(rt_feed *f, rt_model *m) {
    if (!rt_model_needs_data_init(m)) return RT_OK;
    /* rank 0 alone reads the whole first global batch (B rows, not its slice), in reads of eval_batch rows */
    int64_t B = f->B, D = f->sample, chunk = f->cfg->train.eval_batch;
    int64_t *rows = rt_malloc(rt_mul_size((size_t)B, sizeof(int64_t)));
    memcpy(rows, epoch_order(f, 0), (size_t)B * sizeof(int64_t));
    qsort(rows, (size_t)B, sizeof *rows, cmp_row); /* the reader wants them in order */
    int shape[2] = {(int)B, (int)D};
    rt_tensor x = {.data = rt_malloc(rt_mul_size((size_t)(B * D), sizeof(float)))};
    rt_tensor_set_shape(&x, 2, shape);
    int32_t *y = rt_malloc(rt_mul_size((size_t)B, sizeof(int32_t)));
    uint64_t *keys = rt_malloc(rt_mul_size((size_t)B, sizeof(uint64_t)));
    int rc = RT_OK;
    for (int64_t r = 0; r < B && !rc; r += chunk)
        rc = rt_dataset_read(f->train, rows + r, B - r < chunk ? B - r : chunk, x.data + r * D, y + r);
    if (rc) rc = rt_err_prefix(rc, "model.scale_init \"data\": reading the first batch");
    for (int64_t i = 0; i < B; i++) keys[i] = rt_row_key(f->cfg->train.seed, 0, rows[i]);
    rt_model_batch b = {.x = &x, .y = y, .keys = keys, .quantized = rt_dataset_quantized(f->train)};
    rt_graph *g = rc ? NULL : rt_graph_create(64u << 20, 256);
    if (!rc) rc = rt_model_data_init(m, g, &b);
    rt_graph_destroy(g);
    rt_free(x.data);
    rt_free(keys);
    rt_free(y);
    rt_free(rows);
    return rc;
}
