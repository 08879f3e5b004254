/* test_dit_dump.c - the C side of the DiT parity check (tests/reference/dit_ref.py).
 *
 * Reads a file that `dit_ref.py init` wrote (/params with torch's names, and
 * /inputs/x (N, C, H, W), t (N), y (N), R (N, C, H, W)), builds the model of
 * CONFIG.json with those parameters (the one-line rule, read back: every name
 * and shape must match), computes the velocity v = v(x, t, y) and the
 * gradient of L = sum(v * R) for every trained parameter, and writes /out/v
 * and /grad/<name> into the same file for `dit_ref.py compare`.
 * usage: test_dit_dump CONFIG.json FILE.h5 */
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/h5util.h"
#include "ringtrain/model.h"
#include "ringtrain/ops.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

/* The whole of dataset name as type into a new buffer of n elements. */
static void *read_all(hid_t f, const char *name, hid_t type, size_t size, int64_t *n) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    RT_CHECK(d >= 0, "cannot open %s", name);
    hid_t s = H5Dget_space(d);
    *n = H5Sget_simple_extent_npoints(s);
    void *buf = rt_malloc(rt_mul_size((size_t)*n, size));
    RT_CHECK(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "cannot read %s", name);
    H5Sclose(s);
    H5Dclose(d);
    return buf;
}

static void write_f32(hid_t f, const char *name, int ndim, const int *shape, const float *v) {
    hsize_t dims[RT_MAX_DIMS + 1], chunk[RT_MAX_DIMS + 1];
    for (int i = 0; i < ndim; i++) dims[i] = chunk[i] = (hsize_t)shape[i];
    RT_CHECK(rt_h5_write_chunked(f, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ndim, dims, chunk, v) == RT_OK,
             "cannot write %s: %s", name, rt_errmsg());
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test_dit_dump CONFIG.json FILE.h5\n");
        return 2;
    }
    rt_config *cfg = NULL;
    if (rt_config_load(argv[1], NULL, 0, &cfg)) {
        fprintf(stderr, "test_dit_dump: %s\n", rt_errmsg());
        return 2;
    }
    rt_model *m = rt_model_create(cfg);
    rt_params *p = rt_model_params(m);
    if (rt_ckpt_load_params(argv[2], p)) {
        fprintf(stderr, "test_dit_dump: %s\n", rt_errmsg());
        return 1;
    }
    rt_h5_init();
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
    RT_CHECK(f >= 0, "cannot open %s", argv[2]);
    int64_t nx, nt, ny, nr;
    float *x = read_all(f, "/inputs/x", H5T_NATIVE_FLOAT, sizeof(float), &nx);
    float *t = read_all(f, "/inputs/t", H5T_NATIVE_FLOAT, sizeof(float), &nt);
    int32_t *y = read_all(f, "/inputs/y", H5T_NATIVE_INT32, sizeof(int32_t), &ny);
    float *R = read_all(f, "/inputs/R", H5T_NATIVE_FLOAT, sizeof(float), &nr);
    int64_t D = rt_model_input_size(m);
    RT_CHECK(nx == nt * D && nr == nx && ny == nt, "inputs do not fit the model");
    bool conditional = rt_model_num_classes(m) > 0;

    rt_graph *g = rt_graph_create(64u << 20, 256);
    rt_graph_set_grad(g, true);
    rt_params_zero_grad(p);
    int shape[2] = {(int)nt, (int)D};
    rt_tensor *xt = rt_graph_tensor(g, 2, shape, false), *rt = rt_graph_tensor(g, 2, shape, false), *v = NULL;
    memcpy(xt->data, x, (size_t)nx * sizeof(float));
    memcpy(rt->data, R, (size_t)nr * sizeof(float));
    RT_CHECK(rt_model_velocity(m, g, xt, t, conditional ? y : NULL, &v) == RT_OK, "%s", rt_errmsg());
    rt_graph_backward(g, rt_sum(g, rt_mul(g, v, rt)));

    int vshape[RT_MAX_DIMS + 1] = {(int)nt};
    for (int i = 0; i < cfg->model.input_ndim; i++) vshape[i + 1] = cfg->model.input[i];
    H5Gclose(H5Gcreate2(f, "out", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(H5Gcreate2(f, "grad", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    write_f32(f, "out/v", cfg->model.input_ndim + 1, vshape, v->data);
    for (int i = 0; i < p->ntrain; i++) {
        char name[256];
        snprintf(name, sizeof name, "grad/%s", p->items[i].name);
        write_f32(f, name, p->items[i].t.ndim, p->items[i].t.shape, p->items[i].t.grad);
    }
    H5Fclose(f);
    printf("wrote /out/v and %d gradients to %s\n", p->ntrain, argv[2]);
    rt_graph_destroy(g);
    rt_free(x);
    rt_free(t);
    rt_free(y);
    rt_free(R);
    rt_model_destroy(m);
    rt_config_free(cfg);
    return 0;
}
