/* eval.c - evaluation over a split, and the `eval` verb. */
#include "ringtrain/eval.h"

#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/dist.h"
#include "ringtrain/events.h"
#include "ringtrain/feed.h"
#include "ringtrain/flight.h"
#include "ringtrain/rng.h"

#include <stdio.h>

#define EVAL_STREAM 0x6576616c00000000ULL /* "eval": never an epoch number */

struct rt_evaluator {
    rt_model *model;
    int64_t batch;     /* rows per evaluation batch */
    uint64_t seed;
    int64_t sample;    /* input elements per row */
    int64_t *rows;     /* (batch) */
    uint64_t *keys;    /* (batch) */
    int32_t *y;        /* (batch) labels */
    float *x;          /* (batch, sample) inputs */
    float *kp;         /* (batch, K, 2) keypoints of a keypoint model, or NULL */
};

rt_evaluator *rt_evaluator_create(rt_model *m, int64_t eval_batch, uint64_t seed) {
    rt_evaluator *e = rt_calloc(1, sizeof *e);
    e->model = m;
    e->batch = eval_batch;
    e->seed = seed;
    e->sample = rt_model_input_size(m);
    e->rows = rt_malloc(rt_mul_size((size_t)eval_batch, sizeof(int64_t)));
    e->keys = rt_malloc(rt_mul_size((size_t)eval_batch, sizeof(uint64_t)));
    e->y = rt_malloc(rt_mul_size((size_t)eval_batch, sizeof(int32_t)));
    e->x = rt_alloc_aligned(rt_mul_size(rt_mul_size((size_t)eval_batch, (size_t)e->sample), sizeof(float)));
    int K = rt_model_keypoints(m, NULL, NULL);
    if (K) e->kp = rt_malloc(rt_mul_size((size_t)eval_batch, 2 * sizeof(float) * (size_t)K));
    return e;
}

void rt_evaluator_destroy(rt_evaluator *e) {
    if (!e) return;
    rt_free(e->rows);
    rt_free(e->keys);
    rt_free(e->y);
    rt_free(e->x);
    rt_free(e->kp);
    rt_free(e);
}

int rt_evaluator_run(rt_evaluator *e, rt_graph *g, rt_dataset *d, MPI_Comm comm, rt_batch_stats *out) {
    int rank = 0, world = 1;
    rt_flight_phase_only(RT_PHASE_EVAL);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &world);
    int64_t n = rt_dataset_rows(d), lo, hi;
    rt_shard_range(n, rank, world, &lo, &hi);
    rt_batch_stats st = {0};
    bool was = rt_graph_grad_enabled(g);
    rt_graph_set_grad(g, false);
    int rc = RT_OK;
    for (int64_t i = lo; i < hi && !rc; i += e->batch) {
        int64_t m = hi - i < e->batch ? hi - i : e->batch;
        for (int64_t k = 0; k < m; k++) e->rows[k] = i + k;
        if ((rc = rt_dataset_read(d, e->rows, m, e->x, e->y))) break;
        if (e->kp) rt_dataset_keypoints(d, e->rows, m, e->kp);
        rt_graph_reset(g);
        rt_tensor x = {0};
        int shape[2] = {(int)m, (int)e->sample};
        rt_tensor_set_shape(&x, 2, shape);
        x.data = e->x;
        /* evaluation draws (dequantisation, flow noise) are the same every time */
        for (int64_t k = 0; k < m; k++) e->keys[k] = rt_row_key(e->seed, EVAL_STREAM, i + k);
        rt_model_batch mb = {.x = &x, .y = e->y, .kp = e->kp, .keys = e->keys,
                             .quantized = rt_dataset_quantized(d), .train = false};
        rt_model_loss(e->model, g, &mb, 1.0f, &st);
    }
    rt_graph_set_grad(g, was);
    /* a rank whose read failed must not leave the others in a different collective */
    if ((rc = rt_dist_agree(rc, comm))) return rc;
    double sum[7] = {st.loss_sum,   (double)st.correct,    (double)st.count,     st.kp_err,
                     (double)st.kp_within2, (double)st.kp_within4, (double)st.kp_points};
    if ((rc = rt_dist_sum(sum, 7, comm))) return rc;
    *out = (rt_batch_stats){.loss_sum = sum[0],
                            .correct = (int64_t)sum[1],
                            .count = (int64_t)sum[2],
                            .kp_err = sum[3],
                            .kp_within2 = (int64_t)sum[4],
                            .kp_within4 = (int64_t)sum[5],
                            .kp_points = (int64_t)sum[6]};
    return RT_OK;
}

/* ---- the eval verb ---- */

static void print_result(const char *ckpt, const char *split, const char *weights, const rt_dataset *d,
                         const rt_model *m, const rt_batch_stats *st) {
    rt_metric met[RT_MAX_METRICS];
    rt_event *e = rt_event_new("eval");
    rt_event_str(e, "checkpoint", ckpt);
    rt_event_str(e, "split", split);
    rt_event_str(e, "weights", weights);
    rt_event_num(e, "rows", (double)rt_dataset_rows(d));
    rt_event_metrics(e, split, met, rt_model_metrics(m, st, met));
    rt_event_metrics(e, NULL, met, rt_model_info(m, met));
    rt_event_emit(e, stdout, NULL);
}

int rt_eval_checkpoint(const char *ckpt, const char *data, const char *split, MPI_Comm comm) {
    return rt_eval_checkpoint_weights(ckpt, data, split, NULL, comm);
}

int rt_eval_checkpoint_weights(const char *ckpt, const char *data, const char *split, const char *weights,
                               MPI_Comm comm) {
    rt_config *cfg = NULL;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    int rc = rt_ckpt_config(ckpt, &cfg);
    rt_model *m = NULL;
    rt_dataset *d = NULL;
    const char *used = "params";
    if (!rc) {
        m = rt_model_create(cfg);
        rc = rt_ckpt_load_weights(ckpt, rt_model_params(m), weights, &used);
    }
    if (!rc) rc = rt_feed_open_split(cfg, m, data ? data : cfg->data.test, split, &d);
    rc = rt_dist_agree(rc, comm);
    if (!rc) {
        rt_evaluator *e = rt_evaluator_create(m, cfg->train.eval_batch, cfg->train.seed);
        rt_graph *g = rt_graph_create(16u << 20, 256);
        rt_batch_stats st;
        rc = rt_evaluator_run(e, g, d, comm, &st);
        if (!rc && rank == 0) print_result(ckpt, split, used, d, m, &st);
        rt_graph_destroy(g);
        rt_evaluator_destroy(e);
    }
    rt_dataset_close(d);
    rt_model_destroy(m);
    rt_config_free(cfg);
    return rc;
}
