/* test_kp_dump.c - the C side of the keypoint heads' parity check
 * (tests/reference/kp_ref.py).
 *
 * Reads a file that `kp_ref.py init` wrote: attributes head, K, W, H, split
 * and sigma; /params/<name> (the head's parameters, ringtrain's names);
 * /inputs/feat (N, F = W H), /inputs/kp (N, K, 2) and, for rle, /inputs/e
 * (M, 2). Builds that head alone on F features, loads the parameters (the
 * one-line rule: every name and shape must match), and writes into the same
 * file the loss at scale 1/N (/out/loss), the predicted keypoints
 * (/out/pred), d loss / d every parameter (/grad/<name>) and d loss / d feat
 * (/grad_feat); for rle also the flow's log-density at e (/out/logp) and
 * d sum(logp) / d e (/grad_e).
 * usage: test_kp_dump FILE.h5 */
#include "../src/models/heads.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/h5util.h"
#include "ringtrain/ops.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *read_all(hid_t f, const char *name, int64_t *n) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    RT_CHECK(d >= 0, "cannot open %s", name);
    hid_t s = H5Dget_space(d);
    *n = H5Sget_simple_extent_npoints(s);
    float *buf = rt_malloc(rt_mul_size((size_t)*n, sizeof(float)));
    RT_CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "cannot read %s", name);
    H5Sclose(s);
    H5Dclose(d);
    return buf;
}

static double attr_num(hid_t f, const char *name) {
    double v = 0.0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    RT_CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0, "cannot read attribute %s", name);
    H5Aclose(a);
    return v;
}

static void write_f32(hid_t f, const char *name, int ndim, const int *shape, const float *v) {
    hsize_t dims[RT_MAX_DIMS], chunk[RT_MAX_DIMS];
    for (int i = 0; i < ndim; i++) dims[i] = chunk[i] = (hsize_t)shape[i];
    RT_CHECK(rt_h5_write_chunked(f, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ndim, dims, chunk, v) == RT_OK,
             "cannot write %s: %s", name, rt_errmsg());
}

static const kp_head_def *find_head(const char *name) {
    for (int i = 1; i < rt_kp_nheads; i++)
        if (strcmp(rt_kp_heads[i]->name, name) == 0) return rt_kp_heads[i];
    fprintf(stderr, "test_kp_dump: no head \"%s\"\n", name);
    exit(2);
}

/* The rle flow's log-density at /inputs/e and its gradient. */
static void dump_density(hid_t f, void *state) {
    int64_t ne;
    float *e = read_all(f, "/inputs/e", &ne);
    int shape[2] = {(int)(ne / 2), 2};
    rt_graph *g = rt_graph_create(16u << 20, 256);
    rt_graph_set_grad(g, true);
    rt_tensor *et = rt_graph_tensor(g, 2, shape, true);
    memcpy(et->data, e, (size_t)ne * sizeof(float));
    rt_tensor *logp = kp_rle_log_prob(g, state, et);
    rt_graph_backward(g, rt_sum(g, logp));
    write_f32(f, "out/logp", 1, shape, logp->data);
    write_f32(f, "grad_e", 2, shape, et->grad);
    rt_graph_destroy(g);
    rt_free(e);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_kp_dump FILE.h5\n");
        return 2;
    }
    rt_h5_init();
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
    RT_CHECK(f >= 0, "cannot open %s", argv[1]);
    char *name = NULL;
    RT_CHECK(rt_h5_attr_str(f, "head", &name) == RT_OK, "%s", rt_errmsg());
    kp_arch arch = {.keypoints = (int64_t)attr_num(f, "K"), .simcc_split = attr_num(f, "split"),
                    .simcc_sigma = attr_num(f, "sigma")};
    int W = (int)attr_num(f, "W"), H = (int)attr_num(f, "H"), K = (int)arch.keypoints, F = W * H;
    const kp_head_def *head = find_head(name);

    rt_params p;
    rt_params_init(&p, head->nparams);
    void *state = head->declare(&p, F, W, H, &arch);
    rt_params_finalize(&p);
    H5Fclose(f); /* rt_ckpt_load_params opens it itself */
    if (rt_ckpt_load_params(argv[1], &p)) {
        fprintf(stderr, "test_kp_dump: %s\n", rt_errmsg());
        return 1;
    }
    f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
    int64_t nf, nk;
    float *feat = read_all(f, "/inputs/feat", &nf), *kp = read_all(f, "/inputs/kp", &nk);
    int N = (int)(nf / F);
    RT_CHECK(nf == (int64_t)N * F && nk == (int64_t)N * K * 2, "inputs do not fit K %d, W %d, H %d", K, W, H);

    rt_graph *g = rt_graph_create(16u << 20, 256);
    rt_graph_set_grad(g, true);
    rt_params_zero_grad(&p);
    int fshape[2] = {N, F}, pshape[3] = {N, K, 2}, one = 1;
    rt_tensor *ft = rt_graph_tensor(g, 2, fshape, true);
    memcpy(ft->data, feat, (size_t)nf * sizeof(float));
    float *pred = rt_malloc(rt_mul_size((size_t)nk, sizeof(float)));
    kp_batch b = {.feat = ft, .kp = kp, .scale = 1.0f / (float)N, .pred = pred};
    rt_tensor *loss = head->loss(g, state, &b);
    rt_graph_backward(g, loss);

    H5Gclose(H5Gcreate2(f, "out", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(H5Gcreate2(f, "grad", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    write_f32(f, "out/loss", 1, &one, loss->data);
    write_f32(f, "out/pred", 3, pshape, pred);
    write_f32(f, "grad_feat", 2, fshape, ft->grad);
    for (int i = 0; i < p.count; i++) {
        char path[256];
        snprintf(path, sizeof path, "grad/%s", p.items[i].name);
        write_f32(f, path, p.items[i].t.ndim, p.items[i].t.shape, p.items[i].t.grad);
    }
    if (strcmp(name, "rle") == 0) dump_density(f, state);
    H5Fclose(f);
    printf("%s head: loss %.6g, %d gradients written to %s\n", name, (double)loss->data[0], p.count, argv[1]);
    rt_graph_destroy(g);
    rt_free(feat);
    rt_free(kp);
    rt_free(pred);
    rt_free(state);
    rt_free(name);
    rt_params_free(&p);
    return 0;
}
